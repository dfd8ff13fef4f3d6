/*
 * upstream_grpc_client_test.c — src/upstream's gRPC client against a scripted HTTP/2 server
 * that runs on the same h2o loop (an nghttp2 server session), so that the responses a real
 * gRPC server never sends can be tested too: trailers-only, HTTP errors without grpc-status,
 * missing trailers, wrong content-type, compressed / oversized / truncated messages, resets,
 * GOAWAY, a dropped connection, a tight MAX_CONCURRENT_STREAMS. Also: deadlines, cancellation,
 * connect failure with backoff (fail fast, then retry), flow control with 1.5 MiB messages,
 * write batching, metadata in both directions, argument checks, and TLS (ALPN h2, certificate
 * verification) with a certificate made on the spot.
 *
 * The scripted server picks its behaviour from the method name: /test.Svc/<Behaviour>.
 * upstream_shop_test.c covers the same client against the real grpc-core backend.
 */
#include "upstream/upstream.h"

#include <arpa/inet.h>
#include <signal.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <h2o/timeout.h>
#include <nghttp2/nghttp2.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "test.h"
#include "test_tls.h"

static h2o_loop_t *loop;

static uint64_t wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

/* Runs the loop until *done is non-zero or |ms| pass; returns *done. */
static int run_until(const int *done, uint64_t ms)
{
    uint64_t end = wall_ms() + ms;
    while (!*done && wall_ms() < end)
        h2o_evloop_run(loop, 10);
    return *done;
}

static void run_for(uint64_t ms)
{
    uint64_t end = wall_ms() + ms;
    while (wall_ms() < end)
        h2o_evloop_run(loop, 5);
}

/* =========================================================================================
 * The scripted server
 */
typedef struct fake_server fake_server_t;
typedef struct fake_conn fake_conn_t;

typedef struct fake_stream {
    fake_conn_t *fc;
    int32_t id;
    char behaviour[64];
    char headers[2048]; /* "name: value\n" of the request */
    grpc_deframer_t deframer;
    util_buf_t out;
    size_t out_off;
    int out_done; /* after |out|: trailers (or END_STREAM for NoStatus) */
    int responded;
    int client_ended;
    h2o_timeout_entry_t slow;
    struct fake_stream *next_in_conn;
} fake_stream_t;

struct fake_conn {
    fake_server_t *srv;
    h2o_socket_t *sock;
    nghttp2_session *session;
    util_buf_t wbuf, wout;
    int writing;
    int kill;
    fake_stream_t *streams;
    fake_conn_t *next;
};

struct fake_server {
    h2o_socket_t *listener;
    uint16_t port;
    uint32_t max_streams;
    fake_conn_t *conns;
    int accepted;
    int open_streams, max_open_streams;
    int requests;
    int resets_cancel; /* RST_STREAM(CANCEL) received */
    int reads;
    int handshake_failures;
    int refused_once, goaway_raced;
    char last_headers[2048];
    h2o_timeout_t slow_timeout; /* 30 ms */
    SSL_CTX *ssl_ctx;           /* TLS when set */
};

static void srv_flush(fake_conn_t *fc);

static void srv_conn_close(fake_conn_t *fc)
{
    fake_server_t *srv = fc->srv;
    for (fake_conn_t **p = &srv->conns; *p != NULL; p = &(*p)->next)
        if (*p == fc) {
            *p = fc->next;
            break;
        }
    while (fc->streams != NULL) {
        fake_stream_t *s = fc->streams;
        fc->streams = s->next_in_conn;
        if (h2o_timeout_is_linked(&s->slow))
            h2o_timeout_unlink(&s->slow);
        grpc_deframer_dispose(&s->deframer);
        util_buf_dispose(&s->out);
        free(s);
        srv->open_streams--;
    }
    h2o_socket_close(fc->sock);
    if (fc->session != NULL)
        nghttp2_session_del(fc->session);
    util_buf_dispose(&fc->wbuf);
    util_buf_dispose(&fc->wout);
    free(fc);
}

static void srv_on_written(h2o_socket_t *sock, const char *err)
{
    fake_conn_t *fc = sock->data;
    fc->writing = 0;
    fc->wout.len = 0;
    if (err != NULL) {
        srv_conn_close(fc);
        return;
    }
    srv_flush(fc);
}

static void srv_flush(fake_conn_t *fc)
{
    if (fc->writing)
        return;
    for (;;) {
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(fc->session, &data);
        if (n <= 0)
            break;
        util_buf_append(&fc->wbuf, data, (size_t)n);
    }
    if (fc->wbuf.len == 0) {
        if (!nghttp2_session_want_read(fc->session) && !nghttp2_session_want_write(fc->session))
            srv_conn_close(fc);
        return;
    }
    util_buf_t t = fc->wout;
    fc->wout = fc->wbuf;
    fc->wbuf = t;
    fc->wbuf.len = 0;
    fc->writing = 1;
    h2o_iovec_t iov = h2o_iovec_init(fc->wout.data, fc->wout.len);
    h2o_socket_write(fc->sock, &iov, 1, srv_on_written);
}

static ssize_t srv_read(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length, uint32_t *flags,
                        nghttp2_data_source *source, void *user_data)
{
    fake_stream_t *s = source->ptr;
    size_t avail = s->out.len - s->out_off;
    if (avail == 0) {
        if (!s->out_done)
            return NGHTTP2_ERR_DEFERRED;
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        if (strcmp(s->behaviour, "NoStatus") != 0 && strcmp(s->behaviour, "BadContentType") != 0) {
            *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
            nghttp2_nv trailers[] = {
                {(uint8_t *)"grpc-status", (uint8_t *)"0", 11, 1, 0},
                {(uint8_t *)"x-trailer", (uint8_t *)"yes", 9, 3, 0},
            };
            nghttp2_submit_trailer(session, stream_id, trailers, 2);
        }
        return 0;
    }
    size_t n = avail < length ? avail : length;
    memcpy(buf, s->out.data + s->out_off, n);
    s->out_off += n;
    return (ssize_t)n;
}

static void srv_respond_headers(fake_stream_t *s, const char *content_type)
{
    nghttp2_nv nva[] = {
        {(uint8_t *)":status", (uint8_t *)"200", 7, 3, 0},
        {(uint8_t *)"content-type", (uint8_t *)content_type, 12, strlen(content_type), 0},
        {(uint8_t *)"x-header", (uint8_t *)"hi", 8, 2, 0},
    };
    nghttp2_data_provider prd;
    prd.source.ptr = s;
    prd.read_callback = srv_read;
    nghttp2_submit_response(s->fc->session, s->id, nva, 3, &prd);
    s->responded = 1;
}

static void srv_frame(fake_stream_t *s, int flags, const void *msg, size_t len)
{
    uint8_t h[5];
    grpc_frame_header_write(h, flags, (uint32_t)len);
    util_buf_append(&s->out, h, 5);
    util_buf_append(&s->out, msg, len);
}

static void srv_finish(fake_stream_t *s)
{
    s->out_done = 1;
    nghttp2_session_resume_data(s->fc->session, s->id);
}

static void srv_on_slow(h2o_timeout_entry_t *entry)
{
    fake_stream_t *s = H2O_STRUCT_FROM_MEMBER(fake_stream_t, slow, entry);
    srv_respond_headers(s, "application/grpc");
    srv_frame(s, 0, "slow", 4);
    srv_finish(s);
    srv_flush(s->fc);
}

/* The request headers are in: act on the behaviours that do not wait for the body. */
static void srv_on_request(fake_stream_t *s)
{
    nghttp2_session *session = s->fc->session;
    const char *b = s->behaviour;
    s->fc->srv->requests++;
    snprintf(s->fc->srv->last_headers, sizeof(s->fc->srv->last_headers), "%s", s->headers);
    if (strcmp(b, "RefuseOnce") == 0 || strcmp(b, "GoAwayRace") == 0) {
        int *done = b[0] == 'R' ? &s->fc->srv->refused_once : &s->fc->srv->goaway_raced;
        if (!*done) {
            *done = 1;
            if (b[0] == 'R')
                nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_REFUSED_STREAM);
            else /* as if the server began shutting down just before this stream arrived */
                nghttp2_submit_goaway(session, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, NULL, 0);
            return;
        }
        snprintf(s->behaviour, sizeof(s->behaviour), "Echo"); /* the second time: served */
        return;
    }
    if (strcmp(b, "TrailersOnly") == 0) {
        nghttp2_nv nva[] = {
            {(uint8_t *)":status", (uint8_t *)"200", 7, 3, 0},
            {(uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16, 0},
            {(uint8_t *)"grpc-status", (uint8_t *)"5", 11, 1, 0},
            {(uint8_t *)"grpc-message", (uint8_t *)"no such sku: caf%C3%A9 100%25", 12, 29, 0},
            {(uint8_t *)"x-detail-bin", (uint8_t *)"AAEC", 12, 4, 0},
        };
        nghttp2_submit_response(session, s->id, nva, 5, NULL);
        s->responded = 1;
    } else if (strcmp(b, "Http503") == 0 || strcmp(b, "Http404") == 0) {
        nghttp2_nv nva[] = {{(uint8_t *)":status", (uint8_t *)(b[4] == '5' ? "503" : "404"), 7, 3, 0}};
        nghttp2_submit_response(session, s->id, nva, 1, NULL);
        s->responded = 1;
    } else if (strcmp(b, "Refused") == 0) {
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_REFUSED_STREAM);
    } else if (strcmp(b, "Calm") == 0) {
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_ENHANCE_YOUR_CALM);
    } else if (strcmp(b, "Kill") == 0) {
        s->fc->kill = 1;
    } else if (strcmp(b, "BadContentType") == 0) {
        srv_respond_headers(s, "text/html");
        util_buf_puts(&s->out, "<html>");
        srv_finish(s);
    } else if (strcmp(b, "Compressed") == 0) {
        srv_respond_headers(s, "application/grpc");
        srv_frame(s, 1, "zz", 2);
        srv_finish(s);
    } else if (strcmp(b, "Huge") == 0) {
        srv_respond_headers(s, "application/grpc");
        util_buf_append(&s->out, "\0\0\x20\0\0abc", 8); /* announces 2 MiB */
        srv_finish(s);
    } else if (strcmp(b, "Truncated") == 0) {
        srv_respond_headers(s, "application/grpc");
        util_buf_append(&s->out,
                        "\0\0\0\0\x0a"
                        "abc",
                        8);
        srv_finish(s);
    } else if (strcmp(b, "NoStatus") == 0) {
        srv_respond_headers(s, "application/grpc");
        srv_frame(s, 0, "m", 1);
        srv_finish(s);
    } else if (strcmp(b, "Stream") == 0) {
        srv_respond_headers(s, "application/grpc");
        for (int i = 0; i < 5; i++) {
            char m[8];
            snprintf(m, sizeof(m), "msg%d", i);
            srv_frame(s, 0, m, strlen(m));
        }
        srv_finish(s);
    } else if (strcmp(b, "GoAway") == 0) {
        srv_respond_headers(s, "application/grpc");
        srv_frame(s, 0, "bye", 3);
        srv_finish(s);
        nghttp2_submit_goaway(session, NGHTTP2_FLAG_NONE, s->id, NGHTTP2_NO_ERROR, NULL, 0);
    }
    /* Echo, Slow, Hang: wait for the body. */
}

static int srv_on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    fake_conn_t *fc = user_data;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    fake_stream_t *s = calloc(1, sizeof(*s));
    s->fc = fc;
    s->id = frame->hd.stream_id;
    grpc_deframer_init(&s->deframer, 16 << 20);
    util_buf_init(&s->out);
    s->slow.cb = srv_on_slow;
    s->next_in_conn = fc->streams;
    fc->streams = s;
    nghttp2_session_set_stream_user_data(session, s->id, s);
    fc->srv->open_streams++;
    if (fc->srv->open_streams > fc->srv->max_open_streams)
        fc->srv->max_open_streams = fc->srv->open_streams;
    return 0;
}

static int srv_on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                         const uint8_t *value, size_t valuelen, uint8_t flags, void *user_data)
{
    fake_stream_t *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (s == NULL)
        return 0;
    if (namelen == 5 && memcmp(name, ":path", 5) == 0) {
        const char *slash = memrchr(value, '/', valuelen);
        size_t off = slash ? (size_t)(slash - (const char *)value) + 1 : 0;
        snprintf(s->behaviour, sizeof(s->behaviour), "%.*s", (int)(valuelen - off), value + off);
    }
    size_t used = strlen(s->headers);
    snprintf(s->headers + used, sizeof(s->headers) - used, "%.*s: %.*s\n", (int)namelen, name, (int)valuelen, value);
    return 0;
}

static int srv_on_data(nghttp2_session *session, uint8_t flags, int32_t stream_id, const uint8_t *data, size_t len, void *user_data)
{
    fake_stream_t *s = nghttp2_session_get_stream_user_data(session, stream_id);
    if (s == NULL || strcmp(s->behaviour, "Echo") != 0)
        return 0;
    grpc_frame_t f;
    while (grpc_deframer_next(&s->deframer, &data, &len, &f, NULL) == 1) {
        if (!s->responded)
            srv_respond_headers(s, "application/grpc");
        srv_frame(s, 0, f.data, f.len);
        nghttp2_session_resume_data(session, stream_id);
    }
    return 0;
}

static int srv_on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    fake_stream_t *s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (s == NULL)
        return 0;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
        srv_on_request(s);
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        s->client_ended = 1;
        if (strcmp(s->behaviour, "Echo") == 0) {
            if (!s->responded)
                srv_respond_headers(s, "application/grpc");
            srv_finish(s);
        } else if (strcmp(s->behaviour, "Slow") == 0) {
            h2o_timeout_link(loop, &s->fc->srv->slow_timeout, &s->slow);
        }
    }
    return 0;
}

static int srv_on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code, void *user_data)
{
    fake_conn_t *fc = user_data;
    fake_stream_t *s = nghttp2_session_get_stream_user_data(session, stream_id);
    if (s == NULL)
        return 0;
    if (error_code == NGHTTP2_CANCEL)
        fc->srv->resets_cancel++;
    for (fake_stream_t **p = &fc->streams; *p != NULL; p = &(*p)->next_in_conn)
        if (*p == s) {
            *p = s->next_in_conn;
            break;
        }
    if (h2o_timeout_is_linked(&s->slow))
        h2o_timeout_unlink(&s->slow);
    grpc_deframer_dispose(&s->deframer);
    util_buf_dispose(&s->out);
    free(s);
    fc->srv->open_streams--;
    return 0;
}

static void srv_on_read(h2o_socket_t *sock, const char *err)
{
    fake_conn_t *fc = sock->data;
    if (err != NULL) {
        srv_conn_close(fc);
        return;
    }
    fc->srv->reads++;
    ssize_t n = nghttp2_session_mem_recv(fc->session, (const uint8_t *)sock->input->bytes, sock->input->size);
    if (n < 0 || fc->kill) {
        srv_conn_close(fc);
        return;
    }
    h2o_buffer_consume(&sock->input, (size_t)n);
    srv_flush(fc);
}

static void srv_session_start(fake_conn_t *fc)
{
    nghttp2_session_callbacks *cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, srv_on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, srv_on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, srv_on_data);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, srv_on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, srv_on_stream_close);
    nghttp2_session_server_new(&fc->session, cbs, fc);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, fc->srv->max_streams}};
    nghttp2_submit_settings(fc->session, NGHTTP2_FLAG_NONE, iv, 1);
    h2o_socket_read_start(fc->sock, srv_on_read);
    srv_flush(fc);
}

static void srv_on_handshake(h2o_socket_t *sock, const char *err)
{
    fake_conn_t *fc = sock->data;
    if (err != NULL) {
        fc->srv->handshake_failures++;
        for (fake_conn_t **p = &fc->srv->conns; *p != NULL; p = &(*p)->next)
            if (*p == fc) {
                *p = fc->next;
                break;
            }
        h2o_socket_close(sock);
        free(fc);
        return;
    }
    srv_session_start(fc);
}

static void srv_on_accept(h2o_socket_t *listener, const char *err)
{
    fake_server_t *srv = listener->data;
    h2o_socket_t *sock;
    if (err != NULL)
        return;
    while ((sock = h2o_evloop_socket_accept(listener)) != NULL) {
        fake_conn_t *fc = calloc(1, sizeof(*fc));
        fc->srv = srv;
        fc->sock = sock;
        sock->data = fc;
        util_buf_init(&fc->wbuf);
        util_buf_init(&fc->wout);
        fc->next = srv->conns;
        srv->conns = fc;
        srv->accepted++;
        if (srv->ssl_ctx != NULL)
            h2o_socket_ssl_handshake(sock, srv->ssl_ctx, NULL, srv_on_handshake);
        else
            srv_session_start(fc);
    }
}

static void srv_start(fake_server_t *srv, uint32_t max_streams)
{
    memset(srv, 0, sizeof(*srv));
    srv->max_streams = max_streams;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&sin, sizeof(sin));
    listen(fd, 128);
    socklen_t len = sizeof(sin);
    getsockname(fd, (struct sockaddr *)&sin, &len);
    srv->port = ntohs(sin.sin_port);
    srv->listener = h2o_evloop_socket_create(loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    srv->listener->data = srv;
    h2o_socket_read_start(srv->listener, srv_on_accept);
    h2o_timeout_init(loop, &srv->slow_timeout, 30);
}

static void srv_stop(fake_server_t *srv)
{
    while (srv->conns != NULL)
        srv_conn_close(srv->conns);
    h2o_socket_read_stop(srv->listener);
    h2o_socket_close(srv->listener);
    h2o_timeout_dispose(loop, &srv->slow_timeout);
}

/* =========================================================================================
 * Client side: a recorder per call
 */
typedef struct rec {
    int closed, close_count;
    int headers_count;
    int code;
    char message[512];
    int http_status;
    int local;
    int n_messages;
    size_t bytes;
    char first_message[64];
    char header_text[512];  /* "name: value\n" of the response headers */
    char trailer_text[512]; /* same, trailers */
    int after_cancel;       /* callbacks seen after cancel */
    int cancelled;
    uint64_t closed_at;
    uint8_t *echo_expect; /* for the big echo: compare what comes back */
    size_t echo_len;
    int echo_ok;
} rec_t;

static void list_headers(char *out, size_t size, const upstream_header_t *h, size_t n)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && used < size; i++) {
        int k = snprintf(out + used, size - used, "%.*s: %.*s\n", (int)h[i].name_len, h[i].name, (int)h[i].value_len, h[i].value);
        if (k < 0)
            break;
        used += (size_t)k;
    }
}

static void rec_on_headers(void *ctx, const upstream_header_t *h, size_t n)
{
    rec_t *r = ctx;
    if (r->cancelled)
        r->after_cancel++;
    r->headers_count++;
    list_headers(r->header_text, sizeof(r->header_text), h, n);
}

static void rec_on_message(void *ctx, const uint8_t *data, size_t len)
{
    rec_t *r = ctx;
    if (r->cancelled)
        r->after_cancel++;
    if (r->n_messages == 0)
        snprintf(r->first_message, sizeof(r->first_message), "%.*s", (int)(len < 60 ? len : 60), (const char *)data);
    if (r->echo_expect != NULL)
        r->echo_ok = len == r->echo_len && memcmp(data, r->echo_expect, len) == 0;
    r->n_messages++;
    r->bytes += len;
}

static void rec_on_close(void *ctx, const upstream_grpc_result_t *res)
{
    rec_t *r = ctx;
    if (r->cancelled)
        r->after_cancel++;
    r->closed = 1;
    r->close_count++;
    r->code = res->code;
    snprintf(r->message, sizeof(r->message), "%s", res->message);
    r->http_status = res->http_status;
    r->local = res->local;
    r->closed_at = wall_ms();
    list_headers(r->trailer_text, sizeof(r->trailer_text), res->trailers, res->n_trailers);
}

static const upstream_grpc_callbacks_t rec_cb = {rec_on_headers, rec_on_message, rec_on_close};

/* The grpc-timeout the server saw, in ms (-1 when absent or malformed). The client sends what
 * is left of the deadline when the stream opens, so it may be a little below the timeout. */
static int64_t seen_timeout_ms(const char *headers)
{
    const char *p = strstr(headers, "grpc-timeout: ");
    if (p == NULL)
        return -1;
    p += 14;
    const char *end = strchr(p, '\n');
    int64_t ms;
    if (end == NULL || grpc_timeout_parse(p, (size_t)(end - p), &ms, NULL) != 0)
        return -1;
    return ms;
}

static upstream_grpc_pool_t *pool_for(uint16_t port, uint32_t max_conns, util_error_t *err)
{
    char target[64];
    snprintf(target, sizeof(target), "127.0.0.1:%u", port);
    const char *targets[] = {target};
    upstream_grpc_config_t cfg = {0};
    cfg.targets = targets;
    cfg.n_targets = 1;
    cfg.max_connections_per_target = max_conns;
    cfg.max_recv_message_size = 1 << 20;
    cfg.backoff_initial_ms = 200;
    cfg.backoff_max_ms = 800;
    cfg.connect_timeout_ms = 1000;
    return upstream_grpc_pool_new(loop, &cfg, err);
}

/* One unary call of /test.Svc/<behaviour> with request "ping"; waits for on_close. */
static void unary(upstream_grpc_pool_t *pool, const char *behaviour, rec_t *r, int64_t timeout_ms)
{
    char path[96];
    snprintf(path, sizeof(path), "/test.Svc/%s", behaviour);
    memset(r, 0, sizeof(*r));
    upstream_grpc_call_t *call = upstream_grpc_call_start(pool, path, NULL, 0, timeout_ms, &rec_cb, r, NULL);
    if (call == NULL) {
        TEST_FAIL_("call_start(%s) returned NULL", path);
        return;
    }
    upstream_grpc_call_send(call, (const uint8_t *)"ping", 4);
    upstream_grpc_call_close_send(call);
    if (!run_until(&r->closed, 3000))
        TEST_FAIL_("%s: no on_close within 3 s", behaviour);
}

/* ---- table: one unary call per scripted behaviour ----------------------------------------- */
typedef struct {
    const char *behaviour;
    int code;
    const char *message_has; /* fragment of the status message */
    int http_status;
    int local;
    int n_messages;
    const char *trailers_has; /* fragment of the trailer list, or NULL */
    int headers_count;
} outcome_case_t;

static const outcome_case_t outcome_cases[] = {
    {"Echo", GRPC_CODE_OK, "", 200, 0, 1, "x-trailer: yes", 1},
    {"Stream", GRPC_CODE_OK, "", 200, 0, 5, "x-trailer: yes", 1},
    {"TrailersOnly", GRPC_CODE_NOT_FOUND, "no such sku: caf\xc3\xa9 100%", 200, 0, 0, "x-detail-bin: AAEC", 0},
    {"Http503", GRPC_CODE_UNAVAILABLE, "HTTP 503", 503, 1, 0, NULL, 0},
    {"Http404", GRPC_CODE_UNIMPLEMENTED, "HTTP 404", 404, 1, 0, NULL, 0},
    {"BadContentType", GRPC_CODE_UNKNOWN, "text/html", 200, 1, 0, NULL, 0},
    {"NoStatus", GRPC_CODE_INTERNAL, "without trailers", 200, 1, 1, NULL, 1},
    {"Compressed", GRPC_CODE_INTERNAL, "compressed", 200, 1, 0, NULL, 1},
    {"Huge", GRPC_CODE_RESOURCE_EXHAUSTED, "exceeds the limit", 200, 1, 0, NULL, 1},
    {"Truncated", GRPC_CODE_INTERNAL, "middle of a message", 200, 1, 0, NULL, 1},
    {"Refused", GRPC_CODE_UNAVAILABLE, "REFUSED_STREAM", 0, 1, 0, NULL, 0},
    {"Calm", GRPC_CODE_RESOURCE_EXHAUSTED, "reset the stream", 0, 1, 0, NULL, 0},
    {"RefuseOnce", GRPC_CODE_OK, "", 200, 0, 1, "x-trailer: yes", 1}, /* retried transparently */
    {"GoAwayRace", GRPC_CODE_OK, "", 200, 0, 1, "x-trailer: yes", 1}, /* retried on a new connection */
    {"Kill", GRPC_CODE_UNAVAILABLE, "lost", 0, 1, 0, NULL, 0},
    {"Echo", GRPC_CODE_OK, "", 200, 0, 1, NULL, 1}, /* the pool reconnects after Kill */
};

static void test_outcomes(void)
{
    fake_server_t srv;
    srv_start(&srv, 100);
    upstream_grpc_pool_t *pool = pool_for(srv.port, 1, NULL);
    CHECK(pool != NULL);
    for (size_t i = 0; i < sizeof(outcome_cases) / sizeof(outcome_cases[0]); i++) {
        const outcome_case_t *c = &outcome_cases[i];
        rec_t r;
        unary(pool, c->behaviour, &r, 0);
        if (r.code != c->code || strstr(r.message, c->message_has) == NULL)
            fprintf(stderr, "case %s: code %d message \"%s\"\n", c->behaviour, r.code, r.message);
        CHECK_INT_EQ(r.close_count, 1);
        CHECK_INT_EQ(r.code, c->code);
        CHECK_STR_HAS(r.message, c->message_has);
        CHECK_INT_EQ(r.http_status, c->http_status);
        CHECK_INT_EQ(r.local, c->local);
        CHECK_INT_EQ(r.n_messages, c->n_messages);
        CHECK_INT_EQ(r.headers_count, c->headers_count);
        if (c->trailers_has != NULL)
            CHECK_STR_HAS(r.trailer_text, c->trailers_has);
        if (c->headers_count)
            CHECK_STR_HAS(r.header_text, "x-header: hi");
        /* Status and message are not repeated among the trailers. */
        CHECK(strstr(r.trailer_text, "grpc-status") == NULL && strstr(r.trailer_text, "grpc-message") == NULL);
    }
    {
        rec_t r;
        unary(pool, "Echo", &r, 0);
        CHECK_STR_EQ(r.first_message, "ping");
    }
    run_for(20);
    CHECK_INT_EQ(srv.accepted, 3); /* reconnects after GoAwayRace and Kill */
    upstream_grpc_stats_t st;
    upstream_grpc_pool_stats(pool, &st);
    CHECK_INT_EQ(st.transparent_retries, 2 + 1 + 1); /* Refused twice, RefuseOnce, GoAwayRace */
    upstream_grpc_pool_free(pool);
    srv_stop(&srv);
    run_for(10);
}

/* ---- request metadata and headers as the server sees them ---------------------------------- */
static void test_request_headers(void)
{
    fake_server_t srv;
    srv_start(&srv, 100);
    upstream_grpc_pool_t *pool = pool_for(srv.port, 1, NULL);
    upstream_header_t md[] = {
        {"x-request-id", 12, "abc-1", 5},
        {"x-blob-bin", 10, "AAEC", 4},
        {"content-type", 12, "text/plain", 10}, /* reserved: skipped */
        {"grpc-timeout", 12, "1S", 2},          /* reserved: the call's own deadline is sent */
        {"te", 2, "gzip", 4},                   /* reserved */
    };
    rec_t r = {0};
    upstream_grpc_call_t *call = upstream_grpc_call_start(pool, "/test.Svc/Echo", md, 5, 5000, &rec_cb, &r, NULL);
    CHECK(call != NULL);
    upstream_grpc_call_close_send(call);
    run_until(&r.closed, 3000);
    CHECK_INT_EQ(r.code, GRPC_CODE_OK);
    CHECK_INT_EQ(r.n_messages, 0);
    const char *h = srv.last_headers;
    CHECK_STR_HAS(h, ":method: POST\n");
    CHECK_STR_HAS(h, ":scheme: http\n");
    CHECK_STR_HAS(h, ":path: /test.Svc/Echo\n");
    char authority[64];
    snprintf(authority, sizeof(authority), ":authority: 127.0.0.1:%u\n", srv.port);
    CHECK_STR_HAS(h, authority);
    CHECK_STR_HAS(h, "content-type: application/grpc\n");
    CHECK_STR_HAS(h, "te: trailers\n");
    int64_t sent = seen_timeout_ms(h);
    CHECK(sent > 4000 && sent <= 5000);
    CHECK_STR_HAS(h, "user-agent: portico/");
    CHECK_STR_HAS(h, "x-request-id: abc-1\n");
    CHECK_STR_HAS(h, "x-blob-bin: AAEC\n");
    CHECK(strstr(h, "text/plain") == NULL);
    CHECK(strstr(h, "gzip") == NULL);
    CHECK(strstr(h, "grpc-timeout: 1S") == NULL);

    /* Invalid input is refused synchronously, naming it; no callback follows. */
    typedef struct {
        const char *path;
        upstream_header_t md;
        const char *error_has;
    } bad_case_t;
    const bad_case_t bad[] = {
        {"test.Svc/Echo", {"x-a", 3, "b", 1}, "must look like"},  {"/", {"x-a", 3, "b", 1}, "must look like"},
        {"/test.Svc/Ec ho", {"x-a", 3, "b", 1}, "space"},         {"/test.Svc/Echo", {"X-Upper", 7, "b", 1}, "X-Upper"},
        {"/test.Svc/Echo", {"x-a", 3, "line\nbreak", 10}, "x-a"}, {"/test.Svc/Echo", {"x-a-bin", 7, "not base64!", 11}, "base64"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        util_error_t err = {0};
        rec_t br = {0};
        CHECK(upstream_grpc_call_start(pool, bad[i].path, &bad[i].md, 1, 0, &rec_cb, &br, &err) == NULL);
        CHECK_STR_HAS(err.message, bad[i].error_has);
        run_for(5);
        CHECK_INT_EQ(br.close_count, 0);
    }
    util_error_t err = {0};
    upstream_grpc_callbacks_t no_close = {NULL, NULL, NULL};
    CHECK(upstream_grpc_call_start(pool, "/test.Svc/Echo", NULL, 0, 0, &no_close, NULL, &err) == NULL);
    CHECK_STR_HAS(err.message, "on_close");

    upstream_grpc_pool_free(pool);
    srv_stop(&srv);
    run_for(10);
}

/* ---- pool configuration errors ------------------------------------------------------------ */
typedef struct {
    const char *target;
    const char *error_has;
} target_case_t;

static const target_case_t target_cases[] = {
    {"127.0.0.1", "no port"},          {"127.0.0.1:", "invalid port"},
    {"127.0.0.1:0", "invalid port"},   {"127.0.0.1:65536", "invalid port"},
    {"127.0.0.1:80x", "invalid port"}, {":80", "empty host"},
    {"[::1:80", "[address]:port"},     {"no-such-host.invalid:80", "cannot resolve"},
};

static void test_pool_config(void)
{
    for (size_t i = 0; i < sizeof(target_cases) / sizeof(target_cases[0]); i++) {
        const char *targets[] = {target_cases[i].target};
        upstream_grpc_config_t cfg = {.targets = targets, .n_targets = 1};
        util_error_t err = {0};
        CHECK(upstream_grpc_pool_new(loop, &cfg, &err) == NULL);
        CHECK_STR_HAS(err.message, target_cases[i].error_has);
        CHECK_STR_HAS(err.message, target_cases[i].target);
    }
    upstream_grpc_config_t empty = {0};
    util_error_t err = {0};
    CHECK(upstream_grpc_pool_new(loop, &empty, &err) == NULL);
    CHECK_STR_HAS(err.message, "no targets");
    const char *ok[] = {"[::1]:50051", "localhost:50051"};
    upstream_grpc_config_t cfg = {.targets = ok, .n_targets = 2};
    upstream_grpc_pool_t *pool = upstream_grpc_pool_new(loop, &cfg, &err);
    CHECK(pool != NULL);
    upstream_grpc_pool_free(pool);
}

/* ---- deadlines and cancellation -------------------------------------------------------------- */
static rec_t *cancel_target;
static upstream_grpc_call_t *cancel_call;

static void cancel_on_message(void *ctx, const uint8_t *data, size_t len)
{
    rec_t *r = ctx;
    rec_on_message(ctx, data, len);
    if (r->n_messages == 2) {
        upstream_grpc_call_cancel(cancel_call);
        r->cancelled = 1;
    }
}

static void test_deadline_and_cancel(void)
{
    fake_server_t srv;
    srv_start(&srv, 100);
    upstream_grpc_pool_t *pool = pool_for(srv.port, 1, NULL);

    /* Deadline: the server never answers "Hang". */
    rec_t r = {0};
    uint64_t start = wall_ms();
    upstream_grpc_call_t *call = upstream_grpc_call_start(pool, "/test.Svc/Hang", NULL, 0, 150, &rec_cb, &r, NULL);
    upstream_grpc_call_close_send(call);
    run_until(&r.closed, 3000);
    uint64_t took = r.closed_at - start;
    CHECK_INT_EQ(r.code, GRPC_CODE_DEADLINE_EXCEEDED);
    CHECK_STR_HAS(r.message, "150 ms");
    CHECK(r.local);
    if (took < 140 || took > 600)
        TEST_FAIL_("deadline of 150 ms fired after %llu ms", (unsigned long long)took);
    else
        test_passed_++;
    int64_t sent = seen_timeout_ms(srv.last_headers);
    CHECK(sent > 50 && sent <= 150);
    run_for(30);
    CHECK_INT_EQ(srv.resets_cancel, 1); /* the backend was told */
    CHECK_INT_EQ(srv.open_streams, 0);

    /* Cancel before anything came back: no callback ever. */
    rec_t c = {0};
    call = upstream_grpc_call_start(pool, "/test.Svc/Hang", NULL, 0, 0, &rec_cb, &c, NULL);
    upstream_grpc_call_close_send(call);
    run_for(30);
    upstream_grpc_call_cancel(call);
    c.cancelled = 1;
    run_for(60);
    CHECK_INT_EQ(c.close_count, 0);
    CHECK_INT_EQ(c.after_cancel, 0);
    CHECK_INT_EQ(srv.resets_cancel, 2);

    /* Cancel from inside on_message, with more messages in the same read. */
    rec_t m = {0};
    upstream_grpc_callbacks_t cb = rec_cb;
    cb.on_message = cancel_on_message;
    cancel_target = &m;
    cancel_call = upstream_grpc_call_start(pool, "/test.Svc/Stream", NULL, 0, 0, &cb, &m, NULL);
    upstream_grpc_call_close_send(cancel_call);
    run_for(100);
    CHECK_INT_EQ(m.n_messages, 2);
    CHECK_INT_EQ(m.close_count, 0);
    CHECK_INT_EQ(m.after_cancel, 0);

    /* Cancel right after start (still waiting for a stream) and cancel twice. */
    rec_t q = {0};
    call = upstream_grpc_call_start(pool, "/test.Svc/Echo", NULL, 0, 0, &rec_cb, &q, NULL);
    upstream_grpc_call_cancel(call);
    upstream_grpc_call_cancel(call);
    run_for(30);
    CHECK_INT_EQ(q.close_count, 0);

    /* The connection is still good. */
    unary(pool, "Echo", &r, 1000);
    CHECK_INT_EQ(r.code, GRPC_CODE_OK);
    CHECK_INT_EQ(srv.accepted, 1);

    /* Freeing the pool fails what is in flight. */
    rec_t f = {0};
    call = upstream_grpc_call_start(pool, "/test.Svc/Hang", NULL, 0, 0, &rec_cb, &f, NULL);
    run_for(20);
    upstream_grpc_pool_free(pool);
    CHECK_INT_EQ(f.close_count, 1);
    CHECK_INT_EQ(f.code, GRPC_CODE_UNAVAILABLE);
    CHECK_STR_HAS(f.message, "shut down");
    run_for(20);
    srv_stop(&srv);
    run_for(10);
}

/* ---- connect failure, backoff, fail-fast, recovery ------------------------------------------ */
static void test_backoff(void)
{
    /* A port with nothing behind it. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&sin, sizeof(sin));
    socklen_t len = sizeof(sin);
    getsockname(fd, (struct sockaddr *)&sin, &len);
    uint16_t port = ntohs(sin.sin_port);
    close(fd);

    upstream_grpc_pool_t *pool = pool_for(port, 2, NULL);
    upstream_grpc_stats_t st;
    rec_t r;
    uint64_t start = wall_ms();
    unary(pool, "Echo", &r, 0);
    CHECK_INT_EQ(r.code, GRPC_CODE_UNAVAILABLE);
    CHECK_STR_HAS(r.message, "127.0.0.1:");
    CHECK(r.closed_at - start < 500);
    upstream_grpc_pool_stats(pool, &st);
    CHECK_INT_EQ(st.connects, 1);
    CHECK_INT_EQ(st.connect_failures, 1);

    /* While backing off: fail fast, no new attempt, and the message says when the next one is. */
    for (int i = 0; i < 5; i++) {
        unary(pool, "Echo", &r, 0);
        CHECK_INT_EQ(r.code, GRPC_CODE_UNAVAILABLE);
        CHECK_STR_HAS(r.message, "next attempt in");
    }
    upstream_grpc_pool_stats(pool, &st);
    CHECK_INT_EQ(st.connects, 1);
    CHECK(st.calls_failed_fast >= 5);

    /* After the backoff (200 ms +-20%), one new attempt; it fails too and the wait doubles. */
    run_for(300);
    unary(pool, "Echo", &r, 0);
    upstream_grpc_pool_stats(pool, &st);
    CHECK_INT_EQ(st.connects, 2);
    run_for(200);
    unary(pool, "Echo", &r, 0);
    upstream_grpc_pool_stats(pool, &st);
    CHECK_INT_EQ(st.connects, 2); /* still backing off */
    upstream_grpc_pool_free(pool);

    /* A listener that completes the TCP handshake but never speaks HTTP/2: the connect
     * timeout (which runs until the server's SETTINGS) ends the attempt. */
    {
        int lfd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in lsin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        bind(lfd, (struct sockaddr *)&lsin, sizeof(lsin));
        listen(lfd, 16);
        socklen_t llen = sizeof(lsin);
        getsockname(lfd, (struct sockaddr *)&lsin, &llen);
        char target[64];
        snprintf(target, sizeof(target), "127.0.0.1:%u", ntohs(lsin.sin_port));
        const char *targets[] = {target};
        upstream_grpc_config_t cfg = {.targets = targets, .n_targets = 1, .connect_timeout_ms = 200};
        upstream_grpc_pool_t *silent = upstream_grpc_pool_new(loop, &cfg, NULL);
        uint64_t t0 = wall_ms();
        unary(silent, "Echo", &r, 0);
        CHECK_INT_EQ(r.code, GRPC_CODE_UNAVAILABLE);
        CHECK_STR_HAS(r.message, "timed out after 200 ms");
        CHECK(r.closed_at - t0 >= 190 && r.closed_at - t0 < 1000);
        upstream_grpc_pool_free(silent);
        close(lfd);
    }

    /* A reachable backend: a new pool connects at once (restart recovery on the same port is
     * tested against the real backend in upstream_shop_test.c). */
    fake_server_t srv;
    srv_start(&srv, 100);
    pool = pool_for(srv.port, 1, NULL);
    unary(pool, "Echo", &r, 0);
    CHECK_INT_EQ(r.code, GRPC_CODE_OK);
    upstream_grpc_pool_free(pool);
    srv_stop(&srv);
    run_for(10);
}

/* ---- many calls, MAX_CONCURRENT_STREAMS, batching, GOAWAY ------------------------------------ */
static void test_concurrency(void)
{
    fake_server_t srv;
    srv_start(&srv, 4);
    upstream_grpc_pool_t *pool = pool_for(srv.port, 1, NULL);
    enum { N = 40 };
    rec_t r[N];
    memset(r, 0, sizeof(r));
    for (int i = 0; i < N; i++) {
        upstream_grpc_call_t *call = upstream_grpc_call_start(pool, "/test.Svc/Slow", NULL, 0, 5000, &rec_cb, &r[i], NULL);
        upstream_grpc_call_send(call, (const uint8_t *)"x", 1);
        upstream_grpc_call_close_send(call);
    }
    upstream_grpc_stats_t st;
    upstream_grpc_pool_stats(pool, &st);
    CHECK_INT_EQ(st.queued_calls, N); /* nothing is connected yet */
    uint64_t end = wall_ms() + 5000;
    int done = 0;
    while (done < N && wall_ms() < end) {
        h2o_evloop_run(loop, 10);
        done = 0;
        for (int i = 0; i < N; i++)
            done += r[i].closed;
    }
    CHECK_INT_EQ(done, N);
    int ok = 0;
    for (int i = 0; i < N; i++)
        ok += r[i].code == GRPC_CODE_OK && r[i].n_messages == 1;
    CHECK_INT_EQ(ok, N);
    CHECK_INT_EQ(srv.accepted, 1);         /* max_connections_per_target = 1 */
    CHECK_INT_EQ(srv.max_open_streams, 4); /* the server's limit was honoured (and used) */

    /* A burst of 100 calls on a ready connection goes out in one write. */
    upstream_grpc_pool_stats(pool, &st);
    uint64_t writes_before = st.writes;
    enum { B = 100 };
    static rec_t b[B];
    memset(b, 0, sizeof(b));
    upstream_grpc_pool_free(pool);
    srv_stop(&srv);
    run_for(10);

    srv_start(&srv, 1000);
    pool = pool_for(srv.port, 1, NULL);
    rec_t warm;
    unary(pool, "Echo", &warm, 0);
    run_for(20);
    upstream_grpc_pool_stats(pool, &st);
    writes_before = st.writes;
    int reads_before = srv.reads;
    for (int i = 0; i < B; i++) {
        upstream_grpc_call_t *call = upstream_grpc_call_start(pool, "/test.Svc/Echo", NULL, 0, 0, &rec_cb, &b[i], NULL);
        upstream_grpc_call_send(call, (const uint8_t *)"burst", 5);
        upstream_grpc_call_close_send(call);
    }
    h2o_evloop_run(loop, 0); /* one iteration: the tick flushes */
    upstream_grpc_pool_stats(pool, &st);
    CHECK_INT_EQ(st.writes - writes_before, 1);
    CHECK_INT_EQ(st.active_calls, B);
    end = wall_ms() + 5000;
    done = 0;
    while (done < B && wall_ms() < end) {
        h2o_evloop_run(loop, 10);
        done = 0;
        for (int i = 0; i < B; i++)
            done += b[i].closed && b[i].code == GRPC_CODE_OK;
    }
    CHECK_INT_EQ(done, B);
    upstream_grpc_pool_stats(pool, &st);
    if (st.writes - writes_before > 6 || srv.reads - reads_before > 6)
        TEST_FAIL_("100 calls took %llu writes (server: %d reads)", (unsigned long long)(st.writes - writes_before),
                   srv.reads - reads_before);
    else
        test_passed_++;

    /* GOAWAY: the call in flight completes; the next one opens a new connection. */
    rec_t g;
    unary(pool, "GoAway", &g, 0);
    CHECK_INT_EQ(g.code, GRPC_CODE_OK);
    CHECK_STR_EQ(g.first_message, "bye");
    run_for(20);
    unary(pool, "Echo", &g, 0);
    CHECK_INT_EQ(g.code, GRPC_CODE_OK);
    CHECK_INT_EQ(srv.accepted, 2);
    upstream_grpc_pool_stats(pool, &st);
    CHECK_INT_EQ(st.connections, 1); /* the drained one was closed */
    upstream_grpc_pool_free(pool);
    srv_stop(&srv);
    run_for(10);
}

/* ---- flow control: messages far beyond the 64 KiB default window, both ways ------------------- */
static void test_large_messages(void)
{
    fake_server_t srv;
    srv_start(&srv, 100);
    upstream_grpc_pool_t *pool = pool_for(srv.port, 1, NULL);
    size_t len = 900 * 1024; /* below the pool's 1 MiB receive limit */
    uint8_t *big = malloc(len);
    for (size_t i = 0; i < len; i++)
        big[i] = (uint8_t)(i * 31 + 7);
    rec_t r = {0};
    r.echo_expect = big;
    r.echo_len = len;
    upstream_grpc_call_t *call = upstream_grpc_call_start(pool, "/test.Svc/Echo", NULL, 0, 10000, &rec_cb, &r, NULL);
    for (int i = 0; i < 3; i++)
        CHECK_INT_EQ(upstream_grpc_call_send(call, big, len), 0);
    CHECK_INT_EQ(upstream_grpc_call_send_pending(call), 3 * (len + 5));
    upstream_grpc_call_close_send(call);
    CHECK_INT_EQ(upstream_grpc_call_send(call, big, 1), -1); /* after close_send */
    run_until(&r.closed, 10000);
    CHECK_INT_EQ(r.code, GRPC_CODE_OK);
    CHECK_INT_EQ(r.n_messages, 3);
    CHECK_INT_EQ(r.bytes, 3 * len);
    CHECK(r.echo_ok);
    free(big);
    upstream_grpc_pool_free(pool);
    srv_stop(&srv);
    run_for(10);
}

/* ---- TLS: ALPN h2, certificate checks ------------------------------------------------------ */

typedef struct {
    const char *name;
    int server_alpn_h2; /* the server offers h2 (else only http/1.1) */
    int verify;         /* the client verifies the certificate */
    const char *server_name;
    int code;
    const char *message_has;
} tls_case_t;

static const tls_case_t tls_cases[] = {
    {"h2 over TLS, verified", 1, 1, "localhost", GRPC_CODE_OK, ""},
    {"h2 over TLS, unverified", 1, 0, NULL, GRPC_CODE_OK, ""},
    {"no ALPN h2", 0, 0, NULL, GRPC_CODE_UNAVAILABLE, "did not negotiate HTTP/2"},
    {"untrusted certificate", 1, 2, "localhost", GRPC_CODE_UNAVAILABLE, "TLS handshake"},
};

static void test_tls(void)
{
    EVP_PKEY *key;
    X509 *cert;
    make_cert(&key, &cert);
    for (size_t i = 0; i < sizeof(tls_cases) / sizeof(tls_cases[0]); i++) {
        const tls_case_t *c = &tls_cases[i];
        fake_server_t srv;
        srv_start(&srv, 100);
        srv.ssl_ctx = SSL_CTX_new(TLS_server_method());
        SSL_CTX_use_certificate(srv.ssl_ctx, cert);
        SSL_CTX_use_PrivateKey(srv.ssl_ctx, key);
        static const h2o_iovec_t h2[] = {{"h2", 2}, {NULL, 0}};
        static const h2o_iovec_t h1[] = {{"http/1.1", 8}, {NULL, 0}};
        h2o_ssl_register_alpn_protocols(srv.ssl_ctx, c->server_alpn_h2 ? h2 : h1);

        SSL_CTX *client = SSL_CTX_new(TLS_client_method());
        if (c->verify) {
            SSL_CTX_set_verify(client, SSL_VERIFY_PEER, NULL);
            if (c->verify == 1)
                X509_STORE_add_cert(SSL_CTX_get_cert_store(client), cert); /* 2: trust nothing */
        }
        char target[64];
        snprintf(target, sizeof(target), "127.0.0.1:%u", srv.port);
        const char *targets[] = {target};
        upstream_grpc_config_t cfg = {.targets = targets, .n_targets = 1, .ssl_ctx = client, .tls_server_name = c->server_name};
        upstream_grpc_pool_t *pool = upstream_grpc_pool_new(loop, &cfg, NULL);
        rec_t r;
        unary(pool, "Echo", &r, 3000);
        if (r.code != c->code)
            fprintf(stderr, "TLS case \"%s\": code %d \"%s\"\n", c->name, r.code, r.message);
        CHECK_INT_EQ(r.code, c->code);
        CHECK_STR_HAS(r.message, c->message_has);
        if (c->code == GRPC_CODE_OK) {
            CHECK_STR_EQ(r.first_message, "ping");
            CHECK_STR_HAS(srv.last_headers, ":scheme: https\n");
        }
        upstream_grpc_pool_free(pool);
        run_for(20);
        srv_stop(&srv);
        run_for(10);
        SSL_CTX_free(srv.ssl_ctx);
        SSL_CTX_free(client);
    }
    X509_free(cert);
    EVP_PKEY_free(key);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    loop = h2o_evloop_create();
    test_pool_config();
    test_outcomes();
    test_request_headers();
    test_deadline_and_cancel();
    test_backoff();
    test_concurrency();
    test_large_messages();
    test_tls();
    run_for(20);
    h2o_evloop_destroy(loop);
    return test_summary();
}
