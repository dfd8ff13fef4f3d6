/*
 * grpc_ingress_int.h — internals of the native gRPC ingress shared by its files (the public
 * face is grpc_ingress.h):
 *
 *   grpc_ingress.c          the per-worker object: routes, limits, timers, stats, shutdown
 *   grpc_ingress_conn.c     one client connection: TLS, the nghttp2 server session, batched writes
 *   grpc_ingress_call.c     one stream: request checks, the upstream call, messages both ways,
 *                           flow control, trailers, cancellation
 *   grpc_ingress_rules.c    pure rules (no I/O): which headers cross, content-type, deadlines,
 *                           the status header block
 *   grpc_ingress_gateway.c  routes of a gateway's config
 *
 * Lifetime rule: connections are freed only from top-level loop callbacks (socket read and
 * write completions, timers, shutdown, free), never from inside an nghttp2 or upstream
 * callback, so a callback never finds its connection gone. A stream is freed in nghttp2's
 * on_stream_close (after cancelling its upstream call, after which no upstream callback
 * comes), or with its connection.
 */
#ifndef PORTICO_HTTP_GRPC_INGRESS_INT_H
#define PORTICO_HTTP_GRPC_INGRESS_INT_H

#include <h2o/linklist.h>
#include <h2o/timeout.h>
#include <nghttp2/nghttp2.h>

#include "grpc/grpc.h"
#include "http/grpc_ingress.h"
#include "transcode/reverse.h"
#include "util/buf.h"
#include "util/strmap.h"

/* Stream window we advertise, and the upstream backlog above which it is held back. */
#define INGRESS_STREAM_WINDOW (256 * 1024)
#define INGRESS_SEND_PENDING_LIMIT (256 * 1024)
#define INGRESS_CONN_WINDOW (16 << 20)
/* How often stalled streams look at their upstream backlog again (ms). */
#define INGRESS_STALL_POLL_MS 1
/* After the answer is complete, a client still sending gets this long, or this many bytes, to
 * end its side before the stream is reset (RST_STREAM NO_ERROR, RFC 9113 8.1). Resetting at
 * once races with clients that are about to send END_STREAM (curl reports such a reset as
 * an error even after a complete response). */
#define INGRESS_LINGER_MS 1000
#define INGRESS_LINGER_BYTES (64 * 1024)

typedef struct ingress_conn ingress_conn_t;
typedef struct ingress_stream ingress_stream_t;

typedef struct ingress_route {
    char *path;
    upstream_grpc_pool_t *pool;
    char *upstream_name;
    uint32_t timeout_ms;
    int rest; /* gRPC→REST: see grpc_ingress_route_t */
    int client_streaming;
    const struct reverse_rule *reverse_rule;
    upstream_http_pool_t *http_pool;
} ingress_route_t;

struct grpc_ingress {
    h2o_loop_t *loop;
    grpc_ingress_config_t cfg; /* routes point to |routes| */
    ingress_route_t *routes;
    size_t n_routes;
    util_strmap_t by_path;  /* path -> ingress_route_t */
    h2o_linklist_t conns;   /* ingress_conn_t._link */
    h2o_linklist_t stalled; /* ingress_stream_t._stall_link: request window held back */
    h2o_timeout_t zero;     /* end of the loop iteration (flushes) */
    h2o_timeout_t stall_poll;
    h2o_timeout_t idle;
    h2o_timeout_t handshake;
    h2o_timeout_t linger; /* how long a client may go on sending after the answer is complete */
    h2o_timeout_entry_t stall_entry;
    nghttp2_session_callbacks *callbacks;
    nghttp2_option *option;
    int stopping;
    grpc_ingress_stats_t stats;
};

struct ingress_conn {
    grpc_ingress_t *ing;
    h2o_linklist_t _link;
    h2o_socket_t *sock;
    nghttp2_session *session; /* NULL until the TLS handshake (if any) is done */
    h2o_linklist_t streams;   /* ingress_stream_t._link */
    uint32_t n_streams;
    util_buf_t wbuf;     /* frames gathered for the next write */
    util_buf_t wbuf_out; /* the write in flight */
    int writing;
    int closed;
    int goaway_sent;
    int closing;      /* write what is queued, then close (after a fatal protocol error) */
    int preface_done; /* the client's first SETTINGS arrived */
    h2o_timeout_entry_t flush;
    h2o_timeout_entry_t timer; /* handshake, then idle */
};

struct ingress_stream {
    ingress_conn_t *conn;
    h2o_linklist_t _link;       /* conn->streams */
    h2o_linklist_t _stall_link; /* ing->stalled while the request window is held back */
    int32_t id;
    /* request headers, as received */
    util_buf_t hblock; /* metadata to forward, until the call starts: [u32 name len][name][u32 value len][value]... */
    uint32_t n_md;
    size_t header_bytes;
    const ingress_route_t *route;
    char path[160]; /* the :path as received (truncated), for messages */
    size_t path_len;
    char bad_value[64];        /* the offending content-type / grpc-encoding / grpc-timeout value */
    int64_t client_timeout_ms; /* 0: none */
    int content_type_kind;     /* ingress_content_type_kind(), or -2 when absent */
    unsigned method_post : 1;
    unsigned header_overflow : 1;
    unsigned timeout_bad : 1;
    unsigned encoding_bad : 1;
    unsigned path_seen : 1;
    /* the call */
    upstream_grpc_call_t *call; /* non-NULL from a successful start until on_close or cancel */
    reverse_call_t *rev;        /* gRPC→REST: the same, for a call translated to the HTTP upstream */
    util_buf_t rest_msg;        /* gRPC→REST: the one request message, until the client's END_STREAM */
    uint64_t started_at;        /* loop time of the request headers (the deadline counts from here) */
    unsigned rest_pending : 1;  /* gRPC→REST: accepted, buffering the request message */
    unsigned rest_have_msg : 1; /* ... and it is complete */
    grpc_deframer_t deframer;
    size_t unconsumed; /* stream-window bytes received and not given back yet */
    unsigned counted_inflight : 1;
    unsigned remote_closed : 1; /* the client ended its side (END_STREAM) */
    /* response */
    util_buf_t out; /* framed messages for the client; [out_off, len) not yet handed to nghttp2 */
    size_t out_off;
    nghttp2_nv *trailers; /* the final block (one allocation), waiting for |out| to drain */
    size_t n_trailers;
    unsigned headers_sent : 1;  /* response HEADERS submitted (with the data provider) */
    unsigned finished : 1;      /* the status is decided: |trailers| set, or a trailers-only answer submitted */
    unsigned data_deferred : 1; /* nghttp2 waits for resume_data */
    unsigned answer_sent : 1;   /* our END_STREAM went out */
    size_t discarded;           /* request bytes received after the answer was complete */
    h2o_timeout_entry_t linger; /* after answer_sent while the client's side is open */
};

/* ---- grpc_ingress.c ---- */
const ingress_route_t *ingress_route_find(const grpc_ingress_t *ing, const char *path, size_t len);
/* Runs |entry| at the end of this loop iteration (no-op when already linked). */
void ingress_defer(grpc_ingress_t *ing, h2o_timeout_entry_t *entry);
void ingress_stall_add(grpc_ingress_t *ing, ingress_stream_t *s);
void ingress_stall_remove(ingress_stream_t *s);

/* ---- grpc_ingress_conn.c ---- */
void ingress_conn_schedule_flush(ingress_conn_t *conn);
/* Closes the connection now: cancels its calls, frees its streams and itself. Only from top-level callbacks. */
void ingress_conn_destroy(ingress_conn_t *conn);
void ingress_conn_goaway(ingress_conn_t *conn, uint32_t error_code, const char *why);
/* The connection has no streams any more / got one: idle timer bookkeeping. */
void ingress_conn_update_idle(ingress_conn_t *conn);
nghttp2_session_callbacks *ingress_conn_callbacks_new(void);

/* ---- grpc_ingress_call.c ---- */
void ingress_call_install_callbacks(nghttp2_session_callbacks *cbs);
/* Frees a stream whose connection is going away (cancels the upstream call). */
void ingress_stream_destroy(ingress_stream_t *s, int cancelled);
/* A stalled stream's upstream backlog may have shrunk: give the window back if it has. Returns 1 when still stalled. */
int ingress_stream_poll_stall(ingress_stream_t *s);

/* ---- grpc_ingress_rules.c ---- */
/* Content-type of a request: 0 for application/grpc and application/grpc+proto (with or without
 * parameters), 1 for another application/grpc+codec (not passed through: the upstream speaks
 * proto), -1 for anything else. */
int ingress_content_type_kind(const char *value, size_t len);
/* Non-zero when a request header is copied to the upstream as metadata. */
int ingress_request_header_forwarded(const char *name, size_t name_len, const char *value, size_t value_len);
/* Non-zero when a response header or trailer from the upstream is copied to the client. */
int ingress_response_header_forwarded(const char *name, size_t name_len);
/* The deadline of the upstream call: the smaller of the client's (0: none) and the route's (0: none); 0: none. */
int64_t ingress_deadline_ms(int64_t client_ms, uint32_t route_ms);
/*
 * Builds the header block that ends a call, in one allocation (free() it; NULL when out of
 * memory): when |http_status| is non-zero a trailers-only answer (":status", content-type
 * application/grpc first), else trailers; then grpc-status, grpc-message (percent-encoded,
 * left out when empty), grpc-accept-encoding: identity when |accept_encoding|, and the
 * forwardable entries of |md|.
 */
nghttp2_nv *ingress_status_block(int http_status, grpc_code_t code, const char *message, size_t message_len,
                                 const upstream_header_t *md, size_t n_md, int accept_encoding, size_t *n_out);

#endif
