/*
 * apidocs.h — the OpenAPI 3.1 document the gateway serves about itself (config "openapi"):
 * rendered once when the gateway is built, from every route it serves — the transcoded
 * bindings (whether they came from annotations or from "routes" tables) and the composite
 * endpoints of the aggregation files — with comments and field behaviours from the descriptor
 * sets. Serving it is a lookup of the path and one h2o_send of the prepared bytes.
 */
#ifndef PORTICO_HTTP_APIDOCS_H
#define PORTICO_HTTP_APIDOCS_H

#include <h2o.h>
#include <stdio.h>

#include "http/gateway.h"
#include "util/error.h"

typedef struct apidocs apidocs_t;

/*
 * Renders the document of |g| (routes compiled, g->config->openapi set). Fails when a route
 * or a gRPC method path would also answer the document's path, or when the document cannot
 * be rendered. Returns the document, or NULL with |err| naming the config and the problem.
 */
apidocs_t *apidocs_build(const gateway_t *g, util_error_t *err);
void apidocs_free(apidocs_t *d);

/* The request path it is served at, and the rendered JSON (for tests and `portico check`). */
const char *apidocs_path(const apidocs_t *d);
const char *apidocs_document(const apidocs_t *d, size_t *len);

/*
 * h2o-style handler: answers a request for the document's path — GET and HEAD with the
 * document (ETag and If-None-Match honoured), any other method 405 — and returns 0; returns
 * -1 (without touching |req|) for every other path. CORS headers are the caller's (front.c).
 */
int apidocs_on_req(const apidocs_t *d, h2o_req_t *req);

/* One line for `portico check`: where the document is served and what it covers. */
void apidocs_print(const apidocs_t *d, FILE *out);

#endif
