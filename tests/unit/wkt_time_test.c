/*
 * wkt_time_test.c — Timestamp and Duration text forms (src/proto/wkt_time.c): formatting
 * (digit rules, range, calendar edges), parsing (offsets, strictness), and that every
 * formatted value parses back to itself.
 */
#include "proto/wkt_time.h"

#include "test.h"

typedef struct {
    int64_t seconds;
    int32_t nanos;
    const char *text; /* NULL: formatting must fail */
} time_case_t;

/* Expected texts computed independently (python datetime). */
static const time_case_t ts_format_cases[] = {
    {0, 0, "1970-01-01T00:00:00Z"},
    {-1, 0, "1969-12-31T23:59:59Z"},
    {-1, 500000000, "1969-12-31T23:59:59.500Z"},
    {-86400, 0, "1969-12-31T00:00:00Z"},
    {-86401, 0, "1969-12-30T23:59:59Z"},
    {1, 0, "1970-01-01T00:00:01Z"},
    {-62135596800LL, 0, "0001-01-01T00:00:00Z"},
    {-62104060800LL, 0, "0002-01-01T00:00:00Z"},
    {253402300799LL, 999999999, "9999-12-31T23:59:59.999999999Z"},
    {1000000000, 0, "2001-09-09T01:46:40Z"},
    {951782400, 0, "2000-02-29T00:00:00Z"},     /* 2000 is a leap year (divisible by 400) */
    {-2203891200LL, 0, "1900-03-01T00:00:00Z"}, /* 1900 is not */
    {-2203977600LL, 0, "1900-02-28T00:00:00Z"},
    {1709164800, 0, "2024-02-29T00:00:00Z"},
    {68169600, 0, "1972-02-29T00:00:00Z"},
    {-62035891200LL, 0, "0004-02-29T00:00:00Z"},
    {-11670998400LL, 0, "1600-02-29T00:00:00Z"},
    {4107542399LL, 0, "2100-02-28T23:59:59Z"},
    {0, 10000000, "1970-01-01T00:00:00.010Z"},
    {0, 10000, "1970-01-01T00:00:00.000010Z"},
    {0, 1, "1970-01-01T00:00:00.000000001Z"},
    {0, 120000, "1970-01-01T00:00:00.000120Z"},
    {0, 123456789, "1970-01-01T00:00:00.123456789Z"},
    {-62135596801LL, 0, NULL}, /* before year 1 */
    {253402300800LL, 0, NULL}, /* year 10000 */
    {0, -1, NULL},             /* negative nanos are never valid in a Timestamp */
    {-1, -500000000, NULL},
    {0, 1000000000, NULL},
    {INT64_MIN, 0, NULL},
    {INT64_MAX, 0, NULL},
};

static const time_case_t dur_format_cases[] = {
    {0, 0, "0s"},
    {1, 0, "1s"},
    {-1, 0, "-1s"},
    {1, 500000000, "1.500s"},
    {-1, -500000000, "-1.500s"},
    {0, -500000000, "-0.500s"},
    {0, 500000000, "0.500s"},
    {0, 1000, "0.000001s"},
    {0, -1000, "-0.000001s"},
    {0, 1, "0.000000001s"},
    {3, 120000, "3.000120s"},
    {315576000000LL, 999999999, "315576000000.999999999s"},
    {-315576000000LL, -999999999, "-315576000000.999999999s"},
    {315576000001LL, 0, NULL},
    {-315576000001LL, 0, NULL},
    {1, -1, NULL}, /* signs disagree */
    {-1, 1, NULL},
    {0, 1000000000, NULL},
    {0, -1000000000, NULL},
    {INT64_MIN, 0, NULL},
};

typedef struct {
    const char *text;
    int ok;
    int64_t seconds;
    int32_t nanos;
} parse_case_t;

static const parse_case_t ts_parse_cases[] = {
    {"1970-01-01T00:00:00Z", 1, 0, 0},
    {"1970-01-01T00:00:00.5Z", 1, 0, 500000000},
    {"1970-01-01T00:00:00.000000001Z", 1, 0, 1},
    {"1970-01-01T00:00:00.12Z", 1, 0, 120000000},
    {"1969-12-31T23:59:59.999Z", 1, -1, 999000000},
    {"1970-01-01T08:00:01+08:00", 1, 1, 0},
    {"1969-12-31T16:00:00-08:00", 1, 0, 0},
    {"1970-01-01T00:00:00.5+00:30", 1, -1800, 500000000},
    {"0001-01-01T00:00:00Z", 1, -62135596800LL, 0},
    {"9999-12-31T23:59:59.999999999Z", 1, 253402300799LL, 999999999},
    {"2000-02-29T12:34:56Z", 1, 951827696, 0},
    {"2024-02-29T00:00:00Z", 1, 1709164800, 0},
    {"0001-01-01T00:00:00+01:00", 0, 0, 0}, /* before year 1 once the offset applies */
    {"9999-12-31T23:59:59-01:00", 0, 0, 0}, /* after 9999 once the offset applies */
    {"0000-01-01T00:00:00Z", 0, 0, 0},
    {"10000-01-01T00:00:00Z", 0, 0, 0},
    {"1900-02-29T00:00:00Z", 0, 0, 0}, /* not a leap year */
    {"2023-02-29T00:00:00Z", 0, 0, 0},
    {"2023-04-31T00:00:00Z", 0, 0, 0},
    {"2023-13-01T00:00:00Z", 0, 0, 0},
    {"2023-00-01T00:00:00Z", 0, 0, 0},
    {"2023-01-00T00:00:00Z", 0, 0, 0},
    {"2023-01-01T24:00:00Z", 0, 0, 0},
    {"2023-01-01T00:60:00Z", 0, 0, 0},
    {"2023-01-01T00:00:60Z", 0, 0, 0},
    {"1970-01-01t00:00:00Z", 0, 0, 0}, /* lowercase t, as protobuf's conformance suite requires */
    {"1970-01-01T00:00:00z", 0, 0, 0},
    {"1970-01-01T00:00:00", 0, 0, 0},
    {"1970-01-01 00:00:00Z", 0, 0, 0},
    {"1970-01-01T00:00:00.Z", 0, 0, 0},
    {"1970-01-01T00:00:00.1234567891Z", 0, 0, 0}, /* 10 fractional digits */
    {"1970-01-01T00:00:00+0800", 0, 0, 0},
    {"1970-01-01T00:00:00+24:00", 0, 0, 0},
    {"1970-01-01T00:00:00Z ", 0, 0, 0},
    {"1970-1-01T00:00:00Z", 0, 0, 0},
    {"+970-01-01T00:00:00Z", 0, 0, 0},
    {"", 0, 0, 0},
};

static const parse_case_t dur_parse_cases[] = {
    {"0s", 1, 0, 0},
    {"1s", 1, 1, 0},
    {"-1s", 1, -1, 0},
    {"1.5s", 1, 1, 500000000},
    {"-1.5s", 1, -1, -500000000},
    {"-0.5s", 1, 0, -500000000},
    {"0.000000001s", 1, 0, 1},
    {"-0s", 1, 0, 0},
    {"315576000000s", 1, 315576000000LL, 0},
    {"-315576000000.999999999s", 1, -315576000000LL, -999999999},
    {"000000000000001s", 1, 1, 0},
    {"315576000001s", 0, 0, 0},
    {"99999999999999999999999s", 0, 0, 0},
    {"1", 0, 0, 0},
    {"s", 0, 0, 0},
    {"-s", 0, 0, 0},
    {".5s", 0, 0, 0},
    {"1.s", 0, 0, 0},
    {"1.0000000001s", 0, 0, 0},
    {"+1s", 0, 0, 0},
    {"1 s", 0, 0, 0},
    {"1.5S", 0, 0, 0},
    {"--1s", 0, 0, 0},
    {"1e3s", 0, 0, 0},
    {"", 0, 0, 0},
};

static void test_format(const char *what, int (*fmt)(util_buf_t *, int64_t, int32_t), const time_case_t *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const time_case_t *c = &cases[i];
        util_buf_t b = UTIL_BUF_INIT;
        util_buf_puts(&b, "<");
        int rc = fmt(&b, c->seconds, c->nanos);
        if (c->text == NULL) {
            if (rc != -1 || b.len != 1)
                fprintf(stderr, "%s case %zu (%lld, %d) should fail\n", what, i, (long long)c->seconds, c->nanos);
            CHECK_INT_EQ(rc, -1);
            CHECK_INT_EQ(b.len, 1); /* nothing appended on failure */
        } else {
            CHECK_INT_EQ(rc, 0);
            util_buf_putc(&b, 0);
            CHECK_STR_EQ((const char *)b.data + 1, c->text);
        }
        util_buf_dispose(&b);
    }
}

static void test_parse(const char *what, int (*parse)(const char *, size_t, int64_t *, int32_t *), const parse_case_t *cases,
                       size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const parse_case_t *c = &cases[i];
        int64_t s = 12345;
        int32_t ns = 678;
        int rc = parse(c->text, strlen(c->text), &s, &ns);
        if (rc != (c->ok ? 0 : -1))
            fprintf(stderr, "%s \"%s\": rc %d\n", what, c->text, rc);
        CHECK_INT_EQ(rc, c->ok ? 0 : -1);
        if (c->ok && rc == 0) {
            CHECK_INT_EQ(s, c->seconds);
            CHECK_INT_EQ(ns, c->nanos);
        }
    }
}

/* Every valid formatted value parses back to the same (seconds, nanos). */
static void test_round_trip(void)
{
    for (size_t i = 0; i < sizeof(ts_format_cases) / sizeof(ts_format_cases[0]); i++) {
        const time_case_t *c = &ts_format_cases[i];
        if (c->text == NULL)
            continue;
        int64_t s;
        int32_t ns;
        CHECK_INT_EQ(wkt_timestamp_parse(c->text, strlen(c->text), &s, &ns), 0);
        CHECK_INT_EQ(s, c->seconds);
        CHECK_INT_EQ(ns, c->nanos);
    }
    for (size_t i = 0; i < sizeof(dur_format_cases) / sizeof(dur_format_cases[0]); i++) {
        const time_case_t *c = &dur_format_cases[i];
        if (c->text == NULL)
            continue;
        int64_t s;
        int32_t ns;
        CHECK_INT_EQ(wkt_duration_parse(c->text, strlen(c->text), &s, &ns), 0);
        CHECK_INT_EQ(s, c->seconds);
        CHECK_INT_EQ(ns, c->nanos);
    }
    /* a sweep over days around the epoch and across many 400-year cycles */
    int failures = 0;
    for (int64_t s = -62135596800LL; s <= 253402300799LL; s += 86400LL * 97 + 3671) {
        util_buf_t b = UTIL_BUF_INIT;
        int64_t back = 0;
        int32_t ns = 0;
        if (wkt_timestamp_format(&b, s, 0) != 0 || wkt_timestamp_parse((const char *)b.data, b.len, &back, &ns) != 0 || back != s ||
            ns != 0)
            failures++;
        util_buf_dispose(&b);
    }
    CHECK_INT_EQ(failures, 0);
}

int main(void)
{
    test_format("timestamp", wkt_timestamp_format, ts_format_cases, sizeof(ts_format_cases) / sizeof(ts_format_cases[0]));
    test_format("duration", wkt_duration_format, dur_format_cases, sizeof(dur_format_cases) / sizeof(dur_format_cases[0]));
    test_parse("timestamp", wkt_timestamp_parse, ts_parse_cases, sizeof(ts_parse_cases) / sizeof(ts_parse_cases[0]));
    test_parse("duration", wkt_duration_parse, dur_parse_cases, sizeof(dur_parse_cases) / sizeof(dur_parse_cases[0]));
    test_round_trip();
    return test_summary();
}
