/*
 * call.c — one upstream gRPC call: building the request headers, feeding request messages to
 * nghttp2's data provider (deferred when the queue is empty, resumed by call_send), receiving
 * response headers, messages (through the grpc deframer) and trailers, and deciding the final
 * status: the backend's grpc-status, or one portico derives per the gRPC spec (non-200
 * :status, RST_STREAM codes, missing trailers, bad framing, deadline, lost connection).
 *
 * on_close is delivered exactly once (call_finish is the only place that calls it) and never
 * after cancel; the call struct is freed later, by the pool's tick (see grpc_client.h).
 */
#include "util/thread_cache.h"
#include "upstream/grpc_client.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Response header blocks larger than this end the call (INTERNAL): the gateway copies them. */
#define MAX_HEADER_BLOCK (256 * 1024)
/* Request bytes kept after sending, until the response starts, so that a stream the server
 * refused unprocessed (REFUSED_STREAM, e.g. in a GOAWAY race) can be retried transparently. */
#define REPLAY_LIMIT (64 * 1024)
#define MAX_TRANSPARENT_RETRIES 2

static void on_deadline(upstream_timer_t *timer);

/* ---- request headers ---------------------------------------------------------------------- */

enum { NV_METHOD, NV_SCHEME, NV_PATH, NV_AUTHORITY, NV_TE, NV_CONTENT_TYPE, NV_FIXED };

static nghttp2_nv nv_lit(const char *name, const char *value)
{
    nghttp2_nv nv = {(uint8_t *)name, (uint8_t *)value, strlen(name), strlen(value), NGHTTP2_NV_FLAG_NONE};
    return nv;
}

static int has_user_agent(const upstream_header_t *md, size_t n_md)
{
    for (size_t i = 0; i < n_md; i++)
        if (md[i].name_len == 10 && memcmp(md[i].name, "user-agent", 10) == 0)
            return 1;
    return 0;
}

/* Builds the request header list in one allocation (entries, then copied metadata bytes). */
static int build_headers(upstream_grpc_call_t *call, const char *path, const upstream_header_t *md, size_t n_md, util_error_t *err)
{
    upstream_grpc_pool_t *pool = call->pool;
    size_t path_len = strlen(path);
    if (path_len < 2 || path[0] != '/')
        return util_error_set(err, -1, "gRPC method path \"%s\" must look like /package.Service/Method", path);
    for (size_t i = 0; i < path_len; i++)
        if ((uint8_t)path[i] <= 0x20 || (uint8_t)path[i] >= 0x7f)
            return util_error_set(err, -1, "gRPC method path \"%s\" has a space or a non-ASCII byte", path);

    size_t n = NV_FIXED + 2 /* user-agent, grpc-timeout */, bytes = path_len + GRPC_TIMEOUT_BUF_SIZE;
    for (size_t i = 0; i < n_md; i++) {
        if (grpc_metadata_is_reserved(md[i].name, md[i].name_len))
            continue;
        if (grpc_metadata_check(md[i].name, md[i].name_len, md[i].value, md[i].value_len, err) != 0)
            return -1;
        n++;
        bytes += md[i].name_len + md[i].value_len;
    }
    call->nva = malloc(n * sizeof(nghttp2_nv) + bytes);
    if (call->nva == NULL)
        return util_error_set(err, -1, "out of memory starting a call of %s", path);
    char *p = (char *)(call->nva + n);
    nghttp2_nv *nv = call->nva;
    nv[NV_METHOD] = nv_lit(":method", "POST");
    nv[NV_SCHEME] = nv_lit(":scheme", pool->cfg.ssl_ctx != NULL ? "https" : "http");
    memcpy(p, path, path_len);
    nv[NV_PATH] = (nghttp2_nv){(uint8_t *)":path", (uint8_t *)p, 5, path_len, NGHTTP2_NV_FLAG_NONE};
    p += path_len;
    nv[NV_AUTHORITY] = nv_lit(":authority", ""); /* set at submit: it depends on the target */
    nv[NV_TE] = nv_lit("te", "trailers");
    nv[NV_CONTENT_TYPE] = nv_lit("content-type", "application/grpc");
    size_t k = NV_FIXED;
    call->grpc_timeout_index = SIZE_MAX;
    if (call->timeout_ms > 0) {
        call->grpc_timeout_index = k;
        nv[k++] = (nghttp2_nv){(uint8_t *)"grpc-timeout", (uint8_t *)p, 12, 0, NGHTTP2_NV_FLAG_NONE};
        p += GRPC_TIMEOUT_BUF_SIZE;
    }
    if (!has_user_agent(md, n_md))
        nv[k++] = nv_lit("user-agent", pool->cfg.user_agent);
    for (size_t i = 0; i < n_md; i++) {
        if (grpc_metadata_is_reserved(md[i].name, md[i].name_len))
            continue;
        nghttp2_nv *e = &nv[k++];
        e->name = (uint8_t *)p;
        e->namelen = md[i].name_len;
        memcpy(p, md[i].name, md[i].name_len);
        p += md[i].name_len;
        e->value = (uint8_t *)p;
        e->valuelen = md[i].value_len;
        if (md[i].value_len != 0)
            memcpy(p, md[i].value, md[i].value_len);
        p += md[i].value_len;
        e->flags = NGHTTP2_NV_FLAG_NONE;
    }
    call->n_nva = k;
    return 0;
}

/* ---- start / send / cancel ------------------------------------------------------------- */

upstream_grpc_call_t *upstream_grpc_call_start(upstream_grpc_pool_t *pool, const char *path, const upstream_header_t *md,
                                               size_t n_md, int64_t timeout_ms, const upstream_grpc_callbacks_t *cb, void *ctx,
                                               util_error_t *err)
{
    if (pool->freeing) {
        util_error_set(err, -1, "upstream pool is shutting down");
        return NULL;
    }
    if (cb == NULL || cb->on_close == NULL) {
        util_error_set(err, -1, "upstream call of %s has no on_close callback", path != NULL ? path : "(null)");
        return NULL;
    }
    if (path == NULL) {
        util_error_set(err, -1, "upstream call without a method path");
        return NULL;
    }
    upstream_grpc_call_t *call = calloc(1, sizeof(*call));
    if (call == NULL) {
        util_error_set(err, -1, "out of memory starting a call of %s", path);
        return NULL;
    }
    call->pool = pool;
    call->cb = *cb;
    call->ctx = ctx;
    call->timeout_ms = timeout_ms > 0 ? timeout_ms : 0;
    if (build_headers(call, path, md, n_md, err) != 0) {
        free(call->nva);
        free(call);
        return NULL;
    }
    call->sendq = util_buf_take();
    call->hblock = util_buf_take();
    call->replayable = 1;
    grpc_deframer_init(&call->deframer, pool->cfg.max_recv_message_size);
    upstream_timer_init(&call->deadline, &pool->timers, on_deadline);
    if (call->timeout_ms > 0)
        upstream_timer_set(&call->deadline, h2o_now(pool->loop) + (uint64_t)call->timeout_ms);
    pool->stats.calls_started++;

    upstream_pool_warm(pool, pool->rr);
    /* Placing now never ends the call (a failed submit leaves it for the tick, which retries
     * and reports), so no callback runs before this function returns. */
    if (upstream_pool_try_place(pool, call) != 0)
        upstream_pool_enqueue(pool, call);
    return call;
}

static void kick(upstream_grpc_call_t *call)
{
    if (call->conn == NULL)
        return;
    if (call->data_deferred) {
        call->data_deferred = 0;
        nghttp2_session_resume_data(call->conn->session, call->stream_id);
    }
    upstream_conn_schedule_flush(call->conn);
}

int upstream_grpc_call_send(upstream_grpc_call_t *call, const uint8_t *msg, size_t len)
{
    if (call->user_done || call->half_closed)
        return -1;
    if (grpc_frame_append(&call->sendq, msg, len, 0) != 0)
        return -1;
    kick(call);
    return 0;
}

size_t upstream_grpc_call_send_pending(const upstream_grpc_call_t *call)
{
    return call->sendq.len - call->sendq_off;
}

void upstream_grpc_call_close_send(upstream_grpc_call_t *call)
{
    if (call->user_done || call->half_closed)
        return;
    call->half_closed = 1;
    kick(call);
}

void upstream_call_release(upstream_grpc_call_t *call)
{
    if (!call->user_done || call->stream_alive || call->buried)
        return;
    if (h2o_linklist_is_linked(&call->_link)) {
        h2o_linklist_unlink(&call->_link); /* still queued for a stream */
        call->pool->n_pending--;
    }
    call->buried = 1;
    h2o_linklist_insert(&call->pool->dead_calls, &call->_link);
    upstream_pool_schedule(call->pool);
}

/* Resets the stream (if the call has one and it is still open on our side or theirs). */
static void reset_stream(upstream_grpc_call_t *call, uint32_t error_code)
{
    if (call->conn == NULL || !call->stream_alive || call->conn->session == NULL)
        return;
    nghttp2_submit_rst_stream(call->conn->session, NGHTTP2_FLAG_NONE, call->stream_id, error_code);
    upstream_conn_schedule_flush(call->conn);
}

void upstream_grpc_call_cancel(upstream_grpc_call_t *call)
{
    if (call->user_done)
        return;
    call->user_done = 1;
    upstream_timer_stop(&call->deadline);
    reset_stream(call, NGHTTP2_CANCEL);
    upstream_call_release(call);
}

void upstream_call_destroy(upstream_grpc_call_t *call)
{
    upstream_timer_stop(&call->deadline);
    free(call->nva);
    util_buf_give(&call->sendq);
    util_buf_give(&call->hblock);
    grpc_deframer_dispose(&call->deframer);
    free(call);
}

/* ---- ending ------------------------------------------------------------------------------- */

/* The one place on_close is called. */
static void call_finish(upstream_grpc_call_t *call, grpc_code_t code, const char *message, size_t message_len,
                        const upstream_header_t *trailers, size_t n_trailers, int local)
{
    if (call->user_done)
        return;
    call->user_done = 1;
    upstream_timer_stop(&call->deadline);
    upstream_grpc_result_t result = {
        .code = code,
        .message = message,
        .message_len = message_len,
        .trailers = trailers,
        .n_trailers = n_trailers,
        .http_status = call->http_status,
        .local = local,
    };
    call->cb.on_close(call->ctx, &result);
    upstream_call_release(call);
}

static void call_finish_localv(upstream_grpc_call_t *call, grpc_code_t code, const char *fmt, va_list ap)
{
    char message[512];
    int n = vsnprintf(message, sizeof(message), fmt, ap);
    if (n < 0)
        n = 0;
    else if ((size_t)n >= sizeof(message))
        n = sizeof(message) - 1;
    /* Our side gave up: tell the backend, unless the stream is already over. */
    reset_stream(call, NGHTTP2_CANCEL);
    call_finish(call, code, message, (size_t)n, NULL, 0, 1);
}

void upstream_call_fail(upstream_grpc_call_t *call, grpc_code_t code, const char *fmt, ...)
{
    if (call->user_done)
        return;
    va_list ap;
    va_start(ap, fmt);
    call_finish_localv(call, code, fmt, ap);
    va_end(ap);
}

void upstream_call_detach(upstream_grpc_call_t *call, grpc_code_t code, const char *message)
{
    upstream_conn_t *conn = call->conn;
    h2o_linklist_unlink(&call->_link);
    conn->n_calls--;
    call->pool->stats.active_calls--;
    call->conn = NULL;
    call->stream_alive = 0;
    if (!call->user_done)
        call_finish(call, code, message, strlen(message), NULL, 0, 1);
    else
        upstream_call_release(call);
}

static void on_deadline(upstream_timer_t *timer)
{
    upstream_grpc_call_t *call = H2O_STRUCT_FROM_MEMBER(upstream_grpc_call_t, deadline, timer);
    upstream_call_fail(call, GRPC_CODE_DEADLINE_EXCEEDED, "deadline of %lld ms exceeded%s", (long long)call->timeout_ms,
                       call->conn == NULL ? " while waiting for a connection to the backend" : "");
}

/* ---- submitting --------------------------------------------------------------------------- */

static ssize_t on_data_read(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length, uint32_t *data_flags,
                            nghttp2_data_source *source, void *user_data)
{
    upstream_grpc_call_t *call = source->ptr;
    size_t avail = call->sendq.len - call->sendq_off;
    if (call->user_done)
        return NGHTTP2_ERR_DEFERRED; /* a reset is on its way */
    if (avail == 0) {
        if (call->half_closed) {
            *data_flags |= NGHTTP2_DATA_FLAG_EOF;
            return 0;
        }
        call->data_deferred = 1;
        return NGHTTP2_ERR_DEFERRED;
    }
    size_t n = avail < length ? avail : length;
    memcpy(buf, call->sendq.data + call->sendq_off, n);
    call->sendq_off += n;
    if (call->sendq_off > REPLAY_LIMIT)
        call->replayable = 0; /* too much to keep for a transparent retry */
    int all_sent = call->sendq_off == call->sendq.len;
    if (!call->replayable) {
        if (all_sent) {
            call->sendq.len = 0;
            call->sendq_off = 0;
        } else if (call->sendq_off >= 64 * 1024 && call->sendq_off * 2 >= call->sendq.len) {
            /* Keep a long upload's queue from growing without bound. */
            memmove(call->sendq.data, call->sendq.data + call->sendq_off, call->sendq.len - call->sendq_off);
            call->sendq.len -= call->sendq_off;
            call->sendq_off = 0;
        }
    }
    if (all_sent && call->half_closed)
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

int upstream_call_submit(upstream_grpc_call_t *call, upstream_conn_t *conn)
{
    upstream_grpc_pool_t *pool = call->pool;
    const char *authority = pool->cfg.authority != NULL ? pool->cfg.authority : conn->target->authority;
    call->nva[NV_AUTHORITY].value = (uint8_t *)authority;
    call->nva[NV_AUTHORITY].valuelen = strlen(authority);
    if (call->grpc_timeout_index != SIZE_MAX) {
        /* What is left of the deadline, after any time spent waiting for a stream. */
        uint64_t now = h2o_now(pool->loop);
        int64_t left = call->deadline.at > now ? (int64_t)(call->deadline.at - now) : 0;
        nghttp2_nv *nv = &call->nva[call->grpc_timeout_index];
        nv->valuelen = grpc_timeout_format(left, (char *)nv->value);
    }
    nghttp2_data_provider provider;
    provider.source.ptr = call;
    provider.read_callback = on_data_read;
    int32_t id = nghttp2_submit_request(conn->session, NULL, call->nva, call->n_nva, &provider, call);
    if (id < 0) {
        if (id == NGHTTP2_ERR_STREAM_ID_NOT_AVAILABLE) {
            upstream_conn_drain(conn);
            return -1;
        }
        call->submit_error = id;
        return -2;
    }
    call->stream_id = id;
    call->conn = conn;
    call->stream_alive = 1;
    h2o_linklist_insert(&conn->calls, &call->_link);
    conn->n_calls++;
    pool->stats.active_calls++;
    upstream_conn_schedule_flush(conn);
    return 0;
}

/* ---- receiving ---------------------------------------------------------------------------- */

static upstream_grpc_call_t *call_of(nghttp2_session *session, int32_t stream_id)
{
    upstream_grpc_call_t *call = nghttp2_session_get_stream_user_data(session, stream_id);
    return call != NULL && !call->user_done ? call : NULL;
}

static void hblock_put(util_buf_t *b, const uint8_t *s, size_t len)
{
    uint32_t n = (uint32_t)len;
    util_buf_append(b, &n, sizeof(n));
    util_buf_append(b, s, len);
}

/* Lists the received block's entries (pseudo-headers left out) into a malloc'ed array. */
static upstream_header_t *hblock_list(upstream_grpc_call_t *call, size_t *n_out)
{
    upstream_header_t *list = malloc((call->n_hblock + 1) * sizeof(*list));
    size_t n = 0;
    *n_out = 0;
    if (list == NULL || call->hblock.len == 0)
        return list;
    const uint8_t *p = call->hblock.data, *end = p + call->hblock.len;
    while (p < end) {
        upstream_header_t h;
        uint32_t len;
        memcpy(&len, p, sizeof(len));
        h.name = (const char *)p + sizeof(len);
        h.name_len = len;
        p += sizeof(len) + len;
        memcpy(&len, p, sizeof(len));
        h.value = (const char *)p + sizeof(len);
        h.value_len = len;
        p += sizeof(len) + len;
        if (h.name_len != 0 && h.name[0] != ':')
            list[n++] = h;
    }
    *n_out = n;
    return list;
}

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    upstream_grpc_call_t *call = call_of(session, frame->hd.stream_id);
    if (call == NULL || frame->hd.type != NGHTTP2_HEADERS)
        return 0;
    call->hblock.len = 0;
    call->n_hblock = 0;
    call->in_trailers = call->headers_done;
    util_buf_reserve(&call->hblock, 512); /* a typical block in one allocation (later ones reuse it) */
    return 0;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *user_data)
{
    upstream_grpc_call_t *call = call_of(session, frame->hd.stream_id);
    if (call == NULL || frame->hd.type != NGHTTP2_HEADERS)
        return 0;
    if (call->hblock.len + namelen + valuelen > MAX_HEADER_BLOCK) {
        upstream_call_fail(call, GRPC_CODE_INTERNAL, "response headers from %s exceed %d bytes", call->conn->target->authority,
                           MAX_HEADER_BLOCK);
        return 0;
    }
    if (!call->in_trailers && namelen == 7 && memcmp(name, ":status", 7) == 0) {
        int status = 0;
        for (size_t i = 0; i < valuelen && i < 3; i++)
            status = status * 10 + (value[i] - '0'); /* nghttp2 has checked it is 3 digits */
        call->http_status = status;
    }
    hblock_put(&call->hblock, name, namelen);
    hblock_put(&call->hblock, value, valuelen);
    call->n_hblock++;
    if (util_buf_failed(&call->hblock))
        upstream_call_fail(call, GRPC_CODE_RESOURCE_EXHAUSTED, "out of memory receiving response headers");
    return 0;
}

static const upstream_header_t *find_header(const upstream_header_t *list, size_t n, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < n; i++)
        if (list[i].name_len == len && memcmp(list[i].name, name, len) == 0)
            return &list[i];
    return NULL;
}

/* Ends the call from the block just received as trailers (or a trailers-only response). */
static void finish_from_trailers(upstream_grpc_call_t *call)
{
    size_t n;
    upstream_header_t *list = hblock_list(call, &n);
    if (list == NULL) {
        upstream_call_fail(call, GRPC_CODE_RESOURCE_EXHAUSTED, "out of memory receiving trailers");
        return;
    }
    const upstream_header_t *status = find_header(list, n, "grpc-status");
    const upstream_header_t *message = find_header(list, n, "grpc-message");
    grpc_code_t code;
    util_buf_t text = UTIL_BUF_INIT;
    int local = 0;
    if (status == NULL) {
        local = 1;
        if (call->http_status != 200) {
            code = grpc_code_from_http_transport(call->http_status);
            util_buf_printf(&text, "backend %s answered HTTP %d without grpc-status", call->conn->target->authority,
                            call->http_status);
        } else {
            code = GRPC_CODE_INTERNAL;
            util_buf_printf(&text, "backend %s ended the call without grpc-status", call->conn->target->authority);
        }
    } else if (grpc_code_parse(status->value, status->value_len, &code, NULL) != 0) {
        local = 1;
        code = GRPC_CODE_UNKNOWN;
        util_buf_printf(&text, "backend %s sent an invalid grpc-status \"%.*s\"", call->conn->target->authority,
                        (int)(status->value_len > 32 ? 32 : status->value_len), status->value);
    } else if (code == GRPC_CODE_OK && grpc_deframer_has_partial(&call->deframer)) {
        local = 1;
        code = GRPC_CODE_INTERNAL;
        util_buf_printf(&text, "backend %s ended the stream in the middle of a message", call->conn->target->authority);
    } else if (message != NULL) {
        grpc_message_percent_decode(&text, message->value, message->value_len);
    }
    /* Trailers for the caller: everything but the status itself. */
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (&list[i] != status && &list[i] != message)
            list[kept++] = list[i];
    util_buf_putc(&text, '\0');
    const char *msg = util_buf_failed(&text) ? "" : (const char *)text.data;
    size_t msg_len = util_buf_failed(&text) ? 0 : text.len - 1;
    /* The backend is done; if we are still sending, stop (RST_STREAM NO_ERROR, RFC 9113 8.1). */
    if (nghttp2_session_get_stream_local_close(call->conn->session, call->stream_id) == 0)
        reset_stream(call, NGHTTP2_NO_ERROR);
    call_finish(call, code, msg, msg_len, list, kept, local);
    util_buf_dispose(&text);
    free(list);
}

/* The initial response headers are complete. */
static void on_response_headers(upstream_grpc_call_t *call, const nghttp2_frame *frame)
{
    if (call->http_status / 100 == 1) {
        call->hblock.len = 0; /* interim response: wait for the final one */
        call->n_hblock = 0;
        return;
    }
    call->headers_done = 1;
    call->replayable = 0; /* the backend took the call: never retried from here on */
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
        finish_from_trailers(call); /* trailers-only */
        return;
    }
    size_t n;
    upstream_header_t *list = hblock_list(call, &n);
    if (list == NULL) {
        upstream_call_fail(call, GRPC_CODE_RESOURCE_EXHAUSTED, "out of memory receiving response headers");
        return;
    }
    const upstream_header_t *status = find_header(list, n, "grpc-status");
    const upstream_header_t *ctype = find_header(list, n, "content-type");
    if (call->http_status != 200) {
        grpc_code_t code;
        if (status == NULL || grpc_code_parse(status->value, status->value_len, &code, NULL) != 0)
            code = grpc_code_from_http_transport(call->http_status);
        upstream_call_fail(call, code, "backend %s answered HTTP %d", call->conn->target->authority, call->http_status);
    } else if (ctype == NULL || ctype->value_len < 16 || memcmp(ctype->value, "application/grpc", 16) != 0 ||
               (ctype->value_len > 16 && ctype->value[16] != '+' && ctype->value[16] != ';')) {
        upstream_call_fail(call, GRPC_CODE_UNKNOWN, "backend %s answered with content-type \"%.*s\", not application/grpc",
                           call->conn->target->authority, ctype ? (int)(ctype->value_len > 64 ? 64 : ctype->value_len) : 0,
                           ctype ? ctype->value : "");
    } else if (call->cb.on_headers != NULL) {
        call->cb.on_headers(call->ctx, list, n);
    }
    free(list);
}

void upstream_call_on_frame_recv(upstream_conn_t *conn, const nghttp2_frame *frame)
{
    upstream_grpc_call_t *call = call_of(conn->session, frame->hd.stream_id);
    if (call == NULL)
        return;
    switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
        if (!call->in_trailers)
            on_response_headers(call, frame);
        else
            finish_from_trailers(call);
        break;
    case NGHTTP2_DATA:
        if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
            upstream_call_fail(call, GRPC_CODE_INTERNAL, "backend %s ended the stream without trailers (no grpc-status)",
                               conn->target->authority);
        break;
    default:
        break;
    }
}

static int on_data_chunk_recv(nghttp2_session *session, uint8_t flags, int32_t stream_id, const uint8_t *data, size_t len,
                              void *user_data)
{
    upstream_grpc_call_t *call = call_of(session, stream_id);
    while (call != NULL && !call->user_done) {
        grpc_frame_t frame;
        util_error_t err;
        int rv = grpc_deframer_next(&call->deframer, &data, &len, &frame, &err);
        if (rv == 0)
            break;
        if (rv < 0) {
            upstream_call_fail(call, err.code == GRPC_ERR_FRAME_TOO_LARGE ? GRPC_CODE_RESOURCE_EXHAUSTED : GRPC_CODE_INTERNAL,
                               "response from %s: %s", call->conn->target->authority, err.message);
            break;
        }
        if (frame.compressed) {
            upstream_call_fail(call, GRPC_CODE_INTERNAL, "backend %s sent a compressed message, but no compression was negotiated",
                               call->conn->target->authority);
            break;
        }
        if (call->cb.on_message != NULL)
            call->cb.on_message(call->ctx, frame.data, frame.len);
    }
    return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code, void *user_data)
{
    upstream_grpc_call_t *call = nghttp2_session_get_stream_user_data(session, stream_id);
    if (call == NULL || !call->stream_alive)
        return 0;
    upstream_conn_t *conn = call->conn;
    upstream_grpc_pool_t *pool = call->pool;
    if (error_code == NGHTTP2_REFUSED_STREAM && !call->user_done && call->replayable && !call->headers_done &&
        call->attempts < MAX_TRANSPARENT_RETRIES) {
        /* The server did not process the stream (RFC 9113 8.7): send it again, on whatever
         * connection has room (not this one if it is draining after GOAWAY). */
        h2o_linklist_unlink(&call->_link);
        conn->n_calls--;
        pool->stats.active_calls--;
        pool->stats.transparent_retries++;
        call->conn = NULL;
        call->stream_alive = 0;
        call->stream_id = 0;
        call->attempts++;
        call->sendq_off = 0;
        call->data_deferred = 0;
        call->http_status = 0;
        call->hblock.len = 0;
        call->n_hblock = 0;
        call->in_trailers = 0;
        upstream_pool_enqueue(pool, call);
        if (conn->state == UPSTREAM_CONN_DRAINING && conn->n_calls == 0)
            upstream_conn_schedule_flush(conn);
        return 0;
    }
    char message[256] = "";
    if (call->user_done)
        ; /* the usual end (trailers came): no one reads a message */
    else if (error_code == NGHTTP2_REFUSED_STREAM)
        snprintf(message, sizeof(message), "backend %s refused the stream (REFUSED_STREAM, e.g. after GOAWAY)",
                 conn->target->authority);
    else if (error_code != NGHTTP2_NO_ERROR)
        snprintf(message, sizeof(message), "backend %s reset the stream: %s", conn->target->authority,
                 nghttp2_http2_strerror(error_code));
    else
        snprintf(message, sizeof(message), "backend %s closed the stream without trailers (no grpc-status)",
                 conn->target->authority);
    upstream_call_detach(call, error_code == NGHTTP2_NO_ERROR ? GRPC_CODE_INTERNAL : grpc_code_from_h2_error(error_code), message);
    if (pool->n_pending != 0)
        upstream_pool_schedule(pool);
    if (conn->state == UPSTREAM_CONN_DRAINING && conn->n_calls == 0)
        upstream_conn_schedule_flush(conn); /* flush closes a drained connection */
    return 0;
}

void upstream_call_install_callbacks(nghttp2_session_callbacks *cbs)
{
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
}
