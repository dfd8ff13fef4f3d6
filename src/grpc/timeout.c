/*
 * timeout.c — grpc-timeout header values (PROTOCOL-HTTP2.md: TimeoutValue is at most 8 ASCII
 * digits, TimeoutUnit one of H M S m u n). portico keeps deadlines in milliseconds, so parsing
 * rounds sub-millisecond units up and formatting picks the largest exact unit. See grpc.h.
 */
#include "grpc/grpc.h"
#include "util/buf.h"

#include <stdio.h>

int grpc_timeout_parse(const char *value, size_t len, int64_t *ms, util_error_t *err)
{
    int shown = (int)(len > 32 ? 32 : len);
    if (len < 2 || len > 9)
        return util_error_set(err, GRPC_ERR_TIMEOUT, "grpc-timeout \"%.*s\" must be 1 to 8 digits and a unit", shown, value);
    int64_t n = 0;
    for (size_t i = 0; i + 1 < len; i++) {
        if (value[i] < '0' || value[i] > '9')
            return util_error_set(err, GRPC_ERR_TIMEOUT, "grpc-timeout \"%.*s\" has a non-digit before the unit", shown, value);
        n = n * 10 + (value[i] - '0');
    }
    switch (value[len - 1]) {
    case 'H':
        *ms = n * 3600000;
        break;
    case 'M':
        *ms = n * 60000;
        break;
    case 'S':
        *ms = n * 1000;
        break;
    case 'm':
        *ms = n;
        break;
    case 'u':
        *ms = (n + 999) / 1000;
        break;
    case 'n':
        *ms = (n + 999999) / 1000000;
        break;
    default:
        return util_error_set(err, GRPC_ERR_TIMEOUT, "grpc-timeout \"%.*s\" has unknown unit '%c' (expected H, M, S, m, u or n)",
                              shown, value, value[len - 1]);
    }
    return 0;
}

/* "<value><unit>" NUL-terminated; |v| has at most 8 digits. Every call goes through here, so no printf. */
static size_t put_value(char out[GRPC_TIMEOUT_BUF_SIZE], int64_t v, char unit)
{
    size_t n = util_u64_format(out, (uint64_t)v);
    out[n++] = unit;
    out[n] = '\0';
    return n;
}

size_t grpc_timeout_format(int64_t ms, char out[GRPC_TIMEOUT_BUF_SIZE])
{
    static const struct {
        int64_t ms;
        char unit;
    } units[] = {{3600000, 'H'}, {60000, 'M'}, {1000, 'S'}, {1, 'm'}};
    const int64_t max_value = 99999999;
    if (ms <= 0)
        return put_value(out, 0, 'm');
    /* Exact: the largest unit that divides |ms| and keeps the value within 8 digits. */
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (ms % units[i].ms == 0 && ms / units[i].ms <= max_value)
            return put_value(out, ms / units[i].ms, units[i].unit);
    }
    /* Too long for exact milliseconds: round up (a deadline must never get shorter). */
    for (size_t i = sizeof(units) / sizeof(units[0]); i-- > 0;) {
        int64_t v = ms / units[i].ms + (ms % units[i].ms != 0);
        if (v <= max_value)
            return put_value(out, v, units[i].unit);
    }
    return put_value(out, max_value, 'H');
}
