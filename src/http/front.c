/*
 * front.c — dispatch of HTTP-listener requests to the protocol handlers, CORS for all of
 * them, and the pieces the gRPC-Web and Connect handlers share; see front.h.
 *
 * CORS is applied here, before dispatch, so that every answer carries it whoever writes
 * it (handlers' errors, 404/405 from routing, upstream failures): the Access-Control-*
 * and Vary headers are put in req->res.headers up front and the handlers only add to
 * them. The policy is the service's override when the request belongs to a service
 * (a gRPC path, or a REST route of that service), else the global one.
 */
#include "http/front.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http/apidocs.h"
#include "http/connect.h"
#include "http/errors.h"
#include "transcode/reverse.h"
#include "http/grpcweb.h"
#include "http/rest.h"
#include "http/server.h"
#include "policy/cors.h"
#include "util/base64.h"

/* ---- targets ------------------------------------------------------------------------------ */

static const config_grpc_service_t *service_of(const config_t *cfg, const proto_method_t *m)
{
    const char *name = m->service->full_name;
    for (size_t i = 0; i < cfg->n_grpc_services; i++)
        if (strcmp(cfg->grpc_services[i].service, name) == 0)
            return &cfg->grpc_services[i];
    return NULL;
}

/* Resolves "/pkg.Service/Method" (exactly that shape, no query) to a method of a configured
 * service. Returns 1 with |t| filled, or 0. */
static int resolve_grpc_path(const gateway_t *g, gateway_worker_t *gw, const char *path, size_t len, front_target_t *t)
{
    if (len < 4 || len >= 512 || path[0] != '/')
        return 0;
    size_t slashes = 0, dot = 0;
    for (size_t i = 1; i < len; i++) {
        if (path[i] == '/')
            slashes++;
        else if (path[i] == '.' && slashes == 0)
            dot = 1;
        else if (path[i] == '%' || path[i] == '?')
            return 0;
    }
    if (slashes != 1 || !dot || path[len - 1] == '/')
        return 0;
    char buf[512];
    memcpy(buf, path, len);
    buf[len] = '\0';
    const proto_method_t *m = proto_registry_find_method(g->registry, buf);
    if (m == NULL || strcmp(m->grpc_path, buf) != 0)
        return 0;
    const config_grpc_service_t *svc = service_of(g->config, m);
    if (svc == NULL)
        return 0;
    memset(t, 0, sizeof(*t));
    t->g = g;
    t->gw = gw;
    t->method = m;
    t->service = svc;
    t->upstream_index = (size_t)(svc->upstream - g->config->upstreams);
    t->json.emit_defaults = svc->json.emit_defaults;
    t->json.proto_names = svc->json.proto_names;
    t->json.enum_ints = svc->json.enum_ints;
    t->json.ignore_unknown = svc->json.ignore_unknown_fields;
    t->json.max_depth = g->config->limits.max_json_depth;
    t->json.max_input = (size_t)g->config->limits.max_request_body_bytes;
    t->json_out = t->json;
    t->json_out.max_input = 0;
    return 1;
}

/* ---- CORS ---------------------------------------------------------------------------------- */

static const h2o_iovec_t *header_value(h2o_req_t *req, const char *name, size_t len)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, len, -1);
    return i >= 0 ? &req->headers.entries[i].value : NULL;
}

/* The policy of the service a REST request is routed to (matched with |method|), if any. */
static const config_grpc_service_t *rest_service(const gateway_t *g, h2o_req_t *req, const char *method, size_t method_len)
{
    size_t path_len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    route_match_t match;
    if (route_table_match(g->routes, method, method_len, req->path.base, path_len, &match) != ROUTE_MATCH_OK)
        return NULL;
    return ((const gateway_route_t *)match.target)->service;
}

static const cors_policy_t *policy_for(const gateway_t *g, h2o_req_t *req, const front_target_t *t,
                                       const h2o_iovec_t *request_method)
{
    const config_t *cfg = g->config;
    if (t != NULL)
        return t->service->cors != NULL ? t->service->cors : cfg->cors;
    int overrides = 0;
    for (size_t i = 0; i < cfg->n_grpc_services && !overrides; i++)
        overrides = cfg->grpc_services[i].cors != NULL;
    if (overrides) {
        const h2o_iovec_t *m = request_method != NULL ? request_method : &req->method;
        const config_grpc_service_t *svc = rest_service(g, req, m->base, m->len);
        if (svc != NULL && svc->cors != NULL)
            return svc->cors;
    }
    return cfg->cors;
}

static void emit_header(void *ctx, const char *name, const char *value, size_t value_len)
{
    h2o_req_t *req = ctx;
    h2o_add_header_by_str(&req->pool, &req->res.headers, name, strlen(name), 1, NULL, h2o_strdup(&req->pool, value, value_len).base,
                          value_len);
}

/* Applies CORS; returns 1 when the request was answered here (a preflight). */
static int apply_cors(const gateway_t *g, h2o_req_t *req, const front_target_t *t)
{
    const h2o_iovec_t *origin = header_value(req, H2O_STRLIT("origin"));
    const h2o_iovec_t *acrm = header_value(req, H2O_STRLIT("access-control-request-method"));
    const h2o_iovec_t *acrh = header_value(req, H2O_STRLIT("access-control-request-headers"));
    int options = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("OPTIONS"));
    const cors_policy_t *policy = policy_for(g, req, t, options ? acrm : NULL);
    if (policy == NULL)
        return 0;
    cors_request_t in = {
        .method = req->method.base,
        .method_len = req->method.len,
        .origin = origin ? origin->base : NULL,
        .origin_len = origin ? origin->len : 0,
        .request_method = acrm ? acrm->base : NULL,
        .request_method_len = acrm ? acrm->len : 0,
        .request_headers = acrh ? acrh->base : NULL,
        .request_headers_len = acrh ? acrh->len : 0,
    };
    char why[256];
    switch (cors_evaluate(policy, &in, emit_header, req, why, sizeof(why))) {
    case CORS_PREFLIGHT_OK: {
        static h2o_generator_t generator = {NULL, NULL};
        req->res.status = 204;
        req->res.reason = "No Content";
        h2o_start_response(req, &generator);
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
        return 1;
    }
    case CORS_PREFLIGHT_DENIED:
        http_error_sendf(req, 403, "CORS preflight refused: %s", why);
        return 1;
    default:
        return 0;
    }
}

static int is_safelisted_response_header(const char *name, size_t len)
{
    static const char *const safe[] = {"cache-control", "content-language", "content-length", "content-type",
                                       "expires",       "last-modified",    "pragma"};
    for (size_t i = 0; i < sizeof(safe) / sizeof(safe[0]); i++)
        if (strlen(safe[i]) == len && strncasecmp(safe[i], name, len) == 0)
            return 1;
    return 0;
}

/* Non-zero when the comma-separated |list| has |name| (case-insensitive). */
static int list_has(const char *list, size_t list_len, const char *name, size_t len)
{
    size_t i = 0;
    while (i < list_len) {
        while (i < list_len && (list[i] == ' ' || list[i] == ','))
            i++;
        size_t s = i;
        while (i < list_len && list[i] != ',')
            i++;
        size_t e = i;
        while (e > s && list[e - 1] == ' ')
            e--;
        if (e - s == len && strncasecmp(list + s, name, len) == 0)
            return 1;
    }
    return 0;
}

void front_cors_expose_response_headers(h2o_req_t *req)
{
    ssize_t idx = h2o_find_header_by_str(&req->res.headers, H2O_STRLIT("access-control-expose-headers"), -1);
    if (idx < 0)
        return;
    h2o_iovec_t cur = req->res.headers.entries[idx].value;
    util_buf_t b = UTIL_BUF_INIT;
    util_buf_append(&b, cur.base, cur.len);
    int added = 0;
    for (size_t i = 0; i < req->res.headers.size; i++) {
        const h2o_iovec_t *n = req->res.headers.entries[i].name;
        if (is_safelisted_response_header(n->base, n->len) || (n->len >= 15 && strncasecmp(n->base, "access-control-", 15) == 0) ||
            (n->len == 4 && strncasecmp(n->base, "vary", 4) == 0) || list_has((const char *)b.data, b.len, n->base, n->len))
            continue;
        util_buf_puts(&b, ", ");
        util_buf_append(&b, n->base, n->len);
        added = 1;
    }
    if (added && !util_buf_failed(&b))
        req->res.headers.entries[idx].value = h2o_strdup(&req->pool, (const char *)b.data, b.len);
    util_buf_dispose(&b);
}

/* ---- dispatch ------------------------------------------------------------------------------- */

int front_on_req(h2o_handler_t *self, h2o_req_t *req)
{
    http_worker_t *w = http_worker_current();
    gateway_worker_t *gw = w->state;
    const gateway_t *g = gw->gateway;

    size_t path_len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    front_target_t target;
    int grpc_path = resolve_grpc_path(g, gw, req->path.base, path_len, &target);

    if (apply_cors(g, req, grpc_path ? &target : NULL))
        return 0;
    if (g->apidocs != NULL && apidocs_on_req(g->apidocs, req) == 0)
        return 0;

    /* h2o's own body limit sits above the configured one (gateway.c), so every protocol answers here, with JSON */
    if (req->entity.len > g->config->limits.max_request_body_bytes) {
        http_worker_track_request(w, req);
        http_error_sendf(req, 413, "request body of %zu bytes is over the limit of %llu bytes", req->entity.len,
                         (unsigned long long)g->config->limits.max_request_body_bytes);
        return 0;
    }

    ssize_t cti = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    const char *ct = cti >= 0 ? req->headers.entries[cti].value.base : NULL;
    size_t ct_len = cti >= 0 ? req->headers.entries[cti].value.len : 0;
    grpcweb_format_t gwf = grpcweb_content_type_parse(ct, ct_len);
    connect_codec_t codec;
    connect_kind_t kind = connect_content_type_parse(ct, ct_len, &codec);

    if (!grpc_path) {
        /* a gRPC client calling a method portico does not serve gets its protocol's answer */
        if (gwf != GRPCWEB_NONE || kind == CONNECT_KIND_STREAM ||
            (kind == CONNECT_KIND_UNARY && header_value(req, H2O_STRLIT("connect-protocol-version")) != NULL)) {
            char msg[300];
            snprintf(msg, sizeof(msg), "unknown method %.*s (not a method of a configured grpc_services entry)",
                     (int)(path_len > 200 ? 200 : path_len), req->path.base);
            if (gwf != GRPCWEB_NONE)
                return grpcweb_send_status(req, gwf, GRPC_CODE_UNIMPLEMENTED, msg);
            return connect_send_error(req, g->registry, 404, GRPC_CODE_UNIMPLEMENTED, msg);
        }
        return rest_on_req(self, req);
    }

    if (gwf != GRPCWEB_NONE)
        return grpcweb_handle(req, &target, gwf);
    if (kind == CONNECT_KIND_STREAM)
        return connect_handle_stream(req, &target, codec);
    int is_post = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"));
    int is_get = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"));
    if (header_value(req, H2O_STRLIT("connect-protocol-version")) != NULL || is_get ||
        (is_post && kind == CONNECT_KIND_UNARY && codec == CONNECT_CODEC_PROTO))
        return connect_handle_unary(req, &target);
    if (is_post) {
        /* the auto-mapped REST route POST /pkg.Svc/Method keeps its JSON API (and its errors) */
        route_match_t match;
        if (route_table_match(g->routes, req->method.base, req->method.len, req->path.base, path_len, &match) == ROUTE_MATCH_OK)
            return rest_on_req(self, req);
        return connect_handle_unary(req, &target);
    }
    return rest_on_req(self, req);
}

/* ---- shared by the gRPC-Web and Connect handlers -------------------------------------------- */

static int name_is(const h2o_iovec_t *n, const char *s)
{
    size_t l = strlen(s);
    return n->len == l && strncasecmp(n->base, s, l) == 0;
}

static int name_has_prefix(const h2o_iovec_t *n, const char *p)
{
    size_t l = strlen(p);
    return n->len >= l && strncasecmp(n->base, p, l) == 0;
}

size_t front_metadata_collect(h2o_req_t *req, upstream_header_t *md, size_t cap)
{
    static const char *const skipped[] = {
        "origin",           "referer", "user-agent",     "accept",   "accept-encoding",           "accept-language", "cookie",
        "cache-control",    "pragma",  "priority",       "dnt",      "upgrade-insecure-requests", "x-grpc-web",      "x-user-agent",
        "content-encoding", "expect",  "http2-settings", "forwarded"};
    static const char *const skipped_prefixes[] = {"connect-", "sec-", "access-control-"};
    size_t n = 0;
    for (size_t i = 0; i < req->headers.size && n < cap; i++) {
        const h2o_header_t *h = &req->headers.entries[i];
        const h2o_iovec_t *name = h->name;
        if (grpc_metadata_is_reserved(name->base, name->len) ||
            grpc_metadata_is_hop_by_hop(name->base, name->len, h->value.base, h->value.len))
            continue;
        int skip = 0;
        for (size_t k = 0; k < sizeof(skipped) / sizeof(skipped[0]) && !skip; k++)
            skip = name_is(name, skipped[k]);
        for (size_t k = 0; k < sizeof(skipped_prefixes) / sizeof(skipped_prefixes[0]) && !skip; k++)
            skip = name_has_prefix(name, skipped_prefixes[k]);
        if (skip || grpc_metadata_check(name->base, name->len, h->value.base, h->value.len, NULL) != 0)
            continue;
        md[n++] = (upstream_header_t){name->base, name->len, h->value.base, h->value.len};
    }
    return n;
}

int64_t front_deadline_ms(const front_target_t *t, int64_t client_ms)
{
    int64_t ms = t->g->config->upstreams[t->upstream_index].timeout_ms;
    if (client_ms > 0 && (ms <= 0 || client_ms < ms))
        ms = client_ms;
    return ms;
}

int front_call_start_message(front_call_t *call, gateway_worker_t *gw, size_t upstream_index, const proto_method_t *method,
                             const uint8_t *msg, size_t len, const upstream_header_t *md, size_t n_md, int64_t timeout_ms,
                             const upstream_grpc_callbacks_t *cb, void *ctx, grpc_code_t *code, util_error_t *err)
{
    call->grpc = NULL;
    call->rev = NULL;
    const gateway_t *g = gw->gateway;
    const config_upstream_t *u = &g->config->upstreams[upstream_index];
    if (u->protocol == CONFIG_UPSTREAM_HTTP) {
        const reverse_rule_t *rule = gateway_reverse_rule(g, method);
        if (rule == NULL) {
            *code = GRPC_CODE_UNIMPLEMENTED;
            return util_error_set(err, -1, "%s cannot be translated for HTTP upstream %s (see portico check)",
                                  method->full_name, u->name);
        }
        if (gw->http_pools[upstream_index] == NULL) {
            *code = GRPC_CODE_UNAVAILABLE;
            return util_error_set(err, -1, "upstream %s is not available on this worker", u->name);
        }
        call->rev = reverse_call_start(gw->http_pools[upstream_index], rule, msg, len, md, n_md, timeout_ms, cb, ctx, err);
        if (call->rev == NULL) {
            *code = GRPC_CODE_INTERNAL;
            return -1;
        }
        return 0;
    }
    upstream_grpc_pool_t *pool = gw->pools[upstream_index];
    if (pool == NULL) {
        *code = GRPC_CODE_UNAVAILABLE;
        return util_error_set(err, -1, "upstream %s is not available on this worker", u->name);
    }
    call->grpc = upstream_grpc_call_start(pool, method->grpc_path, md, n_md, timeout_ms, cb, ctx, err);
    if (call->grpc == NULL) {
        *code = GRPC_CODE_INTERNAL;
        return -1;
    }
    /* callbacks never run inside call_start or send: the call is ours until the loop turns */
    upstream_grpc_call_send(call->grpc, msg, len);
    upstream_grpc_call_close_send(call->grpc);
    return 0;
}

static void send_one(void *call, const uint8_t *msg, size_t len)
{
    upstream_grpc_call_send(call, msg, len);
}

static void keep_first(void *ctx, const uint8_t *msg, size_t len)
{
    const uint8_t **first = ctx;
    if (first[0] == NULL) {
        first[0] = msg;
        first[1] = msg + len;
    }
}

int front_call_start(front_call_t *call, const front_target_t *t, const uint8_t *frames, size_t frames_len,
                     const upstream_header_t *md, size_t n_md, int64_t timeout_ms, const upstream_grpc_callbacks_t *cb, void *ctx,
                     grpc_code_t *code, util_error_t *err)
{
    size_t count;
    util_error_t ignored;
    if (t->g->config->upstreams[t->upstream_index].protocol == CONFIG_UPSTREAM_HTTP || t->gw->pools[t->upstream_index] == NULL) {
        /* a REST-backed method takes exactly one request message */
        const uint8_t *first[2] = {NULL, NULL};
        grpcweb_body_scan(frames, frames_len, SIZE_MAX, keep_first, first, &count, &ignored);
        const uint8_t *msg = first[0] != NULL ? first[0] : (const uint8_t *)"";
        return front_call_start_message(call, t->gw, t->upstream_index, t->method, msg, first[0] ? (size_t)(first[1] - first[0]) : 0,
                                        md, n_md, timeout_ms, cb, ctx, code, err);
    }
    call->grpc = NULL;
    call->rev = NULL;
    upstream_grpc_call_t *c = upstream_grpc_call_start(t->gw->pools[t->upstream_index], t->method->grpc_path, md, n_md,
                                                       timeout_ms, cb, ctx, err);
    if (c == NULL) {
        *code = GRPC_CODE_INTERNAL;
        return -1;
    }
    /* callbacks never run inside call_start or send: the call is ours until the loop turns */
    call->grpc = c;
    grpcweb_body_scan(frames, frames_len, SIZE_MAX, send_one, c, &count, &ignored);
    upstream_grpc_call_close_send(c);
    return 0;
}

void front_call_cancel(front_call_t *call)
{
    if (call->grpc != NULL) {
        upstream_grpc_call_cancel(call->grpc);
        call->grpc = NULL;
    }
    if (call->rev != NULL) {
        reverse_call_cancel(call->rev);
        call->rev = NULL;
    }
}

void front_call_closed(front_call_t *call)
{
    call->grpc = NULL;
    call->rev = NULL;
}

/* ---- the response writer ------------------------------------------------------------------- */

static void writer_proceed(h2o_generator_t *self, h2o_req_t *req)
{
    front_writer_t *w = H2O_STRUCT_FROM_MEMBER(front_writer_t, generator, self);
    w->sending = 0;
    w->inflight.len = 0;
    front_writer_flush(w);
}

static void writer_stop(h2o_generator_t *self, h2o_req_t *req)
{
    front_writer_t *w = H2O_STRUCT_FROM_MEMBER(front_writer_t, generator, self);
    if (w->on_stop != NULL)
        w->on_stop(w);
}

void front_writer_init(front_writer_t *w, h2o_req_t *req, int base64, void (*on_stop)(front_writer_t *w))
{
    memset(w, 0, sizeof(*w));
    w->req = req;
    w->base64 = base64;
    w->on_stop = on_stop;
    w->generator.proceed = writer_proceed;
    w->generator.stop = writer_stop;
}

void front_writer_dispose(front_writer_t *w)
{
    util_buf_dispose(&w->pending);
    util_buf_dispose(&w->inflight);
}

void front_writer_start(front_writer_t *w)
{
    if (w->started)
        return;
    w->started = 1;
    h2o_start_response(w->req, &w->generator);
}

void front_writer_flush(front_writer_t *w)
{
    if (!w->started || w->sending || w->final_sent)
        return;
    int final = w->final_queued;
    if (w->pending.len == 0 && !final)
        return;
    /* |pending| goes to h2o as |inflight|, untouched until proceed */
    w->inflight.len = 0;
    if (w->base64) {
        util_base64_encode(&w->inflight, w->pending.data, w->pending.len, 0);
        w->pending.len = 0;
    } else {
        util_buf_t tmp = w->inflight;
        w->inflight = w->pending;
        w->pending = tmp;
        w->pending.len = 0;
    }
    w->sending = 1;
    if (final)
        w->final_sent = 1;
    h2o_iovec_t iov = h2o_iovec_init(w->inflight.data, w->inflight.len);
    h2o_send(w->req, &iov, w->inflight.len ? 1 : 0, final ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

void front_writer_finish(front_writer_t *w)
{
    w->final_queued = 1;
    front_writer_flush(w);
}
