/*
 * composite.h — composite endpoints (files under aggregations/) on the HTTP listener: the worker's
 * transport for the aggregation engine (gRPC calls on the worker's upstream pools, REST calls
 * on its HTTP pools, timers on its loop, a per-worker response cache) and the request handler
 * that runs one composite and answers with the merged document.
 */
#ifndef PORTICO_HTTP_COMPOSITE_H
#define PORTICO_HTTP_COMPOSITE_H

#include <h2o.h>

#include "aggregate/aggregate.h"
#include "transcode/route_table.h"

struct gateway_worker;

/* Per-worker transport state; lives in gateway_worker_t. */
typedef struct composite_worker composite_worker_t;

composite_worker_t *composite_worker_new(struct gateway_worker *gw, h2o_loop_t *loop);
/* Before the pools are freed: every run of this worker has ended (the loop stopped serving). */
void composite_worker_free(composite_worker_t *cw);

/* Runs composite |ep| for |req| (matched with |match|) and answers it. */
void composite_handle(h2o_req_t *req, const aggregate_endpoint_t *ep, const route_match_t *match);

#endif
