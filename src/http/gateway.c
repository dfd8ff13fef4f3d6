/*
 * gateway.c — building the gateway from its config and running it; see gateway.h.
 */
#include "http/gateway.h"

#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/apidocs.h"
#include "http/front.h"
#include "http/gateway_tables.h"
#include "http/grpc_ingress.h"
#include "http/server.h"
#include "http/composite.h"
#include "transcode/reverse.h"
#include "upstream/http_upstream.h"
#include "upstream/upstream.h"


static int add_route(gateway_t *g, size_t *cap, const config_grpc_service_t *svc, size_t upstream_index,
                     const proto_method_t *method, const proto_http_rule_t *rule, int auto_mapped, util_error_t *err)
{
    if (g->n_routes == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        gateway_route_t *list = realloc(g->route_list, ncap * sizeof(*list));
        if (list == NULL)
            return util_error_set(err, -1, "out of memory");
        g->route_list = list;
        *cap = ncap;
    }
    gateway_route_t *r = &g->route_list[g->n_routes];
    memset(r, 0, sizeof(*r));
    const char *http_method = binding_http_method(rule->method);
    if (binding_rule_init(&r->binding, g->registry, method, http_method, rule, err) != 0) {
        util_error_prefix(err, "%s: service %s", g->config->name, svc->service);
        return -1;
    }
    r->binding.auto_mapped = auto_mapped;
    r->service = svc;
    r->upstream_index = upstream_index;
    r->json.emit_defaults = svc->json.emit_defaults;
    r->json.proto_names = svc->json.proto_names;
    r->json.enum_ints = svc->json.enum_ints;
    r->json.ignore_unknown = svc->json.ignore_unknown_fields;
    r->json.max_depth = g->config->limits.max_json_depth;
    r->json.max_input = (size_t)g->config->limits.max_request_body_bytes;
    g->n_routes++;
    return 0;
}

const reverse_rule_t *gateway_reverse_rule(const gateway_t *g, const proto_method_t *m)
{
    return util_strmap_get(&g->reverse_rules, m->full_name, strlen(m->full_name));
}

static aggregate_upstream_kind_t upstream_kind_of(void *ctx, const char *name)
{
    const config_upstream_t *u = config_upstream_find(ctx, name);
    if (u == NULL)
        return AGGREGATE_UPSTREAM_UNKNOWN;
    return u->protocol == CONFIG_UPSTREAM_GRPC ? AGGREGATE_UPSTREAM_GRPC : AGGREGATE_UPSTREAM_HTTP;
}

gateway_t *gateway_build(config_t *config, util_error_t *err)
{
    gateway_t *g = calloc(1, sizeof(*g));
    if (g == NULL) {
        config_free(config);
        util_error_set(err, -1, "out of memory");
        return NULL;
    }
    g->config = config;
    util_arena_init(&g->arena);
    if ((g->registry = proto_registry_new()) == NULL || (g->routes = route_table_new()) == NULL) {
        util_error_set(err, -1, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < config->n_descriptors; i++) {
        if (proto_registry_load_file(g->registry, config->descriptors[i], err) != 0) {
            util_error_prefix(err, "%s: descriptors[%zu]", config->name, i);
            goto fail;
        }
    }

    /* with "routes" tables, their lines are the HTTP bindings instead of the annotations */
    gateway_table_route_t *table_routes = NULL;
    size_t n_table_routes = 0;
    if (config->n_route_tables > 0 &&
        gateway_tables_resolve(config, g->registry, &g->arena, &table_routes, &n_table_routes, err) != 0)
        goto fail;

    size_t cap = 0;
    for (size_t si = 0; si < config->n_grpc_services; si++) {
        const config_grpc_service_t *svc = &config->grpc_services[si];
        const proto_service_t *ps = proto_registry_find_service(g->registry, svc->service);
        if (ps == NULL) {
            util_error_set(err, -1, "%s: grpc_services[%zu].service: \"%s\" is not in the descriptor sets", config->name, si,
                           svc->service);
            goto fail;
        }
        size_t upstream_index = (size_t)(svc->upstream - config->upstreams);
        for (size_t mi = 0; mi < ps->n_methods; mi++) {
            const proto_method_t *m = &ps->methods[mi];
            if (svc->upstream->protocol == CONFIG_UPSTREAM_HTTP) {
                /* gRPC→REST: calls of this method are translated through its google.api.http rule */
                codec_options_t jo = {.emit_defaults = svc->json.emit_defaults, .proto_names = svc->json.proto_names,
                                      .enum_ints = svc->json.enum_ints, .max_depth = config->limits.max_json_depth};
                util_error_t rerr;
                reverse_rule_t *rule = reverse_rule_new(g->registry, m, NULL, &jo, &rerr);
                if (rule == NULL)
                    fprintf(stderr, "portico: %s: %s is served by HTTP upstream %s, but cannot be translated: %s\n",
                            config->name, m->full_name, svc->upstream->name, rerr.message);
                else if (util_strmap_put(&g->reverse_rules, m->full_name, rule) != 0) {
                    reverse_rule_free(rule);
                    util_error_set(err, -1, "out of memory");
                    goto fail;
                }
            }
            if (config->n_route_tables > 0)
                continue; /* bindings from the tables, added below */
            if (m->http != NULL) {
                if (add_route(g, &cap, svc, upstream_index, m, m->http, 0, err) != 0)
                    goto fail;
                for (size_t k = 0; k < m->http->n_additional; k++)
                    if (add_route(g, &cap, svc, upstream_index, m, &m->http->additional[k], 0, err) != 0)
                        goto fail;
            } else if (svc->auto_mapping) {
                proto_http_rule_t *rule = util_arena_alloc(&g->arena, sizeof(*rule));
                if (rule == NULL) {
                    util_error_set(err, -1, "out of memory");
                    goto fail;
                }
                rule->method = "POST";
                rule->path = m->grpc_path;
                rule->body = "*";
                rule->response_body = "";
                if (add_route(g, &cap, svc, upstream_index, m, rule, 1, err) != 0)
                    goto fail;
            }
        }
    }
    for (size_t i = 0; i < n_table_routes; i++) {
        const gateway_table_route_t *t = &table_routes[i];
        if (add_route(g, &cap, t->service, (size_t)(t->service->upstream - config->upstreams), t->method, &t->rule, t->auto_mapped,
                      err) != 0)
            goto fail;
    }
    /* composite endpoints */
    if ((g->aggregates = aggregate_set_new()) == NULL) {
        util_error_set(err, -1, "out of memory");
        goto fail;
    }
    aggregate_load_options_t aopt = {.registry = g->registry, .upstream_kind = upstream_kind_of, .upstream_ctx = config};
    for (size_t i = 0; i < config->n_aggregations; i++) {
        if (aggregate_set_load_file(g->aggregates, config->aggregations[i], &aopt, err) != 0)
            goto fail;
    }
    for (size_t i = 0; i < aggregate_set_count(g->aggregates); i++) {
        const aggregate_endpoint_t *ep = aggregate_set_at(g->aggregates, i);
        if (g->n_routes == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            gateway_route_t *list = realloc(g->route_list, ncap * sizeof(*list));
            if (list == NULL) {
                util_error_set(err, -1, "out of memory");
                goto fail;
            }
            g->route_list = list;
            cap = ncap;
        }
        gateway_route_t *r = &g->route_list[g->n_routes++];
        memset(r, 0, sizeof(*r));
        r->composite = ep;
        r->binding.http_method = ep->method;
        r->binding.path = ep->path;
    }

    /* the table keeps pointers to the routes: add them only once the list stops moving */
    for (size_t i = 0; i < g->n_routes; i++) {
        gateway_route_t *r = &g->route_list[i];
        if (route_table_add(g->routes, r->binding.http_method, r->binding.path, r, err) != 0) {
            if (r->composite != NULL)
                util_error_prefix(err, "%s: composite endpoint %s %s", r->composite->file, r->composite->method,
                                  r->composite->path);
            else
                util_error_prefix(err, "%s: method %s", config->name, r->binding.method->full_name);
            goto fail;
        }
    }
    if (route_table_compile(g->routes, err) != 0) {
        util_error_prefix(err, "%s", config->name);
        goto fail;
    }
    if (config->openapi != NULL && (g->apidocs = apidocs_build(g, err)) == NULL)
        goto fail;
    return g;
fail:
    gateway_free(g);
    return NULL;
}

void gateway_free(gateway_t *g)
{
    if (g == NULL)
        return;
    apidocs_free(g->apidocs);
    route_table_free(g->routes);
    aggregate_set_free(g->aggregates);
    for (size_t i = 0; g->reverse_rules.slots != NULL && i <= g->reverse_rules.mask; i++)
        if (g->reverse_rules.slots[i].key != NULL)
            reverse_rule_free(g->reverse_rules.slots[i].value);
    util_strmap_dispose(&g->reverse_rules);
    proto_registry_free(g->registry);
    free(g->route_list);
    config_free(g->config);
    util_arena_dispose(&g->arena);
    free(g);
}

void gateway_print_routes(const gateway_t *g, FILE *out)
{
    size_t wm = 6, wp = 8;
    for (size_t i = 0; i < g->n_routes; i++) {
        const binding_rule_t *b = &g->route_list[i].binding;
        if (strlen(b->http_method) > wm)
            wm = strlen(b->http_method);
        if (strlen(b->path) > wp)
            wp = strlen(b->path);
    }
    for (size_t i = 0; i < g->n_routes; i++) {
        const gateway_route_t *r = &g->route_list[i];
        const binding_rule_t *b = &r->binding;
        if (r->composite != NULL) {
            const aggregate_endpoint_t *ep = r->composite;
            fprintf(out, "%-*s %-*s -> composite of %zu call%s:", (int)wm, b->http_method, (int)wp, b->path, ep->n_calls,
                    ep->n_calls == 1 ? "" : "s");
            for (size_t k = 0; k < ep->n_calls; k++)
                fprintf(out, " %s(%s%s)", ep->calls[k].name, ep->calls[k].upstream, ep->calls[k].required ? "" : ", optional");
            fprintf(out, "  [%s]\n", ep->file);
            continue;
        }
        const config_upstream_t *u = &g->config->upstreams[r->upstream_index];
        const char *kind = b->method->server_streaming ? (b->method->client_streaming ? " (bidi stream)" : " (server stream)")
                                                       : (b->method->client_streaming ? " (client stream)" : "");
        fprintf(out, "%-*s %-*s -> %s%s  [upstream %s%s]\n", (int)wm, b->http_method, (int)wp, b->path,
                b->method->full_name, kind, u->name, b->auto_mapped ? ", auto-mapped" : "");
    }
    if (g->apidocs != NULL)
        apidocs_print(g->apidocs, out);
}

/* ---- serving ------------------------------------------------------------------------------ */

typedef struct serve_ctx {
    gateway_t *g;
    SSL_CTX **upstream_ssl; /* by upstream index */
    int has_grpc_listener;
} serve_ctx_t;

/* A worker's state: what the handlers see (gateway_worker_t, first) and the native gRPC ingress. */
typedef struct serve_worker {
    gateway_worker_t gw;
    grpc_ingress_t *ingress;
} serve_worker_t;

/* The first gRPC upstream before |i| with the same targets and connection settings, or SIZE_MAX.
   (The call deadline, timeout_ms, is per call, not per pool.) */
static size_t same_grpc_backend(const config_t *cfg, size_t i)
{
    const config_upstream_t *u = &cfg->upstreams[i];
    if (u->tls != NULL)
        return SIZE_MAX; /* each TLS upstream has its own context */
    for (size_t j = 0; j < i; j++) {
        const config_upstream_t *o = &cfg->upstreams[j];
        if (o->protocol != CONFIG_UPSTREAM_GRPC || o->tls != NULL || o->n_targets != u->n_targets ||
            o->connect_timeout_ms != u->connect_timeout_ms || o->max_connections != u->max_connections)
            continue;
        size_t t = 0;
        while (t < u->n_targets && strcmp(o->targets[t].authority, u->targets[t].authority) == 0)
            t++;
        if (t == u->n_targets)
            return j;
    }
    return SIZE_MAX;
}

static void *on_worker_init(http_worker_t *w, void *app)
{
    serve_ctx_t *sc = app;
    const config_t *cfg = sc->g->config;
    serve_worker_t *sw = calloc(1, sizeof(*sw));
    gateway_worker_t *gw = &sw->gw;
    gw->gateway = sc->g;
    gw->pools = calloc(cfg->n_upstreams ? cfg->n_upstreams : 1, sizeof(*gw->pools));
    for (size_t i = 0; i < cfg->n_upstreams; i++) {
        const config_upstream_t *u = &cfg->upstreams[i];
        if (u->protocol != CONFIG_UPSTREAM_GRPC)
            continue;
        /* upstreams that name the same backends with the same connection settings share one pool,
           so their calls multiplex on the same HTTP/2 connections (and writes) */
        size_t same = same_grpc_backend(cfg, i);
        if (same != SIZE_MAX) {
            gw->pools[i] = gw->pools[same];
            continue;
        }
        const char *targets[64];
        size_t n = u->n_targets < 64 ? u->n_targets : 64;
        for (size_t t = 0; t < n; t++)
            targets[t] = u->targets[t].authority;
        upstream_grpc_config_t uc = {
            .targets = targets,
            .n_targets = n,
            .connect_timeout_ms = u->connect_timeout_ms,
            .max_connections_per_target = u->max_connections,
            .max_recv_message_size = (size_t)cfg->limits.max_request_body_bytes * 4,
            .ssl_ctx = sc->upstream_ssl[i],
            .tls_server_name = u->tls != NULL ? u->tls->server_name : NULL,
        };
        util_error_t err;
        gw->pools[i] = upstream_grpc_pool_new(w->loop, &uc, &err);
        if (gw->pools[i] == NULL)
            fprintf(stderr, "portico: worker %u: upstream %s: %s\n", w->index, u->name, err.message);
    }
    gw->http_pools = calloc(cfg->n_upstreams ? cfg->n_upstreams : 1, sizeof(*gw->http_pools));
    for (size_t i = 0; i < cfg->n_upstreams; i++) {
        const config_upstream_t *u = &cfg->upstreams[i];
        if (u->protocol != CONFIG_UPSTREAM_HTTP)
            continue;
        const char *targets[64];
        size_t n = u->n_targets < 64 ? u->n_targets : 64;
        for (size_t t = 0; t < n; t++)
            targets[t] = u->targets[t].authority;
        upstream_http_config_t hc = {
            .targets = targets,
            .n_targets = n,
            .connect_timeout_ms = u->connect_timeout_ms,
            .max_connections_per_target = u->max_connections,
            .ssl_ctx = sc->upstream_ssl[i],
            .tls_server_name = u->tls != NULL ? u->tls->server_name : NULL,
        };
        util_error_t err;
        gw->http_pools[i] = upstream_http_pool_new(w->loop, &hc, &err);
        if (gw->http_pools[i] == NULL)
            fprintf(stderr, "portico: worker %u: upstream %s: %s\n", w->index, u->name, err.message);
    }
    gw->composite = composite_worker_new(gw, w->loop);
    if (sc->has_grpc_listener) {
        util_error_t err;
        sw->ingress = grpc_ingress_new_for_gateway(w->loop, sc->g, gw->pools, gw->http_pools, &w->n_inflight, &err);
        if (sw->ingress == NULL)
            fprintf(stderr, "portico: worker %u: gRPC ingress: %s\n", w->index, err.message);
    }
    return gw;
}

static void on_raw_accept(http_worker_t *w, size_t listener, h2o_socket_t *sock, SSL_CTX *ssl_ctx)
{
    serve_worker_t *sw = w->state;
    if (sw == NULL || sw->ingress == NULL) {
        h2o_socket_close(sock);
        return;
    }
    grpc_ingress_accept(sw->ingress, sock, ssl_ctx);
}

static void on_worker_stop(http_worker_t *w, void *state)
{
    serve_worker_t *sw = state;
    if (sw != NULL && sw->ingress != NULL)
        grpc_ingress_shutdown(sw->ingress);
}

static void on_worker_dispose(http_worker_t *w, void *state)
{
    serve_worker_t *sw = state;
    gateway_worker_t *gw = &sw->gw;
    const config_t *cfg = gw->gateway->config;
    grpc_ingress_free(sw->ingress); /* before the pools: it cancels its calls */
    for (size_t i = 0; i < cfg->n_upstreams; i++) {
        if (gw->pools[i] != NULL && same_grpc_backend(cfg, i) == SIZE_MAX)
            upstream_grpc_pool_free(gw->pools[i]); /* a shared pool is freed by its first owner */
        if (gw->http_pools[i] != NULL)
            upstream_http_pool_free(gw->http_pools[i]);
    }
    h2o_evloop_run(w->loop, 0);
    composite_worker_free(gw->composite);
    free(gw->pools);
    free(gw->http_pools);
    free(sw);
}

static void on_ready(void *app, const uint16_t *ports, size_t n)
{
    serve_ctx_t *sc = app;
    const config_t *cfg = sc->g->config;
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "portico: listening on %s%s%s:%u (%s%s)\n", strchr(cfg->listen[i].address, ':') ? "[" : "",
                cfg->listen[i].address, strchr(cfg->listen[i].address, ':') ? "]" : "", (unsigned)ports[i],
                config_listen_protocol_name(cfg->listen[i].protocol), cfg->listen[i].tls != NULL ? ", tls" : "");
    fprintf(stderr, "portico: %zu route%s, %zu upstream%s\n", sc->g->n_routes, sc->g->n_routes == 1 ? "" : "s",
            cfg->n_upstreams, cfg->n_upstreams == 1 ? "" : "s");
}

static SSL_CTX *make_client_ssl(const config_upstream_t *u, util_error_t *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        util_error_set(err, -1, "upstream %s: cannot create a TLS context", u->name);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* h2o 2.2.5 skips its own host name check under TLS 1.3: the callback checks the name */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, upstream_tls_verify_hostname);
    int ok = u->tls->ca != NULL ? SSL_CTX_load_verify_locations(ctx, u->tls->ca, NULL) : SSL_CTX_set_default_verify_paths(ctx);
    if (ok != 1) {
        util_error_set(err, -1, "upstream %s: cannot load CA %s", u->name, u->tls->ca ? u->tls->ca : "(system)");
        goto fail;
    }
    if (u->tls->certificate != NULL &&
        (SSL_CTX_use_certificate_chain_file(ctx, u->tls->certificate) != 1 ||
         SSL_CTX_use_PrivateKey_file(ctx, u->tls->key, SSL_FILETYPE_PEM) != 1)) {
        util_error_set(err, -1, "upstream %s: cannot load client certificate %s / key %s", u->name, u->tls->certificate,
                       u->tls->key);
        goto fail;
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

int gateway_serve(gateway_t *g, util_error_t *err)
{
    const config_t *cfg = g->config;
    int rc = -1;
    http_listener_conf_t *ls = calloc(cfg->n_listen, sizeof(*ls));
    serve_ctx_t sc = {.g = g, .upstream_ssl = calloc(cfg->n_upstreams ? cfg->n_upstreams : 1, sizeof(SSL_CTX *))};
    if (ls == NULL || sc.upstream_ssl == NULL) {
        util_error_set(err, -1, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < cfg->n_listen; i++) {
        const config_listen_t *l = &cfg->listen[i];
        if (l->protocol == CONFIG_LISTEN_GRPC) {
            ls[i].raw = 1;
            sc.has_grpc_listener = 1;
        }
        ls[i].address = l->address;
        ls[i].port = l->port;
        if (l->tls != NULL) {
            ls[i].tls_certificate = l->tls->certificate;
            ls[i].tls_key = l->tls->key;
            ls[i].tls_client_ca = l->tls->client_ca;
        }
    }
    for (size_t i = 0; i < cfg->n_upstreams; i++)
        if (cfg->upstreams[i].tls != NULL && (sc.upstream_ssl[i] = make_client_ssl(&cfg->upstreams[i], err)) == NULL)
            goto done;
    {
        util_error_t lerr;
        if (proto_registry_load_builtin(g->registry, &lerr) != 0)
            fprintf(stderr, "portico: warning: %s (error details of those types print as base64)\n", lerr.message);
    }
    http_server_conf_t sconf = {
        .listeners = ls,
        .n_listeners = cfg->n_listen,
        .workers = cfg->workers,
        .shutdown_timeout_ms = cfg->shutdown_timeout_ms,
        /* h2o refuses bodies over its limit itself (text 413, or RST_STREAM on HTTP/2): keep it well
           above the configured limit so the handlers answer with JSON 413 instead */
        .max_request_body_bytes = (size_t)cfg->limits.max_request_body_bytes * 4 + ((size_t)1 << 20),
        .on_req = front_on_req,
        .on_worker_init = on_worker_init,
        .on_worker_dispose = on_worker_dispose,
        .on_raw_accept = on_raw_accept,
        .on_worker_stop = on_worker_stop,
        .app = &sc,
        .on_ready = on_ready,
    };
    rc = http_server_run(&sconf, err);
done:
    for (size_t i = 0; sc.upstream_ssl != NULL && i < cfg->n_upstreams; i++)
        if (sc.upstream_ssl[i] != NULL)
            SSL_CTX_free(sc.upstream_ssl[i]);
    free(sc.upstream_ssl);
    free(ls);
    return rc;
}
