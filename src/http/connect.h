/*
 * connect.h — the Connect protocol front door (connectrpc.com/docs/protocol), translated to
 * native gRPC towards the upstream.
 *
 * Unary (POST /pkg.Service/Method):
 *   Content-Type application/proto (the bare message) or application/json (the proto3 JSON
 *   form, through the codec with the service's JSON options); anything else is 415.
 *   Connect-Protocol-Version must be absent or "1"; Connect-Timeout-Ms (1 to 10 digits) sets
 *   the deadline, at most the upstream's timeout_ms. Success: 200 with the same content type,
 *   the response's initial metadata as headers and its trailing metadata as "trailer-<name>"
 *   headers. Failure: the HTTP status of the code (not_found 404, unavailable 503, ...) and
 *   the Connect error JSON {"code":"not_found","message":"...","details":[{"type":
 *   "google.rpc.ErrorInfo","value":"<base64, unpadded>","debug":{...}}]}.
 * Unary GET, for methods with idempotency_level NO_SIDE_EFFECTS:
 *   ?connect=v1&encoding=json|proto&message=<percent-encoded>[&base64=1][&compression=identity]
 *   in any order, unknown parameters ignored; other methods answer 405.
 * Streaming (Content-Type application/connect+proto|json, otherwise 415): the request and
 *   response bodies are envelopes (flags byte, 4-byte big-endian length, message); the
 *   response is always 200 and ends with an EndStreamResponse envelope (flag 0x02) holding
 *   {"error":{...},"metadata":{"name":["value"]}} with the trailing metadata.
 * Request compression other than identity answers unimplemented.
 */
#ifndef PORTICO_HTTP_CONNECT_H
#define PORTICO_HTTP_CONNECT_H

#include <h2o.h>

#include "http/front.h"
#include "proto/proto.h"
#include "upstream/upstream.h"
#include "util/buf.h"
#include "util/error.h"

typedef enum connect_codec {
    CONNECT_CODEC_NONE = 0, /* not a codec portico speaks */
    CONNECT_CODEC_PROTO,
    CONNECT_CODEC_JSON,
} connect_codec_t;

typedef enum connect_kind {
    CONNECT_KIND_OTHER = 0, /* not a Connect content type */
    CONNECT_KIND_UNARY,     /* application/proto, application/json (codec set), or another application/... */
    CONNECT_KIND_STREAM,    /* application/connect+<codec> (codec NONE when unsupported) */
} connect_kind_t;

/* Classifies a Content-Type value (parameters such as "; charset=utf-8" are ignored). */
connect_kind_t connect_content_type_parse(const char *value, size_t len, connect_codec_t *codec);

/* Parses Connect-Timeout-Ms: 1 to 10 ASCII digits. Returns 0, or -1 with |err| naming it. */
int connect_timeout_parse(const char *value, size_t len, int64_t *ms, util_error_t *err);

/* util_error_t.code of connect_get_parse failures. */
enum {
    CONNECT_ERR_BAD_REQUEST = -1, /* 400 invalid_argument */
    CONNECT_ERR_ENCODING = -2,    /* 415: encoding missing or not json/proto */
    CONNECT_ERR_COMPRESSION = -3, /* unimplemented: compression other than identity */
};

/*
 * Parses the query string of a unary GET (without the '?'): the message bytes (percent-
 * decoded, then base64-decoded when base64=1: URL-safe or standard alphabet, padding
 * optional) are appended to |message|, the codec set. Returns 0, or -1 with |err| set
 * (code one of CONNECT_ERR_*).
 */
int connect_get_parse(const char *query, size_t len, util_buf_t *message, connect_codec_t *codec, util_error_t *err);

/*
 * Appends the Connect error object {"code":"...","message":"...","details":[...]} for gRPC
 * |code|. |status_pb| is the google.rpc.Status of grpc-status-details-bin (may be NULL):
 * each of its details becomes {"type":"pkg.Msg","value":"<base64 unpadded>"} plus "debug"
 * (the detail as JSON) when the registry knows the type. "message" and "details" are left
 * out when empty.
 */
void connect_error_json(util_buf_t *out, const proto_registry_t *r, int code, const char *message, size_t message_len,
                        const uint8_t *status_pb, size_t status_len);

/*
 * Appends the JSON of an EndStreamResponse: "error" when |code| is not OK (as above; the
 * details come from a grpc-status-details-bin entry of |trailers|), and "metadata" with the
 * trailing metadata that may be passed to a client, values grouped by name.
 */
void connect_end_stream_json(util_buf_t *out, const proto_registry_t *r, int code, const char *message, size_t message_len,
                             const upstream_header_t *trailers, size_t n_trailers);

/* Answers |req| with the Connect error JSON of |code| and |message| and |http_status| (0:
 * the code's own), for errors found before a call exists. Returns 0. */
int connect_send_error(h2o_req_t *req, const proto_registry_t *r, int http_status, int code, const char *message);

/* Serves a unary Connect request (POST or GET) for |t|. Returns 0. */
int connect_handle_unary(h2o_req_t *req, const front_target_t *t);
/* Serves a streaming Connect request for |t| with the codec of its content type. Returns 0. */
int connect_handle_stream(h2o_req_t *req, const front_target_t *t, connect_codec_t codec);

#endif
