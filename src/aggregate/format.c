/*
 * format.c — loading aggregations/NAME.json (docs/AGGREGATION.md) into aggregate_endpoint_t:
 * jansson parses, this file validates every key (unknown keys are errors), compiles the path
 * template, the value templates and the merge directives, derives each call's dependencies
 * (explicit "depends_on" plus every {calls.X...} reference), rejects cycles, and checks gRPC
 * calls against the descriptor registry and the upstreams against the gateway's config.
 *
 * Every message names the file and the JSON path of the offending value, like the config
 * loader's: `product.json: calls[2].http.path: unknown reference {sku}: ...`.
 *
 * All loaded memory lives in the set's arena; constants of the templates point into the parsed
 * documents, which the set keeps (read-only) until aggregate_set_free.
 */
#include "aggregate/aggregate_int.h"
#include "util/json_path.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct aggregate_set {
    util_arena_t arena;
    json_t *keep; /* the parsed documents and values made while loading */
    aggregate_endpoint_t **endpoints;
    size_t n_endpoints, cap;
};

/* ---------------------------------------------------------------------------------------
 * The walking context
 */

size_t aggregate_ctx_push_key(aggregate_ctx_t *ctx, const char *key)
{
    return util_json_path_push_key(ctx->path, sizeof(ctx->path), &ctx->path_len, key);
}

size_t aggregate_ctx_push_index(aggregate_ctx_t *ctx, size_t index)
{
    return util_json_path_push_index(ctx->path, sizeof(ctx->path), &ctx->path_len, index);
}

void aggregate_ctx_pop(aggregate_ctx_t *ctx, size_t mark)
{
    util_json_path_pop(ctx->path, &ctx->path_len, mark);
}

int aggregate_ctx_fail(aggregate_ctx_t *ctx, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rv = util_json_path_fail(ctx->err, code, ctx->name, ctx->path, ctx->path_len, fmt, ap);
    va_end(ap);
    return rv;
}

const char *aggregate_json_show(const json_t *v, char *buf, size_t size)
{
    char *s = v == NULL ? NULL : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s == NULL) {
        snprintf(buf, size, "nothing");
        return buf;
    }
    if (strlen(s) > 60)
        snprintf(buf, size, "%.57s...", s);
    else
        snprintf(buf, size, "%s", s);
    free(s);
    return buf;
}

/* ---------------------------------------------------------------------------------------
 * Typed members
 */

typedef enum kind {
    KIND_OBJECT,
    KIND_ARRAY,
    KIND_STRING,
    KIND_INTEGER,
    KIND_BOOLEAN,
} kind_t;

static int expect(aggregate_ctx_t *ctx, const json_t *v, kind_t kind)
{
    static const char *const names[] = {"an object", "an array", "a string", "an integer", "a boolean"};
    int ok = kind == KIND_OBJECT    ? json_is_object(v)
             : kind == KIND_ARRAY   ? json_is_array(v)
             : kind == KIND_STRING  ? json_is_string(v)
             : kind == KIND_INTEGER ? json_is_integer(v)
                                    : json_is_boolean(v);
    if (ok)
        return 0;
    char shown[80];
    return aggregate_ctx_fail(ctx, AGGREGATE_ERR_TYPE, "expected %s, got %s", names[kind],
                              aggregate_json_show(v, shown, sizeof(shown)));
}

static int check_keys(aggregate_ctx_t *ctx, const json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        size_t i;
        for (i = 0; allowed[i] != NULL; i++)
            if (strcmp(allowed[i], key) == 0)
                break;
        if (allowed[i] != NULL)
            continue;
        char list[300];
        size_t len = 0;
        for (i = 0; allowed[i] != NULL && len < sizeof(list); i++) {
            int n = snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "", allowed[i]);
            if (n > 0)
                len += (size_t)n;
        }
        return aggregate_ctx_fail(ctx, AGGREGATE_ERR_UNKNOWN_KEY, "unknown key \"%s\" (expected one of: %s)", key, list);
    }
    return 0;
}

/* Member |key| of the kind (NULL when absent and optional). */
static int member(aggregate_ctx_t *ctx, const json_t *obj, const char *key, kind_t kind, int required, json_t **out)
{
    *out = json_object_get(obj, key);
    if (*out == NULL) {
        if (required)
            return aggregate_ctx_fail(ctx, AGGREGATE_ERR_MISSING, "missing \"%s\"", key);
        return 0;
    }
    size_t mark = aggregate_ctx_push_key(ctx, key);
    if (expect(ctx, *out, kind) != 0)
        return -1;
    aggregate_ctx_pop(ctx, mark);
    return 0;
}

static int string_member(aggregate_ctx_t *ctx, const json_t *obj, const char *key, int required, const char **out)
{
    json_t *v;
    if (member(ctx, obj, key, KIND_STRING, required, &v) != 0)
        return -1;
    if (v == NULL)
        return 0;
    if (json_string_length(v) == 0) {
        size_t mark = aggregate_ctx_push_key(ctx, key);
        (void)mark;
        return aggregate_ctx_fail(ctx, AGGREGATE_ERR_VALUE, "must not be empty");
    }
    *out = json_string_value(v);
    return 0;
}

static int uint_member(aggregate_ctx_t *ctx, const json_t *obj, const char *key, long long min, long long max, uint32_t *out)
{
    json_t *v;
    if (member(ctx, obj, key, KIND_INTEGER, 0, &v) != 0)
        return -1;
    if (v == NULL)
        return 0;
    json_int_t n = json_integer_value(v);
    if (n < min || n > max) {
        size_t mark = aggregate_ctx_push_key(ctx, key);
        (void)mark;
        return aggregate_ctx_fail(ctx, AGGREGATE_ERR_VALUE, "%lld is out of range [%lld, %lld]", (long long)n, min, max);
    }
    *out = (uint32_t)n;
    return 0;
}

static int is_token(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && strchr("!#$%&'*+-.^_`|~", *s) == NULL)
            return 0;
    return 1;
}

/* Headers that belong to the connection or to the gateway, never set or forwarded by a call. */
static int is_reserved_header(const char *name)
{
    static const char *const reserved[] = {"host",    "content-length", "connection",       "transfer-encoding", "te",
                                           "upgrade", "keep-alive",     "proxy-connection", "trailer",           NULL};
    for (size_t i = 0; reserved[i] != NULL; i++)
        if (strcmp(reserved[i], name) == 0)
            return 1;
    return 0;
}

/* A header name at the current path: a token, stored lowercase. */
static int header_name(aggregate_ctx_t *ctx, const char *name, const char **out)
{
    if (!is_token(name))
        return aggregate_ctx_fail(ctx, AGGREGATE_ERR_VALUE, "\"%s\" is not a valid header name", name);
    char *lower = util_arena_strdup(ctx->arena, name);
    if (lower == NULL)
        return aggregate_ctx_fail(ctx, AGGREGATE_ERR_NOMEM, "out of memory");
    for (char *p = lower; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    if (is_reserved_header(lower))
        return aggregate_ctx_fail(ctx, AGGREGATE_ERR_VALUE,
                                  "header \"%s\" is managed by the gateway and cannot be set or forwarded", lower);
    *out = lower;
    return 0;
}

/* "forward_headers": an array of header names. */
static int forward_headers(aggregate_ctx_t *ctx, const json_t *obj, const char *const **out, size_t *n_out)
{
    json_t *arr;
    if (member(ctx, obj, "forward_headers", KIND_ARRAY, 0, &arr) != 0)
        return -1;
    if (arr == NULL)
        return 0;
    size_t mark = aggregate_ctx_push_key(ctx, "forward_headers");
    size_t n = json_array_size(arr);
    const char **names = util_arena_alloc(ctx->arena, (n ? n : 1) * sizeof(*names));
    if (names == NULL)
        return aggregate_ctx_fail(ctx, AGGREGATE_ERR_NOMEM, "out of memory");
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        size_t m = aggregate_ctx_push_index(ctx, i);
        if (expect(ctx, v, KIND_STRING) != 0 || header_name(ctx, json_string_value(v), &names[i]) != 0)
            return -1;
        for (size_t j = 0; j < i; j++)
            if (strcmp(names[j], names[i]) == 0)
                return aggregate_ctx_fail(ctx, AGGREGATE_ERR_DUPLICATE, "\"%s\" is listed twice", names[i]);
        aggregate_ctx_pop(ctx, m);
    }
    aggregate_ctx_pop(ctx, mark);
    *out = names;
    *n_out = n;
    return 0;
}

/* A dotted path at the current path. */
static int path_value(aggregate_ctx_t *ctx, const json_t *v, aggregate_path_t *out)
{
    if (expect(ctx, v, KIND_STRING) != 0)
        return -1;
    char why[256];
    if (aggregate_path_parse(ctx->arena, json_string_value(v), out, why, sizeof(why)) != 0)
        return aggregate_ctx_fail(ctx, AGGREGATE_ERR_SYNTAX, "%s", why);
    return 0;
}

static int path_member(aggregate_ctx_t *ctx, const json_t *obj, const char *key, const aggregate_path_t **out)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return 0;
    aggregate_path_t *p = util_arena_alloc(ctx->arena, sizeof(*p));
    if (p == NULL)
        return aggregate_ctx_fail(ctx, AGGREGATE_ERR_NOMEM, "out of memory");
    size_t mark = aggregate_ctx_push_key(ctx, key);
    if (path_value(ctx, v, p) != 0)
        return -1;
    aggregate_ctx_pop(ctx, mark);
    *out = p;
    return 0;
}

static int path_list_member(aggregate_ctx_t *ctx, const json_t *obj, const char *key, const aggregate_path_t **out, size_t *n_out)
{
    json_t *arr;
    if (member(ctx, obj, key, KIND_ARRAY, 0, &arr) != 0)
        return -1;
    if (arr == NULL)
        return 0;
    size_t mark = aggregate_ctx_push_key(ctx, key);
    size_t n = json_array_size(arr);
    if (n == 0)
        return aggregate_ctx_fail(ctx, AGGREGATE_ERR_VALUE, "must list at least one path");
    aggregate_path_t *paths = util_arena_alloc(ctx->arena, n * sizeof(*paths));
    if (paths == NULL)
        return aggregate_ctx_fail(ctx, AGGREGATE_ERR_NOMEM, "out of memory");
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        size_t m = aggregate_ctx_push_index(ctx, i);
        if (path_value(ctx, v, &paths[i]) != 0)
            return -1;
        aggregate_ctx_pop(ctx, m);
    }
    aggregate_ctx_pop(ctx, mark);
    *out = paths;
    *n_out = n;
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * Calls
 */

static int is_call_name(const char *s)
{
    if (!isalpha((unsigned char)*s) && *s != '_')
        return 0;
    for (s++; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
            return 0;
    return 1;
}

static const char *const HTTP_METHODS[] = {"GET", "POST", "PUT", "PATCH", "DELETE", NULL};

static int http_method(aggregate_ctx_t *ctx, const char *m)
{
    for (size_t i = 0; HTTP_METHODS[i] != NULL; i++)
        if (strcmp(HTTP_METHODS[i], m) == 0)
            return 0;
    return aggregate_ctx_fail(ctx, AGGREGATE_ERR_VALUE, "\"%s\" is not one of GET, POST, PUT, PATCH, DELETE", m);
}

/* {"name": "value template", ...} → named templates (header names checked and lowercased). */
static int named_templates(aggregate_ctx_t *ctx, const json_t *obj, const char *key, int headers, const aggregate_named_tpl_t **out,
                           size_t *n_out)
{
    json_t *o;
    if (member(ctx, obj, key, KIND_OBJECT, 0, &o) != 0)
        return -1;
    if (o == NULL)
        return 0;
    size_t mark = aggregate_ctx_push_key(ctx, key);
    size_t n = json_object_size(o), i = 0;
    aggregate_named_tpl_t *list = util_arena_alloc(ctx->arena, (n ? n : 1) * sizeof(*list));
    if (list == NULL)
        return aggregate_ctx_fail(ctx, AGGREGATE_ERR_NOMEM, "out of memory");
    const char *name;
    json_t *v;
    json_object_foreach(o, name, v)
    {
        size_t m = aggregate_ctx_push_key(ctx, name);
        aggregate_tpl_t *t;
        if (headers) {
            if (header_name(ctx, name, &list[i].name) != 0)
                return -1;
            for (size_t j = 0; j < i; j++)
                if (strcmp(list[j].name, list[i].name) == 0)
                    return aggregate_ctx_fail(ctx, AGGREGATE_ERR_DUPLICATE, "header \"%s\" is set twice", list[i].name);
            if (aggregate_tpl_parse_string(ctx, v, &t) != 0)
                return -1;
        } else {
            if (*name == '\0')
                return aggregate_ctx_fail(ctx, AGGREGATE_ERR_VALUE, "empty query parameter name");
            if ((list[i].name = util_arena_strdup(ctx->arena, name)) == NULL)
                return aggregate_ctx_fail(ctx, AGGREGATE_ERR_NOMEM, "out of memory");
            if (json_is_object(v) || json_is_null(v)) {
                char shown[80];
                return aggregate_ctx_fail(ctx, AGGREGATE_ERR_TYPE, "expected a string, number, boolean or array, got %s",
                                          aggregate_json_show(v, shown, sizeof(shown)));
            }
            if (aggregate_tpl_parse(ctx, v, &t) != 0)
                return -1;
        }
        list[i++].value = t;
        aggregate_ctx_pop(ctx, m);
    }
    aggregate_ctx_pop(ctx, mark);
    *out = list;
    *n_out = n;
    return 0;
}

static int grpc_call(aggregate_ctx_t *ctx, const json_t *g, aggregate_call_t *c, const aggregate_load_options_t *opt)
{
    static const char *const keys[] = {"upstream", "method", "request", "headers", NULL};
    if (expect(ctx, g, KIND_OBJECT) != 0 || check_keys(ctx, g, keys) != 0)
        return -1;
    c->kind = AGGREGATE_CALL_GRPC;
    if (string_member(ctx, g, "upstream", 1, &c->upstream) != 0 || string_member(ctx, g, "method", 1, &c->grpc_method_name) != 0)
        return -1;
    if (opt != NULL && opt->registry != NULL) {
        size_t mark = aggregate_ctx_push_key(ctx, "method");
        c->grpc_method = proto_registry_find_method(opt->registry, c->grpc_method_name);
        if (c->grpc_method == NULL)
            return aggregate_ctx_fail(ctx, AGGREGATE_ERR_REFERENCE, "no method \"%s\" in the descriptors", c->grpc_method_name);
        if (c->grpc_method->client_streaming || c->grpc_method->server_streaming)
            return aggregate_ctx_fail(ctx, AGGREGATE_ERR_VALUE, "%s is a streaming method; only unary methods can be aggregated",
                                      c->grpc_method->full_name);
        aggregate_ctx_pop(ctx, mark);
    }
    json_t *req;
    if (member(ctx, g, "request", KIND_OBJECT, 0, &req) != 0)
        return -1;
    aggregate_tpl_t *t;
    size_t mark = aggregate_ctx_push_key(ctx, "request");
    if (req == NULL) {
        req = json_object();
        if (req == NULL || json_array_append_new(ctx->keep, req) != 0)
            return aggregate_ctx_fail(ctx, AGGREGATE_ERR_NOMEM, "out of memory");
    }
    if (aggregate_tpl_parse(ctx, req, &t) != 0)
        return -1;
    aggregate_ctx_pop(ctx, mark);
    c->message = t;
    return named_templates(ctx, g, "headers", 1, &c->headers, &c->n_headers);
}

static int http_call(aggregate_ctx_t *ctx, const json_t *h, aggregate_call_t *c)
{
    static const char *const keys[] = {"upstream", "method", "path", "query", "headers", "body", NULL};
    if (expect(ctx, h, KIND_OBJECT) != 0 || check_keys(ctx, h, keys) != 0)
        return -1;
    c->kind = AGGREGATE_CALL_HTTP;
    c->http_method = "GET";
    if (string_member(ctx, h, "upstream", 1, &c->upstream) != 0 || string_member(ctx, h, "method", 0, &c->http_method) != 0)
        return -1;
    size_t mark = aggregate_ctx_push_key(ctx, "method");
    if (http_method(ctx, c->http_method) != 0)
        return -1;
    aggregate_ctx_pop(ctx, mark);

    json_t *path;
    if (member(ctx, h, "path", KIND_STRING, 1, &path) != 0)
        return -1;
    mark = aggregate_ctx_push_key(ctx, "path");
    const char *p = json_string_value(path);
    if (p[0] != '/')
        return aggregate_ctx_fail(ctx, AGGREGATE_ERR_VALUE, "\"%s\" must start with \"/\"", p);
    if (strpbrk(p, "?# \t") != NULL)
        return aggregate_ctx_fail(ctx, AGGREGATE_ERR_VALUE, "\"%s\": put query parameters in \"query\"; no spaces or fragments", p);
    aggregate_tpl_t *t;
    if (aggregate_tpl_parse_string(ctx, path, &t) != 0)
        return -1;
    c->http_path = t;
    aggregate_ctx_pop(ctx, mark);

    if (named_templates(ctx, h, "query", 0, &c->query, &c->n_query) != 0 ||
        named_templates(ctx, h, "headers", 1, &c->headers, &c->n_headers) != 0)
        return -1;
    json_t *body = json_object_get(h, "body");
    if (body != NULL) {
        mark = aggregate_ctx_push_key(ctx, "body");
        if (strcmp(c->http_method, "GET") == 0)
            return aggregate_ctx_fail(ctx, AGGREGATE_ERR_VALUE, "a GET request has no body");
        if (aggregate_tpl_parse(ctx, body, &t) != 0)
            return -1;
        c->body = t;
        aggregate_ctx_pop(ctx, mark);
    }
    return 0;
}

static int check_upstream(aggregate_ctx_t *ctx, const aggregate_call_t *c, const char *key, const aggregate_load_options_t *opt)
{
    if (opt == NULL || opt->upstream_kind == NULL)
        return 0;
    size_t mark = aggregate_ctx_push_key(ctx, key);
    size_t m = aggregate_ctx_push_key(ctx, "upstream");
    aggregate_upstream_kind_t kind = opt->upstream_kind(opt->upstream_ctx, c->upstream);
    if (kind == AGGREGATE_UPSTREAM_UNKNOWN)
        return aggregate_ctx_fail(ctx, AGGREGATE_ERR_REFERENCE, "no upstream named \"%s\" in the config", c->upstream);
    if ((kind == AGGREGATE_UPSTREAM_GRPC) != (c->kind == AGGREGATE_CALL_GRPC))
        return aggregate_ctx_fail(ctx, AGGREGATE_ERR_REFERENCE, "upstream \"%s\" is %s upstream: call it with \"%s\"", c->upstream,
                                  kind == AGGREGATE_UPSTREAM_GRPC ? "a gRPC" : "an HTTP",
                                  kind == AGGREGATE_UPSTREAM_GRPC ? "grpc" : "http");
    aggregate_ctx_pop(ctx, m);
    aggregate_ctx_pop(ctx, mark);
    return 0;
}

static int merge_directives(aggregate_ctx_t *ctx, const json_t *obj, aggregate_shape_t *s)
{
    if (path_member(ctx, obj, "target", &s->target) != 0 || path_list_member(ctx, obj, "allow", &s->allow, &s->n_allow) != 0 ||
        path_list_member(ctx, obj, "deny", &s->deny, &s->n_deny) != 0 || path_member(ctx, obj, "group", &s->group) != 0)
        return -1;

    /* "rename" (KrakenD calls it "mapping"; both spellings are accepted, not together) */
    json_t *ren = json_object_get(obj, "rename");
    const char *ren_key = "rename";
    if (json_object_get(obj, "mapping") != NULL) {
        if (ren != NULL)
            return aggregate_ctx_fail(ctx, AGGREGATE_ERR_DUPLICATE, "\"rename\" and \"mapping\" are the same directive: use one");
        ren = json_object_get(obj, "mapping");
        ren_key = "mapping";
    }
    if (ren != NULL) {
        size_t mark = aggregate_ctx_push_key(ctx, ren_key);
        if (expect(ctx, ren, KIND_OBJECT) != 0)
            return -1;
        size_t n = json_object_size(ren), i = 0;
        if (n == 0)
            return aggregate_ctx_fail(ctx, AGGREGATE_ERR_VALUE, "must map at least one path");
        aggregate_rename_t *list = util_arena_alloc(ctx->arena, n * sizeof(*list));
        if (list == NULL)
            return aggregate_ctx_fail(ctx, AGGREGATE_ERR_NOMEM, "out of memory");
        const char *from;
        json_t *to;
        json_object_foreach(ren, from, to)
        {
            size_t m = aggregate_ctx_push_key(ctx, from);
            char why[256];
            if (aggregate_path_parse(ctx->arena, from, &list[i].from, why, sizeof(why)) != 0)
                return aggregate_ctx_fail(ctx, AGGREGATE_ERR_SYNTAX, "%s", why);
            if (path_value(ctx, to, &list[i].to) != 0)
                return -1;
            i++;
            aggregate_ctx_pop(ctx, m);
        }
        s->renames = list;
        s->n_renames = n;
        aggregate_ctx_pop(ctx, mark);
    }

    json_t *coll = json_object_get(obj, "collection");
    if (coll != NULL) {
        size_t mark = aggregate_ctx_push_key(ctx, "collection");
        if (s->group != NULL)
            return aggregate_ctx_fail(ctx, AGGREGATE_ERR_VALUE, "\"collection\" places the array itself: drop \"group\"");
        aggregate_path_t *p = util_arena_alloc(ctx->arena, sizeof(*p));
        if (p == NULL)
            return aggregate_ctx_fail(ctx, AGGREGATE_ERR_NOMEM, "out of memory");
        if (json_is_object(coll)) {
            static const char *const keys[] = {"key", "concat", NULL};
            json_t *key, *concat;
            if (check_keys(ctx, coll, keys) != 0 || member(ctx, coll, "key", KIND_STRING, 1, &key) != 0 ||
                member(ctx, coll, "concat", KIND_BOOLEAN, 0, &concat) != 0)
                return -1;
            size_t m = aggregate_ctx_push_key(ctx, "key");
            if (path_value(ctx, key, p) != 0)
                return -1;
            aggregate_ctx_pop(ctx, m);
            s->concat = json_is_true(concat);
        } else if (json_is_string(coll)) {
            if (path_value(ctx, coll, p) != 0)
                return -1;
        } else {
            char shown[80];
            return aggregate_ctx_fail(ctx, AGGREGATE_ERR_TYPE, "expected a key path or {\"key\": ..., \"concat\": ...}, got %s",
                                      aggregate_json_show(coll, shown, sizeof(shown)));
        }
        s->collection = p;
        aggregate_ctx_pop(ctx, mark);
    }
    return 0;
}

static int path_starts_with(const aggregate_path_t *p, const char *name, size_t len)
{
    return p->n != 0 && aggregate_key_is(p->segs[0], p->seg_lens[0], name, len);
}

typedef struct field_marks {
    size_t call;                /* the call whose reply is read */
    const proto_message_t *msg; /* its output type */
    uint8_t *keep;
    int added; /* a field the shape drops is kept for a reference */
    int whole; /* the whole reply is read, or a first segment that names no field */
} field_marks_t;

/* Marks the field of the reply that reference |r| reads, when it reads that call's reply. */
static void mark_ref(void *arg, const aggregate_ref_t *r)
{
    field_marks_t *fm = arg;
    if (r->source != AGGREGATE_SRC_CALL || r->call != fm->call)
        return;
    for (size_t i = 0; r->path.n != 0 && i < fm->msg->n_fields; i++) {
        const proto_field_t *f = &fm->msg->fields[i];
        if (path_starts_with(&r->path, f->json_name, f->json_name_len) || path_starts_with(&r->path, f->name, f->name_len)) {
            fm->added |= !fm->keep[i];
            fm->keep[i] = 1;
            return;
        }
    }
    fm->whole = 1;
}

/*
 * Which top-level fields of gRPC call |calls[k]|'s reply are needed (aggregate_call_t
 * .reply_fields): without a target, allow keeps only the members its paths start at and a
 * one-segment deny path drops its member, whatever the rest of the shape does (the reply is
 * printed with JSON names, which the paths name); and the other calls' templates read the
 * fields they refer to ({calls.NAME.field...}) from the reply as it came, before its shape.
 * Only worth a mask when it leaves fields out.
 */
static int reply_fields(aggregate_ctx_t *ctx, aggregate_call_t *calls, size_t n, size_t k)
{
    aggregate_call_t *c = &calls[k];
    const aggregate_shape_t *s = &c->shape;
    if (c->kind != AGGREGATE_CALL_GRPC || c->grpc_method == NULL || s->target != NULL || (s->n_allow == 0 && s->n_deny == 0))
        return 0;
    const proto_message_t *m = c->grpc_method->output;
    if (m->wkt != PROTO_WKT_NONE)
        return 0; /* printed by its own rules (a Struct's members are map keys, not fields) */
    uint8_t *keep = util_arena_alloc(ctx->arena, m->n_fields ? m->n_fields : 1);
    if (keep == NULL)
        return aggregate_ctx_fail(ctx, AGGREGATE_ERR_NOMEM, "out of memory");
    int exact = 1; /* every allow and deny path has one segment: the mask is the whole of both */
    for (size_t i = 0; i < s->n_allow; i++)
        exact &= s->allow[i].n == 1;
    for (size_t i = 0; i < s->n_deny; i++)
        exact &= s->deny[i].n == 1;
    for (size_t i = 0; i < m->n_fields; i++) {
        const proto_field_t *f = &m->fields[i];
        int kept = s->n_allow == 0;
        for (size_t a = 0; a < s->n_allow && !kept; a++)
            kept = path_starts_with(&s->allow[a], f->json_name, f->json_name_len);
        for (size_t d = 0; d < s->n_deny && kept; d++)
            kept = !(s->deny[d].n == 1 && path_starts_with(&s->deny[d], f->json_name, f->json_name_len));
        keep[i] = (uint8_t)kept;
    }
    field_marks_t fm = {k, m, keep, 0, 0};
    for (size_t j = 0; j < n && !fm.whole; j++)
        aggregate_call_each_ref(&calls[j], mark_ref, &fm);
    size_t dropped = 0;
    for (size_t i = 0; i < m->n_fields; i++)
        dropped += !keep[i];
    if (fm.whole || dropped == 0)
        return 0;
    c->reply_fields = keep;
    c->shape_in_reply_fields = exact && !fm.added; /* a field kept only for a reference still needs the allow pass */
    return 0;
}

static int parse_call(aggregate_ctx_t *ctx, const json_t *obj, aggregate_call_t *c, const char *const *endpoint_fwd,
                      size_t n_endpoint_fwd, const aggregate_load_options_t *opt)
{
    static const char *const keys[] = {"name",         "description",     "grpc",   "http",  "required", "timeout_ms", "depends_on",
                                       "cache_ttl_ms", "forward_headers", "target", "allow", "deny",     "rename",     "mapping",
                                       "group",        "collection",      NULL};
    if (check_keys(ctx, obj, keys) != 0)
        return -1;
    memset(ctx->deps, 0, ctx->n_calls);
    c->name = ctx->call_names[ctx->self];
    c->index = ctx->self;
    c->required = 1;

    json_t *g = json_object_get(obj, "grpc"), *h = json_object_get(obj, "http");
    if ((g == NULL) == (h == NULL))
        return aggregate_ctx_fail(ctx, g == NULL ? AGGREGATE_ERR_MISSING : AGGREGATE_ERR_VALUE,
                                  "a call has exactly one of \"grpc\" and \"http\"");
    size_t mark = aggregate_ctx_push_key(ctx, g ? "grpc" : "http");
    if (g ? grpc_call(ctx, g, c, opt) : http_call(ctx, h, c))
        return -1;
    aggregate_ctx_pop(ctx, mark);
    if (check_upstream(ctx, c, g ? "grpc" : "http", opt) != 0)
        return -1;

    json_t *v;
    if (member(ctx, obj, "description", KIND_STRING, 0, &v) != 0 || member(ctx, obj, "required", KIND_BOOLEAN, 0, &v) != 0)
        return -1;
    if (v != NULL)
        c->required = json_is_true(v);
    if (uint_member(ctx, obj, "timeout_ms", 1, AGGREGATE_MAX_TIMEOUT_MS, &c->timeout_ms) != 0 ||
        uint_member(ctx, obj, "cache_ttl_ms", 0, AGGREGATE_MAX_TIMEOUT_MS, &c->cache_ttl_ms) != 0)
        return -1;
    c->forward_headers = endpoint_fwd;
    c->n_forward_headers = n_endpoint_fwd;
    if (forward_headers(ctx, obj, &c->forward_headers, &c->n_forward_headers) != 0)
        return -1;

    json_t *deps;
    if (member(ctx, obj, "depends_on", KIND_ARRAY, 0, &deps) != 0)
        return -1;
    if (deps != NULL) {
        mark = aggregate_ctx_push_key(ctx, "depends_on");
        size_t i;
        json_array_foreach(deps, i, v)
        {
            size_t m = aggregate_ctx_push_index(ctx, i);
            if (expect(ctx, v, KIND_STRING) != 0)
                return -1;
            size_t k;
            for (k = 0; k < ctx->n_calls; k++)
                if (strcmp(ctx->call_names[k], json_string_value(v)) == 0)
                    break;
            if (k == ctx->n_calls)
                return aggregate_ctx_fail(ctx, AGGREGATE_ERR_REFERENCE, "there is no call named \"%s\"", json_string_value(v));
            if (k == ctx->self)
                return aggregate_ctx_fail(ctx, AGGREGATE_ERR_CYCLE, "a call cannot depend on itself");
            ctx->deps[k] = 1;
            aggregate_ctx_pop(ctx, m);
        }
        aggregate_ctx_pop(ctx, mark);
    }
    size_t n = 0;
    for (size_t k = 0; k < ctx->n_calls; k++)
        n += ctx->deps[k];
    size_t *list = util_arena_alloc(ctx->arena, (n ? n : 1) * sizeof(*list));
    if (list == NULL)
        return aggregate_ctx_fail(ctx, AGGREGATE_ERR_NOMEM, "out of memory");
    n = 0;
    for (size_t k = 0; k < ctx->n_calls; k++)
        if (ctx->deps[k])
            list[n++] = k;
    c->deps = list;
    c->n_deps = n;
    return merge_directives(ctx, obj, &c->shape);
}

/* Depth-first search for a cycle; on finding one, writes "a → b → a" into |trail|. */
static int find_cycle(const aggregate_call_t *calls, size_t i, uint8_t *color, size_t *stack, size_t depth, char *trail,
                      size_t size)
{
    color[i] = 1;
    stack[depth] = i;
    for (size_t d = 0; d < calls[i].n_deps; d++) {
        size_t j = calls[i].deps[d];
        if (color[j] == 1) {
            size_t len = 0, k = 0;
            while (stack[k] != j)
                k++;
            for (; k <= depth && len < size; k++) {
                int n = snprintf(trail + len, size - len, "%s -> ", calls[stack[k]].name);
                len += n > 0 ? (size_t)n : 0;
            }
            if (len < size)
                snprintf(trail + len, size - len, "%s", calls[j].name);
            return 1;
        }
        if (color[j] == 0 && find_cycle(calls, j, color, stack, depth + 1, trail, size))
            return 1;
    }
    color[i] = 2;
    return 0;
}

/* One template of a call, at "KEY" or "KEY.NAME" below the current path. */
static int resolve_at(aggregate_ctx_t *ctx, const char *key, const char *name, const aggregate_tpl_t *t,
                      const proto_message_t *const *outputs)
{
    if (t == NULL)
        return 0;
    size_t mark = aggregate_ctx_push_key(ctx, key);
    if (name != NULL)
        aggregate_ctx_push_key(ctx, name);
    if (aggregate_tpl_resolve_refs(ctx, (aggregate_tpl_t *)t, outputs) != 0)
        return -1;
    aggregate_ctx_pop(ctx, mark);
    return 0;
}

/* {calls.X.path} references in every template of call |c|, against the output types. */
static int resolve_call_refs(aggregate_ctx_t *ctx, const aggregate_call_t *c, const proto_message_t *const *outputs)
{
    size_t mark = aggregate_ctx_push_key(ctx, c->kind == AGGREGATE_CALL_GRPC ? "grpc" : "http");
    if (resolve_at(ctx, "request", NULL, c->message, outputs) != 0 || resolve_at(ctx, "path", NULL, c->http_path, outputs) != 0 ||
        resolve_at(ctx, "body", NULL, c->body, outputs) != 0)
        return -1;
    for (size_t i = 0; i < c->n_query; i++)
        if (resolve_at(ctx, "query", c->query[i].name, c->query[i].value, outputs) != 0)
            return -1;
    for (size_t i = 0; i < c->n_headers; i++)
        if (resolve_at(ctx, "headers", c->headers[i].name, c->headers[i].value, outputs) != 0)
            return -1;
    aggregate_ctx_pop(ctx, mark);
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * Endpoints
 */

static int parse_endpoint(aggregate_ctx_t *ctx, const json_t *obj, const aggregate_load_options_t *opt, aggregate_endpoint_t **out,
                          path_template_t **tpl_out)
{
    static const char *const keys[] = {"method", "path", "description", "timeout_ms", "meta", "forward_headers", "calls", NULL};
    if (expect(ctx, obj, KIND_OBJECT) != 0 || check_keys(ctx, obj, keys) != 0)
        return -1;
    aggregate_endpoint_t *ep = util_arena_alloc(ctx->arena, sizeof(*ep));
    if (ep == NULL)
        return aggregate_ctx_fail(ctx, AGGREGATE_ERR_NOMEM, "out of memory");
    ep->file = util_arena_strdup(ctx->arena, ctx->name);
    ep->registry = opt != NULL ? opt->registry : NULL;
    ep->timeout_ms = AGGREGATE_DEFAULT_TIMEOUT_MS;
    ep->meta_header = AGGREGATE_DEFAULT_META_HEADER;
    ep->meta_field = AGGREGATE_DEFAULT_META_FIELD;

    json_t *v;
    if (string_member(ctx, obj, "method", 1, &ep->method) != 0 || string_member(ctx, obj, "path", 1, &ep->path) != 0 ||
        member(ctx, obj, "description", KIND_STRING, 0, &v) != 0)
        return -1;
    size_t mark = aggregate_ctx_push_key(ctx, "method");
    if (http_method(ctx, ep->method) != 0)
        return -1;
    aggregate_ctx_pop(ctx, mark);
    mark = aggregate_ctx_push_key(ctx, "path");
    util_error_t perr;
    path_template_t *pt = NULL;
    if (path_template_parse(ep->path, strlen(ep->path), &pt, &perr) != 0)
        return aggregate_ctx_fail(ctx, AGGREGATE_ERR_SYNTAX, "%s", perr.message);
    *tpl_out = pt;
    ep->path_template = pt;
    aggregate_ctx_pop(ctx, mark);
    if (uint_member(ctx, obj, "timeout_ms", 1, AGGREGATE_MAX_TIMEOUT_MS, &ep->timeout_ms) != 0)
        return -1;

    if ((v = json_object_get(obj, "meta")) != NULL) {
        mark = aggregate_ctx_push_key(ctx, "meta");
        if (json_is_false(v)) {
            ep->meta_header = ep->meta_field = NULL;
        } else {
            static const char *const meta_keys[] = {"header", "field", NULL};
            if (expect(ctx, v, KIND_OBJECT) != 0 || check_keys(ctx, v, meta_keys) != 0)
                return -1;
            json_t *hv = json_object_get(v, "header"), *fv = json_object_get(v, "field");
            if (hv != NULL) {
                size_t m = aggregate_ctx_push_key(ctx, "header");
                if (json_is_false(hv))
                    ep->meta_header = NULL;
                else if (!json_is_string(hv))
                    return aggregate_ctx_fail(ctx, AGGREGATE_ERR_TYPE, "expected a header name or false");
                else if (header_name(ctx, json_string_value(hv), &ep->meta_header) != 0)
                    return -1;
                aggregate_ctx_pop(ctx, m);
            }
            if (fv != NULL) {
                size_t m = aggregate_ctx_push_key(ctx, "field");
                if (json_is_false(fv))
                    ep->meta_field = NULL;
                else if (!json_is_string(fv) || json_string_length(fv) == 0)
                    return aggregate_ctx_fail(ctx, AGGREGATE_ERR_TYPE, "expected a member name or false");
                else
                    ep->meta_field = json_string_value(fv);
                aggregate_ctx_pop(ctx, m);
            }
        }
        aggregate_ctx_pop(ctx, mark);
    }

    const char *const *fwd = NULL;
    size_t n_fwd = 0;
    if (forward_headers(ctx, obj, &fwd, &n_fwd) != 0)
        return -1;

    json_t *calls;
    if (member(ctx, obj, "calls", KIND_ARRAY, 1, &calls) != 0)
        return -1;
    size_t n = json_array_size(calls);
    mark = aggregate_ctx_push_key(ctx, "calls");
    if (n == 0 || n > AGGREGATE_MAX_CALLS)
        return aggregate_ctx_fail(ctx, AGGREGATE_ERR_VALUE, "an endpoint has 1 to %d calls, not %zu", AGGREGATE_MAX_CALLS, n);

    /* names first: templates may refer to calls declared later */
    const char **names = util_arena_alloc(ctx->arena, n * sizeof(*names));
    aggregate_call_t *list = util_arena_alloc(ctx->arena, n * sizeof(*list));
    uint8_t *deps = util_arena_alloc(ctx->arena, n);
    if (names == NULL || list == NULL || deps == NULL)
        return aggregate_ctx_fail(ctx, AGGREGATE_ERR_NOMEM, "out of memory");
    size_t i;
    json_array_foreach(calls, i, v)
    {
        size_t m = aggregate_ctx_push_index(ctx, i);
        if (expect(ctx, v, KIND_OBJECT) != 0 || string_member(ctx, v, "name", 1, &names[i]) != 0)
            return -1;
        size_t mn = aggregate_ctx_push_key(ctx, "name");
        if (!is_call_name(names[i]))
            return aggregate_ctx_fail(ctx, AGGREGATE_ERR_VALUE, "\"%s\" is not a call name (letters, digits, \"_\" and \"-\")",
                                      names[i]);
        for (size_t j = 0; j < i; j++)
            if (strcmp(names[j], names[i]) == 0)
                return aggregate_ctx_fail(ctx, AGGREGATE_ERR_DUPLICATE, "calls[%zu] is already named \"%s\"", j, names[i]);
        aggregate_ctx_pop(ctx, mn);
        aggregate_ctx_pop(ctx, m);
    }
    ctx->method = ep->method;
    ctx->path_template = pt;
    ctx->call_names = names;
    ctx->n_calls = n;
    ctx->deps = deps;
    ctx->uses_body = 0;
    json_array_foreach(calls, i, v)
    {
        size_t m = aggregate_ctx_push_index(ctx, i);
        ctx->self = i;
        if (parse_call(ctx, v, &list[i], fwd, n_fwd, opt) != 0)
            return -1;
        aggregate_ctx_pop(ctx, m);
    }
    ep->calls = list;
    ep->n_calls = n;
    ep->uses_body = ctx->uses_body;

    uint8_t color[AGGREGATE_MAX_CALLS] = {0};
    size_t stack[AGGREGATE_MAX_CALLS];
    char trail[300];
    for (i = 0; i < n; i++)
        if (color[i] == 0 && find_cycle(list, i, color, stack, 0, trail, sizeof(trail)))
            return aggregate_ctx_fail(ctx, AGGREGATE_ERR_CYCLE, "the calls depend on each other: %s", trail);

    /* references to gRPC responses, and gRPC request templates, against the descriptors, now that
     * every call's output type is known */
    if (opt != NULL && opt->registry != NULL) {
        const proto_message_t *outputs[AGGREGATE_MAX_CALLS];
        for (i = 0; i < n; i++)
            outputs[i] = list[i].grpc_method != NULL ? list[i].grpc_method->output : NULL;
        for (i = 0; i < n; i++) {
            size_t m = aggregate_ctx_push_index(ctx, i);
            if (resolve_call_refs(ctx, &list[i], outputs) != 0)
                return -1;
            if (list[i].kind != AGGREGATE_CALL_GRPC) {
                aggregate_ctx_pop(ctx, m);
                continue;
            }
            size_t mg = aggregate_ctx_push_key(ctx, "grpc");
            size_t mr = aggregate_ctx_push_key(ctx, "request");
            if (aggregate_tpl_check_message(ctx, (aggregate_tpl_t *)list[i].message, opt->registry, list[i].grpc_method->input,
                                            outputs) != 0)
                return -1;
            aggregate_ctx_pop(ctx, mr);
            aggregate_ctx_pop(ctx, mg);
            aggregate_ctx_pop(ctx, m);
        }
        /* with every call and template checked: what to print of each reply, what to encode directly */
        for (i = 0; i < n; i++)
            if (reply_fields(ctx, list, n, i) != 0 || aggregate_request_plan_build(ctx, &list[i], opt->registry) != 0)
                return -1;
    }
    aggregate_ctx_pop(ctx, mark);
    *out = ep;
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * Sets
 */

aggregate_set_t *aggregate_set_new(void)
{
    aggregate_set_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    util_arena_init(&s->arena);
    if ((s->keep = json_array()) == NULL) {
        free(s);
        return NULL;
    }
    return s;
}

void aggregate_set_free(aggregate_set_t *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n_endpoints; i++)
        path_template_free((path_template_t *)s->endpoints[i]->path_template);
    free(s->endpoints);
    json_decref(s->keep);
    util_arena_dispose(&s->arena);
    free(s);
}

size_t aggregate_set_count(const aggregate_set_t *s)
{
    return s->n_endpoints;
}

const aggregate_endpoint_t *aggregate_set_at(const aggregate_set_t *s, size_t i)
{
    return i < s->n_endpoints ? s->endpoints[i] : NULL;
}

const aggregate_endpoint_t *aggregate_set_find(const aggregate_set_t *s, const char *method, const char *path)
{
    for (size_t i = 0; i < s->n_endpoints; i++)
        if (strcmp(s->endpoints[i]->method, method) == 0 && strcmp(s->endpoints[i]->path, path) == 0)
            return s->endpoints[i];
    return NULL;
}

/* Loads the parsed document |root| (reference stolen) into |s|. */
static int load_root(aggregate_set_t *s, json_t *root, const char *name, const aggregate_load_options_t *opt, util_error_t *err)
{
    aggregate_ctx_t ctx = {0};
    util_arena_t arena;
    util_arena_init(&arena);
    ctx.name = name;
    ctx.arena = &arena;
    ctx.err = err;
    ctx.keep = json_array();
    if (ctx.keep == NULL || json_array_append(ctx.keep, root) != 0) {
        json_decref(root);
        json_decref(ctx.keep);
        util_arena_dispose(&arena);
        return util_error_set(err, AGGREGATE_ERR_NOMEM, "%s: out of memory", name);
    }
    json_decref(root);

    size_t n = json_is_array(root) ? json_array_size(root) : 1;
    aggregate_endpoint_t **eps = calloc(n ? n : 1, sizeof(*eps));
    path_template_t **tpls = calloc(n ? n : 1, sizeof(*tpls));
    int rc = eps == NULL || tpls == NULL ? util_error_set(err, AGGREGATE_ERR_NOMEM, "%s: out of memory", name) : 0;
    if (rc == 0 && json_is_array(root) && n == 0)
        rc = util_error_set(err, AGGREGATE_ERR_VALUE, "%s: the array lists no endpoint", name);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        size_t mark = json_is_array(root) ? aggregate_ctx_push_index(&ctx, i) : 0;
        rc = parse_endpoint(&ctx, json_is_array(root) ? json_array_get(root, i) : root, opt, &eps[i], &tpls[i]);
        if (rc == 0)
            aggregate_ctx_pop(&ctx, mark);
    }
    /* duplicates, within the file and against the set */
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const aggregate_endpoint_t *other = aggregate_set_find(s, eps[i]->method, eps[i]->path);
        for (size_t j = 0; other == NULL && j < i; j++)
            if (strcmp(eps[j]->method, eps[i]->method) == 0 && strcmp(eps[j]->path, eps[i]->path) == 0)
                other = eps[j];
        if (other != NULL)
            rc = util_error_set(err, AGGREGATE_ERR_DUPLICATE, "%s: %s %s is already defined in %s", name, eps[i]->method,
                                eps[i]->path, other->file);
    }
    if (rc == 0 && s->n_endpoints + n > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        while (cap < s->n_endpoints + n)
            cap *= 2;
        aggregate_endpoint_t **grown = realloc(s->endpoints, cap * sizeof(*grown));
        if (grown == NULL)
            rc = util_error_set(err, AGGREGATE_ERR_NOMEM, "%s: out of memory", name);
        else
            s->endpoints = grown, s->cap = cap;
    }
    if (rc == 0 && json_array_extend(s->keep, ctx.keep) != 0)
        rc = util_error_set(err, AGGREGATE_ERR_NOMEM, "%s: out of memory", name);
    if (rc != 0) {
        for (size_t i = 0; tpls != NULL && i < n; i++)
            path_template_free(tpls[i]);
        util_arena_dispose(&arena);
    } else {
        for (size_t i = 0; i < n; i++)
            s->endpoints[s->n_endpoints++] = eps[i];
        util_arena_merge(&s->arena, &arena);
    }
    json_decref(ctx.keep);
    free(eps);
    free(tpls);
    return rc;
}

int aggregate_set_load_string(aggregate_set_t *s, const char *json, const char *name, const aggregate_load_options_t *opt,
                              util_error_t *err)
{
    json_error_t jerr;
    json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return util_error_set(err, AGGREGATE_ERR_SYNTAX, "%s:%d:%d: %s", name, jerr.line, jerr.column, jerr.text);
    return load_root(s, root, name, opt, err);
}

int aggregate_set_load_file(aggregate_set_t *s, const char *path, const aggregate_load_options_t *opt, util_error_t *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return util_error_set(err, AGGREGATE_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
    json_error_t jerr;
    json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
    int read_error = ferror(f);
    fclose(f);
    if (root == NULL)
        return util_error_set(err, read_error ? AGGREGATE_ERR_IO : AGGREGATE_ERR_SYNTAX, "%s:%d:%d: %s", path, jerr.line,
                              jerr.column, jerr.text);
    return load_root(s, root, path, opt, err);
}
