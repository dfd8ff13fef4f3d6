/*
 * upstreams.c — the "upstreams" section: named backends (gRPC or HTTP/1.1), each a list of
 * host:port targets with timeouts, a connection limit and optional client TLS. Names are
 * kept to letters, digits, '_' and '-' because they appear in JSON paths, log lines and
 * metric labels, where a '.' or a space would be ambiguous.
 */
#include "config/config_int.h"

#include <strings.h>
#include <string.h>

static const char *const upstream_keys[] = {"protocol",        "targets", "timeout_ms", "connect_timeout_ms",
                                            "max_connections", "tls",     NULL};
static const char *const tls_keys[] = {"ca", "server_name", "certificate", "key", NULL};

#define UPSTREAM_NAME_MAX 64

const char *config_upstream_protocol_name(config_upstream_protocol_t p)
{
    return p == CONFIG_UPSTREAM_HTTP ? "http" : "grpc";
}

static int name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > UPSTREAM_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
            return 0;
    }
    return 1;
}

static int parse_tls(config_ctx_t *ctx, const json_t *obj, config_upstream_t *u)
{
    size_t mark = config_ctx_push_key(ctx, "tls");
    if (config_json_check_keys(ctx, obj, tls_keys) != 0)
        return -1;
    config_upstream_tls_t *tls = config_ctx_alloc(ctx, sizeof(*tls));
    if (tls == NULL)
        return -1;
    if (config_path_member(ctx, obj, "ca", 0, &tls->ca) != 0 ||
        config_path_member(ctx, obj, "certificate", 0, &tls->certificate) != 0 ||
        config_path_member(ctx, obj, "key", 0, &tls->key) != 0)
        return -1;
    if (tls->certificate != NULL && tls->key == NULL)
        return config_ctx_fail(ctx, CONFIG_ERR_MISSING, "\"certificate\" needs \"key\" (the client certificate's private key)");
    if (tls->key != NULL && tls->certificate == NULL)
        return config_ctx_fail(ctx, CONFIG_ERR_MISSING, "\"key\" needs \"certificate\" (the client certificate)");
    const char *sni = NULL;
    if (config_json_string(ctx, obj, "server_name", 0, &sni) != 0)
        return -1;
    if (sni != NULL) {
        if (!config_hostname_valid(sni, strlen(sni))) {
            config_ctx_push_key(ctx, "server_name");
            return config_ctx_fail(ctx, CONFIG_ERR_VALUE, "\"%.100s\" is not a valid host name", sni);
        }
        if ((tls->server_name = config_ctx_strdup(ctx, sni)) == NULL)
            return -1;
    }
    u->tls = tls;
    config_ctx_pop(ctx, mark);
    return 0;
}

static int parse_targets(config_ctx_t *ctx, const json_t *arr, config_upstream_t *u)
{
    size_t top = config_ctx_push_key(ctx, "targets");
    size_t n = json_array_size(arr);
    if (n == 0)
        return config_ctx_fail(ctx, CONFIG_ERR_MISSING, "at least one target (\"host:port\") is required");
    config_target_t *targets = config_ctx_alloc(ctx, n * sizeof(*targets));
    if (targets == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        size_t mark = config_ctx_push_index(ctx, i);
        const char *s, *why = NULL;
        if (config_json_string_value(ctx, json_array_get(arr, i), &s) != 0)
            return -1;
        int rc = config_target_parse(ctx, s, &targets[i], &why);
        if (rc == -2)
            return config_ctx_fail(ctx, CONFIG_ERR_NOMEM, "out of memory");
        if (rc != 0)
            return config_ctx_fail(ctx, CONFIG_ERR_VALUE, "\"%.100s\" is not host:port (%s)", s, why);
        for (size_t j = 0; j < i; j++)
            if (targets[j].port == targets[i].port && strcasecmp(targets[j].host, targets[i].host) == 0)
                return config_ctx_fail(ctx, CONFIG_ERR_DUPLICATE, "\"%.100s\" is already listed as targets[%zu]", s, j);
        config_ctx_pop(ctx, mark);
    }
    u->targets = targets;
    u->n_targets = n;
    config_ctx_pop(ctx, top);
    return 0;
}

static int parse_one(config_ctx_t *ctx, const char *name, const json_t *obj, config_upstream_t *u)
{
    if (config_json_expect(ctx, obj, CONFIG_KIND_OBJECT) != 0 || config_json_check_keys(ctx, obj, upstream_keys) != 0)
        return -1;
    if ((u->name = config_ctx_strdup(ctx, name)) == NULL)
        return -1;

    const char *protocol;
    if (config_json_string(ctx, obj, "protocol", 1, &protocol) != 0)
        return -1;
    if (strcmp(protocol, "grpc") == 0) {
        u->protocol = CONFIG_UPSTREAM_GRPC;
    } else if (strcmp(protocol, "http") == 0) {
        u->protocol = CONFIG_UPSTREAM_HTTP;
    } else {
        config_ctx_push_key(ctx, "protocol");
        return config_ctx_fail(ctx, CONFIG_ERR_VALUE, "unknown protocol \"%.100s\" (expected one of: grpc, http)", protocol);
    }

    json_t *targets;
    if (config_json_member(ctx, obj, "targets", CONFIG_KIND_ARRAY, 1, &targets) != 0 || parse_targets(ctx, targets, u) != 0)
        return -1;

    long long timeout = CONFIG_DEFAULT_TIMEOUT_MS, connect_timeout = CONFIG_DEFAULT_CONNECT_TIMEOUT_MS,
              max_conn = CONFIG_DEFAULT_MAX_CONNECTIONS;
    if (config_json_int(ctx, obj, "timeout_ms", 0, 1, CONFIG_MAX_TIMEOUT_MS, &timeout) != 0 ||
        config_json_int(ctx, obj, "connect_timeout_ms", 0, 1, CONFIG_MAX_TIMEOUT_MS, &connect_timeout) != 0 ||
        config_json_int(ctx, obj, "max_connections", 0, 1, CONFIG_MAX_CONNECTIONS, &max_conn) != 0)
        return -1;
    u->timeout_ms = (uint32_t)timeout;
    u->connect_timeout_ms = (uint32_t)connect_timeout;
    u->max_connections = (uint32_t)max_conn;

    json_t *tls;
    if (config_json_member(ctx, obj, "tls", CONFIG_KIND_OBJECT, 0, &tls) != 0)
        return -1;
    if (tls != NULL && parse_tls(ctx, tls, u) != 0)
        return -1;
    return 0;
}

int config_upstreams_parse(config_ctx_t *ctx, const json_t *v, config_t *c)
{
    size_t top = config_ctx_push_key(ctx, "upstreams");
    if (config_json_expect(ctx, v, CONFIG_KIND_OBJECT) != 0)
        return -1;
    size_t n = json_object_size(v);
    config_upstream_t *list = NULL;
    if (n > 0 && (list = config_ctx_alloc(ctx, n * sizeof(*list))) == NULL)
        return -1;
    size_t i = 0;
    const char *name;
    json_t *u;
    /* jansson keeps object members in file order, so upstreams keep the order they were written in */
    json_object_foreach((json_t *)v, name, u)
    {
        if (!name_valid(name))
            return config_ctx_fail(ctx, CONFIG_ERR_VALUE,
                                   "\"%.100s\" is not a valid upstream name (1 to %d letters, digits, '_' or '-')", name,
                                   UPSTREAM_NAME_MAX);
        size_t mark = config_ctx_push_key(ctx, name);
        if (parse_one(ctx, name, u, &list[i]) != 0)
            return -1;
        config_ctx_pop(ctx, mark);
        i++;
    }
    c->upstreams = list;
    c->n_upstreams = n;
    config_ctx_pop(ctx, top);
    return 0;
}
