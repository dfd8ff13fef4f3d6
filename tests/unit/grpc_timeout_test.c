/*
 * grpc_timeout_test.c — src/grpc/timeout.c: grpc-timeout parsing (every unit, rounding up of
 * sub-millisecond units, the 8-digit limit, malformed values) and formatting (largest exact
 * unit, rounding up when milliseconds need more than 8 digits).
 */
#include "grpc/grpc.h"

#include "test.h"

typedef struct {
    const char *text;
    int ok;
    int64_t ms;
} parse_case_t;

static const parse_case_t parse_cases[] = {
    {"100m", 1, 100},
    {"5S", 1, 5000},
    {"1H", 1, 3600000},
    {"2M", 1, 120000},
    {"0m", 1, 0},
    {"0S", 1, 0},
    {"1u", 1, 1},
    {"1000u", 1, 1},
    {"1001u", 1, 2},
    {"1n", 1, 1},
    {"1000000n", 1, 1},
    {"1000001n", 1, 2},
    {"0n", 1, 0},
    {"99999999m", 1, 99999999},
    {"99999999H", 1, 99999999LL * 3600000},
    {"00000001S", 1, 1000},
    {"123456789m", 0, 0}, /* 9 digits */
    {"", 0, 0},
    {"m", 0, 0},
    {"5", 0, 0},
    {"5s", 0, 0},
    {"5x", 0, 0},
    {"-5m", 0, 0},
    {"5 m", 0, 0},
    {" 5m", 0, 0},
    {"5mm", 0, 0},
};

typedef struct {
    int64_t ms;
    const char *text;
} format_case_t;

static const format_case_t format_cases[] = {
    {0, "0m"},
    {-5, "0m"},
    {1, "1m"},
    {100, "100m"},
    {999, "999m"},
    {1000, "1S"},
    {1500, "1500m"},
    {5000, "5S"},
    {60000, "1M"},
    {90000, "90S"},
    {3600000, "1H"},
    {7200000, "2H"},
    {99999999, "99999999m"},
    {100000000, "100000S"},              /* exact in seconds */
    {100000001, "100001S"},              /* 9 digits of ms: rounded up to seconds */
    {99999999LL * 1000 + 1, "1666667M"}, /* too long for seconds: rounded up to minutes */
    {99999999LL * 3600000, "99999999H"},
    {INT64_MAX, "99999999H"}, /* saturates */
};

int main(void)
{
    for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        const parse_case_t *c = &parse_cases[i];
        int64_t ms = -1;
        util_error_t err = {0};
        int rv = grpc_timeout_parse(c->text, strlen(c->text), &ms, &err);
        if (rv != (c->ok ? 0 : -1))
            fprintf(stderr, "case \"%s\"\n", c->text);
        CHECK_INT_EQ(rv, c->ok ? 0 : -1);
        if (c->ok) {
            CHECK_INT_EQ(ms, c->ms);
        } else {
            CHECK_INT_EQ(err.code, GRPC_ERR_TIMEOUT);
            CHECK_STR_HAS(err.message, "grpc-timeout");
        }
    }
    for (size_t i = 0; i < sizeof(format_cases) / sizeof(format_cases[0]); i++) {
        const format_case_t *c = &format_cases[i];
        char out[GRPC_TIMEOUT_BUF_SIZE];
        size_t n = grpc_timeout_format(c->ms, out);
        CHECK_STR_EQ(out, c->text);
        CHECK_INT_EQ(n, strlen(c->text));
        /* What we send parses back to at least the deadline we meant. */
        int64_t back = -1;
        CHECK_INT_EQ(grpc_timeout_parse(out, n, &back, NULL), 0);
        CHECK(back >= (c->ms < 0 ? 0 : c->ms) || c->ms > 99999999LL * 3600000);
    }
    return test_summary();
}
