/*
 * status.c — gRPC status codes: names (gRPC's "NOT_FOUND", Connect's "not_found"), grpc-status
 * parsing, and the HTTP mappings the gateway needs in both directions. The tables follow
 * google/rpc/code.proto (gRPC → HTTP), the gRPC doc "HTTP to gRPC Status Code Mapping" (for a
 * gRPC upstream that answers without grpc-status) and PROTOCOL-HTTP2.md "Errors" (HTTP/2 error
 * codes); see grpc.h.
 */
#include "grpc/grpc.h"

#include <string.h>

typedef struct code_info {
    const char *name;
    const char *connect_name;
    int http;
} code_info_t;

static const code_info_t codes[GRPC_CODE_COUNT] = {
    [GRPC_CODE_OK] = {"OK", "ok", 200},
    [GRPC_CODE_CANCELLED] = {"CANCELLED", "canceled", 499},
    [GRPC_CODE_UNKNOWN] = {"UNKNOWN", "unknown", 500},
    [GRPC_CODE_INVALID_ARGUMENT] = {"INVALID_ARGUMENT", "invalid_argument", 400},
    [GRPC_CODE_DEADLINE_EXCEEDED] = {"DEADLINE_EXCEEDED", "deadline_exceeded", 504},
    [GRPC_CODE_NOT_FOUND] = {"NOT_FOUND", "not_found", 404},
    [GRPC_CODE_ALREADY_EXISTS] = {"ALREADY_EXISTS", "already_exists", 409},
    [GRPC_CODE_PERMISSION_DENIED] = {"PERMISSION_DENIED", "permission_denied", 403},
    [GRPC_CODE_RESOURCE_EXHAUSTED] = {"RESOURCE_EXHAUSTED", "resource_exhausted", 429},
    [GRPC_CODE_FAILED_PRECONDITION] = {"FAILED_PRECONDITION", "failed_precondition", 400},
    [GRPC_CODE_ABORTED] = {"ABORTED", "aborted", 409},
    [GRPC_CODE_OUT_OF_RANGE] = {"OUT_OF_RANGE", "out_of_range", 400},
    [GRPC_CODE_UNIMPLEMENTED] = {"UNIMPLEMENTED", "unimplemented", 501},
    [GRPC_CODE_INTERNAL] = {"INTERNAL", "internal", 500},
    [GRPC_CODE_UNAVAILABLE] = {"UNAVAILABLE", "unavailable", 503},
    [GRPC_CODE_DATA_LOSS] = {"DATA_LOSS", "data_loss", 500},
    [GRPC_CODE_UNAUTHENTICATED] = {"UNAUTHENTICATED", "unauthenticated", 401},
};

grpc_code_t grpc_code_normalize(int64_t code)
{
    return code >= 0 && code < GRPC_CODE_COUNT ? (grpc_code_t)code : GRPC_CODE_UNKNOWN;
}

const char *grpc_code_name(int code)
{
    return code >= 0 && code < GRPC_CODE_COUNT ? codes[code].name : NULL;
}

const char *grpc_code_connect_name(int code)
{
    return code >= 0 && code < GRPC_CODE_COUNT ? codes[code].connect_name : NULL;
}

int grpc_code_from_name(const char *name, size_t len, grpc_code_t *out, util_error_t *err)
{
    for (int i = 0; i < GRPC_CODE_COUNT; i++) {
        const char *n = codes[i].name;
        /* Upper-case gRPC names and lower-case Connect names; mixed case is neither. */
        if ((strlen(n) == len && memcmp(n, name, len) == 0) ||
            (strlen(codes[i].connect_name) == len && memcmp(codes[i].connect_name, name, len) == 0)) {
            *out = (grpc_code_t)i;
            return 0;
        }
    }
    if (len == 9 && memcmp(name, "cancelled", 9) == 0) {
        *out = GRPC_CODE_CANCELLED;
        return 0;
    }
    return util_error_set(err, GRPC_ERR_STATUS, "unknown gRPC status code name \"%.*s\"", (int)(len > 64 ? 64 : len), name);
}

int grpc_code_parse(const char *value, size_t len, grpc_code_t *out, util_error_t *err)
{
    if (len == 0)
        return util_error_set(err, GRPC_ERR_STATUS, "empty grpc-status value");
    int64_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (value[i] < '0' || value[i] > '9')
            return util_error_set(err, GRPC_ERR_STATUS, "grpc-status value \"%.*s\" is not a number", (int)(len > 64 ? 64 : len),
                                  value);
        if (n < 1000000) /* anything past this is UNKNOWN anyway; stop before overflow */
            n = n * 10 + (value[i] - '0');
    }
    *out = grpc_code_normalize(n);
    return 0;
}

int grpc_code_to_http(int code)
{
    return code >= 0 && code < GRPC_CODE_COUNT ? codes[code].http : 500;
}

grpc_code_t grpc_code_from_http(int http_status)
{
    switch (http_status) {
    case 400:
        return GRPC_CODE_INVALID_ARGUMENT;
    case 401:
        return GRPC_CODE_UNAUTHENTICATED;
    case 403:
        return GRPC_CODE_PERMISSION_DENIED;
    case 404:
        return GRPC_CODE_NOT_FOUND;
    case 409:
        return GRPC_CODE_ABORTED;
    case 429:
        return GRPC_CODE_RESOURCE_EXHAUSTED;
    case 501:
        return GRPC_CODE_UNIMPLEMENTED;
    case 503:
        return GRPC_CODE_UNAVAILABLE;
    case 504:
        return GRPC_CODE_DEADLINE_EXCEEDED;
    }
    if (http_status >= 200 && http_status < 300)
        return GRPC_CODE_OK;
    if (http_status >= 400 && http_status < 500)
        return GRPC_CODE_FAILED_PRECONDITION;
    if (http_status >= 500 && http_status < 600)
        return GRPC_CODE_INTERNAL;
    return GRPC_CODE_UNKNOWN;
}

grpc_code_t grpc_code_from_http_transport(int http_status)
{
    switch (http_status) {
    case 400:
        return GRPC_CODE_INTERNAL;
    case 401:
        return GRPC_CODE_UNAUTHENTICATED;
    case 403:
        return GRPC_CODE_PERMISSION_DENIED;
    case 404:
        return GRPC_CODE_UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
        return GRPC_CODE_UNAVAILABLE;
    default:
        return GRPC_CODE_UNKNOWN;
    }
}

grpc_code_t grpc_code_from_h2_error(uint32_t h2_error)
{
    switch (h2_error) {
    case 0x7: /* REFUSED_STREAM: the server did not process the stream; safe to retry */
        return GRPC_CODE_UNAVAILABLE;
    case 0x8: /* CANCEL */
        return GRPC_CODE_CANCELLED;
    case 0xb: /* ENHANCE_YOUR_CALM */
        return GRPC_CODE_RESOURCE_EXHAUSTED;
    case 0xc: /* INADEQUATE_SECURITY */
        return GRPC_CODE_PERMISSION_DENIED;
    default:
        return GRPC_CODE_INTERNAL;
    }
}
