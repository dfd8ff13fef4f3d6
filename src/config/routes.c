/*
 * routes.c — the "routes" section: transcoding tables written by protoc-gen-portico
 * (NAME.routes, docs/CODEGEN.md) whose lines replace the google.api.http annotations of the
 * descriptors as the gateway's HTTP bindings. Each table is read and its syntax checked
 * here, with errors naming the table's line; the lines are kept (in the config's arena) for
 * the route builder, which checks them against the descriptors.
 *
 * A table names the descriptor set written beside it ("# descriptor-set shop.pb"). When the
 * config lists no "descriptors", those sets are the descriptors: a config can name the
 * generated table instead of the raw set. With "descriptors", the line is only informative.
 */
#include "config/config_int.h"

#include <stdio.h>
#include <string.h>

/* |rel| resolved against the directory of |file| (absolute), in the arena. */
static char *beside(config_ctx_t *ctx, const char *file, const char *rel)
{
    if (rel[0] == '/')
        return config_ctx_strdup(ctx, rel);
    const char *slash = strrchr(file, '/');
    size_t dl = slash != NULL ? (size_t)(slash - file) : 0, rl = strlen(rel);
    char *out = config_ctx_alloc(ctx, dl + 1 + rl + 1);
    if (out == NULL)
        return NULL;
    memcpy(out, file, dl);
    out[dl] = '/';
    memcpy(out + dl + 1, rel, rl + 1);
    return out;
}

int config_routes_parse(config_ctx_t *ctx, const json_t *v, config_t *c)
{
    size_t top = config_ctx_push_key(ctx, "routes");
    if (config_json_expect(ctx, v, CONFIG_KIND_ARRAY) != 0)
        return -1;
    size_t n = json_array_size(v);
    routes_file_t *tables = NULL;
    if (n > 0 && (tables = config_ctx_alloc(ctx, n * sizeof(*tables))) == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        size_t mark = config_ctx_push_index(ctx, i);
        const char *p, *abs;
        if (config_json_string_value(ctx, json_array_get(v, i), &p) != 0 || config_path_readable_file(ctx, p, &abs) != 0)
            return -1;
        for (size_t j = 0; j < i; j++)
            if (strcmp(tables[j].name, abs) == 0)
                return config_ctx_fail(ctx, CONFIG_ERR_DUPLICATE, "\"%.300s\" is already listed as routes[%zu]", abs, j);
        util_error_t err = {0};
        if (routes_file_load(ctx->arena, abs, abs, &tables[i], &err) != 0)
            return config_ctx_fail(ctx,
                                   err.code == ROUTES_FILE_ERR_SYNTAX  ? CONFIG_ERR_SYNTAX
                                   : err.code == ROUTES_FILE_ERR_NOMEM ? CONFIG_ERR_NOMEM
                                                                       : CONFIG_ERR_FILE,
                                   "%s", err.message);
        config_ctx_pop(ctx, mark);
    }
    c->route_tables = tables;
    c->n_route_tables = n;
    config_ctx_pop(ctx, top);
    return 0;
}

int config_routes_descriptors(config_ctx_t *ctx, config_t *c)
{
    if (c->n_descriptors > 0 || c->n_route_tables == 0)
        return 0;
    const char **list = config_ctx_alloc(ctx, c->n_route_tables * sizeof(*list));
    if (list == NULL)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < c->n_route_tables; i++) {
        const routes_file_t *t = &c->route_tables[i];
        if (t->descriptor_set == NULL)
            continue;
        size_t mark = config_ctx_push_key(ctx, "routes");
        config_ctx_push_index(ctx, i);
        char *abs = beside(ctx, t->name, t->descriptor_set);
        if (abs == NULL)
            return -1;
        const char *checked;
        if (config_path_readable_file(ctx, abs, &checked) != 0) {
            if (ctx->err != NULL) {
                size_t len = strlen(ctx->err->message);
                snprintf(ctx->err->message + len, sizeof(ctx->err->message) - len,
                         " (the descriptor set named on line %u of the table, loaded because the config lists no "
                         "\"descriptors\")",
                         t->descriptor_set_line);
            }
            return -1;
        }
        config_ctx_pop(ctx, mark);
        size_t j;
        for (j = 0; j < n && strcmp(list[j], checked) != 0; j++)
            ;
        if (j == n)
            list[n++] = checked;
    }
    c->descriptors = list;
    c->n_descriptors = n;
    return 0;
}
