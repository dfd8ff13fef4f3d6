/*
 * openapi_test.c — the OpenAPI renderer through its public function, as the gateway will call
 * it: registry + docs (from the built descriptor sets) + bindings (binding_rule_init) →
 * document. Each case names a JSON pointer into the document and the JSON expected there
 * (MISSING: nothing may be there), so a change in one mapping rule fails one line. Also:
 * the docs index (comments, positions of the http option, field behaviours), composite
 * endpoints, and rendering without docs. Positions are checked on the codegen test protos,
 * not on the example shop, whose comments change with the example.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "openapi/openapi.h"
#include "proto/proto.h"
#include "test.h"
#include "transcode/binding.h"

#define MISSING NULL

typedef struct pointer_case {
    const char *pointer;  /* RFC 6901 */
    const char *expected; /* JSON text, or MISSING */
} pointer_case_t;

/* Follows an RFC 6901 pointer ("~1" is "/", "~0" is "~"). */
static json_t *pointer_get(json_t *doc, const char *pointer)
{
    json_t *cur = doc;
    const char *p = pointer;
    while (cur != NULL && *p == '/') {
        p++;
        char tok[512];
        size_t n = 0;
        while (*p && *p != '/' && n + 1 < sizeof(tok)) {
            if (p[0] == '~' && p[1] == '1') {
                tok[n++] = '/';
                p += 2;
            } else if (p[0] == '~' && p[1] == '0') {
                tok[n++] = '~';
                p += 2;
            } else {
                tok[n++] = *p++;
            }
        }
        tok[n] = '\0';
        if (json_is_array(cur))
            cur = json_array_get(cur, (size_t)strtoul(tok, NULL, 10));
        else
            cur = json_object_get(cur, tok);
    }
    return cur;
}

static void check_pointers(json_t *doc, const pointer_case_t *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_t *got = pointer_get(doc, cases[i].pointer);
        if (cases[i].expected == MISSING) {
            if (got == NULL) {
                CHECK(1);
            } else {
                char *g = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);
                TEST_FAIL_("%s: expected nothing, got %s", cases[i].pointer, g);
                free(g);
            }
            continue;
        }
        json_error_t je;
        json_t *want = json_loads(cases[i].expected, JSON_DECODE_ANY, &je);
        if (want == NULL) {
            TEST_FAIL_("case %s: bad expected JSON: %s", cases[i].pointer, je.text);
            continue;
        }
        if (got != NULL && json_equal(got, want)) {
            CHECK(1);
        } else {
            char *g = got ? json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
            TEST_FAIL_("%s:\n  got:      %s\n  expected: %s", cases[i].pointer, g ? g : "(nothing)", cases[i].expected);
            free(g);
        }
        json_decref(want);
    }
}

typedef struct fixture {
    proto_registry_t *r;
    openapi_docs_t *docs;
    binding_rule_t *rules;
    const binding_rule_t **ptrs;
    size_t n;
} fixture_t;

/* Loads set |set| and resolves every binding of every service of |file|, as the gateway does. */
static int fixture_load(fixture_t *f, const char *set, const char *file, int with_docs)
{
    util_error_t err = {0};
    memset(f, 0, sizeof(*f));
    f->r = proto_registry_new();
    if (proto_registry_load_file(f->r, test_desc_path(set), &err) != 0) {
        fprintf(stderr, "cannot load %s: %s\n", set, err.message);
        return -1;
    }
    if (with_docs) {
        f->docs = openapi_docs_new();
        if (openapi_docs_add_file(f->docs, test_desc_path(set), &err) != 0) {
            fprintf(stderr, "cannot index %s: %s\n", set, err.message);
            return -1;
        }
    }
    f->rules = calloc(256, sizeof(*f->rules));
    f->ptrs = calloc(256, sizeof(*f->ptrs));
    for (size_t si = 0; si < proto_registry_n_services(f->r); si++) {
        const proto_service_t *s = proto_registry_service_at(f->r, si);
        if (strcmp(s->file->name, file) != 0)
            continue;
        for (size_t mi = 0; mi < s->n_methods; mi++) {
            const proto_method_t *m = &s->methods[mi];
            if (m->http == NULL)
                continue;
            for (size_t k = 0; k <= m->http->n_additional && f->n < 256; k++) {
                const proto_http_rule_t *rule = k == 0 ? m->http : &m->http->additional[k - 1];
                if (binding_rule_init(&f->rules[f->n], f->r, m, rule->method, rule, &err) != 0) {
                    fprintf(stderr, "binding %s: %s\n", m->full_name, err.message);
                    return -1;
                }
                f->ptrs[f->n] = &f->rules[f->n];
                f->n++;
            }
        }
    }
    return 0;
}

static void fixture_free(fixture_t *f)
{
    free(f->rules);
    free(f->ptrs);
    openapi_docs_free(f->docs);
    proto_registry_free(f->r);
}

static json_t *render(const fixture_t *f, const openapi_composite_t *c, size_t nc, util_error_t *err)
{
    util_buf_t out = UTIL_BUF_INIT;
    json_t *doc = NULL;
    if (openapi_render(f->r, f->docs, f->ptrs, f->n, c, nc, NULL, &out, err) == 0) {
        json_error_t je;
        doc = json_loadb((const char *)out.data, out.len, 0, &je);
        if (doc == NULL)
            fprintf(stderr, "rendered document is not JSON: %s\n", je.text);
    }
    util_buf_dispose(&out);
    return doc;
}

#define S "/components/schemas/"
#define T S "portico.codegen.types."

static const pointer_case_t types_cases[] = {
    {"/openapi", "\"3.1.0\""},
    {"/info/title", "\"portico API\""},
    /* scalars: 64-bit integers are strings, 32-bit ones integers */
    {T "Scalars/properties/fDouble", "{\"type\":\"number\",\"format\":\"double\"}"},
    {T "Scalars/properties/fFloat", "{\"type\":\"number\",\"format\":\"float\"}"},
    {T "Scalars/properties/fInt64", "{\"type\":\"string\",\"format\":\"int64\"}"},
    {T "Scalars/properties/fSint64", "{\"type\":\"string\",\"format\":\"int64\"}"},
    {T "Scalars/properties/fSfixed64", "{\"type\":\"string\",\"format\":\"int64\"}"},
    {T "Scalars/properties/fUint64", "{\"type\":\"string\",\"format\":\"uint64\"}"},
    {T "Scalars/properties/fFixed64", "{\"type\":\"string\",\"format\":\"uint64\"}"},
    {T "Scalars/properties/fInt32", "{\"type\":\"integer\",\"format\":\"int32\"}"},
    {T "Scalars/properties/fUint32", "{\"type\":\"integer\",\"format\":\"uint32\"}"},
    {T "Scalars/properties/fFixed32", "{\"type\":\"integer\",\"format\":\"uint32\"}"},
    {T "Scalars/properties/fBool", "{\"type\":\"boolean\"}"},
    {T "Scalars/properties/fString", "{\"type\":\"string\"}"},
    {T "Scalars/properties/fBytes", "{\"type\":\"string\",\"format\":\"byte\",\"contentEncoding\":\"base64\"}"},
    {T "Scalars/properties/fEnum", "{\"$ref\":\"#/components/schemas/portico.codegen.types.Color\"}"},
    {T "Scalars/properties/customName", "{\"type\":\"string\",\"description\":\"Spelled differently in JSON.\"}"},
    {T "Scalars/properties/renamed", MISSING},
    {T "Scalars/description", "\"Every scalar type.\""},
    /* enums: string enums, value comments listed */
    {T "Color", "{\"type\":\"string\",\"enum\":[\"COLOR_UNSPECIFIED\",\"BLUE\",\"RED\"],"
                "\"description\":\"Colors of things.\\n\\n- `BLUE`: Like the sky.\\n- `RED`: Like a fire truck.\"}"},
    /* well-known types in their JSON forms */
    {T "WellKnown/properties/ts", "{\"type\":\"string\",\"format\":\"date-time\"}"},
    {T "WellKnown/properties/dur/pattern", "\"^-?[0-9]+(\\\\.[0-9]{1,9})?s$\""},
    {T "WellKnown/properties/mask/type", "\"string\""},
    {T "WellKnown/properties/st", "{\"type\":\"object\",\"additionalProperties\":true}"},
    {T "WellKnown/properties/val", "{\"description\":\"Any JSON value.\"}"},
    {T "WellKnown/properties/list", "{\"type\":\"array\",\"items\":{}}"},
    {T "WellKnown/properties/empty", "{\"type\":\"object\"}"},
    {T "WellKnown/properties/any/required", "[\"@type\"]"},
    {T "WellKnown/properties/any/additionalProperties", "true"},
    {T "WellKnown/properties/wInt64", "{\"type\":[\"string\",\"null\"],\"format\":\"int64\"}"},
    {T "WellKnown/properties/wUint32", "{\"type\":[\"integer\",\"null\"],\"format\":\"uint32\"}"},
    {T "WellKnown/properties/wBool", "{\"type\":[\"boolean\",\"null\"]}"},
    {T "WellKnown/properties/wString", "{\"type\":[\"string\",\"null\"]}"},
    {T "WellKnown/properties/nullValue", "{\"type\":\"null\"}"},
    {S "google.protobuf.Timestamp", MISSING},
    /* repeated and maps */
    {T "Collections/properties/tags", "{\"type\":\"array\",\"items\":{\"type\":\"string\"}}"},
    {T "Collections/properties/byName",
     "{\"type\":\"object\",\"additionalProperties\":{\"$ref\":\"#/components/schemas/portico.codegen.types.Scalars\"}}"},
    {T "Collections/properties/byId",
     "{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"},\"propertyNames\":{\"pattern\":\"^-?[0-9]+$\"}}"},
    {T "Collections/properties/byFlag/propertyNames", "{\"pattern\":\"^(true|false)$\"}"},
    {S "portico.codegen.types.Collections.ByNameEntry", MISSING},
    /* recursion by reference */
    {T "Node/properties/children/items", "{\"$ref\":\"#/components/schemas/portico.codegen.types.Node\"}"},
    /* oneofs: described and enforced as at most one */
    {T "Choice/properties/text/description",
     "\"A text answer.\\n\\nOnly one of `text`, `number`, `node` may be set (oneof `kind`).\""},
    {T "Choice/dependentSchemas/text", "{\"properties\":{\"number\":false,\"node\":false}}"},
    {T "Choice/dependentSchemas/note", "{\"properties\":{\"flag\":false}}"},
    {T "Choice/dependentSchemas/maybe", MISSING},
    {T "Choice/dependentSchemas/id", MISSING},
    /* field_behavior and deprecated */
    {T "Resource/required", "[\"title\"]"},
    {T "Resource/properties/name/readOnly", "true"},
    {T "Resource/properties/createTime", "{\"type\":\"string\",\"format\":\"date-time\",\"readOnly\":true}"},
    {T "Resource/properties/secret/writeOnly", "true"},
    {T "Resource/properties/old/deprecated", "true"},
    /* operations */
    {"/tags/0", "{\"name\":\"TypeService\",\"description\":\"Resources of every type.\"}"},
    {"/paths/~1v1~1{parent}~1resources/post/operationId", "\"TypeService_CreateResource\""},
    {"/paths/~1v1~1{parent}~1resources/post/summary", "\"Creates a resource.\""},
    {"/paths/~1v1~1{parent}~1resources/post/description", "\"The resource's name is assigned by the server.\""},
    {"/paths/~1v1~1{parent}~1resources/post/parameters/0/schema", "{\"type\":\"string\",\"pattern\":\"^projects/[^/]+$\"}"},
    {"/paths/~1v1~1{parent}~1resources/post/parameters/0/required", "true"},
    {"/paths/~1v1~1{parent}~1resources/post/parameters/1",
     "{\"name\":\"requestId\",\"in\":\"query\",\"description\":\"Idempotency key.\",\"schema\":{\"type\":\"string\"}}"},
    {"/paths/~1v1~1{parent}~1resources/post/parameters/2", MISSING},
    {"/paths/~1v1~1{parent}~1resources/post/requestBody/content/application~1json/schema",
     "{\"$ref\":\"#/components/schemas/portico.codegen.types.Resource\"}"},
    {"/paths/~1v1~1{parent}~1resources/post/responses/default", "{\"$ref\":\"#/components/responses/Error\"}"},
    {"/paths/~1v1~1echo/post/parameters", MISSING},
    {"/paths/~1v1~1nothing/post/deprecated", "true"},
    {"/paths/~1v1~1nothing/post/requestBody/content/application~1json/schema", "{\"type\":\"object\"}"},
    /* the error model */
    {"/components/responses/Error/content/application~1json/schema", "{\"$ref\":\"#/components/schemas/google.rpc.Status\"}"},
    {S "google.rpc.Status/properties/code/type", "\"integer\""},
    {S "google.rpc.Status/properties/details/items/required", "[\"@type\"]"},
};

#define P "/paths/"
#define R S "portico.codegen.routes."

static const pointer_case_t routes_cases[] = {
    /* additional bindings whose OpenAPI paths collide are renamed */
    {P "~1v1~1{name}/get/operationId", "\"Library_GetBook\""},
    {P "~1v1~1{name_1}/get/operationId", "\"Library_GetBook2\""},
    {P "~1v1~1{name_1}/get/parameters/0/name", "\"name_1\""},
    {P "~1v1~1{name_1}/get/parameters/0/schema/pattern", "\"^authors/[^/]+/books/[^/]+$\""},
    {P "~1v1~1books:get/post/operationId", "\"Library_GetBook3\""},
    {P "~1v1~1{name}/delete/deprecated", "true"},
    {P "~1v1~1{name}/head/operationId", "\"Library_HeadBook\""},
    /* the any-method custom kind has no OpenAPI operation */
    {P "~1v1~1any~1{name}", MISSING},
    /* body "*" with a path variable: the body schema leaves the bound field out */
    {P "~1v1~1{parent}~1books/post/requestBody/content/application~1json/schema/properties/parent", MISSING},
    {P "~1v1~1{parent}~1books/post/requestBody/content/application~1json/schema/required", "[\"bookId\"]"},
    {P "~1v1~1{parent}~1books/post/parameters/1", MISSING},
    /* body field: its schema; the FieldMask filled from the body is said so */
    {P "~1v1~1{book.name}/patch/requestBody/content/application~1json/schema",
     "{\"$ref\":\"#/components/schemas/portico.codegen.routes.Book\"}"},
    {P "~1v1~1{book.name}/patch/parameters/1/name", "\"updateMask\""},
    {P "~1v1~1{book.name}/patch/parameters/1/description",
     "\"Fields of `book` to change.\\n\\nWhen absent, the gateway fills it with the fields present in the request body.\""},
    /* HttpBody in and out */
    {P "~1v1~1{name}~1cover/get/responses/200/content", "{\"*/*\":{}}"},
    {P "~1v1~1{name}~1cover/put/requestBody/content", "{\"*/*\":{}}"},
    /* response_body */
    {P "~1v1~1{name}~1title/get/responses/200/content/application~1json/schema", "{\"type\":\"string\"}"},
    /* streaming */
    {P "~1v1~1{shelf}:watch/get/x-portico-streaming", "\"server\""},
    {P "~1v1~1{shelf}:watch/get/responses/200/content/application~1x-ndjson/schema",
     "{\"$ref\":\"#/components/schemas/portico.codegen.routes.BookEvent\"}"},
    {P "~1v1~1{shelf}:watch/get/responses/200/content/text~1event-stream/schema/type", "\"string\""},
    {P "~1v1~1{shelf}:watch/get/parameters/1",
     "{\"name\":\"since\",\"in\":\"query\",\"schema\":{\"type\":\"string\",\"format\":\"date-time\"}}"},
    {P "~1v1~1books:import/post/x-portico-streaming", "\"client\""},
    /* query parameters: nested messages flattened, recursion cut, maps, repeated messages and
     * OUTPUT_ONLY fields left out, REQUIRED honoured */
    {P "~1v1~1search~1{query.text}/get/parameters/0/name", "\"query.text\""},
    {P "~1v1~1search~1{query.text}/get/parameters/1/name", "\"query.lang\""},
    {P "~1v1~1search~1{query.text}/get/parameters/2/name", "\"filter.author\""},
    {P "~1v1~1search~1{query.text}/get/parameters/3", "{\"name\":\"filter.years\",\"in\":\"query\",\"schema\":{\"type\":\"array\","
                                                      "\"items\":{\"type\":\"integer\",\"format\":\"int32\"}}}"},
    {P "~1v1~1search~1{query.text}/get/parameters/4/schema",
     "{\"$ref\":\"#/components/schemas/portico.codegen.routes.BookEvent.Kind\"}"},
    {P "~1v1~1search~1{query.text}/get/parameters/5/name", "\"publishedAfter\""},
    {P "~1v1~1search~1{query.text}/get/parameters/6", "{\"name\":\"limit\",\"in\":\"query\",\"required\":true,"
                                                      "\"schema\":{\"type\":\"integer\",\"format\":\"int32\"}}"},
    {P "~1v1~1search~1{query.text}/get/parameters/7", MISSING},
    /* "**" and anonymous wildcards */
    {P "~1v1~1files~1{path}/get/parameters/0/schema", "{\"type\":\"string\",\"pattern\":\"^.*$\"}"},
    {P "~1v1~1wild~1{wildcard1}~1{name}/get/parameters/1/name", "\"wildcard1\""},
    {R "Filter", MISSING},
    {R "BookEvent.Kind/enum", "[\"KIND_UNSPECIFIED\",\"ADDED\",\"REMOVED\"]"},
};

typedef struct doc_case {
    openapi_element_kind_t kind;
    const char *name;
    const char *comment; /* NULL: none */
    int line, col;       /* of the declaration, or of the http option for methods */
    unsigned flags;
} doc_case_t;

static const doc_case_t doc_cases[] = {
    {OPENAPI_ELEMENT_METHOD, "portico.codegen.types.TypeService.CreateResource",
     "Creates a resource.\n\nThe resource's name is assigned by the server.", 139, 5, 0},
    /* the http option after another option: still the http option's line */
    {OPENAPI_ELEMENT_METHOD, "portico.codegen.types.TypeService.Nothing", "Does nothing.", 156, 5, OPENAPI_FLAG_DEPRECATED},
    {OPENAPI_ELEMENT_SERVICE, "portico.codegen.types.TypeService", "Resources of every type.", 134, 1, 0},
    {OPENAPI_ELEMENT_MESSAGE, "portico.codegen.types.Choice", "Oneofs: at most one member of each may be set.", 91, 1, 0},
    {OPENAPI_ELEMENT_MESSAGE, "portico.codegen.types.Color", NULL, 0, 0, 0}, /* an enum, not a message */
    {OPENAPI_ELEMENT_ENUM, "portico.codegen.types.Color", "Colors of things.", 21, 1, 0},
    {OPENAPI_ELEMENT_VALUE, "portico.codegen.types.Color.BLUE", "Like the sky.", 24, 3, 0},
    {OPENAPI_ELEMENT_FIELD, "portico.codegen.types.Choice.text", "A text answer.", 96, 5, 0},
    {OPENAPI_ELEMENT_FIELD, "portico.codegen.types.Choice.nope", NULL, 0, 0, 0},
};

static const doc_case_t behavior_cases[] = {
    {OPENAPI_ELEMENT_FIELD, "portico.codegen.types.Resource.name", "Server-assigned name.", 0, 0, OPENAPI_FLAG_OUTPUT_ONLY},
    {OPENAPI_ELEMENT_FIELD, "portico.codegen.types.Resource.title", "Must be set.", 0, 0, OPENAPI_FLAG_REQUIRED},
    {OPENAPI_ELEMENT_FIELD, "portico.codegen.types.Resource.secret", "Write-only secret.", 0, 0, OPENAPI_FLAG_INPUT_ONLY},
    {OPENAPI_ELEMENT_FIELD, "portico.codegen.types.Resource.old", NULL, 0, 0, OPENAPI_FLAG_DEPRECATED},
    {OPENAPI_ELEMENT_FIELD, "portico.codegen.types.Resource.create_time", NULL, 0, 0,
     OPENAPI_FLAG_OUTPUT_ONLY | OPENAPI_FLAG_IMMUTABLE},
    {OPENAPI_ELEMENT_VALUE, "portico.codegen.types.Color.RED", "Like a fire truck.", 0, 0, 0}, /* a trailing comment */
    {OPENAPI_ELEMENT_METHOD, "portico.codegen.types.TypeService.Nothing", "Does nothing.", 0, 0, OPENAPI_FLAG_DEPRECATED},
};

static void check_docs(const openapi_docs_t *d, const doc_case_t *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const doc_case_t *c = &cases[i];
        const openapi_element_doc_t *doc = openapi_docs_find(d, c->kind, c->name);
        if (c->line == 0 && c->comment == NULL && c->flags == 0) {
            if (doc == NULL)
                CHECK(1);
            else
                TEST_FAIL_("%s: expected no doc", c->name);
            continue;
        }
        if (doc == NULL) {
            TEST_FAIL_("%s: no doc", c->name);
            continue;
        }
        if (c->comment != NULL)
            CHECK_STR_EQ(doc->comment, c->comment);
        else
            CHECK(doc->comment == NULL);
        if (c->line != 0) {
            const openapi_location_t *l = c->kind == OPENAPI_ELEMENT_METHOD ? &doc->http : &doc->where;
            CHECK_STR_EQ(l->file, "test/codegen_types.proto");
            CHECK_INT_EQ(l->line, c->line);
            CHECK_INT_EQ(l->col, c->col);
        }
        CHECK_INT_EQ(doc->flags, c->flags);
    }
}

typedef struct composite_case {
    openapi_composite_t c;
    const char *error; /* NULL: renders; else a substring of the error */
    const char *pointer, *expected;
} composite_case_t;

static const char *const summary_query[] = {"currency"};

static const composite_case_t composite_cases[] = {
    {{.method = "GET",
      .path = "/v1/products/{sku}/summary",
      .summary = "Price and stock of one product.",
      .response_schema = "{\"type\":\"object\",\"properties\":{\"price\":{\"$ref\":\"#/components/schemas/shop.v1.Price\"},"
                         "\"stock\":{\"$ref\":\"#/components/schemas/shop.v1.Stock\"}}}",
      .query_params = summary_query,
      .n_query_params = 1},
     NULL,
     "/paths/~1v1~1products~1{sku}~1summary/get/responses/200/content/application~1json/schema/properties/price",
     "{\"$ref\":\"#/components/schemas/shop.v1.Price\"}"},
    {{.method = "GET", .path = "/v1/products/{sku}/summary"},
     NULL,
     "/paths/~1v1~1products~1{sku}~1summary/get/operationId",
     "\"get_v1_products_sku_summary\""},
    {{.method = "GET", .path = "/v1/products/{sku}/summary", .response_schema = "{}"},
     NULL,
     "/paths/~1v1~1products~1{sku}~1summary/get/parameters",
     "[{\"name\":\"sku\",\"in\":\"path\",\"required\":true,\"schema\":{\"type\":\"string\"}}]"},
    {{.method = "GET", .path = "/v1/products/{sku}/summary", .tag = "composites"}, NULL, "/tags/2/name", "\"composites\""},
    {{.method = "POST", .path = "/v1/carts:price", .operation_id = "PriceCart", .request_schema = "{\"type\":\"object\"}"},
     NULL,
     "/paths/~1v1~1carts:price/post/requestBody/content/application~1json/schema",
     "{\"type\":\"object\"}"},
    {{.method = "GET", .path = "/v1/x", .response_schema = "{\"$ref\":\"#/components/schemas/shop.v1.Nope\"}"},
     "\"#/components/schemas/shop.v1.Nope\", which is not a message or enum",
     NULL,
     NULL},
    {{.method = "GET", .path = "/v1/x", .response_schema = "{\"type\":"}, "response_schema is not a JSON object", NULL, NULL},
    {{.method = "GET", .path = "/v1/x", .response_schema = "[1]"}, "response_schema is not a JSON object", NULL, NULL},
    {{.method = "GET", .path = "/v1/a/**/b"}, "path template", NULL, NULL},
    {{.method = "BREW", .path = "/v1/coffee"}, "not one OpenAPI can describe", NULL, NULL},
};

int main(void)
{
    fixture_t f;
    util_error_t err = {0};

    /* types: the schema mapping */
    if (fixture_load(&f, "codegen_types.pb", "test/codegen_types.proto", 1) != 0)
        return 1;
    json_t *doc = render(&f, NULL, 0, &err);
    CHECK(doc != NULL);
    if (doc != NULL)
        check_pointers(doc, types_cases, sizeof(types_cases) / sizeof(types_cases[0]));
    json_decref(doc);
    check_docs(f.docs, behavior_cases, sizeof(behavior_cases) / sizeof(behavior_cases[0]));
    check_docs(f.docs, doc_cases, sizeof(doc_cases) / sizeof(doc_cases[0]));
    fixture_free(&f);

    /* routes: paths, parameters, bodies, responses */
    if (fixture_load(&f, "codegen_routes.pb", "test/codegen_routes.proto", 1) != 0)
        return 1;
    doc = render(&f, NULL, 0, &err);
    CHECK(doc != NULL);
    if (doc != NULL)
        check_pointers(doc, routes_cases, sizeof(routes_cases) / sizeof(routes_cases[0]));
    json_decref(doc);
    fixture_free(&f);

    /* the example shop: composites; no docs */
    if (fixture_load(&f, "shop.pb", "shop/v1/shop.proto", 1) != 0)
        return 1;
    for (size_t i = 0; i < sizeof(composite_cases) / sizeof(composite_cases[0]); i++) {
        const composite_case_t *c = &composite_cases[i];
        memset(&err, 0, sizeof(err));
        doc = render(&f, &c->c, 1, &err);
        if (c->error != NULL) {
            CHECK(doc == NULL);
            CHECK_INT_EQ(err.code, OPENAPI_ERR_INVALID);
            CHECK_STR_HAS(err.message, c->error);
        } else {
            if (doc == NULL)
                TEST_FAIL_("composite %s %s: %s", c->c.method, c->c.path, err.message);
            else
                check_pointers(doc, &(pointer_case_t){c->pointer, c->expected}, 1);
        }
        json_decref(doc);
    }
    openapi_docs_free(f.docs);
    f.docs = NULL;
    doc = render(&f, NULL, 0, &err);
    static const pointer_case_t nodocs_cases[] = {
        {"/paths/~1v1~1products~1{sku}~1price/get/operationId", "\"PriceService_GetPrice\""},
        {"/paths/~1v1~1products~1{sku}~1price/get/summary", MISSING},
        {"/components/schemas/shop.v1.Price/description", MISSING},
        {"/components/schemas/shop.v1.Price/properties/amountMicros", "{\"type\":\"string\",\"format\":\"int64\"}"},
    };
    CHECK(doc != NULL);
    if (doc != NULL)
        check_pointers(doc, nodocs_cases, sizeof(nodocs_cases) / sizeof(nodocs_cases[0]));
    json_decref(doc);
    fixture_free(&f);

    /* docs from bytes that are not a descriptor set */
    openapi_docs_t *d = openapi_docs_new();
    CHECK_INT_EQ(openapi_docs_add_set(d, (const uint8_t *)"\xff\xff\xff", 3, &err), -1);
    CHECK_STR_HAS(err.message, "not a serialized google.protobuf.FileDescriptorSet");
    CHECK_INT_EQ(openapi_docs_add_file(d, "/nonexistent/x.pb", &err), -1);
    CHECK_STR_HAS(err.message, "/nonexistent/x.pb");
    openapi_docs_free(d);
    return test_summary();
}
