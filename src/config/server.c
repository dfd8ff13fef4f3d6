/*
 * server.c — the gateway-wide sections that are not lists of things: "limits" (request
 * size and JSON nesting caps), "forward_headers" (which client request headers become gRPC
 * metadata) and "access_log". The header allow-list refuses names the gateway must set or
 * strip itself: hop-by-hop headers (RFC 9110 §7.6.1, plus the legacy proxy-connection),
 * host, content-length/content-type and the reserved grpc-* namespace.
 */
#include "config/config_int.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

static const char *const limits_keys[] = {"max_request_body_bytes", "max_header_bytes", "max_json_depth", NULL};

/* The default allow-list when "forward_headers" is absent. */
static const char *const default_forward_headers[] = {"x-request-id", "authorization", "traceparent", "tracestate"};

static const char *const hop_by_hop[] = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te",
                                         "host",       NULL};
static const char *const gateway_owned[] = {"content-length", "content-type", NULL};

#define LIMIT_MAX_BODY ((long long)1 << 30)
#define LIMIT_MIN_HEADER 1024
#define LIMIT_MAX_HEADER (1 << 20)
#define LIMIT_MAX_JSON_DEPTH 1000

int config_limits_parse(config_ctx_t *ctx, const json_t *v, config_t *c)
{
    long long body = (long long)c->limits.max_request_body_bytes, header = c->limits.max_header_bytes,
              depth = c->limits.max_json_depth;
    size_t top = config_ctx_push_key(ctx, "limits");
    if (config_json_expect(ctx, v, CONFIG_KIND_OBJECT) != 0 || config_json_check_keys(ctx, v, limits_keys) != 0 ||
        config_json_int(ctx, v, "max_request_body_bytes", 0, 1, LIMIT_MAX_BODY, &body) != 0 ||
        config_json_int(ctx, v, "max_header_bytes", 0, LIMIT_MIN_HEADER, LIMIT_MAX_HEADER, &header) != 0 ||
        config_json_int(ctx, v, "max_json_depth", 0, 1, LIMIT_MAX_JSON_DEPTH, &depth) != 0)
        return -1;
    c->limits.max_request_body_bytes = (uint64_t)body;
    c->limits.max_header_bytes = (uint32_t)header;
    c->limits.max_json_depth = (uint32_t)depth;
    config_ctx_pop(ctx, top);
    return 0;
}

/* RFC 9110 token characters, lowercase letters only. */
static int lowercase_token(const char *s, int *has_upper)
{
    *has_upper = 0;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch >= 'A' && ch <= 'Z') {
            *has_upper = 1;
            continue;
        }
        if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || strchr("!#$%&'*+-.^_`|~", ch) != NULL)
            continue;
        return 0;
    }
    return 1;
}

static int in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i] != NULL; i++)
        if (strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

static int check_header(config_ctx_t *ctx, const char *h)
{
    int has_upper;
    if (!lowercase_token(h, &has_upper))
        return config_ctx_fail(ctx, CONFIG_ERR_VALUE, "\"%.100s\" is not a valid header name", h);
    if (has_upper)
        return config_ctx_fail(ctx, CONFIG_ERR_VALUE, "\"%.100s\" must be lowercase", h);
    if (in_list(h, hop_by_hop))
        return config_ctx_fail(ctx, CONFIG_ERR_VALUE, "\"%s\" is a hop-by-hop header and cannot be forwarded", h);
    if (in_list(h, gateway_owned) || strncmp(h, "grpc-", 5) == 0)
        return config_ctx_fail(ctx, CONFIG_ERR_VALUE, "\"%.100s\" is set by the gateway itself and cannot be forwarded", h);
    return 0;
}

int config_forward_headers_parse(config_ctx_t *ctx, const json_t *v, config_t *c)
{
    const char **list;
    size_t n;
    if (v == NULL) {
        n = sizeof(default_forward_headers) / sizeof(default_forward_headers[0]);
        if ((list = config_ctx_alloc(ctx, n * sizeof(*list))) == NULL)
            return -1;
        memcpy(list, default_forward_headers, sizeof(default_forward_headers));
        c->forward_headers = list;
        c->n_forward_headers = n;
        return 0;
    }
    size_t top = config_ctx_push_key(ctx, "forward_headers");
    if (config_json_expect(ctx, v, CONFIG_KIND_ARRAY) != 0)
        return -1;
    n = json_array_size(v);
    list = NULL;
    if (n > 0 && (list = config_ctx_alloc(ctx, n * sizeof(*list))) == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        size_t mark = config_ctx_push_index(ctx, i);
        const char *h;
        if (config_json_string_value(ctx, json_array_get(v, i), &h) != 0 || check_header(ctx, h) != 0)
            return -1;
        for (size_t j = 0; j < i; j++)
            if (strcmp(list[j], h) == 0)
                return config_ctx_fail(ctx, CONFIG_ERR_DUPLICATE, "\"%.100s\" is already listed as forward_headers[%zu]", h, j);
        if ((list[i] = config_ctx_strdup(ctx, h)) == NULL)
            return -1;
        config_ctx_pop(ctx, mark);
    }
    c->forward_headers = list;
    c->n_forward_headers = n;
    config_ctx_pop(ctx, top);
    return 0;
}

int config_access_log_parse(config_ctx_t *ctx, const json_t *v, config_t *c)
{
    c->access_log = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    size_t top = config_ctx_push_key(ctx, "access_log");
    const char *s;
    if (config_json_string_value(ctx, v, &s) != 0)
        return -1;
    if (strcmp(s, "-") == 0) {
        c->access_log = "-";
        config_ctx_pop(ctx, top);
        return 0;
    }
    char *abs = config_path_resolve(ctx, s);
    if (abs == NULL)
        return -1;
    size_t n = strlen(abs);
    if (abs[n - 1] == '/')
        return config_ctx_fail(ctx, CONFIG_ERR_VALUE, "\"%.300s\" names a directory, not a log file", abs);
    /* the file itself is created on open; its directory must already be there */
    char *slash = strrchr(abs, '/');
    *slash = '\0';
    const char *dir = slash == abs ? "/" : abs;
    struct stat st;
    if (stat(dir, &st) != 0)
        return config_ctx_fail(ctx, CONFIG_ERR_FILE, "cannot use directory \"%.300s\" for the log: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return config_ctx_fail(ctx, CONFIG_ERR_FILE, "\"%.300s\" is not a directory", dir);
    *slash = '/';
    c->access_log = abs;
    config_ctx_pop(ctx, top);
    return 0;
}
