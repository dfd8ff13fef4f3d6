/*
 * json_quote.c — JSON string literals; see json_quote.h.
 */
#include "util/json_quote.h"

/* 1 for the bytes that need an escape: controls, '"', '\\' and DEL. */
static const unsigned char needs_escape[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,         1,          1,          1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, ['"'] = 1, ['\\'] = 1, [0x7f] = 1,
};

void util_json_quote(util_buf_t *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    if (util_buf_reserve(out, len + 2) != 0) /* the common case, no escapes, in one reservation */
        return;
    out->data[out->len++] = '"';
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!needs_escape[c])
            continue;
        util_buf_append(out, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"':
            util_buf_append(out, "\\\"", 2);
            break;
        case '\\':
            util_buf_append(out, "\\\\", 2);
            break;
        case '\n':
            util_buf_append(out, "\\n", 2);
            break;
        case '\r':
            util_buf_append(out, "\\r", 2);
            break;
        case '\t':
            util_buf_append(out, "\\t", 2);
            break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            util_buf_append(out, u, 6);
        }
        }
    }
    util_buf_append(out, s + run, len - run);
    util_buf_putc(out, '"');
}
