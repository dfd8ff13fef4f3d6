/*
 * cors.c — the "cors" objects: the global one at the top level and the optional override of
 * a grpc_services entry. Both have the same keys; an override starts from the global policy
 * (or the defaults when there is none) and replaces only the keys it names. The result is a
 * cors_policy_t (src/policy/cors.h) in the config's arena.
 */
#include "config/config_int.h"

#include <string.h>
#include <strings.h>

static const char *const cors_keys[] = {
    "allowed_origins", "allowed_methods", "allowed_headers", "exposed_headers", "max_age_s", "allow_credentials", NULL};

typedef enum list_kind { LIST_ORIGINS, LIST_METHODS, LIST_HEADERS, LIST_EXPOSE } list_kind_t;

static int is_token(const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              strchr("!#$%&'*+-.^_`|~", ch) != NULL))
            return 0;
    }
    return 1;
}

static int check_entry(config_ctx_t *ctx, list_kind_t kind, const char *s)
{
    switch (kind) {
    case LIST_ORIGINS: {
        const char *why = cors_origin_pattern_check(s);
        if (why != NULL)
            return config_ctx_fail(ctx, CONFIG_ERR_VALUE,
                                   "\"%.200s\" %s (expected \"*\", \"null\" or scheme://host[:port], e.g. "
                                   "\"https://*.example.com\")",
                                   s, why);
        return 0;
    }
    case LIST_METHODS:
        if (!is_token(s) || strchr(s, '*') != NULL)
            return config_ctx_fail(ctx, CONFIG_ERR_VALUE, "\"%.100s\" is not an HTTP method", s);
        return 0;
    case LIST_HEADERS:
        if (strcmp(s, "*") == 0)
            return 0;
        /* fall through */
    case LIST_EXPOSE:
        if (!is_token(s) || strchr(s, '*') != NULL)
            return config_ctx_fail(ctx, CONFIG_ERR_VALUE, "\"%.100s\" is not a header name", s);
        return 0;
    }
    return 0;
}

/* Reads array member |key| of strings into |*out| / |*n| (left as they are when absent). */
static int parse_list(config_ctx_t *ctx, const json_t *obj, const char *key, list_kind_t kind, const char *const **out, size_t *n)
{
    json_t *v;
    if (config_json_member(ctx, obj, key, CONFIG_KIND_ARRAY, 0, &v) != 0)
        return -1;
    if (v == NULL)
        return 0;
    size_t top = config_ctx_push_key(ctx, key);
    size_t count = json_array_size(v);
    if (count == 0 && kind == LIST_ORIGINS)
        return config_ctx_fail(ctx, CONFIG_ERR_MISSING, "at least one origin is required");
    if (count == 0 && kind == LIST_METHODS)
        return config_ctx_fail(ctx, CONFIG_ERR_MISSING, "at least one method is required");
    const char **list = NULL;
    if (count > 0 && (list = config_ctx_alloc(ctx, count * sizeof(*list))) == NULL)
        return -1;
    for (size_t i = 0; i < count; i++) {
        size_t mark = config_ctx_push_index(ctx, i);
        const char *s;
        if (config_json_string_value(ctx, json_array_get(v, i), &s) != 0 || check_entry(ctx, kind, s) != 0)
            return -1;
        for (size_t j = 0; j < i; j++)
            if (strcasecmp(list[j], s) == 0)
                return config_ctx_fail(ctx, CONFIG_ERR_DUPLICATE, "\"%.100s\" is already listed as %s[%zu]", s, key, j);
        if ((list[i] = config_ctx_strdup(ctx, s)) == NULL)
            return -1;
        config_ctx_pop(ctx, mark);
    }
    *out = list;
    *n = count;
    config_ctx_pop(ctx, top);
    return 0;
}

int config_cors_parse(config_ctx_t *ctx, const json_t *v, const cors_policy_t *base, const cors_policy_t **out)
{
    size_t top = config_ctx_push_key(ctx, "cors");
    if (config_json_expect(ctx, v, CONFIG_KIND_OBJECT) != 0 || config_json_check_keys(ctx, v, cors_keys) != 0)
        return -1;
    cors_policy_t *p = config_ctx_alloc(ctx, sizeof(*p));
    if (p == NULL)
        return -1;
    if (base != NULL) {
        *p = *base;
    } else {
        memset(p, 0, sizeof(*p));
        p->max_age_s = CORS_DEFAULT_MAX_AGE_S;
    }
    if (base == NULL && json_object_get(v, "allowed_origins") == NULL)
        return config_ctx_fail(ctx, CONFIG_ERR_MISSING, "missing required key \"allowed_origins\"");
    long long max_age = p->max_age_s;
    if (parse_list(ctx, v, "allowed_origins", LIST_ORIGINS, &p->origins, &p->n_origins) != 0 ||
        parse_list(ctx, v, "allowed_methods", LIST_METHODS, &p->methods, &p->n_methods) != 0 ||
        parse_list(ctx, v, "allowed_headers", LIST_HEADERS, &p->headers, &p->n_headers) != 0 ||
        parse_list(ctx, v, "exposed_headers", LIST_EXPOSE, &p->expose_headers, &p->n_expose_headers) != 0 ||
        config_json_int(ctx, v, "max_age_s", 0, 0, CORS_MAX_MAX_AGE_S, &max_age) != 0 ||
        config_json_bool(ctx, v, "allow_credentials", &p->allow_credentials) != 0)
        return -1;
    p->max_age_s = (uint32_t)max_age;
    *out = p;
    config_ctx_pop(ctx, top);
    return 0;
}
