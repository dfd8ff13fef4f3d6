/*
 * binding.c — REST request → protobuf request message, per the google.api.http rule; see
 * binding.h for the merge-by-concatenation design. Query strings follow HTML forms and
 * grpc-gateway: '+' is a space, %2B a plus; dotted names reach nested fields.
 */
#include "transcode/binding.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/wire.h"
#include "util/hex.h"

#define MAX_FIELD_DEPTH 32

static int is_http_body(const proto_message_t *m)
{
    return m != NULL && strcmp(m->full_name, "google.api.HttpBody") == 0;
}

/*
 * Resolves a dotted field path ("sub.subfield", names by proto or JSON name) from |m|.
 * Fills chain[] and returns its length, or 0 when a part names no field or crosses a
 * repeated or scalar field; the caller checks what the last field may be.
 */
static size_t resolve_path(const proto_message_t *m, const char *path, size_t len, const proto_field_t **chain)
{
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && path[i] != '.')
            continue;
        if (i == start || n == MAX_FIELD_DEPTH || m == NULL)
            return 0;
        const proto_field_t *f = proto_message_field_by_name(m, path + start, i - start);
        if (f == NULL)
            return 0;
        chain[n++] = f;
        if (i < len) {
            /* an intermediate field must be a singular plain message */
            if (f->repeated || f->message == NULL || f->message->wkt != PROTO_WKT_NONE)
                return 0;
            m = f->message;
        }
        start = i + 1;
    }
    return n;
}

static int leaf_settable(const proto_field_t *f, int allow_repeated)
{
    if (f->is_map || (f->repeated && !allow_repeated))
        return 0;
    if (f->type == PROTO_TYPE_MESSAGE || f->type == PROTO_TYPE_GROUP)
        return proto_message_is_text_wkt(f->message);
    return 1;
}

const char *binding_http_method(const char *kind)
{
    static const char *const standard[] = {"GET", "PUT", "POST", "DELETE", "PATCH"};
    for (size_t i = 0; i < sizeof(standard) / sizeof(standard[0]); i++)
        if (strcasecmp(kind, standard[i]) == 0)
            return standard[i];
    return kind;
}

int binding_rule_init(binding_rule_t *b, const proto_registry_t *r, const proto_method_t *method, const char *http_method,
                      const proto_http_rule_t *rule, util_error_t *err)
{
    memset(b, 0, sizeof(*b));
    b->method = method;
    b->http_method = http_method;
    b->path = rule->path;
    const proto_message_t *in = method->input, *outm = method->output;

    if (strcmp(rule->body, "*") == 0) {
        b->body_all = 1;
        b->request_http_body = is_http_body(in);
    } else if (rule->body[0] != '\0') {
        b->body_field = proto_message_field_by_name(in, rule->body, strlen(rule->body));
        if (b->body_field == NULL || strcmp(b->body_field->name, rule->body) != 0)
            return util_error_set(err, BINDING_ERR_BAD_REQUEST, "method %s: body \"%s\" is not a field of %s", method->full_name,
                                  rule->body, in->full_name);
        b->request_http_body = b->body_field->message != NULL && !b->body_field->repeated && is_http_body(b->body_field->message);
    }
    if (rule->response_body[0] != '\0') {
        b->response_field = proto_message_field_by_name(outm, rule->response_body, strlen(rule->response_body));
        if (b->response_field == NULL || strcmp(b->response_field->name, rule->response_body) != 0)
            return util_error_set(err, BINDING_ERR_BAD_REQUEST, "method %s: response_body \"%s\" is not a field of %s",
                                  method->full_name, rule->response_body, outm->full_name);
        b->response_http_body =
            b->response_field->message != NULL && !b->response_field->repeated && is_http_body(b->response_field->message);
    } else {
        b->response_http_body = is_http_body(outm);
    }

    path_template_t *t = NULL;
    if (path_template_parse(rule->path, strlen(rule->path), &t, err) != 0) {
        util_error_prefix(err, "method %s", method->full_name);
        return -1;
    }
    for (size_t i = 0; i < t->nvars; i++) {
        const proto_field_t *chain[MAX_FIELD_DEPTH];
        const char *fp = t->vars[i].field_path;
        size_t n = resolve_path(in, fp, strlen(fp), chain);
        if (n == 0 || !leaf_settable(chain[n - 1], 0)) {
            util_error_set(err, BINDING_ERR_BAD_REQUEST,
                           "method %s: path %s: variable \"%s\" must name a singular scalar field of %s", method->full_name,
                           rule->path, fp, in->full_name);
            path_template_free(t);
            return -1;
        }
    }
    path_template_free(t);

    /* PATCH with a body field: a lone top-level FieldMask is filled from the body's keys when left empty */
    if (b->body_field != NULL && strcmp(http_method, "PATCH") == 0) {
        const proto_field_t *mask = NULL;
        for (size_t i = 0; i < in->n_fields; i++) {
            const proto_field_t *f = &in->fields[i];
            if (!f->repeated && f->message != NULL && f->message->wkt == PROTO_WKT_FIELD_MASK) {
                if (mask != NULL) {
                    mask = NULL;
                    break;
                }
                mask = f;
            }
        }
        b->patch_mask = mask;
    }
    (void)r;
    return 0;
}

/* Writes the value |text| of the field at the end of |chain| wrapped in its parents. */
static int put_chain(const proto_registry_t *r, const proto_field_t **chain, size_t n, const char *text, size_t len,
                     util_buf_t *out, util_error_t *err)
{
    size_t starts[MAX_FIELD_DEPTH];
    for (size_t i = 0; i + 1 < n; i++) {
        wire_put_tag(out, chain[i]->number, WIRE_LEN);
        starts[i] = wire_begin_len(out);
    }
    if (codec_text_to_pb(r, chain[n - 1], text, len, out, err) != 0)
        return -1;
    for (size_t i = n - 1; i-- > 0;)
        wire_end_len(out, starts[i]);
    return 0;
}

/* Form-decodes |len| bytes into |out| (room for len + 1); returns the length or -1 on a bad escape. */
static long form_decode(const char *s, size_t len, char *out)
{
    size_t j = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '+') {
            out[j++] = ' ';
        } else if (s[i] == '%') {
            int hi, lo;
            if (i + 2 >= len || (hi = util_hex_value(s[i + 1])) < 0 || (lo = util_hex_value(s[i + 2])) < 0)
                return -1;
            out[j++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[j++] = s[i];
        }
    }
    out[j] = '\0';
    return (long)j;
}

static int is_json_type(const char *ct, size_t len)
{
    /* application/json or application/<x>+json, with parameters; absent counts as JSON */
    if (ct == NULL || len == 0)
        return 1;
    size_t end = 0;
    while (end < len && ct[end] != ';' && ct[end] != ' ')
        end++;
    if (end == 16 && strncasecmp(ct, "application/json", 16) == 0)
        return 1;
    return end > 17 && strncasecmp(ct, "application/", 12) == 0 && strncasecmp(ct + end - 5, "+json", 5) == 0;
}

/* Collects the proto-name paths of the keys of |obj| (a body for message |m|) into the FieldMask wire form. */
static void collect_mask_paths(const proto_message_t *m, json_t *obj, char *prefix, size_t plen, util_buf_t *out, int depth)
{
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value)
    {
        const proto_field_t *f = proto_message_field_by_name(m, key, strlen(key));
        if (f == NULL)
            continue;
        size_t n = plen + (plen ? 1 : 0) + f->name_len;
        if (n >= 1024)
            continue;
        char path[1024];
        memcpy(path, prefix, plen);
        if (plen)
            path[plen] = '.';
        memcpy(path + plen + (plen ? 1 : 0), f->name, f->name_len);
        path[n] = '\0';
        if (depth < MAX_FIELD_DEPTH && json_is_object(value) && !f->repeated && f->message != NULL &&
            f->message->wkt == PROTO_WKT_NONE && json_object_size(value) != 0) {
            collect_mask_paths(f->message, value, path, n, out, depth + 1);
        } else {
            wire_put_tag(out, 1, WIRE_LEN);
            wire_put_varint(out, n);
            util_buf_append(out, path, n);
        }
    }
}

static int put_body(const binding_rule_t *b, const proto_registry_t *r, const binding_input_t *in, util_buf_t *out,
                    util_error_t *err)
{
    const proto_message_t *m = b->method->input;
    if (b->request_http_body) {
        /* google.api.HttpBody: content_type = 1, data = 2, passed through raw */
        size_t start = 0;
        if (b->body_field != NULL) {
            wire_put_tag(out, b->body_field->number, WIRE_LEN);
            start = wire_begin_len(out);
        }
        if (in->content_type_len != 0) {
            wire_put_tag(out, 1, WIRE_LEN);
            wire_put_varint(out, in->content_type_len);
            util_buf_append(out, in->content_type, in->content_type_len);
        }
        if (in->body_len != 0) {
            wire_put_tag(out, 2, WIRE_LEN);
            wire_put_varint(out, in->body_len);
            util_buf_append(out, in->body, in->body_len);
        }
        if (b->body_field != NULL)
            wire_end_len(out, start);
        return 0;
    }
    if (!is_json_type(in->content_type, in->content_type_len))
        return util_error_set(err, BINDING_ERR_UNSUPPORTED_MEDIA,
                              "request body must be JSON (Content-Type: application/json), not %.*s",
                              (int)(in->content_type_len > 100 ? 100 : in->content_type_len), in->content_type);
    const char *body = in->body;
    size_t len = in->body_len;
    /* an empty body is an empty message */
    size_t k = 0;
    while (k < len && (body[k] == ' ' || body[k] == '\t' || body[k] == '\r' || body[k] == '\n'))
        k++;
    if (k == len) {
        body = "{}";
        len = 2;
    }
    if (b->body_all)
        return codec_json_to_pb(r, m, body, len, in->json, out, err);

    const proto_field_t *f = b->body_field;
    if (!f->repeated && f->message != NULL && f->message->wkt == PROTO_WKT_NONE) {
        wire_put_tag(out, f->number, WIRE_LEN);
        size_t start = wire_begin_len(out);
        if (codec_json_to_pb(r, f->message, body, len, in->json, out, err) != 0) {
            util_error_prefix(err, "body");
            return -1;
        }
        wire_end_len(out, start);
    } else {
        /* any other kind of body field: parse {"<name>": <body>} as the request message. The body must be
           exactly one JSON value, or text appended to it could set other fields. */
        json_error_t jerr;
        json_t *check = json_loadb(body, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        if (check == NULL)
            return util_error_set(err, CODEC_ERR_SYNTAX, "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
                                  jerr.text);
        json_decref(check);
        util_buf_t wrapped = UTIL_BUF_INIT;
        util_buf_putc(&wrapped, '{');
        util_buf_putc(&wrapped, '"');
        util_buf_append(&wrapped, f->name, f->name_len);
        util_buf_append(&wrapped, "\":", 2);
        util_buf_append(&wrapped, body, len);
        util_buf_putc(&wrapped, '}');
        int rc = codec_json_to_pb(r, m, (const char *)wrapped.data, wrapped.len, in->json, out, err);
        util_buf_dispose(&wrapped);
        if (rc != 0)
            return -1;
    }
    return 0;
}

int binding_build_request(const binding_rule_t *b, const proto_registry_t *r, const binding_input_t *in, util_buf_t *out,
                          util_error_t *err)
{
    const proto_message_t *m = b->method->input;
    int mask_set = 0;

    if ((b->body_all || b->body_field != NULL) && put_body(b, r, in, out, err) != 0)
        return -1;

    /* query parameters */
    if (in->query != NULL && in->query_len != 0) {
        char *scratch = malloc(in->query_len + 1);
        if (scratch == NULL)
            return util_error_set(err, BINDING_ERR_BAD_REQUEST, "out of memory");
        const char *q = in->query, *end = in->query + in->query_len;
        int rc = 0;
        while (q < end && rc == 0) {
            const char *amp = memchr(q, '&', (size_t)(end - q));
            const char *pend = amp ? amp : end;
            if (pend != q) {
                const char *eq = memchr(q, '=', (size_t)(pend - q));
                const char *kend = eq ? eq : pend;
                long klen = form_decode(q, (size_t)(kend - q), scratch);
                if (klen < 0) {
                    rc = util_error_set(err, BINDING_ERR_BAD_REQUEST, "query parameter \"%.*s\": malformed percent-encoding",
                                        (int)(kend - q > 100 ? 100 : kend - q), q);
                    break;
                }
                char key[512];
                if ((size_t)klen >= sizeof(key)) {
                    if (!in->ignore_unknown_query)
                        rc = util_error_set(err, BINDING_ERR_BAD_REQUEST, "query parameter name is too long");
                    q = amp ? amp + 1 : end;
                    continue;
                }
                memcpy(key, scratch, (size_t)klen + 1);
                const proto_field_t *chain[MAX_FIELD_DEPTH];
                size_t n = b->body_all ? 0 : resolve_path(m, key, (size_t)klen, chain);
                if (n == 0 || !leaf_settable(chain[n - 1], 1)) {
                    if (!in->ignore_unknown_query) {
                        if (b->body_all)
                            rc =
                                util_error_set(err, BINDING_ERR_BAD_REQUEST,
                                               "unknown query parameter \"%s\" (this method takes every field from the body)", key);
                        else if (n != 0)
                            rc = util_error_set(err, BINDING_ERR_BAD_REQUEST,
                                                "query parameter \"%s\": field cannot be set from a query parameter", key);
                        else
                            rc = util_error_set(err, BINDING_ERR_BAD_REQUEST, "unknown query parameter \"%s\"", key);
                    }
                } else if (b->body_field != NULL && chain[0] == b->body_field) {
                    rc = util_error_set(err, BINDING_ERR_BAD_REQUEST, "query parameter \"%s\": field is bound to the request body",
                                        key);
                } else {
                    long vlen = 0;
                    if (eq != NULL && (vlen = form_decode(eq + 1, (size_t)(pend - eq - 1), scratch)) < 0) {
                        rc =
                            util_error_set(err, BINDING_ERR_BAD_REQUEST, "query parameter \"%s\": malformed percent-encoding", key);
                        break;
                    }
                    if (eq == NULL)
                        scratch[0] = '\0';
                    if (put_chain(r, chain, n, scratch, (size_t)vlen, out, err) != 0) {
                        util_error_prefix(err, "query parameter \"%s\"", key);
                        rc = -1;
                    }
                    if (chain[0] == b->patch_mask)
                        mask_set = 1;
                }
            }
            q = amp ? amp + 1 : end;
        }
        free(scratch);
        if (rc != 0)
            return -1;
    }

    /* path variables */
    const route_match_t *match = in->match;
    for (size_t i = 0; match != NULL && i < match->ncaptures; i++) {
        const route_capture_t *c = &match->captures[i];
        const proto_field_t *chain[MAX_FIELD_DEPTH];
        size_t n = resolve_path(m, c->field_path, strlen(c->field_path), chain);
        if (n == 0)
            return util_error_set(err, BINDING_ERR_BAD_REQUEST, "path variable \"%s\" names no field", c->field_path);
        char small[256];
        char *text = c->raw_len < sizeof(small) ? small : malloc(c->raw_len + 1);
        if (text == NULL)
            return util_error_set(err, BINDING_ERR_BAD_REQUEST, "out of memory");
        size_t tlen = route_capture_decode(c, PATH_TEMPLATE_UNESCAPE_EXCEPT_SLASH, text);
        int rc = put_chain(r, chain, n, text, tlen, out, err);
        if (text != small)
            free(text);
        if (rc != 0) {
            util_error_prefix(err, "path variable \"%s\"", c->field_path);
            return -1;
        }
        if (chain[0] == b->patch_mask)
            mask_set = 1;
    }

    /* PATCH: fill the empty FieldMask from the body's keys */
    if (b->patch_mask != NULL && !mask_set && !b->request_http_body) {
        json_t *doc = json_loadb(in->body, in->body_len, 0, NULL);
        if (json_is_object(doc)) {
            const proto_message_t *bm = b->body_field->message;
            wire_put_tag(out, b->patch_mask->number, WIRE_LEN);
            size_t start = wire_begin_len(out);
            if (bm != NULL)
                collect_mask_paths(bm, doc, "", 0, out, 0);
            wire_end_len(out, start);
        }
        json_decref(doc);
    }
    if (util_buf_failed(out))
        return util_error_set(err, BINDING_ERR_BAD_REQUEST, "out of memory");
    return 0;
}
