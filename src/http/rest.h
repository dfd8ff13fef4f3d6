/*
 * rest.h — the REST/JSON front door: an h2o handler that routes a request by the
 * google.api.http rules, binds it into a protobuf request, calls the gRPC upstream on the
 * worker's loop and maps the answer back (JSON, status codes, Grpc-Metadata-* headers,
 * server streams as a JSON array, NDJSON or Server-Sent Events).
 */
#ifndef PORTICO_HTTP_REST_H
#define PORTICO_HTTP_REST_H

#include <h2o.h>

#include "http/gateway.h"

/* h2o on_req for the gateway: returns 0 (it answers every request, errors included). */
int rest_on_req(h2o_handler_t *self, h2o_req_t *req);

#endif
