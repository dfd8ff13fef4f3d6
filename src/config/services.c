/*
 * services.c — the "grpc_services" section: which gRPC services are exposed, which
 * upstream serves each (a grpc upstream, or an http one whose REST API the gateway calls
 * through the methods' google.api.http rules: docs/REVERSE.md), and how its messages map to
 * JSON. Runs after "upstreams" so the upstream reference can be resolved to a pointer here.
 * Whether the service exists in the loaded descriptors is checked by the route builder,
 * which has the registry.
 */
#include "config/config_int.h"

#include <stdio.h>
#include <string.h>

static const char *const service_keys[] = {"service",      "upstream", "json", "ignore_unknown_query_parameters",
                                           "auto_mapping", "cors",     NULL};
static const char *const json_keys[] = {"emit_defaults", "proto_names", "enum_ints", "ignore_unknown_fields", NULL};

/* A fully qualified protobuf name: identifiers ([A-Za-z_][A-Za-z0-9_]*) joined by single dots. */
static int full_name_valid(const char *s)
{
    int at_start = 1;
    for (; *s; s++) {
        char ch = *s;
        if (ch == '.') {
            if (at_start)
                return 0;
            at_start = 1;
        } else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_') {
            at_start = 0;
        } else if (ch >= '0' && ch <= '9') {
            if (at_start)
                return 0;
        } else {
            return 0;
        }
    }
    return !at_start;
}

static int parse_json_options(config_ctx_t *ctx, const json_t *obj, config_json_options_t *o)
{
    size_t mark = config_ctx_push_key(ctx, "json");
    if (config_json_check_keys(ctx, obj, json_keys) != 0 || config_json_bool(ctx, obj, "emit_defaults", &o->emit_defaults) != 0 ||
        config_json_bool(ctx, obj, "proto_names", &o->proto_names) != 0 ||
        config_json_bool(ctx, obj, "enum_ints", &o->enum_ints) != 0 ||
        config_json_bool(ctx, obj, "ignore_unknown_fields", &o->ignore_unknown_fields) != 0)
        return -1;
    config_ctx_pop(ctx, mark);
    return 0;
}

/* "price, reviews" for the message naming a missing upstream. */
static void upstream_names(const config_t *c, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    if (c->n_upstreams == 0) {
        snprintf(out, cap, "none");
        return;
    }
    for (size_t i = 0; i < c->n_upstreams && len < cap; i++) {
        int n = snprintf(out + len, cap - len, "%s%s", i == 0 ? "" : ", ", c->upstreams[i].name);
        if (n < 0)
            break;
        len += (size_t)n;
    }
}

static int parse_one(config_ctx_t *ctx, const json_t *obj, const config_t *c, config_grpc_service_t *s)
{
    if (config_json_expect(ctx, obj, CONFIG_KIND_OBJECT) != 0 || config_json_check_keys(ctx, obj, service_keys) != 0)
        return -1;
    const char *service, *upstream;
    if (config_json_string(ctx, obj, "service", 1, &service) != 0 || config_json_string(ctx, obj, "upstream", 1, &upstream) != 0)
        return -1;
    if (!full_name_valid(service)) {
        config_ctx_push_key(ctx, "service");
        return config_ctx_fail(ctx, CONFIG_ERR_VALUE,
                               "\"%.100s\" is not a fully qualified service name (like \"shop.v1.PriceService\")", service);
    }
    if ((s->service = config_ctx_strdup(ctx, service)) == NULL)
        return -1;

    s->upstream = config_upstream_find(c, upstream);
    if (s->upstream == NULL) {
        char names[200];
        upstream_names(c, names, sizeof(names));
        config_ctx_push_key(ctx, "upstream");
        return config_ctx_fail(ctx, CONFIG_ERR_REFERENCE, "\"%.100s\" is not a defined upstream (defined: %s)", upstream, names);
    }

    json_t *json;
    if (config_json_member(ctx, obj, "json", CONFIG_KIND_OBJECT, 0, &json) != 0)
        return -1;
    if (json != NULL && parse_json_options(ctx, json, &s->json) != 0)
        return -1;
    s->auto_mapping = 1;
    if (config_json_bool(ctx, obj, "ignore_unknown_query_parameters", &s->ignore_unknown_query_parameters) != 0 ||
        config_json_bool(ctx, obj, "auto_mapping", &s->auto_mapping) != 0)
        return -1;
    json_t *cors = json_object_get(obj, "cors");
    if (cors != NULL && config_cors_parse(ctx, cors, c->cors, &s->cors) != 0)
        return -1;
    return 0;
}

int config_services_parse(config_ctx_t *ctx, const json_t *v, config_t *c)
{
    size_t top = config_ctx_push_key(ctx, "grpc_services");
    if (config_json_expect(ctx, v, CONFIG_KIND_ARRAY) != 0)
        return -1;
    size_t n = json_array_size(v);
    config_grpc_service_t *list = NULL;
    if (n > 0 && (list = config_ctx_alloc(ctx, n * sizeof(*list))) == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        size_t mark = config_ctx_push_index(ctx, i);
        if (parse_one(ctx, json_array_get(v, i), c, &list[i]) != 0)
            return -1;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(list[j].service, list[i].service) == 0) {
                config_ctx_push_key(ctx, "service");
                return config_ctx_fail(ctx, CONFIG_ERR_DUPLICATE, "\"%.100s\" is already listed at grpc_services[%zu]",
                                       list[i].service, j);
            }
        }
        config_ctx_pop(ctx, mark);
    }
    c->grpc_services = list;
    c->n_grpc_services = n;
    config_ctx_pop(ctx, top);
    return 0;
}
