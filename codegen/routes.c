/*
 * routes.c — protoc-gen-portico's routes: every HTTP binding of the generated files, checked
 * at generation time with errors that point at the .proto source, and the transcoding
 * table written from them; see codegen.h.
 *
 * The checks are the gateway's own (path_template_parse, binding_rule_init, the route
 * table's ambiguity check at compile), so that what generates cleanly also loads cleanly.
 * Path variables, body and response_body are first checked here with messages that say
 * which part of a field path is wrong and why; binding_rule_init then runs as the final
 * word. Ambiguity is found by compiling the whole table; only when that fails are the
 * routes compiled in pairs, to name the two bindings that collide.
 */
#include "codegen.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "transcode/path_template.h"
#include "transcode/route_table.h"

#define MAX_ERRORS 100

typedef struct collector {
    const proto_registry_t *r;
    const openapi_docs_t *docs;
    codegen_routes_t *out;
    util_buf_t *errors;
    int n_errors;
    int nomem;
} collector_t;

static void location_prefix(util_buf_t *b, const openapi_location_t *l)
{
    if (l->file != NULL && l->line > 0)
        util_buf_printf(b, "%s:%d:%d: ", l->file, l->line, l->col);
    else if (l->file != NULL)
        util_buf_printf(b, "%s: ", l->file);
}

static void report(collector_t *c, const openapi_location_t *where, const proto_method_t *m, const char *http_method,
                   const char *path, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void report(collector_t *c, const openapi_location_t *where, const proto_method_t *m, const char *http_method,
                   const char *path, const char *fmt, ...)
{
    if (++c->n_errors > MAX_ERRORS)
        return;
    location_prefix(c->errors, where);
    util_buf_printf(c->errors, "method %s: ", m->full_name);
    if (http_method != NULL)
        util_buf_printf(c->errors, "%s \"%s\": ", http_method, path);
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    util_buf_puts(c->errors, msg);
    util_buf_putc(c->errors, '\n');
}


/* Checks one path variable's field path; returns 0 or -1 after reporting. */
static int check_variable(collector_t *c, const codegen_route_t *rt, const char *fp)
{
    const proto_method_t *m = rt->binding.method;
    const char *hm = rt->binding.http_method, *path = rt->rule->path;
    const proto_message_t *msg = m->input;
    const char *p = fp;
    for (;;) {
        const char *dot = strchr(p, '.');
        int n = dot ? (int)(dot - p) : (int)strlen(p);
        const proto_field_t *f = proto_message_field_by_name(msg, p, (size_t)n);
        if (f == NULL) {
            report(c, &rt->where, m, hm, path, "path variable \"%s\": \"%.*s\" is not a field of %s", fp, n, p, msg->full_name);
            return -1;
        }
        if (dot != NULL) {
            if (f->repeated) {
                report(c, &rt->where, m, hm, path,
                       "path variable \"%s\": \"%.*s\" is a repeated field of %s; a path variable cannot go through it", fp, n, p,
                       msg->full_name);
                return -1;
            }
            if (f->message == NULL || f->message->wkt != PROTO_WKT_NONE) {
                report(c, &rt->where, m, hm, path, "path variable \"%s\": \"%.*s\" (%s) is not a message with fields", fp, n, p,
                       f->message != NULL ? f->message->full_name : codec_type_name(f->type));
                return -1;
            }
            msg = f->message;
            p = dot + 1;
            continue;
        }
        if (f->is_map || f->repeated) {
            report(c, &rt->where, m, hm, path,
                   "path variable \"%s\" names a %s field of %s; path variables bind singular scalar fields", fp,
                   f->is_map ? "map" : "repeated", msg->full_name);
            return -1;
        }
        if (f->message != NULL && !proto_message_is_text_wkt(f->message)) {
            report(c, &rt->where, m, hm, path,
                   "path variable \"%s\" names a message field (%s) of %s; path variables bind singular scalar fields", fp,
                   f->message->full_name, msg->full_name);
            return -1;
        }
        return 0;
    }
}

/* Checks body or response_body |name| against |msg|; returns 0 or -1 after reporting. */
static int check_top_field(collector_t *c, const codegen_route_t *rt, const char *what, const char *name,
                           const proto_message_t *msg)
{
    if (name[0] == '\0' || (strcmp(what, "body") == 0 && strcmp(name, "*") == 0))
        return 0;
    const proto_field_t *f = proto_message_field_by_name(msg, name, strlen(name));
    if (f == NULL || strcmp(f->name, name) != 0) {
        if (f != NULL)
            report(c, &rt->where, rt->binding.method, rt->binding.http_method, rt->rule->path,
                   "%s \"%s\" must be written with the field's proto name \"%s\"", what, name, f->name);
        else
            report(c, &rt->where, rt->binding.method, rt->binding.http_method, rt->rule->path, "%s \"%s\" is not a field of %s%s",
                   what, name, msg->full_name, strchr(name, '.') != NULL ? " (it must name a top-level field)" : "");
        return -1;
    }
    return 0;
}

/* RFC 9110 token, as the route table requires; "*" is any method. */
static int is_method_token(const char *m)
{
    if (strcmp(m, "*") == 0)
        return 1;
    if (m[0] == '\0')
        return 0;
    for (const char *p = m; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("!#$%&'*+-.^_`|~", *p) != NULL))
            return 0;
    return 1;
}

static codegen_route_t *push_route(collector_t *c)
{
    codegen_routes_t *o = c->out;
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 32;
        codegen_route_t *items = realloc(o->items, cap * sizeof(*items));
        if (items == NULL) {
            c->nomem = 1;
            return NULL;
        }
        o->items = items;
        o->cap = cap;
    }
    codegen_route_t *rt = &o->items[o->n];
    memset(rt, 0, sizeof(*rt));
    return rt;
}

static void add_rule(collector_t *c, const proto_method_t *m, const proto_http_rule_t *rule, int origin,
                     const openapi_location_t *where)
{
    codegen_route_t *rt = push_route(c);
    if (rt == NULL)
        return;
    rt->rule = rule;
    rt->origin = origin;
    rt->where = *where;
    rt->binding.method = m;
    rt->binding.http_method = binding_http_method(rule->method);
    rt->binding.path = rule->path;
    const char *hm = rt->binding.http_method;

    if (!is_method_token(hm)) {
        report(c, &rt->where, m, NULL, NULL,
               "custom method \"%s\" is neither an HTTP method token (letters, digits, !#$%%&'*+-.^_`|~) nor \"*\"", hm);
        return;
    }
    util_error_t err = {0};
    path_template_t *t = NULL;
    if (path_template_parse(rule->path, strlen(rule->path), &t, &err) != 0) {
        /* the parser's message quotes the template and names the column */
        report(c, &rt->where, m, NULL, NULL, "%s", err.message);
        return;
    }
    int bad = 0;
    for (size_t i = 0; i < t->nvars; i++)
        if (check_variable(c, rt, t->vars[i].field_path) != 0)
            bad = 1;
    path_template_free(t);
    if (check_top_field(c, rt, "body", rule->body, m->input) != 0)
        bad = 1;
    if (check_top_field(c, rt, "response_body", rule->response_body, m->output) != 0)
        bad = 1;
    if (bad)
        return;
    if (binding_rule_init(&rt->binding, c->r, m, hm, rule, &err) != 0) {
        report(c, &rt->where, m, NULL, NULL, "%s", err.message);
        return;
    }
    rt->binding.auto_mapped = origin == ROUTES_FILE_ORIGIN_AUTO;
    c->out->n++;
}

static int in_files(const char *name, const char *const *files, size_t n_files)
{
    for (size_t i = 0; i < n_files; i++)
        if (strcmp(files[i], name) == 0)
            return 1;
    return 0;
}

/* Names the routes that collide, compiling them in pairs; called when the whole table is ambiguous. */
static void report_collisions(collector_t *c)
{
    codegen_routes_t *o = c->out;
    for (size_t j = 1; j < o->n; j++) {
        const codegen_route_t *b = &o->items[j];
        for (size_t i = 0; i < j; i++) {
            const codegen_route_t *a = &o->items[i];
            if (strcmp(a->binding.http_method, b->binding.http_method) != 0)
                continue;
            route_table_t *t = route_table_new();
            util_error_t err = {0};
            int rc = t == NULL ? -1
                     : (route_table_add(t, a->binding.http_method, a->binding.path, (void *)a, &err) == 0 &&
                        route_table_add(t, b->binding.http_method, b->binding.path, (void *)b, &err) == 0)
                         ? route_table_compile(t, &err)
                         : -1;
            route_table_free(t);
            if (t == NULL) {
                c->nomem = 1;
                return;
            }
            if (rc == 0 || err.code != ROUTE_TABLE_ERR_AMBIGUOUS)
                continue;
            char other[512] = "";
            if (a->where.file != NULL && a->where.line > 0)
                snprintf(other, sizeof(other), " (%s:%d:%d)", a->where.file, a->where.line, a->where.col);
            report(c, &b->where, b->binding.method, b->binding.http_method, b->binding.path,
                   "collides with %s \"%s\" of method %s%s: same method, same path shape and same verb, so no request "
                   "could tell them apart",
                   a->binding.http_method, a->binding.path, a->binding.method->full_name, other);
            break;
        }
    }
}

int codegen_routes_collect(codegen_routes_t *out, const proto_registry_t *r, const openapi_docs_t *docs, const char *const *files,
                           size_t n_files, int auto_mapping, util_buf_t *errors)
{
    memset(out, 0, sizeof(*out));
    collector_t c = {.r = r, .docs = docs, .out = out, .errors = errors};

    /* the auto rules must not move once routes point at them: count them first */
    size_t n_auto = 0;
    for (size_t si = 0; si < proto_registry_n_services(r); si++) {
        const proto_service_t *s = proto_registry_service_at(r, si);
        if (in_files(s->file->name, files, n_files))
            for (size_t mi = 0; mi < s->n_methods; mi++)
                n_auto += s->methods[mi].http == NULL;
    }
    if (auto_mapping && n_auto != 0 && (out->auto_rules = calloc(n_auto, sizeof(*out->auto_rules))) == NULL)
        return -1;

    for (size_t si = 0; si < proto_registry_n_services(r) && !c.nomem; si++) {
        const proto_service_t *s = proto_registry_service_at(r, si);
        if (!in_files(s->file->name, files, n_files))
            continue;
        for (size_t mi = 0; mi < s->n_methods; mi++) {
            const proto_method_t *m = &s->methods[mi];
            const openapi_element_doc_t *d = openapi_docs_find(docs, OPENAPI_ELEMENT_METHOD, m->full_name);
            openapi_location_t where = {.file = s->file->name};
            if (d != NULL)
                where = m->http != NULL ? d->http : d->where;
            if (m->http != NULL) {
                add_rule(&c, m, m->http, ROUTES_FILE_ORIGIN_RULE, &where);
                for (size_t k = 0; k < m->http->n_additional; k++)
                    add_rule(&c, m, &m->http->additional[k], (int)k, &where);
            } else if (auto_mapping) {
                proto_http_rule_t *rule = &out->auto_rules[out->n_auto++];
                rule->method = "POST";
                rule->path = m->grpc_path;
                rule->body = "*";
                rule->response_body = "";
                add_rule(&c, m, rule, ROUTES_FILE_ORIGIN_AUTO, &where);
            }
        }
    }
    if (c.nomem)
        return -1;

    /* collisions: the gateway's own check over the whole table */
    route_table_t *t = route_table_new();
    if (t == NULL)
        return -1;
    util_error_t err = {0};
    int rc = 0;
    for (size_t i = 0; i < out->n && rc == 0; i++) {
        codegen_route_t *rt = &out->items[i];
        if (route_table_add(t, rt->binding.http_method, rt->binding.path, rt, &err) != 0) {
            report(&c, &rt->where, rt->binding.method, rt->binding.http_method, rt->binding.path, "%s", err.message);
            rc = -1;
        }
    }
    if (rc == 0 && route_table_compile(t, &err) != 0) {
        if (err.code == ROUTE_TABLE_ERR_AMBIGUOUS)
            report_collisions(&c);
        else
            c.nomem = 1;
    }
    route_table_free(t);
    if (c.nomem || util_buf_failed(errors))
        return -1;
    if (c.n_errors > MAX_ERRORS)
        util_buf_printf(errors, "... and %d more errors\n", c.n_errors - MAX_ERRORS);
    return c.n_errors;
}

void codegen_routes_dispose(codegen_routes_t *routes)
{
    free(routes->items);
    free(routes->auto_rules);
    memset(routes, 0, sizeof(*routes));
}

static routes_file_streaming_t streaming_kind(const proto_method_t *m)
{
    if (m->client_streaming && m->server_streaming)
        return ROUTES_FILE_BIDI;
    if (m->client_streaming)
        return ROUTES_FILE_CLIENT;
    return m->server_streaming ? ROUTES_FILE_SERVER : ROUTES_FILE_UNARY;
}

void codegen_routes_write(const codegen_routes_t *routes, const char *const *files, size_t n_files, const char *set_name,
                          util_buf_t *out)
{
    util_buf_printf(out, "%s\n", ROUTES_FILE_MAGIC);
    util_buf_printf(out, "# Generated by protoc-gen-portico from");
    for (size_t i = 0; i < n_files; i++)
        util_buf_printf(out, " %s", files[i]);
    util_buf_printf(out, ". Do not edit.\n");
    util_buf_printf(out, "%s%s\n", ROUTES_FILE_DESCRIPTOR_SET, set_name);
    util_buf_printf(out, "%s\n", ROUTES_FILE_COLUMNS);
    for (size_t i = 0; i < routes->n; i++) {
        const codegen_route_t *rt = &routes->items[i];
        const binding_rule_t *b = &rt->binding;
        const proto_method_t *m = b->method;
        routes_file_entry_t e = {
            .verb = b->http_method,
            .path = b->path,
            .body = rt->rule->body,
            .response_body = rt->rule->response_body,
            .input = m->input->full_name,
            .output = m->output->full_name,
            .streaming = streaming_kind(m),
            .method = m->full_name,
            .origin = rt->origin,
        };
        routes_file_write_entry(out, &e);
    }
}
