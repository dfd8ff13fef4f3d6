/*
 * run.c — the planner/executor of composite requests: one aggregate_run_t per client request,
 * living on the worker's event loop.
 *
 * The calls form a dependency graph (aggregate_call_t.deps, acyclic by construction). The
 * dispatcher starts every call whose dependencies all succeeded, skips every call one of whose
 * dependencies failed, and is re-run whenever a call ends; so independent branches run at
 * once and a chain runs link by link, with no thread per call. Transports, timers and the clock
 * come from aggregate_transport_t, which keeps this file free of I/O: the unit tests drive it
 * with a fake loop and a fake clock, the gateway with h2o's.
 *
 * Required parts fail fast: the first required failure ends the run at once (outstanding calls
 * are cancelled) with 502 (backend error), 504 (timeout), or the backend's 4xx when the client's
 * input was the problem. Optional failures only show in the part statuses (a response header and
 * a "_meta" member, both configurable). The merged document is built after the last reply, in
 * declaration order (merge.c), so it never depends on arrival order.
 *
 * Re-entrancy: a transport may reply from inside start_call, and the run may end while the
 * dispatcher is on the stack. The dispatcher therefore only records state; the outermost entry
 * point (a transport reply, a timer) delivers the result and frees the run, and a run that ends
 * during aggregate_run_start is delivered from a zero-delay timer, so |done| never runs before
 * aggregate_run_start has returned.
 *
 * Memory: everything a run builds (its inputs, the parsed replies, shaped parts, the merged
 * document) lives in the run's own arena and goes in one free with the run; values are
 * immutable and shared rather than copied (value.h). Not an h2o pool, because the engine must
 * not depend on h2o (the unit tests have no loop).
 */
#include "aggregate/aggregate_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/grpc.h"
#include "util/hex.h"
#include "util/thread_cache.h"

typedef struct run_call {
    aggregate_run_t *run;
    const aggregate_call_t *call;
    aggregate_part_status_t status;
    void *handle;                  /* the transport's call while RUNNING */
    void *timer;                   /* the call's own timeout while RUNNING */
    const aggregate_value_t *raw;  /* the parsed response (what {calls.X} reads) */
    const aggregate_value_t *part; /* the shaped response (what is merged) */
    char *text;                    /* status text for "error: ..." */
    int fail_status;               /* HTTP status a required failure of this part gives the composite */
    int from_cache;
    char *cache_key;
} run_call_t;

struct aggregate_run {
    const aggregate_endpoint_t *ep;
    aggregate_transport_t tr;
    aggregate_done_cb done;
    void *done_ctx;
    util_arena_t arena; /* every value of the run */
    aggregate_tpl_input_t in;
    const aggregate_value_t **raws; /* in.calls */
    run_call_t *calls;
    void *endpoint_timer;
    void *deliver_timer;
    int starting;     /* inside aggregate_run_start */
    int dispatching;  /* the dispatcher is on the stack */
    int again;        /* a call changed state: dispatch once more */
    int finished;     /* the result is built */
    int input_status; /* a client request the templates cannot read (400) */
    char *input_error;
    /* the result */
    aggregate_result_t result;
    aggregate_part_t *parts;
    char *meta_value; /* in the arena */
};

const char *aggregate_part_status_name(aggregate_part_status_t s)
{
    switch (s) {
    case AGGREGATE_PART_WAITING:
        return "waiting";
    case AGGREGATE_PART_RUNNING:
        return "running";
    case AGGREGATE_PART_OK:
        return "ok";
    case AGGREGATE_PART_ERROR:
        return "error";
    case AGGREGATE_PART_TIMEOUT:
        return "timeout";
    case AGGREGATE_PART_SKIPPED:
        return "skipped";
    case AGGREGATE_PART_CANCELLED:
        return "cancelled";
    }
    return "unknown";
}

static int is_failed(aggregate_part_status_t s)
{
    return s == AGGREGATE_PART_ERROR || s == AGGREGATE_PART_TIMEOUT || s == AGGREGATE_PART_SKIPPED || s == AGGREGATE_PART_CANCELLED;
}

static char *str_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *str_printf(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    for (char *p = buf; *p; p++) /* status texts end up in headers and logs: one printable line */
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    return strdup(buf);
}

/* ---------------------------------------------------------------------------------------
 * The client request as template input
 */

/* Decodes a query component into |a|: "+" is a space, %XX a byte (a malformed % stays as it is). */
static char *query_decode(util_arena_t *a, const char *s, size_t len, size_t *out_len)
{
    char *out = util_arena_alloc(a, len + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%' && i + 2 < len && util_hex_value(s[i + 1]) >= 0 && util_hex_value(s[i + 2]) >= 0) {
            out[o++] = (char)(util_hex_value(s[i + 1]) << 4 | util_hex_value(s[i + 2]));
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

static int input_query(util_arena_t *a, aggregate_value_t *q, const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && s[end] != '&')
            end++;
        size_t eq = i;
        while (eq < end && s[eq] != '=')
            eq++;
        if (end > i) {
            size_t kl, vl;
            char *k = query_decode(a, s + i, eq - i, &kl);
            char *v = k == NULL ? NULL : query_decode(a, s + (eq < end ? eq + 1 : end), eq < end ? end - eq - 1 : 0, &vl);
            if (v == NULL)
                return -1;
            /* the first value of a repeated parameter wins; keys with NUL bytes cannot be named by a template */
            if (strlen(k) == kl && aggregate_value_find(q, k, kl) < 0 &&
                aggregate_value_add(a, q, k, kl, aggregate_value_string(a, v, vl)) != 0)
                return -1;
        }
        i = end + 1;
    }
    return 0;
}

static int input_headers(util_arena_t *a, aggregate_value_t *h, const aggregate_kv_t *headers, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t nl = headers[i].name_len;
        if (nl == 0 || nl >= 256)
            continue;
        char *name = util_arena_alloc(a, nl + 1);
        if (name == NULL)
            return -1;
        for (size_t k = 0; k < nl; k++)
            name[k] = (char)tolower((unsigned char)headers[i].name[k]);
        name[nl] = '\0';
        long at = aggregate_value_find(h, name, nl);
        if (at >= 0) { /* repeated header: one value, comma-joined (RFC 9110 5.3) */
            const aggregate_value_t *old = h->u.members[at].value;
            size_t ol = old->len, vl = headers[i].value_len;
            char *joined = util_arena_alloc(a, ol + 2 + vl + 1);
            if (joined == NULL)
                return -1;
            memcpy(joined, old->u.text, ol);
            memcpy(joined + ol, ", ", 2);
            memcpy(joined + ol + 2, headers[i].value, vl);
            const aggregate_value_t *v = aggregate_value_string(a, joined, ol + 2 + vl);
            if (v == NULL)
                return -1;
            h->u.members[at].value = v;
        } else if (aggregate_value_add(a, h, name, nl, aggregate_value_string(a, headers[i].value, headers[i].value_len)) != 0) {
            return -1;
        }
    }
    return 0;
}

/* Zeroed memory from the run's (raw) arena. */
static void *arena_calloc(util_arena_t *a, size_t size)
{
    void *p = util_arena_alloc(a, size);
    if (p != NULL)
        memset(p, 0, size);
    return p;
}

static int input_build(aggregate_run_t *run, const aggregate_request_t *in)
{
    util_arena_t *a = &run->arena;
    aggregate_value_t *path = aggregate_value_object(a, in->n_path_vars);
    aggregate_value_t *query = aggregate_value_object(a, 0);
    aggregate_value_t *header = aggregate_value_object(a, in->n_headers);
    if (path == NULL || query == NULL || header == NULL)
        return -1;
    for (size_t i = 0; i < in->n_path_vars; i++) {
        const aggregate_kv_t *kv = &in->path_vars[i];
        char *name = util_arena_strndup(a, kv->name, kv->name_len);
        if (name == NULL ||
            aggregate_value_set(a, path, name, kv->name_len, aggregate_value_string(a, kv->value, kv->value_len)) != 0)
            return -1;
    }
    if (in->query != NULL && input_query(a, query, in->query, in->query_len) != 0)
        return -1;
    if (input_headers(a, header, in->headers, in->n_headers) != 0)
        return -1;
    run->in.path = path;
    run->in.query = query;
    run->in.header = header;
    if (run->ep->uses_body && in->body != NULL && in->body_len > 0) {
        util_error_t err;
        run->in.body = aggregate_value_parse(a, in->body, in->body_len, &err);
        if (run->in.body == NULL) {
            if (err.code == CODEC_ERR_NOMEM)
                return -1;
            run->input_status = 400;
            run->input_error = str_printf("the request body is not JSON (%s)", err.message);
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * Building one backend request
 */

typedef struct built {
    aggregate_call_request_t req;
    aggregate_header_t headers[64];
    char *strings[80]; /* freed after the call started */
    size_t n_strings;
    util_buf_t path, key, pb, text;
    char *why; /* why the request could not be built */
    int why_status;
} built_t;

static char *keep_str(built_t *b, char *s)
{
    if (s != NULL && b->n_strings < sizeof(b->strings) / sizeof(b->strings[0]))
        b->strings[b->n_strings++] = s;
    else if (s != NULL) {
        free(s);
        return NULL;
    }
    return s;
}

static void built_dispose(built_t *b)
{
    for (size_t i = 0; i < b->n_strings; i++)
        free(b->strings[i]);
    util_buf_give(&b->path);
    util_buf_give(&b->key);
    util_buf_give(&b->pb);
    util_buf_give(&b->text);
    free(b->why);
}

static int build_fail(built_t *b, const aggregate_ref_t *missing, const char *where)
{
    if (missing != NULL) {
        b->why = str_printf("cannot build the request: %s needs %s, which is absent", where, missing->text);
        b->why_status = missing->source == AGGREGATE_SRC_CALL ? 502 : 400;
    } else {
        b->why = str_printf("cannot build the request: out of memory");
        b->why_status = 500;
    }
    return -1;
}

static int has_line_break(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

static int build_headers(aggregate_run_t *run, const aggregate_call_t *c, built_t *b)
{
    size_t n = 0, cap = sizeof(b->headers) / sizeof(b->headers[0]);
    for (size_t i = 0; i < c->n_headers && n < cap; i++) {
        util_buf_t v = UTIL_BUF_INIT;
        const aggregate_ref_t *missing = NULL;
        int rc = aggregate_tpl_render_text(c->headers[i].value, &run->in, &run->arena, 0, &v, &missing);
        if (rc == 0)
            util_buf_putc(&v, '\0');
        if (rc < 0 || util_buf_failed(&v)) {
            util_buf_dispose(&v);
            return build_fail(b, NULL, NULL);
        }
        if (rc == 1) { /* absent: the header is left out */
            util_buf_dispose(&v);
            continue;
        }
        char *s = keep_str(b, (char *)util_buf_release(&v, &(size_t){0}));
        if (s == NULL)
            return build_fail(b, NULL, NULL);
        if (has_line_break(s)) {
            b->why = str_printf("cannot build the request: header %s would contain a line break", c->headers[i].name);
            b->why_status = 400;
            return -1;
        }
        b->headers[n].name = c->headers[i].name;
        b->headers[n++].value = s;
    }
    for (size_t i = 0; i < c->n_forward_headers && n < cap; i++) {
        const aggregate_value_t *v = aggregate_value_get(run->in.header, c->forward_headers[i], strlen(c->forward_headers[i]));
        if (v == NULL)
            continue;
        size_t k;
        for (k = 0; k < n; k++)
            if (strcmp(b->headers[k].name, c->forward_headers[i]) == 0)
                break;
        if (k < n || has_line_break(v->u.text))
            continue; /* a configured value wins over the client's */
        b->headers[n].name = c->forward_headers[i];
        b->headers[n++].value = v->u.text;
    }
    if (b->req.body != NULL && n < cap) {
        b->headers[n].name = "content-type";
        b->headers[n++].value = "application/json";
    }
    b->req.headers = b->headers;
    b->req.n_headers = n;
    return 0;
}

static void query_append(util_buf_t *path, int *first, const char *name, const char *v, size_t len)
{
    util_buf_putc(path, *first ? '?' : '&');
    *first = 0;
    aggregate_percent_encode(path, name, strlen(name), 0);
    util_buf_putc(path, '=');
    aggregate_percent_encode(path, v, len, 0);
}

/* Writes |v| into b->text as NUL-terminated compact JSON (a gRPC message or an HTTP body). */
static int build_text(built_t *b, const aggregate_value_t *v)
{
    util_buf_reserve(&b->text, 512); /* one allocation for the usual request */
    aggregate_value_write(&b->text, v);
    util_buf_putc(&b->text, '\0');
    return util_buf_failed(&b->text) ? build_fail(b, NULL, NULL) : 0;
}

static int build_http(aggregate_run_t *run, const aggregate_call_t *c, built_t *b)
{
    const aggregate_ref_t *missing = NULL;
    util_buf_reserve(&b->path, 256); /* one allocation for the usual path and query */
    int rc = aggregate_tpl_render_text(c->http_path, &run->in, &run->arena, 1, &b->path, &missing);
    if (rc != 0)
        return build_fail(b, rc == 1 ? missing : NULL, "the path");
    int first = 1;
    for (size_t i = 0; i < c->n_query; i++) {
        const aggregate_value_t *v = NULL;
        if (aggregate_tpl_render(c->query[i].value, &run->in, &run->arena, &v, NULL) != 0)
            return build_fail(b, NULL, NULL);
        if (v == NULL)
            continue; /* absent: the parameter is left out */
        int is_array = v->kind == AGGREGATE_VALUE_ARRAY;
        size_t n = is_array ? v->len : 1;
        for (size_t k = 0; k < n; k++) {
            util_buf_t text = UTIL_BUF_INIT;
            aggregate_value_append_text(&text, is_array ? v->u.items[k] : v, 0);
            if (util_buf_failed(&text)) {
                util_buf_dispose(&text);
                return build_fail(b, NULL, NULL);
            }
            query_append(&b->path, &first, c->query[i].name, text.len ? (const char *)text.data : "", text.len);
            util_buf_dispose(&text);
        }
    }
    util_buf_putc(&b->path, '\0');
    if (util_buf_failed(&b->path))
        return build_fail(b, NULL, NULL);
    b->req.http_method = c->http_method;
    b->req.path = (const char *)b->path.data;
    if (c->body != NULL) {
        const aggregate_value_t *body = NULL;
        if (aggregate_tpl_render(c->body, &run->in, &run->arena, &body, NULL) != 0)
            return build_fail(b, NULL, NULL);
        if (body != NULL) {
            if (build_text(b, body) != 0)
                return -1;
            b->req.body = (const char *)b->text.data;
            b->req.body_len = b->text.len - 1;
        }
    }
    return 0;
}

static int build_grpc(aggregate_run_t *run, const aggregate_call_t *c, built_t *b)
{
    if (c->request_plan != NULL) {
        int rc = aggregate_request_plan_encode(c->request_plan, &run->in, &run->arena, &b->pb);
        if (rc < 0)
            return build_fail(b, NULL, NULL);
        if (rc == 0) {
            b->req.message_pb = b->pb.data ? b->pb.data : (const uint8_t *)"";
            b->req.message_pb_len = b->pb.len;
            return 0;
        }
        b->pb.len = 0; /* a value the plan does not take: the JSON path below */
    }
    const aggregate_value_t *msg = NULL;
    if (aggregate_tpl_render(c->message, &run->in, &run->arena, &msg, NULL) != 0 || msg == NULL)
        return build_fail(b, NULL, NULL);
    if (build_text(b, msg) != 0)
        return -1;
    const char *text = (const char *)b->text.data;
    b->req.message_json = text;
    b->req.message_json_len = b->text.len - 1;
    if (c->grpc_method != NULL) {
        /* encoded here, once: a value the client sent that does not fit its field is the client's error (400) */
        util_error_t err = {0};
        codec_options_t opt = {0};
        if (codec_json_to_pb(run->ep->registry, c->grpc_method->input, text, b->req.message_json_len, &opt, &b->pb, &err) != 0) {
            b->why = str_printf("cannot build the request: %s", err.message);
            b->why_status = 400;
            return -1;
        }
        b->req.message_pb = b->pb.data ? b->pb.data : (const uint8_t *)"";
        b->req.message_pb_len = b->pb.len;
    }
    return 0;
}

static int build_request(aggregate_run_t *run, const aggregate_call_t *c, built_t *b)
{
    b->req.endpoint = run->ep;
    b->req.call = c;
    b->req.upstream = c->upstream;
    b->req.grpc_method = c->grpc_method;
    b->req.grpc_method_name = c->grpc_method_name;
    b->req.reply_fields = c->reply_fields;
    b->req.timeout_ms = c->timeout_ms;
    if ((c->kind == AGGREGATE_CALL_GRPC ? build_grpc(run, c, b) : build_http(run, c, b)) != 0)
        return -1;
    return build_headers(run, c, b);
}

/* The cache key: everything that makes the backend request what it is. */
static char *cache_key(const aggregate_call_t *c, const built_t *b)
{
    util_buf_t k = UTIL_BUF_INIT;
    util_buf_printf(&k, "%s\n", c->upstream);
    if (c->kind == AGGREGATE_CALL_GRPC) {
        util_buf_printf(&k, "grpc %s\n", c->grpc_method_name);
        util_buf_append(&k, b->req.message_json, b->req.message_json_len);
    } else {
        util_buf_printf(&k, "%s %s\n", b->req.http_method, b->req.path);
        if (b->req.body != NULL)
            util_buf_append(&k, b->req.body, b->req.body_len);
    }
    for (size_t i = 0; i < b->req.n_headers; i++)
        util_buf_printf(&k, "\n%s: %s", b->req.headers[i].name, b->req.headers[i].value);
    util_buf_putc(&k, '\0');
    if (util_buf_failed(&k)) {
        util_buf_dispose(&k);
        return NULL;
    }
    return (char *)util_buf_release(&k, &(size_t){0});
}

/* ---------------------------------------------------------------------------------------
 * Call states
 */

/* HTTP status a required failure with backend status |http| gives the composite. */
static int fail_status_of(int http)
{
    if (http == 408 || http == 504)
        return 504;
    if (http >= 400 && http < 500)
        return http; /* the client's request was the problem: say so */
    return 502;
}

static void call_end(run_call_t *c, aggregate_part_status_t status, char *text, int fail_status)
{
    aggregate_run_t *run = c->run;
    if (c->timer != NULL) {
        run->tr.timer_cancel(run->tr.ctx, c->timer);
        c->timer = NULL;
    }
    c->handle = NULL;
    c->status = status;
    free(c->text);
    c->text = text;
    c->fail_status = fail_status;
    run->again = 1;
}

/* Takes a parsed response: shapes it and ends the call OK, or in error. */
/* |filtered|: the transport printed only the call's reply_fields, which, when they are exactly
 * its allow and deny, leaves nothing for those two passes to do. */
static void call_ok(run_call_t *c, const aggregate_value_t *raw, int filtered)
{
    char why[300];
    c->raw = raw;
    c->run->raws[c->call->index] = raw;
    aggregate_shape_t shape = c->call->shape;
    if (filtered && c->call->shape_in_reply_fields) {
        shape.allow = shape.deny = NULL;
        shape.n_allow = shape.n_deny = 0;
    }
    c->part = aggregate_shape_apply(&c->run->arena, &shape, raw, why, sizeof(why));
    if (c->part == NULL)
        call_end(c, AGGREGATE_PART_ERROR, str_printf("error: %s", why), 502);
    else
        call_end(c, AGGREGATE_PART_OK, NULL, 0);
}

/* A short message out of an error body: {"message"}, {"error"} or {"error": {"message"}}. */
static const char *error_message(const aggregate_value_t *body)
{
    const aggregate_value_t *m = aggregate_value_get(body, "message", 7);
    if (!aggregate_value_is(m, AGGREGATE_VALUE_STRING)) {
        m = aggregate_value_get(body, "error", 5);
        if (aggregate_value_is(m, AGGREGATE_VALUE_OBJECT))
            m = aggregate_value_get(m, "message", 7);
    }
    return aggregate_value_is(m, AGGREGATE_VALUE_STRING) ? m->u.text : NULL;
}

static void dispatch(aggregate_run_t *run);
static void deliver(aggregate_run_t *run);

/* After an event from outside (reply, timer): re-plan, and deliver when the run ended. */
static void after_event(aggregate_run_t *run)
{
    if (run->dispatching)
        return; /* a reply from inside start_call: the dispatcher on the stack picks it up */
    dispatch(run);
    if (run->finished)
        deliver(run);
}

/* The reply's text copied into the run's arena (NUL after it), or NULL. */
static char *reply_text(aggregate_run_t *run, const aggregate_reply_t *r, util_error_t *err)
{
    char *text = util_arena_alloc(&run->arena, r->body_len + 1);
    if (text == NULL) {
        util_error_set(err, CODEC_ERR_NOMEM, "out of memory");
        return NULL;
    }
    memcpy(text, r->body, r->body_len);
    text[r->body_len] = '\0';
    return text;
}

/* The reply's JSON as a value: built from the printer's outline of a gRPC reply, else parsed.
 * Either way the text is copied once into the run's arena and read there in place: its
 * strings and keys need no copy of their own. */
static const aggregate_value_t *parse_reply(aggregate_run_t *run, const aggregate_reply_t *r, util_error_t *err)
{
    char *text = reply_text(run, r, err);
    if (text != NULL && r->outline != NULL) {
        const aggregate_value_t *v = aggregate_value_from_outline(&run->arena, text, r->body_len, r->outline, r->n_outline);
        if (v != NULL)
            return v;
        text = reply_text(run, r, err); /* the outline did not fit the text: parse a fresh copy */
    }
    return text != NULL ? aggregate_value_parse_in_place(&run->arena, text, r->body_len, err) : NULL;
}

static void on_reply(void *arg, const aggregate_reply_t *r)
{
    run_call_t *c = arg;
    if (c->status != AGGREGATE_PART_RUNNING)
        return;
    const char *up = c->call->upstream;
    if (r->timed_out) {
        call_end(c, AGGREGATE_PART_TIMEOUT, NULL, 504);
    } else if (r->failed) {
        call_end(c, AGGREGATE_PART_ERROR, str_printf("error: %s", r->error ? r->error : "the call failed"),
                 r->http_status ? fail_status_of(r->http_status) : 502);
    } else if (r->http_status >= 400 || (r->http_status != 0 && r->http_status < 200) || (r->http_status >= 300)) {
        const aggregate_value_t *body = r->body_len ? aggregate_value_parse(&c->run->arena, r->body, r->body_len, NULL) : NULL;
        const char *msg = error_message(body);
        call_end(c, AGGREGATE_PART_ERROR,
                 str_printf("error: HTTP %d from upstream %s%s%.200s", r->http_status, up, msg ? ": " : "", msg ? msg : ""),
                 fail_status_of(r->http_status));
    } else {
        util_error_t err;
        err.code = CODEC_ERR_NOMEM; /* what a failed empty object means */
        const aggregate_value_t *raw = r->body_len == 0 ? aggregate_value_object(&c->run->arena, 0) : parse_reply(c->run, r, &err);
        if (raw == NULL) {
            call_end(c, AGGREGATE_PART_ERROR,
                     r->body_len == 0 || err.code == CODEC_ERR_NOMEM
                         ? str_printf("error: out of memory")
                         : str_printf("error: the response of upstream %s is not JSON (%s)", up, err.message),
                     502);
        } else {
            if (c->cache_key != NULL)
                aggregate_cache_put(c->run->tr.cache, c->cache_key, r->body_len ? r->body : "{}", r->body_len ? r->body_len : 2,
                                    c->run->tr.now_ms(c->run->tr.ctx), c->call->cache_ttl_ms);
            call_ok(c, raw, r->fields_filtered);
        }
    }
    after_event(c->run);
}

static void on_call_timeout(void *arg)
{
    run_call_t *c = arg;
    aggregate_run_t *run = c->run;
    c->timer = NULL;
    if (c->status != AGGREGATE_PART_RUNNING)
        return;
    if (c->handle != NULL)
        run->tr.cancel_call(run->tr.ctx, c->handle);
    call_end(c, AGGREGATE_PART_TIMEOUT, NULL, 504);
    after_event(run);
}

static void call_start(aggregate_run_t *run, run_call_t *c)
{
    const aggregate_call_t *call = c->call;
    built_t *b = util_arena_alloc(&run->arena, sizeof(*b)); /* the arena outlives the call's start */
    if (b != NULL) {
        /* set field by field: the header and string tables are filled as they are used */
        memset(&b->req, 0, sizeof(b->req));
        b->n_strings = 0;
        b->path = util_buf_take();
        b->key = util_buf_take();
        b->pb = util_buf_take();
        b->text = util_buf_take();
        b->why = NULL;
        b->why_status = 0;
    }
    if (b == NULL) {
        call_end(c, AGGREGATE_PART_ERROR, str_printf("error: out of memory"), 500);
        return;
    }
    if (build_request(run, call, b) != 0) {
        call_end(c, AGGREGATE_PART_ERROR, str_printf("error: %s", b->why ? b->why : "cannot build the request"), b->why_status);
        built_dispose(b);
        return;
    }
    if (call->cache_ttl_ms != 0 && run->tr.cache != NULL && (c->cache_key = cache_key(call, b)) != NULL) {
        size_t hit_len = 0;
        const char *hit_text = aggregate_cache_get(run->tr.cache, c->cache_key, run->tr.now_ms(run->tr.ctx), &hit_len);
        const aggregate_value_t *hit = hit_text != NULL ? aggregate_value_parse(&run->arena, hit_text, hit_len, NULL) : NULL;
        if (hit != NULL) {
            c->from_cache = 1;
            free(c->cache_key);
            c->cache_key = NULL;
            c->status = AGGREGATE_PART_RUNNING;
            call_ok(c, hit, 0);
            built_dispose(b);
            return;
        }
    }
    c->status = AGGREGATE_PART_RUNNING;
    if (call->timeout_ms != 0)
        c->timer = run->tr.timer_start(run->tr.ctx, call->timeout_ms, on_call_timeout, c);
    void *handle = run->tr.start_call(run->tr.ctx, &b->req, on_reply, c);
    if (c->status == AGGREGATE_PART_RUNNING)
        c->handle = handle;
    built_dispose(b);
}

/* ---------------------------------------------------------------------------------------
 * Planning, finishing, delivering
 */

static void finish(aggregate_run_t *run);

static void dispatch(aggregate_run_t *run)
{
    const aggregate_endpoint_t *ep = run->ep;
    run->dispatching = 1;
    do {
        run->again = 0;
        for (size_t i = 0; i < ep->n_calls && !run->finished; i++) {
            run_call_t *c = &run->calls[i];
            if (c->status != AGGREGATE_PART_WAITING)
                continue;
            int ready = 1;
            const run_call_t *failed = NULL;
            for (size_t d = 0; d < c->call->n_deps && failed == NULL; d++) {
                const run_call_t *dep = &run->calls[c->call->deps[d]];
                if (is_failed(dep->status))
                    failed = dep;
                else if (dep->status != AGGREGATE_PART_OK)
                    ready = 0;
            }
            if (failed != NULL)
                call_end(c, AGGREGATE_PART_SKIPPED,
                         str_printf("skipped: it needs %s, which ended with %s", failed->call->name,
                                    aggregate_part_status_name(failed->status)),
                         failed->fail_status);
            else if (ready)
                call_start(run, c);
        }
        /* fail fast on a required failure; else end when every part has ended */
        size_t ended = 0;
        for (size_t i = 0; i < ep->n_calls && !run->finished; i++) {
            const run_call_t *c = &run->calls[i];
            if (c->call->required && is_failed(c->status))
                finish(run);
            ended += c->status != AGGREGATE_PART_WAITING && c->status != AGGREGATE_PART_RUNNING;
        }
        if (!run->finished && ended == ep->n_calls)
            finish(run);
    } while (run->again && !run->finished);
    run->dispatching = 0;
}

static const aggregate_value_t *set_meta(aggregate_run_t *run, const aggregate_value_t *doc)
{
    if (run->ep->meta_field == NULL)
        return doc;
    util_arena_t *a = &run->arena;
    aggregate_value_t *meta = aggregate_value_object(a, run->ep->n_calls);
    for (size_t i = 0; meta != NULL && i < run->ep->n_calls; i++) {
        const char *text = run->parts[i].text;
        if (aggregate_value_set(a, meta, run->parts[i].name, strlen(run->parts[i].name),
                                aggregate_value_string(a, text, strlen(text))) != 0)
            return NULL;
    }
    aggregate_value_t *out = meta != NULL ? aggregate_value_copy(a, doc, 1) : NULL;
    /* the gateway's section wins over a backend's member */
    if (out == NULL || aggregate_value_set(a, out, run->ep->meta_field, strlen(run->ep->meta_field), meta) != 0)
        return NULL;
    return out;
}

static int put_string(util_arena_t *a, aggregate_value_t *o, const char *key, const char *value)
{
    return aggregate_value_add(a, o, key, strlen(key), aggregate_value_string(a, value, strlen(value)));
}

static const aggregate_value_t *error_document(aggregate_run_t *run, int status, const char *message, const run_call_t *part)
{
    util_arena_t *a = &run->arena;
    int code = status == 502 ? GRPC_CODE_UNAVAILABLE : (int)grpc_code_from_http(status);
    aggregate_value_t *details = aggregate_value_array(a, 1);
    if (details == NULL)
        return NULL;
    if (part != NULL) {
        aggregate_value_t *info = aggregate_value_object(a, 4), *md = aggregate_value_object(a, 2);
        if (info == NULL || md == NULL || put_string(a, info, "@type", "type.googleapis.com/google.rpc.ErrorInfo") != 0 ||
            put_string(a, info, "reason", "AGGREGATE_PART_FAILED") != 0 || put_string(a, info, "domain", "portico") != 0 ||
            put_string(a, md, "part", part->call->name) != 0 ||
            put_string(a, md, "status", run->parts[part->call->index].text) != 0 ||
            aggregate_value_add(a, info, "metadata", 8, md) != 0 || aggregate_value_append(a, details, info) != 0)
            return NULL;
    }
    aggregate_value_t *doc = aggregate_value_object(a, 3);
    if (doc == NULL || aggregate_value_add(a, doc, "code", 4, aggregate_value_integer(a, code)) != 0 ||
        put_string(a, doc, "message", message) != 0 || aggregate_value_add(a, doc, "details", 7, details) != 0)
        return NULL;
    return doc;
}

/* Builds the result; cancels what is still outstanding. */
static void finish(aggregate_run_t *run)
{
    const aggregate_endpoint_t *ep = run->ep;
    run->finished = 1;

    /* the part to blame, chosen before anything is cancelled: the first failed required part in declaration order */
    const run_call_t *blame = NULL;
    for (size_t i = 0; i < ep->n_calls && blame == NULL && run->input_status == 0; i++)
        if (run->calls[i].call->required && is_failed(run->calls[i].status))
            blame = &run->calls[i];

    if (run->endpoint_timer != NULL) {
        run->tr.timer_cancel(run->tr.ctx, run->endpoint_timer);
        run->endpoint_timer = NULL;
    }
    for (size_t i = 0; i < ep->n_calls; i++) {
        run_call_t *c = &run->calls[i];
        if (c->status == AGGREGATE_PART_RUNNING) {
            if (c->handle != NULL)
                run->tr.cancel_call(run->tr.ctx, c->handle);
            call_end(c, AGGREGATE_PART_CANCELLED, NULL, 502);
        } else if (c->status == AGGREGATE_PART_WAITING) {
            call_end(c, AGGREGATE_PART_SKIPPED, str_printf("skipped: the composite ended first"), 502);
        }
    }

    /* parts and the header (text built in the thread's scratch buffer, kept in the arena) */
    util_buf_t fallback = UTIL_BUF_INIT, *text = util_buf_scratch();
    if (text == NULL)
        text = &fallback;
    for (size_t i = 0; i < ep->n_calls; i++) {
        run_call_t *c = &run->calls[i];
        aggregate_part_t *p = &run->parts[i];
        p->name = c->call->name;
        p->status = c->status;
        p->required = c->call->required;
        p->from_cache = c->from_cache;
        p->text = c->status == AGGREGATE_PART_ERROR && c->text != NULL ? c->text : aggregate_part_status_name(c->status);
        if (i != 0)
            util_buf_append(text, ", ", 2);
        util_buf_puts(text, p->name);
        util_buf_putc(text, '=');
        util_buf_puts(text, aggregate_part_status_name(c->status));
    }
    run->meta_value = util_buf_failed(text) ? NULL : util_arena_strndup(&run->arena, (const char *)text->data, text->len);

    int status = 200;
    const aggregate_value_t *doc;
    if (run->input_status != 0) {
        status = run->input_status;
        doc = error_document(run, status, run->input_error ? run->input_error : "bad request", NULL);
    } else if (blame != NULL) {
        status = blame->fail_status ? blame->fail_status : 502;
        char *msg;
        if (blame->status == AGGREGATE_PART_TIMEOUT)
            msg = str_printf("required part %s timed out", blame->call->name);
        else if (blame->status == AGGREGATE_PART_SKIPPED && blame->text != NULL)
            msg = str_printf("required part %s was %s", blame->call->name, blame->text);
        else
            msg = str_printf("required part %s failed: %s", blame->call->name, blame->text ? blame->text : "error");
        doc = error_document(run, status, msg ? msg : "a required part failed", blame);
        free(msg);
    } else {
        doc = aggregate_value_object(&run->arena, 0);
        for (size_t i = 0; doc != NULL && i < ep->n_calls; i++)
            if (run->calls[i].status == AGGREGATE_PART_OK)
                doc = aggregate_shape_place(&run->arena, doc, &run->calls[i].call->shape, run->calls[i].part);
    }
    if (doc != NULL)
        doc = set_meta(run, doc);
    if (doc == NULL) { /* out of memory */
        status = 500;
        doc = aggregate_value_object(&run->arena, 0);
    }
    text->len = 0;
    if (doc != NULL)
        aggregate_value_write(text, doc);
    char *body =
        doc != NULL && !util_buf_failed(text) ? util_arena_strndup(&run->arena, (const char *)text->data, text->len) : NULL;
    size_t body_len = text->len;
    util_buf_dispose(&fallback);
    if (body == NULL) {
        status = 500;
        body = "{}";
        body_len = 2;
    }

    run->result.http_status = status;
    run->result.document = doc;
    run->result.body = body;
    run->result.body_len = body_len;
    run->result.meta_header = ep->meta_header;
    run->result.meta_header_value = ep->meta_header && run->meta_value ? run->meta_value : NULL;
    if (run->result.meta_header_value == NULL)
        run->result.meta_header = NULL;
    run->result.parts = run->parts;
    run->result.n_parts = ep->n_calls;
}

static void run_free(aggregate_run_t *run)
{
    for (size_t i = 0; i < run->ep->n_calls; i++) {
        run_call_t *c = &run->calls[i];
        free(c->text);
        free(c->cache_key);
    }
    util_arena_dispose(&run->arena);
    free(run->input_error);
    free(run);
}

static void deliver(aggregate_run_t *run)
{
    run->done(run->done_ctx, &run->result);
    run_free(run);
}

static void on_deliver_timer(void *arg)
{
    aggregate_run_t *run = arg;
    run->deliver_timer = NULL;
    deliver(run);
}

static void on_endpoint_timeout(void *arg)
{
    aggregate_run_t *run = arg;
    run->endpoint_timer = NULL;
    for (size_t i = 0; i < run->ep->n_calls; i++) {
        run_call_t *c = &run->calls[i];
        if (c->status == AGGREGATE_PART_RUNNING) {
            if (c->handle != NULL)
                run->tr.cancel_call(run->tr.ctx, c->handle);
            call_end(c, AGGREGATE_PART_TIMEOUT, NULL, 504);
        } else if (c->status == AGGREGATE_PART_WAITING) {
            call_end(c, AGGREGATE_PART_SKIPPED, str_printf("skipped: the composite timed out (%u ms) first", run->ep->timeout_ms),
                     504);
        }
    }
    finish(run);
    deliver(run);
}

aggregate_run_t *aggregate_run_start(const aggregate_endpoint_t *ep, const aggregate_request_t *in,
                                     const aggregate_transport_t *transport, aggregate_done_cb done, void *ctx)
{
    aggregate_run_t *run = calloc(1, sizeof(*run));
    if (run == NULL)
        return NULL;
    util_arena_init_raw(&run->arena);
    run->ep = ep;
    run->tr = *transport;
    run->done = done;
    run->done_ctx = ctx;
    run->calls = arena_calloc(&run->arena, ep->n_calls * sizeof(*run->calls));
    run->raws = arena_calloc(&run->arena, ep->n_calls * sizeof(*run->raws));
    run->parts = arena_calloc(&run->arena, ep->n_calls * sizeof(*run->parts));
    if (run->calls == NULL || run->raws == NULL || run->parts == NULL || input_build(run, in) != 0) {
        util_arena_dispose(&run->arena);
        free(run->input_error);
        free(run);
        return NULL;
    }
    run->in.calls = run->raws;
    for (size_t i = 0; i < ep->n_calls; i++) {
        run->calls[i].run = run;
        run->calls[i].call = &ep->calls[i];
    }
    run->starting = 1;
    if (run->input_status != 0) {
        for (size_t i = 0; i < ep->n_calls; i++)
            run->calls[i].status = AGGREGATE_PART_SKIPPED;
        finish(run);
    } else {
        run->endpoint_timer = run->tr.timer_start(run->tr.ctx, ep->timeout_ms, on_endpoint_timeout, run);
        dispatch(run);
    }
    run->starting = 0;
    if (run->finished) {
        /* everything ended synchronously (cache hits, build errors): |done| must not run before we return */
        run->deliver_timer = run->tr.timer_start(run->tr.ctx, 0, on_deliver_timer, run);
        if (run->deliver_timer == NULL) {
            run_free(run);
            return NULL;
        }
    }
    return run;
}

void aggregate_run_cancel(aggregate_run_t *run)
{
    if (run == NULL)
        return;
    if (run->deliver_timer != NULL)
        run->tr.timer_cancel(run->tr.ctx, run->deliver_timer);
    if (run->endpoint_timer != NULL)
        run->tr.timer_cancel(run->tr.ctx, run->endpoint_timer);
    for (size_t i = 0; i < run->ep->n_calls; i++) {
        run_call_t *c = &run->calls[i];
        if (c->status != AGGREGATE_PART_RUNNING)
            continue;
        if (c->timer != NULL)
            run->tr.timer_cancel(run->tr.ctx, c->timer);
        if (c->handle != NULL)
            run->tr.cancel_call(run->tr.ctx, c->handle);
    }
    run_free(run);
}
