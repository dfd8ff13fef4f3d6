/*
 * price_csv.c — shop.v1.PriceService's CSV price list: ExportPrices answers the catalog as a
 * google.api.HttpBody ("text/csv; charset=utf-8"), ImportPrices takes one as the HttpBody
 * field `file` and changes list prices from it. They are what the gateway's raw-body paths
 * (HttpBody both ways, response_body on an HttpBody field) are tested against, so both are
 * strict about what they accept and precise in what they answer: the import echoes the
 * content type and size it received, and names the line of every row it rejects.
 *
 * The CSV is RFC 4180: comma-separated, fields with a comma, quote or line end quoted
 * ("" for a quote), CRLF between records on export (CRLF or LF accepted on import), UTF-8.
 * The reader is written by hand (about a hundred lines) rather than taken from libcsv: the
 * backend's only dependencies are grpc and protobuf-c, and the reader must report the line
 * each record starts on, quoted line breaks included.
 *
 * A problem with the file as a whole (not CSV, not UTF-8, a quote never closed, a header
 * without the required columns, too many rows) fails the call with INVALID_ARGUMENT before
 * anything is applied (a first pass reads the whole file); a problem with one row (unknown
 * sku, bad amount, wrong field count, duplicate sku) only rejects that row, and the valid
 * rows are applied unless dry_run.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "shop.h"

#define CSV_CONTENT_TYPE "text/csv; charset=utf-8"
#define CSV_MAX_FIELDS 32
#define CSV_MAX_ROWS 10000
#define CSV_MAX_ERRORS 20 /* RowError messages in the response; the report holds all */
#define CSV_QUOTE_MAX 40  /* bytes of a cell quoted in an error message */

/* ---- a growable byte buffer ------------------------------------------------------------- */

typedef struct csv_buf {
    char *data;
    size_t len, cap;
    int oom;
} csv_buf_t;

static void buf_add(csv_buf_t *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (d == NULL) {
            b->oom = 1;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void buf_puts(csv_buf_t *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

/* Appends |s| as one CSV field, quoted when it holds a comma, a quote or a line break. */
static void buf_field(csv_buf_t *b, const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL) {
        buf_puts(b, s);
        return;
    }
    buf_add(b, "\"", 1);
    for (const char *p = s; *p; p++) {
        buf_add(b, p, 1);
        if (*p == '"')
            buf_add(b, "\"", 1);
    }
    buf_add(b, "\"", 1);
}

/* ---- amounts ------------------------------------------------------------------------------- */

/* Writes |micros| of a currency whose smallest unit is |minor_micros| as a decimal with
 * exactly that many places ("19.99", "2999" for yen). Amounts are never negative. */
static void format_amount(char *out, size_t size, int64_t micros, int64_t minor_micros)
{
    size_t places = 0;
    for (int64_t m = minor_micros; m < 1000000; m *= 10)
        places++;
    /* all six places, then cut: the amount is already rounded to the minor unit */
    int n = snprintf(out, size, "%lld.%06lld", (long long)(micros / 1000000), (long long)(micros % 1000000));
    if (n > 0 && (size_t)n < size)
        out[(size_t)n - 6 - (places == 0) + places] = '\0';
}

/* Parses a USD amount: digits, optionally "." and one or two more ("19.99", "20", "0.5").
 * Returns 0 with micros, or -1. */
static int parse_usd(const char *s, int64_t *micros)
{
    int64_t whole = 0, frac = 0;
    const char *p = s;
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        whole = whole * 10 + (*p - '0');
        if (whole > SHOP_MAX_UNIT_MICROS / 1000000)
            return -1;
    }
    if (*p == '.') {
        p++;
        int digits = 0;
        for (; *p >= '0' && *p <= '9'; p++, digits++) {
            if (digits == 2)
                return -1;
            frac = frac * 10 + (*p - '0');
        }
        if (digits == 0)
            return -1;
        if (digits == 1)
            frac *= 10;
    }
    if (*p != '\0')
        return -1;
    *micros = whole * 1000000 + frac * 10000;
    return 0;
}

static const char *kind_name(Shop__V1__PriceKind kind)
{
    switch (kind) {
    case SHOP__V1__PRICE_KIND__PRICE_KIND_LIST:
        return "LIST";
    case SHOP__V1__PRICE_KIND__PRICE_KIND_SALE:
        return "SALE";
    case SHOP__V1__PRICE_KIND__PRICE_KIND_CLEARANCE:
        return "CLEARANCE";
    default:
        return "";
    }
}

/* LIST, SALE, CLEARANCE, in any case, with or without the PRICE_KIND_ prefix. */
static int parse_kind(const char *s, Shop__V1__PriceKind *out)
{
    if (strncasecmp(s, "PRICE_KIND_", 11) == 0)
        s += 11;
    for (int k = SHOP__V1__PRICE_KIND__PRICE_KIND_LIST; k <= SHOP__V1__PRICE_KIND__PRICE_KIND_CLEARANCE; k++)
        if (strcasecmp(s, kind_name((Shop__V1__PriceKind)k)) == 0) {
            *out = (Shop__V1__PriceKind)k;
            return 0;
        }
    return -1;
}

/* ---- ExportPrices ---------------------------------------------------------------------------- */

void shop_price_export(shop_call_t *call, const ProtobufCMessage *request)
{
    const Shop__V1__ExportPricesRequest *req = (const Shop__V1__ExportPricesRequest *)request;
    const shop_currency_t *cur = shop_currency_find(req->currency);
    if (cur == NULL) {
        shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, "currency",
                             "currency \"%s\" is not supported; use USD, EUR, GBP or JPY", req->currency);
        return;
    }
    shop_product_t products[SHOP_CATALOG_MAX];
    size_t n = shop_catalog_snapshot(products, SHOP_CATALOG_MAX);
    csv_buf_t b = {0};
    buf_puts(&b, "sku,display_name,kind,currency,unit_amount,compare_at_amount\r\n");
    for (size_t i = 0; i < n; i++) {
        const shop_product_t *p = &products[i];
        char unit[32], compare[32] = "";
        format_amount(unit, sizeof unit, shop_currency_convert(p->unit_usd_micros, cur), cur->minor_micros);
        if (p->compare_at_usd_micros > 0)
            format_amount(compare, sizeof compare, shop_currency_convert(p->compare_at_usd_micros, cur), cur->minor_micros);
        buf_field(&b, p->sku);
        buf_puts(&b, ",");
        buf_field(&b, p->display_name);
        buf_puts(&b, ",");
        buf_puts(&b, kind_name(p->kind));
        buf_puts(&b, ",");
        buf_puts(&b, cur->code);
        buf_puts(&b, ",");
        buf_puts(&b, unit);
        buf_puts(&b, ",");
        buf_puts(&b, compare);
        buf_puts(&b, "\r\n");
    }
    if (b.oom) {
        shop_call_fail(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory writing the price list");
    } else {
        Google__Api__HttpBody body = GOOGLE__API__HTTP_BODY__INIT;
        body.content_type = CSV_CONTENT_TYPE;
        body.data.data = (uint8_t *)b.data;
        body.data.len = b.len;
        shop_call_send(call, &body.base);
    }
    free(b.data);
}

/* ---- checking the file ------------------------------------------------------------------------ */

static size_t utf8_invalid_at(const uint8_t *s, size_t len);

/* Accepts "text/csv" with optional parameters; a charset parameter must name UTF-8 (or its
 * subset US-ASCII). Returns 0, or -1 after failing the call. */
static int check_content_type(shop_call_t *call, const char *ct)
{
    if (ct[0] == '\0') {
        shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, "file.content_type",
                             "the file has no content type; send it as text/csv");
        return -1;
    }
    /* A proto3 string must be UTF-8, and this one is echoed in the response: a header
     * value with other bytes (HTTP allows them) is refused rather than passed on. */
    size_t ct_len = strlen(ct), bad = utf8_invalid_at((const uint8_t *)ct, ct_len);
    if (bad < ct_len) {
        shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, "file.content_type",
                             "the content type is not valid UTF-8 (byte %zu is 0x%02x)", bad + 1, (unsigned char)ct[bad]);
        return -1;
    }
    size_t mlen = strcspn(ct, ";");
    while (mlen > 0 && (ct[mlen - 1] == ' ' || ct[mlen - 1] == '\t'))
        mlen--;
    if (mlen != 8 || strncasecmp(ct, "text/csv", 8) != 0) {
        shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, "file.content_type",
                             "content type \"%.100s\" is not CSV; send the file as text/csv", ct);
        return -1;
    }
    for (const char *p = strchr(ct, ';'); p != NULL; p = strchr(p + 1, ';')) {
        const char *q = p + 1;
        while (*q == ' ' || *q == '\t')
            q++;
        if (strncasecmp(q, "charset=", 8) != 0)
            continue;
        q += 8;
        char cs[32];
        size_t n = 0;
        if (*q == '"')
            q++;
        while (*q && *q != ';' && *q != '"' && *q != ' ' && n + 1 < sizeof cs)
            cs[n++] = *q++;
        cs[n] = '\0';
        if (strcasecmp(cs, "utf-8") != 0 && strcasecmp(cs, "utf8") != 0 && strcasecmp(cs, "us-ascii") != 0) {
            shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, "file.content_type",
                                 "charset \"%s\" is not supported; send the file as UTF-8", cs);
            return -1;
        }
    }
    return 0;
}

/* Returns the offset of the first byte that is not part of valid UTF-8 (no overlong forms,
 * no surrogates, nothing above U+10FFFF), or |len| when all of it is valid. */
static size_t utf8_invalid_at(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            n = 1, cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2, cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3, cp = c & 0x07;
        } else {
            return i;
        }
        if (len - i <= n)
            return i;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += n + 1;
    }
    return len;
}

static int line_at(const uint8_t *s, size_t off)
{
    int line = 1;
    for (size_t i = 0; i < off; i++)
        line += s[i] == '\n';
    return line;
}

/* ---- the CSV reader ------------------------------------------------------------------------------ */

typedef struct csv_reader {
    const char *p, *end;
    int line;      /* line of |p| */
    char *scratch; /* decoded fields, NUL-terminated; as long as the input plus one NUL a field */
} csv_reader_t;

typedef struct csv_record {
    int line;                /* where the record starts */
    size_t n;                /* fields in the record, which may exceed CSV_MAX_FIELDS ... */
    char *f[CSV_MAX_FIELDS]; /* ... of which the first CSV_MAX_FIELDS are kept */
    int blank;               /* an empty line */
} csv_record_t;

/* Reads the next record. Returns 1, 0 at the end of the input, or -1 for a syntax error
 * (with a message in |err|). */
static int csv_read(csv_reader_t *r, csv_record_t *rec, char *err, size_t errlen)
{
    if (r->p >= r->end)
        return 0;
    char *out = r->scratch;
    rec->line = r->line;
    rec->n = 0;
    rec->blank = 0;
    int any_quote = 0;
    for (;;) {
        char *field = out;
        if (r->p < r->end && *r->p == '"') {
            int start = r->line;
            any_quote = 1;
            r->p++;
            for (;;) {
                if (r->p >= r->end) {
                    snprintf(err, errlen, "line %d: a quoted field is never closed", start);
                    return -1;
                }
                if (*r->p == '"') {
                    if (r->p + 1 < r->end && r->p[1] == '"') {
                        *out++ = '"';
                        r->p += 2;
                        continue;
                    }
                    r->p++;
                    break;
                }
                if (*r->p == '\n')
                    r->line++;
                *out++ = *r->p++;
            }
            if (r->p < r->end && *r->p != ',' && *r->p != '\n' && !(*r->p == '\r' && r->p + 1 < r->end && r->p[1] == '\n')) {
                unsigned char c = (unsigned char)*r->p; /* maybe part of a UTF-8 sequence: name it by value */
                snprintf(err, errlen,
                         "line %d: unexpected byte 0x%02x ('%c') after a closing quote; a quote inside a quoted field is "
                         "written \"\"",
                         r->line, c, c >= 0x20 && c < 0x7f ? c : '?');
                return -1;
            }
        } else {
            while (r->p < r->end && *r->p != ',' && *r->p != '\n' && !(*r->p == '\r' && r->p + 1 < r->end && r->p[1] == '\n'))
                *out++ = *r->p++;
        }
        *out++ = '\0';
        if (rec->n < CSV_MAX_FIELDS)
            rec->f[rec->n] = field;
        rec->n++;
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            continue;
        }
        if (r->p < r->end && *r->p == '\r')
            r->p++;
        if (r->p < r->end && *r->p == '\n') {
            r->p++;
            r->line++;
        }
        break;
    }
    rec->blank = rec->n == 1 && !any_quote && rec->f[0][0] == '\0';
    return 1;
}

/* ---- ImportPrices ------------------------------------------------------------------------------- */

enum { COL_SKU, COL_UNIT, COL_NAME, COL_KIND, COL_CURRENCY, COL_COMPARE, COL_COUNT };
static const char *const column_names[COL_COUNT] = {"sku", "unit_amount", "display_name", "kind", "currency", "compare_at_amount"};

/* |cell| shortened for an error message, cut on a UTF-8 character boundary. */
static void quote_cell(char *out, size_t size, const char *cell)
{
    size_t n = strlen(cell), max = size - 4 < CSV_QUOTE_MAX ? size - 4 : CSV_QUOTE_MAX;
    if (n <= max) {
        snprintf(out, size, "%s", cell);
        return;
    }
    while (max > 0 && ((unsigned char)cell[max] & 0xC0) == 0x80)
        max--;
    snprintf(out, size, "%.*s...", (int)max, cell);
}

typedef struct import_state {
    Shop__V1__ImportPricesResponse resp;
    Shop__V1__ImportPricesResponse__RowError errors[CSV_MAX_ERRORS];
    Shop__V1__ImportPricesResponse__RowError *error_ptrs[CSV_MAX_ERRORS];
    char error_text[CSV_MAX_ERRORS][256];
    char error_sku[CSV_MAX_ERRORS][CSV_QUOTE_MAX + 4];
    csv_buf_t report;
    const shop_product_t *seen[SHOP_CATALOG_MAX]; /* products of the valid rows so far */
    int seen_line[SHOP_CATALOG_MAX];
    size_t n_seen;
} import_state_t;

static void import_reject(import_state_t *st, int line, const char *sku, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void import_reject(import_state_t *st, int line, const char *sku, const char *fmt, ...)
{
    char text[256], short_sku[CSV_QUOTE_MAX + 4], num[16];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    quote_cell(short_sku, sizeof short_sku, sku);
    st->resp.invalid_rows++;
    size_t i = st->resp.n_errors;
    if (i < CSV_MAX_ERRORS) {
        Shop__V1__ImportPricesResponse__RowError *e = &st->errors[i];
        shop__v1__import_prices_response__row_error__init(e);
        e->line = line;
        snprintf(st->error_sku[i], sizeof st->error_sku[i], "%s", short_sku);
        snprintf(st->error_text[i], sizeof st->error_text[i], "%s", text);
        e->sku = st->error_sku[i];
        e->error = st->error_text[i];
        st->error_ptrs[i] = e;
        st->resp.n_errors++;
    }
    snprintf(num, sizeof num, "%d", line);
    buf_puts(&st->report, num);
    buf_puts(&st->report, ",");
    buf_field(&st->report, short_sku);
    buf_puts(&st->report, ",");
    buf_field(&st->report, text);
    buf_puts(&st->report, "\r\n");
}

/* Checks one data row against the stored product and, unless |dry_run|, applies it. The
 * catalog lock is held. */
static void import_row(import_state_t *st, const csv_record_t *rec, size_t n_header, const int cols[COL_COUNT], int dry_run)
{
    const char *cell[COL_COUNT];
    if (rec->n != n_header) {
        const char *sku = cols[COL_SKU] < (int)rec->n && cols[COL_SKU] < CSV_MAX_FIELDS ? rec->f[cols[COL_SKU]] : "";
        import_reject(st, rec->line, sku, "the row has %zu fields, the header has %zu", rec->n, n_header);
        return;
    }
    for (int c = 0; c < COL_COUNT; c++)
        cell[c] = cols[c] >= 0 ? rec->f[cols[c]] : "";
    const char *sku = cell[COL_SKU];
    char q[CSV_QUOTE_MAX + 4];
    if (sku[0] == '\0') {
        import_reject(st, rec->line, sku, "sku is empty");
        return;
    }
    shop_product_t *p = shop_catalog_find_locked(sku);
    if (p == NULL) {
        quote_cell(q, sizeof q, sku);
        import_reject(st, rec->line, sku, "unknown sku \"%s\"", q);
        return;
    }
    for (size_t i = 0; i < st->n_seen; i++)
        if (st->seen[i] == p) {
            import_reject(st, rec->line, sku, "sku %s is already on line %d", sku, st->seen_line[i]);
            return;
        }
    int64_t unit = 0, compare = 0;
    if (cell[COL_UNIT][0] == '\0') {
        import_reject(st, rec->line, sku, "unit_amount is empty");
        return;
    }
    if (parse_usd(cell[COL_UNIT], &unit) != 0 || unit <= 0 || unit > SHOP_MAX_UNIT_MICROS) {
        quote_cell(q, sizeof q, cell[COL_UNIT]);
        import_reject(st, rec->line, sku, "unit_amount \"%s\" is not an amount between 0.01 and 1000000.00 like 19.99", q);
        return;
    }
    if (cell[COL_CURRENCY][0] != '\0' && strcasecmp(cell[COL_CURRENCY], "USD") != 0) {
        quote_cell(q, sizeof q, cell[COL_CURRENCY]);
        import_reject(st, rec->line, sku, "prices are imported in USD, not \"%s\"", q);
        return;
    }
    Shop__V1__PriceKind kind = p->kind;
    if (cell[COL_KIND][0] != '\0' && parse_kind(cell[COL_KIND], &kind) != 0) {
        quote_cell(q, sizeof q, cell[COL_KIND]);
        import_reject(st, rec->line, sku, "kind \"%s\" is not LIST, SALE or CLEARANCE", q);
        return;
    }
    if (strlen(cell[COL_NAME]) >= SHOP_TEXT_MAX) {
        import_reject(st, rec->line, sku, "display_name is longer than %d bytes", SHOP_TEXT_MAX - 1);
        return;
    }
    if (cell[COL_COMPARE][0] != '\0' && (parse_usd(cell[COL_COMPARE], &compare) != 0 || compare > SHOP_MAX_UNIT_MICROS)) {
        quote_cell(q, sizeof q, cell[COL_COMPARE]);
        import_reject(st, rec->line, sku, "compare_at_amount \"%s\" is not an amount like 19.99", q);
        return;
    }

    st->resp.valid_rows++;
    if (st->n_seen < SHOP_CATALOG_MAX) {
        st->seen[st->n_seen] = p;
        st->seen_line[st->n_seen++] = rec->line;
    }
    if (dry_run)
        return;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    p->unit_usd_micros = unit;
    p->kind = kind;
    if (cols[COL_COMPARE] >= 0)
        p->compare_at_usd_micros = compare;
    if (cell[COL_NAME][0] != '\0')
        snprintf(p->display_name, sizeof p->display_name, "%s", cell[COL_NAME]);
    p->version++;
    p->updated_at_s = now.tv_sec;
    p->updated_at_nanos = (int32_t)now.tv_nsec;
    st->resp.applied++;
}

/* Reads the header row into |cols| (column index of each known name, -1 when absent).
 * Returns the number of fields, or 0 after failing the call. */
static size_t import_header(shop_call_t *call, csv_reader_t *r, csv_record_t *rec, int cols[COL_COUNT])
{
    char err[160];
    int rc;
    while ((rc = csv_read(r, rec, err, sizeof err)) == 1 && rec->blank)
        ;
    if (rc < 0) {
        shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, "file.data", "the file is not valid CSV: %s", err);
        return 0;
    }
    if (rc == 0) {
        shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, "file.data",
                             "the file holds no header row; the first line names the columns (sku,unit_amount,...)");
        return 0;
    }
    if (rec->n > CSV_MAX_FIELDS) {
        shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, "file.data", "the header row has %zu columns, at most %d", rec->n,
                             CSV_MAX_FIELDS);
        return 0;
    }
    for (int c = 0; c < COL_COUNT; c++)
        cols[c] = -1;
    for (size_t i = 0; i < rec->n; i++) {
        char *name = rec->f[i];
        while (*name == ' ')
            name++;
        size_t len = strlen(name);
        while (len > 0 && name[len - 1] == ' ')
            name[--len] = '\0';
        for (int c = 0; c < COL_COUNT; c++) {
            if (strcasecmp(name, column_names[c]) != 0)
                continue;
            if (cols[c] >= 0) {
                shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, "file.data",
                                     "the header row names column \"%s\" twice (fields %d and %zu)", column_names[c], cols[c] + 1,
                                     i + 1);
                return 0;
            }
            cols[c] = (int)i;
        }
    }
    for (int c = COL_SKU; c <= COL_UNIT; c++)
        if (cols[c] < 0) {
            shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, "file.data",
                                 "the header row (line %d) has no \"%s\" column; sku and unit_amount are required", rec->line,
                                 column_names[c]);
            return 0;
        }
    return rec->n;
}

void shop_price_import(shop_call_t *call, const ProtobufCMessage *request)
{
    const Shop__V1__ImportPricesRequest *req = (const Shop__V1__ImportPricesRequest *)request;
    const char *ct = req->file != NULL ? req->file->content_type : "";
    const uint8_t *data = req->file != NULL ? req->file->data.data : NULL;
    size_t len = req->file != NULL ? req->file->data.len : 0;

    if (check_content_type(call, ct) != 0)
        return;
    if (len == 0) {
        shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, "file.data", "the file is empty; expected a header row");
        return;
    }
    const uint8_t *nul = memchr(data, '\0', len);
    if (nul != NULL) {
        shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, "file.data",
                             "the file holds a NUL byte (line %d, byte %zu): it is not a CSV text file",
                             line_at(data, (size_t)(nul - data)), (size_t)(nul - data) + 1);
        return;
    }
    size_t bad = utf8_invalid_at(data, len);
    if (bad < len) {
        shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, "file.data",
                             "the file is not valid UTF-8: byte %zu (0x%02x, line %d)", bad + 1, data[bad], line_at(data, bad));
        return;
    }

    import_state_t *st = calloc(1, sizeof *st);
    csv_reader_t r = {(const char *)data, (const char *)data + len, 1, malloc(len + CSV_MAX_FIELDS + 1)};
    csv_record_t rec;
    if (st == NULL || r.scratch == NULL) {
        shop_call_fail(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory for a %zu-byte file", len);
        goto out;
    }
    if (len >= 3 && memcmp(r.p, "\xEF\xBB\xBF", 3) == 0) /* a byte order mark, as spreadsheets write */
        r.p += 3;
    shop__v1__import_prices_response__init(&st->resp);
    st->resp.dry_run = req->dry_run;
    st->resp.content_type = (char *)ct;
    st->resp.size_bytes = (int64_t)len;
    st->resp.errors = st->error_ptrs;
    buf_puts(&st->report, "line,sku,error\r\n");

    int cols[COL_COUNT];
    size_t n_header = import_header(call, &r, &rec, cols);
    if (n_header == 0)
        goto out;

    /* First pass: the whole file must read as CSV, within the row limit, before any row
     * is applied. */
    csv_reader_t body = r;
    char err[160];
    int rc, rows = 0;
    while ((rc = csv_read(&r, &rec, err, sizeof err)) == 1)
        if (!rec.blank && ++rows > CSV_MAX_ROWS)
            break;
    if (rc < 0) {
        shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, "file.data", "the file is not valid CSV: %s", err);
        goto out;
    }
    if (rows > CSV_MAX_ROWS) {
        shop_call_fail_field(call, GRPC_STATUS_INVALID_ARGUMENT, "file.data", "the file has more than %d rows", CSV_MAX_ROWS);
        goto out;
    }
    r = body;
    shop_catalog_lock();
    while (csv_read(&r, &rec, err, sizeof err) == 1) {
        if (rec.blank)
            continue;
        st->resp.rows++;
        import_row(st, &rec, n_header, cols, req->dry_run);
    }
    shop_catalog_unlock();
    if (st->report.oom) {
        shop_call_fail(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory writing the import report");
        goto out;
    }
    Google__Api__HttpBody report = GOOGLE__API__HTTP_BODY__INIT;
    report.content_type = CSV_CONTENT_TYPE;
    report.data.data = (uint8_t *)st->report.data;
    report.data.len = st->report.len;
    st->resp.report = &report;
    shop_call_send(call, &st->resp.base);
out:
    if (st != NULL)
        free(st->report.data);
    free(st);
    free(r.scratch);
}
