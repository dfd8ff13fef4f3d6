/*
 * grpc_framing_test.c — src/grpc/framing.c: prefix encoding, and the deframer fed every case
 * in chunks of 1, 2, 3, 5, 7 bytes and all at once (same messages each time), with the size
 * limit, bad flags, compressed messages, truncated streams and zero-copy delivery.
 */
#include "grpc/grpc.h"

#include "test.h"

typedef struct {
    const char *name;
    const char *input; /* the byte stream */
    size_t input_len;
    size_t max_message;
    const char *messages[4]; /* expected messages, "" for an empty one; list ends at NULL */
    size_t lens[4];
    int compressed[4];
    int error;   /* 0, or the grpc_error_t the stream ends in */
    int partial; /* an unfinished message remains at the end */
} deframe_case_t;

#define S(lit) lit, sizeof(lit) - 1

static const deframe_case_t cases[] = {
    {"empty input", S(""), 100, {NULL}, {0}, {0}, 0, 0},
    {"one message", S("\0\0\0\0\3abc"), 100, {"abc", NULL}, {3}, {0}, 0, 0},
    {"empty message", S("\0\0\0\0\0"), 100, {"", NULL}, {0}, {0}, 0, 0},
    {"three messages", S("\0\0\0\0\1x\0\0\0\0\0\0\0\0\0\2yz"), 100, {"x", "", "yz", NULL}, {1, 0, 2}, {0}, 0, 0},
    {"compressed flag", S("\1\0\0\0\2zz\0\0\0\0\1a"), 100, {"zz", "a", NULL}, {2, 1}, {1, 0}, 0, 0},
    {"exactly at limit", S("\0\0\0\0\4abcd"), 4, {"abcd", NULL}, {4}, {0}, 0, 0},
    {"over limit", S("\0\0\0\0\5abcde"), 4, {NULL}, {0}, {0}, GRPC_ERR_FRAME_TOO_LARGE, 0},
    {"over limit after a good one", S("\0\0\0\0\1a\0\0\0\x10\0"), 1000, {"a", NULL}, {1}, {0}, GRPC_ERR_FRAME_TOO_LARGE, 0},
    {"huge length", S("\0\xff\xff\xff\xff"), 1 << 20, {NULL}, {0}, {0}, GRPC_ERR_FRAME_TOO_LARGE, 0},
    {"bad flags", S("\2\0\0\0\1a"), 100, {NULL}, {0}, {0}, GRPC_ERR_FRAME_FLAGS, 0},
    {"bad flags 0x80", S("\x80\0\0\0\0"), 100, {NULL}, {0}, {0}, GRPC_ERR_FRAME_FLAGS, 0},
    {"truncated header", S("\0\0\0"), 100, {NULL}, {0}, {0}, 0, 1},
    {"truncated body", S("\0\0\0\0\3ab"), 100, {NULL}, {0}, {0}, 0, 1},
    {"message then truncated", S("\0\0\0\0\1a\0\0"), 100, {"a", NULL}, {1}, {0}, 0, 1},
    {"length 256", S("\0\0\0\1\0"), 100, {NULL}, {0}, {0}, GRPC_ERR_FRAME_TOO_LARGE, 0},
};

static const size_t chunkings[] = {1, 2, 3, 5, 7, 0 /* all at once */};

static void run_case(const deframe_case_t *c, size_t chunk)
{
    grpc_deframer_t d;
    grpc_deframer_init(&d, c->max_message);
    size_t got = 0;
    int error = 0;
    const uint8_t *in = (const uint8_t *)c->input;
    size_t off = 0;
    while (off < c->input_len && error == 0) {
        size_t n = chunk == 0 ? c->input_len : chunk;
        if (n > c->input_len - off)
            n = c->input_len - off;
        const uint8_t *p = in + off;
        size_t left = n;
        for (;;) {
            grpc_frame_t f;
            util_error_t err = {0};
            int rv = grpc_deframer_next(&d, &p, &left, &f, &err);
            if (rv == 0)
                break;
            if (rv < 0) {
                error = err.code;
                if (err.message[0] == '\0')
                    TEST_FAIL_("%s: error without a message", c->name);
                break;
            }
            if (got >= 4 || c->messages[got] == NULL) {
                TEST_FAIL_("%s (chunk %zu): unexpected message %zu", c->name, chunk, got);
                break;
            }
            CHECK_INT_EQ(f.len, c->lens[got]);
            CHECK(f.len == 0 || memcmp(f.data, c->messages[got], f.len) == 0);
            CHECK_INT_EQ(f.compressed, c->compressed[got]);
            got++;
        }
        if (error == 0)
            CHECK_INT_EQ(left, 0);
        off += n;
    }
    size_t want = 0;
    while (want < 4 && c->messages[want] != NULL)
        want++;
    if (got != want)
        TEST_FAIL_("%s (chunk %zu): got %zu messages, expected %zu", c->name, chunk, got, want);
    else
        test_passed_++;
    CHECK_INT_EQ(error, c->error);
    if (c->error == 0)
        CHECK_INT_EQ(grpc_deframer_has_partial(&d) != 0, c->partial);
    if (c->error != 0) {
        /* Sticky: nothing more comes out of a failed stream. */
        const uint8_t *p = (const uint8_t *)"\0\0\0\0\0";
        size_t left = 5;
        grpc_frame_t f;
        CHECK_INT_EQ(grpc_deframer_next(&d, &p, &left, &f, NULL), -1);
    }
    grpc_deframer_dispose(&d);
}

typedef struct {
    int compressed;
    uint32_t len;
    const char *prefix;
} header_case_t;

static const header_case_t header_cases[] = {
    {0, 0, "\0\0\0\0\0"},   {1, 0, "\1\0\0\0\0"},          {0, 3, "\0\0\0\0\3"},
    {0, 256, "\0\0\0\1\0"}, {0, 0x01020304, "\0\1\2\3\4"}, {1, 0xffffffff, "\1\xff\xff\xff\xff"},
};

int main(void)
{
    for (size_t i = 0; i < sizeof(header_cases) / sizeof(header_cases[0]); i++) {
        uint8_t out[5];
        grpc_frame_header_write(out, header_cases[i].compressed, header_cases[i].len);
        CHECK(memcmp(out, header_cases[i].prefix, 5) == 0);
    }

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        for (size_t j = 0; j < sizeof(chunkings) / sizeof(chunkings[0]); j++)
            run_case(&cases[i], chunkings[j]);

    /* Round trip: grpc_frame_append output deframes to the same messages, including one of 1 MiB. */
    {
        util_buf_t stream = UTIL_BUF_INIT;
        size_t big_len = 1 << 20;
        uint8_t *big = malloc(big_len);
        for (size_t k = 0; k < big_len; k++)
            big[k] = (uint8_t)(k * 7);
        CHECK_INT_EQ(grpc_frame_append(&stream, (const uint8_t *)"hello", 5, 0), 0);
        CHECK_INT_EQ(grpc_frame_append(&stream, big, big_len, 0), 0);
        CHECK_INT_EQ(grpc_frame_append(&stream, NULL, 0, 1), 0);
        CHECK_INT_EQ(stream.len, 15 + 5 + big_len);
        for (size_t chunk = 1000; chunk <= stream.len; chunk *= 10) {
            grpc_deframer_t d;
            grpc_deframer_init(&d, big_len);
            size_t got = 0, off = 0;
            while (off < stream.len) {
                size_t n = chunk < stream.len - off ? chunk : stream.len - off;
                const uint8_t *p = stream.data + off;
                size_t left = n;
                grpc_frame_t f;
                while (grpc_deframer_next(&d, &p, &left, &f, NULL) == 1) {
                    if (got == 0)
                        CHECK(f.len == 5 && memcmp(f.data, "hello", 5) == 0);
                    else if (got == 1)
                        CHECK(f.len == big_len && memcmp(f.data, big, big_len) == 0);
                    else
                        CHECK(f.len == 0 && f.compressed == 1);
                    got++;
                }
                off += n;
            }
            CHECK_INT_EQ(got, 3);
            CHECK(!grpc_deframer_has_partial(&d));
            grpc_deframer_dispose(&d);
        }
        /* Whole message in one chunk: delivered in place, not copied. */
        {
            grpc_deframer_t d;
            grpc_deframer_init(&d, big_len);
            const uint8_t *p = stream.data;
            size_t left = stream.len;
            grpc_frame_t f;
            CHECK_INT_EQ(grpc_deframer_next(&d, &p, &left, &f, NULL), 1);
            CHECK(f.data == stream.data + 5);
            CHECK_INT_EQ(grpc_deframer_next(&d, &p, &left, &f, NULL), 1);
            CHECK(f.data == stream.data + 15);
            CHECK_INT_EQ(d.buf.cap, 0); /* nothing was buffered */
            grpc_deframer_dispose(&d);
        }
        free(big);
        util_buf_dispose(&stream);
    }
    return test_summary();
}
