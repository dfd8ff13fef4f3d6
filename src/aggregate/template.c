/*
 * template.c — value templates of the aggregation format: a JSON value whose strings may hold
 * "{...}" references to the client request ({id}, {query.x}, {header.x}, {body.a.b}) and to
 * earlier responses ({calls.catalog.canonicalId}). Compiled once at load (references resolved
 * and, for gRPC requests, type-checked against the method's input message), rendered per call.
 *
 * A string that is exactly one reference ("{calls.x.count}") takes the referenced value with its
 * JSON type; any other string with references is string interpolation. "{{" and "}}" stand for
 * literal braces. Templates without references stay the JSON constants they were written as.
 *
 * Written by hand: the syntax is a handful of rules over jansson values; a general template
 * engine would bring a language (loops, conditionals) the format deliberately does not have.
 */
#include "aggregate/aggregate_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------
 * Parsing
 */

static void *ctx_alloc(aggregate_ctx_t *ctx, size_t size)
{
    void *p = util_arena_alloc(ctx->arena, size);
    if (p == NULL)
        aggregate_ctx_fail(ctx, AGGREGATE_ERR_NOMEM, "out of memory");
    return p;
}

static int is_token_char(unsigned char c)
{
    return isalnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* The path variables of the endpoint, listed for a message: "id, name". */
static void list_path_vars(const path_template_t *t, char *out, size_t size)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; t != NULL && i < t->nvars && len < size; i++) {
        int n = snprintf(out + len, size - len, "%s%s", i ? ", " : "", t->vars[i].field_path);
        if (n < 0)
            break;
        len += (size_t)n;
    }
    if (out[0] == '\0')
        snprintf(out, size, "none");
}

static int parse_ref(aggregate_ctx_t *ctx, const char *inner, size_t len, const aggregate_ref_t **out)
{
    aggregate_ref_t *ref = ctx_alloc(ctx, sizeof(*ref));
    char *text = ref ? ctx_alloc(ctx, len + 3) : NULL;
    char *s = text ? ctx_alloc(ctx, len + 1) : NULL;
    if (s == NULL)
        return -1;
    snprintf(text, len + 3, "{%.*s}", (int)len, inner);
    memcpy(s, inner, len);
    s[len] = '\0';
    ref->text = text;
    char why[256];

    if (len == 0)
        return aggregate_ctx_fail(ctx, AGGREGATE_ERR_SYNTAX, "empty reference \"{}\" (write \"{{\" for a literal brace)");
    for (size_t i = 0; ctx->path_template != NULL && i < ctx->path_template->nvars; i++) {
        if (strcmp(ctx->path_template->vars[i].field_path, s) == 0) {
            ref->source = AGGREGATE_SRC_PATH;
            ref->name = s;
            *out = ref;
            return 0;
        }
    }
    if (strncmp(s, "query.", 6) == 0 && s[6] != '\0') {
        ref->source = AGGREGATE_SRC_QUERY;
        ref->name = s + 6;
    } else if (strncmp(s, "header.", 7) == 0 && s[7] != '\0') {
        ref->source = AGGREGATE_SRC_HEADER;
        for (char *p = s + 7; *p; p++) {
            if (!is_token_char((unsigned char)*p))
                return aggregate_ctx_fail(ctx, AGGREGATE_ERR_SYNTAX, "%s: \"%s\" is not a header name", text, s + 7);
            *p = (char)tolower((unsigned char)*p);
        }
        ref->name = s + 7;
    } else if (strcmp(s, "body") == 0 || strncmp(s, "body.", 5) == 0) {
        ref->source = AGGREGATE_SRC_BODY;
        ref->name = "body";
        if (ctx->method != NULL && strcmp(ctx->method, "GET") == 0)
            return aggregate_ctx_fail(ctx, AGGREGATE_ERR_REFERENCE, "%s: a GET request has no body", text);
        if (s[4] == '.' && aggregate_path_parse(ctx->arena, s + 5, &ref->path, why, sizeof(why)) != 0)
            return aggregate_ctx_fail(ctx, AGGREGATE_ERR_SYNTAX, "%s: %s", text, why);
        ctx->uses_body = 1;
    } else if (strncmp(s, "calls.", 6) == 0 && s[6] != '\0') {
        char *name = s + 6, *dot = strchr(name, '.');
        if (dot != NULL)
            *dot = '\0';
        size_t i;
        for (i = 0; i < ctx->n_calls; i++)
            if (strcmp(ctx->call_names[i], name) == 0)
                break;
        if (i == ctx->n_calls)
            return aggregate_ctx_fail(ctx, AGGREGATE_ERR_REFERENCE, "%s: there is no call named \"%s\"", text, name);
        if (i == ctx->self)
            return aggregate_ctx_fail(ctx, AGGREGATE_ERR_REFERENCE, "%s: a call cannot use its own response", text);
        ref->source = AGGREGATE_SRC_CALL;
        ref->name = name;
        ref->call = i;
        if (dot != NULL && aggregate_path_parse(ctx->arena, dot + 1, &ref->path, why, sizeof(why)) != 0)
            return aggregate_ctx_fail(ctx, AGGREGATE_ERR_SYNTAX, "%s: %s", text, why);
        if (ctx->deps != NULL)
            ctx->deps[i] = 1;
    } else {
        char vars[200];
        list_path_vars(ctx->path_template, vars, sizeof(vars));
        return aggregate_ctx_fail(ctx, AGGREGATE_ERR_REFERENCE,
                                  "unknown reference %s: not a variable of the endpoint's path (%s), nor query.NAME, "
                                  "header.NAME, body.PATH or calls.NAME.PATH",
                                  text, vars);
    }
    *out = ref;
    return 0;
}

static int parse_string(aggregate_ctx_t *ctx, const json_t *v, aggregate_tpl_t *t)
{
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    /* at most one piece per brace or character run: bounded by len + 1 */
    aggregate_piece_t *pieces = ctx_alloc(ctx, (len + 1) * sizeof(*pieces));
    char *lit = ctx_alloc(ctx, len + 1);
    if (pieces == NULL || lit == NULL)
        return -1;
    size_t n = 0, o = 0, lit_start = 0, nrefs = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '{' && i + 1 < len && s[i + 1] == '{') {
            lit[o++] = '{';
            i++;
            continue;
        }
        if (s[i] == '}' && i + 1 < len && s[i + 1] == '}') {
            lit[o++] = '}';
            i++;
            continue;
        }
        if (s[i] != '{') {
            lit[o++] = s[i];
            continue;
        }
        const char *close = memchr(s + i + 1, '}', len - i - 1);
        const char *open = memchr(s + i + 1, '{', len - i - 1);
        if (close == NULL || (open != NULL && open < close))
            return aggregate_ctx_fail(ctx, AGGREGATE_ERR_SYNTAX,
                                      "\"%s\": unclosed \"{\" at column %zu (write \"{{\" for a literal brace)", s, i + 1);
        if (o > lit_start) {
            pieces[n].lit = lit + lit_start;
            pieces[n++].lit_len = o - lit_start;
            lit[o++] = '\0';
            lit_start = o;
        }
        if (parse_ref(ctx, s + i + 1, (size_t)(close - s - i - 1), &pieces[n].ref) != 0)
            return -1;
        n++;
        nrefs++;
        i = (size_t)(close - s);
    }
    if (nrefs == 0) {
        t->kind = AGGREGATE_TPL_CONST;
        t->constant = v;
        if (o != len) { /* escapes: the constant is the unescaped text, kept alive by the set */
            json_t *u = json_stringn(lit, o);
            if (u == NULL || json_array_append_new(ctx->keep, u) != 0)
                return aggregate_ctx_fail(ctx, AGGREGATE_ERR_NOMEM, "out of memory");
            t->constant = u;
        }
        if ((t->value = aggregate_value_from_json(ctx->arena, t->constant)) == NULL)
            return aggregate_ctx_fail(ctx, AGGREGATE_ERR_NOMEM, "out of memory");
        return 0;
    }
    if (o > lit_start) {
        pieces[n].lit = lit + lit_start;
        pieces[n++].lit_len = o - lit_start;
        lit[o] = '\0';
    }
    if (n == 1) {
        t->kind = AGGREGATE_TPL_REF;
        t->ref = pieces[0].ref;
        return 0;
    }
    t->kind = AGGREGATE_TPL_STRING;
    t->pieces = pieces;
    t->n_pieces = n;
    return 0;
}

int aggregate_tpl_parse(aggregate_ctx_t *ctx, const json_t *v, aggregate_tpl_t **out)
{
    aggregate_tpl_t *t = ctx_alloc(ctx, sizeof(*t));
    if (t == NULL)
        return -1;
    *out = t;
    t->kind = AGGREGATE_TPL_CONST;
    t->constant = v;
    if (json_is_string(v))
        return parse_string(ctx, v, t);
    if (!json_is_object(v) && !json_is_array(v)) {
        if ((t->value = aggregate_value_from_json(ctx->arena, v)) == NULL)
            return aggregate_ctx_fail(ctx, AGGREGATE_ERR_NOMEM, "out of memory");
        return 0;
    }

    size_t n = json_is_object(v) ? json_object_size(v) : json_array_size(v);
    aggregate_tpl_t **children = ctx_alloc(ctx, (n ? n : 1) * sizeof(*children));
    const char **keys = json_is_object(v) ? ctx_alloc(ctx, (n ? n : 1) * sizeof(*keys)) : NULL;
    if (children == NULL || (json_is_object(v) && keys == NULL))
        return -1;
    int dynamic = 0;
    size_t i = 0;
    if (json_is_object(v)) {
        const char *key;
        json_t *child;
        json_object_foreach((json_t *)v, key, child)
        {
            size_t mark = aggregate_ctx_push_key(ctx, key);
            if ((keys[i] = util_arena_strdup(ctx->arena, key)) == NULL)
                return aggregate_ctx_fail(ctx, AGGREGATE_ERR_NOMEM, "out of memory");
            if (aggregate_tpl_parse(ctx, child, &children[i]) != 0)
                return -1;
            /* a constant string with "{{" escapes differs from what was written */
            dynamic |= children[i]->kind != AGGREGATE_TPL_CONST || children[i]->constant != child;
            aggregate_ctx_pop(ctx, mark);
            i++;
        }
    } else {
        json_t *child;
        json_array_foreach(v, i, child)
        {
            size_t mark = aggregate_ctx_push_index(ctx, i);
            if (aggregate_tpl_parse(ctx, child, &children[i]) != 0)
                return -1;
            dynamic |= children[i]->kind != AGGREGATE_TPL_CONST || children[i]->constant != child;
            aggregate_ctx_pop(ctx, mark);
        }
    }
    /* children are kept even for constants: the descriptor check walks them to name fields */
    t->kind = !dynamic ? AGGREGATE_TPL_CONST : json_is_object(v) ? AGGREGATE_TPL_OBJECT : AGGREGATE_TPL_ARRAY;
    t->keys = keys;
    t->children = children;
    t->n_children = n;
    if (t->kind == AGGREGATE_TPL_CONST && (t->value = aggregate_value_from_json(ctx->arena, v)) == NULL)
        return aggregate_ctx_fail(ctx, AGGREGATE_ERR_NOMEM, "out of memory");
    return 0;
}

int aggregate_tpl_parse_string(aggregate_ctx_t *ctx, const json_t *v, aggregate_tpl_t **out)
{
    if (!json_is_string(v)) {
        char shown[80];
        return aggregate_ctx_fail(ctx, AGGREGATE_ERR_TYPE, "expected a string, got %s",
                                  aggregate_json_show(v, shown, sizeof(shown)));
    }
    return aggregate_tpl_parse(ctx, v, out);
}

/* ---------------------------------------------------------------------------------------
 * Checking gRPC request templates against the descriptors
 */

/* The JSON shape a value is known to have. */
typedef enum shape {
    SHAPE_ANY = 0,
    SHAPE_STRING, /* any text: string fields, and what the client sends (it may hold a number) */
    SHAPE_TEXT,   /* a string that is never a number: bytes, Timestamp, Duration, FieldMask */
    SHAPE_INTSTR, /* a 64-bit integer, which proto3 JSON prints as a string */
    SHAPE_NUMBER,
    SHAPE_BOOL,
    SHAPE_OBJECT,
    SHAPE_ARRAY,
} shape_t;

static const char *shape_name(shape_t s)
{
    static const char *const names[] = {"any value", "a string",  "a string",  "a 64-bit integer",
                                        "a number",  "a boolean", "an object", "an array"};
    return names[s];
}

/* JSON shape of one (singular) value of a message type. */
static shape_t message_shape(const proto_message_t *m)
{
    switch (m->wkt) {
    case PROTO_WKT_TIMESTAMP:
    case PROTO_WKT_DURATION:
    case PROTO_WKT_FIELD_MASK:
    case PROTO_WKT_BYTES_VALUE:
        return SHAPE_TEXT;
    case PROTO_WKT_INT64_VALUE:
    case PROTO_WKT_UINT64_VALUE:
        return SHAPE_INTSTR;
    case PROTO_WKT_STRING_VALUE:
        return SHAPE_STRING;
    case PROTO_WKT_DOUBLE_VALUE:
    case PROTO_WKT_FLOAT_VALUE:
    case PROTO_WKT_INT32_VALUE:
    case PROTO_WKT_UINT32_VALUE:
        return SHAPE_NUMBER;
    case PROTO_WKT_BOOL_VALUE:
        return SHAPE_BOOL;
    case PROTO_WKT_LIST_VALUE:
        return SHAPE_ARRAY;
    case PROTO_WKT_VALUE:
        return SHAPE_ANY;
    default:
        return SHAPE_OBJECT;
    }
}

/* JSON shape of field |f| as printed by the codec (|element|: one element of a repeated field). */
static shape_t field_shape(const proto_field_t *f, int element)
{
    if (f->is_map && !element)
        return SHAPE_OBJECT;
    if (f->repeated && !element)
        return SHAPE_ARRAY;
    switch (f->type) {
    case PROTO_TYPE_BOOL:
        return SHAPE_BOOL;
    case PROTO_TYPE_STRING:
        return SHAPE_STRING;
    case PROTO_TYPE_BYTES:
        return SHAPE_TEXT;
    case PROTO_TYPE_INT64:
    case PROTO_TYPE_UINT64:
    case PROTO_TYPE_FIXED64:
    case PROTO_TYPE_SFIXED64:
    case PROTO_TYPE_SINT64:
        return SHAPE_INTSTR;
    case PROTO_TYPE_ENUM:
        return SHAPE_ANY; /* a name, or a number with enum_ints */
    case PROTO_TYPE_MESSAGE:
    case PROTO_TYPE_GROUP:
        return message_shape(f->message);
    default:
        return SHAPE_NUMBER;
    }
}

/*
 * The shape of what {calls.X.path} yields when X is a gRPC call with output |m|; records the
 * other JSON name of each field on the path (ref->alt) so that run-time lookups work with both
 * lowerCamelCase and proto names. Returns 0, or -1 when the path names no field.
 */
static int ref_shape(aggregate_ctx_t *ctx, aggregate_ref_t *ref, const proto_message_t *m, shape_t *out)
{
    *out = SHAPE_OBJECT;
    if (ref->path.n == 0)
        return 0;
    const char **alt = util_arena_alloc(ctx->arena, ref->path.n * sizeof(*alt));
    if (alt == NULL)
        return aggregate_ctx_fail(ctx, AGGREGATE_ERR_NOMEM, "out of memory");
    ref->alt = alt;
    const proto_field_t *f = NULL; /* NULL: at message m, the next segment names a field */
    int element = 0;               /* f is repeated and one element of it was picked */
    for (size_t i = 0; i < ref->path.n; i++) {
        const char *seg = ref->path.segs[i];
        if (f != NULL && f->is_map) {
            f = &f->message->fields[1]; /* seg is a map key: now at the (singular) value */
            continue;
        }
        if (f != NULL && f->repeated && !element) {
            element = 1; /* seg is an index */
            continue;
        }
        if (f != NULL) {
            if (f->type != PROTO_TYPE_MESSAGE && f->type != PROTO_TYPE_GROUP)
                return aggregate_ctx_fail(ctx, AGGREGATE_ERR_REFERENCE, "%s: \"%s\" is %s, it has no \"%s\"", ref->text, f->name,
                                          shape_name(field_shape(f, 1)), seg);
            m = f->message;
        }
        if (m->wkt != PROTO_WKT_NONE && m->wkt != PROTO_WKT_EMPTY) {
            *out = SHAPE_ANY; /* Struct, Any, ...: no fields to check */
            return 0;
        }
        f = proto_message_field_by_name(m, seg, strlen(seg));
        if (f == NULL)
            return aggregate_ctx_fail(ctx, AGGREGATE_ERR_REFERENCE, "%s: %s has no field \"%s\"", ref->text, m->full_name, seg);
        alt[i] = strcmp(seg, f->json_name) == 0 ? f->name : f->json_name;
        element = 0;
    }
    *out = field_shape(f, element);
    return 0;
}

static int check_field(aggregate_ctx_t *ctx, aggregate_tpl_t *t, const proto_registry_t *r, const proto_field_t *f, int element,
                       const proto_message_t *const *outputs);

int aggregate_tpl_resolve_refs(aggregate_ctx_t *ctx, aggregate_tpl_t *t, const proto_message_t *const *outputs)
{
    shape_t ignored;
    switch (t->kind) {
    case AGGREGATE_TPL_REF:
        if (t->ref->source == AGGREGATE_SRC_CALL && outputs[t->ref->call] != NULL)
            return ref_shape(ctx, (aggregate_ref_t *)t->ref, outputs[t->ref->call], &ignored);
        return 0;
    case AGGREGATE_TPL_STRING:
        for (size_t i = 0; i < t->n_pieces; i++) {
            const aggregate_ref_t *ref = t->pieces[i].ref;
            if (ref != NULL && ref->source == AGGREGATE_SRC_CALL && outputs[ref->call] != NULL &&
                ref_shape(ctx, (aggregate_ref_t *)ref, outputs[ref->call], &ignored) != 0)
                return -1;
        }
        return 0;
    case AGGREGATE_TPL_OBJECT:
    case AGGREGATE_TPL_ARRAY:
        for (size_t i = 0; i < t->n_children; i++) {
            size_t mark =
                t->kind == AGGREGATE_TPL_OBJECT ? aggregate_ctx_push_key(ctx, t->keys[i]) : aggregate_ctx_push_index(ctx, i);
            if (aggregate_tpl_resolve_refs(ctx, t->children[i], outputs) != 0)
                return -1;
            aggregate_ctx_pop(ctx, mark);
        }
        return 0;
    default:
        return 0;
    }
}

int aggregate_tpl_check_message(aggregate_ctx_t *ctx, aggregate_tpl_t *t, const proto_registry_t *r, const proto_message_t *m,
                                const proto_message_t *const *outputs)
{
    if (m->wkt != PROTO_WKT_NONE && m->wkt != PROTO_WKT_EMPTY)
        return 0; /* Struct, Any, wrappers ...: the codec checks the rendered value */
    for (size_t i = 0; i < t->n_children; i++) {
        size_t mark = aggregate_ctx_push_key(ctx, t->keys[i]);
        const proto_field_t *f = proto_message_field_by_name(m, t->keys[i], strlen(t->keys[i]));
        if (f == NULL)
            return aggregate_ctx_fail(ctx, AGGREGATE_ERR_REFERENCE, "%s has no field \"%s\"", m->full_name, t->keys[i]);
        if (check_field(ctx, t->children[i], r, f, 0, outputs) != 0)
            return -1;
        aggregate_ctx_pop(ctx, mark);
    }
    return 0;
}

/* Encodes constant |v| as field |f| (one element when |element|) with the codec itself. */
static int check_constant(aggregate_ctx_t *ctx, const json_t *v, const proto_registry_t *r, const proto_field_t *f, int element)
{
    json_t *wrap = json_object();
    json_t *val = element ? json_pack("[O]", v) : json_incref((json_t *)v);
    if (wrap == NULL || val == NULL || json_object_set_new(wrap, f->name, val) != 0) {
        json_decref(wrap);
        return aggregate_ctx_fail(ctx, AGGREGATE_ERR_NOMEM, "out of memory");
    }
    char *text = json_dumps(wrap, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(wrap);
    if (text == NULL)
        return aggregate_ctx_fail(ctx, AGGREGATE_ERR_NOMEM, "out of memory");
    util_buf_t out = UTIL_BUF_INIT;
    util_error_t err = {0};
    codec_options_t opt = {0};
    int rc = codec_json_to_pb(r, f->containing, text, strlen(text), &opt, &out, &err);
    free(text);
    util_buf_dispose(&out);
    if (rc != 0)
        return aggregate_ctx_fail(ctx, AGGREGATE_ERR_TYPE, "%s", err.message);
    return 0;
}

static int check_field(aggregate_ctx_t *ctx, aggregate_tpl_t *t, const proto_registry_t *r, const proto_field_t *f, int element,
                       const proto_message_t *const *outputs)
{
    if (t->kind == AGGREGATE_TPL_CONST)
        return check_constant(ctx, t->constant, r, f, element);

    shape_t want = field_shape(f, element);
    if (t->kind == AGGREGATE_TPL_OBJECT) {
        if (want != SHAPE_OBJECT && want != SHAPE_ANY)
            return aggregate_ctx_fail(ctx, AGGREGATE_ERR_TYPE, "field \"%s\" takes %s, not an object", f->name, shape_name(want));
        if (f->is_map && !element) {
            const proto_field_t *value = &f->message->fields[1];
            for (size_t i = 0; i < t->n_children; i++) {
                size_t mark = aggregate_ctx_push_key(ctx, t->keys[i]);
                if (check_field(ctx, t->children[i], r, value, 0, outputs) != 0)
                    return -1;
                aggregate_ctx_pop(ctx, mark);
            }
            return 0;
        }
        if (f->type != PROTO_TYPE_MESSAGE)
            return 0;
        return aggregate_tpl_check_message(ctx, t, r, f->message, outputs);
    }
    if (t->kind == AGGREGATE_TPL_ARRAY) {
        if (want != SHAPE_ARRAY && want != SHAPE_ANY)
            return aggregate_ctx_fail(ctx, AGGREGATE_ERR_TYPE, "field \"%s\" takes %s, not an array", f->name, shape_name(want));
        if (!f->repeated || f->is_map)
            return 0; /* ListValue / Value */
        for (size_t i = 0; i < t->n_children; i++) {
            size_t mark = aggregate_ctx_push_index(ctx, i);
            if (check_field(ctx, t->children[i], r, f, 1, outputs) != 0)
                return -1;
            aggregate_ctx_pop(ctx, mark);
        }
        return 0;
    }

    /* a reference or an interpolated string */
    shape_t have = SHAPE_STRING;
    const char *what = NULL;
    if (t->kind == AGGREGATE_TPL_REF) {
        aggregate_ref_t *ref = (aggregate_ref_t *)t->ref;
        what = ref->text;
        if (ref->source == AGGREGATE_SRC_BODY)
            have = SHAPE_ANY;
        else if (ref->source == AGGREGATE_SRC_CALL)
            have = SHAPE_ANY;
        if (ref->source == AGGREGATE_SRC_CALL && outputs != NULL && outputs[ref->call] != NULL) {
            size_t mark = ctx->path_len;
            if (ref_shape(ctx, ref, outputs[ref->call], &have) != 0)
                return -1;
            aggregate_ctx_pop(ctx, mark);
        }
    } else {
        what = "a string with references";
    }
    if (have == SHAPE_ANY || want == SHAPE_ANY)
        return 0;
    int text = have == SHAPE_STRING || have == SHAPE_TEXT || have == SHAPE_INTSTR;
    switch (want) {
    case SHAPE_STRING:
        if (text)
            return 0;
        if (have == SHAPE_NUMBER || have == SHAPE_BOOL) {
            t->want = AGGREGATE_WANT_STRING; /* a string field takes a number's text */
            return 0;
        }
        break;
    case SHAPE_TEXT:
        if (text)
            return 0;
        break;
    case SHAPE_INTSTR:
    case SHAPE_NUMBER:
        /* proto3 JSON accepts numbers as strings; whether a string holds one is checked when rendered */
        if (have == SHAPE_NUMBER || have == SHAPE_STRING || have == SHAPE_INTSTR)
            return 0;
        break;
    case SHAPE_BOOL:
        if (have == SHAPE_STRING) {
            t->want = AGGREGATE_WANT_BOOL;
            return 0;
        }
        break;
    default:
        break;
    }
    if (have == want)
        return 0;
    return aggregate_ctx_fail(ctx, AGGREGATE_ERR_TYPE, "field \"%s\" takes %s, but %s is %s", f->name, shape_name(want), what,
                              shape_name(have));
}

/* ---------------------------------------------------------------------------------------
 * Rendering
 */

static const aggregate_value_t *ref_value(const aggregate_ref_t *ref, const aggregate_tpl_input_t *in)
{
    switch (ref->source) {
    case AGGREGATE_SRC_PATH:
        return aggregate_value_get(in->path, ref->name, strlen(ref->name));
    case AGGREGATE_SRC_QUERY:
        return aggregate_value_get(in->query, ref->name, strlen(ref->name));
    case AGGREGATE_SRC_HEADER:
        return aggregate_value_get(in->header, ref->name, strlen(ref->name));
    case AGGREGATE_SRC_BODY:
        return in->body == NULL ? NULL : aggregate_path_get(in->body, &ref->path, 0, NULL);
    case AGGREGATE_SRC_CALL:
        return in->calls == NULL || in->calls[ref->call] == NULL
                   ? NULL
                   : aggregate_path_get(in->calls[ref->call], &ref->path, 0, (const char *const *)ref->alt);
    }
    return NULL;
}

void aggregate_value_append_text(util_buf_t *out, const aggregate_value_t *v, int encode)
{
    if (v->kind == AGGREGATE_VALUE_STRING || v->kind == AGGREGATE_VALUE_NUMBER) {
        if (encode)
            aggregate_percent_encode(out, v->u.text, v->len, 0);
        else
            util_buf_append(out, v->u.text, v->len);
        return;
    }
    if (!encode) {
        aggregate_value_write(out, v);
        return;
    }
    util_buf_t text = UTIL_BUF_INIT;
    aggregate_value_write(&text, v);
    aggregate_percent_encode(out, (const char *)text.data, text.len, 0);
    if (util_buf_failed(&text))
        out->failed = 1;
    util_buf_dispose(&text);
}

static const aggregate_value_t *apply_want(util_arena_t *a, const aggregate_value_t *v, aggregate_want_t want)
{
    if (want == AGGREGATE_WANT_STRING && v->kind == AGGREGATE_VALUE_NUMBER)
        return aggregate_value_string(a, v->u.text, v->len);
    if (want == AGGREGATE_WANT_STRING && (v->kind == AGGREGATE_VALUE_TRUE || v->kind == AGGREGATE_VALUE_FALSE))
        return v->kind == AGGREGATE_VALUE_TRUE ? aggregate_value_string(a, "true", 4) : aggregate_value_string(a, "false", 5);
    if (want == AGGREGATE_WANT_BOOL && v->kind == AGGREGATE_VALUE_STRING) {
        if (v->len == 4 && memcmp(v->u.text, "true", 4) == 0)
            return aggregate_value_bool(1);
        if (v->len == 5 && memcmp(v->u.text, "false", 5) == 0)
            return aggregate_value_bool(0);
    }
    return v;
}

int aggregate_tpl_render_text(const aggregate_tpl_t *t, const aggregate_tpl_input_t *in, util_arena_t *a, int encode,
                              util_buf_t *out, const aggregate_ref_t **missing)
{
    switch (t->kind) {
    case AGGREGATE_TPL_CONST:
        aggregate_value_append_text(out, t->value, 0);
        return util_buf_failed(out) ? -1 : 0;
    case AGGREGATE_TPL_REF: {
        const aggregate_value_t *v = ref_value(t->ref, in);
        if (v == NULL) {
            if (missing != NULL)
                *missing = t->ref;
            return 1;
        }
        aggregate_value_append_text(out, v, encode);
        return util_buf_failed(out) ? -1 : 0;
    }
    case AGGREGATE_TPL_STRING:
        for (size_t i = 0; i < t->n_pieces; i++) {
            const aggregate_piece_t *p = &t->pieces[i];
            if (p->ref == NULL) {
                util_buf_append(out, p->lit, p->lit_len);
                continue;
            }
            const aggregate_value_t *v = ref_value(p->ref, in);
            if (v == NULL) {
                if (missing != NULL)
                    *missing = p->ref;
                return 1;
            }
            aggregate_value_append_text(out, v, encode);
        }
        return util_buf_failed(out) ? -1 : 0;
    default: {
        const aggregate_value_t *v = NULL;
        if (aggregate_tpl_render(t, in, a, &v, missing) != 0)
            return -1;
        if (v == NULL)
            return 1;
        aggregate_value_append_text(out, v, 0);
        return util_buf_failed(out) ? -1 : 0;
    }
    }
}

int aggregate_tpl_render(const aggregate_tpl_t *t, const aggregate_tpl_input_t *in, util_arena_t *a, const aggregate_value_t **out,
                         const aggregate_ref_t **missing)
{
    *out = NULL;
    switch (t->kind) {
    case AGGREGATE_TPL_CONST:
        *out = t->value; /* immutable and owned by the loaded set: shared, never copied */
        return 0;
    case AGGREGATE_TPL_REF: {
        const aggregate_value_t *v = ref_value(t->ref, in);
        if (v == NULL) {
            if (missing != NULL && *missing == NULL)
                *missing = t->ref;
            return 0;
        }
        *out = apply_want(a, v, t->want);
        return *out == NULL ? -1 : 0;
    }
    case AGGREGATE_TPL_STRING: {
        util_buf_t b = UTIL_BUF_INIT;
        const aggregate_ref_t *miss = NULL;
        int rc = aggregate_tpl_render_text(t, in, a, 0, &b, &miss);
        if (rc == 0) {
            const aggregate_value_t *s = aggregate_value_string(a, b.len ? (const char *)b.data : "", b.len);
            *out = s == NULL ? NULL : apply_want(a, s, t->want);
            rc = *out == NULL ? -1 : 0;
        } else if (rc == 1) {
            if (missing != NULL && *missing == NULL)
                *missing = miss;
            rc = 0;
        }
        util_buf_dispose(&b);
        return rc;
    }
    case AGGREGATE_TPL_OBJECT:
    case AGGREGATE_TPL_ARRAY: {
        int obj = t->kind == AGGREGATE_TPL_OBJECT;
        aggregate_value_t *c = obj ? aggregate_value_object(a, t->n_children) : aggregate_value_array(a, t->n_children);
        if (c == NULL)
            return -1;
        for (size_t i = 0; i < t->n_children; i++) {
            const aggregate_value_t *v;
            if (aggregate_tpl_render(t->children[i], in, a, &v, missing) != 0)
                return -1;
            if (v == NULL)
                continue;
            if ((obj ? aggregate_value_add(a, c, t->keys[i], strlen(t->keys[i]), v) : aggregate_value_append(a, c, v)) != 0)
                return -1;
        }
        *out = c;
        return 0;
    }
    }
    return -1;
}

static void each_ref(const aggregate_tpl_t *t, void (*fn)(void *arg, const aggregate_ref_t *ref), void *arg)
{
    if (t == NULL)
        return;
    switch (t->kind) {
    case AGGREGATE_TPL_CONST:
        return;
    case AGGREGATE_TPL_REF:
        fn(arg, t->ref);
        return;
    case AGGREGATE_TPL_STRING:
        for (size_t i = 0; i < t->n_pieces; i++)
            if (t->pieces[i].ref != NULL)
                fn(arg, t->pieces[i].ref);
        return;
    case AGGREGATE_TPL_OBJECT:
    case AGGREGATE_TPL_ARRAY:
        for (size_t i = 0; i < t->n_children; i++)
            each_ref(t->children[i], fn, arg);
        return;
    }
}

void aggregate_call_each_ref(const aggregate_call_t *c, void (*fn)(void *arg, const aggregate_ref_t *ref), void *arg)
{
    each_ref(c->message, fn, arg);
    each_ref(c->http_path, fn, arg);
    for (size_t k = 0; k < c->n_query; k++)
        each_ref(c->query[k].value, fn, arg);
    for (size_t k = 0; k < c->n_headers; k++)
        each_ref(c->headers[k].value, fn, arg);
    each_ref(c->body, fn, arg);
}

void aggregate_percent_encode(util_buf_t *out, const char *s, size_t len, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/')) {
            util_buf_putc(out, c);
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            util_buf_append(out, esc, 3);
        }
    }
}
