/*
 * main.c — reviews-backend: the example shop's REST/JSON reviews service on libh2o's evloop.
 *
 *   reviews-backend [--listen HOST:PORT] [--port-file PATH] [--grace-ms N] [--quiet]
 *
 * One thread, one h2o event loop, HTTP/1.1 (and h2c upgrade) on one listening socket; the
 * requests themselves are answered by handler.c. SIGTERM/SIGINT reach the loop through a
 * self-pipe (the signal handler only writes a byte), so the loop never polls: on the signal the
 * listener is closed, idle keep-alive connections are asked to close, responses still waiting
 * for their x-test-delay-ms get up to --grace-ms to go out, and the process exits 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "reviews.h"

/* Static so that everything h2o still holds at exit stays reachable (no leak reports). */
static reviews_server_t server;
static h2o_accept_ctx_t accept_ctx;
static int signal_pipe[2] = {-1, -1};
static int stopping;
static const char *stop_signal = "signal";

static void usage(FILE *out)
{
    fprintf(out, "usage: reviews-backend [--listen HOST:PORT] [--port-file PATH] [--grace-ms N] [--quiet]\n"
                 "Serves the example shop's product reviews as REST/JSON: GET /reviews/{sku}, GET /healthz.\n"
                 "  --listen HOST:PORT  address to listen on (default 127.0.0.1:8081; port 0 picks a free one)\n"
                 "  --port-file PATH    write the bound port number to PATH once listening\n"
                 "  --grace-ms N        on SIGTERM, time delayed responses get to go out (default 2000)\n"
                 "  --quiet             no per-request log lines on stderr\n"
                 "Test hooks (request headers): x-test-delay-ms, x-test-status, x-test-body.\n");
}

static void on_signal(int sig)
{
    int saved = errno;
    char c = (char)sig;
    ssize_t rc = write(signal_pipe[1], &c, 1);
    (void)rc;
    errno = saved;
}

static void on_signal_readable(h2o_socket_t *sock, const char *err)
{
    if (err == NULL && sock->input->size > 0)
        stop_signal = sock->input->bytes[0] == SIGINT ? "SIGINT" : "SIGTERM";
    h2o_buffer_consume(&sock->input, sock->input->size);
    stopping = 1;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    if (err != NULL)
        return;
    h2o_socket_t *sock;
    for (int i = 0; i < 16 && (sock = h2o_evloop_socket_accept(listener)) != NULL; i++)
        h2o_accept(&accept_ctx, sock);
}

/* Binds and listens on "HOST:PORT" ("[::1]:0" for IPv6). Returns the fd, or -1 with a message printed. */
static int listen_on(const char *spec, int *port)
{
    char host[256];
    const char *colon = strrchr(spec, ':');
    if (colon == NULL || colon == spec || colon[1] == '\0' || (size_t)(colon - spec) >= sizeof(host)) {
        fprintf(stderr, "reviews-backend: --listen %s: expected HOST:PORT\n", spec);
        return -1;
    }
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = '\0';
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    struct addrinfo hints = {0}, *ai;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo(host, colon + 1, &hints, &ai);
    if (rc != 0) {
        fprintf(stderr, "reviews-backend: --listen %s: %s\n", spec, gai_strerror(rc));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
        listen(fd, SOMAXCONN) != 0 || fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
        fprintf(stderr, "reviews-backend: --listen %s: %s\n", spec, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &len);
    *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

static int write_port_file(const char *path, int port)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "reviews-backend: --port-file %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *listen_spec = "127.0.0.1:8081", *port_file = NULL;
    long grace_ms = 2000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--quiet") == 0) {
            server.quiet = 1;
        } else if (next != NULL && strcmp(a, "--listen") == 0) {
            listen_spec = next, i++;
        } else if (next != NULL && strcmp(a, "--port-file") == 0) {
            port_file = next, i++;
        } else if (next != NULL && strcmp(a, "--grace-ms") == 0) {
            char *end;
            grace_ms = strtol(next, &end, 10);
            if (*end != '\0' || grace_ms < 0 || grace_ms > 600000) {
                fprintf(stderr, "reviews-backend: --grace-ms %s: expected milliseconds in 0..600000\n", next);
                return 2;
            }
            i++;
        } else {
            fprintf(stderr, "reviews-backend: unknown or incomplete option %s\n", a);
            usage(stderr);
            return 2;
        }
    }

    signal(SIGPIPE, SIG_IGN);
    if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        perror("reviews-backend: pipe");
        return 1;
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    int port = 0, fd = listen_on(listen_spec, &port);
    if (fd < 0)
        return 1;

    h2o_config_init(&server.config);
    server.config.server_name = h2o_iovec_init(H2O_STRLIT("reviews-backend"));
    reviews_handler_register(&server);
    server.loop = h2o_evloop_create();
    h2o_context_init(&server.ctx, server.loop, &server.config);
    accept_ctx.ctx = &server.ctx;
    accept_ctx.hosts = server.config.hosts;

    h2o_socket_t *listener = h2o_evloop_socket_create(server.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    h2o_socket_read_start(listener, on_accept);
    h2o_socket_t *sig_sock = h2o_evloop_socket_create(server.loop, signal_pipe[0], 0);
    h2o_socket_read_start(sig_sock, on_signal_readable);

    if (port_file != NULL && write_port_file(port_file, port) != 0)
        return 1;
    fprintf(stderr, "reviews-backend: listening on %s (port %d)\n", listen_spec, port);

    while (!stopping)
        h2o_evloop_run(server.loop, INT32_MAX);

    fprintf(stderr, "reviews-backend: %s, shutting down\n", stop_signal);
    h2o_socket_read_stop(listener);
    h2o_socket_close(listener);
    h2o_context_request_shutdown(&server.ctx);
    uint64_t deadline = h2o_now(server.loop) + (uint64_t)grace_ms;
    while (server.pending > 0 && h2o_now(server.loop) < deadline)
        h2o_evloop_run(server.loop, 10);
    for (int i = 0; i < 3; i++) /* let the last responses be written */
        h2o_evloop_run(server.loop, 0);
    if (server.pending > 0)
        fprintf(stderr, "reviews-backend: %zu delayed responses dropped after %ldms\n", server.pending, grace_ms);
    reviews_handler_dispose(&server);
    h2o_socket_read_stop(sig_sock);
    h2o_socket_close(sig_sock);
    close(signal_pipe[1]);
    /* Not h2o_context_dispose: keep-alive connections may still be open, and 2.2.5 asserts on
       their timers. The process ends here; the kernel closes what is left. */
    fprintf(stderr, "reviews-backend: stopped\n");
    return 0;
}
