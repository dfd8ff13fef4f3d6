/*
 * json_lex.c — strict RFC 8259 JSON pull parser for the JSON→protobuf codec; see json_lex.h.
 *
 * Written by hand rather than using jansson (which the config loader uses) because:
 * jansson cannot represent integers above 2^63 (json_integer_t is long long, while the
 * proto3 JSON mapping accepts 18446744073709551615 as a uint64 number); it always builds a
 * DOM of hash tables (slow and allocation-heavy, where the codec wants to stream fields
 * straight to wire bytes); and the codec needs exact control over duplicate keys and the
 * line:column of each error. Here numbers are handed over as text, strings are decoded
 * only when they contain escapes, and nothing is allocated per token (two scratch
 * buffers are reused for escaped strings).
 *
 * Strictness: no comments, no trailing commas, no leading zeros, no NaN/Infinity
 * literals, no control characters inside strings, valid UTF-8 only, \u escapes must pair
 * surrogates correctly. Line and column are computed only when an error is reported, so
 * the hot path does not track them.
 */
#include "proto/json_lex.h"

#include "proto/proto.h"
#include "util/hex.h"
#include "util/utf8.h"

#include <stdio.h>

/* Byte classes inside a string: 0 = plain, 1 = '"', 2 = '\\', 3 = control, 4 = non-ASCII. */
static const uint8_t str_class[256] = {
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
};

void json_lex_init(json_lex_t *lx, const char *text, size_t len, uint32_t max_depth, util_error_t *err)
{
    lx->start = lx->p = text;
    lx->end = text + len;
    lx->depth = 0;
    lx->max_depth = max_depth;
    lx->err = err;
    util_buf_init(&lx->key_scratch);
    util_buf_init(&lx->val_scratch);
}

void json_lex_dispose(json_lex_t *lx)
{
    util_buf_dispose(&lx->key_scratch);
    util_buf_dispose(&lx->val_scratch);
}

static void lex_position(const json_lex_t *lx, const char *at, unsigned *line, unsigned *col)
{
    unsigned l = 1, c = 1;
    for (const char *q = lx->start; q < at && q < lx->end; q++) {
        if (*q == '\n') {
            l++;
            c = 1;
        } else if (((uint8_t)*q & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
}

static int lex_fail_at(json_lex_t *lx, const char *at, int code, const char *what)
{
    unsigned line, col;
    lex_position(lx, at, &line, &col);
    if (code == CODEC_ERR_SYNTAX)
        return util_error_set(lx->err, code, "invalid JSON at line %u column %u: %s", line, col, what);
    return util_error_set(lx->err, code, "%s at line %u column %u", what, line, col);
}

int json_lex_fail(json_lex_t *lx, const char *what)
{
    if (what == NULL)
        what = lx->p >= lx->end ? "unexpected end of input" : "expected a value";
    else if (lx->p >= lx->end)
        what = "unexpected end of input";
    return lex_fail_at(lx, lx->p, CODEC_ERR_SYNTAX, what);
}

static inline void lex_skip_ws(json_lex_t *lx)
{
    const char *p = lx->p, *end = lx->end;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    lx->p = p;
}

json_kind_t json_lex_peek(json_lex_t *lx)
{
    lex_skip_ws(lx);
    if (lx->p >= lx->end)
        return JSON_KIND_NONE;
    switch (*lx->p) {
    case '{':
        return JSON_KIND_OBJECT;
    case '[':
        return JSON_KIND_ARRAY;
    case '"':
        return JSON_KIND_STRING;
    case 't':
        return JSON_KIND_TRUE;
    case 'f':
        return JSON_KIND_FALSE;
    case 'n':
        return JSON_KIND_NULL;
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
        return JSON_KIND_NUMBER;
    default:
        return JSON_KIND_NONE;
    }
}

static int lex_open(json_lex_t *lx, char c)
{
    lex_skip_ws(lx);
    if (lx->p >= lx->end || *lx->p != c)
        return json_lex_fail(lx, c == '{' ? "expected '{'" : "expected '['");
    if (lx->depth >= lx->max_depth) {
        char what[64];
        snprintf(what, sizeof(what), "JSON nesting deeper than %u", (unsigned)lx->max_depth);
        return lex_fail_at(lx, lx->p, CODEC_ERR_DEPTH, what);
    }
    lx->depth++;
    lx->p++;
    return 0;
}

int json_lex_object_begin(json_lex_t *lx)
{
    return lex_open(lx, '{');
}

int json_lex_array_begin(json_lex_t *lx)
{
    return lex_open(lx, '[');
}

static int hex4(const char *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int d = util_hex_value((unsigned char)p[i]);
        if (d < 0)
            return -1;
        v = v << 4 | (uint32_t)d;
    }
    *out = v;
    return 0;
}

/* Validates the multi-byte UTF-8 sequence at |p|; returns its length or 0. */
static inline size_t utf8_seq(const char *p, const char *end)
{
    size_t avail = (size_t)(end - p) < 4 ? (size_t)(end - p) : 4;
    if (util_utf8_valid_prefix((const uint8_t *)p, avail) == 0)
        return 0;
    uint8_t c = (uint8_t)*p;
    return c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

/*
 * Reads the string at lx->p (which is '"'). With |scratch| NULL the string is only
 * validated. Otherwise |out| is set to the decoded text: a view into the input when no
 * escape occurs, else into |scratch|.
 */
static int lex_string(json_lex_t *lx, util_buf_t *scratch, json_str_t *out)
{
    const char *open = lx->p;
    const char *p = open + 1, *end = lx->end;
    const char *run = p; /* start of the bytes not yet copied to scratch */
    int escaped = 0;
    for (;;) {
        while (p < end && str_class[(uint8_t)*p] == 0)
            p++;
        if (p >= end) {
            lx->p = end;
            return lex_fail_at(lx, open, CODEC_ERR_SYNTAX, "unterminated string");
        }
        switch (str_class[(uint8_t)*p]) {
        case 1: /* closing quote */
            if (scratch != NULL) {
                if (!escaped) {
                    out->s = run;
                    out->len = (size_t)(p - run);
                } else {
                    util_buf_append(scratch, run, (size_t)(p - run));
                    if (util_buf_failed(scratch))
                        return util_error_set(lx->err, CODEC_ERR_NOMEM, "out of memory reading a JSON string");
                    out->s = (const char *)scratch->data;
                    out->len = scratch->len;
                }
            }
            lx->p = p + 1;
            return 0;
        case 3:
            return lex_fail_at(lx, p, CODEC_ERR_SYNTAX, "control character in string (escape it)");
        case 4: {
            size_t n = utf8_seq(p, end);
            if (n == 0)
                return lex_fail_at(lx, p, CODEC_ERR_UTF8, "invalid UTF-8 in string");
            p += n;
            break;
        }
        case 2: {
            if (scratch != NULL) {
                if (!escaped) {
                    scratch->len = 0;
                    escaped = 1;
                }
                util_buf_append(scratch, run, (size_t)(p - run));
            }
            if (end - p < 2)
                return lex_fail_at(lx, p, CODEC_ERR_SYNTAX, "unterminated string");
            char e = p[1];
            char one = 0;
            switch (e) {
            case '"':
            case '\\':
            case '/':
                one = e;
                break;
            case 'b':
                one = '\b';
                break;
            case 'f':
                one = '\f';
                break;
            case 'n':
                one = '\n';
                break;
            case 'r':
                one = '\r';
                break;
            case 't':
                one = '\t';
                break;
            case 'u': {
                uint32_t cp, lo;
                if (end - p < 6 || hex4(p + 2, &cp) != 0)
                    return lex_fail_at(lx, p, CODEC_ERR_SYNTAX, "invalid \\u escape (needs 4 hex digits)");
                const char *esc = p;
                p += 6;
                if (cp >= 0xDC00 && cp <= 0xDFFF)
                    return lex_fail_at(lx, esc, CODEC_ERR_SYNTAX, "lone low surrogate in \\u escape");
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF)
                        return lex_fail_at(lx, esc, CODEC_ERR_SYNTAX, "lone high surrogate in \\u escape");
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    p += 6;
                }
                if (scratch != NULL && util_buf_reserve(scratch, 4) == 0)
                    scratch->len += util_utf8_encode(scratch->data + scratch->len, cp);
                run = p;
                continue;
            }
            default:
                return lex_fail_at(lx, p, CODEC_ERR_SYNTAX, "invalid escape in string");
            }
            if (scratch != NULL)
                util_buf_putc(scratch, (uint8_t)one);
            p += 2;
            run = p;
            break;
        }
        }
    }
}

int json_lex_object_next(json_lex_t *lx, size_t *count, json_str_t *key)
{
    lex_skip_ws(lx);
    if (lx->p >= lx->end)
        return json_lex_fail(lx, NULL);
    char c = *lx->p;
    if (*count > 0) {
        if (c == '}') {
            lx->p++;
            lx->depth--;
            return 0;
        }
        if (c != ',')
            return json_lex_fail(lx, "expected ',' or '}'");
        lx->p++;
        lex_skip_ws(lx);
        if (lx->p >= lx->end || *lx->p != '"')
            return json_lex_fail(lx, "expected a string key after ','");
    } else {
        if (c == '}') {
            lx->p++;
            lx->depth--;
            return 0;
        }
        if (c != '"')
            return json_lex_fail(lx, "expected a string key or '}'");
    }
    if (lex_string(lx, &lx->key_scratch, key) != 0)
        return -1;
    lex_skip_ws(lx);
    if (lx->p >= lx->end || *lx->p != ':')
        return json_lex_fail(lx, "expected ':'");
    lx->p++;
    (*count)++;
    return 1;
}

int json_lex_array_next(json_lex_t *lx, size_t *count)
{
    lex_skip_ws(lx);
    if (lx->p >= lx->end)
        return json_lex_fail(lx, NULL);
    char c = *lx->p;
    if (c == ']') {
        lx->p++;
        lx->depth--;
        return 0;
    }
    if (*count > 0) {
        if (c != ',')
            return json_lex_fail(lx, "expected ',' or ']'");
        lx->p++;
        lex_skip_ws(lx);
        if (lx->p < lx->end && *lx->p == ']')
            return json_lex_fail(lx, "expected a value after ','");
    }
    (*count)++;
    return 1;
}

int json_lex_string(json_lex_t *lx, json_str_t *out)
{
    lex_skip_ws(lx);
    if (lx->p >= lx->end || *lx->p != '"')
        return json_lex_fail(lx, "expected a string");
    return lex_string(lx, &lx->val_scratch, out);
}

static inline int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

size_t json_number_scan(const char *s, const char *end, int leading_zeros)
{
    const char *p = s;
    if (p < end && *p == '-')
        p++;
    if (p >= end || !is_digit(*p))
        return 0;
    if (*p == '0' && !leading_zeros) {
        p++;
        if (p < end && is_digit(*p))
            return 0;
    } else {
        while (p < end && is_digit(*p))
            p++;
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || !is_digit(*p))
            return 0;
        while (p < end && is_digit(*p))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || !is_digit(*p))
            return 0;
        while (p < end && is_digit(*p))
            p++;
    }
    return (size_t)(p - s);
}

/* True for bytes that may not directly follow a number or literal. */
static inline int is_word_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == '+' || c == '-' ||
           c == '_' || ((uint8_t)c & 0x80);
}

int json_lex_number(json_lex_t *lx, json_str_t *out)
{
    lex_skip_ws(lx);
    const char *s = lx->p;
    /* Fast path: a plain run of digits. */
    const char *p = s;
    while (p < lx->end && is_digit(*p))
        p++;
    size_t n;
    if (p > s && (p >= lx->end || !is_word_char(*p)) && !(*s == '0' && p - s > 1)) {
        n = (size_t)(p - s);
    } else {
        n = json_number_scan(s, lx->end, 0);
        if (n == 0 || (s + n < lx->end && is_word_char(s[n])))
            return json_lex_fail(lx, s < lx->end && (*s == '-' || is_digit(*s)) ? "invalid number" : "expected a number");
    }
    out->s = s;
    out->len = n;
    lx->p = s + n;
    return 0;
}

int json_lex_literal(json_lex_t *lx, json_kind_t kind)
{
    lex_skip_ws(lx);
    const char *word = kind == JSON_KIND_TRUE ? "true" : kind == JSON_KIND_FALSE ? "false" : "null";
    size_t n = kind == JSON_KIND_FALSE ? 5 : 4;
    if ((size_t)(lx->end - lx->p) < n || memcmp(lx->p, word, n) != 0 || ((size_t)(lx->end - lx->p) > n && is_word_char(lx->p[n]))) {
        char what[48];
        snprintf(what, sizeof(what), "expected '%s'", word);
        return json_lex_fail(lx, what);
    }
    lx->p += n;
    return 0;
}

int json_lex_skip(json_lex_t *lx)
{
    json_kind_t k = json_lex_peek(lx);
    switch (k) {
    case JSON_KIND_OBJECT: {
        if (json_lex_object_begin(lx) != 0)
            return -1;
        size_t count = 0;
        json_str_t key;
        int rc;
        while ((rc = json_lex_object_next(lx, &count, &key)) > 0)
            if (json_lex_skip(lx) != 0)
                return -1;
        return rc;
    }
    case JSON_KIND_ARRAY: {
        if (json_lex_array_begin(lx) != 0)
            return -1;
        size_t count = 0;
        int rc;
        while ((rc = json_lex_array_next(lx, &count)) > 0)
            if (json_lex_skip(lx) != 0)
                return -1;
        return rc;
    }
    case JSON_KIND_STRING:
        return lex_string(lx, NULL, NULL);
    case JSON_KIND_NUMBER: {
        json_str_t s;
        return json_lex_number(lx, &s);
    }
    case JSON_KIND_TRUE:
    case JSON_KIND_FALSE:
    case JSON_KIND_NULL:
        return json_lex_literal(lx, k);
    default:
        return json_lex_fail(lx, NULL);
    }
}

int json_lex_finish(json_lex_t *lx)
{
    lex_skip_ws(lx);
    if (lx->p < lx->end)
        return lex_fail_at(lx, lx->p, CODEC_ERR_SYNTAX, "unexpected data after the JSON value");
    return 0;
}
