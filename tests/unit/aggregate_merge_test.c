/*
 * aggregate_merge_test.c — the merge rules of composite endpoints (src/aggregate/merge.c):
 * shaping one response (target, allow, deny, rename/mapping, collection checks) and placing parts
 * in the document (deep merge with the declaration-order conflict rule, group, collection with and
 * without concat). Directives are written exactly as in an aggregation file and loaded by the real
 * loader, so a case reads like the documentation. Values are immutable (value.h): every case also
 * checks that its inputs read the same afterwards.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate/aggregate_int.h"
#include "aggregate_test.h"
#include "test.h"

/* An endpoint whose calls carry the given directives ("{...}" members, comma-separated per call). */
static aggregate_set_t *load_calls(const char *const *directives, size_t n)
{
    char json[8192];
    size_t len = (size_t)snprintf(json, sizeof(json), "{\"method\": \"GET\", \"path\": \"/t\", \"calls\": [");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(json + len, sizeof(json) - len,
                                "%s{\"name\": \"c%zu\", \"http\": {\"upstream\": \"u\", \"path\": \"/\"}%s%s}", i ? ", " : "", i,
                                directives[i][0] ? ", " : "", directives[i]);
    snprintf(json + len, sizeof(json) - len, "]}");
    aggregate_set_t *s = aggregate_set_new();
    util_error_t err;
    if (aggregate_set_load_string(s, json, "t.json", NULL, &err) != 0) {
        fprintf(stderr, "load failed: %s\n  in %s\n", err.message, json);
        aggregate_set_free(s);
        return NULL;
    }
    return s;
}

static util_arena_t arena;

static const aggregate_value_t *parse(const char *text)
{
    util_error_t err;
    const aggregate_value_t *v = aggregate_value_parse(&arena, text, strlen(text), &err);
    if (v == NULL)
        fprintf(stderr, "cannot parse %s: %s\n", text, err.message);
    return v;
}

/* ---- shaping one response --------------------------------------------------------------- */

static const struct {
    const char *directives;
    const char *response;
    const char *expected; /* compact JSON, or "!" + a substring of the error */
} shape_cases[] = {
    /* no directives: the response as it is */
    {"", "{\"a\":1,\"b\":{\"c\":[1,2]}}", "{\"a\":1,\"b\":{\"c\":[1,2]}}"},
    /* target */
    {"\"target\": \"data\"", "{\"data\":{\"a\":1},\"x\":2}", "{\"a\":1}"},
    {"\"target\": \"data.items.1\"", "{\"data\":{\"items\":[{\"a\":1},{\"a\":2}]}}", "{\"a\":2}"},
    {"\"target\": \"data\"", "{\"x\":2}", "!the response has no \"data\" (target)"},
    {"\"target\": \"data\", \"group\": \"g\"", "{\"data\":7}", "7"},
    {"\"target\": \"data\"", "{\"data\":7}", "!the response target data is a number: only objects merge into the root"},
    /* allow */
    {"\"allow\": [\"a\", \"c.d\"]", "{\"a\":1,\"b\":2,\"c\":{\"d\":3,\"e\":4}}", "{\"a\":1,\"c\":{\"d\":3}}"},
    {"\"allow\": [\"c\", \"c.d\"]", "{\"a\":1,\"c\":{\"d\":3,\"e\":4}}", "{\"c\":{\"d\":3,\"e\":4}}"},
    {"\"allow\": [\"a.b\"]", "{\"a\":{\"c\":1},\"x\":1}", "{}"},
    {"\"allow\": [\"nothing\"]", "{\"a\":1}", "{}"},
    /* allow goes through arrays: every element keeps its allowed members */
    {"\"allow\": [\"reviews.author\", \"count\"]",
     "{\"reviews\":[{\"author\":\"x\",\"text\":\"t\"},{\"text\":\"u\"}],\"count\":2,\"secret\":1}",
     "{\"reviews\":[{\"author\":\"x\"},{}],\"count\":2}"},
    {"\"allow\": [\"a.b.c\"]", "{\"a\":[{\"b\":[{\"c\":1,\"d\":2},{\"d\":3}]},{\"z\":1}]}", "{\"a\":[{\"b\":[{\"c\":1},{}]},{}]}"},
    {"\"allow\": [\"tags\"]", "{\"tags\":[1,2],\"x\":1}", "{\"tags\":[1,2]}"},
    {"\"allow\": [\"tags.x\"]", "{\"tags\":[1,2]}", "{\"tags\":[]}"},
    {"\"allow\": [\"id\"], \"collection\": \"items\"", "[{\"id\":1,\"x\":2},{\"id\":3}]", "[{\"id\":1},{\"id\":3}]"},
    /* deny */
    {"\"deny\": [\"b\", \"c.d\"]", "{\"a\":1,\"b\":2,\"c\":{\"d\":3,\"e\":4}}", "{\"a\":1,\"c\":{\"e\":4}}"},
    {"\"deny\": [\"reviews.text\"]", "{\"reviews\":[{\"author\":\"x\",\"text\":\"t\"},{\"text\":\"u\"}]}",
     "{\"reviews\":[{\"author\":\"x\"},{}]}"},
    {"\"deny\": [\"a.b.c\"]", "{\"a\":[{\"b\":[{\"c\":1,\"d\":2}]},{\"b\":5}]}", "{\"a\":[{\"b\":[{\"d\":2}]},{\"b\":5}]}"},
    {"\"deny\": [\"nope\", \"a.nope\"]", "{\"a\":1}", "{\"a\":1}"},
    /* allow then deny */
    {"\"allow\": [\"user\"], \"deny\": [\"user.password\"]", "{\"user\":{\"name\":\"n\",\"password\":\"p\"},\"x\":1}",
     "{\"user\":{\"name\":\"n\"}}"},
    /* rename (and its KrakenD spelling, mapping) */
    {"\"rename\": {\"a\": \"b\"}", "{\"a\":1,\"c\":2}", "{\"c\":2,\"b\":1}"},
    {"\"mapping\": {\"a\": \"x.y.z\"}", "{\"a\":1}", "{\"x\":{\"y\":{\"z\":1}}}"},
    {"\"rename\": {\"reviews.author\": \"reviews.by\"}", "{\"reviews\":[{\"author\":\"x\",\"r\":1},{\"r\":2}]}",
     "{\"reviews\":[{\"r\":1,\"by\":\"x\"},{\"r\":2}]}"},
    {"\"rename\": {\"data.items\": \"items\"}", "{\"data\":{\"items\":[1],\"n\":1}}", "{\"data\":{\"n\":1},\"items\":[1]}"},
    {"\"rename\": {\"a\": \"a.inner\"}", "{\"a\":5}", "{\"a\":{\"inner\":5}}"},
    {"\"rename\": {\"a.inner\": \"a\"}", "{\"a\":{\"inner\":5,\"x\":1}}", "{\"a\":5}"},
    {"\"rename\": {\"missing\": \"b\"}", "{\"a\":1}", "{\"a\":1}"},
    {"\"rename\": {\"a\": \"b\", \"b\": \"c\"}", "{\"a\":1}", "{\"c\":1}"},               /* applied in order */
    {"\"rename\": {\"a\": \"b\"}", "{\"a\":1,\"b\":2}", "{\"b\":1}"},                     /* the moved value wins */
    {"\"allow\": [\"a\"], \"rename\": {\"a\": \"z\"}", "{\"a\":1,\"b\":2}", "{\"z\":1}"}, /* allow names backend fields */
    /* collections and placement checks */
    {"\"collection\": \"items\"", "[1,2]", "[1,2]"},
    {"\"collection\": \"items\"", "{\"a\":1}", "!is an object, not an array (collection)"},
    {"\"target\": \"list\", \"collection\": \"items\"", "{\"list\":{}}", "!the response target list is an object, not an array"},
    {"", "[1,2]", "!the response is an array: only objects merge into the root (use \"group\" or \"collection\")"},
    {"\"group\": \"g\"", "[1,2]", "[1,2]"},
    {"", "\"text\"", "!the response is a string"},
};

static void test_shape(void)
{
    for (size_t i = 0; i < sizeof(shape_cases) / sizeof(shape_cases[0]); i++) {
        const char *d = shape_cases[i].directives;
        aggregate_set_t *s = load_calls(&d, 1);
        CHECK(s != NULL);
        if (s == NULL)
            continue;
        const aggregate_call_t *c = &aggregate_set_at(s, 0)->calls[0];
        const aggregate_value_t *resp = parse(shape_cases[i].response);
        char why[300] = "";
        const aggregate_value_t *out = aggregate_shape_apply(&arena, &c->shape, resp, why, sizeof(why));
        const char *exp = shape_cases[i].expected;
        if (exp[0] == '!') {
            CHECK(out == NULL);
            CHECK_STR_HAS(why, exp + 1);
        } else {
            const char *got = text_of(out);
            CHECK_STR_EQ(got, exp);
            if (got == NULL || strcmp(got, exp) != 0)
                fprintf(stderr, "  case %zu: %s on %s (%s)\n", i, d, shape_cases[i].response, why);
        }
        /* the response itself is never changed (templates of later calls read it) */
        CHECK_STR_EQ(text_of(resp), text_of(parse(shape_cases[i].response)));
        aggregate_set_free(s);
    }
}

/* ---- placing parts in the document ---------------------------------------------------- */

#define MAX_PARTS 4

static const struct {
    const char *directives[MAX_PARTS];
    const char *responses[MAX_PARTS];
    const char *expected;
} place_cases[] = {
    /* deep merge into the root: objects merge recursively, the later-declared call wins the rest */
    {{"", ""},
     {"{\"a\":1,\"o\":{\"x\":1,\"y\":{\"p\":1}},\"arr\":[1,2],\"t\":{\"k\":1}}",
      "{\"a\":2,\"o\":{\"y\":{\"q\":2},\"z\":3},\"arr\":[3],\"t\":\"scalar\",\"b\":true}"},
     "{\"a\":2,\"o\":{\"x\":1,\"y\":{\"p\":1,\"q\":2},\"z\":3},\"arr\":[3],\"t\":\"scalar\",\"b\":true}"},
    {{"", ""}, {"{\"t\":\"scalar\"}", "{\"t\":{\"k\":1}}"}, "{\"t\":{\"k\":1}}"},
    {{"", ""}, {"{\"n\":null}", "{\"n\":{\"a\":1}}"}, "{\"n\":{\"a\":1}}"},
    /* group */
    {{"\"group\": \"price\"", "\"group\": \"stock\""},
     {"{\"amount\":1}", "{\"available\":2}"},
     "{\"price\":{\"amount\":1},\"stock\":{\"available\":2}}"},
    {{"\"group\": \"p\"", "\"group\": \"p\""}, {"{\"a\":1,\"b\":1}", "{\"b\":2,\"c\":2}"}, "{\"p\":{\"a\":1,\"b\":2,\"c\":2}}"},
    {{"\"group\": \"product.price\"", "\"group\": \"product.stock\""},
     {"{\"a\":1}", "{\"b\":2}"},
     "{\"product\":{\"price\":{\"a\":1},\"stock\":{\"b\":2}}}"},
    {{"", "\"group\": \"a\""}, {"{\"a\":5}", "{\"x\":1}"}, "{\"a\":{\"x\":1}}"},
    {{"\"group\": \"a.b\"", ""}, {"{\"x\":1}", "{\"a\":3}"}, "{\"a\":3}"},
    /* collections: replaced by default, appended in declaration order with concat */
    {{"\"collection\": \"items\"", "\"collection\": \"items\""}, {"[1,2]", "[3]"}, "{\"items\":[3]}"},
    {{"\"collection\": {\"key\": \"items\", \"concat\": true}", "\"collection\": {\"key\": \"items\", \"concat\": true}",
      "\"collection\": {\"key\": \"items\", \"concat\": true}"},
     {"[1,2]", "[3]", "[]"},
     "{\"items\":[1,2,3]}"},
    {{"\"collection\": {\"key\": \"list.all\", \"concat\": true}", "\"group\": \"list\""},
     {"[1]", "{\"n\":1}"},
     "{\"list\":{\"all\":[1],\"n\":1}}"},
    /* a realistic product page */
    {{"\"group\": \"price\", \"allow\": [\"amountMicros\", \"currency\"]", "\"group\": \"stock\", \"deny\": [\"sku\"]",
      "\"target\": \"data\", \"collection\": \"reviews\", \"rename\": {\"author\": \"by\"}", "\"allow\": [\"sku\"]"},
     {"{\"sku\":\"A\",\"amountMicros\":\"19990000\",\"currency\":\"USD\",\"tags\":[]}", "{\"sku\":\"A\",\"available\":3}",
      "{\"data\":[{\"author\":\"x\",\"rating\":5}]}", "{\"sku\":\"A\",\"x\":1}"},
     "{\"price\":{\"amountMicros\":\"19990000\",\"currency\":\"USD\"},\"stock\":{\"available\":3},\"reviews\":[{\"rating\":5,"
     "\"by\":"
     "\"x\"}],\"sku\":\"A\"}"},
};

static void test_place(void)
{
    for (size_t i = 0; i < sizeof(place_cases) / sizeof(place_cases[0]); i++) {
        size_t n = 0;
        while (n < MAX_PARTS && place_cases[i].responses[n] != NULL)
            n++;
        aggregate_set_t *s = load_calls(place_cases[i].directives, n);
        CHECK(s != NULL);
        if (s == NULL)
            continue;
        const aggregate_endpoint_t *ep = aggregate_set_at(s, 0);
        const aggregate_value_t *doc = aggregate_value_object(&arena, 0);
        const aggregate_value_t *parts[MAX_PARTS] = {NULL};
        char *part_text[MAX_PARTS] = {NULL};
        for (size_t k = 0; k < n; k++) {
            const aggregate_value_t *resp = parse(place_cases[i].responses[k]);
            char why[200];
            parts[k] = aggregate_shape_apply(&arena, &ep->calls[k].shape, resp, why, sizeof(why));
            CHECK(parts[k] != NULL);
            if (parts[k] == NULL)
                continue;
            part_text[k] = strdup(text_of(parts[k]));
            const aggregate_value_t *before = doc;
            char *before_text = strdup(text_of(doc));
            doc = aggregate_shape_place(&arena, doc, &ep->calls[k].shape, parts[k]);
            CHECK(doc != NULL);
            CHECK_STR_EQ(text_of(before), before_text); /* placing builds a new document */
            free(before_text);
        }
        CHECK_STR_EQ(text_of(doc), place_cases[i].expected);
        /* the parts the document shares subtrees with are unchanged by the merge */
        for (size_t k = 0; k < n; k++) {
            if (parts[k] != NULL)
                CHECK_STR_EQ(text_of(parts[k]), part_text[k]);
            free(part_text[k]);
        }
        aggregate_set_free(s);
    }
}

/* ---- the deep merge primitive ----------------------------------------------------------- */

static const struct {
    const char *dst, *src, *expected;
} merge_cases[] = {
    {"{}", "{}", "{}"},
    {"{\"a\":1}", "{}", "{\"a\":1}"},
    {"{}", "{\"a\":{\"b\":[1]}}", "{\"a\":{\"b\":[1]}}"},
    {"{\"a\":{\"b\":1,\"c\":{\"d\":1}}}", "{\"a\":{\"c\":{\"e\":2}}}", "{\"a\":{\"b\":1,\"c\":{\"d\":1,\"e\":2}}}"},
    {"{\"a\":[1,2,3]}", "{\"a\":[9]}", "{\"a\":[9]}"},
    {"{\"a\":{\"x\":1}}", "{\"a\":[1]}", "{\"a\":[1]}"},
    {"{\"a\":[1]}", "{\"a\":{\"x\":1}}", "{\"a\":{\"x\":1}}"},
    {"{\"a\":1}", "{\"a\":null}", "{\"a\":null}"},
};

static void test_merge(void)
{
    for (size_t i = 0; i < sizeof(merge_cases) / sizeof(merge_cases[0]); i++) {
        const aggregate_value_t *dst = parse(merge_cases[i].dst);
        const aggregate_value_t *src = parse(merge_cases[i].src);
        CHECK_STR_EQ(text_of(aggregate_json_merge(&arena, dst, src)), merge_cases[i].expected);
        CHECK_STR_EQ(text_of(dst), merge_cases[i].dst);
        CHECK_STR_EQ(text_of(src), merge_cases[i].src);
    }
}

/* Large objects merge through a hash index (merge.c, MERGE_INDEX_MIN): same rule, same order. */
static void test_merge_large(void)
{
    util_buf_t a = UTIL_BUF_INIT, b = UTIL_BUF_INIT, want = UTIL_BUF_INIT;
    util_buf_putc(&a, '{');
    util_buf_putc(&b, '{');
    util_buf_putc(&want, '{');
    for (int i = 0; i < 200; i++) /* dst: k0..k199 = i; src: k100..k299 = -i, and k150 objects merge */
        util_buf_printf(&a, "%s\"k%d\":%s", i ? "," : "", i, i == 150 ? "{\"x\":1}" : "1");
    for (int i = 100; i < 300; i++)
        util_buf_printf(&b, "%s\"k%d\":%s", i > 100 ? "," : "", i, i == 150 ? "{\"y\":2}" : "2");
    for (int i = 0; i < 300; i++)
        util_buf_printf(&want, "%s\"k%d\":%s", i ? "," : "", i, i == 150 ? "{\"x\":1,\"y\":2}" : i < 100 ? "1" : "2");
    util_buf_append(&a, "}", 2);
    util_buf_append(&b, "}", 2);
    util_buf_append(&want, "}", 2);
    const aggregate_value_t *m = aggregate_json_merge(&arena, parse((char *)a.data), parse((char *)b.data));
    CHECK_STR_EQ(text_of(m), (char *)want.data);
    util_buf_dispose(&a);
    util_buf_dispose(&b);
    util_buf_dispose(&want);
}

int main(void)
{
    util_arena_init_raw(&arena);
    test_shape();
    test_place();
    test_merge();
    test_merge_large();
    util_arena_dispose(&arena);
    text_of_dispose();
    return test_summary();
}
