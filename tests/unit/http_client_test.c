/*
 * http_client_test.c — src/upstream's HTTP/1.1 client.
 *
 * Part one feeds the response parser a table of responses, each cut at every byte position
 * (and fed byte by byte), so framing never depends on how TCP splits the stream: Content-Length,
 * chunked (extensions, trailers), close-delimited, HEAD/204/304, interim 1xx, keep-alive rules,
 * obs-fold, and the malformed cases (bad status line, conflicting lengths, unknown codings,
 * oversized heads, truncation).
 *
 * Part two runs the client against a scripted HTTP/1.1 server on the same h2o loop, whose
 * behaviour is picked by the request path (/ok, /echo, /chunked, /slow, /hang, /drop, /flaky
 * ...): request composition, keep-alive reuse, the connection limit and the queue,
 * round-robin and failover, deadlines, connect failure with backoff and fail-fast, the
 * keep-alive race retry, body limits, streaming bodies, cancellation from every callback,
 * argument checks, pool shutdown, idle timeouts and TLS. When the example shop's
 * reviews-backend is built, one more case runs against it.
 */
#include "upstream/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <h2o/socket/evloop.h>
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

static int run_until(const int *done, uint64_t ms)
{
    uint64_t end = wall_ms() + ms;
    while (!*done && wall_ms() < end)
        h2o_evloop_run(loop, 10);
    return *done;
}

/* Runs the loop until |cond(arg)| holds or |ms| pass (waiting on events, not on wall time). */
static int wait_for(int (*cond)(const void *), const void *arg, uint64_t ms)
{
    uint64_t end = wall_ms() + ms;
    while (!cond(arg) && wall_ms() < end)
        h2o_evloop_run(loop, 10);
    return cond(arg);
}

static void run_for(uint64_t ms)
{
    uint64_t end = wall_ms() + ms;
    while (wall_ms() < end)
        h2o_evloop_run(loop, 5);
}

/* =========================================================================================
 * Part one: the parser
 */
typedef struct {
    const char *name;
    const char *input;
    int head;            /* the request was HEAD */
    int eof;             /* the server closes after the input */
    size_t max_head;     /* 0: 4096 */
    int error;           /* expected util_error_t code, 0 for success */
    int status;          /* expected */
    const char *body;    /* expected */
    int keepalive;       /* expected */
    size_t trailing;     /* expected */
    const char *header;  /* "name: value" expected among the headers (or NULL) */
    const char *err_has; /* expected in the error message */
} parse_case_t;

static const parse_case_t parse_cases[] = {
    {"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Mixed-Case: Yes\r\n\r\nhello", 0, 0, 0, 0, 200, "hello", 1, 0,
     "x-mixed-case: Yes", NULL},
    {"content-length 0", "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 0, 0, 0, 0, 201, "", 1, 0, NULL, NULL},
    {"repeated identical lengths", "HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\nabc", 0, 0, 0, 0, 200, "abc", 1, 0, NULL, NULL},
    {"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 0, 0, 0, 0, 200,
     "hello world", 1, 0, NULL, NULL},
    {"chunked, extensions and trailers",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n", 0, 0, 0,
     0, 200, "abc0123456789", 1, 0, NULL, NULL},
    {"identity then chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", 0, 0, 0, 0,
     200, "ok", 1, 0, NULL, NULL},
    {"chunked beats content-length, no reuse",
     "HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", 0, 0, 0, 0, 200, "ok", 0, 0,
     NULL, NULL},
    {"close-delimited", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", 0, 1, 0, 0, 200, "until the end", 0, 0,
     NULL, NULL},
    {"HTTP/1.0 closes", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi", 0, 0, 0, 0, 200, "hi", 0, 0, NULL, NULL},
    {"HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nhi", 0, 0, 0, 0, 200, "hi", 1, 0,
     NULL, NULL},
    {"connection: close", "HTTP/1.1 200 OK\r\nConnection: foo, close\r\nContent-Length: 2\r\n\r\nhi", 0, 0, 0, 0, 200, "hi", 0, 0,
     NULL, NULL},
    {"204 has no body", "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", 0, 0, 0, 0, 204, "", 1, 0, NULL, NULL},
    {"304 has no body", "HTTP/1.1 304 Not Modified\r\n\r\n", 0, 0, 0, 0, 304, "", 1, 0, NULL, NULL},
    {"HEAD has no body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", 1, 0, 0, 0, 200, "", 1, 0, "content-length: 10", NULL},
    {"interim responses skipped",
     "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: "
     "4\r\n\r\nnope",
     0, 0, 0, 0, 404, "nope", 1, 0, NULL, NULL},
    {"obs-fold joined", "HTTP/1.1 200 OK\r\nX-Folded: one\r\n  two\r\nContent-Length: 0\r\n\r\n", 0, 0, 0, 0, 200, "", 1, 0,
     "x-folded: one two", NULL},
    {"bytes after the body", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiEXTRA", 0, 0, 0, 0, 200, "hi", 1, 5, NULL, NULL},
    {"bytes after a chunked body", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\nXY", 0, 0, 0, 0, 200,
     "hi", 1, 2, NULL, NULL},
    /* failures */
    {"not HTTP", "SPDY/3 200 OK\r\n\r\n", 0, 0, 0, UPSTREAM_HTTP_ERR_PROTOCOL, 0, NULL, 0, 0, NULL, "malformed response head"},
    {"101 refused", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n", 0, 0, 0, UPSTREAM_HTTP_ERR_PROTOCOL, 0, NULL, 0, 0,
     NULL, "101"},
    {"bad content-length", "HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n", 0, 0, 0, UPSTREAM_HTTP_ERR_PROTOCOL, 0, NULL, 0, 0,
     NULL, "invalid content-length \"12a\""},
    {"negative content-length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 0, 0, 0, UPSTREAM_HTTP_ERR_PROTOCOL, 0, NULL, 0, 0,
     NULL, "invalid content-length"},
    {"conflicting content-length", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 0, 0, 0,
     UPSTREAM_HTTP_ERR_PROTOCOL, 0, NULL, 0, 0, NULL, "invalid content-length \"4\""},
    {"gzip transfer coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 0, 0, 0, UPSTREAM_HTTP_ERR_PROTOCOL, 0,
     NULL, 0, 0, NULL, "unsupported transfer-encoding \"gzip, chunked\""},
    {"chunked not last", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 0, 0, 0, UPSTREAM_HTTP_ERR_PROTOCOL, 0,
     NULL, 0, 0, NULL, "unsupported transfer-encoding"},
    {"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 0, 0, 0,
     UPSTREAM_HTTP_ERR_PROTOCOL, 200, NULL, 0, 0, NULL, "malformed chunked response body"},
    {"head over the limit",
     "HTTP/1.1 200 OK\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n", 0, 0,
     64, UPSTREAM_HTTP_ERR_TOO_LARGE, 0, NULL, 0, 0, NULL, "over the limit of 64 bytes"},
    {"truncated head", "HTTP/1.1 200 OK\r\nContent-Le", 0, 1, 0, UPSTREAM_HTTP_ERR_IO, 0, NULL, 0, 0, NULL,
     "closed before the response head was complete"},
    {"truncated body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 0, 1, 0, UPSTREAM_HTTP_ERR_IO, 200, NULL, 0, 0, NULL,
     "7 of 10 body bytes missing"},
    {"truncated chunked body", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", 0, 1, 0, UPSTREAM_HTTP_ERR_IO,
     200, NULL, 0, 0, NULL, "before the end of the chunked body"},
};

typedef struct {
    int error;
    char err_msg[512];
    int status;
    util_buf_t body;
    int keepalive;
    size_t trailing;
    char headers[1024];
} parse_result_t;

/* Feeds |c->input| in pieces of |step| bytes after a first piece of |first| bytes, keeping
 * unconsumed bytes in a buffer as a socket's input would. */
static void parse_run(const parse_case_t *c, size_t first, size_t step, parse_result_t *out)
{
    memset(out, 0, sizeof(*out));
    util_buf_init(&out->body);
    upstream_http_parser_t p;
    upstream_http_parser_init(&p, c->max_head ? c->max_head : 4096, c->head);
    size_t total = strlen(c->input), fed = 0;
    util_buf_t in = UTIL_BUF_INIT;
    int done = 0;
    while (!done && out->error == 0) {
        size_t n = fed == 0 ? first : step;
        if (n > total - fed)
            n = total - fed;
        util_buf_append(&in, c->input + fed, n);
        fed += n;
        for (;;) {
            size_t consumed;
            const char *data;
            size_t len;
            util_error_t err = {0};
            int ev = upstream_http_parser_feed(&p, (char *)in.data, in.len, &consumed, &data, &len, &err);
            if (ev == UPSTREAM_HTTP_EV_DATA)
                util_buf_append(&out->body, data, len);
            if (ev == UPSTREAM_HTTP_EV_HEAD) {
                size_t off = 0;
                for (size_t i = 0; i < p.n_headers && off < sizeof(out->headers); i++)
                    off += (size_t)snprintf(out->headers + off, sizeof(out->headers) - off, "%s: %s\n", p.headers[i].name,
                                            p.headers[i].value);
            }
            memmove(in.data, in.data + consumed, in.len - consumed);
            in.len -= consumed;
            if (ev == UPSTREAM_HTTP_EV_ERROR) {
                out->error = err.code;
                snprintf(out->err_msg, sizeof(out->err_msg), "%s", err.message);
                break;
            }
            if (ev == UPSTREAM_HTTP_EV_DONE) {
                done = 1;
                /* whatever follows the response (in this read or a later one) is counted */
                util_buf_append(&in, c->input + fed, total - fed);
                fed = total;
                if (in.len != 0) {
                    upstream_http_parser_feed(&p, (char *)in.data, in.len, &consumed, &data, &len, &err);
                    in.len -= consumed;
                }
                break;
            }
            if (ev == UPSTREAM_HTTP_EV_MORE)
                break;
        }
        if (!done && out->error == 0 && fed == total) {
            if (!c->eof)
                break; /* the parser must have finished by now */
            util_error_t err = {0};
            if (upstream_http_parser_eof(&p, &err) == UPSTREAM_HTTP_EV_DONE) {
                done = 1;
            } else {
                out->error = err.code;
                snprintf(out->err_msg, sizeof(out->err_msg), "%s", err.message);
            }
        }
    }
    if (out->error == 0 && !done) {
        out->error = -999;
        snprintf(out->err_msg, sizeof(out->err_msg), "parser never finished");
    }
    out->status = p.status;
    out->keepalive = p.keepalive;
    out->trailing = p.trailing;
    util_buf_putc(&out->body, 0);
    util_buf_dispose(&in);
    upstream_http_parser_dispose(&p);
}

static void test_parser(void)
{
    for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        const parse_case_t *c = &parse_cases[i];
        size_t total = strlen(c->input);
        /* whole, byte by byte, and every two-piece split */
        for (size_t first = 1; first <= total; first++) {
            size_t step = first == 1 ? 1 : total;
            parse_result_t r;
            parse_run(c, first, step, &r);
            int ok = r.error == c->error && (c->error != 0 ? strstr(r.err_msg, c->err_has) != NULL
                                                           : r.status == c->status && strcmp((char *)r.body.data, c->body) == 0 &&
                                                                 r.keepalive == c->keepalive && r.trailing == c->trailing &&
                                                                 (c->header == NULL || strstr(r.headers, c->header) != NULL));
            if (!ok) {
                TEST_FAIL_("parser case \"%s\" (first piece %zu, then %zu): error %d \"%s\" status %d body \"%s\" keepalive %d "
                           "trailing %zu headers:\n%s",
                           c->name, first, step, r.error, r.err_msg, r.status, (char *)r.body.data, r.keepalive, r.trailing,
                           r.headers);
                util_buf_dispose(&r.body);
                break;
            }
            test_passed_++;
            util_buf_dispose(&r.body);
        }
    }
}

/* =========================================================================================
 * Part two: the scripted server
 */
typedef struct srv srv_t;

typedef struct sconn {
    srv_t *srv;
    h2o_socket_t *sock;
    util_buf_t in;
    util_buf_t wbuf, wout;
    int writing;
    int close_after_write;
    int served;
    int closed;
    int stream_step;
    h2o_timeout_entry_t timer;
    void (*timer_action)(struct sconn *);
    struct sconn *next;
} sconn_t;

struct srv {
    h2o_socket_t *listener;
    uint16_t port;
    int accepted;
    int requests;
    int open, max_open;
    sconn_t *conns;
    char last_request[8192];
    h2o_timeout_t slow_timeout;  /* 200 ms */
    h2o_timeout_t short_timeout; /* 30 ms */
    SSL_CTX *ssl_ctx;
};

static void srv_flush(sconn_t *sc);

static void srv_conn_close(sconn_t *sc)
{
    if (sc->closed)
        return;
    sc->closed = 1;
    sc->srv->open--;
    if (h2o_timeout_is_linked(&sc->timer))
        h2o_timeout_unlink(&sc->timer);
    sc->sock->data = NULL;
    h2o_socket_close(sc->sock);
}

static void srv_conn_free_all(srv_t *srv)
{
    while (srv->conns != NULL) {
        sconn_t *sc = srv->conns;
        srv->conns = sc->next;
        srv_conn_close(sc);
        util_buf_dispose(&sc->in);
        util_buf_dispose(&sc->wbuf);
        util_buf_dispose(&sc->wout);
        free(sc);
    }
}

static void srv_on_written(h2o_socket_t *sock, const char *err)
{
    sconn_t *sc = sock->data;
    if (sc == NULL)
        return;
    sc->writing = 0;
    sc->wout.len = 0;
    if (err != NULL) {
        srv_conn_close(sc);
        return;
    }
    srv_flush(sc);
}

static void srv_flush(sconn_t *sc)
{
    if (sc->closed || sc->writing)
        return;
    if (sc->wbuf.len == 0) {
        if (sc->close_after_write)
            srv_conn_close(sc);
        return;
    }
    util_buf_t t = sc->wout;
    sc->wout = sc->wbuf;
    sc->wbuf = t;
    sc->wbuf.len = 0;
    sc->writing = 1;
    h2o_iovec_t iov = h2o_iovec_init(sc->wout.data, sc->wout.len);
    h2o_socket_write(sc->sock, &iov, 1, srv_on_written);
}

static void srv_send(sconn_t *sc, const char *data, size_t len)
{
    util_buf_append(&sc->wbuf, data, len);
    srv_flush(sc);
}

static void srv_sends(sconn_t *sc, const char *s)
{
    srv_send(sc, s, strlen(s));
}

static void srv_on_timer(h2o_timeout_entry_t *entry)
{
    sconn_t *sc = H2O_STRUCT_FROM_MEMBER(sconn_t, timer, entry);
    if (!sc->closed && sc->timer_action != NULL)
        sc->timer_action(sc);
}

static void srv_later(sconn_t *sc, h2o_timeout_t *t, void (*action)(sconn_t *))
{
    sc->timer_action = action;
    h2o_timeout_link(loop, t, &sc->timer);
}

static const char ok_response[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Test: yes\r\n\r\nhello";

static void act_ok(sconn_t *sc)
{
    srv_sends(sc, ok_response);
}

static void act_close(sconn_t *sc)
{
    srv_conn_close(sc);
}

static void act_stream(sconn_t *sc)
{
    sc->stream_step++;
    if (sc->stream_step == 1) {
        srv_sends(sc, "8\r\n{\"n\":2}\n\r\n");
        srv_later(sc, &sc->srv->short_timeout, act_stream);
    } else {
        srv_sends(sc, "8\r\n{\"n\":3}\n\r\n0\r\n\r\n");
    }
}

static char *big_body;
#define BIG_LEN (1 << 20)

/* Answers one request by its path. */
static void srv_respond(sconn_t *sc, const char *method, const char *path, const char *raw, size_t raw_len)
{
    srv_t *srv = sc->srv;
    int first = sc->served == 0;
    sc->served++;
    char buf[512];
    if (strcmp(path, "/ok") == 0 || strncmp(path, "/ok?", 4) == 0) {
        act_ok(sc);
    } else if (strncmp(path, "/echo", 5) == 0) {
        snprintf(buf, sizeof(buf), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", raw_len);
        srv_sends(sc, buf);
        srv_send(sc, raw, raw_len);
    } else if (strcmp(path, "/chunked") == 0) {
        srv_sends(sc, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n");
    } else if (strcmp(path, "/close") == 0) {
        srv_sends(sc, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close");
        sc->close_after_write = 1;
        srv_flush(sc);
    } else if (strcmp(path, "/slow") == 0) {
        srv_later(sc, &srv->slow_timeout, act_ok);
    } else if (strcmp(path, "/hang") == 0) {
        /* never answers */
    } else if (strcmp(path, "/drop") == 0) {
        srv_conn_close(sc);
    } else if (strcmp(path, "/garbage") == 0) {
        srv_sends(sc, "SPDY/9 nonsense\r\n\r\n");
    } else if (strcmp(path, "/big") == 0) {
        snprintf(buf, sizeof(buf), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", BIG_LEN);
        srv_sends(sc, buf);
        srv_send(sc, big_body, BIG_LEN);
    } else if (strncmp(path, "/status/", 8) == 0) {
        int status = atoi(path + 8);
        const char *body = "{\"error\":\"made up\"}";
        snprintf(buf, sizeof(buf), "HTTP/1.1 %d Whatever\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                 status, strlen(body), body);
        srv_sends(sc, buf);
    } else if (strcmp(path, "/flaky") == 0) {
        /* the keep-alive race: a connection's second request finds it closed */
        if (first)
            act_ok(sc);
        else
            srv_conn_close(sc);
    } else if (strcmp(path, "/continue") == 0) {
        srv_sends(sc, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    } else if (strcmp(path, "/stream") == 0) {
        sc->stream_step = 0;
        srv_sends(
            sc, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/x-ndjson\r\n\r\n8\r\n{\"n\":1}\n\r\n");
        srv_later(sc, &srv->short_timeout, act_stream);
    } else if (strcmp(path, "/head") == 0 && strcmp(method, "HEAD") == 0) {
        srv_sends(sc, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
    } else if (strcmp(path, "/closeidle") == 0) {
        act_ok(sc);
        srv_later(sc, &srv->short_timeout, act_close);
    } else {
        srv_sends(sc, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    }
}

static void srv_on_read(h2o_socket_t *sock, const char *err)
{
    sconn_t *sc = sock->data;
    if (sc == NULL)
        return;
    if (err != NULL) {
        srv_conn_close(sc);
        return;
    }
    util_buf_append(&sc->in, sock->input->bytes, sock->input->size);
    h2o_buffer_consume(&sock->input, sock->input->size);
    for (;;) {
        util_buf_putc(&sc->in, 0);
        sc->in.len--;
        char *end = strstr((char *)sc->in.data, "\r\n\r\n");
        if (end == NULL)
            return;
        size_t head_len = (size_t)(end - (char *)sc->in.data) + 4;
        size_t body_len = 0;
        char *cl = strcasestr((char *)sc->in.data, "\r\ncontent-length:");
        if (cl != NULL && cl < end)
            body_len = (size_t)atol(cl + 17);
        if (sc->in.len < head_len + body_len)
            return;
        size_t raw_len = head_len + body_len;
        char method[16] = "", path[256] = "";
        sscanf((char *)sc->in.data, "%15s %255s", method, path);
        srv_t *srv = sc->srv;
        srv->requests++;
        size_t keep = raw_len < sizeof(srv->last_request) - 1 ? raw_len : sizeof(srv->last_request) - 1;
        memcpy(srv->last_request, sc->in.data, keep);
        srv->last_request[keep] = 0;
        char *raw = malloc(raw_len);
        memcpy(raw, sc->in.data, raw_len);
        memmove(sc->in.data, sc->in.data + raw_len, sc->in.len - raw_len);
        sc->in.len -= raw_len;
        srv_respond(sc, method, path, raw, raw_len);
        free(raw);
        if (sc->closed)
            return;
    }
}

static void srv_conn_start(sconn_t *sc)
{
    h2o_socket_read_start(sc->sock, srv_on_read);
    if (sc->sock->input->size != 0) /* a request that came with the end of the TLS handshake */
        srv_on_read(sc->sock, NULL);
}

static void srv_on_handshake(h2o_socket_t *sock, const char *err)
{
    sconn_t *sc = sock->data;
    if (sc == NULL)
        return;
    if (err != NULL) {
        srv_conn_close(sc);
        return;
    }
    srv_conn_start(sc);
}

static void srv_on_accept(h2o_socket_t *listener, const char *err)
{
    srv_t *srv = listener->data;
    h2o_socket_t *sock;
    if (err != NULL)
        return;
    while ((sock = h2o_evloop_socket_accept(listener)) != NULL) {
        sconn_t *sc = calloc(1, sizeof(*sc));
        sc->srv = srv;
        sc->sock = sock;
        sc->timer.cb = srv_on_timer;
        sock->data = sc;
        sc->next = srv->conns;
        srv->conns = sc;
        srv->accepted++;
        if (++srv->open > srv->max_open)
            srv->max_open = srv->open;
        if (srv->ssl_ctx != NULL)
            h2o_socket_ssl_handshake(sock, srv->ssl_ctx, NULL, srv_on_handshake);
        else
            srv_conn_start(sc);
    }
}

static void srv_start(srv_t *srv)
{
    memset(srv, 0, sizeof(*srv));
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
    h2o_timeout_init(loop, &srv->slow_timeout, 200);
    h2o_timeout_init(loop, &srv->short_timeout, 30);
}

static void srv_stop(srv_t *srv)
{
    srv_conn_free_all(srv);
    h2o_socket_read_stop(srv->listener);
    h2o_socket_close(srv->listener);
    run_for(5);
    h2o_timeout_dispose(loop, &srv->slow_timeout);
    h2o_timeout_dispose(loop, &srv->short_timeout);
}

/* A port nothing listens on. */
static uint16_t dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&sin, sizeof(sin));
    socklen_t len = sizeof(sin);
    getsockname(fd, (struct sockaddr *)&sin, &len);
    close(fd);
    return ntohs(sin.sin_port);
}

/* =========================================================================================
 * Client side: a recorder per call
 */
typedef struct rec {
    int closed;
    int close_count;
    int error;
    char message[512];
    int status;
    char body[256];
    size_t body_len;
    int body_null;
    char headers[1024];
    char target[64];
    int head_count;
    int data_count;
    size_t data_bytes;
    char data[256];
    int stream;                 /* on_head answers STREAM */
    int cancel_in;              /* 1: cancel from on_head, 2: from the first on_data, 3: from on_close */
    upstream_http_call_t *call; /* for cancel_in */
    uint64_t closed_at;
} rec_t;

static int rec_on_head(void *ctx, int status, const upstream_header_t *headers, size_t n)
{
    rec_t *r = ctx;
    r->head_count++;
    r->status = status;
    if (r->cancel_in == 1)
        upstream_http_call_cancel(r->call);
    return r->stream ? UPSTREAM_HTTP_BODY_STREAM : UPSTREAM_HTTP_BODY_WHOLE;
}

static void rec_on_data(void *ctx, const char *data, size_t len)
{
    rec_t *r = ctx;
    r->data_count++;
    size_t room = sizeof(r->data) - 1 - strlen(r->data);
    strncat(r->data, data, len < room ? len : room);
    r->data_bytes += len;
    if (r->cancel_in == 2)
        upstream_http_call_cancel(r->call);
}

static void rec_on_close(void *ctx, const upstream_http_response_t *res)
{
    rec_t *r = ctx;
    r->closed = 1;
    r->close_count++;
    r->closed_at = wall_ms();
    r->error = res->error;
    snprintf(r->message, sizeof(r->message), "%s", res->message);
    r->status = res->status;
    r->body_null = res->body == NULL;
    if (res->body != NULL) {
        size_t n = res->body_len < sizeof(r->body) - 1 ? res->body_len : sizeof(r->body) - 1;
        memcpy(r->body, res->body, n);
        r->body[n] = 0;
    }
    r->body_len = res->body_len;
    size_t off = 0;
    for (size_t i = 0; i < res->n_headers && off < sizeof(r->headers); i++)
        off +=
            (size_t)snprintf(r->headers + off, sizeof(r->headers) - off, "%s: %s\n", res->headers[i].name, res->headers[i].value);
    snprintf(r->target, sizeof(r->target), "%s", res->target);
    if (r->cancel_in == 3)
        upstream_http_call_cancel(r->call); /* a no-op */
}

static const upstream_http_callbacks_t rec_cb = {rec_on_head, rec_on_data, rec_on_close};

static int rec_got_head(const void *arg)
{
    return ((const rec_t *)arg)->head_count != 0;
}

static int rec_closed(const void *arg)
{
    return ((const rec_t *)arg)->closed;
}

static int srv_has_request(const void *arg)
{
    return ((const srv_t *)arg)->requests != 0;
}

static int pool_idle_is(upstream_http_pool_t *pool, uint32_t idle, uint32_t conns)
{
    upstream_http_stats_t st;
    upstream_http_pool_stats(pool, &st);
    return st.idle_connections == idle && st.connections == conns;
}

static upstream_http_pool_t *waited_pool;
static int one_idle(const void *arg)
{
    (void)arg;
    return pool_idle_is(waited_pool, 1, 1);
}
static int no_connection(const void *arg)
{
    (void)arg;
    return pool_idle_is(waited_pool, 0, 0);
}

static upstream_http_call_t *start(upstream_http_pool_t *pool, rec_t *r, const char *method, const char *path, int64_t timeout_ms)
{
    upstream_http_request_t req = {.method = method, .path = path, .timeout_ms = timeout_ms};
    util_error_t err;
    r->call = upstream_http_call_start(pool, &req, &rec_cb, r, &err);
    if (r->call == NULL)
        TEST_FAIL_("start %s %s: %s", method, path, err.message);
    return r->call;
}

/* One call, run to its end. */
static void call(upstream_http_pool_t *pool, rec_t *r, const char *method, const char *path, int64_t timeout_ms)
{
    memset(r, 0, sizeof(*r));
    if (start(pool, r, method, path, timeout_ms) != NULL)
        run_until(&r->closed, 5000);
}

static upstream_http_pool_t *pool_for(const srv_t *srv, const upstream_http_config_t *base)
{
    static char target[64];
    snprintf(target, sizeof(target), "127.0.0.1:%u", srv->port);
    static const char *targets[1];
    targets[0] = target;
    upstream_http_config_t cfg = base != NULL ? *base : (upstream_http_config_t){0};
    cfg.targets = targets;
    cfg.n_targets = 1;
    util_error_t err;
    upstream_http_pool_t *pool = upstream_http_pool_new(loop, &cfg, &err);
    if (pool == NULL)
        TEST_FAIL_("pool_new: %s", err.message);
    return pool;
}

/* ---- outcomes, one call each ---------------------------------------------------------------- */

typedef struct {
    const char *method;
    const char *path;
    int error;
    int status;
    const char *body; /* NULL: not checked */
    const char *message_has;
    const char *header_has;
} outcome_case_t;

static const outcome_case_t outcome_cases[] = {
    {"GET", "/ok", UPSTREAM_HTTP_OK, 200, "hello", "", "x-test: yes\n"},
    {"GET", "/ok?x=1&y=%20", UPSTREAM_HTTP_OK, 200, "hello", "", "content-length: 5\n"},
    {"GET", "/chunked", UPSTREAM_HTTP_OK, 200, "hello world", "", "transfer-encoding: chunked\n"},
    {"GET", "/close", UPSTREAM_HTTP_OK, 200, "until close", "", "content-type: text/plain\n"},
    {"GET", "/continue", UPSTREAM_HTTP_OK, 200, "ok", "", NULL},
    {"GET", "/status/503", UPSTREAM_HTTP_OK, 503, "{\"error\":\"made up\"}", "", "content-type: application/json\n"},
    {"GET", "/status/404", UPSTREAM_HTTP_OK, 404, "{\"error\":\"made up\"}", "", NULL},
    {"HEAD", "/head", UPSTREAM_HTTP_OK, 200, "", "", "content-length: 10\n"},
    {"GET", "/garbage", UPSTREAM_HTTP_ERR_PROTOCOL, 0, NULL, "bad response from 127.0.0.1:", NULL},
    {"GET", "/drop", UPSTREAM_HTTP_ERR_IO, 0, NULL, "closed before any response", NULL},
    {"POST", "/flaky", UPSTREAM_HTTP_OK, 200, "hello", "", NULL}, /* first request of a connection: answered */
};

static void test_outcomes(void)
{
    srv_t srv;
    srv_start(&srv);
    upstream_http_pool_t *pool = pool_for(&srv, NULL);
    for (size_t i = 0; i < sizeof(outcome_cases) / sizeof(outcome_cases[0]); i++) {
        const outcome_case_t *c = &outcome_cases[i];
        rec_t r;
        call(pool, &r, c->method, c->path, 2000);
        if (r.error != c->error || r.status != c->status)
            fprintf(stderr, "case %s %s: error %d status %d \"%s\"\n", c->method, c->path, r.error, r.status, r.message);
        CHECK_INT_EQ(r.close_count, 1);
        CHECK_INT_EQ(r.error, c->error);
        CHECK_INT_EQ(r.status, c->status);
        CHECK_STR_HAS(r.message, c->message_has);
        if (c->body != NULL)
            CHECK_STR_EQ(r.body, c->body);
        if (c->error != UPSTREAM_HTTP_OK)
            CHECK(r.body_null);
        if (c->header_has != NULL)
            CHECK_STR_HAS(r.headers, c->header_has);
        CHECK(strncmp(r.target, "127.0.0.1:", 10) == 0);
        CHECK_INT_EQ(r.head_count, c->error == UPSTREAM_HTTP_OK ? 1 : 0);
    }
    upstream_http_pool_free(pool);
    run_for(10);
    srv_stop(&srv);
}

/* ---- what goes on the wire ------------------------------------------------------------------ */

static void test_request(void)
{
    srv_t srv;
    srv_start(&srv);
    upstream_http_pool_t *pool = pool_for(&srv, NULL);
    char host[64];
    snprintf(host, sizeof(host), "host: 127.0.0.1:%u\r\n", srv.port);

    /* POST with a body and headers; connection-level headers are dropped */
    upstream_header_t h[] = {
        {"content-type", 12, "application/json", 16},
        {"Connection", 10, "close", 5},
        {"x-trace", 7, "abc", 3},
        {"Content-Length", 14, "999", 3},
        {"te", 2, "trailers", 8},
    };
    upstream_http_request_t req = {
        .method = "POST", .path = "/echo?a=1", .headers = h, .n_headers = 5, .body = "{\"a\":1}", .body_len = 7};
    rec_t r;
    memset(&r, 0, sizeof(r));
    r.call = upstream_http_call_start(pool, &req, &rec_cb, &r, NULL);
    CHECK(r.call != NULL);
    run_until(&r.closed, 2000);
    CHECK_INT_EQ(r.status, 200);
    CHECK(strncmp(r.body, "POST /echo?a=1 HTTP/1.1\r\nhost: 127.0.0.1:", 41) == 0);
    CHECK_STR_HAS(r.body, host);
    CHECK_STR_HAS(r.body, "\r\ncontent-type: application/json\r\n");
    CHECK_STR_HAS(r.body, "\r\nx-trace: abc\r\n");
    CHECK_STR_HAS(r.body, "\r\nuser-agent: portico/");
    CHECK_STR_HAS(r.body, "\r\ncontent-length: 7\r\n\r\n{\"a\":1}");
    CHECK(strcasestr(r.body, "connection") == NULL);
    CHECK(strcasestr(r.body, "content-length: 999") == NULL); /* not just "999": the port may hold it */
    CHECK(strstr(r.body, "trailers") == NULL);

    /* PUT without a body says so; a given Host and User-Agent win */
    upstream_header_t h2[] = {{"Host", 4, "api.example", 11}, {"User-Agent", 10, "tester/1", 8}};
    upstream_http_request_t req2 = {.method = "PUT", .path = "/echo", .headers = h2, .n_headers = 2};
    memset(&r, 0, sizeof(r));
    r.call = upstream_http_call_start(pool, &req2, &rec_cb, &r, NULL);
    run_until(&r.closed, 2000);
    CHECK_STR_HAS(r.body, "PUT /echo HTTP/1.1\r\nHost: api.example\r\nUser-Agent: tester/1\r\ncontent-length: 0\r\n\r\n");
    CHECK(strstr(r.body, "portico/") == NULL);
    CHECK(strstr(r.body, "127.0.0.1") == NULL);

    /* GET has no content-length */
    call(pool, &r, "GET", "/echo", 2000);
    CHECK(strcasestr(r.body, "content-length") == NULL);
    upstream_http_pool_free(pool);
    run_for(10);

    /* the pool's host and user agent */
    upstream_http_config_t cfg = {.host = "reviews.internal", .user_agent = "gw/2"};
    pool = pool_for(&srv, &cfg);
    call(pool, &r, "GET", "/echo", 2000);
    CHECK_STR_HAS(r.body, "GET /echo HTTP/1.1\r\nhost: reviews.internal\r\nuser-agent: gw/2\r\n\r\n");
    upstream_http_pool_free(pool);
    run_for(10);
    srv_stop(&srv);
}

/* ---- argument checks: NULL, an error, and never a callback ------------------------------- */

typedef struct {
    const char *method;
    const char *path;
    const char *hname;
    const char *hvalue;
    const char *err_has;
} bad_case_t;

static const bad_case_t bad_cases[] = {
    {"GE T", "/ok", NULL, NULL, "invalid HTTP method \"GE T\""},
    {"", "/ok", NULL, NULL, "invalid HTTP method"},
    {NULL, "/ok", NULL, NULL, "invalid HTTP method"},
    {"GET", "ok", NULL, NULL, "invalid request path \"ok\""},
    {"GET", "/a b", NULL, NULL, "invalid request path \"/a b\""},
    {"GET", "/a\r\nX-Injected: 1", NULL, NULL, "invalid request path"},
    {"GET", "/caf\xc3\xa9", NULL, NULL, "invalid request path"},
    {"GET", NULL, NULL, NULL, "invalid request path"},
    {"GET", "/ok", "x-bad", "a\r\nX-Injected: 1", "request header \"x-bad\" has a value with a control character"},
    {"GET", "/ok", "x bad", "v", "invalid request header name \"x bad\""},
    {"GET", "/ok", "", "v", "invalid request header name"},
};

static void test_bad_arguments(void)
{
    srv_t srv;
    srv_start(&srv);
    upstream_http_pool_t *pool = pool_for(&srv, NULL);
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const bad_case_t *c = &bad_cases[i];
        upstream_header_t h = {c->hname, c->hname ? strlen(c->hname) : 0, c->hvalue, c->hvalue ? strlen(c->hvalue) : 0};
        upstream_http_request_t req = {.method = c->method, .path = c->path, .headers = &h, .n_headers = c->hname ? 1 : 0};
        rec_t r;
        memset(&r, 0, sizeof(r));
        util_error_t err = {0};
        CHECK(upstream_http_call_start(pool, &req, &rec_cb, &r, &err) == NULL);
        CHECK_STR_HAS(err.message, c->err_has);
    }
    rec_t r;
    memset(&r, 0, sizeof(r));
    upstream_http_request_t req = {.method = "GET", .path = "/ok"};
    upstream_http_callbacks_t no_close = {NULL, NULL, NULL};
    util_error_t err = {0};
    CHECK(upstream_http_call_start(pool, &req, &no_close, &r, &err) == NULL);
    CHECK_STR_HAS(err.message, "on_close");
    run_for(30);
    CHECK_INT_EQ(r.close_count, 0);
    CHECK_INT_EQ(srv.requests, 0);

    /* bad pool configurations */
    const char *bad_targets[] = {"127.0.0.1", "[::1]80", "host:0", "host:99999", ":80", "no such host.invalid:80"};
    const char *bad_has[] = {"has no port", "must be [address]:port", "invalid port \"0\"", "invalid port",
                             "empty host",  "holds a space"};
    for (size_t i = 0; i < sizeof(bad_targets) / sizeof(bad_targets[0]); i++) {
        upstream_http_config_t cfg = {.targets = &bad_targets[i], .n_targets = 1};
        CHECK(upstream_http_pool_new(loop, &cfg, &err) == NULL);
        CHECK_STR_HAS(err.message, bad_has[i]);
    }
    upstream_http_config_t none = {0};
    CHECK(upstream_http_pool_new(loop, &none, &err) == NULL);
    CHECK_STR_HAS(err.message, "no targets");
    upstream_http_pool_free(pool);
    run_for(10);
    srv_stop(&srv);
}

/* ---- keep-alive, the connection limit, round-robin, failover ------------------------------- */

static void test_connections(void)
{
    srv_t srv;
    srv_start(&srv);
    upstream_http_config_t cfg = {.max_connections_per_target = 2};
    upstream_http_pool_t *pool = pool_for(&srv, &cfg);
    upstream_http_stats_t st;

    /* sequential calls share one connection */
    rec_t r;
    for (int i = 0; i < 3; i++) {
        call(pool, &r, "GET", "/ok", 2000);
        CHECK_INT_EQ(r.status, 200);
    }
    CHECK_INT_EQ(srv.accepted, 1);
    upstream_http_pool_stats(pool, &st);
    CHECK_INT_EQ(st.connects, 1);
    CHECK_INT_EQ(st.requests, 3);
    CHECK_INT_EQ(st.reused, 2);
    CHECK_INT_EQ(st.idle_connections, 1);

    /* ten at once: never more than two connections, the rest queue, all answered */
    rec_t many[10];
    memset(many, 0, sizeof(many));
    for (int i = 0; i < 10; i++)
        start(pool, &many[i], "GET", i % 2 ? "/ok" : "/chunked", 3000);
    upstream_http_pool_stats(pool, &st);
    CHECK_INT_EQ(st.queued_calls, 10);
    int all = 0;
    uint64_t end = wall_ms() + 3000;
    while (!all && wall_ms() < end) {
        h2o_evloop_run(loop, 10);
        all = 1;
        for (int i = 0; i < 10; i++)
            all &= many[i].closed;
    }
    for (int i = 0; i < 10; i++)
        CHECK_INT_EQ(many[i].status, 200);
    CHECK_INT_EQ(srv.accepted, 2);
    CHECK(srv.max_open <= 2);

    /* the server closes an idle connection: noticed, and the next call opens a new one quietly */
    call(pool, &r, "GET", "/closeidle", 2000);
    CHECK_INT_EQ(r.status, 200);
    waited_pool = pool;
    CHECK(wait_for(one_idle, NULL, 2000)); /* of the two, the one the server closed is gone */
    uint64_t retries = st.retries;
    call(pool, &r, "GET", "/ok", 2000);
    CHECK_INT_EQ(r.status, 200);
    upstream_http_pool_stats(pool, &st);
    CHECK_INT_EQ(st.retries, retries);
    upstream_http_pool_free(pool);
    run_for(10);

    /* the idle timeout */
    upstream_http_config_t idle = {.idle_timeout_ms = 50};
    pool = pool_for(&srv, &idle);
    call(pool, &r, "GET", "/ok", 2000);
    upstream_http_pool_stats(pool, &st);
    CHECK_INT_EQ(st.connections, 1);
    uint64_t idle_from = wall_ms();
    waited_pool = pool;
    CHECK(wait_for(no_connection, NULL, 2000));
    CHECK(wall_ms() - idle_from >= 45);
    upstream_http_pool_free(pool);
    run_for(10);
    srv_stop(&srv);

    /* round-robin over two targets; failover past a dead one */
    srv_t a, b;
    srv_start(&a);
    srv_start(&b);
    char ta[64], tb[64], td[64];
    snprintf(ta, sizeof(ta), "127.0.0.1:%u", a.port);
    snprintf(tb, sizeof(tb), "127.0.0.1:%u", b.port);
    snprintf(td, sizeof(td), "127.0.0.1:%u", dead_port());
    const char *two[] = {ta, tb};
    upstream_http_config_t rr = {.targets = two, .n_targets = 2};
    pool = upstream_http_pool_new(loop, &rr, NULL);
    for (int i = 0; i < 4; i++)
        call(pool, &r, "GET", "/ok", 2000);
    CHECK_INT_EQ(a.requests, 2);
    CHECK_INT_EQ(b.requests, 2);
    upstream_http_pool_free(pool);
    run_for(10);

    const char *with_dead[] = {td, ta};
    upstream_http_config_t fo = {.targets = with_dead, .n_targets = 2};
    pool = upstream_http_pool_new(loop, &fo, NULL);
    int before = a.requests;
    for (int i = 0; i < 3; i++) {
        call(pool, &r, "GET", "/ok", 2000);
        CHECK_INT_EQ(r.status, 200);
        CHECK_STR_EQ(r.target, ta);
    }
    CHECK_INT_EQ(a.requests - before, 3);
    upstream_http_pool_stats(pool, &st);
    CHECK_INT_EQ(st.connect_failures, 1); /* the dead target backs off after its first refusal */
    upstream_http_pool_free(pool);
    run_for(10);
    srv_stop(&a);
    srv_stop(&b);
}

/* ---- connect failure, backoff and fail-fast ------------------------------------------------- */

static void test_connect_failure(void)
{
    char target[64];
    snprintf(target, sizeof(target), "127.0.0.1:%u", dead_port());
    const char *targets[] = {target};
    upstream_http_config_t cfg = {.targets = targets, .n_targets = 1, .backoff_initial_ms = 100, .backoff_max_ms = 100};
    upstream_http_pool_t *pool = upstream_http_pool_new(loop, &cfg, NULL);
    rec_t r;
    call(pool, &r, "GET", "/ok", 2000);
    CHECK_INT_EQ(r.error, UPSTREAM_HTTP_ERR_CONNECT);
    CHECK_STR_HAS(r.message, "connect to 127.0.0.1:");
    CHECK_STR_EQ(r.target, target);

    /* while backing off: fails at once, from the loop (never inside start) */
    memset(&r, 0, sizeof(r));
    start(pool, &r, "GET", "/ok", 2000);
    CHECK_INT_EQ(r.close_count, 0);
    run_until(&r.closed, 1000);
    CHECK_INT_EQ(r.error, UPSTREAM_HTTP_ERR_CONNECT);
    CHECK_STR_HAS(r.message, "upstream unavailable: connect to 127.0.0.1:");
    CHECK_STR_HAS(r.message, "next attempt in");
    upstream_http_stats_t st;
    upstream_http_pool_stats(pool, &st);
    CHECK_INT_EQ(st.calls_failed_fast, 1);
    CHECK_INT_EQ(st.connects, 1);

    /* after the backoff: tried again */
    run_for(150);
    call(pool, &r, "GET", "/ok", 2000);
    CHECK_INT_EQ(r.error, UPSTREAM_HTTP_ERR_CONNECT);
    upstream_http_pool_stats(pool, &st);
    CHECK_INT_EQ(st.connects, 2);
    upstream_http_pool_free(pool);
    run_for(10);

    /* a listener whose accept queue is full: the SYN goes unanswered, the connect times out */
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(lfd, (struct sockaddr *)&sin, sizeof(sin));
    listen(lfd, 0);
    socklen_t slen = sizeof(sin);
    getsockname(lfd, (struct sockaddr *)&sin, &slen);
    int filler = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    connect(filler, (struct sockaddr *)&sin, sizeof(sin));
    run_for(20);
    char full[64];
    snprintf(full, sizeof(full), "127.0.0.1:%u", ntohs(sin.sin_port));
    const char *full_targets[] = {full};
    upstream_http_config_t bh = {.targets = full_targets, .n_targets = 1, .connect_timeout_ms = 80};
    pool = upstream_http_pool_new(loop, &bh, NULL);
    uint64_t t0 = wall_ms();
    call(pool, &r, "GET", "/ok", 2000);
    CHECK_INT_EQ(r.error, UPSTREAM_HTTP_ERR_CONNECT);
    char expect[128];
    snprintf(expect, sizeof(expect), "connect to %s timed out after 80 ms", full);
    CHECK_STR_HAS(r.message, expect);
    CHECK(r.closed_at - t0 >= 75 && r.closed_at - t0 < 1500);
    upstream_http_pool_free(pool);
    run_for(10);
    close(filler);
    close(lfd);
}

/* ---- deadlines ---------------------------------------------------------------------------------- */

static void test_deadlines(void)
{
    srv_t srv;
    srv_start(&srv);
    upstream_http_config_t cfg = {.max_connections_per_target = 1};
    upstream_http_pool_t *pool = pool_for(&srv, &cfg);
    rec_t r;
    uint64_t t0 = wall_ms();
    call(pool, &r, "GET", "/hang", 100);
    CHECK_INT_EQ(r.error, UPSTREAM_HTTP_ERR_TIMEOUT);
    CHECK_STR_HAS(r.message, "within 100 ms");
    CHECK(r.closed_at - t0 >= 95 && r.closed_at - t0 < 1500);

    /* the connection of a timed-out request is not reused */
    call(pool, &r, "GET", "/ok", 1000);
    CHECK_INT_EQ(r.status, 200);
    CHECK_INT_EQ(srv.accepted, 2);

    /* a call waiting for the only connection times out in the queue */
    rec_t slow, queued;
    memset(&slow, 0, sizeof(slow));
    memset(&queued, 0, sizeof(queued));
    start(pool, &slow, "GET", "/slow", 2000);
    start(pool, &queued, "GET", "/ok", 60);
    run_until(&queued.closed, 1000);
    CHECK_INT_EQ(queued.error, UPSTREAM_HTTP_ERR_TIMEOUT);
    CHECK_STR_HAS(queued.message, "(waiting for a connection)");
    run_until(&slow.closed, 1000);
    CHECK_INT_EQ(slow.status, 200);
    CHECK_STR_EQ(slow.body, "hello");
    upstream_http_pool_free(pool);
    run_for(10);
    srv_stop(&srv);
}

/* ---- the keep-alive race -------------------------------------------------------------------- */

static void test_keepalive_race(void)
{
    srv_t srv;
    srv_start(&srv);
    upstream_http_config_t cfg = {.max_connections_per_target = 1};
    upstream_http_pool_t *pool = pool_for(&srv, &cfg);
    rec_t r;
    call(pool, &r, "GET", "/flaky", 2000);
    CHECK_INT_EQ(r.status, 200);
    /* the reused connection is closed under the GET: sent again on a new one */
    call(pool, &r, "GET", "/flaky", 2000);
    CHECK_INT_EQ(r.error, UPSTREAM_HTTP_OK);
    CHECK_INT_EQ(r.status, 200);
    upstream_http_stats_t st;
    upstream_http_pool_stats(pool, &st);
    CHECK_INT_EQ(st.retries, 1);
    CHECK_INT_EQ(srv.accepted, 2);
    /* a POST is not idempotent: the failure is reported */
    call(pool, &r, "POST", "/flaky", 2000);
    CHECK_INT_EQ(r.error, UPSTREAM_HTTP_ERR_IO);
    CHECK_STR_HAS(r.message, "closed before any response");
    upstream_http_pool_stats(pool, &st);
    CHECK_INT_EQ(st.retries, 1);
    upstream_http_pool_free(pool);
    run_for(10);
    srv_stop(&srv);
}

/* ---- bodies: the limit, streaming ----------------------------------------------------------- */

static void test_bodies(void)
{
    big_body = malloc(BIG_LEN);
    memset(big_body, 'x', BIG_LEN);
    srv_t srv;
    srv_start(&srv);
    upstream_http_config_t cfg = {.max_response_body = 1000};
    upstream_http_pool_t *pool = pool_for(&srv, &cfg);
    rec_t r;
    call(pool, &r, "GET", "/big", 2000);
    CHECK_INT_EQ(r.error, UPSTREAM_HTTP_ERR_TOO_LARGE);
    CHECK_INT_EQ(r.status, 200);
    CHECK_STR_HAS(r.message, "1048576 bytes, over the limit of 1000");

    /* chunked bodies are counted as they come */
    upstream_http_pool_free(pool);
    upstream_http_config_t tiny = {.max_response_body = 8};
    pool = pool_for(&srv, &tiny);
    call(pool, &r, "GET", "/chunked", 2000);
    CHECK_INT_EQ(r.error, UPSTREAM_HTTP_ERR_TOO_LARGE);
    CHECK_STR_HAS(r.message, "over the limit of 8 bytes");

    /* streamed: no limit, every byte through on_data */
    memset(&r, 0, sizeof(r));
    r.stream = 1;
    start(pool, &r, "GET", "/big", 5000);
    run_until(&r.closed, 5000);
    CHECK_INT_EQ(r.error, UPSTREAM_HTTP_OK);
    CHECK_INT_EQ(r.data_bytes, BIG_LEN);
    CHECK(r.data_count >= 1);
    CHECK(r.body_null);

    /* a slow chunked stream arrives piece by piece */
    memset(&r, 0, sizeof(r));
    r.stream = 1;
    start(pool, &r, "GET", "/stream", 2000);
    run_until(&r.closed, 2000);
    CHECK_INT_EQ(r.error, UPSTREAM_HTTP_OK);
    CHECK_STR_EQ(r.data, "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n");
    CHECK_INT_EQ(r.data_count, 3);
    upstream_http_pool_free(pool);
    run_for(10);
    srv_stop(&srv);
    free(big_body);
}

/* ---- cancellation ----------------------------------------------------------------------------- */

static void test_cancel(void)
{
    srv_t srv;
    srv_start(&srv);
    upstream_http_pool_t *pool = pool_for(&srv, NULL);
    rec_t r;

    /* right after start, before anything was sent */
    memset(&r, 0, sizeof(r));
    start(pool, &r, "GET", "/ok", 1000);
    upstream_http_call_cancel(r.call);
    run_for(50);
    CHECK_INT_EQ(r.close_count, 0);
    CHECK_INT_EQ(srv.requests, 0);

    /* while waiting for the answer: the connection goes */
    memset(&r, 0, sizeof(r));
    start(pool, &r, "GET", "/slow", 1000);
    CHECK(wait_for(srv_has_request, &srv, 2000));
    upstream_http_call_cancel(r.call);
    run_for(250);
    CHECK_INT_EQ(r.close_count, 0);
    CHECK_INT_EQ(srv.open, 0);

    /* from on_head, from on_data: nothing after; from on_close: a no-op */
    for (int where = 1; where <= 3; where++) {
        memset(&r, 0, sizeof(r));
        r.stream = where == 2;
        r.cancel_in = where;
        start(pool, &r, "GET", where == 2 ? "/stream" : "/ok", 3000);
        CHECK(wait_for(where == 3 ? rec_closed : rec_got_head, &r, 2000));
        run_for(100); /* nothing more may come */
        CHECK_INT_EQ(r.head_count, 1);
        CHECK_INT_EQ(r.close_count, where == 3 ? 1 : 0);
        if (where == 2)
            CHECK_INT_EQ(r.data_count, 1);
    }
    /* the pool still works */
    call(pool, &r, "GET", "/ok", 1000);
    CHECK_INT_EQ(r.status, 200);

    /* freeing the pool ends what is in it */
    rec_t a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    start(pool, &a, "GET", "/hang", 5000);
    run_for(30);
    start(pool, &b, "GET", "/ok", 5000);
    upstream_http_pool_free(pool);
    CHECK_INT_EQ(a.close_count, 1);
    CHECK_INT_EQ(a.error, UPSTREAM_HTTP_ERR_SHUTDOWN);
    CHECK_INT_EQ(b.close_count, 1);
    CHECK_INT_EQ(b.error, UPSTREAM_HTTP_ERR_SHUTDOWN);
    run_for(10);
    srv_stop(&srv);
}

/* ---- TLS ------------------------------------------------------------------------------------- */

typedef struct {
    const char *name;
    int verify; /* 0 no, 1 trust the certificate, 2 trust nothing */
    const char *server_name;
    int error;
    const char *message_has;
} tls_case_t;

static const tls_case_t tls_cases[] = {
    {"verified", 1, "localhost", UPSTREAM_HTTP_OK, ""},
    {"unverified", 0, NULL, UPSTREAM_HTTP_OK, ""},
    {"untrusted certificate", 2, "localhost", UPSTREAM_HTTP_ERR_CONNECT, "TLS handshake with 127.0.0.1:"},
    {"wrong name", 1, "other.example", UPSTREAM_HTTP_ERR_CONNECT, "TLS handshake"},
    {"verified against the target's IP, which the certificate lacks", 1, NULL, UPSTREAM_HTTP_ERR_CONNECT, "TLS handshake"},
};

static void test_tls(void)
{
    EVP_PKEY *key;
    X509 *cert;
    make_cert(&key, &cert);
    for (size_t i = 0; i < sizeof(tls_cases) / sizeof(tls_cases[0]); i++) {
        const tls_case_t *c = &tls_cases[i];
        srv_t srv;
        srv_start(&srv);
        srv.ssl_ctx = SSL_CTX_new(TLS_server_method());
        SSL_CTX_use_certificate(srv.ssl_ctx, cert);
        SSL_CTX_use_PrivateKey(srv.ssl_ctx, key);
        static const h2o_iovec_t h1[] = {{"http/1.1", 8}, {NULL, 0}};
        h2o_ssl_register_alpn_protocols(srv.ssl_ctx, h1);
        SSL_CTX *client = SSL_CTX_new(TLS_client_method());
        if (c->verify) {
            SSL_CTX_set_verify(client, SSL_VERIFY_PEER, NULL);
            if (c->verify == 1)
                X509_STORE_add_cert(SSL_CTX_get_cert_store(client), cert);
        }
        upstream_http_config_t cfg = {.ssl_ctx = client, .tls_server_name = c->server_name};
        upstream_http_pool_t *pool = pool_for(&srv, &cfg);
        rec_t r;
        call(pool, &r, "GET", "/ok", 3000);
        if (r.error != c->error)
            fprintf(stderr, "TLS case \"%s\": error %d \"%s\"\n", c->name, r.error, r.message);
        CHECK_INT_EQ(r.error, c->error);
        CHECK_STR_HAS(r.message, c->message_has);
        if (c->error == UPSTREAM_HTTP_OK) {
            CHECK_STR_EQ(r.body, "hello");
            call(pool, &r, "GET", "/chunked", 3000); /* kept alive over TLS */
            CHECK_STR_EQ(r.body, "hello world");
            CHECK_INT_EQ(srv.accepted, 1);
        }
        upstream_http_pool_free(pool);
        run_for(20);
        srv_stop(&srv);
        run_for(10);
        SSL_CTX_free(srv.ssl_ctx);
        SSL_CTX_free(client);
    }
    X509_free(cert);
    EVP_PKEY_free(key);
}

/* ---- the example shop's reviews-backend, when it is built ------------------------------------ */

static void test_reviews_backend(void)
{
    const char *dir = getenv("PORTICO_BUILD_DIR");
    char bin[4096];
    snprintf(bin, sizeof(bin), "%s/examples/shop/reviews/reviews-backend", dir ? dir : ".");
    if (access(bin, X_OK) != 0) {
        printf("reviews-backend not built (%s): skipping its case\n", bin);
        return;
    }
    char port_file[] = "/tmp/portico-http-client-test-XXXXXX";
    int pfd = mkstemp(port_file);
    close(pfd);
    unlink(port_file);
    pid_t pid = fork();
    if (pid == 0) {
        execl(bin, bin, "--listen", "127.0.0.1:0", "--port-file", port_file, "--quiet", (char *)NULL);
        _exit(127);
    }
    unsigned port = 0;
    for (int i = 0; i < 200 && port == 0; i++) {
        FILE *f = fopen(port_file, "r");
        if (f != NULL) {
            if (fscanf(f, "%u", &port) != 1)
                port = 0;
            fclose(f);
        }
        if (port == 0)
            usleep(20000);
    }
    CHECK(port != 0);
    if (port != 0) {
        char target[64];
        snprintf(target, sizeof(target), "127.0.0.1:%u", port);
        const char *targets[] = {target};
        upstream_http_config_t cfg = {.targets = targets, .n_targets = 1};
        upstream_http_pool_t *pool = upstream_http_pool_new(loop, &cfg, NULL);
        rec_t r;
        call(pool, &r, "GET", "/reviews/ABC-123", 3000);
        CHECK_INT_EQ(r.status, 200);
        CHECK_STR_HAS(r.body, "\"sku\"");
        CHECK_STR_HAS(r.body, "ABC-123");
        call(pool, &r, "GET", "/reviews/NOPE-0", 3000);
        CHECK_INT_EQ(r.status, 404);
        upstream_header_t h[] = {{"x-test-status", 13, "503", 3}};
        upstream_http_request_t req = {
            .method = "GET", .path = "/reviews/ABC-123", .headers = h, .n_headers = 1, .timeout_ms = 3000};
        memset(&r, 0, sizeof(r));
        r.call = upstream_http_call_start(pool, &req, &rec_cb, &r, NULL);
        run_until(&r.closed, 3000);
        CHECK_INT_EQ(r.status, 503);
        upstream_header_t d[] = {{"x-test-delay-ms", 15, "500", 3}};
        upstream_http_request_t slow = {
            .method = "GET", .path = "/reviews/ABC-123", .headers = d, .n_headers = 1, .timeout_ms = 100};
        memset(&r, 0, sizeof(r));
        r.call = upstream_http_call_start(pool, &slow, &rec_cb, &r, NULL);
        run_until(&r.closed, 3000);
        CHECK_INT_EQ(r.error, UPSTREAM_HTTP_ERR_TIMEOUT);
        upstream_http_stats_t st;
        upstream_http_pool_stats(pool, &st);
        CHECK_INT_EQ(st.connects, 1);    /* all four went on one kept-alive connection ... */
        CHECK_INT_EQ(st.connections, 0); /* ... closed when the last one timed out */
        upstream_http_pool_free(pool);
        run_for(10);
    }
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    unlink(port_file);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    test_parser();
    loop = h2o_evloop_create();
    test_outcomes();
    test_request();
    test_bad_arguments();
    test_connections();
    test_connect_failure();
    test_deadlines();
    test_keepalive_race();
    test_bodies();
    test_cancel();
    test_tls();
    test_reviews_backend();
    run_for(20);
    h2o_evloop_destroy(loop);
    return test_summary();
}
