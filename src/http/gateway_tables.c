/*
 * gateway_tables.c — resolving the lines of the config's transcoding tables into the
 * gateway's HTTP bindings; see gateway_tables.h.
 *
 * The checks are the ones the annotations go through (binding_rule_init, the route table's
 * template parser and ambiguity check), run here first on the tables' routes alone so that an
 * error names the table line rather than the config: ambiguity is found by compiling all of
 * them, and only on failure are the lines compiled in pairs to name the two that collide.
 */
#include "http/gateway_tables.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "transcode/binding.h"
#include "transcode/route_table.h"


static routes_file_streaming_t streaming_of(const proto_method_t *m)
{
    if (m->client_streaming)
        return m->server_streaming ? ROUTES_FILE_BIDI : ROUTES_FILE_CLIENT;
    return m->server_streaming ? ROUTES_FILE_SERVER : ROUTES_FILE_UNARY;
}

/* Names the two lines that collide; called when the tables' routes do not compile as a whole. */
static int report_collision(const gateway_table_route_t *routes, size_t n, util_error_t *err)
{
    for (size_t j = 1; j < n; j++) {
        for (size_t i = 0; i < j; i++) {
            const gateway_table_route_t *a = &routes[i], *b = &routes[j];
            const char *am = binding_http_method(a->rule.method), *bm = binding_http_method(b->rule.method);
            if (strcmp(am, bm) != 0)
                continue; /* only routes of one method (or both "*") can be ambiguous */
            route_table_t *t = route_table_new();
            if (t == NULL)
                return util_error_set(err, -1, "out of memory");
            util_error_t e = {0};
            int rc =
                route_table_add(t, am, a->rule.path, (void *)a, &e) == 0 && route_table_add(t, bm, b->rule.path, (void *)b, &e) == 0
                    ? route_table_compile(t, &e)
                    : -1;
            route_table_free(t);
            if (rc == 0 || e.code != ROUTE_TABLE_ERR_AMBIGUOUS)
                continue;
            return util_error_set(err, -1,
                                  "%s:%u: %s %s (method %s) collides with %s %s (method %s) of %s:%u: same method, same path "
                                  "shape and same verb, so no request could tell them apart",
                                  b->table->name, b->entry->line, bm, b->rule.path, b->method->full_name, am, a->rule.path,
                                  a->method->full_name, a->table->name, a->entry->line);
        }
    }
    return util_error_set(err, -1, "the routes of the tables are ambiguous");
}

int gateway_tables_resolve(const config_t *cfg, const proto_registry_t *r, util_arena_t *arena, gateway_table_route_t **out,
                           size_t *n, util_error_t *err)
{
    *out = NULL;
    *n = 0;
    size_t total = 0;
    for (size_t i = 0; i < cfg->n_route_tables; i++)
        total += cfg->route_tables[i].n_entries;
    gateway_table_route_t *routes = total > 0 ? util_arena_alloc(arena, total * sizeof(*routes)) : NULL;
    if (total > 0 && routes == NULL)
        return util_error_set(err, -1, "out of memory");

    size_t count = 0;
    for (size_t ti = 0; ti < cfg->n_route_tables; ti++) {
        const routes_file_t *table = &cfg->route_tables[ti];
        for (size_t ei = 0; ei < table->n_entries; ei++) {
            const routes_file_entry_t *e = &table->entries[ei];
            const proto_method_t *m = proto_registry_find_method(r, e->method);
            if (m == NULL || strcmp(m->full_name, e->method) != 0)
                return util_error_set(err, -1,
                                      "%s:%u: method %s is not in the descriptor sets (was the table generated from other "
                                      "protos?)",
                                      table->name, e->line, e->method);
            const config_grpc_service_t *svc = config_grpc_service_find(cfg, m->service->full_name);
            if (svc == NULL)
                continue;
            if (strcmp(m->input->full_name, e->input) != 0 || strcmp(m->output->full_name, e->output) != 0 ||
                streaming_of(m) != e->streaming)
                return util_error_set(err, -1,
                                      "%s:%u: the table says %s takes %s and returns %s (%s), the descriptor sets say %s and "
                                      "%s (%s): regenerate the table from the same protos",
                                      table->name, e->line, m->full_name, e->input, e->output,
                                      routes_file_streaming_name(e->streaming), m->input->full_name, m->output->full_name,
                                      routes_file_streaming_name(streaming_of(m)));
            gateway_table_route_t *rt = &routes[count];
            memset(rt, 0, sizeof(*rt));
            rt->service = svc;
            rt->method = m;
            rt->rule.method = e->verb;
            rt->rule.path = e->path;
            rt->rule.body = e->body;
            rt->rule.response_body = e->response_body;
            rt->auto_mapped = e->origin == ROUTES_FILE_ORIGIN_AUTO;
            rt->table = table;
            rt->entry = e;
            binding_rule_t b;
            if (binding_rule_init(&b, r, m, binding_http_method(e->verb), &rt->rule, err) != 0) {
                util_error_prefix(err, "%s:%u", table->name, e->line);
                return -1;
            }
            count++;
        }
    }

    /* templates and ambiguity, on the tables' routes alone so that errors name the lines */
    route_table_t *t = route_table_new();
    if (t == NULL)
        return util_error_set(err, -1, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        gateway_table_route_t *rt = &routes[i];
        if ((rc = route_table_add(t, binding_http_method(rt->rule.method), rt->rule.path, rt, err)) != 0)
            util_error_prefix(err, "%s:%u: method %s", rt->table->name, rt->entry->line, rt->method->full_name);
    }
    if (rc == 0 && route_table_compile(t, err) != 0) {
        rc = -1;
        if (err == NULL || err->code == ROUTE_TABLE_ERR_AMBIGUOUS)
            report_collision(routes, count, err);
    }
    route_table_free(t);
    if (rc != 0)
        return -1;

    for (size_t si = 0; si < cfg->n_grpc_services; si++) {
        size_t i;
        for (i = 0; i < count && routes[i].service != &cfg->grpc_services[si]; i++)
            ;
        if (i == count)
            fprintf(stderr,
                    "portico: warning: %s: service %s has no line in the routes tables: it gets no REST route (gRPC, gRPC-Web "
                    "and Connect still reach it)\n",
                    cfg->name, cfg->grpc_services[si].service);
    }
    *out = routes;
    *n = count;
    return 0;
}
