/*
 * composite.c — composite endpoints on the worker loop; see composite.h.
 *
 * The engine (src/aggregate) knows nothing of sockets: this file gives it an
 * aggregate_transport_t whose calls go to the worker's gRPC pools (the reply message printed
 * as JSON with the codec) or HTTP pools (the body as is), whose timers are upstream timers
 * on the worker's loop, and whose cache belongs to the worker. A client that goes away
 * cancels the run from the request pool's dispose hook, which cancels every call in flight.
 */
#include "http/composite.h"

#include <stdlib.h>
#include <string.h>

#include "http/errors.h"
#include "http/gateway.h"
#include "http/server.h"
#include "upstream/http_upstream.h"
#include "upstream/timer.h"
#include "upstream/upstream.h"

#define COMPOSITE_CACHE_ENTRIES 10000
#define COMPOSITE_CACHE_BYTES ((size_t)64 << 20)

/* Finished calls and timers are kept for reuse (a composite request makes a few of each), up to
 * this many of each per worker. A spare call keeps its reply buffers, up to this capacity each:
 * at most 64 x 2 x 16 KiB per worker. (The thread's spare buffers, util_buf_take, run dry with
 * dozens of composites in flight: these scale with the calls.) */
#define COMPOSITE_SPARES 64
#define COMPOSITE_SPARE_BUF_MAX ((size_t)16 << 10)

typedef struct composite_call composite_call_t;
typedef struct composite_timer composite_timer_t;

/* Freed objects of one size, kept for reuse: the link lives in a dead object's first bytes. */
typedef struct spares {
    void *head;
    size_t n;
} spares_t;

/* A kept object (its first bytes overwritten), or NULL when there is none. */
static void *spare_take(spares_t *s)
{
    void *p = s->head;
    if (p != NULL) {
        memcpy(&s->head, p, sizeof(s->head));
        s->n--;
    }
    return p;
}

/* Keeps |p| when there is room: returns 1, or 0 when the caller is to free it. */
static int spare_give(spares_t *s, void *p)
{
    if (s->n == COMPOSITE_SPARES)
        return 0;
    memcpy(p, &s->head, sizeof(s->head));
    s->head = p;
    s->n++;
    return 1;
}

struct composite_worker {
    gateway_worker_t *gw;
    h2o_loop_t *loop;
    upstream_timers_t timers;
    aggregate_transport_t transport;
    spares_t spare_calls, spare_timers;
};

/* ---- calls ---------------------------------------------------------------------------------- */

struct composite_call {
    composite_worker_t *cw;
    aggregate_reply_cb cb;
    void *cb_arg;
    upstream_grpc_call_t *grpc;
    upstream_http_call_t *http;
    const proto_method_t *method;
    const uint8_t *reply_fields; /* codec_options_t.only_fields */
    size_t n_messages;
    util_buf_t json;    /* the gRPC reply, printed as JSON as soon as it arrives */
    util_buf_t outline; /* the printer's outline of it (codec_outline_event_t) */
    char why[600];      /* why it could not be printed ("" when it could) */
};

static composite_call_t *call_new(composite_worker_t *cw)
{
    composite_call_t *c = spare_take(&cw->spare_calls);
    if (c == NULL) {
        if ((c = malloc(sizeof(*c))) == NULL)
            return NULL;
        util_buf_init(&c->json);
        util_buf_init(&c->outline);
    }
    c->cw = cw;
    c->grpc = NULL;
    c->http = NULL;
    c->method = NULL;
    c->reply_fields = NULL;
    c->n_messages = 0;
    c->json.len = 0;
    c->outline.len = 0;
    c->why[0] = '\0';
    return c;
}

static void call_dispose(composite_call_t *c)
{
    util_buf_dispose(&c->json);
    util_buf_dispose(&c->outline);
    free(c);
}

static void call_free(composite_call_t *c)
{
    if (c->json.failed || c->json.cap > COMPOSITE_SPARE_BUF_MAX)
        util_buf_dispose(&c->json);
    if (c->outline.failed || c->outline.cap > COMPOSITE_SPARE_BUF_MAX)
        util_buf_dispose(&c->outline);
    if (!spare_give(&c->cw->spare_calls, c))
        call_dispose(c);
}

static void fail_now(composite_call_t *c, const char *msg)
{
    aggregate_reply_t r = {.failed = 1, .http_status = 502, .error = msg};
    c->cb(c->cb_arg, &r);
    call_free(c);
}

static void on_grpc_message(void *ctx, const uint8_t *data, size_t len)
{
    composite_call_t *c = ctx;
    if (c->n_messages++ != 0)
        return;
    /* printed here, from the client's own buffer: no copy of the message is kept */
    util_error_t err;
    codec_options_t opt = {.outline = &c->outline, .only_fields = c->reply_fields};
    util_buf_reserve(&c->json, len * 3 + 256); /* typical JSON size: one allocation */
    util_buf_reserve(&c->outline, len * 8 + 64);
    if (codec_pb_to_json(c->cw->gw->gateway->registry, c->method->output, data, len, &opt, &c->json, &err) != 0)
        snprintf(c->why, sizeof(c->why), "cannot print the reply: %.500s", err.message);
}

static void on_grpc_close(void *ctx, const upstream_grpc_result_t *res)
{
    composite_call_t *c = ctx;
    c->grpc = NULL;
    aggregate_reply_t r = {0};
    char why[600];
    if (res->code != GRPC_CODE_OK) {
        snprintf(why, sizeof(why), "%s: %s", grpc_code_name(res->code) ? grpc_code_name(res->code) : "UNKNOWN", res->message);
        r.failed = 1;
        r.timed_out = res->code == GRPC_CODE_DEADLINE_EXCEEDED && res->local;
        r.http_status = grpc_code_to_http(res->code);
        r.error = why;
    } else if (c->n_messages != 1) {
        r.failed = 1;
        r.http_status = 502;
        r.error = c->n_messages == 0 ? "the backend sent no response message" : "the backend sent several response messages";
    } else if (c->why[0] != '\0') {
        r.failed = 1;
        r.http_status = 502;
        r.error = c->why;
    } else {
        r.http_status = 200;
        r.body = (const char *)c->json.data;
        r.body_len = c->json.len;
        r.fields_filtered = c->reply_fields != NULL;
        if (!util_buf_failed(&c->outline)) {
            r.outline = (const codec_outline_event_t *)(const void *)c->outline.data;
            r.n_outline = c->outline.len / sizeof(codec_outline_event_t);
        }
    }
    c->cb(c->cb_arg, &r);
    call_free(c);
}

static const upstream_grpc_callbacks_t grpc_callbacks = {.on_message = on_grpc_message, .on_close = on_grpc_close};

static void on_http_close(void *ctx, const upstream_http_response_t *res)
{
    composite_call_t *c = ctx;
    c->http = NULL;
    aggregate_reply_t r = {
        .failed = res->error != UPSTREAM_HTTP_OK,
        .timed_out = res->error == UPSTREAM_HTTP_ERR_TIMEOUT,
        .http_status = res->error == UPSTREAM_HTTP_OK ? res->status : 502,
        .body = res->body,
        .body_len = res->body_len,
        .error = res->error == UPSTREAM_HTTP_OK ? NULL : res->message,
    };
    c->cb(c->cb_arg, &r);
    call_free(c);
}

static const upstream_http_callbacks_t http_callbacks = {.on_close = on_http_close};

static void *transport_start_call(void *ctx, const aggregate_call_request_t *req, aggregate_reply_cb cb, void *cb_arg)
{
    composite_worker_t *cw = ctx;
    const gateway_t *g = cw->gw->gateway;
    composite_call_t *c = call_new(cw);
    if (c == NULL) {
        aggregate_reply_t r = {.failed = 1, .http_status = 502, .error = "out of memory"};
        cb(cb_arg, &r);
        return NULL;
    }
    c->cb = cb;
    c->cb_arg = cb_arg;
    const config_upstream_t *u = config_upstream_find(g->config, req->upstream);
    if (u == NULL) {
        fail_now(c, "unknown upstream");
        return NULL;
    }
    size_t ui = (size_t)(u - g->config->upstreams);
    upstream_header_t md[64];
    size_t n_md = 0;
    for (size_t i = 0; i < req->n_headers && n_md < 64; i++)
        md[n_md++] = (upstream_header_t){req->headers[i].name, strlen(req->headers[i].name), req->headers[i].value,
                                         strlen(req->headers[i].value)};
    int64_t timeout = req->timeout_ms ? req->timeout_ms : g->config->upstreams[ui].timeout_ms;
    util_error_t err;
    if (req->grpc_method != NULL) {
        if (cw->gw->pools[ui] == NULL) {
            fail_now(c, "the gRPC upstream is not available on this worker");
            return NULL;
        }
        c->method = req->grpc_method;
        c->reply_fields = req->reply_fields;
        c->grpc =
            upstream_grpc_call_start(cw->gw->pools[ui], req->grpc_method->grpc_path, md, n_md, timeout, &grpc_callbacks, c, &err);
        if (c->grpc == NULL) {
            fail_now(c, err.message);
            return NULL;
        }
        upstream_grpc_call_send(c->grpc, req->message_pb, req->message_pb_len);
        upstream_grpc_call_close_send(c->grpc);
        return c;
    }
    if (cw->gw->http_pools[ui] == NULL) {
        fail_now(c, "the HTTP upstream is not available on this worker");
        return NULL;
    }
    upstream_http_request_t hr = {
        .method = req->http_method,
        .path = req->path,
        .headers = md,
        .n_headers = n_md,
        .body = req->body,
        .body_len = req->body_len,
        .timeout_ms = timeout,
    };
    c->http = upstream_http_call_start(cw->gw->http_pools[ui], &hr, &http_callbacks, c, &err);
    if (c->http == NULL) {
        fail_now(c, err.message);
        return NULL;
    }
    return c;
}

static void transport_cancel_call(void *ctx, void *handle)
{
    composite_call_t *c = handle;
    if (c == NULL)
        return;
    if (c->grpc != NULL)
        upstream_grpc_call_cancel(c->grpc);
    if (c->http != NULL)
        upstream_http_call_cancel(c->http);
    call_free(c);
}

struct composite_timer {
    upstream_timer_t timer;
    composite_worker_t *cw;
    aggregate_timer_cb cb;
    void *arg;
};

static void on_timer(upstream_timer_t *t)
{
    composite_timer_t *ct = (composite_timer_t *)t;
    aggregate_timer_cb cb = ct->cb;
    void *arg = ct->arg;
    if (!spare_give(&ct->cw->spare_timers, ct))
        free(ct);
    cb(arg);
}

static void *transport_timer_start(void *ctx, uint64_t ms, aggregate_timer_cb cb, void *arg)
{
    composite_worker_t *cw = ctx;
    composite_timer_t *ct = spare_take(&cw->spare_timers);
    if (ct == NULL && (ct = malloc(sizeof(*ct))) == NULL)
        return NULL;
    ct->cw = cw;
    ct->cb = cb;
    ct->arg = arg;
    upstream_timer_init(&ct->timer, &cw->timers, on_timer);
    upstream_timer_set(&ct->timer, h2o_now(cw->loop) + ms);
    return ct;
}

static void transport_timer_cancel(void *ctx, void *timer)
{
    composite_timer_t *ct = timer;
    if (ct == NULL)
        return;
    upstream_timer_stop(&ct->timer);
    if (!spare_give(&ct->cw->spare_timers, ct))
        free(ct);
}

static uint64_t transport_now(void *ctx)
{
    composite_worker_t *cw = ctx;
    return h2o_now(cw->loop);
}

composite_worker_t *composite_worker_new(gateway_worker_t *gw, h2o_loop_t *loop)
{
    composite_worker_t *cw = calloc(1, sizeof(*cw));
    if (cw == NULL)
        return NULL;
    cw->gw = gw;
    cw->loop = loop;
    upstream_timers_init(&cw->timers, loop);
    cw->transport = (aggregate_transport_t){
        .ctx = cw,
        .start_call = transport_start_call,
        .cancel_call = transport_cancel_call,
        .timer_start = transport_timer_start,
        .timer_cancel = transport_timer_cancel,
        .now_ms = transport_now,
        .cache = aggregate_cache_new(COMPOSITE_CACHE_ENTRIES, COMPOSITE_CACHE_BYTES),
    };
    return cw;
}

void composite_worker_free(composite_worker_t *cw)
{
    if (cw == NULL)
        return;
    aggregate_cache_free(cw->transport.cache);
    upstream_timers_dispose(&cw->timers);
    composite_call_t *c;
    while ((c = spare_take(&cw->spare_calls)) != NULL)
        call_dispose(c);
    void *t;
    while ((t = spare_take(&cw->spare_timers)) != NULL)
        free(t);
    free(cw);
}

/* ---- requests -------------------------------------------------------------------------------- */

typedef struct composite_req {
    h2o_req_t *req;
    aggregate_run_t *run; /* NULL once done */
} composite_req_t;

static void composite_req_dispose(void *p)
{
    composite_req_t *cr = p;
    if (cr->run != NULL) {
        aggregate_run_cancel(cr->run);
        cr->run = NULL;
    }
}

static void on_done(void *ctx, const aggregate_result_t *res)
{
    composite_req_t *cr = ctx;
    h2o_req_t *req = cr->req;
    cr->run = NULL;
    req->res.status = res->http_status;
    req->res.reason = res->http_status == 200 ? "OK" : "Error";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    if (res->meta_header != NULL && res->meta_header_value != NULL) {
        size_t nl = strlen(res->meta_header), vl = strlen(res->meta_header_value);
        h2o_add_header_by_str(&req->pool, &req->res.headers, h2o_strdup(&req->pool, res->meta_header, nl).base, nl, 0, NULL,
                              h2o_strdup(&req->pool, res->meta_header_value, vl).base, vl);
    }
    /* the result lives only during this callback: the body goes into the request pool */
    h2o_iovec_t body = h2o_strdup(&req->pool, res->body, res->body_len);
    req->res.content_length = body.len + 1;
    static h2o_generator_t generator = {NULL, NULL};
    h2o_start_response(req, &generator);
    h2o_iovec_t iov[2] = {body, h2o_iovec_init(H2O_STRLIT("\n"))};
    h2o_send(req, iov, 2, H2O_SEND_STATE_FINAL);
}

void composite_handle(h2o_req_t *req, const aggregate_endpoint_t *ep, const route_match_t *match)
{
    http_worker_t *w = http_worker_current();
    gateway_worker_t *gw = w->state;
    if (gw->composite == NULL) {
        http_error_sendf(req, 503, "composite endpoints are not available on this worker");
        return;
    }
    aggregate_kv_t vars[PATH_TEMPLATE_MAX_VARS];
    for (size_t i = 0; i < match->ncaptures; i++) {
        const route_capture_t *c = &match->captures[i];
        char *v = h2o_mem_alloc_pool(&req->pool, c->raw_len + 1);
        size_t n = route_capture_decode(c, PATH_TEMPLATE_UNESCAPE_EXCEPT_SLASH, v);
        vars[i] = (aggregate_kv_t){c->field_path, strlen(c->field_path), v, n};
    }
    aggregate_kv_t *headers = h2o_mem_alloc_pool(&req->pool, sizeof(*headers) * (req->headers.size + 1));
    for (size_t i = 0; i < req->headers.size; i++) {
        const h2o_header_t *h = &req->headers.entries[i];
        headers[i] = (aggregate_kv_t){h->name->base, h->name->len, h->value.base, h->value.len};
    }
    aggregate_request_t in = {
        .path_vars = vars,
        .n_path_vars = match->ncaptures,
        .query = req->query_at != SIZE_MAX ? req->path.base + req->query_at + 1 : NULL,
        .query_len = req->query_at != SIZE_MAX ? req->path.len - req->query_at - 1 : 0,
        .headers = headers,
        .n_headers = req->headers.size,
        .body = req->entity.base,
        .body_len = req->entity.len,
    };
    composite_req_t *cr = h2o_mem_alloc_shared(&req->pool, sizeof(*cr), composite_req_dispose);
    cr->req = req;
    cr->run = NULL;
    cr->run = aggregate_run_start(ep, &in, &gw->composite->transport, on_done, cr);
    if (cr->run == NULL)
        http_error_sendf(req, 500, "out of memory starting the composite request");
}
