/*
 * reverse_call.c — one gRPC call served by a REST upstream: the request message is mapped by
 * reverse.c, sent with the upstream HTTP client (http_upstream.h), and the answer is handed
 * back through the gRPC client's callbacks (upstream_grpc_callbacks_t), so that a front door
 * treats a REST-backed method like any other. See reverse.h for the contract.
 *
 * Unary: the body is read whole and parsed once. Server streaming: a 2xx body is read as it
 * arrives and split into elements (a JSON array or a sequence of values), each parsed and
 * delivered at once. An error status is read whole: its body becomes the status message.
 *
 * Lifetime: the call is freed when it has delivered on_close or been cancelled, but never
 * while one of its own handlers is on the stack (|busy|): a user callback may cancel it.
 */
#include "transcode/reverse.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A status message longer than this is cut (grpc-message travels in a header). */
#define MAX_STATUS_MESSAGE 4096

struct reverse_call {
    upstream_http_pool_t *pool;
    const reverse_rule_t *rule;
    upstream_http_call_t *http;
    upstream_grpc_callbacks_t cb;
    void *ctx;
    h2o_timeout_entry_t deferred; /* a request that could not be mapped fails from the loop */
    grpc_code_t early_code;
    char early_message[512];
    reverse_splitter_t split;
    util_buf_t msg;          /* one response message */
    grpc_code_t stream_code; /* set when a streamed element ended the call */
    char *stream_message;
    int busy;
    unsigned streaming : 1;
    unsigned status_ok : 1;
    unsigned closed : 1;    /* on_close delivered */
    unsigned cancelled : 1; /* the user is gone */
};

grpc_code_t reverse_code_from_http_error(upstream_http_error_t e)
{
    switch (e) {
    case UPSTREAM_HTTP_OK:
        return GRPC_CODE_OK;
    case UPSTREAM_HTTP_ERR_TIMEOUT:
        return GRPC_CODE_DEADLINE_EXCEEDED;
    case UPSTREAM_HTTP_ERR_PROTOCOL:
        return GRPC_CODE_INTERNAL;
    case UPSTREAM_HTTP_ERR_TOO_LARGE:
        return GRPC_CODE_RESOURCE_EXHAUSTED;
    case UPSTREAM_HTTP_ERR_CONNECT:
    case UPSTREAM_HTTP_ERR_IO:
    case UPSTREAM_HTTP_ERR_SHUTDOWN:
    default:
        return GRPC_CODE_UNAVAILABLE;
    }
}

static void call_free(reverse_call_t *c)
{
    reverse_splitter_dispose(&c->split);
    util_buf_dispose(&c->msg);
    free(c->stream_message);
    free(c);
}

/* Frees the call once it is over and none of its handlers is running. */
static void release(reverse_call_t *c)
{
    if (c->busy == 0 && (c->closed || c->cancelled))
        call_free(c);
}

static int gone(const reverse_call_t *c)
{
    return c->closed || c->cancelled;
}

static void deliver_close(reverse_call_t *c, grpc_code_t code, const char *message, size_t message_len,
                          const upstream_header_t *trailers, size_t n_trailers, int http_status, int local)
{
    if (gone(c))
        return;
    c->closed = 1;
    if (c->http != NULL) {
        upstream_http_call_cancel(c->http); /* a no-op from inside its on_close */
        c->http = NULL;
    }
    upstream_grpc_result_t res = {code, message, message_len, trailers, n_trailers, http_status, local};
    c->busy++;
    c->cb.on_close(c->ctx, &res);
    c->busy--;
}

static void fail_local(reverse_call_t *c, grpc_code_t code, const char *message, int http_status)
{
    deliver_close(c, code, message, strlen(message), NULL, 0, http_status, 1);
}

/* Response headers that may pass as gRPC metadata (reserved and malformed ones dropped). */
static upstream_header_t *metadata_of(const upstream_header_t *h, size_t n, size_t *n_out)
{
    upstream_header_t *md = malloc((n ? n : 1) * sizeof(*md));
    size_t k = 0;
    for (size_t i = 0; md != NULL && i < n; i++) {
        if (grpc_metadata_is_reserved(h[i].name, h[i].name_len) ||
            grpc_metadata_is_hop_by_hop(h[i].name, h[i].name_len, h[i].value, h[i].value_len) ||
            grpc_metadata_check(h[i].name, h[i].name_len, h[i].value, h[i].value_len, NULL) != 0)
            continue;
        md[k++] = h[i];
    }
    *n_out = k;
    return md;
}

/* One response message from JSON text |json|: parsed and delivered. Returns 0, or -1 after
 * failing the call. */
static int deliver_message(reverse_call_t *c, const char *json, size_t len, const char *ct, size_t ct_len, int http_status)
{
    util_error_t err = {0};
    c->msg.len = 0;
    if (reverse_parse_response(c->rule, json, len, ct, ct_len, &c->msg, &err) != 0) {
        fail_local(c, GRPC_CODE_INTERNAL, err.message, http_status);
        return -1;
    }
    if (c->cb.on_message != NULL) {
        c->busy++;
        c->cb.on_message(c->ctx, c->msg.data != NULL ? c->msg.data : (const uint8_t *)"", c->msg.len);
        c->busy--;
    }
    return gone(c) ? -1 : 0;
}

/* ---- streaming -------------------------------------------------------------------------------- */

/* {"error": {"code": 5, "message": "..."}} (grpc-gateway's stream error): ends the stream. */
static void stream_error(reverse_call_t *c, const char *e, size_t len)
{
    json_t *doc = json_loadb(e, len, 0, NULL);
    json_t *code = json_object_get(doc, "code"), *msg = json_object_get(doc, "message");
    c->stream_code = json_is_integer(code) ? grpc_code_normalize(json_integer_value(code)) : GRPC_CODE_UNKNOWN;
    if (c->stream_code == GRPC_CODE_OK)
        c->stream_code = GRPC_CODE_UNKNOWN;
    free(c->stream_message);
    c->stream_message =
        strndup(json_is_string(msg) ? json_string_value(msg) : e, json_is_string(msg) ? json_string_length(msg) : len);
    json_decref(doc);
}

static int on_element(void *ctx, const char *elem, size_t len)
{
    reverse_call_t *c = ctx;
    const char *inner;
    size_t inner_len;
    switch (reverse_stream_unwrap(c->rule, elem, len, &inner, &inner_len)) {
    case 1:
        return deliver_message(c, inner, inner_len, NULL, 0, 200) != 0;
    case 2:
        stream_error(c, inner, inner_len);
        return 1;
    default:
        return deliver_message(c, elem, len, NULL, 0, 200) != 0;
    }
}

/* The splitter stopped or failed: end the call (unless a message callback already did). */
static void stream_stop(reverse_call_t *c, int rc, const util_error_t *err, int http_status)
{
    if (gone(c))
        return;
    if (rc < 0)
        fail_local(c, err->code == REVERSE_ERR_TOO_LARGE ? GRPC_CODE_RESOURCE_EXHAUSTED : GRPC_CODE_INTERNAL, err->message,
                   http_status);
    else if (c->stream_message != NULL)
        deliver_close(c, c->stream_code, c->stream_message, strlen(c->stream_message), NULL, 0, http_status, 0);
}

/* ---- HTTP client callbacks -------------------------------------------------------------------- */

static int on_http_head(void *ctx, int status, const upstream_header_t *headers, size_t n_headers)
{
    reverse_call_t *c = ctx;
    c->status_ok = status >= 200 && status < 300;
    if (!c->status_ok)
        return UPSTREAM_HTTP_BODY_WHOLE; /* the error body becomes the message */
    if (c->cb.on_headers != NULL) {
        size_t n_md;
        upstream_header_t *md = metadata_of(headers, n_headers, &n_md);
        c->busy++;
        c->cb.on_headers(c->ctx, md != NULL ? md : headers, md != NULL ? n_md : 0);
        c->busy--;
        free(md);
        if (c->cancelled) {
            /* the HTTP call was cancelled with it; nothing follows */
            release(c);
            return UPSTREAM_HTTP_BODY_WHOLE;
        }
    }
    c->streaming = c->rule != NULL && reverse_rule_method(c->rule)->server_streaming;
    return c->streaming ? UPSTREAM_HTTP_BODY_STREAM : UPSTREAM_HTTP_BODY_WHOLE;
}

static void on_http_data(void *ctx, const char *data, size_t len)
{
    reverse_call_t *c = ctx;
    util_error_t err = {0};
    c->busy++;
    int rc = reverse_splitter_feed(&c->split, data, len, on_element, c, &err);
    if (rc != 0)
        stream_stop(c, rc, &err, 200);
    c->busy--;
    release(c);
}

static void on_http_close(void *ctx, const upstream_http_response_t *res)
{
    reverse_call_t *c = ctx;
    c->http = NULL; /* the HTTP client is done with it */
    c->busy++;
    if (res->error != UPSTREAM_HTTP_OK) {
        fail_local(c, reverse_code_from_http_error(res->error), res->message, res->status);
    } else if (!c->status_ok) {
        /* an error status: the code from the status, the body as the message */
        const char *b = res->body != NULL ? res->body : "";
        size_t len = res->body_len;
        while (len > 0 && (b[len - 1] == '\n' || b[len - 1] == '\r' || b[len - 1] == ' ' || b[len - 1] == '\t'))
            len--;
        while (len > 0 && (*b == '\n' || *b == '\r' || *b == ' ' || *b == '\t')) {
            b++;
            len--;
        }
        char *msg = NULL;
        if (len == 0) {
            msg = malloc(128);
            if (msg != NULL)
                len = (size_t)snprintf(msg, 128, "HTTP %d from %s", res->status, res->target);
        } else {
            if (len > MAX_STATUS_MESSAGE)
                len = MAX_STATUS_MESSAGE;
            msg = strndup(b, len);
        }
        size_t n_md = 0;
        upstream_header_t *md = metadata_of(res->headers, res->n_headers, &n_md);
        deliver_close(c, grpc_code_from_http(res->status), msg != NULL ? msg : "", msg != NULL ? len : 0, md, md != NULL ? n_md : 0,
                      res->status, 0);
        free(md);
        free(msg);
    } else if (c->streaming) {
        util_error_t err = {0};
        int rc = reverse_splitter_finish(&c->split, on_element, c, &err);
        if (rc != 0)
            stream_stop(c, rc, &err, res->status);
        else
            deliver_close(c, GRPC_CODE_OK, "", 0, NULL, 0, res->status, 0);
    } else {
        const char *ct = NULL;
        size_t ct_len = 0;
        for (size_t i = 0; i < res->n_headers; i++)
            if (res->headers[i].name_len == 12 && memcmp(res->headers[i].name, "content-type", 12) == 0) {
                ct = res->headers[i].value;
                ct_len = res->headers[i].value_len;
            }
        if (deliver_message(c, res->body, res->body_len, ct, ct_len, res->status) == 0)
            deliver_close(c, GRPC_CODE_OK, "", 0, NULL, 0, res->status, 0);
    }
    c->busy--;
    release(c);
}

static const upstream_http_callbacks_t http_callbacks = {on_http_head, on_http_data, on_http_close};

static void on_deferred(h2o_timeout_entry_t *entry)
{
    reverse_call_t *c = H2O_STRUCT_FROM_MEMBER(reverse_call_t, deferred, entry);
    c->busy++;
    fail_local(c, c->early_code, c->early_message, 0);
    c->busy--;
    release(c);
}

static int header_name_is(const upstream_header_t *h, const char *lit)
{
    size_t n = strlen(lit);
    return h->name_len == n && strncasecmp(h->name, lit, n) == 0;
}

reverse_call_t *reverse_call_start(upstream_http_pool_t *pool, const reverse_rule_t *rule, const uint8_t *request_pb, size_t len,
                                   const upstream_header_t *md, size_t n_md, int64_t timeout_ms,
                                   const upstream_grpc_callbacks_t *cb, void *ctx, util_error_t *err)
{
    if (pool == NULL || rule == NULL) {
        util_error_set(err, -1, "REST call without a pool or a rule");
        return NULL;
    }
    if (cb == NULL || cb->on_close == NULL) {
        util_error_set(err, -1, "REST call of %s has no on_close callback", reverse_rule_method(rule)->full_name);
        return NULL;
    }
    reverse_call_t *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        util_error_set(err, -1, "out of memory starting a REST call");
        return NULL;
    }
    c->pool = pool;
    c->rule = rule;
    c->cb = *cb;
    c->ctx = ctx;
    c->deferred.cb = on_deferred;
    util_buf_init(&c->msg);
    reverse_splitter_init(&c->split, 0);

    reverse_http_request_t hr;
    reverse_http_request_init(&hr);
    util_error_t merr = {0};
    if (reverse_build_request(rule, request_pb, len, &hr, &merr) != 0) {
        c->early_code = merr.code == REVERSE_ERR_ARGUMENT ? GRPC_CODE_INVALID_ARGUMENT : GRPC_CODE_INTERNAL;
        snprintf(c->early_message, sizeof(c->early_message), "%.150s: %.350s", reverse_rule_method(rule)->full_name, merr.message);
        reverse_http_request_dispose(&hr);
        upstream_http_pool_defer(pool, &c->deferred);
        return c;
    }

    /* headers: the metadata that may travel as HTTP headers, then content type and accept */
    upstream_header_t stack_h[32], *h = n_md + 2 <= 32 ? stack_h : malloc((n_md + 2) * sizeof(*h));
    if (h == NULL) {
        reverse_http_request_dispose(&hr);
        call_free(c);
        util_error_set(err, -1, "out of memory starting a REST call");
        return NULL;
    }
    size_t n = 0;
    for (size_t i = 0; i < n_md; i++) {
        const upstream_header_t *m = &md[i];
        if (m->name == NULL || grpc_metadata_is_reserved(m->name, m->name_len) ||
            grpc_metadata_is_hop_by_hop(m->name, m->name_len, m->value, m->value_len) || header_name_is(m, "accept") ||
            grpc_metadata_check(m->name, m->name_len, m->value, m->value_len, NULL) != 0)
            continue;
        h[n++] = *m;
    }
    if (hr.has_body)
        h[n++] = (upstream_header_t){"content-type", 12, (const char *)hr.content_type.data, hr.content_type.len};
    int streaming = reverse_rule_method(rule)->server_streaming;
    h[n++] = streaming ? (upstream_header_t){"accept", 6, "application/x-ndjson, application/json", 38}
                       : (upstream_header_t){"accept", 6, "application/json", 16};
    upstream_http_request_t req = {
        .method = hr.method,
        .path = (const char *)hr.target.data,
        .headers = h,
        .n_headers = n,
        .body = hr.has_body ? (hr.body.data != NULL ? (const void *)hr.body.data : (const void *)"") : NULL,
        .body_len = hr.body.len,
        .timeout_ms = timeout_ms,
    };
    util_error_t herr = {0};
    c->http = upstream_http_call_start(pool, &req, &http_callbacks, c, &herr);
    if (h != stack_h)
        free(h);
    reverse_http_request_dispose(&hr);
    if (c->http == NULL) {
        /* the pool is shutting down, or memory ran out (the mapping only makes valid requests) */
        c->early_code = GRPC_CODE_UNAVAILABLE;
        snprintf(c->early_message, sizeof(c->early_message), "%.150s: %.350s", reverse_rule_method(rule)->full_name, herr.message);
        upstream_http_pool_defer(pool, &c->deferred);
    }
    return c;
}

void reverse_call_cancel(reverse_call_t *c)
{
    if (c == NULL || gone(c))
        return;
    c->cancelled = 1;
    if (h2o_timeout_is_linked(&c->deferred))
        h2o_timeout_unlink(&c->deferred);
    if (c->http != NULL) {
        upstream_http_call_cancel(c->http);
        c->http = NULL;
    }
    release(c);
}
