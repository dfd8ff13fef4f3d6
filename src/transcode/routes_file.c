/*
 * routes_file.c — reading and writing the transcoding table (NAME.routes); see routes_file.h
 * and docs/CODEGEN.md for the format.
 *
 * Written by hand rather than with a CSV or tokenizer library: the format is deliberately
 * trivial (nine fields, one space apart, "#" comments), and what matters is the checking of
 * each field with a message that names the file, the line and the column, which no library
 * would phrase for us. Each line is copied into the arena once and split in place.
 */
#include "transcode/routes_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define N_FIELDS 9
#define MAX_ADDITIONAL 1000000

static const char *const field_names[N_FIELDS] = {"VERB",   "PATH",      "BODY",   "RESPONSE_BODY", "INPUT",
                                                  "OUTPUT", "STREAMING", "METHOD", "ORIGIN"};
static const char *const streaming_names[] = {"unary", "server", "client", "bidi"};

const char *routes_file_streaming_name(routes_file_streaming_t s)
{
    return (unsigned)s < sizeof(streaming_names) / sizeof(streaming_names[0]) ? streaming_names[s] : "unary";
}

/* RFC 9110 token (an HTTP method), or "*" (any method). */
static int verb_valid(const char *s)
{
    if (strcmp(s, "*") == 0)
        return 1;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("!#$%&'*+-.^_`|~", *s) != NULL))
            return 0;
    return 1;
}

static int ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int ident_char(char c)
{
    return ident_start(c) || (c >= '0' && c <= '9');
}

/* A protobuf identifier: [A-Za-z_][A-Za-z0-9_]*. */
static int ident_valid(const char *s)
{
    if (!ident_start(*s))
        return 0;
    for (s++; *s; s++)
        if (!ident_char(*s))
            return 0;
    return 1;
}

/* Identifiers joined by single dots, at least |min_parts| of them. */
static int full_name_valid(const char *s, int min_parts)
{
    int parts = 0;
    for (;;) {
        if (!ident_start(*s))
            return 0;
        while (ident_char(*s))
            s++;
        parts++;
        if (*s == '\0')
            return parts >= min_parts;
        if (*s != '.')
            return 0;
        s++;
    }
}

typedef struct parser {
    const char *name;
    util_error_t *err;
    unsigned line;
} parser_t;

static int fail(parser_t *p, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(parser_t *p, int code, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (p->line > 0)
        return util_error_set(p->err, code, "%s:%u: %s", p->name, p->line, msg);
    return util_error_set(p->err, code, "%s: %s", p->name, msg);
}

/* "additional_bindings[K]" → K; -1 when |s| is not of that form. */
static int parse_additional(const char *s)
{
    static const char prefix[] = "additional_bindings[";
    if (strncmp(s, prefix, sizeof(prefix) - 1) != 0)
        return -1;
    s += sizeof(prefix) - 1;
    if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] != ']'))
        return -1;
    long k = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        k = k * 10 + (*s - '0');
        if (k >= MAX_ADDITIONAL)
            return -1;
    }
    return strcmp(s, "]") == 0 ? (int)k : -1;
}

/* Splits |line| (modified in place) into the nine fields and checks each. */
static int parse_route(parser_t *p, char *line, routes_file_entry_t *e)
{
    char *f[N_FIELDS];
    size_t n = 0;
    char *s = line;
    for (;;) {
        char *sp = strchr(s, ' ');
        if (sp == s || (sp == NULL && *s == '\0'))
            return fail(p, ROUTES_FILE_ERR_SYNTAX, "empty field at column %zu: the fields are separated by exactly one space",
                        (size_t)(s - line) + 1);
        if (n == N_FIELDS)
            return fail(p, ROUTES_FILE_ERR_SYNTAX,
                        "more than %d fields (VERB PATH BODY RESPONSE_BODY INPUT OUTPUT STREAMING METHOD ORIGIN); "
                        "no field may contain a space",
                        N_FIELDS);
        f[n++] = s;
        if (sp == NULL)
            break;
        *sp = '\0';
        s = sp + 1;
    }
    if (n != N_FIELDS)
        return fail(p, ROUTES_FILE_ERR_SYNTAX,
                    "%zu field%s where 9 are expected (VERB PATH BODY RESPONSE_BODY INPUT OUTPUT STREAMING METHOD ORIGIN)", n,
                    n == 1 ? "" : "s");

    memset(e, 0, sizeof(*e));
    e->line = p->line;
    if (!verb_valid(f[0]))
        return fail(p, ROUTES_FILE_ERR_SYNTAX, "%s \"%.60s\" is neither an HTTP method token nor \"*\"", field_names[0], f[0]);
    e->verb = f[0];
    if (f[1][0] != '/')
        return fail(p, ROUTES_FILE_ERR_SYNTAX, "%s \"%.100s\" does not start with \"/\"", field_names[1], f[1]);
    e->path = f[1];
    if (strcmp(f[2], "-") == 0)
        e->body = "";
    else if (strcmp(f[2], "*") == 0 || ident_valid(f[2]))
        e->body = f[2];
    else
        return fail(p, ROUTES_FILE_ERR_SYNTAX, "%s \"%.60s\" is not \"-\", \"*\" or a field name", field_names[2], f[2]);
    if (strcmp(f[3], "-") == 0)
        e->response_body = "";
    else if (ident_valid(f[3]))
        e->response_body = f[3];
    else
        return fail(p, ROUTES_FILE_ERR_SYNTAX, "%s \"%.60s\" is not \"-\" or a field name", field_names[3], f[3]);
    for (int i = 4; i <= 5; i++)
        if (!full_name_valid(f[i], 1))
            return fail(p, ROUTES_FILE_ERR_SYNTAX, "%s \"%.100s\" is not a message name (pkg.Message)", field_names[i], f[i]);
    e->input = f[4];
    e->output = f[5];
    size_t k;
    for (k = 0; k < sizeof(streaming_names) / sizeof(streaming_names[0]); k++)
        if (strcmp(f[6], streaming_names[k]) == 0)
            break;
    if (k == sizeof(streaming_names) / sizeof(streaming_names[0]))
        return fail(p, ROUTES_FILE_ERR_SYNTAX, "%s \"%.60s\" is not one of unary, server, client, bidi", field_names[6], f[6]);
    e->streaming = (routes_file_streaming_t)k;
    if (!full_name_valid(f[7], 2))
        return fail(p, ROUTES_FILE_ERR_SYNTAX, "%s \"%.100s\" is not a method name (pkg.Service.Method)", field_names[7], f[7]);
    e->method = f[7];
    if (strcmp(f[8], "rule") == 0)
        e->origin = ROUTES_FILE_ORIGIN_RULE;
    else if (strcmp(f[8], "auto") == 0)
        e->origin = ROUTES_FILE_ORIGIN_AUTO;
    else if ((e->origin = parse_additional(f[8])) < 0)
        return fail(p, ROUTES_FILE_ERR_SYNTAX, "%s \"%.60s\" is not rule, auto or additional_bindings[K]", field_names[8], f[8]);
    return 0;
}

int routes_file_parse(util_arena_t *arena, const char *name, const char *text, size_t len, routes_file_t *out, util_error_t *err)
{
    memset(out, 0, sizeof(*out));
    parser_t p = {.name = name != NULL ? name : "routes", .err = err};
    if (memchr(text, '\0', len) != NULL) {
        p.line = 1;
        for (const char *c = text; *c; c++)
            p.line += *c == '\n';
        return fail(&p, ROUTES_FILE_ERR_SYNTAX, "contains a NUL byte: not a text file");
    }
    size_t max_lines = 1;
    for (size_t i = 0; i < len; i++)
        max_lines += text[i] == '\n';
    routes_file_entry_t *entries = util_arena_alloc(arena, max_lines * sizeof(*entries));
    const char *copy_name = util_arena_strdup(arena, p.name);
    if (entries == NULL || copy_name == NULL)
        return fail(&p, ROUTES_FILE_ERR_NOMEM, "out of memory");

    const char *descriptor_set = NULL;
    unsigned descriptor_set_line = 0;
    size_t n = 0;
    size_t pos = 0;
    while (pos < len || p.line == 0) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - text) : len, line_len = end - pos;
        p.line++;
        if (line_len > 0 && text[pos + line_len - 1] == '\r')
            line_len--; /* a table that went through a Windows editor */
        char *line = util_arena_strndup(arena, text + pos, line_len);
        if (line == NULL)
            return fail(&p, ROUTES_FILE_ERR_NOMEM, "out of memory");
        pos = nl != NULL ? end + 1 : len;

        if (p.line == 1) {
            if (strncmp(line, "\xEF\xBB\xBF", 3) == 0)
                line += 3;
            if (strcmp(line, ROUTES_FILE_MAGIC) == 0)
                continue;
            if (strncmp(line, "#portico-routes ", 16) == 0)
                return fail(&p, ROUTES_FILE_ERR_SYNTAX, "format version \"%.20s\" is not supported (this gateway reads v1)",
                            line + 16);
            return fail(&p, ROUTES_FILE_ERR_SYNTAX, "not a portico routes table: the first line must be \"%s\"", ROUTES_FILE_MAGIC);
        }
        if (line[0] == '\0')
            continue;
        if (line[0] == '#') {
            if (strncmp(line, ROUTES_FILE_DESCRIPTOR_SET, strlen(ROUTES_FILE_DESCRIPTOR_SET)) == 0) {
                char *v = line + strlen(ROUTES_FILE_DESCRIPTOR_SET);
                size_t vl = strlen(v);
                while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
                    v[--vl] = '\0';
                if (vl == 0)
                    return fail(&p, ROUTES_FILE_ERR_SYNTAX, "\"# descriptor-set\" names no file");
                if (descriptor_set != NULL)
                    return fail(&p, ROUTES_FILE_ERR_SYNTAX, "a second \"# descriptor-set\" line (the first is line %u)",
                                descriptor_set_line);
                descriptor_set = v;
                descriptor_set_line = p.line;
            }
            continue;
        }
        if (parse_route(&p, line, &entries[n]) != 0)
            return -1;
        n++;
    }
    out->name = copy_name;
    out->descriptor_set = descriptor_set;
    out->descriptor_set_line = descriptor_set_line;
    out->entries = entries;
    out->n_entries = n;
    return 0;
}

int routes_file_load(util_arena_t *arena, const char *path, const char *name, routes_file_t *out, util_error_t *err)
{
    memset(out, 0, sizeof(*out));
    if (name == NULL)
        name = path;
    /* O_NONBLOCK: a FIFO named by mistake must not hang; fstat rejects it right after */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return util_error_set(err, ROUTES_FILE_ERR_IO, "%s: cannot read: %s", name, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int saved = errno;
        close(fd);
        return util_error_set(err, ROUTES_FILE_ERR_IO, "%s: cannot read: %s", name, strerror(saved));
    }
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > ROUTES_FILE_MAX_BYTES) {
        close(fd);
        if (!S_ISREG(st.st_mode))
            return util_error_set(err, ROUTES_FILE_ERR_IO, "%s: not a regular file", name);
        return util_error_set(err, ROUTES_FILE_ERR_IO, "%s: larger than %zu bytes", name, ROUTES_FILE_MAX_BYTES);
    }
    size_t cap = (size_t)st.st_size, n = 0;
    char *buf = malloc(cap + 1);
    if (buf == NULL) {
        close(fd);
        return util_error_set(err, ROUTES_FILE_ERR_NOMEM, "%s: out of memory", name);
    }
    while (n < cap) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int saved = errno;
            free(buf);
            close(fd);
            return util_error_set(err, ROUTES_FILE_ERR_IO, "%s: cannot read: %s", name, strerror(saved));
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    int rc = routes_file_parse(arena, name, buf, n, out, err);
    free(buf);
    return rc;
}

void routes_file_write_entry(util_buf_t *out, const routes_file_entry_t *e)
{
    util_buf_printf(out, "%s %s %s %s %s %s %s %s ", e->verb, e->path, e->body[0] ? e->body : "-",
                    e->response_body[0] ? e->response_body : "-", e->input, e->output, routes_file_streaming_name(e->streaming),
                    e->method);
    if (e->origin == ROUTES_FILE_ORIGIN_AUTO)
        util_buf_puts(out, "auto\n");
    else if (e->origin == ROUTES_FILE_ORIGIN_RULE)
        util_buf_puts(out, "rule\n");
    else
        util_buf_printf(out, "additional_bindings[%d]\n", e->origin);
}
