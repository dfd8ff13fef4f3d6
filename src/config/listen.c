/*
 * listen.c — the "listen" section: the listeners the gateway binds (address, port, client
 * protocol, optional TLS with optional client certificates). At least one is required, and
 * no two may bind the same address and port (port 0, "any free port", never clashes).
 * The TLS files are checked for existence here; loading them into OpenSSL happens when the
 * listener is created.
 */
#include "config/config_int.h"

#include <netinet/in.h>
#include <string.h>

static const char *const listen_keys[] = {"address", "port", "protocol", "tls", NULL};
static const char *const tls_keys[] = {"certificate", "key", "client_ca", NULL};

const char *config_listen_protocol_name(config_listen_protocol_t p)
{
    return p == CONFIG_LISTEN_GRPC ? "grpc" : "http";
}

static int parse_tls(config_ctx_t *ctx, const json_t *obj, config_listen_t *l)
{
    size_t mark = config_ctx_push_key(ctx, "tls");
    if (config_json_check_keys(ctx, obj, tls_keys) != 0)
        return -1;
    config_listen_tls_t *tls = config_ctx_alloc(ctx, sizeof(*tls));
    if (tls == NULL)
        return -1;
    if (config_path_member(ctx, obj, "certificate", 1, &tls->certificate) != 0 ||
        config_path_member(ctx, obj, "key", 1, &tls->key) != 0 ||
        config_path_member(ctx, obj, "client_ca", 0, &tls->client_ca) != 0)
        return -1;
    l->tls = tls;
    config_ctx_pop(ctx, mark);
    return 0;
}

static int parse_one(config_ctx_t *ctx, const json_t *obj, config_listen_t *l)
{
    if (config_json_expect(ctx, obj, CONFIG_KIND_OBJECT) != 0 || config_json_check_keys(ctx, obj, listen_keys) != 0)
        return -1;
    long long port = 0;
    if (config_json_int(ctx, obj, "port", 1, 0, 65535, &port) != 0)
        return -1;
    l->port = (uint16_t)port;

    const char *address = CONFIG_DEFAULT_LISTEN_ADDRESS;
    if (config_json_string(ctx, obj, "address", 0, &address) != 0)
        return -1;
    int rc = config_listen_address_parse(ctx, address, l->port, l);
    if (rc == -2)
        return config_ctx_fail(ctx, CONFIG_ERR_NOMEM, "out of memory");
    if (rc != 0) {
        config_ctx_push_key(ctx, "address");
        return config_ctx_fail(ctx, CONFIG_ERR_VALUE, "\"%.100s\" is not an IPv4 or IPv6 address", address);
    }

    const char *protocol = "http";
    if (config_json_string(ctx, obj, "protocol", 0, &protocol) != 0)
        return -1;
    if (strcmp(protocol, "http") == 0) {
        l->protocol = CONFIG_LISTEN_HTTP;
    } else if (strcmp(protocol, "grpc") == 0) {
        l->protocol = CONFIG_LISTEN_GRPC;
    } else {
        config_ctx_push_key(ctx, "protocol");
        return config_ctx_fail(ctx, CONFIG_ERR_VALUE, "unknown protocol \"%.100s\" (expected one of: http, grpc)", protocol);
    }

    json_t *tls;
    if (config_json_member(ctx, obj, "tls", CONFIG_KIND_OBJECT, 0, &tls) != 0)
        return -1;
    if (tls != NULL && parse_tls(ctx, tls, l) != 0)
        return -1;
    return 0;
}

/* Same socket address: family, address bytes and port. */
static int same_socket(const config_listen_t *a, const config_listen_t *b)
{
    if (a->addr.ss_family != b->addr.ss_family || a->port != b->port)
        return 0;
    if (a->addr.ss_family == AF_INET)
        return memcmp(&((const struct sockaddr_in *)&a->addr)->sin_addr, &((const struct sockaddr_in *)&b->addr)->sin_addr,
                      sizeof(struct in_addr)) == 0;
    return memcmp(&((const struct sockaddr_in6 *)&a->addr)->sin6_addr, &((const struct sockaddr_in6 *)&b->addr)->sin6_addr,
                  sizeof(struct in6_addr)) == 0;
}

int config_listen_parse(config_ctx_t *ctx, const json_t *v, config_t *c)
{
    size_t top = config_ctx_push_key(ctx, "listen");
    if (config_json_expect(ctx, v, CONFIG_KIND_ARRAY) != 0)
        return -1;
    size_t n = json_array_size(v);
    if (n == 0)
        return config_ctx_fail(ctx, CONFIG_ERR_MISSING, "at least one listener is required");
    config_listen_t *list = config_ctx_alloc(ctx, n * sizeof(*list));
    if (list == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        size_t mark = config_ctx_push_index(ctx, i);
        if (parse_one(ctx, json_array_get(v, i), &list[i]) != 0)
            return -1;
        for (size_t j = 0; j < i && list[i].port != 0; j++) {
            if (same_socket(&list[i], &list[j])) {
                const char *lb = list[i].addr.ss_family == AF_INET6 ? "[" : "";
                const char *rb = list[i].addr.ss_family == AF_INET6 ? "]" : "";
                return config_ctx_fail(ctx, CONFIG_ERR_DUPLICATE, "%s%s%s:%u is already used by listen[%zu]", lb, list[i].address,
                                       rb, (unsigned)list[i].port, j);
            }
        }
        config_ctx_pop(ctx, mark);
    }
    c->listen = list;
    c->n_listen = n;
    config_ctx_pop(ctx, top);
    return 0;
}
