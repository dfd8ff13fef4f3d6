/*
 * upstream.h — public face of src/upstream: portico's clients for its backends. Today this is
 * the gRPC client: HTTP/2 (h2c, or TLS with ALPN "h2") over nghttp2, driven by the worker's
 * h2o event loop.
 *
 * A pool belongs to one worker (one h2o loop) and one upstream. It keeps up to
 * max_connections_per_target HTTP/2 connections to each target, spreads calls over the
 * targets round-robin and multiplexes them as streams, never more per connection than the
 * server's SETTINGS_MAX_CONCURRENT_STREAMS (calls beyond every connection's limit wait in a
 * FIFO queue). There are no locks and no threads: everything happens in the loop's callbacks.
 *
 * Connections are opened on demand. When one cannot be established, its target backs off
 * (exponentially, with jitter); while every target is backing off, calls fail at once with
 * UNAVAILABLE instead of storming a dead backend. A lost connection fails its in-flight calls
 * with UNAVAILABLE; the next call opens a new one. After a GOAWAY the connection finishes its
 * streams and new calls go to another connection. A stream the server refused without
 * processing it (REFUSED_STREAM, as in a GOAWAY race) is sent again transparently, up to twice,
 * as long as no response had started and the request sent so far was small (64 KiB).
 *
 * The outgoing bytes of every call on a connection are gathered in one buffer and written
 * once per loop iteration (from a zero-delay h2o timeout), so a burst of calls costs one
 * write. Timers use h2o 2.2.5's fixed-duration timeouts; see timer.c for how exact
 * deadlines are built from them.
 *
 * Callback rules (the contract a caller relies on):
 *  - on_close is called exactly once per call, unless the caller cancels first; it is never
 *    called from inside upstream_grpc_call_start (a call that fails at once fails from the
 *    loop), and nothing is called after it. After upstream_grpc_call_cancel returns, nothing
 *    is called either. The call handle is invalid once on_close returns or cancel returns.
 *  - Any function of this header may be called from a callback, except
 *    upstream_grpc_pool_free.
 */
#ifndef PORTICO_UPSTREAM_H
#define PORTICO_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include <h2o/socket.h>
#include <openssl/ssl.h>

#include "grpc/grpc.h"
#include "util/error.h"

/* A header / metadata entry. Values are in wire form: a -bin key's value is base64 text
 * (grpc_metadata_bin_decode gives the bytes). Not NUL-terminated unless said so. */
typedef struct upstream_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} upstream_header_t;

typedef struct upstream_grpc_config {
    const char *const *targets; /* "host:port" or "[v6addr]:port"; resolved once, in pool_new */
    size_t n_targets;
    const char *authority;               /* :authority to send; NULL: the target's "host:port" */
    uint32_t connect_timeout_ms;         /* TCP connect + TLS handshake; 0: 5000 */
    uint32_t max_connections_per_target; /* 0: 4 */
    uint32_t max_streams_per_connection; /* cap below the server's limit; 0: the server's limit */
    size_t max_recv_message_size;        /* larger response messages fail with RESOURCE_EXHAUSTED; 0: 4 MiB */
    uint32_t backoff_initial_ms;         /* first wait after a failed connect; 0: 1000 */
    uint32_t backoff_max_ms;             /* the wait doubles up to this; 0: 30000 */
    SSL_CTX *ssl_ctx;                    /* non-NULL: TLS. The pool sets ALPN "h2" on it; the caller owns it */
    const char *tls_server_name;         /* SNI and certificate name; NULL: the target's host */
    const char *user_agent;              /* NULL: "portico/VERSION"; a "user-agent" in a call's metadata wins */
} upstream_grpc_config_t;

/* How a call ended. Everything it points to is valid during on_close only. */
typedef struct upstream_grpc_result {
    grpc_code_t code;
    const char *message; /* decoded grpc-message, or portico's sentence for a local error; NUL-terminated, never NULL */
    size_t message_len;
    const upstream_header_t *trailers; /* trailing metadata without grpc-status / grpc-message (a trailers-only
                                          response's headers count as trailers) */
    size_t n_trailers;
    int http_status; /* :status of the response, 0 when none arrived */
    int local;       /* non-zero when portico made the status up (connect failure, deadline,
                        malformed response ...) instead of the backend sending it */
} upstream_grpc_result_t;

typedef struct upstream_grpc_callbacks {
    /* Response initial metadata (every header but pseudo-headers). Not called for a
     * trailers-only response. May be NULL. */
    void (*on_headers)(void *ctx, const upstream_header_t *headers, size_t n_headers);
    /* One response message, deframed, as soon as it is complete; |data| is valid during the call. May be NULL. */
    void (*on_message)(void *ctx, const uint8_t *data, size_t len);
    /* The end of the call; see the rules above. Required. */
    void (*on_close)(void *ctx, const upstream_grpc_result_t *result);
} upstream_grpc_callbacks_t;

typedef struct upstream_grpc_pool upstream_grpc_pool_t;
typedef struct upstream_grpc_call upstream_grpc_call_t;

/* Counters, for metrics and tests. */
typedef struct upstream_grpc_stats {
    uint64_t connects;         /* connection attempts */
    uint64_t connect_failures; /* attempts that did not reach a usable HTTP/2 session */
    uint64_t writes;           /* socket writes issued */
    uint64_t calls_started;
    uint64_t calls_failed_fast;   /* failed at once because every target was backing off */
    uint64_t transparent_retries; /* streams refused unprocessed (REFUSED_STREAM) and sent again */
    uint32_t connections;         /* open or opening now */
    uint32_t active_calls;        /* calls on a stream now */
    uint32_t queued_calls;        /* calls waiting for a stream now */
} upstream_grpc_stats_t;

/*
 * Creates a pool on |loop|. Copies |cfg| (strings included) and resolves every target
 * (getaddrinfo, blocking: call this at start-up, not on the request path). Returns NULL and
 * fills |err| for an empty target list, a malformed or unresolvable target, or no memory.
 */
upstream_grpc_pool_t *upstream_grpc_pool_new(h2o_loop_t *loop, const upstream_grpc_config_t *cfg, util_error_t *err);
/*
 * Fails every call still in the pool with UNAVAILABLE (their on_close runs now), closes the
 * connections and frees the pool. Not from inside one of the pool's callbacks. Run the loop
 * once more afterwards so h2o can release the closed sockets.
 */
void upstream_grpc_pool_free(upstream_grpc_pool_t *pool);
void upstream_grpc_pool_stats(const upstream_grpc_pool_t *pool, upstream_grpc_stats_t *out);

/*
 * Starts a call of |path| ("/pkg.Service/Method") with request metadata |md| (copied; reserved
 * names such as content-type, te or grpc-timeout are skipped, see grpc_metadata_is_reserved).
 * |timeout_ms| > 0 sets a deadline: it is sent as grpc-timeout and enforced locally, ending the
 * call with DEADLINE_EXCEEDED (and a RST_STREAM) when it passes; <= 0 means none. |cb| is
 * copied. Send the request with upstream_grpc_call_send and end it with
 * upstream_grpc_call_close_send. Returns the call, or NULL with |err| filled when |path| or a
 * metadata entry is invalid (grpc_metadata_check) or memory runs out; no callback follows NULL.
 */
upstream_grpc_call_t *upstream_grpc_call_start(upstream_grpc_pool_t *pool, const char *path, const upstream_header_t *md,
                                               size_t n_md, int64_t timeout_ms, const upstream_grpc_callbacks_t *cb, void *ctx,
                                               util_error_t *err);
/* Queues one request message (the 5-byte prefix is added here); it is sent as flow control
 * allows. Returns 0, or -1 when the call has half-closed or ended, or |len| exceeds 4 GiB. */
int upstream_grpc_call_send(upstream_grpc_call_t *call, const uint8_t *msg, size_t len);
/* Bytes queued by upstream_grpc_call_send and not yet handed to HTTP/2: for a streaming
 * sender that wants back-pressure. */
size_t upstream_grpc_call_send_pending(const upstream_grpc_call_t *call);
/* Ends the request stream (END_STREAM after the queued messages). Idempotent. */
void upstream_grpc_call_close_send(upstream_grpc_call_t *call);
/* Abandons the call: RST_STREAM(CANCEL) if it is on a stream; no callback after this
 * returns. Calling it from the call's own on_close is a harmless no-op. */
void upstream_grpc_call_cancel(upstream_grpc_call_t *call);

#endif
