/*
 * grpc_ingress_conn.c — one client connection of the native gRPC ingress: the optional TLS
 * handshake (h2o's, ALPN h2), the nghttp2 server session, and the I/O glue, in the same shape
 * as the upstream client's connections (src/upstream/conn.c):
 *
 *  - input: every read is handed whole to nghttp2_session_mem_recv;
 *  - output: nothing is written from inside nghttp2 or call code; they schedule a flush, a
 *    zero-delay h2o timeout entry that runs at the end of the loop iteration, drains
 *    nghttp2_session_mem_send into one buffer and issues a single h2o_socket_write (a burst
 *    of responses costs one write). h2o allows one write in flight and needs its bytes until
 *    it completes, so a second buffer gathers frames meanwhile.
 *
 * Timers: until the client's first SETTINGS frame arrives the connection rides the handshake
 * timeout (a connection that never speaks HTTP/2 is closed); afterwards, whenever it has no
 * streams, the idle timeout (GOAWAY, then close once nghttp2 has nothing left to do).
 */
#include "http/grpc_ingress_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Stop gathering output at this size and write; the rest follows when the write completes. */
#define WRITE_CHUNK (256 * 1024)

static void on_flush(h2o_timeout_entry_t *entry);
static void on_conn_timer(h2o_timeout_entry_t *entry);
static void on_read(h2o_socket_t *sock, const char *err);

static void timer_link(ingress_conn_t *conn, h2o_timeout_t *timeout)
{
    if (h2o_timeout_is_linked(&conn->timer))
        h2o_timeout_unlink(&conn->timer);
    h2o_timeout_link(conn->ing->loop, timeout, &conn->timer);
}

void ingress_conn_update_idle(ingress_conn_t *conn)
{
    if (conn->closed || conn->closing || conn->session == NULL || !conn->preface_done)
        return;
    if (conn->n_streams != 0) {
        if (h2o_timeout_is_linked(&conn->timer))
            h2o_timeout_unlink(&conn->timer);
    } else if (!h2o_timeout_is_linked(&conn->timer)) {
        timer_link(conn, &conn->ing->idle);
    }
}

void ingress_conn_schedule_flush(ingress_conn_t *conn)
{
    if (!conn->closed && conn->session != NULL)
        ingress_defer(conn->ing, &conn->flush);
}

void ingress_conn_destroy(ingress_conn_t *conn)
{
    grpc_ingress_t *ing = conn->ing;
    conn->closed = 1;
    while (!h2o_linklist_is_empty(&conn->streams))
        ingress_stream_destroy(H2O_STRUCT_FROM_MEMBER(ingress_stream_t, _link, conn->streams.next), 1);
    if (h2o_timeout_is_linked(&conn->flush))
        h2o_timeout_unlink(&conn->flush);
    if (h2o_timeout_is_linked(&conn->timer))
        h2o_timeout_unlink(&conn->timer);
    h2o_linklist_unlink(&conn->_link);
    ing->stats.connections--;
    if (conn->sock != NULL) {
        conn->sock->data = NULL;
        h2o_socket_close(conn->sock);
    }
    if (conn->session != NULL)
        nghttp2_session_del(conn->session);
    util_buf_dispose(&conn->wbuf);
    util_buf_dispose(&conn->wbuf_out);
    free(conn);
}

void ingress_conn_goaway(ingress_conn_t *conn, uint32_t error_code, const char *why)
{
    if (conn->closed)
        return;
    if (conn->session == NULL || !conn->preface_done) {
        /* still in the TLS handshake or before the preface: nothing to say goodbye to */
        timer_link(conn, &conn->ing->zero);
        return;
    }
    if (conn->goaway_sent)
        return;
    conn->goaway_sent = 1;
    int32_t last = nghttp2_session_get_last_proc_stream_id(conn->session);
    nghttp2_submit_goaway(conn->session, NGHTTP2_FLAG_NONE, last, error_code, (const uint8_t *)why, strlen(why));
    ingress_conn_schedule_flush(conn);
}

static void on_write_done(h2o_socket_t *sock, const char *err);

/* Closes the connection when nghttp2 is done with it (after GOAWAY both ways, or a fatal error). */
static int check_done(ingress_conn_t *conn)
{
    if (conn->writing || conn->wbuf.len != 0)
        return 0;
    if (conn->closing || (!nghttp2_session_want_read(conn->session) && !nghttp2_session_want_write(conn->session))) {
        ingress_conn_destroy(conn);
        return 1;
    }
    return 0;
}

static void flush(ingress_conn_t *conn)
{
    if (conn->closed || conn->session == NULL || conn->writing)
        return;
    while (conn->wbuf.len < WRITE_CHUNK) {
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(conn->session, &data);
        if (n < 0) {
            ingress_conn_destroy(conn);
            return;
        }
        if (n == 0)
            break;
        util_buf_append(&conn->wbuf, data, (size_t)n);
    }
    if (util_buf_failed(&conn->wbuf)) {
        ingress_conn_destroy(conn);
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
    h2o_iovec_t iov = h2o_iovec_init(conn->wbuf_out.data, conn->wbuf_out.len);
    h2o_socket_write(conn->sock, &iov, 1, on_write_done);
}

static void on_flush(h2o_timeout_entry_t *entry)
{
    flush(H2O_STRUCT_FROM_MEMBER(ingress_conn_t, flush, entry));
}

static void on_write_done(h2o_socket_t *sock, const char *err)
{
    ingress_conn_t *conn = sock->data;
    if (conn == NULL)
        return;
    conn->writing = 0;
    conn->wbuf_out.len = 0;
    if (conn->wbuf_out.cap > 256 * 1024)
        util_buf_dispose(&conn->wbuf_out); /* a big burst is over: do not keep its buffer per connection */
    if (err != NULL) {
        ingress_conn_destroy(conn);
        return;
    }
    flush(conn);
}

static void on_read(h2o_socket_t *sock, const char *err)
{
    ingress_conn_t *conn = sock->data;
    if (conn == NULL)
        return;
    if (err != NULL) {
        ingress_conn_destroy(conn); /* the client went away: its calls are cancelled upstream */
        return;
    }
    ssize_t n = nghttp2_session_mem_recv(conn->session, (const uint8_t *)sock->input->bytes, sock->input->size);
    if (n < 0) {
        /* Not HTTP/2 (or a fatal protocol error): nghttp2 has queued a GOAWAY where it can;
           send what is queued, then close. */
        h2o_buffer_consume(&sock->input, sock->input->size);
        h2o_socket_read_stop(sock);
        if (n == NGHTTP2_ERR_BAD_CLIENT_MAGIC) {
            ingress_conn_destroy(conn);
            return;
        }
        nghttp2_session_terminate_session(conn->session, NGHTTP2_PROTOCOL_ERROR);
        conn->goaway_sent = 1;
        conn->closing = 1;
        timer_link(conn, &conn->ing->handshake); /* a client that does not read its GOAWAY is dropped */
        flush(conn);
        return;
    }
    h2o_buffer_consume(&sock->input, (size_t)n);
    /* Answer at once (SETTINGS ack, WINDOW_UPDATE, PING ack) with whatever the callbacks queued. */
    ingress_conn_schedule_flush(conn);
}

static void on_conn_timer(h2o_timeout_entry_t *entry)
{
    ingress_conn_t *conn = H2O_STRUCT_FROM_MEMBER(ingress_conn_t, timer, entry);
    if (conn->session == NULL || !conn->preface_done || conn->closing) {
        /* no TLS handshake or no HTTP/2 preface in time, stopping during it, or the last words
           after a protocol error were not taken */
        ingress_conn_destroy(conn);
        return;
    }
    if (conn->n_streams != 0)
        return;
    if (conn->goaway_sent) {
        ingress_conn_destroy(conn); /* a whole idle period after our GOAWAY and still open */
        return;
    }
    ingress_conn_goaway(conn, NGHTTP2_NO_ERROR, "idle timeout");
    timer_link(conn, &conn->ing->idle);
}

static int start_session(ingress_conn_t *conn)
{
    grpc_ingress_t *ing = conn->ing;
    if (nghttp2_session_server_new2(&conn->session, ing->callbacks, conn, ing->option) != 0) {
        conn->session = NULL;
        return -1;
    }
    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, ing->cfg.max_concurrent_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, INGRESS_STREAM_WINDOW},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, ing->cfg.max_header_bytes},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
    };
    if (nghttp2_submit_settings(conn->session, NGHTTP2_FLAG_NONE, settings, sizeof(settings) / sizeof(settings[0])) != 0 ||
        nghttp2_session_set_local_window_size(conn->session, NGHTTP2_FLAG_NONE, 0, INGRESS_CONN_WINDOW) != 0)
        return -1;
    h2o_socket_read_start(conn->sock, on_read);
    if (conn->sock->input->size != 0)
        on_read(conn->sock, NULL); /* bytes that came with the TLS handshake */
    else
        ingress_conn_schedule_flush(conn);
    return 0;
}

static void on_handshake(h2o_socket_t *sock, const char *err)
{
    ingress_conn_t *conn = sock->data;
    if (conn == NULL)
        return;
    if (err != NULL) {
        ingress_conn_destroy(conn);
        return;
    }
    h2o_iovec_t proto = h2o_socket_ssl_get_selected_protocol(sock);
    /* no ALPN at all is taken as prior knowledge; anything but h2 is refused */
    if (proto.len != 0 && !(proto.len == 2 && memcmp(proto.base, "h2", 2) == 0)) {
        ingress_conn_destroy(conn);
        return;
    }
    if (start_session(conn) != 0)
        ingress_conn_destroy(conn);
}

void grpc_ingress_accept(grpc_ingress_t *ing, h2o_socket_t *sock, SSL_CTX *ssl_ctx)
{
    if (ing->stopping) {
        h2o_socket_close(sock);
        return;
    }
    ingress_conn_t *conn = calloc(1, sizeof(*conn));
    if (conn == NULL) {
        h2o_socket_close(sock);
        return;
    }
    conn->ing = ing;
    conn->sock = sock;
    sock->data = conn;
    h2o_linklist_init_anchor(&conn->streams);
    util_buf_init(&conn->wbuf);
    util_buf_init(&conn->wbuf_out);
    conn->flush.cb = on_flush;
    conn->timer.cb = on_conn_timer;
    h2o_linklist_insert(&ing->conns, &conn->_link);
    ing->stats.connections++;
    ing->stats.connections_accepted++;
    timer_link(conn, &ing->handshake);
    if (ssl_ctx != NULL) {
        h2o_socket_ssl_handshake(sock, ssl_ctx, NULL, on_handshake);
        return;
    }
    if (start_session(conn) != 0)
        ingress_conn_destroy(conn);
}

nghttp2_session_callbacks *ingress_conn_callbacks_new(void)
{
    nghttp2_session_callbacks *cbs;
    if (nghttp2_session_callbacks_new(&cbs) != 0)
        return NULL;
    ingress_call_install_callbacks(cbs);
    return cbs;
}
