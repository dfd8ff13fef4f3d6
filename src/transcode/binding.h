/*
 * binding.h — REST request binding per the google.api.http rule: path variables, query
 * parameters and the body become one protobuf request message (wire bytes).
 *
 * The message is built by concatenation, which is protobuf's merge: the body's encoding
 * first, then each query parameter, then each path variable, each as its own fragment
 * (a dotted field path "a.b.c" is written as nested length-delimited wrappers). Later
 * fragments win for singular fields, so a path variable beats the same field in the body
 * (as grpc-gateway does), and repeated fields accumulate.
 */
#ifndef PORTICO_TRANSCODE_BINDING_H
#define PORTICO_TRANSCODE_BINDING_H

#include <stddef.h>

#include "proto/proto.h"
#include "transcode/route_table.h"
#include "util/buf.h"
#include "util/error.h"

/* One HTTP binding of one method, resolved against the descriptors at load time. */
typedef struct binding_rule {
    const proto_method_t *method;
    const char *http_method; /* "GET", ... or "*" */
    const char *path;        /* the template */
    int body_all;            /* body: "*" */
    const proto_field_t *body_field;     /* body: "field", else NULL */
    const proto_field_t *response_field; /* response_body: "field", else NULL */
    const proto_field_t *patch_mask;     /* PATCH + body field + a top-level FieldMask: filled from the body's keys */
    int request_http_body;  /* the body (whole request or the body field) is google.api.HttpBody */
    int response_http_body; /* the response (or response_body field) is google.api.HttpBody */
    int auto_mapped;        /* POST /pkg.Svc/Method for a method without annotation */
} binding_rule_t;

/* util_error_t codes set here; the HTTP layer maps them to statuses. */
enum {
    BINDING_ERR_BAD_REQUEST = -850, /* 400: a value does not fit its field, malformed query, ... */
    BINDING_ERR_TOO_LARGE,          /* 413 */
    BINDING_ERR_UNSUPPORTED_MEDIA,  /* 415 */
};

/* The HTTP method of a google.api.http kind: "get" -> "GET" for the five standard kinds (any
   case); custom kinds ("HEAD", "*") as written. The route table compares methods exactly. */
const char *binding_http_method(const char *kind);

/*
 * Resolves |http_method| + |rule| of |method| (body, response_body, path variables) and
 * checks them against the descriptors: variables must name existing, singular, scalar
 * fields (possibly nested); body and response_body must name top-level fields. Returns 0,
 * or -1 with |err| naming the method and the problem.
 */
int binding_rule_init(binding_rule_t *b, const proto_registry_t *r, const proto_method_t *method, const char *http_method,
                      const proto_http_rule_t *rule, util_error_t *err);

typedef struct binding_input {
    const route_match_t *match;
    const char *query; /* after '?', or NULL */
    size_t query_len;
    const char *body;
    size_t body_len;
    const char *content_type; /* may be NULL */
    size_t content_type_len;
    int ignore_unknown_query;
    const codec_options_t *json; /* body parsing options */
} binding_input_t;

/*
 * Builds the request message of |b| into |out|. Returns 0, or -1 with |err| set
 * (BINDING_ERR_* or a CODEC_ERR_* from the body) naming the parameter or field.
 */
int binding_build_request(const binding_rule_t *b, const proto_registry_t *r, const binding_input_t *in, util_buf_t *out,
                          util_error_t *err);

#endif
