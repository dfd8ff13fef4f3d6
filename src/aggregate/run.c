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
 * Memory: malloc/jansson rather than an h2o pool, because the engine must not depend on h2o
 * (the unit tests have no loop) and because jansson allocates with malloc anyway.
 */
#include "aggregate/aggregate_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/grpc.h"
#include "util/hex.h"

typedef struct run_call {
    aggregate_run_t *run;
    const aggregate_call_t *call;
    aggregate_part_status_t status;
    void *handle;    /* the transport's call while RUNNING */
    void *timer;     /* the call's own timeout while RUNNING */
    json_t *raw;     /* the parsed response (what {calls.X} reads) */
    json_t *part;    /* the shaped response (what is merged) */
    char *text;      /* status text for "error: ..." */
    int fail_status; /* HTTP status a required failure of this part gives the composite */
    int from_cache;
    char *cache_key;
} run_call_t;

struct aggregate_run {
    const aggregate_endpoint_t *ep;
    aggregate_transport_t tr;
    aggregate_done_cb done;
    void *done_ctx;
    aggregate_tpl_input_t in;
    json_t **raws; /* in.calls */
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
    json_t *doc;
    char *body;
    char *meta_value;
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

/* Decodes a query component: "+" is a space, %XX a byte (a malformed % stays as it is). */
static json_t *query_decode(const char *s, size_t len)
{
    char *out = malloc(len + 1);
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
    json_t *v = json_stringn_nocheck(out, o);
    free(out);
    return v;
}

static int input_query(json_t *q, const char *s, size_t len)
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
            json_t *k = query_decode(s + i, eq - i);
            json_t *v = query_decode(s + (eq < end ? eq + 1 : end), eq < end ? end - eq - 1 : 0);
            int rc = k == NULL || v == NULL ? -1 : 0;
            /* the first value of a repeated parameter wins; keys with NUL bytes cannot be named by a template */
            if (rc == 0 && strlen(json_string_value(k)) == json_string_length(k) &&
                json_object_get(q, json_string_value(k)) == NULL)
                rc = json_object_set(q, json_string_value(k), v);
            json_decref(k);
            json_decref(v);
            if (rc != 0)
                return -1;
        }
        i = end + 1;
    }
    return 0;
}

static int input_headers(json_t *h, const aggregate_kv_t *headers, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char name[256];
        if (headers[i].name_len == 0 || headers[i].name_len >= sizeof(name))
            continue;
        for (size_t k = 0; k < headers[i].name_len; k++)
            name[k] = (char)tolower((unsigned char)headers[i].name[k]);
        name[headers[i].name_len] = '\0';
        json_t *old = json_object_get(h, name);
        json_t *v;
        if (old != NULL) { /* repeated header: one value, comma-joined (RFC 9110 5.3) */
            size_t ol = json_string_length(old), nl = headers[i].value_len;
            char *joined = malloc(ol + 2 + nl);
            if (joined == NULL)
                return -1;
            memcpy(joined, json_string_value(old), ol);
            memcpy(joined + ol, ", ", 2);
            memcpy(joined + ol + 2, headers[i].value, nl);
            v = json_stringn_nocheck(joined, ol + 2 + nl);
            free(joined);
        } else {
            v = json_stringn_nocheck(headers[i].value, headers[i].value_len);
        }
        if (v == NULL || json_object_set_new(h, name, v) != 0)
            return -1;
    }
    return 0;
}

static int input_build(aggregate_run_t *run, const aggregate_request_t *in)
{
    if ((run->in.path = json_object()) == NULL || (run->in.query = json_object()) == NULL ||
        (run->in.header = json_object()) == NULL)
        return -1;
    for (size_t i = 0; i < in->n_path_vars; i++) {
        char name[256];
        const aggregate_kv_t *kv = &in->path_vars[i];
        if (kv->name_len >= sizeof(name))
            continue;
        memcpy(name, kv->name, kv->name_len);
        name[kv->name_len] = '\0';
        if (json_object_set_new(run->in.path, name, json_stringn_nocheck(kv->value, kv->value_len)) != 0)
            return -1;
    }
    if (in->query != NULL && input_query(run->in.query, in->query, in->query_len) != 0)
        return -1;
    if (input_headers(run->in.header, in->headers, in->n_headers) != 0)
        return -1;
    if (run->ep->uses_body && in->body != NULL && in->body_len > 0) {
        json_error_t jerr;
        run->in.body = json_loadb(in->body, in->body_len, JSON_DECODE_ANY, &jerr);
        if (run->in.body == NULL) {
            run->input_status = 400;
            run->input_error =
                str_printf("the request body is not JSON (line %d, column %d: %s)", jerr.line, jerr.column, jerr.text);
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
    util_buf_t path, key, pb;
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
    util_buf_dispose(&b->path);
    util_buf_dispose(&b->key);
    util_buf_dispose(&b->pb);
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
        int rc = aggregate_tpl_render_text(c->headers[i].value, &run->in, 0, &v, &missing);
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
        json_t *v = json_object_get(run->in.header, c->forward_headers[i]);
        if (v == NULL)
            continue;
        size_t k;
        for (k = 0; k < n; k++)
            if (strcmp(b->headers[k].name, c->forward_headers[i]) == 0)
                break;
        if (k < n || has_line_break(json_string_value(v)))
            continue; /* a configured value wins over the client's */
        b->headers[n].name = c->forward_headers[i];
        b->headers[n++].value = json_string_value(v);
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

static int build_http(aggregate_run_t *run, const aggregate_call_t *c, built_t *b)
{
    const aggregate_ref_t *missing = NULL;
    int rc = aggregate_tpl_render_text(c->http_path, &run->in, 1, &b->path, &missing);
    if (rc != 0)
        return build_fail(b, rc == 1 ? missing : NULL, "the path");
    int first = 1;
    for (size_t i = 0; i < c->n_query; i++) {
        json_t *v = NULL;
        if (aggregate_tpl_render(c->query[i].value, &run->in, &v, NULL) != 0)
            return build_fail(b, NULL, NULL);
        if (v == NULL)
            continue; /* absent: the parameter is left out */
        size_t n = json_is_array(v) ? json_array_size(v) : 1;
        for (size_t k = 0; k < n; k++) {
            json_t *e = json_is_array(v) ? json_array_get(v, k) : v;
            util_buf_t text = UTIL_BUF_INIT;
            aggregate_tpl_t t = {.kind = AGGREGATE_TPL_CONST, .constant = e};
            if (aggregate_tpl_render_text(&t, &run->in, 0, &text, NULL) != 0) {
                util_buf_dispose(&text);
                json_decref(v);
                return build_fail(b, NULL, NULL);
            }
            query_append(&b->path, &first, c->query[i].name, text.len ? (const char *)text.data : "", text.len);
            util_buf_dispose(&text);
        }
        json_decref(v);
    }
    util_buf_putc(&b->path, '\0');
    if (util_buf_failed(&b->path))
        return build_fail(b, NULL, NULL);
    b->req.http_method = c->http_method;
    b->req.path = (const char *)b->path.data;
    if (c->body != NULL) {
        json_t *body = NULL;
        if (aggregate_tpl_render(c->body, &run->in, &body, NULL) != 0)
            return build_fail(b, NULL, NULL);
        if (body != NULL) {
            char *text = keep_str(b, json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY));
            json_decref(body);
            if (text == NULL)
                return build_fail(b, NULL, NULL);
            b->req.body = text;
            b->req.body_len = strlen(text);
        }
    }
    return 0;
}

static int build_grpc(aggregate_run_t *run, const aggregate_call_t *c, built_t *b)
{
    json_t *msg = NULL;
    if (aggregate_tpl_render(c->message, &run->in, &msg, NULL) != 0 || msg == NULL)
        return build_fail(b, NULL, NULL);
    char *text = keep_str(b, json_dumps(msg, JSON_COMPACT));
    json_decref(msg);
    if (text == NULL)
        return build_fail(b, NULL, NULL);
    b->req.message_json = text;
    b->req.message_json_len = strlen(text);
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

/* Takes a parsed response (reference stolen): shapes it and ends the call OK, or in error. */
static void call_ok(run_call_t *c, json_t *raw)
{
    char why[300];
    c->raw = raw;
    c->run->raws[c->call->index] = raw;
    c->part = aggregate_shape_apply(&c->call->shape, raw, why, sizeof(why));
    if (c->part == NULL)
        call_end(c, AGGREGATE_PART_ERROR, str_printf("error: %s", why), 502);
    else
        call_end(c, AGGREGATE_PART_OK, NULL, 0);
}

/* A short message out of an error body: {"message"}, {"error"} or {"error": {"message"}}. */
static const char *error_message(const json_t *body)
{
    const json_t *m = json_object_get(body, "message");
    if (!json_is_string(m)) {
        m = json_object_get(body, "error");
        if (json_is_object(m))
            m = json_object_get(m, "message");
    }
    return json_is_string(m) ? json_string_value(m) : NULL;
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
        json_t *body = r->body_len ? json_loadb(r->body, r->body_len, 0, NULL) : NULL;
        const char *msg = error_message(body);
        call_end(c, AGGREGATE_PART_ERROR,
                 str_printf("error: HTTP %d from upstream %s%s%.200s", r->http_status, up, msg ? ": " : "", msg ? msg : ""),
                 fail_status_of(r->http_status));
        json_decref(body);
    } else {
        json_error_t jerr;
        json_t *raw = r->body_len == 0 ? json_object() : json_loadb(r->body, r->body_len, JSON_DECODE_ANY, &jerr);
        if (raw == NULL) {
            call_end(c, AGGREGATE_PART_ERROR,
                     str_printf("error: the response of upstream %s is not JSON (line %d, column %d: %s)", up, jerr.line,
                                jerr.column, jerr.text),
                     502);
        } else {
            if (c->cache_key != NULL)
                aggregate_cache_put(c->run->tr.cache, c->cache_key, raw, r->body_len + 64, c->run->tr.now_ms(c->run->tr.ctx),
                                    c->call->cache_ttl_ms);
            call_ok(c, raw);
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
    built_t *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        call_end(c, AGGREGATE_PART_ERROR, str_printf("error: out of memory"), 500);
        return;
    }
    if (build_request(run, call, b) != 0) {
        call_end(c, AGGREGATE_PART_ERROR, str_printf("error: %s", b->why ? b->why : "cannot build the request"), b->why_status);
        built_dispose(b);
        free(b);
        return;
    }
    if (call->cache_ttl_ms != 0 && run->tr.cache != NULL && (c->cache_key = cache_key(call, b)) != NULL) {
        json_t *hit = aggregate_cache_get(run->tr.cache, c->cache_key, run->tr.now_ms(run->tr.ctx));
        if (hit != NULL) {
            c->from_cache = 1;
            free(c->cache_key);
            c->cache_key = NULL;
            c->status = AGGREGATE_PART_RUNNING;
            call_ok(c, json_incref(hit));
            built_dispose(b);
            free(b);
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
    free(b);
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

static void set_meta(aggregate_run_t *run, json_t *doc)
{
    if (run->ep->meta_field == NULL)
        return;
    json_t *meta = json_object();
    for (size_t i = 0; meta != NULL && i < run->ep->n_calls; i++)
        json_object_set_new(meta, run->parts[i].name, json_string(run->parts[i].text));
    json_object_set_new(doc, run->ep->meta_field, meta); /* the gateway's section wins over a backend's member */
}

static json_t *error_document(aggregate_run_t *run, int status, const char *message, const run_call_t *part)
{
    int code = status == 502 ? GRPC_CODE_UNAVAILABLE : (int)grpc_code_from_http(status);
    json_t *details = json_array();
    if (part != NULL)
        json_array_append_new(details,
                              json_pack("{s:s, s:s, s:s, s:{s:s, s:s}}", "@type", "type.googleapis.com/google.rpc.ErrorInfo",
                                        "reason", "AGGREGATE_PART_FAILED", "domain", "portico", "metadata", "part",
                                        part->call->name, "status", run->parts[part->call->index].text));
    json_t *doc = json_pack("{s:i, s:s, s:o}", "code", code, "message", message, "details", details ? details : json_array());
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

    /* parts and the header */
    util_buf_t hv = UTIL_BUF_INIT;
    for (size_t i = 0; i < ep->n_calls; i++) {
        run_call_t *c = &run->calls[i];
        aggregate_part_t *p = &run->parts[i];
        p->name = c->call->name;
        p->status = c->status;
        p->required = c->call->required;
        p->from_cache = c->from_cache;
        p->text = c->status == AGGREGATE_PART_ERROR && c->text != NULL ? c->text : aggregate_part_status_name(c->status);
        util_buf_printf(&hv, "%s%s=%s", i ? ", " : "", p->name, aggregate_part_status_name(c->status));
    }
    util_buf_putc(&hv, '\0');
    run->meta_value = util_buf_failed(&hv) ? NULL : (char *)util_buf_release(&hv, &(size_t){0});
    util_buf_dispose(&hv);

    int status = 200;
    json_t *doc;
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
        doc = json_object();
        for (size_t i = 0; doc != NULL && i < ep->n_calls; i++)
            if (run->calls[i].status == AGGREGATE_PART_OK)
                aggregate_shape_place(doc, &run->calls[i].call->shape, run->calls[i].part);
    }
    if (doc == NULL) {
        status = 500;
        doc = json_object();
    }
    if (doc != NULL)
        set_meta(run, doc);
    run->doc = doc;
    run->body = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;

    run->result.http_status = status;
    run->result.document = doc;
    run->result.body = run->body ? run->body : "{}";
    run->result.body_len = strlen(run->result.body);
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
        json_decref(c->raw);
        json_decref(c->part);
        free(c->text);
        free(c->cache_key);
    }
    json_decref(run->in.path);
    json_decref(run->in.query);
    json_decref(run->in.header);
    json_decref(run->in.body);
    json_decref(run->doc);
    free(run->input_error);
    free(run->body);
    free(run->meta_value);
    free(run->parts);
    free(run->raws);
    free(run->calls);
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
    run->ep = ep;
    run->tr = *transport;
    run->done = done;
    run->done_ctx = ctx;
    run->calls = calloc(ep->n_calls, sizeof(*run->calls));
    run->raws = calloc(ep->n_calls, sizeof(*run->raws));
    run->parts = calloc(ep->n_calls, sizeof(*run->parts));
    if (run->calls == NULL || run->raws == NULL || run->parts == NULL || input_build(run, in) != 0) {
        free(run->calls);
        run->calls = NULL;
        json_decref(run->in.path);
        json_decref(run->in.query);
        json_decref(run->in.header);
        json_decref(run->in.body);
        free(run->input_error);
        free(run->raws);
        free(run->parts);
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
