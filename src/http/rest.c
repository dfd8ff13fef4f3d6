/*
 * rest.c — REST/JSON → gRPC → REST/JSON for one request; see rest.h.
 *
 * Life of a request: match the route, build the protobuf request (binding.c), start the
 * upstream call with the allow-listed headers as metadata and the deadline as grpc-timeout,
 * then answer from the upstream's callbacks. The per-request state lives in the request's
 * pool with a dispose hook, so a client that goes away (h2o disposes the pool) cancels the
 * upstream call. Unary answers are sent whole; server streams are sent message by message
 * as they arrive (h2o allows one h2o_send in flight: output waits in |pending| until the
 * generator's proceed callback).
 */
#include "http/rest.h"

#include <stdlib.h>
#include <string.h>

#include "grpc/grpc.h"
#include "http/composite.h"
#include "http/errors.h"
#include "http/front.h"
#include "http/server.h"
#include "transcode/response.h"
#include "upstream/upstream.h"
#include "util/base64.h"
#include "util/json_quote.h"

typedef enum stream_format { STREAM_JSON_ARRAY, STREAM_NDJSON, STREAM_SSE } stream_format_t;

typedef struct rest_call {
    h2o_generator_t generator; /* first: h2o hands it back to proceed/stop */
    h2o_req_t *req;
    const gateway_t *g;
    const gateway_route_t *route;
    front_call_t call; /* the upstream call (gRPC, or REST through gRPC→REST) */
    int streaming;
    stream_format_t format;
    int started;     /* response headers sent */
    int sending;     /* an h2o_send is in flight */
    int upstream_done;
    int final_sent;
    size_t n_messages;
    util_buf_t unary;    /* the response message of a unary call */
    util_buf_t pending;  /* stream output not yet handed to h2o */
    util_buf_t inflight; /* stream output h2o is sending */
    util_buf_t body;     /* the unary response body */
    codec_options_t response_json; /* the service's print options, without the request-size limit */
} rest_call_t;

static void call_dispose(void *p)
{
    rest_call_t *c = p;
    front_call_cancel(&c->call);
    util_buf_dispose(&c->unary);
    util_buf_dispose(&c->pending);
    util_buf_dispose(&c->inflight);
    util_buf_dispose(&c->body);
}

/* ---- headers ----------------------------------------------------------------------------- */

static int header_allowed(const gateway_t *g, const char *name, size_t len)
{
    const config_t *cfg = g->config;
    for (size_t i = 0; i < cfg->n_forward_headers; i++) {
        const char *f = cfg->forward_headers[i];
        if (strlen(f) == len && strncasecmp(f, name, len) == 0)
            return 1;
    }
    static const char *always[] = {"authorization", "x-request-id", "traceparent", "tracestate"};
    for (size_t i = 0; i < sizeof(always) / sizeof(always[0]); i++)
        if (strlen(always[i]) == len && strncasecmp(always[i], name, len) == 0)
            return 1;
    return 0;
}

/* Response metadata → Grpc-Metadata-<name> headers (before the response starts). */
static void add_metadata_headers(h2o_req_t *req, const upstream_header_t *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (grpc_metadata_is_reserved(h[i].name, h[i].name_len))
            continue;
        size_t len = sizeof("grpc-metadata-") - 1 + h[i].name_len;
        char *name = h2o_mem_alloc_pool(&req->pool, len);
        memcpy(name, "grpc-metadata-", sizeof("grpc-metadata-") - 1);
        memcpy(name + sizeof("grpc-metadata-") - 1, h[i].name, h[i].name_len);
        h2o_add_header_by_str(&req->pool, &req->res.headers, name, len, 0, NULL, h[i].value, h[i].value_len);
    }
}

/* ---- errors -------------------------------------------------------------------------------- */

static void render_status(rest_call_t *c, int code, const char *msg, size_t msg_len, const upstream_header_t *trailers,
                          size_t n_trailers, util_buf_t *out)
{
    util_buf_printf(out, "{\"code\":%d,\"message\":", code);
    util_json_quote(out, msg, msg_len);
    util_buf_puts(out, ",\"details\":");
    int done = 0;
    for (size_t i = 0; i < n_trailers && !done; i++) {
        if (trailers[i].name_len == 23 && memcmp(trailers[i].name, "grpc-status-details-bin", 23) == 0) {
            util_buf_t raw = UTIL_BUF_INIT;
            if (util_base64_decode(&raw, trailers[i].value, trailers[i].value_len) == 0) {
                response_status_details(c->g->registry, raw.data, raw.len, out);
                done = 1;
            }
            util_buf_dispose(&raw);
        }
    }
    if (!done)
        util_buf_puts(out, "[]");
    util_buf_putc(out, '}');
}

static void send_grpc_error(rest_call_t *c, int code, const char *msg, size_t msg_len, const upstream_header_t *trailers,
                            size_t n_trailers)
{
    h2o_req_t *req = c->req;
    util_buf_t *b = &c->body;
    render_status(c, code, msg, msg_len, trailers, n_trailers, b);
    util_buf_putc(b, '\n');
    req->res.status = grpc_code_to_http(code);
    req->res.reason = "Error";
    req->res.content_length = b->len;
    add_metadata_headers(req, trailers, n_trailers);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    static h2o_generator_t generator = {NULL, NULL};
    h2o_start_response(req, &generator);
    h2o_iovec_t iov = h2o_iovec_init(b->data, b->len);
    h2o_send(req, &iov, 1, H2O_SEND_STATE_FINAL);
}

/* ---- streaming ----------------------------------------------------------------------------- */

static void flush_stream(rest_call_t *c);

static void on_stream_proceed(h2o_generator_t *self, h2o_req_t *req)
{
    rest_call_t *c = (rest_call_t *)self;
    c->sending = 0;
    c->inflight.len = 0;
    flush_stream(c);
}

static void on_stream_stop(h2o_generator_t *self, h2o_req_t *req)
{
    rest_call_t *c = (rest_call_t *)self;
    front_call_cancel(&c->call);
}

static void start_stream(rest_call_t *c)
{
    h2o_req_t *req = c->req;
    static const char *types[] = {"application/json", "application/x-ndjson", "text/event-stream"};
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, types[c->format], strlen(types[c->format]));
    if (c->format == STREAM_SSE)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-cache"));
    c->generator.proceed = on_stream_proceed;
    c->generator.stop = on_stream_stop;
    h2o_start_response(req, &c->generator);
    c->started = 1;
    if (c->format == STREAM_JSON_ARRAY)
        util_buf_putc(&c->pending, '[');
}

static void flush_stream(rest_call_t *c)
{
    if (c->sending || c->final_sent)
        return;
    int final = c->upstream_done;
    if (c->pending.len == 0 && !final)
        return;
    /* hand |pending| to h2o; it stays untouched (as |inflight|) until proceed */
    util_buf_t t = c->inflight;
    c->inflight = c->pending;
    c->pending = t;
    c->pending.len = 0;
    c->sending = 1;
    if (final)
        c->final_sent = 1;
    h2o_iovec_t iov = h2o_iovec_init(c->inflight.data, c->inflight.len);
    h2o_send(c->req, &iov, c->inflight.len ? 1 : 0, final ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

static void stream_frame_begin(rest_call_t *c)
{
    switch (c->format) {
    case STREAM_JSON_ARRAY:
        if (c->n_messages > 0)
            util_buf_putc(&c->pending, ',');
        break;
    case STREAM_SSE:
        util_buf_puts(&c->pending, "data: ");
        break;
    case STREAM_NDJSON:
        break;
    }
}

static void stream_frame_end(rest_call_t *c)
{
    switch (c->format) {
    case STREAM_JSON_ARRAY:
        break;
    case STREAM_NDJSON:
        util_buf_putc(&c->pending, '\n');
        break;
    case STREAM_SSE:
        util_buf_puts(&c->pending, "\n\n");
        break;
    }
}

/* ---- upstream callbacks -------------------------------------------------------------------- */

static void on_upstream_headers(void *ctx, const upstream_header_t *headers, size_t n)
{
    rest_call_t *c = ctx;
    if (!c->started)
        add_metadata_headers(c->req, headers, n);
}

static void on_upstream_message(void *ctx, const uint8_t *data, size_t len)
{
    rest_call_t *c = ctx;
    if (!c->streaming) {
        /* a unary call answers once; a second message is a protocol error reported at close */
        c->n_messages++;
        if (c->n_messages == 1)
            util_buf_append(&c->unary, data, len);
        return;
    }
    if (!c->started)
        start_stream(c);
    size_t mark = c->pending.len;
    stream_frame_begin(c);
    int raw;
    util_buf_t ct = UTIL_BUF_INIT;
    util_error_t err;
    int rc = response_render(c->g->registry, &c->route->binding, data, len, &c->response_json, &c->pending, &raw, &ct, &err);
    util_buf_dispose(&ct);
    if (rc != 0) {
        /* a message we cannot render ends the stream with an in-band error */
        c->pending.len = mark;
        front_call_cancel(&c->call);
        stream_frame_begin(c);
        util_buf_puts(&c->pending, "{\"error\":");
        render_status(c, GRPC_CODE_INTERNAL, err.message, strlen(err.message), NULL, 0, &c->pending);
        util_buf_putc(&c->pending, '}');
        stream_frame_end(c);
        if (c->format == STREAM_JSON_ARRAY)
            util_buf_putc(&c->pending, ']');
        c->upstream_done = 1;
        flush_stream(c);
        return;
    }
    stream_frame_end(c);
    c->n_messages++;
    flush_stream(c);
}

static void on_upstream_close(void *ctx, const upstream_grpc_result_t *res)
{
    rest_call_t *c = ctx;
    front_call_closed(&c->call);
    int code = res->code;
    const char *msg = res->message;
    size_t msg_len = res->message_len;
    const upstream_header_t *trailers = res->trailers;
    size_t n_trailers = res->n_trailers;
    h2o_req_t *req = c->req;

    if (c->streaming) {
        if (!c->started) {
            if (code != GRPC_CODE_OK) {
                send_grpc_error(c, code, msg, msg_len, trailers, n_trailers);
                return;
            }
            add_metadata_headers(req, trailers, n_trailers);
            start_stream(c);
        }
        if (code != GRPC_CODE_OK) {
            /* after the first byte the status can only travel in the body */
            stream_frame_begin(c);
            util_buf_puts(&c->pending, "{\"error\":");
            render_status(c, code, msg, msg_len, trailers, n_trailers, &c->pending);
            util_buf_putc(&c->pending, '}');
            stream_frame_end(c);
        }
        if (c->format == STREAM_JSON_ARRAY)
            util_buf_puts(&c->pending, "]\n");
        c->upstream_done = 1;
        flush_stream(c);
        return;
    }

    if (code != GRPC_CODE_OK) {
        send_grpc_error(c, code, msg, msg_len, trailers, n_trailers);
        return;
    }
    if (c->n_messages != 1) {
        const char *m = c->n_messages == 0 ? "upstream sent no response message" : "upstream sent more than one response message";
        send_grpc_error(c, GRPC_CODE_INTERNAL, m, strlen(m), NULL, 0);
        return;
    }
    int raw = 0;
    util_buf_t ct = UTIL_BUF_INIT;
    util_error_t err;
    if (response_render(c->g->registry, &c->route->binding, c->unary.data, c->unary.len, &c->response_json, &c->body, &raw,
                        &ct, &err) != 0) {
        util_buf_dispose(&ct);
        c->body.len = 0;
        send_grpc_error(c, GRPC_CODE_INTERNAL, err.message, strlen(err.message), NULL, 0);
        return;
    }
    if (!raw)
        util_buf_putc(&c->body, '\n');
    if (util_buf_failed(&c->body)) {
        c->body.len = 0;
        send_grpc_error(c, GRPC_CODE_RESOURCE_EXHAUSTED, H2O_STRLIT("out of memory"), NULL, 0);
        return;
    }
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = c->body.len;
    add_metadata_headers(req, trailers, n_trailers);
    if (raw && ct.len != 0)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                       h2o_strdup(&req->pool, (const char *)ct.data, ct.len).base, ct.len);
    else if (!raw)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    util_buf_dispose(&ct);
    static h2o_generator_t generator = {NULL, NULL};
    h2o_start_response(req, &generator);
    h2o_iovec_t iov = h2o_iovec_init(c->body.data, c->body.len);
    h2o_send(req, &iov, 1, H2O_SEND_STATE_FINAL);
}

static const upstream_grpc_callbacks_t upstream_callbacks = {
    .on_headers = on_upstream_headers,
    .on_message = on_upstream_message,
    .on_close = on_upstream_close,
};

/* ---- the handler ---------------------------------------------------------------------------- */

static stream_format_t negotiate_stream(h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_ACCEPT, -1);
    if (i < 0)
        return STREAM_JSON_ARRAY;
    h2o_iovec_t v = req->headers.entries[i].value;
    if (h2o_strstr(v.base, v.len, H2O_STRLIT("text/event-stream")) != SIZE_MAX)
        return STREAM_SSE;
    if (h2o_strstr(v.base, v.len, H2O_STRLIT("application/x-ndjson")) != SIZE_MAX ||
        h2o_strstr(v.base, v.len, H2O_STRLIT("application/jsonl")) != SIZE_MAX)
        return STREAM_NDJSON;
    return STREAM_JSON_ARRAY;
}

int rest_on_req(h2o_handler_t *self, h2o_req_t *req)
{
    http_worker_t *w = http_worker_current();
    gateway_worker_t *gw = w->state;
    const gateway_t *g = gw->gateway;
    http_worker_track_request(w, req);

    size_t path_len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    route_match_t match;
    route_match_status_t st = route_table_match(g->routes, req->method.base, req->method.len, req->path.base, path_len, &match);
    switch (st) {
    case ROUTE_MATCH_OK:
        break;
    case ROUTE_MATCH_NOT_FOUND:
        http_error_sendf(req, 404, "no route for %.*s %.*s", (int)req->method.len, req->method.base,
                         (int)(path_len > 200 ? 200 : path_len), req->path.base);
        return 0;
    case ROUTE_MATCH_METHOD_NOT_ALLOWED: {
        char allow[256];
        size_t n = route_match_allow_header(&match, allow, sizeof(allow));
        if (n >= sizeof(allow))
            n = strlen(allow);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, h2o_strdup(&req->pool, allow, n).base, n);
        http_error_sendf(req, 405, "method %.*s is not allowed for %.*s (allowed: %s)", (int)req->method.len,
                         req->method.base, (int)(path_len > 200 ? 200 : path_len), req->path.base, allow);
        return 0;
    }
    case ROUTE_MATCH_BAD_PATH:
    default:
        http_error_sendf(req, 400, "malformed request path (bad percent-encoding)");
        return 0;
    }

    const gateway_route_t *route = match.target;
    if (route->composite != NULL) {
        composite_handle(req, route->composite, &match);
        return 0;
    }
    rest_call_t *c = h2o_mem_alloc_shared(&req->pool, sizeof(*c), call_dispose);
    memset(c, 0, sizeof(*c));
    c->req = req;
    c->g = g;
    c->route = route;
    c->streaming = route->binding.method->server_streaming;
    c->response_json = route->json;
    c->response_json.max_input = 0; /* the request-body limit is not a limit on what backends answer */
    if (c->streaming)
        c->format = negotiate_stream(req);

    /* the protobuf request */
    util_buf_t msg = UTIL_BUF_INIT;
    util_error_t err = {0};
    ssize_t cti = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    binding_input_t in = {
        .match = &match,
        .query = req->query_at != SIZE_MAX ? req->path.base + req->query_at + 1 : NULL,
        .query_len = req->query_at != SIZE_MAX ? req->path.len - req->query_at - 1 : 0,
        .body = req->entity.base,
        .body_len = req->entity.len,
        .content_type = cti >= 0 ? req->headers.entries[cti].value.base : NULL,
        .content_type_len = cti >= 0 ? req->headers.entries[cti].value.len : 0,
        .ignore_unknown_query = route->service->ignore_unknown_query_parameters,
        .json = &route->json,
    };
    if (binding_build_request(&route->binding, g->registry, &in, &msg, &err) != 0) {
        util_buf_dispose(&msg);
        int status = err.code == BINDING_ERR_UNSUPPORTED_MEDIA ? 415
                     : err.code == BINDING_ERR_TOO_LARGE || err.code == CODEC_ERR_SIZE ? 413
                                                                                        : 400;
        http_error_sendf(req, status, "%s", err.message);
        return 0;
    }

    /* metadata: allow-listed headers, Grpc-Metadata-* with the prefix removed; never hop-by-hop */
    upstream_header_t md[64];
    size_t n_md = 0;
    int64_t timeout_ms = g->config->upstreams[route->upstream_index].timeout_ms;
    for (size_t i = 0; i < req->headers.size && n_md < sizeof(md) / sizeof(md[0]); i++) {
        const h2o_header_t *h = &req->headers.entries[i];
        const char *name = h->name->base;
        size_t nlen = h->name->len;
        if (nlen == 12 && strncasecmp(name, "grpc-timeout", 12) == 0) {
            int64_t t;
            if (grpc_timeout_parse(h->value.base, h->value.len, &t, NULL) == 0 && t < timeout_ms)
                timeout_ms = t;
            continue;
        }
        if (nlen > 14 && strncasecmp(name, "grpc-metadata-", 14) == 0) {
            name += 14;
            nlen -= 14;
        } else if (!header_allowed(g, name, nlen)) {
            continue;
        }
        if (grpc_metadata_is_reserved(name, nlen) || grpc_metadata_is_hop_by_hop(name, nlen, h->value.base, h->value.len))
            continue;
        md[n_md++] = (upstream_header_t){name, nlen, h->value.base, h->value.len};
    }

    grpc_code_t code;
    if (front_call_start_message(&c->call, gw, route->upstream_index, route->binding.method, msg.data, msg.len, md, n_md,
                                 timeout_ms, &upstream_callbacks, c, &code, &err) != 0) {
        util_buf_dispose(&msg);
        c->body.len = 0;
        send_grpc_error(c, code, err.message, strlen(err.message), NULL, 0);
        return 0;
    }
    util_buf_dispose(&msg);
    return 0;
}
