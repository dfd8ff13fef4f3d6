/*
 * aggregate_run_test.c — the planner/executor of composite requests (src/aggregate/run.c),
 * driven by a fake transport on a fake loop with a fake clock: parallel start, dependency
 * chains, optional and required failures, per-call / per-endpoint / transport timeouts,
 * cancellation, malformed and non-JSON replies, 4xx/5xx, skipped parts, the response cache,
 * synchronous replies, request building (paths, queries, headers, gRPC messages) and
 * arrival-order independence over every permutation of the replies.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate/aggregate_int.h"
#include "test.h"

/* ---- the fake loop ---------------------------------------------------------------------- */

typedef struct fake_timer {
    int active;
    uint64_t at, seq;
    aggregate_timer_cb cb;
    void *arg;
} fake_timer_t;

typedef struct fake_call {
    int active, cancelled;
    char name[32];
    char path[512];
    char message[512];
    char body[512];
    char headers[512];
    int has_pb;
    int planned;       /* encoded without JSON: |message| is the bytes printed back */
    char decoded[512]; /* the encoded request printed back, whichever way it was encoded */
    uint32_t timeout_ms;
    aggregate_reply_cb cb;
    void *arg;
} fake_call_t;

typedef struct fake {
    uint64_t now, seq;
    fake_timer_t timers[64];
    size_t n_timers;
    fake_call_t calls[64];
    size_t n_calls;
    /* replies given from inside start_call */
    const char *sync_name;
    int sync_status;
    const char *sync_body;
    /* what done received */
    int done_count;
    int status;
    char body[4096];
    char header[512];
    char parts[1024];
    int returned; /* aggregate_run_start has returned */
    int done_before_return;
    aggregate_transport_t tr;
} fake_t;

static fake_t F;
static proto_registry_t *registry;

static void reply_to(fake_call_t *c, int status, const char *body, int failed, int timed_out, const char *error)
{
    aggregate_reply_t r = {failed, timed_out, status, body, body ? strlen(body) : 0, NULL, 0, 0, error};
    c->active = 0;
    c->cb(c->arg, &r);
}

static void *fake_start(void *ctx, const aggregate_call_request_t *req, aggregate_reply_cb cb, void *arg)
{
    fake_t *f = ctx;
    fake_call_t *c = &f->calls[f->n_calls++];
    memset(c, 0, sizeof(*c));
    c->active = 1;
    snprintf(c->name, sizeof(c->name), "%s", req->call->name);
    if (req->path)
        snprintf(c->path, sizeof(c->path), "%s %s", req->http_method, req->path);
    if (req->message_json) {
        snprintf(c->message, sizeof(c->message), "%.*s", (int)req->message_json_len, req->message_json);
    }
    if (req->message_pb != NULL && req->grpc_method != NULL) {
        /* what the backend gets, printed */
        util_buf_t json = UTIL_BUF_INIT;
        util_error_t err = {0};
        if (codec_pb_to_json(registry, req->grpc_method->input, req->message_pb, req->message_pb_len, NULL, &json, &err) == 0)
            snprintf(c->decoded, sizeof(c->decoded), "%.*s", (int)json.len, (const char *)json.data);
        else
            snprintf(c->decoded, sizeof(c->decoded), "undecodable: %.200s", err.message);
        util_buf_dispose(&json);
        if (req->message_json == NULL) { /* encoded without JSON (aggregate_call_t.request_plan) */
            size_t n = strlen(c->decoded) < sizeof(c->message) - 1 ? strlen(c->decoded) : sizeof(c->message) - 1;
            memcpy(c->message, c->decoded, n);
            c->message[n] = '\0';
            c->planned = 1;
        }
    }
    if (req->body)
        snprintf(c->body, sizeof(c->body), "%.*s", (int)req->body_len, req->body);
    size_t len = 0;
    for (size_t i = 0; i < req->n_headers; i++)
        len += (size_t)snprintf(c->headers + len, sizeof(c->headers) - len, "%s%s: %s", i ? "; " : "", req->headers[i].name,
                                req->headers[i].value);
    c->has_pb = req->message_pb != NULL;
    c->timeout_ms = req->timeout_ms;
    c->cb = cb;
    c->arg = arg;
    if (f->sync_name != NULL && strcmp(f->sync_name, c->name) == 0)
        reply_to(c, f->sync_status, f->sync_body, 0, 0, NULL);
    return c;
}

static void fake_cancel(void *ctx, void *handle)
{
    (void)ctx;
    fake_call_t *c = handle;
    CHECK(c->active); /* never cancel a call that already replied */
    c->active = 0;
    c->cancelled = 1;
}

static void *fake_timer_start(void *ctx, uint64_t ms, aggregate_timer_cb cb, void *arg)
{
    fake_t *f = ctx;
    fake_timer_t *t = &f->timers[f->n_timers++];
    t->active = 1;
    t->at = f->now + ms;
    t->seq = f->seq++;
    t->cb = cb;
    t->arg = arg;
    return t;
}

static void fake_timer_cancel(void *ctx, void *timer)
{
    (void)ctx;
    fake_timer_t *t = timer;
    CHECK(t->active);
    t->active = 0;
}

static uint64_t fake_now(void *ctx)
{
    return ((fake_t *)ctx)->now;
}

/* Moves the clock forward, firing due timers in order. */
static void advance(uint64_t ms)
{
    uint64_t until = F.now + ms;
    for (;;) {
        fake_timer_t *next = NULL;
        for (size_t i = 0; i < F.n_timers; i++) {
            fake_timer_t *t = &F.timers[i];
            if (t->active && t->at <= until && (next == NULL || t->at < next->at || (t->at == next->at && t->seq < next->seq)))
                next = t;
        }
        if (next == NULL)
            break;
        F.now = next->at;
        next->active = 0;
        next->cb(next->arg);
    }
    F.now = until;
}

static size_t active_timers(void)
{
    size_t n = 0;
    for (size_t i = 0; i < F.n_timers; i++)
        n += F.timers[i].active;
    return n;
}

static fake_call_t *find_call(const char *name)
{
    for (size_t i = F.n_calls; i-- > 0;)
        if (strcmp(F.calls[i].name, name) == 0)
            return &F.calls[i];
    return NULL;
}

static int started(const char *name)
{
    int n = 0;
    for (size_t i = 0; i < F.n_calls; i++)
        n += strcmp(F.calls[i].name, name) == 0;
    return n;
}

static size_t active_calls(void)
{
    size_t n = 0;
    for (size_t i = 0; i < F.n_calls; i++)
        n += F.calls[i].active;
    return n;
}

/* Replies to the newest active call |name|. */
static void reply(const char *name, int status, const char *body)
{
    fake_call_t *c = find_call(name);
    CHECK(c != NULL && c->active);
    if (c != NULL && c->active)
        reply_to(c, status, body, 0, 0, NULL);
}

static void on_done(void *ctx, const aggregate_result_t *r)
{
    fake_t *f = ctx;
    f->done_count++;
    if (!f->returned)
        f->done_before_return = 1;
    f->status = r->http_status;
    snprintf(f->body, sizeof(f->body), "%.*s", (int)r->body_len, r->body);
    snprintf(f->header, sizeof(f->header), "%s: %s", r->meta_header ? r->meta_header : "-",
             r->meta_header_value ? r->meta_header_value : "-");
    size_t len = 0;
    f->parts[0] = '\0';
    for (size_t i = 0; i < r->n_parts; i++)
        len += (size_t)snprintf(f->parts + len, sizeof(f->parts) - len, "%s%s=%s%s%s", i ? "; " : "", r->parts[i].name,
                                aggregate_part_status_name(r->parts[i].status), r->parts[i].required ? "" : "?",
                                r->parts[i].from_cache ? "(cached)" : "");
    /* the document is the body */
    util_buf_t dumped = UTIL_BUF_INIT;
    aggregate_value_write(&dumped, r->document);
    util_buf_putc(&dumped, '\0');
    CHECK_STR_EQ((const char *)dumped.data, f->body);
    util_buf_dispose(&dumped);
}

static void fake_reset(aggregate_cache_t *cache)
{
    memset(&F, 0, sizeof(F));
    F.now = 1000;
    F.tr.ctx = &F;
    F.tr.start_call = fake_start;
    F.tr.cancel_call = fake_cancel;
    F.tr.timer_start = fake_timer_start;
    F.tr.timer_cancel = fake_timer_cancel;
    F.tr.now_ms = fake_now;
    F.tr.cache = cache;
}

/* ---- endpoints ---------------------------------------------------------------------------- */

static char *dq(const char *s)
{
    char *out = strdup(s);
    for (char *p = out; *p; p++)
        if (*p == '\'')
            *p = '"';
    return out;
}

static aggregate_set_t *load(const char *json)
{
    char *text = dq(json);
    aggregate_set_t *s = aggregate_set_new();
    util_error_t err = {0};
    aggregate_load_options_t o = {registry, NULL, NULL};
    if (aggregate_set_load_string(s, text, "t.json", &o, &err) != 0) {
        fprintf(stderr, "load failed: %s\n", err.message);
        aggregate_set_free(s);
        s = NULL;
    }
    free(text);
    return s;
}

#define PRODUCT                                                                                                                    \
    "{'method': 'GET', 'path': '/v1/products/{id}', 'timeout_ms': 1000, 'calls': ["                                                \
    " {'name': 'price', 'grpc': {'upstream': 'price', 'method': 'shop.v1.PriceService/GetPrice',"                                  \
    "   'request': {'sku': '{id}', 'currency': '{query.currency}', 'quantity': 1}}, 'group': 'price' %s},"                         \
    " {'name': 'stock', 'grpc': {'upstream': 'stock', 'method': 'shop.v1.StockService/GetStock', 'request': {'sku': '{id}'}},"     \
    "  'group': 'stock'},"                                                                                                         \
    " {'name': 'reviews', 'http': {'upstream': 'reviews', 'path': '/reviews/{id}'}, 'required': false, 'group': 'reviews' %s}]}"

static aggregate_set_t *load_product(const char *price_extra, const char *reviews_extra)
{
    char json[4096];
    snprintf(json, sizeof(json), PRODUCT, price_extra, reviews_extra);
    return load(json);
}

static aggregate_run_t *start(const aggregate_endpoint_t *ep, const char *id, const char *query)
{
    aggregate_kv_t vars[1] = {{"id", 2, id, strlen(id)}};
    aggregate_kv_t headers[3] = {
        {"X-Request-Id", 12, "r-1", 3}, {"Authorization", 13, "secret", 6}, {"x-request-id", 12, "r-2", 3}};
    aggregate_request_t in = {vars, 1, query, query ? strlen(query) : 0, headers, 3, NULL, 0};
    F.returned = 0;
    aggregate_run_t *run = aggregate_run_start(ep, &in, &F.tr, on_done, &F);
    F.returned = 1;
    CHECK(run != NULL);
    return run;
}

static const char *PRICE_REPLY = "{\"sku\":\"ABC-123\",\"amountMicros\":\"19990000\",\"currency\":\"EUR\"}";
static const char *STOCK_REPLY = "{\"sku\":\"ABC-123\",\"available\":25}";
static const char *REVIEWS_REPLY = "{\"sku\":\"ABC-123\",\"average\":4.5,\"count\":2}";
static const char *PRODUCT_DOC = "{\"price\":{\"sku\":\"ABC-123\",\"amountMicros\":\"19990000\",\"currency\":\"EUR\"},\"stock\":{"
                                 "\"sku\":\"ABC-123\",\"available\":"
                                 "25},\"reviews\":{\"sku\":\"ABC-123\",\"average\":4.5,\"count\":2},\"_meta\":{\"price\":\"ok\","
                                 "\"stock\":\"ok\",\"reviews\":\"ok\"}}";

/* ---- tests ----------------------------------------------------------------------------------- */

/* Independent calls all start before any reply; the built requests are what the templates say. */
static void test_parallel(void)
{
    aggregate_set_t *s = load_product("", "");
    fake_reset(NULL);
    start(aggregate_set_at(s, 0), "ABC-123", "currency=EUR&x=1");
    CHECK_INT_EQ(F.n_calls, 3);
    CHECK_INT_EQ(active_calls(), 3);
    CHECK_INT_EQ(F.done_count, 0);
    CHECK_STR_EQ(find_call("price")->message, "{\"sku\":\"ABC-123\",\"quantity\":1,\"currency\":\"EUR\"}");
    CHECK(find_call("price")->planned && find_call("stock")->planned); /* simple templates skip JSON */
    CHECK(find_call("price")->has_pb);
    CHECK_STR_EQ(find_call("stock")->message, "{\"sku\":\"ABC-123\"}");
    CHECK_STR_EQ(find_call("reviews")->path, "GET /reviews/ABC-123");
    reply("stock", 200, STOCK_REPLY);
    reply("reviews", 200, REVIEWS_REPLY);
    CHECK_INT_EQ(F.done_count, 0);
    reply("price", 200, PRICE_REPLY);
    CHECK_INT_EQ(F.done_count, 1);
    CHECK_INT_EQ(F.status, 200);
    CHECK_STR_EQ(F.body, PRODUCT_DOC);
    CHECK_STR_EQ(F.header, "x-portico-parts: price=ok, stock=ok, reviews=ok");
    CHECK_INT_EQ(active_timers(), 0); /* the endpoint timer is gone */
    /* an absent query value leaves the field out */
    fake_reset(NULL);
    aggregate_run_t *run = start(aggregate_set_at(s, 0), "A/B", NULL);
    CHECK_STR_EQ(find_call("price")->message, "{\"sku\":\"A/B\",\"quantity\":1}");
    CHECK_STR_EQ(find_call("reviews")->path, "GET /reviews/A%2FB");
    aggregate_run_cancel(run);
    /* values the direct encoding does not take go the JSON way: an empty string ... */
    fake_reset(NULL);
    run = start(aggregate_set_at(s, 0), "ABC-123", "currency=");
    CHECK(!find_call("price")->planned && find_call("stock")->planned);
    CHECK_STR_EQ(find_call("price")->message, "{\"sku\":\"ABC-123\",\"currency\":\"\",\"quantity\":1}");
    CHECK(find_call("price")->has_pb);
    aggregate_run_cancel(run);
    /* ... and text that is not UTF-8, which the codec refuses, as a client error */
    fake_reset(NULL);
    start(aggregate_set_at(s, 0), "A\xff", NULL);
    CHECK(!started("price") && !started("stock"));
    advance(0); /* a failure inside the start is delivered on the next turn */
    CHECK_INT_EQ(F.status, 400);
    CHECK_STR_HAS(F.body, "cannot build the request: ");
    CHECK_STR_HAS(F.body, "UTF-8");
    aggregate_set_free(s);
}

/* The direct encoding and the JSON way give the backend the same message, whatever the text:
 * quotes, backslashes, controls, multi-byte UTF-8, percent signs, slashes, empty values. The
 * same endpoint with a cached price call (the cache key is the JSON) takes the JSON way. */
static void test_request_plan_same_bytes(void)
{
    aggregate_set_t *direct = load_product("", ""), *json = load_product(", 'cache_ttl_ms': 1000", "");
    static const char *const texts[] = {"ABC-123",          "a\"b", "a\\b", "tab\there", "\x01\x1f\x7f", "h\xc3\xa9",
                                        "\xf0\x9f\x98\x80", "50%",  "a/b",  "{id}",      "x y",          ""};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        char query[64];
        snprintf(query, sizeof(query), "currency=%s", i % 2 ? "EUR" : "");
        char got[2][512];
        int planned[2];
        for (int k = 0; k < 2; k++) {
            fake_reset(NULL);
            aggregate_run_t *run = start(aggregate_set_at(k == 0 ? direct : json, 0), texts[i], query);
            const fake_call_t *c = find_call("price");
            snprintf(got[k], sizeof(got[k]), "%s", c != NULL ? c->decoded : "(not started)");
            planned[k] = c != NULL && c->planned;
            aggregate_run_cancel(run);
        }
        CHECK(!planned[1]);
        if (strcmp(got[0], got[1]) != 0)
            fprintf(stderr, "  text %zu: direct %s, JSON %s\n", i, got[0], got[1]);
        CHECK_STR_EQ(got[0], got[1]);
    }
    aggregate_set_free(direct);
    aggregate_set_free(json);
}

/* The document is byte-identical whatever order the replies arrive in (every permutation). */
static const char *CONFLICT =
    "{'method': 'GET', 'path': '/c', 'calls': ["
    " {'name': 'a', 'http': {'upstream': 'u', 'path': '/a'}},"
    " {'name': 'b', 'http': {'upstream': 'u', 'path': '/b'}},"
    " {'name': 'c', 'http': {'upstream': 'u', 'path': '/c'}, 'group': 'g'},"
    " {'name': 'd', 'http': {'upstream': 'u', 'path': '/d'}, 'collection': {'key': 'list', 'concat': true}},"
    " {'name': 'e', 'http': {'upstream': 'u', 'path': '/e'}, 'collection': {'key': 'list', 'concat': true}}]}";
static const char *CONFLICT_REPLIES[] = {
    "{\"x\":1,\"o\":{\"p\":1,\"q\":1},\"arr\":[1],\"g\":{\"from\":\"a\"}}",
    "{\"x\":2,\"o\":{\"q\":2,\"r\":2},\"arr\":[2,2]}",
    "{\"from\":\"c\",\"n\":3}",
    "[\"d1\",\"d2\"]",
    "[\"e1\"]",
};
static const char *CONFLICT_DOC =
    "{\"x\":2,\"o\":{\"p\":1,\"q\":2,\"r\":2},\"arr\":[2,2],\"g\":{\"from\":\"c\",\"n\":3},\"list\":[\"d1\","
    "\"d2\",\"e1\"],\"_meta\":{\"a\":\"ok\",\"b\":\"ok\",\"c\":\"ok\",\"d\":\"ok\",\"e\":\"ok\"}}";

static int next_permutation(int *p, int n)
{
    int i = n - 2;
    while (i >= 0 && p[i] >= p[i + 1])
        i--;
    if (i < 0)
        return 0;
    int j = n - 1;
    while (p[j] <= p[i])
        j--;
    int t = p[i];
    p[i] = p[j];
    p[j] = t;
    for (int a = i + 1, b = n - 1; a < b; a++, b--)
        t = p[a], p[a] = p[b], p[b] = t;
    return 1;
}

static void test_arrival_order(void)
{
    aggregate_set_t *s = load(CONFLICT);
    int perm[5] = {0, 1, 2, 3, 4}, count = 0, same = 0;
    static const char *names[] = {"a", "b", "c", "d", "e"};
    do {
        fake_reset(NULL);
        start(aggregate_set_at(s, 0), "x", NULL);
        for (int k = 0; k < 5; k++)
            reply(names[perm[k]], 200, CONFLICT_REPLIES[perm[k]]);
        count++;
        same += F.done_count == 1 && F.status == 200 && strcmp(F.body, CONFLICT_DOC) == 0;
        if (strcmp(F.body, CONFLICT_DOC) != 0)
            CHECK_STR_EQ(F.body, CONFLICT_DOC);
    } while (next_permutation(perm, 5));
    CHECK_INT_EQ(count, 120);
    CHECK_INT_EQ(same, 120);

    /* the product page too, with the reviews arriving late, early, and in between */
    aggregate_set_free(s);
    s = load_product("", "");
    int p3[3] = {0, 1, 2};
    static const char *pn[] = {"price", "stock", "reviews"};
    const char *pr[] = {PRICE_REPLY, STOCK_REPLY, REVIEWS_REPLY};
    do {
        fake_reset(NULL);
        start(aggregate_set_at(s, 0), "ABC-123", "currency=EUR");
        for (int k = 0; k < 3; k++)
            reply(pn[p3[k]], 200, pr[p3[k]]);
        CHECK_STR_EQ(F.body, PRODUCT_DOC);
    } while (next_permutation(p3, 3));
    aggregate_set_free(s);
}

/* A chain: catalog → reviews (by the catalog's canonical id) → summary (by the review count). */
static const char *CHAIN = "{'method': 'GET', 'path': '/v1/products/{id}', 'calls': ["
                           " {'name': 'summary', 'http': {'upstream': 'u', 'path': '/summary',"
                           "   'query': {'n': '{calls.reviews.count}', 'ids': '{calls.catalog.ids}', 'gone': '{query.gone}'}},"
                           "  'depends_on': ['reviews'], 'group': 'summary'},"
                           " {'name': 'catalog', 'http': {'upstream': 'u', 'path': '/catalog/{id}'}, 'allow': ['canonicalId']},"
                           " {'name': 'reviews', 'http': {'upstream': 'u', 'path': '/reviews/{calls.catalog.canonicalId}'},"
                           "  'group': 'reviews'}]}";

static void test_chain(void)
{
    aggregate_set_t *s = load(CHAIN);
    fake_reset(NULL);
    start(aggregate_set_at(s, 0), "ABC", NULL);
    CHECK_INT_EQ(F.n_calls, 1);
    CHECK_STR_EQ(F.calls[0].path, "GET /catalog/ABC");
    reply("catalog", 200, "{\"canonicalId\":\"C 9/x\",\"ids\":[1,\"two\"],\"secret\":1}");
    CHECK_INT_EQ(F.n_calls, 2);
    CHECK_STR_EQ(find_call("reviews")->path, "GET /reviews/C%209%2Fx");
    CHECK_INT_EQ(started("summary"), 0);
    reply("reviews", 200, "{\"count\":4}");
    CHECK_INT_EQ(started("summary"), 1);
    CHECK_STR_EQ(find_call("summary")->path, "GET /summary?n=4&ids=1&ids=two");
    CHECK_INT_EQ(F.done_count, 0);
    reply("summary", 200, "{\"ok\":true}");
    CHECK_INT_EQ(F.done_count, 1);
    CHECK_STR_EQ(F.body, "{\"summary\":{\"ok\":true},\"canonicalId\":\"C 9/x\",\"reviews\":{\"count\":4},"
                         "\"_meta\":{\"summary\":\"ok\",\"catalog\":\"ok\",\"reviews\":\"ok\"}}");

    /* a value the path needs is missing from the dependency's answer: the part fails, naming it */
    fake_reset(NULL);
    start(aggregate_set_at(s, 0), "ABC", NULL);
    reply("catalog", 200, "{\"other\":1}");
    CHECK_INT_EQ(started("reviews"), 0);
    CHECK_INT_EQ(F.done_count, 1);
    CHECK_INT_EQ(F.status, 502);
    CHECK_STR_HAS(F.body, "required part reviews failed: error: cannot build the request: the path needs "
                          "{calls.catalog.canonicalId}, which is absent");
    CHECK_STR_EQ(F.parts, "summary=skipped; catalog=ok; reviews=error");
    aggregate_set_free(s);
}

static void test_optional_failures(void)
{
    static const struct {
        int status;
        const char *body;
        const char *meta; /* _meta.reviews */
    } cases[] = {
        {503, "{\"message\":\"down\"}", "error: HTTP 503 from upstream reviews: down"},
        {500, "oops", "error: HTTP 500 from upstream reviews"},
        {404, "{\"error\":{\"message\":\"no reviews for ABC-123\"}}",
         "error: HTTP 404 from upstream reviews: no reviews for ABC-123"},
        {302, "", "error: HTTP 302 from upstream reviews"},
        {200, "not json{",
         "error: the response of upstream reviews is not JSON (invalid JSON at line 1 column 1: expected 'null')"},
        {200, "{\"a\":1", "error: the response of upstream reviews is not JSON"},
    };
    aggregate_set_t *s = load_product("", "");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fake_reset(NULL);
        start(aggregate_set_at(s, 0), "ABC-123", "currency=EUR");
        reply("reviews", cases[i].status, cases[i].body);
        reply("price", 200, PRICE_REPLY);
        reply("stock", 200, STOCK_REPLY);
        CHECK_INT_EQ(F.done_count, 1);
        CHECK_INT_EQ(F.status, 200);
        CHECK_STR_HAS(F.body, "\"_meta\":{\"price\":\"ok\",\"stock\":\"ok\",\"reviews\":\"");
        CHECK_STR_HAS(F.body, cases[i].meta);
        CHECK(strstr(F.body, "\"reviews\":{") == NULL); /* the part is left out */
        CHECK_STR_EQ(F.header, "x-portico-parts: price=ok, stock=ok, reviews=error");
    }
    /* an empty 2xx body is an empty object */
    fake_reset(NULL);
    start(aggregate_set_at(s, 0), "ABC-123", NULL);
    reply("reviews", 204, "");
    reply("price", 200, "{}");
    reply("stock", 200, "{}");
    CHECK_STR_EQ(F.body,
                 "{\"price\":{},\"stock\":{},\"reviews\":{},\"_meta\":{\"price\":\"ok\",\"stock\":\"ok\",\"reviews\":\"ok\"}}");
    aggregate_set_free(s);
}

static void test_required_failures(void)
{
    static const struct {
        int status;
        const char *body;
        int failed;
        const char *error;
        int expected_status;
        int code;
        const char *message;
    } cases[] = {
        {503, "{\"message\":\"maintenance\"}", 0, NULL, 502, 14,
         "required part price failed: error: HTTP 503 from upstream price: maintenance"},
        {500, "<html>", 0, NULL, 502, 14, "required part price failed: error: HTTP 500 from upstream price"},
        {404, "{\"message\":\"no product ABC-123\"}", 0, NULL, 404, 5,
         "required part price failed: error: HTTP 404 from upstream price"},
        {400, "{}", 0, NULL, 400, 3, "HTTP 400"},
        {504, "", 0, NULL, 504, 4, "HTTP 504"},
        {200, "[1,2", 0, NULL, 502, 14, "required part price failed: error: the response of upstream price is not JSON"},
        {200, "[1,2]", 0, NULL, 502, 14, "required part price failed: error: the response has no \"data\" (target)"},
        {503, NULL, 1, "UNAVAILABLE: connection refused", 502, 14,
         "required part price failed: error: UNAVAILABLE: connection refused"},
        {404, NULL, 1, "NOT_FOUND: no price for ABC-123", 404, 5, "error: NOT_FOUND: no price for ABC-123"},
        {0, NULL, 1, NULL, 502, 14, "error: the call failed"},
    };
    aggregate_set_t *s = load_product(", 'target': 'data'", "");
    /* price has "target": "data" here, so that a reply without it fails too */
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fake_reset(NULL);
        start(aggregate_set_at(s, 0), "ABC-123", NULL);
        reply("reviews", 200, REVIEWS_REPLY);
        fake_call_t *c = find_call("price");
        if (cases[i].failed)
            reply_to(c, cases[i].status, NULL, 1, 0, cases[i].error);
        else
            reply("price", cases[i].status, cases[i].body);
        /* fail fast: answered at once, stock still outstanding is cancelled */
        CHECK_INT_EQ(F.done_count, 1);
        CHECK_INT_EQ(F.status, cases[i].expected_status);
        CHECK(find_call("stock")->cancelled);
        CHECK_INT_EQ(active_calls(), 0);
        CHECK_INT_EQ(active_timers(), 0);
        json_t *doc = json_loads(F.body, 0, NULL);
        CHECK_INT_EQ(json_integer_value(json_object_get(doc, "code")), cases[i].code);
        CHECK_STR_HAS(json_string_value(json_object_get(doc, "message")), cases[i].message);
        json_t *info = json_array_get(json_object_get(doc, "details"), 0);
        CHECK_STR_EQ(json_string_value(json_object_get(info, "@type")), "type.googleapis.com/google.rpc.ErrorInfo");
        CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(info, "metadata"), "part")), "price");
        CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(doc, "_meta"), "stock")), "cancelled");
        CHECK_STR_EQ(json_string_value(json_object_get(json_object_get(doc, "_meta"), "reviews")), "ok");
        CHECK_STR_EQ(F.header, "x-portico-parts: price=error, stock=cancelled, reviews=ok");
        json_decref(doc);
    }
    /* the target is there: fine */
    fake_reset(NULL);
    start(aggregate_set_at(s, 0), "ABC-123", NULL);
    reply("price", 200, "{\"data\":{\"amount\":1},\"junk\":2}");
    reply("stock", 200, "{}");
    reply("reviews", 200, "{}");
    CHECK_STR_HAS(F.body, "{\"price\":{\"amount\":1},");
    aggregate_set_free(s);
}

static void test_timeouts(void)
{
    /* an optional call's own timeout: the rest is served, the part says "timeout" */
    aggregate_set_t *s = load_product(", 'timeout_ms': 300", ", 'timeout_ms': 100");
    fake_reset(NULL);
    start(aggregate_set_at(s, 0), "ABC-123", NULL);
    CHECK_INT_EQ(find_call("reviews")->timeout_ms, 100);
    advance(10);
    reply("price", 200, PRICE_REPLY);
    reply("stock", 200, STOCK_REPLY);
    CHECK_INT_EQ(F.done_count, 0);
    advance(89);
    CHECK_INT_EQ(F.done_count, 0);
    advance(1);
    CHECK_INT_EQ(F.done_count, 1);
    CHECK_INT_EQ(F.status, 200);
    CHECK(find_call("reviews")->cancelled);
    CHECK_STR_HAS(F.body, "\"_meta\":{\"price\":\"ok\",\"stock\":\"ok\",\"reviews\":\"timeout\"}");
    CHECK_INT_EQ(active_timers(), 0);

    /* a required call's own timeout: 504 at once */
    fake_reset(NULL);
    start(aggregate_set_at(s, 0), "ABC-123", NULL);
    advance(300);
    CHECK_INT_EQ(F.done_count, 1);
    CHECK_INT_EQ(F.status, 504);
    CHECK_STR_HAS(F.body, "\"code\":4,\"message\":\"required part price timed out\"");
    CHECK_STR_EQ(F.parts, "price=timeout; stock=cancelled; reviews=timeout?"); /* reviews' own 100 ms came first */
    CHECK_INT_EQ(active_calls(), 0);
    CHECK_INT_EQ(active_timers(), 0);

    /* the transport's own deadline */
    fake_reset(NULL);
    start(aggregate_set_at(s, 0), "ABC-123", NULL);
    reply_to(find_call("stock"), 504, NULL, 1, 1, "deadline exceeded");
    CHECK_INT_EQ(F.status, 504);
    CHECK_STR_HAS(F.body, "required part stock timed out");
    aggregate_set_free(s);

    /* the endpoint's timeout: whoever is outstanding times out, the first required one is blamed */
    s = load_product("", "");
    fake_reset(NULL);
    start(aggregate_set_at(s, 0), "ABC-123", NULL);
    reply("price", 200, PRICE_REPLY);
    advance(999);
    CHECK_INT_EQ(F.done_count, 0);
    advance(1);
    CHECK_INT_EQ(F.done_count, 1);
    CHECK_INT_EQ(F.status, 504);
    CHECK_STR_HAS(F.body, "required part stock timed out");
    CHECK_STR_EQ(F.parts, "price=ok; stock=timeout; reviews=timeout?");
    CHECK(find_call("stock")->cancelled && find_call("reviews")->cancelled);

    /* only an optional call outstanding when the endpoint times out: 200 without it */
    fake_reset(NULL);
    start(aggregate_set_at(s, 0), "ABC-123", NULL);
    reply("price", 200, PRICE_REPLY);
    reply("stock", 200, STOCK_REPLY);
    advance(1000);
    CHECK_INT_EQ(F.status, 200);
    CHECK_STR_HAS(F.body, "\"reviews\":\"timeout\"");
    aggregate_set_free(s);

    /* calls still waiting for a dependency when the endpoint times out are skipped */
    s = load(CHAIN);
    fake_reset(NULL);
    start(aggregate_set_at(s, 0), "ABC", NULL);
    advance(AGGREGATE_DEFAULT_TIMEOUT_MS);
    CHECK_INT_EQ(F.status, 504);
    CHECK_STR_EQ(F.parts, "summary=skipped; catalog=timeout; reviews=skipped");
    CHECK_STR_HAS(F.body, "required part summary was skipped: the composite timed out (10000 ms) first");
    aggregate_set_free(s);
}

/* The client went away: outstanding calls and timers are cancelled, done never runs. */
static void test_cancel(void)
{
    aggregate_set_t *s = load_product("", ", 'timeout_ms': 100");
    fake_reset(NULL);
    aggregate_run_t *run = start(aggregate_set_at(s, 0), "ABC-123", NULL);
    reply("price", 200, PRICE_REPLY);
    CHECK_INT_EQ(active_calls(), 2);
    CHECK_INT_EQ(active_timers(), 2); /* the endpoint's and reviews' */
    aggregate_run_cancel(run);
    CHECK_INT_EQ(active_calls(), 0);
    CHECK(find_call("stock")->cancelled && find_call("reviews")->cancelled);
    CHECK(!find_call("price")->cancelled);
    CHECK_INT_EQ(active_timers(), 0);
    advance(5000);
    CHECK_INT_EQ(F.done_count, 0);

    /* cancelling a run whose result is waiting to be delivered */
    aggregate_cache_t *cache = aggregate_cache_new(0, 0);
    aggregate_set_t *c = load("{'method': 'GET', 'path': '/x', 'calls': [{'name': 'a', 'http': {'upstream': 'u', 'path': '/a'},"
                              " 'cache_ttl_ms': 1000}]}");
    fake_reset(cache);
    start(aggregate_set_at(c, 0), "x", NULL);
    reply("a", 200, "{\"v\":1}");
    run = start(aggregate_set_at(c, 0), "x", NULL); /* a cache hit: ends inside start */
    CHECK_INT_EQ(F.done_count, 1);
    aggregate_run_cancel(run);
    advance(0);
    CHECK_INT_EQ(F.done_count, 1);
    CHECK_INT_EQ(active_timers(), 0);
    aggregate_set_free(c);
    aggregate_cache_free(cache);
    aggregate_set_free(s);
}

/* A dependency that failed makes its dependents "skipped"; a required one fails with the cause's status. */
static void test_skipped(void)
{
    aggregate_set_t *s =
        load("{'method': 'GET', 'path': '/v1/products/{id}', 'calls': ["
             " {'name': 'catalog', 'http': {'upstream': 'u', 'path': '/catalog/{id}'}, 'required': false},"
             " {'name': 'reviews', 'http': {'upstream': 'u', 'path': '/reviews/{calls.catalog.id}'}, 'required': false},"
             " {'name': 'price', 'http': {'upstream': 'u', 'path': '/price/{id}'}, 'group': 'price'}]}");
    fake_reset(NULL);
    start(aggregate_set_at(s, 0), "A", NULL);
    reply("catalog", 500, "{}");
    CHECK_INT_EQ(started("reviews"), 0);
    reply("price", 200, "{\"p\":1}");
    CHECK_INT_EQ(F.status, 200);
    CHECK_STR_EQ(F.body, "{\"price\":{\"p\":1},\"_meta\":{\"catalog\":\"error: HTTP 500 from upstream u\",\"reviews\":\"skipped\","
                         "\"price\":\"ok\"}}");
    CHECK_STR_EQ(F.header, "x-portico-parts: catalog=error, reviews=skipped, price=ok");
    aggregate_set_free(s);

    s = load("{'method': 'GET', 'path': '/v1/products/{id}', 'calls': ["
             " {'name': 'catalog', 'http': {'upstream': 'u', 'path': '/catalog/{id}'}, 'required': false},"
             " {'name': 'reviews', 'http': {'upstream': 'u', 'path': '/reviews/{calls.catalog.id}'}},"
             " {'name': 'price', 'http': {'upstream': 'u', 'path': '/price/{id}'}}]}");
    fake_reset(NULL);
    start(aggregate_set_at(s, 0), "A", NULL);
    reply("catalog", 404, "{}");
    CHECK_INT_EQ(F.done_count, 1);
    CHECK_INT_EQ(F.status, 404);
    CHECK_STR_HAS(F.body, "\"message\":\"required part reviews was skipped: it needs catalog, which ended with error\"");
    CHECK(find_call("price")->cancelled);
    aggregate_set_free(s);
}

static void test_cache(void)
{
    aggregate_cache_t *cache = aggregate_cache_new(0, 0);
    aggregate_set_t *s = load_product("", ", 'cache_ttl_ms': 1000");
    const aggregate_endpoint_t *ep = aggregate_set_at(s, 0);
    fake_reset(cache);
    start(ep, "ABC-123", "currency=EUR");
    reply("price", 200, PRICE_REPLY);
    reply("stock", 200, STOCK_REPLY);
    reply("reviews", 200, REVIEWS_REPLY);
    CHECK_STR_EQ(F.body, PRODUCT_DOC);
    CHECK_INT_EQ(aggregate_cache_count(cache), 1); /* only reviews is cacheable */

    /* within the TTL: reviews comes from the cache, the others are called */
    F.done_count = 0;
    advance(999);
    start(ep, "ABC-123", "currency=EUR");
    CHECK_INT_EQ(started("reviews"), 1);
    CHECK_INT_EQ(started("price"), 2);
    reply("price", 200, PRICE_REPLY);
    reply("stock", 200, STOCK_REPLY);
    CHECK_INT_EQ(F.done_count, 1);
    CHECK_STR_EQ(F.body, PRODUCT_DOC);
    CHECK_STR_EQ(F.parts, "price=ok; stock=ok; reviews=ok?(cached)");

    /* another product is another key */
    start(ep, "XYZ-999", NULL);
    CHECK_INT_EQ(started("reviews"), 2);
    reply("reviews", 500, "{}"); /* failures are never cached */
    reply("price", 200, PRICE_REPLY);
    reply("stock", 200, STOCK_REPLY);
    CHECK_INT_EQ(aggregate_cache_count(cache), 1);

    /* expired: called again */
    advance(1);
    start(ep, "ABC-123", NULL);
    CHECK_INT_EQ(started("reviews"), 3);
    reply("reviews", 200, "{\"count\":9}");
    reply("price", 200, PRICE_REPLY);
    reply("stock", 200, STOCK_REPLY);
    CHECK_STR_HAS(F.body, "\"reviews\":{\"count\":9}");
    aggregate_set_free(s);

    /* everything cached: the run ends inside start, and done still comes later, from the loop */
    s = load("{'method': 'GET', 'path': '/x/{id}', 'calls': [{'name': 'a', 'http': {'upstream': 'u', 'path': '/a/{id}'},"
             " 'cache_ttl_ms': 500}]}");
    fake_reset(cache);
    start(aggregate_set_at(s, 0), "1", NULL);
    reply("a", 200, "{\"v\":1}");
    CHECK_INT_EQ(F.done_count, 1);
    start(aggregate_set_at(s, 0), "1", NULL);
    CHECK_INT_EQ(F.done_count, 1);
    CHECK_INT_EQ(F.n_calls, 1);
    advance(0);
    CHECK_INT_EQ(F.done_count, 2);
    CHECK_INT_EQ(F.done_before_return, 0);
    CHECK_STR_EQ(F.body, "{\"v\":1,\"_meta\":{\"a\":\"ok\"}}");

    /* a bounded cache drops its oldest entries */
    aggregate_cache_t *small = aggregate_cache_new(2, 0);
    fake_reset(small);
    for (int i = 0; i < 3; i++) {
        char id[8];
        snprintf(id, sizeof(id), "%d", i);
        start(aggregate_set_at(s, 0), id, NULL);
        reply("a", 200, "{}");
    }
    CHECK_INT_EQ(aggregate_cache_count(small), 2);
    start(aggregate_set_at(s, 0), "0", NULL); /* evicted */
    CHECK_INT_EQ(started("a"), 4);
    reply("a", 200, "{}");
    start(aggregate_set_at(s, 0), "2", NULL); /* still there */
    CHECK_INT_EQ(started("a"), 4);
    advance(0);
    aggregate_cache_free(small);
    aggregate_cache_free(cache);
    aggregate_set_free(s);
}

/* A transport that answers from inside start_call. */
static void test_sync_reply(void)
{
    aggregate_set_t *s = load_product("", "");
    fake_reset(NULL);
    F.sync_name = "stock";
    F.sync_status = 200;
    F.sync_body = STOCK_REPLY;
    start(aggregate_set_at(s, 0), "ABC-123", "currency=EUR");
    CHECK_INT_EQ(active_calls(), 2);
    reply("price", 200, PRICE_REPLY);
    reply("reviews", 200, REVIEWS_REPLY);
    CHECK_STR_EQ(F.body, PRODUCT_DOC);

    /* a synchronous required failure: the run ends inside start, done is still deferred */
    fake_reset(NULL);
    F.sync_name = "price";
    F.sync_status = 503;
    F.sync_body = "{}";
    start(aggregate_set_at(s, 0), "ABC-123", NULL);
    CHECK_INT_EQ(F.done_count, 0);
    CHECK_INT_EQ(started("stock"), 1);
    CHECK_INT_EQ(active_calls(), 0);
    advance(0);
    CHECK_INT_EQ(F.done_count, 1);
    CHECK_INT_EQ(F.done_before_return, 0);
    CHECK_INT_EQ(F.status, 502);
    aggregate_set_free(s);
}

/* Headers: configured ones, then only the allow-listed client headers; bodies; bad inputs. */
static void test_requests(void)
{
    aggregate_set_t *s =
        load("{'method': 'POST', 'path': '/v1/carts/{id}', 'forward_headers': ['x-request-id'], 'meta': {'header': 'X-Parts', "
             "'field': 'parts'}, 'calls': ["
             " {'name': 'a', 'http': {'upstream': 'u', 'method': 'POST', 'path': '/a',"
             "   'headers': {'X-Cart': 'cart-{id}', 'X-Gone': '{header.x-nope}'},"
             "   'body': {'items': '{body.items}', 'cart': '{id}', 'note': '{body.note}'}}},"
             " {'name': 'b', 'http': {'upstream': 'u', 'path': '/b'}, 'forward_headers': ['authorization', 'cookie']}]}");
    fake_reset(NULL);
    aggregate_kv_t vars[1] = {{"id", 2, "c1", 2}};
    aggregate_kv_t headers[3] = {
        {"X-Request-Id", 12, "r-1", 3}, {"Authorization", 13, "secret", 6}, {"x-request-id", 12, "r-2", 3}};
    const char *body = "{\"items\":[{\"sku\":\"A\"}]}";
    aggregate_request_t in = {vars, 1, NULL, 0, headers, 3, body, strlen(body)};
    aggregate_run_start(aggregate_set_at(s, 0), &in, &F.tr, on_done, &F);
    CHECK_STR_EQ(find_call("a")->body, "{\"items\":[{\"sku\":\"A\"}],\"cart\":\"c1\"}");
    CHECK_STR_EQ(find_call("a")->headers, "x-cart: cart-c1; x-request-id: r-1, r-2; content-type: application/json");
    CHECK_STR_EQ(find_call("b")->headers, "authorization: secret");
    reply("a", 200, "{\"a\":1}");
    reply("b", 200, "{\"b\":1}");
    CHECK_STR_EQ(F.body, "{\"a\":1,\"b\":1,\"parts\":{\"a\":\"ok\",\"b\":\"ok\"}}");
    CHECK_STR_EQ(F.header, "x-parts: a=ok, b=ok");

    /* a body that is not JSON: 400, nothing called */
    fake_reset(NULL);
    in.body = "nope";
    in.body_len = 4;
    aggregate_run_start(aggregate_set_at(s, 0), &in, &F.tr, on_done, &F);
    CHECK_INT_EQ(F.n_calls, 0);
    advance(0);
    CHECK_INT_EQ(F.status, 400);
    CHECK_STR_HAS(F.body,
                  "\"code\":3,\"message\":\"the request body is not JSON (invalid JSON at line 1 column 1: expected 'null')\"");
    CHECK_STR_EQ(F.parts, "a=skipped; b=skipped");
    CHECK_INT_EQ(active_timers(), 0);
    aggregate_set_free(s);

    /* gRPC requests are encoded against the method; a client value that does not fit is a 400 */
    s = load("{'method': 'GET', 'path': '/v1/q/{id}', 'meta': false, 'calls': ["
             " {'name': 'q', 'grpc': {'upstream': 'price', 'method': 'shop.v1.PriceService/BatchGetPrices',"
             "   'request': {'items': [{'sku': '{id}', 'quantity': '{query.qty}'}], 'allowMissing': '{query.lenient}'}}}]}");
    fake_reset(NULL);
    start(aggregate_set_at(s, 0), "A", "qty=3&lenient=true");
    CHECK_STR_EQ(find_call("q")->message, "{\"items\":[{\"sku\":\"A\",\"quantity\":\"3\"}],\"allowMissing\":true}");
    CHECK(find_call("q")->has_pb);
    reply("q", 200, "{\"prices\":[]}");
    CHECK_STR_EQ(F.body, "{\"prices\":[]}");
    CHECK_STR_EQ(F.header, "-: -");
    fake_reset(NULL);
    start(aggregate_set_at(s, 0), "A", "qty=many");
    CHECK_INT_EQ(F.n_calls, 0);
    advance(0);
    CHECK_INT_EQ(F.status, 400);
    CHECK_STR_HAS(F.body, "required part q failed: error: cannot build the request: ");
    CHECK_STR_HAS(F.body, "expected int32, got \\\"many\\\"");
    aggregate_set_free(s);

    /* {calls.X.path} written with proto names finds the lowerCamelCase members gRPC replies carry */
    s = load(
        "{'method': 'GET', 'path': '/s/{id}', 'meta': false, 'calls': ["
        " {'name': 'stock', 'grpc': {'upstream': 'stock', 'method': 'shop.v1.StockService/GetStock', 'request': {'sku': '{id}'}},"
        "  'group': 'stock', 'allow': ['available']},"
        " {'name': 'w', 'http': {'upstream': 'u', 'path': "
        "'/w/{calls.stock.restock_at}/{calls.stock.available_by_warehouse.ams-1}'},"
        "  'group': 'w'}]}");
    fake_reset(NULL);
    start(aggregate_set_at(s, 0), "DEF-456", NULL);
    reply("stock", 200, "{\"available\":0,\"restockAt\":\"2030-06-01T08:00:00Z\",\"availableByWarehouse\":{\"ams-1\":25}}");
    CHECK_STR_EQ(find_call("w")->path, "GET /w/2030-06-01T08%3A00%3A00Z/25");
    reply("w", 200, "{}");
    CHECK_STR_EQ(F.body, "{\"stock\":{\"available\":0},\"w\":{}}");
    aggregate_set_free(s);
}

int main(void)
{
    registry = proto_registry_new();
    util_error_t err;
    if (proto_registry_load_file(registry, test_desc_path("shop.pb"), &err) != 0) {
        fprintf(stderr, "cannot load shop.pb (built by examples/shop): %s\n", err.message);
        return 1;
    }
    test_parallel();
    test_request_plan_same_bytes();
    test_arrival_order();
    test_chain();
    test_optional_failures();
    test_required_failures();
    test_timeouts();
    test_cancel();
    test_skipped();
    test_cache();
    test_sync_reply();
    test_requests();
    proto_registry_free(registry);
    return test_summary();
}
