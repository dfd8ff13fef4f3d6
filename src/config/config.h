/*
 * config.h — public face of src/config: the gateway configuration (portico.json), loaded
 * with jansson, validated section by section, and turned into the plain C structures below.
 *
 * A loaded config_t holds no jansson objects and is never written after config_load_*
 * returns, so every worker thread can read it without locks; a reload builds a new one
 * and swaps it whole. All of its memory (strings, arrays) lives in one arena owned by the
 * config_t: config_free() releases everything at once.
 *
 * Validation here covers what can be known from the file system and the JSON alone:
 * types, unknown keys (always an error), ranges, host:port syntax, references between
 * sections, duplicates, and that the referenced files exist and are readable. Checks that
 * need the descriptor registry (does grpc_services[].service exist in the descriptors?)
 * and loading the TLS keys into OpenSSL belong to the code that builds routes and
 * listeners; this module hands them the data.
 *
 * Every error message names the config (file name as given, or the name passed to
 * config_load_string) and the JSON path of the offending value, e.g.
 *   portico.json: upstreams.price.targets[0]: "127.0.0.1" is not host:port (missing ":port")
 * and JSON syntax errors name the line and column: "portico.json:3:14: ...".
 * docs/CONFIG.md is the reference of every key.
 */
#ifndef PORTICO_CONFIG_H
#define PORTICO_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "policy/cors.h"
#include "transcode/routes_file.h"
#include "util/arena.h"
#include "util/error.h"

/* util_error_t.code values set by config_load_*. */
enum {
    CONFIG_ERR_IO = -800,   /* the config file cannot be read */
    CONFIG_ERR_SYNTAX,      /* malformed JSON (the message has line:column) */
    CONFIG_ERR_TYPE,        /* a value of the wrong JSON type */
    CONFIG_ERR_UNKNOWN_KEY, /* a key this version does not know (typos are never ignored) */
    CONFIG_ERR_MISSING,     /* a required key is absent, or a required list is empty */
    CONFIG_ERR_VALUE,       /* a value out of range or of the wrong form (host:port, header name...) */
    CONFIG_ERR_REFERENCE,   /* a name that refers to nothing (grpc_services[].upstream) */
    CONFIG_ERR_DUPLICATE,   /* a listener, service, target or header given twice */
    CONFIG_ERR_FILE,        /* a referenced file (descriptor set, TLS file, aggregation) is not readable */
    CONFIG_ERR_NOMEM,
};

/* Limits that validation enforces (docs/CONFIG.md repeats them). */
#define CONFIG_MAX_WORKERS 256
#define CONFIG_MAX_TIMEOUT_MS 3600000u /* one hour */
#define CONFIG_MAX_CONNECTIONS 1024
#define CONFIG_MAX_FILE_BYTES ((size_t)16 << 20)

/* Defaults for keys that are absent. */
#define CONFIG_DEFAULT_LISTEN_ADDRESS "0.0.0.0"
#define CONFIG_DEFAULT_TIMEOUT_MS 30000u
#define CONFIG_DEFAULT_CONNECT_TIMEOUT_MS 2000u
#define CONFIG_DEFAULT_MAX_CONNECTIONS 1u
#define CONFIG_DEFAULT_MAX_REQUEST_BODY_BYTES ((uint64_t)4 << 20)
#define CONFIG_DEFAULT_MAX_HEADER_BYTES 65536u
#define CONFIG_DEFAULT_MAX_JSON_DEPTH 100u
#define CONFIG_DEFAULT_SHUTDOWN_TIMEOUT_MS 10000u
#define CONFIG_DEFAULT_OPENAPI_PATH "/openapi.json"

typedef enum config_listen_protocol {
    CONFIG_LISTEN_HTTP = 0, /* HTTP/1.1, h2c (prior knowledge / upgrade) and, with tls, h2 via ALPN */
    CONFIG_LISTEN_GRPC,     /* native gRPC ingress (HTTP/2 only) */
} config_listen_protocol_t;

/* Server-side TLS of a listener. Paths are absolute; the files existed and were readable at load time. */
typedef struct config_listen_tls {
    const char *certificate; /* PEM certificate chain */
    const char *key;         /* PEM private key */
    const char *client_ca;   /* PEM CA bundle; non-NULL turns on mTLS (client certificates required) */
} config_listen_tls_t;

typedef struct config_listen {
    const char *address; /* numeric IPv4 or IPv6 address without brackets: "0.0.0.0", "::1" */
    uint16_t port;       /* 0 = any free port (tests) */
    config_listen_protocol_t protocol;
    const config_listen_tls_t *tls; /* NULL = plaintext */
    /* address and port ready for bind(2) */
    struct sockaddr_storage addr;
    socklen_t addr_len;
} config_listen_t;

typedef enum config_upstream_protocol {
    CONFIG_UPSTREAM_GRPC = 0, /* gRPC over HTTP/2 (h2c, or h2 with tls) */
    CONFIG_UPSTREAM_HTTP,     /* HTTP/1.1 JSON backend */
} config_upstream_protocol_t;

typedef enum config_host_kind {
    CONFIG_HOST_NAME = 0, /* a DNS name, resolved by the upstream module */
    CONFIG_HOST_IPV4,
    CONFIG_HOST_IPV6,
} config_host_kind_t;

typedef struct config_target {
    const char *host; /* without brackets: "backend.local", "10.0.0.7", "::1" */
    uint16_t port;    /* 1..65535 */
    config_host_kind_t kind;
    const char *authority; /* "host:port" as written (brackets kept): the :authority / Host value */
} config_target_t;

/* Client-side TLS towards an upstream; all members optional. */
typedef struct config_upstream_tls {
    const char *ca;          /* PEM CA bundle to verify the server; NULL = the system trust store */
    const char *server_name; /* SNI and the name to verify; NULL = each target's host */
    const char *certificate; /* client certificate (mTLS); set together with key */
    const char *key;
} config_upstream_tls_t;

typedef struct config_upstream {
    const char *name; /* the key under "upstreams" */
    config_upstream_protocol_t protocol;
    const config_target_t *targets; /* at least one; round-robin order */
    size_t n_targets;
    uint32_t timeout_ms;              /* deadline of one call to this upstream */
    uint32_t connect_timeout_ms;      /* TCP connect + TLS handshake */
    uint32_t max_connections;         /* per target and per worker */
    const config_upstream_tls_t *tls; /* NULL = plaintext */
} config_upstream_t;

/* proto3 JSON mapping options of a service (codec_options_t in proto/proto.h). */
typedef struct config_json_options {
    uint8_t emit_defaults;
    uint8_t proto_names;
    uint8_t enum_ints;
    uint8_t ignore_unknown_fields;
} config_json_options_t;

typedef struct config_grpc_service {
    const char *service; /* fully qualified: "shop.v1.PriceService" (existence is checked against the registry elsewhere) */
    const config_upstream_t *upstream; /* points into config_t.upstreams; an HTTP one means gRPC→REST translation */
    config_json_options_t json;
    uint8_t ignore_unknown_query_parameters;
    uint8_t auto_mapping;      /* POST /pkg.Svc/Method with a JSON body for methods without a google.api.http rule */
    const cors_policy_t *cors; /* this service's CORS override; NULL: config_t.cors applies */
} config_grpc_service_t;

typedef struct config_limits {
    uint64_t max_request_body_bytes;
    uint32_t max_header_bytes;
    uint32_t max_json_depth;
} config_limits_t;

/* The "openapi" object: the OpenAPI 3.1 document the gateway renders from its routes and serves. */
typedef struct config_openapi {
    const char *path;           /* literal request path, CONFIG_DEFAULT_OPENAPI_PATH when not given */
    const char *title;          /* info.title; NULL: the renderer's default */
    const char *version;        /* info.version; NULL: the renderer's default */
    const char *description;    /* info.description; may be NULL */
    const char *const *servers; /* servers[].url, in file order */
    size_t n_servers;
} config_openapi_t;

typedef struct config {
    const char *name;     /* the file name as given (or config_load_string's name): used in messages */
    const char *path;     /* absolute path of the config file; NULL for config_load_string */
    const char *base_dir; /* absolute directory that relative paths were resolved against */

    const config_listen_t *listen; /* at least one */
    size_t n_listen;
    uint32_t workers; /* 0 = one per CPU core */

    const char *const *descriptors; /* absolute paths of FileDescriptorSet files; without a "descriptors"
                                       key, the sets that the route tables name */
    size_t n_descriptors;

    /* "routes": transcoding tables (docs/CODEGEN.md), syntax-checked, each named by its absolute path.
     * When there is one, the HTTP bindings of the grpc_services come from their lines instead of the
     * google.api.http annotations of the descriptors. */
    const routes_file_t *route_tables;
    size_t n_route_tables;

    const config_upstream_t *upstreams; /* in file order */
    size_t n_upstreams;

    const config_grpc_service_t *grpc_services;
    size_t n_grpc_services;

    const char *const *aggregations; /* absolute paths of the files the globs matched: sorted per glob, no duplicates */
    size_t n_aggregations;

    config_limits_t limits;

    const char *const *forward_headers; /* lowercase request header names copied to gRPC metadata */
    size_t n_forward_headers;

    uint32_t shutdown_timeout_ms;
    const char *access_log; /* NULL = off, "-" = stdout, otherwise an absolute path */

    const cors_policy_t *cors; /* the "cors" object; NULL = no CORS headers (except per-service overrides) */

    const config_openapi_t *openapi; /* NULL = no OpenAPI document is served */

    /* private */
    util_arena_t _arena;
} config_t;

/*
 * Reads and validates the config file at |path|; relative paths inside it are resolved
 * against the file's directory. Returns a new config_t (free with config_free), or NULL
 * with |err| set: code one of CONFIG_ERR_*, message naming the file and the JSON path.
 */
config_t *config_load_file(const char *path, util_error_t *err);

/*
 * Same, from the JSON text |json|: relative paths are resolved against |base_dir| (NULL =
 * the current directory), and messages start with |name| (NULL = "config").
 */
config_t *config_load_string(const char *json, const char *base_dir, const char *name, util_error_t *err);

void config_free(config_t *c);

/* Lookups by name (linear: called while building, not per request); NULL when absent. */
const config_upstream_t *config_upstream_find(const config_t *c, const char *name);
const config_grpc_service_t *config_grpc_service_find(const config_t *c, const char *service);

const char *config_listen_protocol_name(config_listen_protocol_t p);     /* "http", "grpc" */
const char *config_upstream_protocol_name(config_upstream_protocol_t p); /* "grpc", "http" */

#endif
