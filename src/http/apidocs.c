/*
 * apidocs.c — the gateway's own OpenAPI document (config "openapi"); see apidocs.h.
 *
 * The transcoded routes are documented by src/openapi from their resolved bindings. A
 * composite endpoint is described here as an openapi_composite_t: its path variables, the
 * query parameters its templates read ({query.x}), a body when they read {body...}, and a
 * response schema that says what is known of the merge and no more. A call's reply that is
 * placed unchanged (no target/allow/deny/rename) is a $ref to the called method's output
 * message, under its group key (or, merged into the root, an allOf member); a shaped reply,
 * or the JSON of an HTTP backend, is only described in words, because its members are not
 * known from the descriptors. The "_meta" member and the parts header are documented too.
 */
#include "http/apidocs.h"

#include <jansson.h>
#include <string.h>
#include <strings.h>

#include "aggregate/aggregate.h"
#include "http/errors.h"
#include "http/server.h"
#include "openapi/openapi.h"
#include "util/arena.h"
#include "util/buf.h"

#define MAX_INPUTS 64

struct apidocs {
    const char *path; /* the config's */
    size_t path_len;
    char *doc;
    size_t len;
    char etag[24]; /* "\"" 16 hex digits "\"" */
    size_t n_operations, n_composites;
};

/* ---- the path must be the document's alone ---------------------------------------------------- */

static int check_collisions(const gateway_t *g, const char *path, util_error_t *err)
{
    const config_t *cfg = g->config;
    size_t len = strlen(path);
    for (size_t i = 0; i < g->n_routes; i++) {
        const gateway_route_t *r = &g->route_list[i];
        const char *m = strcmp(r->binding.http_method, "*") == 0 ? "GET" : r->binding.http_method;
        route_match_t match;
        if (route_table_match(g->routes, m, strlen(m), path, len, &match) != ROUTE_MATCH_OK || match.target != r)
            continue;
        if (r->composite != NULL)
            return util_error_set(err, -1,
                                  "%s: openapi.path: \"%s\" is also answered by the composite endpoint %s %s of %s; serve "
                                  "the document at another path",
                                  cfg->name, path, r->composite->method, r->composite->path, r->composite->file);
        return util_error_set(err, -1,
                              "%s: openapi.path: \"%s\" is also answered by the route %s %s of method %s; serve the document "
                              "at another path",
                              cfg->name, path, r->binding.http_method, r->binding.path, r->binding.method->full_name);
    }
    const proto_method_t *m = proto_registry_find_method(g->registry, path);
    if (m != NULL && strcmp(m->grpc_path, path) == 0 && config_grpc_service_find(cfg, m->service->full_name) != NULL)
        return util_error_set(err, -1,
                              "%s: openapi.path: \"%s\" is the gRPC path of method %s (gRPC-Web and Connect clients call "
                              "it); serve the document at another path",
                              cfg->name, path, m->full_name);
    return 0;
}

/* ---- composite endpoints ------------------------------------------------------------------- */

static int is_shaped(const aggregate_shape_t *s)
{
    return s->target != NULL || s->n_allow != 0 || s->n_deny != 0 || s->n_renames != 0;
}

static const char *output_of(const aggregate_call_t *c)
{
    return c->kind == AGGREGATE_CALL_GRPC && c->grpc_method != NULL ? c->grpc_method->output->full_name : NULL;
}

static void put_paths(util_buf_t *b, const aggregate_path_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        util_buf_printf(b, "%s`%s`", i == 0 ? "" : ", ", p[i].text);
}

/* "gRPC shop.v1.PriceService.GetPrice on upstream `price` (reply shop.v1.Price)" and how it is shaped. */
static void describe_call(util_buf_t *b, const aggregate_call_t *c)
{
    if (c->kind == AGGREGATE_CALL_GRPC)
        util_buf_printf(b, "gRPC %s on upstream `%s`", c->grpc_method != NULL ? c->grpc_method->full_name : c->grpc_method_name,
                        c->upstream);
    else
        util_buf_printf(b, "HTTP %s on upstream `%s` (its JSON reply)", c->http_method, c->upstream);
    const char *out = output_of(c);
    if (out != NULL)
        util_buf_printf(b, ", reply `%s`", out);
    const aggregate_shape_t *s = &c->shape;
    if (s->target != NULL)
        util_buf_printf(b, "; only its `%s`", s->target->text);
    if (s->n_allow != 0) {
        util_buf_puts(b, "; keeping only ");
        put_paths(b, s->allow, s->n_allow);
    }
    if (s->n_deny != 0) {
        util_buf_puts(b, "; without ");
        put_paths(b, s->deny, s->n_deny);
    }
    for (size_t i = 0; i < s->n_renames; i++)
        util_buf_printf(b, "%s`%s` renamed `%s`", i == 0 ? "; " : ", ", s->renames[i].from.text, s->renames[i].to.text);
}

/* Sets |schema| (reference stolen) at |p| below the object schema |root|, creating nested
 * object schemas; two parts at one key (deep-merged at run time) become an allOf. */
static void schema_place(json_t *root, const aggregate_path_t *p, json_t *schema)
{
    json_t *obj = root;
    for (size_t i = 0; i < p->n; i++) {
        json_t *props = json_object_get(obj, "properties");
        if (props == NULL) {
            props = json_object();
            json_object_set_new(obj, "properties", props);
        }
        json_t *cur = json_object_get(props, p->segs[i]);
        if (i + 1 == p->n) {
            if (cur != NULL)
                schema = json_pack("{s:[O,o]}", "allOf", cur, schema);
            json_object_set_new(props, p->segs[i], schema);
            return;
        }
        if (cur == NULL || json_object_get(cur, "$ref") != NULL || json_object_get(cur, "allOf") != NULL) {
            json_t *next = json_pack("{s:s}", "type", "object");
            if (cur != NULL)
                json_object_set_new(next, "allOf", json_pack("[O]", cur));
            json_object_set_new(props, p->segs[i], next);
            cur = next;
        }
        obj = cur;
    }
    json_decref(schema);
}

/* The schema of one call's part as placed (group or collection), or NULL when it merges into the root. */
static json_t *part_schema(const aggregate_call_t *c, util_buf_t *text)
{
    const aggregate_shape_t *s = &c->shape;
    const char *out = output_of(c);
    text->len = 0;
    util_buf_printf(text, "From call `%s`: ", c->name);
    describe_call(text, c);
    util_buf_puts(text, c->required ? "." : ". Optional: absent when that call fails.");
    json_t *schema;
    if (out != NULL && !is_shaped(s) && s->collection == NULL) {
        schema = json_pack("{s:s}", "$ref", "");
        util_buf_t ref = UTIL_BUF_INIT;
        util_buf_printf(&ref, "#/components/schemas/%s", out);
        util_buf_putc(&ref, '\0');
        json_object_set_new(schema, "$ref", json_string(util_buf_failed(&ref) ? "" : (const char *)ref.data));
        util_buf_dispose(&ref);
    } else if (s->collection != NULL) {
        schema = json_pack("{s:s}", "type", "array");
        if (s->concat)
            util_buf_puts(text, " Arrays of several calls at this key are concatenated.");
    } else {
        schema = json_object();
        if (out != NULL && s->target == NULL)
            json_object_set_new(schema, "type", json_string("object"));
    }
    util_buf_putc(text, '\0');
    if (!util_buf_failed(text))
        json_object_set_new(schema, "description", json_string((const char *)text->data));
    return schema;
}

/* The response schema of |ep|, as JSON text (malloc'ed), and its description in |desc|. */
static char *response_schema(const aggregate_endpoint_t *ep, util_buf_t *desc)
{
    json_t *root = json_pack("{s:s}", "type", "object"), *all_of = json_array();
    util_buf_t text = UTIL_BUF_INIT, merged = UTIL_BUF_INIT;
    size_t placed = 0;
    for (size_t i = 0; i < ep->n_calls; i++) {
        const aggregate_call_t *c = &ep->calls[i];
        const aggregate_shape_t *s = &c->shape;
        const aggregate_path_t *at = s->collection != NULL ? s->collection : s->group;
        if (at != NULL) {
            schema_place(root, at, part_schema(c, &text));
            placed++;
            continue;
        }
        const char *out = output_of(c);
        if (out != NULL && !is_shaped(s)) {
            char ref[512];
            snprintf(ref, sizeof(ref), "#/components/schemas/%s", out);
            json_array_append_new(all_of, json_pack("{s:s}", "$ref", ref));
        }
        util_buf_printf(&merged, "\n- `%s`%s: ", c->name, c->required ? "" : " (optional)");
        describe_call(&merged, c);
    }
    if (json_array_size(all_of) != 0)
        json_object_set(root, "allOf", all_of);
    if (ep->meta_field != NULL) {
        json_t *meta = json_pack("{s:s, s:s, s:o, s:[], s:b}", "type", "object", "description",
                                 "The status of each call: `ok`, `error: <why>`, `timeout`, `skipped` (not started: a "
                                 "call it needs failed) or `cancelled` (abandoned when a required call failed).",
                                 "properties", json_object(), "required", "additionalProperties", 0);
        for (size_t i = 0; i < ep->n_calls; i++) {
            json_object_set_new(json_object_get(meta, "properties"), ep->calls[i].name, json_pack("{s:s}", "type", "string"));
            json_array_append_new(json_object_get(meta, "required"), json_string(ep->calls[i].name));
        }
        json_t *props = json_object_get(root, "properties");
        if (props == NULL) {
            props = json_object();
            json_object_set_new(root, "properties", props);
        }
        json_object_set_new(props, ep->meta_field, meta);
        json_object_set_new(root, "required", json_pack("[s]", ep->meta_field));
    }

    util_buf_printf(desc,
                    "One request, answered by %zu backend call%s run in parallel (a call waits only for the calls "
                    "its templates read) and merged into one JSON object.",
                    ep->n_calls, ep->n_calls == 1 ? "" : "s");
    if (merged.len != 0) {
        util_buf_puts(desc, "\n\nMerged into the top level (members known only from the backends' replies):");
        util_buf_append(desc, merged.data, merged.len);
    }
    if (placed != 0)
        util_buf_printf(desc, "\n\n%zu call%s placed under %s own key%s: see the response schema.", placed,
                        placed == 1 ? " is" : "s are", placed == 1 ? "its" : "their", placed == 1 ? "" : "s");
    if (ep->meta_header != NULL)
        util_buf_printf(desc, "\n\nThe `%s` response header lists each call's status (`name=ok, other=timeout`).", ep->meta_header);
    if (ep->meta_field != NULL)
        util_buf_printf(desc, "%sThe `%s` member holds each call's full status.", ep->meta_header != NULL ? " " : "\n\n",
                        ep->meta_field);
    util_buf_puts(desc, " When a required call fails, the answer is an error naming it: its 4xx passed through, 502 when "
                        "its backend failed, 504 when it timed out.");

    char *out = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(all_of);
    json_decref(root);
    util_buf_dispose(&text);
    util_buf_dispose(&merged);
    return out;
}

/* Builds the openapi_composite_t of |ep|; strings live in |a|. Returns 0, or -1 out of memory. */
static int composite_of(const aggregate_endpoint_t *ep, util_arena_t *a, openapi_composite_t *c)
{
    memset(c, 0, sizeof(*c));
    c->method = ep->method;
    c->path = ep->path;
    util_buf_t b = UTIL_BUF_INIT, desc = UTIL_BUF_INIT;
    util_buf_printf(&b, "Composite of %zu call%s:", ep->n_calls, ep->n_calls == 1 ? "" : "s");
    for (size_t i = 0; i < ep->n_calls; i++)
        util_buf_printf(&b, "%s %s", i == 0 ? "" : ",", ep->calls[i].name);
    util_buf_putc(&b, '\0');
    c->summary = util_buf_failed(&b) ? NULL : util_arena_strdup(a, (const char *)b.data);

    char *schema = response_schema(ep, &desc);
    c->response_schema = schema != NULL ? util_arena_strdup(a, schema) : NULL;
    free(schema);

    aggregate_input_t inputs[MAX_INPUTS];
    size_t n = aggregate_endpoint_inputs(ep, inputs, MAX_INPUTS);
    if (n > MAX_INPUTS)
        n = MAX_INPUTS;
    const char **query = util_arena_alloc(a, (n ? n : 1) * sizeof(*query));
    size_t n_headers = 0;
    for (size_t i = 0; query != NULL && i < n; i++) {
        if (inputs[i].kind == AGGREGATE_INPUT_QUERY)
            query[c->n_query_params++] = inputs[i].name;
        else if (inputs[i].kind == AGGREGATE_INPUT_HEADER)
            util_buf_printf(&desc, "%s`%s`", n_headers++ == 0 ? "\n\nRequest headers passed on to the calls: " : ", ",
                            inputs[i].name);
        else if (inputs[i].kind == AGGREGATE_INPUT_BODY)
            c->request_schema = "{\"description\": \"A JSON document: the calls' templates read values from it.\"}";
    }
    c->query_params = query;
    util_buf_putc(&desc, '\0');
    c->description = util_buf_failed(&desc) ? NULL : util_arena_strdup(a, (const char *)desc.data);
    int rc = query == NULL || c->summary == NULL || c->description == NULL || c->response_schema == NULL ? -1 : 0;
    util_buf_dispose(&b);
    util_buf_dispose(&desc);
    return rc;
}

/* ---- building ------------------------------------------------------------------------------- */

static void etag_of(apidocs_t *d)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a: a cache validator, not a security property */
    for (size_t i = 0; i < d->len; i++)
        h = (h ^ (uint8_t)d->doc[i]) * 1099511628211ull;
    snprintf(d->etag, sizeof(d->etag), "\"%016llx\"", (unsigned long long)h);
}

apidocs_t *apidocs_build(const gateway_t *g, util_error_t *err)
{
    const config_t *cfg = g->config;
    const config_openapi_t *o = cfg->openapi;
    if (o == NULL) {
        util_error_set(err, -1, "%s: no \"openapi\" section", cfg->name);
        return NULL;
    }
    if (check_collisions(g, o->path, err) != 0)
        return NULL;

    apidocs_t *d = calloc(1, sizeof(*d));
    openapi_docs_t *docs = openapi_docs_new();
    const binding_rule_t **bindings = calloc(g->n_routes ? g->n_routes : 1, sizeof(*bindings));
    openapi_composite_t *composites = calloc(g->n_routes ? g->n_routes : 1, sizeof(*composites));
    util_arena_t arena;
    util_arena_init(&arena);
    util_buf_t out = UTIL_BUF_INIT;
    if (d == NULL || docs == NULL || bindings == NULL || composites == NULL) {
        util_error_set(err, -1, "out of memory");
        goto fail;
    }
    d->path = o->path;
    d->path_len = strlen(o->path);
    for (size_t i = 0; i < cfg->n_descriptors; i++) {
        if (openapi_docs_add_file(docs, cfg->descriptors[i], err) != 0) {
            util_error_prefix(err, "%s: openapi: descriptors[%zu]", cfg->name, i);
            goto fail;
        }
    }
    for (size_t i = 0; i < g->n_routes; i++) {
        const gateway_route_t *r = &g->route_list[i];
        if (r->composite == NULL)
            bindings[d->n_operations++] = &r->binding;
        else if (composite_of(r->composite, &arena, &composites[d->n_composites++]) != 0) {
            util_error_set(err, -1, "out of memory");
            goto fail;
        }
    }
    /* one naming for the whole document: proto names only when every service prints them */
    int proto_names = cfg->n_grpc_services > 0;
    for (size_t i = 0; i < cfg->n_grpc_services; i++)
        proto_names &= cfg->grpc_services[i].json.proto_names != 0;
    openapi_options_t opt = {.title = o->title,
                             .version = o->version,
                             .description = o->description,
                             .servers = o->servers,
                             .n_servers = o->n_servers,
                             .proto_names = proto_names};
    if (openapi_render(g->registry, docs, bindings, d->n_operations, composites, d->n_composites, &opt, &out, err) != 0) {
        util_error_prefix(err, "%s: openapi", cfg->name);
        goto fail;
    }
    d->len = out.len;
    d->doc = (char *)util_buf_release(&out, &d->len);
    if (d->doc == NULL && d->len != 0) {
        util_error_set(err, -1, "out of memory");
        goto fail;
    }
    etag_of(d);
    openapi_docs_free(docs);
    free(bindings);
    free(composites);
    util_arena_dispose(&arena);
    return d;
fail:
    util_buf_dispose(&out);
    openapi_docs_free(docs);
    free(bindings);
    free(composites);
    util_arena_dispose(&arena);
    apidocs_free(d);
    return NULL;
}

void apidocs_free(apidocs_t *d)
{
    if (d == NULL)
        return;
    free(d->doc);
    free(d);
}

const char *apidocs_path(const apidocs_t *d)
{
    return d->path;
}

const char *apidocs_document(const apidocs_t *d, size_t *len)
{
    *len = d->len;
    return d->doc;
}

void apidocs_print(const apidocs_t *d, FILE *out)
{
    fprintf(out, "GET %s -> OpenAPI 3.1 document (%zu operation%s, %zu composite endpoint%s, %zu bytes)\n", d->path,
            d->n_operations, d->n_operations == 1 ? "" : "s", d->n_composites, d->n_composites == 1 ? "" : "s", d->len);
}

/* ---- serving ------------------------------------------------------------------------------- */

/* Non-zero when the If-None-Match list |v| has |etag| (or is "*"). */
static int etag_matches(const h2o_iovec_t *v, const char *etag)
{
    size_t el = strlen(etag);
    for (size_t i = 0; i < v->len;) {
        while (i < v->len && (v->base[i] == ' ' || v->base[i] == ','))
            i++;
        size_t s = i;
        while (i < v->len && v->base[i] != ',')
            i++;
        size_t e = i;
        while (e > s && v->base[e - 1] == ' ')
            e--;
        const char *t = v->base + s;
        size_t tl = e - s;
        if (tl >= 2 && t[0] == 'W' && t[1] == '/') { /* weak comparison, as If-None-Match asks */
            t += 2;
            tl -= 2;
        }
        if ((tl == 1 && t[0] == '*') || (tl == el && memcmp(t, etag, el) == 0))
            return 1;
    }
    return 0;
}

int apidocs_on_req(const apidocs_t *d, h2o_req_t *req)
{
    size_t path_len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    if (path_len != d->path_len || memcmp(req->path.base, d->path, path_len) != 0)
        return -1;
    int head = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    if (!head && !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"))) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET, HEAD"));
        http_error_sendf(req, 405, "method %.*s is not allowed for %s (allowed: GET, HEAD)",
                         (int)(req->method.len > 20 ? 20 : req->method.len), req->method.base, d->path);
        return 0;
    }
    http_worker_track_request(http_worker_current(), req);
    static h2o_generator_t generator = {NULL, NULL};
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ETAG, NULL, d->etag, strlen(d->etag));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-cache"));
    ssize_t inm = h2o_find_header(&req->headers, H2O_TOKEN_IF_NONE_MATCH, -1);
    if (inm >= 0 && etag_matches(&req->headers.entries[inm].value, d->etag)) {
        req->res.status = 304;
        req->res.reason = "Not Modified";
        h2o_start_response(req, &generator);
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
        return 0;
    }
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = d->len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_start_response(req, &generator);
    /* the document outlives every request (the gateway does): h2o sends it without a copy */
    h2o_iovec_t body = h2o_iovec_init(d->doc, d->len);
    h2o_send(req, &body, head ? 0 : 1, H2O_SEND_STATE_FINAL);
    return 0;
}
