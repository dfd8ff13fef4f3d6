/*
 * grpc_ingress.c — the per-worker native gRPC ingress object: its routes (a hash map from
 * "/pkg.Service/Method" to the upstream pool), limits, the shared nghttp2 callbacks and
 * options, the loop timers every connection and stream rides on (h2o 2.2.5 timeouts have
 * one fixed duration each, so there is one per purpose), the stalled-stream poll, stats,
 * graceful shutdown and teardown. See grpc_ingress.h.
 *
 * Why a poll for stalled streams: the upstream client reports no "sent" event, only
 * upstream_grpc_call_send_pending(); a stream whose window is held back looks at it again
 * every INGRESS_STALL_POLL_MS while it is stalled (and only then).
 */
#include "http/grpc_ingress_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_REQUEST_MESSAGE ((size_t)4 << 20)
#define DEFAULT_MAX_RESPONSE_BUFFER ((size_t)8 << 20)
#define DEFAULT_MAX_HEADER_BYTES (64 * 1024)
#define DEFAULT_MAX_STREAMS 128
#define DEFAULT_IDLE_MS 300000
#define DEFAULT_HANDSHAKE_MS 10000

static void on_stall_poll(h2o_timeout_entry_t *entry);

static int path_is_valid(const char *p)
{
    /* "/" service "/" method, nothing empty, no spaces or controls */
    if (p == NULL || p[0] != '/')
        return 0;
    const char *slash = strchr(p + 1, '/');
    if (slash == NULL || slash == p + 1 || slash[1] == '\0' || strchr(slash + 1, '/') != NULL)
        return 0;
    for (const char *c = p; *c != '\0'; c++)
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
            return 0;
    return 1;
}

grpc_ingress_t *grpc_ingress_new(h2o_loop_t *loop, const grpc_ingress_config_t *cfg, util_error_t *err)
{
    grpc_ingress_t *ing = calloc(1, sizeof(*ing));
    if (ing == NULL) {
        util_error_set(err, -1, "out of memory creating the gRPC ingress");
        return NULL;
    }
    ing->loop = loop;
    ing->cfg = *cfg;
    ing->cfg.routes = NULL;
    ing->cfg.n_routes = 0;
    if (ing->cfg.max_request_message == 0)
        ing->cfg.max_request_message = DEFAULT_MAX_REQUEST_MESSAGE;
    if (ing->cfg.max_response_buffer == 0)
        ing->cfg.max_response_buffer = DEFAULT_MAX_RESPONSE_BUFFER;
    if (ing->cfg.max_response_buffer < ing->cfg.max_response_message + 64 * 1024)
        ing->cfg.max_response_buffer = ing->cfg.max_response_message + 64 * 1024;
    if (ing->cfg.max_header_bytes == 0)
        ing->cfg.max_header_bytes = DEFAULT_MAX_HEADER_BYTES;
    if (ing->cfg.max_concurrent_streams == 0)
        ing->cfg.max_concurrent_streams = DEFAULT_MAX_STREAMS;
    if (ing->cfg.idle_timeout_ms == 0)
        ing->cfg.idle_timeout_ms = DEFAULT_IDLE_MS;
    if (ing->cfg.handshake_timeout_ms == 0)
        ing->cfg.handshake_timeout_ms = DEFAULT_HANDSHAKE_MS;
    h2o_linklist_init_anchor(&ing->conns);
    h2o_linklist_init_anchor(&ing->stalled);
    util_strmap_init(&ing->by_path);
    h2o_timeout_init(loop, &ing->zero, 0);
    h2o_timeout_init(loop, &ing->stall_poll, INGRESS_STALL_POLL_MS);
    h2o_timeout_init(loop, &ing->idle, ing->cfg.idle_timeout_ms);
    h2o_timeout_init(loop, &ing->handshake, ing->cfg.handshake_timeout_ms);
    h2o_timeout_init(loop, &ing->linger, INGRESS_LINGER_MS);
    ing->stall_entry.cb = on_stall_poll;

    if (cfg->n_routes != 0) {
        ing->routes = calloc(cfg->n_routes, sizeof(*ing->routes));
        if (ing->routes == NULL || util_strmap_reserve(&ing->by_path, cfg->n_routes) != 0) {
            util_error_set(err, -1, "out of memory creating the gRPC ingress");
            goto fail;
        }
    }
    for (size_t i = 0; i < cfg->n_routes; i++) {
        const grpc_ingress_route_t *r = &cfg->routes[i];
        if (!path_is_valid(r->path)) {
            util_error_set(err, -1, "gRPC ingress route %zu: \"%s\" does not look like /package.Service/Method", i,
                           r->path != NULL ? r->path : "(null)");
            goto fail;
        }
        if (util_strmap_get(&ing->by_path, r->path, strlen(r->path)) != NULL) {
            util_error_set(err, -1, "gRPC ingress route %zu: \"%s\" is given twice", i, r->path);
            goto fail;
        }
        ingress_route_t *dst = &ing->routes[ing->n_routes];
        dst->path = strdup(r->path);
        dst->upstream_name = strdup(r->upstream_name != NULL ? r->upstream_name : "(unnamed)");
        dst->pool = r->pool;
        dst->timeout_ms = r->timeout_ms;
        dst->rest = r->rest;
        dst->client_streaming = r->client_streaming;
        dst->reverse_rule = r->reverse_rule;
        dst->http_pool = r->http_pool;
        ing->n_routes++;
        if (dst->path == NULL || dst->upstream_name == NULL || util_strmap_put(&ing->by_path, dst->path, dst) != 0) {
            util_error_set(err, -1, "out of memory creating the gRPC ingress");
            goto fail;
        }
    }
    if ((ing->callbacks = ingress_conn_callbacks_new()) == NULL || nghttp2_option_new(&ing->option) != 0) {
        util_error_set(err, -1, "out of memory creating the gRPC ingress");
        goto fail;
    }
    /* request flow control is ours (see grpc_ingress.h) */
    nghttp2_option_set_no_auto_window_update(ing->option, 1);
    nghttp2_option_set_no_closed_streams(ing->option, 1);
    /* no server push towards gRPC clients; 1.52 bounds queued SETTINGS/PING acks by itself */
    return ing;
fail:
    grpc_ingress_free(ing);
    return NULL;
}

const ingress_route_t *ingress_route_find(const grpc_ingress_t *ing, const char *path, size_t len)
{
    return util_strmap_get(&ing->by_path, path, len);
}

void ingress_defer(grpc_ingress_t *ing, h2o_timeout_entry_t *entry)
{
    if (!h2o_timeout_is_linked(entry))
        h2o_timeout_link(ing->loop, &ing->zero, entry);
}

void ingress_stall_add(grpc_ingress_t *ing, ingress_stream_t *s)
{
    if (h2o_linklist_is_linked(&s->_stall_link))
        return;
    h2o_linklist_insert(&ing->stalled, &s->_stall_link);
    ing->stats.request_stalls++;
    if (!h2o_timeout_is_linked(&ing->stall_entry))
        h2o_timeout_link(ing->loop, &ing->stall_poll, &ing->stall_entry);
}

void ingress_stall_remove(ingress_stream_t *s)
{
    if (h2o_linklist_is_linked(&s->_stall_link))
        h2o_linklist_unlink(&s->_stall_link);
}

static void on_stall_poll(h2o_timeout_entry_t *entry)
{
    grpc_ingress_t *ing = H2O_STRUCT_FROM_MEMBER(grpc_ingress_t, stall_entry, entry);
    /* move the list aside: a stream that is still stalled goes back on it */
    h2o_linklist_t list;
    h2o_linklist_init_anchor(&list);
    h2o_linklist_insert_list(&list, &ing->stalled);
    while (!h2o_linklist_is_empty(&list)) {
        ingress_stream_t *s = H2O_STRUCT_FROM_MEMBER(ingress_stream_t, _stall_link, list.next);
        h2o_linklist_unlink(&s->_stall_link);
        if (ingress_stream_poll_stall(s))
            h2o_linklist_insert(&ing->stalled, &s->_stall_link);
    }
    if (!h2o_linklist_is_empty(&ing->stalled))
        h2o_timeout_link(ing->loop, &ing->stall_poll, &ing->stall_entry);
}

void grpc_ingress_shutdown(grpc_ingress_t *ing)
{
    if (ing->stopping)
        return;
    ing->stopping = 1;
    /* GOAWAY may close an idle connection at once (from its flush): walk a copy of the list */
    h2o_linklist_t *node = ing->conns.next;
    while (node != &ing->conns) {
        ingress_conn_t *conn = H2O_STRUCT_FROM_MEMBER(ingress_conn_t, _link, node);
        node = node->next;
        ingress_conn_goaway(conn, NGHTTP2_NO_ERROR, "server shutting down");
    }
}

void grpc_ingress_free(grpc_ingress_t *ing)
{
    if (ing == NULL)
        return;
    while (!h2o_linklist_is_empty(&ing->conns))
        ingress_conn_destroy(H2O_STRUCT_FROM_MEMBER(ingress_conn_t, _link, ing->conns.next));
    if (h2o_timeout_is_linked(&ing->stall_entry))
        h2o_timeout_unlink(&ing->stall_entry);
    h2o_timeout_dispose(ing->loop, &ing->zero);
    h2o_timeout_dispose(ing->loop, &ing->stall_poll);
    h2o_timeout_dispose(ing->loop, &ing->idle);
    h2o_timeout_dispose(ing->loop, &ing->handshake);
    h2o_timeout_dispose(ing->loop, &ing->linger);
    for (size_t i = 0; i < ing->n_routes; i++) {
        free(ing->routes[i].path);
        free(ing->routes[i].upstream_name);
    }
    free(ing->routes);
    util_strmap_dispose(&ing->by_path);
    if (ing->callbacks != NULL)
        nghttp2_session_callbacks_del(ing->callbacks);
    nghttp2_option_del(ing->option);
    free(ing);
}

void grpc_ingress_stats(const grpc_ingress_t *ing, grpc_ingress_stats_t *out)
{
    *out = ing->stats;
}
