/*
 * json_lex.h — a strict RFC 8259 JSON pull parser over an in-memory buffer, for the
 * JSON→protobuf codec (json_to_pb.c). The caller asks for the value it expects next
 * (object, array, string, number, literal) and the parser checks the grammar as it goes,
 * so a document is read in one pass with no tree and no allocation per token.
 *
 * Strings come back decoded (escapes resolved, UTF-8 validated), pointing into the input
 * when they hold no escape and into a scratch buffer otherwise; numbers come back as their
 * source text so integers can be converted exactly. A position can be marked and
 * returned to (the codec reads an Any object twice: once to find "@type").
 *
 * Errors: every function returning int returns 0 (or a positive count, where stated) on
 * success and -1 on failure, with the util_error_t given to json_lex_init() filled:
 * CODEC_ERR_SYNTAX "invalid JSON at line 3 column 5: expected ','", CODEC_ERR_UTF8,
 * CODEC_ERR_DEPTH or CODEC_ERR_NOMEM. Lines and columns count from 1; columns count
 * characters, not bytes.
 */
#ifndef PORTICO_PROTO_JSON_LEX_H
#define PORTICO_PROTO_JSON_LEX_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/error.h"

typedef enum json_kind {
    JSON_KIND_NONE = 0, /* end of input, or a byte that cannot start a value */
    JSON_KIND_OBJECT,
    JSON_KIND_ARRAY,
    JSON_KIND_STRING,
    JSON_KIND_NUMBER,
    JSON_KIND_TRUE,
    JSON_KIND_FALSE,
    JSON_KIND_NULL,
} json_kind_t;

/* A view of decoded text; valid until the next call that decodes text of the same role
 * (keys and values use separate scratch buffers, so a key survives reading its value's
 * scalar, but not a nested object). */
typedef struct json_str {
    const char *s;
    size_t len;
} json_str_t;

typedef struct json_lex {
    const char *start;
    const char *p;
    const char *end;
    uint32_t depth;
    uint32_t max_depth;
    util_error_t *err;
    util_buf_t key_scratch;
    util_buf_t val_scratch;
} json_lex_t;

/* A saved position (see json_lex_mark / json_lex_rewind). */
typedef struct json_lex_mark {
    const char *p;
    uint32_t depth;
} json_lex_mark_t;

/* |max_depth| is the deepest allowed nesting of objects and arrays (the top-level
 * container is depth 1). |err| may be NULL. */
void json_lex_init(json_lex_t *lx, const char *text, size_t len, uint32_t max_depth, util_error_t *err);
void json_lex_dispose(json_lex_t *lx);

/* Skips whitespace and returns the kind of the next value without consuming it. */
json_kind_t json_lex_peek(json_lex_t *lx);

/* Consumes '{' / '['. Fails with CODEC_ERR_DEPTH past max_depth. */
int json_lex_object_begin(json_lex_t *lx);
int json_lex_array_begin(json_lex_t *lx);
/*
 * Moves to the next member of the object being read. |count| is a caller-held counter,
 * 0 right after json_lex_object_begin(); it tells the parser whether a ',' is due and
 * counts the members. Returns 1 with the decoded key (the ':' consumed; the value is next),
 * 0 when the closing '}' has been consumed, -1 on error.
 */
int json_lex_object_next(json_lex_t *lx, size_t *count, json_str_t *key);
/* As json_lex_object_next for arrays: 1 when an element is next, 0 after ']'. */
int json_lex_array_next(json_lex_t *lx, size_t *count);

/* Each consumes one value of its kind, failing on any other kind. */
int json_lex_string(json_lex_t *lx, json_str_t *out);
int json_lex_number(json_lex_t *lx, json_str_t *out);   /* the number's source text */
int json_lex_literal(json_lex_t *lx, json_kind_t kind); /* true, false or null */
/* Consumes one value of any kind, checking its syntax (strings are validated, not copied). */
int json_lex_skip(json_lex_t *lx);
/* Checks that only whitespace is left. */
int json_lex_finish(json_lex_t *lx);

/* Sets a CODEC_ERR_SYNTAX error at the current position: "invalid JSON at line L column C: <what>". */
int json_lex_fail(json_lex_t *lx, const char *what);

static inline json_lex_mark_t json_lex_mark(const json_lex_t *lx)
{
    json_lex_mark_t m = {lx->p, lx->depth};
    return m;
}
static inline void json_lex_rewind(json_lex_t *lx, json_lex_mark_t m)
{
    lx->p = m.p;
    lx->depth = m.depth;
}

/*
 * Returns the length of the JSON number at the start of [s, end), or 0 when there is
 * none: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?  With |leading_zeros| set, the
 * integer part may also start with '0' ("007"), as numbers inside JSON strings may.
 */
size_t json_number_scan(const char *s, const char *end, int leading_zeros);

#endif
