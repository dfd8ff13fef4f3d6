/*
 * json_lex_test.c — unit tests for the JSON pull parser (src/proto/json_lex.c) and the
 * UTF-8 helpers it relies on (src/util/utf8.c). Each valid document is walked into a
 * token line ("{ k:a [ n:1 s:x ] }") and compared; each invalid one must fail with the
 * expected code and a message naming line, column and the problem.
 */
#include "proto/json_lex.h"
#include "proto/proto.h"
#include "util/utf8.h"

#include "test.h"

/* Appends |s| to |out|, bytes outside printable ASCII as \xHH. */
static void show(util_buf_t *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        if (c < 0x20 || c >= 0x7f || c == '\\')
            util_buf_printf(out, "\\x%02x", c);
        else
            util_buf_putc(out, c);
    }
}

static int walk(json_lex_t *lx, util_buf_t *out)
{
    json_str_t s;
    json_kind_t k = json_lex_peek(lx);
    switch (k) {
    case JSON_KIND_OBJECT: {
        if (json_lex_object_begin(lx) != 0)
            return -1;
        util_buf_puts(out, "{ ");
        size_t n = 0;
        int rc;
        while ((rc = json_lex_object_next(lx, &n, &s)) > 0) {
            util_buf_puts(out, "k:");
            show(out, s.s, s.len);
            util_buf_putc(out, ' ');
            if (walk(lx, out) != 0)
                return -1;
        }
        util_buf_puts(out, "} ");
        return rc;
    }
    case JSON_KIND_ARRAY: {
        if (json_lex_array_begin(lx) != 0)
            return -1;
        util_buf_puts(out, "[ ");
        size_t n = 0;
        int rc;
        while ((rc = json_lex_array_next(lx, &n)) > 0)
            if (walk(lx, out) != 0)
                return -1;
        util_buf_puts(out, "] ");
        return rc;
    }
    case JSON_KIND_STRING:
        if (json_lex_string(lx, &s) != 0)
            return -1;
        util_buf_puts(out, "s:");
        show(out, s.s, s.len);
        util_buf_putc(out, ' ');
        return 0;
    case JSON_KIND_NUMBER:
        if (json_lex_number(lx, &s) != 0)
            return -1;
        util_buf_puts(out, "n:");
        show(out, s.s, s.len);
        util_buf_putc(out, ' ');
        return 0;
    case JSON_KIND_TRUE:
    case JSON_KIND_FALSE:
    case JSON_KIND_NULL:
        if (json_lex_literal(lx, k) != 0)
            return -1;
        util_buf_puts(out, k == JSON_KIND_TRUE ? "t " : k == JSON_KIND_FALSE ? "f " : "z ");
        return 0;
    default:
        return json_lex_fail(lx, NULL);
    }
}

/* Walks |json|; returns the token line, or "ERR <code> <message>". */
static char *run(const char *json, size_t len, uint32_t max_depth, int skip)
{
    static char result[1024];
    util_error_t err = {0, ""};
    json_lex_t lx;
    util_buf_t out = UTIL_BUF_INIT;
    json_lex_init(&lx, json, len, max_depth, &err);
    int rc = skip ? json_lex_skip(&lx) : walk(&lx, &out);
    if (rc == 0)
        rc = json_lex_finish(&lx);
    if (rc != 0)
        snprintf(result, sizeof(result), "ERR %d %s", err.code, err.message);
    else
        snprintf(result, sizeof(result), "%.*s", out.len > 0 ? (int)out.len - 1 : 0, out.data ? (char *)out.data : "");
    util_buf_dispose(&out);
    json_lex_dispose(&lx);
    return result;
}

typedef struct {
    const char *json;
    const char *tokens;
} valid_case_t;

static const valid_case_t valid_cases[] = {
    {"{}", "{ }"},
    {"[]", "[ ]"},
    {" \t\r\n{ } \n", "{ }"},
    {"{\"a\" : [1, -2.5e+3, 0, \"x\"] , \"b\":{\"c\":null}}", "{ k:a [ n:1 n:-2.5e+3 n:0 s:x ] k:b { k:c z } }"},
    {"[true,false,null]", "[ t f z ]"},
    {"\"plain\"", "s:plain"},
    {"\"\"", "s:"},
    {"\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"", "s:a\"b\\x5cc/d\\x08\\x0c\\x0a\\x0d\\x09"},
    {"\"\\u00e9\\u00E9\"", "s:\\xc3\\xa9\\xc3\\xa9"},
    {"\"\\u20ac\"", "s:\\xe2\\x82\\xac"},
    {"\"\\ud83d\\ude00\"", "s:\\xf0\\x9f\\x98\\x80"},
    {"\"\\uDBFF\\uDFFF\"", "s:\\xf4\\x8f\\xbf\\xbf"},
    {"\"\\u0000\"", "s:\\x00"},
    {"\"x\\u0041y\"", "s:xAy"},
    {"\"\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"", "s:\\xc3\\xa9 \\xe2\\x82\\xac \\xf0\\x9f\\x98\\x80"},
    {"{\"k\\u0065y\":\"v\\nal\"}", "{ k:key s:v\\x0aal }"},
    {"0", "n:0"},
    {"-0", "n:-0"},
    {"1.5", "n:1.5"},
    {"1e10", "n:1e10"},
    {"1E-2", "n:1E-2"},
    {"-0.0e+0", "n:-0.0e+0"},
    {"18446744073709551615", "n:18446744073709551615"},
    {"123456789012345678901234567890", "n:123456789012345678901234567890"},
    {"[1,[2,[3]]]", "[ n:1 [ n:2 [ n:3 ] ] ]"},
    {"{\"a\":{\"a\":{}}}", "{ k:a { k:a { } } }"},
    {"[{},[],\"\",0]", "[ { } [ ] s: n:0 ]"},
};

typedef struct {
    const char *json;
    size_t len; /* 0: strlen */
    int code;
    const char *message; /* substring of the error message */
} error_case_t;

static const error_case_t error_cases[] = {
    {"", 0, CODEC_ERR_SYNTAX, "invalid JSON at line 1 column 1: unexpected end of input"},
    {"   ", 0, CODEC_ERR_SYNTAX, "line 1 column 4: unexpected end of input"},
    {"{", 0, CODEC_ERR_SYNTAX, "line 1 column 2: unexpected end of input"},
    {"[1", 0, CODEC_ERR_SYNTAX, "line 1 column 3: unexpected end of input"},
    {"{\"a\":1,}", 0, CODEC_ERR_SYNTAX, "line 1 column 8: expected a string key after ','"},
    {"[1,]", 0, CODEC_ERR_SYNTAX, "line 1 column 4: expected a value after ','"},
    {"[,1]", 0, CODEC_ERR_SYNTAX, "line 1 column 2: expected a value"},
    {"[1 2]", 0, CODEC_ERR_SYNTAX, "line 1 column 4: expected ',' or ']'"},
    {"{\"a\" 1}", 0, CODEC_ERR_SYNTAX, "line 1 column 6: expected ':'"},
    {"{\"a\":1 \"b\":2}", 0, CODEC_ERR_SYNTAX, "line 1 column 8: expected ',' or '}'"},
    {"{a:1}", 0, CODEC_ERR_SYNTAX, "line 1 column 2: expected a string key or '}'"},
    {"{\"a\":}", 0, CODEC_ERR_SYNTAX, "line 1 column 6: expected a value"},
    {"[1}", 0, CODEC_ERR_SYNTAX, "expected ',' or ']'"},
    {"{\"a\":1]", 0, CODEC_ERR_SYNTAX, "expected ',' or '}'"},
    {"01", 0, CODEC_ERR_SYNTAX, "line 1 column 1: invalid number"},
    {"-01", 0, CODEC_ERR_SYNTAX, "invalid number"},
    {"-", 0, CODEC_ERR_SYNTAX, "invalid number"},
    {"1.", 0, CODEC_ERR_SYNTAX, "invalid number"},
    {"1.e5", 0, CODEC_ERR_SYNTAX, "invalid number"},
    {"1e", 0, CODEC_ERR_SYNTAX, "invalid number"},
    {"1e+", 0, CODEC_ERR_SYNTAX, "invalid number"},
    {"1x", 0, CODEC_ERR_SYNTAX, "invalid number"},
    {"[0x10]", 0, CODEC_ERR_SYNTAX, "line 1 column 2: invalid number"},
    {".5", 0, CODEC_ERR_SYNTAX, "expected a value"},
    {"+1", 0, CODEC_ERR_SYNTAX, "expected a value"},
    {"NaN", 0, CODEC_ERR_SYNTAX, "expected a value"},
    {"Infinity", 0, CODEC_ERR_SYNTAX, "expected a value"},
    {"-Infinity", 0, CODEC_ERR_SYNTAX, "invalid number"},
    {"tru", 0, CODEC_ERR_SYNTAX, "expected 'true'"},
    {"True", 0, CODEC_ERR_SYNTAX, "expected a value"},
    {"nulls", 0, CODEC_ERR_SYNTAX, "expected 'null'"},
    {"fals", 0, CODEC_ERR_SYNTAX, "expected 'false'"},
    {"'a'", 0, CODEC_ERR_SYNTAX, "expected a value"},
    {"\"abc", 0, CODEC_ERR_SYNTAX, "line 1 column 1: unterminated string"},
    {"[\"abc\\", 0, CODEC_ERR_SYNTAX, "unterminated string"},
    {"\"a\x01"
     "b\"",
     0, CODEC_ERR_SYNTAX, "line 1 column 3: control character in string"},
    {"\"a\nb\"", 0, CODEC_ERR_SYNTAX, "control character in string"},
    {"\"\\x\"", 0, CODEC_ERR_SYNTAX, "line 1 column 2: invalid escape in string"},
    {"\"\\'\"", 0, CODEC_ERR_SYNTAX, "invalid escape in string"},
    {"\"\\u12\"", 0, CODEC_ERR_SYNTAX, "invalid \\u escape"},
    {"\"\\u12g4\"", 0, CODEC_ERR_SYNTAX, "invalid \\u escape"},
    {"\"\\ud800\"", 0, CODEC_ERR_SYNTAX, "lone high surrogate"},
    {"\"\\ud800\\u0041\"", 0, CODEC_ERR_SYNTAX, "lone high surrogate"},
    {"\"\\ud800\\ud800\"", 0, CODEC_ERR_SYNTAX, "lone high surrogate"},
    {"\"x\\udc00\"", 0, CODEC_ERR_SYNTAX, "line 1 column 3: lone low surrogate"},
    {"\"\xc3\x28\"", 0, CODEC_ERR_UTF8, "invalid UTF-8 in string at line 1 column 2"},
    {"\"\xed\xa0\x80\"", 0, CODEC_ERR_UTF8, "invalid UTF-8"},
    {"\"\xc0\xaf\"", 0, CODEC_ERR_UTF8, "invalid UTF-8"},
    {"\"\xe0\x80\xaf\"", 0, CODEC_ERR_UTF8, "invalid UTF-8"},
    {"\"\xf4\x90\x80\x80\"", 0, CODEC_ERR_UTF8, "invalid UTF-8"},
    {"\"\xe2\x82\"", 0, CODEC_ERR_UTF8, "invalid UTF-8"},
    {"\"\x80\"", 0, CODEC_ERR_UTF8, "invalid UTF-8"},
    {"\"\xff\"", 0, CODEC_ERR_UTF8, "invalid UTF-8"},
    {"{\"\xc3\"}", 0, CODEC_ERR_UTF8, "invalid UTF-8"},
    {"1 2", 0, CODEC_ERR_SYNTAX, "line 1 column 3: unexpected data after the JSON value"},
    {"{\"a\":1}}", 0, CODEC_ERR_SYNTAX, "unexpected data after the JSON value"},
    {"// c\n{}", 0, CODEC_ERR_SYNTAX, "expected a value"},
    {"{\"a\":1 /* c */}", 0, CODEC_ERR_SYNTAX, "expected ',' or '}'"},
    {"\xef\xbb\xbf{}", 0, CODEC_ERR_SYNTAX, "expected a value"},
    {"{\n  \"a\": 1,\n  \"b\" 2}", 0, CODEC_ERR_SYNTAX, "invalid JSON at line 3 column 7: expected ':'"},
    {"[\"\xc3\xa9\", x]", 0, CODEC_ERR_SYNTAX, "line 1 column 7: expected a value"},
    {"[\"a\",\n\n  \"\\q\"]", 0, CODEC_ERR_SYNTAX, "line 3 column 4: invalid escape"},
    {"\"a\0b\"", 5, CODEC_ERR_SYNTAX, "control character in string"},
    {"{}\0", 3, CODEC_ERR_SYNTAX, "unexpected data after the JSON value"},
    {"[[[[1]]]]", 0, CODEC_ERR_DEPTH, "JSON nesting deeper than 3 at line 1 column 4"},
    {"{\"a\":{\"b\":{\"c\":{}}}}", 0, CODEC_ERR_DEPTH, "nesting deeper than 3"},
};

static void test_valid(void)
{
    for (size_t i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++) {
        const valid_case_t *tc = &valid_cases[i];
        CHECK_STR_EQ(run(tc->json, strlen(tc->json), 100, 0), tc->tokens);
        /* Skipping the same document must succeed too. */
        CHECK_STR_EQ(run(tc->json, strlen(tc->json), 100, 1), "");
    }
}

static void test_errors(void)
{
    for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
        const error_case_t *tc = &error_cases[i];
        size_t len = tc->len ? tc->len : strlen(tc->json);
        char want[64];
        snprintf(want, sizeof(want), "ERR %d ", tc->code);
        for (int skip = 0; skip <= 1; skip++) {
            const char *got = run(tc->json, len, 3, skip);
            if (strncmp(got, want, strlen(want)) != 0 || strstr(got, tc->message) == NULL)
                fprintf(stderr, "case %zu (skip=%d): %s\n", i, skip, tc->json);
            CHECK_STR_HAS(got, want);
            CHECK_STR_HAS(got, tc->message);
        }
    }
}

/* Depth: exactly max_depth levels pass, one more fails. */
static void test_depth(void)
{
    char doc[256];
    for (uint32_t depth = 1; depth <= 50; depth += 7) {
        size_t n = 0;
        for (uint32_t i = 0; i < depth; i++)
            doc[n++] = '[';
        for (uint32_t i = 0; i < depth; i++)
            doc[n++] = ']';
        CHECK_STR_HAS(run(doc, n, depth, 0), "[ ");
        CHECK_STR_HAS(run(doc, n, depth - 1 ? depth - 1 : 0, 0), "JSON nesting deeper than");
    }
}

/* Keys and values decode into separate scratch buffers: an escaped key survives its value. */
static void test_key_survives_value(void)
{
    const char *doc = "{\"k\\u0031\":\"v\\u0032\"}";
    json_lex_t lx;
    util_error_t err = {0, ""};
    json_lex_init(&lx, doc, strlen(doc), 10, &err);
    json_str_t key, val;
    size_t n = 0;
    CHECK_INT_EQ(json_lex_object_begin(&lx), 0);
    CHECK_INT_EQ(json_lex_object_next(&lx, &n, &key), 1);
    CHECK_INT_EQ(json_lex_string(&lx, &val), 0);
    CHECK(key.len == 2 && memcmp(key.s, "k1", 2) == 0);
    CHECK(val.len == 2 && memcmp(val.s, "v2", 2) == 0);
    CHECK_INT_EQ(json_lex_object_next(&lx, &n, &key), 0);
    CHECK_INT_EQ(json_lex_finish(&lx), 0);
    json_lex_dispose(&lx);
}

/* Mark and rewind: read an object twice, as the codec does for Any. */
static void test_mark_rewind(void)
{
    const char *doc = " {\"a\":[1,2],\"@type\":\"t\"}";
    json_lex_t lx;
    util_error_t err = {0, ""};
    json_lex_init(&lx, doc, strlen(doc), 2, &err);
    json_lex_mark_t m = json_lex_mark(&lx);
    for (int pass = 0; pass < 2; pass++) {
        util_buf_t out = UTIL_BUF_INIT;
        CHECK_INT_EQ(walk(&lx, &out), 0);
        util_buf_putc(&out, 0);
        CHECK_STR_EQ((char *)out.data, "{ k:a [ n:1 n:2 ] k:@type s:t } ");
        CHECK_INT_EQ(lx.depth, 0);
        util_buf_dispose(&out);
        json_lex_rewind(&lx, m);
    }
    /* Rewinding from inside a container restores the depth. */
    CHECK_INT_EQ(json_lex_object_begin(&lx), 0);
    CHECK_INT_EQ(lx.depth, 1);
    json_lex_rewind(&lx, m);
    CHECK_INT_EQ(lx.depth, 0);
    CHECK_INT_EQ(json_lex_skip(&lx), 0);
    CHECK_INT_EQ(json_lex_finish(&lx), 0);
    json_lex_dispose(&lx);
}

static void test_number_scan(void)
{
    static const struct {
        const char *text;
        int leading_zeros;
        size_t want;
    } cases[] = {
        {"0", 0, 1},       {"007", 0, 0},   {"007", 1, 3}, {"-007", 1, 4}, {"12abc", 0, 2},
        {"1.5e-3,", 0, 6}, {"1.", 0, 0},    {"-", 0, 0},   {"", 0, 0},     {"+1", 0, 0},
        {" 1", 0, 0},      {"1e+09", 0, 5}, {"0.0", 0, 3}, {"00.5", 1, 4}, {"1e5.5", 0, 3},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *s = cases[i].text;
        CHECK_INT_EQ(json_number_scan(s, s + strlen(s), cases[i].leading_zeros), cases[i].want);
    }
}

static void test_utf8(void)
{
    static const struct {
        const char *s;
        size_t valid;
    } cases[] = {
        {"", 0},
        {"hello, world: plain ASCII over eight bytes", 42},
        {"\xc3\xa9", 2},
        {"\xe2\x82\xac", 3},
        {"\xf0\x9f\x98\x80", 4},
        {"\xf4\x8f\xbf\xbf", 4},
        {"abc\xf4\x90\x80\x80", 3},     /* above U+10FFFF */
        {"abcdefghij\xed\xa0\x80", 10}, /* surrogate */
        {"\xc0\x80", 0},                /* overlong NUL */
        {"\xc1\xbf", 0},                /* overlong */
        {"\xe0\x9f\xbf", 0},            /* overlong */
        {"\xf0\x8f\xbf\xbf", 0},        /* overlong */
        {"\xf5\x80\x80\x80", 0},
        {"a\x80", 1},
        {"\xe2\x82", 0}, /* truncated */
        {"\xe2\x28\xac", 0},
        {"\xc3\xa9\xc3", 2},
        {"\xef\xbf\xbf", 3},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = strlen(cases[i].s);
        CHECK_INT_EQ(util_utf8_valid_prefix((const uint8_t *)cases[i].s, n), cases[i].valid);
        CHECK_INT_EQ(util_utf8_valid((const uint8_t *)cases[i].s, n), cases[i].valid == n);
    }
    static const struct {
        uint32_t cp;
        const char *bytes;
    } enc[] = {{0x41, "A"},
               {0x7f, "\x7f"},
               {0x80, "\xc2\x80"},
               {0x7ff, "\xdf\xbf"},
               {0x800, "\xe0\xa0\x80"},
               {0xffff, "\xef\xbf\xbf"},
               {0x10000, "\xf0\x90\x80\x80"},
               {0x10ffff, "\xf4\x8f\xbf\xbf"}};
    for (size_t i = 0; i < sizeof(enc) / sizeof(enc[0]); i++) {
        uint8_t buf[5] = {0};
        size_t n = util_utf8_encode(buf, enc[i].cp);
        CHECK_INT_EQ(n, strlen(enc[i].bytes));
        CHECK_STR_EQ((char *)buf, enc[i].bytes);
        CHECK_INT_EQ(util_utf8_valid_prefix(buf, n), n);
    }
    /* Every code point encodes to a sequence the validator accepts. */
    int bad = 0;
    for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
        if (cp >= 0xd800 && cp <= 0xdfff)
            continue;
        uint8_t buf[4];
        size_t n = util_utf8_encode(buf, cp);
        bad += util_utf8_valid_prefix(buf, n) != n;
    }
    CHECK_INT_EQ(bad, 0);
}

int main(void)
{
    test_valid();
    test_errors();
    test_depth();
    test_key_survives_value();
    test_mark_rewind();
    test_number_scan();
    test_utf8();
    return test_summary();
}
