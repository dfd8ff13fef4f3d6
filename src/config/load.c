/*
 * load.c — entry points of src/config: reads the file (or takes a string), parses it with
 * jansson (duplicate keys rejected: with JSON objects the last one would silently win),
 * checks the top-level keys, runs the section parsers in dependency order (upstreams
 * before grpc_services, which refer to them) and cross-checks what spans sections. The
 * result owns copies of everything it needs; the jansson tree is freed before returning.
 */
#include "config/config_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const top_keys[] = {"listen",
                                       "workers",
                                       "descriptors",
                                       "upstreams",
                                       "grpc_services",
                                       "aggregations",
                                       "limits",
                                       "forward_headers",
                                       "shutdown_timeout_ms",
                                       "access_log",
                                       "cors",
                                       "routes",
                                       "openapi",
                                       NULL};

static int parse_root(config_ctx_t *ctx, const json_t *root, config_t *c)
{
    if (config_json_expect(ctx, root, CONFIG_KIND_OBJECT) != 0 || config_json_check_keys(ctx, root, top_keys) != 0)
        return -1;

    json_t *v;
    if (config_json_member(ctx, root, "listen", CONFIG_KIND_ARRAY, 1, &v) != 0 || config_listen_parse(ctx, v, c) != 0)
        return -1;

    long long workers = 0;
    if (config_json_int(ctx, root, "workers", 0, 0, CONFIG_MAX_WORKERS, &workers) != 0)
        return -1;
    c->workers = (uint32_t)workers;

    if ((v = json_object_get(root, "descriptors")) != NULL && config_descriptors_parse(ctx, v, c) != 0)
        return -1;
    /* before the check below: without "descriptors", the tables name the sets */
    if ((v = json_object_get(root, "routes")) != NULL &&
        (config_routes_parse(ctx, v, c) != 0 || config_routes_descriptors(ctx, c) != 0))
        return -1;
    if ((v = json_object_get(root, "upstreams")) != NULL && config_upstreams_parse(ctx, v, c) != 0)
        return -1;
    /* before grpc_services: their "cors" overrides start from the global policy */
    if ((v = json_object_get(root, "cors")) != NULL && config_cors_parse(ctx, v, NULL, &c->cors) != 0)
        return -1;
    if ((v = json_object_get(root, "grpc_services")) != NULL && config_services_parse(ctx, v, c) != 0)
        return -1;
    if (c->n_grpc_services > 0 && c->n_descriptors == 0) {
        config_ctx_push_key(ctx, "descriptors");
        return config_ctx_fail(
            ctx, CONFIG_ERR_MISSING,
            "grpc_services are configured but no descriptor set is listed (add the .pb files of their services, or "
            "\"routes\" tables that name theirs)");
    }

    if ((v = json_object_get(root, "aggregations")) != NULL) {
        size_t mark = config_ctx_push_key(ctx, "aggregations");
        if (config_json_expect(ctx, v, CONFIG_KIND_ARRAY) != 0 || config_path_expand_globs(ctx, v, c) != 0)
            return -1;
        config_ctx_pop(ctx, mark);
    }

    if ((v = json_object_get(root, "limits")) != NULL && config_limits_parse(ctx, v, c) != 0)
        return -1;
    if (config_forward_headers_parse(ctx, json_object_get(root, "forward_headers"), c) != 0)
        return -1;
    if ((v = json_object_get(root, "openapi")) != NULL && config_openapi_parse(ctx, v, c) != 0)
        return -1;

    long long shutdown = CONFIG_DEFAULT_SHUTDOWN_TIMEOUT_MS;
    if (config_json_int(ctx, root, "shutdown_timeout_ms", 0, 1, CONFIG_MAX_TIMEOUT_MS, &shutdown) != 0)
        return -1;
    c->shutdown_timeout_ms = (uint32_t)shutdown;

    return config_access_log_parse(ctx, json_object_get(root, "access_log"), c);
}

/* Parses |text| into a new config; |base_dir| is absolute. */
static config_t *build(const char *text, size_t len, const char *name, const char *base_dir, const char *path, util_error_t *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        util_error_set(err, CONFIG_ERR_SYNTAX, "%s:%d:%d: %s", name, jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    config_t *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        json_decref(root);
        util_error_set(err, CONFIG_ERR_NOMEM, "%s: out of memory", name);
        return NULL;
    }
    util_arena_init(&c->_arena);
    c->limits.max_request_body_bytes = CONFIG_DEFAULT_MAX_REQUEST_BODY_BYTES;
    c->limits.max_header_bytes = CONFIG_DEFAULT_MAX_HEADER_BYTES;
    c->limits.max_json_depth = CONFIG_DEFAULT_MAX_JSON_DEPTH;
    c->shutdown_timeout_ms = CONFIG_DEFAULT_SHUTDOWN_TIMEOUT_MS;

    config_ctx_t ctx = {.name = name, .base_dir = base_dir, .arena = &c->_arena, .err = err};
    ctx.path[0] = '\0';
    int rc = -1;
    if ((c->name = config_ctx_strdup(&ctx, name)) != NULL && (c->base_dir = config_ctx_strdup(&ctx, base_dir)) != NULL &&
        (path == NULL || (c->path = config_ctx_strdup(&ctx, path)) != NULL))
        rc = parse_root(&ctx, root, c);
    json_decref(root);
    if (rc != 0) {
        config_free(c);
        return NULL;
    }
    return c;
}

/* Reads a whole regular file of at most CONFIG_MAX_FILE_BYTES; NULL with errno set (EFBIG when too large). */
static char *read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
        return NULL;
    }
    if ((uint64_t)st.st_size > CONFIG_MAX_FILE_BYTES) {
        close(fd);
        errno = EFBIG;
        return NULL;
    }
    size_t cap = (size_t)st.st_size, n = 0;
    char *buf = malloc(cap + 1);
    if (buf == NULL) {
        close(fd);
        errno = ENOMEM;
        return NULL;
    }
    while (n < cap) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int saved = errno;
            free(buf);
            close(fd);
            errno = saved;
            return NULL;
        }
        if (r == 0)
            break; /* shrank while reading: parse what is there */
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *len = n;
    return buf;
}

config_t *config_load_file(const char *path, util_error_t *err)
{
    size_t len = 0;
    char *text = read_file(path, &len);
    if (text == NULL) {
        util_error_set(err, CONFIG_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
        return NULL;
    }
    char abs[PATH_MAX];
    if (realpath(path, abs) == NULL) {
        util_error_set(err, CONFIG_ERR_IO, "%s: cannot resolve the path: %s", path, strerror(errno));
        free(text);
        return NULL;
    }
    char dir[PATH_MAX];
    memcpy(dir, abs, sizeof(dir));
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0'; /* a file in "/" */
    else if (slash != NULL)
        *slash = '\0';
    config_t *c = build(text, len, path, dir, abs, err);
    free(text);
    return c;
}

config_t *config_load_string(const char *json, const char *base_dir, const char *name, util_error_t *err)
{
    if (name == NULL)
        name = "config";
    char dir[PATH_MAX];
    if (realpath(base_dir != NULL ? base_dir : ".", dir) == NULL) {
        util_error_set(err, CONFIG_ERR_IO, "%s: base directory \"%.300s\": %s", name, base_dir != NULL ? base_dir : ".",
                       strerror(errno));
        return NULL;
    }
    return build(json, strlen(json), name, dir, NULL, err);
}

void config_free(config_t *c)
{
    if (c == NULL)
        return;
    util_arena_dispose(&c->_arena);
    free(c);
}

const config_upstream_t *config_upstream_find(const config_t *c, const char *name)
{
    for (size_t i = 0; i < c->n_upstreams; i++)
        if (strcmp(c->upstreams[i].name, name) == 0)
            return &c->upstreams[i];
    return NULL;
}

const config_grpc_service_t *config_grpc_service_find(const config_t *c, const char *service)
{
    for (size_t i = 0; i < c->n_grpc_services; i++)
        if (strcmp(c->grpc_services[i].service, service) == 0)
            return &c->grpc_services[i];
    return NULL;
}
