/*
 * http_upstream.h — public face of src/upstream's HTTP/1.1 client, for JSON/REST backends
 * (aggregation calls, gRPC→REST bridging). Like the gRPC client of upstream.h it runs on the
 * worker's h2o event loop with no threads and no locks.
 *
 * A pool belongs to one worker (one h2o loop) and one upstream. It keeps up to
 * max_connections_per_target keep-alive connections to each target (connecting, busy and idle
 * together) and sends one request at a time on each (no pipelining). Requests go to the
 * targets round-robin: each takes the next target in turn that has an idle connection or room
 * for a new one; when none has, requests wait in a FIFO queue for a connection to come free.
 * Idle connections are closed after idle_timeout_ms, or at once when the server closes them.
 *
 * Failures: a target whose connect fails (refused, TLS handshake, connect timeout) backs off
 * exponentially with jitter; a request that had not been sent goes to another target if there
 * is one. While every target backs off, requests fail at once (UPSTREAM_HTTP_ERR_CONNECT)
 * instead of storming a dead backend. A request that loses a reused keep-alive connection
 * before any byte of the response arrived (the server closed it as we sent: the keep-alive
 * race) is sent once more on a fresh connection when its method is idempotent (GET, HEAD,
 * PUT, DELETE, OPTIONS, TRACE).
 *
 * Responses: status, headers (names lowercased) and the body, framed by Content-Length, by
 * chunked transfer coding (trailers are read and dropped) or by the connection's end. Interim
 * 1xx responses are skipped. The body comes whole in on_close (up to max_response_body), or
 * piece by piece through on_data when on_head asks for it (server streaming).
 *
 * Callback rules (the same contract as upstream.h):
 *  - on_close is called exactly once per call, unless the caller cancels first; it is never
 *    called from inside upstream_http_call_start (a call that fails at once fails from the
 *    loop), and nothing is called after it. After upstream_http_call_cancel returns nothing
 *    is called either. The call handle is invalid once on_close or cancel returns.
 *  - Any function of this header may be called from a callback, except
 *    upstream_http_pool_free. Cancelling a call from its own on_close is a harmless no-op.
 *
 * How to call it:
 *
 *     upstream_http_config_t cfg = {.targets = (const char *[]){"127.0.0.1:8081"}, .n_targets = 1};
 *     upstream_http_pool_t *pool = upstream_http_pool_new(loop, &cfg, &err);   // at worker start
 *     upstream_header_t h[] = {{"accept", 6, "application/json", 16}};
 *     upstream_http_request_t req = {.method = "GET", .path = "/reviews/ABC-1?lang=en",
 *                                    .headers = h, .n_headers = 1, .timeout_ms = 1000};
 *     upstream_http_callbacks_t cb = {.on_close = on_reviews};  // res->status, res->body ...
 *     upstream_http_call_t *call = upstream_http_call_start(pool, &req, &cb, ctx, &err);
 *
 * Why portico has its own client rather than h2o 2.2.5's http1client + socketpool: see the
 * header comment of http_client.c.
 */
#ifndef PORTICO_UPSTREAM_HTTP_UPSTREAM_H
#define PORTICO_UPSTREAM_HTTP_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include <h2o/socket.h>
#include <h2o/timeout.h>
#include <openssl/ssl.h>

#include "upstream/upstream.h"
#include "util/error.h"

typedef struct upstream_http_config {
    const char *const *targets; /* "host:port" or "[v6addr]:port"; resolved once, in pool_new */
    size_t n_targets;
    const char *host;                    /* Host header to send; NULL: the target's "host:port" */
    uint32_t connect_timeout_ms;         /* TCP connect + TLS handshake; 0: 5000 */
    uint32_t max_connections_per_target; /* connecting + busy + idle; 0: 4 */
    uint32_t idle_timeout_ms;            /* an idle keep-alive connection is closed after this; 0: 30000 */
    size_t max_response_body;            /* a larger body (whole mode) fails with UPSTREAM_HTTP_ERR_TOO_LARGE; 0: 16 MiB */
    size_t max_response_head;            /* status line + headers; 0: 64 KiB */
    uint32_t backoff_initial_ms;         /* first wait after a failed connect; 0: 1000 */
    uint32_t backoff_max_ms;             /* the wait doubles up to this; 0: 30000 */
    SSL_CTX *ssl_ctx;                    /* non-NULL: TLS (see upstream_http_tls_prepare); the caller owns it */
    const char *tls_server_name;         /* SNI and certificate name; NULL: the target's host */
    const char *user_agent;              /* NULL: "portico/VERSION"; a "user-agent" header of a request wins */
} upstream_http_config_t;

/* Why a call failed (upstream_http_response_t.error). An HTTP error status is not a failure:
 * a 503 answer is error UPSTREAM_HTTP_OK with status 503. */
typedef enum upstream_http_error {
    UPSTREAM_HTTP_OK = 0,
    UPSTREAM_HTTP_ERR_CONNECT,   /* no connection: refused, unreachable, TLS handshake, connect timeout, every target backing off */
    UPSTREAM_HTTP_ERR_TIMEOUT,   /* the call's deadline passed (queued, connecting, sending or receiving) */
    UPSTREAM_HTTP_ERR_IO,        /* the connection failed or closed before the response was complete */
    UPSTREAM_HTTP_ERR_PROTOCOL,  /* the response is not valid HTTP/1.x (bad status line, framing, encoding) */
    UPSTREAM_HTTP_ERR_TOO_LARGE, /* the response head or (whole) body is over its limit */
    UPSTREAM_HTTP_ERR_SHUTDOWN,  /* the pool was freed with the call in it */
} upstream_http_error_t;

/* "ok", "connect", "timeout", "io", "protocol", "too_large", "shutdown". */
const char *upstream_http_error_name(upstream_http_error_t e);

typedef struct upstream_http_request {
    const char *method; /* "GET", "POST", ... (an HTTP token) */
    const char *path;   /* origin form, percent-encoded, with the query: "/reviews/ABC-1?lang=en" */
    /* Request headers, copied. Host replaces the pool's; connection-level headers (connection,
     * keep-alive, proxy-connection, te, transfer-encoding, upgrade, expect) and content-length
     * are dropped: the client sets content-length itself. */
    const upstream_header_t *headers;
    size_t n_headers;
    const void *body; /* copied; NULL = no body (POST, PUT and PATCH then send "content-length: 0") */
    size_t body_len;
    int64_t timeout_ms; /* > 0: the whole call (queueing included) must end in time, else UPSTREAM_HTTP_ERR_TIMEOUT */
} upstream_http_request_t;

/* How a call ended. Everything it points to is valid during on_close only. */
typedef struct upstream_http_response {
    upstream_http_error_t error;
    const char *message;              /* "" when error is UPSTREAM_HTTP_OK, else one sentence naming the target; never NULL */
    int status;                       /* the final response status; 0 when no response head arrived */
    const upstream_header_t *headers; /* names lowercase; names and values NUL-terminated */
    size_t n_headers;
    const char *body; /* whole mode and success: the body, NUL-terminated ("" when empty); else NULL */
    size_t body_len;
    const char *target; /* "host:port" of the target that answered (or failed last); "" when none was tried */
} upstream_http_response_t;

/* on_head's answer: how the body is delivered. */
enum {
    UPSTREAM_HTTP_BODY_WHOLE = 0,  /* gathered, and given to on_close (max_response_body applies) */
    UPSTREAM_HTTP_BODY_STREAM = 1, /* each piece given to on_data as it arrives (no size limit) */
};

typedef struct upstream_http_callbacks {
    /* The final response head (|status| >= 200). Returns UPSTREAM_HTTP_BODY_*. May be NULL (whole). */
    int (*on_head)(void *ctx, int status, const upstream_header_t *headers, size_t n_headers);
    /* A piece of the decoded body (stream mode); |data| is valid during the call. */
    void (*on_data)(void *ctx, const char *data, size_t len);
    /* The end of the call; see the rules above. Required. */
    void (*on_close)(void *ctx, const upstream_http_response_t *res);
} upstream_http_callbacks_t;

typedef struct upstream_http_pool upstream_http_pool_t;
typedef struct upstream_http_call upstream_http_call_t;

/* Counters, for metrics and tests. */
typedef struct upstream_http_stats {
    uint64_t connects;          /* connection attempts */
    uint64_t connect_failures;  /* attempts that did not reach a usable connection */
    uint64_t requests;          /* requests written (a retry counts again) */
    uint64_t reused;            /* requests written on a kept-alive connection */
    uint64_t retries;           /* requests sent again after losing a reused connection, or after a failed connect */
    uint64_t calls_failed_fast; /* failed at once because every target was backing off */
    uint32_t connections;       /* open or opening now */
    uint32_t idle_connections;  /* kept alive, waiting for a request */
    uint32_t queued_calls;      /* waiting for a connection now */
} upstream_http_stats_t;

/*
 * Readies a client SSL_CTX for HTTP/1.1 upstreams, once per context (later calls, from any
 * thread, do nothing; upstream_http_pool_new calls it): ALPN "http/1.1", and, unless the
 * context has a verify callback already, upstream_tls_verify_hostname as its callback, so
 * that with SSL_VERIFY_PEER the certificate must also match the name the connection was
 * opened for. Set the verify mode before the first pool is made on the context.
 */
void upstream_http_tls_prepare(SSL_CTX *ctx);
/*
 * An OpenSSL verify callback (SSL_CTX_set_verify) that adds the host name check to the chain
 * check: the leaf certificate must match the connection's SNI name (DNS name, or IP address
 * literal). Needed because libh2o 2.2.5 skips its own check whenever the client still has
 * handshake bytes to send when the handshake completes, which TLS 1.3 always has. Usable for
 * any h2o client socket, the gRPC upstream's included.
 */
int upstream_tls_verify_hostname(int preverify_ok, X509_STORE_CTX *store);

/*
 * Creates a pool on |loop|. Copies |cfg| (strings included) and resolves every target
 * (getaddrinfo, blocking: call this at start-up, not on the request path). Returns NULL and
 * fills |err| for an empty target list, a malformed or unresolvable target, or no memory.
 */
upstream_http_pool_t *upstream_http_pool_new(h2o_loop_t *loop, const upstream_http_config_t *cfg, util_error_t *err);
/*
 * Fails every call still in the pool with UPSTREAM_HTTP_ERR_SHUTDOWN (their on_close runs
 * now), closes the connections and frees the pool. Not from inside one of the pool's
 * callbacks. Run the loop once more afterwards so h2o can release the closed sockets.
 */
void upstream_http_pool_free(upstream_http_pool_t *pool);
void upstream_http_pool_stats(const upstream_http_pool_t *pool, upstream_http_stats_t *out);
h2o_loop_t *upstream_http_pool_loop(const upstream_http_pool_t *pool);
/*
 * Runs |entry->cb| at the end of the current loop iteration (unlink it with
 * h2o_timeout_unlink to call it off). For layers on top of the pool that must report an
 * error from the loop rather than from inside their own start function. An entry still
 * waiting when the pool is freed runs then, from upstream_http_pool_free.
 */
void upstream_http_pool_defer(upstream_http_pool_t *pool, h2o_timeout_entry_t *entry);

/*
 * Starts a call: the request is copied and sent as soon as a connection is free. Returns the
 * call, or NULL with |err| filled (and no callback ever) when the method, the path or a
 * header is malformed (control characters, CR/LF injection, a path not starting with "/"),
 * when on_close is missing, when the pool is being freed, or when memory runs out.
 */
upstream_http_call_t *upstream_http_call_start(upstream_http_pool_t *pool, const upstream_http_request_t *req,
                                               const upstream_http_callbacks_t *cb, void *ctx, util_error_t *err);
/* Abandons the call (its connection is closed when the request was under way); no callback
 * after this returns. A no-op from inside the call's own on_close. */
void upstream_http_call_cancel(upstream_http_call_t *call);

#endif
