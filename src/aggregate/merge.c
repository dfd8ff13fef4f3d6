/*
 * merge.c — the merge rules of composite endpoints, on jansson values: shaping one call's
 * response (target, allow, deny, rename) and placing it in the merged document (group,
 * collection, deep merge into the root). docs/AGGREGATION.md states the rules; this file is
 * their only implementation.
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

/* ---------------------------------------------------------------------------------------
 * allow
 */

/*
 * Filters |v| to the members on the active paths (indexes into |paths| whose first |depth|
 * segments led here). Returns a new reference, or NULL when nothing on the paths is present.
 * Objects inside arrays are kept even when empty, so that allow never changes array lengths
 * of object arrays; scalars where a path goes deeper are dropped.
 */
static json_t *allow_rec(const json_t *v, const aggregate_path_t *paths, const size_t *active, size_t n_active, size_t depth,
                         int in_array)
{
    for (size_t i = 0; i < n_active; i++)
        if (paths[active[i]].n == depth)
            return json_deep_copy(v); /* a path ends here: the whole subtree is allowed */
    if (json_is_array(v)) {
        json_t *out = json_array();
        size_t idx;
        json_t *elem;
        json_array_foreach(v, idx, elem)
        {
            json_t *r = allow_rec(elem, paths, active, n_active, depth, 1);
            if (r != NULL)
                json_array_append_new(out, r);
        }
        return out;
    }
    if (!json_is_object(v))
        return NULL;
    json_t *out = json_object();
    size_t *sub = malloc(n_active * sizeof(*sub));
    if (out == NULL || sub == NULL) {
        free(sub);
        json_decref(out);
        return NULL;
    }
    const char *key;
    json_t *child;
    json_object_foreach((json_t *)v, key, child)
    {
        size_t n_sub = 0;
        for (size_t i = 0; i < n_active; i++)
            if (strcmp(paths[active[i]].segs[depth], key) == 0)
                sub[n_sub++] = active[i];
        if (n_sub == 0)
            continue;
        json_t *r = allow_rec(child, paths, sub, n_sub, depth + 1, 0);
        if (r != NULL)
            json_object_set_new(out, key, r);
    }
    free(sub);
    if (json_object_size(out) == 0 && !in_array) {
        json_decref(out);
        return NULL;
    }
    return out;
}

json_t *aggregate_json_allow(const json_t *v, const aggregate_path_t *paths, size_t n)
{
    size_t *active = malloc((n ? n : 1) * sizeof(*active));
    if (active == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        active[i] = i;
    json_t *out = allow_rec(v, paths, active, n, 0, 0);
    free(active);
    if (out == NULL)
        out = json_is_array(v) ? json_array() : json_object();
    return out;
}

/* ---------------------------------------------------------------------------------------
 * deny, rename
 */

static void deny_rec(json_t *v, const aggregate_path_t *p, size_t depth)
{
    if (json_is_array(v)) {
        size_t i;
        json_t *elem;
        json_array_foreach(v, i, elem) deny_rec(elem, p, depth);
        return;
    }
    if (!json_is_object(v))
        return;
    if (depth + 1 == p->n)
        json_object_del(v, p->segs[depth]);
    else
        deny_rec(json_object_get(v, p->segs[depth]), p, depth + 1);
}

void aggregate_json_deny(json_t *v, const aggregate_path_t *paths, size_t n)
{
    for (size_t i = 0; i < n; i++)
        deny_rec(v, &paths[i], 0);
}

/* Moves from[depth..] to to[depth..] inside object |v|. */
static void move_at(json_t *v, const aggregate_rename_t *r, size_t depth)
{
    json_t *parent = v;
    for (size_t i = depth; i + 1 < r->from.n && parent != NULL; i++)
        parent = json_object_get(parent, r->from.segs[i]);
    if (!json_is_object(parent))
        return;
    json_t *val = json_object_get(parent, r->from.segs[r->from.n - 1]);
    if (val == NULL)
        return;
    json_incref(val);
    json_object_del(parent, r->from.segs[r->from.n - 1]);
    aggregate_path_set(v, &r->to, depth, val);
}

static void rename_rec(json_t *v, const aggregate_rename_t *r, size_t depth, size_t prefix)
{
    if (json_is_array(v)) {
        size_t i;
        json_t *elem;
        json_array_foreach(v, i, elem) rename_rec(elem, r, depth, prefix);
        return;
    }
    if (!json_is_object(v))
        return;
    if (depth == prefix)
        move_at(v, r, depth);
    else
        rename_rec(json_object_get(v, r->from.segs[depth]), r, depth + 1, prefix);
}

void aggregate_json_rename(json_t *v, const aggregate_rename_t *r)
{
    /* the shared prefix is walked (through arrays); the move happens below it, and at least
     * one segment of each side stays below it so both have a parent to live in */
    size_t prefix = 0;
    while (prefix + 1 < r->from.n && prefix + 1 < r->to.n && strcmp(r->from.segs[prefix], r->to.segs[prefix]) == 0)
        prefix++;
    rename_rec(v, r, 0, prefix);
}

/* ---------------------------------------------------------------------------------------
 * deep merge, shaping, placing
 */

void aggregate_json_merge(json_t *dst, const json_t *src)
{
    const char *key;
    json_t *s;
    json_object_foreach((json_t *)src, key, s)
    {
        json_t *d = json_object_get(dst, key);
        if (json_is_object(d) && json_is_object(s))
            aggregate_json_merge(d, s);
        else
            json_object_set_new(dst, key, json_deep_copy(s));
    }
}

static const char *kind_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

json_t *aggregate_shape_apply(const aggregate_shape_t *s, const json_t *response, char *why, size_t why_size)
{
    const json_t *v = response;
    if (s->target != NULL && (v = aggregate_path_get((json_t *)response, s->target, 0, NULL)) == NULL) {
        snprintf(why, why_size, "the response has no \"%s\" (target)", s->target->text);
        return NULL;
    }
    json_t *out = s->n_allow ? aggregate_json_allow(v, s->allow, s->n_allow) : json_deep_copy(v);
    if (out == NULL) {
        snprintf(why, why_size, "out of memory");
        return NULL;
    }
    aggregate_json_deny(out, s->deny, s->n_deny);
    for (size_t i = 0; i < s->n_renames; i++)
        aggregate_json_rename(out, &s->renames[i]);
    if (s->collection != NULL && !json_is_array(out)) {
        snprintf(why, why_size, "the response%s%s is %s, not an array (collection)", s->target ? " target " : "",
                 s->target ? s->target->text : "", kind_of(out));
        json_decref(out);
        return NULL;
    }
    if (s->collection == NULL && s->group == NULL && !json_is_object(out)) {
        snprintf(why, why_size, "the response%s%s is %s: only objects merge into the root (use \"group\" or \"collection\")",
                 s->target ? " target " : "", s->target ? s->target->text : "", kind_of(out));
        json_decref(out);
        return NULL;
    }
    return out;
}

int aggregate_shape_place(json_t *doc, const aggregate_shape_t *s, const json_t *part)
{
    const aggregate_path_t *at = s->collection != NULL ? s->collection : s->group;
    if (at == NULL) {
        aggregate_json_merge(doc, part);
        return 0;
    }
    json_t *existing = aggregate_path_get(doc, at, 0, NULL);
    if (s->collection != NULL && s->concat && json_is_array(existing) && json_is_array(part)) {
        json_t *copy = json_deep_copy(part);
        int rc = copy == NULL ? -1 : json_array_extend(existing, copy);
        json_decref(copy);
        return rc;
    }
    if (json_is_object(existing) && json_is_object(part)) {
        aggregate_json_merge(existing, part);
        return 0;
    }
    json_t *copy = json_deep_copy(part);
    return copy == NULL ? -1 : aggregate_path_set(doc, at, 0, copy);
}
