/*
 * strmap.h — an open-addressing hash map from NUL-terminated string keys to pointers.
 * Keys are not copied: they must outlive the map (the registry keys point into its arena).
 * Used for build-once lookup tables; lookups do not allocate.
 */
#ifndef PORTICO_UTIL_STRMAP_H
#define PORTICO_UTIL_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct util_strmap_entry {
    const char *key;
    size_t key_len;
    uint64_t hash;
    void *value;
} util_strmap_entry_t;

typedef struct util_strmap {
    util_strmap_entry_t *slots;
    size_t mask; /* capacity - 1, capacity a power of two */
    size_t count;
} util_strmap_t;

void util_strmap_init(util_strmap_t *m);
void util_strmap_dispose(util_strmap_t *m);
uint64_t util_strmap_hash(const char *s, size_t len);
/* Looks |key| (|len| bytes, need not be NUL-terminated) up; NULL when absent. */
void *util_strmap_get(const util_strmap_t *m, const char *key, size_t len);
/* Grows the table so that |count| entries fit without reallocation; returns 0 or -1. */
int util_strmap_reserve(util_strmap_t *m, size_t count);
/* Inserts or replaces; returns 0, or -1 on allocation failure. */
int util_strmap_put(util_strmap_t *m, const char *key, void *value);

#endif
