/*
 * target.c — target parsing and resolution, reconnect backoff and shared config defaults for
 * the upstream pools (see target.h).
 */
#include "upstream/target.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>

int upstream_target_resolve(const char *spec, unsigned flags, upstream_target_addr_t *out, util_error_t *err)
{
    const char *host, *port;
    size_t host_len;
    memset(out, 0, sizeof(*out));
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (close == NULL || close[1] != ':')
            return util_error_set(err, -1, "upstream target \"%s\" must be [address]:port", spec);
        host = spec + 1;
        host_len = (size_t)(close - host);
        port = close + 2;
    } else {
        const char *colon = strrchr(spec, ':');
        if (colon == NULL)
            return util_error_set(err, -1, "upstream target \"%s\" has no port (expected host:port)", spec);
        host = spec;
        host_len = (size_t)(colon - spec);
        port = colon + 1;
    }
    if (host_len == 0)
        return util_error_set(err, -1, "upstream target \"%s\" has an empty host", spec);
    char *end;
    errno = 0;
    long portnum = strtol(port, &end, 10);
    if (*port == '\0' || *end != '\0' || errno != 0 || portnum < 1 || portnum > 65535)
        return util_error_set(err, -1, "upstream target \"%s\" has an invalid port \"%s\"", spec, port);
    if (flags & UPSTREAM_TARGET_NO_CONTROLS)
        for (const char *c = spec; *c; c++)
            if ((unsigned char)*c <= ' ' || *c == 0x7f)
                return util_error_set(err, -1, "upstream target \"%s\" holds a space or control character", spec);

    out->host = strndup(host, host_len);
    out->authority = strdup(spec);
    if (out->host == NULL || out->authority == NULL) {
        util_error_set(err, -1, "out of memory");
        goto fail;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int rv = getaddrinfo(out->host, port, &hints, &res);
    if (rv != 0 || res == NULL) {
        util_error_set(err, -1, "upstream target \"%s\": cannot resolve \"%s\": %s", spec, out->host,
                       rv != 0 ? gai_strerror(rv) : "no address");
        goto fail;
    }
    memcpy(&out->addr, res->ai_addr, res->ai_addrlen);
    out->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;

fail:
    free(out->host);
    free(out->authority);
    out->host = out->authority = NULL;
    return -1;
}

void upstream_target_config_defaults(uint32_t *connect_timeout_ms, uint32_t *max_connections_per_target,
                                     uint32_t *backoff_initial_ms, uint32_t *backoff_max_ms)
{
    if (*connect_timeout_ms == 0)
        *connect_timeout_ms = 5000;
    if (*max_connections_per_target == 0)
        *max_connections_per_target = 4;
    if (*backoff_initial_ms == 0)
        *backoff_initial_ms = 1000;
    if (*backoff_max_ms == 0)
        *backoff_max_ms = 30000;
    if (*backoff_max_ms < *backoff_initial_ms)
        *backoff_max_ms = *backoff_initial_ms;
}

uint32_t upstream_target_backoff_ms(uint64_t *rng, uint64_t seed, uint32_t failures, uint32_t initial_ms, uint32_t max_ms)
{
    uint32_t shift = failures - 1 > 20 ? 20 : failures - 1;
    uint64_t wait = (uint64_t)initial_ms << shift;
    if (wait > max_ms)
        wait = max_ms;
    uint32_t ms = (uint32_t)wait;

    uint64_t x = *rng != 0 ? *rng : seed ^ 0x9e3779b97f4a7c15ull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *rng = x;
    uint64_t span = (uint64_t)ms * 2 / 5; /* +-20% */
    return span == 0 ? ms : (uint32_t)(ms - ms / 5 + x % (span + 1));
}

h2o_socket_t *upstream_target_connect(h2o_loop_t *loop, const struct sockaddr_storage *addr, socklen_t addrlen, h2o_socket_cb cb)
{
    h2o_socket_t *sock = h2o_socket_connect(loop, (struct sockaddr *)addr, addrlen, cb);
    if (sock != NULL) {
        int on = 1;
        (void)setsockopt(h2o_socket_get_fd(sock), IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)); /* best effort: AF_UNIX has none */
    }
    return sock;
}
