/*
 * server.c — worker threads, listeners, TLS and graceful shutdown on h2o's evloop; see
 * server.h. Each worker opens its own SO_REUSEPORT sockets for every listener, so
 * accepting needs no shared state; the main thread only waits for a signal and then
 * tells each worker to stop through an h2o multithread queue.
 */
#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct http_server {
    const http_server_conf_t *conf;
    h2o_globalconf_t globalconf;
    SSL_CTX **ssl; /* per listener, NULL for cleartext */
    struct sockaddr_storage *addrs;
    socklen_t *addrlens;
    uint16_t *ports; /* bound ports (resolved when a listener asked for port 0) */
    http_worker_t *workers;
    unsigned n_workers;
} http_server_t;

static __thread http_worker_t *current_worker;
/* Workers that ran: kept until exit (see the end of worker_main). */
static http_worker_t *retained_workers;

http_worker_t *http_worker_current(void)
{
    return current_worker;
}

/* ---- listeners -------------------------------------------------------------------- */

static int resolve_address(const http_listener_conf_t *l, struct sockaddr_storage *ss, socklen_t *len, util_error_t *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV | AI_PASSIVE};
    struct addrinfo *res = NULL;
    char port[8];
    snprintf(port, sizeof(port), "%u", (unsigned)l->port);
    const char *host = l->address != NULL && l->address[0] != '\0' ? l->address : NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0 || res == NULL)
        return util_error_set(err, -1, "listen %s:%u: cannot resolve address: %s", host ? host : "*", (unsigned)l->port,
                              gai_strerror(rc));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static int open_listener(const struct sockaddr_storage *ss, socklen_t len, int reuseport, util_error_t *err,
                         const char *what)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return util_error_set(err, -1, "listen %s: socket: %s", what, strerror(errno));
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (reuseport)
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    if (ss->ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
    if (bind(fd, (const struct sockaddr *)ss, len) != 0 || listen(fd, 1024) != 0) {
        util_error_set(err, -1, "listen %s: %s", what, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static const char *listener_name(const http_listener_conf_t *l, char *buf, size_t size)
{
    snprintf(buf, size, "%s:%u", l->address ? l->address : "0.0.0.0", (unsigned)l->port);
    return buf;
}

static SSL_CTX *make_ssl_ctx(const http_listener_conf_t *l, util_error_t *err)
{
    char name[300];
    listener_name(l, name, sizeof(name));
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        util_error_set(err, -1, "listen %s: cannot create a TLS context", name);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    unsigned long e;
    if (SSL_CTX_use_certificate_chain_file(ctx, l->tls_certificate) != 1) {
        e = ERR_get_error();
        util_error_set(err, -1, "listen %s: cannot load certificate %s: %s", name, l->tls_certificate,
                       ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "unknown error");
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, l->tls_key, SSL_FILETYPE_PEM) != 1) {
        e = ERR_get_error();
        util_error_set(err, -1, "listen %s: cannot load key %s: %s", name, l->tls_key,
                       ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "unknown error");
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        util_error_set(err, -1, "listen %s: key %s does not match certificate %s", name, l->tls_key, l->tls_certificate);
        goto fail;
    }
    if (l->tls_client_ca != NULL) {
        if (SSL_CTX_load_verify_locations(ctx, l->tls_client_ca, NULL) != 1) {
            util_error_set(err, -1, "listen %s: cannot load client CA %s", name, l->tls_client_ca);
            goto fail;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    h2o_ssl_register_alpn_protocols(ctx, h2o_http2_alpn_protocols);
    ERR_clear_error();
    return ctx;
fail:
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return NULL;
}

/* ---- workers ------------------------------------------------------------------------ */

static void on_accept(h2o_socket_t *listener, const char *errstr)
{
    if (errstr != NULL)
        return;
    h2o_accept_ctx_t *actx = listener->data;
    http_worker_t *w = current_worker;
    const http_server_conf_t *conf = w->_server->conf;
    size_t index = (size_t)(actx - w->_accept);
    int raw = conf->listeners[index].raw && conf->on_raw_accept != NULL;
    h2o_socket_t *sock;
    /* drain the backlog a few at a time so one worker does not starve its loop */
    for (int i = 0; i < 16 && (sock = h2o_evloop_socket_accept(listener)) != NULL; i++) {
        if (raw)
            conf->on_raw_accept(w, index, sock, actx->ssl_ctx);
        else
            h2o_accept(actx, sock);
    }
}

typedef struct inflight_token {
    http_worker_t *worker;
} inflight_token_t;

static void on_request_disposed(void *p)
{
    inflight_token_t *t = p;
    t->worker->n_inflight--;
}

void http_worker_track_request(http_worker_t *w, h2o_req_t *req)
{
    inflight_token_t *t = h2o_mem_alloc_shared(&req->pool, sizeof(*t), on_request_disposed);
    t->worker = w;
    w->n_inflight++;
}

static void stop_listening(http_worker_t *w)
{
    const http_server_conf_t *conf = w->_server->conf;
    for (size_t i = 0; i < conf->n_listeners; i++) {
        if (w->_listen[i] != NULL) {
            h2o_socket_read_stop(w->_listen[i]);
            h2o_socket_close(w->_listen[i]);
            w->_listen[i] = NULL;
        }
    }
}

static void on_stop_message(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    http_worker_t *w = H2O_STRUCT_FROM_MEMBER(http_worker_t, _stop_receiver, receiver);
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *m = H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&m->link);
        free(m);
    }
    if (w->_stopping)
        return;
    w->_stopping = 1;
    stop_listening(w);
    h2o_context_request_shutdown(&w->ctx);
    if (w->_server->conf->on_worker_stop != NULL)
        w->_server->conf->on_worker_stop(w, w->state);
}

static void *worker_main(void *arg)
{
    http_worker_t *w = arg;
    http_server_t *s = w->_server;
    const http_server_conf_t *conf = s->conf;
    current_worker = w;

    /* block the stop signals here: only the main thread takes them */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    if (conf->on_worker_init != NULL)
        w->state = conf->on_worker_init(w, conf->app);

    for (size_t i = 0; i < conf->n_listeners; i++) {
        if (w->_listen[i] == NULL)
            continue;
        w->_accept[i].ctx = &w->ctx;
        w->_accept[i].hosts = s->globalconf.hosts;
        w->_accept[i].ssl_ctx = s->ssl[i];
        w->_listen[i]->data = &w->_accept[i];
        h2o_socket_read_start(w->_listen[i], on_accept);
    }

    uint64_t deadline = 0;
    for (;;) {
        h2o_evloop_run(w->loop, w->_stopping ? 100 : INT32_MAX);
        if (w->_stopping) {
            uint64_t now = h2o_now(w->loop);
            if (deadline == 0)
                deadline = now + conf->shutdown_timeout_ms;
            if (w->n_inflight == 0 || now >= deadline)
                break;
        }
    }
    if (w->n_inflight != 0)
        fprintf(stderr, "portico: worker %u: %zu request(s) still in flight at the shutdown deadline\n", w->index,
                w->n_inflight);
    if (conf->on_worker_dispose != NULL)
        conf->on_worker_dispose(w, w->state);
    h2o_multithread_unregister_receiver(w->_queue, &w->_stop_receiver);
    h2o_multithread_destroy_queue(w->_queue);
    w->_queue = NULL;
    /* The loop and the context are not torn down: h2o 2.2.5 keeps internal timers linked on the
       context past its shutdown (h2o_context_dispose asserts on them), and the process exits next.
       They stay reachable through |retained_workers| (below). */
    return NULL;
}

int http_server_run(const http_server_conf_t *conf, util_error_t *err)
{
    int rc = -1;
    http_server_t s = {.conf = conf};
    pthread_t *threads = NULL;
    unsigned started = 0;
    size_t nl = conf->n_listeners;

    signal(SIGPIPE, SIG_IGN);
    h2o_config_init(&s.globalconf);
    s.globalconf.server_name = h2o_iovec_init(H2O_STRLIT("portico"));
    if (conf->max_request_body_bytes != 0)
        s.globalconf.max_request_entity_size = conf->max_request_body_bytes;
    h2o_hostconf_t *host = h2o_config_register_host(&s.globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *handler = h2o_create_handler(path, sizeof(*handler));
    handler->on_req = conf->on_req;

    s.ssl = calloc(nl, sizeof(*s.ssl));
    s.addrs = calloc(nl, sizeof(*s.addrs));
    s.addrlens = calloc(nl, sizeof(*s.addrlens));
    s.ports = calloc(nl, sizeof(*s.ports));
    s.n_workers = conf->workers != 0 ? conf->workers : (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
    if (s.n_workers == 0)
        s.n_workers = 1;
    s.workers = calloc(s.n_workers, sizeof(*s.workers));
    threads = calloc(s.n_workers, sizeof(*threads));
    if (s.ssl == NULL || s.addrs == NULL || s.addrlens == NULL || s.ports == NULL || s.workers == NULL || threads == NULL) {
        util_error_set(err, -1, "out of memory");
        goto done;
    }

    /* resolve, and bind once up front so that port 0 and errors are settled before any worker starts */
    for (size_t i = 0; i < nl; i++) {
        const http_listener_conf_t *l = &conf->listeners[i];
        char name[300];
        listener_name(l, name, sizeof(name));
        if (resolve_address(l, &s.addrs[i], &s.addrlens[i], err) != 0)
            goto done;
        if (l->tls_certificate != NULL && (s.ssl[i] = make_ssl_ctx(l, err)) == NULL)
            goto done;
    }
    for (unsigned wi = 0; wi < s.n_workers; wi++) {
        http_worker_t *w = &s.workers[wi];
        w->index = wi;
        w->_server = &s;
        w->_accept = calloc(nl, sizeof(*w->_accept));
        w->_listen = calloc(nl, sizeof(*w->_listen));
        if (w->_accept == NULL || w->_listen == NULL) {
            util_error_set(err, -1, "out of memory");
            goto done;
        }
        w->loop = h2o_evloop_create();
        h2o_context_init(&w->ctx, w->loop, &s.globalconf);
        w->_queue = h2o_multithread_create_queue(w->loop);
        h2o_multithread_register_receiver(w->_queue, &w->_stop_receiver, on_stop_message);
        for (size_t i = 0; i < nl; i++) {
            char name[300];
            listener_name(&conf->listeners[i], name, sizeof(name));
            int fd = open_listener(&s.addrs[i], s.addrlens[i], 1, err, name);
            if (fd < 0)
                goto done;
            if (s.ports[i] == 0) {
                /* the first worker's socket fixes the port; the others bind to the same one */
                struct sockaddr_storage bound;
                socklen_t bl = sizeof(bound);
                getsockname(fd, (struct sockaddr *)&bound, &bl);
                s.ports[i] = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                               : ((struct sockaddr_in *)&bound)->sin_port);
                if (s.addrs[i].ss_family == AF_INET6)
                    ((struct sockaddr_in6 *)&s.addrs[i])->sin6_port = htons(s.ports[i]);
                else
                    ((struct sockaddr_in *)&s.addrs[i])->sin_port = htons(s.ports[i]);
            }
            w->_listen[i] = h2o_evloop_socket_create(w->loop, fd, H2O_SOCKET_FLAG_DONT_READ);
        }
    }

    /* the main thread takes the stop signals; workers block them */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    for (; started < s.n_workers; started++) {
        if (pthread_create(&threads[started], NULL, worker_main, &s.workers[started]) != 0) {
            util_error_set(err, -1, "cannot start worker thread %u", started);
            break;
        }
    }
    if (started == s.n_workers) {
        if (conf->on_ready != NULL)
            conf->on_ready(conf->app, s.ports, nl);
        int sig = 0;
        sigwait(&set, &sig);
        fprintf(stderr, "portico: %s received, stopping (in-flight requests have %llu ms)\n",
                sig == SIGTERM ? "SIGTERM" : "SIGINT", (unsigned long long)conf->shutdown_timeout_ms);
        rc = 0;
    }
    for (unsigned i = 0; i < started; i++) {
        h2o_multithread_message_t *m = calloc(1, sizeof(*m));
        h2o_multithread_send_message(&s.workers[i]._stop_receiver, m);
    }
    for (unsigned i = 0; i < started; i++)
        pthread_join(threads[i], NULL);

done:
    if (s.workers != NULL) {
        for (unsigned wi = 0; wi < s.n_workers; wi++) {
            http_worker_t *w = &s.workers[wi];
            if (w->loop != NULL && wi >= started) {
                /* never ran: undo the setup */
                for (size_t i = 0; i < nl; i++)
                    if (w->_listen != NULL && w->_listen[i] != NULL)
                        h2o_socket_close(w->_listen[i]);
                h2o_multithread_unregister_receiver(w->_queue, &w->_stop_receiver);
                h2o_multithread_destroy_queue(w->_queue);
                h2o_context_dispose(&w->ctx);
                h2o_evloop_run(w->loop, 0);
                h2o_evloop_destroy(w->loop);
            }
            free(w->_accept);
            free(w->_listen);
        }
    }
    for (size_t i = 0; s.ssl != NULL && i < nl; i++)
        if (s.ssl[i] != NULL)
            SSL_CTX_free(s.ssl[i]);
    free(s.ssl);
    free(s.addrs);
    free(s.addrlens);
    free(s.ports);
    if (started != 0)
        retained_workers = s.workers;
    else
        free(s.workers);
    free(threads);
    h2o_config_dispose(&s.globalconf);
    return rc;
}
