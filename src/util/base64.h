/*
 * base64.h — base64 as the proto3 JSON mapping and gRPC metadata need it: encode with the
 * standard alphabet and padding; decode both the standard and the URL-safe alphabet, with
 * or without padding. Written by hand because OpenSSL's EVP_DecodeBlock accepts neither
 * the URL-safe alphabet nor missing padding.
 */
#ifndef PORTICO_UTIL_BASE64_H
#define PORTICO_UTIL_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Appends the base64 of |data| to |out| (standard alphabet, padded; url_safe: '-', '_', no padding). */
void util_base64_encode(util_buf_t *out, const uint8_t *data, size_t len, int url_safe);
/*
 * Appends the decoded bytes of |text| to |out|. Accepts '+' '/' and '-' '_' (not mixed in
 * a way that matters: each character is decoded by itself), with or without '=' padding.
 * Returns 0, or -1 on a character outside the alphabets, bad padding or a dangling
 * single character.
 */
int util_base64_decode(util_buf_t *out, const char *text, size_t len);

#endif
