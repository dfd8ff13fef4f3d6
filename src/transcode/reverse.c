/*
 * reverse.c — the gRPC → REST mapping of one method (see reverse.h and docs/REVERSE.md): the
 * request message becomes method, path, query and body; a response body (or each element of
 * a streamed one) becomes the output message. No I/O.
 *
 * How the request is read: the message is printed once by the codec with proto field names
 * and parsed with jansson; path variables and query parameters are taken from that tree,
 * walking the descriptors alongside (so well-known types print in their string forms and
 * enums follow the service's enum_ints option). The body is printed by the codec directly
 * with the service's JSON options: body "*" is the printed message with the path-bound
 * members cut out of its text, body "field" is that member's text, so no number goes through
 * a double on its way to the body.
 *
 * Hand-written parts and why: a small protobuf record scanner (keeping one field, reading an
 * HttpBody: the codec has no field filter); a JSON value scanner that finds where a value
 * ends without parsing it, for cutting members out of the codec's output and for splitting a
 * streamed body into elements as the bytes arrive (jansson parses whole documents only).
 */
#include "transcode/reverse.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/wire.h"
#include "transcode/binding.h"
#include "transcode/path_template.h"

#define MAX_FIELD_DEPTH 32
#define MAX_GROUP_DEPTH 64

typedef struct rev_var {
    const proto_field_t *chain[MAX_FIELD_DEPTH];
    size_t n;
    char *dotted; /* proto names: "thing.name" */
    size_t first, count;
    int multi_segment;
} rev_var_t;

struct reverse_rule {
    const proto_registry_t *r;
    const proto_method_t *method;
    char *http_method;
    char *path;
    path_template_t *tpl;
    rev_var_t *vars;
    size_t nvars;
    int *var_at; /* per template segment: index of the variable starting there, or -1 */
    int body_all;
    const proto_field_t *body_field;
    const proto_field_t *response_field;
    int request_http_body;
    int response_http_body;
    codec_options_t json;  /* request bodies */
    codec_options_t parse; /* responses */
    int output_has_result, output_has_error;
};

/* =========================================================================================
 * Small helpers
 */

static int is_message(const proto_field_t *f)
{
    return f->type == PROTO_TYPE_MESSAGE || f->type == PROTO_TYPE_GROUP;
}

static int unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
           c == '~';
}

/* RFC 3986 percent-encoding of everything but unreserved characters (and '/' when |keep_slash|). */
static void pct_encode(util_buf_t *out, const char *s, size_t len, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            util_buf_putc(out, c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            util_buf_append(out, e, 3);
        }
    }
}

/* The shortest %g form that reads back as the same double. */
static void put_real(util_buf_t *out, double d)
{
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    util_buf_puts(out, buf);
}

/* Appends the text form of a JSON scalar (as a URL value). Returns 0, 1 for null, -1 for a container. */
static int put_text(util_buf_t *out, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        util_buf_append(out, json_string_value(v), json_string_length(v));
        return 0;
    case JSON_INTEGER:
        util_buf_printf(out, "%lld", (long long)json_integer_value(v));
        return 0;
    case JSON_REAL:
        put_real(out, json_real_value(v));
        return 0;
    case JSON_TRUE:
        util_buf_puts(out, "true");
        return 0;
    case JSON_FALSE:
        util_buf_puts(out, "false");
        return 0;
    case JSON_NULL:
        return 1;
    default:
        return -1;
    }
}

/* =========================================================================================
 * Wire-format helpers
 */

/* Reads the record at *p: field number, wire type, and the value's span (the payload for
 * LEN, the raw bytes otherwise, the whole group for SGROUP); advances *p. Returns 0 or -1. */
static int pb_record(const uint8_t **p, const uint8_t *end, uint32_t *number, int *wt, const uint8_t **v, const uint8_t **vend)
{
    uint64_t tag, n;
    if (wire_read_varint(p, end, &tag) != 0 || (tag >> 3) == 0 || (tag >> 3) > 0x1fffffff)
        return -1;
    *number = (uint32_t)(tag >> 3);
    *wt = (int)(tag & 7);
    *v = *p;
    switch (*wt) {
    case WIRE_VARINT:
        if (wire_read_varint(p, end, &n) != 0)
            return -1;
        break;
    case WIRE_I64:
        if (end - *p < 8)
            return -1;
        *p += 8;
        break;
    case WIRE_I32:
        if (end - *p < 4)
            return -1;
        *p += 4;
        break;
    case WIRE_LEN:
        if (wire_read_varint(p, end, &n) != 0 || n > (uint64_t)(end - *p))
            return -1;
        *v = *p;
        *p += n;
        break;
    case WIRE_SGROUP: {
        int depth = 1;
        while (depth > 0) {
            uint32_t num;
            int t;
            const uint8_t *a, *b;
            const uint8_t *before = *p;
            uint64_t t2;
            if (wire_read_varint(&before, end, &t2) != 0)
                return -1;
            if ((t2 & 7) == WIRE_EGROUP) {
                *p = before;
                depth--;
                continue;
            }
            if ((t2 & 7) == WIRE_SGROUP) {
                if (++depth > MAX_GROUP_DEPTH)
                    return -1;
                *p = before;
                continue;
            }
            if (pb_record(p, end, &num, &t, &a, &b) != 0)
                return -1;
        }
        break;
    }
    default:
        return -1;
    }
    *vend = *p;
    return 0;
}

/* Copies only the records of field |number|. */
static int pb_keep(const uint8_t *p, size_t len, uint32_t number, util_buf_t *out)
{
    const uint8_t *end = p + len;
    while (p < end) {
        const uint8_t *rec = p, *v, *vend;
        uint32_t num;
        int wt;
        if (pb_record(&p, end, &num, &wt, &v, &vend) != 0)
            return -1;
        if (num == number)
            util_buf_append(out, rec, (size_t)(p - rec));
    }
    return 0;
}

/* The payloads of every LEN record of field |number|, concatenated (protobuf's merge of a
 * singular message field). */
static int pb_merge_field(const uint8_t *p, size_t len, uint32_t number, util_buf_t *out)
{
    const uint8_t *end = p + len;
    while (p < end) {
        const uint8_t *v, *vend;
        uint32_t num;
        int wt;
        if (pb_record(&p, end, &num, &wt, &v, &vend) != 0)
            return -1;
        if (num == number && wt == WIRE_LEN)
            util_buf_append(out, v, (size_t)(vend - v));
    }
    return 0;
}

/* google.api.HttpBody: content_type (1) and data (2), the last occurrence of each. */
static int pb_http_body(const uint8_t *p, size_t len, const uint8_t **ct, size_t *ct_len, const uint8_t **data, size_t *data_len)
{
    const uint8_t *end = p + len;
    *ct = *data = NULL;
    *ct_len = *data_len = 0;
    while (p < end) {
        const uint8_t *v, *vend;
        uint32_t num;
        int wt;
        if (pb_record(&p, end, &num, &wt, &v, &vend) != 0)
            return -1;
        if (wt == WIRE_LEN && num == 1) {
            *ct = v;
            *ct_len = (size_t)(vend - v);
        } else if (wt == WIRE_LEN && num == 2) {
            *data = v;
            *data_len = (size_t)(vend - v);
        }
    }
    return 0;
}

/* =========================================================================================
 * JSON value scanning
 */

static size_t skip_ws(const char *s, size_t len, size_t i)
{
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* End (exclusive) of the JSON value starting at s[i], or 0 when it is not complete. */
static size_t value_end(const char *s, size_t len, size_t i)
{
    if (i >= len)
        return 0;
    if (s[i] == '{' || s[i] == '[' || s[i] == '"') {
        int depth = 0, in_string = 0, escape = 0;
        for (; i < len; i++) {
            char c = s[i];
            if (in_string) {
                if (escape)
                    escape = 0;
                else if (c == '\\')
                    escape = 1;
                else if (c == '"') {
                    in_string = 0;
                    if (depth == 0)
                        return i + 1;
                }
                continue;
            }
            if (c == '"')
                in_string = 1;
            else if (c == '{' || c == '[')
                depth++;
            else if (c == '}' || c == ']') {
                if (--depth == 0)
                    return i + 1;
            }
        }
        return 0;
    }
    size_t j = i;
    while (j < len && s[j] != ',' && s[j] != '}' && s[j] != ']' && s[j] != ' ' && s[j] != '\t' && s[j] != '\n' && s[j] != '\r')
        j++;
    return j > i ? j : 0;
}

/*
 * Looks member |key| up in the top-level JSON object |s| (keys compared as written between
 * the quotes). Returns 1 with its value's span, 0 when absent, -1 when |s| is not an object.
 * |*n_members| (may be NULL) gets the member count.
 */
static int object_member(const char *s, size_t len, const char *key, const char **v, size_t *vlen, size_t *n_members)
{
    size_t klen = strlen(key), count = 0;
    int found = 0;
    size_t i = skip_ws(s, len, 0);
    if (i >= len || s[i] != '{')
        return -1;
    i = skip_ws(s, len, i + 1);
    if (i < len && s[i] == '}') {
        if (n_members != NULL)
            *n_members = 0;
        return skip_ws(s, len, i + 1) == len ? 0 : -1;
    }
    for (;;) {
        if (i >= len || s[i] != '"')
            return -1;
        size_t kend = value_end(s, len, i);
        if (kend == 0)
            return -1;
        int match = kend - i - 2 == klen && memcmp(s + i + 1, key, klen) == 0;
        i = skip_ws(s, len, kend);
        if (i >= len || s[i] != ':')
            return -1;
        i = skip_ws(s, len, i + 1);
        size_t vend = value_end(s, len, i);
        if (vend == 0)
            return -1;
        if (match) {
            *v = s + i;
            *vlen = vend - i;
            found = 1;
        }
        count++;
        i = skip_ws(s, len, vend);
        if (i < len && s[i] == ',') {
            i = skip_ws(s, len, i + 1);
            continue;
        }
        if (i < len && s[i] == '}')
            break;
        return -1;
    }
    if (skip_ws(s, len, i + 1) != len)
        return -1;
    if (n_members != NULL)
        *n_members = count;
    return found;
}

/*
 * Removes the member at key path |keys| (one key per nesting level) from the JSON object that
 * starts at |b|->data[at], in place: "{"a":1,"b":2}" without "a" is "{"b":2}". Absent
 * members are left alone.
 */
static void cut_member(util_buf_t *b, size_t at, const char *const *keys, size_t n)
{
    const char *s = (const char *)b->data;
    size_t len = b->len, klen = strlen(keys[0]);
    size_t i = skip_ws(s, len, at);
    if (i >= len || s[i] != '{')
        return;
    size_t prev_end = 0; /* end of the previous member's value, 0 for the first member */
    i = skip_ws(s, len, i + 1);
    while (i < len && s[i] == '"') {
        size_t mstart = i, kend = value_end(s, len, i);
        if (kend == 0)
            return;
        int match = kend - i - 2 == klen && memcmp(s + i + 1, keys[0], klen) == 0;
        i = skip_ws(s, len, kend);
        if (i >= len || s[i] != ':')
            return;
        size_t vs = skip_ws(s, len, i + 1), ve = value_end(s, len, vs);
        if (ve == 0)
            return;
        size_t next = skip_ws(s, len, ve);
        int more = next < len && s[next] == ',';
        if (match) {
            if (n > 1) {
                cut_member(b, vs, keys + 1, n - 1);
                return;
            }
            size_t from, to;
            if (prev_end != 0) {
                from = prev_end; /* ",member" */
                to = ve;
            } else {
                from = mstart; /* "member," */
                to = more ? skip_ws(s, len, next + 1) : ve;
            }
            memmove(b->data + from, b->data + to, len - to);
            b->len -= to - from;
            return;
        }
        if (!more)
            return;
        prev_end = ve;
        i = skip_ws(s, len, next + 1);
    }
}

/* =========================================================================================
 * The rule
 */

/* An HTTP method: 1*tchar (RFC 9110). */
static int token_valid(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c) != NULL))
            return 0;
    }
    return 1;
}

/* Resolves a dotted field path (proto or JSON names) from |m| into |v->chain|. */
static int resolve_var(const proto_message_t *m, const char *path, rev_var_t *v)
{
    size_t len = strlen(path), start = 0;
    v->n = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && path[i] != '.')
            continue;
        if (i == start || v->n == MAX_FIELD_DEPTH || m == NULL)
            return -1;
        const proto_field_t *f = proto_message_field_by_name(m, path + start, i - start);
        if (f == NULL)
            return -1;
        v->chain[v->n++] = f;
        m = i < len ? f->message : NULL;
        start = i + 1;
    }
    return 0;
}

reverse_rule_t *reverse_rule_new(const proto_registry_t *r, const proto_method_t *method, const proto_http_rule_t *rule,
                                 const codec_options_t *json, util_error_t *err)
{
    if (method == NULL) {
        util_error_set(err, REVERSE_ERR_RULE, "no method given");
        return NULL;
    }
    if (rule == NULL)
        rule = method->http;
    if (rule == NULL) {
        util_error_set(err, REVERSE_ERR_RULE, "method %s has no google.api.http rule, which a REST upstream needs",
                       method->full_name);
        return NULL;
    }
    if (method->client_streaming) {
        util_error_set(err, REVERSE_ERR_RULE,
                       "method %s is %s streaming; a REST upstream serves unary and server-streaming methods only",
                       method->full_name, method->server_streaming ? "bidirectionally" : "client");
        return NULL;
    }
    if (strcmp(rule->method, "*") == 0) {
        util_error_set(err, REVERSE_ERR_RULE, "method %s: the rule's custom kind \"*\" names no HTTP method to send",
                       method->full_name);
        return NULL;
    }
    if (!token_valid(rule->method)) {
        util_error_set(err, REVERSE_ERR_RULE, "method %s: the rule's custom kind \"%.40s\" is not an HTTP method token",
                       method->full_name, rule->method);
        return NULL;
    }
    reverse_rule_t *rr = calloc(1, sizeof(*rr));
    if (rr == NULL) {
        util_error_set(err, REVERSE_ERR_NOMEM, "out of memory");
        return NULL;
    }
    rr->r = r;
    rr->method = method;
    rr->http_method = strdup(rule->method);
    rr->path = strdup(rule->path);
    if (rr->http_method == NULL || rr->path == NULL) {
        util_error_set(err, REVERSE_ERR_NOMEM, "out of memory");
        goto fail;
    }
    binding_rule_t b;
    if (binding_rule_init(&b, r, method, rr->http_method, rule, err) != 0) {
        err->code = REVERSE_ERR_RULE;
        goto fail;
    }
    rr->body_all = b.body_all;
    rr->body_field = b.body_field;
    rr->response_field = b.response_field;
    rr->request_http_body = b.request_http_body;
    rr->response_http_body = b.response_http_body;
    if (json != NULL)
        rr->json = *json;
    rr->json.ignore_unknown = 0;
    rr->parse = rr->json;
    rr->parse.ignore_unknown = 1;
    rr->output_has_result = proto_message_field_by_name(method->output, "result", 6) != NULL;
    rr->output_has_error = proto_message_field_by_name(method->output, "error", 5) != NULL;

    if (path_template_parse(rule->path, strlen(rule->path), &rr->tpl, err) != 0) {
        err->code = REVERSE_ERR_RULE;
        util_error_prefix(err, "method %s", method->full_name);
        goto fail;
    }
    const path_template_t *t = rr->tpl;
    rr->vars = calloc(t->nvars ? t->nvars : 1, sizeof(*rr->vars));
    rr->var_at = malloc((t->nsegments ? t->nsegments : 1) * sizeof(int));
    if (rr->vars == NULL || rr->var_at == NULL) {
        util_error_set(err, REVERSE_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < t->nsegments; i++)
        rr->var_at[i] = -1;
    rr->nvars = t->nvars;
    for (size_t i = 0; i < t->nvars; i++) {
        rev_var_t *v = &rr->vars[i];
        if (resolve_var(method->input, t->vars[i].field_path, v) != 0) {
            util_error_set(err, REVERSE_ERR_RULE, "method %s: path variable \"%s\" names no field", method->full_name,
                           t->vars[i].field_path);
            goto fail;
        }
        util_buf_t d = UTIL_BUF_INIT;
        for (size_t k = 0; k < v->n; k++) {
            if (k)
                util_buf_putc(&d, '.');
            util_buf_puts(&d, v->chain[k]->name);
        }
        util_buf_putc(&d, 0);
        if (util_buf_failed(&d)) {
            util_error_set(err, REVERSE_ERR_NOMEM, "out of memory");
            goto fail;
        }
        v->dotted = (char *)d.data;
        v->first = t->vars[i].first;
        v->count = t->vars[i].count;
        v->multi_segment = t->vars[i].multi_segment;
        rr->var_at[v->first] = (int)i;
    }
    for (size_t i = 0; i < t->nsegments;) {
        if (rr->var_at[i] >= 0) {
            i += rr->vars[rr->var_at[i]].count;
            continue;
        }
        if (t->segments[i].kind != PATH_TEMPLATE_SEG_LITERAL) {
            util_error_set(err, REVERSE_ERR_RULE,
                           "method %s: path %s has a wildcard outside any {variable}, which nothing in the message can fill",
                           method->full_name, rule->path);
            goto fail;
        }
        i++;
    }
    return rr;
fail:
    reverse_rule_free(rr);
    return NULL;
}

void reverse_rule_free(reverse_rule_t *rr)
{
    if (rr == NULL)
        return;
    for (size_t i = 0; rr->vars != NULL && i < rr->nvars; i++)
        free(rr->vars[i].dotted);
    free(rr->vars);
    free(rr->var_at);
    path_template_free(rr->tpl);
    free(rr->http_method);
    free(rr->path);
    free(rr);
}

const proto_method_t *reverse_rule_method(const reverse_rule_t *rule)
{
    return rule->method;
}

const char *reverse_rule_http_method(const reverse_rule_t *rule)
{
    return rule->http_method;
}

const char *reverse_rule_path(const reverse_rule_t *rule)
{
    return rule->path;
}

/* =========================================================================================
 * Request
 */

void reverse_http_request_init(reverse_http_request_t *req)
{
    memset(req, 0, sizeof(*req));
    util_buf_init(&req->target);
    util_buf_init(&req->body);
    util_buf_init(&req->content_type);
}

void reverse_http_request_dispose(reverse_http_request_t *req)
{
    util_buf_dispose(&req->target);
    util_buf_dispose(&req->body);
    util_buf_dispose(&req->content_type);
}

/* The text of path variable |v| (from the proto-named tree |root|) into |out|. */
static int var_text(const reverse_rule_t *rr, const rev_var_t *v, json_t *root, util_buf_t *out, util_error_t *err)
{
    json_t *node = root;
    for (size_t k = 0; k < v->n && node != NULL; k++)
        node = json_is_object(node) ? json_object_get(node, v->chain[k]->name) : NULL;
    const proto_field_t *leaf = v->chain[v->n - 1];
    if (node == NULL || json_is_null(node)) {
        /* unset: the default value, where it has a text form a path can carry */
        switch (leaf->type) {
        case PROTO_TYPE_STRING:
        case PROTO_TYPE_BYTES:
            return util_error_set(err, REVERSE_ERR_ARGUMENT, "path variable \"%s\" is empty", v->dotted);
        case PROTO_TYPE_BOOL:
            util_buf_puts(out, "false");
            return 0;
        case PROTO_TYPE_ENUM:
            if (rr->json.enum_ints || leaf->enum_type == NULL || leaf->enum_type->n_values == 0)
                util_buf_puts(out, "0");
            else
                util_buf_puts(out, leaf->enum_type->values[0].name);
            return 0;
        case PROTO_TYPE_MESSAGE:
        case PROTO_TYPE_GROUP:
            return util_error_set(err, REVERSE_ERR_ARGUMENT, "path variable \"%s\" is not set", v->dotted);
        default:
            util_buf_puts(out, "0");
            return 0;
        }
    }
    if (put_text(out, node) != 0)
        return util_error_set(err, REVERSE_ERR_ARGUMENT, "path variable \"%s\" has no text form", v->dotted);
    return 0;
}

/* Does the value of multi-segment variable |v| fit its part of the template? */
static int var_matches(const reverse_rule_t *rr, const rev_var_t *v, const char *s, size_t len)
{
    const path_template_t *t = rr->tpl;
    size_t k = 0;
    const char *segs[PATH_TEMPLATE_MAX_SEGMENTS * 4];
    size_t lens[PATH_TEMPLATE_MAX_SEGMENTS * 4], nsegs = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '/')
            continue;
        if (i == start || nsegs == sizeof(segs) / sizeof(segs[0]))
            return 0; /* empty segment, or absurdly many */
        segs[nsegs] = s + start;
        lens[nsegs++] = i - start;
        start = i + 1;
    }
    for (size_t j = v->first; j < v->first + v->count; j++) {
        const path_template_segment_t *seg = &t->segments[j];
        if (seg->kind == PATH_TEMPLATE_SEG_DSTAR) {
            k = nsegs;
        } else if (seg->kind == PATH_TEMPLATE_SEG_STAR) {
            if (k == nsegs)
                return 0;
            k++;
        } else {
            if (k == nsegs)
                return 0;
            char lit[512];
            if (seg->literal_len >= sizeof(lit))
                return 0;
            size_t n = path_template_unescape(seg->literal, seg->literal_len, PATH_TEMPLATE_UNESCAPE_ALL, lit);
            if (n != lens[k] || memcmp(lit, segs[k], n) != 0)
                return 0;
            k++;
        }
    }
    return k == nsegs;
}

/* A template segment of |t| as the path template text shows it (for messages). */
static void var_template(const reverse_rule_t *rr, const rev_var_t *v, char *out, size_t cap)
{
    size_t off = 0;
    out[0] = 0;
    for (size_t j = v->first; j < v->first + v->count && off < cap; j++) {
        const path_template_segment_t *seg = &rr->tpl->segments[j];
        const char *text = seg->kind == PATH_TEMPLATE_SEG_STAR ? "*" : seg->kind == PATH_TEMPLATE_SEG_DSTAR ? "**" : seg->literal;
        int n = snprintf(out + off, cap - off, "%s%s", j == v->first ? "" : "/", text);
        if (n < 0)
            break;
        off += (size_t)n;
    }
}

static int build_path(const reverse_rule_t *rr, json_t *root, util_buf_t *out, util_error_t *err)
{
    const path_template_t *t = rr->tpl;
    util_buf_t text = UTIL_BUF_INIT;
    int rc = 0;
    for (size_t i = 0; i < t->nsegments && rc == 0;) {
        util_buf_putc(out, '/');
        int vi = rr->var_at[i];
        if (vi < 0) {
            util_buf_append(out, t->segments[i].literal, t->segments[i].literal_len);
            i++;
            continue;
        }
        const rev_var_t *v = &rr->vars[vi];
        text.len = 0;
        if ((rc = var_text(rr, v, root, &text, err)) != 0)
            break;
        if (text.len == 0) {
            rc = util_error_set(err, REVERSE_ERR_ARGUMENT, "path variable \"%s\" is empty", v->dotted);
            break;
        }
        if (v->multi_segment && !var_matches(rr, v, (const char *)text.data, text.len)) {
            char tpl[256];
            var_template(rr, v, tpl, sizeof(tpl));
            rc = util_error_set(err, REVERSE_ERR_ARGUMENT, "path variable \"%s\": \"%.*s\" does not match the template \"%s\"",
                                v->dotted, (int)(text.len > 200 ? 200 : text.len), (const char *)text.data, tpl);
            break;
        }
        pct_encode(out, (const char *)text.data, text.len, v->multi_segment);
        i += v->count;
    }
    if (rc == 0 && t->verb != NULL) {
        util_buf_putc(out, ':');
        util_buf_append(out, t->verb, t->verb_len);
    }
    util_buf_dispose(&text);
    return rc;
}

typedef struct query_ctx {
    const reverse_rule_t *rr;
    util_buf_t *out;
    int first;
    util_error_t *err;
} query_ctx_t;

static int bound_to_path(const reverse_rule_t *rr, const char *dotted)
{
    for (size_t i = 0; i < rr->nvars; i++)
        if (strcmp(rr->vars[i].dotted, dotted) == 0)
            return 1;
    return 0;
}

static void put_param(query_ctx_t *q, const char *name, const json_t *v)
{
    util_buf_t text = UTIL_BUF_INIT;
    if (put_text(&text, v) != 0) {
        util_buf_dispose(&text);
        return;
    }
    util_buf_putc(q->out, q->first ? '?' : '&');
    q->first = 0;
    pct_encode(q->out, name, strlen(name), 0);
    util_buf_putc(q->out, '=');
    pct_encode(q->out, (const char *)text.data, text.len, 0);
    if (text.failed)
        q->out->failed = 1;
    util_buf_dispose(&text);
}

/* Every set field of |obj| (message |m|) not bound to the path or the body, as dotted parameters. */
static int flatten(query_ctx_t *q, const proto_message_t *m, json_t *obj, const char *prefix, int top)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        const proto_field_t *f = proto_message_field_by_name(m, key, strlen(key));
        if (f == NULL || json_is_null(v))
            continue;
        if (top && f == q->rr->body_field)
            continue;
        char name[1024];
        int n = snprintf(name, sizeof(name), "%s%s", prefix, f->name);
        if (n < 0 || (size_t)n >= sizeof(name))
            return util_error_set(q->err, REVERSE_ERR_ARGUMENT, "field path \"%s%s\" is too long for a query parameter", prefix,
                                  key);
        if (bound_to_path(q->rr, name))
            continue;
        if (f->is_map)
            return util_error_set(q->err, REVERSE_ERR_ARGUMENT,
                                  "field \"%s\" is a map, which the query string of this method's GET-style rule cannot carry",
                                  name);
        int plain_message = is_message(f) && !proto_message_is_text_wkt(f->message);
        if (plain_message && (f->message->wkt == PROTO_WKT_STRUCT || f->message->wkt == PROTO_WKT_VALUE ||
                              f->message->wkt == PROTO_WKT_LIST_VALUE || f->message->wkt == PROTO_WKT_ANY))
            return util_error_set(q->err, REVERSE_ERR_ARGUMENT, "field \"%s\" (%s) cannot be sent as a query parameter", name,
                                  f->message->full_name);
        if (f->repeated) {
            if (plain_message)
                return util_error_set(q->err, REVERSE_ERR_ARGUMENT,
                                      "field \"%s\" is a repeated message, which a query string cannot carry", name);
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e) put_param(q, name, e);
            continue;
        }
        if (plain_message) {
            if (f->message->wkt == PROTO_WKT_EMPTY || !json_is_object(v))
                continue;
            char sub[1030];
            snprintf(sub, sizeof(sub), "%s.", name);
            if (flatten(q, f->message, v, sub, 0) != 0)
                return -1;
            continue;
        }
        put_param(q, name, v);
    }
    return 0;
}

static int wire_error(util_error_t *err, const proto_message_t *m)
{
    return util_error_set(err, REVERSE_ERR_WIRE, "the request is not a valid %s message (malformed protobuf)", m->full_name);
}

/* Appends the HttpBody in |pb| as the raw body and its content type. */
static int put_http_body(const uint8_t *pb, size_t len, reverse_http_request_t *out, const proto_message_t *m, util_error_t *err)
{
    const uint8_t *ct, *data;
    size_t ct_len, data_len;
    if (pb_http_body(pb, len, &ct, &ct_len, &data, &data_len) != 0)
        return wire_error(err, m);
    for (size_t i = 0; i < ct_len; i++)
        if (ct[i] < 0x20 || ct[i] >= 0x7f)
            return util_error_set(err, REVERSE_ERR_ARGUMENT, "the HttpBody's content_type holds a byte that a header cannot carry");
    util_buf_append(&out->body, data, data_len);
    util_buf_append(&out->content_type, ct, ct_len);
    return 0;
}

/* The JSON of field |f| holding its default value (the body of a body: "field" left unset). */
static void put_default_json(const reverse_rule_t *rr, const proto_field_t *f, util_buf_t *out)
{
    if (f->is_map) {
        util_buf_puts(out, "{}");
        return;
    }
    if (f->repeated) {
        util_buf_puts(out, "[]");
        return;
    }
    switch (f->type) {
    case PROTO_TYPE_MESSAGE:
    case PROTO_TYPE_GROUP:
        util_buf_puts(out, f->message->wkt == PROTO_WKT_NONE || f->message->wkt == PROTO_WKT_EMPTY ? "{}" : "null");
        return;
    case PROTO_TYPE_STRING:
    case PROTO_TYPE_BYTES:
        util_buf_puts(out, "\"\"");
        return;
    case PROTO_TYPE_BOOL:
        util_buf_puts(out, "false");
        return;
    case PROTO_TYPE_INT64:
    case PROTO_TYPE_UINT64:
    case PROTO_TYPE_FIXED64:
    case PROTO_TYPE_SFIXED64:
    case PROTO_TYPE_SINT64:
        util_buf_puts(out, "\"0\"");
        return;
    case PROTO_TYPE_ENUM:
        if (rr->json.enum_ints || f->enum_type == NULL || f->enum_type->n_values == 0)
            util_buf_puts(out, "0");
        else
            util_buf_printf(out, "\"%s\"", f->enum_type->values[0].name);
        return;
    default:
        util_buf_puts(out, "0");
        return;
    }
}

static int build_body(const reverse_rule_t *rr, const uint8_t *pb, size_t len, reverse_http_request_t *out, util_error_t *err)
{
    const proto_message_t *in = rr->method->input;
    util_buf_t tmp = UTIL_BUF_INIT;
    int rc = 0;
    out->has_body = 1;
    if (rr->body_all) {
        if (rr->request_http_body) {
            rc = put_http_body(pb, len, out, in, err);
        } else if (codec_pb_to_json(rr->r, in, pb, len, &rr->json, &out->body, err) != 0) {
            rc = -1;
        } else {
            /* the fields bound to the path are not in the body (emit_defaults would print them) */
            for (size_t i = 0; i < rr->nvars; i++) {
                const char *keys[MAX_FIELD_DEPTH];
                for (size_t k = 0; k < rr->vars[i].n; k++)
                    keys[k] = rr->json.proto_names ? rr->vars[i].chain[k]->name : rr->vars[i].chain[k]->json_name;
                cut_member(&out->body, 0, keys, rr->vars[i].n);
            }
        }
    } else {
        const proto_field_t *f = rr->body_field;
        if (rr->request_http_body) {
            if (pb_merge_field(pb, len, f->number, &tmp) != 0)
                rc = wire_error(err, in);
            else
                rc = put_http_body(tmp.data, tmp.len, out, in, err);
        } else if (pb_keep(pb, len, f->number, &tmp) != 0) {
            rc = wire_error(err, in);
        } else {
            util_buf_t printed = UTIL_BUF_INIT;
            if (codec_pb_to_json(rr->r, in, tmp.data, tmp.len, &rr->json, &printed, err) != 0) {
                rc = -1;
            } else {
                const char *v;
                size_t vlen;
                const char *key = rr->json.proto_names ? f->name : f->json_name;
                if (object_member((const char *)printed.data, printed.len, key, &v, &vlen, NULL) == 1)
                    util_buf_append(&out->body, v, vlen);
                else
                    put_default_json(rr, f, &out->body);
            }
            util_buf_dispose(&printed);
        }
    }
    if (rc == 0 && out->content_type.len == 0)
        util_buf_puts(&out->content_type, rr->request_http_body ? "application/octet-stream" : "application/json");
    util_buf_dispose(&tmp);
    return rc;
}

int reverse_build_request(const reverse_rule_t *rr, const uint8_t *pb, size_t len, reverse_http_request_t *out, util_error_t *err)
{
    out->method = rr->http_method;
    out->has_body = 0;
    out->target.len = 0;
    out->body.len = 0;
    out->content_type.len = 0;
    const proto_message_t *in = rr->method->input;
    int rc = 0;
    json_t *root = NULL;

    /* path and query from the message printed with proto names */
    int need_tree = rr->nvars != 0 || !rr->body_all;
    if (need_tree && !(rr->body_all && rr->request_http_body)) {
        util_buf_t printed = UTIL_BUF_INIT;
        codec_options_t o = rr->json;
        o.proto_names = 1;
        o.emit_defaults = 0;
        if (codec_pb_to_json(rr->r, in, pb, len, &o, &printed, err) != 0) {
            util_buf_dispose(&printed);
            if (err != NULL && err->code == CODEC_ERR_WIRE)
                err->code = REVERSE_ERR_WIRE;
            return -1;
        }
        json_error_t jerr;
        root = json_loadb((const char *)printed.data, printed.len, JSON_ALLOW_NUL, &jerr);
        util_buf_dispose(&printed);
        if (root == NULL)
            return util_error_set(err, REVERSE_ERR_NOMEM, "cannot read back the printed request: %s", jerr.text);
    }
    if (rr->nvars != 0 && root == NULL)
        root = json_object(); /* an HttpBody request has no variables; keep the walk total */
    rc = build_path(rr, root, &out->target, err);
    if (rc == 0 && !rr->body_all && root != NULL) {
        query_ctx_t q = {rr, &out->target, 1, err};
        rc = flatten(&q, in, root, "", 1);
    }
    json_decref(root);
    if (rc == 0 && (rr->body_all || rr->body_field != NULL))
        rc = build_body(rr, pb, len, out, err);
    if (rc != 0 && err != NULL && err->code == CODEC_ERR_WIRE)
        err->code = REVERSE_ERR_WIRE;
    util_buf_putc(&out->target, 0);
    out->target.len--;
    util_buf_putc(&out->content_type, 0);
    out->content_type.len--;
    if (rc == 0 && (util_buf_failed(&out->target) || util_buf_failed(&out->body) || util_buf_failed(&out->content_type)))
        rc = util_error_set(err, REVERSE_ERR_NOMEM, "out of memory building the request of %s", rr->method->full_name);
    return rc;
}

/* =========================================================================================
 * Response
 */

int reverse_parse_response(const reverse_rule_t *rr, const char *body, size_t len, const char *content_type, size_t ct_len,
                           util_buf_t *out, util_error_t *err)
{
    const proto_message_t *outm = rr->method->output;
    if (rr->response_http_body) {
        size_t start = 0;
        if (rr->response_field != NULL) {
            wire_put_tag(out, rr->response_field->number, WIRE_LEN);
            start = wire_begin_len(out);
        }
        if (content_type != NULL && ct_len != 0) {
            wire_put_tag(out, 1, WIRE_LEN);
            wire_put_varint(out, ct_len);
            util_buf_append(out, content_type, ct_len);
        }
        if (len != 0) {
            wire_put_tag(out, 2, WIRE_LEN);
            wire_put_varint(out, len);
            util_buf_append(out, body, len);
        }
        if (rr->response_field != NULL)
            wire_end_len(out, start);
        return util_buf_failed(out) ? util_error_set(err, REVERSE_ERR_NOMEM, "out of memory") : 0;
    }
    size_t i = skip_ws(body, len, 0), end = len;
    while (end > i && (body[end - 1] == ' ' || body[end - 1] == '\t' || body[end - 1] == '\n' || body[end - 1] == '\r'))
        end--;
    if (i == end || (end - i == 4 && memcmp(body + i, "null", 4) == 0))
        return 0; /* the empty message */
    int rc;
    if (rr->response_field != NULL) {
        util_buf_t w = UTIL_BUF_INIT;
        util_buf_puts(&w, "{\"");
        util_buf_puts(&w, rr->response_field->name);
        util_buf_puts(&w, "\":");
        util_buf_append(&w, body + i, end - i);
        util_buf_putc(&w, '}');
        rc = util_buf_failed(&w) ? util_error_set(err, REVERSE_ERR_NOMEM, "out of memory")
                                 : codec_json_to_pb(rr->r, outm, (const char *)w.data, w.len, &rr->parse, out, err);
        util_buf_dispose(&w);
    } else {
        rc = codec_json_to_pb(rr->r, outm, body + i, end - i, &rr->parse, out, err);
    }
    if (rc != 0 && err != NULL) {
        if (rr->response_field != NULL)
            util_error_prefix(err, "the response is not a valid %s.%s", outm->full_name, rr->response_field->name);
        else
            util_error_prefix(err, "the response is not a valid %s", outm->full_name);
        err->code = REVERSE_ERR_RESPONSE;
    }
    return rc;
}

int reverse_stream_unwrap(const reverse_rule_t *rr, const char *elem, size_t len, const char **inner, size_t *inner_len)
{
    size_t n;
    if (!rr->output_has_result && object_member(elem, len, "result", inner, inner_len, &n) == 1 && n == 1)
        return 1;
    if (!rr->output_has_error && object_member(elem, len, "error", inner, inner_len, &n) == 1 && n == 1)
        return 2;
    return 0;
}

/* =========================================================================================
 * Stream splitter
 */

enum {
    SPLIT_MODE_NONE = 0,
    SPLIT_MODE_ARRAY = 1,
    SPLIT_MODE_SEQUENCE = 2,
};

enum {
    SPLIT_BEFORE = 0,  /* expecting a value (or, in an array, ']' when empty) */
    SPLIT_IN_VALUE,    /* inside a container or string value */
    SPLIT_IN_SCALAR,   /* inside a bare scalar (number, true, false, null) */
    SPLIT_AFTER,       /* array: expecting ',' or ']' */
    SPLIT_AFTER_COMMA, /* array: expecting a value (']' is an error) */
    SPLIT_END,         /* array closed: only whitespace may follow */
};

void reverse_splitter_init(reverse_splitter_t *s, size_t max_element)
{
    memset(s, 0, sizeof(*s));
    s->max_element = max_element != 0 ? max_element : CODEC_DEFAULT_MAX_INPUT;
    util_buf_init(&s->elem);
}

void reverse_splitter_dispose(reverse_splitter_t *s)
{
    util_buf_dispose(&s->elem);
}

static int split_fail(reverse_splitter_t *s, util_error_t *err, int code, const char *msg)
{
    s->failed = 1;
    return util_error_set(err, code, "streamed response: %s", msg);
}

static int split_emit(reverse_splitter_t *s, reverse_element_cb cb, void *ctx)
{
    int rc = cb(ctx, (const char *)s->elem.data, s->elem.len);
    s->elem.len = 0;
    return rc != 0 ? 1 : 0;
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int reverse_splitter_feed(reverse_splitter_t *s, const char *data, size_t len, reverse_element_cb cb, void *ctx, util_error_t *err)
{
    if (s->failed)
        return util_error_set(err, REVERSE_ERR_RESPONSE, "streamed response: splitter used after an error");
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        if (s->mode == SPLIT_MODE_NONE) {
            if (is_ws(c))
                continue;
            if (c == '[') {
                s->mode = SPLIT_MODE_ARRAY;
                s->state = SPLIT_BEFORE;
                continue;
            }
            s->mode = SPLIT_MODE_SEQUENCE;
            s->state = SPLIT_BEFORE;
        }
        switch (s->state) {
        case SPLIT_BEFORE:
        case SPLIT_AFTER_COMMA:
            if (is_ws(c))
                continue;
            if (s->mode == SPLIT_MODE_ARRAY && c == ']' && s->state == SPLIT_BEFORE) {
                s->state = SPLIT_END;
                continue;
            }
            if (c == ',' || c == ']' || c == '}' || c == ':')
                return split_fail(s, err, REVERSE_ERR_RESPONSE, "a value was expected");
            util_buf_putc(&s->elem, (uint8_t)c);
            if (c == '{' || c == '[' || c == '"') {
                s->depth = c == '"' ? 0 : 1;
                s->in_string = c == '"';
                s->escape = 0;
                s->state = SPLIT_IN_VALUE;
            } else {
                s->state = SPLIT_IN_SCALAR;
            }
            continue;
        case SPLIT_IN_VALUE: {
            util_buf_putc(&s->elem, (uint8_t)c);
            int complete = 0;
            if (s->in_string) {
                if (s->escape)
                    s->escape = 0;
                else if (c == '\\')
                    s->escape = 1;
                else if (c == '"') {
                    s->in_string = 0;
                    complete = s->depth == 0;
                }
            } else if (c == '"') {
                s->in_string = 1;
            } else if (c == '{' || c == '[') {
                s->depth++;
            } else if (c == '}' || c == ']') {
                complete = --s->depth == 0;
            }
            if (s->elem.len > s->max_element)
                return split_fail(s, err, REVERSE_ERR_TOO_LARGE, "an element is over the size limit");
            if (complete) {
                s->state = s->mode == SPLIT_MODE_ARRAY ? SPLIT_AFTER : SPLIT_BEFORE;
                if (split_emit(s, cb, ctx) != 0)
                    return 1;
            }
            continue;
        }
        case SPLIT_IN_SCALAR:
            if (is_ws(c) || (s->mode == SPLIT_MODE_ARRAY && (c == ',' || c == ']'))) {
                s->state = s->mode == SPLIT_MODE_ARRAY ? SPLIT_AFTER : SPLIT_BEFORE;
                if (split_emit(s, cb, ctx) != 0)
                    return 1;
                i--; /* the terminator is looked at again (unsigned wrap-around is undone by the loop's i++) */
                continue;
            }
            util_buf_putc(&s->elem, (uint8_t)c);
            if (s->elem.len > s->max_element)
                return split_fail(s, err, REVERSE_ERR_TOO_LARGE, "an element is over the size limit");
            continue;
        case SPLIT_AFTER:
            if (is_ws(c))
                continue;
            if (c == ',')
                s->state = SPLIT_AFTER_COMMA;
            else if (c == ']')
                s->state = SPLIT_END;
            else
                return split_fail(s, err, REVERSE_ERR_RESPONSE, "',' or ']' was expected between array elements");
            continue;
        case SPLIT_END:
        default:
            if (!is_ws(c))
                return split_fail(s, err, REVERSE_ERR_RESPONSE, "data after the end of the JSON array");
            continue;
        }
    }
    if (util_buf_failed(&s->elem))
        return split_fail(s, err, REVERSE_ERR_NOMEM, "out of memory");
    return 0;
}

int reverse_splitter_finish(reverse_splitter_t *s, reverse_element_cb cb, void *ctx, util_error_t *err)
{
    if (s->failed)
        return util_error_set(err, REVERSE_ERR_RESPONSE, "streamed response: splitter used after an error");
    if (s->state == SPLIT_IN_SCALAR) {
        s->state = s->mode == SPLIT_MODE_ARRAY ? SPLIT_AFTER : SPLIT_BEFORE;
        if (split_emit(s, cb, ctx) != 0)
            return 1;
    }
    if (s->state == SPLIT_IN_VALUE)
        return split_fail(s, err, REVERSE_ERR_RESPONSE, "the body ended inside an element");
    if (s->mode == SPLIT_MODE_ARRAY && s->state != SPLIT_END)
        return split_fail(s, err, REVERSE_ERR_RESPONSE, "the body ended before the JSON array was closed");
    return 0;
}
