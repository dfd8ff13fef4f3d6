/*
 * value.h — the JSON values a composite request works on at run time: parsed backend replies,
 * rendered templates, shaped parts and the merged document, all allocated from the run's arena.
 *
 * Values are immutable once built and freely shared: shaping and merging build new nodes only
 * along the paths they change and point at the untouched subtrees of their inputs, so nothing
 * is deep-copied, reference-counted or freed one by one: the run's arena goes in one free.
 * (jansson, used for loading the configuration, costs a malloc per node and per member, a hash
 * table per object and a deep copy per placement; with three small replies it was most of the
 * CPU time of a composite request.)
 *
 * Objects keep their members in order (as received, then as merged) with unique keys: a
 * duplicate key in parsed input keeps the first position and the last value, as jansson did.
 * Numbers keep their source text, so a backend's 12345678901234567890 or 1.10 reaches the
 * client exactly as written. Keys and strings are NUL-terminated and also carry a length
 * (JSON strings may hold "\u0000").
 */
#ifndef PORTICO_AGGREGATE_VALUE_H
#define PORTICO_AGGREGATE_VALUE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto/proto.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/error.h"

typedef enum aggregate_value_kind {
    AGGREGATE_VALUE_NULL = 0,
    AGGREGATE_VALUE_FALSE,
    AGGREGATE_VALUE_TRUE,
    AGGREGATE_VALUE_NUMBER,
    AGGREGATE_VALUE_STRING,
    AGGREGATE_VALUE_ARRAY,
    AGGREGATE_VALUE_OBJECT,
} aggregate_value_kind_t;

typedef struct aggregate_value aggregate_value_t;

typedef struct aggregate_member {
    const char *key;
    size_t key_len;
    const aggregate_value_t *value;
} aggregate_member_t;

struct aggregate_value {
    aggregate_value_kind_t kind;
    unsigned plain; /* STRING: the text needs no escaping, it is written as is (set by the in-place parser) */
    size_t len;     /* NUMBER, STRING: bytes of text; ARRAY, OBJECT: elements or members */
    size_t cap;     /* ARRAY, OBJECT under construction: room in items / members */
    union {
        const char *text;                /* NUMBER (source text), STRING (decoded); NUL-terminated */
        const aggregate_value_t **items; /* ARRAY */
        aggregate_member_t *members;     /* OBJECT */
    } u;
};

/* Deepest nesting of objects and arrays the parser accepts. */
#define AGGREGATE_VALUE_MAX_DEPTH 512

/* ---- construction (every function returns NULL when the arena is out of memory) ---------- */

const aggregate_value_t *aggregate_value_null(void);
const aggregate_value_t *aggregate_value_bool(int b);
/* Copies |s|. */
aggregate_value_t *aggregate_value_string(util_arena_t *a, const char *s, size_t len);
/* Copies |text|, which the caller has checked is a JSON number. */
aggregate_value_t *aggregate_value_number(util_arena_t *a, const char *text, size_t len);
aggregate_value_t *aggregate_value_integer(util_arena_t *a, int64_t v);

/* An empty array / object with room for |cap| entries. Building a value that is not
 * published yet is the only mutation there is. */
aggregate_value_t *aggregate_value_array(util_arena_t *a, size_t cap);
aggregate_value_t *aggregate_value_object(util_arena_t *a, size_t cap);
/* Appends |v| (grows past cap in the arena). Returns 0 or -1. */
int aggregate_value_append(util_arena_t *a, aggregate_value_t *array, const aggregate_value_t *v);
/* Sets member |key| (borrowed: it must outlive the object, e.g. live in the same arena or in the
 * loaded set) to |v|, replacing an existing member in place. Returns 0 or -1. */
int aggregate_value_set(util_arena_t *a, aggregate_value_t *object, const char *key, size_t key_len, const aggregate_value_t *v);
/* As aggregate_value_set without looking for an existing member: the caller knows it is new. */
int aggregate_value_add(util_arena_t *a, aggregate_value_t *object, const char *key, size_t key_len, const aggregate_value_t *v);
/* A shallow copy of an object or array (members / items shared), with |extra| more room. */
aggregate_value_t *aggregate_value_copy(util_arena_t *a, const aggregate_value_t *v, size_t extra);

/*
 * A hash index over an object's members, for objects too large to search member by member
 * (the parser's duplicate-key check, merging big maps): open addressing over member indexes.
 * aggregate_member_index_slot() returns the slot of |key| among |members|; it holds the
 * member's index + 1, or 0 when |key| is not indexed yet (store the new member's index + 1
 * there to add it).
 */
typedef struct aggregate_member_index {
    uint32_t *slots;
    size_t mask;
} aggregate_member_index_t;

/* An empty index with room for |n| members. Returns 0, or -1 when out of memory. */
int aggregate_member_index_init(util_arena_t *a, aggregate_member_index_t *ix, size_t n);
uint32_t *aggregate_member_index_slot(const aggregate_member_index_t *ix, const aggregate_member_t *members, const char *key,
                                      size_t key_len);

/* ---- reading ------------------------------------------------------------------------------ */

/* The value of member |key| of |object|, or NULL (also when |object| is not an object). */
const aggregate_value_t *aggregate_value_get(const aggregate_value_t *object, const char *key, size_t key_len);
/* Member index of |key| in |object|, or -1. */
long aggregate_value_find(const aggregate_value_t *object, const char *key, size_t key_len);

/* Whether member key |k| (|k_len| bytes) is |key|: lengths, then the first byte, before a
 * memcmp call (keys of one length are common: "sku", "tags", "kind"). */
static inline int aggregate_key_is(const char *k, size_t k_len, const char *key, size_t key_len)
{
    return k_len == key_len && (key_len == 0 || (k[0] == key[0] && memcmp(k + 1, key + 1, key_len - 1) == 0));
}

static inline int aggregate_value_is(const aggregate_value_t *v, aggregate_value_kind_t k)
{
    return v != NULL && v->kind == k;
}

/* Structural equality; object member order does not matter, numbers compare by value for
 * integers within int64 and by text otherwise. */
int aggregate_value_equal(const aggregate_value_t *x, const aggregate_value_t *y);

/* ---- text --------------------------------------------------------------------------------- */

/*
 * Parses one JSON value (RFC 8259, strict; any value at the top) into |a|. Returns the value,
 * or NULL with |err| set: "invalid JSON at line L column C: ...", invalid UTF-8, nesting
 * deeper than AGGREGATE_VALUE_MAX_DEPTH, or out of memory.
 */
const aggregate_value_t *aggregate_value_parse(util_arena_t *a, const char *text, size_t len, util_error_t *err);

/*
 * As aggregate_value_parse, for text the values may keep pointing into: |text| (NUL at
 * text[len]) must live as long as the values and may be modified. Strings and keys without
 * escapes are not copied: they stay where they are, NUL-terminated in place (their closing
 * quote becomes the NUL), and such strings are written back without an escaping pass. A
 * backend reply copied once into the run's arena is parsed like this.
 */
const aggregate_value_t *aggregate_value_parse_in_place(util_arena_t *a, char *text, size_t len, util_error_t *err);

/*
 * Builds the value of JSON text printed by codec_pb_to_json from the outline the printer made
 * of it (codec_options_t.outline), without lexing the text again: keys and plain strings stay
 * in |text| as for aggregate_value_parse_in_place (same rules for |text|, which must be the
 * printed bytes from where the outline's offsets count). Returns NULL when the outline does
 * not describe the text (the caller then parses the text) or when the arena is out of memory.
 */
const aggregate_value_t *aggregate_value_from_outline(util_arena_t *a, char *text, size_t len, const codec_outline_event_t *events,
                                                      size_t n_events);

/* Appends |v| as compact JSON. */
void aggregate_value_write(util_buf_t *out, const aggregate_value_t *v);

/* Converts a jansson value (the loaded configuration's constants) into |a|. */
const aggregate_value_t *aggregate_value_from_json(util_arena_t *a, const json_t *v);

#endif
