/*
 * aggregate_template_test.c — value templates of the aggregation format (src/aggregate/template.c)
 * and dotted paths (path.c): parsing, references and their errors, rendering as JSON (types kept
 * for whole-value references, absent values left out), rendering as text with percent-encoding.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate/aggregate_int.h"
#include "aggregate_test.h"
#include "test.h"

#define ABSENT "<absent>"

typedef struct env {
    util_arena_t arena;
    json_t *keep;
    path_template_t *pt;
    uint8_t deps[2];
    const char *names[2];
    util_error_t err;
    aggregate_ctx_t ctx;
    aggregate_tpl_input_t in;
    util_arena_t run; /* the run's values */
    const aggregate_value_t *calls[2];
} env_t;

static const aggregate_value_t *value_of(util_arena_t *a, const char *json)
{
    util_error_t err;
    const aggregate_value_t *v = aggregate_value_parse(a, json, strlen(json), &err);
    if (v == NULL) {
        fprintf(stderr, "bad test JSON %s: %s\n", json, err.message);
        abort();
    }
    return v;
}

static void env_init(env_t *e, const char *method)
{
    memset(e, 0, sizeof(*e));
    util_arena_init(&e->arena);
    e->keep = json_array();
    util_error_t perr;
    if (path_template_parse("/v1/products/{id}/{sub.name}", 28, &e->pt, &perr) != 0)
        abort();
    e->names[0] = "catalog";
    e->names[1] = "price";
    e->ctx.name = "t.json";
    e->ctx.arena = &e->arena;
    e->ctx.keep = e->keep;
    e->ctx.err = &e->err;
    e->ctx.method = method;
    e->ctx.path_template = e->pt;
    e->ctx.call_names = e->names;
    e->ctx.n_calls = 2;
    e->ctx.self = 1;
    e->ctx.deps = e->deps;
    util_arena_init_raw(&e->run);
    e->in.path = value_of(&e->run, "{\"id\": \"A/B 1\", \"sub.name\": \"n\"}");
    e->in.query = value_of(&e->run, "{\"currency\": \"EUR\", \"n\": \"3\", \"flag\": \"true\"}");
    e->in.header = value_of(&e->run, "{\"x-foo\": \"bar\"}");
    e->in.body = value_of(&e->run, "{\"a\": {\"b\": [1, 2]}, \"s\": \"x y\"}");
    e->calls[0] = value_of(&e->run, "{\"canonicalId\": \"C-9\", \"count\": 4, \"price\": 1.5, \"tags\": [\"x\", \"y\"], "
                                    "\"ok\": true, \"items\": [{\"id\": 7}, {\"id\": 8}]}");
    e->in.calls = e->calls;
}

static void env_dispose(env_t *e)
{
    util_arena_dispose(&e->run);
    json_decref(e->keep);
    path_template_free(e->pt);
    util_arena_dispose(&e->arena);
}

static aggregate_tpl_t *parse(env_t *e, const char *json, json_t **doc)
{
    *doc = json_loads(json, JSON_DECODE_ANY, NULL);
    if (*doc == NULL) {
        fprintf(stderr, "bad test JSON: %s\n", json);
        return NULL;
    }
    aggregate_tpl_t *t = NULL;
    e->ctx.path_len = 0;
    e->ctx.path[0] = '\0';
    if (aggregate_tpl_parse(&e->ctx, *doc, &t) != 0)
        return NULL;
    return t;
}

/* ---- rendering as JSON ------------------------------------------------------------------- */

static const struct {
    const char *tpl;
    const char *expected; /* compact JSON, or ABSENT */
    const char *missing;  /* the first absent reference, or NULL */
} render_cases[] = {
    /* constants stay what they were */
    {"1", "1", NULL},
    {"\"plain\"", "\"plain\"", NULL},
    {"{\"a\": [1, {\"b\": null}]}", "{\"a\":[1,{\"b\":null}]}", NULL},
    {"\"{{literal}} }}\"", "\"{literal} }\"", NULL},
    /* whole-value references keep the referenced type */
    {"\"{id}\"", "\"A/B 1\"", NULL},
    {"\"{sub.name}\"", "\"n\"", NULL},
    {"\"{query.currency}\"", "\"EUR\"", NULL},
    {"\"{header.X-Foo}\"", "\"bar\"", NULL},
    {"\"{calls.catalog.count}\"", "4", NULL},
    {"\"{calls.catalog.price}\"", "1.5", NULL},
    {"\"{calls.catalog.ok}\"", "true", NULL},
    {"\"{calls.catalog.tags}\"", "[\"x\",\"y\"]", NULL},
    {"\"{calls.catalog.tags.1}\"", "\"y\"", NULL},
    {"\"{calls.catalog.items.1.id}\"", "8", NULL},
    {"\"{calls.catalog}\"", NULL, NULL}, /* the whole response: checked below */
    {"\"{body.a.b}\"", "[1,2]", NULL},
    {"\"{body.a.b.0}\"", "1", NULL},
    /* interpolation always gives a string */
    {"\"sku-{id}-{query.n}\"", "\"sku-A/B 1-3\"", NULL},
    {"\"n={calls.catalog.count} ok={calls.catalog.ok}\"", "\"n=4 ok=true\"", NULL},
    {"\"{calls.catalog.tags}!\"", "\"[\\\"x\\\",\\\"y\\\"]!\"", NULL},
    {"\"{{{id}}}\"", "\"{A/B 1}\"", NULL},
    /* absent values are left out, never rendered as empty strings */
    {"\"{query.nope}\"", ABSENT, "{query.nope}"},
    {"\"x-{query.nope}\"", ABSENT, "{query.nope}"},
    {"{\"a\": \"{query.nope}\", \"b\": \"{query.currency}\"}", "{\"b\":\"EUR\"}", "{query.nope}"},
    {"[\"{query.nope}\", \"{id}\", 3]", "[\"A/B 1\",3]", "{query.nope}"},
    {"\"{calls.catalog.missing.deep}\"", ABSENT, "{calls.catalog.missing.deep}"},
    {"\"{calls.catalog.tags.7}\"", ABSENT, "{calls.catalog.tags.7}"},
    {"\"{calls.catalog.count.x}\"", ABSENT, "{calls.catalog.count.x}"},
    {"\"{header.x-absent}\"", ABSENT, "{header.x-absent}"},
    /* nesting mixes the rules */
    {"{\"sku\": \"{id}\", \"q\": {\"n\": \"{calls.catalog.count}\", \"c\": 1}, \"l\": [\"{query.n}\"]}",
     "{\"sku\":\"A/B 1\",\"q\":{\"n\":4,\"c\":1},\"l\":[\"3\"]}", NULL},
};

static void test_render(void)
{
    for (size_t i = 0; i < sizeof(render_cases) / sizeof(render_cases[0]); i++) {
        env_t e;
        env_init(&e, "POST");
        json_t *doc;
        aggregate_tpl_t *t = parse(&e, render_cases[i].tpl, &doc);
        CHECK(t != NULL);
        if (t == NULL) {
            fprintf(stderr, "  case %zu: %s\n", i, e.err.message);
            json_decref(doc);
            env_dispose(&e);
            continue;
        }
        const aggregate_value_t *out = NULL;
        const aggregate_ref_t *missing = NULL;
        CHECK_INT_EQ(aggregate_tpl_render(t, &e.in, &e.run, &out, &missing), 0);
        if (render_cases[i].expected == NULL) {
            CHECK(aggregate_value_equal(out, e.calls[0]));
            CHECK(out == e.calls[0]); /* a whole-value reference shares the value */
        } else if (strcmp(render_cases[i].expected, ABSENT) == 0) {
            CHECK(out == NULL);
        } else {
            CHECK_STR_EQ(text_of(out), render_cases[i].expected);
        }
        if (render_cases[i].missing != NULL)
            CHECK_STR_EQ(missing ? missing->text : NULL, render_cases[i].missing);
        else
            CHECK(missing == NULL);
        json_decref(doc);
        env_dispose(&e);
    }
}

/* ---- rendering as text (HTTP paths, query values, headers) ------------------------------- */

static const struct {
    const char *tpl;
    int encode;
    const char *expected; /* or ABSENT */
} text_cases[] = {
    {"\"/reviews/{id}\"", 1, "/reviews/A%2FB%201"},
    {"\"/reviews/{id}\"", 0, "/reviews/A/B 1"},
    {"\"/a b/{query.currency}\"", 1, "/a b/EUR"}, /* literal text is never re-encoded */
    {"\"/n/{calls.catalog.count}/{calls.catalog.ok}\"", 1, "/n/4/true"},
    {"\"/x/{calls.catalog.tags}\"", 1, "/x/%5B%22x%22%2C%22y%22%5D"},
    {"\"{calls.catalog.price}\"", 0, "1.5"},
    {"\"/x/{query.nope}\"", 1, ABSENT},
    {"\"{query.nope}\"", 1, ABSENT},
    {"\"-._~\"", 1, "-._~"},
    {"\"{body.s}\"", 1, "x%20y"},
};

static void test_render_text(void)
{
    for (size_t i = 0; i < sizeof(text_cases) / sizeof(text_cases[0]); i++) {
        env_t e;
        env_init(&e, "POST");
        json_t *doc;
        aggregate_tpl_t *t = parse(&e, text_cases[i].tpl, &doc);
        CHECK(t != NULL);
        if (t != NULL) {
            util_buf_t b = UTIL_BUF_INIT;
            const aggregate_ref_t *missing = NULL;
            int rc = aggregate_tpl_render_text(t, &e.in, &e.run, text_cases[i].encode, &b, &missing);
            util_buf_putc(&b, '\0');
            if (strcmp(text_cases[i].expected, ABSENT) == 0) {
                CHECK_INT_EQ(rc, 1);
                CHECK(missing != NULL);
            } else {
                CHECK_INT_EQ(rc, 0);
                CHECK_STR_EQ((const char *)b.data, text_cases[i].expected);
            }
            util_buf_dispose(&b);
        }
        json_decref(doc);
        env_dispose(&e);
    }
}

/* ---- parse errors -------------------------------------------------------------------------- */

static const struct {
    const char *method;
    const char *tpl;
    const char *error; /* substring of the message */
} error_cases[] = {
    {"GET", "\"{nope}\"", "unknown reference {nope}: not a variable of the endpoint's path (id, sub.name)"},
    {"GET", "\"{}\"", "empty reference"},
    {"GET", "\"abc {id\"", "unclosed \"{\" at column 5"},
    {"GET", "\"{a{b}}\"", "unclosed \"{\" at column 1"},
    {"GET", "\"{calls.nobody.x}\"", "{calls.nobody.x}: there is no call named \"nobody\""},
    {"GET", "\"{calls.price}\"", "a call cannot use its own response"},
    {"GET", "\"{calls.catalog..x}\"", "empty segment"},
    {"GET", "\"{body.a}\"", "{body.a}: a GET request has no body"},
    {"POST", "\"{header.bad name}\"", "is not a header name"},
    {"GET", "{\"k\": [1, \"{query}\"]}", "t.json: k[1]: unknown reference {query}"},
};

static void test_errors(void)
{
    for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
        env_t e;
        env_init(&e, error_cases[i].method);
        json_t *doc;
        aggregate_tpl_t *t = parse(&e, error_cases[i].tpl, &doc);
        CHECK(t == NULL);
        CHECK_STR_HAS(e.err.message, error_cases[i].error);
        json_decref(doc);
        env_dispose(&e);
    }
}

/* References to calls record the dependency; {body} marks the endpoint as reading the body. */
static void test_deps(void)
{
    env_t e;
    env_init(&e, "POST");
    json_t *doc;
    CHECK(parse(&e, "{\"a\": \"{id}\", \"b\": \"{query.x}\"}", &doc) != NULL);
    CHECK_INT_EQ(e.deps[0], 0);
    CHECK_INT_EQ(e.ctx.uses_body, 0);
    json_decref(doc);
    CHECK(parse(&e, "[\"x{calls.catalog.id}\", \"{body}\"]", &doc) != NULL);
    CHECK_INT_EQ(e.deps[0], 1);
    CHECK_INT_EQ(e.ctx.uses_body, 1);
    json_decref(doc);
    env_dispose(&e);
}

/* ---- dotted paths --------------------------------------------------------------------------- */

static const struct {
    const char *path;
    const char *segs; /* joined with "|", or NULL for a parse error */
} path_cases[] = {
    {"a", "a"},     {"a.b.c", "a|b|c"}, {"a\\.b.c", "a.b|c"}, {"a\\\\.b", "a\\|b"}, {"", NULL},
    {"a..b", NULL}, {".a", NULL},       {"a.", NULL},         {"a\\b", NULL},       {"a\\", NULL},
};

static void test_paths(void)
{
    for (size_t i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
        util_arena_t a;
        util_arena_init(&a);
        aggregate_path_t p;
        char why[200];
        int rc = aggregate_path_parse(&a, path_cases[i].path, &p, why, sizeof(why));
        if (path_cases[i].segs == NULL) {
            CHECK_INT_EQ(rc, -1);
        } else {
            CHECK_INT_EQ(rc, 0);
            char joined[200] = "";
            for (size_t k = 0; rc == 0 && k < p.n; k++) {
                strcat(joined, k ? "|" : "");
                strcat(joined, p.segs[k]);
            }
            CHECK_STR_EQ(joined, path_cases[i].segs);
        }
        util_arena_dispose(&a);
    }

    /* get: objects by key, arrays by index; set: creates and replaces intermediates */
    util_arena_t a;
    util_arena_init(&a);
    aggregate_path_t p1, p2, p3;
    char why[100];
    aggregate_path_parse(&a, "x.items.1.id", &p1, why, sizeof(why));
    aggregate_path_parse(&a, "x.new.deep", &p2, why, sizeof(why));
    aggregate_path_parse(&a, "x.items.01", &p3, why, sizeof(why));
    const char *before = "{\"x\":{\"items\":[{\"id\":1},{\"id\":2}],\"new\":5}}";
    const aggregate_value_t *doc = value_of(&a, before);
    CHECK_STR_EQ(text_of(aggregate_path_get(doc, &p1, 0, NULL)), "2");
    CHECK(aggregate_path_get(doc, &p3, 0, NULL) == NULL); /* no leading zeros */
    const aggregate_value_t *set = aggregate_path_set(&a, doc, &p2, 0, aggregate_value_integer(&a, 9));
    CHECK_STR_EQ(text_of(set), "{\"x\":{\"items\":[{\"id\":1},{\"id\":2}],\"new\":{\"deep\":9}}}");
    CHECK_STR_EQ(text_of(doc), before); /* the original is untouched */
    /* the untouched subtree is shared, not copied */
    CHECK(aggregate_value_get(aggregate_value_get(set, "x", 1), "items", 5) ==
          aggregate_value_get(aggregate_value_get(doc, "x", 1), "items", 5));
    util_arena_dispose(&a);
}

int main(void)
{
    test_render();
    test_render_text();
    test_errors();
    test_deps();
    test_paths();
    text_of_dispose();
    return test_summary();
}
