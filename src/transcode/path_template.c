// path_template.c — parser for google.api.http path templates and the percent-encoding helpers the
// matcher and the request binding share; see path_template.h for the grammar and the choices.
//
// Written by hand: the grammar is six productions and no library on the system parses it (Envoy's
// and grpc-gateway's parsers are C++ and Go). The parser is a single left-to-right pass with the
// cursor as the only state, so every error can name its column.
#include "transcode/path_template.h"

#include "util/hex.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static int is_unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
           c == '~';
}

/* RFC 6570 reserved = gen-delims / sub-delims. */
static int is_reserved(unsigned char c)
{
    return c != 0 && strchr(":/?#[]@!$&'()*+,;=", c) != NULL;
}

/* Characters a template LITERAL may hold besides %XX (see the header). */
static int is_literal_char(unsigned char c)
{
    return is_unreserved(c) || (c != 0 && strchr("!$&'()+,;@", c) != NULL);
}

int path_template_escapes_valid(const char *s, size_t len)
{
    const char *p = s, *end = s + len;
    while ((p = memchr(p, '%', (size_t)(end - p))) != NULL) {
        if (end - p < 3 || util_hex_value((unsigned char)p[1]) < 0 || util_hex_value((unsigned char)p[2]) < 0)
            return 0;
        p += 3;
    }
    return 1;
}

size_t path_template_unescape(const char *src, size_t len, path_template_unescape_t mode, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (src[i] == '%' && i + 2 < len && (hi = util_hex_value((unsigned char)src[i + 1])) >= 0 &&
            (lo = util_hex_value((unsigned char)src[i + 2])) >= 0) {
            unsigned char c = (unsigned char)(hi << 4 | lo);
            int keep = (mode == PATH_TEMPLATE_UNESCAPE_EXCEPT_SLASH && c == '/') ||
                       (mode == PATH_TEMPLATE_UNESCAPE_EXCEPT_RESERVED && is_reserved(c));
            if (!keep) {
                out[o++] = (char)c;
                i += 2;
                continue;
            }
        }
        out[o++] = src[i];
    }
    out[o] = '\0';
    return o;
}

/*
 * Reads one normalised byte of |s| at *i (see path_template_literal_cmp): an escape of an
 * unreserved character yields that character; any other escape yields its three bytes one at a
 * time with upper-case hex, tracked by *pending (the bytes still owed).
 */
static unsigned char norm_next(const char *s, size_t len, size_t *i, char pending[2], int *npending)
{
    if (*npending > 0) {
        unsigned char c = (unsigned char)pending[2 - *npending];
        (*npending)--;
        return c;
    }
    unsigned char c = (unsigned char)s[*i];
    if (c == '%' && *i + 2 < len) {
        int hi = util_hex_value((unsigned char)s[*i + 1]), lo = util_hex_value((unsigned char)s[*i + 2]);
        if (hi >= 0 && lo >= 0) {
            unsigned char d = (unsigned char)(hi << 4 | lo);
            *i += 3;
            if (is_unreserved(d))
                return d;
            pending[0] = "0123456789ABCDEF"[hi];
            pending[1] = "0123456789ABCDEF"[lo];
            *npending = 2;
            return '%';
        }
    }
    (*i)++;
    return c;
}

int path_template_literal_cmp(const char *raw, size_t raw_len, const char *lit, size_t lit_len)
{
    /* Fast path: nothing to normalise, so plain lexicographic order. */
    if (memchr(raw, '%', raw_len) == NULL) {
        size_t n = raw_len < lit_len ? raw_len : lit_len;
        int r = n ? memcmp(raw, lit, n) : 0;
        if (r != 0)
            return r;
        return raw_len < lit_len ? -1 : raw_len > lit_len;
    }
    size_t i = 0, j = 0;
    char pending[2];
    int npending = 0;
    while ((i < raw_len || npending > 0) && j < lit_len) {
        unsigned char a = norm_next(raw, raw_len, &i, pending, &npending);
        unsigned char b = (unsigned char)lit[j++];
        if (a != b)
            return a < b ? -1 : 1;
    }
    int raw_left = i < raw_len || npending > 0;
    int lit_left = j < lit_len;
    return raw_left ? 1 : (lit_left ? -1 : 0);
}

/* ---------------------------------------------------------------------------------------------- */

typedef struct parser {
    const char *src;
    size_t len;
    size_t pos;
    path_template_t *t;
    size_t seg_cap, var_cap;
    size_t dstar_pos; /* where the last "**" was written, for the "must be last" message */
    util_error_t *err;
} parser_t;

/* Quotes the template for messages, escaping bytes that would garble one line of log. */
static void quote_template(const char *s, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 8 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    }
    if (o + 8 >= cap && o + 4 <= cap) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

static int fail_at(parser_t *p, size_t pos, int code, const char *what)
{
    char q[200];
    quote_template(p->src, p->len, q, sizeof(q));
    return util_error_set(p->err, code, "path template \"%s\": %s (column %zu)", q, what, pos + 1);
}

static int at(const parser_t *p, char c)
{
    return p->pos < p->len && p->src[p->pos] == c;
}

static int push_segment(parser_t *p, path_template_seg_kind_t kind, const char *lit, size_t lit_len)
{
    path_template_t *t = p->t;
    if (t->nsegments > 0 && t->segments[t->nsegments - 1].kind == PATH_TEMPLATE_SEG_DSTAR)
        return fail_at(p, p->dstar_pos, PATH_TEMPLATE_ERR_DSTAR_NOT_LAST,
                       "\"**\" must be the last segment (only a verb may follow it)");
    if (t->nsegments == PATH_TEMPLATE_MAX_SEGMENTS)
        return fail_at(p, p->pos, PATH_TEMPLATE_ERR_TOO_BIG, "more than 64 segments");
    if (t->nsegments == p->seg_cap) {
        size_t cap = p->seg_cap ? p->seg_cap * 2 : 8;
        path_template_segment_t *n = realloc(t->segments, cap * sizeof(*n));
        if (n == NULL)
            return fail_at(p, p->pos, PATH_TEMPLATE_ERR_NOMEM, "out of memory");
        t->segments = n;
        p->seg_cap = cap;
    }
    path_template_segment_t *s = &t->segments[t->nsegments];
    s->kind = kind;
    s->literal = NULL;
    s->literal_len = 0;
    if (kind == PATH_TEMPLATE_SEG_LITERAL) {
        char *copy = malloc(lit_len + 1);
        if (copy == NULL)
            return fail_at(p, p->pos, PATH_TEMPLATE_ERR_NOMEM, "out of memory");
        memcpy(copy, lit, lit_len);
        copy[lit_len] = '\0';
        s->literal = copy;
        s->literal_len = lit_len;
    }
    t->nsegments++;
    return 0;
}

/*
 * Scans a LITERAL at the cursor into |out| (normalised; room for the remaining input) and sets
 * *out_len. |what| names it in messages ("segment" or "verb"). Fails on an empty literal or a
 * character outside the literal set, pointing at that character.
 */
static int parse_literal(parser_t *p, char *out, size_t *out_len, const char *what)
{
    size_t start = p->pos, o = 0;
    char msg[96];
    while (p->pos < p->len) {
        unsigned char c = (unsigned char)p->src[p->pos];
        if (c == '/' || c == ':' || c == '{' || c == '}')
            break;
        if (c == '%') {
            if (p->len - p->pos < 3 || util_hex_value((unsigned char)p->src[p->pos + 1]) < 0 ||
                util_hex_value((unsigned char)p->src[p->pos + 2]) < 0)
                return fail_at(p, p->pos, PATH_TEMPLATE_ERR_BAD_ESCAPE, "\"%\" must be followed by two hex digits");
            size_t i = p->pos;
            char pending[2];
            int npending = 0;
            out[o++] = (char)norm_next(p->src, p->len, &i, pending, &npending);
            for (int k = 0; k < npending; k++)
                out[o++] = pending[k];
            p->pos = i;
            continue;
        }
        if (!is_literal_char(c)) {
            if (c == '*' || c == '=')
                snprintf(msg, sizeof(msg), "'%c' is not allowed inside a literal %s", c, what);
            else if (c >= 0x20 && c < 0x7f)
                snprintf(msg, sizeof(msg), "'%c' is not allowed in a literal %s; percent-encode it", c, what);
            else
                snprintf(msg, sizeof(msg), "byte 0x%02x is not allowed in a literal %s; percent-encode it", c, what);
            return fail_at(p, p->pos, PATH_TEMPLATE_ERR_BAD_CHAR, msg);
        }
        out[o++] = (char)c;
        p->pos++;
    }
    if (p->pos == start) {
        snprintf(msg, sizeof(msg), "empty %s", what);
        return fail_at(p, p->pos, strcmp(what, "verb") == 0 ? PATH_TEMPLATE_ERR_BAD_CHAR : PATH_TEMPLATE_ERR_EMPTY_SEGMENT, msg);
    }
    *out_len = o;
    return 0;
}

/* Segment (no variables: those are handled by the caller, which knows whether it is nested). */
static int parse_plain_segment(parser_t *p, char *scratch, int in_variable)
{
    if (p->pos >= p->len || p->src[p->pos] == '/' || p->src[p->pos] == '}' || p->src[p->pos] == ':') {
        if (in_variable && at(p, '}') && p->pos > 0 && p->src[p->pos - 1] == '=')
            return fail_at(p, p->pos, PATH_TEMPLATE_ERR_EMPTY_VARIABLE, "variable captures nothing");
        return fail_at(p, p->pos, PATH_TEMPLATE_ERR_EMPTY_SEGMENT, "empty segment");
    }
    if (at(p, '*')) {
        if (p->pos + 1 < p->len && p->src[p->pos + 1] == '*') {
            size_t dstar = p->pos;
            p->pos += 2;
            if (p->pos < p->len && p->src[p->pos] != '/' && p->src[p->pos] != ':' && p->src[p->pos] != '}')
                return fail_at(p, p->pos, PATH_TEMPLATE_ERR_BAD_CHAR, "\"**\" must be a whole segment");
            if (push_segment(p, PATH_TEMPLATE_SEG_DSTAR, NULL, 0) != 0)
                return -1;
            p->dstar_pos = dstar;
            return 0;
        }
        p->pos++;
        if (p->pos < p->len && p->src[p->pos] != '/' && p->src[p->pos] != ':' && p->src[p->pos] != '}')
            return fail_at(p, p->pos, PATH_TEMPLATE_ERR_BAD_CHAR, "\"*\" must be a whole segment");
        return push_segment(p, PATH_TEMPLATE_SEG_STAR, NULL, 0);
    }
    size_t n;
    if (parse_literal(p, scratch, &n, "segment") != 0)
        return -1;
    return push_segment(p, PATH_TEMPLATE_SEG_LITERAL, scratch, n);
}

static int is_ident_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_ident_char(unsigned char c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

/* FieldPath = IDENT { "." IDENT } at the cursor; stores a copy in *out. */
static int parse_field_path(parser_t *p, char **out)
{
    size_t start = p->pos;
    for (;;) {
        if (p->pos >= p->len || !is_ident_start((unsigned char)p->src[p->pos])) {
            const char *why = p->pos >= p->len ? "expected a field name, found the end of the template"
                                               : "expected a field name (a letter or '_')";
            return fail_at(p, p->pos, p->pos >= p->len ? PATH_TEMPLATE_ERR_UNBALANCED_BRACE : PATH_TEMPLATE_ERR_BAD_IDENT, why);
        }
        while (p->pos < p->len && is_ident_char((unsigned char)p->src[p->pos]))
            p->pos++;
        if (!at(p, '.'))
            break;
        p->pos++;
    }
    size_t n = p->pos - start;
    char *s = malloc(n + 1);
    if (s == NULL)
        return fail_at(p, start, PATH_TEMPLATE_ERR_NOMEM, "out of memory");
    memcpy(s, p->src + start, n);
    s[n] = '\0';
    *out = s;
    return 0;
}

static int parse_variable(parser_t *p, char *scratch)
{
    path_template_t *t = p->t;
    size_t open = p->pos;
    p->pos++; /* "{" */
    size_t name_pos = p->pos;
    char *name = NULL;
    if (parse_field_path(p, &name) != 0)
        return -1;
    for (size_t i = 0; i < t->nvars; i++) {
        if (strcmp(t->vars[i].field_path, name) == 0) {
            free(name);
            char msg[160];
            snprintf(msg, sizeof(msg), "variable \"%.100s\" appears twice", t->vars[i].field_path);
            return fail_at(p, name_pos, PATH_TEMPLATE_ERR_DUPLICATE_VARIABLE, msg);
        }
    }
    if (t->nvars == PATH_TEMPLATE_MAX_VARS) {
        free(name);
        return fail_at(p, name_pos, PATH_TEMPLATE_ERR_TOO_BIG, "more than 32 variables");
    }
    if (t->nvars == p->var_cap) {
        size_t cap = p->var_cap ? p->var_cap * 2 : 4;
        path_template_var_t *n = realloc(t->vars, cap * sizeof(*n));
        if (n == NULL) {
            free(name);
            return fail_at(p, name_pos, PATH_TEMPLATE_ERR_NOMEM, "out of memory");
        }
        t->vars = n;
        p->var_cap = cap;
    }
    path_template_var_t *v = &t->vars[t->nvars++];
    v->field_path = name;
    v->first = t->nsegments;
    v->count = 0;
    v->multi_segment = 0;

    if (at(p, '=')) {
        p->pos++;
        for (;;) {
            if (at(p, '{'))
                return fail_at(p, p->pos, PATH_TEMPLATE_ERR_NESTED_VARIABLE, "a variable cannot contain another variable");
            if (parse_plain_segment(p, scratch, 1) != 0)
                return -1;
            if (!at(p, '/'))
                break;
            p->pos++;
        }
    } else {
        if (push_segment(p, PATH_TEMPLATE_SEG_STAR, NULL, 0) != 0)
            return -1;
    }
    if (p->pos >= p->len) {
        char msg[80];
        snprintf(msg, sizeof(msg), "missing '}' to close the '{' at column %zu", open + 1);
        return fail_at(p, p->pos, PATH_TEMPLATE_ERR_UNBALANCED_BRACE, msg);
    }
    if (!at(p, '}')) {
        if (at(p, ':'))
            return fail_at(p, p->pos, PATH_TEMPLATE_ERR_VERB_NOT_LAST,
                           "a verb must come after the last segment, not inside a variable");
        char msg[64];
        snprintf(msg, sizeof(msg), "expected '}' or '=' after the field name, found '%c'", p->src[p->pos]);
        return fail_at(p, p->pos, PATH_TEMPLATE_ERR_BAD_IDENT, msg);
    }
    p->pos++;
    v->count = t->nsegments - v->first;
    v->multi_segment = v->count > 1 || t->segments[t->nsegments - 1].kind == PATH_TEMPLATE_SEG_DSTAR;
    return 0;
}

static int parse_template(parser_t *p, char *scratch)
{
    path_template_t *t = p->t;
    if (!at(p, '/'))
        return fail_at(p, 0, PATH_TEMPLATE_ERR_SYNTAX, "a template must start with '/'");
    p->pos++;
    for (;;) {
        if (at(p, '{')) {
            if (parse_variable(p, scratch) != 0)
                return -1;
        } else if (at(p, '}')) {
            return fail_at(p, p->pos, PATH_TEMPLATE_ERR_UNBALANCED_BRACE, "'}' without a matching '{'");
        } else if (parse_plain_segment(p, scratch, 0) != 0) {
            return -1;
        }
        if (at(p, '/')) {
            p->pos++;
            continue;
        }
        break;
    }
    if (at(p, ':')) {
        size_t colon = p->pos;
        p->pos++;
        size_t n;
        if (parse_literal(p, scratch, &n, "verb") != 0)
            return -1;
        if (p->pos < p->len) {
            if (p->src[p->pos] == '/' || p->src[p->pos] == ':')
                return fail_at(p, colon, PATH_TEMPLATE_ERR_VERB_NOT_LAST,
                               "a verb (\":...\") is only allowed after the last segment");
            if (p->src[p->pos] == '}')
                return fail_at(p, p->pos, PATH_TEMPLATE_ERR_UNBALANCED_BRACE, "'}' without a matching '{'");
            return fail_at(p, p->pos, PATH_TEMPLATE_ERR_BAD_CHAR, "'{' is not allowed in a verb");
        }
        char *verb = malloc(n + 1);
        if (verb == NULL)
            return fail_at(p, colon, PATH_TEMPLATE_ERR_NOMEM, "out of memory");
        memcpy(verb, scratch, n);
        verb[n] = '\0';
        t->verb = verb;
        t->verb_len = n;
        return 0;
    }
    if (p->pos < p->len) {
        if (p->src[p->pos] == '}')
            return fail_at(p, p->pos, PATH_TEMPLATE_ERR_UNBALANCED_BRACE, "'}' without a matching '{'");
        return fail_at(p, p->pos, PATH_TEMPLATE_ERR_SYNTAX, "a variable must be a whole segment: expected '/', ':' or the end");
    }
    return 0;
}

int path_template_parse(const char *src, size_t len, path_template_t **out, util_error_t *err)
{
    *out = NULL;
    parser_t p = {.src = src, .len = len, .err = err};
    path_template_t *t = calloc(1, sizeof(*t));
    char *source = malloc(len + 1);
    char *scratch = malloc(len + 1);
    p.t = t;
    if (t == NULL || source == NULL || scratch == NULL) {
        free(t);
        free(source);
        free(scratch);
        return util_error_set(err, PATH_TEMPLATE_ERR_NOMEM, "path template: out of memory");
    }
    memcpy(source, src, len);
    source[len] = '\0';
    t->source = source;
    int rc = parse_template(&p, scratch);
    free(scratch);
    if (rc != 0) {
        path_template_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

void path_template_free(path_template_t *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nsegments; i++)
        free((char *)t->segments[i].literal);
    for (size_t i = 0; i < t->nvars; i++)
        free((char *)t->vars[i].field_path);
    free(t->segments);
    free(t->vars);
    free((char *)t->verb);
    free((char *)t->source);
    free(t);
}
