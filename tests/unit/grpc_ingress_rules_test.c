/*
 * grpc_ingress_rules_test.c — the native gRPC ingress's pure decisions (grpc_ingress_rules.c),
 * one table each: which content types pass, which request headers become upstream metadata,
 * which upstream headers and trailers reach the client, the deadline of the upstream call,
 * and the header block that ends a call (trailers and trailers-only answers, grpc-message
 * percent-encoding, the -bin status details kept, transport headers dropped).
 */
#include "http/grpc_ingress_int.h"

#include "test.h"

static void test_content_type(void)
{
    static const struct {
        const char *value;
        int kind;
    } cases[] = {
        {"application/grpc", 0},
        {"application/grpc+proto", 0},
        {"application/grpc;charset=utf-8", 0},
        {"application/grpc+proto; charset=utf-8", 0},
        {"Application/GRPC", 0},
        {"application/grpc+json", 1},
        {"application/grpc+thrift;x=1", 1},
        {"application/grpc-web", -1},
        {"application/grpc-web+proto", -1},
        {"application/grpcx", -1},
        {"application/json", -1},
        {"text/plain", -1},
        {"", -1},
        {"application/grp", -1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = ingress_content_type_kind(cases[i].value, strlen(cases[i].value));
        if (got != cases[i].kind)
            fprintf(stderr, "content-type \"%s\"\n", cases[i].value);
        CHECK_INT_EQ(got, cases[i].kind);
    }
}

static void test_request_headers(void)
{
    static const struct {
        const char *name, *value;
        int forwarded;
    } cases[] = {
        {"x-request-id", "abc", 1},
        {"authorization", "Bearer t", 1},
        {"user-agent", "grpc-c/29.0.0", 1},
        {"x-trace-bin", "AAEC", 1},
        {"grpc-trace-bin", "AAEC", 1},
        {"grpc-tags-bin", "AAEC", 1},
        {"grpc-timeout", "1S", 0},    /* becomes the call's deadline */
        {"grpc-encoding", "gzip", 0}, /* checked by the ingress */
        {"grpc-accept-encoding", "gzip", 0},
        {"grpc-status", "0", 0},
        {"content-type", "application/grpc", 0},
        {"content-length", "12", 0},
        {"te", "trailers", 0},
        {"te", "gzip", 0},
        {"connection", "keep-alive", 0},
        {"keep-alive", "5", 0},
        {"transfer-encoding", "chunked", 0},
        {"upgrade", "h2c", 0},
        {"proxy-connection", "x", 0},
        {"host", "example.com", 0},
        {":path", "/a.B/C", 0},
        {":authority", "example.com", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = ingress_request_header_forwarded(cases[i].name, strlen(cases[i].name), cases[i].value, strlen(cases[i].value));
        if (!got != !cases[i].forwarded)
            fprintf(stderr, "request header %s: %s\n", cases[i].name, cases[i].value);
        CHECK_INT_EQ(!!got, cases[i].forwarded);
    }
}

static void test_response_headers(void)
{
    static const struct {
        const char *name;
        int forwarded;
    } cases[] = {
        {"x-request-id", 1},
        {"x-served-by", 1},
        {"x-detail-bin", 1},
        {"grpc-status-details-bin", 1},
        {"grpc-trace-bin", 1},
        {"date", 1},
        {"grpc-status", 0}, /* written by the ingress */
        {"grpc-message", 0},
        {"grpc-encoding", 0},
        {"grpc-accept-encoding", 0},
        {"grpc-previous-rpc-attempts", 0},
        {"content-type", 0},
        {"content-length", 0},
        {"connection", 0},
        {"transfer-encoding", 0},
        {"te", 0},
        {":status", 0},
        {"", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = ingress_response_header_forwarded(cases[i].name, strlen(cases[i].name));
        if (!got != !cases[i].forwarded)
            fprintf(stderr, "response header %s\n", cases[i].name);
        CHECK_INT_EQ(!!got, cases[i].forwarded);
    }
}

static void test_deadline(void)
{
    static const struct {
        int64_t client_ms;
        uint32_t route_ms;
        int64_t expected;
    } cases[] = {
        {0, 0, 0},     {0, 5000, 5000},    {300, 5000, 300}, {9000, 5000, 5000},
        {300, 0, 300}, {5000, 5000, 5000}, {-1, 700, 700},   {1, 1, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        CHECK_INT_EQ(ingress_deadline_ms(cases[i].client_ms, cases[i].route_ms), cases[i].expected);
}

/* "name: value\n" of every entry */
static void block_text(const nghttp2_nv *nva, size_t n, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(out + used, size - used, "%.*s: %.*s\n", (int)nva[i].namelen, (const char *)nva[i].name,
                         (int)nva[i].valuelen, (const char *)nva[i].value);
        if (w < 0 || (size_t)w >= size - used)
            break;
        used += (size_t)w;
    }
}

static void test_status_block(void)
{
    static const upstream_header_t md[] = {
        {"x-served-by", 11, "shop", 4},
        {"grpc-status-details-bin", 23, "CAUSBG5vcGU", 11},
        {"content-type", 12, "application/grpc", 16},
        {"grpc-encoding", 13, "gzip", 4},
        {"x-empty", 7, "", 0},
    };
    static const struct {
        int http_status;
        grpc_code_t code;
        const char *message;
        size_t n_md;
        int accept_encoding;
        const char *expected;
    } cases[] = {
        /* trailers of a call whose headers went out: status, then the backend's trailers */
        {0, GRPC_CODE_OK, "", 0, 0, "grpc-status: 0\n"},
        {0, GRPC_CODE_NOT_FOUND, "no such sku", 5, 0,
         "grpc-status: 5\ngrpc-message: no such sku\nx-served-by: shop\ngrpc-status-details-bin: CAUSBG5vcGU\nx-empty: \n"},
        /* percent-encoding of the message: '%', non-ASCII and controls */
        {0, GRPC_CODE_INTERNAL, "100% caf\xc3\xa9\n", 0, 0, "grpc-status: 13\ngrpc-message: 100%25 caf%C3%A9%0A\n"},
        /* trailers-only answers: :status and content-type first */
        {200, GRPC_CODE_UNIMPLEMENTED, "unknown method /a.B/C", 0, 0,
         ":status: 200\ncontent-type: application/grpc\ngrpc-status: 12\ngrpc-message: unknown method /a.B/C\n"},
        {200, GRPC_CODE_UNIMPLEMENTED, "grpc-encoding \"gzip\" is not supported", 0, 1,
         ":status: 200\ncontent-type: application/grpc\ngrpc-status: 12\ngrpc-message: grpc-encoding \"gzip\" is not "
         "supported\ngrpc-accept-encoding: identity\n"},
        {415, GRPC_CODE_INVALID_ARGUMENT, "bad", 0, 0,
         ":status: 415\ncontent-type: application/grpc\ngrpc-status: 3\ngrpc-message: bad\n"},
        {200, GRPC_CODE_PERMISSION_DENIED, "", 2, 0,
         ":status: 200\ncontent-type: application/grpc\ngrpc-status: 7\nx-served-by: shop\ngrpc-status-details-bin: CAUSBG5vcGU\n"},
        /* a nonsense HTTP status becomes 500 */
        {42, GRPC_CODE_INTERNAL, "", 0, 0, ":status: 500\ncontent-type: application/grpc\ngrpc-status: 13\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = 0;
        nghttp2_nv *nva = ingress_status_block(cases[i].http_status, cases[i].code, cases[i].message, strlen(cases[i].message), md,
                                               cases[i].n_md, cases[i].accept_encoding, &n);
        CHECK(nva != NULL);
        char text[2048];
        block_text(nva, n, text, sizeof(text));
        CHECK_STR_EQ(text, cases[i].expected);
        free(nva);
    }
    /* a very long message is cut, not refused */
    char *longmsg = malloc(20000);
    memset(longmsg, 'a', 20000);
    size_t n = 0;
    nghttp2_nv *nva = ingress_status_block(0, GRPC_CODE_INTERNAL, longmsg, 20000, NULL, 0, 0, &n);
    CHECK(nva != NULL && n == 2 && nva[1].valuelen == 8192);
    free(nva);
    free(longmsg);
}

int main(void)
{
    test_content_type();
    test_request_headers();
    test_response_headers();
    test_deadline();
    test_status_block();
    return test_summary();
}
