/*
 * base64_test.c — src/util/base64.c: RFC 4648 vectors in both alphabets, every padding
 * variant on decode, rejection of bad characters/padding, and a round trip over all
 * byte values and lengths.
 */
#include "util/base64.h"

#include "test.h"

typedef struct {
    const char *plain;
    size_t plain_len;
    const char *std; /* standard alphabet, padded */
    const char *url; /* URL-safe alphabet, unpadded */
} encode_case_t;

static const encode_case_t encode_cases[] = {
    {"", 0, "", ""},
    {"f", 1, "Zg==", "Zg"},
    {"fo", 2, "Zm8=", "Zm8"},
    {"foo", 3, "Zm9v", "Zm9v"},
    {"foob", 4, "Zm9vYg==", "Zm9vYg"},
    {"fooba", 5, "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", 6, "Zm9vYmFy", "Zm9vYmFy"},
    {"\xfb\xff", 2, "+/8=", "-_8"},
    {"\xfb\xef\xff", 3, "++//", "--__"},
    {"\x00", 1, "AA==", "AA"},
    {"\x00\x00\x00", 3, "AAAA", "AAAA"},
    {"a\001b", 3, "YQFi", "YQFi"},
};

typedef struct {
    const char *text;
    int ok;
    const char *plain; /* expected bytes when ok */
    size_t plain_len;
} decode_case_t;

static const decode_case_t decode_cases[] = {
    {"", 1, "", 0},
    {"Zg==", 1, "f", 1},
    {"Zg", 1, "f", 1},
    {"Zm8=", 1, "fo", 2},
    {"Zm8", 1, "fo", 2},
    {"Zm9v", 1, "foo", 3},
    {"Zm9vYg==", 1, "foob", 4},
    {"Zm9vYg", 1, "foob", 4},
    {"Zm9vYmE=", 1, "fooba", 5},
    {"Zm9vYmFy", 1, "foobar", 6},
    {"+/8=", 1, "\xfb\xff", 2},
    {"-_8=", 1, "\xfb\xff", 2},
    {"-_8", 1, "\xfb\xff", 2},
    {"++//", 1, "\xfb\xef\xff", 3},
    {"--__", 1, "\xfb\xef\xff", 3},
    {"+-/_", 1, "\xfb\xef\xff", 3}, /* alphabets mixed: each character decodes by itself */
    {"Z", 0, NULL, 0},              /* one dangling character */
    {"Zm9vY", 0, NULL, 0},
    {"Z===", 0, NULL, 0},
    {"Zg=", 0, NULL, 0},   /* partial padding */
    {"Zm8==", 0, NULL, 0}, /* too much padding */
    {"Zg===", 0, NULL, 0},
    {"====", 0, NULL, 0},
    {"=", 0, NULL, 0},
    {"Zg==Zg==", 0, NULL, 0}, /* padding in the middle */
    {"Z=g=", 0, NULL, 0},
    {"Zm9v\n", 0, NULL, 0},
    {"Zm 9v", 0, NULL, 0},
    {"Zm9*", 0, NULL, 0},
    {"Zm9.", 0, NULL, 0},
    {"Zm9\x80", 0, NULL, 0},
    {"Zm9\0", 0, NULL, 0},
};

int main(void)
{
    for (size_t i = 0; i < sizeof(encode_cases) / sizeof(encode_cases[0]); i++) {
        const encode_case_t *c = &encode_cases[i];
        for (int url = 0; url <= 1; url++) {
            util_buf_t b = UTIL_BUF_INIT;
            util_buf_puts(&b, "x"); /* appends after existing content */
            util_base64_encode(&b, (const uint8_t *)c->plain, c->plain_len, url);
            util_buf_putc(&b, 0);
            CHECK_STR_EQ((const char *)b.data + 1, url ? c->url : c->std);
            util_buf_dispose(&b);
        }
    }
    for (size_t i = 0; i < sizeof(decode_cases) / sizeof(decode_cases[0]); i++) {
        const decode_case_t *c = &decode_cases[i];
        util_buf_t b = UTIL_BUF_INIT;
        util_buf_puts(&b, "x");
        /* "Zm9\0" must be decoded with its NUL: measure the literal for that one */
        size_t len = strcmp(c->text, "Zm9") == 0 ? 4 : strlen(c->text);
        int rc = util_base64_decode(&b, c->text, len);
        if (rc != (c->ok ? 0 : -1))
            fprintf(stderr, "decode \"%s\": rc %d\n", c->text, rc);
        CHECK_INT_EQ(rc, c->ok ? 0 : -1);
        if (c->ok && rc == 0) {
            CHECK_INT_EQ(b.len, 1 + c->plain_len);
            CHECK(memcmp(b.data + 1, c->plain, c->plain_len) == 0);
        }
        util_buf_dispose(&b);
    }
    /* round trip: every length 0..300 over all byte values, both alphabets */
    uint8_t data[300];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 37 + 11);
    int failures = 0;
    for (size_t n = 0; n <= sizeof(data); n++) {
        for (int url = 0; url <= 1; url++) {
            util_buf_t enc = UTIL_BUF_INIT, dec = UTIL_BUF_INIT;
            util_base64_encode(&enc, data, n, url);
            if (enc.len != (url ? (n * 4 + 2) / 3 : (n + 2) / 3 * 4))
                failures++;
            if (util_base64_decode(&dec, (const char *)enc.data, enc.len) != 0 || dec.len != n ||
                (n != 0 && memcmp(dec.data, data, n) != 0))
                failures++;
            util_buf_dispose(&enc);
            util_buf_dispose(&dec);
        }
    }
    CHECK_INT_EQ(failures, 0);
    return test_summary();
}
