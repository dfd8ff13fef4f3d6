/*
 * aggregate_format_test.c — loading aggregations/NAME.json (src/aggregate/format.c): every
 * validation error names the file and the JSON path; gRPC calls are checked against the shop
 * descriptors (methods, request fields, value types, {calls.X.path} against the output type);
 * upstreams against the config; dependencies (explicit and implicit) and cycles; and the example
 * shop's aggregations/product.json loads as documented.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aggregate/aggregate_int.h"
#include "test.h"

static proto_registry_t *registry;

static aggregate_upstream_kind_t upstream_kind(void *ctx, const char *name)
{
    (void)ctx;
    if (strcmp(name, "price") == 0 || strcmp(name, "stock") == 0)
        return AGGREGATE_UPSTREAM_GRPC;
    if (strcmp(name, "reviews") == 0)
        return AGGREGATE_UPSTREAM_HTTP;
    return AGGREGATE_UPSTREAM_UNKNOWN;
}

static aggregate_load_options_t options(void)
{
    aggregate_load_options_t o = {registry, upstream_kind, NULL};
    return o;
}

/* Test JSON is written with single quotes; no case needs an apostrophe. */
static char *dq(const char *s)
{
    char *out = strdup(s);
    for (char *p = out; *p; p++)
        if (*p == '\'')
            *p = '"';
    return out;
}

#define EP(calls) "{'method': 'GET', 'path': '/v1/products/{id}', 'calls': [" calls "]}"
#define PRICE(req) "{'name': 'price', 'grpc': {'upstream': 'price', 'method': 'shop.v1.PriceService/GetPrice', 'request': " req "}}"
#define STOCK                                                                                                                      \
    "{'name': 'stock', 'grpc': {'upstream': 'stock', 'method': 'shop.v1.StockService/GetStock', 'request': {'sku': '{id}'}}}"
#define HTTP(extra) "{'name': 'reviews', 'http': {'upstream': 'reviews', 'path': '/reviews/{id}'}" extra "}"

static const struct {
    const char *json;
    int code;
    const char *message; /* substring */
} error_cases[] = {
    {"{", AGGREGATE_ERR_SYNTAX, "t.json:1:"},
    {"{'a': 1, 'a': 2}", AGGREGATE_ERR_SYNTAX, "duplicate object key"},
    {"[1]", AGGREGATE_ERR_TYPE, "t.json: [0]: expected an object, got 1"},
    {"[]", AGGREGATE_ERR_VALUE, "t.json: the array lists no endpoint"},
    {"{'method': 'GET', 'path': '/x', 'calls': [" HTTP("") "], 'extra': 1}", AGGREGATE_ERR_UNKNOWN_KEY,
     "t.json: unknown key \"extra\" (expected one of: method, path, description, timeout_ms, meta, forward_headers, calls)"},
    {"{'path': '/x', 'calls': []}", AGGREGATE_ERR_MISSING, "t.json: missing \"method\""},
    {"{'method': 'FETCH', 'path': '/x', 'calls': []}", AGGREGATE_ERR_VALUE,
     "t.json: method: \"FETCH\" is not one of GET, POST, PUT, PATCH, DELETE"},
    {"{'method': 'GET', 'path': '/v1/{id', 'calls': []}", AGGREGATE_ERR_SYNTAX, "t.json: path: "},
    {"{'method': 'GET', 'path': 'v1', 'calls': []}", AGGREGATE_ERR_SYNTAX, "t.json: path: "},
    {"{'method': 'GET', 'path': '/x', 'calls': []}", AGGREGATE_ERR_VALUE, "t.json: calls: an endpoint has 1 to 64 calls, not 0"},
    {"{'method': 'GET', 'path': '/x', 'calls': {}}", AGGREGATE_ERR_TYPE, "t.json: calls: expected an array, got {}"},
    {"{'method': 'GET', 'path': '/x', 'timeout_ms': 0, 'calls': [" HTTP("") "]}", AGGREGATE_ERR_VALUE,
     "t.json: timeout_ms: 0 is out of range [1, 3600000]"},
    {"{'method': 'GET', 'path': '/x', 'timeout_ms': 'soon', 'calls': [" HTTP("") "]}", AGGREGATE_ERR_TYPE,
     "t.json: timeout_ms: expected an integer, got \"soon\""},
    {"{'method': 'GET', 'path': '/x', 'meta': {'header': 5}, 'calls': [" HTTP("") "]}", AGGREGATE_ERR_TYPE,
     "t.json: meta.header: expected a header name or false"},
    {"{'method': 'GET', 'path': '/x', 'meta': {'head': 'x'}, 'calls': [" HTTP("") "]}", AGGREGATE_ERR_UNKNOWN_KEY,
     "t.json: meta: unknown key \"head\""},
    {"{'method': 'GET', 'path': '/x', 'meta': true, 'calls': [" HTTP("") "]}", AGGREGATE_ERR_TYPE,
     "t.json: meta: expected an object"},
    {"{'method': 'GET', 'path': '/x', 'forward_headers': ['a', 'A'], 'calls': [" HTTP("") "]}", AGGREGATE_ERR_DUPLICATE,
     "t.json: forward_headers[1]: \"a\" is listed twice"},
    {"{'method': 'GET', 'path': '/x', 'forward_headers': ['Host'], 'calls': [" HTTP("") "]}", AGGREGATE_ERR_VALUE,
     "t.json: forward_headers[0]: header \"host\" is managed by the gateway"},
    /* calls */
    {EP("{'name': 'a'}"), AGGREGATE_ERR_MISSING, "t.json: calls[0]: a call has exactly one of \"grpc\" and \"http\""},
    {EP("{'name': 'a', 'grpc': {}, 'http': {}}"), AGGREGATE_ERR_VALUE, "t.json: calls[0]: a call has exactly one of"},
    {EP("{'grpc': {}}"), AGGREGATE_ERR_MISSING, "t.json: calls[0]: missing \"name\""},
    {EP("{'name': 'a b', 'http': {}}"), AGGREGATE_ERR_VALUE, "t.json: calls[0].name: \"a b\" is not a call name"},
    {EP(HTTP("") ", " HTTP("")), AGGREGATE_ERR_DUPLICATE, "t.json: calls[1].name: calls[0] is already named \"reviews\""},
    {EP(HTTP(", 'requird': false")), AGGREGATE_ERR_UNKNOWN_KEY, "t.json: calls[0]: unknown key \"requird\""},
    {EP(HTTP(", 'required': 'no'")), AGGREGATE_ERR_TYPE, "t.json: calls[0].required: expected a boolean, got \"no\""},
    {EP(HTTP(", 'timeout_ms': -1")), AGGREGATE_ERR_VALUE, "t.json: calls[0].timeout_ms: -1 is out of range"},
    {EP(HTTP(", 'cache_ttl_ms': 1.5")), AGGREGATE_ERR_TYPE, "t.json: calls[0].cache_ttl_ms: expected an integer, got 1.5"},
    {EP(HTTP(", 'depends_on': ['nobody']")), AGGREGATE_ERR_REFERENCE,
     "t.json: calls[0].depends_on[0]: there is no call named \"nobody\""},
    {EP(HTTP(", 'depends_on': ['reviews']")), AGGREGATE_ERR_CYCLE,
     "t.json: calls[0].depends_on[0]: a call cannot depend on itself"},
    {EP("{'name': 'a', 'http': {'upstream': 'reviews', 'path': '/a/{calls.b.x}'}}, "
        "{'name': 'b', 'http': {'upstream': 'reviews', 'path': '/b'}, 'depends_on': ['c']}, "
        "{'name': 'c', 'http': {'upstream': 'reviews', 'path': '/c'}, 'depends_on': ['a']}"),
     AGGREGATE_ERR_CYCLE, "t.json: calls: the calls depend on each other: a -> b -> c -> a"},
    /* gRPC calls against the descriptors */
    {EP("{'name': 'p', 'grpc': {'upstream': 'price', 'method': 'shop.v1.PriceService/Nope'}}"), AGGREGATE_ERR_REFERENCE,
     "t.json: calls[0].grpc.method: no method \"shop.v1.PriceService/Nope\" in the descriptors"},
    {EP("{'name': 'p', 'grpc': {'upstream': 'price', 'method': 'shop.v1.PriceService/WatchPrice'}}"), AGGREGATE_ERR_VALUE,
     "t.json: calls[0].grpc.method: shop.v1.PriceService.WatchPrice is a streaming method"},
    {EP("{'name': 'p', 'grpc': {'upstream': 'price', 'method': 'shop.v1.PriceService/GetPrice', 'metadata': {}}}"),
     AGGREGATE_ERR_UNKNOWN_KEY,
     "t.json: calls[0].grpc: unknown key \"metadata\" (expected one of: upstream, method, request, headers)"},
    {EP("{'name': 'p', 'grpc': {'upstream': 'price', 'method': 'shop.v1.PriceService/GetPrice', 'request': []}}"),
     AGGREGATE_ERR_TYPE, "t.json: calls[0].grpc.request: expected an object, got []"},
    {EP(PRICE("{'skuu': '{id}'}")), AGGREGATE_ERR_REFERENCE,
     "t.json: calls[0].grpc.request.skuu: shop.v1.GetPriceRequest has no field \"skuu\""},
    {EP(PRICE("{'sku': '{id}', 'quantity': 'abc'}")), AGGREGATE_ERR_TYPE,
     "t.json: calls[0].grpc.request.quantity: field \"quantity\": expected int32, got \"abc\""},
    {EP(PRICE("{'sku': '{id}', 'quantity': 1.5}")), AGGREGATE_ERR_TYPE, "t.json: calls[0].grpc.request.quantity: "},
    {EP(PRICE("{'sku': {'a': '{id}'}}")), AGGREGATE_ERR_TYPE,
     "t.json: calls[0].grpc.request.sku: field \"sku\" takes a string, not an object"},
    {EP(PRICE("{'sku': 5}")), AGGREGATE_ERR_TYPE, "t.json: calls[0].grpc.request.sku: "},
    {EP("{'name': 'p', 'grpc': {'upstream': 'price', 'method': 'shop.v1.PriceService/UpdatePrice', 'request': "
        "{'price': {'sku': '{id}', 'nope': 1}}}}"),
     AGGREGATE_ERR_REFERENCE, "t.json: calls[0].grpc.request.price.nope: shop.v1.Price has no field \"nope\""},
    {EP("{'name': 'p', 'grpc': {'upstream': 'price', 'method': 'shop.v1.PriceService/BatchGetPrices', 'request': "
        "{'items': '{id}'}}}"),
     AGGREGATE_ERR_TYPE, "t.json: calls[0].grpc.request.items: field \"items\" takes an array, but {id} is a string"},
    {EP("{'name': 'p', 'grpc': {'upstream': 'price', 'method': 'shop.v1.PriceService/BatchGetPrices', 'request': "
        "{'items': [{'sku': '{id}', 'quantity': 'x'}]}}}"),
     AGGREGATE_ERR_TYPE, "t.json: calls[0].grpc.request.items[0].quantity: "},
    {EP(STOCK ", " PRICE("{'sku': '{calls.stock.availableByWarehouse}'}")), AGGREGATE_ERR_TYPE,
     "t.json: calls[1].grpc.request.sku: field \"sku\" takes a string, but {calls.stock.availableByWarehouse} is an object"},
    {EP(STOCK ", " PRICE("{'sku': '{calls.stock.nope}'}")), AGGREGATE_ERR_REFERENCE,
     "t.json: calls[1].grpc.request.sku: {calls.stock.nope}: shop.v1.Stock has no field \"nope\""},
    {EP(STOCK ", " PRICE("{'sku': '{calls.stock.sku.deeper}'}")), AGGREGATE_ERR_REFERENCE,
     "{calls.stock.sku.deeper}: \"sku\" is a string, it has no \"deeper\""},
    {EP(STOCK ", " PRICE("{'quantity': '{calls.stock.restockAt}'}")), AGGREGATE_ERR_TYPE,
     "field \"quantity\" takes a number, but {calls.stock.restockAt} is a string"},
    {EP(STOCK ", {'name': 'r', 'http': {'upstream': 'reviews', 'path': '/r/{calls.stock.nope}'}}"), AGGREGATE_ERR_REFERENCE,
     "t.json: calls[1].http.path: {calls.stock.nope}: shop.v1.Stock has no field \"nope\""},
    {EP(STOCK ", {'name': 'r', 'http': {'upstream': 'reviews', 'path': '/r', 'query': {'q': 'x{calls.stock.sku.x}'}}}"),
     AGGREGATE_ERR_REFERENCE, "t.json: calls[1].http.query.q: {calls.stock.sku.x}: \"sku\" is a string, it has no \"x\""},
    {EP(STOCK
        ", {'name': 'r', 'http': {'upstream': 'reviews', 'method': 'POST', 'path': '/r', 'body': [{'a': '{calls.stock.x}'}]}}"),
     AGGREGATE_ERR_REFERENCE, "t.json: calls[1].http.body[0].a: {calls.stock.x}: shop.v1.Stock has no field \"x\""},
    {EP(PRICE("{'sku': '{sku}'}")), AGGREGATE_ERR_REFERENCE,
     "t.json: calls[0].grpc.request.sku: unknown reference {sku}: not a variable of the endpoint's path (id)"},
    {EP(PRICE("{'sku': '{body.sku}'}")), AGGREGATE_ERR_REFERENCE,
     "t.json: calls[0].grpc.request.sku: {body.sku}: a GET request has no body"},
    /* upstreams against the config */
    {EP("{'name': 'p', 'grpc': {'upstream': 'nope', 'method': 'shop.v1.PriceService/GetPrice'}}"), AGGREGATE_ERR_REFERENCE,
     "t.json: calls[0].grpc.upstream: no upstream named \"nope\" in the config"},
    {EP("{'name': 'r', 'http': {'upstream': 'price', 'path': '/'}}"), AGGREGATE_ERR_REFERENCE,
     "t.json: calls[0].http.upstream: upstream \"price\" is a gRPC upstream: call it with \"grpc\""},
    {EP("{'name': 'p', 'grpc': {'upstream': 'reviews', 'method': 'shop.v1.PriceService/GetPrice'}}"), AGGREGATE_ERR_REFERENCE,
     "upstream \"reviews\" is an HTTP upstream: call it with \"http\""},
    /* HTTP calls */
    {EP("{'name': 'r', 'http': {'upstream': 'reviews', 'path': 'reviews'}}"), AGGREGATE_ERR_VALUE,
     "t.json: calls[0].http.path: \"reviews\" must start with \"/\""},
    {EP("{'name': 'r', 'http': {'upstream': 'reviews', 'path': '/r?x=1'}}"), AGGREGATE_ERR_VALUE,
     "t.json: calls[0].http.path: \"/r?x=1\": put query parameters in \"query\""},
    {EP("{'name': 'r', 'http': {'upstream': 'reviews'}}"), AGGREGATE_ERR_MISSING, "t.json: calls[0].http: missing \"path\""},
    {EP("{'name': 'r', 'http': {'upstream': 'reviews', 'path': '/', 'body': {}}}"), AGGREGATE_ERR_VALUE,
     "t.json: calls[0].http.body: a GET request has no body"},
    {EP("{'name': 'r', 'http': {'upstream': 'reviews', 'method': 'get', 'path': '/'}}"), AGGREGATE_ERR_VALUE,
     "t.json: calls[0].http.method: \"get\" is not one of"},
    {EP("{'name': 'r', 'http': {'upstream': 'reviews', 'path': '/', 'headers': {'bad header': 'x'}}}"), AGGREGATE_ERR_VALUE,
     "t.json: calls[0].http.headers.bad header: \"bad header\" is not a valid header name"},
    {EP("{'name': 'r', 'http': {'upstream': 'reviews', 'path': '/', 'headers': {'Content-Length': '1'}}}"), AGGREGATE_ERR_VALUE,
     "header \"content-length\" is managed by the gateway"},
    {EP("{'name': 'r', 'http': {'upstream': 'reviews', 'path': '/', 'headers': {'x-a': 1}}}"), AGGREGATE_ERR_TYPE,
     "t.json: calls[0].http.headers.x-a: expected a string, got 1"},
    {EP("{'name': 'r', 'http': {'upstream': 'reviews', 'path': '/', 'query': {'q': {'a': 1}}}}"), AGGREGATE_ERR_TYPE,
     "t.json: calls[0].http.query.q: expected a string, number, boolean or array"},
    {EP("{'name': 'r', 'http': {'upstream': 'reviews', 'path': '/{calls.r.x}'}}"), AGGREGATE_ERR_REFERENCE,
     "t.json: calls[0].http.path: {calls.r.x}: a call cannot use its own response"},
    /* merge directives */
    {EP(HTTP(", 'group': 'g', 'collection': 'c'")), AGGREGATE_ERR_VALUE,
     "t.json: calls[0].collection: \"collection\" places the array itself: drop \"group\""},
    {EP(HTTP(", 'rename': {'a': 'b'}, 'mapping': {'a': 'b'}")), AGGREGATE_ERR_DUPLICATE,
     "t.json: calls[0]: \"rename\" and \"mapping\" are the same directive: use one"},
    {EP(HTTP(", 'allow': []")), AGGREGATE_ERR_VALUE, "t.json: calls[0].allow: must list at least one path"},
    {EP(HTTP(", 'allow': ['a..b']")), AGGREGATE_ERR_SYNTAX, "t.json: calls[0].allow[0]: \"a..b\": empty segment at column 3"},
    {EP(HTTP(", 'deny': 'a'")), AGGREGATE_ERR_TYPE, "t.json: calls[0].deny: expected an array, got \"a\""},
    {EP(HTTP(", 'target': ''")), AGGREGATE_ERR_SYNTAX, "t.json: calls[0].target: empty path"},
    {EP(HTTP(", 'rename': {'a': 5}")), AGGREGATE_ERR_TYPE, "t.json: calls[0].rename.a: expected a string, got 5"},
    {EP(HTTP(", 'rename': {}")), AGGREGATE_ERR_VALUE, "t.json: calls[0].rename: must map at least one path"},
    {EP(HTTP(", 'collection': {'concat': true}")), AGGREGATE_ERR_MISSING, "t.json: calls[0].collection: missing \"key\""},
    {EP(HTTP(", 'collection': {'key': 'k', 'append': true}")), AGGREGATE_ERR_UNKNOWN_KEY,
     "t.json: calls[0].collection: unknown key \"append\""},
    {EP(HTTP(", 'collection': 3")), AGGREGATE_ERR_TYPE, "t.json: calls[0].collection: expected a key path or"},
};

static void test_errors(void)
{
    for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
        char *json = dq(error_cases[i].json);
        aggregate_set_t *s = aggregate_set_new();
        util_error_t err = {0};
        aggregate_load_options_t o = options();
        int rc = aggregate_set_load_string(s, json, "t.json", &o, &err);
        CHECK_INT_EQ(rc, -1);
        CHECK_INT_EQ(err.code, error_cases[i].code);
        CHECK_STR_HAS(err.message, error_cases[i].message);
        CHECK_INT_EQ(aggregate_set_count(s), 0);
        aggregate_set_free(s);
        free(json);
    }
}

/* A valid file, with the pieces the engine relies on. */
static void test_valid(void)
{
    char *json = dq("[{'method': 'POST', 'path': '/v1/carts/{cart}:quote', 'timeout_ms': 300, 'meta': {'header': false},"
                    " 'forward_headers': ['Authorization'],"
                    " 'calls': ["
                    "  {'name': 'quote', 'grpc': {'upstream': 'price', 'method': 'shop.v1.PriceService.BatchGetPrices',"
                    "    'request': {'items': '{body.items}', 'currency': '{query.currency}', 'allowMissing': '{query.lenient}'}}},"
                    "  {'name': 'first', 'grpc': {'upstream': 'stock', 'method': '/shop.v1.StockService/GetStock',"
                    "    'request': {'sku': '{calls.quote.prices.0.sku}', 'warehouse': '{calls.quote.prices.0.tags.0}'}},"
                    "   'required': false, 'forward_headers': [], 'depends_on': ['audit']},"
                    "  {'name': 'audit', 'http': {'upstream': 'reviews', 'method': 'POST', 'path': '/audit/{cart}',"
                    "    'query': {'n': '{calls.quote.totalAmountMicros}', 'tags': ['a', 'b']},"
                    "    'headers': {'X-Cart': '{cart}'}, 'body': {'cart': '{cart}', 'q': '{calls.quote}'}},"
                    "   'timeout_ms': 50, 'cache_ttl_ms': 1000, 'collection': {'key': 'audit', 'concat': true}}"
                    " ]},"
                    " {'method': 'GET', 'path': '/v1/x', 'meta': false, 'calls': [{'name': 'x', 'http': {'upstream': 'reviews', "
                    "'path': '/x'}}]}]");
    aggregate_set_t *s = aggregate_set_new();
    util_error_t err = {0};
    aggregate_load_options_t o = options();
    CHECK_INT_EQ(aggregate_set_load_string(s, json, "cart.json", &o, &err), 0);
    if (err.code != 0)
        fprintf(stderr, "  %s\n", err.message);
    free(json);
    CHECK_INT_EQ(aggregate_set_count(s), 2);
    const aggregate_endpoint_t *ep = aggregate_set_find(s, "POST", "/v1/carts/{cart}:quote");
    CHECK(ep != NULL);
    if (ep == NULL) {
        aggregate_set_free(s);
        return;
    }
    CHECK(aggregate_set_find(s, "GET", "/v1/carts/{cart}:quote") == NULL);
    CHECK_STR_EQ(ep->file, "cart.json");
    CHECK_INT_EQ(ep->timeout_ms, 300);
    CHECK(ep->meta_header == NULL);
    CHECK_STR_EQ(ep->meta_field, "_meta");
    CHECK_INT_EQ(ep->uses_body, 1);
    CHECK_INT_EQ(ep->n_calls, 3);
    CHECK_STR_EQ(ep->path_template->verb, "quote");

    const aggregate_call_t *q = &ep->calls[0], *f = &ep->calls[1], *a = &ep->calls[2];
    CHECK_INT_EQ(q->kind, AGGREGATE_CALL_GRPC);
    CHECK(q->grpc_method != NULL && strcmp(q->grpc_method->full_name, "shop.v1.PriceService.BatchGetPrices") == 0);
    CHECK_INT_EQ(q->required, 1);
    CHECK_INT_EQ(q->n_deps, 0);
    CHECK_INT_EQ(q->n_forward_headers, 1);
    CHECK_STR_EQ(q->forward_headers[0], "authorization"); /* endpoint default, lowercased */
    CHECK_INT_EQ(q->message->kind, AGGREGATE_TPL_OBJECT);
    CHECK_INT_EQ(q->message->children[2]->want, AGGREGATE_WANT_BOOL); /* "{query.lenient}" → bool */

    /* explicit and implicit dependencies, sorted, each once */
    CHECK_INT_EQ(f->required, 0);
    CHECK_INT_EQ(f->n_deps, 2);
    CHECK(f->n_deps == 2 && f->deps[0] == 0 && f->deps[1] == 2);
    CHECK_INT_EQ(f->n_forward_headers, 0); /* a call's own list replaces the endpoint's */
    CHECK_INT_EQ(a->n_deps, 1);

    CHECK_INT_EQ(a->kind, AGGREGATE_CALL_HTTP);
    CHECK_STR_EQ(a->http_method, "POST");
    CHECK_INT_EQ(a->timeout_ms, 50);
    CHECK_INT_EQ(a->cache_ttl_ms, 1000);
    CHECK_INT_EQ(a->n_query, 2);
    CHECK_INT_EQ(a->n_headers, 1);
    CHECK_STR_EQ(a->headers[0].name, "x-cart");
    CHECK(a->body != NULL);
    CHECK(a->shape.collection != NULL && a->shape.concat == 1);
    CHECK_STR_EQ(a->shape.collection->text, "audit");

    const aggregate_endpoint_t *x = aggregate_set_at(s, 1);
    CHECK(x->meta_header == NULL && x->meta_field == NULL);
    CHECK_INT_EQ(x->timeout_ms, AGGREGATE_DEFAULT_TIMEOUT_MS);

    /* loading the same endpoint again is a duplicate naming the first file; the set is unchanged */
    char *again = dq("{'method': 'GET', 'path': '/v1/x', 'calls': [{'name': 'x', 'http': {'upstream': 'reviews', 'path': '/x'}}]}");
    CHECK_INT_EQ(aggregate_set_load_string(s, again, "other.json", &o, &err), -1);
    CHECK_INT_EQ(err.code, AGGREGATE_ERR_DUPLICATE);
    CHECK_STR_EQ(err.message, "other.json: GET /v1/x is already defined in cart.json");
    CHECK_INT_EQ(aggregate_set_count(s), 2);
    free(again);
    aggregate_set_free(s);
}

/* Loads an endpoint with one GetPrice call of |request| (a template) and |extra| (more keys of
 * the call, each after a comma); *set gets the set to free. Returns the call, or NULL. */
static const aggregate_call_t *load_price_call(const char *request, const char *extra, aggregate_set_t **set)
{
    char buf[1024];
    snprintf(buf, sizeof(buf),
             EP("{'name': 'price', 'grpc': {'upstream': 'price', 'method': 'shop.v1.PriceService/GetPrice', 'request': %s}%s}"),
             request, extra);
    char *json = dq(buf);
    aggregate_set_t *s = *set = aggregate_set_new();
    util_error_t err = {0};
    aggregate_load_options_t o = options();
    CHECK_INT_EQ(aggregate_set_load_string(s, json, "t.json", &o, &err), 0);
    free(json);
    const aggregate_call_t *c = aggregate_set_count(s) == 1 ? &aggregate_set_at(s, 0)->calls[0] : NULL;
    if (c == NULL || c->grpc_method == NULL)
        TEST_FAIL_("%s%s: %s", request, extra, err.message);
    return c != NULL && c->grpc_method != NULL ? c : NULL;
}

/* Which reply fields a gRPC call prints (aggregate_call_t.reply_fields): the members its shape
 * can keep. |shape| is the call's merge directives; |expect| the Price fields kept, by proto
 * name, space-separated, or NULL for no mask (every field). */
static void reply_fields_case(const char *shape, const char *expect)
{
    char extra[512];
    snprintf(extra, sizeof(extra), ", %s", shape);
    aggregate_set_t *s;
    const aggregate_call_t *c = load_price_call("{}", extra, &s);
    if (c == NULL) {
        aggregate_set_free(s);
        return;
    }
    char got[512] = "";
    const proto_message_t *m = c->grpc_method->output;
    for (size_t i = 0; c->reply_fields != NULL && i < m->n_fields; i++)
        if (c->reply_fields[i])
            snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", got[0] ? " " : "", m->fields[i].name);
    if (expect == NULL)
        CHECK(c->reply_fields == NULL);
    else
        CHECK_STR_EQ(got, expect);
    aggregate_set_free(s);
}

static void test_reply_fields(void)
{
    /* allow keeps the members its paths start at (JSON names; nested paths keep their first member) */
    reply_fields_case("'allow': ['sku', 'displayName', 'attributes.color']", "sku attributes display_name");
    /* one-segment deny paths drop their member; deeper ones do not */
    reply_fields_case("'allow': ['sku', 'currency', 'tags'], 'deny': ['currency', 'tags.0']", "sku tags");
    reply_fields_case("'deny': ['updatedAt']", "sku amount_micros currency quantity tags unit_amount_micros kind "
                                               "compare_at_micros discounts attributes display_name version");
    /* renames and groups act after allow: no difference */
    reply_fields_case("'allow': ['kind'], 'rename': {'kind': 'k'}, 'group': 'p'", "kind");
    /* nothing left out, a deny below the top, or a target: every field is printed */
    reply_fields_case("'group': 'p'", NULL);
    reply_fields_case("'deny': ['attributes.color']", NULL);
    reply_fields_case("'target': 'attributes', 'allow': ['color']", NULL);
    /* a path naming no field keeps nothing of it */
    reply_fields_case("'allow': ['nope']", "");
    /* with one-segment paths only the mask is the whole of allow and deny: the engine can skip them */
    aggregate_set_t *s;
    const aggregate_call_t *c = load_price_call("{}", ", 'allow': ['sku', 'displayName'], 'deny': ['sku']", &s);
    CHECK(c != NULL && c->reply_fields != NULL && c->shape_in_reply_fields);
    aggregate_set_free(s);
    c = load_price_call("{}", ", 'allow': ['sku', 'attributes.color']", &s);
    CHECK(c != NULL && c->reply_fields != NULL && !c->shape_in_reply_fields);
    aggregate_set_free(s);
}

/* Another call's template reads fields of the reply before its shape: they are printed too. */
static void refs_case(const char *other_call, const char *expect, int exact)
{
    char buf[1024];
    snprintf(buf, sizeof(buf),
             EP("{'name': 'price', 'grpc': {'upstream': 'price', 'method': 'shop.v1.PriceService/GetPrice', 'request': {}},"
                " 'allow': ['displayName']}, %s"),
             other_call);
    char *json = dq(buf);
    aggregate_set_t *s = aggregate_set_new();
    util_error_t err = {0};
    aggregate_load_options_t o = options();
    CHECK_INT_EQ(aggregate_set_load_string(s, json, "t.json", &o, &err), 0);
    free(json);
    const aggregate_call_t *c = aggregate_set_count(s) == 1 ? &aggregate_set_at(s, 0)->calls[0] : NULL;
    char got[256] = "";
    for (size_t i = 0; c != NULL && c->reply_fields != NULL && i < c->grpc_method->output->n_fields; i++)
        if (c->reply_fields[i])
            snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", got[0] ? " " : "",
                     c->grpc_method->output->fields[i].name);
    if (expect == NULL) {
        CHECK(c != NULL && c->reply_fields == NULL);
    } else {
        CHECK_STR_EQ(got, expect);
        CHECK(c != NULL && c->shape_in_reply_fields == exact);
    }
    aggregate_set_free(s);
}

#define STOCK_OF(req)                                                                                                              \
    "{'name': 'stock', 'grpc': {'upstream': 'stock', 'method': 'shop.v1.StockService/GetStock', 'request': " req "}}"

static void test_reply_fields_refs(void)
{
    refs_case(STOCK_OF("{'sku': '{id}'}"), "display_name", 1);
    /* by JSON or proto name, in any template of any call */
    refs_case(STOCK_OF("{'sku': '{calls.price.sku}'}"), "sku display_name", 0);
    refs_case(STOCK_OF("{'sku': 'x-{calls.price.unit_amount_micros}'}"), "unit_amount_micros display_name", 0);
    refs_case(STOCK_OF("{'sku': '{calls.price.attributes.color}'}"), "attributes display_name", 0);
    refs_case("{'name': 'r', 'http': {'upstream': 'reviews', 'path': '/r', 'query': {'v': '{calls.price.version}'}}}",
              "display_name version", 0);
    /* the whole reply: nothing is left out */
    refs_case("{'name': 'r', 'http': {'upstream': 'reviews', 'method': 'POST', 'path': '/r', 'body': '{calls.price}'}}", NULL, 0);
}

/* Which gRPC requests are encoded without JSON (aggregate_call_t.request_plan). */
static void plan_case(const char *request, const char *extra, int planned, size_t n_pieces)
{
    aggregate_set_t *s;
    const aggregate_call_t *c = load_price_call(request, extra, &s);
    if (c != NULL) {
        if ((c->request_plan != NULL) != planned)
            fprintf(stderr, "  request %s%s: planned %d\n", request, extra, c->request_plan != NULL);
        CHECK((c->request_plan != NULL) == planned);
        if (planned && c->request_plan != NULL)
            CHECK_INT_EQ(c->request_plan->n, n_pieces);
    }
    aggregate_set_free(s);
}

static void test_request_plan(void)
{
    /* constants, and path/query/header references into string fields (either field name) */
    plan_case("{'sku': '{id}', 'currency': '{query.currency}', 'quantity': 1}", "", 1, 3);
    plan_case("{'sku': '{header.x-sku}', 'promoCode': 'SPRING'}", "", 1, 2);
    plan_case("{}", "", 1, 1); /* constant: one piece, encoded once */
    plan_case("{'sku': 'A', 'quantity': 2}", "", 1, 1);
    /* the rest goes through JSON: a reference into a number field, a call's value, text around
     * a reference, a cached call (its key is the JSON), one field under both names */
    plan_case("{'sku': '{id}', 'quantity': '{query.n}'}", "", 0, 0);
    plan_case("{'sku': 'x-{id}'}", "", 0, 0);
    plan_case("{'sku': '{id}'}", ", 'cache_ttl_ms': 100", 0, 0);
    plan_case("{'sku': '{id}', 'promo_code': 'A', 'promoCode': 'B'}", "", 0, 0);
}

/* A method whose reply is a well-known type printed by its own rules (a Struct's members are
 * map keys, not fields): no mask, so allow and deny run on the whole reply. */
static void test_reply_fields_wkt(void)
{
    char path[128];
    if (test_protoc("syntax = \"proto3\";\npackage s;\nimport \"google/protobuf/struct.proto\";\n"
                    "message Q { string id = 1; }\nservice S { rpc Get(Q) returns (google.protobuf.Struct); }\n",
                    path, sizeof(path)) != 0)
        return;
    proto_registry_t *r = proto_registry_new();
    util_error_t err = {0};
    CHECK_INT_EQ(proto_registry_load_file(r, path, &err), 0);
    char *json = dq(EP("{'name': 'price', 'grpc': {'upstream': 'price', 'method': 's.S/Get', 'request': {'id': '{id}'}},"
                       " 'allow': ['name'], 'deny': ['secret']}"));
    aggregate_set_t *s = aggregate_set_new();
    aggregate_load_options_t o = {r, upstream_kind, NULL};
    CHECK_INT_EQ(aggregate_set_load_string(s, json, "t.json", &o, &err), 0);
    const aggregate_call_t *c = aggregate_set_count(s) == 1 ? &aggregate_set_at(s, 0)->calls[0] : NULL;
    CHECK(c != NULL && c->grpc_method != NULL && c->reply_fields == NULL && !c->shape_in_reply_fields);
    free(json);
    aggregate_set_free(s);
    proto_registry_free(r);
    test_protoc_cleanup();
}

/* Without a registry or an upstream lookup, only what the file itself says is checked. */
static void test_without_registry(void)
{
    char *json = dq(EP(PRICE("{'skuu': '{id}'}") ", {'name': 'r', 'http': {'upstream': 'anything', 'path': '/'}}"));
    aggregate_set_t *s = aggregate_set_new();
    util_error_t err = {0};
    CHECK_INT_EQ(aggregate_set_load_string(s, json, "t.json", NULL, &err), 0);
    CHECK(aggregate_set_count(s) == 1 && aggregate_set_at(s, 0)->calls[0].grpc_method == NULL);
    aggregate_set_free(s);
    free(json);
}

static void test_files(void)
{
    aggregate_set_t *s = aggregate_set_new();
    util_error_t err = {0};
    aggregate_load_options_t o = options();
    CHECK_INT_EQ(aggregate_set_load_file(s, "/nonexistent/agg.json", &o, &err), -1);
    CHECK_INT_EQ(err.code, AGGREGATE_ERR_IO);
    CHECK_STR_EQ(err.message, "cannot read '/nonexistent/agg.json': No such file or directory");

    /* the example shop's composite endpoint */
    memset(&err, 0, sizeof(err));
    char path[4096];
    const char *src = getenv("PORTICO_SOURCE_DIR");
    snprintf(path, sizeof(path), "%s/aggregations/product.json", src ? src : ".");
    CHECK_INT_EQ(aggregate_set_load_file(s, path, &o, &err), 0);
    if (err.code != 0)
        fprintf(stderr, "  %s\n", err.message);
    const aggregate_endpoint_t *ep = aggregate_set_find(s, "GET", "/v1/products/{id}");
    CHECK(ep != NULL);
    if (ep != NULL) {
        CHECK_INT_EQ(ep->n_calls, 3);
        CHECK_STR_EQ(ep->meta_header, "x-portico-parts");
        CHECK_STR_EQ(ep->calls[0].name, "price");
        CHECK(ep->calls[0].grpc_method != NULL);
        CHECK_STR_EQ(ep->calls[2].name, "reviews");
        CHECK_INT_EQ(ep->calls[2].required, 0);
        CHECK_INT_EQ(ep->calls[2].kind, AGGREGATE_CALL_HTTP);
        for (size_t i = 0; i < ep->n_calls; i++)
            CHECK_INT_EQ(ep->calls[i].n_deps, 0); /* all three run in parallel */
    }
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
    test_errors();
    test_valid();
    test_without_registry();
    test_reply_fields();
    test_reply_fields_refs();
    test_reply_fields_wkt();
    test_request_plan();
    test_files();
    proto_registry_free(registry);
    return test_summary();
}
