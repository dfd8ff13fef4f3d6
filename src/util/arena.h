/*
 * arena.h — a bump allocator for long-lived, build-once structures (the descriptor
 * registry, route tables): many small allocations, one free. Not for request memory,
 * which comes from h2o's per-request pool.
 */
#ifndef PORTICO_UTIL_ARENA_H
#define PORTICO_UTIL_ARENA_H

#include <stddef.h>

typedef struct util_arena_chunk util_arena_chunk_t;

typedef struct util_arena {
    util_arena_chunk_t *chunks;
    unsigned char *base; /* the newest chunk's data */
    size_t used;         /* bytes used in the newest chunk */
    size_t cap;          /* capacity of the newest chunk */
    int raw;             /* allocations are not zeroed (util_arena_init_raw) */
} util_arena_t;

void util_arena_init(util_arena_t *a);
/* As util_arena_init, for short-lived arenas whose users initialize every byte they read:
 * util_arena_alloc() then returns memory that is not zeroed (zeroing each new 16 KiB chunk
 * was a measurable share of a composite request). */
void util_arena_init_raw(util_arena_t *a);
void util_arena_dispose(util_arena_t *a);
void *util_arena_alloc_slow(util_arena_t *a, size_t size);

/* Zeroed (unless the arena is raw), 16-byte aligned memory, or NULL on allocation failure.
 * Inline: a composite request makes a few hundred small allocations. (A non-raw arena's
 * chunks are zeroed when made, so bumping needs no memset either way.) */
static inline void *util_arena_alloc(util_arena_t *a, size_t size)
{
    size = size != 0 ? (size + 15) & ~(size_t)15 : 16;
    if (a->cap - a->used >= size && size != 0) {
        void *p = a->base + a->used;
        a->used += size;
        return p;
    }
    return util_arena_alloc_slow(a, size);
}
/* Copies |len| bytes of |s| and a terminating NUL. */
char *util_arena_strndup(util_arena_t *a, const char *s, size_t len);
char *util_arena_strdup(util_arena_t *a, const char *s);
/* Moves every chunk of |from| into |to| (|from| is left empty). */
void util_arena_merge(util_arena_t *to, util_arena_t *from);

#endif
