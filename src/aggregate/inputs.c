/*
 * inputs.c — the client request inputs of a composite endpoint, read off its compiled
 * templates; see inputs.h.
 */
#include "aggregate/aggregate.h"

#include <string.h>

#include "aggregate/aggregate_int.h"

typedef struct collector {
    aggregate_input_t *out;
    size_t cap, n;
} collector_t;

static void add(collector_t *c, aggregate_input_kind_t kind, const char *name)
{
    size_t kept = c->n < c->cap ? c->n : c->cap;
    for (size_t i = 0; i < kept; i++)
        if (c->out[i].kind == kind && strcmp(c->out[i].name, name) == 0)
            return;
    if (c->n < c->cap)
        c->out[c->n] = (aggregate_input_t){kind, name};
    c->n++; /* past |cap| only counted: the caller learns that the list was cut */
}

static void add_ref(collector_t *c, const aggregate_ref_t *ref)
{
    switch (ref->source) {
    case AGGREGATE_SRC_PATH:
        add(c, AGGREGATE_INPUT_PATH, ref->name);
        break;
    case AGGREGATE_SRC_QUERY:
        add(c, AGGREGATE_INPUT_QUERY, ref->name);
        break;
    case AGGREGATE_SRC_HEADER:
        add(c, AGGREGATE_INPUT_HEADER, ref->name);
        break;
    case AGGREGATE_SRC_BODY:
        add(c, AGGREGATE_INPUT_BODY, "body");
        break;
    case AGGREGATE_SRC_CALL:
        break; /* another call's reply, not the client's request */
    }
}

static void on_ref(void *arg, const aggregate_ref_t *ref)
{
    add_ref(arg, ref);
}

size_t aggregate_endpoint_inputs(const aggregate_endpoint_t *ep, aggregate_input_t *out, size_t cap)
{
    collector_t c = {.out = out, .cap = cap};
    for (size_t i = 0; i < ep->n_calls; i++) {
        const aggregate_call_t *call = &ep->calls[i];
        aggregate_call_each_ref(call, on_ref, &c);
        for (size_t k = 0; k < call->n_forward_headers; k++)
            add(&c, AGGREGATE_INPUT_HEADER, call->forward_headers[k]);
    }
    return c.n;
}
