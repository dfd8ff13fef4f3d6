/*
 * wkt_time.c — text forms of google.protobuf.Timestamp and Duration (see wkt_time.h),
 * shared by both directions of the JSON codec and by codec_text_to_pb.
 *
 * Written by hand rather than with gmtime_r/timegm/strptime: those depend on time_t's
 * range and the C library's idea of year 1..9999, do not handle fractional seconds, and
 * strptime accepts far more than RFC 3339. The calendar arithmetic is Howard Hinnant's
 * days_from_civil / civil_from_days (proleptic Gregorian, exact over the whole range).
 * Strictness follows protobuf's conformance suite: uppercase 'T' and 'Z' only, 4-digit
 * years, at most 9 fractional digits.
 */
#include "proto/wkt_time.h"

#define NANOS_PER_SECOND 1000000000

/* Days since 1970-01-01 of the civil date y-m-d. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        return 29;
    return dim[m - 1];
}

static inline char *put_digits(char *p, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + n;
}

/* Writes ".ddd", ".dddddd" or ".ddddddddd" (the fewest of 3/6/9 that are exact), or nothing for 0. */
static char *put_nanos(char *p, int32_t nanos)
{
    if (nanos == 0)
        return p;
    *p++ = '.';
    if (nanos % 1000000 == 0)
        return put_digits(p, (unsigned)(nanos / 1000000), 3);
    if (nanos % 1000 == 0)
        return put_digits(p, (unsigned)(nanos / 1000), 6);
    return put_digits(p, (unsigned)nanos, 9);
}

int wkt_timestamp_format(util_buf_t *out, int64_t seconds, int32_t nanos)
{
    if (seconds < WKT_TIMESTAMP_MIN_SECONDS || seconds > WKT_TIMESTAMP_MAX_SECONDS || nanos < 0 || nanos >= NANOS_PER_SECOND)
        return -1;
    /* Floor division: negative seconds belong to the day before 1970-01-01. */
    int64_t days = seconds >= 0 ? seconds / 86400 : -((-seconds + 86399) / 86400);
    unsigned sod = (unsigned)(seconds - days * 86400);
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    char tmp[40], *p = tmp;
    p = put_digits(p, (unsigned)y, 4);
    *p++ = '-';
    p = put_digits(p, m, 2);
    *p++ = '-';
    p = put_digits(p, d, 2);
    *p++ = 'T';
    p = put_digits(p, sod / 3600, 2);
    *p++ = ':';
    p = put_digits(p, sod / 60 % 60, 2);
    *p++ = ':';
    p = put_digits(p, sod % 60, 2);
    p = put_nanos(p, nanos);
    *p++ = 'Z';
    util_buf_append(out, tmp, (size_t)(p - tmp));
    return 0;
}

int wkt_duration_format(util_buf_t *out, int64_t seconds, int32_t nanos)
{
    if (seconds < -WKT_DURATION_MAX_SECONDS || seconds > WKT_DURATION_MAX_SECONDS || nanos <= -NANOS_PER_SECOND ||
        nanos >= NANOS_PER_SECOND)
        return -1;
    if ((seconds < 0 && nanos > 0) || (seconds > 0 && nanos < 0))
        return -1;
    char tmp[40], *p = tmp;
    if (seconds < 0 || nanos < 0) {
        *p++ = '-';
        seconds = -seconds;
        nanos = -nanos;
    }
    /* seconds <= 315576000000 has at most 12 digits */
    char digits[20];
    int n = 0;
    uint64_t s = (uint64_t)seconds;
    do {
        digits[n++] = (char)('0' + s % 10);
        s /= 10;
    } while (s != 0);
    while (n > 0)
        *p++ = digits[--n];
    p = put_nanos(p, nanos);
    *p++ = 's';
    util_buf_append(out, tmp, (size_t)(p - tmp));
    return 0;
}

/* Reads exactly |n| digits at |s|; returns the value or -1. */
static int read_fixed(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Parses ".d{1,9}" at [*p, end) if present; returns 0 and the nanos, or -1. */
static int read_fraction(const char **pp, const char *end, int32_t *nanos)
{
    const char *p = *pp;
    *nanos = 0;
    if (p >= end || *p != '.')
        return 0;
    p++;
    int32_t v = 0;
    int n = 0;
    while (p < end && *p >= '0' && *p <= '9') {
        if (n == 9)
            return -1;
        v = v * 10 + (*p - '0');
        n++;
        p++;
    }
    if (n == 0)
        return -1;
    for (; n < 9; n++)
        v *= 10;
    *nanos = v;
    *pp = p;
    return 0;
}

int wkt_timestamp_parse(const char *text, size_t len, int64_t *seconds, int32_t *nanos)
{
    /* YYYY-MM-DDTHH:MM:SS is 19 characters, then [.fraction], then Z or +HH:MM / -HH:MM. */
    if (len < 20)
        return -1;
    const char *s = text, *end = text + len;
    if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
        return -1;
    int y = read_fixed(s, 4), mo = read_fixed(s + 5, 2), d = read_fixed(s + 8, 2);
    int h = read_fixed(s + 11, 2), mi = read_fixed(s + 14, 2), se = read_fixed(s + 17, 2);
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 59)
        return -1;
    if ((unsigned)d > days_in_month(y, (unsigned)mo))
        return -1;
    const char *p = s + 19;
    int32_t ns;
    if (read_fraction(&p, end, &ns) != 0)
        return -1;
    int64_t offset = 0;
    if (p < end && *p == 'Z') {
        p++;
    } else if (p < end && (*p == '+' || *p == '-')) {
        if (end - p < 6 || p[3] != ':')
            return -1;
        int oh = read_fixed(p + 1, 2), om = read_fixed(p + 4, 2);
        if (oh < 0 || oh > 23 || om < 0 || om > 59)
            return -1;
        offset = (int64_t)oh * 3600 + om * 60;
        if (*p == '-')
            offset = -offset;
        p += 6;
    } else {
        return -1;
    }
    if (p != end)
        return -1;
    int64_t secs = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se - offset;
    if (secs < WKT_TIMESTAMP_MIN_SECONDS || secs > WKT_TIMESTAMP_MAX_SECONDS)
        return -1;
    *seconds = secs;
    *nanos = ns;
    return 0;
}

int wkt_duration_parse(const char *text, size_t len, int64_t *seconds, int32_t *nanos)
{
    const char *p = text, *end = text + len;
    if (len < 2 || end[-1] != 's')
        return -1;
    end--;
    int neg = 0;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    uint64_t s = 0;
    int n = 0;
    while (p < end && *p >= '0' && *p <= '9') {
        s = s * 10 + (uint64_t)(*p - '0');
        if (s > (uint64_t)WKT_DURATION_MAX_SECONDS)
            return -1; /* checked per digit so that s never overflows */
        n++;
        p++;
    }
    if (n == 0)
        return -1;
    int32_t ns;
    if (read_fraction(&p, end, &ns) != 0 || p != end)
        return -1;
    *seconds = neg ? -(int64_t)s : (int64_t)s;
    *nanos = neg ? -ns : ns;
    return 0;
}
