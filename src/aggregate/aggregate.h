/*
 * aggregate.h — public face of src/aggregate: composite endpoints that fan one client request
 * out to several backend calls (gRPC or HTTP/JSON) and merge the answers into one JSON document.
 *
 * Three parts, usable separately:
 *   - Loading (format.c): aggregations/NAME.json files → aggregate_set_t, validated with errors
 *     that name the file and the JSON path; gRPC request templates are checked against the
 *     descriptor registry. docs/AGGREGATION.md is the reference of the format.
 *   - Running (run.c): aggregate_run_start() plans the calls as a dependency graph and starts
 *     every call whose inputs are known at once, all on the caller's event loop. It knows no
 *     transport: the worker hands it an aggregate_transport_t (start/cancel a call, timers, a
 *     clock, a response cache), so the same engine runs on h2o's loop and on the fake loop of
 *     the unit tests.
 *   - Merging (merge.c): per-call shaping (target, allow, deny, rename) and placement (group,
 *     collection, deep merge into the root). Parts are merged in the calls' declaration order
 *     once all have arrived, so the document never depends on the order the replies came in.
 *
 * Threads: a loaded set is read-only and shared by all workers. A run, a cache and a transport
 * belong to one worker (one loop): no locks anywhere. A run's values live in its own arena and
 * the cache's jansson map has non-atomic reference counts: nothing JSON-valued crosses workers.
 */
#ifndef PORTICO_AGGREGATE_H
#define PORTICO_AGGREGATE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregate/value.h"
#include "proto/proto.h"
#include "transcode/path_template.h"
#include "util/error.h"

/* util_error_t.code values set by the loader (range -900 .. -919). */
enum {
    AGGREGATE_ERR_IO = -900,   /* the file cannot be read */
    AGGREGATE_ERR_SYNTAX,      /* malformed JSON (the message has line:column), or a bad template/path string */
    AGGREGATE_ERR_TYPE,        /* a value of the wrong JSON type */
    AGGREGATE_ERR_UNKNOWN_KEY, /* a key the format does not know (typos are never ignored) */
    AGGREGATE_ERR_MISSING,     /* a required key is absent */
    AGGREGATE_ERR_VALUE,       /* a value out of range or of the wrong form */
    AGGREGATE_ERR_REFERENCE,   /* a name that refers to nothing: upstream, method, field, call, path variable */
    AGGREGATE_ERR_DUPLICATE,   /* two calls with one name, two endpoints with one method and path */
    AGGREGATE_ERR_CYCLE,       /* calls that depend on each other */
    AGGREGATE_ERR_NOMEM,
};

#define AGGREGATE_DEFAULT_TIMEOUT_MS 10000u
#define AGGREGATE_MAX_TIMEOUT_MS 3600000u
#define AGGREGATE_MAX_CALLS 64
#define AGGREGATE_DEFAULT_META_HEADER "x-portico-parts"
#define AGGREGATE_DEFAULT_META_FIELD "_meta"

/* ---------------------------------------------------------------------------------------
 * The loaded format (read-only after loading; docs/AGGREGATION.md explains each member)
 */

/* A dotted path ("data.items.id") split into segments. */
typedef struct aggregate_path {
    const char *text; /* as written */
    const char *const *segs;
    const size_t *seg_lens; /* strlen of each segment, computed once at load */
    size_t n;
} aggregate_path_t;

/* A compiled value template (a JSON value with "{...}" references); opaque. */
typedef struct aggregate_tpl aggregate_tpl_t;

typedef struct aggregate_named_tpl {
    const char *name; /* query parameter name as written; header names lowercased */
    const aggregate_tpl_t *value;
} aggregate_named_tpl_t;

typedef struct aggregate_rename {
    aggregate_path_t from, to;
} aggregate_rename_t;

/* What happens to a call's response before and when it joins the document (merge.c). */
typedef struct aggregate_shape {
    const aggregate_path_t *target; /* NULL = the whole response */
    const aggregate_path_t *allow;  /* NULL/0 = keep everything */
    size_t n_allow;
    const aggregate_path_t *deny;
    size_t n_deny;
    const aggregate_rename_t *renames; /* applied in order */
    size_t n_renames;
    const aggregate_path_t *group;      /* place under this key path; NULL = deep merge into the root */
    const aggregate_path_t *collection; /* the response is an array placed at this key path; NULL = not a collection */
    int concat;                         /* collection arrays at the same path are concatenated, not replaced */
} aggregate_shape_t;

typedef enum aggregate_call_kind {
    AGGREGATE_CALL_GRPC = 0,
    AGGREGATE_CALL_HTTP,
} aggregate_call_kind_t;

typedef struct aggregate_call {
    const char *name; /* unique in its endpoint: [A-Za-z_][A-Za-z0-9_-]* */
    size_t index;     /* declaration order: decides merge conflicts */
    aggregate_call_kind_t kind;
    const char *upstream;

    /* gRPC calls */
    const char *grpc_method_name;      /* as written: "shop.v1.PriceService/GetPrice" */
    const proto_method_t *grpc_method; /* resolved when the set was loaded with a registry, else NULL */
    const aggregate_tpl_t *message;    /* the request message (always an object template) */
    /* the reply's top-level fields that are needed (indexes of grpc_method->output's fields,
     * codec_options_t.only_fields), or NULL for all: with an allow list or one-segment deny
     * paths and no target, only what the shape can keep and what other calls' templates read
     * ({calls.NAME.field}) is printed at all */
    const uint8_t *reply_fields;
    /* reply_fields is exactly the shape's allow and deny (one-segment paths, no field kept only
     * for another call's reference): a reply printed with it needs neither pass */
    int shape_in_reply_fields;
    /* the request encoded without JSON, piece by piece (request_plan.c), or NULL: see
     * aggregate_request_plan_t */
    const struct aggregate_request_plan *request_plan;

    /* HTTP calls */
    const char *http_method; /* "GET", ... */
    const aggregate_tpl_t *http_path;
    const aggregate_named_tpl_t *query;
    size_t n_query;
    const aggregate_tpl_t *body; /* NULL = no body */

    /* both */
    const aggregate_named_tpl_t *headers; /* set on the backend request (gRPC: metadata) */
    size_t n_headers;
    const char *const *forward_headers; /* lowercase client request headers copied as they are */
    size_t n_forward_headers;
    int required;          /* default 1 */
    uint32_t timeout_ms;   /* 0 = only the endpoint's */
    uint32_t cache_ttl_ms; /* 0 = not cached */
    const size_t *deps;    /* indexes of the calls this one waits for (explicit and from templates), sorted */
    size_t n_deps;
    aggregate_shape_t shape;
} aggregate_call_t;

typedef struct aggregate_endpoint {
    const char *file;   /* the file it came from, for messages */
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* the path template as written */
    const path_template_t *path_template;
    uint32_t timeout_ms;     /* whole composite; default AGGREGATE_DEFAULT_TIMEOUT_MS */
    const char *meta_header; /* lowercase response header listing the parts; NULL = off */
    const char *meta_field;  /* top-level member with the part statuses; NULL = off */
    const aggregate_call_t *calls;
    size_t n_calls;
    int uses_body;                    /* some template reads {body...}: the request body must be JSON */
    const proto_registry_t *registry; /* the registry it was checked against (NULL = none); must outlive the set */
} aggregate_endpoint_t;

typedef struct aggregate_set aggregate_set_t;

/* Kinds of upstreams, as the loader's lookup callback reports them. */
typedef enum aggregate_upstream_kind {
    AGGREGATE_UPSTREAM_UNKNOWN = -1,
    AGGREGATE_UPSTREAM_GRPC = 0,
    AGGREGATE_UPSTREAM_HTTP = 1,
} aggregate_upstream_kind_t;

typedef struct aggregate_load_options {
    /* Descriptors to check gRPC methods and request templates against; NULL = no checks. */
    const proto_registry_t *registry;
    /* Kind of the upstream called |name|; NULL = upstream names are not checked. */
    aggregate_upstream_kind_t (*upstream_kind)(void *ctx, const char *name);
    void *upstream_ctx;
} aggregate_load_options_t;

aggregate_set_t *aggregate_set_new(void);
void aggregate_set_free(aggregate_set_t *s);

/*
 * Loads the endpoint(s) of one file (an endpoint object, or an array of them) into |s|.
 * Returns 0, or -1 with |err| set (code one of AGGREGATE_ERR_*, message "FILE: JSON.PATH: what
 * is wrong", e.g. `product.json: calls[0].grpc.request.skuu: shop.v1.GetPriceRequest has no
 * field "skuu"`). On failure |s| is unchanged. An endpoint whose method and path another
 * endpoint of |s| already has is an error naming both files.
 */
int aggregate_set_load_file(aggregate_set_t *s, const char *path, const aggregate_load_options_t *opt, util_error_t *err);
/* Same from JSON text; |name| stands for the file in messages. */
int aggregate_set_load_string(aggregate_set_t *s, const char *json, const char *name, const aggregate_load_options_t *opt,
                              util_error_t *err);

size_t aggregate_set_count(const aggregate_set_t *s);
const aggregate_endpoint_t *aggregate_set_at(const aggregate_set_t *s, size_t i);
/* Exact (method, path template text) lookup; NULL when absent. */
const aggregate_endpoint_t *aggregate_set_find(const aggregate_set_t *s, const char *method, const char *path);

/* ---------------------------------------------------------------------------------------
 * Per-worker response cache (cache.c)
 */
typedef struct aggregate_cache aggregate_cache_t;

/* A cache holding at most |max_entries| responses and |max_bytes| of response JSON (0 = defaults). */
aggregate_cache_t *aggregate_cache_new(size_t max_entries, size_t max_bytes);
void aggregate_cache_free(aggregate_cache_t *c);
size_t aggregate_cache_count(const aggregate_cache_t *c);

/* ---------------------------------------------------------------------------------------
 * Running a composite request (run.c)
 */

typedef struct aggregate_kv {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} aggregate_kv_t;

/*
 * The client request, as the HTTP layer has it. Everything is copied by aggregate_run_start,
 * so this memory need not outlive that call.
 */
typedef struct aggregate_request {
    const aggregate_kv_t *path_vars; /* the path template's captures, already percent-decoded */
    size_t n_path_vars;
    const char *query; /* raw query string without "?", still percent-encoded; NULL = none */
    size_t query_len;
    const aggregate_kv_t *headers; /* names in any case (compared case-insensitively) */
    size_t n_headers;
    const char *body; /* NULL = none */
    size_t body_len;
} aggregate_request_t;

typedef struct aggregate_header {
    const char *name; /* lowercase */
    const char *value;
} aggregate_header_t;

/*
 * One backend call, built from the call's templates. Valid only during start_call: the
 * transport copies what it keeps.
 */
typedef struct aggregate_call_request {
    const aggregate_endpoint_t *endpoint;
    const aggregate_call_t *call;
    const char *upstream;
    /* gRPC: the request message, encoded (when the set was loaded with a registry) and as JSON */
    const proto_method_t *grpc_method; /* NULL when the set was loaded without a registry */
    const char *grpc_method_name;
    const uint8_t *message_pb; /* wire bytes of grpc_method->input; NULL without a registry */
    size_t message_pb_len;
    const char *message_json; /* the same message as JSON text (encoding without a registry), or NULL when the
                                 message was encoded directly (aggregate_call_t.request_plan) */
    size_t message_json_len;
    const uint8_t *reply_fields; /* print only these fields of the reply (aggregate_call_t.reply_fields) */
    /* HTTP */
    const char *http_method;
    const char *path; /* path and query, percent-encoded: "/reviews/ABC-1?lang=en" */
    const char *body; /* JSON text or NULL; a "content-type: application/json" header is then in |headers| */
    size_t body_len;
    /* both: configured headers first, then the forwarded client headers */
    const aggregate_header_t *headers;
    size_t n_headers;
    uint32_t timeout_ms; /* the call's own timeout, 0 = none (the engine enforces it too) */
} aggregate_call_request_t;

/*
 * What a backend answered. HTTP upstreams: |http_status| is the response status and |body|
 * the response body. gRPC upstreams: |http_status| is 200 for OK, else the gRPC status mapped
 * to HTTP (grpc_code_to_http), |body| the reply message printed as JSON, and |outline| the
 * printer's outline of it (codec_options_t.outline; NULL when there is none), from which the
 * engine builds the reply's value without parsing the text. |failed| marks transport failures
 * and gRPC errors (|error| says what happened in one sentence); HTTP answers >= 400 count as
 * failures whatever |failed| says.
 */
typedef struct aggregate_reply {
    int failed;
    int timed_out; /* the transport gave up waiting (its own deadline) */
    int http_status;
    const char *body;
    size_t body_len;
    const codec_outline_event_t *outline;
    size_t n_outline;
    int fields_filtered; /* gRPC: printed with only the request's reply_fields */
    const char *error;
} aggregate_reply_t;

typedef void (*aggregate_reply_cb)(void *arg, const aggregate_reply_t *reply);
typedef void (*aggregate_timer_cb)(void *arg);

/*
 * The worker's services to the engine. Contract:
 *   start_call: starts |req| and returns a handle for cancel_call. |cb| is called exactly once
 *     with the reply unless the call is cancelled first; it may be called before start_call
 *     returns (then the returned handle is not used). The reply is valid only during |cb|.
 *   cancel_call: abandons the call; |cb| must not be called afterwards.
 *   timer_start: calls |cb| once after |ms| milliseconds (0 = on the next loop turn, never from
 *     inside timer_start); returns a handle for timer_cancel, or NULL on failure.
 *   timer_cancel: stops a timer that has not fired.
 *   now_ms: a monotonic clock (the cache's TTLs).
 *   cache: the worker's response cache; NULL = calls are never cached.
 */
typedef struct aggregate_transport {
    void *ctx;
    void *(*start_call)(void *ctx, const aggregate_call_request_t *req, aggregate_reply_cb cb, void *cb_arg);
    void (*cancel_call)(void *ctx, void *handle);
    void *(*timer_start)(void *ctx, uint64_t ms, aggregate_timer_cb cb, void *arg);
    void (*timer_cancel)(void *ctx, void *timer);
    uint64_t (*now_ms)(void *ctx);
    aggregate_cache_t *cache;
} aggregate_transport_t;

typedef enum aggregate_part_status {
    AGGREGATE_PART_WAITING = 0, /* dependencies outstanding */
    AGGREGATE_PART_RUNNING,
    AGGREGATE_PART_OK,
    AGGREGATE_PART_ERROR,
    AGGREGATE_PART_TIMEOUT,
    AGGREGATE_PART_SKIPPED,   /* not started: a dependency failed, or the composite ended first */
    AGGREGATE_PART_CANCELLED, /* started, then abandoned because a required part failed */
} aggregate_part_status_t;

typedef struct aggregate_part {
    const char *name;
    aggregate_part_status_t status;
    const char *text; /* "ok", "error: HTTP 503 from upstream reviews", "timeout", "skipped", "cancelled" */
    int required;
    int from_cache;
} aggregate_part_t;

typedef struct aggregate_result {
    int http_status;                   /* 200, or the required failure's status (400/404/... passed through, 502, 504) */
    const aggregate_value_t *document; /* the merged document or the error object */
    const char *body;                  /* |document| as compact JSON */
    size_t body_len;
    const char *meta_header;       /* NULL when the endpoint's meta header is off */
    const char *meta_header_value; /* "price=ok, stock=ok, reviews=timeout" */
    const aggregate_part_t *parts; /* in declaration order */
    size_t n_parts;
} aggregate_result_t;

/* Called once per run (unless cancelled) with the result, valid only during the call. */
typedef void (*aggregate_done_cb)(void *ctx, const aggregate_result_t *result);

typedef struct aggregate_run aggregate_run_t;

/*
 * Starts a composite request: copies |in|, starts every call without dependencies, and
 * returns. |done| is called later (never before this returns), after which the run frees
 * itself. Returns NULL only when out of memory (|done| is then never called).
 */
aggregate_run_t *aggregate_run_start(const aggregate_endpoint_t *ep, const aggregate_request_t *in,
                                     const aggregate_transport_t *transport, aggregate_done_cb done, void *ctx);

/* The client went away: cancels outstanding calls and timers and frees the run; |done| is not called. */
void aggregate_run_cancel(aggregate_run_t *run);

const char *aggregate_part_status_name(aggregate_part_status_t s); /* "ok", "error", "timeout", ... */

/* ---- what a composite reads from its request (for documentation: src/http/apidocs.c) ---- */
typedef enum aggregate_input_kind {
    AGGREGATE_INPUT_PATH = 0, /* {var}: a variable of the endpoint's path template */
    AGGREGATE_INPUT_QUERY,    /* {query.NAME} */
    AGGREGATE_INPUT_HEADER,   /* {header.NAME} (lowercase) and the calls' forward_headers */
    AGGREGATE_INPUT_BODY,     /* {body} / {body.PATH}: name is "body" */
} aggregate_input_kind_t;

typedef struct aggregate_input {
    aggregate_input_kind_t kind;
    const char *name; /* borrowed from the loaded set */
} aggregate_input_t;

/*
 * Lists the inputs of |ep|, each (kind, name) once, in the order the calls and their
 * templates first use them (calls in declaration order; within a call: request message or
 * path, query, headers, body, then forwarded headers). Writes at most |cap| of them to |out|
 * and returns how many there are (more than |cap| means the list was cut).
 */
size_t aggregate_endpoint_inputs(const aggregate_endpoint_t *ep, aggregate_input_t *out, size_t cap);

#endif
