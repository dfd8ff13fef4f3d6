/*
 * merge.c — the merge rules of composite endpoints: shaping one call's response (target,
 * allow, deny, rename) and placing it in the merged document (group, collection, deep merge
 * into the root). Values are immutable (value.h): every rule returns a new value that copies
 * only the objects and arrays it changes and shares everything else with its input. docs/AGGREGATION.md states the rules; this file
 * is their only implementation.
 *
 * Conflict rule: the engine merges the parts in the calls' declaration order after the last
 * reply, never as replies arrive, so "the later-declared call wins" holds for every conflict
 * and the document is the same whatever the arrival order. Objects merge member by member,
 * recursively; anything else (scalars, arrays, a type mismatch) is replaced by the later part,
 * except collections marked "concat", whose arrays are appended in declaration order.
 *
 * allow/deny/rename paths traverse arrays: "reviews.author" addresses the author of every
 * element of the reviews array (KrakenD needs a separate flatmap stage for this and then turns
 * allow/deny off; here they compose). target and templates index arrays instead ("items.0").
 */
#include "aggregate/aggregate_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int seg_is(const aggregate_member_t *m, const aggregate_path_t *p, size_t i)
{
    return aggregate_key_is(m->key, m->key_len, p->segs[i], p->seg_lens[i]);
}

/* ---------------------------------------------------------------------------------------
 * allow
 */

typedef struct allow_ctx {
    util_arena_t *a;
    const aggregate_path_t *paths;
    int nomem;
} allow_ctx_t;

/*
 * Filters |v| to the members on the active paths (indexes into |paths| whose first |depth|
 * segments led here). Returns the filtered value, or NULL when nothing on the paths is present.
 * Objects inside arrays are kept even when empty, so that allow never changes array lengths
 * of object arrays; scalars where a path goes deeper are dropped.
 */
static const aggregate_value_t *allow_rec(allow_ctx_t *x, const aggregate_value_t *v, const size_t *active, size_t n_active,
                                          size_t depth, int in_array)
{
    for (size_t i = 0; i < n_active; i++)
        if (x->paths[active[i]].n == depth)
            return v; /* a path ends here: the whole subtree is allowed (and shared) */
    if (v->kind == AGGREGATE_VALUE_ARRAY) {
        aggregate_value_t *out = aggregate_value_array(x->a, v->len);
        if (out == NULL) {
            x->nomem = 1;
            return NULL;
        }
        for (size_t i = 0; i < v->len && !x->nomem; i++) {
            const aggregate_value_t *r = allow_rec(x, v->u.items[i], active, n_active, depth, 1);
            if (r != NULL)
                out->u.items[out->len++] = r;
        }
        return out;
    }
    if (v->kind != AGGREGATE_VALUE_OBJECT)
        return NULL;
    aggregate_value_t *out = aggregate_value_object(x->a, v->len < n_active ? v->len : n_active);
    size_t *sub = util_arena_alloc(x->a, n_active * sizeof(*sub));
    if (out == NULL || sub == NULL) {
        x->nomem = 1;
        return NULL;
    }
    for (size_t m = 0; m < v->len && !x->nomem; m++) {
        const aggregate_member_t *mem = &v->u.members[m];
        size_t n_sub = 0;
        for (size_t i = 0; i < n_active; i++)
            if (seg_is(mem, &x->paths[active[i]], depth))
                sub[n_sub++] = active[i];
        if (n_sub == 0)
            continue;
        const aggregate_value_t *r = allow_rec(x, mem->value, sub, n_sub, depth + 1, 0);
        if (r != NULL && aggregate_value_add(x->a, out, mem->key, mem->key_len, r) != 0)
            x->nomem = 1;
    }
    if (out->len == 0 && !in_array)
        return NULL;
    return out;
}

const aggregate_value_t *aggregate_json_allow(util_arena_t *a, const aggregate_value_t *v, const aggregate_path_t *paths, size_t n)
{
    allow_ctx_t x = {a, paths, 0};
    size_t *active = util_arena_alloc(a, (n ? n : 1) * sizeof(*active));
    if (active == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        active[i] = i;
    const aggregate_value_t *out = allow_rec(&x, v, active, n, 0, 0);
    if (x.nomem)
        return NULL;
    if (out == NULL)
        out = v->kind == AGGREGATE_VALUE_ARRAY ? aggregate_value_array(a, 0) : aggregate_value_object(a, 0);
    return out;
}

/* ---------------------------------------------------------------------------------------
 * deny, rename
 */

/* |object| without member |idx|. */
static const aggregate_value_t *object_without(util_arena_t *a, const aggregate_value_t *object, size_t idx)
{
    aggregate_value_t *out = aggregate_value_object(a, object->len);
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < object->len; i++)
        if (i != idx)
            out->u.members[out->len++] = object->u.members[i];
    return out;
}

/* |v| with member |idx| set to |value|. */
static const aggregate_value_t *object_with(util_arena_t *a, const aggregate_value_t *object, size_t idx,
                                            const aggregate_value_t *value)
{
    aggregate_value_t *out = aggregate_value_copy(a, object, 0);
    if (out != NULL)
        out->u.members[idx].value = value;
    return out;
}

/* Applies |f| to every element of array |v|; returns |v| itself when nothing changed. */
typedef const aggregate_value_t *(*elem_fn)(util_arena_t *a, const aggregate_value_t *v, const void *arg, size_t depth,
                                            size_t prefix);
static const aggregate_value_t *map_array(util_arena_t *a, const aggregate_value_t *v, elem_fn f, const void *arg, size_t depth,
                                          size_t prefix)
{
    aggregate_value_t *out = NULL;
    for (size_t i = 0; i < v->len; i++) {
        const aggregate_value_t *e = f(a, v->u.items[i], arg, depth, prefix);
        if (e == NULL)
            return NULL;
        if (e == v->u.items[i])
            continue;
        if (out == NULL && (out = aggregate_value_copy(a, v, 0)) == NULL)
            return NULL;
        out->u.items[i] = e;
    }
    return out != NULL ? out : v;
}

static const aggregate_value_t *deny_rec(util_arena_t *a, const aggregate_value_t *v, const void *arg, size_t depth, size_t unused)
{
    const aggregate_path_t *p = arg;
    if (v->kind == AGGREGATE_VALUE_ARRAY)
        return map_array(a, v, deny_rec, p, depth, unused);
    if (v->kind != AGGREGATE_VALUE_OBJECT)
        return v;
    long idx = aggregate_value_find(v, p->segs[depth], p->seg_lens[depth]);
    if (idx < 0)
        return v;
    if (depth + 1 == p->n)
        return object_without(a, v, (size_t)idx);
    const aggregate_value_t *child = v->u.members[idx].value;
    const aggregate_value_t *c = deny_rec(a, child, p, depth + 1, unused);
    return c == NULL ? NULL : c == child ? v : object_with(a, v, (size_t)idx, c);
}

const aggregate_value_t *aggregate_json_deny(util_arena_t *a, const aggregate_value_t *v, const aggregate_path_t *paths, size_t n)
{
    for (size_t i = 0; i < n && v != NULL; i++)
        v = deny_rec(a, v, &paths[i], 0, 0);
    return v;
}

/*
 * The renames of one shape run in order, each on the result of the last, as one chain of edits
 * (aggregate_owned_t): copying every object each move touches made five renames of a price
 * reply copy its root ten times, while the objects the renames created themselves can be
 * changed in place. Everything else (the reply) is copied as before.
 */

/* Object |v| without the member at p->segs[depth..] (walked through objects only). */
static const aggregate_value_t *without_path(aggregate_owned_t *x, const aggregate_value_t *v, const aggregate_path_t *p,
                                             size_t depth)
{
    long idx = aggregate_value_find(v, p->segs[depth], p->seg_lens[depth]);
    if (idx < 0)
        return v;
    const aggregate_value_t *child = v->u.members[idx].value, *c = NULL;
    if (depth + 1 < p->n) {
        if (child->kind != AGGREGATE_VALUE_OBJECT)
            return v;
        if ((c = without_path(x, child, p, depth + 1)) == NULL || c == child)
            return c == NULL ? NULL : v;
    }
    aggregate_value_t *out = aggregate_owned_object(x, v);
    if (out == NULL)
        return NULL;
    if (c != NULL) {
        out->u.members[idx].value = c;
    } else {
        memmove(&out->u.members[idx], &out->u.members[idx + 1], (out->len - (size_t)idx - 1) * sizeof(out->u.members[0]));
        out->len--;
    }
    return out;
}

/* Moves from[depth..] to to[depth..] inside object |v|. */
static const aggregate_value_t *move_at(aggregate_owned_t *x, const aggregate_value_t *v, const aggregate_rename_t *r, size_t depth)
{
    const aggregate_value_t *parent = v;
    for (size_t i = depth; i + 1 < r->from.n && parent != NULL; i++)
        parent = aggregate_value_get(parent, r->from.segs[i], r->from.seg_lens[i]);
    if (!aggregate_value_is(parent, AGGREGATE_VALUE_OBJECT))
        return v;
    const aggregate_value_t *val = aggregate_value_get(parent, r->from.segs[r->from.n - 1], r->from.seg_lens[r->from.n - 1]);
    if (val == NULL)
        return v;
    const aggregate_value_t *rest = without_path(x, v, &r->from, depth);
    return rest == NULL ? NULL : aggregate_path_set_owned(x, rest, &r->to, depth, val);
}

typedef struct rename_arg {
    aggregate_owned_t *x;
    const aggregate_rename_t *r;
} rename_arg_t;

static const aggregate_value_t *rename_rec(util_arena_t *a, const aggregate_value_t *v, const void *arg, size_t depth,
                                           size_t prefix)
{
    const rename_arg_t *ra = arg;
    const aggregate_rename_t *r = ra->r;
    if (v->kind == AGGREGATE_VALUE_ARRAY)
        return map_array(a, v, rename_rec, ra, depth, prefix);
    if (v->kind != AGGREGATE_VALUE_OBJECT)
        return v;
    if (depth == prefix)
        return move_at(ra->x, v, r, depth);
    long idx = aggregate_value_find(v, r->from.segs[depth], r->from.seg_lens[depth]);
    if (idx < 0)
        return v;
    const aggregate_value_t *child = v->u.members[idx].value;
    const aggregate_value_t *c = rename_rec(a, child, ra, depth + 1, prefix);
    return c == NULL ? NULL : c == child ? v : object_with(a, v, (size_t)idx, c);
}

static const aggregate_value_t *rename_one(aggregate_owned_t *x, const aggregate_value_t *v, const aggregate_rename_t *r)
{
    /* the shared prefix is walked (through arrays); the move happens below it, and at least
     * one segment of each side stays below it so both have a parent to live in */
    size_t prefix = 0;
    while (prefix + 1 < r->from.n && prefix + 1 < r->to.n && strcmp(r->from.segs[prefix], r->to.segs[prefix]) == 0)
        prefix++;
    rename_arg_t ra = {x, r};
    return rename_rec(x->a, v, &ra, 0, prefix);
}

const aggregate_value_t *aggregate_json_rename(util_arena_t *a, const aggregate_value_t *v, const aggregate_rename_t *r)
{
    aggregate_owned_t x = {.a = a};
    return rename_one(&x, v, r);
}

/* ---------------------------------------------------------------------------------------
 * deep merge, shaping, placing
 */

/* Objects this large on both sides merge through a member index (value.h). */
#define MERGE_INDEX_MIN 32

const aggregate_value_t *aggregate_json_merge(util_arena_t *a, const aggregate_value_t *dst, const aggregate_value_t *src)
{
    aggregate_value_t *out = aggregate_value_copy(a, dst, src->len);
    if (out == NULL)
        return NULL;
    aggregate_member_index_t ix = {NULL, 0};
    if (dst->len >= MERGE_INDEX_MIN && src->len >= MERGE_INDEX_MIN) {
        if (aggregate_member_index_init(a, &ix, dst->len + src->len) != 0)
            return NULL;
        for (size_t i = 0; i < out->len; i++)
            *aggregate_member_index_slot(&ix, out->u.members, out->u.members[i].key, out->u.members[i].key_len) = (uint32_t)i + 1;
    }
    for (size_t i = 0; i < src->len; i++) {
        const aggregate_member_t *s = &src->u.members[i];
        uint32_t *slot = ix.slots != NULL ? aggregate_member_index_slot(&ix, out->u.members, s->key, s->key_len) : NULL;
        long k = slot != NULL ? (long)*slot - 1 : aggregate_value_find(out, s->key, s->key_len);
        if (k < 0) {
            out->u.members[out->len++] = *s;
            if (slot != NULL)
                *slot = (uint32_t)out->len;
            continue;
        }
        const aggregate_value_t *d = out->u.members[k].value;
        if (d->kind == AGGREGATE_VALUE_OBJECT && s->value->kind == AGGREGATE_VALUE_OBJECT) {
            if ((d = aggregate_json_merge(a, d, s->value)) == NULL)
                return NULL;
            out->u.members[k].value = d;
        } else {
            out->u.members[k].value = s->value;
        }
    }
    return out;
}

static const char *kind_of(const aggregate_value_t *v)
{
    switch (v->kind) {
    case AGGREGATE_VALUE_OBJECT:
        return "an object";
    case AGGREGATE_VALUE_ARRAY:
        return "an array";
    case AGGREGATE_VALUE_STRING:
        return "a string";
    case AGGREGATE_VALUE_NUMBER:
        return "a number";
    case AGGREGATE_VALUE_TRUE:
    case AGGREGATE_VALUE_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

const aggregate_value_t *aggregate_shape_apply(util_arena_t *a, const aggregate_shape_t *s, const aggregate_value_t *response,
                                               char *why, size_t why_size)
{
    const aggregate_value_t *v = response;
    if (s->target != NULL && (v = aggregate_path_get(response, s->target, 0, NULL)) == NULL) {
        snprintf(why, why_size, "the response has no \"%s\" (target)", s->target->text);
        return NULL;
    }
    const aggregate_value_t *out = s->n_allow ? aggregate_json_allow(a, v, s->allow, s->n_allow) : v;
    if (out != NULL)
        out = aggregate_json_deny(a, out, s->deny, s->n_deny);
    aggregate_owned_t x = {.a = a};
    for (size_t i = 0; i < s->n_renames && out != NULL; i++)
        out = rename_one(&x, out, &s->renames[i]);
    if (out == NULL) {
        snprintf(why, why_size, "out of memory");
        return NULL;
    }
    if (s->collection != NULL && out->kind != AGGREGATE_VALUE_ARRAY) {
        snprintf(why, why_size, "the response%s%s is %s, not an array (collection)", s->target ? " target " : "",
                 s->target ? s->target->text : "", kind_of(out));
        return NULL;
    }
    if (s->collection == NULL && s->group == NULL && out->kind != AGGREGATE_VALUE_OBJECT) {
        snprintf(why, why_size, "the response%s%s is %s: only objects merge into the root (use \"group\" or \"collection\")",
                 s->target ? " target " : "", s->target ? s->target->text : "", kind_of(out));
        return NULL;
    }
    return out;
}

const aggregate_value_t *aggregate_shape_place(util_arena_t *a, const aggregate_value_t *doc, const aggregate_shape_t *s,
                                               const aggregate_value_t *part)
{
    const aggregate_path_t *at = s->collection != NULL ? s->collection : s->group;
    if (at == NULL)
        return aggregate_json_merge(a, doc, part);
    const aggregate_value_t *existing = aggregate_path_get(doc, at, 0, NULL);
    const aggregate_value_t *value = part;
    if (s->collection != NULL && s->concat && aggregate_value_is(existing, AGGREGATE_VALUE_ARRAY) &&
        part->kind == AGGREGATE_VALUE_ARRAY) {
        aggregate_value_t *joined = aggregate_value_copy(a, existing, part->len);
        if (joined == NULL)
            return NULL;
        for (size_t i = 0; i < part->len; i++)
            joined->u.items[joined->len++] = part->u.items[i];
        value = joined;
    } else if (aggregate_value_is(existing, AGGREGATE_VALUE_OBJECT) && part->kind == AGGREGATE_VALUE_OBJECT) {
        if ((value = aggregate_json_merge(a, existing, part)) == NULL)
            return NULL;
    }
    return aggregate_path_set(a, doc, at, 0, value);
}
