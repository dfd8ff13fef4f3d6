/*
 * cors.c — the CORS decision; see cors.h. Origin patterns are matched by a small
 * hand-written glob because the rule ('*' = one or more characters that cannot cross into
 * the port or a path) is not fnmatch's, and origins are short (capped at 512 bytes) with at
 * most CORS_MAX_STARS wildcards per pattern, so the backtracking stays tiny.
 */
#include "policy/cors.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"

#define CORS_MAX_ORIGIN 512
#define CORS_MAX_STARS 4

static const char *const default_methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
static const char *const default_headers[] = {
    "content-type", "connect-protocol-version", "connect-timeout-ms", "grpc-timeout", "x-grpc-web", "x-user-agent",
    "authorization"};

static int lc(int ch)
{
    return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch;
}

static int glob_match(const char *p, const char *s, size_t n)
{
    for (; *p != '\0'; p++) {
        if (*p == '*') {
            /* one or more characters, none of them ':' or '/' */
            for (size_t k = 1; k <= n && s[k - 1] != ':' && s[k - 1] != '/'; k++)
                if (glob_match(p + 1, s + k, n - k))
                    return 1;
            return 0;
        }
        if (n == 0 || lc((unsigned char)*p) != lc((unsigned char)*s))
            return 0;
        s++;
        n--;
    }
    return n == 0;
}

int cors_origin_match(const char *pattern, const char *origin, size_t origin_len)
{
    if (origin_len == 0 || origin_len > CORS_MAX_ORIGIN)
        return 0;
    if (strcmp(pattern, "*") == 0)
        return 1;
    return glob_match(pattern, origin, origin_len);
}

int cors_origin_allowed(const cors_policy_t *policy, const char *origin, size_t origin_len)
{
    for (size_t i = 0; i < policy->n_origins; i++)
        if (cors_origin_match(policy->origins[i], origin, origin_len))
            return 1;
    return 0;
}

static int policy_any_origin(const cors_policy_t *policy)
{
    for (size_t i = 0; i < policy->n_origins; i++)
        if (strcmp(policy->origins[i], "*") == 0)
            return 1;
    return 0;
}

const char *cors_origin_pattern_check(const char *s)
{
    if (strcmp(s, "*") == 0 || strcmp(s, "null") == 0)
        return NULL;
    if (strlen(s) > CORS_MAX_ORIGIN)
        return "is too long";
    const char *sep = strstr(s, "://");
    if (sep == NULL || sep == s)
        return "is not scheme://host[:port]";
    for (const char *p = s; p < sep; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '+' || *p == '-' ||
              *p == '.'))
            return "has an invalid scheme";
    const char *host = sep + 3;
    if (*host == '\0')
        return "has no host";
    int stars = 0, colon = 0;
    const char *port = NULL;
    for (const char *p = host; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '/')
            return p[1] == '\0' ? "ends with a slash (an origin has no path)" : "has a path (an origin has none)";
        if (ch == '*') {
            if (++stars > CORS_MAX_STARS)
                return "has too many wildcards";
            continue;
        }
        if (ch == ':' && (host[0] != '[' || (p > host && p[-1] == ']'))) {
            if (colon++)
                return "has more than one colon after the host";
            port = p + 1;
            continue;
        }
        if (ch <= 0x20 || ch >= 0x7f || ch == '?' || ch == '#' || ch == '@' || ch == ',')
            return "has a character that is not allowed in an origin";
    }
    if (port != NULL) {
        if (*port == '\0')
            return "has an empty port";
        if (strcmp(port, "*") != 0)
            for (const char *p = port; *p; p++)
                if (*p < '0' || *p > '9')
                    return "has a port that is neither a number nor *";
    }
    return NULL;
}

/* ---- lists ------------------------------------------------------------------------------- */

static int token_eq(const char *a, size_t alen, const char *b)
{
    return strlen(b) == alen && strncasecmp(a, b, alen) == 0;
}

static int method_allowed(const cors_policy_t *policy, const char *m, size_t len)
{
    if (policy->n_methods == 0) {
        for (size_t i = 0; i < sizeof(default_methods) / sizeof(default_methods[0]); i++)
            if (token_eq(m, len, default_methods[i]))
                return 1;
        return 0;
    }
    for (size_t i = 0; i < policy->n_methods; i++)
        if (token_eq(m, len, policy->methods[i]))
            return 1;
    return 0;
}

static int any_header(const cors_policy_t *policy)
{
    for (size_t i = 0; i < policy->n_headers; i++)
        if (strcmp(policy->headers[i], "*") == 0)
            return 1;
    return 0;
}

static int header_allowed(const cors_policy_t *policy, const char *h, size_t len)
{
    for (size_t i = 0; i < sizeof(default_headers) / sizeof(default_headers[0]); i++)
        if (token_eq(h, len, default_headers[i]))
            return 1;
    for (size_t i = 0; i < policy->n_headers; i++)
        if (token_eq(h, len, policy->headers[i]) || strcmp(policy->headers[i], "*") == 0)
            return 1;
    return 0;
}

static int is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/*
 * Walks the comma-separated Access-Control-Request-Headers list. Returns 1 when every name
 * is a token that the policy allows; otherwise 0 with the offending name in |bad|/|bad_len|.
 */
static int headers_allowed(const cors_policy_t *policy, const char *list, size_t len, const char **bad, size_t *bad_len)
{
    size_t i = 0;
    while (i < len) {
        while (i < len && (list[i] == ' ' || list[i] == '\t' || list[i] == ','))
            i++;
        size_t start = i;
        while (i < len && list[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (list[end - 1] == ' ' || list[end - 1] == '\t'))
            end--;
        if (end == start)
            continue;
        int ok = 1;
        for (size_t k = start; k < end && ok; k++)
            ok = is_tchar((unsigned char)list[k]);
        if (!ok || !header_allowed(policy, list + start, end - start)) {
            *bad = list + start;
            *bad_len = end - start;
            return 0;
        }
    }
    return 1;
}

static void join(util_buf_t *b, const char *first, const char *const *list, size_t n)
{
    if (first != NULL)
        util_buf_puts(b, first);
    for (size_t i = 0; i < n; i++) {
        if (b->len > 0)
            util_buf_puts(b, ", ");
        util_buf_puts(b, list[i]);
    }
}

/* ---- the decision ------------------------------------------------------------------------ */

static void emit_str(cors_emit_fn emit, void *ctx, const char *name, const char *value)
{
    emit(ctx, name, value, strlen(value));
}

static void emit_buf(cors_emit_fn emit, void *ctx, const char *name, util_buf_t *b)
{
    if (!util_buf_failed(b))
        emit(ctx, name, (const char *)b->data, b->len);
    b->len = 0;
}

static void set_why(char *why, size_t cap, const char *fmt, const char *a, size_t alen)
{
    if (why != NULL && cap > 0)
        snprintf(why, cap, fmt, (int)(alen > 200 ? 200 : alen), a);
}

static void emit_allow_origin(const cors_policy_t *policy, const cors_request_t *req, cors_emit_fn emit, void *ctx)
{
    if (!policy->allow_credentials && policy_any_origin(policy)) {
        emit_str(emit, ctx, "access-control-allow-origin", "*");
    } else {
        emit(ctx, "access-control-allow-origin", req->origin, req->origin_len);
        if (policy->allow_credentials)
            emit_str(emit, ctx, "access-control-allow-credentials", "true");
    }
}

cors_verdict_t cors_evaluate(const cors_policy_t *policy, const cors_request_t *req, cors_emit_fn emit, void *ctx, char *why,
                             size_t why_cap)
{
    int preflight =
        req->origin != NULL && req->request_method != NULL && req->method_len == 7 && memcmp(req->method, "OPTIONS", 7) == 0;
    if (why != NULL && why_cap > 0)
        why[0] = '\0';
    if (preflight)
        emit_str(emit, ctx, "vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
    else
        emit_str(emit, ctx, "vary", "Origin");
    if (req->origin == NULL)
        return CORS_NOT_CORS;

    if (!cors_origin_allowed(policy, req->origin, req->origin_len)) {
        set_why(why, why_cap, "origin \"%.*s\" is not allowed", req->origin, req->origin_len);
        return preflight ? CORS_PREFLIGHT_DENIED : CORS_DENIED;
    }

    util_buf_t b = UTIL_BUF_INIT;
    if (!preflight) {
        emit_allow_origin(policy, req, emit, ctx);
        join(&b, CORS_DEFAULT_EXPOSE_HEADERS, policy->expose_headers, policy->n_expose_headers);
        emit_buf(emit, ctx, "access-control-expose-headers", &b);
        util_buf_dispose(&b);
        return CORS_ALLOWED;
    }

    if (!method_allowed(policy, req->request_method, req->request_method_len)) {
        set_why(why, why_cap, "method \"%.*s\" is not allowed", req->request_method, req->request_method_len);
        return CORS_PREFLIGHT_DENIED;
    }
    const char *bad = NULL;
    size_t bad_len = 0;
    if (req->request_headers != NULL && !headers_allowed(policy, req->request_headers, req->request_headers_len, &bad, &bad_len)) {
        set_why(why, why_cap, "request header \"%.*s\" is not allowed", bad, bad_len);
        return CORS_PREFLIGHT_DENIED;
    }

    emit_allow_origin(policy, req, emit, ctx);
    if (policy->n_methods == 0)
        util_buf_puts(&b, CORS_DEFAULT_METHODS);
    else
        join(&b, NULL, policy->methods, policy->n_methods);
    emit_buf(emit, ctx, "access-control-allow-methods", &b);
    if (any_header(policy) && req->request_headers != NULL && req->request_headers_len > 0) {
        /* every requested name was checked to be a token above: echoing them is safe */
        emit(ctx, "access-control-allow-headers", req->request_headers, req->request_headers_len);
    } else {
        util_buf_puts(&b, CORS_DEFAULT_ALLOW_HEADERS);
        for (size_t i = 0; i < policy->n_headers; i++) {
            if (strcmp(policy->headers[i], "*") == 0)
                continue;
            util_buf_puts(&b, ", ");
            util_buf_puts(&b, policy->headers[i]);
        }
        emit_buf(emit, ctx, "access-control-allow-headers", &b);
    }
    if (policy->max_age_s > 0) {
        util_buf_printf(&b, "%u", (unsigned)policy->max_age_s);
        emit_buf(emit, ctx, "access-control-max-age", &b);
    }
    util_buf_dispose(&b);
    return CORS_PREFLIGHT_OK;
}
