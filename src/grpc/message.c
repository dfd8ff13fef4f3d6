/*
 * message.c — the grpc-message header's percent-encoding (PROTOCOL-HTTP2.md): the status
 * message is UTF-8 text, but a header value may only hold printable ASCII, so every other
 * byte (and '%' itself) travels as %XX. Decoding never fails: a malformed escape is kept as
 * it stands, which is what the spec asks of receivers. See grpc.h.
 */
#include "grpc/grpc.h"
#include "util/hex.h"

static const char hex_upper[] = "0123456789ABCDEF";

void grpc_message_percent_encode(util_buf_t *out, const char *msg, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)msg[i];
        if (c >= 0x20 && c <= 0x7e && c != '%')
            continue;
        util_buf_append(out, msg + start, i - start);
        uint8_t esc[3] = {'%', (uint8_t)hex_upper[c >> 4], (uint8_t)hex_upper[c & 0xf]};
        util_buf_append(out, esc, 3);
        start = i + 1;
    }
    util_buf_append(out, msg + start, len - start);
}


void grpc_message_percent_decode(util_buf_t *out, const char *value, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (value[i] != '%' || i + 2 >= len)
            continue;
        int hi = util_hex_value(value[i + 1]), lo = util_hex_value(value[i + 2]);
        if (hi < 0 || lo < 0)
            continue;
        util_buf_append(out, value + start, i - start);
        util_buf_putc(out, (uint8_t)(hi << 4 | lo));
        i += 2;
        start = i + 1;
    }
    util_buf_append(out, value + start, len - start);
}
