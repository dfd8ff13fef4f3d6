/*
 * openapi.c — the "openapi" section: whether the gateway serves an OpenAPI 3.1 document of
 * its routes, at which path, and the document's info and servers. The document itself is
 * rendered when the gateway is built (src/http/apidocs.c); a route that would also answer
 * the path is an error there, where the routes are known.
 */
#include "config/config_int.h"

#include <string.h>

static const char *const openapi_keys[] = {"path", "title", "version", "description", "servers", NULL};

/* A literal request path: "/" then RFC 3986 pchars and "/", without "%" (the path is compared
 * byte for byte, so an escape could never match) and without template braces. */
static int literal_path_valid(const char *s)
{
    if (s[0] != '/')
        return 0;
    for (; *s; s++) {
        char ch = *s;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              strchr("-._~!$&'()*+,;=:@/", ch) != NULL))
            return 0;
    }
    return 1;
}

/* A server URL as OpenAPI takes it (absolute or relative): printable, no spaces. */
static int url_valid(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

static int copy_string(config_ctx_t *ctx, const json_t *obj, const char *key, const char **out)
{
    const char *v = NULL;
    if (config_json_string(ctx, obj, key, 0, &v) != 0)
        return -1;
    if (v != NULL && (*out = config_ctx_strdup(ctx, v)) == NULL)
        return -1;
    return 0;
}

int config_openapi_parse(config_ctx_t *ctx, const json_t *v, config_t *c)
{
    size_t top = config_ctx_push_key(ctx, "openapi");
    if (config_json_expect(ctx, v, CONFIG_KIND_OBJECT) != 0 || config_json_check_keys(ctx, v, openapi_keys) != 0)
        return -1;
    config_openapi_t *o = config_ctx_alloc(ctx, sizeof(*o));
    if (o == NULL)
        return -1;
    o->path = CONFIG_DEFAULT_OPENAPI_PATH;
    if (copy_string(ctx, v, "path", &o->path) != 0 || copy_string(ctx, v, "title", &o->title) != 0 ||
        copy_string(ctx, v, "version", &o->version) != 0 || copy_string(ctx, v, "description", &o->description) != 0)
        return -1;
    if (!literal_path_valid(o->path)) {
        config_ctx_push_key(ctx, "path");
        return config_ctx_fail(ctx, CONFIG_ERR_VALUE,
                               "\"%.200s\" is not a literal request path (it starts with \"/\"; letters, digits, "
                               "\"/\" and -._~!$&'()*+,;=:@ only: no query, no %%-escapes, no template)",
                               o->path);
    }
    json_t *servers;
    if (config_json_member(ctx, v, "servers", CONFIG_KIND_ARRAY, 0, &servers) != 0)
        return -1;
    size_t n = servers != NULL ? json_array_size(servers) : 0;
    const char **list = NULL;
    if (n > 0 && (list = config_ctx_alloc(ctx, n * sizeof(*list))) == NULL)
        return -1;
    size_t mark = config_ctx_push_key(ctx, "servers");
    for (size_t i = 0; i < n; i++) {
        size_t im = config_ctx_push_index(ctx, i);
        const char *s;
        if (config_json_string_value(ctx, json_array_get(servers, i), &s) != 0)
            return -1;
        if (!url_valid(s))
            return config_ctx_fail(ctx, CONFIG_ERR_VALUE, "\"%.200s\" is not a URL (spaces and control characters are not allowed)",
                                   s);
        for (size_t j = 0; j < i; j++)
            if (strcmp(list[j], s) == 0)
                return config_ctx_fail(ctx, CONFIG_ERR_DUPLICATE, "\"%.200s\" is already listed as servers[%zu]", s, j);
        if ((list[i] = config_ctx_strdup(ctx, s)) == NULL)
            return -1;
        config_ctx_pop(ctx, im);
    }
    config_ctx_pop(ctx, mark);
    o->servers = list;
    o->n_servers = n;
    c->openapi = o;
    config_ctx_pop(ctx, top);
    return 0;
}
