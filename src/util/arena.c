/*
 * arena.c — bump allocator; see arena.h.
 */
#include "util/arena.h"
#include "util/thread_cache.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct util_arena_chunk {
    util_arena_chunk_t *next;
    size_t size;
    _Alignas(16) unsigned char data[];
};

#define ARENA_CHUNK 16384

void util_arena_init(util_arena_t *a)
{
    a->chunks = NULL;
    a->base = NULL;
    a->used = a->cap = 0;
    a->raw = 0;
}

void util_arena_init_raw(util_arena_t *a)
{
    util_arena_init(a);
    a->raw = 1;
}

/* A chunk of |size| data bytes: zeroed unless the arena is raw. Raw arenas are per-request (a
 * composite run): a standard chunk comes from, and goes back to, the thread's spare
 * (util/thread_cache.h) instead of a malloc/free of 16 KiB per request, which also made glibc
 * consolidate its fastbins every time. */
static util_arena_chunk_t *chunk_new(const util_arena_t *a, size_t size)
{
    util_thread_cache_t *tc = a->raw && size == ARENA_CHUNK ? util_thread_cache() : NULL;
    if (tc != NULL && tc->spare_chunk != NULL) {
        util_arena_chunk_t *spare = tc->spare_chunk;
        tc->spare_chunk = NULL;
        return spare;
    }
    util_arena_chunk_t *c = a->raw ? malloc(sizeof(*c) + size) : calloc(1, sizeof(*c) + size);
    if (c != NULL)
        c->size = size;
    return c;
}

static void chunk_free(const util_arena_t *a, util_arena_chunk_t *c)
{
    util_thread_cache_t *tc = a->raw && c->size == ARENA_CHUNK ? util_thread_cache() : NULL;
    if (tc != NULL && tc->spare_chunk == NULL)
        tc->spare_chunk = c;
    else
        free(c);
}

void util_arena_dispose(util_arena_t *a)
{
    util_arena_chunk_t *c = a->chunks;
    while (c != NULL) {
        util_arena_chunk_t *next = c->next;
        chunk_free(a, c);
        c = next;
    }
    int raw = a->raw;
    util_arena_init(a);
    a->raw = raw;
}

void *util_arena_alloc_slow(util_arena_t *a, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    if (size == 0)
        return NULL; /* rounded past SIZE_MAX */
    if (a->chunks == NULL || a->cap - a->used < size) {
        if (size > ARENA_CHUNK / 4) {
            /* large block: its own chunk, linked behind the current one so bumping goes on */
            util_arena_chunk_t *big = chunk_new(a, size);
            if (big == NULL)
                return NULL;
            if (a->chunks == NULL) {
                big->next = NULL;
                a->chunks = big;
                a->base = big->data;
                a->used = a->cap = size;
            } else {
                big->next = a->chunks->next;
                a->chunks->next = big;
            }
            return big->data;
        }
        util_arena_chunk_t *c = chunk_new(a, ARENA_CHUNK);
        if (c == NULL)
            return NULL;
        c->next = a->chunks;
        a->chunks = c;
        a->base = c->data;
        a->used = 0;
        a->cap = ARENA_CHUNK;
    }
    void *p = a->base + a->used;
    a->used += size;
    return p;
}

char *util_arena_strndup(util_arena_t *a, const char *s, size_t len)
{
    char *p = util_arena_alloc(a, len + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *util_arena_strdup(util_arena_t *a, const char *s)
{
    return util_arena_strndup(a, s, strlen(s));
}

void util_arena_merge(util_arena_t *to, util_arena_t *from)
{
    if (from->chunks == NULL)
        return;
    /* |from|'s chunks go behind |to|'s current chunk so |to| keeps bumping where it was */
    util_arena_chunk_t *last = from->chunks;
    while (last->next != NULL)
        last = last->next;
    if (to->chunks == NULL) {
        *to = *from;
    } else {
        last->next = to->chunks->next;
        to->chunks->next = from->chunks;
    }
    util_arena_init(from);
}
