/*
 * utf8.h — UTF-8 validation (RFC 3629: no overlongs, no surrogates, max U+10FFFF) and
 * encoding of a code point, for the JSON codec.
 */
#ifndef PORTICO_UTIL_UTF8_H
#define PORTICO_UTIL_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Returns the length of the valid UTF-8 prefix of |s|: equal to |len| when all is valid. */
size_t util_utf8_valid_prefix(const uint8_t *s, size_t len);
static inline int util_utf8_valid(const uint8_t *s, size_t len)
{
    return util_utf8_valid_prefix(s, len) == len;
}
/* Writes code point |cp| (must be valid, not a surrogate) to |out| (4 bytes room); returns bytes written. */
size_t util_utf8_encode(uint8_t *out, uint32_t cp);

#endif
