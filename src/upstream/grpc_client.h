/*
 * grpc_client.h — internals of the upstream gRPC client shared by its files (not part of the
 * public face, which is upstream.h):
 *
 *   pool.c   targets, round-robin, the queue of calls waiting for a stream, reconnect
 *            backoff, and the end-of-iteration "tick" that dispatches, fails and frees
 *   conn.c   one HTTP/2 connection: connect, TLS, the nghttp2 client session, batched writes
 *   call.c   one call: request headers and body, response headers, messages, trailers, status
 *   timer.c  exact deadlines over h2o 2.2.5 timeouts
 *   target.c target parsing and resolution, the backoff wait, config defaults (shared with
 *            the HTTP/1.1 client, see target.h)
 *
 * Lifetime rule: calls and connections are never freed where they are found dead, because a
 * callback of theirs may be on the stack (a user callback, nghttp2's on_stream_close, an h2o
 * socket callback). They go to the pool's graveyard lists, which the tick empties at the end
 * of the loop iteration. A call is buried once the user is done with it (on_close delivered or
 * cancelled) and nghttp2 no longer holds it as stream user data.
 */
#ifndef PORTICO_UPSTREAM_GRPC_CLIENT_H
#define PORTICO_UPSTREAM_GRPC_CLIENT_H

#include <sys/socket.h>

#include <h2o/linklist.h>
#include <nghttp2/nghttp2.h>

#include "upstream/timer.h"
#include "upstream/upstream.h"
#include "util/buf.h"

typedef struct upstream_conn upstream_conn_t;

typedef struct upstream_target {
    char *host;      /* for SNI */
    char *authority; /* "host:port" */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    h2o_linklist_t conns; /* upstream_conn_t._link: connecting, ready and draining */
    uint32_t n_conns;
    uint32_t n_connecting;
    uint32_t n_draining;    /* after GOAWAY: still counted in n_conns, not against the limit */
    uint32_t failures;      /* consecutive failed connects */
    uint64_t backoff_until; /* h2o_now() ms; no connect attempt before */
    char last_error[160];
} upstream_target_t;

struct upstream_grpc_pool {
    h2o_loop_t *loop;
    upstream_grpc_config_t cfg; /* strings point into |strings| */
    char *user_agent;
    char *authority;
    char *tls_server_name;
    upstream_target_t *targets;
    size_t n_targets;
    size_t rr; /* next target in round-robin order */
    upstream_timers_t timers;
    h2o_timeout_entry_t tick; /* end-of-iteration work: dispatch, then free the graveyard */
    h2o_linklist_t pending;   /* calls waiting for a stream, FIFO (upstream_grpc_call_t._link) */
    h2o_linklist_t dead_calls;
    h2o_linklist_t dead_conns;
    int freeing;
    uint32_t n_pending;
    uint64_t rng; /* backoff jitter */
    upstream_grpc_stats_t stats;
};

typedef enum upstream_conn_state {
    UPSTREAM_CONN_CONNECTING, /* TCP connect or TLS handshake */
    UPSTREAM_CONN_READY,
    UPSTREAM_CONN_DRAINING, /* GOAWAY received or stream ids exhausted: no new streams */
    UPSTREAM_CONN_CLOSED,   /* in the graveyard */
} upstream_conn_state_t;

struct upstream_conn {
    upstream_grpc_pool_t *pool;
    upstream_target_t *target;
    h2o_linklist_t _link; /* in target->conns, then pool->dead_conns */
    upstream_conn_state_t state;
    h2o_socket_t *sock;
    nghttp2_session *session;
    h2o_linklist_t calls; /* calls with a stream on this connection */
    uint32_t n_calls;
    util_buf_t wbuf;     /* frames gathered for the next write */
    util_buf_t wbuf_out; /* the write in flight (h2o needs the bytes until it completes) */
    int writing;
    h2o_timeout_entry_t flush; /* deferred write, at the end of the iteration */
    upstream_timer_t connect_timer;
};

struct upstream_grpc_call {
    upstream_grpc_pool_t *pool;
    upstream_conn_t *conn;
    h2o_linklist_t _link; /* pool->pending, conn->calls or pool->dead_calls */
    int32_t stream_id;
    upstream_grpc_callbacks_t cb;
    void *ctx;
    /* request */
    nghttp2_nv *nva; /* request headers (one allocation with their bytes); kept for a transparent retry */
    size_t n_nva;
    size_t grpc_timeout_index; /* index of the grpc-timeout entry in nva (refreshed at submit), or SIZE_MAX */
    util_buf_t sendq;          /* framed messages; [0, sendq_off) already handed to nghttp2 (kept while replayable) */
    size_t sendq_off;
    uint32_t attempts; /* transparent retries so far */
    int64_t timeout_ms;
    int submit_error; /* nghttp2 error of the last failed submit */
    upstream_timer_t deadline;
    /* response */
    util_buf_t hblock; /* the header block being received: [u32 len][name][u32 len][value]... */
    uint32_t n_hblock;
    int http_status;
    grpc_deframer_t deframer;
    /* state */
    unsigned half_closed : 1;   /* close_send called */
    unsigned data_deferred : 1; /* nghttp2 is waiting for resume_data */
    unsigned stream_alive : 1;  /* nghttp2 holds the call as stream user data */
    unsigned user_done : 1;     /* on_close delivered or cancelled: no more callbacks */
    unsigned headers_done : 1;  /* initial metadata received */
    unsigned in_trailers : 1;   /* the block being received is the trailers */
    unsigned buried : 1;        /* in pool->dead_calls */
    unsigned replayable : 1;    /* no response yet and every sent byte still in sendq */
};

/* ---- pool.c ---- */
/* Runs the tick at the end of this loop iteration. */
void upstream_pool_schedule(upstream_grpc_pool_t *pool);
/* Queues |call| for a stream (tail of the FIFO) and schedules a dispatch. */
void upstream_pool_enqueue(upstream_grpc_pool_t *pool, upstream_grpc_call_t *call);
/* Gives |call| a stream now if a ready connection has room (taking it off the queue). Returns
 * 0, -1 when no connection has room, or -2 when nghttp2 refused the stream (the call is off
 * the queue and untouched; call->submit_error says why). */
int upstream_pool_try_place(upstream_grpc_pool_t *pool, upstream_grpc_call_t *call);
/* Opens a first connection to the target at round-robin position |index| if it has none. */
void upstream_pool_warm(upstream_grpc_pool_t *pool, size_t index);
/* A connection attempt to |target| failed: back off. */
void upstream_pool_connect_failed(upstream_grpc_pool_t *pool, upstream_target_t *target, const char *why);
void upstream_pool_connect_succeeded(upstream_grpc_pool_t *pool, upstream_target_t *target);

/* ---- conn.c ---- */
/* Starts connecting to |target|; returns the connection (CONNECTING), or NULL when the
 * attempt failed at once (the target is then backing off). */
upstream_conn_t *upstream_conn_open(upstream_grpc_pool_t *pool, upstream_target_t *target);
/* Takes no new streams any more (GOAWAY received, or stream ids used up); finishes the others. */
void upstream_conn_drain(upstream_conn_t *conn);
/* Streams the connection can still open (0 unless READY). */
uint32_t upstream_conn_capacity(upstream_conn_t *conn);
/* Writes what nghttp2 has queued, at the end of this loop iteration. */
void upstream_conn_schedule_flush(upstream_conn_t *conn);
/* Closes the connection: every call on it ends with |code| / |message| (unless already done),
 * and it moves to the graveyard. */
void upstream_conn_fail(upstream_conn_t *conn, grpc_code_t code, const char *message);
void upstream_conn_destroy(upstream_conn_t *conn); /* frees a dead connection (from the tick) */

/* ---- call.c ---- */
/* Submits |call|'s request on |conn|. Returns 0; -1 when the connection cannot take a new
 * stream (it is then draining); -2 when nghttp2 refused (call->submit_error). On failure the
 * call is untouched. */
int upstream_call_submit(upstream_grpc_call_t *call, upstream_conn_t *conn);
/* Ends |call| with a status portico made up (no-op when the user is done). */
void upstream_call_fail(upstream_grpc_call_t *call, grpc_code_t code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The connection is gone: the call loses its stream (fails with |code| if the user is not done). */
void upstream_call_detach(upstream_grpc_call_t *call, grpc_code_t code, const char *message);
/* Buries the call if nothing refers to it any more. */
void upstream_call_release(upstream_grpc_call_t *call);
void upstream_call_destroy(upstream_grpc_call_t *call); /* frees a buried call (from the tick) */
/* nghttp2 session callbacks that concern streams, installed by conn.c. */
void upstream_call_install_callbacks(nghttp2_session_callbacks *cbs);
/* A complete frame on one of |conn|'s streams (conn.c handles connection-level frames). */
void upstream_call_on_frame_recv(upstream_conn_t *conn, const nghttp2_frame *frame);

#endif
