/*
 * grpc_ingress_call.c — one stream of the native gRPC ingress: the nghttp2 server callbacks
 * that read a request (headers, then messages through the gRPC deframer), the checks a
 * request must pass, the upstream call it becomes, and the way back: response headers,
 * messages (nghttp2's data provider over a per-stream buffer, deferred while it is empty),
 * and the status (trailers, or a trailers-only answer when nothing was sent yet).
 *
 * Flow control: see grpc_ingress.h. The connection window is given back as soon as bytes
 * arrive; the stream window only once the upstream has taken the bytes
 * (upstream_grpc_call_send_pending under INGRESS_SEND_PENDING_LIMIT), otherwise the stream
 * goes on the ingress's stalled list and is polled.
 *
 * gRPC→REST (a route with |rest|): the call takes exactly one request message, buffered in
 * |rest_msg| (the stream window is given back as bytes are taken: nothing waits upstream, and
 * the deframer's max_request_message bounds the buffer); at the client's END_STREAM the call
 * starts with reverse_call_start, which reports through the same callbacks as the gRPC client
 * (on_up_*), so everything after the start is shared. The deadline counts from the request
 * headers, as for a gRPC call.
 *
 * Cancellation: a client RST_STREAM (or a lost connection) closes the nghttp2 stream while
 * the upstream call runs; it is cancelled (RST_STREAM CANCEL upstream). After the answer's
 * END_STREAM a client side still open is reset with NO_ERROR (RFC 9113 8.1) once it sends more
 * than INGRESS_LINGER_BYTES or takes longer than INGRESS_LINGER_MS to end.
 */
#include "http/grpc_ingress_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_up_headers(void *ctx, const upstream_header_t *headers, size_t n_headers);
static void on_up_message(void *ctx, const uint8_t *data, size_t len);
static void on_up_close(void *ctx, const upstream_grpc_result_t *result);

static void on_linger(h2o_timeout_entry_t *entry);
static void stream_reset_no_error(ingress_stream_t *s);

static const upstream_grpc_callbacks_t up_callbacks = {on_up_headers, on_up_message, on_up_close};

/* Abandons the upstream call, whichever kind runs (no callback comes after this). */
static void stream_cancel_call(ingress_stream_t *s)
{
    if (s->call != NULL) {
        upstream_grpc_call_cancel(s->call); /* the backend sees RST_STREAM(CANCEL) */
        s->call = NULL;
    }
    if (s->rev != NULL) {
        reverse_call_cancel(s->rev); /* the HTTP request is abandoned (its connection closed) */
        s->rev = NULL;
    }
    s->rest_pending = 0;
}

/* Non-zero while request bytes are still wanted: a gRPC call runs, or a REST call is being read. */
static int stream_reading(const ingress_stream_t *s)
{
    return s->call != NULL || s->rest_pending;
}

static ingress_stream_t *stream_of(nghttp2_session *session, int32_t stream_id)
{
    return stream_id > 0 ? nghttp2_session_get_stream_user_data(session, stream_id) : NULL;
}

/* ---- ending a call ----------------------------------------------------------------------- */

static void stream_give_back(ingress_stream_t *s)
{
    if (s->unconsumed != 0) {
        nghttp2_session_consume_stream(s->conn->session, s->id, s->unconsumed);
        s->unconsumed = 0;
        ingress_conn_schedule_flush(s->conn);
    }
    ingress_stall_remove(s);
}

/*
 * Decides the status of the call. |http_status| non-zero: the answer must be trailers-only
 * with that :status (the ingress's own rejections). The upstream call must be over (closed or
 * cancelled) before this is called.
 */
static void stream_finish(ingress_stream_t *s, int http_status, grpc_code_t code, const char *message, size_t message_len,
                          const upstream_header_t *md, size_t n_md, int accept_encoding)
{
    if (s->finished)
        return;
    s->finished = 1;
    nghttp2_session *session = s->conn->session;
    stream_give_back(s); /* nothing more goes upstream: later bytes are consumed as they come */
    if (s->headers_sent) {
        s->trailers = ingress_status_block(0, code, message, message_len, md, n_md, 0, &s->n_trailers);
        if (s->trailers == NULL)
            nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_INTERNAL_ERROR);
        else if (s->data_deferred) {
            s->data_deferred = 0;
            nghttp2_session_resume_data(session, s->id);
        }
    } else {
        size_t n;
        nghttp2_nv *nva =
            ingress_status_block(http_status != 0 ? http_status : 200, code, message, message_len, md, n_md, accept_encoding, &n);
        if (nva == NULL || nghttp2_submit_response(session, s->id, nva, n, NULL) != 0)
            nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_INTERNAL_ERROR);
        free(nva);
    }
    ingress_conn_schedule_flush(s->conn);
}

static void stream_finishf(ingress_stream_t *s, int http_status, grpc_code_t code, int accept_encoding, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void stream_finishf(ingress_stream_t *s, int http_status, grpc_code_t code, int accept_encoding, const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    else if ((size_t)n >= sizeof(message))
        n = sizeof(message) - 1;
    stream_finish(s, http_status, code, message, (size_t)n, NULL, 0, accept_encoding);
}

/* The ingress answers the request itself (it never reached an upstream). */
#define stream_reject(s, ...)                                                                                                      \
    do {                                                                                                                           \
        (s)->conn->ing->stats.calls_rejected++;                                                                                    \
        stream_finishf((s), __VA_ARGS__);                                                                                          \
    } while (0)

/* Ends a running call from the ingress's side (bad request bytes, slow client): cancels it upstream first. */
static void stream_abort(ingress_stream_t *s, grpc_code_t code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void stream_abort(ingress_stream_t *s, grpc_code_t code, const char *fmt, ...)
{
    stream_cancel_call(s);
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    else if ((size_t)n >= sizeof(message))
        n = sizeof(message) - 1;
    stream_finish(s, 0, code, message, (size_t)n, NULL, 0, code == GRPC_CODE_UNIMPLEMENTED);
}

void ingress_stream_destroy(ingress_stream_t *s, int cancelled)
{
    grpc_ingress_t *ing = s->conn->ing;
    if ((s->call != NULL || s->rev != NULL) && cancelled)
        ing->stats.calls_cancelled++;
    stream_cancel_call(s);
    ingress_stall_remove(s);
    if (h2o_timeout_is_linked(&s->linger))
        h2o_timeout_unlink(&s->linger);
    h2o_linklist_unlink(&s->_link);
    s->conn->n_streams--;
    ing->stats.streams--;
    if (s->counted_inflight && ing->cfg.inflight != NULL)
        (*ing->cfg.inflight)--;
    util_buf_dispose(&s->hblock);
    util_buf_dispose(&s->out);
    util_buf_dispose(&s->rest_msg);
    grpc_deframer_dispose(&s->deframer);
    free(s->trailers);
    free(s);
}

/* ---- request: headers ------------------------------------------------------------------ */

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    ingress_conn_t *conn = user_data;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    ingress_stream_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* nghttp2 resets the stream */
    s->conn = conn;
    s->id = frame->hd.stream_id;
    s->content_type_kind = -2;
    s->linger.cb = on_linger;
    util_buf_init(&s->hblock);
    util_buf_init(&s->out);
    util_buf_init(&s->rest_msg);
    grpc_deframer_init(&s->deframer, conn->ing->cfg.max_request_message);
    h2o_linklist_insert(&conn->streams, &s->_link);
    conn->n_streams++;
    conn->ing->stats.streams++;
    nghttp2_session_set_stream_user_data(session, s->id, s);
    ingress_conn_update_idle(conn);
    return 0;
}

static void copy_shown(char *dst, size_t size, const uint8_t *v, size_t len)
{
    size_t n = len < size - 1 ? len : size - 1;
    for (size_t i = 0; i < n; i++)
        dst[i] = v[i] >= 0x20 && v[i] < 0x7f ? (char)v[i] : '?';
    dst[n] = '\0';
}

static int header_is(const uint8_t *name, size_t len, const char *lit, size_t lit_len)
{
    return len == lit_len && memcmp(name, lit, len) == 0;
}
#define HEADER_IS(name, len, lit) header_is((name), (len), (lit), sizeof(lit) - 1)

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *user_data)
{
    ingress_conn_t *conn = user_data;
    ingress_stream_t *s = stream_of(session, frame->hd.stream_id);
    if (s == NULL || frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0; /* a client's trailers carry nothing a gRPC server uses */
    s->header_bytes += namelen + valuelen;
    if (s->header_bytes > conn->ing->cfg.max_header_bytes) {
        s->header_overflow = 1;
        return 0;
    }
    if (namelen != 0 && name[0] == ':') {
        if (HEADER_IS(name, namelen, ":method")) {
            s->method_post = HEADER_IS(value, valuelen, "POST");
            if (!s->method_post)
                copy_shown(s->bad_value, sizeof(s->bad_value), value, valuelen);
        } else if (HEADER_IS(name, namelen, ":path")) {
            s->path_seen = 1;
            s->route = ingress_route_find(conn->ing, (const char *)value, valuelen);
            copy_shown(s->path, sizeof(s->path), value, valuelen);
            s->path_len = valuelen;
        }
        return 0;
    }
    if (HEADER_IS(name, namelen, "content-type")) {
        s->content_type_kind = ingress_content_type_kind((const char *)value, valuelen);
        if (s->content_type_kind != 0)
            copy_shown(s->bad_value, sizeof(s->bad_value), value, valuelen);
        return 0;
    }
    if (HEADER_IS(name, namelen, "grpc-timeout")) {
        if (grpc_timeout_parse((const char *)value, valuelen, &s->client_timeout_ms, NULL) != 0) {
            s->timeout_bad = 1;
            copy_shown(s->bad_value, sizeof(s->bad_value), value, valuelen);
        }
        return 0;
    }
    if (HEADER_IS(name, namelen, "grpc-encoding")) {
        if (!HEADER_IS(value, valuelen, "identity")) {
            s->encoding_bad = 1;
            copy_shown(s->bad_value, sizeof(s->bad_value), value, valuelen);
        }
        return 0;
    }
    if (!ingress_request_header_forwarded((const char *)name, namelen, (const char *)value, valuelen))
        return 0;
    uint32_t l = (uint32_t)namelen;
    util_buf_append(&s->hblock, &l, sizeof(l));
    util_buf_append(&s->hblock, name, namelen);
    l = (uint32_t)valuelen;
    util_buf_append(&s->hblock, &l, sizeof(l));
    util_buf_append(&s->hblock, value, valuelen);
    s->n_md++;
    return 0;
}

/* Names the service of an unknown method when it is not configured at all. */
static int service_known(const grpc_ingress_t *ing, const char *path, size_t len)
{
    const char *slash = len > 1 ? memchr(path + 1, '/', len - 1) : NULL;
    if (slash == NULL)
        return 0;
    size_t prefix = (size_t)(slash - path) + 1;
    for (size_t i = 0; i < ing->n_routes; i++)
        if (strncmp(ing->routes[i].path, path, prefix) == 0)
            return 1;
    return 0;
}

/* The forwarded request headers (|hblock|) as upstream metadata: in |local| (|cap| entries) or
 * in an allocation (*md != local: free() it). Returns -1 when out of memory. */
static int stream_metadata(const ingress_stream_t *s, upstream_header_t *local, size_t cap, upstream_header_t **md)
{
    *md = local;
    if (s->n_md > cap && (*md = malloc(s->n_md * sizeof(**md))) == NULL)
        return -1;
    const uint8_t *p = s->hblock.data;
    for (uint32_t i = 0; i < s->n_md; i++) {
        uint32_t l;
        memcpy(&l, p, sizeof(l));
        (*md)[i].name = (const char *)p + sizeof(l);
        (*md)[i].name_len = l;
        p += sizeof(l) + l;
        memcpy(&l, p, sizeof(l));
        (*md)[i].value = (const char *)p + sizeof(l);
        (*md)[i].value_len = l;
        p += sizeof(l) + l;
    }
    return 0;
}

/* The request headers are complete: reject the request, start the upstream call, or (gRPC→REST)
 * wait for the request message. */
static void request_start(ingress_stream_t *s)
{
    grpc_ingress_t *ing = s->conn->ing;
    ing->stats.calls++;
    if (!s->method_post) {
        stream_reject(s, 405, GRPC_CODE_INTERNAL, 0, "method %s is not allowed: gRPC calls are POST", s->bad_value);
        return;
    }
    if (s->content_type_kind == -2 || s->content_type_kind == -1) {
        stream_reject(s, 415, GRPC_CODE_INVALID_ARGUMENT, 0, "content-type \"%s\" is not a gRPC content-type (application/grpc)",
                      s->content_type_kind == -2 ? "" : s->bad_value);
        return;
    }
    if (s->header_overflow) {
        stream_reject(s, 0, GRPC_CODE_RESOURCE_EXHAUSTED, 0, "request headers of %s exceed %u bytes", s->path,
                      (unsigned)ing->cfg.max_header_bytes);
        return;
    }
    if (s->content_type_kind == 1) {
        stream_reject(s, 0, GRPC_CODE_UNIMPLEMENTED, 0,
                      "content-type \"%s\" is not supported: the native gRPC ingress passes application/grpc (protobuf) only",
                      s->bad_value);
        return;
    }
    if (s->encoding_bad) {
        stream_reject(s, 0, GRPC_CODE_UNIMPLEMENTED, 1, "grpc-encoding \"%s\" is not supported (only identity)", s->bad_value);
        return;
    }
    if (s->timeout_bad) {
        stream_reject(s, 0, GRPC_CODE_INVALID_ARGUMENT, 0, "grpc-timeout \"%s\" is malformed", s->bad_value);
        return;
    }
    if (s->route == NULL) {
        if (s->path_len > 1 && !service_known(ing, s->path, strlen(s->path)))
            stream_reject(s, 0, GRPC_CODE_UNIMPLEMENTED, 0, "unknown service in %s: no such service is configured", s->path);
        else
            stream_reject(s, 0, GRPC_CODE_UNIMPLEMENTED, 0, "unknown method %s", s->path);
        return;
    }
    if (util_buf_failed(&s->hblock)) {
        stream_reject(s, 0, GRPC_CODE_RESOURCE_EXHAUSTED, 0, "out of memory reading the request headers of %s", s->path);
        return;
    }
    const ingress_route_t *rt = s->route;
    if (rt->rest) {
        if (rt->client_streaming) {
            stream_reject(s, 0, GRPC_CODE_UNIMPLEMENTED, 0,
                          "%s streams requests, but upstream %s speaks HTTP/JSON: a call translated through its "
                          "google.api.http rule takes exactly one request message",
                          s->path, rt->upstream_name);
            return;
        }
        if (rt->reverse_rule == NULL) {
            stream_reject(s, 0, GRPC_CODE_UNIMPLEMENTED, 0,
                          "%s has no google.api.http rule that can be translated for HTTP upstream %s (see portico check)", s->path,
                          rt->upstream_name);
            return;
        }
        if (rt->http_pool == NULL) {
            stream_reject(s, 0, GRPC_CODE_UNAVAILABLE, 0, "upstream %s of %s is not available", rt->upstream_name, s->path);
            return;
        }
        /* the call starts at the client's END_STREAM, with the one request message */
        s->rest_pending = 1;
        s->started_at = h2o_now(ing->loop);
    } else {
        if (rt->pool == NULL) {
            stream_reject(s, 0, GRPC_CODE_UNAVAILABLE, 0, "upstream %s of %s is not available", rt->upstream_name, s->path);
            return;
        }
        upstream_header_t local[32], *md = local;
        if (stream_metadata(s, local, sizeof(local) / sizeof(local[0]), &md) != 0) {
            stream_reject(s, 0, GRPC_CODE_RESOURCE_EXHAUSTED, 0, "out of memory reading the request headers of %s", s->path);
            return;
        }
        util_error_t err;
        int64_t deadline = ingress_deadline_ms(s->client_timeout_ms, rt->timeout_ms);
        s->call = upstream_grpc_call_start(rt->pool, rt->path, md, s->n_md, deadline, &up_callbacks, s, &err);
        if (md != local)
            free(md);
        util_buf_dispose(&s->hblock); /* the upstream client copied what it needs */
        if (s->call == NULL) {
            stream_reject(s, 0, GRPC_CODE_INVALID_ARGUMENT, 0, "%s", err.message);
            return;
        }
    }
    if (ing->cfg.inflight != NULL) {
        (*ing->cfg.inflight)++;
        s->counted_inflight = 1;
    }
}

/* gRPC→REST: the client has sent its one message and ended its side: start the HTTP call. */
static void rest_start(ingress_stream_t *s)
{
    grpc_ingress_t *ing = s->conn->ing;
    const ingress_route_t *rt = s->route;
    s->rest_pending = 0;
    if (grpc_deframer_has_partial(&s->deframer)) {
        stream_finishf(s, 0, GRPC_CODE_INTERNAL, 0, "request stream of %s ended in the middle of a message", s->path);
        return;
    }
    if (!s->rest_have_msg) {
        stream_finishf(s, 0, GRPC_CODE_INTERNAL, 0, "request of %s ended without a message: the method takes exactly one", s->path);
        return;
    }
    /* the deadline runs from the request headers: the time spent reading the message counts */
    int64_t deadline = ingress_deadline_ms(s->client_timeout_ms, rt->timeout_ms);
    if (deadline > 0) {
        uint64_t spent = h2o_now(ing->loop) - s->started_at;
        if ((int64_t)spent >= deadline) {
            stream_finishf(s, 0, GRPC_CODE_DEADLINE_EXCEEDED, 0, "deadline of %s passed while the request was being read", s->path);
            return;
        }
        deadline -= (int64_t)spent;
    }
    upstream_header_t local[32], *md = local;
    if (stream_metadata(s, local, sizeof(local) / sizeof(local[0]), &md) != 0) {
        stream_finishf(s, 0, GRPC_CODE_RESOURCE_EXHAUSTED, 0, "out of memory reading the request headers of %s", s->path);
        return;
    }
    util_error_t err;
    static const uint8_t empty[1];
    const uint8_t *msg = s->rest_msg.data != NULL ? s->rest_msg.data : empty; /* an empty message is valid */
    s->rev =
        reverse_call_start(rt->http_pool, rt->reverse_rule, msg, s->rest_msg.len, md, s->n_md, deadline, &up_callbacks, s, &err);
    if (md != local)
        free(md);
    util_buf_dispose(&s->hblock); /* copied by the call */
    util_buf_dispose(&s->rest_msg);
    if (s->rev == NULL)
        stream_finishf(s, 0, GRPC_CODE_INTERNAL, 0, "%s", err.message);
}

/* The client ended its side. */
static void request_end(ingress_stream_t *s)
{
    if (s->remote_closed)
        return;
    s->remote_closed = 1;
    if (s->rest_pending) {
        rest_start(s);
        return;
    }
    if (s->call == NULL)
        return;
    if (grpc_deframer_has_partial(&s->deframer)) {
        stream_abort(s, GRPC_CODE_INTERNAL, "request stream of %s ended in the middle of a message", s->path);
        return;
    }
    upstream_grpc_call_close_send(s->call);
}

/* ---- request: messages and flow control --------------------------------------------------- */

static size_t request_held(const ingress_stream_t *s)
{
    return (s->call != NULL ? upstream_grpc_call_send_pending(s->call) : 0) + s->rest_msg.len + s->deframer.buf.len;
}

/* Gives the stream window back if the upstream has taken what came so far; else stalls. */
static void request_flow(ingress_stream_t *s)
{
    if (s->unconsumed == 0)
        return;
    if (s->call == NULL || upstream_grpc_call_send_pending(s->call) <= INGRESS_SEND_PENDING_LIMIT) {
        stream_give_back(s);
        return;
    }
    ingress_stall_add(s->conn->ing, s);
}

int ingress_stream_poll_stall(ingress_stream_t *s)
{
    if (s->call != NULL && upstream_grpc_call_send_pending(s->call) > INGRESS_SEND_PENDING_LIMIT)
        return 1;
    if (s->unconsumed != 0) {
        nghttp2_session_consume_stream(s->conn->session, s->id, s->unconsumed);
        s->unconsumed = 0;
        ingress_conn_schedule_flush(s->conn);
    }
    return 0;
}

static int on_data_chunk_recv(nghttp2_session *session, uint8_t flags, int32_t stream_id, const uint8_t *data, size_t len,
                              void *user_data)
{
    ingress_conn_t *conn = user_data;
    nghttp2_session_consume_connection(session, len);
    ingress_stream_t *s = stream_of(session, stream_id);
    if (s == NULL)
        return 0;
    s->unconsumed += len;
    if (!stream_reading(s)) { /* answered already (or not started): drop the bytes */
        stream_give_back(s);
        if (s->answer_sent && (s->discarded += len) > INGRESS_LINGER_BYTES)
            stream_reset_no_error(s);
        return 0;
    }
    while (stream_reading(s)) {
        grpc_frame_t frame;
        util_error_t err;
        int rv = grpc_deframer_next(&s->deframer, &data, &len, &frame, &err);
        if (rv == 0)
            break;
        if (rv < 0) {
            if (err.code == GRPC_ERR_FRAME_TOO_LARGE)
                stream_abort(s, GRPC_CODE_RESOURCE_EXHAUSTED, "request message of %s is larger than %zu bytes", s->path,
                             conn->ing->cfg.max_request_message);
            else
                stream_abort(s, GRPC_CODE_INTERNAL, "request of %s: %s", s->path, err.message);
            return 0;
        }
        if (frame.compressed) {
            stream_abort(s, GRPC_CODE_UNIMPLEMENTED, "request message of %s is compressed, but no grpc-encoding was negotiated",
                         s->path);
            return 0;
        }
        if (s->rest_pending) {
            if (s->rest_have_msg) {
                stream_abort(s, GRPC_CODE_INTERNAL,
                             "request of %s has a second message: the method takes exactly one (its upstream %s speaks "
                             "HTTP/JSON)",
                             s->path, s->route->upstream_name);
                return 0;
            }
            s->rest_have_msg = 1;
            util_buf_append(&s->rest_msg, frame.data, frame.len);
            if (util_buf_failed(&s->rest_msg)) {
                stream_abort(s, GRPC_CODE_RESOURCE_EXHAUSTED, "out of memory reading the request message of %s", s->path);
                return 0;
            }
            continue;
        }
        if (upstream_grpc_call_send(s->call, frame.data, frame.len) != 0) {
            /* the upstream call is ending (its on_close is on the way): the rest is dropped */
            break;
        }
    }
    size_t held = request_held(s);
    if (held > conn->ing->stats.max_request_buffered)
        conn->ing->stats.max_request_buffered = held;
    request_flow(s);
    return 0;
}

/* ---- response ------------------------------------------------------------------------------ */

static ssize_t on_data_read(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length, uint32_t *data_flags,
                            nghttp2_data_source *source, void *user_data)
{
    ingress_stream_t *s = source->ptr;
    size_t avail = s->out.len - s->out_off;
    if (avail == 0) {
        if (!s->finished || s->trailers == NULL) {
            s->data_deferred = 1;
            return NGHTTP2_ERR_DEFERRED;
        }
        *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        int rv = nghttp2_submit_trailer(session, stream_id, s->trailers, s->n_trailers);
        free(s->trailers);
        s->trailers = NULL;
        if (rv != 0)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets the stream */
        return 0;
    }
    size_t n = avail < length ? avail : length;
    memcpy(buf, s->out.data + s->out_off, n);
    s->out_off += n;
    if (s->out_off == s->out.len) {
        s->out.len = 0;
        s->out_off = 0;
        if (s->out.cap > 1024 * 1024)
            util_buf_dispose(&s->out); /* a large message went out: do not keep its buffer */
    } else if (s->out_off >= 64 * 1024 && s->out_off * 2 >= s->out.len) {
        memmove(s->out.data, s->out.data + s->out_off, s->out.len - s->out_off);
        s->out.len -= s->out_off;
        s->out_off = 0;
    }
    return (ssize_t)n;
}

static void on_up_headers(void *ctx, const upstream_header_t *headers, size_t n_headers)
{
    ingress_stream_t *s = ctx;
    nghttp2_nv local[32], *nva = local;
    size_t cap = sizeof(local) / sizeof(local[0]);
    if (n_headers + 2 > cap) {
        cap = n_headers + 2;
        if ((nva = malloc(cap * sizeof(*nva))) == NULL) {
            stream_abort(s, GRPC_CODE_RESOURCE_EXHAUSTED, "out of memory relaying the response headers of %s", s->path);
            return;
        }
    }
    size_t n = 0;
    nva[n++] =
        (nghttp2_nv){(uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE};
    nva[n++] = (nghttp2_nv){(uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16,
                            NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE};
    for (size_t i = 0; i < n_headers; i++)
        if (ingress_response_header_forwarded(headers[i].name, headers[i].name_len))
            nva[n++] = (nghttp2_nv){(uint8_t *)headers[i].name, (uint8_t *)headers[i].value, headers[i].name_len,
                                    headers[i].value_len, NGHTTP2_NV_FLAG_NONE};
    nghttp2_data_provider provider;
    provider.source.ptr = s;
    provider.read_callback = on_data_read;
    int rv = nghttp2_submit_response(s->conn->session, s->id, nva, n, &provider);
    if (nva != local)
        free(nva);
    if (rv != 0) {
        stream_abort(s, GRPC_CODE_INTERNAL, "cannot relay the response headers of %s: %s", s->path, nghttp2_strerror(rv));
        return;
    }
    s->headers_sent = 1;
    ingress_conn_schedule_flush(s->conn);
}

static void on_up_message(void *ctx, const uint8_t *data, size_t len)
{
    ingress_stream_t *s = ctx;
    grpc_ingress_t *ing = s->conn->ing;
    size_t waiting = s->out.len - s->out_off;
    if (waiting + GRPC_FRAME_HEADER_SIZE + len > ing->cfg.max_response_buffer) {
        ing->stats.response_overflows++;
        stream_abort(s, GRPC_CODE_RESOURCE_EXHAUSTED,
                     "the client reads the responses of %s too slowly: %zu bytes are waiting and the limit is %zu", s->path,
                     waiting + GRPC_FRAME_HEADER_SIZE + len, ing->cfg.max_response_buffer);
        return;
    }
    if (grpc_frame_append(&s->out, data, len, 0) != 0 || util_buf_failed(&s->out)) {
        stream_abort(s, GRPC_CODE_RESOURCE_EXHAUSTED, "out of memory relaying a response message of %s", s->path);
        return;
    }
    waiting = s->out.len - s->out_off;
    if (waiting > ing->stats.max_response_buffered)
        ing->stats.max_response_buffered = waiting;
    if (s->data_deferred) {
        s->data_deferred = 0;
        nghttp2_session_resume_data(s->conn->session, s->id);
    }
    ingress_conn_schedule_flush(s->conn);
}

static void on_up_close(void *ctx, const upstream_grpc_result_t *result)
{
    ingress_stream_t *s = ctx;
    s->call = NULL; /* invalid once this returns */
    s->rev = NULL;
    stream_finish(s, 0, result->code, result->message, result->message_len, result->trailers, result->n_trailers, 0);
}

/* ---- frames and stream ends ------------------------------------------------------------- */

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    ingress_conn_t *conn = user_data;
    if (frame->hd.type == NGHTTP2_SETTINGS) {
        if (!(frame->hd.flags & NGHTTP2_FLAG_ACK) && !conn->preface_done) {
            conn->preface_done = 1;
            if (h2o_timeout_is_linked(&conn->timer))
                h2o_timeout_unlink(&conn->timer); /* the handshake timer */
            ingress_conn_update_idle(conn);
        }
        return 0;
    }
    ingress_stream_t *s = stream_of(session, frame->hd.stream_id);
    if (s == NULL)
        return 0;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
        request_start(s);
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        request_end(s);
    return 0;
}

static void stream_reset_no_error(ingress_stream_t *s)
{
    if (h2o_timeout_is_linked(&s->linger))
        h2o_timeout_unlink(&s->linger);
    nghttp2_submit_rst_stream(s->conn->session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_NO_ERROR);
    ingress_conn_schedule_flush(s->conn);
}

static void on_linger(h2o_timeout_entry_t *entry)
{
    stream_reset_no_error(H2O_STRUCT_FROM_MEMBER(ingress_stream_t, linger, entry));
}

static int on_frame_send(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    ingress_conn_t *conn = user_data;
    if (!((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)))
        return 0;
    ingress_stream_t *s = stream_of(session, frame->hd.stream_id);
    if (s == NULL)
        return 0;
    s->answer_sent = 1;
    /* the answer is complete: a client still sending gets a moment to end its side */
    if (nghttp2_session_get_stream_remote_close(session, s->id) == 0)
        h2o_timeout_link(conn->ing->loop, &conn->ing->linger, &s->linger);
    return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code, void *user_data)
{
    ingress_conn_t *conn = user_data;
    ingress_stream_t *s = stream_of(session, stream_id);
    if (s == NULL)
        return 0;
    ingress_stream_destroy(s, 1);
    ingress_conn_update_idle(conn);
    if (conn->n_streams == 0 && conn->goaway_sent)
        ingress_conn_schedule_flush(conn); /* the flush closes a drained connection */
    return 0;
}

void ingress_call_install_callbacks(nghttp2_session_callbacks *cbs)
{
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk_recv);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
}
