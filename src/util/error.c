/*
 * error.c — filling util_error_t; see error.h.
 */
#include "util/error.h"

#include <stdio.h>
#include <string.h>

int util_error_set(util_error_t *err, int code, const char *fmt, ...)
{
    if (err == NULL)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    err->code = code;
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return -1;
}

void util_error_prefix(util_error_t *err, const char *fmt, ...)
{
    if (err == NULL)
        return;
    char prefix[256], old[sizeof(err->message)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->message, sizeof(old));
    size_t n = strlen(prefix);
    if (n + 2 >= sizeof(err->message))
        n = sizeof(err->message) - 3;
    memcpy(err->message, prefix, n);
    memcpy(err->message + n, ": ", 2);
    size_t room = sizeof(err->message) - n - 3;
    size_t m = strnlen(old, room);
    memcpy(err->message + n + 2, old, m);
    err->message[n + 2 + m] = '\0';
}
