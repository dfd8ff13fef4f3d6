/*
 * thread_cache.h — memory a worker thread keeps between requests, so that per-request code on
 * the hot path reuses it instead of a malloc/free each time: a scratch text buffer, and the
 * spare chunk of the per-request (raw) arenas (util/arena.c). One pthread key holds it and
 * frees it when the thread ends.
 */
#ifndef PORTICO_UTIL_THREAD_CACHE_H
#define PORTICO_UTIL_THREAD_CACHE_H

#include "util/buf.h"

/* Spare buffers a thread keeps (util_buf_take / util_buf_give), and the largest one kept. */
#define UTIL_BUF_SPARES 32
#define UTIL_BUF_SPARE_MAX ((size_t)64 << 10)

typedef struct util_thread_cache {
    util_buf_t scratch; /* see util_buf_scratch */
    void *spare_chunk;  /* a free standard arena chunk (malloc'd), or NULL */
    util_buf_t spares[UTIL_BUF_SPARES];
    size_t n_spares;
} util_thread_cache_t;

/* The calling thread's cache, created on first use; NULL when out of memory. */
util_thread_cache_t *util_thread_cache(void);

/* The calling thread's scratch buffer, emptied: for text that is built and then copied where
 * it lives (an arena, a request pool). Valid until the thread's next call; never nest two uses.
 * NULL when out of memory. */
util_buf_t *util_buf_scratch(void);

/* An empty buffer that already has room when the thread has a spare one: for a buffer a
 * request (or an upstream call) fills and drops, which would otherwise grow from nothing by
 * reallocs every time. Give it back with util_buf_give when done. */
util_buf_t util_buf_take(void);
/* Ends the use of |b| (taken or not): kept as one of the thread's spares when there is room and
 * it is not too big, else freed. |b| is left empty. */
void util_buf_give(util_buf_t *b);

#endif
