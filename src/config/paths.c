/*
 * paths.c — file references in the config: relative paths are resolved against the config
 * file's directory and stored absolute (so the result does not depend on the working
 * directory of whoever uses it later), referenced files must be readable regular files
 * now (a typo fails at load, not at the first request), and the "aggregations" globs are
 * expanded with glob(3). The "descriptors" section, a plain list of such files, lives here too.
 */
#include "config/config_int.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Appends |p| to |base| with one '/', dropping leading "./" segments of |p|. */
static char *join(config_ctx_t *ctx, const char *base, const char *p)
{
    while (p[0] == '.' && p[1] == '/') {
        p += 2;
        while (*p == '/')
            p++;
    }
    if (strcmp(p, ".") == 0)
        p = "";
    size_t bl = strlen(base), pl = strlen(p);
    int slash = bl > 0 && base[bl - 1] != '/' && pl > 0;
    char *out = config_ctx_alloc(ctx, bl + (size_t)slash + pl + 1);
    if (out == NULL)
        return NULL;
    memcpy(out, base, bl);
    if (slash)
        out[bl] = '/';
    memcpy(out + bl + slash, p, pl + 1);
    return out;
}

char *config_path_resolve(config_ctx_t *ctx, const char *p)
{
    if (p[0] == '/')
        return config_ctx_strdup(ctx, p);
    return join(ctx, ctx->base_dir, p);
}

/* 0 when |abs| is a regular file that can be opened for reading; otherwise -1 with the error set. */
static int check_readable(config_ctx_t *ctx, const char *abs)
{
    /* O_NONBLOCK: a FIFO given by mistake must not hang the load; fstat rejects it right after. */
    int fd = open(abs, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return config_ctx_fail(ctx, CONFIG_ERR_FILE, "cannot read \"%.300s\": %s", abs, strerror(errno));
    struct stat st;
    int rc = fstat(fd, &st);
    int saved = errno;
    close(fd);
    if (rc != 0)
        return config_ctx_fail(ctx, CONFIG_ERR_FILE, "cannot read \"%.300s\": %s", abs, strerror(saved));
    if (!S_ISREG(st.st_mode))
        return config_ctx_fail(ctx, CONFIG_ERR_FILE, "\"%.300s\" is not a regular file", abs);
    return 0;
}

int config_path_readable_file(config_ctx_t *ctx, const char *p, const char **out)
{
    char *abs = config_path_resolve(ctx, p);
    if (abs == NULL)
        return -1;
    if (check_readable(ctx, abs) != 0)
        return -1;
    *out = abs;
    return 0;
}

int config_path_member(config_ctx_t *ctx, const json_t *obj, const char *key, int required, const char **out)
{
    const char *p = NULL;
    *out = NULL;
    if (config_json_string(ctx, obj, key, required, &p) != 0)
        return -1;
    if (p == NULL)
        return 0;
    size_t mark = config_ctx_push_key(ctx, key);
    if (config_path_readable_file(ctx, p, out) != 0)
        return -1;
    config_ctx_pop(ctx, mark);
    return 0;
}

static int has_glob_magic(const char *p)
{
    return strpbrk(p, "*?[") != NULL;
}

/* |base| with glob metacharacters escaped, so a directory named "a[1]" is taken literally. */
static char *escape_glob(config_ctx_t *ctx, const char *base)
{
    size_t n = 0;
    for (const char *s = base; *s; s++)
        n += strchr("*?[\\", *s) != NULL ? 2 : 1;
    char *out = config_ctx_alloc(ctx, n + 1), *o = out;
    if (out == NULL)
        return NULL;
    for (const char *s = base; *s; s++) {
        if (strchr("*?[\\", *s) != NULL)
            *o++ = '\\';
        *o++ = *s;
    }
    *o = '\0';
    return out;
}

typedef struct path_list {
    const char **items;
    size_t len, cap;
} path_list_t;

static int list_add(path_list_t *l, const char *p)
{
    for (size_t i = 0; i < l->len; i++)
        if (strcmp(l->items[i], p) == 0)
            return 0; /* matched by an earlier pattern: the aggregation is loaded once */
    if (l->len == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        const char **items = realloc(l->items, cap * sizeof(*items));
        if (items == NULL)
            return -1;
        l->items = items;
        l->cap = cap;
    }
    l->items[l->len++] = p;
    return 0;
}

/* Expands one pattern (the string at the current path) into |list|. */
static int expand_one(config_ctx_t *ctx, const char *pattern, path_list_t *list)
{
    if (!has_glob_magic(pattern)) {
        const char *abs;
        if (config_path_readable_file(ctx, pattern, &abs) != 0)
            return -1;
        return list_add(list, abs) == 0 ? 0 : config_ctx_fail(ctx, CONFIG_ERR_NOMEM, "out of memory");
    }
    const char *full = pattern;
    if (pattern[0] != '/') {
        char *base = escape_glob(ctx, ctx->base_dir);
        if (base == NULL || (full = join(ctx, base, pattern)) == NULL)
            return -1;
    }
    glob_t g;
    memset(&g, 0, sizeof(g));
    int rc = glob(full, GLOB_ERR, NULL, &g);
    if (rc == GLOB_NOMATCH) {
        globfree(&g);
        return 0; /* an empty aggregations/ directory is a valid deployment */
    }
    if (rc != 0) {
        globfree(&g);
        if (rc == GLOB_NOSPACE)
            return config_ctx_fail(ctx, CONFIG_ERR_NOMEM, "out of memory");
        return config_ctx_fail(ctx, CONFIG_ERR_FILE, "cannot expand \"%.300s\": a directory on the way is not readable", full);
    }
    int ret = 0;
    for (size_t i = 0; i < g.gl_pathc && ret == 0; i++) {
        struct stat st;
        /* wildcards may match subdirectories or sockets: only regular files are aggregations */
        if (stat(g.gl_pathv[i], &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        const char *abs = config_ctx_strdup(ctx, g.gl_pathv[i]);
        if (abs == NULL || check_readable(ctx, abs) != 0)
            ret = -1;
        else if (list_add(list, abs) != 0)
            ret = config_ctx_fail(ctx, CONFIG_ERR_NOMEM, "out of memory");
    }
    globfree(&g);
    return ret;
}

int config_path_expand_globs(config_ctx_t *ctx, const json_t *patterns, config_t *c)
{
    path_list_t list = {NULL, 0, 0};
    size_t i;
    json_t *v;
    json_array_foreach((json_t *)patterns, i, v)
    {
        size_t mark = config_ctx_push_index(ctx, i);
        const char *pattern;
        if (config_json_string_value(ctx, v, &pattern) != 0 || expand_one(ctx, pattern, &list) != 0) {
            free(list.items);
            return -1;
        }
        config_ctx_pop(ctx, mark);
    }
    const char **items = NULL;
    if (list.len > 0) {
        items = config_ctx_alloc(ctx, list.len * sizeof(*items));
        if (items == NULL) {
            free(list.items);
            return -1;
        }
        memcpy(items, list.items, list.len * sizeof(*items));
    }
    free(list.items);
    c->aggregations = items;
    c->n_aggregations = list.len;
    return 0;
}

int config_descriptors_parse(config_ctx_t *ctx, const json_t *v, config_t *c)
{
    size_t top = config_ctx_push_key(ctx, "descriptors");
    if (config_json_expect(ctx, v, CONFIG_KIND_ARRAY) != 0)
        return -1;
    size_t n = json_array_size(v);
    const char **list = NULL;
    if (n > 0 && (list = config_ctx_alloc(ctx, n * sizeof(*list))) == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        size_t mark = config_ctx_push_index(ctx, i);
        const char *p;
        if (config_json_string_value(ctx, json_array_get(v, i), &p) != 0 || config_path_readable_file(ctx, p, &list[i]) != 0)
            return -1;
        for (size_t j = 0; j < i; j++)
            if (strcmp(list[j], list[i]) == 0)
                return config_ctx_fail(ctx, CONFIG_ERR_DUPLICATE, "\"%.300s\" is already listed as descriptors[%zu]", list[i], j);
        config_ctx_pop(ctx, mark);
    }
    c->descriptors = list;
    c->n_descriptors = n;
    config_ctx_pop(ctx, top);
    return 0;
}
