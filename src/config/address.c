/*
 * address.c — host and port syntax of the config: upstream targets ("host:port" with host a
 * DNS name, dotted IPv4 or [IPv6]) and listener addresses (numeric only, turned into a
 * sockaddr ready for bind). Written by hand because getaddrinfo() would resolve names at
 * load time (the upstream module resolves them itself, per connection) and accepts forms
 * such as "010.1" or "1" that are almost always typos; numeric parts use inet_pton(3).
 */
#include "config/config_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

int config_hostname_valid(const char *s, size_t len)
{
    if (len == 0 || len > 253)
        return 0;
    size_t label = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            if (label == 0 || label > 63 || s[i - 1] == '-' || s[i - label] == '-')
                return 0;
            label = 0;
            continue;
        }
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
            return 0;
        label++;
    }
    return 1;
}

/* Port "1".."65535", digits only; -1 otherwise. */
static int parse_port(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 5)
        return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v >= 1 && v <= 65535 ? (int)v : -1;
}

int config_target_parse(config_ctx_t *ctx, const char *s, config_target_t *t, const char **why)
{
    char host[256];
    const char *port_text;
    config_host_kind_t kind;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL) {
            *why = "missing \"]\" after the IPv6 address";
            return -1;
        }
        size_t hl = (size_t)(close - s - 1);
        unsigned char bin[sizeof(struct in6_addr)];
        if (hl == 0 || hl >= 64) {
            *why = "not a valid IPv6 address";
            return -1;
        }
        memcpy(host, s + 1, hl);
        host[hl] = '\0';
        if (inet_pton(AF_INET6, host, bin) != 1) {
            *why = "not a valid IPv6 address";
            return -1;
        }
        if (close[1] != ':') {
            *why = "missing \":port\"";
            return -1;
        }
        port_text = close + 2;
        kind = CONFIG_HOST_IPV6;
    } else {
        const char *colon = strrchr(s, ':');
        if (colon == NULL) {
            *why = "missing \":port\"";
            return -1;
        }
        if (memchr(s, ':', (size_t)(colon - s)) != NULL) {
            *why = "an IPv6 address needs brackets, as in [::1]:50051";
            return -1;
        }
        size_t hl = (size_t)(colon - s);
        if (hl == 0) {
            *why = "missing host";
            return -1;
        }
        if (hl >= sizeof(host)) {
            *why = "host name too long";
            return -1;
        }
        memcpy(host, s, hl);
        host[hl] = '\0';
        if (strspn(host, "0123456789.") == hl) {
            /* all digits and dots: meant as IPv4, so "10.0.0.256" is an error, not a name */
            struct in_addr a;
            if (inet_pton(AF_INET, host, &a) != 1) {
                *why = "not a valid IPv4 address";
                return -1;
            }
            kind = CONFIG_HOST_IPV4;
        } else if (config_hostname_valid(host, hl)) {
            kind = CONFIG_HOST_NAME;
        } else {
            *why = "not a valid host name";
            return -1;
        }
        port_text = colon + 1;
    }
    int port = parse_port(port_text);
    if (port < 0) {
        *why = "port must be a number from 1 to 65535";
        return -1;
    }
    t->host = util_arena_strdup(ctx->arena, host);
    t->authority = util_arena_strdup(ctx->arena, s);
    if (t->host == NULL || t->authority == NULL)
        return -2;
    t->port = (uint16_t)port;
    t->kind = kind;
    return 0;
}

int config_listen_address_parse(config_ctx_t *ctx, const char *s, uint16_t port, config_listen_t *l)
{
    char buf[64];
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        s++;
        n -= 2;
    }
    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    memset(&l->addr, 0, sizeof(l->addr));
    struct sockaddr_in *v4 = (struct sockaddr_in *)&l->addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&l->addr;
    if (inet_pton(AF_INET, buf, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        l->addr_len = sizeof(*v4);
    } else if (inet_pton(AF_INET6, buf, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        l->addr_len = sizeof(*v6);
    } else {
        return -1;
    }
    l->address = util_arena_strdup(ctx->arena, buf);
    return l->address == NULL ? -2 : 0;
}
