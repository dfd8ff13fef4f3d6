/*
 * grpc_ingress_flow_test.c — the native gRPC ingress in one process, on one h2o loop: a test
 * HTTP/2 client (nghttp2, over a socketpair handed to grpc_ingress_accept), the ingress, the
 * real upstream pool, and a scripted backend (an nghttp2 server on a loopback port) whose
 * behaviour the method name picks. This is where the things a real client cannot provoke, or
 * a black-box test cannot measure, are checked:
 *
 *  - the answers to malformed requests, from a table (path, extra headers, body -> :status,
 *    grpc-status, message);
 *  - request flow control: a backend that reads nothing makes the ingress hold the client's
 *    window (stalls counted, bytes held bounded), and everything arrives once it reads;
 *  - response flow control: a client that reads nothing; the per-stream cap ends the call
 *    RESOURCE_EXHAUSTED and cancels it upstream;
 *  - a client RST_STREAM cancels the upstream call; graceful shutdown lets the call in
 *    flight finish; the handshake timeout closes a silent connection.
 */
#include "http/grpc_ingress.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

#include "test.h"
#include "util/buf.h"

static h2o_loop_t *loop;

static uint64_t wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

static int run_until(const int *done, uint64_t ms)
{
    uint64_t end = wall_ms() + ms;
    while (!*done && wall_ms() < end)
        h2o_evloop_run(loop, 5);
    return *done;
}

static void run_for(uint64_t ms)
{
    uint64_t end = wall_ms() + ms;
    while (wall_ms() < end)
        h2o_evloop_run(loop, 5);
}

/* ---- an nghttp2 endpoint over an h2o socket (both the test client and the backend) --------- */

typedef struct peer peer_t;
typedef struct pstream {
    peer_t *p;
    int32_t id;
    char method[64];     /* backend: the gRPC method name after the last '/' */
    char headers[4096];  /* "name: value\n" of the first header block */
    char trailers[4096]; /* of the second */
    int n_blocks;
    util_buf_t out; /* bytes to send (data provider) */
    size_t out_off;
    int out_eof;       /* send END_STREAM (or trailers) once |out| is drained */
    int with_trailers; /* backend: end with grpc-status trailers */
    size_t received;   /* DATA bytes */
    size_t unconsumed; /* DATA bytes not given back (when the peer holds its window) */
    int ended;         /* END_STREAM received */
    int closed;
    uint32_t rst; /* error code of the stream's close */
    struct pstream *next;
} pstream_t;

struct peer {
    h2o_socket_t *sock;
    nghttp2_session *s;
    util_buf_t wbuf, wout;
    int writing;
    int eof;         /* the socket reached EOF or failed */
    int hold_window; /* do not give received DATA back */
    int goaway;      /* GOAWAY received */
    int is_server;
    pstream_t *streams;
};

static void peer_flush(peer_t *p);

static void peer_on_written(h2o_socket_t *sock, const char *err)
{
    peer_t *p = sock->data;
    p->writing = 0;
    p->wout.len = 0;
    if (err != NULL) {
        p->eof = 1;
        return;
    }
    peer_flush(p);
}

static void peer_flush(peer_t *p)
{
    if (p->writing || p->eof)
        return;
    const uint8_t *data;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(p->s, &data)) > 0)
        util_buf_append(&p->wbuf, data, (size_t)n);
    if (p->wbuf.len == 0)
        return;
    util_buf_t t = p->wout;
    p->wout = p->wbuf;
    p->wbuf = t;
    p->wbuf.len = 0;
    p->writing = 1;
    h2o_iovec_t iov = h2o_iovec_init(p->wout.data, p->wout.len);
    h2o_socket_write(p->sock, &iov, 1, peer_on_written);
}

static void peer_on_read(h2o_socket_t *sock, const char *err)
{
    peer_t *p = sock->data;
    if (err != NULL) {
        p->eof = 1;
        h2o_socket_read_stop(sock);
        return;
    }
    ssize_t n = nghttp2_session_mem_recv(p->s, (const uint8_t *)sock->input->bytes, sock->input->size);
    h2o_buffer_consume(&sock->input, sock->input->size);
    if (n < 0)
        p->eof = 1;
    peer_flush(p);
}

static pstream_t *pstream_of(peer_t *p, int32_t id)
{
    for (pstream_t *st = p->streams; st != NULL; st = st->next)
        if (st->id == id)
            return st;
    return NULL;
}

static pstream_t *pstream_new(peer_t *p, int32_t id)
{
    pstream_t *st = calloc(1, sizeof(*st));
    st->p = p;
    st->id = id;
    st->next = p->streams;
    p->streams = st;
    return st;
}

static void peer_give_back(peer_t *p, pstream_t *st)
{
    if (st->unconsumed != 0) {
        nghttp2_session_consume(p->s, st->id, st->unconsumed);
        st->unconsumed = 0;
    }
}

static ssize_t on_read_out(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length, uint32_t *flags,
                           nghttp2_data_source *source, void *user_data)
{
    pstream_t *st = source->ptr;
    size_t avail = st->out.len - st->out_off;
    if (avail == 0) {
        if (!st->out_eof)
            return NGHTTP2_ERR_DEFERRED;
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        if (st->with_trailers) {
            *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
            nghttp2_nv t[] = {{(uint8_t *)"grpc-status", (uint8_t *)"0", 11, 1, 0}};
            nghttp2_submit_trailer(session, stream_id, t, 1);
        }
        return 0;
    }
    size_t n = avail < length ? avail : length;
    memcpy(buf, st->out.data + st->out_off, n);
    st->out_off += n;
    return (ssize_t)n;
}

static int on_begin_headers_cb(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    peer_t *p = user_data;
    if (p->is_server && frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
        pstream_new(p, frame->hd.stream_id);
    return 0;
}

static int on_header_cb(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                        const uint8_t *value, size_t valuelen, uint8_t flags, void *user_data)
{
    pstream_t *st = pstream_of(user_data, frame->hd.stream_id);
    if (st == NULL)
        return 0;
    char *dst = st->n_blocks == 0 ? st->headers : st->trailers;
    size_t used = strlen(dst);
    snprintf(dst + used, sizeof(st->headers) - used, "%.*s: %.*s\n", (int)namelen, (const char *)name, (int)valuelen,
             (const char *)value);
    if (namelen == 5 && memcmp(name, ":path", 5) == 0) {
        const char *slash = memrchr(value, '/', valuelen);
        size_t off = slash ? (size_t)(slash - (const char *)value) + 1 : 0;
        snprintf(st->method, sizeof(st->method), "%.*s", (int)(valuelen - off), (const char *)value + off);
    }
    return 0;
}

/* backend: respond 200 with a data provider over st->out */
static void backend_respond(pstream_t *st)
{
    nghttp2_nv nva[] = {
        {(uint8_t *)":status", (uint8_t *)"200", 7, 3, 0},
        {(uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16, 0},
        {(uint8_t *)"x-backend", (uint8_t *)"yes", 9, 3, 0},
    };
    nghttp2_data_provider prd = {.source.ptr = st, .read_callback = on_read_out};
    st->with_trailers = 1;
    nghttp2_submit_response(st->p->s, st->id, nva, 3, &prd);
}

static size_t header_num(const char *headers, const char *name)
{
    const char *h = strstr(headers, name);
    return h != NULL ? (size_t)strtoull(h + strlen(name) + 2, NULL, 10) : 0;
}

static int on_frame_recv_cb(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    peer_t *p = user_data;
    if (frame->hd.type == NGHTTP2_GOAWAY)
        p->goaway = 1;
    pstream_t *st = pstream_of(p, frame->hd.stream_id);
    if (st == NULL || (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA))
        return 0;
    if (frame->hd.type == NGHTTP2_HEADERS)
        st->n_blocks++;
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
        st->ended = 1;
    if (!p->is_server)
        return 0;
    if (frame->hd.type == NGHTTP2_HEADERS && st->n_blocks == 1) {
        if (strcmp(st->method, "Flood") == 0) {
            /* x-count messages of x-size bytes, all at once */
            size_t count = header_num(st->headers, "x-count"), size = header_num(st->headers, "x-size");
            uint8_t *msg = calloc(1, size + 1);
            for (size_t i = 0; i < count; i++) {
                uint8_t h[5] = {0, (uint8_t)(size >> 24), (uint8_t)(size >> 16), (uint8_t)(size >> 8), (uint8_t)size};
                util_buf_append(&st->out, h, 5);
                util_buf_append(&st->out, msg, size);
            }
            free(msg);
            st->out_eof = 1;
            backend_respond(st);
        } else if (strcmp(st->method, "Echo") == 0 || strcmp(st->method, "Sink") == 0 || strcmp(st->method, "Hang") == 0) {
            backend_respond(st);
        }
    }
    if (st->ended && (strcmp(st->method, "Echo") == 0 || strcmp(st->method, "Sink") == 0)) {
        st->out_eof = 1;
        nghttp2_session_resume_data(session, st->id);
    }
    return 0;
}

static int on_data_cb(nghttp2_session *session, uint8_t flags, int32_t stream_id, const uint8_t *data, size_t len, void *user_data)
{
    peer_t *p = user_data;
    pstream_t *st = pstream_of(p, stream_id);
    if (st == NULL) {
        nghttp2_session_consume(session, stream_id, len);
        return 0;
    }
    st->received += len;
    st->unconsumed += len;
    if (p->is_server && strcmp(st->method, "Echo") == 0) {
        util_buf_append(&st->out, data, len);
        nghttp2_session_resume_data(session, stream_id);
    }
    if (!p->hold_window)
        peer_give_back(p, st);
    return 0;
}

static int on_close_cb(nghttp2_session *session, int32_t stream_id, uint32_t error_code, void *user_data)
{
    pstream_t *st = pstream_of(user_data, stream_id);
    if (st != NULL) {
        st->closed = 1;
        st->rst = error_code;
    }
    return 0;
}

static void peer_init(peer_t *p, h2o_socket_t *sock, int is_server)
{
    memset(p, 0, sizeof(*p));
    p->sock = sock;
    p->is_server = is_server;
    sock->data = p;
    nghttp2_session_callbacks *cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers_cb);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header_cb);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv_cb);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_cb);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_close_cb);
    nghttp2_option *opt;
    nghttp2_option_new(&opt);
    nghttp2_option_set_no_auto_window_update(opt, 1);
    if (is_server)
        nghttp2_session_server_new2(&p->s, cbs, p, opt);
    else
        nghttp2_session_client_new2(&p->s, cbs, p, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_submit_settings(p->s, NGHTTP2_FLAG_NONE, NULL, 0);
    h2o_socket_read_start(sock, peer_on_read);
    peer_flush(p);
}

static void peer_dispose(peer_t *p)
{
    while (p->streams != NULL) {
        pstream_t *st = p->streams;
        p->streams = st->next;
        util_buf_dispose(&st->out);
        free(st);
    }
    nghttp2_session_del(p->s);
    if (p->sock != NULL)
        h2o_socket_close(p->sock);
    util_buf_dispose(&p->wbuf);
    util_buf_dispose(&p->wout);
}

/* ---- the backend: accepts on a loopback port ------------------------------------------------ */

static peer_t backends[8];
static int n_backends;
static uint16_t backend_port;

static void on_backend_accept(h2o_socket_t *listener, const char *err)
{
    h2o_socket_t *sock;
    if (err != NULL)
        return;
    while ((sock = h2o_evloop_socket_accept(listener)) != NULL && n_backends < 8)
        peer_init(&backends[n_backends++], sock, 1);
}

static h2o_socket_t *backend_listen(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    bind(fd, (struct sockaddr *)&sin, sizeof(sin));
    listen(fd, 16);
    getsockname(fd, (struct sockaddr *)&sin, &len);
    backend_port = ntohs(sin.sin_port);
    h2o_socket_t *l = h2o_evloop_socket_create(loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    h2o_socket_read_start(l, on_backend_accept);
    return l;
}

static pstream_t *backend_stream(const char *method)
{
    for (int i = 0; i < n_backends; i++)
        for (pstream_t *st = backends[i].streams; st != NULL; st = st->next)
            if (strcmp(st->method, method) == 0)
                return st;
    return NULL;
}

/* ---- the ingress and a client connected to it ---------------------------------------------- */

static grpc_ingress_t *ing;
static upstream_grpc_pool_t *pool;
static size_t inflight;

static void ingress_start(size_t max_response_buffer, uint32_t handshake_ms, uint32_t idle_ms)
{
    char target[32];
    snprintf(target, sizeof(target), "127.0.0.1:%u", (unsigned)backend_port);
    const char *targets[] = {target};
    upstream_grpc_config_t uc = {.targets = targets, .n_targets = 1, .max_recv_message_size = 64 * 1024};
    util_error_t err;
    pool = upstream_grpc_pool_new(loop, &uc, &err);
    grpc_ingress_route_t routes[] = {
        {.path = "/t.S/Echo", .pool = pool, .upstream_name = "backend"},
        {.path = "/t.S/Sink", .pool = pool, .upstream_name = "backend"},
        {.path = "/t.S/Flood", .pool = pool, .upstream_name = "backend"},
        {.path = "/t.S/Hang", .pool = pool, .upstream_name = "backend"},
        {.path = "/t.S/NoPool", .pool = NULL, .upstream_name = "gone"},
    };
    grpc_ingress_config_t cfg = {
        .routes = routes,
        .n_routes = sizeof(routes) / sizeof(routes[0]),
        .max_request_message = 1 << 20,
        .max_response_buffer = max_response_buffer,
        .max_response_message = 64 * 1024,
        .max_header_bytes = 2048,
        .handshake_timeout_ms = handshake_ms,
        .idle_timeout_ms = idle_ms,
        .inflight = &inflight,
    };
    ing = grpc_ingress_new(loop, &cfg, &err);
    CHECK(ing != NULL);
}

static void ingress_stop(void)
{
    grpc_ingress_free(ing);
    upstream_grpc_pool_free(pool);
    for (int i = 0; i < n_backends; i++)
        peer_dispose(&backends[i]);
    n_backends = 0;
    run_for(20);
}

static void client_connect(peer_t *c)
{
    int fds[2];
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds);
    grpc_ingress_accept(ing, h2o_evloop_socket_create(loop, fds[0], 0), NULL);
    peer_init(c, h2o_evloop_socket_create(loop, fds[1], 0), 0);
}

/* Starts a POST of |path| with extra "name: value" headers and a body (|eof|: END_STREAM after it). */
static pstream_t *client_call(peer_t *c, const char *method, const char *path, const char *const *extra, size_t n_extra,
                              const void *body, size_t len, int eof)
{
    nghttp2_nv nva[16];
    size_t n = 0;
#define NV(a, b) nva[n++] = (nghttp2_nv){(uint8_t *)(a), (uint8_t *)(b), strlen(a), strlen(b), 0}
    NV(":method", method);
    NV(":scheme", "http");
    NV(":path", path);
    NV(":authority", "test");
    NV("te", "trailers");
    int has_ct = 0;
    for (size_t i = 0; i < n_extra; i++)
        has_ct |= strncmp(extra[2 * i], "content-type", 12) == 0;
    if (!has_ct)
        NV("content-type", "application/grpc");
    for (size_t i = 0; i < n_extra; i++)
        NV(extra[2 * i], extra[2 * i + 1]);
#undef NV
    pstream_t *st = calloc(1, sizeof(*st));
    st->p = c;
    util_buf_append(&st->out, body, len);
    st->out_eof = eof;
    nghttp2_data_provider prd = {.source.ptr = st, .read_callback = on_read_out};
    st->id = nghttp2_submit_request(c->s, NULL, nva, n, &prd, NULL);
    st->next = c->streams;
    c->streams = st;
    peer_flush(c);
    return st;
}

static void frame_append(util_buf_t *b, int flags, uint32_t len, const void *msg, size_t msg_len)
{
    uint8_t h[5] = {(uint8_t)flags, (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
    util_buf_append(b, h, 5);
    util_buf_append(b, msg, msg_len);
}

/* ---- the tests ------------------------------------------------------------------------------- */

static void test_rejections(void)
{
    static const char *const ct_text[] = {"content-type", "text/plain"};
    static const char *const ct_json[] = {"content-type", "application/grpc+json"};
    static const char *const gzip[] = {"grpc-encoding", "gzip"};
    static const char *const identity[] = {"grpc-encoding", "identity"};
    static const char *const bad_timeout[] = {"grpc-timeout", "12x"};
    static const char *const bad_md[] = {"x-bad-bin", "!!"};
    char big[3000];
    memset(big, 'v', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    const char *const big_header[] = {"x-big", big};
    const struct {
        const char *method, *path;
        const char *const *extra;
        int frame_flags;
        uint32_t frame_len; /* announced */
        size_t body_len;    /* sent (of "hello..." ) */
        const char *status, *grpc_status, *message;
    } cases[] = {
        {"POST", "/t.S/Echo", NULL, 0, 5, 5, "200", "0", NULL},
        {"POST", "/t.S/Echo", identity, 0, 5, 5, "200", "0", NULL},
        {"GET", "/t.S/Echo", NULL, 0, 5, 5, "405", "13", "method GET is not allowed"},
        {"POST", "/t.S/Echo", ct_text, 0, 5, 5, "415", "3", "text/plain"},
        {"POST", "/t.S/Echo", ct_json, 0, 5, 5, "200", "12", "application/grpc+json"},
        {"POST", "/t.S/Echo", gzip, 0, 5, 5, "200", "12", "grpc-encoding \"gzip\""},
        {"POST", "/t.S/Echo", bad_timeout, 0, 5, 5, "200", "3", "grpc-timeout \"12x\""},
        {"POST", "/t.S/Echo", bad_md, 0, 5, 5, "200", "3", "x-bad-bin"},
        {"POST", "/t.S/Nope", NULL, 0, 5, 5, "200", "12", "unknown method /t.S/Nope"},
        {"POST", "/x.Y/Nope", NULL, 0, 5, 5, "200", "12", "no such service"},
        {"POST", "/t.S/NoPool", NULL, 0, 5, 5, "200", "14", "upstream gone"},
        {"POST", "/t.S/Echo", NULL, 0, 100, 5, "200", "13", "ended in the middle of a message"},
        {"POST", "/t.S/Echo", NULL, 2, 5, 5, "200", "13", "flags"},
        {"POST", "/t.S/Echo", NULL, 1, 5, 5, "200", "12", "compressed"},
        {"POST", "/t.S/Echo", NULL, 0, 2 << 20, 5, "200", "8", "larger than 1048576 bytes"},
        {"POST", "/t.S/Echo", big_header, 0, 5, 5, "200", "8", "exceed 2048 bytes"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        peer_t c;
        client_connect(&c);
        util_buf_t body = UTIL_BUF_INIT;
        frame_append(&body, cases[i].frame_flags, cases[i].frame_len, "hello", cases[i].body_len);
        pstream_t *st =
            client_call(&c, cases[i].method, cases[i].path, cases[i].extra, cases[i].extra ? 1 : 0, body.data, body.len, 1);
        util_buf_dispose(&body);
        CHECK(run_until(&st->closed, 3000));
        char want[64];
        snprintf(want, sizeof(want), ":status: %s\n", cases[i].status);
        CHECK_STR_HAS(st->headers, want);
        char all[8192];
        snprintf(all, sizeof(all), "%s%s", st->headers, st->trailers);
        snprintf(want, sizeof(want), "grpc-status: %s\n", cases[i].grpc_status);
        CHECK_STR_HAS(all, want);
        if (cases[i].message != NULL)
            CHECK_STR_HAS(all, cases[i].message);
        if (strcmp(cases[i].grpc_status, "0") == 0) {
            CHECK_INT_EQ(st->received, 10); /* the echoed frame */
            CHECK_STR_HAS(st->headers, "x-backend: yes");
        }
        if (cases[i].frame_flags == 1)
            CHECK_STR_HAS(all, "grpc-accept-encoding: identity");
        peer_dispose(&c);
        run_for(5);
    }
    grpc_ingress_stats_t stats;
    grpc_ingress_stats(ing, &stats);
    CHECK(stats.calls_rejected >= 10);
    CHECK_INT_EQ(stats.streams, 0);
    CHECK_INT_EQ(inflight, 0);
}

/* The backend holds its window: the ingress must hold the client's, not soak the upload up. */
static void test_request_flow_control(void)
{
    for (int i = 0; i < n_backends; i++)
        backends[i].hold_window = 1;
    peer_t c;
    client_connect(&c);
    util_buf_t body = UTIL_BUF_INIT;
    uint8_t *msg = calloc(1, 16 * 1024);
    for (int i = 0; i < 512; i++) /* 8 MiB in 16 KiB messages */
        frame_append(&body, 0, 16 * 1024, msg, 16 * 1024);
    free(msg);
    size_t total = body.len;
    pstream_t *st = client_call(&c, "POST", "/t.S/Sink", NULL, 0, body.data, body.len, 1);
    util_buf_dispose(&body);
    run_for(300);
    /* the backend's connection may be new: hold its window too */
    for (int i = 0; i < n_backends; i++)
        backends[i].hold_window = 1;
    run_for(300);
    grpc_ingress_stats_t stats;
    grpc_ingress_stats(ing, &stats);
    size_t sent = st->out_off;
    printf("request flow control: client sent %zu of %zu bytes, ingress held at most %zu, %llu stall(s)\n", sent, total,
           stats.max_request_buffered, (unsigned long long)stats.request_stalls);
    CHECK(stats.request_stalls >= 1);
    /* held: the upstream backlog limit (256 KiB) + one stream window (256 KiB) + a message */
    CHECK(stats.max_request_buffered <= 600 * 1024);
    /* the client got no further than the windows along the way (ours, the upstream's, the backend's) */
    CHECK(sent < 3 * 1024 * 1024);
    CHECK(!st->closed);
    /* the backend reads: everything arrives */
    for (int i = 0; i < n_backends; i++) {
        backends[i].hold_window = 0;
        for (pstream_t *b = backends[i].streams; b != NULL; b = b->next)
            peer_give_back(&backends[i], b);
        peer_flush(&backends[i]);
    }
    CHECK(run_until(&st->closed, 10000));
    pstream_t *b = backend_stream("Sink");
    CHECK(b != NULL && b->received == total);
    CHECK_STR_HAS(st->trailers, "grpc-status: 0");
    peer_dispose(&c);
    run_for(5);
}

/* The client holds its window: a stream within the cap waits and completes; one beyond it ends
 * RESOURCE_EXHAUSTED and is cancelled upstream. */
static void test_response_flow_control(void)
{
    peer_t c;
    client_connect(&c);
    c.hold_window = 1;
    static const char *const small[] = {"x-count", "40", "x-size", "4096"}; /* 160 KiB: within the 256 KiB cap */
    pstream_t *st = client_call(&c, "POST", "/t.S/Flood", small, 2, "\0\0\0\0\0", 5, 1);
    run_for(300);
    CHECK(!st->closed);
    CHECK(st->received <= 65535); /* the client's default window */
    c.hold_window = 0;
    peer_give_back(&c, st);
    for (pstream_t *x = c.streams; x != NULL; x = x->next)
        peer_give_back(&c, x);
    peer_flush(&c);
    CHECK(run_until(&st->closed, 5000));
    CHECK_INT_EQ(st->received, 40 * (4096 + 5));
    CHECK_STR_HAS(st->trailers, "grpc-status: 0");
    peer_dispose(&c);

    client_connect(&c);
    c.hold_window = 1;
    static const char *const large[] = {"x-count", "200", "x-size", "16384"}; /* 3.2 MiB */
    st = client_call(&c, "POST", "/t.S/Flood", large, 2, "\0\0\0\0\0", 5, 1);
    run_for(500);
    grpc_ingress_stats_t stats;
    grpc_ingress_stats(ing, &stats);
    printf("response flow control: ingress buffered at most %zu bytes for one stream; %llu overflow(s)\n",
           stats.max_response_buffered, (unsigned long long)stats.response_overflows);
    CHECK(stats.max_response_buffered <= 256 * 1024);
    CHECK_INT_EQ(stats.response_overflows, 1);
    pstream_t *b = backend_stream("Flood");
    /* the cancel reached the backend (the first Flood stream closed normally; find a reset one) */
    int cancelled = 0;
    for (int i = 0; i < n_backends; i++)
        for (pstream_t *x = backends[i].streams; x != NULL; x = x->next)
            cancelled |= strcmp(x->method, "Flood") == 0 && x->closed && x->rst == NGHTTP2_CANCEL;
    CHECK(b != NULL && cancelled);
    c.hold_window = 0;
    for (pstream_t *x = c.streams; x != NULL; x = x->next)
        peer_give_back(&c, x);
    peer_flush(&c);
    CHECK(run_until(&st->closed, 5000));
    CHECK_STR_HAS(st->trailers, "grpc-status: 8");
    CHECK_STR_HAS(st->trailers, "too slowly");
    peer_dispose(&c);
    run_for(5);
}

static void test_cancel_and_shutdown(void)
{
    peer_t c;
    client_connect(&c);
    pstream_t *st = client_call(&c, "POST", "/t.S/Hang", NULL, 0, "\0\0\0\0\0", 5, 1);
    run_for(100);
    CHECK_INT_EQ(inflight, 1);
    nghttp2_submit_rst_stream(c.s, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
    peer_flush(&c);
    run_for(100);
    int cancelled = 0;
    for (int i = 0; i < n_backends; i++)
        for (pstream_t *x = backends[i].streams; x != NULL; x = x->next)
            cancelled |= strcmp(x->method, "Hang") == 0 && x->closed && x->rst == NGHTTP2_CANCEL;
    CHECK(cancelled);
    CHECK_INT_EQ(inflight, 0);
    grpc_ingress_stats_t stats;
    grpc_ingress_stats(ing, &stats);
    CHECK_INT_EQ(stats.calls_cancelled, 1);

    /* graceful shutdown: the call in flight completes, then the connection closes */
    st = client_call(&c, "POST", "/t.S/Echo", NULL, 0, "\0\0\0\0\x02hi", 7, 0);
    run_for(100);
    grpc_ingress_shutdown(ing);
    run_for(50);
    CHECK(c.goaway);
    CHECK(!st->closed);
    st->out_eof = 1;
    nghttp2_session_resume_data(c.s, st->id);
    peer_flush(&c);
    CHECK(run_until(&st->closed, 3000));
    CHECK_STR_HAS(st->trailers, "grpc-status: 0");
    CHECK_INT_EQ(st->received, 7);
    CHECK(run_until(&c.eof, 3000));
    grpc_ingress_stats(ing, &stats);
    CHECK_INT_EQ(stats.connections, 0);
    peer_dispose(&c);
}

static void test_handshake_timeout(void)
{
    /* a connection that never sends the HTTP/2 preface is closed */
    int fds[2];
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds);
    grpc_ingress_accept(ing, h2o_evloop_socket_create(loop, fds[0], 0), NULL);
    grpc_ingress_stats_t stats;
    grpc_ingress_stats(ing, &stats);
    CHECK_INT_EQ(stats.connections, 1);
    run_for(300);
    grpc_ingress_stats(ing, &stats);
    CHECK_INT_EQ(stats.connections, 0);
    char buf[256];
    ssize_t n;
    int eof = 0;
    while ((n = read(fds[1], buf, sizeof(buf))) > 0)
        ; /* the server's SETTINGS */
    eof = n == 0;
    CHECK(eof);
    close(fds[1]);
}

static void test_idle_timeout(void)
{
    /* a connection without streams gets GOAWAY after the idle timeout, and is closed */
    peer_t c;
    client_connect(&c);
    run_for(60);
    CHECK(!c.goaway);
    pstream_t *st = client_call(&c, "POST", "/t.S/Echo", NULL, 0, "\0\0\0\0\x01x", 6, 1);
    CHECK(run_until(&st->closed, 3000));
    CHECK_STR_HAS(st->trailers, "grpc-status: 0");
    CHECK(!c.goaway); /* the timer restarted when the stream ended */
    CHECK(run_until(&c.goaway, 1000));
    CHECK(run_until(&c.eof, 1000));
    grpc_ingress_stats_t stats;
    grpc_ingress_stats(ing, &stats);
    CHECK_INT_EQ(stats.connections, 0);
    peer_dispose(&c);
}

int main(void)
{
    loop = h2o_evloop_create();
    h2o_socket_t *listener = backend_listen();

    ingress_start(0, 0, 0); /* max_response_buffer raised to max_response_message + 64 KiB = 128 KiB */
    test_rejections();
    test_request_flow_control();
    ingress_stop();

    ingress_start(256 * 1024, 0, 0);
    test_response_flow_control();
    test_cancel_and_shutdown();
    ingress_stop();

    ingress_start(0, 150, 150);
    test_handshake_timeout();
    test_idle_timeout();
    ingress_stop();

    h2o_socket_close(listener);
    run_for(10);
    return test_summary();
}
