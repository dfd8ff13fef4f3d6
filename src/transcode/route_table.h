// route_table.h — the REST route matcher: (HTTP method, path) → the route's target and the
// variables its template captured.
//
// Build once at start (or reload): route_table_new, route_table_add for every HTTP rule,
// route_table_compile; then route_table_match from any number of threads (the compiled table is
// read-only). Matching never allocates: captures are spans into the caller's path, written into
// the caller's route_match_t, and decoded on demand with route_capture_decode.
//
// Semantics (REFERENCE.md (c); tested in tests/unit/route_table_test.c):
//   - Most specific wins, whatever the declaration order: templates form a trie over segments and
//     at every level a literal beats "*", which beats "**", with backtracking (so
//     "GET /v1/items/special" beats "GET /v1/items/{id}", and "DELETE /v1/items/special" still
//     reaches "DELETE /v1/items/{id}" when only GET is declared on the literal). At one node an
//     exact method beats the custom kind "*" (any method).
//   - Two routes with the same method (or both "*"), the same verb and the same shape
//     ("/v1/{a}" and "/v1/{b}"; "/v1/*/x" and "/v1/{y}/x") make route_table_compile fail
//     with a message naming both.
//   - Methods are compared exactly (case-sensitive, as HTTP says); the caller upper-cases the
//     google.api.http kinds ("get" → "GET"). HEAD is not mapped to GET here.
//   - "*" and a variable without "=" match exactly one non-empty segment; "**" matches zero or
//     more segments, empty ones included. So "/v1/items/" (trailing slash: one more, empty,
//     segment) matches neither "/v1/items" nor "/v1/items/{id}", but does match "/v1/items/**".
//   - Custom verbs (Envoy's default): the text after the last ':' of the last segment is a verb
//     only when some template registers that verb; otherwise the colon is ordinary segment data
//     ("/foo/{x}" matches "/foo/bar:baz" when no template has ":baz"). A recognised verb is not
//     retried as data: with ":cancel" registered, "/foo/bar:cancel" matches only templates that
//     end in ":cancel". route_table_set_match_unregistered_verb flips this (Envoy's
//     match_unregistered_custom_verb): any ":xyz" in the last segment is then a verb.
//   - Literal segments compare after normalising both sides (path_template_literal_cmp): %XX of
//     unreserved characters is decoded, other escapes compare case-insensitively as escapes, so
//     "/v1/%61bc" matches the literal "abc" but "/a%2Fb" never matches "/a/b". Verbs compare the
//     same way. The path is matched as received: no dot-segment removal, no "//" merging.
//   - A "%" in the path not followed by two hex digits makes the whole request ROUTE_MATCH_BAD_PATH
//     (the server answers 400), as does a path that does not start with "/". The query string
//     must already be stripped by the caller.
#ifndef PORTICO_TRANSCODE_ROUTE_TABLE_H
#define PORTICO_TRANSCODE_ROUTE_TABLE_H

#include <stddef.h>

#include "transcode/path_template.h"
#include "util/error.h"

/* util_error_t.code values set here (range -120 .. -139); template errors keep their own codes. */
typedef enum route_table_error {
    ROUTE_TABLE_ERR_AMBIGUOUS = -120, /* two routes with the same method, verb and shape */
    ROUTE_TABLE_ERR_METHOD = -121,    /* empty method or one that is not an HTTP token */
    ROUTE_TABLE_ERR_STATE = -122,     /* add after compile, compile twice */
    ROUTE_TABLE_ERR_NOMEM = -123,
} route_table_error_t;

#define ROUTE_ALLOWED_MAX 16

typedef struct route_table route_table_t;

typedef struct route_capture {
    const char *field_path; /* the variable's field path ("sub.subfield"), owned by the table */
    const char *raw;        /* span into the matched path, still percent-encoded */
    size_t raw_len;
    int multi_segment; /* decides the unescaping rule (path_template.h) */
} route_capture_t;

typedef enum route_match_status {
    ROUTE_MATCH_OK = 0,
    ROUTE_MATCH_NOT_FOUND,          /* 404 */
    ROUTE_MATCH_METHOD_NOT_ALLOWED, /* 405; allowed[] lists the methods for the Allow header */
    ROUTE_MATCH_BAD_PATH,           /* 400: malformed percent-encoding or no leading "/" */
} route_match_status_t;

typedef struct route_match {
    /* ROUTE_MATCH_OK */
    void *target;
    const char *method; /* the route's method as declared ("GET", "*") */
    const char *tmpl;   /* the route's template as written */
    const path_template_t *parsed;
    route_capture_t captures[PATH_TEMPLATE_MAX_VARS];
    size_t ncaptures;
    /* ROUTE_MATCH_METHOD_NOT_ALLOWED: distinct methods in byte order, owned by the table. If more
     * than ROUTE_ALLOWED_MAX exist the list is cut and allowed_truncated is 1. */
    const char *allowed[ROUTE_ALLOWED_MAX];
    size_t nallowed;
    int allowed_truncated;
} route_match_t;

route_table_t *route_table_new(void);
void route_table_free(route_table_t *t);

/* Treat any ":xyz" at the end of the last path segment as a verb (default off). Before compile. */
void route_table_set_match_unregistered_verb(route_table_t *t, int on);

/*
 * Adds a route: |method| is an HTTP method token ("GET", "PATCH", a custom kind such as "HEAD") or
 * "*" for any method; |tmpl| a path template; |target| is returned by matches. Returns 0, or -1
 * with |err| set (a template error keeps its path_template_error_t code).
 */
int route_table_add(route_table_t *t, const char *method, const char *tmpl, void *target, util_error_t *err);

/*
 * Builds the trie. Returns 0, or -1 with |err| set, ROUTE_TABLE_ERR_AMBIGUOUS naming both
 * routes ("GET /v1/{a}" and "GET /v1/{b}") when two routes cannot be told apart.
 */
int route_table_compile(route_table_t *t, util_error_t *err);

/*
 * Matches a request. |path| (|path_len| bytes, no query string) must outlive the use of the
 * captures. Fills |out| as documented on route_match_t; returns the status. Before compile
 * every request is ROUTE_MATCH_NOT_FOUND. Thread-safe on a compiled table; no allocation.
 */
route_match_status_t route_table_match(const route_table_t *t, const char *method, size_t method_len, const char *path,
                                       size_t path_len, route_match_t *out);

/*
 * Writes the unescaped value of |c| into |out| (room for c->raw_len + 1 bytes) and returns its
 * length. Single-segment captures decode every %XX; multi-segment ones follow |mode|.
 */
size_t route_capture_decode(const route_capture_t *c, path_template_unescape_t mode, char *out);

/* Writes "GET, POST" for an Allow header into |out| (NUL-terminated, cut to |cap|); returns the
 * length it needed (like snprintf). */
size_t route_match_allow_header(const route_match_t *m, char *out, size_t cap);

/* The routes in declaration order, for `portico routes` and `portico check`. */
size_t route_table_count(const route_table_t *t);
int route_table_get(const route_table_t *t, size_t i, const char **method, const char **tmpl, void **target);

#endif
