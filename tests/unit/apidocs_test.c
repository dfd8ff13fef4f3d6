/*
 * apidocs_test.c — the gateway built from a config with "openapi" and/or "routes"
 * (src/http/apidocs.c, src/http/gateway_tables.c), against the example shop's descriptor set
 * and the routes table the build generated for it:
 *   - the document: the transcoded operations and the composite endpoints (parameters from
 *     path variables and {query.x}, a body for {body...}, a response schema with $refs to the
 *     called methods' outputs for unshaped parts, words for shaped ones, _meta), checked by
 *     JSON pointer;
 *   - an openapi path that a route, a composite or a gRPC method path would also answer is an
 *     error naming it;
 *   - a routes table replaces the annotations: exactly its lines are routed, and every bad
 *     line is an error naming the table's file and line.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "http/apidocs.h"
#include "http/gateway.h"
#include "test.h"

static char dir[256];
static char shop_pb[1024];
static char shop_routes_text[16384];

static void write_file(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

static int read_file(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    fclose(f);
    return 0;
}

/* |s| with ' turned into " and $D / $PB replaced (static buffer). */
static const char *q(const char *s)
{
    static char out[16384];
    size_t n = 0;
    for (; *s && n + 1100 < sizeof(out); s++) {
        if (strncmp(s, "$D", 2) == 0) {
            n += (size_t)snprintf(out + n, sizeof(out) - n, "%s", dir);
            s++;
        } else if (strncmp(s, "$PB", 3) == 0) {
            n += (size_t)snprintf(out + n, sizeof(out) - n, "%s", shop_pb);
            s += 2;
        } else {
            out[n++] = *s == '\'' ? '"' : *s;
        }
    }
    out[n] = '\0';
    return out;
}

#define HEAD_                                                                                                                      \
    "{'listen': [{'port': 0}], 'upstreams': {'price': {'protocol': 'grpc', 'targets': ['127.0.0.1:1']}, "                          \
    "'stock': {'protocol': 'grpc', 'targets': ['127.0.0.1:1']}, 'reviews': {'protocol': 'http', 'targets': "                       \
    "['127.0.0.1:2']}}"
#define SERVICES                                                                                                                   \
    ", 'grpc_services': [{'service': 'shop.v1.PriceService', 'upstream': 'price'}, {'service': "                                   \
    "'shop.v1.StockService', 'upstream': 'stock'}]"

static gateway_t *build(const char *json, util_error_t *err)
{
    config_t *c = config_load_string(q(json), dir, "t.json", err);
    if (c == NULL)
        return NULL;
    return gateway_build(c, err);
}

static json_t *document(const gateway_t *g)
{
    size_t len;
    const char *text = apidocs_document(g->apidocs, &len);
    json_error_t je;
    json_t *doc = json_loadb(text, len, 0, &je);
    if (doc == NULL)
        TEST_FAIL_("the document is not JSON: %s", je.text);
    return doc;
}

/* The value at JSON pointer |ptr| ("/paths/~1v1~1x/get"), or NULL. */
static json_t *at(json_t *doc, const char *ptr)
{
    json_t *v = doc;
    char seg[512];
    while (v != NULL && *ptr == '/') {
        ptr++;
        size_t n = 0;
        while (*ptr && *ptr != '/' && n + 1 < sizeof(seg)) {
            if (ptr[0] == '~' && ptr[1] == '1') {
                seg[n++] = '/';
                ptr += 2;
            } else if (ptr[0] == '~' && ptr[1] == '0') {
                seg[n++] = '~';
                ptr += 2;
            } else {
                seg[n++] = *ptr++;
            }
        }
        seg[n] = '\0';
        if (json_is_array(v))
            v = json_array_get(v, (size_t)atoi(seg));
        else
            v = json_object_get(v, seg);
    }
    return v;
}

/* |ptr| holds |expected|: a string, or compact JSON when it starts with [ { or a digit. */
static void check_at(json_t *doc, const char *ptr, const char *expected)
{
    json_t *v = at(doc, ptr);
    if (v == NULL) {
        TEST_FAIL_("%s: absent (expected %s)", ptr, expected);
        return;
    }
    char *text = json_is_string(v) ? strdup(json_string_value(v)) : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (strcmp(text, expected) == 0)
        test_passed_++;
    else
        TEST_FAIL_("%s:\n  got:      %s\n  expected: %s", ptr, text, expected);
    free(text);
}

static void check_absent(json_t *doc, const char *ptr)
{
    if (at(doc, ptr) == NULL)
        test_passed_++;
    else
        TEST_FAIL_("%s: present, expected absent", ptr);
}

static void check_has_at(json_t *doc, const char *ptr, const char *needle)
{
    json_t *v = at(doc, ptr);
    CHECK_STR_HAS(v != NULL && json_is_string(v) ? json_string_value(v) : "(absent)", needle);
}

/* The example shop with annotations, its product page, and the composites of every placement. */
static void test_document(void)
{
    char agg[8192];
    snprintf(agg, sizeof(agg), "%s/aggregations/product.json", getenv("PORTICO_SOURCE_DIR") ? getenv("PORTICO_SOURCE_DIR") : ".");
    char product[8192];
    if (read_file(agg, product, sizeof(product)) != 0) {
        TEST_FAIL_("cannot read %s", agg);
        return;
    }
    write_file("agg/product.json", product);
    write_file("agg/shapes.json",
               q("[{'method': 'POST', 'path': '/v1/carts/{cart}/summary', 'meta': false, 'calls': ["
                 " {'name': 'stock', 'grpc': {'upstream': 'stock', 'method': 'shop.v1.StockService/GetStock',"
                 "   'request': {'sku': '{body.sku}'}, 'headers': {'x-tenant': '{header.X-Tenant}'}}, 'group': 'cart.stock'},"
                 " {'name': 'price', 'grpc': {'upstream': 'price', 'method': 'shop.v1.PriceService/GetPrice',"
                 "   'request': {'sku': '{cart}', 'currency': '{query.cur}'}}},"
                 " {'name': 'more', 'grpc': {'upstream': 'price', 'method': 'shop.v1.PriceService/GetPrice',"
                 "   'request': {'sku': '{calls.price.sku}', 'currency': '{query.cur}'}}, 'target': 'tags', 'collection': "
                 "   'tags', 'required': false},"
                 " {'name': 'rev', 'http': {'upstream': 'reviews', 'path': '/reviews/{cart}', 'query': {'lang': '{query.lang}'}},"
                 "   'group': 'cart.reviews', 'allow': ['count']}]}]"));

    util_error_t err = {0};
    gateway_t *g = build(HEAD_ SERVICES ", 'descriptors': ['$PB'], 'aggregations': ['agg/*.json'], "
                                        "'openapi': {'title': 'Shop', 'version': '2.0.0', 'servers': ['https://shop.example']}}",
                         &err);
    if (g == NULL) {
        TEST_FAIL_("gateway_build: %s", err.message);
        return;
    }
    CHECK(g->apidocs != NULL);
    CHECK_STR_EQ(apidocs_path(g->apidocs), "/openapi.json");
    json_t *doc = document(g);
    if (doc == NULL) {
        gateway_free(g);
        return;
    }
    static const struct {
        const char *ptr, *expected;
    } cases[] = {
        {"/openapi", "3.1.0"},
        {"/info/title", "Shop"},
        {"/info/version", "2.0.0"},
        {"/servers/0/url", "https://shop.example"},
        /* transcoded routes, from the annotations, with the comments of the descriptor set */
        {"/paths/~1v1~1products~1{sku}~1price/get/operationId", "PriceService_GetPrice"},
        {"/paths/~1v1~1prices~1{sku}/get/operationId", "PriceService_GetPrice2"},
        {"/paths/~1v1~1products~1{price.sku}~1price/patch/operationId", "PriceService_UpdatePrice"},
        {"/paths/~1shop.v1.StockService~1ListWarehouses/post/operationId", "StockService_ListWarehouses"},
        {"/paths/~1v1~1products~1{sku}~1price/get/responses/200/content/application~1json/schema/$ref",
         "#/components/schemas/shop.v1.Price"},
        /* the product page: path variable, {query.currency}, a grouped shaped part, an optional HTTP part, _meta */
        {"/paths/~1v1~1products~1{id}/get/tags", "[\"aggregations\"]"},
        {"/paths/~1v1~1products~1{id}/get/summary", "Composite of 3 calls: price, stock, reviews"},
        {"/paths/~1v1~1products~1{id}/get/parameters/0/name", "id"},
        {"/paths/~1v1~1products~1{id}/get/parameters/0/in", "path"},
        {"/paths/~1v1~1products~1{id}/get/parameters/1/name", "currency"},
        {"/paths/~1v1~1products~1{id}/get/parameters/1/in", "query"},
        {"/paths/~1v1~1products~1{id}/get/responses/200/content/application~1json/schema/required", "[\"_meta\"]"},
        {"/paths/~1v1~1products~1{id}/get/responses/200/content/application~1json/schema/properties/_meta/required",
         "[\"price\",\"stock\",\"reviews\"]"},
        {"/paths/~1v1~1products~1{id}/get/responses/200/content/application~1json/schema/properties/stock/type", "object"},
        {"/paths/~1v1~1products~1{id}/get/responses/default/$ref", "#/components/responses/Error"},
        /* every placement: nested group, unshaped (a $ref), root merge (allOf), collection (array), a body, no _meta */
        {"/paths/~1v1~1carts~1{cart}~1summary/post/parameters/0/name", "cart"},
        {"/paths/~1v1~1carts~1{cart}~1summary/post/parameters/1/name", "cur"},
        {"/paths/~1v1~1carts~1{cart}~1summary/post/parameters/2/name", "lang"},
        {"/paths/~1v1~1carts~1{cart}~1summary/post/requestBody/required", "true"},
        {"/paths/~1v1~1carts~1{cart}~1summary/post/responses/200/content/application~1json/schema/properties/cart/type", "object"},
        {"/paths/~1v1~1carts~1{cart}~1summary/post/responses/200/content/application~1json/schema/properties/cart/properties/"
         "stock/$ref",
         "#/components/schemas/shop.v1.Stock"},
        {"/paths/~1v1~1carts~1{cart}~1summary/post/responses/200/content/application~1json/schema/properties/cart/properties/"
         "reviews/description",
         "From call `rev`: HTTP GET on upstream `reviews` (its JSON reply); keeping only `count`."},
        {"/paths/~1v1~1carts~1{cart}~1summary/post/responses/200/content/application~1json/schema/allOf",
         "[{\"$ref\":\"#/components/schemas/shop.v1.Price\"}]"},
        {"/paths/~1v1~1carts~1{cart}~1summary/post/responses/200/content/application~1json/schema/properties/tags/type", "array"},
        {"/components/schemas/shop.v1.Stock/type", "object"},
        {"/components/schemas/shop.v1.Price/type", "object"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_at(doc, cases[i].ptr, cases[i].expected);
    check_has_at(doc, "/paths/~1v1~1products~1{id}/get/description", "`x-portico-parts` response header");
    check_has_at(doc, "/paths/~1v1~1products~1{id}/get/description", "Request headers passed on to the calls: `x-request-id`");
    check_has_at(doc, "/paths/~1v1~1products~1{id}/get/description",
                 "- `price`: gRPC shop.v1.PriceService.GetPrice on upstream `price`, reply `shop.v1.Price`; keeping only");
    check_has_at(doc,
                 "/paths/~1v1~1products~1{id}/get/responses/200/content/application~1json/schema/properties/reviews/description",
                 "Optional: absent when that call fails.");
    check_has_at(doc, "/paths/~1v1~1carts~1{cart}~1summary/post/description", "`x-tenant`");
    check_absent(doc, "/paths/~1v1~1carts~1{cart}~1summary/post/responses/200/content/application~1json/schema/properties/_meta");
    check_absent(doc, "/paths/~1v1~1products~1{id}/get/requestBody");
    check_absent(doc, "/paths/~1openapi.json");

    char line[512] = "";
    FILE *f = fmemopen(line, sizeof(line), "w");
    apidocs_print(g->apidocs, f);
    fclose(f);
    CHECK_STR_HAS(line, "GET /openapi.json -> OpenAPI 3.1 document (15 operations, 2 composite endpoints, ");
    json_decref(doc);
    gateway_free(g);

    /* services printing proto names get a document in proto names */
    g = build(HEAD_ ", 'grpc_services': [{'service': 'shop.v1.PriceService', 'upstream': 'price', 'json': {'proto_names': "
                    "true}}], 'descriptors': ['$PB'], 'openapi': {'path': '/api/spec'}}",
              &err);
    if (g == NULL) {
        TEST_FAIL_("gateway_build: %s", err.message);
        return;
    }
    CHECK_STR_EQ(apidocs_path(g->apidocs), "/api/spec");
    doc = document(g);
    check_at(doc, "/components/schemas/shop.v1.Price/properties/amount_micros/type", "string");
    check_absent(doc, "/components/schemas/shop.v1.Price/properties/amountMicros");
    json_decref(doc);
    gateway_free(g);
}

/* The document's path must be its own. */
static void test_collisions(void)
{
    write_file("agg2/page.json", q("{'method': 'GET', 'path': '/v1/pages/{id}', 'calls': [{'name': 'p', 'grpc': {'upstream': "
                                   "'price', 'method': 'shop.v1.PriceService/GetPrice', 'request': {'sku': '{id}'}}}]}"));
    static const struct {
        const char *path;
        const char *message; /* NULL: accepted */
    } cases[] = {
        {"/v1/prices/openapi.json", "t.json: openapi.path: \"/v1/prices/openapi.json\" is also answered by the route GET "
                                    "/v1/prices/{sku} of method shop.v1.PriceService.GetPrice; serve the document at another path"},
        {"/v1/prices:batch", "is also answered by the route POST /v1/prices:batch of method shop.v1.PriceService.BatchGetPrices"},
        {"/v1/pages/spec", "is also answered by the composite endpoint GET /v1/pages/{id} of $D/agg2/page.json"},
        {"/shop.v1.StockService/ListWarehouses", "is also answered by the route POST /shop.v1.StockService/ListWarehouses"},
        {"/shop.v1.PriceService/GetPrice",
         "t.json: openapi.path: \"/shop.v1.PriceService/GetPrice\" is the gRPC path of method shop.v1.PriceService.GetPrice"},
        {"/shop.v1.ReviewsService/ListReviews", NULL}, /* a method of a service the gateway does not serve */
        {"/v1/prices", NULL},
        {"/v1/products/x/price/extra", NULL},
        {"/", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char json[4096];
        snprintf(json, sizeof(json), "%s",
                 HEAD_ SERVICES ", 'descriptors': ['$PB'], 'aggregations': ['agg2/*.json'], "
                                "'openapi': {'path': 'PATH'}}");
        char *p = strstr(json, "PATH");
        char tail[1024];
        snprintf(tail, sizeof(tail), "%s", p + 4);
        snprintf(p, sizeof(json) - (size_t)(p - json), "%s%s", cases[i].path, tail);
        util_error_t err = {0};
        gateway_t *g = build(json, &err);
        if (cases[i].message == NULL) {
            if (g == NULL)
                TEST_FAIL_("%s rejected: %s", cases[i].path, err.message);
            else
                CHECK(g->apidocs != NULL);
        } else if (g != NULL) {
            TEST_FAIL_("%s accepted", cases[i].path);
        } else {
            char expected[1024];
            snprintf(expected, sizeof(expected), "%s", cases[i].message);
            CHECK_STR_HAS(err.message, q(expected));
        }
        gateway_free(g);
    }
}

/* The shop's generated table with line |drop| (a substring) removed and |extra| appended. */
static void write_table(const char *name, const char *drop, const char *replace_with, const char *extra)
{
    char out[16384];
    size_t n = 0;
    out[0] = '\0';
    for (const char *p = shop_routes_text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p + 1) : strlen(p);
        if (drop != NULL && memmem(p, l, drop, strlen(drop)) != NULL) {
            if (replace_with != NULL)
                n += (size_t)snprintf(out + n, sizeof(out) - n, "%s\n", replace_with);
        } else {
            n += (size_t)snprintf(out + n, sizeof(out) - n, "%.*s", (int)l, p);
        }
        p += l;
    }
    if (extra != NULL)
        snprintf(out + n, sizeof(out) - n, "%s\n", extra);
    write_file(name, out);
}

/* Replaces the first |old| in |text| by |new|. */
static void replace_in(char *text, size_t cap, const char *old, const char *new_text)
{
    char *p = strstr(text, old);
    if (p == NULL) {
        TEST_FAIL_("\"%s\" is not in the table", old);
        return;
    }
    char rest[16384];
    snprintf(rest, sizeof(rest), "%s", p + strlen(old));
    snprintf(p, cap - (size_t)(p - text), "%s%s", new_text, rest);
}

static int routed(const gateway_t *g, const char *method, const char *path)
{
    route_match_t m;
    return route_table_match(g->routes, method, strlen(method), path, strlen(path), &m) == ROUTE_MATCH_OK;
}

/* The line of |needle| in the generated table (1-based), for expected messages. */
static unsigned line_of(const char *needle)
{
    unsigned line = 1;
    const char *hit = strstr(shop_routes_text, needle);
    for (const char *p = shop_routes_text; hit != NULL && p < hit; p++)
        line += *p == '\n';
    return hit != NULL ? line : 0;
}

static void test_tables(void)
{
    util_error_t err = {0};
    /* the whole table: the same routes as the annotations */
    write_table("all.routes", NULL, NULL, NULL);
    gateway_t *g = build(HEAD_ SERVICES ", 'descriptors': ['$PB'], 'routes': ['all.routes']}", &err);
    gateway_t *ann = build(HEAD_ SERVICES ", 'descriptors': ['$PB']}", &err);
    if (g == NULL || ann == NULL) {
        TEST_FAIL_("gateway_build: %s", err.message);
    } else {
        CHECK_INT_EQ(g->n_routes, ann->n_routes);
        for (size_t i = 0; i < g->n_routes && i < ann->n_routes; i++) {
            CHECK_STR_EQ(g->route_list[i].binding.path, ann->route_list[i].binding.path);
            CHECK_STR_EQ(g->route_list[i].binding.http_method, ann->route_list[i].binding.http_method);
            CHECK(g->route_list[i].binding.method == g->route_list[i].binding.method);
            CHECK_INT_EQ(g->route_list[i].binding.auto_mapped, ann->route_list[i].binding.auto_mapped);
            CHECK_INT_EQ(g->route_list[i].upstream_index, ann->route_list[i].upstream_index);
            CHECK((g->route_list[i].binding.body_field == NULL) == (ann->route_list[i].binding.body_field == NULL));
        }
    }
    gateway_free(g);
    gateway_free(ann);

    /* one line removed, one changed, one added for a method that has no such binding: exactly the table is served,
       and the document follows it; the table names its descriptor set (absolute) and the config lists none */
    char set_line[1200];
    snprintf(set_line, sizeof(set_line), "# descriptor-set %s", shop_pb);
    write_table("edited.routes", "GET /v1/prices/{sku} ", NULL,
                "GET /v1/stock/{sku} - - shop.v1.GetStockRequest shop.v1.Stock unary shop.v1.StockService.GetStock rule");
    {
        char path[600], text[16384];
        snprintf(path, sizeof(path), "%s/edited.routes", dir);
        read_file(path, text, sizeof(text));
        replace_in(text, sizeof(text), "# descriptor-set shop.pb", set_line);
        replace_in(text, sizeof(text), "PATCH /v1/products/{price.sku}/price", "PUT /v1/products/{price.sku}/price");
        write_file("edited.routes", text);
    }
    g = build(HEAD_ SERVICES ", 'routes': ['edited.routes'], 'openapi': {}}", &err);
    if (g == NULL) {
        TEST_FAIL_("gateway_build: %s", err.message);
    } else {
        CHECK(!routed(g, "GET", "/v1/prices/ABC-1"));
        CHECK(routed(g, "GET", "/v1/products/ABC-1/price"));
        CHECK(routed(g, "GET", "/v1/stock/ABC-1"));
        CHECK(routed(g, "PUT", "/v1/products/ABC-1/price"));
        CHECK(!routed(g, "PATCH", "/v1/products/ABC-1/price"));
        CHECK(routed(g, "POST", "/shop.v1.StockService/ListWarehouses"));
        json_t *doc = document(g);
        check_absent(doc, "/paths/~1v1~1prices~1{sku}");
        check_at(doc, "/paths/~1v1~1stock~1{sku}/get/operationId", "StockService_GetStock3");
        check_at(doc, "/paths/~1v1~1products~1{price.sku}~1price/put/operationId", "PriceService_UpdatePrice");
        check_absent(doc, "/paths/~1v1~1products~1{price.sku}~1price/patch");
        /* comments come from the set the table named */
        check_at(doc, "/paths/~1v1~1products~1{sku}~1price/get/summary", "Quotes the price of `quantity` units of one product.");
        json_decref(doc);
        for (size_t i = 0; i < g->n_routes; i++)
            if (strcmp(g->route_list[i].binding.path, "/shop.v1.StockService/ListWarehouses") == 0)
                CHECK_INT_EQ(g->route_list[i].binding.auto_mapped, 1);
    }
    gateway_free(g);

    /* only the configured services' lines are routed */
    g = build(HEAD_ ", 'grpc_services': [{'service': 'shop.v1.StockService', 'upstream': 'stock'}], 'descriptors': ['$PB'], "
                    "'routes': ['all.routes']}",
              &err);
    if (g == NULL) {
        TEST_FAIL_("gateway_build: %s", err.message);
    } else {
        CHECK(!routed(g, "GET", "/v1/products/ABC-1/price"));
        CHECK(routed(g, "GET", "/v1/products/ABC-1/stock"));
        for (size_t i = 0; i < g->n_routes; i++)
            CHECK_STR_EQ(g->route_list[i].binding.method->service->full_name, "shop.v1.StockService");
    }
    gateway_free(g);

    /* bad lines: each error names the table and the line */
    char l_price[32], l_watch[32], l_batch[32];
    snprintf(l_price, sizeof(l_price), ":%u: ", line_of("GET /v1/products/{sku}/price "));
    snprintf(l_watch, sizeof(l_watch), ":%u: ", line_of("price:watch"));
    snprintf(l_batch, sizeof(l_batch), ":%u: ", line_of("prices:batch"));
    static const struct {
        const char *drop, *replace, *extra;
        const char *line; /* ":N: " of the bad line; "END" = the appended line */
        const char *message;
    } cases[] = {
        {"GET /v1/products/{sku}/price ",
         "GET /v1/products/{sku}/price - - shop.v1.GetPriceRequest shop.v1.Price unary "
         "shop.v1.PriceService.Nope rule",
         NULL, "P", "method shop.v1.PriceService.Nope is not in the descriptor sets"},
        {"GET /v1/products/{sku}/price ",
         "GET /v1/products/{sku}/price - - shop.v1.GetStockRequest shop.v1.Price unary "
         "shop.v1.PriceService.GetPrice rule",
         NULL, "P",
         "the table says shop.v1.PriceService.GetPrice takes shop.v1.GetStockRequest and returns shop.v1.Price (unary), the "
         "descriptor sets say shop.v1.GetPriceRequest and shop.v1.Price (unary): regenerate the table"},
        {"price:watch",
         "GET /v1/products/{sku}/price:watch - - shop.v1.WatchPriceRequest shop.v1.PriceUpdate unary "
         "shop.v1.PriceService.WatchPrice rule",
         NULL, "W", "(unary), the descriptor sets say shop.v1.WatchPriceRequest and shop.v1.PriceUpdate (server)"},
        {"GET /v1/products/{sku}/price ",
         "GET /v1/products/{skew}/price - - shop.v1.GetPriceRequest shop.v1.Price unary "
         "shop.v1.PriceService.GetPrice rule",
         NULL, "P", "skew"},
        {"prices:batch",
         "POST /v1/prices:batch items.sku - shop.v1.BatchGetPricesRequest shop.v1.BatchGetPricesResponse unary "
         "shop.v1.PriceService.BatchGetPrices rule",
         NULL, NULL, NULL}, /* a syntax error: the config loader's */
        {"prices:batch",
         "POST /v1/prices:batch nope - shop.v1.BatchGetPricesRequest shop.v1.BatchGetPricesResponse unary "
         "shop.v1.PriceService.BatchGetPrices rule",
         NULL, "B", "nope"},
        {"GET /v1/products/{sku}/price ",
         "GET /v1/products/{sku/price - - shop.v1.GetPriceRequest shop.v1.Price unary "
         "shop.v1.PriceService.GetPrice rule",
         NULL, "P", "method shop.v1.PriceService.GetPrice: "},
        {NULL, NULL,
         "GET /v1/products/{currency}/price - - shop.v1.GetPriceRequest shop.v1.Price unary shop.v1.PriceService.GetPrice "
         "additional_bindings[7]",
         "END",
         "GET /v1/products/{currency}/price (method shop.v1.PriceService.GetPrice) collides with GET /v1/products/{sku}/price "
         "(method shop.v1.PriceService.GetPrice) of "},
    };
    unsigned total_lines = 1; /* the appended line's number (the generated table ends with a newline) */
    for (const char *p = shop_routes_text; *p; p++)
        total_lines += *p == '\n';
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        write_table("bad.routes", cases[i].drop, cases[i].replace, cases[i].extra);
        g = build(HEAD_ SERVICES ", 'descriptors': ['$PB'], 'routes': ['bad.routes']}", &err);
        if (g != NULL) {
            TEST_FAIL_("bad table %zu accepted", i);
            gateway_free(g);
            continue;
        }
        if (cases[i].line == NULL) {
            CHECK_STR_HAS(err.message, "t.json: routes[0]: ");
            CHECK_STR_HAS(err.message, "/bad.routes:");
            continue;
        }
        char expected[1024];
        const char *ln = cases[i].line[0] == 'P'   ? l_price
                         : cases[i].line[0] == 'W' ? l_watch
                         : cases[i].line[0] == 'B' ? l_batch
                                                   : NULL;
        char end_line[32];
        if (ln == NULL) {
            snprintf(end_line, sizeof(end_line), ":%u: ", total_lines);
            ln = end_line;
        }
        snprintf(expected, sizeof(expected), "%s/bad.routes%s", dir, ln);
        CHECK_STR_HAS(err.message, expected);
        CHECK_STR_HAS(err.message, cases[i].message);
    }
}

int main(void)
{
    snprintf(dir, sizeof(dir), "/tmp/portico-apidocs-test-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    char sub[600];
    snprintf(sub, sizeof(sub), "%s/agg", dir);
    mkdir(sub, 0755);
    snprintf(sub, sizeof(sub), "%s/agg2", dir);
    mkdir(sub, 0755);
    snprintf(shop_pb, sizeof(shop_pb), "%s", test_desc_path("shop.pb"));
    if (read_file(test_desc_path("shop.routes"), shop_routes_text, sizeof(shop_routes_text)) != 0) {
        fprintf(stderr, "cannot read %s\n", test_desc_path("shop.routes"));
        return 1;
    }
    test_document();
    test_collisions();
    test_tables();
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", dir);
    return test_summary();
}
