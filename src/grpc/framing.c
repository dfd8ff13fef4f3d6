/*
 * framing.c — gRPC length-prefixed messages: the 5-byte prefix (flags, big-endian length) and
 * an incremental deframer that takes HTTP/2 DATA payloads as they arrive, in any chunking.
 * Whole messages inside one chunk are handed out in place; only split messages are copied,
 * and the size limit is enforced from the prefix before anything is buffered. See grpc.h.
 */
#include "util/thread_cache.h"
#include "grpc/grpc.h"

void grpc_frame_header_write(uint8_t out[GRPC_FRAME_HEADER_SIZE], int compressed, uint32_t len)
{
    out[0] = compressed ? GRPC_FRAME_FLAG_COMPRESSED : 0;
    out[1] = (uint8_t)(len >> 24);
    out[2] = (uint8_t)(len >> 16);
    out[3] = (uint8_t)(len >> 8);
    out[4] = (uint8_t)len;
}

int grpc_frame_append(util_buf_t *out, const uint8_t *msg, size_t len, int compressed)
{
    if (len > UINT32_MAX)
        return -1;
    uint8_t header[GRPC_FRAME_HEADER_SIZE];
    grpc_frame_header_write(header, compressed, (uint32_t)len);
    if (util_buf_reserve(out, GRPC_FRAME_HEADER_SIZE + len) != 0)
        return -1;
    util_buf_append(out, header, sizeof(header));
    util_buf_append(out, msg, len);
    return 0;
}

void grpc_deframer_init(grpc_deframer_t *d, size_t max_message)
{
    d->max_message = max_message;
    d->header_len = 0;
    d->body_len = 0;
    d->buf = util_buf_take();
    d->failed = 0;
}

void grpc_deframer_dispose(grpc_deframer_t *d)
{
    util_buf_give(&d->buf);
}

int grpc_deframer_has_partial(const grpc_deframer_t *d)
{
    return d->header_len != 0;
}

int grpc_deframer_next(grpc_deframer_t *d, const uint8_t **data, size_t *len, grpc_frame_t *frame, util_error_t *err)
{
    if (d->failed)
        return util_error_set(err, d->failed, "the gRPC message stream already failed");

    if (d->header_len < GRPC_FRAME_HEADER_SIZE) {
        if (*len == 0)
            return 0;
        size_t n = GRPC_FRAME_HEADER_SIZE - d->header_len;
        if (n > *len)
            n = *len;
        memcpy(d->header + d->header_len, *data, n);
        d->header_len += n;
        *data += n;
        *len -= n;
        if (d->header_len < GRPC_FRAME_HEADER_SIZE)
            return 0;
        if (d->header[0] > GRPC_FRAME_FLAG_COMPRESSED) {
            d->failed = GRPC_ERR_FRAME_FLAGS;
            return util_error_set(err, GRPC_ERR_FRAME_FLAGS, "gRPC message has invalid flags byte 0x%02x", d->header[0]);
        }
        d->body_len = (size_t)d->header[1] << 24 | (size_t)d->header[2] << 16 | (size_t)d->header[3] << 8 | d->header[4];
        if (d->body_len > d->max_message) {
            d->failed = GRPC_ERR_FRAME_TOO_LARGE;
            return util_error_set(err, GRPC_ERR_FRAME_TOO_LARGE, "gRPC message of %zu bytes exceeds the limit of %zu bytes",
                                  d->body_len, d->max_message);
        }
        d->buf.len = 0;
    }

    size_t need = d->body_len - d->buf.len;
    if (need != 0 && *len == 0)
        return 0;
    if (d->buf.len == 0 && *len >= need) {
        /* The whole body is in this chunk: hand it out without copying. */
        frame->data = *data;
        frame->len = d->body_len;
    } else {
        size_t n = need < *len ? need : *len;
        util_buf_append(&d->buf, *data, n);
        if (util_buf_failed(&d->buf)) {
            d->failed = GRPC_ERR_FRAME_TOO_LARGE;
            return util_error_set(err, GRPC_ERR_FRAME_TOO_LARGE, "out of memory buffering a gRPC message of %zu bytes",
                                  d->body_len);
        }
        *data += n;
        *len -= n;
        if (d->buf.len < d->body_len)
            return 0;
        frame->data = d->buf.data;
        frame->len = d->body_len;
        need = 0;
    }
    if (need != 0) {
        *data += need;
        *len -= need;
    }
    frame->compressed = d->header[0] & GRPC_FRAME_FLAG_COMPRESSED;
    d->header_len = 0;
    /* d->buf keeps the body until the next call; it is reset when the next header completes. */
    return 1;
}
