/*
 * target.h — what the gRPC pool (pool.c) and the HTTP/1.1 pool (http_client.c) share about
 * their targets (internal): parsing and resolving a "host:port" / "[v6]:port" target, the
 * reconnect backoff after failed connects, and the config defaults both pools apply. Each pool
 * keeps its own target struct (they hold different connection bookkeeping); these functions
 * fill and compute plain values that the pools store in them.
 */
#ifndef PORTICO_UPSTREAM_TARGET_H
#define PORTICO_UPSTREAM_TARGET_H

#include <stdint.h>
#include <sys/socket.h>

#include <h2o.h>

#include "util/error.h"

/* upstream_target_resolve flags */
enum {
    /* refuse a target holding a space or control character (it goes into a Host line) */
    UPSTREAM_TARGET_NO_CONTROLS = 1,
};

typedef struct upstream_target_addr {
    char *host;      /* malloc'd; the host without the brackets of "[v6]" (for SNI) */
    char *authority; /* malloc'd; the target as given, "host:port" */
    struct sockaddr_storage addr;
    socklen_t addrlen;
} upstream_target_addr_t;

/* Splits |spec| ("host:port" or "[v6]:port"), checks the port and resolves the host into |out|.
 * On failure nothing is left allocated and |err| names the target. */
int upstream_target_resolve(const char *spec, unsigned flags, upstream_target_addr_t *out, util_error_t *err);

/* Applies the defaults both pools share to the config fields given (0 means "default"):
 * connect timeout 5000 ms, 4 connections per target, backoff from 1000 ms up to 30000 ms
 * (never below the initial wait). */
void upstream_target_config_defaults(uint32_t *connect_timeout_ms, uint32_t *max_connections_per_target,
                                     uint32_t *backoff_initial_ms, uint32_t *backoff_max_ms);

/* The wait in ms before the next connect to a target that has failed |failures| (>= 1) times in
 * a row: |initial_ms| doubled per further failure, capped at |max_ms|, with +-20% jitter drawn
 * from |*rng| (xorshift state kept per pool, so workers need no shared random state; seeded
 * from |seed| while it is 0). */
uint32_t upstream_target_backoff_ms(uint64_t *rng, uint64_t seed, uint32_t failures, uint32_t initial_ms, uint32_t max_ms);

/* Starts a non-blocking connect to |addr| on |loop| (h2o_socket_connect) with TCP_NODELAY set:
 * gRPC and HTTP/1.1 requests are small writes, and Nagle would hold one back behind another
 * call's unacknowledged segment on the same connection. NULL (errno set) when the socket cannot
 * be created or the connect fails at once. */
h2o_socket_t *upstream_target_connect(h2o_loop_t *loop, const struct sockaddr_storage *addr, socklen_t addrlen, h2o_socket_cb cb);

#endif
