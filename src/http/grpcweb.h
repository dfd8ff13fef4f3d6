/*
 * grpcweb.h — the gRPC-Web front door (grpc/grpc doc/PROTOCOL-WEB.md): browsers' gRPC
 * over HTTP/1.1 or HTTP/2, translated to native gRPC towards the upstream.
 *
 *  - Content types application/grpc-web, application/grpc-web+proto and the text forms
 *    application/grpc-web-text[+proto] (the whole body base64; the response stream base64
 *    too, each flushed chunk padded on its own). Other codecs (+json, +thrift) get 415.
 *  - The request body is gRPC-framed; unary and server-streaming calls take exactly one
 *    message (client streams are passed on as they are, though browsers cannot send them).
 *  - The answer is always HTTP 200 once the call ran. Response messages are flushed as they
 *    arrive; the status and trailing metadata travel in a final frame with flag 0x80 whose
 *    payload is an HTTP/1 header block ("grpc-status:0\r\ngrpc-message:...\r\n").
 *    A call that fails before any message answers trailers-only: grpc-status,
 *    grpc-message and the trailing metadata as response headers, with an empty body.
 *  - Malformed requests (bad base64, a truncated frame or length prefix, a message over the
 *    size limit, unknown frame flags) answer a clean gRPC error, never a dropped connection:
 *    INVALID_ARGUMENT, RESOURCE_EXHAUSTED or INTERNAL (see grpcweb_body_scan).
 *  - Request metadata is every custom header (front_metadata_collect); grpc-timeout sets the
 *    deadline (at most the upstream's timeout_ms).
 */
#ifndef PORTICO_HTTP_GRPCWEB_H
#define PORTICO_HTTP_GRPCWEB_H

#include <h2o.h>

#include "grpc/grpc.h"
#include "http/front.h"
#include "upstream/upstream.h"
#include "util/buf.h"
#include "util/error.h"

typedef enum grpcweb_format {
    GRPCWEB_NONE = 0,  /* not a gRPC-Web content type */
    GRPCWEB_BINARY,    /* application/grpc-web, application/grpc-web+proto */
    GRPCWEB_TEXT,      /* application/grpc-web-text, application/grpc-web-text+proto */
    GRPCWEB_BAD_CODEC, /* a gRPC-Web content type with a codec other than proto (415) */
} grpcweb_format_t;

/* Classifies a Content-Type value (parameters after ';' are ignored, case-insensitive). */
grpcweb_format_t grpcweb_content_type_parse(const char *value, size_t len);

/*
 * Decodes a text-mode body: base64 in the standard alphabet, possibly the concatenation of
 * several padded chunks ("AAAA" "AA==" "AAA=" ...); whitespace is skipped. Appends the bytes
 * to |out|. Returns 0, or -1 with |err| naming the offset of the first bad character.
 */
int grpcweb_text_decode(util_buf_t *out, const char *text, size_t len, util_error_t *err);

/*
 * Walks the gRPC-framed request |body| (also Connect's streaming envelopes, which share the
 * format for requests) and calls |on_message| for each message (|on_message| may be NULL
 * to validate only). Returns GRPC_CODE_OK with |*count| messages, or the status to answer
 * with |err| saying why: RESOURCE_EXHAUSTED for a length prefix over |max_message|,
 * INTERNAL for a flags byte other than 0 (compressed messages are not supported),
 * INVALID_ARGUMENT for a truncated frame.
 */
grpc_code_t grpcweb_body_scan(const uint8_t *body, size_t len, size_t max_message,
                              void (*on_message)(void *ctx, const uint8_t *msg, size_t msg_len), void *ctx, size_t *count,
                              util_error_t *err);

/*
 * Appends the trailers frame: flag 0x80, the 4-byte length, then "grpc-status:N\r\n",
 * "grpc-message:M\r\n" (percent-encoded, left out when empty) and one "name:value\r\n" line per
 * trailing metadata entry (names lower-case; reserved and hop-by-hop names skipped except
 * grpc-status-details-bin).
 */
void grpcweb_trailers_frame(util_buf_t *out, int code, const char *message, size_t message_len, const upstream_header_t *trailers,
                            size_t n_trailers);

/* Non-zero for trailing metadata that may be passed to a client (header or trailer block). */
int grpcweb_trailer_passes(const char *name, size_t len);

/* Answers |req| trailers-only with |code| and |message| (errors found before a call exists,
 * such as an unknown method). Returns 0. */
int grpcweb_send_status(h2o_req_t *req, grpcweb_format_t format, int code, const char *message);

/* Serves one gRPC-Web request for |t| (the dispatcher checked the content type). Returns 0. */
int grpcweb_handle(h2o_req_t *req, const front_target_t *t, grpcweb_format_t format);

#endif
