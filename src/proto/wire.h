/*
 * wire.h — protobuf wire-format primitives (varints, tags, zigzag, fixed-width values)
 * shared by the codec's reader and writer. All inline; no allocation except through
 * util_buf_t.
 */
#ifndef PORTICO_PROTO_WIRE_H
#define PORTICO_PROTO_WIRE_H

#include <stdint.h>
#include <string.h>

#include "util/buf.h"

enum {
    WIRE_VARINT = 0,
    WIRE_I64 = 1,
    WIRE_LEN = 2,
    WIRE_SGROUP = 3,
    WIRE_EGROUP = 4,
    WIRE_I32 = 5,
};

static inline size_t wire_varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Writes a varint to |p| (at least 10 bytes available); returns the bytes written. */
static inline size_t wire_varint_write(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static inline void wire_put_varint(util_buf_t *b, uint64_t v)
{
    if (util_buf_reserve(b, 10) != 0)
        return;
    b->len += wire_varint_write(b->data + b->len, v);
}

static inline void wire_put_tag(util_buf_t *b, uint32_t number, int wire_type)
{
    wire_put_varint(b, ((uint64_t)number << 3) | (uint32_t)wire_type);
}

static inline void wire_put_fixed32(util_buf_t *b, uint32_t v)
{
    uint8_t t[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    util_buf_append(b, t, 4);
}

static inline void wire_put_fixed64(util_buf_t *b, uint64_t v)
{
    wire_put_fixed32(b, (uint32_t)v);
    wire_put_fixed32(b, (uint32_t)(v >> 32));
}

static inline uint64_t wire_zigzag64(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}
static inline uint32_t wire_zigzag32(int32_t v)
{
    return ((uint32_t)v << 1) ^ (uint32_t)(v >> 31);
}
static inline int64_t wire_unzigzag64(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}
static inline int32_t wire_unzigzag32(uint32_t v)
{
    return (int32_t)(v >> 1) ^ -(int32_t)(v & 1);
}

/*
 * Reads a varint from [*p, end). Returns 0 and advances *p, or -1 when truncated or
 * longer than 10 bytes.
 */
static inline int wire_read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    const uint8_t *s = *p;
    if (s < end && *s < 0x80) {
        *out = *s;
        *p = s + 1;
        return 0;
    }
    uint64_t v = 0;
    for (int shift = 0; shift < 70 && s < end; shift += 7) {
        uint8_t c = *s++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (c < 0x80) {
            *out = v;
            *p = s;
            return 0;
        }
    }
    return -1;
}

static inline uint32_t wire_load32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t wire_load64(const uint8_t *p)
{
    return (uint64_t)wire_load32(p) | (uint64_t)wire_load32(p + 4) << 32;
}

/*
 * Starts a length-delimited value whose size is not yet known: reserves one length byte
 * and returns the offset where the content starts. wire_end_len() writes the length and,
 * when it needs more than one byte, moves the content up to make room.
 */
static inline size_t wire_begin_len(util_buf_t *b)
{
    util_buf_putc(b, 0);
    return b->len;
}

static inline void wire_end_len(util_buf_t *b, size_t start)
{
    if (b->failed)
        return;
    size_t n = b->len - start;
    size_t sz = wire_varint_size(n);
    if (sz > 1) {
        if (util_buf_reserve(b, sz - 1) != 0)
            return;
        memmove(b->data + start + sz - 1, b->data + start, n);
        b->len += sz - 1;
    }
    wire_varint_write(b->data + start - 1, n);
}

#endif
