/*
 * openapi.c — the OpenAPI 3.1 renderer: paths and operations from resolved bindings,
 * component schemas from the descriptor registry under the proto3 JSON mapping; see
 * openapi.h for the mapping and the naming rules.
 *
 * The document is built as a jansson tree (jansson keeps object keys in insertion order,
 * which makes the output stable) and dumped once at the end. Component schemas are emitted
 * only for what the operations reach: every $ref to a message or enum queues it, and the
 * queue is drained after the paths are done; the schemas are then sorted by name so that
 * adding a message to a .proto file adds lines to the document instead of moving them.
 */
#include "openapi/openapi.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "transcode/path_template.h"
#include "util/arena.h"
#include "util/strmap.h"
#include "util/utf8.h"

#define SCHEMA_PREFIX "#/components/schemas/"
#define STATUS_NAME "google.rpc.Status"
#define MAX_QUERY_DEPTH 8
#define MAX_FIELD_PATH 32

typedef struct queued {
    const char *name;
    const proto_message_t *message; /* one of the two */
    const proto_enum_t *enum_type;
} queued_t;

typedef struct render {
    const proto_registry_t *reg;
    const openapi_docs_t *docs;
    const openapi_options_t *opt;
    util_arena_t arena;   /* keys of the maps below */
    util_strmap_t needed; /* schema name -> queued_t */
    queued_t **queue;
    size_t n_queue, cap_queue;
    util_strmap_t op_ids;   /* used operationIds */
    util_strmap_t path_ops; /* "get /v1/{name}" already used */
    util_strmap_t tag_of;   /* service full name -> tag name */
    util_strmap_t tag_used; /* tag name -> service full name */
    json_t *tags;           /* top-level tags array */
    int nomem;
} render_t;

/* ------------------------------------------------------------------------------------- */
/* jansson helpers: every constructor may return NULL; the render notes it once and goes on */

static json_t *jstr(render_t *R, const char *s)
{
    if (s == NULL)
        s = ""; /* a caller's NULL name or description: an empty string, not a crash */
    size_t len = strlen(s);
    json_t *j;
    if (util_utf8_valid((const uint8_t *)s, len)) {
        j = json_stringn(s, len);
    } else {
        /* comments are not checked by protoc: replace bytes that are not UTF-8 */
        char *copy = strdup(s);
        if (copy == NULL) {
            R->nomem = 1;
            return NULL;
        }
        for (size_t i = 0; i < len;) {
            size_t ok = util_utf8_valid_prefix((const uint8_t *)copy + i, len - i);
            i += ok;
            if (i < len)
                copy[i++] = '?';
        }
        j = json_stringn(copy, len);
        free(copy);
    }
    if (j == NULL)
        R->nomem = 1;
    return j;
}

static void jset(render_t *R, json_t *obj, const char *key, json_t *v)
{
    if (obj == NULL || v == NULL || json_object_set_new(obj, key, v) != 0) {
        json_decref(v);
        R->nomem = 1;
    }
}

static void jset_str(render_t *R, json_t *obj, const char *key, const char *s)
{
    jset(R, obj, key, jstr(R, s));
}

static void jpush(render_t *R, json_t *arr, json_t *v)
{
    if (arr == NULL || v == NULL || json_array_append_new(arr, v) != 0) {
        json_decref(v);
        R->nomem = 1;
    }
}

static json_t *jobj(render_t *R)
{
    json_t *o = json_object();
    if (o == NULL)
        R->nomem = 1;
    return o;
}

static json_t *jarr(render_t *R)
{
    json_t *a = json_array();
    if (a == NULL)
        R->nomem = 1;
    return a;
}

/* {"type": type} plus an optional format. */
static json_t *jtype(render_t *R, const char *type, const char *format)
{
    json_t *o = jobj(R);
    jset_str(R, o, "type", type);
    if (format != NULL)
        jset_str(R, o, "format", format);
    return o;
}

/* {"type": [type, "null"]} plus an optional format: the wrappers. */
static json_t *jtype_null(render_t *R, const char *type, const char *format)
{
    json_t *o = jobj(R), *t = jarr(R);
    jpush(R, t, jstr(R, type));
    jpush(R, t, jstr(R, "null"));
    jset(R, o, "type", t);
    if (format != NULL)
        jset_str(R, o, "format", format);
    return o;
}

static char *rstrdup(render_t *R, const char *s)
{
    char *c = util_arena_strdup(&R->arena, s);
    if (c == NULL)
        R->nomem = 1;
    return c;
}

/* ------------------------------------------------------------------------------------- */
/* schemas */

static const char *elem_comment(const render_t *R, openapi_element_kind_t kind, const char *name)
{
    const openapi_element_doc_t *d = openapi_docs_find(R->docs, kind, name);
    return d != NULL ? d->comment : NULL;
}

static unsigned elem_flags(const render_t *R, openapi_element_kind_t kind, const char *name)
{
    const openapi_element_doc_t *d = openapi_docs_find(R->docs, kind, name);
    return d != NULL ? d->flags : 0;
}

/* Field docs are keyed "pkg.Msg.field". */
static const openapi_element_doc_t *field_doc(const render_t *R, const proto_field_t *f)
{
    if (R->docs == NULL)
        return NULL;
    char stack[512];
    int n = snprintf(stack, sizeof(stack), "%s.%s", f->containing->full_name, f->name);
    if (n < 0 || (size_t)n >= sizeof(stack))
        return NULL;
    return openapi_docs_find(R->docs, OPENAPI_ELEMENT_FIELD, stack);
}

static void enqueue(render_t *R, const char *name, const proto_message_t *m, const proto_enum_t *e)
{
    if (util_strmap_get(&R->needed, name, strlen(name)) != NULL)
        return;
    queued_t *q = util_arena_alloc(&R->arena, sizeof(*q));
    if (q == NULL || R->nomem) {
        R->nomem = 1;
        return;
    }
    q->name = name; /* registry names outlive the render */
    q->message = m;
    q->enum_type = e;
    if (R->n_queue == R->cap_queue) {
        size_t cap = R->cap_queue ? R->cap_queue * 2 : 64;
        queued_t **nq = realloc(R->queue, cap * sizeof(*nq));
        if (nq == NULL) {
            R->nomem = 1;
            return;
        }
        R->queue = nq;
        R->cap_queue = cap;
    }
    if (util_strmap_put(&R->needed, name, q) != 0) {
        R->nomem = 1;
        return;
    }
    R->queue[R->n_queue++] = q;
}

static json_t *jref(render_t *R, const char *name)
{
    size_t n = strlen(SCHEMA_PREFIX) + strlen(name) + 1;
    char *ref = malloc(n);
    if (ref == NULL) {
        R->nomem = 1;
        return NULL;
    }
    snprintf(ref, n, "%s%s", SCHEMA_PREFIX, name);
    json_t *o = jobj(R);
    jset_str(R, o, "$ref", ref);
    free(ref);
    return o;
}

static json_t *scalar_schema(render_t *R, proto_type_t t)
{
    switch (t) {
    case PROTO_TYPE_DOUBLE:
        return jtype(R, "number", "double");
    case PROTO_TYPE_FLOAT:
        return jtype(R, "number", "float");
    case PROTO_TYPE_INT64:
    case PROTO_TYPE_SINT64:
    case PROTO_TYPE_SFIXED64:
        return jtype(R, "string", "int64");
    case PROTO_TYPE_UINT64:
    case PROTO_TYPE_FIXED64:
        return jtype(R, "string", "uint64");
    case PROTO_TYPE_INT32:
    case PROTO_TYPE_SINT32:
    case PROTO_TYPE_SFIXED32:
        return jtype(R, "integer", "int32");
    case PROTO_TYPE_UINT32:
    case PROTO_TYPE_FIXED32:
        return jtype(R, "integer", "uint32");
    case PROTO_TYPE_BOOL:
        return jtype(R, "boolean", NULL);
    case PROTO_TYPE_BYTES: {
        json_t *o = jtype(R, "string", "byte");
        jset_str(R, o, "contentEncoding", "base64");
        return o;
    }
    case PROTO_TYPE_STRING:
    default:
        return jtype(R, "string", NULL);
    }
}

static json_t *any_schema(render_t *R)
{
    json_t *o = jtype(R, "object", NULL), *props = jobj(R), *req = jarr(R);
    json_t *t = jtype(R, "string", NULL);
    jset_str(R, t, "description", "The type of the embedded message, e.g. \"type.googleapis.com/google.rpc.ErrorInfo\".");
    jset(R, props, "@type", t);
    jset(R, o, "properties", props);
    jpush(R, req, jstr(R, "@type"));
    jset(R, o, "required", req);
    jset(R, o, "additionalProperties", json_true());
    jset_str(R, o, "description", "Any message, as its JSON form plus \"@type\" naming its type.");
    return o;
}

/* The JSON forms of the well-known types (proto3 JSON mapping). */
static json_t *wkt_schema(render_t *R, const proto_message_t *m)
{
    json_t *o;
    switch (m->wkt) {
    case PROTO_WKT_TIMESTAMP:
        return jtype(R, "string", "date-time");
    case PROTO_WKT_DURATION:
        o = jtype(R, "string", NULL);
        jset_str(R, o, "pattern", "^-?[0-9]+(\\.[0-9]{1,9})?s$");
        jset_str(R, o, "description", "A duration in seconds with up to nine fractional digits, ending in \"s\": \"1.5s\".");
        return o;
    case PROTO_WKT_FIELD_MASK:
        o = jtype(R, "string", NULL);
        jset_str(R, o, "description",
                 "A field mask: comma-separated field paths in lowerCamelCase, e.g. \"displayName,address.city\".");
        return o;
    case PROTO_WKT_STRUCT:
        o = jtype(R, "object", NULL);
        jset(R, o, "additionalProperties", json_true());
        return o;
    case PROTO_WKT_VALUE:
        o = jobj(R);
        jset_str(R, o, "description", "Any JSON value.");
        return o;
    case PROTO_WKT_LIST_VALUE:
        o = jtype(R, "array", NULL);
        jset(R, o, "items", jobj(R));
        return o;
    case PROTO_WKT_EMPTY:
        return jtype(R, "object", NULL);
    case PROTO_WKT_ANY:
        return any_schema(R);
    case PROTO_WKT_DOUBLE_VALUE:
        return jtype_null(R, "number", "double");
    case PROTO_WKT_FLOAT_VALUE:
        return jtype_null(R, "number", "float");
    case PROTO_WKT_INT64_VALUE:
        return jtype_null(R, "string", "int64");
    case PROTO_WKT_UINT64_VALUE:
        return jtype_null(R, "string", "uint64");
    case PROTO_WKT_INT32_VALUE:
        return jtype_null(R, "integer", "int32");
    case PROTO_WKT_UINT32_VALUE:
        return jtype_null(R, "integer", "uint32");
    case PROTO_WKT_BOOL_VALUE:
        return jtype_null(R, "boolean", NULL);
    case PROTO_WKT_STRING_VALUE:
        return jtype_null(R, "string", NULL);
    case PROTO_WKT_BYTES_VALUE:
        o = jtype_null(R, "string", "byte");
        jset_str(R, o, "contentEncoding", "base64");
        return o;
    default:
        return jtype(R, "object", NULL);
    }
}

/* Schema of one message type as a value: a WKT inline, any other message by reference. */
static json_t *message_ref(render_t *R, const proto_message_t *m)
{
    if (m->wkt != PROTO_WKT_NONE)
        return wkt_schema(R, m);
    enqueue(R, m->full_name, m, NULL);
    return jref(R, m->full_name);
}

/* Schema of one value of field |f| (an element when repeated). */
static json_t *value_schema(render_t *R, const proto_field_t *f)
{
    if (f->message != NULL)
        return message_ref(R, f->message);
    if (f->enum_type != NULL) {
        if (f->enum_type->null_value)
            return jtype(R, "null", NULL);
        enqueue(R, f->enum_type->full_name, NULL, f->enum_type);
        return jref(R, f->enum_type->full_name);
    }
    return scalar_schema(R, f->type);
}

/* Schema of field |f| with its cardinality: map, array or single value, without docs. */
static json_t *field_type_schema(render_t *R, const proto_field_t *f)
{
    if (f->is_map && f->message != NULL && f->message->n_fields == 2) {
        json_t *o = jtype(R, "object", NULL);
        jset(R, o, "additionalProperties", value_schema(R, &f->message->fields[1]));
        const char *pattern = NULL;
        switch (f->message->fields[0].type) {
        case PROTO_TYPE_INT32:
        case PROTO_TYPE_INT64:
        case PROTO_TYPE_SINT32:
        case PROTO_TYPE_SINT64:
        case PROTO_TYPE_SFIXED32:
        case PROTO_TYPE_SFIXED64:
            pattern = "^-?[0-9]+$";
            break;
        case PROTO_TYPE_UINT32:
        case PROTO_TYPE_UINT64:
        case PROTO_TYPE_FIXED32:
        case PROTO_TYPE_FIXED64:
            pattern = "^[0-9]+$";
            break;
        case PROTO_TYPE_BOOL:
            pattern = "^(true|false)$";
            break;
        default:
            break;
        }
        if (pattern != NULL) {
            json_t *pn = jobj(R);
            jset_str(R, pn, "pattern", pattern);
            jset(R, o, "propertyNames", pn);
        }
        return o;
    }
    if (f->repeated) {
        json_t *o = jtype(R, "array", NULL);
        jset(R, o, "items", value_schema(R, f));
        return o;
    }
    return value_schema(R, f);
}

static const char *prop_name(const render_t *R, const proto_field_t *f)
{
    return R->opt->proto_names ? f->name : f->json_name;
}

/* "Only one of `a`, `b` may be set (oneof `value`)." for a oneof member, appended to |b|. */
static void oneof_note(const render_t *R, const proto_field_t *f, util_buf_t *b)
{
    const proto_message_t *m = f->containing;
    util_buf_printf(b, "Only one of ");
    int first = 1;
    for (size_t i = 0; i < m->n_fields; i++) {
        if (m->fields[i].oneof_index != f->oneof_index)
            continue;
        util_buf_printf(b, "%s`%s`", first ? "" : ", ", prop_name(R, &m->fields[i]));
        first = 0;
    }
    util_buf_printf(b, " may be set (oneof `%s`).", m->oneof_names[f->oneof_index]);
}

/* Adds description, readOnly/writeOnly and deprecated of field |f| to |s|. */
static void decorate_field(render_t *R, const proto_field_t *f, json_t *s)
{
    if (s == NULL)
        return;
    const openapi_element_doc_t *d = field_doc(R, f);
    util_buf_t b = UTIL_BUF_INIT;
    if (d != NULL && d->comment != NULL)
        util_buf_puts(&b, d->comment);
    if (f->oneof_index >= 0 && (size_t)f->oneof_index < f->containing->n_oneofs) {
        if (b.len != 0)
            util_buf_puts(&b, "\n\n");
        oneof_note(R, f, &b);
    }
    if (b.len != 0) {
        util_buf_putc(&b, 0);
        if (util_buf_failed(&b))
            R->nomem = 1;
        else
            jset_str(R, s, "description", (const char *)b.data);
    }
    util_buf_dispose(&b);
    if (d != NULL) {
        if (d->flags & OPENAPI_FLAG_OUTPUT_ONLY)
            jset(R, s, "readOnly", json_true());
        if (d->flags & OPENAPI_FLAG_INPUT_ONLY)
            jset(R, s, "writeOnly", json_true());
        if (d->flags & OPENAPI_FLAG_DEPRECATED)
            jset(R, s, "deprecated", json_true());
    }
}

static json_t *field_schema(render_t *R, const proto_field_t *f)
{
    json_t *s = field_type_schema(R, f);
    decorate_field(R, f, s);
    return s;
}

/* The object schema of message |m|, leaving out the top-level fields in |skip| (may be NULL). */
static json_t *message_schema(render_t *R, const proto_message_t *m, const uint8_t *skip)
{
    json_t *o = jtype(R, "object", NULL), *props = jobj(R), *req = jarr(R);
    const char *comment = elem_comment(R, OPENAPI_ELEMENT_MESSAGE, m->full_name);
    if (comment != NULL)
        jset_str(R, o, "description", comment);
    for (size_t i = 0; i < m->n_fields; i++) {
        const proto_field_t *f = &m->fields[i];
        if (skip != NULL && skip[i])
            continue;
        jset(R, props, prop_name(R, f), field_schema(R, f));
        const openapi_element_doc_t *d = field_doc(R, f);
        if (d != NULL && (d->flags & OPENAPI_FLAG_REQUIRED))
            jpush(R, req, jstr(R, prop_name(R, f)));
    }
    /* oneofs: when one member is present, the others must be absent */
    json_t *dep = jobj(R);
    for (size_t i = 0; i < m->n_fields; i++) {
        const proto_field_t *f = &m->fields[i];
        if (f->oneof_index < 0 || (skip != NULL && skip[i]))
            continue;
        json_t *others = jobj(R);
        for (size_t k = 0; k < m->n_fields; k++)
            if (k != i && m->fields[k].oneof_index == f->oneof_index && !(skip != NULL && skip[k]))
                jset(R, others, prop_name(R, &m->fields[k]), json_false());
        if (json_object_size(others) != 0) {
            json_t *s = jobj(R);
            jset(R, s, "properties", others);
            jset(R, dep, prop_name(R, f), s);
        } else {
            json_decref(others);
        }
    }
    if (json_object_size(props) != 0)
        jset(R, o, "properties", props);
    else
        json_decref(props);
    if (json_array_size(req) != 0)
        jset(R, o, "required", req);
    else
        json_decref(req);
    if (json_object_size(dep) != 0)
        jset(R, o, "dependentSchemas", dep);
    else
        json_decref(dep);
    if (elem_flags(R, OPENAPI_ELEMENT_MESSAGE, m->full_name) & OPENAPI_FLAG_DEPRECATED)
        jset(R, o, "deprecated", json_true());
    return o;
}

static json_t *enum_schema(render_t *R, const proto_enum_t *e)
{
    json_t *o = jtype(R, "string", NULL), *vals = jarr(R);
    util_buf_t b = UTIL_BUF_INIT;
    const char *comment = elem_comment(R, OPENAPI_ELEMENT_ENUM, e->full_name);
    if (comment != NULL)
        util_buf_puts(&b, comment);
    int listed = 0;
    for (size_t i = 0; i < e->n_values; i++) {
        jpush(R, vals, jstr(R, e->values[i].name));
        char key[512];
        snprintf(key, sizeof(key), "%s.%s", e->full_name, e->values[i].name);
        const char *vc = elem_comment(R, OPENAPI_ELEMENT_VALUE, key);
        if (vc == NULL)
            continue;
        if (listed)
            util_buf_putc(&b, '\n');
        else if (b.len != 0)
            util_buf_puts(&b, "\n\n");
        util_buf_printf(&b, "- `%s`: ", e->values[i].name);
        /* one bullet per value: fold the comment's lines */
        for (const char *p = vc; *p; p++)
            util_buf_putc(&b, *p == '\n' ? ' ' : (uint8_t)*p);
        listed = 1;
    }
    jset(R, o, "enum", vals);
    if (b.len != 0) {
        util_buf_putc(&b, 0);
        if (util_buf_failed(&b))
            R->nomem = 1;
        else
            jset_str(R, o, "description", (const char *)b.data);
    }
    util_buf_dispose(&b);
    return o;
}

/* google.rpc.Status written out, for registries that do not hold it. */
static json_t *status_schema(render_t *R)
{
    json_t *o = jtype(R, "object", NULL), *props = jobj(R);
    jset_str(R, o, "description", "The error model: a gRPC status code, a developer-facing message and typed details.");
    json_t *code = jtype(R, "integer", "int32");
    jset_str(R, code, "description", "The gRPC status code (google.rpc.Code), e.g. 5 for NOT_FOUND.");
    jset(R, props, "code", code);
    json_t *msg = jtype(R, "string", NULL);
    jset_str(R, msg, "description", "A developer-facing error message in English.");
    jset(R, props, "message", msg);
    json_t *details = jtype(R, "array", NULL);
    jset(R, details, "items", any_schema(R));
    jset_str(R, details, "description", "Typed error details, such as google.rpc.BadRequest.");
    jset(R, props, "details", details);
    jset(R, o, "properties", props);
    return o;
}

/* ------------------------------------------------------------------------------------- */
/* paths */

/*
 * Resolves a dotted field path (proto or JSON names, as the binding accepts) from |m|;
 * writes the proto-name path into |proto_path| (room |cap|) and returns the leaf field, or
 * NULL when a part names no field.
 */
static const proto_field_t *resolve_field_path(const proto_message_t *m, const char *path, char *proto_path, size_t cap)
{
    const proto_field_t *f = NULL;
    size_t o = 0;
    const char *p = path;
    if (cap != 0)
        proto_path[0] = '\0';
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (m == NULL || (f = proto_message_field_by_name(m, p, n)) == NULL)
            return NULL;
        int w = snprintf(proto_path + o, cap - o, "%s%s", o ? "." : "", f->name);
        if (w < 0 || (size_t)w >= cap - o)
            return NULL;
        o += (size_t)w;
        if (dot == NULL)
            return f;
        m = f->message;
        p = dot + 1;
    }
}

static const char *lower_method(const char *m)
{
    static const char *const methods[] = {"get", "put", "post", "delete", "options", "head", "patch", "trace"};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strcasecmp(m, methods[i]) == 0)
            return methods[i];
    return NULL;
}

/* Appends |s| to |b| with the ECMA-262 syntax characters escaped. */
static void regex_escape(util_buf_t *b, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (strchr("^$\\.*+?()[]{}|/", s[i]) != NULL)
            util_buf_putc(b, '\\');
        util_buf_putc(b, (uint8_t)s[i]);
    }
}

/* The `pattern` of variable |v|, or NULL for a plain single segment ({name}). Caller frees. */
static char *var_pattern(const path_template_t *t, const path_template_var_t *v)
{
    if (v->count == 1 && t->segments[v->first].kind == PATH_TEMPLATE_SEG_STAR)
        return NULL;
    util_buf_t b = UTIL_BUF_INIT;
    util_buf_putc(&b, '^');
    for (size_t i = v->first; i < v->first + v->count; i++) {
        const path_template_segment_t *s = &t->segments[i];
        if (s->kind == PATH_TEMPLATE_SEG_DSTAR) {
            util_buf_puts(&b, i == v->first ? ".*" : "(/.*)?");
            continue;
        }
        if (i != v->first)
            util_buf_puts(&b, "/");
        if (s->kind == PATH_TEMPLATE_SEG_STAR)
            util_buf_puts(&b, "[^/]+");
        else
            regex_escape(&b, s->literal, s->literal_len);
    }
    util_buf_puts(&b, "$");
    util_buf_putc(&b, 0);
    if (util_buf_failed(&b)) {
        util_buf_dispose(&b);
        return NULL;
    }
    return (char *)b.data;
}

/* Writes the OpenAPI path of |t| into |b|: variables as "{name<suffix>}", wildcards outside
 * variables as "{wildcardN}". */
static void openapi_path(const path_template_t *t, int suffix, util_buf_t *b)
{
    size_t wild = 0;
    for (size_t i = 0; i < t->nsegments;) {
        util_buf_putc(b, '/');
        const path_template_var_t *v = NULL;
        for (size_t k = 0; k < t->nvars; k++)
            if (t->vars[k].first == i)
                v = &t->vars[k];
        if (v != NULL) {
            util_buf_printf(b, "{%s", v->field_path);
            if (suffix)
                util_buf_printf(b, "_%d", suffix);
            util_buf_putc(b, '}');
            i += v->count;
            continue;
        }
        const path_template_segment_t *s = &t->segments[i++];
        if (s->kind == PATH_TEMPLATE_SEG_LITERAL)
            util_buf_append(b, s->literal, s->literal_len);
        else
            util_buf_printf(b, "{wildcard%zu}", ++wild);
    }
    if (t->nsegments == 0)
        util_buf_putc(b, '/');
    if (t->verb != NULL) {
        util_buf_putc(b, ':');
        util_buf_append(b, t->verb, t->verb_len);
    }
    util_buf_putc(b, 0);
}

/* Picks the OpenAPI path of |t| for |method|, renaming variables when the pair is taken.
 * Returns the suffix used (0 = none) and the path in |b|, or -1 on allocation failure. */
static int unique_path(render_t *R, const char *method, const path_template_t *t, util_buf_t *b)
{
    for (int suffix = 0; suffix < 1000; suffix++) {
        b->len = 0;
        util_buf_printf(b, "%s ", method);
        size_t start = b->len;
        openapi_path(t, suffix, b);
        if (util_buf_failed(b))
            return -1;
        const char *key = (const char *)b->data;
        if (util_strmap_get(&R->path_ops, key, strlen(key)) != NULL)
            continue;
        char *k = rstrdup(R, key);
        if (k == NULL || util_strmap_put(&R->path_ops, k, (void *)1) != 0)
            return -1;
        memmove(b->data, b->data + start, b->len - start);
        b->len -= start;
        return suffix;
    }
    return -1;
}

static char *unique_op_id(render_t *R, const char *base)
{
    char id[512];
    snprintf(id, sizeof(id), "%s", base);
    for (int n = 2; util_strmap_get(&R->op_ids, id, strlen(id)) != NULL; n++)
        snprintf(id, sizeof(id), "%s%d", base, n);
    char *k = rstrdup(R, id);
    if (k != NULL && util_strmap_put(&R->op_ids, k, (void *)1) != 0)
        R->nomem = 1;
    return k;
}

/* The tag of a service: its short name, or its full name when another service has the short one. */
static const char *service_tag(render_t *R, const proto_service_t *s)
{
    const char *tag = util_strmap_get(&R->tag_of, s->full_name, strlen(s->full_name));
    if (tag != NULL)
        return tag;
    const char *owner = util_strmap_get(&R->tag_used, s->name, strlen(s->name));
    tag = owner == NULL ? s->name : s->full_name;
    if (util_strmap_put(&R->tag_of, s->full_name, (void *)tag) != 0 ||
        util_strmap_put(&R->tag_used, tag, (void *)s->full_name) != 0)
        R->nomem = 1;
    json_t *t = jobj(R);
    jset_str(R, t, "name", tag);
    const char *comment = elem_comment(R, OPENAPI_ELEMENT_SERVICE, s->full_name);
    if (comment != NULL)
        jset_str(R, t, "description", comment);
    jpush(R, R->tags, t);
    return tag;
}

/* summary = the first paragraph on one line, description = the other paragraphs. */
static void set_summary(render_t *R, json_t *op, const char *comment)
{
    if (comment == NULL)
        return;
    const char *brk = strstr(comment, "\n\n");
    size_t n = brk ? (size_t)(brk - comment) : strlen(comment);
    char *s = malloc(n + 1);
    if (s == NULL) {
        R->nomem = 1;
        return;
    }
    for (size_t i = 0; i < n; i++)
        s[i] = comment[i] == '\n' ? ' ' : comment[i];
    s[n] = '\0';
    jset_str(R, op, "summary", s);
    free(s);
    if (brk != NULL) {
        while (*brk == '\n')
            brk++;
        if (*brk)
            jset_str(R, op, "description", brk);
    }
}

typedef struct query_ctx {
    render_t *R;
    json_t *params;
    const binding_rule_t *b;
    char **bound; /* proto-name paths bound by the template */
    size_t n_bound;
    const proto_message_t *stack[MAX_QUERY_DEPTH];
} query_ctx_t;

/*
 * Query parameters of the fields of |m| not bound by the path or the body (REFERENCE (c)
 * rule 9): scalar, enum and text-WKT leaves, repeated ones as arrays, singular messages
 * flattened into dotted names; maps and repeated messages cannot be query parameters.
 */
static void query_params(query_ctx_t *q, const proto_message_t *m, size_t depth, const char *json_prefix, const char *proto_prefix)
{
    render_t *R = q->R;
    if (depth >= MAX_QUERY_DEPTH)
        return;
    for (size_t i = 0; i < depth; i++)
        if (q->stack[i] == m)
            return; /* recursive message: stop at the first repetition */
    q->stack[depth] = m;
    for (size_t i = 0; i < m->n_fields; i++) {
        const proto_field_t *f = &m->fields[i];
        if (depth == 0 && f == q->b->body_field)
            continue;
        char jpath[1024], ppath[1024];
        snprintf(jpath, sizeof(jpath), "%s%s%s", json_prefix, depth ? "." : "", prop_name(R, f));
        snprintf(ppath, sizeof(ppath), "%s%s%s", proto_prefix, depth ? "." : "", f->name);
        int bound = 0;
        for (size_t k = 0; k < q->n_bound; k++)
            if (strcmp(q->bound[k], ppath) == 0)
                bound = 1;
        const openapi_element_doc_t *d = field_doc(R, f);
        if (bound || f->is_map || (d != NULL && (d->flags & OPENAPI_FLAG_OUTPUT_ONLY)))
            continue;
        if (f->message != NULL && f->message->wkt == PROTO_WKT_NONE) {
            if (!f->repeated)
                query_params(q, f->message, depth + 1, jpath, ppath);
            continue;
        }
        if (f->message != NULL && !proto_message_is_text_wkt(f->message))
            continue;
        json_t *p = jobj(R);
        jset_str(R, p, "name", jpath);
        jset_str(R, p, "in", "query");
        util_buf_t desc = UTIL_BUF_INIT;
        if (d != NULL && d->comment != NULL)
            util_buf_puts(&desc, d->comment);
        if (q->b->patch_mask == f)
            util_buf_printf(&desc, "%sWhen absent, the gateway fills it with the fields present in the request body.",
                            desc.len ? "\n\n" : "");
        if (desc.len != 0) {
            util_buf_putc(&desc, 0);
            if (!util_buf_failed(&desc))
                jset_str(R, p, "description", (const char *)desc.data);
        }
        util_buf_dispose(&desc);
        if (d != NULL && (d->flags & OPENAPI_FLAG_REQUIRED))
            jset(R, p, "required", json_true());
        if (d != NULL && (d->flags & OPENAPI_FLAG_DEPRECATED))
            jset(R, p, "deprecated", json_true());
        jset(R, p, "schema", field_type_schema(R, f));
        jpush(R, q->params, p);
    }
}

static json_t *json_content(render_t *R, const char *media_type, json_t *schema)
{
    json_t *c = jobj(R), *mt = jobj(R);
    if (schema != NULL)
        jset(R, mt, "schema", schema);
    jset(R, c, media_type, mt);
    return c;
}

static json_t *error_ref(render_t *R)
{
    json_t *o = jobj(R);
    jset_str(R, o, "$ref", "#/components/responses/Error");
    return o;
}

static const char *streaming_kind(const proto_method_t *m)
{
    if (m->client_streaming && m->server_streaming)
        return "bidi";
    if (m->client_streaming)
        return "client";
    if (m->server_streaming)
        return "server";
    return NULL;
}

/* Path item |path| of |paths|, created when missing. */
static json_t *path_item(render_t *R, json_t *paths, const char *path)
{
    json_t *item = json_object_get(paths, path);
    if (item == NULL) {
        item = jobj(R);
        jset(R, paths, path, item);
    }
    return item;
}

static int render_binding(render_t *R, json_t *paths, const binding_rule_t *b, util_error_t *err)
{
    const char *method = lower_method(b->http_method);
    if (method == NULL)
        return 0; /* "*" and custom kinds OpenAPI has no operation for: listed in the routes table only */
    const proto_method_t *pm = b->method;
    path_template_t *t = NULL;
    if (path_template_parse(b->path, strlen(b->path), &t, err) != 0) {
        util_error_prefix(err, "method %s", pm->full_name);
        err->code = OPENAPI_ERR_INVALID;
        return -1;
    }
    util_buf_t pb = UTIL_BUF_INIT;
    int suffix = unique_path(R, method, t, &pb);
    if (suffix < 0) {
        path_template_free(t);
        util_buf_dispose(&pb);
        return util_error_set(err, OPENAPI_ERR_NOMEM, "out of memory");
    }

    json_t *op = jobj(R), *tags = jarr(R), *params = jarr(R);
    jpush(R, tags, jstr(R, service_tag(R, pm->service)));
    jset(R, op, "tags", tags);
    const openapi_element_doc_t *md = openapi_docs_find(R->docs, OPENAPI_ELEMENT_METHOD, pm->full_name);
    set_summary(R, op, md != NULL ? md->comment : NULL);
    char base[512];
    snprintf(base, sizeof(base), "%s_%s", pm->service->name, pm->name);
    const char *id = unique_op_id(R, base);
    if (id != NULL)
        jset_str(R, op, "operationId", id);

    /* path parameters */
    char *bound[PATH_TEMPLATE_MAX_VARS];
    size_t n_bound = 0;
    for (size_t i = 0; i < t->nvars; i++) {
        const path_template_var_t *v = &t->vars[i];
        char proto_path[1024], name[1100];
        const proto_field_t *f = resolve_field_path(pm->input, v->field_path, proto_path, sizeof(proto_path));
        if (f != NULL && (bound[n_bound] = rstrdup(R, proto_path)) != NULL)
            n_bound++;
        snprintf(name, sizeof(name), suffix ? "%s_%d" : "%s", v->field_path, suffix);
        json_t *p = jobj(R);
        jset_str(R, p, "name", name);
        jset_str(R, p, "in", "path");
        jset(R, p, "required", json_true());
        const openapi_element_doc_t *d = f != NULL ? field_doc(R, f) : NULL;
        util_buf_t desc = UTIL_BUF_INIT;
        if (d != NULL && d->comment != NULL)
            util_buf_puts(&desc, d->comment);
        if (suffix)
            util_buf_printf(&desc, "%sThe field `%s` (renamed here: another operation has the same path).", desc.len ? "\n\n" : "",
                            v->field_path);
        if (v->multi_segment)
            util_buf_printf(&desc, "%sMay span several path segments; \"/\" is sent unescaped.", desc.len ? "\n\n" : "");
        if (desc.len != 0) {
            util_buf_putc(&desc, 0);
            if (!util_buf_failed(&desc))
                jset_str(R, p, "description", (const char *)desc.data);
        }
        util_buf_dispose(&desc);
        json_t *schema = f != NULL && !f->repeated ? value_schema(R, f) : jtype(R, "string", NULL);
        char *pattern = var_pattern(t, v);
        if (pattern != NULL) {
            /* a pattern constrains the text form: the value is a string whatever the field type */
            json_decref(schema);
            schema = jtype(R, "string", NULL);
            jset_str(R, schema, "pattern", pattern);
            free(pattern);
        }
        jset(R, p, "schema", schema);
        jpush(R, params, p);
    }
    size_t wild = 0;
    for (size_t i = 0; i < t->nsegments; i++) {
        int in_var = 0;
        for (size_t k = 0; k < t->nvars; k++)
            if (i >= t->vars[k].first && i < t->vars[k].first + t->vars[k].count)
                in_var = 1;
        if (in_var || t->segments[i].kind == PATH_TEMPLATE_SEG_LITERAL)
            continue;
        char name[64];
        snprintf(name, sizeof(name), "wildcard%zu", ++wild);
        json_t *p = jobj(R);
        jset_str(R, p, "name", name);
        jset_str(R, p, "in", "path");
        jset(R, p, "required", json_true());
        jset_str(R, p, "description",
                 t->segments[i].kind == PATH_TEMPLATE_SEG_STAR ? "Any one path segment (not bound to a field)."
                                                               : "Any rest of the path (not bound to a field).");
        jset(R, p, "schema", jtype(R, "string", NULL));
        jpush(R, params, p);
    }

    /* query parameters: every leaf not bound by the path or the body */
    if (!b->body_all) {
        query_ctx_t q = {.R = R, .params = params, .b = b, .bound = bound, .n_bound = n_bound};
        query_params(&q, pm->input, 0, "", "");
    }
    if (json_array_size(params) != 0)
        jset(R, op, "parameters", params);
    else
        json_decref(params);

    /* request body */
    if (b->body_all || b->body_field != NULL) {
        json_t *rb = jobj(R), *schema;
        if (b->body_all) {
            uint8_t *skip = calloc(pm->input->n_fields + 1, 1);
            int any_skip = 0;
            for (size_t k = 0; skip != NULL && k < n_bound; k++) {
                if (strchr(bound[k], '.') != NULL)
                    continue;
                const proto_field_t *f = proto_message_field_by_name(pm->input, bound[k], strlen(bound[k]));
                if (f != NULL) {
                    skip[f->index] = 1;
                    any_skip = 1;
                }
            }
            if (skip == NULL)
                R->nomem = 1;
            if (pm->input->wkt != PROTO_WKT_NONE)
                schema = wkt_schema(R, pm->input);
            else if (any_skip)
                schema = message_schema(R, pm->input, skip); /* the message minus what the path carries */
            else
                schema = message_ref(R, pm->input);
            free(skip);
        } else {
            schema = field_type_schema(R, b->body_field);
            const openapi_element_doc_t *d = field_doc(R, b->body_field);
            if (d != NULL && d->comment != NULL)
                jset_str(R, rb, "description", d->comment);
        }
        if (b->request_http_body) {
            json_decref(schema);
            jset(R, rb, "content", json_content(R, "*/*", NULL));
        } else {
            jset(R, rb, "content", json_content(R, "application/json", schema));
        }
        jset(R, rb, "required", json_true());
        jset(R, op, "requestBody", rb);
    }

    /* responses */
    json_t *responses = jobj(R), *ok = jobj(R), *schema;
    if (b->response_field != NULL)
        schema = field_type_schema(R, b->response_field);
    else
        schema = message_ref(R, pm->output);
    if (b->response_http_body) {
        json_decref(schema);
        jset_str(R, ok, "description", "A successful response: the body of the google.api.HttpBody, with its content type.");
        jset(R, ok, "content", json_content(R, "*/*", NULL));
    } else if (pm->server_streaming) {
        char desc[1024];
        snprintf(desc, sizeof(desc),
                 "A stream of %s%s%s messages. With `Accept: application/x-ndjson` each line is one message as JSON; with "
                 "`Accept: text/event-stream` each server-sent event carries one message as JSON in its `data`.",
                 b->response_field != NULL ? "`" : "",
                 b->response_field != NULL ? b->response_field->json_name : pm->output->full_name,
                 b->response_field != NULL ? "` fields of" : "");
        jset_str(R, ok, "description", desc);
        json_t *content = json_content(R, "application/x-ndjson", schema);
        json_t *sse = jobj(R), *sse_schema = jtype(R, "string", NULL);
        jset_str(R, sse_schema, "description", "Server-sent events; the data of each is one message as JSON.");
        jset(R, sse, "schema", sse_schema);
        jset(R, content, "text/event-stream", sse);
        jset(R, ok, "content", content);
    } else {
        jset_str(R, ok, "description", "A successful response.");
        jset(R, ok, "content", json_content(R, "application/json", schema));
    }
    jset(R, responses, "200", ok);
    jset(R, responses, "default", error_ref(R));
    jset(R, op, "responses", responses);
    if (md != NULL && (md->flags & OPENAPI_FLAG_DEPRECATED))
        jset(R, op, "deprecated", json_true());
    const char *sk = streaming_kind(pm);
    if (sk != NULL)
        jset_str(R, op, "x-portico-streaming", sk);
    jset(R, path_item(R, paths, (const char *)pb.data), method, op);

    util_buf_dispose(&pb);
    path_template_free(t);
    return R->nomem ? util_error_set(err, OPENAPI_ERR_NOMEM, "out of memory") : 0;
}

/* ------------------------------------------------------------------------------------- */
/* composites */

/* Queues every message or enum a composite's schema refers to; fails on unknown names. */
static int collect_refs(render_t *R, const json_t *j, const openapi_composite_t *c, util_error_t *err)
{
    if (json_is_object(j)) {
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)j, key, v)
        {
            if (strcmp(key, "$ref") == 0 && json_is_string(v)) {
                const char *ref = json_string_value(v);
                if (strncmp(ref, SCHEMA_PREFIX, strlen(SCHEMA_PREFIX)) != 0)
                    continue;
                const char *name = ref + strlen(SCHEMA_PREFIX);
                const proto_message_t *m = proto_registry_find_message(R->reg, name);
                const proto_enum_t *e = m == NULL ? proto_registry_find_enum(R->reg, name) : NULL;
                if (m != NULL && m->wkt == PROTO_WKT_NONE)
                    enqueue(R, m->full_name, m, NULL);
                else if (e != NULL)
                    enqueue(R, e->full_name, NULL, e);
                else if (strcmp(name, STATUS_NAME) != 0)
                    return util_error_set(err, OPENAPI_ERR_INVALID,
                                          "composite %s %s: schema refers to \"%s\", which is not a message or enum of the "
                                          "descriptors",
                                          c->method, c->path, ref);
            } else if (collect_refs(R, v, c, err) != 0) {
                return -1;
            }
        }
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach((json_t *)j, i, v)
        {
            if (collect_refs(R, v, c, err) != 0)
                return -1;
        }
    }
    return 0;
}

static json_t *load_schema(render_t *R, const char *text, const openapi_composite_t *c, const char *what, util_error_t *err)
{
    json_error_t je;
    json_t *s = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (s == NULL || !json_is_object(s)) {
        json_decref(s);
        util_error_set(err, OPENAPI_ERR_INVALID, "composite %s %s: %s is not a JSON object%s%s", c->method, c->path, what,
                       s == NULL ? ": " : "", s == NULL ? je.text : "");
        return NULL;
    }
    if (collect_refs(R, s, c, err) != 0) {
        json_decref(s);
        return NULL;
    }
    return s;
}

static int render_composite(render_t *R, json_t *paths, const openapi_composite_t *c, util_error_t *err)
{
    const char *method = c->method != NULL ? lower_method(c->method) : NULL;
    if (method == NULL || c->path == NULL)
        return util_error_set(err, OPENAPI_ERR_INVALID, "composite %s %s: the HTTP method is not one OpenAPI can describe",
                              c->method ? c->method : "(none)", c->path ? c->path : "(none)");
    path_template_t *t = NULL;
    if (path_template_parse(c->path, strlen(c->path), &t, err) != 0) {
        util_error_prefix(err, "composite %s %s", c->method, c->path);
        err->code = OPENAPI_ERR_INVALID;
        return -1;
    }
    json_t *resp_schema = NULL, *req_schema = NULL;
    if (c->response_schema != NULL && (resp_schema = load_schema(R, c->response_schema, c, "response_schema", err)) == NULL)
        goto fail;
    if (c->request_schema != NULL && (req_schema = load_schema(R, c->request_schema, c, "request_schema", err)) == NULL)
        goto fail;
    util_buf_t pb = UTIL_BUF_INIT;
    int suffix = unique_path(R, method, t, &pb);
    if (suffix < 0) {
        util_buf_dispose(&pb);
        util_error_set(err, OPENAPI_ERR_NOMEM, "out of memory");
        goto fail;
    }
    json_t *op = jobj(R), *tags = jarr(R), *params = jarr(R);
    const char *tag = c->tag != NULL ? c->tag : "aggregations";
    if (util_strmap_get(&R->tag_used, tag, strlen(tag)) == NULL) {
        json_t *to = jobj(R);
        jset_str(R, to, "name", tag);
        jset_str(R, to, "description", "Composite endpoints: one request fans out to several backends.");
        jpush(R, R->tags, to);
        char *k = rstrdup(R, tag);
        if (k == NULL || util_strmap_put(&R->tag_used, k, (void *)"") != 0)
            R->nomem = 1;
    }
    jpush(R, tags, jstr(R, tag));
    jset(R, op, "tags", tags);
    if (c->summary != NULL)
        jset_str(R, op, "summary", c->summary);
    if (c->description != NULL)
        jset_str(R, op, "description", c->description);
    if (c->operation_id != NULL) {
        const char *id = unique_op_id(R, c->operation_id);
        if (id != NULL)
            jset_str(R, op, "operationId", id);
    } else {
        /* "get /v1/products/{sku}/summary" -> "get_v1_products_sku_summary" */
        char base[512];
        size_t o = (size_t)snprintf(base, sizeof(base), "%s", method);
        for (const char *p = (const char *)pb.data; *p && o + 2 < sizeof(base); p++) {
            if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'))
                base[o++] = *p;
            else if (base[o - 1] != '_')
                base[o++] = '_';
        }
        while (o > 0 && base[o - 1] == '_')
            o--;
        base[o] = '\0';
        const char *id = unique_op_id(R, base);
        if (id != NULL)
            jset_str(R, op, "operationId", id);
    }
    for (size_t i = 0; i < t->nvars; i++) {
        char name[512];
        snprintf(name, sizeof(name), suffix ? "%s_%d" : "%s", t->vars[i].field_path, suffix);
        json_t *p = jobj(R), *schema = jtype(R, "string", NULL);
        jset_str(R, p, "name", name);
        jset_str(R, p, "in", "path");
        jset(R, p, "required", json_true());
        char *pattern = var_pattern(t, &t->vars[i]);
        if (pattern != NULL)
            jset_str(R, schema, "pattern", pattern);
        free(pattern);
        jset(R, p, "schema", schema);
        jpush(R, params, p);
    }
    for (size_t i = 0; i < c->n_query_params; i++) {
        json_t *p = jobj(R);
        jset_str(R, p, "name", c->query_params[i]);
        jset_str(R, p, "in", "query");
        jset(R, p, "schema", jtype(R, "string", NULL));
        jpush(R, params, p);
    }
    if (json_array_size(params) != 0)
        jset(R, op, "parameters", params);
    else
        json_decref(params);
    if (req_schema != NULL) {
        json_t *rb = jobj(R);
        jset(R, rb, "content", json_content(R, "application/json", req_schema));
        jset(R, rb, "required", json_true());
        jset(R, op, "requestBody", rb);
        req_schema = NULL;
    }
    json_t *responses = jobj(R), *ok = jobj(R);
    jset_str(R, ok, "description",
             "The merged response. When an optional backend fails, the response is partial and says so in its \"_meta\" "
             "member.");
    jset(R, ok, "content", json_content(R, "application/json", resp_schema != NULL ? resp_schema : jtype(R, "object", NULL)));
    resp_schema = NULL;
    jset(R, responses, "200", ok);
    jset(R, responses, "default", error_ref(R));
    jset(R, op, "responses", responses);
    jset(R, path_item(R, paths, (const char *)pb.data), method, op);
    util_buf_dispose(&pb);
    path_template_free(t);
    return R->nomem ? util_error_set(err, OPENAPI_ERR_NOMEM, "out of memory") : 0;
fail:
    json_decref(resp_schema);
    json_decref(req_schema);
    path_template_free(t);
    return -1;
}

/* ------------------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int dump_cb(const char *buffer, size_t size, void *data)
{
    util_buf_append(data, buffer, size);
    return util_buf_failed(data) ? -1 : 0;
}

int openapi_render(const proto_registry_t *r, const openapi_docs_t *docs, const binding_rule_t *const *bindings, size_t n_bindings,
                   const openapi_composite_t *composites, size_t n_composites, const openapi_options_t *opt, util_buf_t *out,
                   util_error_t *err)
{
    static const openapi_options_t no_options;
    render_t R = {.reg = r, .docs = docs, .opt = opt != NULL ? opt : &no_options};
    util_arena_init(&R.arena);
    util_strmap_init(&R.needed);
    util_strmap_init(&R.op_ids);
    util_strmap_init(&R.path_ops);
    util_strmap_init(&R.tag_of);
    util_strmap_init(&R.tag_used);
    int rc = -1;
    const char **names = NULL;
    json_t *root = jobj(&R), *info = jobj(&R), *paths = jobj(&R), *components = jobj(&R);
    json_t *all = jobj(&R); /* schema name -> schema, unsorted */
    R.tags = jarr(&R);

    jset_str(&R, root, "openapi", "3.1.0");
    jset_str(&R, info, "title", R.opt->title != NULL ? R.opt->title : "portico API");
    jset_str(&R, info, "version", R.opt->version != NULL ? R.opt->version : "0.0.0");
    if (R.opt->description != NULL)
        jset_str(&R, info, "description", R.opt->description);
    jset(&R, root, "info", info);
    if (R.opt->n_servers != 0) {
        json_t *servers = jarr(&R);
        for (size_t i = 0; i < R.opt->n_servers; i++) {
            json_t *s = jobj(&R);
            jset_str(&R, s, "url", R.opt->servers[i]);
            jpush(&R, servers, s);
        }
        jset(&R, root, "servers", servers);
    }
    json_incref(R.tags); /* placed after the paths are known, but in front of them */
    jset(&R, root, "tags", R.tags);

    /* the error model is always there: from the descriptors when they hold it */
    const proto_message_t *status = proto_registry_find_message(r, STATUS_NAME);
    if (status != NULL)
        enqueue(&R, status->full_name, status, NULL);

    for (size_t i = 0; i < n_bindings; i++)
        if (render_binding(&R, paths, bindings[i], err) != 0)
            goto done;
    for (size_t i = 0; i < n_composites; i++)
        if (render_composite(&R, paths, &composites[i], err) != 0)
            goto done;
    jset(&R, root, "paths", paths);
    paths = NULL;

    /* drain the queue: schemas may queue more */
    for (size_t i = 0; i < R.n_queue && !R.nomem; i++) {
        const queued_t *q = R.queue[i];
        jset(&R, all, q->name, q->message != NULL ? message_schema(&R, q->message, NULL) : enum_schema(&R, q->enum_type));
    }
    if (status == NULL)
        jset(&R, all, STATUS_NAME, status_schema(&R));
    if (R.nomem)
        goto nomem;
    size_t n = json_object_size(all), k = 0;
    if ((names = malloc((n ? n : 1) * sizeof(*names))) == NULL)
        goto nomem;
    const char *key;
    json_t *v;
    json_object_foreach(all, key, v)
    {
        names[k++] = key;
    }
    qsort(names, n, sizeof(*names), cmp_str);
    json_t *schemas = jobj(&R);
    for (k = 0; k < n; k++)
        jset(&R, schemas, names[k], json_incref(json_object_get(all, names[k])));
    jset(&R, components, "schemas", schemas);

    json_t *responses = jobj(&R), *error = jobj(&R);
    jset_str(&R, error, "description",
             "An error. The HTTP status follows the gRPC code (NOT_FOUND is 404, INVALID_ARGUMENT 400, UNAVAILABLE 503, ...); "
             "the body is a google.rpc.Status.");
    json_t *eschema = jobj(&R);
    jset_str(&R, eschema, "$ref", SCHEMA_PREFIX STATUS_NAME);
    jset(&R, error, "content", json_content(&R, "application/json", eschema));
    jset(&R, responses, "Error", error);
    jset(&R, components, "responses", responses);
    jset(&R, root, "components", components);
    components = NULL;
    if (R.nomem)
        goto nomem;

    size_t before = out->len;
    if (json_dump_callback(root, dump_cb, out, JSON_INDENT(2)) != 0 || (util_buf_putc(out, '\n'), util_buf_failed(out))) {
        out->len = before;
        goto nomem;
    }
    rc = 0;
    goto done;
nomem:
    util_error_set(err, OPENAPI_ERR_NOMEM, "out of memory rendering the OpenAPI document");
done:
    free(names);
    json_decref(R.tags);
    json_decref(root);
    json_decref(paths);
    json_decref(components);
    json_decref(all);
    free(R.queue);
    util_strmap_dispose(&R.needed);
    util_strmap_dispose(&R.op_ids);
    util_strmap_dispose(&R.path_ops);
    util_strmap_dispose(&R.tag_of);
    util_strmap_dispose(&R.tag_used);
    util_arena_dispose(&R.arena);
    return rc;
}
