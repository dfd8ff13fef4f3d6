/*
 * grpc_metadata_test.c — src/grpc/metadata.c and message.c: reserved and hop-by-hop header
 * names, wire checks of names and values, -bin base64 (unpadded out, both forms in), and the
 * grpc-message percent-encoding in both directions.
 */
#include "grpc/grpc.h"

#include "test.h"

typedef struct {
    const char *name;
    int reserved;
} reserved_case_t;

static const reserved_case_t reserved_cases[] = {
    {":path", 1},
    {":authority", 1},
    {"connection", 1},
    {"Connection", 1},
    {"keep-alive", 1},
    {"proxy-connection", 1},
    {"transfer-encoding", 1},
    {"upgrade", 1},
    {"te", 1},
    {"host", 1},
    {"content-length", 1},
    {"content-type", 1},
    {"grpc-timeout", 1},
    {"grpc-status", 1},
    {"grpc-message", 1},
    {"grpc-status-details-bin", 1},
    {"grpc-encoding", 1},
    {"grpc-accept-encoding", 1},
    {"grpc-future-thing", 1},
    {"GRPC-Status", 1},
    {"grpc-trace-bin", 0},
    {"grpc-tags-bin", 0},
    {"x-request-id", 0},
    {"authorization", 0},
    {"user-agent", 0},
    {"x-test-delay-ms", 0},
    {"trace-bin", 0},
    {"grpc", 0},
    {"tea", 0},
    {"", 1},
};

typedef struct {
    const char *name;
    const char *value;
    int hop;
} hop_case_t;

static const hop_case_t hop_cases[] = {
    {"connection", "close", 1},   {"keep-alive", "timeout=5", 1},
    {"proxy-connection", "x", 1}, {"transfer-encoding", "chunked", 1},
    {"upgrade", "h2c", 1},        {"te", "trailers", 0},
    {"te", "Trailers", 0},        {"te", "gzip", 1},
    {"te", "trailers, gzip", 1},  {"host", "x", 0},
    {"content-type", "x", 0},     {"x-foo", "bar", 0},
};

typedef struct {
    const char *name;
    const char *value;
    int ok;
    const char *in_message; /* a fragment of the error message */
} check_case_t;

static const check_case_t check_cases[] = {
    {"x-foo", "bar", 1, NULL},      {"x_foo.bar-9", "", 1, NULL},         {"x-foo", " !~", 1, NULL},
    {"X-Foo", "bar", 0, "X-Foo"},   {"x foo", "bar", 0, "x foo"},         {"", "bar", 0, "empty"},
    {":path", "/", 0, ":path"},     {"x-foo", "caf\xc3\xa9", 0, "x-foo"}, {"x-foo", "a\nb", 0, "offset 1"},
    {"x-foo", "a\x7f", 0, "x-foo"}, {"x-foo-bin", "AAEC", 1, NULL},       {"x-foo-bin", "AA==", 1, NULL},
    {"x-foo-bin", "-_8", 1, NULL},  {"x-foo-bin", "AA EC", 0, "base64"},  {"x-foo-bin", "caf\xc3\xa9", 0, "base64"},
};

typedef struct {
    const char *bytes;
    size_t len;
    const char *wire;
} bin_case_t;

static const bin_case_t bin_cases[] = {
    {"", 0, ""}, {"f", 1, "Zg"}, {"fo", 2, "Zm8"}, {"foo", 3, "Zm9v"}, {"\xfb\xff", 2, "+/8"}, {"\0\1\2", 3, "AAEC"},
};

typedef struct {
    const char *in;
    size_t in_len;
    int ok;
    const char *bytes;
    size_t len;
} bin_decode_case_t;

static const bin_decode_case_t bin_decode_cases[] = {
    {"Zg", 2, 1, "f", 1}, {"Zg==", 4, 1, "f", 1}, {"-_8", 3, 1, "\xfb\xff", 2}, {"+/8=", 4, 1, "\xfb\xff", 2},
    {"", 0, 1, "", 0},    {"Z", 1, 0, NULL, 0},   {"Zg=", 3, 0, NULL, 0},       {"Z*g", 3, 0, NULL, 0},
};

typedef struct {
    const char *plain;
    size_t plain_len;
    const char *encoded;
} percent_case_t;

static const percent_case_t percent_cases[] = {
    {"", 0, ""},
    {"plain text ~!", 13, "plain text ~!"},
    {"100%", 4, "100%25"},
    {"a\nb", 3, "a%0Ab"},
    {"caf\xc3\xa9", 5, "caf%C3%A9"},
    {"\x7f\x1f", 2, "%7F%1F"},
    {"\0x", 2, "%00x"},
    {"%%", 2, "%25%25"},
    {"\xe2\x82\xac 5", 5, "%E2%82%AC 5"},
};

typedef struct {
    const char *encoded;
    const char *plain;
    size_t plain_len;
} decode_case_t;

/* Malformed escapes are kept literally rather than rejected. */
static const decode_case_t decode_only_cases[] = {
    {"%", "%", 1},     {"%4", "%4", 2},           {"%zz", "%zz", 3}, {"%4g", "%4g", 3},
    {"a%41", "aA", 2}, {"%c3%a9", "\xc3\xa9", 2}, {"%%41", "%A", 2}, {"x%", "x%", 2},
};

int main(void)
{
    for (size_t i = 0; i < sizeof(reserved_cases) / sizeof(reserved_cases[0]); i++) {
        const reserved_case_t *c = &reserved_cases[i];
        if ((grpc_metadata_is_reserved(c->name, strlen(c->name)) != 0) != c->reserved)
            fprintf(stderr, "reserved(\"%s\")\n", c->name);
        CHECK_INT_EQ(grpc_metadata_is_reserved(c->name, strlen(c->name)) != 0, c->reserved);
    }
    for (size_t i = 0; i < sizeof(hop_cases) / sizeof(hop_cases[0]); i++) {
        const hop_case_t *c = &hop_cases[i];
        CHECK_INT_EQ(grpc_metadata_is_hop_by_hop(c->name, strlen(c->name), c->value, strlen(c->value)) != 0, c->hop);
    }
    CHECK(grpc_metadata_is_binary("x-bin", 5));
    CHECK(grpc_metadata_is_binary("grpc-status-details-bin", 23));
    CHECK(!grpc_metadata_is_binary("bin", 3));
    CHECK(!grpc_metadata_is_binary("x-binary", 8));

    for (size_t i = 0; i < sizeof(check_cases) / sizeof(check_cases[0]); i++) {
        const check_case_t *c = &check_cases[i];
        util_error_t err = {0};
        int rv = grpc_metadata_check(c->name, strlen(c->name), c->value, strlen(c->value), &err);
        CHECK_INT_EQ(rv, c->ok ? 0 : -1);
        if (!c->ok) {
            CHECK_INT_EQ(err.code, GRPC_ERR_METADATA);
            CHECK_STR_HAS(err.message, c->in_message);
        }
    }

    for (size_t i = 0; i < sizeof(bin_cases) / sizeof(bin_cases[0]); i++) {
        const bin_case_t *c = &bin_cases[i];
        util_buf_t out = UTIL_BUF_INIT;
        grpc_metadata_bin_encode(&out, (const uint8_t *)c->bytes, c->len);
        util_buf_putc(&out, 0);
        CHECK_STR_EQ((const char *)out.data, c->wire);
        util_buf_t back = UTIL_BUF_INIT;
        CHECK_INT_EQ(grpc_metadata_bin_decode(&back, c->wire, strlen(c->wire), NULL), 0);
        CHECK(back.len == c->len && (c->len == 0 || memcmp(back.data, c->bytes, c->len) == 0));
        util_buf_dispose(&out);
        util_buf_dispose(&back);
    }
    for (size_t i = 0; i < sizeof(bin_decode_cases) / sizeof(bin_decode_cases[0]); i++) {
        const bin_decode_case_t *c = &bin_decode_cases[i];
        util_buf_t out = UTIL_BUF_INIT;
        util_error_t err = {0};
        int rv = grpc_metadata_bin_decode(&out, c->in, c->in_len, &err);
        CHECK_INT_EQ(rv, c->ok ? 0 : -1);
        if (c->ok)
            CHECK(out.len == c->len && (c->len == 0 || memcmp(out.data, c->bytes, c->len) == 0));
        else
            CHECK_INT_EQ(err.code, GRPC_ERR_METADATA);
        util_buf_dispose(&out);
    }

    for (size_t i = 0; i < sizeof(percent_cases) / sizeof(percent_cases[0]); i++) {
        const percent_case_t *c = &percent_cases[i];
        util_buf_t enc = UTIL_BUF_INIT, dec = UTIL_BUF_INIT;
        grpc_message_percent_encode(&enc, c->plain, c->plain_len);
        CHECK(enc.len == strlen(c->encoded) && (enc.len == 0 || memcmp(enc.data, c->encoded, enc.len) == 0));
        /* What we encode is a valid header value. */
        CHECK_INT_EQ(grpc_metadata_check("grpc-message", 12, (const char *)enc.data, enc.len, NULL), 0);
        grpc_message_percent_decode(&dec, c->encoded, strlen(c->encoded));
        CHECK(dec.len == c->plain_len && (dec.len == 0 || memcmp(dec.data, c->plain, dec.len) == 0));
        util_buf_dispose(&enc);
        util_buf_dispose(&dec);
    }
    for (size_t i = 0; i < sizeof(decode_only_cases) / sizeof(decode_only_cases[0]); i++) {
        const decode_case_t *c = &decode_only_cases[i];
        util_buf_t dec = UTIL_BUF_INIT;
        grpc_message_percent_decode(&dec, c->encoded, strlen(c->encoded));
        if (!(dec.len == c->plain_len && memcmp(dec.data, c->plain, dec.len) == 0))
            fprintf(stderr, "decode \"%s\"\n", c->encoded);
        CHECK(dec.len == c->plain_len && memcmp(dec.data, c->plain, dec.len) == 0);
        util_buf_dispose(&dec);
    }
    /* Every byte value survives a round trip. */
    {
        char all[256];
        for (int b = 0; b < 256; b++)
            all[b] = (char)b;
        util_buf_t enc = UTIL_BUF_INIT, dec = UTIL_BUF_INIT;
        grpc_message_percent_encode(&enc, all, sizeof(all));
        grpc_message_percent_decode(&dec, (const char *)enc.data, enc.len);
        CHECK(dec.len == 256 && memcmp(dec.data, all, 256) == 0);
        util_buf_dispose(&enc);
        util_buf_dispose(&dec);
    }
    return test_summary();
}
