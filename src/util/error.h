/*
 * error.h — the error struct that synchronous portico calls fill in (like jansson's
 * json_error_t): a code for programs and a human sentence naming the offending input.
 */
#ifndef PORTICO_UTIL_ERROR_H
#define PORTICO_UTIL_ERROR_H

#include <stdarg.h>

typedef struct util_error {
    int code;          /* module-specific negative code, 0 when no error */
    char message[512]; /* one line, no trailing newline */
} util_error_t;

/* Sets |err| (may be NULL) and returns -1, so callers can `return util_error_set(...)`. */
int util_error_set(util_error_t *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prefixes the existing message with "prefix: " (used when unwinding nested contexts). */
void util_error_prefix(util_error_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
