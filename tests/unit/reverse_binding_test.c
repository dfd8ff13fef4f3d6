/*
 * reverse_binding_test.c — src/transcode/reverse.c, the gRPC → REST mapping without I/O:
 *   - requests: message (as JSON) → HTTP method, path + query, body, content type; or the
 *     error that names the field
 *   - rules the mapping refuses
 *   - responses: body → output message (printed back as JSON to compare)
 *   - the stream splitter, fed in chunks of every size, and the grpc-gateway stream wrappers
 *
 * The descriptors come from tests/integration/reverse/reverse_test.proto, compiled with
 * protoc when the test starts.
 */
#include "transcode/reverse.h"

#include <stdlib.h>
#include <unistd.h>

#include "test.h"

static proto_registry_t *registry;

static proto_registry_t *load_registry(void)
{
    const char *src = getenv("PORTICO_SOURCE_DIR");
    if (src == NULL)
        src = ".";
    char out[] = "/tmp/portico-reverse-test-XXXXXX";
    int fd = mkstemp(out);
    if (fd < 0)
        return NULL;
    close(fd);
    char cmd[8192];
    snprintf(cmd, sizeof(cmd),
             "protoc --include_imports -I %s/descriptors -I /usr/include -I %s/tests/integration/reverse --descriptor_set_out=%s "
             "%s/tests/integration/reverse/reverse_test.proto",
             src, src, out, src);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot compile reverse_test.proto: %s\n", cmd);
        unlink(out);
        return NULL;
    }
    proto_registry_t *r = proto_registry_new();
    util_error_t err;
    if (proto_registry_load_file(r, out, &err) != 0 || proto_registry_load_builtin(r, &err) != 0) {
        fprintf(stderr, "cannot load the descriptors: %s\n", err.message);
        proto_registry_free(r);
        r = NULL;
    }
    unlink(out);
    return r;
}

static const proto_method_t *method(const char *name)
{
    char full[256];
    snprintf(full, sizeof(full), "portico.reversetest.%s", name);
    const proto_method_t *m = proto_registry_find_method(registry, full);
    if (m == NULL)
        TEST_FAIL_("no method %s", full);
    return m;
}

/* JSON options of a case: 'p' proto_names, 'd' emit_defaults, 'i' enum_ints. */
static codec_options_t options(const char *flags)
{
    codec_options_t o = {0};
    for (const char *f = flags != NULL ? flags : ""; *f; f++) {
        if (*f == 'p')
            o.proto_names = 1;
        else if (*f == 'd')
            o.emit_defaults = 1;
        else if (*f == 'i')
            o.enum_ints = 1;
    }
    return o;
}

/* ---- requests ----------------------------------------------------------------------------- */

typedef struct {
    const char *method;
    const char *flags;
    const char *request; /* JSON of the input message */
    const char *http_method;
    const char *target;
    const char *body; /* NULL: no body */
    const char *content_type;
    int error;
    const char *error_has;
} request_case_t;

static const request_case_t request_cases[] = {
    /* path variables */
    {"Reviews.GetReviews", "", "{\"sku\":\"ABC-123\"}", "GET", "/reviews/ABC-123", NULL, NULL, 0, NULL},
    {"Reviews.GetReviews", "", "{\"sku\":\"a b/c?d%e\"}", "GET", "/reviews/a%20b%2Fc%3Fd%25e", NULL, NULL, 0, NULL},
    {"Reviews.GetReviews", "", "{\"sku\":\"caf\\u00e9~._-\"}", "GET", "/reviews/caf%C3%A9~._-", NULL, NULL, 0, NULL},
    {"Reviews.GetReviews", "", "{}", NULL, NULL, NULL, NULL, REVERSE_ERR_ARGUMENT, "path variable \"sku\" is empty"},
    {"Reviews.WatchReviews", "", "{\"sku\":\"S\",\"count\":3}", "GET", "/reviews/S:watch?count=3", NULL, NULL, 0, NULL},
    {"Library.GetBook", "", "{\"name\":\"shelves/1/books/2\",\"view\":\"full\"}", "GET", "/v1/shelves/1/books/2?view=full", NULL,
     NULL, 0, NULL},
    {"Library.GetBook", "", "{\"name\":\"shelves/a b/books/\\u00fc\"}", "GET", "/v1/shelves/a%20b/books/%C3%BC", NULL, NULL, 0,
     NULL},
    {"Library.GetBook", "", "{\"name\":\"shelves/1\"}", NULL, NULL, NULL, NULL, REVERSE_ERR_ARGUMENT,
     "path variable \"name\": \"shelves/1\" does not match the template \"shelves/*/books/*\""},
    {"Library.GetBook", "", "{\"name\":\"shelves/1/cds/2\"}", NULL, NULL, NULL, NULL, REVERSE_ERR_ARGUMENT, "does not match"},
    {"Library.GetBook", "", "{\"name\":\"shelves//books/2\"}", NULL, NULL, NULL, NULL, REVERSE_ERR_ARGUMENT, "does not match"},
    {"Library.GetBook", "", "{\"name\":\"shelves/1/books/2/x\"}", NULL, NULL, NULL, NULL, REVERSE_ERR_ARGUMENT, "does not match"},
    {"Library.DeleteBook", "", "{\"name\":\"shelves/1/books/2\"}", "DELETE", "/v1/shelves/1/books/2", NULL, NULL, 0, NULL},
    {"Library.GetFile", "", "{\"path\":\"a/b/c.txt\"}", "GET", "/files/a/b/c.txt", NULL, NULL, 0, NULL},
    {"Library.GetFile", "", "{\"path\":\"a b/\\u00fc?\"}", "GET", "/files/a%20b/%C3%BC%3F", NULL, NULL, 0, NULL},
    {"Library.GetFile", "", "{\"path\":\"a//b\"}", NULL, NULL, NULL, NULL, REVERSE_ERR_ARGUMENT,
     "does not match the template \"**\""},
    {"Library.GetFile", "", "{\"path\":\"/abs\"}", NULL, NULL, NULL, NULL, REVERSE_ERR_ARGUMENT, "does not match"},
    {"Library.Custom", "", "{\"path\":\"p\"}", "HEAD", "/custom/p", NULL, NULL, 0, NULL},

    /* query: every set field not in the path, dotted proto names, repeated as repeated */
    {"Reviews.GetReviews", "",
     "{\"sku\":\"X\",\"pageSize\":10,\"tags\":[\"a\",\"b c\"],\"filter\":{\"author\":\"ana\",\"minRating\":4,\"color\":\"RED\"},"
     "\"big\":\"9007199254740993\",\"ratio\":0.1,\"verbose\":true,\"since\":\"2024-01-02T03:04:05Z\",\"lang\":\"en\","
     "\"token\":\"AAE=\",\"color\":\"GREEN\",\"mask\":\"a,b.c\",\"ids\":[1,-2]}",
     "GET",
     "/reviews/X?page_size=10&tags=a&tags=b%20c&filter.author=ana&filter.min_rating=4&filter.color=RED&big=9007199254740993"
     "&ratio=0.1&verbose=true&since=2024-01-02T03%3A04%3A05Z&lang=en&token=AAE%3D&color=GREEN&mask=a%2Cb.c&ids=1&ids=-2",
     NULL, NULL, 0, NULL},
    {"Reviews.GetReviews", "i", "{\"sku\":\"X\",\"color\":\"GREEN\",\"filter\":{\"color\":\"RED\"}}", "GET",
     "/reviews/X?filter.color=1&color=2", NULL, NULL, 0, NULL},
    {"Reviews.GetReviews", "d", "{\"sku\":\"X\",\"ratio\":1e300}", "GET", "/reviews/X?ratio=1e%2B300", NULL, NULL, 0, NULL},
    {"Reviews.GetReviews", "", "{\"sku\":\"X\",\"lang\":\"\"}", "GET", "/reviews/X?lang=", NULL, NULL, 0, NULL},
    {"Reviews.GetReviews", "", "{\"sku\":\"X\",\"labels\":{\"k\":\"v\"}}", NULL, NULL, NULL, NULL, REVERSE_ERR_ARGUMENT,
     "field \"labels\" is a map"},
    {"Reviews.GetReviews", "", "{\"sku\":\"X\",\"filters\":[{\"author\":\"a\"}]}", NULL, NULL, NULL, NULL, REVERSE_ERR_ARGUMENT,
     "field \"filters\" is a repeated message"},
    {"Reviews.GetReviews", "", "{\"sku\":\"X\",\"extra\":{\"a\":1}}", NULL, NULL, NULL, NULL, REVERSE_ERR_ARGUMENT,
     "field \"extra\" (google.protobuf.Struct) cannot be sent as a query parameter"},
    {"Library.ListBooks", "", "{\"parent\":\"shelves/1\",\"pageSize\":2}", "GET", "/v1/shelves/1/books?page_size=2", NULL, NULL, 0,
     NULL},
    {"Library.Echo", "", "{\"id\":\"e1\",\"status\":404,\"body\":\"x&y=z\"}", "GET", "/echo/e1?status=404&body=x%26y%3Dz", NULL,
     NULL, 0, NULL},

    /* body: "field" */
    {"Library.CreateBook", "", "{\"parent\":\"shelves/7\",\"book\":{\"title\":\"T\",\"pages\":3},\"bookId\":\"b1\"}", "POST",
     "/v1/shelves/7/books?book_id=b1", "{\"title\":\"T\",\"pages\":3}", "application/json", 0, NULL},
    {"Library.CreateBook", "", "{\"parent\":\"shelves/7\"}", "POST", "/v1/shelves/7/books", "{}", "application/json", 0, NULL},
    {"Library.CreateBook", "d", "{\"parent\":\"shelves/7\",\"book\":{\"title\":\"T\"}}", "POST", "/v1/shelves/7/books",
     "{\"name\":\"\",\"title\":\"T\",\"pages\":0}", "application/json", 0, NULL},
    {"Library.UpdateBook", "", "{\"book\":{\"name\":\"shelves/1/books/2\",\"title\":\"New\"},\"updateMask\":\"title\"}", "PATCH",
     "/v1/shelves/1/books/2?update_mask=title", "{\"name\":\"shelves/1/books/2\",\"title\":\"New\"}", "application/json", 0, NULL},
    {"Library.UpdateBook", "", "{\"book\":{\"title\":\"New\"}}", NULL, NULL, NULL, NULL, REVERSE_ERR_ARGUMENT,
     "path variable \"book.name\" is empty"},
    {"Library.SetTags", "", "{\"shelf\":\"s\",\"tags\":[\"x\",\"y\"]}", "PUT", "/shelves/s/tags", "[\"x\",\"y\"]",
     "application/json", 0, NULL},
    {"Library.SetTags", "", "{\"shelf\":\"s\"}", "PUT", "/shelves/s/tags", "[]", "application/json", 0, NULL},
    {"Library.Upload", "", "{\"name\":\"n\",\"file\":{\"contentType\":\"text/plain\",\"data\":\"aGVsbG8=\"}}", "PUT", "/upload/n",
     "hello", "text/plain", 0, NULL},
    {"Library.Upload", "", "{\"name\":\"n\",\"file\":{\"data\":\"AAEC\"}}", "PUT", "/upload/n", "\x00\x01\x02",
     "application/octet-stream", 0, NULL},
    {"Library.Upload", "", "{\"name\":\"n\",\"file\":{\"contentType\":\"text/plain\\r\\nx-injected: 1\"}}", NULL, NULL, NULL, NULL,
     REVERSE_ERR_ARGUMENT, "content_type holds a byte that a header cannot carry"},

    /* body: "*" — the message without its path fields (also when emit_defaults would print them) */
    {"Library.MoveBook", "", "{\"name\":\"shelves/1/books/2\",\"destination\":\"shelves/9\",\"force\":true}", "POST",
     "/v1/shelves/1/books/2:move", "{\"destination\":\"shelves/9\",\"force\":true}", "application/json", 0, NULL},
    {"Library.MoveBook", "d", "{\"name\":\"shelves/1/books/2\"}", "POST", "/v1/shelves/1/books/2:move",
     "{\"destination\":\"\",\"force\":false,\"priority\":0}", "application/json", 0, NULL},
    {"Library.MoveBook", "p", "{\"name\":\"shelves/1/books/2\",\"priority\":5}", "POST", "/v1/shelves/1/books/2:move",
     "{\"priority\":5}", "application/json", 0, NULL},
    {"Library.EchoPost", "d", "{\"id\":\"x\",\"body\":\"b\"}", "POST", "/echo/x", "{\"status\":0,\"body\":\"b\",\"delayMs\":0}",
     "application/json", 0, NULL},
    {"Library.EchoPost", "dp", "{\"id\":\"x\",\"delayMs\":7}", "POST", "/echo/x", "{\"status\":0,\"body\":\"\",\"delay_ms\":7}",
     "application/json", 0, NULL},
};

static void test_requests(void)
{
    for (size_t i = 0; i < sizeof(request_cases) / sizeof(request_cases[0]); i++) {
        const request_case_t *c = &request_cases[i];
        const proto_method_t *m = method(c->method);
        if (m == NULL)
            continue;
        codec_options_t o = options(c->flags);
        util_error_t err = {0};
        reverse_rule_t *rule = reverse_rule_new(registry, m, NULL, &o, &err);
        if (rule == NULL) {
            TEST_FAIL_("case %zu (%s): rule: %s", i, c->method, err.message);
            continue;
        }
        util_buf_t pb = UTIL_BUF_INIT;
        if (codec_json_to_pb(registry, m->input, c->request, strlen(c->request), NULL, &pb, &err) != 0) {
            TEST_FAIL_("case %zu (%s): request JSON: %s", i, c->method, err.message);
            reverse_rule_free(rule);
            continue;
        }
        reverse_http_request_t req;
        reverse_http_request_init(&req);
        int rc = reverse_build_request(rule, pb.data, pb.len, &req, &err);
        if (c->error != 0) {
            if (rc == 0 || err.code != c->error || strstr(err.message, c->error_has) == NULL)
                TEST_FAIL_("case %zu (%s %s): expected error %d \"%s\", got rc %d code %d \"%s\" target %s", i, c->method,
                           c->request, c->error, c->error_has, rc, err.code, err.message, (const char *)req.target.data);
            else
                test_passed_++;
        } else if (rc != 0) {
            TEST_FAIL_("case %zu (%s %s): %s", i, c->method, c->request, err.message);
        } else {
            CHECK_STR_EQ(req.method, c->http_method);
            CHECK_STR_EQ((const char *)req.target.data, c->target);
            CHECK_INT_EQ(req.has_body, c->body != NULL);
            if (c->body != NULL) {
                size_t blen = strcmp(c->content_type, "application/octet-stream") == 0 ? 3 : strlen(c->body);
                if (req.body.len != blen || memcmp(req.body.data, c->body, blen) != 0)
                    TEST_FAIL_("case %zu (%s): body \"%.*s\", expected \"%s\"", i, c->method, (int)req.body.len,
                               (const char *)req.body.data, c->body);
                else
                    test_passed_++;
                CHECK_STR_EQ((const char *)req.content_type.data, c->content_type);
            }
        }
        reverse_http_request_dispose(&req);
        util_buf_dispose(&pb);
        reverse_rule_free(rule);
    }

    /* malformed protobuf */
    reverse_rule_t *rule = reverse_rule_new(registry, method("Reviews.GetReviews"), NULL, NULL, NULL);
    reverse_http_request_t req;
    reverse_http_request_init(&req);
    util_error_t err = {0};
    CHECK(reverse_build_request(rule, (const uint8_t *)"\x0a\x09short", 7, &req, &err) != 0);
    CHECK_INT_EQ(err.code, REVERSE_ERR_WIRE);
    reverse_http_request_dispose(&req);
    reverse_rule_free(rule);
    rule = reverse_rule_new(registry, method("Library.MoveBook"), NULL, NULL, NULL);
    reverse_http_request_init(&req);
    CHECK(reverse_build_request(rule, (const uint8_t *)"\xff\xff\xff", 3, &req, &err) != 0);
    CHECK_INT_EQ(err.code, REVERSE_ERR_WIRE);
    reverse_http_request_dispose(&req);
    reverse_rule_free(rule);
}

/* ---- explicit rules (as an additional binding would give): body "*" around nested path fields -- */

typedef struct {
    const char *method;
    const char *flags;
    const char *http_method;
    const char *path;
    const char *body_rule;
    const char *request;
    const char *target;
    const char *body;
} alt_case_t;

static const alt_case_t alt_cases[] = {
    {"Library.UpdateBook", "", "PATCH", "/v1/{book.name=shelves/*/books/*}", "*",
     "{\"book\":{\"name\":\"shelves/1/books/2\",\"title\":\"New\"},\"updateMask\":\"title\"}", "/v1/shelves/1/books/2",
     "{\"book\":{\"title\":\"New\"},\"updateMask\":\"title\"}"},
    {"Library.UpdateBook", "d", "PATCH", "/v1/{book.name=shelves/*/books/*}", "*", "{\"book\":{\"name\":\"shelves/1/books/2\"}}",
     "/v1/shelves/1/books/2", "{\"book\":{\"title\":\"\",\"pages\":0}}"},
    {"Library.UpdateBook", "", "PATCH", "/v1/{book.name=shelves/*/books/*}", "*", "{\"book\":{\"name\":\"shelves/1/books/2\"}}",
     "/v1/shelves/1/books/2", "{\"book\":{}}"},
    {"Library.MoveBook", "", "POST", "/m/{destination}", "*", "{\"name\":\"n\",\"destination\":\"d\",\"force\":true}", "/m/d",
     "{\"name\":\"n\",\"force\":true}"},
    {"Library.MoveBook", "", "POST", "/m/{priority}/{force}", "*", "{\"name\":\"n\",\"force\":true,\"priority\":3}", "/m/3/true",
     "{\"name\":\"n\"}"},
    {"Library.MoveBook", "d", "POST", "/m/{priority}/{force}", "*", "{}", "/m/0/false", "{\"name\":\"\",\"destination\":\"\"}"},
    {"Library.GetBook", "", "GET", "/b/{view}:get", "", "{\"view\":\"v\",\"name\":\"a/b\"}", "/b/v:get?name=a%2Fb", NULL},
};

static void test_alt_rules(void)
{
    for (size_t i = 0; i < sizeof(alt_cases) / sizeof(alt_cases[0]); i++) {
        const alt_case_t *c = &alt_cases[i];
        const proto_method_t *m = method(c->method);
        proto_http_rule_t rule = {c->http_method, c->path, c->body_rule, "", NULL, 0};
        codec_options_t o = options(c->flags);
        util_error_t err = {0};
        reverse_rule_t *rr = reverse_rule_new(registry, m, &rule, &o, &err);
        if (rr == NULL) {
            TEST_FAIL_("alt case %zu: %s", i, err.message);
            continue;
        }
        util_buf_t pb = UTIL_BUF_INIT;
        CHECK(codec_json_to_pb(registry, m->input, c->request, strlen(c->request), NULL, &pb, &err) == 0);
        reverse_http_request_t req;
        reverse_http_request_init(&req);
        if (reverse_build_request(rr, pb.data, pb.len, &req, &err) != 0) {
            TEST_FAIL_("alt case %zu: %s", i, err.message);
        } else {
            CHECK_STR_EQ((const char *)req.target.data, c->target);
            CHECK_INT_EQ(req.has_body, c->body != NULL);
            if (c->body != NULL) {
                util_buf_putc(&req.body, 0);
                CHECK_STR_EQ((const char *)req.body.data, c->body);
            }
        }
        reverse_http_request_dispose(&req);
        util_buf_dispose(&pb);
        reverse_rule_free(rr);
    }
}

/* ---- rules that cannot be mapped ---------------------------------------------------------- */

typedef struct {
    const char *method;
    const char *error_has;
} rule_case_t;

static const rule_case_t rule_cases[] = {
    {"Library.Wild", "has a wildcard outside any {variable}"},
    {"Library.AnyMethod", "custom kind \"*\""},
    {"Library.NoRule", "has no google.api.http rule"},
    {"Library.Upstream", "is client streaming"},
};

static void test_rules(void)
{
    for (size_t i = 0; i < sizeof(rule_cases) / sizeof(rule_cases[0]); i++) {
        util_error_t err = {0};
        reverse_rule_t *rule = reverse_rule_new(registry, method(rule_cases[i].method), NULL, NULL, &err);
        CHECK(rule == NULL);
        CHECK_INT_EQ(err.code, REVERSE_ERR_RULE);
        CHECK_STR_HAS(err.message, rule_cases[i].error_has);
        CHECK_STR_HAS(err.message, rule_cases[i].method);
        reverse_rule_free(rule);
    }
    /* an explicit rule instead of the method's own (an additional binding, say) */
    proto_http_rule_t alt = {"GET", "/alt/{name}", "", "", NULL, 0};
    reverse_rule_t *rule = reverse_rule_new(registry, method("Library.GetBook"), &alt, NULL, NULL);
    CHECK(rule != NULL);
    CHECK_STR_EQ(reverse_rule_path(rule), "/alt/{name}");
    CHECK_STR_EQ(reverse_rule_http_method(rule), "GET");
    reverse_http_request_t req;
    reverse_http_request_init(&req);
    CHECK(reverse_build_request(rule, (const uint8_t *)"\x0a\x01x", 3, &req, NULL) == 0);
    CHECK_STR_EQ((const char *)req.target.data, "/alt/x");
    reverse_http_request_dispose(&req);
    reverse_rule_free(rule);
    util_error_t err = {0};
    proto_http_rule_t bad_kind = {"GE T", "/a/{name}", "", "", NULL, 0};
    CHECK(reverse_rule_new(registry, method("Library.GetBook"), &bad_kind, NULL, &err) == NULL);
    CHECK_STR_HAS(err.message, "custom kind \"GE T\" is not an HTTP method token");
    proto_http_rule_t bad_path = {"GET", "/a/{nope}", "", "", NULL, 0};
    CHECK(reverse_rule_new(registry, method("Library.GetBook"), &bad_path, NULL, &err) == NULL);
    CHECK_STR_HAS(err.message, "nope");
}

/* ---- responses ---------------------------------------------------------------------------- */

typedef struct {
    const char *method;
    const char *body;
    const char *content_type;
    const char *expect; /* the output message printed as JSON */
    const char *error_has;
} response_case_t;

static const response_case_t response_cases[] = {
    {"Reviews.GetReviews",
     "{\"sku\":\"ABC\",\"average\":4.5,\"count\":2,\"reviews\":[{\"author\":\"a\",\"rating\":5,\"text\":\"t\",\"likes\":3}],"
     "\"unknown\":{}}",
     NULL, "{\"sku\":\"ABC\",\"average\":4.5,\"count\":2,\"reviews\":[{\"author\":\"a\",\"rating\":5,\"text\":\"t\"}]}", NULL},
    {"Reviews.GetReviews", "", NULL, "{}", NULL},
    {"Reviews.GetReviews", " \r\n null \n", NULL, "{}", NULL},
    {"Reviews.GetReviews", "{\"sku\":", NULL, NULL, "the response is not a valid portico.reversetest.ProductReviews"},
    {"Reviews.GetReviews", "{\"count\":\"many\"}", NULL, NULL, "count"},
    {"Reviews.GetReviews", "[1,2]", NULL, NULL, "not a valid"},
    {"Library.ListBooks", "[{\"name\":\"b1\"},{\"name\":\"b2\",\"pages\":7}]", NULL,
     "{\"books\":[{\"name\":\"b1\"},{\"name\":\"b2\",\"pages\":7}]}", NULL},
    {"Library.ListBooks", "{\"books\":[]}", NULL, NULL, "the response is not a valid portico.reversetest.ListBooksResponse.books"},
    {"Library.Download", "raw bytes", "image/png", "{\"contentType\":\"image/png\",\"data\":\"cmF3IGJ5dGVz\"}", NULL},
    {"Library.Download", "", NULL, "{}", NULL},
    {"Library.DeleteBook", "{}", NULL, "{}", NULL},
    {"Library.GetBook", "{\"name\":\"n\",\"published\":\"2024-05-06T07:08:09Z\"}", NULL,
     "{\"name\":\"n\",\"published\":\"2024-05-06T07:08:09Z\"}", NULL},
};

static void test_responses(void)
{
    for (size_t i = 0; i < sizeof(response_cases) / sizeof(response_cases[0]); i++) {
        const response_case_t *c = &response_cases[i];
        const proto_method_t *m = method(c->method);
        reverse_rule_t *rule = reverse_rule_new(registry, m, NULL, NULL, NULL);
        util_buf_t pb = UTIL_BUF_INIT, json = UTIL_BUF_INIT;
        util_error_t err = {0};
        int rc = reverse_parse_response(rule, c->body, strlen(c->body), c->content_type,
                                        c->content_type ? strlen(c->content_type) : 0, &pb, &err);
        if (c->error_has != NULL) {
            CHECK(rc != 0);
            CHECK_INT_EQ(err.code, REVERSE_ERR_RESPONSE);
            CHECK_STR_HAS(err.message, c->error_has);
        } else if (rc != 0) {
            TEST_FAIL_("response case %zu (%s): %s", i, c->method, err.message);
        } else {
            CHECK(codec_pb_to_json(registry, m->output, pb.data, pb.len, NULL, &json, &err) == 0);
            util_buf_putc(&json, 0);
            CHECK_STR_EQ((const char *)json.data, c->expect);
        }
        util_buf_dispose(&pb);
        util_buf_dispose(&json);
        reverse_rule_free(rule);
    }
}

/* ---- the stream splitter ---------------------------------------------------------------- */

typedef struct {
    const char *input;
    const char *expect; /* elements joined by '|' */
    const char *error_has;
    size_t max_element;
} split_case_t;

static const split_case_t split_cases[] = {
    {"[{\"n\":1},{\"n\":2}]", "{\"n\":1}|{\"n\":2}", NULL, 0},
    {" [ 1 , \"a,b]\" , {\"x\":[1,{\"y\":\"]}\"}]} , true,null ] \n", "1|\"a,b]\"|{\"x\":[1,{\"y\":\"]}\"}]}|true|null", NULL, 0},
    {"{\"n\":1}\n{\"n\":2}\n", "{\"n\":1}|{\"n\":2}", NULL, 0},
    {"{\"n\":1}{\"n\":2}\r\n\r\n{\"n\":3}", "{\"n\":1}|{\"n\":2}|{\"n\":3}", NULL, 0},
    {"{\"s\":\"}\\\"{\\\\\"}", "{\"s\":\"}\\\"{\\\\\"}", NULL, 0},
    {"{\n  \"pretty\": [\n    1\n  ]\n}\n", "{\n  \"pretty\": [\n    1\n  ]\n}", NULL, 0},
    {"1 2\n-3.5e2", "1|2|-3.5e2", NULL, 0},
    {"[]", "", NULL, 0},
    {"  ", "", NULL, 0},
    {"", "", NULL, 0},
    {"[1,]", NULL, "a value was expected", 0},
    {"[,1]", NULL, "a value was expected", 0},
    {"[1 2]", NULL, "',' or ']' was expected", 0},
    {"[1]x", NULL, "data after the end of the JSON array", 0},
    {"[{\"a\":1}", NULL, "before the JSON array was closed", 0},
    {"{\"a\":", NULL, "ended inside an element", 0},
    {"}", NULL, "a value was expected", 0},
    {"{\"a\":\"0123456789\"}", NULL, "over the size limit", 10},
    {"[12345678901]", NULL, "over the size limit", 10},
};

typedef struct {
    util_buf_t got;
    int n;
    int stop_after;
} split_rec_t;

static int on_elem(void *ctx, const char *e, size_t len)
{
    split_rec_t *r = ctx;
    if (r->n++)
        util_buf_putc(&r->got, '|');
    util_buf_append(&r->got, e, len);
    return r->stop_after != 0 && r->n == r->stop_after;
}

static void test_splitter(void)
{
    for (size_t i = 0; i < sizeof(split_cases) / sizeof(split_cases[0]); i++) {
        const split_case_t *c = &split_cases[i];
        size_t len = strlen(c->input);
        for (size_t chunk = 1; chunk <= (len ? len : 1); chunk++) {
            reverse_splitter_t s;
            reverse_splitter_init(&s, c->max_element);
            split_rec_t r = {UTIL_BUF_INIT, 0, 0};
            util_error_t err = {0};
            int rc = 0;
            for (size_t off = 0; off < len && rc == 0; off += chunk)
                rc = reverse_splitter_feed(&s, c->input + off, len - off < chunk ? len - off : chunk, on_elem, &r, &err);
            if (rc == 0)
                rc = reverse_splitter_finish(&s, on_elem, &r, &err);
            util_buf_putc(&r.got, 0);
            int ok = c->error_has != NULL ? rc < 0 && strstr(err.message, c->error_has) != NULL
                                          : rc == 0 && strcmp((const char *)r.got.data, c->expect) == 0;
            if (!ok) {
                TEST_FAIL_("split case %zu \"%s\" (chunks of %zu): rc %d \"%s\" got \"%s\"", i, c->input, chunk, rc, err.message,
                           (const char *)r.got.data);
                util_buf_dispose(&r.got);
                reverse_splitter_dispose(&s);
                break;
            }
            test_passed_++;
            util_buf_dispose(&r.got);
            reverse_splitter_dispose(&s);
        }
    }
    /* a callback that stops the feed */
    reverse_splitter_t s;
    reverse_splitter_init(&s, 0);
    split_rec_t r = {UTIL_BUF_INIT, 0, 2};
    CHECK_INT_EQ(reverse_splitter_feed(&s, "[1,2,3]", 7, on_elem, &r, NULL), 1);
    CHECK_INT_EQ(r.n, 2);
    util_buf_dispose(&r.got);
    reverse_splitter_dispose(&s);
}

/* ---- grpc-gateway stream wrappers ---------------------------------------------------------- */

typedef struct {
    const char *elem;
    int kind;
    const char *inner;
} unwrap_case_t;

static const unwrap_case_t unwrap_cases[] = {
    {"{\"result\":{\"n\":1}}", 1, "{\"n\":1}"},
    {" { \"result\" : {\"n\":1} } ", 1, "{\"n\":1}"},
    {"{\"error\":{\"code\":5,\"message\":\"gone\"}}", 2, "{\"code\":5,\"message\":\"gone\"}"},
    {"{\"result\":{\"n\":1},\"x\":2}", 0, NULL},
    {"{\"n\":1}", 0, NULL},
    {"[1]", 0, NULL},
    {"{}", 0, NULL},
};

static void test_unwrap(void)
{
    reverse_rule_t *rule = reverse_rule_new(registry, method("Reviews.WatchReviews"), NULL, NULL, NULL);
    for (size_t i = 0; i < sizeof(unwrap_cases) / sizeof(unwrap_cases[0]); i++) {
        const unwrap_case_t *c = &unwrap_cases[i];
        const char *inner = NULL;
        size_t inner_len = 0;
        int kind = reverse_stream_unwrap(rule, c->elem, strlen(c->elem), &inner, &inner_len);
        CHECK_INT_EQ(kind, c->kind);
        if (c->inner != NULL) {
            CHECK_INT_EQ(inner_len, strlen(c->inner));
            CHECK(inner != NULL && memcmp(inner, c->inner, inner_len) == 0);
        }
    }
    reverse_rule_free(rule);
}

int main(void)
{
    registry = load_registry();
    if (registry == NULL) {
        TEST_FAIL_("no registry");
        return test_summary();
    }
    test_requests();
    test_alt_rules();
    test_rules();
    test_responses();
    test_splitter();
    test_unwrap();
    proto_registry_free(registry);
    return test_summary();
}
