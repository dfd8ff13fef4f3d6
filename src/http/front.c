/*
 * front.c — dispatch of HTTP-listener requests to the protocol handlers; see front.h.
 */
#include "http/front.h"

#include "http/rest.h"

int front_on_req(h2o_handler_t *self, h2o_req_t *req)
{
    return rest_on_req(self, req);
}
