/*
 * thread_cache.h — memory a worker thread keeps between requests, so that per-request code on
 * the hot path reuses it instead of a malloc/free each time: a scratch text buffer, and the
 * spare chunk of the per-request (raw) arenas (util/arena.c). One pthread key holds it and
 * frees it when the thread ends.
 */
#ifndef PORTICO_UTIL_THREAD_CACHE_H
#define PORTICO_UTIL_THREAD_CACHE_H

#include "util/buf.h"

typedef struct util_thread_cache {
    util_buf_t scratch; /* see util_buf_scratch */
    void *spare_chunk;  /* a free standard arena chunk (malloc'd), or NULL */
} util_thread_cache_t;

/* The calling thread's cache, created on first use; NULL when out of memory. */
util_thread_cache_t *util_thread_cache(void);

/* The calling thread's scratch buffer, emptied: for text that is built and then copied where
 * it lives (an arena, a request pool). Valid until the thread's next call; never nest two uses.
 * NULL when out of memory. */
util_buf_t *util_buf_scratch(void);

#endif
