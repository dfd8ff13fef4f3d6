/*
 * conn.c — one upstream HTTP/2 connection: non-blocking connect through h2o's socket layer,
 * the optional TLS handshake (ALPN "h2"), the nghttp2 client session, and the I/O glue.
 *
 * nghttp2 does no I/O. Input: every read is handed whole to nghttp2_session_mem_recv.
 * Output: nothing is written from inside nghttp2 or call code; they only schedule a flush, a
 * zero-delay h2o timeout entry that runs at the end of the loop iteration, drains
 * nghttp2_session_mem_send into one buffer and issues a single h2o_socket_write. h2o allows
 * one write in flight and needs its bytes until the write completes, so a second buffer
 * gathers frames meanwhile (double buffering); the completion callback flushes again.
 *
 * A connection counts as established when the server's first SETTINGS frame arrives (it is
 * an HTTP/2 server, and its stream limit is known before calls are placed on it).
 */
#include "upstream/grpc_client.h"
#include "upstream/target.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Stop gathering output at this size and write; the rest follows when the write completes. */
#define WRITE_CHUNK (1 << 20)
/* Receive windows: 1 MiB per stream, 16 MiB per connection (nghttp2 updates them as data is consumed). */
#define STREAM_WINDOW (1 << 20)
#define CONN_WINDOW (16 << 20)

static void on_connect(h2o_socket_t *sock, const char *err);
static void on_flush(h2o_timeout_entry_t *entry);
static void on_connect_timeout(upstream_timer_t *timer);

upstream_conn_t *upstream_conn_open(upstream_grpc_pool_t *pool, upstream_target_t *target)
{
    pool->stats.connects++;
    upstream_conn_t *conn = calloc(1, sizeof(*conn));
    if (conn == NULL) {
        upstream_pool_connect_failed(pool, target, "out of memory");
        return NULL;
    }
    conn->pool = pool;
    conn->target = target;
    conn->state = UPSTREAM_CONN_CONNECTING;
    h2o_linklist_init_anchor(&conn->calls);
    util_buf_init(&conn->wbuf);
    util_buf_init(&conn->wbuf_out);
    conn->flush.cb = on_flush;
    upstream_timer_init(&conn->connect_timer, &pool->timers, on_connect_timeout);

    conn->sock = upstream_target_connect(pool->loop, &target->addr, target->addrlen, on_connect);
    if (conn->sock == NULL) {
        char why[256];
        snprintf(why, sizeof(why), "connect to %s failed: %s", target->authority, strerror(errno));
        free(conn);
        upstream_pool_connect_failed(pool, target, why);
        return NULL;
    }
    conn->sock->data = conn;
    h2o_linklist_insert(&target->conns, &conn->_link);
    target->n_conns++;
    target->n_connecting++;
    upstream_timer_set(&conn->connect_timer, h2o_now(pool->loop) + pool->cfg.connect_timeout_ms);
    return conn;
}

uint32_t upstream_conn_capacity(upstream_conn_t *conn)
{
    if (conn->state != UPSTREAM_CONN_READY)
        return 0;
    uint32_t limit = nghttp2_session_get_remote_settings(conn->session, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
    uint32_t cap = conn->pool->cfg.max_streams_per_connection;
    if (cap != 0 && cap < limit)
        limit = cap;
    return limit > conn->n_calls ? limit - conn->n_calls : 0;
}

void upstream_conn_schedule_flush(upstream_conn_t *conn)
{
    if (conn->state != UPSTREAM_CONN_CLOSED && conn->session != NULL)
        upstream_timers_defer(&conn->pool->timers, &conn->flush);
}

void upstream_conn_fail(upstream_conn_t *conn, grpc_code_t code, const char *message)
{
    if (conn->state == UPSTREAM_CONN_CLOSED)
        return;
    upstream_grpc_pool_t *pool = conn->pool;
    int was_connecting = conn->state == UPSTREAM_CONN_CONNECTING;
    if (conn->state == UPSTREAM_CONN_DRAINING)
        conn->target->n_draining--;
    conn->state = UPSTREAM_CONN_CLOSED;
    h2o_linklist_unlink(&conn->_link);
    conn->target->n_conns--;
    if (was_connecting)
        conn->target->n_connecting--;
    h2o_linklist_insert(&pool->dead_conns, &conn->_link);
    upstream_timer_stop(&conn->connect_timer);
    if (h2o_timeout_is_linked(&conn->flush))
        h2o_timeout_unlink(&conn->flush);
    if (conn->sock != NULL) {
        conn->sock->data = NULL; /* should h2o report on it after this, the callbacks ignore it */
        h2o_socket_close(conn->sock);
        conn->sock = NULL;
    }
    if (was_connecting)
        upstream_pool_connect_failed(pool, conn->target, message);
    /* The calls' on_close may start or cancel calls; none can land on this connection now. */
    while (!h2o_linklist_is_empty(&conn->calls)) {
        upstream_grpc_call_t *call = H2O_STRUCT_FROM_MEMBER(upstream_grpc_call_t, _link, conn->calls.next);
        upstream_call_detach(call, code, message);
    }
    upstream_pool_schedule(pool);
}

void upstream_conn_destroy(upstream_conn_t *conn)
{
    if (conn->session != NULL)
        nghttp2_session_del(conn->session);
    util_buf_dispose(&conn->wbuf);
    util_buf_dispose(&conn->wbuf_out);
    free(conn);
}

/* Fails the connection with UNAVAILABLE and a sentence naming the target. */
static void conn_failf(upstream_conn_t *conn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void conn_failf(upstream_conn_t *conn, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    upstream_conn_fail(conn, GRPC_CODE_UNAVAILABLE, why);
}

static void on_connect_timeout(upstream_timer_t *timer)
{
    upstream_conn_t *conn = H2O_STRUCT_FROM_MEMBER(upstream_conn_t, connect_timer, timer);
    conn_failf(conn, "connect to %s timed out after %u ms", conn->target->authority, conn->pool->cfg.connect_timeout_ms);
}

/* Closes the connection once nghttp2 has nothing more to do on it (after GOAWAY), and a
 * draining connection once its last stream is done. */
static void check_done(upstream_conn_t *conn)
{
    if (conn->state == UPSTREAM_CONN_CLOSED || conn->writing || conn->wbuf.len != 0)
        return;
    if (!nghttp2_session_want_read(conn->session) && !nghttp2_session_want_write(conn->session))
        conn_failf(conn, "connection to %s closed by the HTTP/2 session", conn->target->authority);
    else if (conn->state == UPSTREAM_CONN_DRAINING && conn->n_calls == 0)
        conn_failf(conn, "connection to %s drained after GOAWAY", conn->target->authority);
}

static void on_write_done(h2o_socket_t *sock, const char *err);

static void flush(upstream_conn_t *conn)
{
    if (conn->state == UPSTREAM_CONN_CLOSED || conn->session == NULL || conn->writing)
        return;
    while (conn->wbuf.len < WRITE_CHUNK) {
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(conn->session, &data);
        if (n < 0) {
            conn_failf(conn, "HTTP/2 session with %s failed: %s", conn->target->authority, nghttp2_strerror((int)n));
            return;
        }
        if (n == 0)
            break;
        util_buf_append(&conn->wbuf, data, (size_t)n);
        if (conn->state == UPSTREAM_CONN_CLOSED)
            return; /* a callback run by mem_send closed us */
    }
    if (util_buf_failed(&conn->wbuf)) {
        conn_failf(conn, "out of memory writing to %s", conn->target->authority);
        return;
    }
    if (conn->wbuf.len == 0) {
        check_done(conn);
        return;
    }
    util_buf_t t = conn->wbuf_out;
    conn->wbuf_out = conn->wbuf;
    conn->wbuf = t;
    conn->wbuf.len = 0;
    conn->writing = 1;
    conn->pool->stats.writes++;
    h2o_iovec_t iov = h2o_iovec_init(conn->wbuf_out.data, conn->wbuf_out.len);
    h2o_socket_write(conn->sock, &iov, 1, on_write_done);
}

static void on_flush(h2o_timeout_entry_t *entry)
{
    flush(H2O_STRUCT_FROM_MEMBER(upstream_conn_t, flush, entry));
}

static void on_write_done(h2o_socket_t *sock, const char *err)
{
    upstream_conn_t *conn = sock->data;
    if (conn == NULL)
        return;
    conn->writing = 0;
    conn->wbuf_out.len = 0;
    if (conn->wbuf_out.cap > 256 * 1024)
        util_buf_dispose(&conn->wbuf_out); /* a big burst is over: do not keep its buffer per connection */
    if (err != NULL) {
        conn_failf(conn, "write to %s failed: %s", conn->target->authority, err);
        return;
    }
    flush(conn);
}

static void on_read(h2o_socket_t *sock, const char *err)
{
    upstream_conn_t *conn = sock->data;
    if (conn == NULL)
        return;
    if (err != NULL) {
        if (conn->state == UPSTREAM_CONN_CONNECTING)
            conn_failf(conn, "connection to %s closed before HTTP/2 settings: %s", conn->target->authority, err);
        else
            conn_failf(conn, "connection to %s lost: %s", conn->target->authority, err);
        return;
    }
    ssize_t n = nghttp2_session_mem_recv(conn->session, (const uint8_t *)sock->input->bytes, sock->input->size);
    if (conn->state == UPSTREAM_CONN_CLOSED)
        return;
    if (n < 0) {
        conn_failf(conn, "HTTP/2 error from %s: %s", conn->target->authority, nghttp2_strerror((int)n));
        return;
    }
    h2o_buffer_consume(&sock->input, (size_t)n);
    /* Answer at once (SETTINGS ack, WINDOW_UPDATE, PING ack) in the same batch as whatever
     * the callbacks just queued. */
    upstream_conn_schedule_flush(conn);
}

void upstream_conn_drain(upstream_conn_t *conn)
{
    if (conn->state == UPSTREAM_CONN_CONNECTING) {
        conn->target->n_connecting--;
        upstream_timer_stop(&conn->connect_timer);
    } else if (conn->state != UPSTREAM_CONN_READY) {
        return;
    }
    conn->state = UPSTREAM_CONN_DRAINING;
    conn->target->n_draining++;
    upstream_pool_schedule(conn->pool); /* waiting calls need another connection */
    upstream_conn_schedule_flush(conn); /* closes it at once if it has no streams */
}

static void become_ready(upstream_conn_t *conn)
{
    conn->state = UPSTREAM_CONN_READY;
    conn->target->n_connecting--;
    upstream_timer_stop(&conn->connect_timer);
    upstream_pool_connect_succeeded(conn->pool, conn->target);
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    upstream_conn_t *conn = user_data;
    switch (frame->hd.type) {
    case NGHTTP2_SETTINGS:
        if ((frame->hd.flags & NGHTTP2_FLAG_ACK) == 0) {
            if (conn->state == UPSTREAM_CONN_CONNECTING)
                become_ready(conn);
            else
                upstream_pool_schedule(conn->pool); /* the stream limit may have grown */
        }
        return 0;
    case NGHTTP2_GOAWAY:
        /* Streams above last_stream_id are closed by nghttp2 (REFUSED_STREAM, then retried
         * elsewhere); the others finish. */
        upstream_conn_drain(conn);
        return 0;
    default:
        if (frame->hd.stream_id != 0)
            upstream_call_on_frame_recv(conn, frame);
        return 0;
    }
}

static void start_session(upstream_conn_t *conn)
{
    nghttp2_session_callbacks *cbs;
    nghttp2_option *opt;
    if (nghttp2_session_callbacks_new(&cbs) != 0) {
        conn_failf(conn, "out of memory connecting to %s", conn->target->authority);
        return;
    }
    upstream_call_install_callbacks(cbs);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    if (nghttp2_option_new(&opt) != 0) {
        nghttp2_session_callbacks_del(cbs);
        conn_failf(conn, "out of memory connecting to %s", conn->target->authority);
        return;
    }
    nghttp2_option_set_no_closed_streams(opt, 1);
    nghttp2_option_set_peer_max_concurrent_streams(opt, 100);
    int rv = nghttp2_session_client_new2(&conn->session, cbs, conn, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    if (rv != 0) {
        conn->session = NULL;
        conn_failf(conn, "cannot start an HTTP/2 session with %s: %s", conn->target->authority, nghttp2_strerror(rv));
        return;
    }
    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 256 * 1024},
    };
    if ((rv = nghttp2_submit_settings(conn->session, NGHTTP2_FLAG_NONE, settings, sizeof(settings) / sizeof(settings[0]))) != 0 ||
        (rv = nghttp2_session_set_local_window_size(conn->session, NGHTTP2_FLAG_NONE, 0, CONN_WINDOW)) != 0) {
        conn_failf(conn, "cannot start an HTTP/2 session with %s: %s", conn->target->authority, nghttp2_strerror(rv));
        return;
    }
    h2o_socket_read_start(conn->sock, on_read);
    upstream_conn_schedule_flush(conn);
}

static void on_handshake(h2o_socket_t *sock, const char *err)
{
    upstream_conn_t *conn = sock->data;
    if (conn == NULL)
        return;
    if (err != NULL) {
        conn_failf(conn, "TLS handshake with %s failed: %s", conn->target->authority, err);
        return;
    }
    h2o_iovec_t proto = h2o_socket_ssl_get_selected_protocol(sock);
    if (!(proto.len == 2 && memcmp(proto.base, "h2", 2) == 0)) {
        conn_failf(conn, "%s did not negotiate HTTP/2 over TLS (ALPN h2)", conn->target->authority);
        return;
    }
    start_session(conn);
}

static void on_connect(h2o_socket_t *sock, const char *err)
{
    upstream_conn_t *conn = sock->data;
    if (conn == NULL)
        return;
    if (err != NULL) {
        conn_failf(conn, "connect to %s failed: %s", conn->target->authority, err);
        return;
    }
    upstream_grpc_pool_t *pool = conn->pool;
    if (pool->cfg.ssl_ctx != NULL) {
        const char *name = pool->cfg.tls_server_name != NULL ? pool->cfg.tls_server_name : conn->target->host;
        h2o_socket_ssl_handshake(sock, pool->cfg.ssl_ctx, name, on_handshake);
        return;
    }
    start_session(conn);
}
