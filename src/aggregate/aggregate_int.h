/*
 * aggregate_int.h — private to src/aggregate (and its unit tests): the loader's walking
 * context, dotted paths, value templates, the merge primitives and the cache internals that
 * the files of the module share. Not for use outside src/aggregate.
 */
#ifndef PORTICO_AGGREGATE_INT_H
#define PORTICO_AGGREGATE_INT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregate/aggregate.h"
#include "aggregate/value.h"
#include "util/arena.h"
#include "util/buf.h"

/* format.c: the loader's context ------------------------------------------------------------ */

#define AGGREGATE_PATH_CAP 256

typedef struct aggregate_ctx {
    const char *name; /* file name for messages */
    util_arena_t *arena;
    json_t *keep; /* array: JSON values made while loading, owned by the set */
    util_error_t *err;
    char path[AGGREGATE_PATH_CAP]; /* JSON path of the value being read: "calls[0].grpc.request.sku" */
    size_t path_len;
    /* what templates of the endpoint being read may refer to */
    const char *method;                   /* the endpoint's HTTP method */
    const path_template_t *path_template; /* its path variables */
    const char *const *call_names;        /* every call of the endpoint, declaration order */
    size_t n_calls;
    size_t self;   /* index of the call being read (a call may not refer to itself) */
    uint8_t *deps; /* n_calls flags: the calls the current call's templates refer to */
    int uses_body;
} aggregate_ctx_t;

size_t aggregate_ctx_push_key(aggregate_ctx_t *ctx, const char *key);
size_t aggregate_ctx_push_index(aggregate_ctx_t *ctx, size_t index);
void aggregate_ctx_pop(aggregate_ctx_t *ctx, size_t mark);
/* Sets the error to "NAME: PATH: message" and returns -1. */
int aggregate_ctx_fail(aggregate_ctx_t *ctx, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A JSON value shown in a message: compact, cut at 60 bytes. */
const char *aggregate_json_show(const json_t *v, char *buf, size_t size);

/* path.c: dotted paths ------------------------------------------------------------------------ */

/*
 * Splits |text| at "." into segments ("\." is a dot inside a segment, "\\" a backslash).
 * Returns 0, or -1 with |why| set (empty path, empty segment, dangling backslash).
 */
int aggregate_path_parse(util_arena_t *a, const char *text, aggregate_path_t *out, char *why, size_t why_size);

/*
 * The value at |p| inside |root|, descending through objects by key and through arrays by
 * numeric segments ("items.0.id"); NULL when absent. |alt| (may be NULL) holds an alternative
 * name per segment, tried when the segment itself is absent (a proto field's other JSON name).
 */
const aggregate_value_t *aggregate_path_get(const aggregate_value_t *root, const aggregate_path_t *p, size_t first,
                                            const char *const *alt);

/* A copy of object |root| with |value| set at |p| (from segment |first|), creating (or replacing
 * non-object) intermediate members; only the objects on the path are copied. NULL when |root|
 * is not an object or out of memory. */
const aggregate_value_t *aggregate_path_set(util_arena_t *a, const aggregate_value_t *root, const aggregate_path_t *p, size_t first,
                                            const aggregate_value_t *value);

/*
 * The objects a chain of edits (the renames of one shape) has made itself: nothing else can see
 * them yet, so later edits of the chain change them in place instead of copying them again.
 * Start with {.a = arena}; at most AGGREGATE_OWNED_MAX are remembered (the others get copied).
 */
#define AGGREGATE_OWNED_MAX 32

typedef struct aggregate_owned {
    util_arena_t *a;
    aggregate_value_t *objs[AGGREGATE_OWNED_MAX];
    size_t n;
} aggregate_owned_t;

/* Object |v| as one the chain may change: itself when the chain made it, else a copy with room
 * for one more member (remembered). NULL when out of memory. */
aggregate_value_t *aggregate_owned_object(aggregate_owned_t *x, const aggregate_value_t *v);

/* aggregate_path_set as an edit of the chain: |root| must be an object, |first| < p->n. */
const aggregate_value_t *aggregate_path_set_owned(aggregate_owned_t *x, const aggregate_value_t *root, const aggregate_path_t *p,
                                                  size_t first, const aggregate_value_t *value);

/* template.c: value templates --------------------------------------------------------------- */

typedef enum aggregate_source {
    AGGREGATE_SRC_PATH = 0, /* {id}: a variable of the endpoint's path template */
    AGGREGATE_SRC_QUERY,    /* {query.NAME} */
    AGGREGATE_SRC_HEADER,   /* {header.NAME} */
    AGGREGATE_SRC_BODY,     /* {body} / {body.PATH} */
    AGGREGATE_SRC_CALL,     /* {calls.NAME} / {calls.NAME.PATH} */
} aggregate_source_t;

typedef struct aggregate_ref {
    const char *text; /* "{calls.catalog.canonicalId}" as written */
    aggregate_source_t source;
    const char *name;      /* path variable, query parameter, lowercase header name or call name */
    size_t call;           /* AGGREGATE_SRC_CALL: the call's index */
    aggregate_path_t path; /* BODY and CALL: the path inside the value (n = 0: the whole value) */
    const char **alt;      /* per path segment: the other JSON name of a resolved proto field, or NULL */
} aggregate_ref_t;

typedef enum aggregate_tpl_kind {
    AGGREGATE_TPL_CONST = 0, /* no reference inside */
    AGGREGATE_TPL_REF,       /* exactly "{ref}": the referenced value with its JSON type */
    AGGREGATE_TPL_STRING,    /* "text {ref} text": always a string */
    AGGREGATE_TPL_OBJECT,    /* an object with a reference somewhere inside */
    AGGREGATE_TPL_ARRAY,
} aggregate_tpl_kind_t;

/* How a rendered value is adjusted for the gRPC field it lands in (decided at load). */
typedef enum aggregate_want {
    AGGREGATE_WANT_ANY = 0,
    AGGREGATE_WANT_STRING, /* string/bytes fields: numbers and booleans become their text */
    AGGREGATE_WANT_BOOL,   /* bool fields: the strings "true"/"false" become booleans */
} aggregate_want_t;

typedef struct aggregate_piece {
    const char *lit; /* literal text (NULL when this piece is a reference) */
    size_t lit_len;
    const aggregate_ref_t *ref;
} aggregate_piece_t;

struct aggregate_tpl {
    aggregate_tpl_kind_t kind;
    aggregate_want_t want;
    const json_t *constant;          /* CONST (borrowed from the loaded document; for load-time checks) */
    const aggregate_value_t *value;  /* CONST, converted once at load (in the set's arena) */
    const aggregate_ref_t *ref;      /* REF */
    const aggregate_piece_t *pieces; /* STRING */
    size_t n_pieces;
    const char *const *keys;    /* OBJECT */
    aggregate_tpl_t **children; /* OBJECT (values) and ARRAY (elements) */
    size_t n_children;
};

/*
 * Compiles JSON value |v| (read at ctx->path) into a template; references are checked against
 * the endpoint (path variables, call names) and calls referred to are flagged in ctx->deps.
 * Returns 0, or -1 with the error set.
 */
int aggregate_tpl_parse(aggregate_ctx_t *ctx, const json_t *v, aggregate_tpl_t **out);

/* Template strings only (HTTP paths and header values must be strings). */
int aggregate_tpl_parse_string(aggregate_ctx_t *ctx, const json_t *v, aggregate_tpl_t **out);

/*
 * Checks a gRPC request template against message |m|: every key a field, every constant
 * encodable, every reference of a compatible kind; sets the nodes' |want|. |outputs| gives the
 * output message of each call of the endpoint (NULL for HTTP calls), to check {calls.X.path}.
 * Returns 0, or -1 with the error set at the offending key's path.
 */
int aggregate_tpl_check_message(aggregate_ctx_t *ctx, aggregate_tpl_t *t, const proto_registry_t *r, const proto_message_t *m,
                                const proto_message_t *const *outputs);

/*
 * Checks every {calls.X.path} inside |t| whose call X is a gRPC call with a known output type
 * (|outputs|, NULL for others): the path must name fields of that type. Records each field's
 * other JSON name so that run-time lookups find lowerCamelCase and proto names alike.
 * Returns 0, or -1 with the error set.
 */
int aggregate_tpl_resolve_refs(aggregate_ctx_t *ctx, aggregate_tpl_t *t, const proto_message_t *const *outputs);

/* What templates read from (the run's values). */
typedef struct aggregate_tpl_input {
    const aggregate_value_t *path;         /* object: variable → string */
    const aggregate_value_t *query;        /* object: name → string (first value) */
    const aggregate_value_t *header;       /* object: lowercase name → string (repeated headers joined with ", ") */
    const aggregate_value_t *body;         /* the request body parsed as JSON, NULL when absent or not JSON */
    const aggregate_value_t *const *calls; /* per call: its parsed response, NULL while unknown */
} aggregate_tpl_input_t;

/*
 * Renders |t| into |a|. A reference to something absent makes its value absent: an absent
 * member is left out of its object, an absent element out of its array, a string with an absent
 * reference is absent as a whole. Returns 0 with *out the value (NULL when the whole value is
 * absent), or -1 when out of memory. *missing (may be NULL) receives the first absent reference
 * met.
 */
int aggregate_tpl_render(const aggregate_tpl_t *t, const aggregate_tpl_input_t *in, util_arena_t *a, const aggregate_value_t **out,
                         const aggregate_ref_t **missing);

/*
 * Renders |t| as text appended to |out|: strings as they are, other scalars as JSON text,
 * objects and arrays as compact JSON. With |encode| each referenced value (not the literal
 * text around it) is percent-encoded for a URL path segment. Returns 0, 1 when absent
 * (*missing set), -1 when out of memory. |a| holds what rendering needs to build.
 */
int aggregate_tpl_render_text(const aggregate_tpl_t *t, const aggregate_tpl_input_t *in, util_arena_t *a, int encode,
                              util_buf_t *out, const aggregate_ref_t **missing);

/* Appends the text form of |v| (strings unquoted, anything else as compact JSON), percent-
 * encoded with |encode|. */
void aggregate_value_append_text(util_buf_t *out, const aggregate_value_t *v, int encode);

/* Calls |fn| for every reference in every template of call |c|: the request message, the
 * path, the query, the headers and the body, in that order. */
void aggregate_call_each_ref(const aggregate_call_t *c, void (*fn)(void *arg, const aggregate_ref_t *ref), void *arg);

/* Appends |s| percent-encoded: everything but ALPHA DIGIT - . _ ~ (and "/" when |keep_slash|). */
void aggregate_percent_encode(util_buf_t *out, const char *s, size_t len, int keep_slash);

/* request_plan.c: gRPC requests encoded without JSON ------------------------------------------- */

/* One member of a request template: a constant, encoded once at load, or a reference whose
 * string goes straight into a string field. */
typedef struct aggregate_request_piece {
    const uint8_t *bytes; /* a constant member, encoded (tags and values); NULL for a reference */
    size_t len;
    const aggregate_tpl_t *ref; /* a REF template to a path variable, query parameter or header */
    uint32_t number;            /* the string field it goes to */
} aggregate_request_piece_t;

typedef struct aggregate_request_plan {
    const aggregate_request_piece_t *pieces;
    size_t n;
} aggregate_request_plan_t;

/*
 * Sets c->request_plan when gRPC call |c|'s request can be encoded without going through JSON
 * text: it is not cached (the cache key is the JSON text), and every member of its template is
 * a constant or a whole reference to a path variable, query parameter or header feeding a
 * singular string field outside any oneof, each field once. Anything else keeps the JSON path
 * (render, write, codec_json_to_pb). Returns 0, or -1 with the error set (out of memory).
 */
int aggregate_request_plan_build(aggregate_ctx_t *ctx, aggregate_call_t *c, const proto_registry_t *r);

/*
 * Appends the request of |plan| to |out| (protobuf wire format). Returns 0; 1 when a value is
 * one the plan does not take (not a non-empty, valid UTF-8 string: the caller then takes the
 * JSON path, which encodes it or says what is wrong with it); -1 when out of memory.
 */
int aggregate_request_plan_encode(const aggregate_request_plan_t *plan, const aggregate_tpl_input_t *in, util_arena_t *a,
                                  util_buf_t *out);

/* merge.c: shaping and merging (every function returns a new value sharing what it did not
 * change, or NULL when out of memory) ---------------------------------------------------------- */

/* Keeps only the members on the |n| paths (arrays are traversed element by element). */
const aggregate_value_t *aggregate_json_allow(util_arena_t *a, const aggregate_value_t *v, const aggregate_path_t *paths, size_t n);
/* Removes the members on the |n| paths (arrays traversed). */
const aggregate_value_t *aggregate_json_deny(util_arena_t *a, const aggregate_value_t *v, const aggregate_path_t *paths, size_t n);
/* Moves the value at |r->from| to |r->to|; the common prefix is walked once and arrays on it are
 * traversed, so "items.name" → "items.title" renames inside every element. */
const aggregate_value_t *aggregate_json_rename(util_arena_t *a, const aggregate_value_t *v, const aggregate_rename_t *r);
/* Deep merge of object |src| into object |dst|: objects merge recursively, anything else from
 * |src| replaces what |dst| had. */
const aggregate_value_t *aggregate_json_merge(util_arena_t *a, const aggregate_value_t *dst, const aggregate_value_t *src);

/*
 * Applies the shape's target, allow, deny and renames to |response| and checks that the result
 * can be placed (an array needs "collection" or "group", a collection needs an array).
 * Returns the shaped value, or NULL with |why| set.
 */
const aggregate_value_t *aggregate_shape_apply(util_arena_t *a, const aggregate_shape_t *s, const aggregate_value_t *response,
                                               char *why, size_t why_size);

/* |doc| with the shaped |part| placed by group / collection / deep merge into the root; NULL when out of memory. */
const aggregate_value_t *aggregate_shape_place(util_arena_t *a, const aggregate_value_t *doc, const aggregate_shape_t *s,
                                               const aggregate_value_t *part);

/* cache.c ------------------------------------------------------------------------------------- */

/* The cached response text for |key| if it has not expired at |now| (valid until the next
 * cache call), else NULL. */
const char *aggregate_cache_get(aggregate_cache_t *c, const char *key, uint64_t now, size_t *len);
/* Stores a copy of the response text |text| for |ttl_ms|. */
void aggregate_cache_put(aggregate_cache_t *c, const char *key, const char *text, size_t len, uint64_t now, uint32_t ttl_ms);

#endif
