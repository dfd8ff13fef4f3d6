/*
 * hex.h — the value of one hexadecimal digit, for the percent-decoders of URL paths, query
 * strings and grpc-message.
 */
#ifndef PORTICO_UTIL_HEX_H
#define PORTICO_UTIL_HEX_H

/* 0..15 for [0-9a-fA-F], else -1. */
static inline int util_hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
