// path_template_test.c — the path-template parser (every grammar rule and every error with its
// column) and the percent-encoding helpers (rule 5 and Envoy's T3 example), all table-driven.
#include <stdio.h>
#include <string.h>

#include "test.h"
#include "transcode/path_template.h"

/* Renders a parsed template as "/seg/seg {field@first+count[m]} :verb" for comparison. */
static void dump(const path_template_t *t, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < t->nsegments; i++) {
        const path_template_segment_t *s = &t->segments[i];
        const char *text = s->kind == PATH_TEMPLATE_SEG_LITERAL ? s->literal : s->kind == PATH_TEMPLATE_SEG_STAR ? "*" : "**";
        o += (size_t)snprintf(out + o, cap - o, "/%s", text);
    }
    for (size_t i = 0; i < t->nvars && o < cap; i++) {
        const path_template_var_t *v = &t->vars[i];
        o += (size_t)snprintf(out + o, cap - o, " {%s@%zu+%zu%s}", v->field_path, v->first, v->count, v->multi_segment ? "m" : "");
    }
    if (t->verb != NULL && o < cap)
        snprintf(out + o, cap - o, " :%s", t->verb);
}

static const struct {
    const char *tmpl;
    const char *expected;
} parse_ok[] = {
    /* T2: nested field paths, single-segment variables */
    {"/v1/messages/{message_id}/{sub.subfield}", "/v1/messages/*/* {message_id@2+1} {sub.subfield@3+1}"},
    /* rule 4: a multi-segment variable keeps its literal prefix */
    {"/v1/{name=messages/*}", "/v1/messages/* {name@1+2m}"},
    /* T1: "**" may be followed by a verb only */
    {"/v1/{name=**}:get", "/v1/** {name@1+1m} :get"},
    {"/v1/{name=operations/**}:cancel", "/v1/operations/** {name@1+2m} :cancel"},
    {"/a/**", "/a/**"},
    {"/a/**:v", "/a/** :v"},
    {"/**", "/**"},
    {"/*", "/*"},
    {"/a/*/b", "/a/*/b"},
    /* rule 2: {var} is {var=*} */
    {"/{x}", "/* {x@0+1}"},
    {"/{x=*}", "/* {x@0+1}"},
    {"/{x=a/b/c}", "/a/b/c {x@0+3m}"},
    {"/{a=x}", "/x {a@0+1}"},
    {"/{a}/{b}/{a_b.c_d.e9}", "/*/*/* {a@0+1} {b@1+1} {a_b.c_d.e9@2+1}"},
    {"/{_x.Y}", "/* {_x.Y@0+1}"},
    /* verbs */
    {"/v1/a:b", "/v1/a :b"},
    {"/v1:x", "/v1 :x"},
    {"/v1/{a}:batchGet", "/v1/* {a@1+1} :batchGet"},
    /* rule 6 and literal normalisation: unreserved escapes decoded, others upper-cased */
    {"/%41%2fb/c", "/A%2Fb/c"},
    {"/a%7eb%7E", "/a~b~"},
    {"/a-b_c.d~e!$&'()+,;@", "/a-b_c.d~e!$&'()+,;@"},
    {"/x:%61b", "/x :ab"},
};

static const struct {
    const char *tmpl;
    int code;
    int column;
} parse_err[] = {
    {"", PATH_TEMPLATE_ERR_SYNTAX, 1},
    {"v1/a", PATH_TEMPLATE_ERR_SYNTAX, 1},
    /* empty segments */
    {"/", PATH_TEMPLATE_ERR_EMPTY_SEGMENT, 2},
    {"//a", PATH_TEMPLATE_ERR_EMPTY_SEGMENT, 2},
    {"/a//b", PATH_TEMPLATE_ERR_EMPTY_SEGMENT, 4},
    {"/a/", PATH_TEMPLATE_ERR_EMPTY_SEGMENT, 4},
    {"/{a=/b}", PATH_TEMPLATE_ERR_EMPTY_SEGMENT, 5},
    {"/{a=b/}", PATH_TEMPLATE_ERR_EMPTY_SEGMENT, 7},
    /* "**" not last (rule 1, T1) */
    {"/a/**/b", PATH_TEMPLATE_ERR_DSTAR_NOT_LAST, 4},
    {"/**/{a}", PATH_TEMPLATE_ERR_DSTAR_NOT_LAST, 2},
    {"/{a=**/b}", PATH_TEMPLATE_ERR_DSTAR_NOT_LAST, 5},
    {"/{a=**}/b", PATH_TEMPLATE_ERR_DSTAR_NOT_LAST, 5},
    /* nested variables (rule 2) */
    {"/{a={b}}", PATH_TEMPLATE_ERR_NESTED_VARIABLE, 5},
    {"/{a=x/{b}}", PATH_TEMPLATE_ERR_NESTED_VARIABLE, 7},
    /* variable capturing nothing */
    {"/{a=}", PATH_TEMPLATE_ERR_EMPTY_VARIABLE, 5},
    /* bad identifiers */
    {"/{1a}", PATH_TEMPLATE_ERR_BAD_IDENT, 3},
    {"/{a..b}", PATH_TEMPLATE_ERR_BAD_IDENT, 5},
    {"/{a.}", PATH_TEMPLATE_ERR_BAD_IDENT, 5},
    {"/{}", PATH_TEMPLATE_ERR_BAD_IDENT, 3},
    {"/{a-b}", PATH_TEMPLATE_ERR_BAD_IDENT, 4},
    {"/{.a}", PATH_TEMPLATE_ERR_BAD_IDENT, 3},
    /* duplicate variables */
    {"/{a}/{a}", PATH_TEMPLATE_ERR_DUPLICATE_VARIABLE, 7},
    {"/{a.b}/{a.b=x/*}", PATH_TEMPLATE_ERR_DUPLICATE_VARIABLE, 9},
    /* verb on a non-final segment */
    {"/a:b/c", PATH_TEMPLATE_ERR_VERB_NOT_LAST, 3},
    {"/{a}:b/c", PATH_TEMPLATE_ERR_VERB_NOT_LAST, 5},
    {"/a:b:c", PATH_TEMPLATE_ERR_VERB_NOT_LAST, 3},
    {"/{a=b:c}", PATH_TEMPLATE_ERR_VERB_NOT_LAST, 6},
    /* unbalanced braces */
    {"/{a", PATH_TEMPLATE_ERR_UNBALANCED_BRACE, 4},
    {"/{a=b", PATH_TEMPLATE_ERR_UNBALANCED_BRACE, 6},
    {"/{", PATH_TEMPLATE_ERR_UNBALANCED_BRACE, 3},
    {"/a}", PATH_TEMPLATE_ERR_UNBALANCED_BRACE, 3},
    {"/}", PATH_TEMPLATE_ERR_UNBALANCED_BRACE, 2},
    {"/{a}}", PATH_TEMPLATE_ERR_UNBALANCED_BRACE, 5},
    {"/a:b}", PATH_TEMPLATE_ERR_UNBALANCED_BRACE, 5},
    /* characters outside LITERAL, empty verb, partial wildcards */
    {"/a b", PATH_TEMPLATE_ERR_BAD_CHAR, 3},
    {"/a*", PATH_TEMPLATE_ERR_BAD_CHAR, 3},
    {"/*a", PATH_TEMPLATE_ERR_BAD_CHAR, 3},
    {"/**a", PATH_TEMPLATE_ERR_BAD_CHAR, 4},
    {"/a=b", PATH_TEMPLATE_ERR_BAD_CHAR, 3},
    {"/a?b", PATH_TEMPLATE_ERR_BAD_CHAR, 3},
    {"/a#b", PATH_TEMPLATE_ERR_BAD_CHAR, 3},
    {"/caf\xc3\xa9", PATH_TEMPLATE_ERR_BAD_CHAR, 5},
    {"/a:", PATH_TEMPLATE_ERR_BAD_CHAR, 4},
    {"/a:b{", PATH_TEMPLATE_ERR_BAD_CHAR, 5},
    {"/a:*", PATH_TEMPLATE_ERR_BAD_CHAR, 4},
    /* malformed escapes */
    {"/a%zz", PATH_TEMPLATE_ERR_BAD_ESCAPE, 3},
    {"/a%4", PATH_TEMPLATE_ERR_BAD_ESCAPE, 3},
    {"/a%", PATH_TEMPLATE_ERR_BAD_ESCAPE, 3},
    {"/x:a%g1", PATH_TEMPLATE_ERR_BAD_ESCAPE, 5},
    /* a variable or a literal is a whole segment */
    {"/a{b}", PATH_TEMPLATE_ERR_SYNTAX, 3},
    {"/{a}b", PATH_TEMPLATE_ERR_SYNTAX, 5},
};

static void test_parse_ok(void)
{
    for (size_t i = 0; i < sizeof(parse_ok) / sizeof(parse_ok[0]); i++) {
        path_template_t *t = NULL;
        util_error_t err = {0};
        int rc = path_template_parse(parse_ok[i].tmpl, strlen(parse_ok[i].tmpl), &t, &err);
        if (rc != 0)
            fprintf(stderr, "  %s: %s\n", parse_ok[i].tmpl, err.message);
        CHECK_INT_EQ(rc, 0);
        if (t == NULL)
            continue;
        char got[512];
        dump(t, got, sizeof(got));
        CHECK_STR_EQ(got, parse_ok[i].expected);
        CHECK_STR_EQ(t->source, parse_ok[i].tmpl);
        path_template_free(t);
    }
}

static void test_parse_errors(void)
{
    for (size_t i = 0; i < sizeof(parse_err) / sizeof(parse_err[0]); i++) {
        path_template_t *t = (path_template_t *)&t; /* must be reset to NULL */
        util_error_t err = {0};
        int rc = path_template_parse(parse_err[i].tmpl, strlen(parse_err[i].tmpl), &t, &err);
        char col[32];
        snprintf(col, sizeof(col), "(column %d)", parse_err[i].column);
        if (rc != -1 || err.code != parse_err[i].code || strstr(err.message, col) == NULL)
            fprintf(stderr, "  case \"%s\": rc=%d code=%d message=%s\n", parse_err[i].tmpl, rc, err.code, err.message);
        CHECK_INT_EQ(rc, -1);
        CHECK(t == NULL);
        CHECK_INT_EQ(err.code, parse_err[i].code);
        CHECK_STR_HAS(err.message, col);
        CHECK_STR_HAS(err.message, "path template \"");
    }
}

/* Errors that need built inputs: limits, NUL bytes, and the message naming the template. */
static void test_parse_errors_built(void)
{
    char big[1024];
    size_t o = 0;
    for (int i = 0; i < PATH_TEMPLATE_MAX_SEGMENTS; i++)
        o += (size_t)snprintf(big + o, sizeof(big) - o, "/a");
    path_template_t *t = NULL;
    util_error_t err = {0};
    CHECK_INT_EQ(path_template_parse(big, o, &t, &err), 0); /* exactly the limit */
    path_template_free(t);
    o += (size_t)snprintf(big + o, sizeof(big) - o, "/a");
    CHECK_INT_EQ(path_template_parse(big, o, &t, &err), -1);
    CHECK_INT_EQ(err.code, PATH_TEMPLATE_ERR_TOO_BIG);

    o = 0;
    for (int i = 0; i <= PATH_TEMPLATE_MAX_VARS; i++)
        o += (size_t)snprintf(big + o, sizeof(big) - o, "/{v%d}", i);
    CHECK_INT_EQ(path_template_parse(big, o, &t, &err), -1);
    CHECK_INT_EQ(err.code, PATH_TEMPLATE_ERR_TOO_BIG);
    CHECK_STR_HAS(err.message, "more than 32 variables");

    CHECK_INT_EQ(path_template_parse("/a\0b", 4, &t, &err), -1);
    CHECK_INT_EQ(err.code, PATH_TEMPLATE_ERR_BAD_CHAR);
    CHECK_STR_HAS(err.message, "\"/a\\x00b\"");
    CHECK_STR_HAS(err.message, "(column 3)");

    CHECK_INT_EQ(path_template_parse("/a/**/b", 7, &t, &err), -1);
    CHECK_STR_EQ(err.message, "path template \"/a/**/b\": \"**\" must be the last segment (only a verb may follow it) (column 4)");
    CHECK_INT_EQ(path_template_parse("/{a}/{a}", 8, &t, &err), -1);
    CHECK_STR_HAS(err.message, "variable \"a\" appears twice");
    CHECK_INT_EQ(path_template_parse("/{a=b", 5, &t, &err), -1);
    CHECK_STR_HAS(err.message, "missing '}' to close the '{' at column 2");

    /* NULL error pointer must be accepted */
    CHECK_INT_EQ(path_template_parse("/{", 2, &t, NULL), -1);
}

static const struct {
    const char *in;
    path_template_unescape_t mode;
    const char *expected;
    size_t expected_len;
} unescape_cases[] = {
    /* T3, Envoy's example: the three url_unescape_spec modes */
    {"%2f%23/%20%2523", PATH_TEMPLATE_UNESCAPE_EXCEPT_RESERVED, "%2f%23/ %23", 11},
    {"%2f%23/%20%2523", PATH_TEMPLATE_UNESCAPE_EXCEPT_SLASH, "%2f#/ %23", 9},
    {"%2f%23/%20%2523", PATH_TEMPLATE_UNESCAPE_ALL, "/#/ %23", 7},
    {"caf%C3%A9", PATH_TEMPLATE_UNESCAPE_ALL, "caf\xc3\xa9", 5},
    {"caf%c3%a9", PATH_TEMPLATE_UNESCAPE_EXCEPT_SLASH, "caf\xc3\xa9", 5},
    {"%2F%2f%41", PATH_TEMPLATE_UNESCAPE_EXCEPT_SLASH, "%2F%2fA", 7},
    {"%3A%40%21%2a%41%7e", PATH_TEMPLATE_UNESCAPE_EXCEPT_RESERVED, "%3A%40%21%2aA~", 14},
    {"a%00b", PATH_TEMPLATE_UNESCAPE_ALL, "a\0b", 3},
    {"plain", PATH_TEMPLATE_UNESCAPE_ALL, "plain", 5},
    {"", PATH_TEMPLATE_UNESCAPE_ALL, "", 0},
    /* malformed escapes are copied as written (the matcher rejects them earlier) */
    {"100%", PATH_TEMPLATE_UNESCAPE_ALL, "100%", 4},
    {"%4", PATH_TEMPLATE_UNESCAPE_ALL, "%4", 2},
    {"%zz%41", PATH_TEMPLATE_UNESCAPE_ALL, "%zzA", 4},
    {"%%41", PATH_TEMPLATE_UNESCAPE_ALL, "%A", 2},
};

static void test_unescape(void)
{
    for (size_t i = 0; i < sizeof(unescape_cases) / sizeof(unescape_cases[0]); i++) {
        char out[64];
        size_t n = path_template_unescape(unescape_cases[i].in, strlen(unescape_cases[i].in), unescape_cases[i].mode, out);
        CHECK_INT_EQ(n, unescape_cases[i].expected_len);
        CHECK(n == unescape_cases[i].expected_len && memcmp(out, unescape_cases[i].expected, n) == 0 && out[n] == '\0');
        if (n != unescape_cases[i].expected_len || memcmp(out, unescape_cases[i].expected, n) != 0)
            fprintf(stderr, "  unescape \"%s\" mode %d: got \"%.*s\"\n", unescape_cases[i].in, unescape_cases[i].mode, (int)n, out);
    }
}

static const struct {
    const char *in;
    int valid;
} escape_valid_cases[] = {
    {"", 1},   {"/a/b", 1}, {"%41", 1},  {"a%41b%2F", 1}, {"%4", 0},  {"%", 0},
    {"a%", 0}, {"%zz", 0},  {"%%41", 0}, {"%g0", 0},      {"%0g", 0}, {"%41%", 0},
};

static void test_escapes_valid(void)
{
    for (size_t i = 0; i < sizeof(escape_valid_cases) / sizeof(escape_valid_cases[0]); i++) {
        int got = path_template_escapes_valid(escape_valid_cases[i].in, strlen(escape_valid_cases[i].in));
        if (got != escape_valid_cases[i].valid)
            fprintf(stderr, "  escapes_valid \"%s\"\n", escape_valid_cases[i].in);
        CHECK_INT_EQ(got, escape_valid_cases[i].valid);
    }
}

static int sign(int x)
{
    return (x > 0) - (x < 0);
}

static const struct {
    const char *raw;
    const char *lit; /* normalised, as the parser stores it */
    int order;
} literal_cases[] = {
    {"abc", "abc", 0},
    {"%61bc", "abc", 0},
    {"%41", "A", 0},
    {"%41%62c", "Abc", 0},
    {"%7e", "~", 0},
    {"%7E", "~", 0},
    {"%2f", "%2F", 0},
    {"%2F", "%2F", 0},
    {"a%2fb", "a%2Fb", 0},
    {"/", "%2F", 1},
    {"%3a", "%3A", 0},
    {"a%2fc", "a%2Fb", 1},
    {"a%2fa", "a%2Fb", -1},
    {"ab", "abc", -1},
    {"abd", "abc", 1},
    {"", "a", -1},
    {"a", "", 1},
    {"%61", "ab", -1},
    {"%61bc", "ab", 1},
    {"A", "a", -1},
    {"%C3%A9", "%C3%A9", 0},
    {"%c3%a9", "%C3%A9", 0},
    {"\xc3\xa9", "%C3%A9", 1},
};

static void test_literal_cmp(void)
{
    for (size_t i = 0; i < sizeof(literal_cases) / sizeof(literal_cases[0]); i++) {
        int got = sign(path_template_literal_cmp(literal_cases[i].raw, strlen(literal_cases[i].raw), literal_cases[i].lit,
                                                 strlen(literal_cases[i].lit)));
        if (got != literal_cases[i].order)
            fprintf(stderr, "  literal_cmp \"%s\" vs \"%s\": %d\n", literal_cases[i].raw, literal_cases[i].lit, got);
        CHECK_INT_EQ(got, literal_cases[i].order);
    }
}

int main(void)
{
    test_parse_ok();
    test_parse_errors();
    test_parse_errors_built();
    test_unescape();
    test_escapes_valid();
    test_literal_cmp();
    return test_summary();
}
