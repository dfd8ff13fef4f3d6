/*
 * walk.c — the walking context of the config loader: the JSON path of the value being
 * read, error messages prefixed with the config name and that path, and typed member
 * readers (type errors name the expected type and show the value that was found). The path
 * bookkeeping and the message format are util/json_path's, shared with the aggregation loader.
 */
#include "config/config_int.h"
#include "util/json_path.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

size_t config_ctx_push_key(config_ctx_t *ctx, const char *key)
{
    return util_json_path_push_key(ctx->path, sizeof(ctx->path), &ctx->path_len, key);
}

size_t config_ctx_push_index(config_ctx_t *ctx, size_t index)
{
    return util_json_path_push_index(ctx->path, sizeof(ctx->path), &ctx->path_len, index);
}

void config_ctx_pop(config_ctx_t *ctx, size_t mark)
{
    util_json_path_pop(ctx->path, &ctx->path_len, mark);
}

int config_ctx_fail(config_ctx_t *ctx, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rv = util_json_path_fail(ctx->err, code, ctx->name, ctx->path, ctx->path_len, fmt, ap);
    va_end(ap);
    return rv;
}

void *config_ctx_alloc(config_ctx_t *ctx, size_t size)
{
    void *p = util_arena_alloc(ctx->arena, size);
    if (p == NULL)
        config_ctx_fail(ctx, CONFIG_ERR_NOMEM, "out of memory");
    return p;
}

char *config_ctx_strdup(config_ctx_t *ctx, const char *s)
{
    char *p = util_arena_strdup(ctx->arena, s);
    if (p == NULL)
        config_ctx_fail(ctx, CONFIG_ERR_NOMEM, "out of memory");
    return p;
}

static const char *kind_name(config_kind_t kind)
{
    switch (kind) {
    case CONFIG_KIND_OBJECT:
        return "an object";
    case CONFIG_KIND_ARRAY:
        return "an array";
    case CONFIG_KIND_STRING:
        return "a string";
    case CONFIG_KIND_INTEGER:
        return "an integer";
    case CONFIG_KIND_BOOLEAN:
        return "a boolean";
    }
    return "?";
}

/* A short rendering of |v| for "got ..." : scalars as written (long strings cut), containers by kind. */
static void describe(const json_t *v, char *out, size_t cap)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        snprintf(out, cap, "an object");
        return;
    case JSON_ARRAY:
        snprintf(out, cap, "an array");
        return;
    case JSON_STRING: {
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        if (len > 40)
            snprintf(out, cap, "\"%.37s...\"", s);
        else
            snprintf(out, cap, "\"%s\"", s);
        return;
    }
    case JSON_INTEGER:
        snprintf(out, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return;
    case JSON_REAL:
        snprintf(out, cap, "%g", json_real_value(v));
        return;
    case JSON_TRUE:
        snprintf(out, cap, "true");
        return;
    case JSON_FALSE:
        snprintf(out, cap, "false");
        return;
    case JSON_NULL:
        snprintf(out, cap, "null");
        return;
    }
    snprintf(out, cap, "?");
}

int config_json_expect(config_ctx_t *ctx, const json_t *v, config_kind_t kind)
{
    int ok = 0;
    switch (kind) {
    case CONFIG_KIND_OBJECT:
        ok = json_is_object(v);
        break;
    case CONFIG_KIND_ARRAY:
        ok = json_is_array(v);
        break;
    case CONFIG_KIND_STRING:
        ok = json_is_string(v);
        break;
    case CONFIG_KIND_INTEGER:
        ok = json_is_integer(v);
        break;
    case CONFIG_KIND_BOOLEAN:
        ok = json_is_boolean(v);
        break;
    }
    if (ok)
        return 0;
    char got[64];
    describe(v, got, sizeof(got));
    return config_ctx_fail(ctx, CONFIG_ERR_TYPE, "expected %s, got %s", kind_name(kind), got);
}

int config_json_check_keys(config_ctx_t *ctx, const json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)obj, key, value)
    {
        (void)value;
        size_t i;
        for (i = 0; allowed[i] != NULL; i++)
            if (strcmp(allowed[i], key) == 0)
                break;
        if (allowed[i] != NULL)
            continue;
        char list[256];
        size_t len = 0;
        list[0] = '\0';
        for (i = 0; allowed[i] != NULL && len < sizeof(list); i++) {
            int n = snprintf(list + len, sizeof(list) - len, "%s%s", i == 0 ? "" : ", ", allowed[i]);
            if (n < 0)
                break;
            len += (size_t)n;
        }
        return config_ctx_fail(ctx, CONFIG_ERR_UNKNOWN_KEY, "unknown key \"%.80s\" (expected one of: %s)", key, list);
    }
    return 0;
}

int config_json_member(config_ctx_t *ctx, const json_t *obj, const char *key, config_kind_t kind, int required, json_t **out)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (v == NULL) {
        if (required)
            return config_ctx_fail(ctx, CONFIG_ERR_MISSING, "missing required key \"%s\"", key);
        return 0;
    }
    size_t mark = config_ctx_push_key(ctx, key);
    if (config_json_expect(ctx, v, kind) != 0)
        return -1;
    config_ctx_pop(ctx, mark);
    *out = v;
    return 0;
}

int config_json_int(config_ctx_t *ctx, const json_t *obj, const char *key, int required, long long min, long long max,
                    long long *out)
{
    json_t *v;
    if (config_json_member(ctx, obj, key, CONFIG_KIND_INTEGER, required, &v) != 0)
        return -1;
    if (v == NULL)
        return 0;
    long long n = json_integer_value(v);
    if (n < min || n > max) {
        config_ctx_push_key(ctx, key);
        return config_ctx_fail(ctx, CONFIG_ERR_VALUE, "%lld is out of range (%lld to %lld)", n, min, max);
    }
    *out = n;
    return 0;
}

int config_json_bool(config_ctx_t *ctx, const json_t *obj, const char *key, uint8_t *out)
{
    json_t *v;
    if (config_json_member(ctx, obj, key, CONFIG_KIND_BOOLEAN, 0, &v) != 0)
        return -1;
    if (v != NULL)
        *out = json_is_true(v) ? 1 : 0;
    return 0;
}

int config_json_string_value(config_ctx_t *ctx, const json_t *v, const char **out)
{
    if (config_json_expect(ctx, v, CONFIG_KIND_STRING) != 0)
        return -1;
    if (json_string_length(v) == 0)
        return config_ctx_fail(ctx, CONFIG_ERR_VALUE, "must not be empty");
    *out = json_string_value(v);
    return 0;
}

int config_json_string(config_ctx_t *ctx, const json_t *obj, const char *key, int required, const char **out)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL) {
        if (required)
            return config_ctx_fail(ctx, CONFIG_ERR_MISSING, "missing required key \"%s\"", key);
        return 0;
    }
    size_t mark = config_ctx_push_key(ctx, key);
    if (config_json_string_value(ctx, v, out) != 0)
        return -1;
    config_ctx_pop(ctx, mark);
    return 0;
}
