/*
 * config_int.h — private to src/config: the walking context shared by the section parsers
 * (the JSON path of the value being read, the error sink, the arena the result lives in),
 * the typed member readers built on it, and the parsers of each section. Not for use
 * outside src/config.
 *
 * Each section parser reads one top-level key into the config_t under construction and
 * returns 0, or -1 with the error set through config_ctx_fail(), which prefixes the config
 * name and the current JSON path. Callers push a key or an index before descending, so the
 * path in a message is exactly where the bad value sits; on error nothing is popped (the
 * whole load is abandoned), on success each parser pops back to where it started.
 */
#ifndef PORTICO_CONFIG_INT_H
#define PORTICO_CONFIG_INT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

#define CONFIG_PATH_CAP 256

typedef struct config_ctx {
    const char *name;     /* config name for messages */
    const char *base_dir; /* absolute, no trailing slash unless it is "/" */
    util_arena_t *arena;
    util_error_t *err;
    char path[CONFIG_PATH_CAP]; /* "upstreams.price.targets[0]"; "" at the top level */
    size_t path_len;
} config_ctx_t;

/* walk.c: the JSON path ------------------------------------------------------------------ */

/* Appends ".key" (or "key" at the top) / "[i]" to the path; returns the length to pop back to. */
size_t config_ctx_push_key(config_ctx_t *ctx, const char *key);
size_t config_ctx_push_index(config_ctx_t *ctx, size_t index);
void config_ctx_pop(config_ctx_t *ctx, size_t mark);

/* Sets the error to "NAME: PATH: message" (or "NAME: message" at the top) and returns -1. */
int config_ctx_fail(config_ctx_t *ctx, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Arena helpers that report CONFIG_ERR_NOMEM; NULL on failure. */
void *config_ctx_alloc(config_ctx_t *ctx, size_t size);
char *config_ctx_strdup(config_ctx_t *ctx, const char *s);

/* walk.c: typed members -------------------------------------------------------------------- */

typedef enum config_kind {
    CONFIG_KIND_OBJECT,
    CONFIG_KIND_ARRAY,
    CONFIG_KIND_STRING,
    CONFIG_KIND_INTEGER,
    CONFIG_KIND_BOOLEAN,
} config_kind_t;

/* Fails with CONFIG_ERR_TYPE at the current path unless |v| is of |kind|. */
int config_json_expect(config_ctx_t *ctx, const json_t *v, config_kind_t kind);

/* Fails with CONFIG_ERR_UNKNOWN_KEY unless every key of |obj| is in the NULL-terminated |allowed|. */
int config_json_check_keys(config_ctx_t *ctx, const json_t *obj, const char *const *allowed);

/*
 * Member |key| of |obj| checked to be of |kind|: 0 with *out set (NULL when absent and not
 * |required|), or -1 (missing required member, wrong type).
 */
int config_json_member(config_ctx_t *ctx, const json_t *obj, const char *key, config_kind_t kind, int required, json_t **out);

/* Integer member in [min, max]; *out keeps its value (the default) when absent and not required. */
int config_json_int(config_ctx_t *ctx, const json_t *obj, const char *key, int required, long long min, long long max,
                    long long *out);
/* Boolean member; *out keeps its default when absent. */
int config_json_bool(config_ctx_t *ctx, const json_t *obj, const char *key, uint8_t *out);
/* Non-empty string member; *out (borrowed from the JSON) keeps its default when absent and not required. */
int config_json_string(config_ctx_t *ctx, const json_t *obj, const char *key, int required, const char **out);
/* Non-empty string value at the current path (array elements). */
int config_json_string_value(config_ctx_t *ctx, const json_t *v, const char **out);

/* paths.c: files ------------------------------------------------------------------------------ */

/* |p| made absolute against ctx->base_dir (copied into the arena); NULL on allocation failure. */
char *config_path_resolve(config_ctx_t *ctx, const char *p);
/* Resolves the string at the current path and checks that it is a readable regular file. */
int config_path_readable_file(config_ctx_t *ctx, const char *p, const char **out);
/* Reads string member |key| (required or not) as a readable file: *out NULL when absent. */
int config_path_member(config_ctx_t *ctx, const json_t *obj, const char *key, int required, const char **out);
/* The "descriptors" section: readable FileDescriptorSet files, each listed once. */
int config_descriptors_parse(config_ctx_t *ctx, const json_t *v, config_t *c);
/* Expands the glob patterns of the "aggregations" array into c->aggregations. */
int config_path_expand_globs(config_ctx_t *ctx, const json_t *patterns, config_t *c);

/* address.c: hosts and ports --------------------------------------------------------------- */

/*
 * Parses "host:port" (host a DNS name, dotted IPv4, or [IPv6]; port 1..65535) into |t|
 * (strings in the arena). Returns 0; or -1 and sets *why to a short reason (nothing in
 * the arena is leaked beyond the arena itself), or -2 on allocation failure.
 */
int config_target_parse(config_ctx_t *ctx, const char *s, config_target_t *t, const char **why);
/* Fills l->addr/addr_len/address from a numeric IPv4 or IPv6 address (brackets allowed); -1 if it is not one. */
int config_listen_address_parse(config_ctx_t *ctx, const char *s, uint16_t port, config_listen_t *l);
/* A DNS name: labels of letters, digits, '-' and '_', not starting or ending with '-'. */
int config_hostname_valid(const char *s, size_t len);

/* Section parsers (listen.c, upstreams.c, services.c, server.c). |v| is the section's value
 * (NULL for an absent optional section where the parser supplies a default). */
int config_listen_parse(config_ctx_t *ctx, const json_t *v, config_t *c);
int config_upstreams_parse(config_ctx_t *ctx, const json_t *v, config_t *c);
int config_services_parse(config_ctx_t *ctx, const json_t *v, config_t *c);
int config_limits_parse(config_ctx_t *ctx, const json_t *v, config_t *c);
int config_forward_headers_parse(config_ctx_t *ctx, const json_t *v, config_t *c);
int config_access_log_parse(config_ctx_t *ctx, const json_t *v, config_t *c);
/* routes.c: the "routes" tables; then, when no "descriptors" were listed, the descriptor sets the
 * tables name (call after both sections are parsed). */
int config_routes_parse(config_ctx_t *ctx, const json_t *v, config_t *c);
int config_routes_descriptors(config_ctx_t *ctx, config_t *c);
/* openapi.c: the "openapi" object. */
int config_openapi_parse(config_ctx_t *ctx, const json_t *v, config_t *c);
/* cors.c: a "cors" object (at the current path) into a policy that starts from |base| (NULL =
 * the defaults, and then "allowed_origins" is required) and replaces only the keys given. */
int config_cors_parse(config_ctx_t *ctx, const json_t *v, const cors_policy_t *base, const cors_policy_t **out);

#endif
