/*
 * grpc.h — public face of src/grpc: the gRPC protocol primitives that both sides of portico
 * use (the upstream client in src/upstream and the gRPC / gRPC-Web / Connect front doors in
 * src/http). Nothing here does I/O:
 *
 *   framing.c   the 5-byte message prefix and an incremental deframer (any chunking in)
 *   status.c    status codes, their names ("NOT_FOUND", Connect's "not_found") and the three
 *               HTTP mappings (gRPC→HTTP, HTTP→gRPC for REST backends, and the gRPC spec's
 *               mapping for a gRPC upstream that answers a non-200 :status)
 *   timeout.c   grpc-timeout values ("100m", "5S")
 *   message.c   grpc-message percent-encoding
 *   metadata.c  which header names are reserved or hop-by-hop, -bin values (base64)
 *
 * Names use the folder prefix grpc_ but stay clear of libgrpc's exported C API
 * (grpc_metadata_array_*, grpc_call_*, grpc_status_code ...): a binary may link both.
 */
#ifndef PORTICO_GRPC_H
#define PORTICO_GRPC_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/error.h"

/* ---- error codes (util_error_t.code) for the synchronous functions below --------------- */
typedef enum grpc_error {
    GRPC_ERR_FRAME_TOO_LARGE = -2, /* a message longer than the deframer's limit */
    GRPC_ERR_FRAME_FLAGS = -3,     /* a flags byte other than 0 or 1 */
    GRPC_ERR_TIMEOUT = -4,         /* a malformed grpc-timeout value */
    GRPC_ERR_STATUS = -5,          /* a malformed grpc-status value or status name */
    GRPC_ERR_METADATA = -6,        /* an invalid metadata name or value */
} grpc_error_t;

/* ---- status codes ------------------------------------------------------------------------ */

/* The canonical codes (google.rpc.Code); numbers are fixed by the protocol. */
typedef enum grpc_code {
    GRPC_CODE_OK = 0,
    GRPC_CODE_CANCELLED = 1,
    GRPC_CODE_UNKNOWN = 2,
    GRPC_CODE_INVALID_ARGUMENT = 3,
    GRPC_CODE_DEADLINE_EXCEEDED = 4,
    GRPC_CODE_NOT_FOUND = 5,
    GRPC_CODE_ALREADY_EXISTS = 6,
    GRPC_CODE_PERMISSION_DENIED = 7,
    GRPC_CODE_RESOURCE_EXHAUSTED = 8,
    GRPC_CODE_FAILED_PRECONDITION = 9,
    GRPC_CODE_ABORTED = 10,
    GRPC_CODE_OUT_OF_RANGE = 11,
    GRPC_CODE_UNIMPLEMENTED = 12,
    GRPC_CODE_INTERNAL = 13,
    GRPC_CODE_UNAVAILABLE = 14,
    GRPC_CODE_DATA_LOSS = 15,
    GRPC_CODE_UNAUTHENTICATED = 16,
} grpc_code_t;

#define GRPC_CODE_COUNT 17

/* |code| if it is a known code, else GRPC_CODE_UNKNOWN (the spec's rule for unknown numbers). */
grpc_code_t grpc_code_normalize(int64_t code);
/* "NOT_FOUND"; NULL for a number outside 0..16. */
const char *grpc_code_name(int code);
/* Connect's snake_case name: "not_found", "canceled" (sic, Connect's spelling); NULL outside 0..16. */
const char *grpc_code_connect_name(int code);
/*
 * Parses a code name: "NOT_FOUND", "not_found" (and Connect's "canceled" as well as
 * "cancelled"). Returns 0 and sets |*out|, or -1 (GRPC_ERR_STATUS) naming the input.
 */
int grpc_code_from_name(const char *name, size_t len, grpc_code_t *out, util_error_t *err);
/*
 * Parses a grpc-status header value: ASCII digits only. A well-formed number that is not a
 * known code gives GRPC_CODE_UNKNOWN. Returns 0, or -1 (GRPC_ERR_STATUS) for an empty or
 * non-numeric value.
 */
int grpc_code_parse(const char *value, size_t len, grpc_code_t *out, util_error_t *err);

/* gRPC → HTTP status, per google.rpc.Code's documented mapping (OK 200, NOT_FOUND 404,
 * CANCELLED 499 ...); a number outside 0..16 gives 500. */
int grpc_code_to_http(int code);
/* HTTP status of a REST backend → gRPC code: 2xx OK, 400 INVALID_ARGUMENT, 401, 403, 404,
 * 409 ABORTED, 429, 501, 503, 504 as documented; other 4xx FAILED_PRECONDITION, other 5xx
 * INTERNAL; anything else (1xx, 3xx, nonsense) UNKNOWN. */
grpc_code_t grpc_code_from_http(int http_status);
/* The gRPC spec's mapping for a gRPC upstream whose response has a non-200 :status and no
 * grpc-status: 400 INTERNAL, 401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 404 UNIMPLEMENTED,
 * 429/502/503/504 UNAVAILABLE, anything else UNKNOWN. */
grpc_code_t grpc_code_from_http_transport(int http_status);
/* HTTP/2 RST_STREAM / GOAWAY error code → gRPC code (gRPC PROTOCOL-HTTP2 "Errors"):
 * REFUSED_STREAM UNAVAILABLE, CANCEL CANCELLED, ENHANCE_YOUR_CALM RESOURCE_EXHAUSTED,
 * INADEQUATE_SECURITY PERMISSION_DENIED, every other code INTERNAL. */
grpc_code_t grpc_code_from_h2_error(uint32_t h2_error);

/* ---- message framing -------------------------------------------------------------------- */

#define GRPC_FRAME_HEADER_SIZE 5
#define GRPC_FRAME_FLAG_COMPRESSED 0x01

/* Writes the 5-byte prefix: flags (1 when |compressed|), then |len| big-endian. */
void grpc_frame_header_write(uint8_t out[GRPC_FRAME_HEADER_SIZE], int compressed, uint32_t len);
/* Appends prefix and message to |out|. Returns 0, or -1 when |len| does not fit the 32-bit
 * length field (nothing is appended). */
int grpc_frame_append(util_buf_t *out, const uint8_t *msg, size_t len, int compressed);

/* One deframed message. |data| points into the caller's input (when the message arrived in
 * one piece) or into the deframer's buffer; it is valid until the next grpc_deframer_next. */
typedef struct grpc_frame {
    const uint8_t *data;
    size_t len;
    int compressed; /* the flags byte was 1: the message is in the stream's grpc-encoding */
} grpc_frame_t;

/*
 * The deframer accepts a stream of bytes in arbitrary chunks and yields whole messages.
 * A message that arrives in one chunk is returned in place (no copy); only messages split
 * across chunks are gathered in |buf|. A message longer than |max_message| is rejected from
 * its prefix alone, before any of it is buffered.
 */
typedef struct grpc_deframer {
    size_t max_message;
    uint8_t header[GRPC_FRAME_HEADER_SIZE];
    size_t header_len; /* bytes of |header| received so far */
    size_t body_len;   /* length announced by |header| (valid when header_len == 5) */
    util_buf_t buf;    /* body bytes of a message split across chunks */
    int failed;
} grpc_deframer_t;

void grpc_deframer_init(grpc_deframer_t *d, size_t max_message);
void grpc_deframer_dispose(grpc_deframer_t *d);
/*
 * Consumes bytes from |*data| / |*len| (both advanced) until one message is complete.
 * Returns 1 with |*frame| set, 0 when all input was consumed without completing a message,
 * or -1 on a protocol error: GRPC_ERR_FRAME_TOO_LARGE (the gRPC code for it is
 * RESOURCE_EXHAUSTED) or GRPC_ERR_FRAME_FLAGS (INTERNAL). After an error every call returns
 * -1. Call it in a loop until it returns 0; stopping early is fine (the rest stays in
 * |*data|).
 */
int grpc_deframer_next(grpc_deframer_t *d, const uint8_t **data, size_t *len, grpc_frame_t *frame, util_error_t *err);
/* Non-zero when part of a message has been received: at end of stream this means the
 * stream was truncated. */
int grpc_deframer_has_partial(const grpc_deframer_t *d);

/* ---- grpc-timeout ----------------------------------------------------------------------- */

/* 8 digits, a unit, NUL. */
#define GRPC_TIMEOUT_BUF_SIZE 10

/*
 * Parses a grpc-timeout value ("100m", "5S", "1H": 1 to 8 ASCII digits, then one of
 * H M S m u n) into milliseconds, rounded up (so "1n" is 1 ms, never 0). Returns 0, or -1
 * (GRPC_ERR_TIMEOUT) naming the value.
 */
int grpc_timeout_parse(const char *value, size_t len, int64_t *ms, util_error_t *err);
/*
 * Formats |ms| (negative counts as 0) as a grpc-timeout value into |out| and returns its
 * length. Uses the largest unit that represents |ms| exactly ("5S" for 5000, "100m" for
 * 100); a value too long for 8 digits of milliseconds is rounded up to the next unit that
 * fits, saturating at "99999999H".
 */
size_t grpc_timeout_format(int64_t ms, char out[GRPC_TIMEOUT_BUF_SIZE]);

/* ---- grpc-message ----------------------------------------------------------------------- */

/* Appends |msg| percent-encoded as the spec says: bytes outside 0x20..0x7E, and '%', become
 * "%XX" (upper-case hex); everything else is copied. */
void grpc_message_percent_encode(util_buf_t *out, const char *msg, size_t len);
/* Appends the decoded form of a grpc-message value. A '%' not followed by two hex digits is
 * kept literally (the spec forbids failing on a malformed message). */
void grpc_message_percent_decode(util_buf_t *out, const char *value, size_t len);

/* ---- metadata ---------------------------------------------------------------------------- */

/*
 * Non-zero for header names that are not application metadata and must not be copied
 * between a client and a backend as such: pseudo-headers (":path"), hop-by-hop headers
 * (connection, keep-alive, proxy-connection, transfer-encoding, upgrade, te), host,
 * content-length, content-type, and the "grpc-" prefix that the spec reserves, except
 * the tracing headers grpc-trace-bin and grpc-tags-bin. Case-insensitive.
 */
int grpc_metadata_is_reserved(const char *name, size_t len);
/* Non-zero for headers HTTP/2 forbids (connection-specific): connection, keep-alive,
 * proxy-connection, transfer-encoding, upgrade, and te unless its value is "trailers". */
int grpc_metadata_is_hop_by_hop(const char *name, size_t name_len, const char *value, size_t value_len);
/* Non-zero when |name| ends in "-bin": the value is base64 of arbitrary bytes. */
int grpc_metadata_is_binary(const char *name, size_t len);
/*
 * Checks a metadata entry as it goes on the wire: the name is 1*[0-9a-z_.-]; a -bin value
 * is base64 (standard or URL-safe alphabet, padding optional); any other value is printable
 * ASCII (0x20..0x7E). Returns 0, or -1 (GRPC_ERR_METADATA) naming the entry.
 */
int grpc_metadata_check(const char *name, size_t name_len, const char *value, size_t value_len, util_error_t *err);
/* Appends the wire form of a -bin value: standard base64 without padding (the spec says
 * to emit unpadded and accept both). */
void grpc_metadata_bin_encode(util_buf_t *out, const uint8_t *data, size_t len);
/* Appends the bytes of a -bin value (padded or not, either alphabet). Returns 0, or -1
 * (GRPC_ERR_METADATA). */
int grpc_metadata_bin_decode(util_buf_t *out, const char *value, size_t len, util_error_t *err);

#endif
