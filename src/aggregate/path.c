/*
 * path.c — dotted paths ("data.items.id") of the aggregation format: parsing at load time, and
 * reading the value at a path of a document, or a copy of it with a value set there (value.h:
 * documents are immutable; only the objects along the path are copied), at run time. The merge rules
 * (merge.c) and the templates (template.c) both address JSON this way.
 *
 * Written by hand: jansson has no path syntax, and JSON Pointer ("/a/b") would make every key
 * of the format harder to read than KrakenD's dotted names, which users already know.
 */
#include "aggregate/aggregate_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int aggregate_path_parse(util_arena_t *a, const char *text, aggregate_path_t *out, char *why, size_t why_size)
{
    size_t len = strlen(text), n = 1;
    if (len == 0) {
        snprintf(why, why_size, "empty path");
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\\')
            i++;
        else if (text[i] == '.')
            n++;
    }
    const char **segs = util_arena_alloc(a, n * sizeof(*segs));
    char *copy = util_arena_alloc(a, len + 1);
    if (segs == NULL || copy == NULL) {
        snprintf(why, why_size, "out of memory");
        return -1;
    }
    size_t k = 0, o = 0;
    segs[0] = copy;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '\\') {
            if (i + 1 == len || (text[i + 1] != '.' && text[i + 1] != '\\')) {
                snprintf(why, why_size, "\"%s\": a backslash must be followed by \".\" or \"\\\" (column %zu)", text, i + 1);
                return -1;
            }
            copy[o++] = text[++i];
            continue;
        }
        if (c == '.') {
            if (copy + o == segs[k]) {
                snprintf(why, why_size, "\"%s\": empty segment at column %zu", text, i + 1);
                return -1;
            }
            copy[o++] = '\0';
            segs[++k] = copy + o;
            continue;
        }
        copy[o++] = c;
    }
    if (copy + o == segs[k]) {
        snprintf(why, why_size, "\"%s\": empty segment at column %zu", text, len);
        return -1;
    }
    copy[o] = '\0';
    size_t *lens = util_arena_alloc(a, n * sizeof(*lens));
    if (lens == NULL) {
        snprintf(why, why_size, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        lens[i] = strlen(segs[i]);
    out->text = util_arena_strdup(a, text);
    out->segs = segs;
    out->seg_lens = lens;
    out->n = n;
    return out->text == NULL ? -1 : 0;
}

/* "0", "17": an array index; no sign, no leading zeros. */
static int parse_index(const char *s, size_t *out)
{
    if (*s == '\0' || (s[0] == '0' && s[1] != '\0'))
        return -1;
    size_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (SIZE_MAX - 9) / 10)
            return -1;
        v = v * 10 + (size_t)(*s - '0');
    }
    *out = v;
    return 0;
}

const aggregate_value_t *aggregate_path_get(const aggregate_value_t *root, const aggregate_path_t *p, size_t first,
                                            const char *const *alt)
{
    const aggregate_value_t *v = root;
    for (size_t i = first; i < p->n && v != NULL; i++) {
        if (v->kind == AGGREGATE_VALUE_OBJECT) {
            const aggregate_value_t *next = aggregate_value_get(v, p->segs[i], p->seg_lens[i]);
            if (next == NULL && alt != NULL && alt[i] != NULL)
                next = aggregate_value_get(v, alt[i], strlen(alt[i]));
            v = next;
        } else if (v->kind == AGGREGATE_VALUE_ARRAY) {
            size_t idx;
            v = parse_index(p->segs[i], &idx) == 0 && idx < v->len ? v->u.items[idx] : NULL;
        } else {
            v = NULL;
        }
    }
    return v;
}

aggregate_value_t *aggregate_owned_object(aggregate_owned_t *x, const aggregate_value_t *v)
{
    for (size_t i = 0; i < x->n; i++)
        if (x->objs[i] == v)
            return x->objs[i];
    aggregate_value_t *c = aggregate_value_copy(x->a, v, 1);
    if (c != NULL && x->n < AGGREGATE_OWNED_MAX)
        x->objs[x->n++] = c;
    return c;
}

const aggregate_value_t *aggregate_path_set_owned(aggregate_owned_t *x, const aggregate_value_t *root, const aggregate_path_t *p,
                                                  size_t first, const aggregate_value_t *value)
{
    const char *key = p->segs[first];
    size_t key_len = p->seg_lens[first];
    const aggregate_value_t *child = value;
    if (first + 1 < p->n) {
        const aggregate_value_t *old = aggregate_value_get(root, key, key_len);
        if (!aggregate_value_is(old, AGGREGATE_VALUE_OBJECT)) {
            aggregate_value_t *fresh = aggregate_value_object(x->a, 1);
            if (fresh != NULL && x->n < AGGREGATE_OWNED_MAX)
                x->objs[x->n++] = fresh;
            old = fresh;
        }
        if (old == NULL || (child = aggregate_path_set_owned(x, old, p, first + 1, value)) == NULL)
            return NULL;
    }
    aggregate_value_t *out = aggregate_owned_object(x, root);
    if (out == NULL || aggregate_value_set(x->a, out, key, key_len, child) != 0)
        return NULL;
    return out;
}

const aggregate_value_t *aggregate_path_set(util_arena_t *a, const aggregate_value_t *root, const aggregate_path_t *p, size_t first,
                                            const aggregate_value_t *value)
{
    if (!aggregate_value_is(root, AGGREGATE_VALUE_OBJECT) || first >= p->n || value == NULL)
        return NULL;
    aggregate_owned_t x = {.a = a}; /* a chain of one edit: copies |root| and what the path crosses */
    return aggregate_path_set_owned(&x, root, p, first, value);
}
