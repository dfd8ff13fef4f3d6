/*
 * aggregate_value_test.c — the run-time JSON values of composite requests (src/aggregate/value.c):
 * parse → write round trips (member order, number text, escapes, \u0000 in strings and keys,
 * UTF-8), documents the strict parser must refuse (each with its message), the nesting limit,
 * duplicate keys on both dedupe paths (pairwise and hashed), equality, building and reading
 * values by hand, and conversion from jansson.
 *
 * Every document is parsed from a malloc'd copy of exactly its length (no NUL after it) and the
 * arena is raw, as in the engine, so ASan catches a read past the input and Valgrind a read of
 * arena memory nobody wrote.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate/value.h"
#include "aggregate_test.h"
#include "test.h"

static util_arena_t arena;

/* Parses the first |len| bytes of |text| (strlen when 0) from a copy with nothing after it. */
static const aggregate_value_t *parse_n(const char *text, size_t len, util_error_t *err)
{
    char *copy = malloc(len != 0 ? len : 1);
    if (copy == NULL)
        return NULL;
    memcpy(copy, text, len);
    const aggregate_value_t *v = aggregate_value_parse(&arena, copy, len, err);
    free(copy); /* the value must not point into its input */
    return v;
}

static const aggregate_value_t *parse(const char *text)
{
    util_error_t err;
    const aggregate_value_t *v = parse_n(text, strlen(text), &err);
    if (v == NULL)
        fprintf(stderr, "cannot parse %s: %s\n", text, err.message);
    return v;
}

/* ---- parse → write ------------------------------------------------------------------------ */

static const struct {
    const char *in;
    const char *out; /* NULL: the same as |in| */
} round_trips[] = {
    /* scalars at the top */
    {"null", NULL},
    {"true", NULL},
    {"false", NULL},
    {" \t\r\n 1 \n", "1"},
    /* numbers keep their source text */
    {"0", NULL},
    {"-0", NULL},
    {"12345678901234567890", NULL},
    {"-12345678901234567890", NULL},
    {"18446744073709551616", NULL},
    {"1.10", NULL},
    {"1e400", NULL},
    {"-1e-400", NULL},
    {"0.1", NULL},
    {"1E+2", NULL},
    {"-1.5e-07", NULL},
    {"[0.10,1.0,100e0]", NULL},
    /* containers: compact, member order as received */
    {"[]", NULL},
    {"{}", NULL},
    {" { \"b\" : 1 , \"a\" : [ 1 , 2 ] } ", "{\"b\":1,\"a\":[1,2]}"},
    {"{\"z\":1,\"y\":2,\"x\":3,\"a\":4}", NULL},
    {"[[],{},[{}],{\"\":[null]}]", NULL},
    {"{\"a\":{\"b\":{\"c\":[true,false,null,\"s\",-1.5]}}}", NULL},
    /* strings: escapes decoded, then written back escaped only where needed */
    {"\"\"", NULL},
    {"\"abc\"", NULL},
    {"\"a\\\"b\\\\c\\/d\"", "\"a\\\"b\\\\c/d\""},
    {"\"\\b\\f\\n\\r\\t\"", "\"\\u0008\\u000c\\n\\r\\t\""},
    {"\"\\u0041\\u00e9\\u20AC\"", "\"A\xc3\xa9\xe2\x82\xac\""},
    {"\"\\u0000\"", NULL},
    {"\"a\\u0000b\\u0000\"", NULL},
    {"\"\\u0001\\u001f\\u007f\\u0020\"", "\"\\u0001\\u001f\\u007f \""},
    {"\"raw \x7f del\"", "\"raw \\u007f del\""},
    {"\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\""},
    {"\"\\uD834\\uDD1E\"", "\"\xf0\x9d\x84\x9e\""},
    {"\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\"", NULL},
    /* several escaped strings in a row: each keeps its own text (the lexer reuses a scratch buffer) */
    {"[\"a\\nb\",\"c\\td\",\"e\\\"f\"]", NULL},
    /* keys: escapes, \u0000, a key that survives the nested object read after it */
    {"{\"\\n\":\"\\\"\"}", NULL},
    {"{\"a\\u0000b\":1,\"a\":2,\"a\\u0000\":3}", NULL},
    {"{\"k\\n1\":{\"k\\n2\":{\"k\\n3\":1}},\"k\\n4\":[\"v\\n\"]}", NULL},
    {"{\"\xc3\xa9\":\"\\u00e9\"}", "{\"\xc3\xa9\":\"\xc3\xa9\"}"},
};

static void test_round_trips(void)
{
    for (size_t i = 0; i < sizeof(round_trips) / sizeof(round_trips[0]); i++) {
        const char *expected = round_trips[i].out != NULL ? round_trips[i].out : round_trips[i].in;
        const aggregate_value_t *v = parse(round_trips[i].in);
        CHECK_STR_EQ(text_of(v), expected);
        /* and the output reads back as the same document */
        CHECK_STR_EQ(text_of(parse(expected)), expected);
    }
}

/* In-place parsing (replies copied into the run's arena): the same values and output as the
 * copying parser, strings and keys NUL-terminated in the source, unescaped ones not copied. */
static void test_in_place(void)
{
    for (size_t i = 0; i < sizeof(round_trips) / sizeof(round_trips[0]); i++) {
        const char *in = round_trips[i].in, *expected = round_trips[i].out != NULL ? round_trips[i].out : in;
        size_t len = strlen(in);
        char *text = util_arena_alloc(&arena, len + 1);
        memcpy(text, in, len + 1);
        util_error_t err;
        const aggregate_value_t *v = aggregate_value_parse_in_place(&arena, text, len, &err);
        CHECK(v != NULL);
        CHECK_STR_EQ(text_of(v), expected);
        CHECK(aggregate_value_equal(v, parse(in)));
    }
    char doc[] = "{\"key\":\"plain\",\"esc\\n\":\"a\\nb\",\"del\":\"x\x7fy\",\"n\":[12,\"s\"]}";
    const aggregate_value_t *v = aggregate_value_parse_in_place(&arena, doc, strlen(doc), NULL);
    CHECK(aggregate_value_is(v, AGGREGATE_VALUE_OBJECT));
    if (v == NULL || v->len != 4)
        return;
    const aggregate_member_t *m = v->u.members;
    /* unescaped: in the source, NUL-terminated where the closing quote was, written as is */
    CHECK(m[0].key == doc + 2 && m[0].key[3] == '\0');
    CHECK(m[0].value->u.text == doc + 8 && m[0].value->u.text[5] == '\0' && m[0].value->plain);
    /* escaped: decoded into the arena, escaped again when written */
    CHECK(m[1].key < doc || m[1].key >= doc + sizeof(doc));
    CHECK_STR_EQ(m[1].key, "esc\n");
    CHECK(!m[1].value->plain);
    CHECK_STR_EQ(m[1].value->u.text, "a\nb");
    /* DEL needs no escape in JSON, but is written escaped as by the copying parser */
    CHECK(!m[2].value->plain);
    CHECK(m[3].value->u.items[1]->plain);
    CHECK_STR_EQ(text_of(v), "{\"key\":\"plain\",\"esc\\n\":\"a\\nb\",\"del\":\"x\\u007fy\",\"n\":[12,\"s\"]}");
    /* errors are reported as by the copying parser */
    char bad[] = "{\"a\":\"b\",}";
    util_error_t err;
    CHECK(aggregate_value_parse_in_place(&arena, bad, strlen(bad), &err) == NULL);
    CHECK(strstr(err.message, "line 1 column") != NULL);
}

/* Lengths count every byte, NULs included; the text is NUL-terminated after them. */
static void test_lengths(void)
{
    const aggregate_value_t *s = parse("\"a\\u0000b\"");
    CHECK(aggregate_value_is(s, AGGREGATE_VALUE_STRING));
    if (s != NULL) {
        CHECK_INT_EQ(s->len, 3);
        CHECK(memcmp(s->u.text, "a\0b", 4) == 0);
    }
    const aggregate_value_t *o = parse("{\"a\\u0000b\":1,\"\\u0000\":2,\"\":3}");
    CHECK(aggregate_value_is(o, AGGREGATE_VALUE_OBJECT));
    if (o != NULL && o->len == 3) {
        CHECK_INT_EQ(o->u.members[0].key_len, 3);
        CHECK(memcmp(o->u.members[0].key, "a\0b", 4) == 0);
        CHECK_INT_EQ(o->u.members[1].key_len, 1);
        CHECK(memcmp(o->u.members[1].key, "\0", 2) == 0);
        CHECK_INT_EQ(o->u.members[2].key_len, 0);
        CHECK_STR_EQ(o->u.members[2].key, "");
        CHECK_STR_EQ(text_of(aggregate_value_get(o, "a\0b", 3)), "1");
        CHECK(aggregate_value_get(o, "a", 1) == NULL);
        CHECK_STR_EQ(text_of(aggregate_value_get(o, "\0", 1)), "2");
        CHECK_STR_EQ(text_of(aggregate_value_get(o, "", 0)), "3");
    } else {
        CHECK(!"the object has three members");
    }
    const aggregate_value_t *n = parse("12345678901234567890");
    CHECK(aggregate_value_is(n, AGGREGATE_VALUE_NUMBER));
    if (n != NULL) {
        CHECK_INT_EQ(n->len, 20);
        CHECK_STR_EQ(n->u.text, "12345678901234567890");
    }
    const aggregate_value_t *u = parse("\"\xf0\x9f\x98\x80\\ud83d\\ude00\"");
    if (u != NULL)
        CHECK_INT_EQ(u->len, 8);
    /* only the given length is read */
    util_error_t err;
    CHECK_STR_EQ(text_of(parse_n("123456", 3, &err)), "123");
    CHECK_STR_EQ(text_of(parse_n("[1,2]xyz", 5, &err)), "[1,2]");
    CHECK(parse_n("\"abc\"", 4, &err) == NULL);
}

/* ---- documents the parser refuses --------------------------------------------------------- */

static const struct {
    const char *in;
    size_t len;           /* 0: strlen(in) */
    const char *expected; /* the start of the error message */
} invalid_cases[] = {
    /* empty input */
    {"", 0, "invalid JSON at line 1 column 1: unexpected end of input"},
    {" \n\t ", 0, "invalid JSON at line 2 column 3: unexpected end of input"},
    /* trailing commas */
    {"[1,2,]", 0, "invalid JSON at line 1 column 6: expected a value after ','"},
    {"{\"a\":1,}", 0, "invalid JSON at line 1 column 8: expected a string key after ','"},
    {"[\n  1,\n  ]", 0, "invalid JSON at line 3 column 3: expected a value after ','"},
    {"[,1]", 0, "invalid JSON at line 1 column 2: expected a value"},
    /* single quotes */
    {"'a'", 0, "invalid JSON at line 1 column 1: expected a value"},
    {"{'a':1}", 0, "invalid JSON at line 1 column 2: expected a string key or '}'"},
    {"[\"a\",'b']", 0, "invalid JSON at line 1 column 6: expected a value"},
    /* numbers: leading zeros, NaN and friends, incomplete forms */
    {"01", 0, "invalid JSON at line 1 column 1: invalid number"},
    {"-01", 0, "invalid JSON at line 1 column 1: invalid number"},
    {"[00]", 0, "invalid JSON at line 1 column 2: invalid number"},
    {"NaN", 0, "invalid JSON at line 1 column 1: expected a value"},
    {"[NaN]", 0, "invalid JSON at line 1 column 2: expected a value"},
    {"Infinity", 0, "invalid JSON at line 1 column 1: expected a value"},
    {"-Infinity", 0, "invalid JSON at line 1 column 1: invalid number"},
    {"+1", 0, "invalid JSON at line 1 column 1: expected a value"},
    {".5", 0, "invalid JSON at line 1 column 1: expected a value"},
    {"1.", 0, "invalid JSON at line 1 column 1: invalid number"},
    {"1e", 0, "invalid JSON at line 1 column 1: invalid number"},
    {"-", 0, "invalid JSON at line 1 column 1: invalid number"},
    {"0x10", 0, "invalid JSON at line 1 column 1: invalid number"},
    {"1x", 0, "invalid JSON at line 1 column 1: invalid number"},
    /* literals */
    {"tru", 0, "invalid JSON at line 1 column 1: expected 'true'"},
    {"nul", 0, "invalid JSON at line 1 column 1: expected 'null'"},
    {"nullx", 0, "invalid JSON at line 1 column 1: expected 'null'"},
    {"True", 0, "invalid JSON at line 1 column 1: expected a value"},
    /* unterminated strings, containers */
    {"\"abc", 0, "invalid JSON at line 1 column 1: unterminated string"},
    {"\"abc\\", 0, "invalid JSON at line 1 column 5: unterminated string"},
    {"[\"a\\u12", 0, "invalid JSON at line 1 column 4: invalid \\u escape"},
    {"{\"abc", 0, "invalid JSON at line 1 column 2: unterminated string"},
    {"{\"a\":\"b", 0, "invalid JSON at line 1 column 6: unterminated string"},
    {"[", 0, "invalid JSON at line 1 column 2: unexpected end of input"},
    {"[1", 0, "invalid JSON at line 1 column 3: unexpected end of input"},
    {"{", 0, "invalid JSON at line 1 column 2: unexpected end of input"},
    {"{\"a\"", 0, "invalid JSON at line 1 column 5: unexpected end of input"},
    {"{\"a\":", 0, "invalid JSON at line 1 column 6: unexpected end of input"},
    /* structure */
    {"[1 2]", 0, "invalid JSON at line 1 column 4: expected ',' or ']'"},
    {"{\"a\" 1}", 0, "invalid JSON at line 1 column 6: expected ':'"},
    {"{\"a\":}", 0, "invalid JSON at line 1 column 6: expected a value"},
    {"{\"a\":1 \"b\":2}", 0, "invalid JSON at line 1 column 8: expected ',' or '}'"},
    {"{1:2}", 0, "invalid JSON at line 1 column 2: expected a string key or '}'"},
    {"/* c */ 1", 0, "invalid JSON at line 1 column 1: expected a value"},
    /* strings: escapes, control characters */
    {"\"\\x\"", 0, "invalid JSON at line 1 column 2: invalid escape in string"},
    {"\"\\U0041\"", 0, "invalid JSON at line 1 column 2: invalid escape in string"},
    {"\"\\u00g0\"", 0, "invalid JSON at line 1 column 2: invalid \\u escape"},
    {"\"a\nb\"", 0, "invalid JSON at line 1 column 3: control character in string"},
    {"\"a\tb\"", 0, "invalid JSON at line 1 column 3: control character in string"},
    {"\"a\0b\"", 5, "invalid JSON at line 1 column 3: control character in string"},
    {"{\"a\0\":1}", 8, "invalid JSON at line 1 column 4: control character in string"},
    /* lone surrogates, in values and keys */
    {"\"\\ud800\"", 0, "invalid JSON at line 1 column 2: lone high surrogate"},
    {"\"\\udbff\\u0041\"", 0, "invalid JSON at line 1 column 2: lone high surrogate"},
    {"\"\\ud800\\ud800\"", 0, "invalid JSON at line 1 column 2: lone high surrogate"},
    {"\"\\ud800x\"", 0, "invalid JSON at line 1 column 2: lone high surrogate"},
    {"\"\\udc00\"", 0, "invalid JSON at line 1 column 2: lone low surrogate"},
    {"\"\\ude00\\ud83d\"", 0, "invalid JSON at line 1 column 2: lone low surrogate"},
    {"{\"\\ud800\":1}", 0, "invalid JSON at line 1 column 3: lone high surrogate"},
    /* invalid UTF-8: stray bytes, overlongs, encoded surrogates, truncated, above U+10FFFF */
    {"\"\xff\"", 0, "invalid UTF-8 in string at line 1 column 2"},
    {"\"\x80\"", 0, "invalid UTF-8 in string at line 1 column 2"},
    {"\"\xc0\xaf\"", 0, "invalid UTF-8 in string at line 1 column 2"},
    {"\"\xe0\x80\xaf\"", 0, "invalid UTF-8 in string at line 1 column 2"},
    {"\"\xed\xa0\x80\"", 0, "invalid UTF-8 in string at line 1 column 2"},
    {"\"ab\xe2\x82\"", 0, "invalid UTF-8 in string at line 1 column 4"},
    {"\"\xe2\x82", 0, "invalid UTF-8 in string at line 1 column 2"},
    {"\"\xf4\x90\x80\x80\"", 0, "invalid UTF-8 in string at line 1 column 2"},
    {"{\"\xfe\":1}", 0, "invalid UTF-8 in string at line 1 column 3"},
    {"\xef\xbb\xbf{}", 0, "invalid JSON at line 1 column 1: expected a value"},
    /* trailing garbage after the value */
    {"1 2", 0, "invalid JSON at line 1 column 3: unexpected data after the JSON value"},
    {"{} x", 0, "invalid JSON at line 1 column 4: unexpected data after the JSON value"},
    {"[1]]", 0, "invalid JSON at line 1 column 4: unexpected data after the JSON value"},
    {"{}{}", 0, "invalid JSON at line 1 column 3: unexpected data after the JSON value"},
    {"\"a\"\"b\"", 0, "invalid JSON at line 1 column 4: unexpected data after the JSON value"},
    {"null\n,", 0, "invalid JSON at line 2 column 1: unexpected data after the JSON value"},
    {"1\0", 2, "invalid JSON at line 1 column 2: unexpected data after the JSON value"},
};

static void test_invalid(void)
{
    for (size_t i = 0; i < sizeof(invalid_cases) / sizeof(invalid_cases[0]); i++) {
        const char *in = invalid_cases[i].in;
        size_t len = invalid_cases[i].len != 0 ? invalid_cases[i].len : strlen(in);
        util_error_t err = {0, ""};
        const aggregate_value_t *v = parse_n(in, len, &err);
        if (v != NULL) {
            TEST_FAIL_("case %zu (%s) parsed as %s", i, in, text_of(v));
            continue;
        }
        CHECK(err.code < 0);
        if (strncmp(err.message, invalid_cases[i].expected, strlen(invalid_cases[i].expected)) == 0)
            test_passed_++;
        else
            TEST_FAIL_("case %zu (%s):\n  got:      %s\n  expected: %s...", i, in, err.message, invalid_cases[i].expected);
    }
    /* a NULL error struct is allowed */
    CHECK(parse_n("[1,]", 4, NULL) == NULL);
    CHECK(parse_n("\"\xff\"", 3, NULL) == NULL);
}

/* ---- nesting depth ------------------------------------------------------------------------ */

/* |depth| nested arrays ("[[...]]") or objects ({"a":{"a":...{}}}); malloc'd, NUL-terminated. */
static char *nested(size_t depth, int objects)
{
    size_t open = objects ? 5 : 1, len = depth * (open + 1) - (objects ? 4 : 0);
    char *s = malloc(len + 1);
    if (s == NULL)
        return NULL;
    char *p = s;
    for (size_t i = 0; i < depth; i++) {
        if (objects && i + 1 < depth) {
            memcpy(p, "{\"a\":", 5);
            p += 5;
        } else {
            *p++ = objects ? '{' : '[';
        }
    }
    for (size_t i = 0; i < depth; i++)
        *p++ = objects ? '}' : ']';
    *p = '\0';
    return s;
}

static void test_depth(void)
{
    static const struct {
        size_t depth;
        int objects;
        int ok;
    } cases[] = {
        {1, 0, 1},
        {AGGREGATE_VALUE_MAX_DEPTH, 0, 1},
        {AGGREGATE_VALUE_MAX_DEPTH, 1, 1},
        {AGGREGATE_VALUE_MAX_DEPTH + 1, 0, 0},
        {AGGREGATE_VALUE_MAX_DEPTH + 1, 1, 0},
        {100000, 0, 0},
        {100000, 1, 0},
    };
    char depth_msg[64];
    snprintf(depth_msg, sizeof(depth_msg), "JSON nesting deeper than %d", AGGREGATE_VALUE_MAX_DEPTH);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *doc = nested(cases[i].depth, cases[i].objects);
        if (doc == NULL) {
            CHECK(!"out of memory");
            continue;
        }
        util_error_t err = {0, ""};
        const aggregate_value_t *v = parse_n(doc, strlen(doc), &err);
        if (cases[i].ok) {
            CHECK_STR_EQ(text_of(v), doc);
        } else {
            CHECK(v == NULL);
            CHECK_STR_HAS(err.message, depth_msg);
        }
        free(doc);
    }
    /* the limit counts containers, not scalars inside the deepest one */
    char *doc = nested(AGGREGATE_VALUE_MAX_DEPTH, 0);
    if (doc != NULL) {
        size_t len = strlen(doc);
        char *with = malloc(len + 8);
        if (with != NULL) {
            memcpy(with, doc, AGGREGATE_VALUE_MAX_DEPTH);
            memcpy(with + AGGREGATE_VALUE_MAX_DEPTH, "1,\"x\"", 5);
            memcpy(with + AGGREGATE_VALUE_MAX_DEPTH + 5, doc + AGGREGATE_VALUE_MAX_DEPTH, AGGREGATE_VALUE_MAX_DEPTH + 1);
            CHECK_STR_EQ(text_of(parse(with)), with);
            free(with);
        }
        free(doc);
    }
}

/* ---- duplicate keys ----------------------------------------------------------------------- */

/*
 * An object of |count| members whose keys cycle through |distinct| names (in the order given by
 * |stride|, coprime with |distinct|), member i having value i. The expected result, by the rule
 * jansson had: each key once, at its first position, with its last value.
 */
static void check_duplicates(size_t count, size_t distinct, size_t stride)
{
    util_buf_t in = UTIL_BUF_INIT, want = UTIL_BUF_INIT;
    size_t *order = malloc(distinct * sizeof(*order)), *last = malloc(distinct * sizeof(*last));
    size_t seen = 0;
    if (order == NULL || last == NULL) {
        CHECK(!"out of memory");
        free(order);
        free(last);
        return;
    }
    char member[64];
    util_buf_putc(&in, '{');
    for (size_t i = 0; i < count; i++) {
        size_t k = (i * stride) % distinct;
        int n = snprintf(member, sizeof(member), "%s\"key%zu\":%zu", i ? "," : "", k, i);
        util_buf_append(&in, member, (size_t)n);
        size_t j;
        for (j = 0; j < seen && order[j] != k; j++)
            ;
        if (j == seen)
            order[seen++] = k;
        last[k] = i;
    }
    util_buf_putc(&in, '}');
    util_buf_putc(&want, '{');
    for (size_t j = 0; j < seen; j++) {
        int n = snprintf(member, sizeof(member), "%s\"key%zu\":%zu", j ? "," : "", order[j], last[order[j]]);
        util_buf_append(&want, member, (size_t)n);
    }
    util_buf_putc(&want, '}');
    util_buf_putc(&want, '\0');

    util_error_t err;
    const aggregate_value_t *v = parse_n((const char *)in.data, in.len, &err);
    if (v == NULL)
        TEST_FAIL_("%zu members, %zu keys: %s", count, distinct, err.message);
    else if (v->len != seen || strcmp(text_of(v), (const char *)want.data) != 0)
        TEST_FAIL_("%zu members, %zu keys (stride %zu): %zu members, %s\n  expected %zu, %s", count, distinct, stride, v->len,
                   text_of(v), seen, (const char *)want.data);
    else
        test_passed_++;
    /* every key can be found, with its last value */
    for (size_t j = 0; v != NULL && j < seen; j++) {
        int n = snprintf(member, sizeof(member), "key%zu", order[j]);
        const aggregate_value_t *m = aggregate_value_get(v, member, (size_t)n);
        char value[24];
        snprintf(value, sizeof(value), "%zu", last[order[j]]);
        if (m == NULL || strcmp(text_of(m), value) != 0) {
            TEST_FAIL_("%zu members, %zu keys: %s is %s, expected %s", count, distinct, member, m ? text_of(m) : "missing", value);
            break;
        }
    }
    free(order);
    free(last);
    util_buf_dispose(&in);
    util_buf_dispose(&want);
}

static void test_duplicates(void)
{
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"{\"a\":1,\"b\":2,\"a\":3}", "{\"a\":3,\"b\":2}"},
        {"{\"a\":1,\"a\":2,\"a\":3}", "{\"a\":3}"},
        {"{\"a\":1,\"a\":{\"x\":1,\"x\":2}}", "{\"a\":{\"x\":2}}"},
        {"{\"o\":{\"x\":1,\"x\":2},\"p\":0,\"o\":{\"y\":3}}", "{\"o\":{\"y\":3},\"p\":0}"},
        {"{\"a\":1,\"a\\u0000\":2,\"a\":3}", "{\"a\":3,\"a\\u0000\":2}"},
        {"{\"\\u0041\":1,\"A\":2}", "{\"A\":2}"},
        {"{\"\xc3\xa9\":1,\"\\u00e9\":2}", "{\"\xc3\xa9\":2}"},
        {"[{\"a\":1,\"a\":2},{\"a\":3,\"a\":4}]", "[{\"a\":2},{\"a\":4}]"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        CHECK_STR_EQ(text_of(parse(cases[i].in)), cases[i].out);

    static const struct {
        size_t count, distinct, stride;
    } sized[] = {
        /* pairwise path (<= 16 members) */
        {2, 1, 1},
        {16, 16, 1},
        {16, 8, 1},
        {16, 5, 3},
        /* hashed path (> 16 members) */
        {17, 17, 1},
        {17, 16, 1},
        {17, 1, 1},
        {34, 17, 5},
        {100, 7, 3},
        {2000, 1000, 1},   /* 1000 keys, each twice, in the same order */
        {2000, 1000, 999}, /* 1000 keys, the second time in reverse */
        {5000, 4999, 2},
    };
    for (size_t i = 0; i < sizeof(sized) / sizeof(sized[0]); i++)
        check_duplicates(sized[i].count, sized[i].distinct, sized[i].stride);
}

/* ---- equality ----------------------------------------------------------------------------- */

static void test_equal(void)
{
    static const struct {
        const char *x, *y;
        int equal;
    } cases[] = {
        /* kinds */
        {"null", "null", 1},
        {"true", "true", 1},
        {"null", "false", 0},
        {"true", "false", 0},
        {"1", "\"1\"", 0},
        {"[]", "{}", 0},
        {"[]", "null", 0},
        /* integers within int64 by value */
        {"1", "1", 1},
        {"1", "2", 0},
        {"-0", "0", 1},
        {"9223372036854775807", "9223372036854775807", 1},
        {"9223372036854775807", "9223372036854775806", 0}, /* the same double */
        {"-9223372036854775808", "-9223372036854775808", 1},
        {"-9223372036854775808", "-9223372036854775807", 0},
        /* integers outside int64 are not clamped to its ends */
        {"99999999999999999999", "9223372036854775807", 0},
        {"-99999999999999999999", "-9223372036854775808", 0},
        {"9223372036854775808", "9223372036854775807", 0},
        {"12345678901234567890", "12345678901234567890", 1},
        {"12345678901234567890", "12345678901234567891", 0},
        /* anything else by strtod */
        {"1", "1.0", 1},
        {"100", "1e2", 1},
        {"0.1", "0.10", 1},
        {"1.5", "15e-1", 1},
        {"-0", "0.0", 1},
        {"0.1", "0.2", 0},
        {"1e400", "1e400", 1},
        {"1e400", "-1e400", 0},
        /* strings: every byte, NULs included */
        {"\"a\"", "\"a\"", 1},
        {"\"a\"", "\"b\"", 0},
        {"\"a\\u0000b\"", "\"a\\u0000c\"", 0},
        {"\"a\\u0000b\"", "\"a\"", 0},
        {"\"\\u00e9\"", "\"\xc3\xa9\"", 1},
        /* arrays: order matters */
        {"[1,2]", "[1,2]", 1},
        {"[1,2]", "[2,1]", 0},
        {"[1]", "[1,1]", 0},
        {"[1,[2,3]]", "[1.0,[2,3e0]]", 1},
        /* objects: order does not */
        {"{\"a\":1,\"b\":2}", "{\"b\":2,\"a\":1}", 1},
        {"{\"a\":1}", "{\"a\":1,\"b\":2}", 0},
        {"{\"a\":1,\"b\":2}", "{\"a\":1,\"c\":2}", 0},
        {"{\"a\":1,\"b\":2}", "{\"a\":1,\"b\":3}", 0},
        {"{\"a\":null}", "{\"b\":null}", 0},
        {"{\"a\":1}", "{\"a\\u0000\":1}", 0},
        {"{\"a\":1,\"a\":2}", "{\"a\":2}", 1},
        {"{\"x\":[{\"a\":1,\"b\":[1,{\"c\":null,\"d\":\"e\"}]}],\"y\":{}}",
         "{\"y\":{},\"x\":[{\"b\":[1,{\"d\":\"e\",\"c\":null}],\"a\":1.0}]}", 1},
        {"{\"x\":[{\"a\":1,\"b\":[1,{\"c\":null}]}]}", "{\"x\":[{\"a\":1,\"b\":[{\"c\":null},1]}]}", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const aggregate_value_t *x = parse(cases[i].x), *y = parse(cases[i].y);
        if (x == NULL || y == NULL) {
            CHECK(!"both sides parse");
            continue;
        }
        int xy = aggregate_value_equal(x, y), yx = aggregate_value_equal(y, x);
        if (xy == cases[i].equal && yx == cases[i].equal)
            test_passed_++;
        else
            TEST_FAIL_("equal(%s, %s) = %d, equal(%s, %s) = %d, expected %d", cases[i].x, cases[i].y, xy, cases[i].y, cases[i].x,
                       yx, cases[i].equal);
        CHECK(aggregate_value_equal(x, x));
    }
    const aggregate_value_t *one = parse("1");
    CHECK(aggregate_value_equal(NULL, NULL));
    CHECK(!aggregate_value_equal(one, NULL));
    CHECK(!aggregate_value_equal(NULL, one));
    CHECK(aggregate_value_equal(aggregate_value_integer(&arena, 1), one));
    CHECK(aggregate_value_equal(aggregate_value_null(), parse("null")));
}

/* ---- building and reading ----------------------------------------------------------------- */

static void test_scalars(void)
{
    CHECK(aggregate_value_is(aggregate_value_null(), AGGREGATE_VALUE_NULL));
    CHECK(aggregate_value_is(aggregate_value_bool(1), AGGREGATE_VALUE_TRUE));
    CHECK(aggregate_value_is(aggregate_value_bool(42), AGGREGATE_VALUE_TRUE));
    CHECK(aggregate_value_is(aggregate_value_bool(0), AGGREGATE_VALUE_FALSE));
    CHECK(!aggregate_value_is(NULL, AGGREGATE_VALUE_NULL));
    CHECK_STR_EQ(text_of(aggregate_value_null()), "null");
    CHECK_STR_EQ(text_of(aggregate_value_bool(1)), "true");
    CHECK_STR_EQ(text_of(aggregate_value_bool(0)), "false");

    static const struct {
        int64_t v;
        const char *text;
    } integers[] = {
        {0, "0"}, {-1, "-1"}, {42, "42"}, {INT64_MAX, "9223372036854775807"}, {INT64_MIN, "-9223372036854775808"},
    };
    for (size_t i = 0; i < sizeof(integers) / sizeof(integers[0]); i++) {
        const aggregate_value_t *v = aggregate_value_integer(&arena, integers[i].v);
        CHECK(aggregate_value_is(v, AGGREGATE_VALUE_NUMBER));
        CHECK_STR_EQ(text_of(v), integers[i].text);
        if (v != NULL)
            CHECK_INT_EQ(v->len, strlen(integers[i].text));
    }

    const aggregate_value_t *n = aggregate_value_number(&arena, "1.50xyz", 4);
    CHECK_STR_EQ(text_of(n), "1.50");
    if (n != NULL)
        CHECK_STR_EQ(n->u.text, "1.50");
    const aggregate_value_t *s = aggregate_value_string(&arena, "a\0\"\\\x01\x7f", 6);
    CHECK_STR_EQ(text_of(s), "\"a\\u0000\\\"\\\\\\u0001\\u007f\"");
    if (s != NULL) {
        CHECK_INT_EQ(s->len, 6);
        CHECK_INT_EQ(s->u.text[6], 0);
    }
    CHECK_STR_EQ(text_of(aggregate_value_string(&arena, "", 0)), "\"\"");
}

static void test_objects(void)
{
    aggregate_value_t *o = aggregate_value_object(&arena, 0);
    CHECK(aggregate_value_is(o, AGGREGATE_VALUE_OBJECT));
    if (o == NULL)
        return;
    CHECK_STR_EQ(text_of(o), "{}");
    CHECK_INT_EQ(aggregate_value_set(&arena, o, "a", 1, aggregate_value_integer(&arena, 1)), 0);
    CHECK_INT_EQ(aggregate_value_set(&arena, o, "b", 1, aggregate_value_string(&arena, "x", 1)), 0);
    CHECK_INT_EQ(aggregate_value_set(&arena, o, "a", 1, aggregate_value_bool(1)), 0); /* replaced in place */
    CHECK_STR_EQ(text_of(o), "{\"a\":true,\"b\":\"x\"}");
    CHECK_INT_EQ(o->len, 2);
    /* the key is borrowed with its length: only key_len bytes of it count */
    CHECK_INT_EQ(aggregate_value_set(&arena, o, "cde", 2, aggregate_value_null()), 0);
    CHECK_STR_EQ(text_of(o), "{\"a\":true,\"b\":\"x\",\"cd\":null}");
    CHECK_INT_EQ(aggregate_value_find(o, "cd", 2), 2);
    CHECK_INT_EQ(aggregate_value_find(o, "cde", 3), -1);
    CHECK_INT_EQ(aggregate_value_find(o, "c", 1), -1);
    CHECK_INT_EQ(aggregate_value_find(o, "a", 1), 0);
    CHECK_INT_EQ(aggregate_value_find(o, "b", 1), 1);
    CHECK(aggregate_value_get(o, "a", 1) == aggregate_value_bool(1));
    CHECK(aggregate_value_get(o, "z", 1) == NULL);
    /* a NULL value is refused and changes nothing */
    CHECK_INT_EQ(aggregate_value_set(&arena, o, "a", 1, NULL), -1);
    CHECK_INT_EQ(aggregate_value_set(&arena, o, "new", 3, NULL), -1);
    CHECK_INT_EQ(aggregate_value_add(&arena, o, "new", 3, NULL), -1);
    CHECK_STR_EQ(text_of(o), "{\"a\":true,\"b\":\"x\",\"cd\":null}");
    /* add appends without looking */
    CHECK_INT_EQ(aggregate_value_add(&arena, o, "z", 1, aggregate_value_integer(&arena, 26)), 0);
    CHECK_STR_EQ(text_of(o), "{\"a\":true,\"b\":\"x\",\"cd\":null,\"z\":26}");

    /* growing past the initial room keeps every member in order */
    aggregate_value_t *big = aggregate_value_object(&arena, 1);
    static char keys[300][8];
    util_buf_t want = UTIL_BUF_INIT;
    util_buf_putc(&want, '{');
    for (int i = 0; big != NULL && i < 300; i++) {
        int n = snprintf(keys[i], sizeof(keys[i]), "k%d", i);
        CHECK_INT_EQ(aggregate_value_add(&arena, big, keys[i], (size_t)n, aggregate_value_integer(&arena, i)), 0);
        char member[32];
        util_buf_append(&want, member, (size_t)snprintf(member, sizeof(member), "%s\"k%d\":%d", i ? "," : "", i, i));
    }
    util_buf_putc(&want, '}');
    util_buf_putc(&want, '\0');
    CHECK_STR_EQ(text_of(big), (const char *)want.data);
    CHECK_INT_EQ(aggregate_value_find(big, "k299", 4), 299);
    CHECK_STR_EQ(text_of(aggregate_value_get(big, "k150", 4)), "150");
    util_buf_dispose(&want);

    /* reading something that is not an object */
    const aggregate_value_t *arr = parse("[1,2]");
    CHECK(aggregate_value_get(arr, "0", 1) == NULL);
    CHECK_INT_EQ(aggregate_value_find(arr, "0", 1), -1);
    CHECK(aggregate_value_get(NULL, "a", 1) == NULL);
    CHECK_INT_EQ(aggregate_value_find(NULL, "a", 1), -1);
    CHECK(aggregate_value_get(parse("\"a\""), "a", 1) == NULL);
}

static void test_arrays(void)
{
    aggregate_value_t *a = aggregate_value_array(&arena, 0);
    CHECK(aggregate_value_is(a, AGGREGATE_VALUE_ARRAY));
    if (a == NULL)
        return;
    CHECK_STR_EQ(text_of(a), "[]");
    util_buf_t want = UTIL_BUF_INIT;
    util_buf_putc(&want, '[');
    for (int i = 0; i < 100; i++) {
        CHECK_INT_EQ(aggregate_value_append(&arena, a, aggregate_value_integer(&arena, i * 3)), 0);
        char item[16];
        util_buf_append(&want, item, (size_t)snprintf(item, sizeof(item), "%s%d", i ? "," : "", i * 3));
    }
    util_buf_putc(&want, ']');
    util_buf_putc(&want, '\0');
    CHECK_STR_EQ(text_of(a), (const char *)want.data);
    CHECK_INT_EQ(a->len, 100);
    CHECK_INT_EQ(aggregate_value_append(&arena, a, NULL), -1);
    CHECK_INT_EQ(a->len, 100);
    util_buf_dispose(&want);

    aggregate_value_t *b = aggregate_value_array(&arena, 2);
    if (b != NULL) {
        CHECK_INT_EQ(aggregate_value_append(&arena, b, aggregate_value_null()), 0);
        CHECK_INT_EQ(aggregate_value_append(&arena, b, parse("{\"a\":[1]}")), 0);
        CHECK_INT_EQ(aggregate_value_append(&arena, b, b->u.items[1]), 0); /* shared, not copied */
        CHECK_STR_EQ(text_of(b), "[null,{\"a\":[1]},{\"a\":[1]}]");
    }
}

static void test_copy(void)
{
    const aggregate_value_t *orig = parse("{\"a\":1,\"b\":{\"c\":2}}");
    if (orig == NULL)
        return;
    aggregate_value_t *c = aggregate_value_copy(&arena, orig, 1);
    CHECK(aggregate_value_is(c, AGGREGATE_VALUE_OBJECT));
    if (c == NULL)
        return;
    CHECK_STR_EQ(text_of(c), "{\"a\":1,\"b\":{\"c\":2}}");
    CHECK(aggregate_value_get(c, "b", 1) == aggregate_value_get(orig, "b", 1)); /* members shared */
    CHECK_INT_EQ(aggregate_value_set(&arena, c, "d", 1, aggregate_value_integer(&arena, 4)), 0);
    CHECK_INT_EQ(aggregate_value_set(&arena, c, "a", 1, aggregate_value_integer(&arena, 9)), 0);
    CHECK_INT_EQ(aggregate_value_set(&arena, c, "e", 1, aggregate_value_integer(&arena, 5)), 0); /* past the extra room */
    CHECK_STR_EQ(text_of(c), "{\"a\":9,\"b\":{\"c\":2},\"d\":4,\"e\":5}");
    CHECK_STR_EQ(text_of(orig), "{\"a\":1,\"b\":{\"c\":2}}");

    const aggregate_value_t *arr = parse("[1,[2]]");
    aggregate_value_t *ac = arr != NULL ? aggregate_value_copy(&arena, arr, 0) : NULL;
    CHECK(aggregate_value_is(ac, AGGREGATE_VALUE_ARRAY));
    if (ac != NULL) {
        CHECK(ac->u.items[1] == arr->u.items[1]);
        CHECK_INT_EQ(aggregate_value_append(&arena, ac, aggregate_value_bool(0)), 0);
        CHECK_STR_EQ(text_of(ac), "[1,[2],false]");
        CHECK_STR_EQ(text_of(arr), "[1,[2]]");
    }

    /* empty containers, with and without extra room */
    static const char *const empties[] = {"{}", "[]"};
    for (size_t i = 0; i < 2; i++) {
        for (size_t extra = 0; extra < 2; extra++) {
            aggregate_value_t *e = aggregate_value_copy(&arena, parse(empties[i]), extra);
            CHECK_STR_EQ(text_of(e), empties[i]);
            if (e == NULL)
                continue;
            if (e->kind == AGGREGATE_VALUE_OBJECT)
                CHECK_INT_EQ(aggregate_value_add(&arena, e, "k", 1, aggregate_value_null()), 0);
            else
                CHECK_INT_EQ(aggregate_value_append(&arena, e, aggregate_value_null()), 0);
            CHECK_STR_EQ(text_of(e), i == 0 ? "{\"k\":null}" : "[null]");
        }
    }
}

/* ---- from jansson ------------------------------------------------------------------------- */

static void test_from_json(void)
{
    static const struct {
        const char *json; /* loaded by jansson */
        const char *out;  /* NULL: the same */
    } cases[] = {
        {"null", NULL},
        {"true", NULL},
        {"false", NULL},
        {"0", NULL},
        {"-42", NULL},
        {"9223372036854775807", NULL},
        {"-9223372036854775808", NULL},
        {"2.5", NULL},
        {"1.0", NULL},
        {"-0.5", NULL},
        {"1e22", NULL},
        {"0.1", NULL}, /* the shortest text that reads back, not jansson's 0.10000000000000001 */
        {"3.14", NULL},
        {"1e-7", NULL},
        {"-2.5e-300", NULL},
        {"123456789012345680000.0", "1.2345678901234568e20"},
        {"\"s\\u00e9\\n\\\"\"", "\"s\xc3\xa9\\n\\\"\""},
        {"[]", NULL},
        {"{}", NULL},
        {"[1,[2,{\"k\":\"v\"}],{}]", NULL},
        {"{\"z\":1,\"a\":2.5,\"m\":\"s\",\"n\":null,\"t\":true,\"f\":false,\"arr\":[1,[2]],\"o\":{\"y\":{\"x\":[]},\"b\":0}}",
         NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_error_t jerr;
        json_t *j = json_loads(cases[i].json, JSON_DECODE_ANY, &jerr);
        if (j == NULL) {
            TEST_FAIL_("jansson cannot load %s: %s", cases[i].json, jerr.text);
            continue;
        }
        CHECK_STR_EQ(text_of(aggregate_value_from_json(&arena, j)), cases[i].out ? cases[i].out : cases[i].json);
        json_decref(j);
    }

    /* a real keeps its value */
    json_t *r = json_real(0.1);
    const aggregate_value_t *rv = aggregate_value_from_json(&arena, r);
    CHECK(aggregate_value_is(rv, AGGREGATE_VALUE_NUMBER));
    CHECK(aggregate_value_equal(rv, parse("0.1")));
    json_decref(r);

    /* NULs in strings and keys keep their length */
    json_t *o = json_object();
    json_object_set_new(o, "b", json_integer(1));
    json_object_setn_new(o, "a\0x", 3, json_stringn("s\0t", 3));
    json_object_set_new(o, "a", json_integer(2));
    const aggregate_value_t *ov = aggregate_value_from_json(&arena, o);
    CHECK_STR_EQ(text_of(ov), "{\"b\":1,\"a\\u0000x\":\"s\\u0000t\",\"a\":2}");
    if (ov != NULL && ov->len == 3) {
        CHECK_INT_EQ(ov->u.members[1].key_len, 3);
        CHECK_INT_EQ(ov->u.members[1].value->len, 3);
    }
    json_decref(o);

    /* key order kept past jansson's hash table sizes */
    json_t *many = json_object();
    util_buf_t want = UTIL_BUF_INIT;
    util_buf_putc(&want, '{');
    for (int i = 0; i < 200; i++) {
        char key[16], member[40];
        snprintf(key, sizeof(key), "k%d", (i * 37) % 200);
        json_object_set_new(many, key, json_integer(i));
        util_buf_append(&want, member, (size_t)snprintf(member, sizeof(member), "%s\"%s\":%d", i ? "," : "", key, i));
    }
    util_buf_putc(&want, '}');
    util_buf_putc(&want, '\0');
    CHECK_STR_EQ(text_of(aggregate_value_from_json(&arena, many)), (const char *)want.data);
    util_buf_dispose(&want);
    json_decref(many);
}

int main(void)
{
    util_arena_init_raw(&arena);
    test_round_trips();
    test_in_place();
    test_lengths();
    test_invalid();
    test_depth();
    test_duplicates();
    test_equal();
    test_scalars();
    test_objects();
    test_arrays();
    test_copy();
    test_from_json();
    util_arena_dispose(&arena);
    text_of_dispose();
    return test_summary();
}
