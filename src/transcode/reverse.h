/*
 * reverse.h — gRPC → REST ("reverse transcoding"): a gRPC call of a method whose service is
 * served by an HTTP/JSON upstream is translated through the method's google.api.http rule.
 * docs/REVERSE.md is the reference of the mapping; in short:
 *
 *   request message → HTTP request
 *     path   the rule's template, each {variable} filled from its field (percent-encoded:
 *            everything but unreserved characters for a one-segment variable, '/' kept
 *            for a multi-segment one such as {path=**}, whose value must also match its
 *            part of the template)
 *     query  with body "" or body "field": every other set field, flattened to dotted
 *            proto names (sub.field=v), repeated fields as repeated parameters
 *     body   body "*": the message as JSON without the path-bound fields;
 *            body "field": that field as JSON; google.api.HttpBody: its raw data
 *   HTTP response → gRPC response
 *     2xx    the JSON body (or the rule's response_body field) parsed into the output
 *            message, unknown fields ignored; an empty body is the empty message; a
 *            server-streaming method takes a JSON array or a sequence of JSON values
 *            (NDJSON) and yields one message per element
 *     other  a gRPC status from grpc_code_from_http (400 INVALID_ARGUMENT, 404 NOT_FOUND,
 *            409 ABORTED, 503 UNAVAILABLE ...) with the response body as the message
 *
 * Two parts, as elsewhere in src/transcode: the mapping (reverse.c: pure, no I/O) and the
 * call (reverse_call.c: the mapping driven over an upstream HTTP pool, with the same
 * callback shape as the gRPC client, so a front door can call either).
 *
 * How a front door calls a REST-backed method (once per method at start-up, then per call):
 *
 *     reverse_rule_t *rule = reverse_rule_new(registry, method, NULL, &json_opts, &err);
 *     ...
 *     reverse_call_t *c = reverse_call_start(http_pool, rule, request_pb, len, md, n_md,
 *                                            timeout_ms, &grpc_callbacks, ctx, &err);
 *     // on_headers / on_message (protobuf bytes of method->output) / on_close(result)
 *     // exactly as upstream_grpc_call_start's; reverse_call_cancel(c) to abandon it.
 */
#ifndef PORTICO_TRANSCODE_REVERSE_H
#define PORTICO_TRANSCODE_REVERSE_H

#include <stddef.h>
#include <stdint.h>

#include "grpc/grpc.h"
#include "proto/proto.h"
#include "upstream/http_upstream.h"
#include "upstream/upstream.h"
#include "util/buf.h"
#include "util/error.h"

/* util_error_t codes set here (range -870 .. -879). */
enum {
    REVERSE_ERR_RULE = -870, /* the method cannot be mapped (no rule, client streaming, anonymous wildcard ...) */
    REVERSE_ERR_ARGUMENT,  /* a request value does not fit the rule: empty path variable, map in the query ...: INVALID_ARGUMENT */
    REVERSE_ERR_WIRE,      /* the request message is not valid protobuf: INTERNAL */
    REVERSE_ERR_RESPONSE,  /* the backend's body does not parse as the output message: INTERNAL */
    REVERSE_ERR_TOO_LARGE, /* a streamed element over the limit: RESOURCE_EXHAUSTED */
    REVERSE_ERR_NOMEM,
};

/* One method's mapping, built at start-up; read-only afterwards and shared by workers. */
typedef struct reverse_rule reverse_rule_t;

/*
 * Prepares the mapping of |method| through |rule| (NULL: the method's own google.api.http
 * rule; additional_bindings are not used). |json| gives the JSON printing of request bodies
 * (emit_defaults, proto_names, enum_ints) and the limits (max_depth, max_input); responses are
 * always parsed with ignore_unknown. The registry must outlive the rule. Returns NULL with
 * |err| (REVERSE_ERR_RULE naming the method) when the method has no rule, is client- or
 * bidi-streaming, its custom kind is "*" or no HTTP token, its path variables name no
 * singular scalar field, or its template has a wildcard that no variable captures.
 */
reverse_rule_t *reverse_rule_new(const proto_registry_t *r, const proto_method_t *method, const proto_http_rule_t *rule,
                                 const codec_options_t *json, util_error_t *err);
void reverse_rule_free(reverse_rule_t *rule);
const proto_method_t *reverse_rule_method(const reverse_rule_t *rule);
const char *reverse_rule_http_method(const reverse_rule_t *rule); /* "GET", ... */
const char *reverse_rule_path(const reverse_rule_t *rule);        /* the template */

/* The HTTP request of one call. */
typedef struct reverse_http_request {
    const char *method;      /* points into the rule */
    util_buf_t target;       /* path and query, NUL-terminated: "/v1/things/a%20b?page_size=2&tag=x&tag=y" */
    int has_body;            /* body: "*" or "field" (the body may still be empty) */
    util_buf_t body;         /* JSON text, or the raw data of a google.api.HttpBody */
    util_buf_t content_type; /* NUL-terminated: "application/json", or the HttpBody's content_type; empty without body */
} reverse_http_request_t;

void reverse_http_request_init(reverse_http_request_t *req);
void reverse_http_request_dispose(reverse_http_request_t *req);

/*
 * Maps request message |pb| (wire bytes of the method's input) to |out| (initialised by the
 * caller; reset here). Returns 0, or -1 with |err| set: REVERSE_ERR_ARGUMENT naming the field
 * ("path variable \"sku\" is empty"), REVERSE_ERR_WIRE, or REVERSE_ERR_NOMEM.
 */
int reverse_build_request(const reverse_rule_t *rule, const uint8_t *pb, size_t len, reverse_http_request_t *out,
                          util_error_t *err);

/*
 * Maps one successful response body (a unary body, or one element of a stream) to the output
 * message's wire bytes, appended to |out|: the whole message, or the rule's response_body
 * field; a google.api.HttpBody output takes the body as its data and |content_type| (may be
 * NULL) as its content_type. Whitespace only or "null" gives the empty message. Returns 0, or
 * -1 with |err| (REVERSE_ERR_RESPONSE naming the problem).
 */
int reverse_parse_response(const reverse_rule_t *rule, const char *body, size_t len, const char *content_type, size_t ct_len,
                           util_buf_t *out, util_error_t *err);

/*
 * Splits a streamed response body into its JSON elements, fed in chunks of any size: a JSON
 * array ("[{...},{...}]") gives its elements; anything else is read as a sequence of JSON
 * values separated by whitespace (NDJSON, and also one lone object). Elements are checked for
 * balance only; the codec validates them.
 */
typedef struct reverse_splitter {
    size_t max_element;
    int mode;  /* 0 undecided, 1 array, 2 sequence */
    int state; /* private */
    int depth;
    int in_string, escape;
    util_buf_t elem;
    int failed;
} reverse_splitter_t;

/* Called once per element; a non-zero return stops the feed (it then returns 1). */
typedef int (*reverse_element_cb)(void *ctx, const char *elem, size_t len);

void reverse_splitter_init(reverse_splitter_t *s, size_t max_element);
void reverse_splitter_dispose(reverse_splitter_t *s);
/* Returns 0, 1 when |cb| asked to stop, or -1 with |err| (REVERSE_ERR_RESPONSE for bad
 * structure, REVERSE_ERR_TOO_LARGE for an element over max_element). */
int reverse_splitter_feed(reverse_splitter_t *s, const char *data, size_t len, reverse_element_cb cb, void *ctx, util_error_t *err);
/* The body ended: emits a last unterminated scalar, checks that an array was closed. */
int reverse_splitter_finish(reverse_splitter_t *s, reverse_element_cb cb, void *ctx, util_error_t *err);

/*
 * The grpc-gateway stream wrappers: an element {"result": X} stands for X and {"error": E}
 * for a failed stream, when the output message has no field of that name. Returns 0 for a
 * plain element, 1 with |*inner| / |*inner_len| set to X for a result, 2 with them set to E
 * for an error.
 */
int reverse_stream_unwrap(const reverse_rule_t *rule, const char *elem, size_t len, const char **inner, size_t *inner_len);

/* ---------------------------------------------------------------------------------------
 * The call (reverse_call.c)
 */
typedef struct reverse_call reverse_call_t;

/*
 * Starts a call of |rule|'s method with request message |request_pb| over |pool|. |md| (gRPC
 * request metadata, e.g. forwarded headers) becomes request headers (reserved names such as
 * content-type, te or grpc-timeout are skipped). |timeout_ms| > 0 is the deadline
 * (DEADLINE_EXCEEDED when it passes). |cb| has the gRPC client's shape and contract
 * (upstream.h): on_headers with the response headers fit for metadata (not for an error
 * status), on_message per response message, then on_close exactly once, never from inside
 * this function (a request that cannot be mapped fails with INVALID_ARGUMENT from the loop).
 * |result->http_status| is the backend's status; |result->trailers| are its headers when the
 * status is an error. Returns NULL with |err| only for a missing on_close, a NULL argument or
 * no memory (a pool being freed fails the call with UNAVAILABLE, from the loop).
 */
reverse_call_t *reverse_call_start(upstream_http_pool_t *pool, const reverse_rule_t *rule, const uint8_t *request_pb, size_t len,
                                   const upstream_header_t *md, size_t n_md, int64_t timeout_ms,
                                   const upstream_grpc_callbacks_t *cb, void *ctx, util_error_t *err);
/* Abandons the call; no callback after this returns. A no-op from inside its on_close. */
void reverse_call_cancel(reverse_call_t *call);

/* The gRPC code for an HTTP client failure: CONNECT/IO/SHUTDOWN UNAVAILABLE, TIMEOUT
 * DEADLINE_EXCEEDED, PROTOCOL INTERNAL, TOO_LARGE RESOURCE_EXHAUSTED. */
grpc_code_t reverse_code_from_http_error(upstream_http_error_t e);

#endif
