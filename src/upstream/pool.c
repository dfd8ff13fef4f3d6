/*
 * pool.c — the per-worker, per-upstream pool of HTTP/2 connections: target resolution,
 * round-robin placement of calls on connections with free streams, the FIFO of calls waiting
 * for one, on-demand connection opening with exponential backoff (and fail-fast while every
 * target backs off), and the end-of-iteration tick that dispatches waiting calls and frees the
 * graveyard (see grpc_client.h for the lifetime rule). See upstream.h for the contract.
 */
#include "upstream/grpc_client.h"
#include "upstream/target.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef PORTICO_VERSION
#define PORTICO_VERSION "dev"
#endif

/* Streams a connection is expected to carry before its SETTINGS say otherwise (nghttp2's
 * default for the peer's limit): how many waiting calls justify one more connection. */
#define ASSUMED_STREAMS_PER_CONN 100

static char *dup_or_null(const char *s)
{
    return s == NULL ? NULL : strdup(s);
}

/* Resolves |spec| into |t| (see target.h). */
static int target_init(upstream_target_t *t, const char *spec, util_error_t *err)
{
    upstream_target_addr_t a;
    if (upstream_target_resolve(spec, 0, &a, err) != 0)
        return -1;
    t->host = a.host;
    t->authority = a.authority;
    t->addr = a.addr;
    t->addrlen = a.addrlen;
    return 0;
}

static void on_tick(h2o_timeout_entry_t *entry);

upstream_grpc_pool_t *upstream_grpc_pool_new(h2o_loop_t *loop, const upstream_grpc_config_t *cfg, util_error_t *err)
{
    if (cfg->n_targets == 0 || cfg->targets == NULL) {
        util_error_set(err, -1, "upstream has no targets");
        return NULL;
    }
    upstream_grpc_pool_t *pool = calloc(1, sizeof(*pool));
    if (pool == NULL) {
        util_error_set(err, -1, "out of memory");
        return NULL;
    }
    pool->loop = loop;
    pool->cfg = *cfg;
    pool->cfg.targets = NULL;
    upstream_target_config_defaults(&pool->cfg.connect_timeout_ms, &pool->cfg.max_connections_per_target,
                                    &pool->cfg.backoff_initial_ms, &pool->cfg.backoff_max_ms);
    if (pool->cfg.max_recv_message_size == 0)
        pool->cfg.max_recv_message_size = 4 << 20;
    pool->user_agent = strdup(cfg->user_agent != NULL ? cfg->user_agent : "portico/" PORTICO_VERSION);
    pool->authority = dup_or_null(cfg->authority);
    pool->tls_server_name = dup_or_null(cfg->tls_server_name);
    pool->cfg.user_agent = pool->user_agent;
    pool->cfg.authority = pool->authority;
    pool->cfg.tls_server_name = pool->tls_server_name;
    h2o_linklist_init_anchor(&pool->pending);
    h2o_linklist_init_anchor(&pool->dead_calls);
    h2o_linklist_init_anchor(&pool->dead_conns);
    upstream_timers_init(&pool->timers, loop);
    pool->tick.cb = on_tick;
    pool->targets = calloc(cfg->n_targets, sizeof(*pool->targets));
    pool->n_targets = cfg->n_targets;
    if (pool->user_agent == NULL || pool->targets == NULL || (cfg->authority != NULL && pool->authority == NULL) ||
        (cfg->tls_server_name != NULL && pool->tls_server_name == NULL)) {
        util_error_set(err, -1, "out of memory");
        upstream_grpc_pool_free(pool);
        return NULL;
    }
    for (size_t i = 0; i < cfg->n_targets; i++) {
        h2o_linklist_init_anchor(&pool->targets[i].conns);
        if (target_init(&pool->targets[i], cfg->targets[i], err) != 0) {
            upstream_grpc_pool_free(pool);
            return NULL;
        }
    }
    if (cfg->ssl_ctx != NULL) {
        /* the context may be shared by every worker's pool, created on their threads at once */
        static pthread_mutex_t ssl_setup = PTHREAD_MUTEX_INITIALIZER;
        pthread_mutex_lock(&ssl_setup);
        SSL_CTX_set_alpn_protos(cfg->ssl_ctx, (const unsigned char *)"\x02h2", 3);
        pthread_mutex_unlock(&ssl_setup);
    }
    return pool;
}

void upstream_pool_schedule(upstream_grpc_pool_t *pool)
{
    if (!pool->freeing)
        upstream_timers_defer(&pool->timers, &pool->tick);
}

void upstream_pool_enqueue(upstream_grpc_pool_t *pool, upstream_grpc_call_t *call)
{
    h2o_linklist_insert(&pool->pending, &call->_link);
    pool->n_pending++;
    upstream_pool_schedule(pool);
}

static int target_in_backoff(upstream_grpc_pool_t *pool, const upstream_target_t *t)
{
    return t->backoff_until > h2o_now(pool->loop);
}

static int target_can_open(upstream_grpc_pool_t *pool, const upstream_target_t *t)
{
    return !pool->freeing && !target_in_backoff(pool, t) && t->n_conns - t->n_draining < pool->cfg.max_connections_per_target;
}

int upstream_pool_try_place(upstream_grpc_pool_t *pool, upstream_grpc_call_t *call)
{
    for (;;) {
        upstream_conn_t *best = NULL;
        size_t best_index = 0;
        for (size_t i = 0; i < pool->n_targets && best == NULL; i++) {
            size_t index = (pool->rr + i) % pool->n_targets;
            upstream_target_t *t = &pool->targets[index];
            for (h2o_linklist_t *node = t->conns.next; node != &t->conns; node = node->next) {
                upstream_conn_t *conn = H2O_STRUCT_FROM_MEMBER(upstream_conn_t, _link, node);
                if (upstream_conn_capacity(conn) > 0) {
                    best = conn;
                    best_index = index;
                    break;
                }
            }
        }
        if (best == NULL)
            return -1;
        if (h2o_linklist_is_linked(&call->_link)) {
            h2o_linklist_unlink(&call->_link);
            pool->n_pending--;
        }
        int rv = upstream_call_submit(call, best);
        if (rv == -1)
            continue; /* that connection just ran out of stream ids; it is draining now */
        if (rv == -2)
            return -2;
        pool->rr = (best_index + 1) % pool->n_targets;
        return 0;
    }
}

/* Opens a connection to target |index| ahead of need when it has none, so that round-robin
 * spreads calls over every target rather than over the first one that answered. */
void upstream_pool_warm(upstream_grpc_pool_t *pool, size_t index)
{
    upstream_target_t *t = &pool->targets[index % pool->n_targets];
    if (t->n_conns == 0 && target_can_open(pool, t))
        upstream_conn_open(pool, t);
}

void upstream_pool_connect_failed(upstream_grpc_pool_t *pool, upstream_target_t *t, const char *why)
{
    pool->stats.connect_failures++;
    t->failures++;
    uint64_t now = h2o_now(pool->loop);
    t->backoff_until = now + upstream_target_backoff_ms(&pool->rng, (uint64_t)(uintptr_t)pool ^ now, t->failures,
                                                        pool->cfg.backoff_initial_ms, pool->cfg.backoff_max_ms);
    snprintf(t->last_error, sizeof(t->last_error), "%s", why);
    upstream_pool_schedule(pool);
}

void upstream_pool_connect_succeeded(upstream_grpc_pool_t *pool, upstream_target_t *t)
{
    t->failures = 0;
    t->backoff_until = 0;
    upstream_pool_schedule(pool);
}

/* Every target is out of reach: fail what waits, saying why and when the next try is. */
static void fail_pending(upstream_grpc_pool_t *pool)
{
    char why[512];
    size_t off = 0;
    uint64_t now = h2o_now(pool->loop);
    for (size_t i = 0; i < pool->n_targets && off < sizeof(why) - 1; i++) {
        upstream_target_t *t = &pool->targets[i];
        int n;
        if (t->backoff_until > now)
            n = snprintf(why + off, sizeof(why) - off, "%s%s (next attempt in %llu ms)", i ? "; " : "",
                         t->last_error[0] ? t->last_error : t->authority, (unsigned long long)(t->backoff_until - now));
        else if (t->last_error[0])
            n = snprintf(why + off, sizeof(why) - off, "%s%s", i ? "; " : "", t->last_error);
        else
            n = snprintf(why + off, sizeof(why) - off, "%s%s: no connection can take the call", i ? "; " : "", t->authority);
        if (n < 0)
            break;
        off += (size_t)n;
        if (off >= sizeof(why))
            off = sizeof(why) - 1;
    }
    /* Only the calls waiting now: one started from an on_close below waits for the next tick. */
    h2o_linklist_t failing;
    h2o_linklist_init_anchor(&failing);
    h2o_linklist_insert_list(&failing, &pool->pending);
    pool->n_pending = 0;
    while (!h2o_linklist_is_empty(&failing)) {
        upstream_grpc_call_t *call = H2O_STRUCT_FROM_MEMBER(upstream_grpc_call_t, _link, failing.next);
        h2o_linklist_unlink(&call->_link);
        pool->stats.calls_failed_fast++;
        upstream_call_fail(call, GRPC_CODE_UNAVAILABLE, "upstream unavailable: %s", why);
    }
}

static void dispatch(upstream_grpc_pool_t *pool)
{
    while (!h2o_linklist_is_empty(&pool->pending)) {
        upstream_grpc_call_t *call = H2O_STRUCT_FROM_MEMBER(upstream_grpc_call_t, _link, pool->pending.next);
        int rv = upstream_pool_try_place(pool, call);
        if (rv == -1)
            break;
        if (rv == -2)
            upstream_call_fail(call, GRPC_CODE_INTERNAL, "cannot open an HTTP/2 stream: %s", nghttp2_strerror(call->submit_error));
    }
    if (h2o_linklist_is_empty(&pool->pending))
        return;

    /* Open connections for the calls left, up to the per-target limit. */
    uint64_t expected = 0;
    for (size_t i = 0; i < pool->n_targets; i++)
        expected += (uint64_t)pool->targets[i].n_connecting * ASSUMED_STREAMS_PER_CONN;
    while (expected < pool->n_pending) {
        upstream_target_t *chosen = NULL;
        for (size_t i = 0; i < pool->n_targets; i++) {
            upstream_target_t *t = &pool->targets[(pool->rr + i) % pool->n_targets];
            if (target_can_open(pool, t) && (chosen == NULL || t->n_conns < chosen->n_conns))
                chosen = t;
        }
        if (chosen == NULL)
            break;
        if (upstream_conn_open(pool, chosen) != NULL)
            expected += ASSUMED_STREAMS_PER_CONN;
    }

    /* Wait while some connection is opening or working (its streams will free up). */
    for (size_t i = 0; i < pool->n_targets; i++) {
        upstream_target_t *t = &pool->targets[i];
        for (h2o_linklist_t *node = t->conns.next; node != &t->conns; node = node->next) {
            upstream_conn_t *conn = H2O_STRUCT_FROM_MEMBER(upstream_conn_t, _link, node);
            if (conn->state == UPSTREAM_CONN_CONNECTING || conn->state == UPSTREAM_CONN_READY)
                return;
        }
    }
    fail_pending(pool);
}

static void reap(upstream_grpc_pool_t *pool)
{
    while (!h2o_linklist_is_empty(&pool->dead_calls)) {
        upstream_grpc_call_t *call = H2O_STRUCT_FROM_MEMBER(upstream_grpc_call_t, _link, pool->dead_calls.next);
        h2o_linklist_unlink(&call->_link);
        upstream_call_destroy(call);
    }
    while (!h2o_linklist_is_empty(&pool->dead_conns)) {
        upstream_conn_t *conn = H2O_STRUCT_FROM_MEMBER(upstream_conn_t, _link, pool->dead_conns.next);
        h2o_linklist_unlink(&conn->_link);
        upstream_conn_destroy(conn);
    }
}

static void on_tick(h2o_timeout_entry_t *entry)
{
    upstream_grpc_pool_t *pool = H2O_STRUCT_FROM_MEMBER(upstream_grpc_pool_t, tick, entry);
    dispatch(pool);
    reap(pool);
}

void upstream_grpc_pool_stats(const upstream_grpc_pool_t *pool, upstream_grpc_stats_t *out)
{
    *out = pool->stats;
    out->queued_calls = pool->n_pending;
    out->connections = 0;
    for (size_t i = 0; i < pool->n_targets; i++)
        out->connections += pool->targets[i].n_conns;
}

void upstream_grpc_pool_free(upstream_grpc_pool_t *pool)
{
    if (pool == NULL)
        return;
    pool->freeing = 1;
    if (h2o_timeout_is_linked(&pool->tick))
        h2o_timeout_unlink(&pool->tick);
    /* Calls first (their on_close may start calls, which a freeing pool refuses), then connections. */
    while (!h2o_linklist_is_empty(&pool->pending)) {
        upstream_grpc_call_t *call = H2O_STRUCT_FROM_MEMBER(upstream_grpc_call_t, _link, pool->pending.next);
        h2o_linklist_unlink(&call->_link);
        pool->n_pending--;
        upstream_call_fail(call, GRPC_CODE_UNAVAILABLE, "upstream pool shut down");
    }
    for (size_t i = 0; pool->targets != NULL && i < pool->n_targets; i++) {
        upstream_target_t *t = &pool->targets[i];
        while (t->conns.next != NULL && !h2o_linklist_is_empty(&t->conns)) {
            upstream_conn_t *conn = H2O_STRUCT_FROM_MEMBER(upstream_conn_t, _link, t->conns.next);
            upstream_conn_fail(conn, GRPC_CODE_UNAVAILABLE, "upstream pool shut down");
        }
    }
    reap(pool);
    if (h2o_timeout_is_linked(&pool->tick))
        h2o_timeout_unlink(&pool->tick);
    upstream_timers_dispose(&pool->timers);
    for (size_t i = 0; pool->targets != NULL && i < pool->n_targets; i++) {
        free(pool->targets[i].host);
        free(pool->targets[i].authority);
    }
    free(pool->targets);
    free(pool->user_agent);
    free(pool->authority);
    free(pool->tls_server_name);
    free(pool);
}
