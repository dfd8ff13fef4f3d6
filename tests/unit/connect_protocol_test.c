/*
 * connect_protocol_test.c — the pure parts of the Connect front door (src/http/connect.c):
 * content types, Connect-Timeout-Ms, unary GET query parsing, the error JSON (codes, details
 * with base64 values and decoded "debug"), and the EndStreamResponse JSON.
 */
#include <string.h>

#include "http/connect.h"
#include "proto/wire.h"
#include "test.h"

static const struct {
    const char *ct;
    connect_kind_t kind;
    connect_codec_t codec;
} ct_cases[] = {
    {"application/proto", CONNECT_KIND_UNARY, CONNECT_CODEC_PROTO},
    {"application/json", CONNECT_KIND_UNARY, CONNECT_CODEC_JSON},
    {"application/json; charset=utf-8", CONNECT_KIND_UNARY, CONNECT_CODEC_JSON},
    {"Application/JSON", CONNECT_KIND_UNARY, CONNECT_CODEC_JSON},
    {"application/connect+proto", CONNECT_KIND_STREAM, CONNECT_CODEC_PROTO},
    {"application/connect+json", CONNECT_KIND_STREAM, CONNECT_CODEC_JSON},
    {"application/connect+json;charset=utf-8", CONNECT_KIND_STREAM, CONNECT_CODEC_JSON},
    {"application/connect+thrift", CONNECT_KIND_STREAM, CONNECT_CODEC_NONE},
    {"application/xml", CONNECT_KIND_OTHER, CONNECT_CODEC_NONE},
    {"application/protobuf", CONNECT_KIND_OTHER, CONNECT_CODEC_NONE},
    {"application/grpc", CONNECT_KIND_OTHER, CONNECT_CODEC_NONE},
    {"text/plain", CONNECT_KIND_OTHER, CONNECT_CODEC_NONE},
    {"", CONNECT_KIND_OTHER, CONNECT_CODEC_NONE},
};

static void test_content_types(void)
{
    for (size_t i = 0; i < sizeof(ct_cases) / sizeof(ct_cases[0]); i++) {
        connect_codec_t codec;
        connect_kind_t kind = connect_content_type_parse(ct_cases[i].ct, strlen(ct_cases[i].ct), &codec);
        if (kind != ct_cases[i].kind || codec != ct_cases[i].codec)
            TEST_FAIL_("content type \"%s\": kind %d codec %d", ct_cases[i].ct, kind, codec);
        else
            test_passed_++;
    }
}

static const struct {
    const char *v;
    int64_t ms; /* -1: error */
} timeout_cases[] = {
    {"0", 0}, {"1500", 1500}, {"9999999999", 9999999999LL}, {"", -1}, {"10000000000", -1}, {"1.5", -1}, {"-1", -1}, {"1s", -1},
};

static void test_timeouts(void)
{
    for (size_t i = 0; i < sizeof(timeout_cases) / sizeof(timeout_cases[0]); i++) {
        int64_t ms = -7;
        util_error_t err = {0};
        int rc = connect_timeout_parse(timeout_cases[i].v, strlen(timeout_cases[i].v), &ms, &err);
        if (timeout_cases[i].ms < 0) {
            CHECK_INT_EQ(rc, -1);
            CHECK_STR_HAS(err.message, "Connect-Timeout-Ms");
        } else {
            CHECK_INT_EQ(rc, 0);
            CHECK_INT_EQ(ms, timeout_cases[i].ms);
        }
    }
}

static const struct {
    const char *query;
    int rc; /* 0 or a CONNECT_ERR_* code */
    connect_codec_t codec;
    const char *message; /* expected bytes (as text) or the error substring */
} get_cases[] = {
    {"connect=v1&encoding=json&message=%7B%22sku%22%3A%22ABC-123%22%7D", 0, CONNECT_CODEC_JSON, "{\"sku\":\"ABC-123\"}"},
    /* any order, unknown parameters ignored, '+' is a space */
    {"message=%7B%22a%22:+1%7D&x=1&encoding=json&_=123", 0, CONNECT_CODEC_JSON, "{\"a\": 1}"},
    /* base64 (URL-safe, unpadded) of the proto bytes 0a 03 41 42 43 */
    {"encoding=proto&base64=1&message=CgNBQkM&connect=v1", 0, CONNECT_CODEC_PROTO, "\n\3ABC"},
    {"encoding=proto&base64=1&message=CgNBQkM%3D", 0, CONNECT_CODEC_PROTO, "\n\3ABC"},
    {"encoding=proto&compression=identity", 0, CONNECT_CODEC_PROTO, ""}, /* no message: the empty one */
    {"encoding=proto&message=&compression=", 0, CONNECT_CODEC_PROTO, ""},
    {"connect=v2&encoding=json", CONNECT_ERR_BAD_REQUEST, 0, "connect=v2"},
    {"message=%7B%7D", CONNECT_ERR_ENCODING, 0, "encoding query parameter is missing"},
    {"encoding=cbor&message=x", CONNECT_ERR_ENCODING, 0, "encoding \"cbor\" is not supported"},
    {"encoding=json&compression=gzip&message=x", CONNECT_ERR_COMPRESSION, 0, "compression \"gzip\""},
    {"encoding=json&message=%7", CONNECT_ERR_BAD_REQUEST, 0, "percent-encoding"},
    {"encoding=json&message=%zz", CONNECT_ERR_BAD_REQUEST, 0, "percent-encoding"},
    {"encoding=proto&base64=1&message=C$", CONNECT_ERR_BAD_REQUEST, 0, "not valid base64"},
    {"encoding=proto&base64=yes", CONNECT_ERR_BAD_REQUEST, 0, "base64=yes"},
    {"", CONNECT_ERR_ENCODING, 0, "missing"},
};

static void test_get(void)
{
    for (size_t i = 0; i < sizeof(get_cases) / sizeof(get_cases[0]); i++) {
        util_buf_t msg = UTIL_BUF_INIT;
        util_error_t err = {0};
        connect_codec_t codec = 99;
        int rc = connect_get_parse(get_cases[i].query, strlen(get_cases[i].query), &msg, &codec, &err);
        if (get_cases[i].rc == 0) {
            if (rc != 0) {
                TEST_FAIL_("GET case %zu (%s): %s", i, get_cases[i].query, err.message);
            } else {
                CHECK_INT_EQ(codec, get_cases[i].codec);
                CHECK_INT_EQ(msg.len, strlen(get_cases[i].message));
                CHECK(msg.len == 0 || memcmp(msg.data, get_cases[i].message, msg.len) == 0);
            }
        } else {
            if (rc == 0)
                TEST_FAIL_("GET case %zu (%s) accepted", i, get_cases[i].query);
            else
                CHECK_INT_EQ(err.code, get_cases[i].rc);
            CHECK_STR_HAS(err.message, get_cases[i].message);
        }
        util_buf_dispose(&msg);
    }
}

/* ---- errors ---------------------------------------------------------------------------------- */

static void put_string(util_buf_t *b, uint32_t field, const void *s, size_t len)
{
    wire_put_tag(b, field, 2);
    wire_put_varint(b, len);
    util_buf_append(b, s, len);
}

/* google.rpc.Status{code, message, details: [ErrorInfo{reason, domain}, Any of an unknown type]} */
static void make_status(util_buf_t *st)
{
    util_buf_t info = UTIL_BUF_INIT, any1 = UTIL_BUF_INIT, any2 = UTIL_BUF_INIT;
    put_string(&info, 1, "OUT_OF_STOCK", 12);
    put_string(&info, 2, "shop.example.com", 16);
    put_string(&any1, 1, "type.googleapis.com/google.rpc.ErrorInfo", 40);
    put_string(&any1, 2, info.data, info.len);
    put_string(&any2, 1, "type.googleapis.com/acme.Secret", 31);
    put_string(&any2, 2, "\x08\x01", 2);
    wire_put_tag(st, 1, 0);
    wire_put_varint(st, 9);
    put_string(st, 2, "nope", 4);
    put_string(st, 3, any1.data, any1.len);
    put_string(st, 3, any2.data, any2.len);
    util_buf_dispose(&info);
    util_buf_dispose(&any1);
    util_buf_dispose(&any2);
}

static void test_errors(proto_registry_t *r)
{
    util_buf_t st = UTIL_BUF_INIT;
    make_status(&st);
    static const struct {
        int code;
        const char *msg;
        int details;
        const char *json;
    } cases[] = {
        {5, "no such product", 0, "{\"code\":\"not_found\",\"message\":\"no such product\"}"},
        {1, "", 0, "{\"code\":\"canceled\"}"},
        {0, "odd", 0, "{\"code\":\"unknown\",\"message\":\"odd\"}"},
        {99, "", 0, "{\"code\":\"unknown\"}"},
        {16, "who \"are\" you\n", 0, "{\"code\":\"unauthenticated\",\"message\":\"who \\\"are\\\" you\\n\"}"},
        {9, "nope", 1,
         "{\"code\":\"failed_precondition\",\"message\":\"nope\",\"details\":["
         "{\"type\":\"google.rpc.ErrorInfo\",\"value\":\"CgxPVVRfT0ZfU1RPQ0sSEHNob3AuZXhhbXBsZS5jb20\","
         "\"debug\":{\"reason\":\"OUT_OF_STOCK\",\"domain\":\"shop.example.com\"}},"
         "{\"type\":\"acme.Secret\",\"value\":\"CAE\"}]}"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        util_buf_t out = UTIL_BUF_INIT;
        connect_error_json(&out, r, cases[i].code, cases[i].msg, strlen(cases[i].msg), cases[i].details ? st.data : NULL,
                           cases[i].details ? st.len : 0);
        util_buf_putc(&out, '\0');
        CHECK_STR_EQ((const char *)out.data, cases[i].json);
        util_buf_dispose(&out);
    }
    /* a malformed Status prints no details at all */
    util_buf_t out = UTIL_BUF_INIT;
    connect_error_json(&out, r, 13, "x", 1, (const uint8_t *)"\x1a\x09zz", 4);
    util_buf_putc(&out, '\0');
    CHECK_STR_EQ((const char *)out.data, "{\"code\":\"internal\",\"message\":\"x\"}");
    util_buf_dispose(&out);

    /* EndStreamResponse: metadata grouped by name, details from the trailer */
    util_buf_t b64 = UTIL_BUF_INIT;
    grpc_metadata_bin_encode(&b64, st.data, st.len);
    upstream_header_t trailers[] = {
        {"x-trace", 7, "t1", 2},
        {"X-Multi", 7, "a", 1},
        {"grpc-status-details-bin", 23, (const char *)b64.data, b64.len},
        {"x-multi", 7, "b", 1},
        {"content-type", 12, "application/grpc", 16},
    };
    static const struct {
        int code;
        size_t n;
        const char *json;
    } end_cases[] = {
        {0, 0, "{}"},
        {0, 2, "{\"metadata\":{\"x-trace\":[\"t1\"],\"x-multi\":[\"a\"]}}"},
        {0, 5, "{\"metadata\":{\"x-trace\":[\"t1\"],\"x-multi\":[\"a\",\"b\"]}}"},
        {14, 0, "{\"error\":{\"code\":\"unavailable\",\"message\":\"down\"}}"},
        {9, 5,
         "{\"error\":{\"code\":\"failed_precondition\",\"message\":\"down\",\"details\":[{\"type\":\"google.rpc.ErrorInfo\","
         "\"value\":\"CgxPVVRfT0ZfU1RPQ0sSEHNob3AuZXhhbXBsZS5jb20\",\"debug\":{\"reason\":\"OUT_OF_STOCK\",\"domain\":"
         "\"shop.example.com\"}},{\"type\":\"acme.Secret\",\"value\":\"CAE\"}]},\"metadata\":{\"x-trace\":[\"t1\"],"
         "\"x-multi\":[\"a\",\"b\"]}}"},
    };
    for (size_t i = 0; i < sizeof(end_cases) / sizeof(end_cases[0]); i++) {
        util_buf_t o = UTIL_BUF_INIT;
        connect_end_stream_json(&o, r, end_cases[i].code, end_cases[i].code ? "down" : "", end_cases[i].code ? 4 : 0, trailers,
                                end_cases[i].n);
        util_buf_putc(&o, '\0');
        CHECK_STR_EQ((const char *)o.data, end_cases[i].json);
        util_buf_dispose(&o);
    }
    util_buf_dispose(&b64);
    util_buf_dispose(&st);
}

int main(void)
{
    test_content_types();
    test_timeouts();
    test_get();
    proto_registry_t *r = proto_registry_new();
    util_error_t err;
    if (r == NULL || proto_registry_load_builtin(r, &err) != 0) {
        TEST_FAIL_("builtin registry: %s", err.message);
    } else {
        test_errors(r);
    }
    proto_registry_free(r);
    return test_summary();
}
