/*
 * grpc_ingress.h — native gRPC ingress: the server side of a `"protocol": "grpc"` listener.
 * gRPC clients (h2c with prior knowledge, or TLS with ALPN h2) call /pkg.Service/Method on
 * portico and each call is passed through, message by message, to the upstream that serves
 * the service (src/upstream's pooled client): unary and every streaming kind, metadata both
 * ways (minus hop-by-hop and reserved headers), trailers, status details, deadlines
 * (the client's grpc-timeout, capped by the upstream's timeout_ms), and cancellation (a
 * client RST_STREAM cancels the upstream call; an upstream failure becomes the trailers).
 * Messages are not decoded: the bytes go through as they are.
 *
 * gRPC→REST: a route whose service is on an HTTP/JSON upstream carries the method's reverse
 * rule (src/transcode/reverse.h) and the worker's HTTP pool instead. Such a call takes exactly
 * one request message (unary and server-streaming methods): the ingress buffers it (bounded by
 * max_request_message, the stream window given back as the bytes are taken), and at the
 * client's END_STREAM starts reverse_call_start, which reports through the same callbacks as
 * the gRPC client, so responses, trailers, deadlines and cancellation work as for gRPC calls.
 * Client- and bidi-streaming methods and methods without a translatable google.api.http rule
 * are answered UNIMPLEMENTED; no message or a second one is INTERNAL (as grpc-go and
 * grpc-java servers answer a unary call without exactly one request).
 *
 * The HTTP/2 server is nghttp2 on the worker's h2o event loop (h2o sockets, so TLS is h2o's
 * too); h2o itself only accepts the connections (src/http/server.c hands them here). One
 * grpc_ingress_t per worker; no locks.
 *
 * Flow control and what is buffered (per stream):
 *  - requests: the client's stream window (256 KiB) is only given back once the messages
 *    received have been handed to the upstream HTTP/2 session, i.e. while
 *    upstream_grpc_call_send_pending() is under 256 KiB. A fast client of a slow backend is
 *    therefore held by HTTP/2 flow control, and portico holds at most about
 *    window + 256 KiB + one partial message (<= max_request_message) per stream. The
 *    connection window is returned at once, so one stalled stream does not stall the others.
 *  - responses: messages wait in a per-stream buffer until the client's window lets nghttp2
 *    send them (its data provider is deferred while the buffer is empty). The upstream
 *    client has no way to pause a call's receiving side, so a client that reads slower than
 *    the backend writes makes this buffer grow; it is capped at max_response_buffer, and a
 *    call that would exceed the cap is cancelled upstream and ended RESOURCE_EXHAUSTED.
 *
 * Error mapping of the ingress itself (the backend's own statuses pass through unchanged):
 * non-POST 405 and non-gRPC content-type 415 (HTTP statuses, as the gRPC spec says, with a
 * grpc-status too), unknown method UNIMPLEMENTED, unsupported grpc-encoding or compressed
 * message UNIMPLEMENTED (with grpc-accept-encoding: identity), malformed grpc-timeout or
 * metadata INVALID_ARGUMENT, oversized request message or header block RESOURCE_EXHAUSTED,
 * bad message prefix flags or a request that ends inside a message INTERNAL, upstream not
 * reachable UNAVAILABLE (from the upstream client).
 */
#ifndef PORTICO_HTTP_GRPC_INGRESS_H
#define PORTICO_HTTP_GRPC_INGRESS_H

#include <stddef.h>
#include <stdint.h>

#include <h2o/socket.h>
#include <openssl/ssl.h>

#include "upstream/http_upstream.h"
#include "upstream/upstream.h"
#include "util/error.h"

typedef struct grpc_ingress grpc_ingress_t;
struct reverse_rule;

/* Where one method goes. */
typedef struct grpc_ingress_route {
    const char *path;           /* "/pkg.Service/Method"; copied */
    upstream_grpc_pool_t *pool; /* NULL: the method's upstream is not available (calls fail UNAVAILABLE) */
    const char *upstream_name;  /* for messages; copied */
    uint32_t timeout_ms;        /* the upstream's deadline (0: none); a client's grpc-timeout can only shorten it */
    /* gRPC→REST (|rest| non-zero: the upstream speaks HTTP/JSON; |pool| is unused) */
    int rest;
    int client_streaming; /* the method streams requests: not translatable (UNIMPLEMENTED) */
    const struct reverse_rule
        *reverse_rule;               /* NULL: the method has no translatable rule (UNIMPLEMENTED); must outlive the ingress */
    upstream_http_pool_t *http_pool; /* NULL: the upstream is not available (UNAVAILABLE) */
} grpc_ingress_route_t;

typedef struct grpc_ingress_config {
    const grpc_ingress_route_t *routes; /* copied */
    size_t n_routes;
    size_t max_request_message;      /* larger request messages fail RESOURCE_EXHAUSTED; 0: 4 MiB */
    size_t max_response_buffer;      /* response bytes a stream may hold for a slow client; 0: 8 MiB. Raised to
                                        max_response_message + 64 KiB when smaller */
    size_t max_response_message;     /* the upstream client's limit (upstream_grpc_config_t.max_recv_message_size) */
    uint32_t max_header_bytes;       /* request header block (names + values); 0: 64 KiB */
    uint32_t max_concurrent_streams; /* SETTINGS_MAX_CONCURRENT_STREAMS; 0: 128 */
    uint32_t idle_timeout_ms;        /* a connection without streams for this long gets GOAWAY; 0: 300000 */
    uint32_t handshake_timeout_ms;   /* TLS handshake + client preface; 0: 10000 */
    size_t *inflight;                /* incremented per call while it runs (graceful shutdown waits for 0); may be NULL */
} grpc_ingress_config_t;

/* Counters, for metrics and tests. */
typedef struct grpc_ingress_stats {
    uint64_t connections_accepted;
    uint64_t calls;               /* streams that carried a request */
    uint64_t calls_rejected;      /* answered by the ingress itself (bad request, unknown method ...) */
    uint64_t calls_cancelled;     /* by the client (RST_STREAM or lost connection) while the upstream call ran */
    uint64_t request_stalls;      /* times a stream's window was held back because the upstream was behind */
    uint64_t response_overflows;  /* calls ended because a slow client let max_response_buffer fill up */
    size_t max_request_buffered;  /* high-water mark of one stream's request bytes held (received, not yet sent upstream) */
    size_t max_response_buffered; /* high-water mark of one stream's response bytes waiting for the client */
    uint32_t connections;         /* open now */
    uint32_t streams;             /* open now */
} grpc_ingress_stats_t;

/*
 * Creates the ingress of one worker, on |loop|. Copies |cfg|. Returns NULL with |err| filled
 * when memory runs out or a route path is given twice or does not look like /pkg.Service/Method.
 */
grpc_ingress_t *grpc_ingress_new(h2o_loop_t *loop, const grpc_ingress_config_t *cfg, util_error_t *err);
/*
 * Serves a connection accepted on the ingress's loop; takes |sock| over (closes it on every
 * error). |ssl_ctx| non-NULL: a TLS handshake comes first (the context should offer ALPN h2).
 */
void grpc_ingress_accept(grpc_ingress_t *ing, h2o_socket_t *sock, SSL_CTX *ssl_ctx);
/*
 * Starts a graceful stop: GOAWAY on every connection (calls in flight finish, new streams are
 * refused), connections close once their last stream is done, new connections are refused.
 */
void grpc_ingress_shutdown(grpc_ingress_t *ing);
/* Cancels every call, closes every connection and frees the ingress. Not from one of its
 * callbacks; run the loop once afterwards so h2o can release the sockets. */
void grpc_ingress_free(grpc_ingress_t *ing);
void grpc_ingress_stats(const grpc_ingress_t *ing, grpc_ingress_stats_t *out);

/*
 * Builds a worker's ingress for a gateway (http/gateway.h): one route per method of every
 * configured grpc_service, to |pools| (gRPC upstreams) or, for a service on an HTTP upstream,
 * through the gateway's reverse rule (gateway_reverse_rule) to |http_pools|; both indexed like
 * the config's upstreams. The config's limits. |inflight| as in grpc_ingress_config_t.
 * Returns NULL with |err| filled.
 */
struct gateway;
grpc_ingress_t *grpc_ingress_new_for_gateway(h2o_loop_t *loop, const struct gateway *g, upstream_grpc_pool_t *const *pools,
                                             upstream_http_pool_t *const *http_pools, size_t *inflight, util_error_t *err);

#endif
