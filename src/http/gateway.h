/*
 * gateway.h — the gateway assembled from a config: descriptor registry, the route table of
 * every HTTP binding of every configured service, and the upstreams; `portico check`
 * builds it and prints the routes, `portico serve` builds it and serves it. Everything here
 * is built once and shared read-only by the workers.
 */
#ifndef PORTICO_HTTP_GATEWAY_H
#define PORTICO_HTTP_GATEWAY_H

#include <stdio.h>

#include "aggregate/aggregate.h"
#include "config/config.h"
#include "proto/proto.h"
#include "transcode/binding.h"
#include "transcode/route_table.h"
#include "util/arena.h"
#include "util/strmap.h"

typedef struct gateway_route {
    binding_rule_t binding;
    const config_grpc_service_t *service;
    size_t upstream_index; /* into config->upstreams */
    codec_options_t json;  /* request parsing and response printing options of the service */
    const aggregate_endpoint_t *composite; /* a composite endpoint (files under aggregations/) instead of one method */
} gateway_route_t;

typedef struct gateway {
    config_t *config;
    proto_registry_t *registry;
    route_table_t *routes;
    gateway_route_t *route_list;
    size_t n_routes;
    aggregate_set_t *aggregates; /* composite endpoints */
    util_strmap_t reverse_rules; /* method full name -> reverse_rule_t, for services on HTTP upstreams */
    struct apidocs *apidocs;     /* the OpenAPI document (config "openapi"); NULL when not served */
    util_arena_t arena;
} gateway_t;

/* Per-worker state: the upstream connection pools of this worker's loop. */
struct upstream_grpc_pool;
struct upstream_http_pool;
struct composite_worker;
typedef struct gateway_worker {
    const gateway_t *gateway;
    struct upstream_grpc_pool **pools;      /* by config upstream index; NULL for non-gRPC upstreams */
    struct upstream_http_pool **http_pools; /* by config upstream index; NULL for non-HTTP upstreams */
    struct composite_worker *composite;     /* the aggregation engine's transport */
} gateway_worker_t;

/*
 * Loads the descriptor sets named by |config| and compiles the routes. Takes ownership of
 * |config| (also on failure). Returns the gateway, or NULL with |err| naming the config
 * file and what is wrong (unknown service, bad template, ambiguous routes, ...).
 */
gateway_t *gateway_build(config_t *config, util_error_t *err);
void gateway_free(gateway_t *g);

/* The gRPC→REST mapping of |m| when its service is served by an HTTP upstream; NULL otherwise
   (or when the method cannot be mapped: client streaming, no google.api.http rule ...). */
struct reverse_rule;
const struct reverse_rule *gateway_reverse_rule(const gateway_t *g, const proto_method_t *m);

/* Prints the route table, one route per line: METHOD TEMPLATE -> pkg.Service.Method (upstream). */
void gateway_print_routes(const gateway_t *g, FILE *out);

/* Serves until SIGTERM/SIGINT. Returns 0, or -1 with |err| set (listener setup failed). */
int gateway_serve(gateway_t *g, util_error_t *err);

#endif
