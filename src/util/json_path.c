/*
 * json_path.c — the JSON path of a document walk and the error message naming it (see
 * json_path.h).
 */
#include "util/json_path.h"

#include <stdio.h>

static size_t advance(size_t cap, size_t *len, size_t mark, int n)
{
    size_t room = cap - mark;
    *len = n < 0 ? mark : (size_t)n >= room ? cap - 1 : mark + (size_t)n;
    return mark;
}

size_t util_json_path_push_key(char *path, size_t cap, size_t *len, const char *key)
{
    size_t mark = *len;
    return advance(cap, len, mark, snprintf(path + mark, cap - mark, "%s%s", mark == 0 ? "" : ".", key));
}

size_t util_json_path_push_index(char *path, size_t cap, size_t *len, size_t index)
{
    size_t mark = *len;
    return advance(cap, len, mark, snprintf(path + mark, cap - mark, "[%zu]", index));
}

void util_json_path_pop(char *path, size_t *len, size_t mark)
{
    *len = mark;
    path[mark] = '\0';
}

int util_json_path_fail(util_error_t *err, int code, const char *name, const char *path, size_t path_len, const char *fmt,
                        va_list ap)
{
    if (err == NULL)
        return -1;
    char msg[sizeof(err->message)];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    /* values are quoted into the message: keep it one printable line for logs and terminals */
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    if (path_len == 0)
        return util_error_set(err, code, "%s: %s", name, msg);
    return util_error_set(err, code, "%s: %s: %s", name, path, msg);
}
