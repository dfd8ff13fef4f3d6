/*
 * buf.h — a growable byte buffer (malloc-backed) used by the codec and the protocol
 * code to build output. The buffer owns its memory; util_buf_dispose() frees it.
 * Appending never fails silently: on allocation failure the buffer is marked failed,
 * later appends are no-ops, and util_buf_failed() reports it once at the end (the
 * "sticky error" pattern keeps hot loops free of per-append checks).
 */
#ifndef PORTICO_UTIL_BUF_H
#define PORTICO_UTIL_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct util_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    int failed;
} util_buf_t;

#define UTIL_BUF_INIT                                                                                                              \
    {                                                                                                                              \
        NULL, 0, 0, 0                                                                                                              \
    }

void util_buf_init(util_buf_t *b);
void util_buf_dispose(util_buf_t *b);
/* Makes room for |n| more bytes; returns 0, or -1 (and marks the buffer failed). */
int util_buf_reserve_slow(util_buf_t *b, size_t n);
/* Takes the bytes out of the buffer; the caller frees them with free(). */
uint8_t *util_buf_release(util_buf_t *b, size_t *len);

static inline int util_buf_reserve(util_buf_t *b, size_t n)
{
    if (b->cap - b->len >= n)
        return 0;
    return util_buf_reserve_slow(b, n);
}

static inline void util_buf_append(util_buf_t *b, const void *p, size_t n)
{
    if (util_buf_reserve(b, n) != 0)
        return;
    if (n != 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
}

static inline void util_buf_putc(util_buf_t *b, uint8_t c)
{
    if (util_buf_reserve(b, 1) != 0)
        return;
    b->data[b->len++] = c;
}

static inline void util_buf_puts(util_buf_t *b, const char *s)
{
    util_buf_append(b, s, strlen(s));
}

static inline int util_buf_failed(const util_buf_t *b)
{
    return b->failed;
}

/* Writes |v| in decimal to |out| (room for 20, no NUL); returns the length (1 to 20). Two
 * digits per division; inline, for the JSON printer's integers. */
static inline size_t util_u64_format(char *out, uint64_t v)
{
    static const char digits2[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                     "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                     "8081828384858687888990919293949596979899";
    char tmp[20];
    char *t = tmp + sizeof(tmp);
    while (v >= 100) {
        unsigned d = (unsigned)(v % 100) * 2;
        v /= 100;
        *--t = digits2[d + 1];
        *--t = digits2[d];
    }
    if (v >= 10) {
        unsigned d = (unsigned)v * 2;
        *--t = digits2[d + 1];
        *--t = digits2[d];
    } else {
        *--t = (char)('0' + v);
    }
    size_t n = (size_t)(tmp + sizeof(tmp) - t);
    memcpy(out, t, n);
    return n;
}

/* Appends |v| in decimal (no printf on hot paths). */
static inline void util_buf_append_u64(util_buf_t *b, uint64_t v)
{
    char num[20];
    util_buf_append(b, num, util_u64_format(num, v));
}

/* printf-style append. */
void util_buf_printf(util_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
