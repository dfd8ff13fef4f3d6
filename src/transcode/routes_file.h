/*
 * routes_file.h — the transcoding table format (NAME.routes, docs/CODEGEN.md): one HTTP
 * binding per line, as protoc-gen-portico writes it and the gateway reads it (config key
 * "routes"). The format is defined here once, for both sides: the parser, and the writer of
 * one route line (routes_file_write_entry) that a generator can share.
 *
 *   #portico-routes v1
 *   # descriptor-set shop.pb
 *   # VERB PATH BODY RESPONSE_BODY INPUT OUTPUT STREAMING METHOD ORIGIN
 *   GET /v1/products/{sku}/price - - shop.v1.GetPriceRequest shop.v1.Price unary shop.v1.PriceService.GetPrice rule
 *
 * The parser checks the syntax of every line (nine fields, one space apart; each field of its
 * form) and nothing that needs descriptors: whether the method exists and takes those types,
 * and whether the path variables and body name fields, is the caller's check against its
 * registry (binding_rule_init). Every error names the file and line: "shop.routes:7: ...".
 */
#ifndef PORTICO_TRANSCODE_ROUTES_FILE_H
#define PORTICO_TRANSCODE_ROUTES_FILE_H

#include <stddef.h>

#include "util/arena.h"
#include "util/buf.h"
#include "util/error.h"

#define ROUTES_FILE_MAGIC "#portico-routes v1"
#define ROUTES_FILE_DESCRIPTOR_SET "# descriptor-set " /* the header line naming the set written beside the table */
#define ROUTES_FILE_COLUMNS "# VERB PATH BODY RESPONSE_BODY INPUT OUTPUT STREAMING METHOD ORIGIN"
#define ROUTES_FILE_MAX_BYTES ((size_t)16 << 20)

/* util_error_t.code values set here (range -140 .. -149). */
enum {
    ROUTES_FILE_ERR_IO = -140, /* the file cannot be read */
    ROUTES_FILE_ERR_SYNTAX,    /* not a table, a malformed line (the message has file:line) */
    ROUTES_FILE_ERR_NOMEM,
};

typedef enum routes_file_streaming {
    ROUTES_FILE_UNARY = 0,
    ROUTES_FILE_SERVER,
    ROUTES_FILE_CLIENT,
    ROUTES_FILE_BIDI,
} routes_file_streaming_t;

/* Where a route comes from (ORIGIN). */
enum {
    ROUTES_FILE_ORIGIN_AUTO = -2, /* "auto": no google.api.http rule; POST /pkg.Service/Method, body "*" */
    ROUTES_FILE_ORIGIN_RULE = -1, /* "rule": the method's rule; >= 0: "additional_bindings[K]" */
};

/* One line of the table. Strings are NUL-terminated; "-" columns are stored as "". */
typedef struct routes_file_entry {
    const char *verb;          /* "GET", a custom kind as written ("HEAD"), or "*" */
    const char *path;          /* the path template as written (checked later, by whoever compiles it) */
    const char *body;          /* "" (no body), "*" or a top-level request field name */
    const char *response_body; /* "" (the whole response) or a top-level response field name */
    const char *input;         /* message full names */
    const char *output;
    routes_file_streaming_t streaming;
    const char *method; /* "pkg.Service.Method" */
    int origin;         /* ROUTES_FILE_ORIGIN_* or the index of the additional binding */
    unsigned line;      /* 1-based line number in the file */
} routes_file_entry_t;

typedef struct routes_file {
    const char *name;           /* the file as named to the parser, for messages */
    const char *descriptor_set; /* as written after "# descriptor-set " (relative to the table's directory); NULL if none */
    unsigned descriptor_set_line;
    const routes_file_entry_t *entries; /* in file order */
    size_t n_entries;
} routes_file_t;

/*
 * Parses the table |text| (|len| bytes; need not be NUL-terminated) into |out|; every string
 * and array lives in |arena|. |name| stands for the file in messages (and is copied into
 * |out|). Returns 0, or -1 with |err| set (ROUTES_FILE_ERR_*), the message starting with
 * "NAME:LINE: ". On failure |out| is left zeroed; what was allocated stays in the arena.
 */
int routes_file_parse(util_arena_t *arena, const char *name, const char *text, size_t len, routes_file_t *out, util_error_t *err);

/* Reads and parses the file at |path| (at most ROUTES_FILE_MAX_BYTES); |name| (NULL: |path|) is
 * used in messages. Returns 0, or -1 with |err| set. */
int routes_file_load(util_arena_t *arena, const char *path, const char *name, routes_file_t *out, util_error_t *err);

/* "unary", "server", "client", "bidi". */
const char *routes_file_streaming_name(routes_file_streaming_t s);

/* Appends |e| as one table line, newline included: the format's writer. Fields stored as ""
 * are written as "-". */
void routes_file_write_entry(util_buf_t *out, const routes_file_entry_t *e);

#endif
