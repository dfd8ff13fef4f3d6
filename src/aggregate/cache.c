/*
 * cache.c — the per-worker response cache of aggregation calls ("cache_ttl_ms"): backend
 * responses as JSON text, keyed by the built request (upstream, method, path or message,
 * headers), each with its own expiry, bounded in entries and in bytes. A hit is parsed again
 * into the run's arena (value.h), which costs less than keeping parsed values alive across runs.
 *
 * The map is a jansson object: it is already a hash table and it keeps insertion order (so the
 * oldest entry is the first one iterated: FIFO eviction for free). One cache per worker thread;
 * jansson's reference counts are not atomic, so a cache must never be shared between threads.
 */
#include "aggregate/aggregate_int.h"

#include <stdlib.h>

#define CACHE_DEFAULT_ENTRIES 10000
#define CACHE_DEFAULT_BYTES ((size_t)64 << 20)

struct aggregate_cache {
    json_t *map; /* key → [expires_at_ms, bytes, value] */
    size_t max_entries;
    size_t max_bytes;
    size_t bytes;
};

aggregate_cache_t *aggregate_cache_new(size_t max_entries, size_t max_bytes)
{
    aggregate_cache_t *c = calloc(1, sizeof(*c));
    if (c == NULL || (c->map = json_object()) == NULL) {
        free(c);
        return NULL;
    }
    c->max_entries = max_entries ? max_entries : CACHE_DEFAULT_ENTRIES;
    c->max_bytes = max_bytes ? max_bytes : CACHE_DEFAULT_BYTES;
    return c;
}

void aggregate_cache_free(aggregate_cache_t *c)
{
    if (c == NULL)
        return;
    json_decref(c->map);
    free(c);
}

size_t aggregate_cache_count(const aggregate_cache_t *c)
{
    return c == NULL ? 0 : json_object_size(c->map);
}

static uint64_t entry_expiry(const json_t *e)
{
    return (uint64_t)json_integer_value(json_array_get(e, 0));
}

static void entry_remove(aggregate_cache_t *c, const char *key, const json_t *e)
{
    c->bytes -= (size_t)json_integer_value(json_array_get(e, 1));
    json_object_del(c->map, key);
}

const char *aggregate_cache_get(aggregate_cache_t *c, const char *key, uint64_t now, size_t *len)
{
    json_t *e = c == NULL ? NULL : json_object_get(c->map, key);
    if (e == NULL)
        return NULL;
    if (now >= entry_expiry(e)) {
        entry_remove(c, key, e);
        return NULL;
    }
    json_t *text = json_array_get(e, 2);
    *len = json_string_length(text);
    return json_string_value(text);
}

/* Drops expired entries, then the oldest ones, until one more entry of |bytes| fits. */
static void make_room(aggregate_cache_t *c, size_t bytes, uint64_t now)
{
    if (json_object_size(c->map) < c->max_entries && c->bytes + bytes <= c->max_bytes)
        return;
    const char *key;
    json_t *e, *tmp;
    json_object_foreach_safe(c->map, tmp, key, e)
    {
        if (now >= entry_expiry(e))
            entry_remove(c, key, e);
    }
    while (json_object_size(c->map) > 0 && (json_object_size(c->map) >= c->max_entries || c->bytes + bytes > c->max_bytes)) {
        void *it = json_object_iter(c->map);
        entry_remove(c, json_object_iter_key(it), json_object_iter_value(it));
    }
}

void aggregate_cache_put(aggregate_cache_t *c, const char *key, const char *text, size_t len, uint64_t now, uint32_t ttl_ms)
{
    size_t bytes = len + 64;
    if (c == NULL || ttl_ms == 0 || bytes > c->max_bytes)
        return;
    json_t *old = json_object_get(c->map, key);
    if (old != NULL)
        entry_remove(c, key, old); /* re-inserted at the end: it is the newest now */
    make_room(c, bytes, now);
    json_t *e = json_pack("[IIo]", (json_int_t)(now + ttl_ms), (json_int_t)bytes, json_stringn_nocheck(text, len));
    if (e == NULL)
        return;
    if (json_object_set_new(c->map, key, e) == 0)
        c->bytes += bytes;
}
