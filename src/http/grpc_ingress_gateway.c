/*
 * grpc_ingress_gateway.c — the native gRPC ingress of a gateway worker: one route per method
 * of every configured grpc_service (the method paths come from the descriptor registry, so an
 * unknown method is answered UNIMPLEMENTED by portico without bothering a backend), each to
 * the worker's pool of the service's upstream, with the upstream's timeout_ms and the
 * config's limits. A service on an HTTP upstream is served gRPC→REST: its routes carry the
 * gateway's reverse rule of each method (built once at gateway_build; NULL when the method
 * cannot be translated) and the worker's HTTP pool. See grpc_ingress.h.
 */
#include "http/gateway.h"
#include "http/grpc_ingress.h"

#include <stdlib.h>

grpc_ingress_t *grpc_ingress_new_for_gateway(h2o_loop_t *loop, const struct gateway *g, upstream_grpc_pool_t *const *pools,
                                             upstream_http_pool_t *const *http_pools, size_t *inflight, util_error_t *err)
{
    const config_t *cfg = g->config;
    size_t n = 0;
    for (size_t si = 0; si < cfg->n_grpc_services; si++) {
        const proto_service_t *ps = proto_registry_find_service(g->registry, cfg->grpc_services[si].service);
        if (ps != NULL)
            n += ps->n_methods;
    }
    grpc_ingress_route_t *routes = calloc(n ? n : 1, sizeof(*routes));
    if (routes == NULL) {
        util_error_set(err, -1, "out of memory creating the gRPC ingress");
        return NULL;
    }
    size_t k = 0;
    for (size_t si = 0; si < cfg->n_grpc_services; si++) {
        const config_grpc_service_t *svc = &cfg->grpc_services[si];
        const proto_service_t *ps = proto_registry_find_service(g->registry, svc->service);
        if (ps == NULL)
            continue; /* gateway_build has already refused such a config */
        size_t ui = (size_t)(svc->upstream - cfg->upstreams);
        for (size_t mi = 0; mi < ps->n_methods; mi++) {
            const proto_method_t *m = &ps->methods[mi];
            routes[k].path = m->grpc_path;
            routes[k].upstream_name = svc->upstream->name;
            routes[k].timeout_ms = svc->upstream->timeout_ms;
            if (svc->upstream->protocol == CONFIG_UPSTREAM_HTTP) {
                routes[k].rest = 1;
                routes[k].client_streaming = m->client_streaming;
                routes[k].reverse_rule = gateway_reverse_rule(g, m);
                routes[k].http_pool = http_pools != NULL ? http_pools[ui] : NULL;
            } else
                routes[k].pool = pools[ui];
            k++;
        }
    }
    grpc_ingress_config_t ic = {
        .routes = routes,
        .n_routes = k,
        .max_request_message = (size_t)cfg->limits.max_request_body_bytes,
        /* the same limit gateway.c gives the upstream pools */
        .max_response_message = (size_t)cfg->limits.max_request_body_bytes * 4,
        .max_header_bytes = cfg->limits.max_header_bytes,
        .inflight = inflight,
    };
    grpc_ingress_t *ing = grpc_ingress_new(loop, &ic, err);
    free(routes);
    return ing;
}
