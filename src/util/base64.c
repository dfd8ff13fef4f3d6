/*
 * base64.c — base64 encode/decode for the JSON codec (bytes fields) and gRPC metadata
 * (-bin headers); see base64.h for why this is hand-written rather than OpenSSL's.
 * Encoding writes straight into the reserved tail of the buffer, three bytes in, four out;
 * decoding uses a 256-entry table that knows both alphabets.
 */
#include "util/base64.h"

static const char b64_std[64] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[64] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* 0..63: value; 64: '='; 255: not in any alphabet. */
#define B64_PAD 64
#define B64_BAD 255
static const uint8_t b64_dec[256] = {
    ['A'] = 0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
    12,
    13,
    14,
    15,
    16,
    17,
    18,
    19,
    20,
    21,
    22,
    23,
    24,
    25,
    ['a'] = 26,
    27,
    28,
    29,
    30,
    31,
    32,
    33,
    34,
    35,
    36,
    37,
    38,
    39,
    40,
    41,
    42,
    43,
    44,
    45,
    46,
    47,
    48,
    49,
    50,
    51,
    ['0'] = 52,
    53,
    54,
    55,
    56,
    57,
    58,
    59,
    60,
    61,
    ['+'] = 62,
    ['-'] = 62,
    ['/'] = 63,
    ['_'] = 63,
    ['='] = B64_PAD,
};

/* The table above leaves unlisted entries at 0, which is also the value of 'A'; this tells them apart. */
static inline int b64_valid(uint8_t c)
{
    return c == 'A' || b64_dec[c] != 0;
}

void util_base64_encode(util_buf_t *out, const uint8_t *data, size_t len, int url_safe)
{
    const char *alpha = url_safe ? b64_url : b64_std;
    size_t need = (len + 2) / 3 * 4;
    if (len == 0 || util_buf_reserve(out, need) != 0)
        return;
    uint8_t *o = out->data + out->len;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
        o[0] = (uint8_t)alpha[v >> 18];
        o[1] = (uint8_t)alpha[(v >> 12) & 63];
        o[2] = (uint8_t)alpha[(v >> 6) & 63];
        o[3] = (uint8_t)alpha[v & 63];
        o += 4;
    }
    size_t rest = len - i;
    if (rest != 0) {
        uint32_t v = (uint32_t)data[i] << 16 | (rest == 2 ? (uint32_t)data[i + 1] << 8 : 0);
        *o++ = (uint8_t)alpha[v >> 18];
        *o++ = (uint8_t)alpha[(v >> 12) & 63];
        if (rest == 2)
            *o++ = (uint8_t)alpha[(v >> 6) & 63];
        if (!url_safe) {
            if (rest == 1)
                *o++ = '=';
            *o++ = '=';
        }
    }
    out->len = (size_t)(o - out->data);
}

int util_base64_decode(util_buf_t *out, const char *text, size_t len)
{
    const uint8_t *s = (const uint8_t *)text;
    /* Strip padding: at most two '=', and only so that the total is a multiple of 4. */
    size_t n = len;
    size_t pad = 0;
    while (n > 0 && s[n - 1] == '=' && pad < 2) {
        n--;
        pad++;
    }
    if (pad != 0 && len % 4 != 0)
        return -1;
    if (n % 4 == 1)
        return -1; /* one dangling character carries only 6 bits */
    if (pad != 0 && (n % 4) + pad != 4)
        return -1;
    if (n == 0)
        return 0;
    if (util_buf_reserve(out, n / 4 * 3 + 2) != 0)
        return -1;
    uint8_t *o = out->data + out->len;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        uint8_t a = s[i], b = s[i + 1], c = s[i + 2], d = s[i + 3];
        if (!b64_valid(a) || !b64_valid(b) || !b64_valid(c) || !b64_valid(d) || a == '=' || b == '=' || c == '=' || d == '=')
            return -1;
        uint32_t v = (uint32_t)b64_dec[a] << 18 | (uint32_t)b64_dec[b] << 12 | (uint32_t)b64_dec[c] << 6 | b64_dec[d];
        o[0] = (uint8_t)(v >> 16);
        o[1] = (uint8_t)(v >> 8);
        o[2] = (uint8_t)v;
        o += 3;
    }
    size_t rest = n - i;
    if (rest != 0) {
        uint8_t a = s[i], b = s[i + 1], c = rest == 3 ? s[i + 2] : 'A';
        if (!b64_valid(a) || !b64_valid(b) || !b64_valid(c) || a == '=' || b == '=' || c == '=')
            return -1;
        uint32_t v = (uint32_t)b64_dec[a] << 18 | (uint32_t)b64_dec[b] << 12 | (uint32_t)b64_dec[c] << 6;
        *o++ = (uint8_t)(v >> 16);
        if (rest == 3)
            *o++ = (uint8_t)(v >> 8);
    }
    out->len = (size_t)(o - out->data);
    return 0;
}
