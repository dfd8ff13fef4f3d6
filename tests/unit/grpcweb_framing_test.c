/*
 * grpcweb_framing_test.c — the pure parts of the gRPC-Web front door (src/http/grpcweb.c):
 * content types, the text-mode body decoder (padded chunks concatenated), the request frame
 * walker and its gRPC status for each malformation, and the trailers frame.
 */
#include <string.h>

#include "http/grpcweb.h"
#include "test.h"
#include "util/base64.h"

static const struct {
    const char *ct;
    grpcweb_format_t f;
} ct_cases[] = {
    {"application/grpc-web", GRPCWEB_BINARY},
    {"application/grpc-web+proto", GRPCWEB_BINARY},
    {"Application/GRPC-Web+Proto", GRPCWEB_BINARY},
    {"application/grpc-web; charset=utf-8", GRPCWEB_BINARY},
    {"application/grpc-web-text", GRPCWEB_TEXT},
    {"application/grpc-web-text+proto", GRPCWEB_TEXT},
    {"application/grpc-web-text+proto;x=1", GRPCWEB_TEXT},
    {"application/grpc-web+json", GRPCWEB_BAD_CODEC},
    {"application/grpc-web-text+thrift", GRPCWEB_BAD_CODEC},
    {"application/grpc", GRPCWEB_NONE},
    {"application/grpc+proto", GRPCWEB_NONE},
    {"application/grpc-webx", GRPCWEB_NONE},
    {"application/json", GRPCWEB_NONE},
    {"", GRPCWEB_NONE},
};

static void test_content_types(void)
{
    for (size_t i = 0; i < sizeof(ct_cases) / sizeof(ct_cases[0]); i++) {
        grpcweb_format_t f = grpcweb_content_type_parse(ct_cases[i].ct, strlen(ct_cases[i].ct));
        if (f != ct_cases[i].f)
            TEST_FAIL_("content type \"%s\": %d, expected %d", ct_cases[i].ct, f, ct_cases[i].f);
        else
            test_passed_++;
    }
    CHECK_INT_EQ(grpcweb_content_type_parse(NULL, 0), GRPCWEB_NONE);
}

/* ---- text mode ----------------------------------------------------------------------------- */

static const struct {
    const char *text;
    const char *bytes; /* expected decoded bytes as text; NULL: an error */
    const char *why;   /* substring of the error */
} text_cases[] = {
    {"", "", NULL},
    {"aGVsbG8=", "hello", NULL},
    {"aGVsbG8", "hello", NULL}, /* a final chunk without padding */
    {"aGVs", "hel", NULL},
    /* padded chunks concatenated, as a server or client flushing mid-stream sends them */
    {"aGVsbG8=aGk=", "hellohi", NULL},
    {"aA==aQ==aGk=", "hihi", NULL},
    {"aA==\r\naQ==", "hi", NULL},
    {" aGVs\nbG8= ", "hello", NULL},
    {"aGk_aGk-", "hi?hi>", NULL}, /* the URL-safe alphabet is tolerated */
    {"aGV$bG8=", NULL, "invalid base64 character 0x24 at offset 3"},
    {"aGVsbG8=x", NULL, "truncated base64 quantum at offset 8"},
    {"a===", NULL, "invalid base64 padding at offset 1"},
    {"aGk=a", NULL, "truncated"},
    {"aG=k", NULL, "invalid base64 padding at offset 3"},
    {"aGk==", NULL, "invalid base64 padding at offset 4"},
    {"aG=", NULL, "truncated base64 quantum at offset 0"},
};

static void test_text(void)
{
    for (size_t i = 0; i < sizeof(text_cases) / sizeof(text_cases[0]); i++) {
        util_buf_t out = UTIL_BUF_INIT;
        util_error_t err = {0};
        int rc = grpcweb_text_decode(&out, text_cases[i].text, strlen(text_cases[i].text), &err);
        if (text_cases[i].bytes == NULL) {
            if (rc == 0)
                TEST_FAIL_("text case %zu (%s) decoded", i, text_cases[i].text);
            else
                CHECK_STR_HAS(err.message, text_cases[i].why);
        } else {
            if (rc != 0) {
                TEST_FAIL_("text case %zu (%s): %s", i, text_cases[i].text, err.message);
            } else {
                CHECK_INT_EQ(out.len, strlen(text_cases[i].bytes));
                CHECK(out.len == 0 || memcmp(out.data, text_cases[i].bytes, out.len) == 0);
            }
        }
        util_buf_dispose(&out);
    }
    /* round trip of every length 0..40 in chunks of every size, each padded on its own */
    int ok = 1;
    for (size_t len = 0; len <= 40 && ok; len++) {
        uint8_t data[40];
        for (size_t k = 0; k < len; k++)
            data[k] = (uint8_t)(k * 37 + len);
        for (size_t chunk = 1; chunk <= 7 && ok; chunk++) {
            util_buf_t text = UTIL_BUF_INIT, back = UTIL_BUF_INIT;
            for (size_t off = 0; off < len; off += chunk)
                util_base64_encode(&text, data + off, len - off < chunk ? len - off : chunk, 0);
            ok = grpcweb_text_decode(&back, (const char *)text.data, text.len, NULL) == 0 && back.len == len &&
                 (len == 0 || memcmp(back.data, data, len) == 0);
            if (!ok)
                TEST_FAIL_("round trip of %zu bytes in chunks of %zu failed", len, chunk);
            util_buf_dispose(&text);
            util_buf_dispose(&back);
        }
    }
    CHECK(ok);
}

/* ---- request frames ------------------------------------------------------------------------ */

typedef struct scan_case {
    const char *body; /* bytes written as a C string with escapes */
    size_t len;
    size_t max;
    grpc_code_t code;
    size_t count;
    const char *why;
} scan_case_t;

#define B(s) s, sizeof(s) - 1

static const scan_case_t scan_cases[] = {
    {B(""), 100, GRPC_CODE_OK, 0, NULL},
    {B("\0\0\0\0\0"), 100, GRPC_CODE_OK, 1, NULL}, /* an empty message */
    {B("\0\0\0\0\2hi"), 100, GRPC_CODE_OK, 1, NULL},
    {B("\0\0\0\0\2hi\0\0\0\0\3abc"), 100, GRPC_CODE_OK, 2, NULL},
    {B("\0\0\0"), 100, GRPC_CODE_INVALID_ARGUMENT, 0, "3 bytes left where a 5-byte message prefix was expected"},
    {B("\0\0\0\0\2hi\0"), 100, GRPC_CODE_INVALID_ARGUMENT, 0, "1 byte left"},
    {B("\0\0\0\0\5hi"), 100, GRPC_CODE_INVALID_ARGUMENT, 0, "message 1 announces 5 bytes but only 2 follow"},
    {B("\0\x7f\xff\xff\xffhi"), 100, GRPC_CODE_RESOURCE_EXHAUSTED, 0, "2147483647 bytes, larger than the limit of 100"},
    {B("\0\0\0\0\2hi\0\0\0\0\x65"), 100, GRPC_CODE_RESOURCE_EXHAUSTED, 0, "message 2 is 101 bytes"},
    {B("\1\0\0\0\2hi"), 100, GRPC_CODE_INTERNAL, 0, "compressed"},
    {B("\x80\0\0\0\2hi"), 100, GRPC_CODE_INTERNAL, 0, "invalid frame flags 0x80"},
    {B("\2\0\0\0\0"), 100, GRPC_CODE_INTERNAL, 0, "flags 0x02"},
};

typedef struct seen {
    size_t n;
    size_t total;
} seen_t;

static void on_message(void *ctx, const uint8_t *msg, size_t len)
{
    seen_t *s = ctx;
    s->n++;
    s->total += len;
}

static void test_scan(void)
{
    for (size_t i = 0; i < sizeof(scan_cases) / sizeof(scan_cases[0]); i++) {
        const scan_case_t *tc = &scan_cases[i];
        size_t count = 99;
        seen_t seen = {0, 0};
        util_error_t err = {0};
        grpc_code_t code = grpcweb_body_scan((const uint8_t *)tc->body, tc->len, tc->max, on_message, &seen, &count, &err);
        if (code != tc->code)
            TEST_FAIL_("scan case %zu: code %d, expected %d (%s)", i, code, tc->code, err.message);
        else
            test_passed_++;
        if (tc->code == GRPC_CODE_OK) {
            CHECK_INT_EQ(count, tc->count);
            CHECK_INT_EQ(seen.n, tc->count);
        } else {
            CHECK_STR_HAS(err.message, tc->why);
        }
    }
}

/* ---- trailers ------------------------------------------------------------------------------ */

static void test_trailers(void)
{
    static const upstream_header_t trailers[] = {
        {"X-Trace", 7, "abc", 3},
        {"grpc-status-details-bin", 23, "CAUSBG5vcGU", 11},
        {"content-type", 12, "application/grpc", 16}, /* reserved: dropped */
        {"grpc-foo", 8, "x", 1},                      /* reserved namespace: dropped */
        {"set-cookie", 10, "a=b", 3},                 /* never to a browser: dropped */
        {"x-multi", 7, "1", 1},
        {"x-multi", 7, "2", 1},
    };
    static const struct {
        int code;
        const char *msg;
        size_t n;
        const char *block;
    } cases[] = {
        {0, "", 0, "grpc-status:0\r\n"},
        {5, "no such product: ABC", 0, "grpc-status:5\r\ngrpc-message:no such product: ABC\r\n"},
        {13, "100% \xc3\xa9\r\nx", 0, "grpc-status:13\r\ngrpc-message:100%25 %C3%A9%0D%0Ax\r\n"},
        {7, "nope", 7,
         "grpc-status:7\r\ngrpc-message:nope\r\nx-trace:abc\r\ngrpc-status-details-bin:CAUSBG5vcGU\r\nx-multi:1\r\nx-multi:2\r\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        util_buf_t b = UTIL_BUF_INIT;
        util_buf_puts(&b, "xy"); /* appended after existing bytes */
        grpcweb_trailers_frame(&b, cases[i].code, cases[i].msg, strlen(cases[i].msg), trailers, cases[i].n);
        size_t bl = strlen(cases[i].block);
        CHECK_INT_EQ(b.len, 2 + 5 + bl);
        if (b.len == 2 + 5 + bl) {
            CHECK_INT_EQ(b.data[2], 0x80);
            CHECK_INT_EQ(((size_t)b.data[3] << 24) | ((size_t)b.data[4] << 16) | ((size_t)b.data[5] << 8) | b.data[6], bl);
            char got[512];
            memcpy(got, b.data + 7, bl);
            got[bl] = '\0';
            CHECK_STR_EQ(got, cases[i].block);
        }
        util_buf_dispose(&b);
    }
    CHECK(grpcweb_trailer_passes("x-custom", 8));
    CHECK(grpcweb_trailer_passes("grpc-status-details-bin", 23));
    CHECK(!grpcweb_trailer_passes("grpc-status", 11));
    CHECK(!grpcweb_trailer_passes("access-control-allow-origin", 27));
    CHECK(!grpcweb_trailer_passes("connection", 10));
    CHECK(!grpcweb_trailer_passes("", 0));
}

int main(void)
{
    test_content_types();
    test_text();
    test_scan();
    test_trailers();
    return test_summary();
}
