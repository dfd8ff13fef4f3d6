/*
 * aggregate_merge_test.c — the merge rules of composite endpoints (src/aggregate/merge.c):
 * shaping one response (target, allow, deny, rename/mapping, collection checks) and placing parts
 * in the document (deep merge with the declaration-order conflict rule, group, collection with and
 * without concat). Directives are written exactly as in an aggregation file and loaded by the real
 * loader, so a case reads like the documentation.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate/aggregate_int.h"
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
        json_t *resp = json_loads(shape_cases[i].response, JSON_DECODE_ANY, NULL);
        json_t *before = json_deep_copy(resp);
        char why[300] = "";
        json_t *out = aggregate_shape_apply(&c->shape, resp, why, sizeof(why));
        const char *exp = shape_cases[i].expected;
        if (exp[0] == '!') {
            CHECK(out == NULL);
            CHECK_STR_HAS(why, exp + 1);
        } else {
            char *got = out ? json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
            CHECK_STR_EQ(got, exp);
            if (got == NULL || strcmp(got, exp) != 0)
                fprintf(stderr, "  case %zu: %s on %s (%s)\n", i, d, shape_cases[i].response, why);
            free(got);
        }
        CHECK(json_equal(resp, before)); /* the response itself is never changed (it may be cached) */
        json_decref(out);
        json_decref(resp);
        json_decref(before);
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
        json_t *doc = json_object();
        for (size_t k = 0; k < n; k++) {
            json_t *resp = json_loads(place_cases[i].responses[k], JSON_DECODE_ANY, NULL);
            char why[200];
            json_t *part = aggregate_shape_apply(&ep->calls[k].shape, resp, why, sizeof(why));
            CHECK(part != NULL);
            if (part != NULL)
                CHECK_INT_EQ(aggregate_shape_place(doc, &ep->calls[k].shape, part), 0);
            /* the document owns copies: changing a part afterwards changes nothing */
            if (json_is_object(part))
                json_object_set_new(part, "late", json_true());
            json_decref(part);
            json_decref(resp);
        }
        char *got = json_dumps(doc, JSON_COMPACT);
        CHECK_STR_EQ(got, place_cases[i].expected);
        free(got);
        json_decref(doc);
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
        json_t *dst = json_loads(merge_cases[i].dst, 0, NULL);
        json_t *src = json_loads(merge_cases[i].src, 0, NULL);
        aggregate_json_merge(dst, src);
        char *got = json_dumps(dst, JSON_COMPACT);
        CHECK_STR_EQ(got, merge_cases[i].expected);
        free(got);
        json_decref(dst);
        json_decref(src);
    }
}

int main(void)
{
    test_shape();
    test_place();
    test_merge();
    return test_summary();
}
