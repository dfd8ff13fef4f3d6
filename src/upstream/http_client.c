/*
 * http_client.c — the upstream HTTP/1.1 client (see http_upstream.h for the contract): the
 * response parser, the per-target keep-alive connections, the calls, and the pool's
 * end-of-iteration tick that places waiting calls and frees the graveyard.
 *
 * Why not h2o 2.2.5's h2o_http1client_connect_with_pool + h2o_socketpool_t: they were
 * checked against this job and fall short in ways that matter here. The socket pool exports
 * every idle socket out of the event loop and imports it back for the next request (an
 * epoll_ctl DEL, an ADD and a recv(MSG_PEEK) per reused request), ignores its capacity
 * ("FIXME respect capacity" in 2.2.5), prints warnings on stderr when a backend closes an idle
 * connection, and cannot say whether a request went out on a reused connection, so a request
 * that loses the keep-alive race cannot be retried safely. http1client has a single I/O
 * timeout for connect and reads (no separate connect timeout), no limit on the size of a
 * response head, and its callbacks cannot cancel the client they run in. What portico keeps
 * from h2o is what fits: h2o_socket_t (connect, TLS, reads, writes on the worker's loop) and
 * picohttpparser (phr_parse_response, phr_decode_chunked), the parser h2o itself uses.
 *
 * Lifetime rule (as in the gRPC client): calls and connections are never freed where they are
 * found dead, because a callback of theirs may be on the stack (a user callback, an h2o socket
 * callback). They go to the pool's graveyard lists, which the tick empties at the end of the
 * loop iteration. A closed connection's socket has its data pointer cleared, so h2o callbacks
 * that still arrive for it are ignored.
 */
#include "util/thread_cache.h"
#include "upstream/http_client.h"
#include "upstream/target.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <pthread.h>

#include <h2o/linklist.h>
#include <h2o/memory.h>
#include <openssl/x509v3.h>

#include "upstream/timer.h"

#ifndef PORTICO_VERSION
#define PORTICO_VERSION "dev"
#endif

/* A deadline further away than this (about 35 years) is no deadline. */
#define MAX_TIMEOUT_MS ((int64_t)1 << 40)

/* =========================================================================================
 * Response parser (no I/O)
 */

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Does the comma-separated list |v| hold |tok| (case-insensitive, optional whitespace)? */
static int list_has_token(const char *v, size_t len, const char *tok)
{
    size_t tlen = strlen(tok), i = 0;
    while (i < len) {
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t start = i;
        while (i < len && v[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
            end--;
        if (end - start == tlen && strncasecmp(v + start, tok, tlen) == 0)
            return 1;
    }
    return 0;
}

/* Transfer-Encoding: returns 1 when the body is chunked, 0 when the codings are all
 * "identity", -1 for a coding portico cannot undo (gzip, ...) or chunked that is not last. */
static int parse_transfer_encoding(const char *v, size_t len)
{
    int chunked = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t start = i;
        while (i < len && v[i] != ',' && v[i] != ';')
            i++;
        size_t end = i;
        while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
            end--;
        while (i < len && v[i] != ',') /* coding parameters */
            i++;
        if (end == start)
            continue;
        if (chunked)
            return -1; /* something after chunked */
        if (end - start == 7 && strncasecmp(v + start, "chunked", 7) == 0)
            chunked = 1;
        else if (!(end - start == 8 && strncasecmp(v + start, "identity", 8) == 0))
            return -1;
    }
    return chunked;
}

/* Content-Length: 1*DIGIT, or a list of identical values ("5, 5"). Returns the value or -1. */
static int64_t parse_content_length(const char *v, size_t len)
{
    int64_t value = -1;
    size_t i = 0;
    while (i < len) {
        while (i < len && (v[i] == ' ' || v[i] == '\t'))
            i++;
        if (i == len || v[i] < '0' || v[i] > '9')
            return -1;
        int64_t n = 0;
        while (i < len && v[i] >= '0' && v[i] <= '9') {
            if (n > (INT64_MAX - 9) / 10)
                return -1;
            n = n * 10 + (v[i++] - '0');
        }
        while (i < len && (v[i] == ' ' || v[i] == '\t'))
            i++;
        if (value != -1 && n != value)
            return -1;
        value = n;
        if (i < len) {
            if (v[i] != ',')
                return -1;
            i++;
        }
    }
    return value;
}

void upstream_http_parser_init(upstream_http_parser_t *p, size_t max_head, int method_is_head)
{
    memset(p, 0, sizeof(*p));
    p->max_head = max_head;
    p->method_is_head = method_is_head;
    p->content_length = -1;
    p->_chunked.d.consume_trailer = 1;
    p->_store = util_buf_take();
}

void upstream_http_parser_dispose(upstream_http_parser_t *p)
{
    util_buf_give(&p->_store);
    p->headers = NULL;
    p->n_headers = 0;
}

static int parse_fail(upstream_http_parser_t *p, util_error_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int parse_fail(upstream_http_parser_t *p, util_error_t *err, int code, const char *fmt, ...)
{
    p->state = UPSTREAM_HTTP_PARSE_FAILED;
    if (err != NULL) {
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
    }
    return UPSTREAM_HTTP_EV_ERROR;
}

/* Copies the final head's headers and decides how the body is framed (RFC 9112 section 6). */
static int take_head(upstream_http_parser_t *p, int minor, int status, const struct phr_header *h, size_t n, util_error_t *err)
{
    size_t name_off[UPSTREAM_HTTP_MAX_HEADERS], value_off[UPSTREAM_HTTP_MAX_HEADERS], name_len[UPSTREAM_HTTP_MAX_HEADERS],
        value_len[UPSTREAM_HTTP_MAX_HEADERS];
    size_t count = 0;
    util_buf_t *s = &p->_store;
    s->len = 0;
    /* one allocation for the strings and, after them, the header list that points at them */
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += h[i].name_len + h[i].value_len + 3;
    util_buf_reserve(s, total + _Alignof(upstream_header_t) + n * sizeof(upstream_header_t));
    for (size_t i = 0; i < n; i++) {
        if (h[i].name == NULL) {
            /* obs-fold: a continuation line of the previous field, joined with a space */
            if (count == 0)
                return parse_fail(p, err, UPSTREAM_HTTP_ERR_PROTOCOL, "malformed response head (continuation line first)");
            const char *v = h[i].value;
            size_t vlen = h[i].value_len;
            while (vlen > 0 && (*v == ' ' || *v == '\t')) {
                v++;
                vlen--;
            }
            s->len--; /* the previous value's NUL */
            util_buf_putc(s, ' ');
            util_buf_append(s, v, vlen);
            util_buf_putc(s, '\0');
            value_len[count - 1] += 1 + vlen;
            continue;
        }
        size_t nl = h[i].name_len, vl = h[i].value_len;
        if (util_buf_reserve(s, nl + vl + 2) != 0)
            break; /* reported below */
        uint8_t *d = s->data + s->len;
        for (size_t k = 0; k < nl; k++)
            d[k] = (uint8_t)lower((unsigned char)h[i].name[k]);
        d[nl] = '\0';
        memcpy(d + nl + 1, h[i].value, vl);
        d[nl + 1 + vl] = '\0';
        name_off[count] = s->len;
        name_len[count] = nl;
        value_off[count] = s->len + nl + 1;
        value_len[count] = vl;
        s->len += nl + vl + 2;
        count++;
    }
    size_t list_at = (s->len + _Alignof(upstream_header_t) - 1) & ~(_Alignof(upstream_header_t) - 1);
    if (util_buf_failed(s) || util_buf_reserve(s, list_at - s->len + count * sizeof(upstream_header_t)) != 0)
        return parse_fail(p, err, UPSTREAM_HTTP_ERR_IO, "out of memory reading a response head");
    s->len = list_at + count * sizeof(upstream_header_t);
    p->headers = (upstream_header_t *)(void *)(s->data + list_at); /* no reallocation after this */
    for (size_t i = 0; i < count; i++)
        p->headers[i] = (upstream_header_t){(const char *)s->data + name_off[i], name_len[i], (const char *)s->data + value_off[i],
                                            value_len[i]};
    p->n_headers = count;
    p->status = status;
    p->minor_version = minor;

    int keepalive = minor >= 1, chunked = 0;
    int64_t cl = -1;
    for (size_t i = 0; i < count; i++) {
        const upstream_header_t *e = &p->headers[i];
        if (e->name_len == 10 && memcmp(e->name, "connection", 10) == 0) {
            if (list_has_token(e->value, e->value_len, "close"))
                keepalive = 0;
            else if (list_has_token(e->value, e->value_len, "keep-alive"))
                keepalive = 1;
        } else if (e->name_len == 17 && memcmp(e->name, "transfer-encoding", 17) == 0) {
            int te = parse_transfer_encoding(e->value, e->value_len);
            if (te < 0)
                return parse_fail(p, err, UPSTREAM_HTTP_ERR_PROTOCOL, "unsupported transfer-encoding \"%.60s\" in the response",
                                  e->value);
            chunked |= te;
        } else if (e->name_len == 14 && memcmp(e->name, "content-length", 14) == 0) {
            int64_t v = parse_content_length(e->value, e->value_len);
            if (v < 0 || (cl >= 0 && v != cl))
                return parse_fail(p, err, UPSTREAM_HTTP_ERR_PROTOCOL, "invalid content-length \"%.60s\" in the response", e->value);
            cl = v;
        }
    }
    p->keepalive = keepalive;
    if (p->method_is_head || status == 204 || status == 304) {
        p->content_length = cl;
        p->state = UPSTREAM_HTTP_PARSE_DONE;
    } else if (chunked) {
        if (cl >= 0)
            p->keepalive = 0; /* both framings: chunked wins, and the connection is not trusted afterwards */
        p->state = UPSTREAM_HTTP_PARSE_BODY_CHUNKED;
    } else if (cl >= 0) {
        p->content_length = cl;
        p->_remaining = (uint64_t)cl;
        p->state = cl == 0 ? UPSTREAM_HTTP_PARSE_DONE : UPSTREAM_HTTP_PARSE_BODY_LENGTH;
    } else {
        p->keepalive = 0;
        p->state = UPSTREAM_HTTP_PARSE_BODY_CLOSE;
    }
    return 0;
}

int upstream_http_parser_feed(upstream_http_parser_t *p, char *data, size_t len, size_t *consumed, const char **body,
                              size_t *body_len, util_error_t *err)
{
    *consumed = 0;
    *body = NULL;
    *body_len = 0;
    switch (p->state) {
    case UPSTREAM_HTTP_PARSE_HEAD: {
        size_t off = 0;
        for (;;) {
            struct phr_header h[UPSTREAM_HTTP_MAX_HEADERS];
            size_t n = UPSTREAM_HTTP_MAX_HEADERS, msg_len;
            int minor = 0, status = 0;
            const char *msg;
            if (len - off == 0) {
                *consumed = off;
                return UPSTREAM_HTTP_EV_MORE;
            }
            int r = phr_parse_response(data + off, len - off, &minor, &status, &msg, &msg_len, h, &n, 0);
            if (r == -2) {
                if (len - off > p->max_head)
                    return parse_fail(p, err, UPSTREAM_HTTP_ERR_TOO_LARGE, "response head is over the limit of %zu bytes",
                                      p->max_head);
                *consumed = off;
                return UPSTREAM_HTTP_EV_MORE;
            }
            if (r < 0)
                return parse_fail(p, err, UPSTREAM_HTTP_ERR_PROTOCOL,
                                  "malformed response head (not HTTP/1.x, or more than %d header fields)",
                                  UPSTREAM_HTTP_MAX_HEADERS);
            if ((size_t)r > p->max_head)
                return parse_fail(p, err, UPSTREAM_HTTP_ERR_TOO_LARGE, "response head is over the limit of %zu bytes", p->max_head);
            if (status < 100)
                return parse_fail(p, err, UPSTREAM_HTTP_ERR_PROTOCOL, "invalid response status %d", status);
            if (status < 200) {
                if (status == 101)
                    return parse_fail(p, err, UPSTREAM_HTTP_ERR_PROTOCOL, "unexpected 101 Switching Protocols response");
                off += (size_t)r; /* interim response (100 Continue, 103 Early Hints): skipped */
                continue;
            }
            if (take_head(p, minor, status, h, n, err) != 0)
                return UPSTREAM_HTTP_EV_ERROR;
            *consumed = off + (size_t)r;
            return UPSTREAM_HTTP_EV_HEAD;
        }
    }
    case UPSTREAM_HTTP_PARSE_BODY_LENGTH: {
        size_t n = (uint64_t)len < p->_remaining ? len : (size_t)p->_remaining;
        if (n == 0)
            return UPSTREAM_HTTP_EV_MORE;
        *body = data;
        *body_len = n;
        *consumed = n;
        p->_remaining -= n;
        if (p->_remaining == 0)
            p->state = UPSTREAM_HTTP_PARSE_DONE;
        return UPSTREAM_HTTP_EV_DATA;
    }
    case UPSTREAM_HTTP_PARSE_BODY_CHUNKED: {
        if (len == 0)
            return UPSTREAM_HTTP_EV_MORE;
        size_t sz = len;
        ssize_t r = phr_decode_chunked(&p->_chunked.d, data, &sz);
        if (r == -1)
            return parse_fail(p, err, UPSTREAM_HTTP_ERR_PROTOCOL, "malformed chunked response body");
        *consumed = len;
        if (r >= 0) {
            p->state = UPSTREAM_HTTP_PARSE_DONE;
            p->trailing += (size_t)r;
        }
        if (sz != 0) {
            *body = data;
            *body_len = sz;
            return UPSTREAM_HTTP_EV_DATA;
        }
        return r >= 0 ? UPSTREAM_HTTP_EV_DONE : UPSTREAM_HTTP_EV_MORE;
    }
    case UPSTREAM_HTTP_PARSE_BODY_CLOSE:
        if (len == 0)
            return UPSTREAM_HTTP_EV_MORE;
        *body = data;
        *body_len = len;
        *consumed = len;
        return UPSTREAM_HTTP_EV_DATA;
    case UPSTREAM_HTTP_PARSE_DONE:
        p->trailing += len;
        *consumed = len;
        return UPSTREAM_HTTP_EV_DONE;
    case UPSTREAM_HTTP_PARSE_FAILED:
    default:
        return parse_fail(p, err, UPSTREAM_HTTP_ERR_PROTOCOL, "response parser used after an error");
    }
}

int upstream_http_parser_eof(upstream_http_parser_t *p, util_error_t *err)
{
    switch (p->state) {
    case UPSTREAM_HTTP_PARSE_BODY_CLOSE:
        p->state = UPSTREAM_HTTP_PARSE_DONE;
        return UPSTREAM_HTTP_EV_DONE;
    case UPSTREAM_HTTP_PARSE_DONE:
        return UPSTREAM_HTTP_EV_DONE;
    case UPSTREAM_HTTP_PARSE_HEAD:
        return parse_fail(p, err, UPSTREAM_HTTP_ERR_IO, "connection closed before the response head was complete");
    case UPSTREAM_HTTP_PARSE_BODY_LENGTH:
        return parse_fail(p, err, UPSTREAM_HTTP_ERR_IO, "connection closed with %llu of %lld body bytes missing",
                          (unsigned long long)p->_remaining, (long long)p->content_length);
    case UPSTREAM_HTTP_PARSE_BODY_CHUNKED:
        return parse_fail(p, err, UPSTREAM_HTTP_ERR_IO, "connection closed before the end of the chunked body");
    case UPSTREAM_HTTP_PARSE_FAILED:
    default:
        return parse_fail(p, err, UPSTREAM_HTTP_ERR_IO, "connection closed after a malformed response");
    }
}

/* =========================================================================================
 * Pool, targets, connections, calls
 */

typedef struct http_target {
    char *host;      /* for SNI */
    char *authority; /* "host:port" */
    char *host_line; /* "host: host:port\r\n" */
    size_t host_line_len;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    h2o_linklist_t idle; /* http_conn_t.idle_link, most recently used first */
    uint32_t n_conns;    /* connecting, busy and idle */
    uint32_t n_idle;
    uint32_t failures;      /* consecutive failed connects */
    uint64_t backoff_until; /* h2o_now() ms; no connect attempt before */
    char last_error[200];
} http_target_t;

typedef enum http_conn_state {
    HTTP_CONN_CONNECTING, /* TCP connect or TLS handshake */
    HTTP_CONN_BUSY,       /* a request on it */
    HTTP_CONN_IDLE,       /* kept alive */
    HTTP_CONN_CLOSED,     /* in the graveyard */
} http_conn_state_t;

typedef struct http_conn {
    upstream_http_pool_t *pool;
    http_target_t *target;
    h2o_linklist_t link;      /* pool->conns, then pool->dead_conns */
    h2o_linklist_t idle_link; /* target->idle while idle */
    http_conn_state_t state;
    h2o_socket_t *sock;
    upstream_http_call_t *call;
    uint32_t served; /* responses completed on it */
    int writing;
    upstream_timer_t timer; /* connect timeout while connecting, idle timeout while idle */
} http_conn_t;

struct upstream_http_call {
    upstream_http_pool_t *pool;
    http_conn_t *conn;
    h2o_linklist_t link; /* pool->pending or pool->dead_calls */
    upstream_http_callbacks_t cb;
    void *ctx;
    util_buf_t req;      /* request line, then the headers (without Host unless the caller gave one), blank line, body */
    size_t req_line_len; /* the Host line goes after the request line */
    int64_t timeout_ms;
    upstream_timer_t deadline;
    upstream_http_parser_t parser;
    util_buf_t body;
    http_target_t *target; /* the target it was last placed on */
    uint32_t attempts;     /* connections opened for it */
    uint32_t retries;      /* sent again after losing a reused connection */
    unsigned has_host : 1;
    unsigned idempotent : 1;
    unsigned is_head : 1;
    unsigned stream : 1;    /* body goes to on_data */
    unsigned got_bytes : 1; /* some response byte arrived on the current attempt */
    unsigned pending : 1;   /* in pool->pending */
    unsigned user_done : 1; /* on_close delivered or cancelled */
    unsigned buried : 1;
};

struct upstream_http_pool {
    h2o_loop_t *loop;
    upstream_http_config_t cfg; /* strings point to the copies below */
    char *user_agent;
    char *host;
    char *tls_server_name;
    char *host_line; /* from cfg.host, or NULL */
    size_t host_line_len;
    http_target_t *targets;
    size_t n_targets;
    size_t rr;
    upstream_timers_t timers;
    h2o_timeout_entry_t tick;
    h2o_linklist_t pending; /* FIFO of calls waiting for a connection */
    h2o_linklist_t conns;   /* every live connection */
    h2o_linklist_t dead_calls;
    h2o_linklist_t dead_conns;
    uint32_t n_pending;
    int freeing;
    uint64_t rng;
    upstream_http_stats_t stats;
};

const char *upstream_http_error_name(upstream_http_error_t e)
{
    switch (e) {
    case UPSTREAM_HTTP_OK:
        return "ok";
    case UPSTREAM_HTTP_ERR_CONNECT:
        return "connect";
    case UPSTREAM_HTTP_ERR_TIMEOUT:
        return "timeout";
    case UPSTREAM_HTTP_ERR_IO:
        return "io";
    case UPSTREAM_HTTP_ERR_PROTOCOL:
        return "protocol";
    case UPSTREAM_HTTP_ERR_TOO_LARGE:
        return "too_large";
    case UPSTREAM_HTTP_ERR_SHUTDOWN:
        return "shutdown";
    }
    return "unknown";
}

static void on_tick(h2o_timeout_entry_t *entry);
static void on_conn_timer(upstream_timer_t *timer);
static void on_deadline(upstream_timer_t *timer);
static void on_connect(h2o_socket_t *sock, const char *err);
static void on_read(h2o_socket_t *sock, const char *err);
static void conn_send(http_conn_t *conn);

static void pool_schedule(upstream_http_pool_t *pool)
{
    if (!pool->freeing)
        upstream_timers_defer(&pool->timers, &pool->tick);
}

/* ---- targets ------------------------------------------------------------------------------ */

/* Resolves |spec| into |t| (see target.h) and builds its Host line. */
static int target_init(http_target_t *t, const char *spec, util_error_t *err)
{
    upstream_target_addr_t a;
    if (upstream_target_resolve(spec, UPSTREAM_TARGET_NO_CONTROLS, &a, err) != 0)
        return -1;
    t->host = a.host;
    t->authority = a.authority;
    t->addr = a.addr;
    t->addrlen = a.addrlen;
    t->host_line_len = strlen(spec) + 8;
    t->host_line = malloc(t->host_line_len + 1);
    if (t->host_line == NULL)
        return util_error_set(err, -1, "out of memory");
    snprintf(t->host_line, t->host_line_len + 1, "host: %s\r\n", spec);
    return 0;
}

static int target_in_backoff(upstream_http_pool_t *pool, const http_target_t *t)
{
    return t->backoff_until > h2o_now(pool->loop);
}

static void target_connect_failed(upstream_http_pool_t *pool, http_target_t *t, const char *why)
{
    pool->stats.connect_failures++;
    t->failures++;
    uint64_t now = h2o_now(pool->loop);
    t->backoff_until = now + upstream_target_backoff_ms(&pool->rng, (uint64_t)(uintptr_t)pool ^ now, t->failures,
                                                        pool->cfg.backoff_initial_ms, pool->cfg.backoff_max_ms);
    snprintf(t->last_error, sizeof(t->last_error), "%s", why);
    pool_schedule(pool);
}

/* ---- calls: ending ------------------------------------------------------------------------ */

static void call_bury(upstream_http_call_t *call)
{
    upstream_http_pool_t *pool = call->pool;
    if (call->buried)
        return;
    call->buried = 1;
    if (call->pending) {
        h2o_linklist_unlink(&call->link);
        call->pending = 0;
        pool->n_pending--;
    }
    h2o_linklist_insert(&pool->dead_calls, &call->link);
    upstream_timers_defer(&pool->timers, &pool->tick); /* also while freeing: pool_free reaps itself */
}

static void call_destroy(upstream_http_call_t *call)
{
    upstream_timer_stop(&call->deadline);
    upstream_http_parser_dispose(&call->parser);
    util_buf_give(&call->req);
    util_buf_give(&call->body);
    free(call);
}

static void conn_close(http_conn_t *conn);

/* Takes |call| off its queue or connection. A connection still connecting is kept (it will
 * serve the next call); one with the request under way is closed. */
static void call_detach(upstream_http_call_t *call)
{
    if (call->pending) {
        h2o_linklist_unlink(&call->link);
        call->pending = 0;
        call->pool->n_pending--;
    }
    http_conn_t *conn = call->conn;
    if (conn != NULL) {
        call->conn = NULL;
        conn->call = NULL;
        if (conn->state != HTTP_CONN_CONNECTING)
            conn_close(conn);
    }
}

static void call_deliver(upstream_http_call_t *call, const upstream_http_response_t *res)
{
    call->user_done = 1;
    upstream_timer_stop(&call->deadline);
    call->cb.on_close(call->ctx, res);
    call_bury(call);
}

/* Ends |call| with a failure (no-op when the user is done with it). */
static void call_fail(upstream_http_call_t *call, upstream_http_error_t error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void call_fail(upstream_http_call_t *call, upstream_http_error_t error, const char *fmt, ...)
{
    if (call->user_done)
        return;
    call_detach(call);
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    upstream_http_response_t res = {
        .error = error,
        .message = msg,
        .status = call->parser.state != UPSTREAM_HTTP_PARSE_HEAD && call->parser.status >= 200 ? call->parser.status : 0,
        .headers = call->parser.status >= 200 ? call->parser.headers : NULL,
        .n_headers = call->parser.status >= 200 ? call->parser.n_headers : 0,
        .target = call->target != NULL ? call->target->authority : "",
    };
    call_deliver(call, &res);
}

/* Puts a call that was not answered back at the head of the queue. */
static void call_requeue(upstream_http_call_t *call)
{
    upstream_http_pool_t *pool = call->pool;
    call->pool->stats.retries++;
    h2o_linklist_insert(pool->pending.next, &call->link);
    call->pending = 1;
    pool->n_pending++;
    pool_schedule(pool);
}

/* ---- connections -------------------------------------------------------------------------- */

static void conn_close(http_conn_t *conn)
{
    if (conn->state == HTTP_CONN_CLOSED)
        return;
    upstream_http_pool_t *pool = conn->pool;
    if (conn->state == HTTP_CONN_IDLE) {
        h2o_linklist_unlink(&conn->idle_link);
        conn->target->n_idle--;
    }
    conn->state = HTTP_CONN_CLOSED;
    conn->target->n_conns--;
    upstream_timer_stop(&conn->timer);
    if (conn->call != NULL) {
        conn->call->conn = NULL;
        conn->call = NULL;
    }
    if (conn->sock != NULL) {
        conn->sock->data = NULL; /* h2o callbacks still on their way are ignored */
        h2o_socket_close(conn->sock);
        conn->sock = NULL;
    }
    h2o_linklist_unlink(&conn->link);
    h2o_linklist_insert(&pool->dead_conns, &conn->link);
    upstream_timers_defer(&pool->timers, &pool->tick);
}

static void conn_make_idle(http_conn_t *conn)
{
    upstream_http_pool_t *pool = conn->pool;
    conn->state = HTTP_CONN_IDLE;
    h2o_linklist_insert(conn->target->idle.next, &conn->idle_link);
    conn->target->n_idle++;
    upstream_timer_set(&conn->timer, h2o_now(pool->loop) + pool->cfg.idle_timeout_ms);
    pool_schedule(pool); /* a waiting call can take it */
}

/* The connect or the TLS handshake failed: back off, and send the call elsewhere if there is
 * another target it has not tried, else fail it. */
static void conn_connect_failed(http_conn_t *conn, const char *why)
{
    upstream_http_pool_t *pool = conn->pool;
    upstream_http_call_t *call = conn->call;
    http_target_t *target = conn->target;
    conn_close(conn);
    target_connect_failed(pool, target, why);
    if (call == NULL)
        return;
    if (call->attempts < pool->n_targets)
        call_requeue(call);
    else
        call_fail(call, UPSTREAM_HTTP_ERR_CONNECT, "%s", why);
}

/* The connection broke under a request. A request that lost a reused connection before any
 * response byte (the keep-alive race) is sent once more when that is safe. */
static void conn_lost(http_conn_t *conn, const char *why)
{
    upstream_http_call_t *call = conn->call;
    int retry = call != NULL && conn->served > 0 && !call->got_bytes && call->idempotent && call->retries == 0;
    conn_close(conn);
    if (call == NULL)
        return;
    if (retry) {
        call->retries++;
        call_requeue(call);
        return;
    }
    call_fail(call, UPSTREAM_HTTP_ERR_IO, "%s", why);
}

static void conn_ready(http_conn_t *conn)
{
    upstream_timer_stop(&conn->timer);
    conn->target->failures = 0;
    conn->target->backoff_until = 0;
    h2o_socket_read_start(conn->sock, on_read);
    if (conn->call != NULL) {
        conn->state = HTTP_CONN_BUSY;
        conn_send(conn);
    } else {
        conn_make_idle(conn); /* its call went away while it was connecting */
    }
}

static void on_handshake(h2o_socket_t *sock, const char *err)
{
    http_conn_t *conn = sock->data;
    if (conn == NULL)
        return;
    char why[300];
    if (err != NULL && !(err == h2o_socket_error_ssl_cert_name_mismatch &&
                         (SSL_CTX_get_verify_mode(conn->pool->cfg.ssl_ctx) & SSL_VERIFY_PEER) == 0)) {
        snprintf(why, sizeof(why), "TLS handshake with %s failed: %s", conn->target->authority, err);
        conn_connect_failed(conn, why);
        return;
    }
    h2o_iovec_t proto = h2o_socket_ssl_get_selected_protocol(sock);
    if (proto.len != 0 && !(proto.len == 8 && memcmp(proto.base, "http/1.1", 8) == 0)) {
        snprintf(why, sizeof(why), "%s negotiated \"%.*s\" instead of http/1.1 over TLS", conn->target->authority, (int)proto.len,
                 proto.base);
        conn_connect_failed(conn, why);
        return;
    }
    conn_ready(conn);
}

static void on_connect(h2o_socket_t *sock, const char *err)
{
    http_conn_t *conn = sock->data;
    if (conn == NULL)
        return;
    if (err != NULL) {
        char why[300];
        snprintf(why, sizeof(why), "connect to %s failed: %s", conn->target->authority, err);
        conn_connect_failed(conn, why);
        return;
    }
    upstream_http_pool_t *pool = conn->pool;
    if (pool->cfg.ssl_ctx != NULL) {
        const char *name = pool->cfg.tls_server_name != NULL ? pool->cfg.tls_server_name : conn->target->host;
        h2o_socket_ssl_handshake(sock, pool->cfg.ssl_ctx, name, on_handshake);
        return;
    }
    conn_ready(conn);
}

/* Opens a connection to |t| for |call|. */
static void conn_open(upstream_http_pool_t *pool, http_target_t *t, upstream_http_call_t *call)
{
    pool->stats.connects++;
    call->attempts++;
    http_conn_t *conn = calloc(1, sizeof(*conn));
    if (conn == NULL) {
        target_connect_failed(pool, t, "out of memory");
        call_fail(call, UPSTREAM_HTTP_ERR_CONNECT, "out of memory opening a connection to %s", t->authority);
        return;
    }
    conn->pool = pool;
    conn->target = t;
    conn->state = HTTP_CONN_CONNECTING;
    upstream_timer_init(&conn->timer, &pool->timers, on_conn_timer);
    h2o_linklist_insert(&pool->conns, &conn->link);
    t->n_conns++;
    conn->call = call;
    call->conn = conn;
    conn->sock = upstream_target_connect(pool->loop, &t->addr, t->addrlen, on_connect);
    if (conn->sock == NULL) {
        char why[300];
        snprintf(why, sizeof(why), "connect to %s failed: %s", t->authority, strerror(errno));
        conn_connect_failed(conn, why);
        return;
    }
    conn->sock->data = conn;
    upstream_timer_set(&conn->timer, h2o_now(pool->loop) + pool->cfg.connect_timeout_ms);
}

static void on_conn_timer(upstream_timer_t *timer)
{
    http_conn_t *conn = H2O_STRUCT_FROM_MEMBER(http_conn_t, timer, timer);
    if (conn->state == HTTP_CONN_CONNECTING) {
        char why[300];
        snprintf(why, sizeof(why), "connect to %s timed out after %u ms", conn->target->authority,
                 conn->pool->cfg.connect_timeout_ms);
        conn_connect_failed(conn, why);
    } else if (conn->state == HTTP_CONN_IDLE) {
        conn_close(conn);
    }
}

static void on_write_done(h2o_socket_t *sock, const char *err)
{
    http_conn_t *conn = sock->data;
    if (conn == NULL)
        return;
    conn->writing = 0;
    if (err != NULL) {
        char why[300];
        snprintf(why, sizeof(why), "sending the request to %s failed: %s", conn->target->authority, err);
        conn_lost(conn, why);
    }
}

static void conn_send(http_conn_t *conn)
{
    upstream_http_call_t *call = conn->call;
    upstream_http_pool_t *pool = conn->pool;
    upstream_http_parser_dispose(&call->parser);
    upstream_http_parser_init(&call->parser, pool->cfg.max_response_head, call->is_head);
    call->body.len = 0;
    call->got_bytes = 0;
    call->stream = 0;
    h2o_iovec_t iov[3];
    size_t n = 0;
    iov[n++] = h2o_iovec_init(call->req.data, call->req_line_len);
    if (!call->has_host)
        iov[n++] = pool->host_line != NULL ? h2o_iovec_init(pool->host_line, pool->host_line_len)
                                           : h2o_iovec_init(conn->target->host_line, conn->target->host_line_len);
    iov[n++] = h2o_iovec_init(call->req.data + call->req_line_len, call->req.len - call->req_line_len);
    pool->stats.requests++;
    if (conn->served > 0)
        pool->stats.reused++;
    conn->writing = 1;
    h2o_socket_write(conn->sock, iov, n, on_write_done);
}

/* ---- responses ---------------------------------------------------------------------------- */

/* The head arrived. Returns 0 to go on, -1 when the call ended or was cancelled. */
static int call_on_head(upstream_http_call_t *call)
{
    upstream_http_parser_t *p = &call->parser;
    if (call->cb.on_head != NULL) {
        int mode = call->cb.on_head(call->ctx, p->status, p->headers, p->n_headers);
        if (call->user_done)
            return -1;
        call->stream = mode == UPSTREAM_HTTP_BODY_STREAM;
    }
    if (!call->stream && p->content_length > 0 && (uint64_t)p->content_length > call->pool->cfg.max_response_body &&
        p->state != UPSTREAM_HTTP_PARSE_DONE) {
        call_fail(call, UPSTREAM_HTTP_ERR_TOO_LARGE, "response body from %s is %lld bytes, over the limit of %zu",
                  call->target->authority, (long long)p->content_length, call->pool->cfg.max_response_body);
        return -1;
    }
    return 0;
}

/* A piece of body. Returns 0 to go on, -1 when the call ended or was cancelled. */
static int call_on_data(upstream_http_call_t *call, const char *data, size_t len)
{
    if (call->stream) {
        if (call->cb.on_data != NULL && len != 0)
            call->cb.on_data(call->ctx, data, len);
        return call->user_done ? -1 : 0;
    }
    if (call->body.len + len > call->pool->cfg.max_response_body) {
        call_fail(call, UPSTREAM_HTTP_ERR_TOO_LARGE, "response body from %s is over the limit of %zu bytes",
                  call->target->authority, call->pool->cfg.max_response_body);
        return -1;
    }
    util_buf_append(&call->body, data, len);
    if (util_buf_failed(&call->body)) {
        call_fail(call, UPSTREAM_HTTP_ERR_IO, "out of memory reading the response from %s", call->target->authority);
        return -1;
    }
    return 0;
}

static void call_finish(http_conn_t *conn, upstream_http_call_t *call)
{
    upstream_http_parser_t *p = &call->parser;
    int reuse = p->keepalive && p->trailing == 0 && !conn->writing && conn->sock->input->size == 0 && !conn->pool->freeing;
    conn->call = NULL;
    call->conn = NULL;
    conn->served++;
    if (reuse)
        conn_make_idle(conn);
    else
        conn_close(conn);
    util_buf_putc(&call->body, '\0');
    if (util_buf_failed(&call->body)) {
        call_fail(call, UPSTREAM_HTTP_ERR_IO, "out of memory reading the response from %s", call->target->authority);
        return;
    }
    upstream_http_response_t res = {
        .error = UPSTREAM_HTTP_OK,
        .message = "",
        .status = p->status,
        .headers = p->headers,
        .n_headers = p->n_headers,
        .body = call->stream ? NULL : (const char *)call->body.data,
        .body_len = call->stream ? 0 : call->body.len - 1,
        .target = call->target->authority,
    };
    call_deliver(call, &res);
}

static void process_input(http_conn_t *conn, upstream_http_call_t *call)
{
    h2o_buffer_t **in = &conn->sock->input;
    if ((*in)->size != 0)
        call->got_bytes = 1;
    for (;;) {
        size_t consumed;
        const char *data;
        size_t len;
        util_error_t perr = {0};
        int ev = upstream_http_parser_feed(&call->parser, (*in)->bytes, (*in)->size, &consumed, &data, &len, &perr);
        switch (ev) {
        case UPSTREAM_HTTP_EV_MORE:
            h2o_buffer_consume(in, consumed);
            return;
        case UPSTREAM_HTTP_EV_HEAD:
            h2o_buffer_consume(in, consumed);
            if (call_on_head(call) != 0)
                return;
            break;
        case UPSTREAM_HTTP_EV_DATA:
            /* use the bytes before dropping them (consuming the last byte frees the buffer) */
            if (call_on_data(call, data, len) != 0)
                return;
            h2o_buffer_consume(in, consumed);
            break;
        case UPSTREAM_HTTP_EV_DONE:
            h2o_buffer_consume(in, consumed);
            call_finish(conn, call);
            return;
        case UPSTREAM_HTTP_EV_ERROR:
        default:
            call_fail(call, (upstream_http_error_t)perr.code, "bad response from %s: %s", conn->target->authority, perr.message);
            return;
        }
    }
}

static void on_read(h2o_socket_t *sock, const char *err)
{
    http_conn_t *conn = sock->data;
    if (conn == NULL)
        return;
    upstream_http_call_t *call = conn->call;
    if (conn->state != HTTP_CONN_BUSY || call == NULL) {
        conn_close(conn); /* an idle connection closed by the server, or talking out of turn */
        return;
    }
    if (err == NULL) {
        process_input(conn, call);
        return;
    }
    util_error_t perr = {0};
    if (err == h2o_socket_error_closed && upstream_http_parser_eof(&call->parser, &perr) == UPSTREAM_HTTP_EV_DONE) {
        call_finish(conn, call); /* a body delimited by the end of the connection */
        return;
    }
    char why[600];
    if (!call->got_bytes)
        snprintf(why, sizeof(why), "connection to %s %s before any response", conn->target->authority,
                 err == h2o_socket_error_closed ? "closed" : err);
    else if (err == h2o_socket_error_closed)
        snprintf(why, sizeof(why), "bad response from %s: %s", conn->target->authority, perr.message);
    else
        snprintf(why, sizeof(why), "connection to %s failed during the response: %s", conn->target->authority, err);
    conn_lost(conn, why);
}

/* ---- dispatch ----------------------------------------------------------------------------- */

/* Every target is out of reach: fail what waits, saying why and when the next try is. */
static void fail_pending(upstream_http_pool_t *pool)
{
    char why[480];
    size_t off = 0;
    uint64_t now = h2o_now(pool->loop);
    for (size_t i = 0; i < pool->n_targets && off < sizeof(why) - 1; i++) {
        http_target_t *t = &pool->targets[i];
        int n = snprintf(why + off, sizeof(why) - off, "%s%s (next attempt in %llu ms)", i ? "; " : "",
                         t->last_error[0] ? t->last_error : t->authority,
                         (unsigned long long)(t->backoff_until > now ? t->backoff_until - now : 0));
        if (n < 0)
            break;
        off += (size_t)n;
        if (off >= sizeof(why))
            off = sizeof(why) - 1;
    }
    /* Only the calls waiting now: one started from an on_close below waits for the next tick. */
    h2o_linklist_t failing;
    h2o_linklist_init_anchor(&failing);
    h2o_linklist_insert_list(&failing, &pool->pending);
    while (!h2o_linklist_is_empty(&failing)) {
        upstream_http_call_t *call = H2O_STRUCT_FROM_MEMBER(upstream_http_call_t, link, failing.next);
        h2o_linklist_unlink(&call->link);
        call->pending = 0;
        pool->n_pending--;
        pool->stats.calls_failed_fast++;
        call_fail(call, UPSTREAM_HTTP_ERR_CONNECT, "upstream unavailable: %s", why);
    }
}

static void dispatch(upstream_http_pool_t *pool)
{
    while (!h2o_linklist_is_empty(&pool->pending)) {
        upstream_http_call_t *call = H2O_STRUCT_FROM_MEMBER(upstream_http_call_t, link, pool->pending.next);
        http_target_t *t = NULL;
        size_t index = 0;
        for (size_t i = 0; i < pool->n_targets; i++) {
            index = (pool->rr + i) % pool->n_targets;
            http_target_t *c = &pool->targets[index];
            if (c->n_idle != 0 || (c->n_conns < pool->cfg.max_connections_per_target && !target_in_backoff(pool, c))) {
                t = c;
                break;
            }
        }
        if (t == NULL) {
            for (size_t i = 0; i < pool->n_targets; i++)
                if (pool->targets[i].n_conns != 0)
                    return; /* wait for a connection to come free */
            fail_pending(pool);
            return;
        }
        pool->rr = (index + 1) % pool->n_targets;
        h2o_linklist_unlink(&call->link);
        call->pending = 0;
        pool->n_pending--;
        call->target = t;
        if (t->n_idle != 0) {
            http_conn_t *conn = H2O_STRUCT_FROM_MEMBER(http_conn_t, idle_link, t->idle.next);
            h2o_linklist_unlink(&conn->idle_link);
            t->n_idle--;
            upstream_timer_stop(&conn->timer);
            conn->state = HTTP_CONN_BUSY;
            conn->call = call;
            call->conn = conn;
            conn_send(conn);
        } else {
            conn_open(pool, t, call);
        }
    }
}

static void reap(upstream_http_pool_t *pool)
{
    while (!h2o_linklist_is_empty(&pool->dead_calls)) {
        upstream_http_call_t *call = H2O_STRUCT_FROM_MEMBER(upstream_http_call_t, link, pool->dead_calls.next);
        h2o_linklist_unlink(&call->link);
        call_destroy(call);
    }
    while (!h2o_linklist_is_empty(&pool->dead_conns)) {
        http_conn_t *conn = H2O_STRUCT_FROM_MEMBER(http_conn_t, link, pool->dead_conns.next);
        h2o_linklist_unlink(&conn->link);
        free(conn);
    }
}

static void on_tick(h2o_timeout_entry_t *entry)
{
    upstream_http_pool_t *pool = H2O_STRUCT_FROM_MEMBER(upstream_http_pool_t, tick, entry);
    if (!pool->freeing)
        dispatch(pool);
    reap(pool);
}

static void on_deadline(upstream_timer_t *timer)
{
    upstream_http_call_t *call = H2O_STRUCT_FROM_MEMBER(upstream_http_call_t, deadline, timer);
    const char *where = call->pending                                                     ? " (waiting for a connection)"
                        : call->conn != NULL && call->conn->state == HTTP_CONN_CONNECTING ? " (connecting)"
                                                                                          : "";
    call_fail(call, UPSTREAM_HTTP_ERR_TIMEOUT, "no response from %s within %lld ms%s",
              call->target != NULL ? call->target->authority : "the upstream", (long long)call->timeout_ms, where);
}

/* ---- the public API ----------------------------------------------------------------------- */

/* ---- TLS ---------------------------------------------------------------------------------- */

int upstream_tls_verify_hostname(int preverify_ok, X509_STORE_CTX *store)
{
    if (!preverify_ok || X509_STORE_CTX_get_error_depth(store) != 0)
        return preverify_ok;
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    const char *name = ssl != NULL ? SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) : NULL;
    X509 *cert = X509_STORE_CTX_get_current_cert(store);
    if (name == NULL || cert == NULL) {
        X509_STORE_CTX_set_error(store, X509_V_ERR_HOSTNAME_MISMATCH);
        return 0; /* nothing to check the certificate against: refuse rather than trust */
    }
    unsigned char ip[16];
    int is_ip = inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1;
    int ok = is_ip ? X509_check_ip_asc(cert, name, 0) == 1 : X509_check_host(cert, name, strlen(name), 0, NULL) == 1;
    if (!ok) {
        X509_STORE_CTX_set_error(store, X509_V_ERR_HOSTNAME_MISMATCH);
        return 0;
    }
    return 1;
}

void upstream_http_tls_prepare(SSL_CTX *ctx)
{
    static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
    static int prepared_index = -1;
    pthread_mutex_lock(&mutex);
    if (prepared_index < 0)
        prepared_index = SSL_CTX_get_ex_new_index(0, (void *)"portico http/1.1 upstream", NULL, NULL, NULL);
    if (prepared_index >= 0 && SSL_CTX_get_ex_data(ctx, prepared_index) == NULL) {
        SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)"\x08http/1.1", 9);
        if (SSL_CTX_get_verify_callback(ctx) == NULL)
            SSL_CTX_set_verify(ctx, SSL_CTX_get_verify_mode(ctx), upstream_tls_verify_hostname);
        SSL_CTX_set_ex_data(ctx, prepared_index, (void *)1);
    }
    pthread_mutex_unlock(&mutex);
}

static char *dup_or_null(const char *s)
{
    return s == NULL ? NULL : strdup(s);
}

static int is_tchar(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (c != 0 && strchr("!#$%&'*+-.^_`|~", c));
}

static int token_valid(const char *s, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!is_tchar((unsigned char)s[i]))
            return 0;
    return 1;
}

/* A field value: visible ASCII, obs-text, spaces and tabs; no CR, LF, NUL or other controls. */
static int value_valid(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return 0;
    }
    return 1;
}

static int name_is(const upstream_header_t *h, const char *lit)
{
    size_t n = strlen(lit);
    return h->name_len == n && strncasecmp(h->name, lit, n) == 0;
}

static int header_dropped(const upstream_header_t *h)
{
    static const char *const names[] = {"connection",        "keep-alive", "proxy-connection", "te",
                                        "transfer-encoding", "upgrade",    "expect",           "content-length"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (name_is(h, names[i]))
            return 1;
    return 0;
}

upstream_http_pool_t *upstream_http_pool_new(h2o_loop_t *loop, const upstream_http_config_t *cfg, util_error_t *err)
{
    if (cfg->n_targets == 0 || cfg->targets == NULL) {
        util_error_set(err, -1, "upstream has no targets");
        return NULL;
    }
    if (cfg->host != NULL && !value_valid(cfg->host, strlen(cfg->host))) {
        util_error_set(err, -1, "upstream host \"%.100s\" holds a control character", cfg->host);
        return NULL;
    }
    if (cfg->user_agent != NULL && !value_valid(cfg->user_agent, strlen(cfg->user_agent))) {
        util_error_set(err, -1, "upstream user agent \"%.100s\" holds a control character", cfg->user_agent);
        return NULL;
    }
    upstream_http_pool_t *pool = calloc(1, sizeof(*pool));
    if (pool == NULL) {
        util_error_set(err, -1, "out of memory");
        return NULL;
    }
    pool->loop = loop;
    pool->cfg = *cfg;
    pool->cfg.targets = NULL;
    upstream_target_config_defaults(&pool->cfg.connect_timeout_ms, &pool->cfg.max_connections_per_target,
                                    &pool->cfg.backoff_initial_ms, &pool->cfg.backoff_max_ms);
    if (pool->cfg.idle_timeout_ms == 0)
        pool->cfg.idle_timeout_ms = 30000;
    if (pool->cfg.max_response_body == 0)
        pool->cfg.max_response_body = (size_t)16 << 20;
    if (pool->cfg.max_response_head == 0)
        pool->cfg.max_response_head = 64 << 10;
    pool->user_agent = strdup(cfg->user_agent != NULL ? cfg->user_agent : "portico/" PORTICO_VERSION);
    pool->host = dup_or_null(cfg->host);
    pool->tls_server_name = dup_or_null(cfg->tls_server_name);
    pool->cfg.user_agent = pool->user_agent;
    pool->cfg.host = pool->host;
    pool->cfg.tls_server_name = pool->tls_server_name;
    h2o_linklist_init_anchor(&pool->pending);
    h2o_linklist_init_anchor(&pool->conns);
    h2o_linklist_init_anchor(&pool->dead_calls);
    h2o_linklist_init_anchor(&pool->dead_conns);
    upstream_timers_init(&pool->timers, loop);
    pool->tick.cb = on_tick;
    pool->targets = calloc(cfg->n_targets, sizeof(*pool->targets));
    pool->n_targets = cfg->n_targets;
    if (pool->host != NULL) {
        pool->host_line_len = strlen(pool->host) + 8;
        pool->host_line = malloc(pool->host_line_len + 1);
        if (pool->host_line != NULL)
            snprintf(pool->host_line, pool->host_line_len + 1, "host: %s\r\n", pool->host);
    }
    if (pool->user_agent == NULL || pool->targets == NULL ||
        (cfg->host != NULL && (pool->host == NULL || pool->host_line == NULL)) ||
        (cfg->tls_server_name != NULL && pool->tls_server_name == NULL)) {
        util_error_set(err, -1, "out of memory");
        upstream_http_pool_free(pool);
        return NULL;
    }
    for (size_t i = 0; i < cfg->n_targets; i++) {
        h2o_linklist_init_anchor(&pool->targets[i].idle);
        if (cfg->targets[i] == NULL) {
            util_error_set(err, -1, "upstream target %zu is NULL", i);
            upstream_http_pool_free(pool);
            return NULL;
        }
        if (target_init(&pool->targets[i], cfg->targets[i], err) != 0) {
            upstream_http_pool_free(pool);
            return NULL;
        }
    }
    if (cfg->ssl_ctx != NULL)
        upstream_http_tls_prepare(cfg->ssl_ctx);
    return pool;
}

void upstream_http_pool_free(upstream_http_pool_t *pool)
{
    if (pool == NULL)
        return;
    pool->freeing = 1;
    if (h2o_timeout_is_linked(&pool->tick))
        h2o_timeout_unlink(&pool->tick);
    /* Calls first (their on_close may start calls, which a freeing pool refuses), then connections. */
    while (!h2o_linklist_is_empty(&pool->pending)) {
        upstream_http_call_t *call = H2O_STRUCT_FROM_MEMBER(upstream_http_call_t, link, pool->pending.next);
        call_fail(call, UPSTREAM_HTTP_ERR_SHUTDOWN, "upstream pool shut down");
    }
    while (!h2o_linklist_is_empty(&pool->conns)) {
        http_conn_t *conn = H2O_STRUCT_FROM_MEMBER(http_conn_t, link, pool->conns.next);
        upstream_http_call_t *call = conn->call;
        conn_close(conn);
        if (call != NULL)
            call_fail(call, UPSTREAM_HTTP_ERR_SHUTDOWN, "upstream pool shut down");
    }
    /* Work deferred through upstream_http_pool_defer by the layers on top (a REST call that
     * fails from the loop) runs now too, like the calls' on_close. */
    if (h2o_timeout_is_linked(&pool->tick))
        h2o_timeout_unlink(&pool->tick);
    while (!h2o_linklist_is_empty(&pool->timers.zero._entries)) {
        h2o_timeout_entry_t *e = H2O_STRUCT_FROM_MEMBER(h2o_timeout_entry_t, _link, pool->timers.zero._entries.next);
        h2o_timeout_unlink(e);
        if (e != &pool->tick)
            e->cb(e);
    }
    reap(pool);
    if (h2o_timeout_is_linked(&pool->tick))
        h2o_timeout_unlink(&pool->tick);
    upstream_timers_dispose(&pool->timers);
    for (size_t i = 0; pool->targets != NULL && i < pool->n_targets; i++) {
        free(pool->targets[i].host);
        free(pool->targets[i].authority);
        free(pool->targets[i].host_line);
    }
    free(pool->targets);
    free(pool->user_agent);
    free(pool->host);
    free(pool->host_line);
    free(pool->tls_server_name);
    free(pool);
}

void upstream_http_pool_stats(const upstream_http_pool_t *pool, upstream_http_stats_t *out)
{
    *out = pool->stats;
    out->queued_calls = pool->n_pending;
    out->connections = 0;
    out->idle_connections = 0;
    for (size_t i = 0; i < pool->n_targets; i++) {
        out->connections += pool->targets[i].n_conns;
        out->idle_connections += pool->targets[i].n_idle;
    }
}

h2o_loop_t *upstream_http_pool_loop(const upstream_http_pool_t *pool)
{
    return pool->loop;
}

void upstream_http_pool_defer(upstream_http_pool_t *pool, h2o_timeout_entry_t *entry)
{
    upstream_timers_defer(&pool->timers, entry);
}

upstream_http_call_t *upstream_http_call_start(upstream_http_pool_t *pool, const upstream_http_request_t *req,
                                               const upstream_http_callbacks_t *cb, void *ctx, util_error_t *err)
{
    if (pool == NULL || req == NULL) {
        util_error_set(err, -1, "HTTP upstream call without a pool or a request");
        return NULL;
    }
    if (pool->freeing) {
        util_error_set(err, -1, "upstream pool is shutting down");
        return NULL;
    }
    if (cb == NULL || cb->on_close == NULL) {
        util_error_set(err, -1, "HTTP upstream call has no on_close callback");
        return NULL;
    }
    if (req->method == NULL || strlen(req->method) > 32 || !token_valid(req->method, strlen(req->method))) {
        util_error_set(err, -1, "invalid HTTP method \"%.40s\"", req->method != NULL ? req->method : "(null)");
        return NULL;
    }
    size_t path_len = req->path != NULL ? strlen(req->path) : 0;
    int path_ok = path_len != 0 && req->path[0] == '/';
    for (size_t i = 0; path_ok && i < path_len; i++) {
        unsigned char c = (unsigned char)req->path[i];
        if (c <= 0x20 || c >= 0x7f)
            path_ok = 0;
    }
    if (!path_ok) {
        util_error_set(err, -1,
                       "invalid request path \"%.100s\" (it must start with \"/\" and hold no spaces, controls or non-ASCII bytes)",
                       req->path != NULL ? req->path : "(null)");
        return NULL;
    }
    for (size_t i = 0; i < req->n_headers; i++) {
        const upstream_header_t *h = &req->headers[i];
        if (h->name == NULL || !token_valid(h->name, h->name_len)) {
            util_error_set(err, -1, "invalid request header name \"%.*s\"",
                           h->name != NULL ? (int)(h->name_len > 60 ? 60 : h->name_len) : 6, h->name != NULL ? h->name : "(null)");
            return NULL;
        }
        if ((h->value == NULL && h->value_len != 0) || !value_valid(h->value, h->value_len)) {
            util_error_set(err, -1, "request header \"%.*s\" has a value with a control character (CR, LF, NUL ...)",
                           (int)(h->name_len > 60 ? 60 : h->name_len), h->name);
            return NULL;
        }
    }

    upstream_http_call_t *call = calloc(1, sizeof(*call));
    if (call == NULL) {
        util_error_set(err, -1, "out of memory starting an HTTP upstream call");
        return NULL;
    }
    call->pool = pool;
    call->cb = *cb;
    call->ctx = ctx;
    call->req = util_buf_take();
    call->body = util_buf_take();
    upstream_http_parser_init(&call->parser, pool->cfg.max_response_head, 0);
    upstream_timer_init(&call->deadline, &pool->timers, on_deadline);

    const char *m = req->method;
    call->is_head = strcmp(m, "HEAD") == 0;
    call->idempotent = call->is_head || strcmp(m, "GET") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "DELETE") == 0 ||
                       strcmp(m, "OPTIONS") == 0 || strcmp(m, "TRACE") == 0;
    size_t head_size = 64 + strlen(m) + path_len + strlen(pool->user_agent);
    for (size_t i = 0; i < req->n_headers; i++)
        head_size += req->headers[i].name_len + req->headers[i].value_len + 4;
    util_buf_reserve(&call->req, head_size + (req->body != NULL ? req->body_len : 0)); /* one allocation */
    util_buf_puts(&call->req, m);
    util_buf_putc(&call->req, ' ');
    util_buf_append(&call->req, req->path, path_len);
    util_buf_append(&call->req, " HTTP/1.1\r\n", 11);
    call->req_line_len = call->req.len;
    int has_ua = 0;
    for (size_t i = 0; i < req->n_headers; i++) {
        const upstream_header_t *h = &req->headers[i];
        if (header_dropped(h))
            continue;
        if (name_is(h, "host"))
            call->has_host = 1;
        else if (name_is(h, "user-agent"))
            has_ua = 1;
        util_buf_append(&call->req, h->name, h->name_len);
        util_buf_append(&call->req, ": ", 2);
        util_buf_append(&call->req, h->value, h->value_len);
        util_buf_append(&call->req, "\r\n", 2);
    }
    if (!has_ua) {
        util_buf_append(&call->req, "user-agent: ", 12);
        util_buf_puts(&call->req, pool->user_agent);
        util_buf_append(&call->req, "\r\n", 2);
    }
    if (req->body != NULL) {
        util_buf_append(&call->req, "content-length: ", 16);
        util_buf_append_u64(&call->req, req->body_len);
        util_buf_append(&call->req, "\r\n", 2);
    } else if (strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0)
        util_buf_puts(&call->req, "content-length: 0\r\n");
    util_buf_append(&call->req, "\r\n", 2);
    if (req->body != NULL)
        util_buf_append(&call->req, req->body, req->body_len);
    if (util_buf_failed(&call->req)) {
        call_destroy(call);
        util_error_set(err, -1, "out of memory starting an HTTP upstream call");
        return NULL;
    }

    if (req->timeout_ms > 0 && req->timeout_ms < MAX_TIMEOUT_MS) {
        call->timeout_ms = req->timeout_ms;
        upstream_timer_set(&call->deadline, h2o_now(pool->loop) + (uint64_t)req->timeout_ms);
    }
    h2o_linklist_insert(&pool->pending, &call->link);
    call->pending = 1;
    pool->n_pending++;
    pool_schedule(pool);
    return call;
}

void upstream_http_call_cancel(upstream_http_call_t *call)
{
    if (call == NULL || call->user_done)
        return;
    call->user_done = 1;
    call_detach(call);
    upstream_timer_stop(&call->deadline);
    call_bury(call);
}
