// route_table_test.c — the route matcher: most-specific-wins with backtracking, 404 vs 405 (with
// the Allow list), custom verbs both ways, percent-decoding of captures (rule 5, T3), ambiguity
// detection at compile time, and the same answers whatever the declaration order. Ends with a
// micro benchmark (printed, not asserted).
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "test.h"
#include "transcode/route_table.h"

typedef struct {
    const char *method;
    const char *tmpl;
    int id;
} route_def_t;

/* The table most cases run against; ids are the targets. */
static const route_def_t routes[] = {
    {"GET", "/v1/messages/{message_id}/{sub.subfield}", 1}, /* T2 */
    {"GET", "/v1/{name=messages/*}", 2},                    /* rule 4 */
    {"GET", "/v1/items/special", 3},
    {"GET", "/v1/items/{id}", 4},
    {"DELETE", "/v1/items/{id}", 5},
    {"POST", "/v1/items", 6},
    {"GET", "/v1/items", 7},
    {"GET", "/v1/files/{path=**}", 8},
    {"GET", "/v1/{name=**}:get", 9},                 /* T1 */
    {"POST", "/v1/{name=operations/**}:cancel", 10}, /* rule 7 */
    {"GET", "/foo/{x}", 11},                         /* T4 */
    {"*", "/any/{thing}", 12},                       /* rule 8: custom kind "*" */
    {"GET", "/any/fixed", 13},
    {"GET", "/v1/shelves/{shelf}/books/{book}", 14},
    {"GET", "/v1/shelves/{shelf}/books/featured", 15},
    {"HEAD", "/v1/items", 16}, /* rule 8: custom kind */
    {"GET", "/lit/%41bc", 17},
    {"GET", "/enc/a%2Fb", 18}, /* rule 6 */
    {"GET", "/v2/{a}/x/{b}", 19},
    {"GET", "/v2/y/{c}/z", 20},
    {"GET", "/ds/**", 21},
    {"GET", "/ds", 22},
    {"POST", "/v1/messages:batchGet", 23},
    {"GET", "/v3/{a.b}/{c=x/*/y}/{d=**}", 24},
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

typedef struct {
    const char *method;
    const char *path;
    route_match_status_t status;
    int id;               /* expected target when ROUTE_MATCH_OK */
    const char *captures; /* "field=decoded;..." (EXCEPT_SLASH), or the Allow header for 405 */
} match_case_t;

static const match_case_t cases[] = {
    /* T2 and rule 4 */
    {"GET", "/v1/messages/123456/foo", ROUTE_MATCH_OK, 1, "message_id=123456;sub.subfield=foo"},
    {"GET", "/v1/messages/123456", ROUTE_MATCH_OK, 2, "name=messages/123456"},
    /* literal beats variable, whatever the order */
    {"GET", "/v1/items/special", ROUTE_MATCH_OK, 3, ""},
    {"GET", "/v1/items/42", ROUTE_MATCH_OK, 4, "id=42"},
    /* backtracking across methods: the literal has no DELETE, the variable does */
    {"DELETE", "/v1/items/special", ROUTE_MATCH_OK, 5, "id=special"},
    {"DELETE", "/v1/items/7", ROUTE_MATCH_OK, 5, "id=7"},
    /* 405 vs 404: Allow is the union over every template the path matches */
    {"PUT", "/v1/items/42", ROUTE_MATCH_METHOD_NOT_ALLOWED, 0, "DELETE, GET"},
    {"PUT", "/v1/items/special", ROUTE_MATCH_METHOD_NOT_ALLOWED, 0, "DELETE, GET"},
    {"PATCH", "/v1/items", ROUTE_MATCH_METHOD_NOT_ALLOWED, 0, "GET, HEAD, POST"},
    {"get", "/v1/items", ROUTE_MATCH_METHOD_NOT_ALLOWED, 0, "GET, HEAD, POST"}, /* methods are case-sensitive */
    {"POST", "/v1/items", ROUTE_MATCH_OK, 6, ""},
    {"HEAD", "/v1/items", ROUTE_MATCH_OK, 16, ""},
    {"GET", "/nothing", ROUTE_MATCH_NOT_FOUND, 0, NULL},
    {"GET", "/v1", ROUTE_MATCH_NOT_FOUND, 0, NULL},
    /* trailing slash and empty segments are not ignored */
    {"GET", "/v1/items/", ROUTE_MATCH_NOT_FOUND, 0, NULL},
    {"GET", "/v1//items", ROUTE_MATCH_NOT_FOUND, 0, NULL},
    {"GET", "/v1/items//", ROUTE_MATCH_NOT_FOUND, 0, NULL},
    /* "**": zero or more segments */
    {"GET", "/v1/files/a/b/c", ROUTE_MATCH_OK, 8, "path=a/b/c"},
    {"GET", "/v1/files/a", ROUTE_MATCH_OK, 8, "path=a"},
    {"GET", "/v1/files", ROUTE_MATCH_OK, 8, "path="},
    {"GET", "/v1/files/", ROUTE_MATCH_OK, 8, "path="},
    {"GET", "/v1/files/a//b", ROUTE_MATCH_OK, 8, "path=a//b"},
    {"GET", "/ds", ROUTE_MATCH_OK, 22, ""},
    {"GET", "/ds/", ROUTE_MATCH_OK, 21, ""},
    {"GET", "/ds/a/b", ROUTE_MATCH_OK, 21, ""},
    /* T1 and registered verbs */
    {"GET", "/v1/a/b:get", ROUTE_MATCH_OK, 9, "name=a/b"},
    {"GET", "/v1/items:get", ROUTE_MATCH_OK, 9, "name=items"},
    {"GET", "/v1:get", ROUTE_MATCH_OK, 9, "name="},
    {"GET", "/v1/a/b:GET", ROUTE_MATCH_NOT_FOUND, 0, NULL}, /* verbs are case-sensitive; ":GET" is data here */
    {"GET", "/v1/a/b:g%65t", ROUTE_MATCH_OK, 9, "name=a/b"},
    {"POST", "/v1/operations/o1/x:cancel", ROUTE_MATCH_OK, 10, "name=operations/o1/x"},
    {"POST", "/v1/operations:cancel", ROUTE_MATCH_OK, 10, "name=operations"},
    {"GET", "/v1/operations/o1:cancel", ROUTE_MATCH_METHOD_NOT_ALLOWED, 0, "POST"},
    {"POST", "/v1/messages:batchGet", ROUTE_MATCH_OK, 23, ""},
    {"GET", "/v1/messages:batchGet", ROUTE_MATCH_METHOD_NOT_ALLOWED, 0, "POST"},
    /* T4: an unregistered ":baz" is part of the segment; a registered one is a verb */
    {"GET", "/foo/bar:baz", ROUTE_MATCH_OK, 11, "x=bar:baz"},
    {"GET", "/foo/a:b:baz", ROUTE_MATCH_OK, 11, "x=a:b:baz"},
    {"GET", "/foo/bar:", ROUTE_MATCH_OK, 11, "x=bar:"},
    {"GET", "/foo/bar:cancel", ROUTE_MATCH_NOT_FOUND, 0, NULL},
    {"GET", "/foo/bar%3Acancel", ROUTE_MATCH_OK, 11, "x=bar:cancel"}, /* an encoded colon is data */
    {"GET", "/foo/:cancel", ROUTE_MATCH_NOT_FOUND, 0, NULL},
    /* "*" method: any method, but an exact method at the same place wins */
    {"OPTIONS", "/any/x", ROUTE_MATCH_OK, 12, "thing=x"},
    {"GET", "/any/fixed", ROUTE_MATCH_OK, 13, ""},
    {"POST", "/any/fixed", ROUTE_MATCH_OK, 12, "thing=fixed"},
    {"GET", "/v1/shelves/s1/books/featured", ROUTE_MATCH_OK, 15, "shelf=s1"},
    {"GET", "/v1/shelves/s1/books/b1", ROUTE_MATCH_OK, 14, "shelf=s1;book=b1"},
    /* literal comparison: unreserved escapes decoded, reserved ones kept (rule 6) */
    {"GET", "/lit/Abc", ROUTE_MATCH_OK, 17, ""},
    {"GET", "/lit/%41bc", ROUTE_MATCH_OK, 17, ""},
    {"GET", "/lit/%41%62c", ROUTE_MATCH_OK, 17, ""},
    {"GET", "/lit/abc", ROUTE_MATCH_NOT_FOUND, 0, NULL},
    {"GET", "/enc/a%2fb", ROUTE_MATCH_OK, 18, ""},
    {"GET", "/enc/a%2Fb", ROUTE_MATCH_OK, 18, ""},
    {"GET", "/enc/a/b", ROUTE_MATCH_NOT_FOUND, 0, NULL},
    /* backtracking over two levels */
    {"GET", "/v2/y/x/z", ROUTE_MATCH_OK, 20, "c=x"},
    {"GET", "/v2/y/x/w", ROUTE_MATCH_OK, 19, "a=y;b=w"},
    {"GET", "/v2/q/x/z", ROUTE_MATCH_OK, 19, "a=q;b=z"},
    {"GET", "/v2/y/q/z", ROUTE_MATCH_OK, 20, "c=q"},
    {"GET", "/v2/y/q/w", ROUTE_MATCH_NOT_FOUND, 0, NULL},
    /* several variables, one with a literal middle and one "**" */
    {"GET", "/v3/A/x/1/y", ROUTE_MATCH_OK, 24, "a.b=A;c=x/1/y;d="},
    {"GET", "/v3/A/x/1/y/p/q", ROUTE_MATCH_OK, 24, "a.b=A;c=x/1/y;d=p/q"},
    /* rule 5: single-segment variables decode every escape, multi-segment ones keep %2F */
    {"GET", "/v1/items/%2f%23", ROUTE_MATCH_OK, 4, "id=/#"},
    {"GET", "/v1/items/caf%C3%A9", ROUTE_MATCH_OK, 4, "id=caf\xc3\xa9"},
    {"GET", "/v1/items/a+b%20c", ROUTE_MATCH_OK, 4, "id=a+b c"},
    {"GET", "/v1/files/%2f%23/%20%2523", ROUTE_MATCH_OK, 8, "path=%2f#/ %23"}, /* T3 */
    {"GET", "/v1/files/a%2Fb/c", ROUTE_MATCH_OK, 8, "path=a%2Fb/c"},
    /* malformed input → 400 */
    {"GET", "/v1/items/%zz", ROUTE_MATCH_BAD_PATH, 0, NULL},
    {"GET", "/v1/items/%4", ROUTE_MATCH_BAD_PATH, 0, NULL},
    {"GET", "/v1/items/100%", ROUTE_MATCH_BAD_PATH, 0, NULL},
    {"GET", "/nothing/%g1", ROUTE_MATCH_BAD_PATH, 0, NULL},
    {"GET", "v1/items", ROUTE_MATCH_BAD_PATH, 0, NULL},
    {"GET", "", ROUTE_MATCH_BAD_PATH, 0, NULL},
    {"GET", "*", ROUTE_MATCH_BAD_PATH, 0, NULL},
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

static const char *status_name(route_match_status_t s)
{
    switch (s) {
    case ROUTE_MATCH_OK:
        return "OK";
    case ROUTE_MATCH_NOT_FOUND:
        return "NOT_FOUND";
    case ROUTE_MATCH_METHOD_NOT_ALLOWED:
        return "METHOD_NOT_ALLOWED";
    case ROUTE_MATCH_BAD_PATH:
        return "BAD_PATH";
    }
    return "?";
}

static int ids[64];

static route_table_t *build(const route_def_t *defs, size_t n, const size_t *order, util_error_t *err)
{
    route_table_t *t = route_table_new();
    for (size_t i = 0; i < n; i++) {
        const route_def_t *d = &defs[order ? order[i] : i];
        ids[d->id] = d->id;
        if (route_table_add(t, d->method, d->tmpl, &ids[d->id], err) != 0) {
            route_table_free(t);
            return NULL;
        }
    }
    if (route_table_compile(t, err) != 0) {
        route_table_free(t);
        return NULL;
    }
    return t;
}

/* Renders the captures (decoded with |mode|) as "field=value;...". */
static void render_captures(const route_match_t *m, path_template_unescape_t mode, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < m->ncaptures && o < cap; i++) {
        char value[256];
        route_capture_decode(&m->captures[i], mode, value);
        o += (size_t)snprintf(out + o, cap - o, "%s%s=%s", i ? ";" : "", m->captures[i].field_path, value);
    }
}

/* Runs every case; returns the number of mismatches (reported on stderr with |label|). */
static int run_cases(const route_table_t *t, const char *label)
{
    int bad = 0;
    for (size_t i = 0; i < NCASES; i++) {
        const match_case_t *c = &cases[i];
        route_match_t m;
        route_match_status_t st = route_table_match(t, c->method, strlen(c->method), c->path, strlen(c->path), &m);
        char got[512] = "";
        int got_id = 0;
        if (st == ROUTE_MATCH_OK) {
            got_id = *(int *)m.target;
            render_captures(&m, PATH_TEMPLATE_UNESCAPE_EXCEPT_SLASH, got, sizeof(got));
        } else if (st == ROUTE_MATCH_METHOD_NOT_ALLOWED) {
            route_match_allow_header(&m, got, sizeof(got));
        }
        int ok = st == c->status && got_id == c->id && (c->captures == NULL || strcmp(got, c->captures) == 0);
        if (!ok) {
            bad++;
            fprintf(stderr, "  [%s] %s %s: got %s id=%d \"%s\", expected %s id=%d \"%s\"\n", label, c->method, c->path,
                    status_name(st), got_id, got, status_name(c->status), c->id, c->captures ? c->captures : "");
        }
        CHECK(ok);
    }
    return bad;
}

static void test_match(void)
{
    util_error_t err = {0};
    route_table_t *t = build(routes, NROUTES, NULL, &err);
    if (t == NULL)
        fprintf(stderr, "  build: %s\n", err.message);
    CHECK(t != NULL);
    if (t == NULL)
        return;
    run_cases(t, "declared order");

    /* The match result exposes the route and the raw spans. */
    route_match_t m;
    const char *p = "/v1/files/a%2Fb/c";
    CHECK_INT_EQ(route_table_match(t, "GET", 3, p, strlen(p), &m), ROUTE_MATCH_OK);
    CHECK_STR_EQ(m.tmpl, "/v1/files/{path=**}");
    CHECK_STR_EQ(m.method, "GET");
    CHECK(m.parsed != NULL && m.parsed->nvars == 1);
    CHECK_INT_EQ(m.ncaptures, 1);
    CHECK(m.captures[0].raw == p + 10 && m.captures[0].raw_len == 7 && m.captures[0].multi_segment == 1);

    /* Lengths are honoured: the path need not be NUL-terminated where it ends. */
    const char *q = "/v1/items/42/extra";
    CHECK_INT_EQ(route_table_match(t, "GETX", 3, q, 12, &m), ROUTE_MATCH_OK);
    CHECK(m.target == &ids[4]);
    CHECK(m.captures[0].raw_len == 2 && memcmp(m.captures[0].raw, "42", 2) == 0);

    /* Listing in declaration order. */
    CHECK_INT_EQ(route_table_count(t), NROUTES);
    const char *method, *tmpl;
    void *target;
    CHECK_INT_EQ(route_table_get(t, 3, &method, &tmpl, &target), 0);
    CHECK_STR_EQ(method, "GET");
    CHECK_STR_EQ(tmpl, "/v1/items/{id}");
    CHECK(target == &ids[4]);
    CHECK_INT_EQ(route_table_get(t, NROUTES, &method, &tmpl, &target), -1);
    route_table_free(t);
}

/* T3 through the matcher in the three unescape modes; single-segment captures ignore the mode. */
static void test_unescape_modes(void)
{
    static const struct {
        path_template_unescape_t mode;
        const char *multi;
        const char *single;
    } modes[] = {
        {PATH_TEMPLATE_UNESCAPE_EXCEPT_RESERVED, "path=%2f%23/ %23", "id=/# %23"},
        {PATH_TEMPLATE_UNESCAPE_EXCEPT_SLASH, "path=%2f#/ %23", "id=/# %23"},
        {PATH_TEMPLATE_UNESCAPE_ALL, "path=/#/ %23", "id=/# %23"},
    };
    util_error_t err;
    route_table_t *t = build(routes, NROUTES, NULL, &err);
    CHECK(t != NULL);
    if (t == NULL)
        return;
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        route_match_t m;
        char got[256];
        const char *p1 = "/v1/files/%2f%23/%20%2523", *p2 = "/v1/items/%2f%23%20%2523";
        CHECK_INT_EQ(route_table_match(t, "GET", 3, p1, strlen(p1), &m), ROUTE_MATCH_OK);
        render_captures(&m, modes[i].mode, got, sizeof(got));
        CHECK_STR_EQ(got, modes[i].multi);
        CHECK_INT_EQ(route_table_match(t, "GET", 3, p2, strlen(p2), &m), ROUTE_MATCH_OK);
        render_captures(&m, modes[i].mode, got, sizeof(got));
        CHECK_STR_EQ(got, modes[i].single);
    }
    route_table_free(t);
}

/* Same answers for 200 shuffled declaration orders. */
static void test_determinism(void)
{
    size_t order[NROUTES];
    for (size_t i = 0; i < NROUTES; i++)
        order[i] = i;
    unsigned long long seed = 0x9e3779b97f4a7c15ULL;
    int bad_orders = 0;
    for (int round = 0; round < 200; round++) {
        for (size_t i = NROUTES - 1; i > 0; i--) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t j = (size_t)((seed >> 33) % (i + 1));
            size_t tmp = order[i];
            order[i] = order[j];
            order[j] = tmp;
        }
        util_error_t err;
        route_table_t *t = build(routes, NROUTES, order, &err);
        CHECK(t != NULL);
        if (t == NULL)
            continue;
        char label[32];
        snprintf(label, sizeof(label), "shuffle %d", round);
        if (run_cases(t, label) != 0)
            bad_orders++;
        route_table_free(t);
    }
    CHECK_INT_EQ(bad_orders, 0);
}

/* Envoy's match_unregistered_custom_verb: any ":xyz" ends the path. */
static void test_unregistered_verb_option(void)
{
    static const route_def_t defs[] = {
        {"GET", "/foo/{x}", 1},
        {"GET", "/foo/{x}:baz", 2},
        {"GET", "/bar/{x}", 3},
    };
    static const struct {
        int option;
        const char *path;
        route_match_status_t status;
        int id;
        const char *captures;
    } vcases[] = {
        {0, "/foo/a:baz", ROUTE_MATCH_OK, 2, "x=a"},     {0, "/foo/a:qux", ROUTE_MATCH_OK, 1, "x=a:qux"},
        {0, "/bar/a:baz", ROUTE_MATCH_NOT_FOUND, 0, ""}, {0, "/bar/a:qux", ROUTE_MATCH_OK, 3, "x=a:qux"},
        {1, "/foo/a:baz", ROUTE_MATCH_OK, 2, "x=a"},     {1, "/foo/a:qux", ROUTE_MATCH_NOT_FOUND, 0, ""},
        {1, "/bar/a:qux", ROUTE_MATCH_NOT_FOUND, 0, ""}, {1, "/bar/a", ROUTE_MATCH_OK, 3, "x=a"},
        {1, "/bar/a:", ROUTE_MATCH_OK, 3, "x=a:"}, /* an empty verb is not a verb */
    };
    for (int option = 0; option <= 1; option++) {
        route_table_t *t = route_table_new();
        route_table_set_match_unregistered_verb(t, option);
        for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
            ids[defs[i].id] = defs[i].id;
            CHECK_INT_EQ(route_table_add(t, defs[i].method, defs[i].tmpl, &ids[defs[i].id], NULL), 0);
        }
        CHECK_INT_EQ(route_table_compile(t, NULL), 0);
        for (size_t i = 0; i < sizeof(vcases) / sizeof(vcases[0]); i++) {
            if (vcases[i].option != option)
                continue;
            route_match_t m;
            route_match_status_t st = route_table_match(t, "GET", 3, vcases[i].path, strlen(vcases[i].path), &m);
            char got[128] = "";
            if (st == ROUTE_MATCH_OK)
                render_captures(&m, PATH_TEMPLATE_UNESCAPE_EXCEPT_SLASH, got, sizeof(got));
            int id = st == ROUTE_MATCH_OK ? *(int *)m.target : 0;
            if (st != vcases[i].status || id != vcases[i].id || strcmp(got, vcases[i].captures) != 0)
                fprintf(stderr, "  option %d %s: %s id=%d \"%s\"\n", option, vcases[i].path, status_name(st), id, got);
            CHECK_INT_EQ(st, vcases[i].status);
            CHECK_INT_EQ(id, vcases[i].id);
            CHECK_STR_EQ(got, vcases[i].captures);
        }
        route_table_free(t);
    }
}

/* Pairs of routes: ambiguous (compile fails naming both) or not. */
static void test_ambiguity(void)
{
    static const struct {
        route_def_t a, b;
        int ambiguous;
    } pairs[] = {
        {{"GET", "/v1/{a}", 1}, {"GET", "/v1/{b}", 2}, 1},
        {{"GET", "/v1/*/x", 1}, {"GET", "/v1/{y}/x", 2}, 1},
        {{"GET", "/v1/**", 1}, {"GET", "/v1/{rest=**}", 2}, 1},
        {{"GET", "/v1/{name=messages/*}", 1}, {"GET", "/v1/messages/{id}", 2}, 1},
        {{"GET", "/v1/%41", 1}, {"GET", "/v1/A", 2}, 1},
        {{"GET", "/v1/{a}:do", 1}, {"GET", "/v1/{b}:do", 2}, 1},
        {{"*", "/a", 1}, {"*", "/a", 2}, 1},
        {{"GET", "/a", 1}, {"GET", "/a", 2}, 1},
        {{"GET", "/v1/{a}", 1}, {"POST", "/v1/{b}", 2}, 0},
        {{"GET", "/v1/{a}", 1}, {"GET", "/v1/{a}:x", 2}, 0},
        {{"GET", "/v1/{a}:x", 1}, {"GET", "/v1/{a}:y", 2}, 0},
        {{"GET", "/a", 1}, {"*", "/a", 2}, 0},
        {{"GET", "/a/{b}", 1}, {"GET", "/a/b", 2}, 0},
        {{"GET", "/a/{b}", 1}, {"GET", "/a/**", 2}, 0},
        {{"GET", "/a", 1}, {"GET", "/a/**", 2}, 0},
        {{"GET", "/a", 1}, {"get", "/a", 2}, 0},
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        for (int swap = 0; swap <= 1; swap++) {
            route_def_t defs[2] = {pairs[i].a, pairs[i].b};
            size_t order[2] = {(size_t)swap, (size_t)!swap};
            util_error_t err = {0};
            route_table_t *t = build(defs, 2, order, &err);
            if ((t == NULL) != pairs[i].ambiguous)
                fprintf(stderr, "  pair %s %s / %s %s: %s\n", pairs[i].a.method, pairs[i].a.tmpl, pairs[i].b.method,
                        pairs[i].b.tmpl, t ? "compiled" : err.message);
            CHECK_INT_EQ(t == NULL, pairs[i].ambiguous);
            if (t == NULL) {
                char a[128], b[128];
                snprintf(a, sizeof(a), "\"%s %s\"", pairs[i].a.method, pairs[i].a.tmpl);
                snprintf(b, sizeof(b), "\"%s %s\"", pairs[i].b.method, pairs[i].b.tmpl);
                CHECK_INT_EQ(err.code, ROUTE_TABLE_ERR_AMBIGUOUS);
                CHECK_STR_HAS(err.message, a);
                CHECK_STR_HAS(err.message, b);
                CHECK_STR_HAS(err.message, "ambiguous");
            }
            route_table_free(t);
        }
    }
}

/* The API's error paths: bad methods, bad templates, wrong call order, no route. */
static void test_api_errors(void)
{
    static const struct {
        const char *method;
        const char *tmpl;
        int code;
        const char *message;
    } bad[] = {
        {"", "/a", ROUTE_TABLE_ERR_METHOD, "the method must be an HTTP token"},
        {"GE T", "/a", ROUTE_TABLE_ERR_METHOD, "\"GE T\""},
        {"GET\n", "/a", ROUTE_TABLE_ERR_METHOD, "the method must be an HTTP token"},
        {"GET", "/a/**/b", PATH_TEMPLATE_ERR_DSTAR_NOT_LAST, "route GET: path template \"/a/**/b\""},
        {"POST", "/v1/{a", PATH_TEMPLATE_ERR_UNBALANCED_BRACE, "(column 7)"},
    };
    route_table_t *t = route_table_new();
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        util_error_t err = {0};
        CHECK_INT_EQ(route_table_add(t, bad[i].method, bad[i].tmpl, NULL, &err), -1);
        CHECK_INT_EQ(err.code, bad[i].code);
        CHECK_STR_HAS(err.message, bad[i].message);
    }
    CHECK_INT_EQ(route_table_count(t), 0);

    route_match_t m;
    CHECK_INT_EQ(route_table_add(t, "GET", "/a", NULL, NULL), 0);
    CHECK_INT_EQ(route_table_match(t, "GET", 3, "/a", 2, &m), ROUTE_MATCH_NOT_FOUND); /* not compiled yet */
    CHECK_INT_EQ(route_table_compile(t, NULL), 0);
    CHECK_INT_EQ(route_table_match(t, "GET", 3, "/a", 2, &m), ROUTE_MATCH_OK);
    CHECK(m.target == NULL && m.ncaptures == 0);
    util_error_t err = {0};
    CHECK_INT_EQ(route_table_add(t, "GET", "/b", NULL, &err), -1);
    CHECK_INT_EQ(err.code, ROUTE_TABLE_ERR_STATE);
    CHECK_INT_EQ(route_table_compile(t, &err), -1);
    CHECK_INT_EQ(err.code, ROUTE_TABLE_ERR_STATE);
    route_table_free(t);

    /* An empty table answers 404. */
    t = route_table_new();
    CHECK_INT_EQ(route_table_compile(t, NULL), 0);
    CHECK_INT_EQ(route_table_match(t, "GET", 3, "/", 1, &m), ROUTE_MATCH_NOT_FOUND);
    route_table_free(t);
    route_table_free(NULL);

    /* "/" is one empty segment: only "**" matches it. */
    t = route_table_new();
    CHECK_INT_EQ(route_table_add(t, "GET", "/{rest=**}", NULL, NULL), 0);
    CHECK_INT_EQ(route_table_add(t, "GET", "/{one}", NULL, NULL), 0);
    CHECK_INT_EQ(route_table_compile(t, NULL), 0);
    CHECK_INT_EQ(route_table_match(t, "GET", 3, "/", 1, &m), ROUTE_MATCH_OK);
    CHECK_STR_EQ(m.tmpl, "/{rest=**}");
    CHECK_INT_EQ(m.captures[0].raw_len, 0);
    CHECK_INT_EQ(route_table_match(t, "GET", 3, "/x", 2, &m), ROUTE_MATCH_OK);
    CHECK_STR_EQ(m.tmpl, "/{one}");
    route_table_free(t);
}

/* The Allow list is sorted, de-duplicated, and cut at ROUTE_ALLOWED_MAX. */
static void test_allow_list(void)
{
    route_table_t *t = route_table_new();
    char method[16];
    for (int i = 20; i > 0; i--) {
        snprintf(method, sizeof(method), "M%02d", i);
        CHECK_INT_EQ(route_table_add(t, method, "/x", NULL, NULL), 0);
        CHECK_INT_EQ(route_table_add(t, method, "/{y}", NULL, NULL), 0);
    }
    CHECK_INT_EQ(route_table_compile(t, NULL), 0);
    route_match_t m;
    CHECK_INT_EQ(route_table_match(t, "GET", 3, "/x", 2, &m), ROUTE_MATCH_METHOD_NOT_ALLOWED);
    CHECK_INT_EQ(m.nallowed, ROUTE_ALLOWED_MAX);
    CHECK_INT_EQ(m.allowed_truncated, 1);
    CHECK_STR_EQ(m.allowed[0], "M01");
    CHECK_STR_EQ(m.allowed[ROUTE_ALLOWED_MAX - 1], "M16");
    char hdr[16];
    size_t need = route_match_allow_header(&m, hdr, sizeof(hdr));
    CHECK_INT_EQ(need, 16 * 3 + 15 * 2);
    CHECK_STR_EQ(hdr, "M01, M02, M03, ");
    CHECK_INT_EQ(route_table_match(t, "M07", 3, "/x", 2, &m), ROUTE_MATCH_OK);
    CHECK_INT_EQ(m.nallowed, 0);
    route_table_free(t);
}

/* 100 routes shaped like a real API; a typical 4-segment path. Printed, not asserted. */
static void bench(void)
{
    static const char *shapes[] = {"/v1/svc%d/items", "/v1/svc%d/items/{id}", "/v1/svc%d/items/{id}/parts/{part}",
                                   "/v1/{name=svc%d/items/*}:cancel"};
    static const char *methods[] = {"GET", "GET", "GET", "POST"};
    route_table_t *t = route_table_new();
    char tmpl[128];
    for (int i = 0; i < 25; i++)
        for (int s = 0; s < 4; s++) {
            snprintf(tmpl, sizeof(tmpl), shapes[s], i);
            if (route_table_add(t, methods[s], tmpl, NULL, NULL) != 0)
                fprintf(stderr, "  bench: %s\n", tmpl);
        }
    if (route_table_compile(t, NULL) != 0) {
        route_table_free(t);
        return;
    }
    static const char *paths[] = {"/v1/svc17/items/12345", "/v1/svc3/items/abc/parts/9", "/v1/svc24/items/x:cancel"};
    for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]); p++) {
        route_match_t m;
        size_t len = strlen(paths[p]);
        const int n = 200000, rounds = 5; /* best of 5: the machine is shared */
        int ok = 0;
        double best = 0;
        for (int r = 0; r < rounds; r++) {
            struct timespec a, b;
            clock_gettime(CLOCK_MONOTONIC, &a);
            for (int i = 0; i < n; i++)
                ok += route_table_match(t, p == 2 ? "POST" : "GET", p == 2 ? 4 : 3, paths[p], len, &m) == ROUTE_MATCH_OK;
            clock_gettime(CLOCK_MONOTONIC, &b);
            double ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / n;
            if (r == 0 || ns < best)
                best = ns;
        }
        printf("bench: route_table_match %-28s %zu routes: %.0f ns/match (best of %d x %d)\n", paths[p], route_table_count(t), best,
               rounds, n);
        CHECK_INT_EQ(ok, n * rounds);
    }
    route_table_free(t);
}

int main(void)
{
    test_match();
    test_unescape_modes();
    test_determinism();
    test_unregistered_verb_option();
    test_ambiguity();
    test_api_errors();
    test_allow_list();
    bench();
    return test_summary();
}
