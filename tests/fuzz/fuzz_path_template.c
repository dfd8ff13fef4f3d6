// fuzz_path_template.c — libFuzzer target for the path-template parser and the route matcher.
//
// Input: "<template>\n<path>" (without a newline, the whole input is both). The template is parsed;
// when it is valid it joins a few fixed routes in a table, and the path (and the template text
// itself, as a path) is matched with two methods. Every capture is decoded in every unescape mode.
// Beyond "no crash, no sanitizer report", it checks the invariants callers rely on: captures
// lie inside the path, decoding never grows a value, and a parsed template is self-consistent.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "transcode/path_template.h"
#include "transcode/route_table.h"

#define FUZZ_REQUIRE(cond)                                                                                                         \
    do {                                                                                                                           \
        if (!(cond))                                                                                                               \
            abort();                                                                                                               \
    } while (0)

static void check_template(const path_template_t *t)
{
    FUZZ_REQUIRE(t->nsegments >= 1 && t->nsegments <= PATH_TEMPLATE_MAX_SEGMENTS);
    FUZZ_REQUIRE(t->nvars <= PATH_TEMPLATE_MAX_VARS);
    for (size_t i = 0; i < t->nsegments; i++) {
        const path_template_segment_t *s = &t->segments[i];
        if (s->kind == PATH_TEMPLATE_SEG_DSTAR)
            FUZZ_REQUIRE(i + 1 == t->nsegments);
        if (s->kind == PATH_TEMPLATE_SEG_LITERAL)
            FUZZ_REQUIRE(s->literal != NULL && s->literal_len > 0 && strlen(s->literal) == s->literal_len);
    }
    for (size_t i = 0; i < t->nvars; i++) {
        const path_template_var_t *v = &t->vars[i];
        FUZZ_REQUIRE(v->count >= 1 && v->first + v->count <= t->nsegments);
        FUZZ_REQUIRE(v->field_path != NULL && v->field_path[0] != '\0');
    }
}

static void match_and_check(const route_table_t *t, const char *method, const char *path, size_t len)
{
    route_match_t m;
    route_match_status_t st = route_table_match(t, method, strlen(method), path, len, &m);
    if (st == ROUTE_MATCH_METHOD_NOT_ALLOWED) {
        char hdr[32];
        FUZZ_REQUIRE(m.nallowed > 0);
        route_match_allow_header(&m, hdr, sizeof(hdr));
        FUZZ_REQUIRE(strlen(hdr) < sizeof(hdr));
    }
    if (st != ROUTE_MATCH_OK)
        return;
    FUZZ_REQUIRE(m.ncaptures <= PATH_TEMPLATE_MAX_VARS);
    for (size_t i = 0; i < m.ncaptures; i++) {
        const route_capture_t *c = &m.captures[i];
        FUZZ_REQUIRE(c->raw >= path && c->raw + c->raw_len <= path + len);
        char *out = malloc(c->raw_len + 1);
        if (out == NULL)
            return;
        for (int mode = PATH_TEMPLATE_UNESCAPE_EXCEPT_SLASH; mode <= PATH_TEMPLATE_UNESCAPE_ALL; mode++)
            FUZZ_REQUIRE(route_capture_decode(c, (path_template_unescape_t)mode, out) <= c->raw_len);
        free(out);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    const char *nl = memchr(in, '\n', size);
    size_t tlen = nl ? (size_t)(nl - in) : size;
    const char *path = nl ? nl + 1 : in;
    size_t plen = nl ? size - tlen - 1 : size;

    path_template_t *pt = NULL;
    util_error_t err;
    if (path_template_parse(in, tlen, &pt, &err) != 0) {
        FUZZ_REQUIRE(pt == NULL && err.code <= PATH_TEMPLATE_ERR_SYNTAX && memchr(err.message, '\0', sizeof(err.message)));
        return 0;
    }
    check_template(pt);

    /* route_table_add takes C strings: skip templates with NUL bytes (the parser rejects them anyway). */
    char *tmpl = malloc(tlen + 1);
    if (tmpl == NULL) {
        path_template_free(pt);
        return 0;
    }
    memcpy(tmpl, in, tlen);
    tmpl[tlen] = '\0';

    route_table_t *t = route_table_new();
    if (t != NULL) {
        static int targets[4];
        route_table_set_match_unregistered_verb(t, size & 1);
        int ok = route_table_add(t, "GET", tmpl, &targets[0], &err) == 0 &&
                 route_table_add(t, "POST", "/v1/{name=items/*}:cancel", &targets[1], &err) == 0 &&
                 route_table_add(t, "*", "/v1/items/{id}", &targets[2], &err) == 0 &&
                 route_table_add(t, "DELETE", "/v1/{rest=**}", &targets[3], &err) == 0;
        FUZZ_REQUIRE(ok);
        if (route_table_compile(t, &err) == 0) {
            match_and_check(t, "GET", path, plen);
            match_and_check(t, "PUT", path, plen);
            match_and_check(t, "GET", tmpl, tlen);
        } else {
            FUZZ_REQUIRE(err.code == ROUTE_TABLE_ERR_AMBIGUOUS || err.code == ROUTE_TABLE_ERR_NOMEM);
        }
        route_table_free(t);
    }
    free(tmpl);
    path_template_free(pt);
    return 0;
}
