/*
 * front.h — the HTTP listener's request dispatcher: every request on an HTTP listener enters
 * here and is handed to the protocol handler it speaks, with CORS applied to all of them
 * (preflights answered here, Access-Control-* headers on every response, errors included).
 *
 * Dispatch, for a path "/pkg.Service/Method" naming a method of a configured grpc_services
 * entry (a "gRPC path"):
 *   Content-Type application/grpc-web[-text][+proto]     → gRPC-Web (grpcweb.c)
 *   Content-Type application/connect+proto|json           → Connect streaming (connect.c)
 *   a Connect-Protocol-Version header, or GET             → Connect unary (connect.c)
 *   POST application/proto                                → Connect unary
 *   any other POST                                        → REST when a route matches (the
 *                                                           auto-mapped POST /pkg.Svc/Method
 *                                                           route), else Connect (415 etc.)
 * Everything else goes to the REST handler (rest.c), which answers 404/405 for unknown paths.
 *
 * This header also holds what the two browser protocols share: the call target, the request
 * metadata taken from headers, and a response writer that keeps one h2o_send in flight.
 */
#ifndef PORTICO_HTTP_FRONT_H
#define PORTICO_HTTP_FRONT_H

#include <h2o.h>

#include "http/gateway.h"
#include "upstream/upstream.h"
#include "util/buf.h"

/* h2o on_req of HTTP listeners: always takes the request (returns 0). */
int front_on_req(h2o_handler_t *self, h2o_req_t *req);

/* What a gRPC-Web or Connect request calls: resolved once by the dispatcher. */
typedef struct front_target {
    const gateway_t *g;
    gateway_worker_t *gw;
    const proto_method_t *method;
    const config_grpc_service_t *service;
    size_t upstream_index; /* into g->config->upstreams */
    codec_options_t json;  /* the service's JSON options (Connect's JSON codec) */
    codec_options_t json_out; /* the same for printing responses: no request-size limit */
} front_target_t;

#define FRONT_MAX_METADATA 64

/*
 * Collects request metadata for the upstream from the request headers, as browser gRPC
 * clients send custom metadata: every header except hop-by-hop and reserved ones
 * (grpc_metadata_is_reserved), the protocol's own (Connect-*, X-Grpc-Web, X-User-Agent),
 * CORS and fetch headers (Origin, Sec-*, Access-Control-*), the browser's content
 * negotiation (Accept*, User-Agent, Referer, Cookie, Cache-Control, Pragma), and values that
 * are not valid gRPC metadata. Returns the number of entries written to |md| (at most |cap|);
 * they point into the request.
 */
size_t front_metadata_collect(h2o_req_t *req, upstream_header_t *md, size_t cap);

/*
 * The upstream call of a request on the HTTP listener (REST, gRPC-Web, Connect): a gRPC call,
 * or, for a service served by an HTTP/JSON upstream, the call translated to REST
 * (src/transcode/reverse.h). Both report through upstream_grpc_callbacks_t, so the handlers
 * only start, cancel and forget calls.
 */
struct reverse_call;
typedef struct front_call {
    upstream_grpc_call_t *grpc; /* NULL when none is running (closed, cancelled, never started) */
    struct reverse_call *rev;
} front_call_t;

/*
 * Starts a call of |method| on upstream |upstream_index| of this worker with one request
 * message |msg| (not framed). Returns 0, or -1 with |err| set and |*code| the status to
 * answer (UNAVAILABLE: no client for the upstream on this worker; UNIMPLEMENTED: the method
 * cannot be translated for its HTTP upstream; INTERNAL: an invalid call).
 */
int front_call_start_message(front_call_t *call, struct gateway_worker *gw, size_t upstream_index,
                             const proto_method_t *method, const uint8_t *msg, size_t len, const upstream_header_t *md,
                             size_t n_md, int64_t timeout_ms, const upstream_grpc_callbacks_t *cb, void *ctx, grpc_code_t *code,
                             util_error_t *err);

/*
 * Starts the call of |t|'s method with its whole request: |frames| holds the request messages
 * gRPC-framed (already checked with grpcweb_body_scan). Returns 0, or -1 with |err| set and
 * |*code| the gRPC status to answer: UNAVAILABLE when the upstream has no client on this
 * worker, INTERNAL for an invalid call. The callbacks follow upstream.h's contract.
 */
int front_call_start(front_call_t *call, const front_target_t *t, const uint8_t *frames, size_t frames_len,
                     const upstream_header_t *md, size_t n_md, int64_t timeout_ms, const upstream_grpc_callbacks_t *cb, void *ctx,
                     grpc_code_t *code, util_error_t *err);
/* Abandons a running call (no callback follows); does nothing when none runs. */
void front_call_cancel(front_call_t *call);
/* Records that the call ended (from its on_close). */
void front_call_closed(front_call_t *call);

/* The deadline of a call to |t|'s upstream: its timeout_ms, or |client_ms| when that is
 * positive and shorter. */
int64_t front_deadline_ms(const front_target_t *t, int64_t client_ms);

/*
 * Adds the names of the response headers set so far to Access-Control-Expose-Headers when
 * the dispatcher put one there (a CORS request from an allowed origin): metadata headers
 * and Connect's trailer-* headers are only readable by a page when exposed by name. Call it
 * just before h2o_start_response.
 */
void front_cors_expose_response_headers(h2o_req_t *req);

/*
 * A response body writer for streamed answers: h2o allows one h2o_send in flight, so
 * output waits in |pending| until the generator's proceed callback. With |base64| set each
 * flushed chunk is base64 text with its own padding (gRPC-Web text mode). |on_stop| runs
 * when h2o stops the generator (the client went away).
 */
typedef struct front_writer {
    h2o_generator_t generator; /* h2o hands it back to proceed/stop */
    h2o_req_t *req;
    util_buf_t pending;  /* raw bytes not yet handed to h2o */
    util_buf_t inflight; /* bytes h2o is sending */
    int base64;
    int started;
    int sending;
    int final_queued; /* front_writer_finish was called */
    int final_sent;
    void (*on_stop)(struct front_writer *w);
} front_writer_t;

void front_writer_init(front_writer_t *w, h2o_req_t *req, int base64, void (*on_stop)(front_writer_t *w));
void front_writer_dispose(front_writer_t *w);
/* Starts the response (status and headers must be set); bodies follow with flush/finish. */
void front_writer_start(front_writer_t *w);
/* Hands |pending| to h2o when nothing is in flight. */
void front_writer_flush(front_writer_t *w);
/* Marks the end of the body: |pending| and the final flag go out with the next send. */
void front_writer_finish(front_writer_t *w);

#endif
