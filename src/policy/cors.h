/*
 * cors.h — Cross-Origin Resource Sharing for every request of the HTTP listener (REST,
 * gRPC-Web and Connect alike): which origins may call the gateway from a browser, and the
 * Access-Control-* headers that tell the browser so.
 *
 * A cors_policy_t is plain data (the config loader fills it from the "cors" objects of
 * portico.json; tests build it by hand). cors_evaluate() is a pure decision: given the
 * request's method, Origin, Access-Control-Request-Method and -Headers it returns a verdict
 * and emits the response headers through a callback, so the HTTP glue (src/http/front.c)
 * and the unit tests see exactly the same output.
 *
 * Rules (Fetch standard, and the Connect/gRPC-Web browser notes):
 *  - Origins match exactly (case-insensitively), as "*" (any origin), or as patterns where
 *    '*' stands for one or more characters other than ':' and '/': the pattern
 *    "https:" "//" "*.example.com" matches "https://a.b.example.com" but neither
 *    "https://example.com" nor "https://evil.com:1.example.com", and "http://localhost:*"
 *    matches any port.
 *  - Allowed origin: Access-Control-Allow-Origin echoes the origin. "*" is answered only for
 *    a "*" policy without credentials; with credentials the origin is always echoed.
 *  - Vary: Origin on every response of a policy (caches must not mix origins), and on
 *    preflights also Access-Control-Request-Method and Access-Control-Request-Headers.
 *  - Preflight (OPTIONS with Origin and Access-Control-Request-Method): allowed when the
 *    origin, the method and every requested header are allowed; the answer carries
 *    Allow-Methods, Allow-Headers, Max-Age (and Allow-Credentials). A denied preflight gets
 *    no Access-Control-* header at all.
 *  - Actual requests from an allowed origin get Allow-Origin, Allow-Credentials and
 *    Expose-Headers (the gRPC status headers always, so trailers-only gRPC-Web errors are
 *    readable); from a denied origin only Vary (the browser then withholds the response).
 */
#ifndef PORTICO_POLICY_CORS_H
#define PORTICO_POLICY_CORS_H

#include <stddef.h>
#include <stdint.h>

/* Request headers always allowed: what gRPC-Web and Connect clients send, and Authorization. */
#define CORS_DEFAULT_ALLOW_HEADERS                                                                                                 \
    "Content-Type, Connect-Protocol-Version, Connect-Timeout-Ms, Grpc-Timeout, X-Grpc-Web, X-User-Agent, Authorization"
/* Response headers always exposed: the gRPC status of trailers-only gRPC-Web responses. */
#define CORS_DEFAULT_EXPOSE_HEADERS "Grpc-Status, Grpc-Message, Grpc-Status-Details-Bin"
#define CORS_DEFAULT_MAX_AGE_S 7200u /* Chrome's cap */
#define CORS_MAX_MAX_AGE_S 86400u

typedef struct cors_policy {
    const char *const *origins; /* "*", exact origins, patterns with '*'; at least one */
    size_t n_origins;
    const char *const *methods; /* NULL/0: GET, POST, PUT, PATCH, DELETE */
    size_t n_methods;
    const char *const *headers; /* request headers allowed beyond the defaults; "*" allows any */
    size_t n_headers;
    const char *const *expose_headers; /* response headers exposed beyond the defaults */
    size_t n_expose_headers;
    uint32_t max_age_s;        /* Access-Control-Max-Age of preflights; 0 omits it */
    uint8_t allow_credentials; /* Access-Control-Allow-Credentials: true */
} cors_policy_t;

/* The default method list when cors_policy_t.methods is empty. */
#define CORS_DEFAULT_METHODS "GET, POST, PUT, PATCH, DELETE"

typedef struct cors_request {
    const char *method; /* the request's own method */
    size_t method_len;
    const char *origin; /* Origin header; NULL when absent */
    size_t origin_len;
    const char *request_method; /* Access-Control-Request-Method; NULL when absent */
    size_t request_method_len;
    const char *request_headers; /* Access-Control-Request-Headers; NULL when absent */
    size_t request_headers_len;
} cors_request_t;

typedef enum cors_verdict {
    CORS_NOT_CORS = 0,     /* no Origin header: Vary only */
    CORS_ALLOWED,          /* an actual request from an allowed origin */
    CORS_PREFLIGHT_OK,     /* a preflight to answer 204 with the emitted headers */
    CORS_DENIED,           /* an actual request from an origin that is not allowed: Vary only */
    CORS_PREFLIGHT_DENIED, /* a preflight to refuse (origin, method or a header not allowed) */
} cors_verdict_t;

/* Receives one response header; |value| is valid during the call only. */
typedef void (*cors_emit_fn)(void *ctx, const char *name, const char *value, size_t value_len);

/*
 * Decides |req| under |policy| and emits the response headers in a fixed order (Vary first).
 * When |why| is non-NULL and the verdict is a denial, it receives a sentence naming what was
 * refused (NUL-terminated, truncated to |why_cap|). Never fails.
 */
cors_verdict_t cors_evaluate(const cors_policy_t *policy, const cors_request_t *req, cors_emit_fn emit, void *ctx, char *why,
                             size_t why_cap);

/* Non-zero when |origin| matches |pattern| under the rules above. */
int cors_origin_match(const char *pattern, const char *origin, size_t origin_len);
/* Non-zero when the policy allows |origin|. */
int cors_origin_allowed(const cors_policy_t *policy, const char *origin, size_t origin_len);

/*
 * Checks that |s| is a usable origin entry for a policy: "*", "null", or scheme "://" host
 * [":" port] with no path, where '*' may stand for part of the host or the whole port.
 * Returns NULL when it is, else a short reason ("has a path", ...).
 */
const char *cors_origin_pattern_check(const char *s);

#endif
