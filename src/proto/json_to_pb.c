/*
 * json_to_pb.c — the JSON→protobuf half of the proto3 JSON codec: codec_json_to_pb()
 * and codec_text_to_pb() (see proto.h).
 *
 * JSON is read with the pull parser of json_lex.h and each field is written as wire bytes
 * the moment its value has been read: there is no intermediate message and no allocation
 * per field or token. Nested messages are length-delimited values of unknown size, so
 * they are written with wire_begin_len()/wire_end_len(); an Any object is read twice
 * (once to find "@type", which may come last). Field names are looked up through the
 * registry's hash of proto and JSON names.
 *
 * The accepted forms follow the proto3 JSON mapping as protobuf's parsers (C++
 * JsonStringToMessage, Python json_format) read it: integers as numbers or strings (with
 * exponents, but without fractions), 64-bit values parsed exactly from their text (never
 * through a double), "NaN"/"Infinity" strings for floating point, enums by name or
 * number, bytes as standard or URL-safe base64, and the special forms of the well-known
 * types. Where the two parsers differ we follow the stricter: bool values must be JSON
 * true/false (strings are accepted only as map keys), and a key given twice in one object
 * is an error (a field under both its names, a map or Struct key), as in python, whose
 * JSON loader rejects duplicate keys. Smaller choices: quoted numbers may have leading
 * zeros ("007"), as both parsers allow; a float field accepts any value that rounds to a
 * finite float (so FLT_MAX printed as 3.4028235e+38 reads back); a well-known type inside
 * Any needs its "value" member, except Empty, which is also read as a plain message.
 *
 * Output details chosen to match libprotobuf's serializer byte for byte where JSON order
 * allows: proto3 fields without presence are omitted when they hold their default, repeated
 * scalars are packed unless [packed = false], and map entries always carry key and value.
 */
#include "proto/proto.h"

#include "proto/json_lex.h"
#include "proto/wire.h"
#include "proto/wkt_time.h"
#include "util/base64.h"
#include "util/utf8.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------
 * Context and error reporting
 */

/* One step of the path printed in error messages ("items[1].quantity"). Frames live on the
 * C stack of the parsing functions and are linked upwards. */
typedef struct j2p_path {
    struct j2p_path *up;
    const char *name; /* field name as the input spelled it (proto or JSON name), or NULL */
    size_t name_len;
    int sub; /* PATH_NONE, PATH_INDEX (array element) or PATH_KEY (map or Struct key) */
    size_t index;
    size_t key_len;
    int key_cut;
    char key[40];
} j2p_path_t;

enum { PATH_NONE = 0, PATH_INDEX, PATH_KEY };

typedef struct j2p {
    const proto_registry_t *r;
    json_lex_t lx;
    util_buf_t *out;
    util_error_t *err;
    j2p_path_t *path;
    int ignore_unknown;
    /* Keys of the map and Struct objects being read, for duplicate detection: a stack
     * shared by nested objects (each object owns the top while it is read). */
    util_buf_t key_bytes;
    util_buf_t key_ents; /* j2p_key_t */
} j2p_t;

/* Flags of j2p_value(). */
enum {
    J_OMIT_DEFAULT = 1, /* proto3 field without presence: write nothing for its default */
    J_IN_ARRAY = 2,     /* an element of a repeated field */
    J_IN_MAP = 4,       /* the value of a map entry */
};

/* Results of j2p_value() and the scalar readers besides 0 / -1. */
#define J_SKIPPED 1 /* an unknown enum name under ignore_unknown: nothing was written */

static void path_init(j2p_path_t *f, j2p_path_t *up, const char *name, size_t name_len)
{
    f->up = up;
    f->name = name;
    f->name_len = name_len;
    f->sub = PATH_NONE;
}

static void path_set_key(j2p_path_t *f, const char *key, size_t len)
{
    f->sub = PATH_KEY;
    f->key_cut = len > sizeof(f->key);
    f->key_len = f->key_cut ? sizeof(f->key) : len;
    memcpy(f->key, key, f->key_len);
}

/* Copies |s| for an error message: at most 60 bytes, control characters shown as '?'. */
static const char *text_show(char *buf, size_t cap, const char *s, size_t n)
{
    size_t max = cap - 4, o = 0;
    for (size_t i = 0; i < n && o < max; i++)
        buf[o++] = ((uint8_t)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    if (o < n) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

#define SHOW_CAP 64

static void path_format(const j2p_path_t *p, char *buf, size_t cap)
{
    const j2p_path_t *v[48];
    size_t n = 0, o = 0;
    for (; p != NULL && n < 48; p = p->up)
        v[n++] = p;
    buf[0] = '\0';
#define PUT(...)                                                                                                                   \
    do {                                                                                                                           \
        if (o < cap) {                                                                                                             \
            int w_ = snprintf(buf + o, cap - o, __VA_ARGS__);                                                                      \
            if (w_ > 0)                                                                                                            \
                o += (size_t)w_;                                                                                                   \
        }                                                                                                                          \
    } while (0)
    if (p != NULL)
        PUT("...");
    for (size_t i = n; i-- > 0;) {
        const j2p_path_t *f = v[i];
        if (f->name != NULL)
            PUT("%s%.*s", o > 0 ? "." : "", (int)f->name_len, f->name);
        if (f->sub == PATH_INDEX) {
            PUT("[%zu]", f->index);
        } else if (f->sub == PATH_KEY) {
            char shown[SHOW_CAP];
            text_show(shown, sizeof(shown), f->key, f->key_len);
            PUT("[%s%s]", shown, f->key_cut ? "..." : "");
        }
    }
#undef PUT
}

/* Fails with |code|; the message is prefixed with the current field path, if any. */
static int j2p_fail(j2p_t *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int j2p_fail(j2p_t *c, int code, const char *fmt, ...)
{
    char msg[400], path[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    path_format(c->path, path, sizeof(path));
    if (path[0] != '\0')
        return util_error_set(c->err, code, "field \"%s\": %s", path, msg);
    return util_error_set(c->err, code, "%s", msg);
}

static const char *kind_name(json_kind_t k)
{
    switch (k) {
    case JSON_KIND_OBJECT:
        return "an object";
    case JSON_KIND_ARRAY:
        return "an array";
    case JSON_KIND_STRING:
        return "a string";
    case JSON_KIND_NUMBER:
        return "a number";
    case JSON_KIND_TRUE:
        return "true";
    case JSON_KIND_FALSE:
        return "false";
    case JSON_KIND_NULL:
        return "null";
    default:
        return "nothing";
    }
}

/* A JSON value of the wrong kind (or no value at all, which is a syntax error). */
static int j2p_type_error(j2p_t *c, json_kind_t k, const char *want)
{
    if (k == JSON_KIND_NONE)
        return json_lex_fail(&c->lx, NULL);
    return j2p_fail(c, CODEC_ERR_TYPE, "expected %s, got %s", want, kind_name(k));
}

/* ---------------------------------------------------------------------------------------
 * Numbers
 */
enum { NUM_OK = 0, NUM_FRACTION, NUM_RANGE };

static inline int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/*
 * Converts number text (already known to match the JSON number grammar, leading zeros
 * allowed) to an exact integer: sign in *neg, magnitude in *mag. Exponents and fractions
 * are applied in decimal ("1.5e1" is 15, "1e-1" is not an integer), so every integer up
 * to 2^64-1 is exact whatever its spelling.
 */
static int num_int(const char *s, size_t n, int *neg, uint64_t *mag)
{
    const char *p = s, *end = s + n;
    *neg = 0;
    if (p < end && *p == '-') {
        *neg = 1;
        p++;
    }
    /* Fast path: up to 19 plain digits cannot overflow. */
    uint64_t v = 0;
    const char *q = p;
    while (q < end && is_digit(*q) && q - p < 19) {
        v = v * 10 + (uint64_t)(*q - '0');
        q++;
    }
    if (q == end && q > p) {
        *mag = v;
        return NUM_OK;
    }
    const char *ip = p;
    while (p < end && is_digit(*p))
        p++;
    size_t ilen = (size_t)(p - ip), flen = 0;
    const char *fp = p;
    if (p < end && *p == '.') {
        fp = ++p;
        while (p < end && is_digit(*p))
            p++;
        flen = (size_t)(p - fp);
    }
    int64_t ex = 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        int eneg = 0;
        if (p < end && (*p == '+' || *p == '-'))
            eneg = *p++ == '-';
        for (; p < end && is_digit(*p); p++)
            if (ex < 100000000)
                ex = ex * 10 + (*p - '0');
        if (eneg)
            ex = -ex;
    }
    size_t total = ilen + flen;
#define DIG(k) ((k) < ilen ? ip[(k)] : fp[(k)-ilen])
    size_t lo = 0, hi = total;
    while (lo < total && DIG(lo) == '0')
        lo++;
    if (lo == total) {
        *mag = 0;
        return NUM_OK;
    }
    while (DIG(hi - 1) == '0')
        hi--;
    int64_t e = ex - (int64_t)flen + (int64_t)(total - hi);
    if (e < 0)
        return NUM_FRACTION;
    if ((int64_t)(hi - lo) + e > 20)
        return NUM_RANGE;
    uint64_t acc = 0;
    for (size_t k = lo; k < hi; k++) {
        uint64_t d = (uint64_t)(DIG(k) - '0');
        if (acc > (UINT64_MAX - d) / 10)
            return NUM_RANGE;
        acc = acc * 10 + d;
    }
#undef DIG
    for (; e > 0; e--) {
        if (acc > UINT64_MAX / 10)
            return NUM_RANGE;
        acc *= 10;
    }
    *mag = acc;
    return NUM_OK;
}

/* Range-checks a sign and magnitude for integer type |t| and returns its wire value. */
static int int_convert(proto_type_t t, int neg, uint64_t mag, uint64_t *out)
{
    if (neg && mag == 0)
        neg = 0;
    switch (t) {
    case PROTO_TYPE_INT32:
    case PROTO_TYPE_SINT32:
    case PROTO_TYPE_SFIXED32:
    case PROTO_TYPE_ENUM: {
        if (mag > (neg ? (uint64_t)1 << 31 : ((uint64_t)1 << 31) - 1))
            return NUM_RANGE;
        int32_t v = neg ? (int32_t)(-(int64_t)mag) : (int32_t)mag;
        if (t == PROTO_TYPE_SINT32)
            *out = wire_zigzag32(v);
        else if (t == PROTO_TYPE_SFIXED32)
            *out = (uint32_t)v;
        else
            *out = (uint64_t)(int64_t)v; /* negative int32 and enum values are sign-extended */
        return NUM_OK;
    }
    case PROTO_TYPE_INT64:
    case PROTO_TYPE_SINT64:
    case PROTO_TYPE_SFIXED64: {
        if (mag > (neg ? (uint64_t)1 << 63 : ((uint64_t)1 << 63) - 1))
            return NUM_RANGE;
        int64_t v = neg ? -(int64_t)(mag - 1) - 1 : (int64_t)mag;
        *out = t == PROTO_TYPE_SINT64 ? wire_zigzag64(v) : (uint64_t)v;
        return NUM_OK;
    }
    case PROTO_TYPE_UINT32:
    case PROTO_TYPE_FIXED32:
        if (neg || mag > UINT32_MAX)
            return NUM_RANGE;
        *out = mag;
        return NUM_OK;
    default: /* UINT64, FIXED64 */
        if (neg)
            return NUM_RANGE;
        *out = mag;
        return NUM_OK;
    }
}

/* Integer field from number text (grammar already checked). */
static int j2p_int_text(j2p_t *c, proto_type_t t, const char *s, size_t n, uint64_t *v)
{
    int neg;
    uint64_t mag;
    char shown[SHOW_CAP];
    int rc = num_int(s, n, &neg, &mag);
    if (rc == NUM_FRACTION)
        return j2p_fail(c, CODEC_ERR_TYPE, "%s is not an integer", text_show(shown, sizeof(shown), s, n));
    if (rc == NUM_OK)
        rc = int_convert(t, neg, mag, v);
    if (rc != NUM_OK)
        return j2p_fail(c, CODEC_ERR_RANGE, "%s is out of range for %s", text_show(shown, sizeof(shown), s, n), codec_type_name(t));
    return 0;
}

/* Number text (grammar already checked) to a double; fails when it overflows. */
static int j2p_double_text(j2p_t *c, const char *want, const char *s, size_t n, double *out)
{
    char small[96];
    char *buf = n < sizeof(small) ? small : malloc(n + 1);
    if (buf == NULL)
        return j2p_fail(c, CODEC_ERR_NOMEM, "out of memory");
    memcpy(buf, s, n);
    buf[n] = '\0';
    /* strtod is locale-dependent only in its decimal point; portico never calls setlocale(). */
    double d = strtod(buf, NULL);
    if (buf != small)
        free(buf);
    if (isinf(d)) {
        char shown[SHOW_CAP];
        return j2p_fail(c, CODEC_ERR_RANGE, "%s is out of range for %s", text_show(shown, sizeof(shown), s, n), want);
    }
    *out = d;
    return 0;
}

/* float/double from a JSON number (quoted = 0) or from string text (quoted = 1). */
static int j2p_float_text(j2p_t *c, proto_type_t t, const char *s, size_t n, int quoted, uint64_t *v)
{
    double d;
    const char *want = codec_type_name(t);
    if (quoted && n == 3 && memcmp(s, "NaN", 3) == 0) {
        d = NAN;
    } else if (quoted && n == 8 && memcmp(s, "Infinity", 8) == 0) {
        d = INFINITY;
    } else if (quoted && n == 9 && memcmp(s, "-Infinity", 9) == 0) {
        d = -INFINITY;
    } else {
        if (quoted && (n == 0 || json_number_scan(s, s + n, 1) != n)) {
            char shown[SHOW_CAP];
            return j2p_fail(c, CODEC_ERR_TYPE, "expected %s, got \"%s\"", want, text_show(shown, sizeof(shown), s, n));
        }
        if (j2p_double_text(c, want, s, n, &d) != 0)
            return -1;
    }
    if (t == PROTO_TYPE_FLOAT) {
        float f = (float)d;
        if (isinf(f) && !isinf(d)) {
            char shown[SHOW_CAP];
            return j2p_fail(c, CODEC_ERR_RANGE, "%s is out of range for float", text_show(shown, sizeof(shown), s, n));
        }
        uint32_t bits;
        memcpy(&bits, &f, 4);
        *v = bits;
    } else {
        memcpy(v, &d, 8);
    }
    return 0;
}

/* Enum value from its name or decimal number text. Returns 0, J_SKIPPED or -1. */
static int j2p_enum_text(j2p_t *c, const proto_enum_t *e, const char *s, size_t n, int quoted, uint64_t *v)
{
    char shown[SHOW_CAP];
    if (quoted) {
        const proto_enum_value_t *ev = NULL;
        if (memchr(s, '\0', n) == NULL)
            ev = proto_enum_value_by_name(e, s, n);
        if (ev != NULL) {
            *v = (uint64_t)(int64_t)ev->number;
            return 0;
        }
        if (n == 0 || json_number_scan(s, s + n, 1) != n) {
            if (c->ignore_unknown)
                return J_SKIPPED;
            return j2p_fail(c, CODEC_ERR_UNKNOWN_FIELD, "unknown enum value \"%s\" for %s", text_show(shown, sizeof(shown), s, n),
                            e->full_name);
        }
    }
    int neg;
    uint64_t mag;
    int rc = num_int(s, n, &neg, &mag);
    if (rc == NUM_FRACTION)
        return j2p_fail(c, CODEC_ERR_TYPE, "%s is not an integer", text_show(shown, sizeof(shown), s, n));
    if (rc == NUM_OK)
        rc = int_convert(PROTO_TYPE_ENUM, neg, mag, v);
    if (rc != NUM_OK)
        return j2p_fail(c, CODEC_ERR_RANGE, "%s is out of range for %s", text_show(shown, sizeof(shown), s, n), e->full_name);
    if (e->closed && proto_enum_value_by_number(e, (int32_t)(int64_t)*v) == NULL) {
        if (c->ignore_unknown)
            return J_SKIPPED;
        return j2p_fail(c, CODEC_ERR_UNKNOWN_FIELD, "unknown enum number %s for %s", text_show(shown, sizeof(shown), s, n),
                        e->full_name);
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * Scalars
 */
static inline int wire_type_of(proto_type_t t)
{
    switch (t) {
    case PROTO_TYPE_DOUBLE:
    case PROTO_TYPE_FIXED64:
    case PROTO_TYPE_SFIXED64:
        return WIRE_I64;
    case PROTO_TYPE_FLOAT:
    case PROTO_TYPE_FIXED32:
    case PROTO_TYPE_SFIXED32:
        return WIRE_I32;
    case PROTO_TYPE_STRING:
    case PROTO_TYPE_BYTES:
    case PROTO_TYPE_MESSAGE:
        return WIRE_LEN;
    case PROTO_TYPE_GROUP:
        return WIRE_SGROUP;
    default:
        return WIRE_VARINT;
    }
}

static inline int is_packable(proto_type_t t)
{
    return t != PROTO_TYPE_STRING && t != PROTO_TYPE_BYTES && t != PROTO_TYPE_MESSAGE && t != PROTO_TYPE_GROUP;
}

/* Writes a scalar's wire value (from the readers below) without its tag. */
static inline void put_scalar(util_buf_t *out, proto_type_t t, uint64_t v)
{
    switch (wire_type_of(t)) {
    case WIRE_I64:
        wire_put_fixed64(out, v);
        break;
    case WIRE_I32:
        wire_put_fixed32(out, (uint32_t)v);
        break;
    default:
        wire_put_varint(out, v);
    }
}

/*
 * Reads the JSON value (of kind |k|) of a numeric, bool or enum field of type |f| into its
 * wire value. Returns 0, J_SKIPPED or -1.
 */
static int j2p_scalar(j2p_t *c, const proto_field_t *f, json_kind_t k, uint64_t *v)
{
    json_str_t s;
    proto_type_t t = f->type;
    switch (t) {
    case PROTO_TYPE_BOOL:
        if (k != JSON_KIND_TRUE && k != JSON_KIND_FALSE)
            return j2p_type_error(c, k, "bool (true or false)");
        *v = k == JSON_KIND_TRUE;
        return json_lex_literal(&c->lx, k);
    case PROTO_TYPE_ENUM:
        if (k == JSON_KIND_NULL && f->enum_type->null_value) {
            *v = 0;
            return json_lex_literal(&c->lx, k);
        }
        if (k != JSON_KIND_STRING && k != JSON_KIND_NUMBER)
            return j2p_type_error(c, k, "an enum name or number");
        if ((k == JSON_KIND_STRING ? json_lex_string(&c->lx, &s) : json_lex_number(&c->lx, &s)) != 0)
            return -1;
        return j2p_enum_text(c, f->enum_type, s.s, s.len, k == JSON_KIND_STRING, v);
    case PROTO_TYPE_FLOAT:
    case PROTO_TYPE_DOUBLE:
        if (k != JSON_KIND_STRING && k != JSON_KIND_NUMBER)
            return j2p_type_error(c, k, codec_type_name(t));
        if ((k == JSON_KIND_STRING ? json_lex_string(&c->lx, &s) : json_lex_number(&c->lx, &s)) != 0)
            return -1;
        return j2p_float_text(c, t, s.s, s.len, k == JSON_KIND_STRING, v);
    case PROTO_TYPE_STRING:
    case PROTO_TYPE_BYTES:
    case PROTO_TYPE_MESSAGE:
    case PROTO_TYPE_GROUP:
        return j2p_fail(c, CODEC_ERR_TYPE, "internal error: %s is not a scalar", codec_type_name(t));
    default:
        if (k == JSON_KIND_NUMBER) {
            if (json_lex_number(&c->lx, &s) != 0)
                return -1;
        } else if (k == JSON_KIND_STRING) {
            if (json_lex_string(&c->lx, &s) != 0)
                return -1;
            if (s.len == 0 || json_number_scan(s.s, s.s + s.len, 1) != s.len) {
                char shown[SHOW_CAP];
                return j2p_fail(c, CODEC_ERR_TYPE, "expected %s, got \"%s\"", codec_type_name(t),
                                text_show(shown, sizeof(shown), s.s, s.len));
            }
        } else {
            return j2p_type_error(c, k, codec_type_name(t));
        }
        return j2p_int_text(c, t, s.s, s.len, v);
    }
}

/* ---------------------------------------------------------------------------------------
 * Messages and fields
 */
static int j2p_message(j2p_t *c, const proto_message_t *m);
static int j2p_wkt_value(j2p_t *c);

static inline void put_bytes_field(util_buf_t *out, uint32_t number, const char *s, size_t n)
{
    wire_put_tag(out, number, WIRE_LEN);
    wire_put_varint(out, n);
    util_buf_append(out, s, n);
}

/* Writes one value of field |f| with its tag. Returns 0, J_SKIPPED or -1. */
static int j2p_value(j2p_t *c, const proto_field_t *f, int flags)
{
    util_buf_t *out = c->out;
    json_kind_t k = json_lex_peek(&c->lx);
    if (k == JSON_KIND_NONE)
        return json_lex_fail(&c->lx, NULL);
    if (k == JSON_KIND_NULL) {
        if (f->type == PROTO_TYPE_MESSAGE && f->message->wkt == PROTO_WKT_VALUE) {
            wire_put_tag(out, f->number, WIRE_LEN);
            util_buf_append(out, "\x02\x08\x00", 3); /* Value{null_value: NULL_VALUE} */
            return json_lex_literal(&c->lx, k);
        }
        if (flags & J_IN_ARRAY)
            return j2p_fail(c, CODEC_ERR_TYPE, "null is not allowed as an array element");
        if (flags & J_IN_MAP)
            return j2p_fail(c, CODEC_ERR_TYPE, "null is not allowed as a map value");
        if (f->type == PROTO_TYPE_ENUM && f->enum_type->null_value) {
            /* NULL_VALUE is 0: written when the field has presence (a oneof member), omitted
             * as the default otherwise, exactly as for the value 0. */
            if (!(flags & J_OMIT_DEFAULT)) {
                wire_put_tag(out, f->number, WIRE_VARINT);
                util_buf_putc(out, 0);
            }
            return json_lex_literal(&c->lx, k);
        }
        return json_lex_literal(&c->lx, k); /* null: the field is not set */
    }
    json_str_t s;
    switch (f->type) {
    case PROTO_TYPE_STRING:
        if (k != JSON_KIND_STRING)
            return j2p_type_error(c, k, "a string");
        if (json_lex_string(&c->lx, &s) != 0)
            return -1;
        if (s.len == 0 && (flags & J_OMIT_DEFAULT))
            return 0;
        put_bytes_field(out, f->number, s.s, s.len);
        return 0;
    case PROTO_TYPE_BYTES: {
        if (k != JSON_KIND_STRING)
            return j2p_type_error(c, k, "a base64 string");
        if (json_lex_string(&c->lx, &s) != 0)
            return -1;
        if (s.len == 0 && (flags & J_OMIT_DEFAULT))
            return 0;
        wire_put_tag(out, f->number, WIRE_LEN);
        size_t start = wire_begin_len(out);
        if (util_base64_decode(out, s.s, s.len) != 0) {
            char shown[SHOW_CAP];
            return j2p_fail(c, CODEC_ERR_TYPE, "\"%s\" is not valid base64", text_show(shown, sizeof(shown), s.s, s.len));
        }
        wire_end_len(out, start);
        return 0;
    }
    case PROTO_TYPE_MESSAGE: {
        wire_put_tag(out, f->number, WIRE_LEN);
        size_t start = wire_begin_len(out);
        if (j2p_message(c, f->message) != 0)
            return -1;
        wire_end_len(out, start);
        return 0;
    }
    case PROTO_TYPE_GROUP:
        wire_put_tag(out, f->number, WIRE_SGROUP);
        if (j2p_message(c, f->message) != 0)
            return -1;
        wire_put_tag(out, f->number, WIRE_EGROUP);
        return 0;
    default: {
        uint64_t v;
        int rc = j2p_scalar(c, f, k, &v);
        if (rc != 0)
            return rc;
        if (v == 0 && (flags & J_OMIT_DEFAULT))
            return 0;
        wire_put_tag(out, f->number, wire_type_of(f->type));
        put_scalar(out, f->type, v);
        return 0;
    }
    }
}

static int j2p_repeated(j2p_t *c, const proto_field_t *f)
{
    util_buf_t *out = c->out;
    json_kind_t k = json_lex_peek(&c->lx);
    if (k != JSON_KIND_ARRAY)
        return j2p_type_error(c, k, "an array");
    if (json_lex_array_begin(&c->lx) != 0)
        return -1;
    j2p_path_t *path = c->path;
    size_t count = 0, mark = out->len, start = 0, n = 0;
    int packed = f->packed && is_packable(f->type), rc;
    if (packed) {
        wire_put_tag(out, f->number, WIRE_LEN);
        start = wire_begin_len(out);
    }
    while ((rc = json_lex_array_next(&c->lx, &count)) > 0) {
        path->sub = PATH_INDEX;
        path->index = count - 1;
        if (packed) {
            uint64_t v;
            k = json_lex_peek(&c->lx);
            if (k == JSON_KIND_NULL)
                return j2p_fail(c, CODEC_ERR_TYPE, "null is not allowed as an array element");
            rc = j2p_scalar(c, f, k, &v);
            if (rc < 0)
                return -1;
            if (rc == J_SKIPPED)
                continue;
            put_scalar(out, f->type, v);
            n++;
        } else if (j2p_value(c, f, J_IN_ARRAY) < 0) {
            return -1;
        }
    }
    if (rc < 0)
        return -1;
    path->sub = PATH_NONE;
    if (packed) {
        if (n == 0)
            out->len = mark; /* an empty packed field is written as nothing */
        else
            wire_end_len(out, start);
    }
    return 0;
}

/*
 * Duplicate keys in map and Struct objects. Protobuf rejects {"a": 1, "a": 2} for maps
 * (python at JSON load, the conformance suite for C++); since entries are streamed out as
 * they are read, the keys already seen in the current object are remembered: their decoded
 * bytes and hashes on a stack in the context (no allocation per key once warm), scanned
 * linearly for small objects and through a hash index once an object has many keys.
 */
typedef struct j2p_key {
    uint64_t hash;
    size_t off;
    size_t len;
} j2p_key_t;

typedef struct j2p_keyset {
    size_t base;     /* first entry of this object in key_ents */
    size_t key_base; /* first byte of this object in key_bytes */
    size_t n;
    uint32_t *index; /* (entry - base + 1) by hash, open addressing; NULL while small */
    size_t mask;
} j2p_keyset_t;

#define KEYSET_LINEAR_MAX 16

static void keyset_begin(j2p_t *c, j2p_keyset_t *ks)
{
    ks->base = c->key_ents.len / sizeof(j2p_key_t);
    ks->key_base = c->key_bytes.len;
    ks->n = 0;
    ks->index = NULL;
    ks->mask = 0;
}

static void keyset_end(j2p_t *c, j2p_keyset_t *ks)
{
    c->key_ents.len = ks->base * sizeof(j2p_key_t);
    c->key_bytes.len = ks->key_base;
    free(ks->index);
    ks->index = NULL;
}

static inline uint64_t key_hash(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 0x100000001b3ULL;
    return h;
}

static int keyset_rebuild(j2p_t *c, j2p_keyset_t *ks)
{
    size_t size = 64;
    while (size < ks->n * 4)
        size *= 2;
    uint32_t *index = calloc(size, sizeof(*index));
    if (index == NULL)
        return -1;
    const j2p_key_t *ents = (const j2p_key_t *)c->key_ents.data + ks->base;
    for (size_t i = 0; i < ks->n; i++) {
        size_t slot = ents[i].hash & (size - 1);
        while (index[slot] != 0)
            slot = (slot + 1) & (size - 1);
        index[slot] = (uint32_t)(i + 1);
    }
    free(ks->index);
    ks->index = index;
    ks->mask = size - 1;
    return 0;
}

/* Adds key |s|; returns 0, 1 when it was already there, -1 when out of memory. */
static int keyset_add(j2p_t *c, j2p_keyset_t *ks, const char *s, size_t n)
{
    uint64_t h = key_hash(s, n);
    const j2p_key_t *ents = ks->n > 0 ? (const j2p_key_t *)c->key_ents.data + ks->base : NULL;
    const uint8_t *bytes = c->key_bytes.data;
    if (ks->index == NULL) {
        for (size_t i = 0; i < ks->n; i++)
            if (ents[i].hash == h && ents[i].len == n && (n == 0 || memcmp(bytes + ents[i].off, s, n) == 0))
                return 1;
    } else {
        for (size_t slot = h & ks->mask; ks->index[slot] != 0; slot = (slot + 1) & ks->mask) {
            const j2p_key_t *e = &ents[ks->index[slot] - 1];
            if (e->hash == h && e->len == n && (n == 0 || memcmp(bytes + e->off, s, n) == 0))
                return 1;
        }
    }
    j2p_key_t k = {h, c->key_bytes.len, n};
    util_buf_append(&c->key_bytes, s, n);
    util_buf_append(&c->key_ents, &k, sizeof(k));
    if (util_buf_failed(&c->key_bytes) || util_buf_failed(&c->key_ents))
        return -1;
    ks->n++;
    if (ks->n > KEYSET_LINEAR_MAX) {
        if (ks->index == NULL || ks->n * 2 > ks->mask + 1)
            return keyset_rebuild(c, ks);
        size_t slot = h & ks->mask;
        while (ks->index[slot] != 0)
            slot = (slot + 1) & ks->mask;
        ks->index[slot] = (uint32_t)ks->n;
    }
    return 0;
}

/* keyset_add with the error reporting; returns 0 or -1. */
static int j2p_key_unique(j2p_t *c, j2p_keyset_t *ks, const char *s, size_t n)
{
    int rc = keyset_add(c, ks, s, n);
    if (rc == 0)
        return 0;
    if (rc < 0)
        return j2p_fail(c, CODEC_ERR_NOMEM, "out of memory");
    char shown[SHOW_CAP];
    return j2p_fail(c, CODEC_ERR_SYNTAX, "map key \"%s\" is given more than once", text_show(shown, sizeof(shown), s, n));
}

/* Writes a map key, given as JSON object key text, as field 1 of the entry. */
static int j2p_map_key(j2p_t *c, const proto_field_t *kf, const char *s, size_t n)
{
    util_buf_t *out = c->out;
    char shown[SHOW_CAP];
    uint64_t v;
    switch (kf->type) {
    case PROTO_TYPE_STRING:
        put_bytes_field(out, 1, s, n);
        return 0;
    case PROTO_TYPE_BOOL:
        if (n == 4 && memcmp(s, "true", 4) == 0)
            v = 1;
        else if (n == 5 && memcmp(s, "false", 5) == 0)
            v = 0;
        else
            return j2p_fail(c, CODEC_ERR_TYPE, "map key \"%s\" is not a bool (true or false)",
                            text_show(shown, sizeof(shown), s, n));
        break;
    default: {
        /* Integer keys: an optional '-' and decimal digits, as protobuf prints them. */
        size_t i = n > 0 && s[0] == '-';
        if (i == n)
            goto bad;
        for (; i < n; i++)
            if (!is_digit(s[i]))
                goto bad;
        if (j2p_int_text(c, kf->type, s, n, &v) != 0)
            return -1;
        break;
    bad:
        return j2p_fail(c, CODEC_ERR_TYPE, "map key \"%s\" is not a valid %s", text_show(shown, sizeof(shown), s, n),
                        codec_type_name(kf->type));
    }
    }
    wire_put_tag(out, 1, wire_type_of(kf->type));
    put_scalar(out, kf->type, v);
    return 0;
}

static int j2p_map(j2p_t *c, const proto_field_t *f)
{
    util_buf_t *out = c->out;
    const proto_message_t *entry = f->message;
    json_kind_t k = json_lex_peek(&c->lx);
    if (k != JSON_KIND_OBJECT)
        return j2p_type_error(c, k, "an object (map)");
    if (entry->n_fields < 2)
        return j2p_fail(c, CODEC_ERR_TYPE, "map entry %s has no key and value fields", entry->full_name);
    if (json_lex_object_begin(&c->lx) != 0)
        return -1;
    j2p_path_t *path = c->path;
    j2p_keyset_t keys;
    keyset_begin(c, &keys);
    size_t count = 0;
    json_str_t key;
    int rc;
    while ((rc = json_lex_object_next(&c->lx, &count, &key)) > 0) {
        path_set_key(path, key.s, key.len);
        if ((rc = j2p_key_unique(c, &keys, key.s, key.len)) != 0)
            break;
        size_t mark = out->len;
        wire_put_tag(out, f->number, WIRE_LEN);
        size_t start = wire_begin_len(out);
        if ((rc = j2p_map_key(c, &entry->fields[0], key.s, key.len)) != 0)
            break;
        rc = j2p_value(c, &entry->fields[1], J_IN_MAP);
        if (rc < 0)
            break;
        if (rc == J_SKIPPED) {
            out->len = mark;
            continue;
        }
        wire_end_len(out, start);
    }
    keyset_end(c, &keys);
    if (rc < 0)
        return -1;
    path->sub = PATH_NONE;
    return 0;
}

/* The value of field |f|, after its key. */
static int j2p_field(j2p_t *c, const proto_field_t *f)
{
    if (f->repeated) {
        json_kind_t k = json_lex_peek(&c->lx);
        if (k == JSON_KIND_NULL)
            return json_lex_literal(&c->lx, k); /* null: not set */
        return f->is_map ? j2p_map(c, f) : j2p_repeated(c, f);
    }
    return j2p_value(c, f, f->has_presence ? 0 : J_OMIT_DEFAULT) < 0 ? -1 : 0;
}

static inline int key_is(const json_str_t *key, const char *lit, size_t n)
{
    return key->len == n && memcmp(key->s, lit, n) == 0;
}

static int j2p_unknown_field(j2p_t *c, const proto_message_t *m, const json_str_t *key)
{
    if (c->ignore_unknown)
        return json_lex_skip(&c->lx);
    char shown[SHOW_CAP];
    return j2p_fail(c, CODEC_ERR_UNKNOWN_FIELD, "unknown field \"%s\" in %s", text_show(shown, sizeof(shown), key->s, key->len),
                    m->full_name);
}

/*
 * A JSON object holding the fields of |m|. In |any_body| mode the object is the body of
 * an Any and its "@type" member (already read) is passed over.
 */
static int j2p_object(j2p_t *c, const proto_message_t *m, int any_body)
{
    util_buf_t *out = c->out;
    if (json_lex_object_begin(&c->lx) != 0)
        return -1;
    /* Which fields were given (duplicates are errors) and which member holds each oneof. */
    uint64_t seen_small[4] = {0, 0, 0, 0}, *seen = seen_small;
    const char *oneof_small[8], **oneof = oneof_small;
    size_t words = (m->n_fields + 63) / 64;
    if (words > 4 && (seen = calloc(words, sizeof(*seen))) == NULL)
        return j2p_fail(c, CODEC_ERR_NOMEM, "out of memory");
    if (m->n_oneofs > 8) {
        oneof = calloc(m->n_oneofs, sizeof(*oneof));
        if (oneof == NULL) {
            if (seen != seen_small)
                free(seen);
            return j2p_fail(c, CODEC_ERR_NOMEM, "out of memory");
        }
    } else {
        for (size_t i = 0; i < m->n_oneofs; i++)
            oneof[i] = NULL;
    }
    j2p_path_t frame;
    j2p_path_t *up = c->path;
    path_init(&frame, up, NULL, 0);
    size_t count = 0;
    json_str_t key;
    int rc, type_seen = 0;
    while ((rc = json_lex_object_next(&c->lx, &count, &key)) > 0) {
        if (any_body && key_is(&key, "@type", 5)) {
            if (type_seen++) {
                rc = j2p_fail(c, CODEC_ERR_ANY, "\"@type\" is given more than once in google.protobuf.Any");
                break;
            }
            if ((rc = json_lex_skip(&c->lx)) != 0)
                break;
            continue;
        }
        const proto_field_t *f = proto_message_field_by_name(m, key.s, key.len);
        if (f == NULL) {
            if ((rc = j2p_unknown_field(c, m, &key)) != 0)
                break;
            continue;
        }
        int by_proto_name = key.len == f->name_len && memcmp(key.s, f->name, key.len) == 0;
        frame.name = by_proto_name ? f->name : f->json_name;
        frame.name_len = key.len;
        frame.sub = PATH_NONE;
        c->path = &frame;
        uint64_t bit = (uint64_t)1 << (f->index % 64);
        if (seen[f->index / 64] & bit) {
            rc = j2p_fail(c, CODEC_ERR_SYNTAX, "the field is given more than once in %s", m->full_name);
            break;
        }
        seen[f->index / 64] |= bit;
        size_t before = out->len;
        if ((rc = j2p_field(c, f)) != 0)
            break;
        if (f->oneof_index >= 0 && (size_t)f->oneof_index < m->n_oneofs && out->len != before) {
            const char **holder = &oneof[f->oneof_index];
            if (*holder != NULL) {
                c->path = up;
                rc = j2p_fail(c, CODEC_ERR_ONEOF, "fields \"%s\" and \"%s\" are both members of oneof \"%s\"", *holder, frame.name,
                              m->oneof_names[f->oneof_index]);
                break;
            }
            *holder = frame.name;
        }
        c->path = up;
    }
    c->path = up;
    if (seen != seen_small)
        free(seen);
    if (oneof != oneof_small)
        free(oneof);
    return rc < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------------------------------
 * Well-known types
 */
static int j2p_string_for(j2p_t *c, const proto_message_t *m, json_str_t *s)
{
    json_kind_t k = json_lex_peek(&c->lx);
    if (k != JSON_KIND_STRING) {
        char want[160];
        snprintf(want, sizeof(want), "a string for %s", m->full_name);
        return j2p_type_error(c, k, want);
    }
    return json_lex_string(&c->lx, s);
}

static void put_seconds_nanos(util_buf_t *out, int64_t seconds, int32_t nanos)
{
    if (seconds != 0) {
        wire_put_tag(out, 1, WIRE_VARINT);
        wire_put_varint(out, (uint64_t)seconds);
    }
    if (nanos != 0) {
        wire_put_tag(out, 2, WIRE_VARINT);
        wire_put_varint(out, (uint64_t)(int64_t)nanos);
    }
}

/* Timestamp and Duration from their text forms. */
static int j2p_time_text(j2p_t *c, const proto_message_t *m, const char *s, size_t n)
{
    int64_t seconds;
    int32_t nanos;
    int rc =
        m->wkt == PROTO_WKT_TIMESTAMP ? wkt_timestamp_parse(s, n, &seconds, &nanos) : wkt_duration_parse(s, n, &seconds, &nanos);
    if (rc != 0) {
        char shown[SHOW_CAP];
        return j2p_fail(c, CODEC_ERR_RANGE, "\"%s\" is not a valid %s", text_show(shown, sizeof(shown), s, n), m->full_name);
    }
    put_seconds_nanos(c->out, seconds, nanos);
    return 0;
}

/* FieldMask from "a,bC.d": each path converted from lowerCamelCase to snake_case. Empty paths
 * ("a,,b") are kept, as the printer writes them and as python's json_format reads them, so a
 * mask survives JSON -> binary -> JSON; only "" as a whole is the empty mask. */
static int j2p_field_mask_text(j2p_t *c, const char *s, size_t n)
{
    util_buf_t *out = c->out;
    if (n == 0)
        return 0;
    for (size_t i = 0; i <= n; i++) { /* one path per comma-separated segment, empty ones too */
        size_t j = i, upper = 0;
        while (j < n && s[j] != ',')
            j++;
        for (size_t k = i; k < j; k++) {
            if (s[k] == '_') {
                char shown[SHOW_CAP];
                return j2p_fail(c, CODEC_ERR_TYPE,
                                "field mask path \"%s\" contains '_' (JSON field masks use lowerCamelCase names)",
                                text_show(shown, sizeof(shown), s + i, j - i));
            }
            upper += s[k] >= 'A' && s[k] <= 'Z';
        }
        wire_put_tag(out, 1, WIRE_LEN);
        wire_put_varint(out, j - i + upper);
        if (util_buf_reserve(out, j - i + upper) == 0) {
            uint8_t *p = out->data + out->len;
            for (size_t k = i; k < j; k++) {
                char ch = s[k];
                if (ch >= 'A' && ch <= 'Z') {
                    *p++ = '_';
                    *p++ = (uint8_t)(ch - 'A' + 'a');
                } else {
                    *p++ = (uint8_t)ch;
                }
            }
            out->len += j - i + upper;
        }
        i = j; /* the loop's i++ steps over the comma */
    }
    return 0;
}

static int j2p_struct(j2p_t *c)
{
    util_buf_t *out = c->out;
    json_kind_t k = json_lex_peek(&c->lx);
    if (k != JSON_KIND_OBJECT)
        return j2p_type_error(c, k, "an object for google.protobuf.Struct");
    if (json_lex_object_begin(&c->lx) != 0)
        return -1;
    j2p_path_t frame, *up = c->path;
    path_init(&frame, up, NULL, 0);
    c->path = &frame;
    j2p_keyset_t keys;
    keyset_begin(c, &keys);
    size_t count = 0;
    json_str_t key;
    int rc;
    while ((rc = json_lex_object_next(&c->lx, &count, &key)) > 0) {
        path_set_key(&frame, key.s, key.len);
        if ((rc = j2p_key_unique(c, &keys, key.s, key.len)) != 0)
            break;
        wire_put_tag(out, 1, WIRE_LEN);
        size_t entry = wire_begin_len(out);
        put_bytes_field(out, 1, key.s, key.len);
        wire_put_tag(out, 2, WIRE_LEN);
        size_t value = wire_begin_len(out);
        if ((rc = j2p_wkt_value(c)) != 0)
            break;
        wire_end_len(out, value);
        wire_end_len(out, entry);
    }
    keyset_end(c, &keys);
    c->path = up;
    return rc < 0 ? -1 : 0;
}

static int j2p_list(j2p_t *c)
{
    util_buf_t *out = c->out;
    json_kind_t k = json_lex_peek(&c->lx);
    if (k != JSON_KIND_ARRAY)
        return j2p_type_error(c, k, "an array for google.protobuf.ListValue");
    if (json_lex_array_begin(&c->lx) != 0)
        return -1;
    j2p_path_t frame, *up = c->path;
    path_init(&frame, up, NULL, 0);
    frame.sub = PATH_INDEX;
    c->path = &frame;
    size_t count = 0;
    int rc;
    while ((rc = json_lex_array_next(&c->lx, &count)) > 0) {
        frame.index = count - 1;
        wire_put_tag(out, 1, WIRE_LEN);
        size_t start = wire_begin_len(out);
        if ((rc = j2p_wkt_value(c)) != 0)
            break;
        wire_end_len(out, start);
    }
    c->path = up;
    return rc < 0 ? -1 : 0;
}

/* google.protobuf.Value: any JSON value. */
static int j2p_wkt_value(j2p_t *c)
{
    util_buf_t *out = c->out;
    json_kind_t k = json_lex_peek(&c->lx);
    json_str_t s;
    size_t start;
    switch (k) {
    case JSON_KIND_NULL:
        util_buf_append(out, "\x08\x00", 2);
        return json_lex_literal(&c->lx, k);
    case JSON_KIND_TRUE:
    case JSON_KIND_FALSE:
        wire_put_tag(out, 4, WIRE_VARINT);
        util_buf_putc(out, k == JSON_KIND_TRUE);
        return json_lex_literal(&c->lx, k);
    case JSON_KIND_NUMBER: {
        double d;
        uint64_t bits;
        if (json_lex_number(&c->lx, &s) != 0 || j2p_double_text(c, "google.protobuf.Value", s.s, s.len, &d) != 0)
            return -1;
        memcpy(&bits, &d, 8);
        wire_put_tag(out, 2, WIRE_I64);
        wire_put_fixed64(out, bits);
        return 0;
    }
    case JSON_KIND_STRING:
        if (json_lex_string(&c->lx, &s) != 0)
            return -1;
        put_bytes_field(out, 3, s.s, s.len);
        return 0;
    case JSON_KIND_OBJECT:
        wire_put_tag(out, 5, WIRE_LEN);
        start = wire_begin_len(out);
        if (j2p_struct(c) != 0)
            return -1;
        wire_end_len(out, start);
        return 0;
    case JSON_KIND_ARRAY:
        wire_put_tag(out, 6, WIRE_LEN);
        start = wire_begin_len(out);
        if (j2p_list(c) != 0)
            return -1;
        wire_end_len(out, start);
        return 0;
    default:
        return json_lex_fail(&c->lx, NULL);
    }
}

/*
 * The body of an Any whose payload is a well-known type: {"@type": ..., "value": <JSON form>}.
 * Empty is accepted both that way ("value": {}) and as a plain message (no "value"), the
 * form protobuf's printers use.
 */
static int j2p_any_wkt_body(j2p_t *c, const proto_message_t *t)
{
    if (json_lex_object_begin(&c->lx) != 0)
        return -1;
    j2p_path_t frame, *up = c->path;
    path_init(&frame, up, "value", 5);
    size_t count = 0;
    json_str_t key;
    int rc, type_seen = 0, value_seen = 0;
    while ((rc = json_lex_object_next(&c->lx, &count, &key)) > 0) {
        if (key_is(&key, "@type", 5)) {
            if (type_seen++) {
                rc = j2p_fail(c, CODEC_ERR_ANY, "\"@type\" is given more than once in google.protobuf.Any");
                break;
            }
            if ((rc = json_lex_skip(&c->lx)) != 0)
                break;
        } else if (key_is(&key, "value", 5)) {
            c->path = &frame;
            if (value_seen++) {
                rc = j2p_fail(c, CODEC_ERR_SYNTAX, "the field is given more than once in google.protobuf.Any");
                break;
            }
            if ((rc = j2p_message(c, t)) != 0)
                break;
            c->path = up;
        } else {
            char shown[SHOW_CAP];
            if (c->ignore_unknown) {
                if ((rc = json_lex_skip(&c->lx)) != 0)
                    break;
                continue;
            }
            rc = j2p_fail(c, CODEC_ERR_UNKNOWN_FIELD, "unknown field \"%s\" in google.protobuf.Any holding %s",
                          text_show(shown, sizeof(shown), key.s, key.len), t->full_name);
            break;
        }
    }
    c->path = up;
    if (rc == 0 && !value_seen && t->wkt != PROTO_WKT_EMPTY)
        /* As protobuf: the special form lives under "value" (an absent Value would have no kind). */
        return j2p_fail(c, CODEC_ERR_ANY, "google.protobuf.Any holding %s has no \"value\"", t->full_name);
    return rc < 0 ? -1 : 0;
}

/* google.protobuf.Any: {"@type": "type.googleapis.com/pkg.Msg", <fields of Msg>}. */
static int j2p_any(j2p_t *c)
{
    util_buf_t *out = c->out;
    json_kind_t k = json_lex_peek(&c->lx);
    if (k != JSON_KIND_OBJECT)
        return j2p_type_error(c, k, "an object for google.protobuf.Any");
    /* First pass: find "@type", wherever it is. */
    json_lex_mark_t mark = json_lex_mark(&c->lx);
    if (json_lex_object_begin(&c->lx) != 0)
        return -1;
    size_t count = 0;
    json_str_t key, url;
    int rc, found = 0;
    while ((rc = json_lex_object_next(&c->lx, &count, &key)) > 0) {
        if (key_is(&key, "@type", 5)) {
            k = json_lex_peek(&c->lx);
            if (k != JSON_KIND_STRING)
                return j2p_type_error(c, k, "a type URL string for \"@type\"");
            if (json_lex_string(&c->lx, &url) != 0)
                return -1;
            found = 1;
            break;
        }
        if (json_lex_skip(&c->lx) != 0)
            return -1;
    }
    if (rc < 0)
        return -1;
    if (!found) {
        if (count == 0)
            return 0; /* {} is the empty Any */
        return j2p_fail(c, CODEC_ERR_ANY, "google.protobuf.Any has no \"@type\"");
    }
    const proto_message_t *t = proto_registry_find_type_url(c->r, url.s, url.len);
    if (t == NULL) {
        char shown[SHOW_CAP];
        return j2p_fail(c, CODEC_ERR_ANY, "type URL \"%s\" names no known message",
                        text_show(shown, sizeof(shown), url.s, url.len));
    }
    put_bytes_field(out, 1, url.s, url.len);
    wire_put_tag(out, 2, WIRE_LEN);
    size_t start = wire_begin_len(out);
    /* Second pass: the payload's fields. */
    json_lex_rewind(&c->lx, mark);
    if (t->wkt == PROTO_WKT_NONE) {
        if (j2p_object(c, t, 1) != 0)
            return -1;
    } else if (j2p_any_wkt_body(c, t) != 0) {
        return -1;
    }
    wire_end_len(out, start);
    return 0;
}

/* The contents (no tag) of a message of type |m| from its JSON form. */
static int j2p_message(j2p_t *c, const proto_message_t *m)
{
    json_kind_t k;
    json_str_t s;
    switch (m->wkt) {
    case PROTO_WKT_ANY:
        return j2p_any(c);
    case PROTO_WKT_TIMESTAMP:
    case PROTO_WKT_DURATION:
        if (j2p_string_for(c, m, &s) != 0)
            return -1;
        return j2p_time_text(c, m, s.s, s.len);
    case PROTO_WKT_FIELD_MASK:
        if (j2p_string_for(c, m, &s) != 0)
            return -1;
        return j2p_field_mask_text(c, s.s, s.len);
    case PROTO_WKT_STRUCT:
        return j2p_struct(c);
    case PROTO_WKT_VALUE:
        return j2p_wkt_value(c);
    case PROTO_WKT_LIST_VALUE:
        return j2p_list(c);
    case PROTO_WKT_NONE:
    case PROTO_WKT_EMPTY:
        break;
    default: /* wrappers: the bare value of field 1 */
        if (m->n_fields >= 1)
            return j2p_value(c, &m->fields[0], J_OMIT_DEFAULT) < 0 ? -1 : 0;
        break;
    }
    k = json_lex_peek(&c->lx);
    if (k != JSON_KIND_OBJECT) {
        char want[160];
        snprintf(want, sizeof(want), "an object for %s", m->full_name);
        return j2p_type_error(c, k, want);
    }
    return j2p_object(c, m, 0);
}

int codec_json_to_pb(const proto_registry_t *r, const proto_message_t *m, const char *json, size_t len, const codec_options_t *opt,
                     util_buf_t *out, util_error_t *err)
{
    static const codec_options_t defaults;
    if (opt == NULL)
        opt = &defaults;
    size_t max_input = opt->max_input ? opt->max_input : CODEC_DEFAULT_MAX_INPUT;
    if (len > max_input)
        return util_error_set(err, CODEC_ERR_SIZE, "JSON input of %zu bytes is larger than the limit of %zu bytes", len, max_input);
    j2p_t c;
    c.r = r;
    c.out = out;
    c.err = err;
    c.path = NULL;
    c.ignore_unknown = opt->ignore_unknown;
    util_buf_init(&c.key_bytes);
    util_buf_init(&c.key_ents);
    uint32_t max_depth = opt->max_depth ? opt->max_depth : CODEC_DEFAULT_MAX_DEPTH;
    if (max_depth > CODEC_MAX_DEPTH_LIMIT)
        max_depth = CODEC_MAX_DEPTH_LIMIT;
    json_lex_init(&c.lx, json, len, max_depth, err);
    int rc = j2p_message(&c, m);
    if (rc == 0)
        rc = json_lex_finish(&c.lx);
    if (rc == 0 && (util_buf_failed(&c.lx.key_scratch) || util_buf_failed(&c.lx.val_scratch) || util_buf_failed(out)))
        rc = util_error_set(err, CODEC_ERR_NOMEM, "out of memory encoding %s", m->full_name);
    json_lex_dispose(&c.lx);
    util_buf_dispose(&c.key_bytes);
    util_buf_dispose(&c.key_ents);
    return rc < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------------------------------
 * Text forms (URL path variables and query parameters)
 */

/* The bool spellings grpc-gateway accepts in query strings (Go's strconv.ParseBool). */
static int text_bool(const char *s, size_t n, uint64_t *v)
{
    static const char *const yes[] = {"true", "True", "TRUE", "t", "T", "1"};
    static const char *const no[] = {"false", "False", "FALSE", "f", "F", "0"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strlen(yes[i]) == n && memcmp(yes[i], s, n) == 0) {
            *v = 1;
            return 0;
        }
        if (strlen(no[i]) == n && memcmp(no[i], s, n) == 0) {
            *v = 0;
            return 0;
        }
    }
    return -1;
}

/* Writes tag + value of |f| from text; |omit_default| as J_OMIT_DEFAULT. */
static int text_value(j2p_t *c, const proto_field_t *f, const char *s, size_t n, int omit_default)
{
    util_buf_t *out = c->out;
    char shown[SHOW_CAP];
    uint64_t v;
    int rc;
    switch (f->type) {
    case PROTO_TYPE_STRING:
        if (!util_utf8_valid((const uint8_t *)s, n))
            return j2p_fail(c, CODEC_ERR_UTF8, "invalid UTF-8 in string value");
        if (n > 0 || !omit_default)
            put_bytes_field(out, f->number, s, n);
        return 0;
    case PROTO_TYPE_BYTES: {
        if (n == 0 && omit_default)
            return 0;
        wire_put_tag(out, f->number, WIRE_LEN);
        size_t start = wire_begin_len(out);
        if (util_base64_decode(out, s, n) != 0)
            return j2p_fail(c, CODEC_ERR_TYPE, "\"%s\" is not valid base64", text_show(shown, sizeof(shown), s, n));
        wire_end_len(out, start);
        return 0;
    }
    case PROTO_TYPE_MESSAGE: {
        const proto_message_t *m = f->message;
        wire_put_tag(out, f->number, WIRE_LEN);
        size_t start = wire_begin_len(out);
        switch (m->wkt) {
        case PROTO_WKT_TIMESTAMP:
        case PROTO_WKT_DURATION:
            rc = j2p_time_text(c, m, s, n);
            break;
        case PROTO_WKT_FIELD_MASK:
            rc = j2p_field_mask_text(c, s, n);
            break;
        case PROTO_WKT_DOUBLE_VALUE:
        case PROTO_WKT_FLOAT_VALUE:
        case PROTO_WKT_INT64_VALUE:
        case PROTO_WKT_UINT64_VALUE:
        case PROTO_WKT_INT32_VALUE:
        case PROTO_WKT_UINT32_VALUE:
        case PROTO_WKT_BOOL_VALUE:
        case PROTO_WKT_STRING_VALUE:
        case PROTO_WKT_BYTES_VALUE:
            rc = m->n_fields >= 1 ? text_value(c, &m->fields[0], s, n, 1) : -1;
            break;
        default:
            return j2p_fail(c, CODEC_ERR_TYPE, "a %s cannot be given as text", m->full_name);
        }
        if (rc != 0)
            return -1;
        wire_end_len(out, start);
        return 0;
    }
    case PROTO_TYPE_GROUP:
        return j2p_fail(c, CODEC_ERR_TYPE, "a group cannot be given as text");
    case PROTO_TYPE_BOOL:
        if (text_bool(s, n, &v) != 0)
            return j2p_fail(c, CODEC_ERR_TYPE, "expected bool (true or false), got \"%s\"", text_show(shown, sizeof(shown), s, n));
        break;
    case PROTO_TYPE_ENUM:
        rc = j2p_enum_text(c, f->enum_type, s, n, 1, &v);
        if (rc == J_SKIPPED) /* ignore_unknown is off here; kept for completeness */
            return 0;
        if (rc != 0)
            return -1;
        break;
    case PROTO_TYPE_FLOAT:
    case PROTO_TYPE_DOUBLE:
        if (j2p_float_text(c, f->type, s, n, 1, &v) != 0)
            return -1;
        break;
    default:
        if (n == 0 || json_number_scan(s, s + n, 1) != n)
            return j2p_fail(c, CODEC_ERR_TYPE, "expected %s, got \"%s\"", codec_type_name(f->type),
                            text_show(shown, sizeof(shown), s, n));
        if (j2p_int_text(c, f->type, s, n, &v) != 0)
            return -1;
        break;
    }
    if (v == 0 && omit_default)
        return 0;
    wire_put_tag(out, f->number, wire_type_of(f->type));
    put_scalar(out, f->type, v);
    return 0;
}

int codec_text_to_pb(const proto_registry_t *r, const proto_field_t *f, const char *text, size_t len, util_buf_t *out,
                     util_error_t *err)
{
    j2p_t c;
    c.r = r;
    c.out = out;
    c.err = err;
    c.ignore_unknown = 0;
    util_buf_init(&c.key_bytes);
    util_buf_init(&c.key_ents);
    json_lex_init(&c.lx, text, len, CODEC_DEFAULT_MAX_DEPTH, err);
    j2p_path_t frame;
    path_init(&frame, NULL, f->name, f->name_len);
    c.path = &frame;
    if (f->is_map)
        return j2p_fail(&c, CODEC_ERR_TYPE, "a map field cannot be given as text");
    int rc = text_value(&c, f, text, len, 0);
    if (rc == 0 && util_buf_failed(out))
        rc = util_error_set(err, CODEC_ERR_NOMEM, "out of memory encoding field \"%s\"", f->name);
    json_lex_dispose(&c.lx);
    return rc < 0 ? -1 : 0;
}
