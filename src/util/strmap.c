/*
 * strmap.c — string-keyed open-addressing hash map (FNV-1a, linear probing); see strmap.h.
 */
#include "util/strmap.h"

#include <stdlib.h>
#include <string.h>

void util_strmap_init(util_strmap_t *m)
{
    m->slots = NULL;
    m->mask = 0;
    m->count = 0;
}

void util_strmap_dispose(util_strmap_t *m)
{
    free(m->slots);
    util_strmap_init(m);
}

uint64_t util_strmap_hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static util_strmap_entry_t *find_slot(util_strmap_entry_t *slots, size_t mask, const char *key, size_t len, uint64_t h)
{
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        util_strmap_entry_t *e = &slots[i];
        if (e->key == NULL)
            return e;
        if (e->hash == h && e->key_len == len && memcmp(e->key, key, len) == 0)
            return e;
    }
}

void *util_strmap_get(const util_strmap_t *m, const char *key, size_t len)
{
    if (m->slots == NULL)
        return NULL;
    util_strmap_entry_t *e = find_slot(m->slots, m->mask, key, len, util_strmap_hash(key, len));
    return e->key != NULL ? e->value : NULL;
}

static int grow_to(util_strmap_t *m, size_t cap)
{
    util_strmap_entry_t *slots = calloc(cap, sizeof(*slots));
    if (slots == NULL)
        return -1;
    if (m->slots != NULL) {
        for (size_t i = 0; i <= m->mask; i++) {
            util_strmap_entry_t *e = &m->slots[i];
            if (e->key != NULL)
                *find_slot(slots, cap - 1, e->key, e->key_len, e->hash) = *e;
        }
        free(m->slots);
    }
    m->slots = slots;
    m->mask = cap - 1;
    return 0;
}

static size_t capacity(const util_strmap_t *m)
{
    return m->slots == NULL ? 0 : m->mask + 1;
}

int util_strmap_reserve(util_strmap_t *m, size_t count)
{
    size_t cap = capacity(m) ? capacity(m) : 16;
    while (count * 4 > cap * 3)
        cap *= 2;
    return cap == capacity(m) ? 0 : grow_to(m, cap);
}

int util_strmap_put(util_strmap_t *m, const char *key, void *value)
{
    if (util_strmap_reserve(m, m->count + 1) != 0)
        return -1;
    size_t len = strlen(key);
    uint64_t h = util_strmap_hash(key, len);
    util_strmap_entry_t *e = find_slot(m->slots, m->mask, key, len, h);
    if (e->key == NULL) {
        e->key = key;
        e->key_len = len;
        e->hash = h;
        m->count++;
    }
    e->value = value;
    return 0;
}
