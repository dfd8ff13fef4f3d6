/*
 * json_path.h — the JSON path that the config loader (src/config/walk.c) and the aggregation
 * loader (src/aggregate/format.c) keep while they walk a document, and the error message
 * that names it: "NAME: calls[2].http.path: message". The path lives in the caller's own
 * context struct (a fixed buffer and its length); these functions do the bookkeeping.
 */
#ifndef PORTICO_UTIL_JSON_PATH_H
#define PORTICO_UTIL_JSON_PATH_H

#include <stdarg.h>
#include <stddef.h>

#include "util/error.h"

/* Appends ".key" ("key" at the top) / "[index]" to |path| (|cap| bytes, |*len| used), cutting
 * at the end of the buffer; returns the length to pop back to. */
size_t util_json_path_push_key(char *path, size_t cap, size_t *len, const char *key);
size_t util_json_path_push_index(char *path, size_t cap, size_t *len, size_t index);
void util_json_path_pop(char *path, size_t *len, size_t mark);

/* Sets |err| (NULL: nothing) to "NAME: PATH: message", or "NAME: message" while |path_len| is
 * 0, with control characters of the message (values quoted into it) shown as '?' so that it
 * stays one printable line. Returns -1. */
int util_json_path_fail(util_error_t *err, int code, const char *name, const char *path, size_t path_len, const char *fmt,
                        va_list ap) __attribute__((format(printf, 6, 0)));

#endif
