/*
 * server.h — the front door's process model: N worker threads, each with its own h2o
 * event loop, h2o context and listening sockets (SO_REUSEPORT, so the kernel spreads
 * connections and no lock is shared), TLS with ALPN (h2, http/1.1), and graceful shutdown
 * on SIGTERM/SIGINT: stop accepting, let in-flight requests finish until a deadline.
 *
 * What a request does is not decided here: the application passes an h2o handler
 * callback and per-worker init/dispose hooks (the h2o handler-chain contract).
 */
#ifndef PORTICO_HTTP_SERVER_H
#define PORTICO_HTTP_SERVER_H

#include <h2o.h>
#include <stdint.h>

#include "util/error.h"

typedef struct http_listener_conf {
    const char *address; /* "127.0.0.1", "::1", "0.0.0.0" */
    uint16_t port;       /* 0 = pick a free port (the chosen one is reported by http_server_bound_port) */
    const char *tls_certificate; /* PEM chain; NULL = cleartext (HTTP/1.1 + h2c) */
    const char *tls_key;
    const char *tls_client_ca; /* PEM CAs for client certificates (mTLS), or NULL */
    int raw;                   /* accepted sockets go to http_server_conf_t.on_raw_accept instead of h2o (native gRPC) */
} http_listener_conf_t;

typedef struct http_worker http_worker_t;

typedef struct http_server_conf {
    const http_listener_conf_t *listeners;
    size_t n_listeners;
    unsigned workers;              /* 0 = one per core */
    uint64_t shutdown_timeout_ms;  /* how long in-flight requests may take after a stop signal */
    size_t max_request_body_bytes; /* h2o rejects bodies larger than this */
    /* the request handler (returns 0 when it took the request, as h2o's on_req) */
    int (*on_req)(h2o_handler_t *self, h2o_req_t *req);
    /* per-worker state of the application, built on the worker's thread */
    void *(*on_worker_init)(http_worker_t *w, void *app);
    void (*on_worker_dispose)(http_worker_t *w, void *worker_state);
    void *app;
    /* a connection accepted on a |raw| listener (index |listener|), on the worker's loop; it owns
       |sock|. |ssl_ctx| is the listener's TLS context (ALPN h2), NULL for cleartext */
    void (*on_raw_accept)(http_worker_t *w, size_t listener, h2o_socket_t *sock, SSL_CTX *ssl_ctx);
    /* the worker begins its graceful stop (its listeners are closed); may be NULL */
    void (*on_worker_stop)(http_worker_t *w, void *worker_state);
    /* called once every listener is bound, before serving (e.g. to print the ports) */
    void (*on_ready)(void *app, const uint16_t *ports, size_t n_ports);
} http_server_conf_t;

struct http_worker {
    unsigned index;
    h2o_evloop_t *loop;
    h2o_context_t ctx;
    void *state;       /* what on_worker_init returned */
    size_t n_inflight; /* requests taken by the handler and not yet disposed */
    /* private */
    struct http_server *_server;
    h2o_accept_ctx_t *_accept;  /* one per listener */
    h2o_socket_t **_listen;     /* one per listener */
    h2o_multithread_receiver_t _stop_receiver;
    h2o_multithread_queue_t *_queue;
    int _stopping;
};

/*
 * Binds every listener, runs the workers and blocks until SIGTERM or SIGINT has been
 * handled (graceful stop). Returns 0, or -1 with |err| naming the listener that could
 * not be set up (bad certificate, address in use, ...).
 */
int http_server_run(const http_server_conf_t *conf, util_error_t *err);

/* The worker that runs on this thread (NULL outside workers). */
http_worker_t *http_worker_current(void);

/* Counts a request as in flight until its pool is cleared (graceful shutdown waits for it). */
void http_worker_track_request(http_worker_t *w, h2o_req_t *req);

#endif
