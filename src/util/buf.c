/*
 * buf.c — growable byte buffer; see buf.h.
 */
#include "util/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void util_buf_init(util_buf_t *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}

void util_buf_dispose(util_buf_t *b)
{
    free(b->data);
    util_buf_init(b);
}

int util_buf_reserve_slow(util_buf_t *b, size_t n)
{
    if (b->failed)
        return -1;
    if (n > SIZE_MAX / 2 - b->len)
        goto fail;
    size_t want = b->len + n;
    size_t cap = b->cap < 64 ? 64 : b->cap;
    while (cap < want)
        cap *= 2;
    uint8_t *p = realloc(b->data, cap);
    if (p == NULL)
        goto fail;
    b->data = p;
    b->cap = cap;
    return 0;
fail:
    b->failed = 1;
    return -1;
}

uint8_t *util_buf_release(util_buf_t *b, size_t *len)
{
    uint8_t *p = b->data;
    *len = b->len;
    util_buf_init(b);
    return p;
}

void util_buf_printf(util_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(small)) {
        util_buf_append(b, small, (size_t)n);
        return;
    }
    if (util_buf_reserve(b, (size_t)n + 1) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}
