/*
 * front.h — the HTTP listener's request dispatcher: every request on an HTTP listener enters
 * here and is handed to the protocol handler it speaks (REST/JSON today; gRPC-Web and Connect
 * by content type and path), with the cross-cutting policies that apply to all of them.
 */
#ifndef PORTICO_HTTP_FRONT_H
#define PORTICO_HTTP_FRONT_H

#include <h2o.h>

/* h2o on_req of HTTP listeners: always takes the request (returns 0). */
int front_on_req(h2o_handler_t *self, h2o_req_t *req);

#endif
