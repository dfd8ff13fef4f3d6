/*
 * errors.h — the gateway's standard error responses: an HTTP status and a JSON body in
 * the google.rpc.Status shape, {"code":N,"message":"...","details":[...]}, where code is
 * the gRPC code that matches the HTTP status. One renderer for every error the gateway
 * makes itself (404, 405, 400, 413, 415, 502, 503, 504) and for gRPC errors from backends.
 */
#ifndef PORTICO_HTTP_ERRORS_H
#define PORTICO_HTTP_ERRORS_H

#include <h2o.h>

/* Sends |status| with {"code":grpc_code,"message":message,"details":details_json or []}. */
void http_error_send(h2o_req_t *req, int status, int grpc_code, const char *message, size_t message_len,
                     const char *details_json, size_t details_len);

/* Convenience: the gRPC code is derived from |status| (400 INVALID_ARGUMENT, 404 NOT_FOUND, ...). */
void http_error_sendf(h2o_req_t *req, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
