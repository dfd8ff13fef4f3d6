/*
 * errors.c — JSON error responses; see errors.h.
 */
#include "http/errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "grpc/grpc.h"
#include "util/buf.h"
#include "util/json_quote.h"

static const char *reason_of(int status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 429:
        return "Too Many Requests";
    case 499:
        return "Client Closed Request";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return status < 500 ? "Bad Request" : "Internal Server Error";
    }
}

/* The gRPC code a gateway-made HTTP error stands for: the REST mapping of src/grpc, except
   for the statuses only the gateway itself produces. */
static int grpc_code_of(int status)
{
    switch (status) {
    case 405:
        return GRPC_CODE_UNIMPLEMENTED; /* as grpc-gateway: no such method for this path */
    case 413:
    case 415:
        return GRPC_CODE_INVALID_ARGUMENT;
    case 499:
        return GRPC_CODE_CANCELLED;
    case 502:
        return GRPC_CODE_UNAVAILABLE;
    default:
        return grpc_code_from_http(status);
    }
}

void http_error_send(h2o_req_t *req, int status, int grpc_code, const char *message, size_t message_len,
                     const char *details_json, size_t details_len)
{
    util_buf_t b = UTIL_BUF_INIT;
    util_buf_printf(&b, "{\"code\":%d,\"message\":", grpc_code);
    util_json_quote(&b, message, message_len);
    util_buf_puts(&b, ",\"details\":");
    if (details_json != NULL && details_len != 0)
        util_buf_append(&b, details_json, details_len);
    else
        util_buf_puts(&b, "[]");
    util_buf_puts(&b, "}\n");

    req->res.status = status;
    req->res.reason = reason_of(status);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    if (util_buf_failed(&b)) {
        h2o_send_inline(req, H2O_STRLIT("{\"code\":13,\"message\":\"out of memory\",\"details\":[]}\n"));
    } else {
        /* h2o_send_inline copies the body into the request pool; it leaves the length unset */
        req->res.content_length = b.len;
        h2o_send_inline(req, (const char *)b.data, b.len);
    }
    util_buf_dispose(&b);
}

void http_error_sendf(h2o_req_t *req, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof(msg))
        n = sizeof(msg) - 1;
    http_error_send(req, status, grpc_code_of(status), msg, (size_t)n, NULL, 0);
}
