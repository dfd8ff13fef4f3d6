/*
 * handler.c — the reviews service's one h2o handler: routes, JSON answers, test hooks and the
 * per-request log line.
 *
 *   GET /reviews/{sku}  200 {"sku", "average", "count", "reviews": [{"author", "rating", "text"}]}
 *                       404 {"code": 404, "message": ...} for an unknown SKU
 *   GET /healthz        200 {"status": "ok"}
 *   anything else       404 (unknown path) or 405 (other methods), JSON bodies
 *
 * Test hooks, read from request headers so a test can steer each request on its own:
 *   x-test-delay-ms: N   answer after N ms (0..60000), without blocking other requests: the
 *                        request waits on an h2o timer, one h2o_timeout_t per distinct delay
 *                        (h2o 2.2.5 timers have a fixed duration per h2o_timeout_t)
 *   x-test-status: N     answer status N (100..599) with a JSON error body
 *   x-test-body: TEXT    answer TEXT as the body as it is (e.g. not JSON), status 200 or x-test-status
 * A malformed hook value is answered 400 at once.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "reviews.h"

typedef struct handler {
    h2o_handler_t super;
    reviews_server_t *server;
} handler_t;

/* One h2o_timeout_t per distinct delay, created on first use. */
typedef struct delay_timeout {
    h2o_timeout_t timeout;
    uint64_t ms;
    struct delay_timeout *next;
} delay_timeout_t;

#define MAX_DELAY_MS 60000
#define MAX_DISTINCT_DELAYS 256

static delay_timeout_t *delays;
static size_t n_delays;

/* A response waiting for its delay; lives in the request's pool. */
typedef struct pending {
    h2o_timeout_entry_t entry;
    h2o_req_t *req;
    reviews_server_t *server;
    int status;
    h2o_iovec_t body;
    uint64_t started;
} pending_t;

static const char *reason_of(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Status";
    }
}

static void respond(reviews_server_t *s, h2o_req_t *req, int status, h2o_iovec_t body, uint64_t started)
{
    req->res.status = status;
    req->res.reason = reason_of(status);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    if (status == 405)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET"));
    if (!s->quiet)
        fprintf(stderr, "reviews-backend: %.*s %.*s %d %llums\n", (int)req->method.len, req->method.base, (int)req->path.len,
                req->path.base, status, (unsigned long long)(h2o_now(s->loop) - started));
    req->res.content_length = body.len;
    h2o_send_inline(req, body.base, body.len);
}

/* |doc| (stolen) as compact JSON in the request's pool. */
static h2o_iovec_t json_body(h2o_req_t *req, json_t *doc)
{
    char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(doc);
    if (text == NULL)
        return h2o_strdup(&req->pool, H2O_STRLIT("{\"code\":500,\"message\":\"out of memory\"}"));
    h2o_iovec_t v = h2o_strdup(&req->pool, text, strlen(text));
    free(text);
    return v;
}

static h2o_iovec_t error_body(h2o_req_t *req, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static h2o_iovec_t error_body(h2o_req_t *req, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return json_body(req, json_pack("{s:i, s:s}", "code", status, "message", msg));
}

static h2o_iovec_t product_body(h2o_req_t *req, const reviews_product_t *p)
{
    json_t *list = json_array();
    int sum = 0;
    for (size_t i = 0; i < p->n_reviews; i++) {
        const reviews_review_t *r = &p->reviews[i];
        json_array_append_new(list, json_pack("{s:s, s:i, s:s}", "author", r->author, "rating", r->rating, "text", r->text));
        sum += r->rating;
    }
    /* one decimal, like a shop would show it; no reviews: no average */
    json_t *average = p->n_reviews ? json_real((double)(sum * 10 / (int)p->n_reviews) / 10.0) : json_null();
    return json_body(
        req, json_pack("{s:s, s:o, s:i, s:o}", "sku", p->sku, "average", average, "count", (int)p->n_reviews, "reviews", list));
}

/* Header |name| of the request, or NULL. */
static const h2o_iovec_t *find_header(h2o_req_t *req, const char *name)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, strlen(name), -1);
    return i < 0 ? NULL : &req->headers.entries[i].value;
}

/* Parses a decimal hook value in [min, max]; -1 when malformed. */
static long parse_number(const h2o_iovec_t *v, long min, long max)
{
    if (v->len == 0 || v->len > 9)
        return -1;
    long n = 0;
    for (size_t i = 0; i < v->len; i++) {
        if (v->base[i] < '0' || v->base[i] > '9')
            return -1;
        n = n * 10 + (v->base[i] - '0');
    }
    return n < min || n > max ? -1 : n;
}

static h2o_timeout_t *timeout_for(reviews_server_t *s, uint64_t ms)
{
    for (delay_timeout_t *d = delays; d != NULL; d = d->next)
        if (d->ms == ms)
            return &d->timeout;
    if (n_delays >= MAX_DISTINCT_DELAYS)
        return NULL;
    delay_timeout_t *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return NULL;
    d->ms = ms;
    h2o_timeout_init(s->loop, &d->timeout, ms);
    d->next = delays;
    delays = d;
    n_delays++;
    return &d->timeout;
}

static void on_delay_done(h2o_timeout_entry_t *entry)
{
    pending_t *p = H2O_STRUCT_FROM_MEMBER(pending_t, entry, entry);
    respond(p->server, p->req, p->status, p->body, p->started);
}

/* The request ended (answered, or the client went away while it waited). */
static void on_pending_dispose(void *obj)
{
    pending_t *p = obj;
    if (h2o_timeout_is_linked(&p->entry))
        h2o_timeout_unlink(&p->entry);
    p->server->pending--;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    reviews_server_t *s = ((handler_t *)self)->server;
    uint64_t started = h2o_now(s->loop);
    const h2o_iovec_t *delay_h = find_header(req, "x-test-delay-ms");
    const h2o_iovec_t *status_h = find_header(req, "x-test-status");
    const h2o_iovec_t *body_h = find_header(req, "x-test-body");
    long delay = 0, status = 200;
    h2o_iovec_t body;

    if (delay_h != NULL && (delay = parse_number(delay_h, 0, MAX_DELAY_MS)) < 0) {
        respond(s, req, 400, error_body(req, 400, "x-test-delay-ms must be a number of milliseconds in 0..%d", MAX_DELAY_MS),
                started);
        return 0;
    }
    if (status_h != NULL && (status = parse_number(status_h, 100, 599)) < 0) {
        respond(s, req, 400, error_body(req, 400, "x-test-status must be an HTTP status in 100..599"), started);
        return 0;
    }

    h2o_iovec_t path = req->path_normalized;
    if (body_h != NULL) {
        body = h2o_strdup(&req->pool, body_h->base, body_h->len);
    } else if (status_h != NULL) {
        body = error_body(req, (int)status, "status %ld requested by x-test-status", status);
    } else if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"))) {
        status = 405;
        body = error_body(req, 405, "method %.*s is not allowed: use GET", (int)req->method.len, req->method.base);
    } else if (h2o_memis(path.base, path.len, H2O_STRLIT("/healthz"))) {
        body = json_body(req, json_pack("{s:s}", "status", "ok"));
    } else if (path.len > 9 && memcmp(path.base, "/reviews/", 9) == 0 && memchr(path.base + 9, '/', path.len - 9) == NULL) {
        const reviews_product_t *p = reviews_find(path.base + 9, path.len - 9);
        if (p != NULL) {
            body = product_body(req, p);
        } else {
            status = 404;
            body = error_body(req, 404, "no product with SKU \"%.*s\"", (int)(path.len - 9), path.base + 9);
        }
    } else {
        status = 404;
        body = error_body(req, 404, "no route for %.*s", (int)path.len, path.base);
    }

    if (delay == 0) {
        respond(s, req, (int)status, body, started);
        return 0;
    }
    h2o_timeout_t *t = timeout_for(s, (uint64_t)delay);
    if (t == NULL) {
        respond(s, req, 503, error_body(req, 503, "too many distinct x-test-delay-ms values"), started);
        return 0;
    }
    pending_t *p = h2o_mem_alloc_shared(&req->pool, sizeof(*p), on_pending_dispose);
    memset(p, 0, sizeof(*p));
    p->entry.cb = on_delay_done;
    p->req = req;
    p->server = s;
    p->status = (int)status;
    p->body = body;
    p->started = started;
    s->pending++;
    h2o_timeout_link(s->loop, t, &p->entry);
    return 0;
}

void reviews_handler_register(reviews_server_t *s)
{
    h2o_hostconf_t *host = h2o_config_register_host(&s->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    handler_t *h = (handler_t *)h2o_create_handler(path, sizeof(*h));
    h->super.on_req = on_req;
    h->server = s;
}

void reviews_handler_dispose(reviews_server_t *s)
{
    if (s->pending != 0)
        return; /* requests still wait on these timers: the process is exiting anyway */
    while (delays != NULL) {
        delay_timeout_t *d = delays;
        delays = d->next;
        h2o_timeout_dispose(s->loop, &d->timeout);
        free(d);
    }
    n_delays = 0;
}
