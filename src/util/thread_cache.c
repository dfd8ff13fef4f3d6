/*
 * thread_cache.c — per-thread reusable memory; see thread_cache.h.
 */
#include "util/thread_cache.h"

#include <pthread.h>
#include <stdlib.h>

static pthread_key_t cache_key;
/* The thread's cache, reached through a thread-local pointer (pthread_getspecific on every
 * buffer taken and given back was a measurable share of a composite request); the pthread key
 * is only there to free it when the thread ends. */
static __thread util_thread_cache_t *thread_cache;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_free(void *p)
{
    util_thread_cache_t *tc = p;
    thread_cache = NULL;
    util_buf_dispose(&tc->scratch);
    for (size_t i = 0; i < tc->n_spares; i++)
        util_buf_dispose(&tc->spares[i]);
    free(tc->spare_chunk);
    free(tc);
}

static void cache_key_init(void)
{
    (void)pthread_key_create(&cache_key, cache_free);
}

util_thread_cache_t *util_thread_cache(void)
{
    util_thread_cache_t *tc = thread_cache;
    if (tc != NULL)
        return tc;
    pthread_once(&cache_once, cache_key_init);
    if ((tc = calloc(1, sizeof(*tc))) == NULL)
        return NULL;
    if (pthread_setspecific(cache_key, tc) != 0) {
        free(tc);
        return NULL;
    }
    thread_cache = tc;
    return tc;
}

util_buf_t *util_buf_scratch(void)
{
    util_thread_cache_t *tc = util_thread_cache();
    if (tc == NULL)
        return NULL;
    tc->scratch.len = 0;
    tc->scratch.failed = 0;
    return &tc->scratch;
}

util_buf_t util_buf_take(void)
{
    util_thread_cache_t *tc = util_thread_cache();
    util_buf_t b = UTIL_BUF_INIT;
    if (tc != NULL && tc->n_spares != 0)
        b = tc->spares[--tc->n_spares];
    return b;
}

void util_buf_give(util_buf_t *b)
{
    util_thread_cache_t *tc = b->data != NULL && !b->failed && b->cap <= UTIL_BUF_SPARE_MAX ? util_thread_cache() : NULL;
    if (tc != NULL && tc->n_spares < UTIL_BUF_SPARES) {
        b->len = 0;
        tc->spares[tc->n_spares++] = *b;
        util_buf_init(b);
        return;
    }
    util_buf_dispose(b);
}
