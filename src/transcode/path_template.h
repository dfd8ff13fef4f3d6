// path_template.h — google.api.http path templates: the parser and the percent-encoding rules.
//
// A template such as "/v1/{name=messages/*}/sub/{sub.id}:cancel" is compiled into a flat list of
// segments (literal, "*", "**") plus a list of variables, each naming a field path and the span of
// segments it captures, plus an optional custom verb. The grammar (google/api/http.proto):
//
//   Template  = "/" Segments [ Verb ] ;
//   Segments  = Segment { "/" Segment } ;
//   Segment   = "*" | "**" | LITERAL | Variable ;
//   Variable  = "{" FieldPath [ "=" Segments ] "}" ;
//   FieldPath = IDENT { "." IDENT } ;
//   Verb      = ":" LITERAL ;
//
// Choices where the spec is silent (all tested in tests/unit/path_template_test.c):
//   - LITERAL is one or more RFC 3986 pchar characters except ":" (it starts the verb), "*", "=",
//     "{" and "}": ALPHA DIGIT - . _ ~ ! $ & ' ( ) + , ; @ and %XX. Anything else (space, "?",
//     "#", non-ASCII bytes) must be written percent-encoded.
//   - Literals are stored normalised (see path_template_literal_cmp): %XX escapes of unreserved
//     characters are decoded and the hex digits of every other escape are upper-cased, so the
//     template "/v1/%41" equals "/v1/A" and "a%2fb" equals "a%2Fb" (rule 6: reserved characters
//     in literals are matched percent-encoded).
//   - {var} is {var=*}; a variable may capture a literal prefix ({name=messages/*}) and may end
//     in "**"; it may not contain another variable, may not be empty ({a=}) and may not start
//     with "/" ({a=/b} is an empty segment).
//   - "**" must be the last segment; only the verb may follow it.
//   - Limits: PATH_TEMPLATE_MAX_SEGMENTS segments, PATH_TEMPLATE_MAX_VARS variables, so that the
//     matcher can keep its per-request state on the stack.
//
// Errors fill a util_error_t whose code is one of path_template_error_t and whose message quotes
// the template and gives the 1-based column of the offending character.
#ifndef PORTICO_TRANSCODE_PATH_TEMPLATE_H
#define PORTICO_TRANSCODE_PATH_TEMPLATE_H

#include <stddef.h>

#include "util/error.h"

#define PATH_TEMPLATE_MAX_SEGMENTS 64
#define PATH_TEMPLATE_MAX_VARS 32

/* util_error_t.code values set by path_template_parse (range -100 .. -119). */
typedef enum path_template_error {
    PATH_TEMPLATE_ERR_SYNTAX = -100,             /* unexpected character / missing "/" */
    PATH_TEMPLATE_ERR_EMPTY_SEGMENT = -101,      /* "//", trailing "/", "{a=/b}" */
    PATH_TEMPLATE_ERR_DSTAR_NOT_LAST = -102,     /* "**" followed by "/b" */
    PATH_TEMPLATE_ERR_NESTED_VARIABLE = -103,    /* "{a={b}}" */
    PATH_TEMPLATE_ERR_EMPTY_VARIABLE = -104,     /* "{a=}" */
    PATH_TEMPLATE_ERR_BAD_IDENT = -105,          /* "{1a}", "{a..b}", "{}" */
    PATH_TEMPLATE_ERR_DUPLICATE_VARIABLE = -106, /* "/{a}/{a}" */
    PATH_TEMPLATE_ERR_VERB_NOT_LAST = -107,      /* "/a:b/c" */
    PATH_TEMPLATE_ERR_UNBALANCED_BRACE = -108,   /* "/{a", "/a}" */
    PATH_TEMPLATE_ERR_BAD_CHAR = -109,           /* "/a b", "/a*b", empty verb */
    PATH_TEMPLATE_ERR_BAD_ESCAPE = -110,         /* "/a%zz" */
    PATH_TEMPLATE_ERR_TOO_BIG = -111,            /* more than the limits above */
    PATH_TEMPLATE_ERR_NOMEM = -112,
} path_template_error_t;

typedef enum path_template_seg_kind {
    PATH_TEMPLATE_SEG_LITERAL,
    PATH_TEMPLATE_SEG_STAR,  /* "*": exactly one non-empty segment */
    PATH_TEMPLATE_SEG_DSTAR, /* "**": zero or more segments, always last */
} path_template_seg_kind_t;

typedef struct path_template_segment {
    path_template_seg_kind_t kind;
    const char *literal; /* normalised, NUL-terminated; NULL unless kind == LITERAL */
    size_t literal_len;
} path_template_segment_t;

typedef struct path_template_var {
    const char *field_path; /* "sub.subfield", NUL-terminated */
    size_t first;           /* index of the first captured segment */
    size_t count;           /* number of template segments captured (a "**" counts as one) */
    int multi_segment;      /* 1 when the capture may span several path segments (count > 1 or "**") */
} path_template_var_t;

typedef struct path_template {
    const char *source; /* the template as written */
    path_template_segment_t *segments;
    size_t nsegments;
    path_template_var_t *vars;
    size_t nvars;
    const char *verb; /* without the ":"; NULL when there is none */
    size_t verb_len;
} path_template_t;

/*
 * Parses |len| bytes at |src| into a new template (*out, freed with path_template_free).
 * Returns 0, or -1 with |err| set (code from path_template_error_t, message naming the
 * template and the column).
 */
int path_template_parse(const char *src, size_t len, path_template_t **out, util_error_t *err);
void path_template_free(path_template_t *t);

/* How the captures of multi-segment variables are unescaped (Envoy's url_unescape_spec).
 * Single-segment variables always decode every %XX (rule 5). */
typedef enum path_template_unescape {
    PATH_TEMPLATE_UNESCAPE_EXCEPT_SLASH = 0, /* http.proto rule: decode all but %2F/%2f (default) */
    PATH_TEMPLATE_UNESCAPE_EXCEPT_RESERVED,  /* Envoy's default: keep RFC 6570 reserved chars encoded */
    PATH_TEMPLATE_UNESCAPE_ALL,              /* decode everything */
} path_template_unescape_t;

/* Returns 1 when every "%" in |s| is followed by two hex digits, else 0. */
int path_template_escapes_valid(const char *s, size_t len);

/*
 * Percent-decodes |len| bytes at |src| into |out| (room for |len| + 1 bytes; the result is never
 * longer than the input) and NUL-terminates it. Escapes that |mode| keeps are copied as written;
 * a malformed "%" is copied as is. Returns the decoded length (the value may contain NUL bytes).
 */
size_t path_template_unescape(const char *src, size_t len, path_template_unescape_t mode, char *out);

/*
 * Compares path segment |raw| (as received, possibly percent-encoded) with the normalised literal
 * |lit|, normalising |raw| on the fly without allocating: %XX of unreserved characters
 * (ALPHA DIGIT - . _ ~) is decoded, other escapes compare by value with upper-case hex, so
 * "%41" == "A", "%2f" == "%2F", but "%2F" != "/" and "%3A" != ":". Returns <0, 0 or >0 like memcmp
 * over the normalised bytes.
 */
int path_template_literal_cmp(const char *raw, size_t raw_len, const char *lit, size_t lit_len);

#endif
