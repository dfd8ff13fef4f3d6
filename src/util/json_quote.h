/*
 * json_quote.h — appending a byte string as a JSON string literal (quotes, escapes of '"',
 * '\\' and control characters). For messages and names the gateway writes into JSON
 * documents itself; the codec has its own table-driven escaper for message data.
 */
#ifndef PORTICO_UTIL_JSON_QUOTE_H
#define PORTICO_UTIL_JSON_QUOTE_H

#include <stddef.h>

#include "util/buf.h"

void util_json_quote(util_buf_t *out, const char *s, size_t len);

#endif
