/*
 * pb_to_json.c — codec_pb_to_json(): protobuf wire bytes → proto3 JSON, driven by the
 * registry's descriptors, with no intermediate message objects.
 *
 * Each message is handled in two steps. A pre-pass scans its bytes once, validating the
 * wire format, and records for every known field where its occurrences are (a linked list
 * of "occurrences" per field, allocated from a stack-like scratch area). The print step
 * then walks the fields in declaration order and prints each once, applying protobuf's
 * parse semantics to the recorded occurrences: last occurrence wins for singular scalars;
 * all occurrences of a singular message merge (the occurrences are scanned in order as
 * segments of one message, which is exactly protobuf's merge); repeated scalars accept
 * packed and unpacked occurrences, in any mix; the last member seen of a oneof wins (and
 * a message member only merges the occurrences after the last other member); an
 * occurrence whose wire type does not fit its field is an unknown field, as in protobuf.
 * Map entries with equal keys: the value of the last entry is printed at the position of
 * the first (as a Python dict or Go map assigned in wire order would do).
 *
 * Printing follows protobuf's JSON printers (C++ json_util, Python json_format, Java
 * JsonFormat): strings escaped with the same character set as C++'s JsonEscaping (JSON's
 * mandatory escapes plus '<', '>', DEL, C1 controls and invisible format characters),
 * 64-bit integers as strings, shortest round-tripping floats in %g form, well-known types
 * in their special forms. Where those printers disagree: Python's is followed (it is the
 * reference of tests/diff) — a google.protobuf.NullValue field prints 0 under enum_ints,
 * and an Any holding an Empty prints {"@type": ...} without "value" — except that
 * emit_defaults never prints fields with presence (proto2 optionals included), as proto.h
 * says. Nesting depth counts messages: the top-level message is level 1, and every
 * message, group, map value message and Any payload one level more; skipped unknown
 * groups count too.
 *
 * Hand-written parts and why: the scratch area (needs mark/release stack discipline,
 * which util_arena lacks); the UTF-8 check is folded into the escaping loop because the
 * escaper has to decode code points anyway (one pass instead of two); integer printing
 * uses a two-digit table instead of snprintf (the hot path of most messages).
 */
#include "proto/proto.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/wire.h"
#include "proto/wkt_time.h"
#include "util/base64.h"

/* ---------------------------------------------------------------------------------------
 * Scratch area: blocks that never move (so pointers into them stay valid while nested
 * messages allocate more), reset to a mark when a message is done. The first block lives
 * in the caller's stack frame, so small messages never touch malloc.
 */
#define SCRATCH_INLINE 8192
#define SCRATCH_MAX_BLOCKS 48

typedef struct scratch {
    uint8_t *blocks[SCRATCH_MAX_BLOCKS];
    size_t caps[SCRATCH_MAX_BLOCKS];
    int n_blocks; /* allocated so far (block 0 is the inline one) */
    int cur;      /* block in use */
    size_t used;  /* bytes used in blocks[cur] */
} scratch_t;

typedef struct scratch_mark {
    int cur;
    size_t used;
} scratch_mark_t;

static void scratch_init(scratch_t *s, uint8_t *inline_block, size_t cap)
{
    s->blocks[0] = inline_block;
    s->caps[0] = cap;
    s->n_blocks = 1;
    s->cur = 0;
    s->used = 0;
}

static void scratch_dispose(scratch_t *s)
{
    for (int i = 1; i < s->n_blocks; i++)
        free(s->blocks[i]);
}

static inline scratch_mark_t scratch_mark(const scratch_t *s)
{
    scratch_mark_t m = {s->cur, s->used};
    return m;
}

static inline void scratch_release(scratch_t *s, scratch_mark_t m)
{
    s->cur = m.cur;
    s->used = m.used;
}

static void *scratch_alloc_slow(scratch_t *s, size_t size)
{
    for (;;) {
        int next = s->cur + 1;
        if (next >= SCRATCH_MAX_BLOCKS)
            return NULL;
        if (next < s->n_blocks && s->caps[next] < size) {
            /* a block kept from earlier is too small for this request: replace it (it is unused) */
            free(s->blocks[next]);
            s->n_blocks = next;
        }
        if (next == s->n_blocks) {
            size_t cap = s->caps[s->cur] * 2;
            if (cap < size)
                cap = size;
            uint8_t *b = malloc(cap);
            if (b == NULL)
                return NULL;
            s->blocks[next] = b;
            s->caps[next] = cap;
            s->n_blocks++;
        }
        s->cur = next;
        s->used = 0;
        if (s->caps[next] >= size) {
            s->used = size;
            return s->blocks[next];
        }
    }
}

static inline void *scratch_alloc(scratch_t *s, size_t size)
{
    size = (size + 7) & ~(size_t)7;
    if (s->caps[s->cur] - s->used >= size) {
        void *p = s->blocks[s->cur] + s->used;
        s->used += size;
        return p;
    }
    return scratch_alloc_slow(s, size);
}

/* ---------------------------------------------------------------------------------------
 * Occurrences and the printer's state
 */

/* One occurrence of a field on the wire. */
typedef struct occ {
    const uint8_t *p; /* value start (for LEN and groups: the content) */
    struct occ *next; /* next occurrence of the same field, in wire order */
    uint64_t v;       /* VARINT / I64 / I32: the raw value; LEN / SGROUP: the content length */
    uint8_t wt;       /* wire type as received */
} occ_t;

typedef struct slot {
    occ_t *first, *last;
} slot_t;

/* Where the printer is, for error messages; one per message level, on the C stack. */
typedef struct frame {
    const struct frame *parent;
    const proto_field_t *field; /* field being printed, NULL when none */
    long index;                 /* element index of a repeated field, -1 when none */
    const char *key;            /* map key text, NULL when none */
    size_t key_len;
    int key_quoted;
} frame_t;

typedef struct p2j {
    const proto_registry_t *r;
    util_buf_t *out;
    util_error_t *err;
    const uint8_t *base; /* start of the input, for byte offsets */
    uint32_t max_depth;
    uint8_t emit_defaults, proto_names, enum_ints;
    scratch_t scratch;
    util_buf_t *outline;        /* codec_options_t.outline, or NULL */
    size_t start;               /* out->len when printing started: outline offsets count from here */
    uint32_t raw_depth;         /* > 0 inside a value outlined as RAW, whose parts are not outlined */
    uint8_t escaped;            /* put_escaped wrote an escape since outline_begin */
    const uint8_t *only_fields; /* codec_options_t.only_fields, for the top message (depth 1) */
} p2j_t;

/* Expected wire type of each field type (index: proto_type_t). */
static const uint8_t type_wire[19] = {
    [PROTO_TYPE_DOUBLE] = WIRE_I64,    [PROTO_TYPE_FLOAT] = WIRE_I32,     [PROTO_TYPE_INT64] = WIRE_VARINT,
    [PROTO_TYPE_UINT64] = WIRE_VARINT, [PROTO_TYPE_INT32] = WIRE_VARINT,  [PROTO_TYPE_FIXED64] = WIRE_I64,
    [PROTO_TYPE_FIXED32] = WIRE_I32,   [PROTO_TYPE_BOOL] = WIRE_VARINT,   [PROTO_TYPE_STRING] = WIRE_LEN,
    [PROTO_TYPE_GROUP] = WIRE_SGROUP,  [PROTO_TYPE_MESSAGE] = WIRE_LEN,   [PROTO_TYPE_BYTES] = WIRE_LEN,
    [PROTO_TYPE_UINT32] = WIRE_VARINT, [PROTO_TYPE_ENUM] = WIRE_VARINT,   [PROTO_TYPE_SFIXED32] = WIRE_I32,
    [PROTO_TYPE_SFIXED64] = WIRE_I64,  [PROTO_TYPE_SINT32] = WIRE_VARINT, [PROTO_TYPE_SINT64] = WIRE_VARINT,
};

static inline int type_is_packable(proto_type_t t)
{
    return t != PROTO_TYPE_STRING && t != PROTO_TYPE_BYTES && t != PROTO_TYPE_MESSAGE && t != PROTO_TYPE_GROUP;
}

/* ---------------------------------------------------------------------------------------
 * Errors
 */

static inline size_t utf8_decode(const uint8_t *s, size_t n, uint32_t *cp);

/*
 * Copies input text that an error message quotes into |dst| (NUL-terminated), keeping the
 * message one printable line: '"' and '\\' get a backslash, control bytes and invalid
 * UTF-8 become \xNN, and text past |max| bytes becomes "...".
 */
static void quote_text(char *dst, size_t cap, const uint8_t *s, size_t len, size_t max)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 8 < cap; i++) {
        if (i == max) {
            memcpy(dst + o, "...", 3);
            o += 3;
            break;
        }
        uint8_t ch = s[i];
        uint32_t cp;
        size_t n;
        if (ch >= 0x20 && ch < 0x7f) {
            if (ch == '"' || ch == '\\')
                dst[o++] = '\\';
            dst[o++] = (char)ch;
        } else if (ch >= 0x80 && (n = utf8_decode(s + i, len - i, &cp)) != 0) {
            memcpy(dst + o, s + i, n);
            o += n;
            i += n - 1;
        } else {
            o += (size_t)snprintf(dst + o, cap - o, "\\x%02x", ch);
        }
    }
    dst[o] = '\0';
}

/* Writes the field path of |fr| ("items[2].price") into |buf|; returns its length (0 = top level). */
static size_t path_format(const p2j_t *c, const frame_t *fr, char *buf, size_t cap)
{
    const frame_t *chain[32]; /* the innermost levels; outer ones become "..." */
    size_t n = 0, skipped = 0;
    for (; fr != NULL; fr = fr->parent) {
        if (fr->field == NULL && fr->index < 0 && fr->key == NULL)
            continue;
        if (n < sizeof(chain) / sizeof(chain[0]))
            chain[n++] = fr;
        else
            skipped++;
    }
    size_t len = 0;
#define PATH_PUT(...)                                                                                                              \
    do {                                                                                                                           \
        int k_ = snprintf(buf + len, cap - len, __VA_ARGS__);                                                                      \
        if (k_ > 0)                                                                                                                \
            len += (size_t)k_ < cap - len ? (size_t)k_ : cap - len - 1;                                                            \
    } while (0)
    buf[0] = '\0';
    if (skipped != 0)
        PATH_PUT("...");
    int need_dot = 0;
    while (n > 0) {
        const frame_t *f = chain[--n];
        /* a level without a field is the element or entry of a Struct or ListValue: only "[...]" */
        if (f->field != NULL) {
            PATH_PUT("%s%s", need_dot ? "." : "", c->proto_names ? f->field->name : f->field->json_name);
            need_dot = 1;
        }
        if (f->index >= 0)
            PATH_PUT("[%ld]", f->index);
        if (f->key != NULL) {
            char key[128];
            quote_text(key, sizeof(key), (const uint8_t *)f->key, f->key_len, 48);
            if (f->key_quoted)
                PATH_PUT("[\"%s\"]", key);
            else
                PATH_PUT("[%s]", key);
        }
    }
#undef PATH_PUT
    return len;
}

static int fail(p2j_t *c, const frame_t *fr, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(p2j_t *c, const frame_t *fr, int code, const char *fmt, ...)
{
    char msg[200], path[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (path_format(c, fr, path, sizeof(path)) != 0)
        return util_error_set(c->err, code, "field \"%s\": %s", path, msg);
    return util_error_set(c->err, code, "%s", msg);
}

static int fail_wire(p2j_t *c, const frame_t *fr, const uint8_t *at, const char *what)
{
    return fail(c, fr, CODEC_ERR_WIRE, "invalid protobuf at byte %zu: %s", (size_t)(at - c->base), what);
}

static int fail_nomem(p2j_t *c)
{
    return util_error_set(c->err, CODEC_ERR_NOMEM, "out of memory while printing JSON");
}

/* ---------------------------------------------------------------------------------------
 * Wire scanning
 */

static inline int read_varint(p2j_t *c, const frame_t *fr, const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    if (wire_read_varint(p, end, v) == 0)
        return 0;
    return fail_wire(c, fr, *p, end - *p >= 10 ? "varint longer than 10 bytes" : "truncated varint");
}

/* Reads a tag at *p; fills number and wire type. */
static inline int read_tag(p2j_t *c, const frame_t *fr, const uint8_t **p, const uint8_t *end, uint32_t *number, int *wt)
{
    const uint8_t *at = *p;
    uint64_t tag = 0;
    if (at < end && *at < 0x80) {
        tag = *at;
        *p = at + 1;
    } else if (read_varint(c, fr, p, end, &tag) != 0) {
        return -1;
    }
    if (tag > UINT32_MAX)
        return fail_wire(c, fr, at, "field number too large");
    *number = (uint32_t)(tag >> 3);
    *wt = (int)(tag & 7);
    if (*number == 0)
        return fail_wire(c, fr, at, "field number 0");
    return 0;
}

static int skip_group(p2j_t *c, const frame_t *fr, const uint8_t **p, const uint8_t *end, uint32_t number, uint32_t depth,
                      const uint8_t **content_end);

/*
 * Reads the value of wire type |wt| at *p (the tag is already read) and advances past it.
 * Fills *v (value or length) and *vp (where the value/content starts).
 */
static inline int read_value(p2j_t *c, const frame_t *fr, const uint8_t *tag_at, const uint8_t **p, const uint8_t *end,
                             uint32_t number, int wt, uint32_t depth, uint64_t *v, const uint8_t **vp)
{
    const uint8_t *s = *p;
    switch (wt) {
    case WIRE_VARINT:
        *vp = s;
        return read_varint(c, fr, p, end, v);
    case WIRE_I64:
        if (end - s < 8)
            return fail_wire(c, fr, s, "truncated 64-bit value");
        *vp = s;
        *v = wire_load64(s);
        *p = s + 8;
        return 0;
    case WIRE_I32:
        if (end - s < 4)
            return fail_wire(c, fr, s, "truncated 32-bit value");
        *vp = s;
        *v = wire_load32(s);
        *p = s + 4;
        return 0;
    case WIRE_LEN: {
        uint64_t n = 0;
        if (read_varint(c, fr, p, end, &n) != 0)
            return -1;
        if (n > (uint64_t)(end - *p))
            return fail(c, fr, CODEC_ERR_WIRE, "invalid protobuf at byte %zu: length %llu past the end (%zu bytes left)",
                        (size_t)(s - c->base), (unsigned long long)n, (size_t)(end - *p));
        *vp = *p;
        *v = n;
        *p += n;
        return 0;
    }
    case WIRE_SGROUP: {
        const uint8_t *ce = NULL;
        *vp = s;
        if (skip_group(c, fr, p, end, number, depth + 1, &ce) != 0)
            return -1;
        *v = (uint64_t)(ce - s);
        return 0;
    }
    case WIRE_EGROUP:
        return fail_wire(c, fr, tag_at, "end-group tag without a start-group");
    default: {
        char what[40];
        snprintf(what, sizeof(what), "invalid wire type %d", wt);
        return fail_wire(c, fr, tag_at, what);
    }
    }
}

/* Skips a group's content up to its end-group tag; *content_end is where that tag starts. */
static int skip_group(p2j_t *c, const frame_t *fr, const uint8_t **p, const uint8_t *end, uint32_t number, uint32_t depth,
                      const uint8_t **content_end)
{
    if (depth > c->max_depth)
        return fail(c, fr, CODEC_ERR_DEPTH, "nesting deeper than %u levels", c->max_depth);
    for (;;) {
        if (*p >= end)
            return fail_wire(c, fr, *p, "unterminated group");
        const uint8_t *at = *p;
        uint32_t n = 0;
        int wt = 0;
        if (read_tag(c, fr, p, end, &n, &wt) != 0)
            return -1;
        if (wt == WIRE_EGROUP) {
            if (n != number)
                return fail_wire(c, fr, at, "end-group tag does not match its start-group");
            *content_end = at;
            return 0;
        }
        uint64_t v = 0;
        const uint8_t *vp = NULL;
        if (read_value(c, fr, at, p, end, n, wt, depth, &v, &vp) != 0)
            return -1;
    }
}

static inline const proto_field_t *field_by_number(const proto_message_t *m, uint32_t number)
{
    if (m->_dense)
        return number < m->_n_by_number ? m->_by_number[number] : NULL;
    return proto_message_field_by_number(m, number);
}

/* The pre-pass: records the occurrences of the known fields of |m| in [p, end) into |slots|. */
static int scan(p2j_t *c, const frame_t *fr, const proto_message_t *m, const uint8_t *p, const uint8_t *end, slot_t *slots,
                uint32_t depth)
{
    while (p < end) {
        const uint8_t *at = p;
        uint32_t number = 0;
        int wt = 0;
        if (read_tag(c, fr, &p, end, &number, &wt) != 0)
            return -1;
        uint64_t v = 0;
        const uint8_t *vp = NULL;
        if (read_value(c, fr, at, &p, end, number, wt, depth, &v, &vp) != 0)
            return -1;
        const proto_field_t *f = field_by_number(m, number);
        if (f == NULL)
            continue;
        if (wt != type_wire[f->type] && !(wt == WIRE_LEN && f->repeated && type_is_packable(f->type)))
            continue; /* a wire type that does not fit the field: an unknown field to protobuf */
        occ_t *o = scratch_alloc(&c->scratch, sizeof(*o));
        if (o == NULL)
            return fail_nomem(c);
        o->p = vp;
        o->next = NULL;
        o->v = v;
        o->wt = (uint8_t)wt;
        slot_t *s = &slots[f->index];
        if (s->last != NULL)
            s->last->next = o;
        else
            s->first = o;
        s->last = o;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * Output primitives
 */

/* Writes |v| in decimal at |p|; returns the end. */
static inline char *put_u64(char *p, uint64_t v)
{
    return p + util_u64_format(p, v);
}

/* Copies the short literal |s| to |p|; returns the end. */
static inline char *put_lit(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

static inline char *put_i64(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return put_u64(p, (uint64_t)0 - (uint64_t)v);
    }
    return put_u64(p, (uint64_t)v);
}

/* Exact powers of ten (all of 1e0..1e22 are exact doubles). */
static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                       1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/*
 * Fast path of the float printers for values with a short decimal form: finds the fewest
 * fractional digits k such that the decimal cand / 10^k reads back as |a| (positive), with
 * cand below |limit| (10^precision). Exact, not a heuristic: cand and 10^k are exact
 * doubles, so the IEEE division is correctly rounded, i.e. equal to what strtod makes of
 * the decimal text. And a decimal of at most |precision| significant digits that
 * round-trips is the one %.Pg prints (such decimals are spaced wider than an ulp, so only
 * one can round-trip), with %g's trailing zeros removed. For a float (|is_float|) the
 * quotient is rounded on to float; that equals strtof of the text unless the double
 * quotient lies exactly halfway between two floats, which is left to the slow path.
 * Returns the cand (0 when there is no such short form) and k.
 */
static inline uint64_t short_decimal(double a, double limit, int is_float, int *kp)
{
    for (int k = 1; k <= 10; k++) {
        double scaled = a * pow10_exact[k];
        if (scaled >= limit)
            return 0;
        uint64_t cand = (uint64_t)(scaled + 0.5);
        double q = (double)cand / pow10_exact[k];
        if (!is_float) {
            if (q != a)
                continue;
        } else {
            float f = (float)q;
            if ((double)f != a)
                continue;
            float other = nextafterf(f, q > (double)f ? INFINITY : -INFINITY);
            if ((double)f != q && q - (double)f == (double)other - q)
                return 0; /* halfway: double rounding could differ from strtof */
        }
        *kp = k;
        return cand;
    }
    return 0;
}

/* Writes "[-]int.frac" for cand / 10^k. */
static size_t put_decimal(char *buf, int neg, uint64_t cand, int k)
{
    char *p = buf;
    if (neg)
        *p++ = '-';
    uint64_t scale = (uint64_t)pow10_exact[k];
    p = put_u64(p, cand / scale);
    *p++ = '.';
    uint64_t frac = cand % scale;
    for (int i = k - 1; i >= 0; i--) {
        p[i] = (char)('0' + frac % 10);
        frac /= 10;
    }
    return (size_t)(p + k - buf);
}

/*
 * Writes |n| significant digits |d| (decimal exponent |x| of the first) exactly as %.Pg
 * prints them: trailing zeros dropped, fixed notation when -4 <= x < P, else d.ddde+XX.
 */
static size_t put_g(char *buf, int neg, const char *d, int n, int x, int prec)
{
    char *p = buf;
    if (neg)
        *p++ = '-';
    while (n > 1 && d[n - 1] == '0')
        n--;
    if (x < -4 || x >= prec) {
        *p++ = d[0];
        if (n > 1) {
            *p++ = '.';
            memcpy(p, d + 1, (size_t)n - 1);
            p += n - 1;
        }
        *p++ = 'e';
        *p++ = x < 0 ? '-' : '+';
        unsigned ax = (unsigned)(x < 0 ? -x : x);
        if (ax >= 100)
            *p++ = (char)('0' + ax / 100);
        *p++ = (char)('0' + ax / 10 % 10);
        *p++ = (char)('0' + ax % 10);
    } else if (x >= 0) {
        for (int i = 0; i <= x; i++)
            *p++ = i < n ? d[i] : '0';
        if (n > x + 1) {
            *p++ = '.';
            memcpy(p, d + x + 1, (size_t)(n - x - 1));
            p += n - x - 1;
        }
    } else {
        *p++ = '0';
        *p++ = '.';
        for (int i = -1; i > x; i--)
            *p++ = '0';
        memcpy(p, d, (size_t)n);
        p += n;
    }
    return (size_t)(p - buf);
}

/*
 * Whether the decimal |d| (|n| digits, exponent |x|) reads back as |a| (positive; a float
 * when |is_float|). Exact: when the digits fit in 2^53 and the power of ten is exact, one
 * correctly rounded multiplication or division is what strtod computes (for floats, unless
 * the double lands exactly halfway between two floats); otherwise strtod/strtof decide.
 */
static int decimal_reads_back(const char *d, int n, int x, double a, int is_float)
{
    uint64_t num = 0;
    for (int i = 0; i < n; i++)
        num = num * 10 + (uint64_t)(d[i] - '0');
    int q = x - (n - 1);
    if (num < ((uint64_t)1 << 53) && q >= -22 && q <= 22) {
        double r = q >= 0 ? (double)num * pow10_exact[q] : (double)num / pow10_exact[-q];
        if (!is_float)
            return r == a;
        float f = (float)r;
        float other = nextafterf(f, r > (double)f ? INFINITY : -INFINITY);
        if ((double)f == r || r - (double)f != (double)other - r)
            return (double)f == a;
    }
    char text[40];
    snprintf(text, sizeof(text), "%.*se%d", n, d, q);
    return is_float ? (double)strtof(text, NULL) == a : strtod(text, NULL) == a;
}

/*
 * The slow path of both float printers: the shortest of %.{lo}g .. %.{hi}g that reads back.
 * One snprintf gives |hi| correctly rounded digits; the shorter candidates are rounded from
 * them, which is exact unless the dropped digits are exactly 5, 50, 500... (the true value
 * may then lie on either side of the halfway point): those rare values are left to |-1|,
 * the caller's snprintf loop.
 */
static int shortest_g(char *buf, double v, int lo, int hi, int is_float)
{
    char e[48];
    snprintf(e, sizeof(e), "%.*e", hi - 1, v);
    const char *p = e;
    int neg = *p == '-';
    p += neg;
    char dig[24];
    dig[0] = p[0];
    memcpy(dig + 1, p + 2, (size_t)hi - 1);
    int x = atoi(p + hi + 2); /* after "d." and hi-1 digits comes 'e' */
    double a = fabs(v);
    for (int prec = lo; prec < hi; prec++) {
        char r[24];
        int rx = x;
        memcpy(r, dig, (size_t)prec);
        int zeros = 1;
        for (int i = prec + 1; i < hi; i++)
            zeros &= dig[i] == '0';
        if (dig[prec] == '5' && zeros)
            return -1; /* a possible tie: rounding from hi digits might differ from %.{prec}g */
        if (dig[prec] >= '5') {
            int i = prec - 1;
            while (i >= 0 && r[i] == '9')
                r[i--] = '0';
            if (i >= 0) {
                r[i]++;
            } else {
                r[0] = '1';
                rx++;
            }
        }
        if (decimal_reads_back(r, prec, rx, a, is_float))
            return (int)put_g(buf, neg, r, prec, rx, prec);
    }
    return (int)put_g(buf, neg, dig, hi, x, hi);
}

/*
 * Shortest %g text that reads back as |v| (finite): %.15g, %.16g or %.17g, the first
 * that round-trips (for a normal double, the 15-digit form is the shortest one whenever
 * the shortest has at most 15 digits). Integers below 1e15 and short decimals are
 * printed without snprintf, digit for digit as %.15g would print them.
 */
static size_t format_double(char *buf, double v)
{
    if (v == 0)
        return (size_t)(put_u64(signbit(v) ? (*buf = '-', buf + 1) : buf, 0) - buf);
    double a = fabs(v);
    if (a < 1e15 && v == (double)(int64_t)v)
        return (size_t)(put_i64(buf, (int64_t)v) - buf);
    if (a >= 1e-4 && a < 1e15) { /* %g's fixed-point range */
        int k;
        uint64_t cand = short_decimal(a, 1e15, 0, &k);
        if (cand != 0)
            return put_decimal(buf, v < 0, cand, k);
    }
    int n = a >= DBL_MIN ? shortest_g(buf, v, 15, 17, 0) : -1;
    if (n >= 0)
        return (size_t)n;
    /* subnormals carry fewer digits than 15: their shortest form may be much shorter */
    for (int prec = a < DBL_MIN ? 1 : 15; prec <= 17; prec++) {
        n = snprintf(buf, 32, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return (size_t)n;
}

/* As format_double for a float: the shortest of %.6g .. %.9g that reads back through strtof. */
static size_t format_float(char *buf, float v)
{
    if (v == 0)
        return (size_t)(put_u64(signbit(v) ? (*buf = '-', buf + 1) : buf, 0) - buf);
    float a = fabsf(v);
    if (a < 1e6f && v == (float)(int32_t)v)
        return (size_t)(put_i64(buf, (int32_t)v) - buf);
    if (a >= 1e-4f && a < 1e6f) {
        int k;
        uint64_t cand = short_decimal(a, 1e6, 1, &k);
        if (cand != 0)
            return put_decimal(buf, v < 0, cand, k);
    }
    int n = a >= FLT_MIN ? shortest_g(buf, v, 6, 9, 1) : -1;
    if (n >= 0)
        return (size_t)n;
    for (int prec = 6; prec <= 9; prec++) {
        n = snprintf(buf, 32, "%.*g", prec, (double)v);
        if (strtof(buf, NULL) == v)
            break;
    }
    return (size_t)n;
}

/* Appends |s| (|n| bytes of plain text that needs no escaping). */
static inline void put(p2j_t *c, const char *s, size_t n)
{
    util_buf_append(c->out, s, n);
}

static inline void putch(p2j_t *c, char ch)
{
    util_buf_putc(c->out, (uint8_t)ch);
}

/* Appends an outline event for the text [off, off + len) of c->out (when outlining). */
static void outline_add(p2j_t *c, uint32_t kind, size_t off, size_t len)
{
    if (c->raw_depth != 0)
        return;
    if (off + len - c->start > UINT32_MAX) {
        c->outline->failed = 1;
        return;
    }
    codec_outline_event_t e = {kind, (uint32_t)(off - c->start), (uint32_t)len};
    util_buf_append(c->outline, &e, sizeof(e));
}

/* Where a value's text starts, for outline_value_since. */
static inline size_t outline_begin(p2j_t *c)
{
    if (c->raw_depth == 0) /* inside a RAW value, escapes add up for the whole of it */
        c->escaped = 0;
    return c->out->len;
}

/* Outlines the value printed since |at| (from outline_begin); a string the printer wrote
 * without escapes is flagged so, and its reader need not look for any. */
static inline void outline_value_since(p2j_t *c, uint32_t kind, size_t at)
{
    if (c->outline != NULL)
        outline_add(c, kind | (c->escaped ? 0 : CODEC_OUTLINE_NO_ESCAPES), at, c->out->len - at);
}

static inline void outline_mark(p2j_t *c, uint32_t kind)
{
    if (c->outline != NULL)
        outline_add(c, kind, c->out->len, 0);
}

/*
 * Byte classes for escaping: 0 = printed as is; 1 = ASCII that is escaped; 2 = non-ASCII,
 * decoded and validated as UTF-8 (a few code points are escaped, see needs_escape()).
 */
static const uint8_t esc_class[256] =
    {
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x00 */
        0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, /* 0x20 " < > */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, /* 0x40 \ */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, /* 0x60 DEL */
        2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
        2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
        2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
        2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 0x80-0xff */
};

/* Decodes one UTF-8 sequence (RFC 3629: no overlongs, no surrogates, <= U+10FFFF); returns its length or 0. */
static inline size_t utf8_decode(const uint8_t *s, size_t n, uint32_t *cp)
{
    uint8_t c0 = s[0];
    if (c0 < 0xc2)
        return 0;
    if (c0 < 0xe0) {
        if (n < 2 || (s[1] & 0xc0) != 0x80)
            return 0;
        *cp = (uint32_t)(c0 & 0x1f) << 6 | (s[1] & 0x3f);
        return 2;
    }
    if (c0 < 0xf0) {
        if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
            return 0;
        if ((c0 == 0xe0 && s[1] < 0xa0) || (c0 == 0xed && s[1] > 0x9f))
            return 0;
        *cp = (uint32_t)(c0 & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
        return 3;
    }
    if (c0 < 0xf5) {
        if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
            return 0;
        if ((c0 == 0xf0 && s[1] < 0x90) || (c0 == 0xf4 && s[1] > 0x8f))
            return 0;
        *cp = (uint32_t)(c0 & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 | (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
        return 4;
    }
    return 0;
}

/* Non-ASCII code points that protobuf's C++ JSON writer escapes (controls and invisible formatting). */
static inline int needs_escape(uint32_t cp)
{
    if (cp < 0x600)
        return cp < 0xa0 || cp == 0xad;
    if (cp < 0x2000)
        return cp <= 0x603 || cp == 0x6dd || cp == 0x70f || cp == 0x17b4 || cp == 0x17b5;
    if (cp < 0x10000)
        return (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x2064) ||
               (cp >= 0x206a && cp <= 0x206f) || cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb);
    return (cp >= 0x1d173 && cp <= 0x1d17a) || cp == 0xe0001 || (cp >= 0xe0020 && cp <= 0xe007f);
}

static const char hexdig[] = "0123456789abcdef";

static inline void put_uescape(p2j_t *c, uint32_t u)
{
    char e[6] = {'\\', 'u', hexdig[(u >> 12) & 15], hexdig[(u >> 8) & 15], hexdig[(u >> 4) & 15], hexdig[u & 15]};
    put(c, e, 6);
}

/*
 * Appends the JSON-escaped text of |s| (no quotes); returns 0, or -1 (nothing reported)
 * when it is not valid UTF-8. Runs of bytes that need no escaping are copied whole.
 */
static int put_escaped(p2j_t *c, const uint8_t *s, size_t len)
{
    size_t i = 0, run = 0;
    while (i < len) {
        uint8_t ch = s[i];
        uint8_t cls = esc_class[ch];
        if (cls == 0) {
            i++;
            continue;
        }
        size_t n = 1;
        uint32_t cp = ch;
        if (cls == 2) {
            n = utf8_decode(s + i, len - i, &cp);
            if (n == 0)
                return -1;
            if (!needs_escape(cp)) {
                i += n;
                continue;
            }
        }
        put(c, (const char *)s + run, i - run);
        c->escaped = 1;
        switch (cp) {
        case '"':
            put(c, "\\\"", 2);
            break;
        case '\\':
            put(c, "\\\\", 2);
            break;
        case '\b':
            put(c, "\\b", 2);
            break;
        case '\f':
            put(c, "\\f", 2);
            break;
        case '\n':
            put(c, "\\n", 2);
            break;
        case '\r':
            put(c, "\\r", 2);
            break;
        case '\t':
            put(c, "\\t", 2);
            break;
        default:
            if (cp >= 0x10000) {
                put_uescape(c, 0xd800 + ((cp - 0x10000) >> 10));
                put_uescape(c, 0xdc00 + ((cp - 0x10000) & 0x3ff));
            } else {
                put_uescape(c, cp);
            }
        }
        i += n;
        run = i;
    }
    put(c, (const char *)s + run, len - run);
    return 0;
}

/* Appends |s| as a quoted JSON string; returns 0, or -1 (nothing reported) when it is not valid UTF-8. */
static inline int put_string(p2j_t *c, const uint8_t *s, size_t len)
{
    if (util_buf_reserve(c->out, len + 2) != 0)
        return 0; /* the buffer is marked failed; reported at the end */
    c->out->data[c->out->len++] = '"';
    if (put_escaped(c, s, len) != 0)
        return -1;
    putch(c, '"');
    return 0;
}

static int put_string_checked(p2j_t *c, const frame_t *fr, const uint8_t *s, size_t len)
{
    if (put_string(c, s, len) != 0)
        return fail(c, fr, CODEC_ERR_UTF8, "invalid UTF-8 in string");
    return 0;
}

/* Appends "name": for field |f|, preceded by a comma unless it is the first member. */
static inline void put_name(p2j_t *c, const proto_field_t *f, int *first)
{
    const char *name = c->proto_names ? f->name : f->json_name;
    size_t n = c->proto_names ? f->name_len : f->json_name_len;
    util_buf_t *b = c->out;
    if (util_buf_reserve(b, n + 4) != 0)
        return;
    uint8_t *o = b->data + b->len;
    if (!*first)
        *o++ = ',';
    *first = 0;
    uint8_t any = 0;
    for (size_t i = 0; i < n; i++)
        any |= esc_class[(uint8_t)name[i]];
    if (any != 0) {
        /* a json_name option may hold anything, '"' included */
        b->len = (size_t)(o - b->data);
        size_t at = outline_begin(c);
        put_string(c, (const uint8_t *)name, n);
        outline_value_since(c, CODEC_OUTLINE_KEY, at);
        putch(c, ':');
        return;
    }
    if (c->outline != NULL)
        outline_add(c, CODEC_OUTLINE_KEY | CODEC_OUTLINE_NO_ESCAPES, (size_t)(o - b->data), n + 2);
    *o++ = '"';
    memcpy(o, name, n);
    o += n;
    *o++ = '"';
    *o++ = ':';
    b->len = (size_t)(o - b->data);
}

static void put_bytes(p2j_t *c, const uint8_t *s, size_t len)
{
    putch(c, '"');
    util_base64_encode(c->out, s, len, 0);
    putch(c, '"');
}

/* ---------------------------------------------------------------------------------------
 * Scalars
 */

/* Whether a raw value of field type |t| is the proto3 default (an implicit-presence field is then omitted). */
static inline int scalar_is_default(proto_type_t t, const occ_t *o)
{
    switch (t) {
    case PROTO_TYPE_INT32:
    case PROTO_TYPE_UINT32:
    case PROTO_TYPE_SINT32:
    case PROTO_TYPE_ENUM:
    case PROTO_TYPE_FIXED32:
    case PROTO_TYPE_SFIXED32:
    case PROTO_TYPE_FLOAT: /* bit pattern: -0.0 is not the default */
        return (uint32_t)o->v == 0;
    case PROTO_TYPE_BOOL:
    default:
        return o->v == 0; /* 64-bit values, double bits, string/bytes length */
    }
}

static void put_enum(p2j_t *c, const proto_enum_t *e, int32_t n)
{
    char buf[16];
    /* with enum_ints even NullValue prints its number, as Python's json_format does */
    if (e->null_value && !c->enum_ints) {
        put(c, "null", 4);
        return;
    }
    if (!c->enum_ints) {
        const proto_enum_value_t *ev = proto_enum_value_by_number(e, n);
        if (ev != NULL) {
            putch(c, '"');
            put(c, ev->name, strlen(ev->name));
            putch(c, '"');
            return;
        }
    }
    put(c, buf, (size_t)(put_i64(buf, n) - buf));
}

/*
 * Prints one value of type |t| from its raw wire value |v| (varints, fixed) or bytes [p, p+v)
 * (strings, bytes). |quote_ints| is for map keys, which are always strings.
 */
static int put_scalar(p2j_t *c, const frame_t *fr, const proto_field_t *f, proto_type_t t, uint64_t v, const uint8_t *p,
                      int quote_ints)
{
    util_buf_t *b = c->out;
    if (util_buf_reserve(b, 40) != 0)
        return 0;
    char *o = (char *)b->data + b->len, *start = o;
    switch (t) {
    case PROTO_TYPE_DOUBLE: {
        double d;
        memcpy(&d, &v, 8);
        if (isfinite(d))
            o += format_double(o, d);
        else
            o = put_lit(o, isnan(d) ? "\"NaN\"" : d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
        break;
    }
    case PROTO_TYPE_FLOAT: {
        float d;
        uint32_t bits = (uint32_t)v;
        memcpy(&d, &bits, 4);
        if (isfinite(d))
            o += format_float(o, d);
        else
            o = put_lit(o, isnan(d) ? "\"NaN\"" : d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
        break;
    }
    case PROTO_TYPE_INT64:
    case PROTO_TYPE_SFIXED64:
        *o++ = '"';
        o = put_i64(o, (int64_t)v);
        *o++ = '"';
        break;
    case PROTO_TYPE_SINT64:
        *o++ = '"';
        o = put_i64(o, wire_unzigzag64(v));
        *o++ = '"';
        break;
    case PROTO_TYPE_UINT64:
    case PROTO_TYPE_FIXED64:
        *o++ = '"';
        o = put_u64(o, v);
        *o++ = '"';
        break;
    case PROTO_TYPE_INT32:
    case PROTO_TYPE_SFIXED32:
    case PROTO_TYPE_SINT32:
    case PROTO_TYPE_UINT32:
    case PROTO_TYPE_FIXED32:
        if (quote_ints)
            *o++ = '"';
        if (t == PROTO_TYPE_UINT32 || t == PROTO_TYPE_FIXED32)
            o = put_u64(o, (uint32_t)v);
        else if (t == PROTO_TYPE_SINT32)
            o = put_i64(o, wire_unzigzag32((uint32_t)v));
        else
            o = put_i64(o, (int32_t)(uint32_t)v);
        if (quote_ints)
            *o++ = '"';
        break;
    case PROTO_TYPE_BOOL:
        if (quote_ints)
            *o++ = '"';
        o = put_lit(o, v != 0 ? "true" : "false");
        if (quote_ints)
            *o++ = '"';
        break;
    case PROTO_TYPE_ENUM:
        put_enum(c, f->enum_type, (int32_t)(uint32_t)v);
        return 0;
    case PROTO_TYPE_STRING:
        return put_string_checked(c, fr, p, (size_t)v);
    case PROTO_TYPE_BYTES:
        put_bytes(c, p, (size_t)v);
        return 0;
    default:
        return 0;
    }
    b->len += (size_t)(o - start);
    return 0;
}

/* The default value of a scalar field, as printed with emit_defaults. */
static void put_default(p2j_t *c, const proto_field_t *f)
{
    switch (f->type) {
    case PROTO_TYPE_STRING:
    case PROTO_TYPE_BYTES:
        put(c, "\"\"", 2);
        break;
    case PROTO_TYPE_ENUM:
        put_enum(c, f->enum_type, f->enum_type->n_values != 0 ? f->enum_type->values[0].number : 0);
        break;
    default: {
        static const uint8_t zero = 0;
        put_scalar(c, NULL, f, f->type, 0, &zero, 0);
    }
    }
}

/* Whether a closed (proto2) enum knows |v|; unknown numbers of closed enums are unknown fields. */
static inline int enum_value_ok(const proto_field_t *f, uint64_t v)
{
    return f->type != PROTO_TYPE_ENUM || !f->enum_type->closed ||
           proto_enum_value_by_number(f->enum_type, (int32_t)(uint32_t)v) != NULL;
}

/* ---------------------------------------------------------------------------------------
 * Messages
 */

static int print_message(p2j_t *c, const frame_t *parent, const proto_message_t *m, const occ_t *segs, int single,
                         const uint8_t *cut, uint32_t depth);

/* Prints the elements of a repeated field as a JSON array; *count gets the number of elements. */
static int print_array(p2j_t *c, frame_t *fr, const proto_field_t *f, const occ_t *first, uint32_t depth, size_t *count)
{
    outline_mark(c, CODEC_OUTLINE_ARRAY);
    putch(c, '[');
    long idx = 0;
    proto_type_t t = f->type;
    for (const occ_t *o = first; o != NULL; o = o->next) {
        if (t == PROTO_TYPE_MESSAGE || t == PROTO_TYPE_GROUP) {
            if (idx != 0)
                putch(c, ',');
            fr->index = idx++;
            if (print_message(c, fr, f->message, o, 1, NULL, depth + 1) != 0)
                return -1;
        } else if (o->wt == WIRE_LEN && type_is_packable(t)) {
            /* packed: a run of values without tags */
            const uint8_t *p = o->p, *end = o->p + o->v;
            int wt = type_wire[t];
            size_t width = wt == WIRE_I64 ? 8 : 4;
            if (wt != WIRE_VARINT && o->v % width != 0)
                return fail(c, fr, CODEC_ERR_WIRE,
                            "invalid protobuf at byte %zu: packed field of %llu bytes is not a multiple of %zu",
                            (size_t)(p - c->base), (unsigned long long)o->v, width);
            while (p < end) {
                uint64_t v = 0;
                if (wt == WIRE_VARINT) {
                    if (read_varint(c, fr, &p, end, &v) != 0)
                        return -1;
                } else if (width == 8) {
                    v = wire_load64(p);
                    p += 8;
                } else {
                    v = wire_load32(p);
                    p += 4;
                }
                if (!enum_value_ok(f, v))
                    continue;
                if (idx != 0)
                    putch(c, ',');
                fr->index = idx++;
                size_t at = outline_begin(c);
                put_scalar(c, fr, f, t, v, NULL, 0);
                outline_value_since(c, CODEC_OUTLINE_SCALAR, at);
            }
        } else {
            if (!enum_value_ok(f, o->v))
                continue;
            if (idx != 0)
                putch(c, ',');
            fr->index = idx++;
            size_t at = outline_begin(c);
            if (put_scalar(c, fr, f, t, o->v, o->p, 0) != 0)
                return -1;
            outline_value_since(c, CODEC_OUTLINE_SCALAR, at);
        }
    }
    fr->index = -1;
    putch(c, ']');
    outline_mark(c, CODEC_OUTLINE_END);
    *count = (size_t)idx;
    return 0;
}

/* A map key, normalized for equality: the string bytes, or the integer value. */
typedef struct map_rec {
    const uint8_t *key; /* string keys: the bytes; NULL for other key types */
    uint64_t ikey;      /* string keys: the length; others: the normalized value */
    slot_t val;         /* the value's occurrences in the entry */
    int alive;
} map_rec_t;

static inline int map_key_eq(const map_rec_t *a, const map_rec_t *b)
{
    return a->ikey == b->ikey && (a->key == NULL || memcmp(a->key, b->key, a->ikey) == 0);
}

/* |seed| varies between runs (it comes from a stack address, so from ASLR): crafted colliding keys are harder. */
static inline uint64_t map_key_hash(const map_rec_t *a, uint64_t seed)
{
    uint64_t h = (a->ikey ^ seed) * 0x9e3779b97f4a7c15ULL;
    if (a->key != NULL) {
        h = 1469598103934665603ULL ^ seed;
        for (uint64_t i = 0; i < a->ikey; i++)
            h = (h ^ a->key[i]) * 1099511628211ULL;
    }
    return h ^ (h >> 29);
}

/* Prints a map field as a JSON object; |first| lists the map-entry occurrences; *count gets the entries printed. */
static int print_map(p2j_t *c, frame_t *fr, const proto_field_t *f, const occ_t *first, uint32_t depth, size_t *count)
{
    const proto_message_t *em = f->message;
    const proto_field_t *kf = &em->fields[0], *vf = &em->fields[1];
    size_t n = 0;
    for (const occ_t *o = first; o != NULL; o = o->next)
        n++;
    scratch_mark_t mark = scratch_mark(&c->scratch);
    map_rec_t *recs = n != 0 ? scratch_alloc(&c->scratch, n * sizeof(*recs)) : NULL;
    if (n != 0 && recs == NULL)
        return fail_nomem(c);

    /* 1. each entry's key and value occurrences */
    size_t i = 0;
    for (const occ_t *o = first; o != NULL; o = o->next, i++) {
        slot_t s[2] = {{NULL, NULL}, {NULL, NULL}};
        fr->index = (long)i; /* only for wire errors inside the entry */
        if (scan(c, fr, em, o->p, o->p + o->v, s, depth) != 0)
            return -1;
        fr->index = -1;
        map_rec_t *r = &recs[i];
        r->val = s[1];
        r->alive = 1;
        const occ_t *k = s[0].last;
        if (kf->type == PROTO_TYPE_STRING) {
            r->key = k != NULL ? k->p : (const uint8_t *)"";
            r->ikey = k != NULL ? k->v : 0;
        } else {
            uint64_t v = k != NULL ? k->v : 0;
            switch (kf->type) {
            case PROTO_TYPE_INT32:
            case PROTO_TYPE_SFIXED32:
                v = (uint64_t)(int64_t)(int32_t)(uint32_t)v;
                break;
            case PROTO_TYPE_UINT32:
            case PROTO_TYPE_FIXED32:
                v = (uint32_t)v;
                break;
            case PROTO_TYPE_SINT32:
                v = (uint64_t)(int64_t)wire_unzigzag32((uint32_t)v);
                break;
            case PROTO_TYPE_SINT64:
                v = (uint64_t)wire_unzigzag64(v);
                break;
            case PROTO_TYPE_BOOL:
                v = v != 0;
                break;
            default:
                break;
            }
            r->key = NULL;
            r->ikey = v;
        }
        if (vf->type == PROTO_TYPE_ENUM && r->val.last != NULL && !enum_value_ok(vf, r->val.last->v))
            r->alive = 0; /* protobuf keeps such an entry among the unknown fields */
    }

    /* 2. equal keys: the last entry's value goes to the first entry's position */
    if (n > 1) {
        if (n <= 16) {
            for (size_t j = 1; j < n; j++) {
                if (!recs[j].alive)
                    continue;
                for (size_t k = 0; k < j; k++) {
                    if (recs[k].alive && map_key_eq(&recs[k], &recs[j])) {
                        recs[k].val = recs[j].val;
                        recs[j].alive = 0;
                        break;
                    }
                }
            }
        } else {
            size_t cap = 32;
            while (cap < 2 * n)
                cap *= 2;
            uint32_t *table = scratch_alloc(&c->scratch, cap * sizeof(*table));
            if (table == NULL)
                return fail_nomem(c);
            memset(table, 0, cap * sizeof(*table));
            uint64_t seed = (uint64_t)(uintptr_t)c->scratch.blocks[0] * 0x2545f4914f6cdd1dULL;
            for (size_t j = 0; j < n; j++) {
                if (!recs[j].alive)
                    continue;
                for (size_t h = (size_t)map_key_hash(&recs[j], seed) & (cap - 1);; h = (h + 1) & (cap - 1)) {
                    if (table[h] == 0) {
                        table[h] = (uint32_t)j + 1;
                        break;
                    }
                    map_rec_t *e = &recs[table[h] - 1];
                    if (map_key_eq(e, &recs[j])) {
                        e->val = recs[j].val;
                        recs[j].alive = 0;
                        break;
                    }
                }
            }
        }
    }

    /* 3. print */
    outline_mark(c, CODEC_OUTLINE_OBJECT);
    putch(c, '{');
    int firstm = 1;
    *count = 0;
    char keybuf[24];
    for (i = 0; i < n; i++) {
        const map_rec_t *r = &recs[i];
        if (!r->alive)
            continue;
        if (!firstm)
            putch(c, ',');
        firstm = 0;
        ++*count;
        size_t key_at = outline_begin(c);
        if (r->key != NULL) {
            if (put_string(c, r->key, (size_t)r->ikey) != 0)
                return fail(c, fr, CODEC_ERR_UTF8, "invalid UTF-8 in map key");
            fr->key = (const char *)r->key;
            fr->key_len = (size_t)r->ikey;
            fr->key_quoted = 1;
        } else {
            char *e;
            if (kf->type == PROTO_TYPE_BOOL)
                e = put_lit(keybuf, r->ikey ? "true" : "false");
            else if (kf->type == PROTO_TYPE_UINT64 || kf->type == PROTO_TYPE_FIXED64 || kf->type == PROTO_TYPE_UINT32 ||
                     kf->type == PROTO_TYPE_FIXED32)
                e = put_u64(keybuf, r->ikey);
            else
                e = put_i64(keybuf, (int64_t)r->ikey);
            fr->key = keybuf;
            fr->key_len = (size_t)(e - keybuf);
            fr->key_quoted = 0;
            putch(c, '"');
            put(c, keybuf, fr->key_len);
            putch(c, '"');
        }
        outline_value_since(c, CODEC_OUTLINE_KEY, key_at);
        putch(c, ':');
        if (vf->type == PROTO_TYPE_MESSAGE || vf->type == PROTO_TYPE_GROUP) {
            if (print_message(c, fr, vf->message, r->val.first, 0, NULL, depth + 1) != 0)
                return -1;
            continue;
        }
        size_t at = outline_begin(c);
        if (r->val.last != NULL) {
            if (put_scalar(c, fr, vf, vf->type, r->val.last->v, r->val.last->p, 0) != 0)
                return -1;
        } else {
            put_default(c, vf);
        }
        outline_value_since(c, CODEC_OUTLINE_SCALAR, at);
    }
    fr->key = NULL;
    putch(c, '}');
    outline_mark(c, CODEC_OUTLINE_END);
    scratch_release(&c->scratch, mark);
    return 0;
}

/* The last occurrence of field |number| of |m| (a well-known type), or NULL. */
static inline const occ_t *wkt_last(const proto_message_t *m, const slot_t *slots, uint32_t number, proto_type_t type)
{
    const proto_field_t *f = field_by_number(m, number);
    if (f == NULL || f->type != type)
        return NULL;
    return slots[f->index].last;
}

static inline const slot_t *wkt_slot(const proto_message_t *m, const slot_t *slots, uint32_t number)
{
    const proto_field_t *f = field_by_number(m, number);
    return f != NULL ? &slots[f->index] : NULL;
}

/* Prints the fields of |m| (the members of a JSON object, without braces). */
static int print_fields(p2j_t *c, frame_t *fr, const proto_message_t *m, const slot_t *slots, int first, uint32_t depth)
{
    /* oneofs: the member seen last wins; a message member keeps only what follows the other members */
    const proto_field_t **winner = NULL;
    const uint8_t **cut = NULL;
    if (m->n_oneofs != 0) {
        winner = scratch_alloc(&c->scratch, m->n_oneofs * (sizeof(*winner) + sizeof(*cut)));
        if (winner == NULL)
            return fail_nomem(c);
        cut = (const uint8_t **)(winner + m->n_oneofs);
        memset(winner, 0, m->n_oneofs * sizeof(*winner));
        memset(cut, 0, m->n_oneofs * sizeof(*cut));
        for (size_t i = 0; i < m->n_fields; i++) {
            const proto_field_t *f = &m->fields[i];
            const occ_t *l = slots[i].last;
            if (f->oneof_index < 0 || l == NULL)
                continue;
            const proto_field_t **w = &winner[f->oneof_index];
            if (*w == NULL || l->p > slots[(*w)->index].last->p) {
                if (*w != NULL)
                    cut[f->oneof_index] = slots[(*w)->index].last->p;
                *w = f;
            } else if (l->p > cut[f->oneof_index]) {
                cut[f->oneof_index] = l->p;
            }
        }
    }

    const uint8_t *only = depth == 1 ? c->only_fields : NULL;
    for (size_t i = 0; i < m->n_fields; i++) {
        const proto_field_t *f = &m->fields[i];
        const slot_t *s = &slots[i];
        const uint8_t *fcut = NULL;
        if (only != NULL && !only[i])
            continue;
        if (f->oneof_index >= 0) {
            if (winner[f->oneof_index] != f)
                continue;
            fcut = cut[f->oneof_index];
        }
        fr->field = f;
        if (f->repeated) {
            if (s->first == NULL && !c->emit_defaults)
                continue;
            size_t saved_len = c->out->len, saved_outline = c->outline != NULL ? c->outline->len : 0, count;
            int saved_first = first;
            put_name(c, f, &first);
            if ((f->is_map ? print_map(c, fr, f, s->first, depth, &count) : print_array(c, fr, f, s->first, depth, &count)) != 0)
                return -1;
            if (count == 0 && !c->emit_defaults && !c->out->failed) {
                /* only empty packed runs or unknown closed-enum numbers: the field is empty, so omitted */
                c->out->len = saved_len;
                if (c->outline != NULL)
                    c->outline->len = saved_outline;
                first = saved_first;
            }
            continue;
        }
        if (s->last == NULL) {
            if (c->emit_defaults && !f->has_presence) {
                put_name(c, f, &first);
                size_t at = outline_begin(c);
                put_default(c, f);
                outline_value_since(c, CODEC_OUTLINE_SCALAR, at);
            }
            continue;
        }
        if (f->type == PROTO_TYPE_MESSAGE || f->type == PROTO_TYPE_GROUP) {
            put_name(c, f, &first);
            if (print_message(c, fr, f->message, s->first, 0, fcut, depth + 1) != 0)
                return -1;
            continue;
        }
        const occ_t *o = s->last;
        if (f->type == PROTO_TYPE_ENUM && f->enum_type->closed) {
            /* the last occurrence with a known number; unknown ones are unknown fields */
            o = NULL;
            for (const occ_t *x = s->first; x != NULL; x = x->next)
                if (enum_value_ok(f, x->v))
                    o = x;
            if (o == NULL)
                continue;
        }
        if (!f->has_presence && !c->emit_defaults && scalar_is_default(f->type, o))
            continue;
        put_name(c, f, &first);
        size_t at = outline_begin(c);
        if (put_scalar(c, fr, f, f->type, o->v, o->p, 0) != 0)
            return -1;
        outline_value_since(c, CODEC_OUTLINE_SCALAR, at);
    }
    fr->field = NULL;
    return 0;
}

static int fail_path(p2j_t *c, const frame_t *fr, const uint8_t *s, size_t len, const char *what)
{
    char q[160];
    quote_text(q, sizeof(q), s, len, 64);
    return fail(c, fr, CODEC_ERR_RANGE, "FieldMask path \"%s\" %s", q, what);
}

/* Converts a FieldMask path from snake_case to lowerCamelCase, refusing paths that would not convert back. */
static int put_field_mask_path(p2j_t *c, const frame_t *fr, const uint8_t *s, size_t len, uint8_t *tmp)
{
    size_t j = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t ch = s[i];
        if (ch >= 'A' && ch <= 'Z')
            return fail_path(c, fr, s, len, "has an upper-case letter");
        if (ch == '_') {
            if (i + 1 >= len || s[i + 1] < 'a' || s[i + 1] > 'z')
                return fail_path(c, fr, s, len, "has a '_' that is not followed by a lower-case letter");
            tmp[j++] = (uint8_t)(s[++i] - 32);
        } else {
            tmp[j++] = ch;
        }
    }
    if (put_escaped(c, tmp, j) != 0)
        return fail(c, fr, CODEC_ERR_UTF8, "invalid UTF-8 in FieldMask path");
    return 0;
}

static int print_any(p2j_t *c, frame_t *fr, const proto_message_t *m, const slot_t *slots, uint32_t depth)
{
    const occ_t *url = wkt_last(m, slots, 1, PROTO_TYPE_STRING);
    const occ_t *val = wkt_last(m, slots, 2, PROTO_TYPE_BYTES);
    size_t url_len = url != NULL ? (size_t)url->v : 0, val_len = val != NULL ? (size_t)val->v : 0;
    if (url_len == 0 && val_len == 0) {
        put(c, "{}", 2);
        return 0;
    }
    if (url_len == 0)
        return fail(c, fr, CODEC_ERR_ANY, "google.protobuf.Any has a value but no type URL");
    put(c, "{\"@type\":", 9);
    if (put_string(c, url->p, url_len) != 0)
        return fail(c, fr, CODEC_ERR_UTF8, "invalid UTF-8 in Any type URL");
    const proto_message_t *em = c->r != NULL ? proto_registry_find_type_url(c->r, (const char *)url->p, url_len) : NULL;
    if (em == NULL) {
        char q[200];
        quote_text(q, sizeof(q), url->p, url_len, 120);
        return fail(c, fr, CODEC_ERR_ANY, "cannot resolve Any type URL \"%s\"", q);
    }
    occ_t seg = {val != NULL ? val->p : (const uint8_t *)"", NULL, val_len, WIRE_LEN};
    if (em->wkt != PROTO_WKT_NONE && em->wkt != PROTO_WKT_EMPTY) {
        put(c, ",\"value\":", 9);
        if (print_message(c, fr, em, &seg, 1, NULL, depth + 1) != 0)
            return -1;
        putch(c, '}');
        return 0;
    }
    /* a regular message: its fields join the object after "@type" */
    if (depth + 1 > c->max_depth)
        return fail(c, fr, CODEC_ERR_DEPTH, "nesting deeper than %u levels", c->max_depth);
    frame_t sub = {fr, NULL, -1, NULL, 0, 0};
    scratch_mark_t mark = scratch_mark(&c->scratch);
    slot_t *s2 = scratch_alloc(&c->scratch, (em->n_fields ? em->n_fields : 1) * sizeof(*s2));
    if (s2 == NULL)
        return fail_nomem(c);
    memset(s2, 0, em->n_fields * sizeof(*s2));
    if (scan(c, &sub, em, seg.p, seg.p + seg.v, s2, depth + 1) != 0 || print_fields(c, &sub, em, s2, 0, depth + 1) != 0)
        return -1;
    putch(c, '}');
    scratch_release(&c->scratch, mark);
    return 0;
}

static int print_value(p2j_t *c, frame_t *fr, const proto_message_t *m, const slot_t *slots, uint32_t depth)
{
    /* the kind oneof: the member seen last wins */
    const proto_field_t *kind = NULL;
    const uint8_t *cut = NULL;
    for (size_t i = 0; i < m->n_fields; i++) {
        const occ_t *l = slots[i].last;
        if (l == NULL || m->fields[i].number < 1 || m->fields[i].number > 6)
            continue;
        if (kind == NULL || l->p > slots[kind->index].last->p) {
            if (kind != NULL)
                cut = slots[kind->index].last->p;
            kind = &m->fields[i];
        } else if (l->p > cut) {
            cut = l->p;
        }
    }
    if (kind == NULL)
        return fail(c, fr, CODEC_ERR_TYPE, "google.protobuf.Value has no kind set");
    const occ_t *o = slots[kind->index].last;
    switch (kind->number) {
    case 1: /* null_value */
        put(c, "null", 4);
        return 0;
    case 2: { /* number_value */
        double d;
        memcpy(&d, &o->v, 8);
        if (!isfinite(d))
            return fail(c, fr, CODEC_ERR_RANGE, "google.protobuf.Value cannot hold %s in JSON",
                        isnan(d) ? "NaN"
                        : d > 0  ? "Infinity"
                                 : "-Infinity");
        return put_scalar(c, fr, kind, PROTO_TYPE_DOUBLE, o->v, o->p, 0);
    }
    case 3: /* string_value */
    case 4: /* bool_value */
        return put_scalar(c, fr, kind, kind->type, o->v, o->p, 0);
    default: /* struct_value, list_value */
        if (kind->message == NULL)
            return 0;
        return print_message(c, fr, kind->message, slots[kind->index].first, 0, cut, depth + 1);
    }
}

/* Prints a message that has a special JSON form. */
static int print_wkt(p2j_t *c, frame_t *fr, const proto_message_t *m, const slot_t *slots, uint32_t depth)
{
    switch (m->wkt) {
    case PROTO_WKT_ANY:
        return print_any(c, fr, m, slots, depth);
    case PROTO_WKT_TIMESTAMP:
    case PROTO_WKT_DURATION: {
        const occ_t *s = wkt_last(m, slots, 1, PROTO_TYPE_INT64), *n = wkt_last(m, slots, 2, PROTO_TYPE_INT32);
        int64_t secs = s != NULL ? (int64_t)s->v : 0;
        int32_t nanos = n != NULL ? (int32_t)(uint32_t)n->v : 0;
        putch(c, '"');
        int rc =
            m->wkt == PROTO_WKT_TIMESTAMP ? wkt_timestamp_format(c->out, secs, nanos) : wkt_duration_format(c->out, secs, nanos);
        if (rc != 0)
            return fail(c, fr, CODEC_ERR_RANGE, "%s out of range (seconds %lld, nanos %d)",
                        m->wkt == PROTO_WKT_TIMESTAMP ? "Timestamp" : "Duration", (long long)secs, (int)nanos);
        putch(c, '"');
        return 0;
    }
    case PROTO_WKT_FIELD_MASK: {
        const slot_t *s = wkt_slot(m, slots, 1);
        putch(c, '"');
        int firstp = 1;
        for (const occ_t *o = s != NULL ? s->first : NULL; o != NULL; o = o->next) {
            if (o->wt != WIRE_LEN)
                continue;
            if (!firstp)
                putch(c, ',');
            firstp = 0;
            scratch_mark_t mark = scratch_mark(&c->scratch);
            uint8_t *tmp = scratch_alloc(&c->scratch, (size_t)o->v + 1);
            if (tmp == NULL)
                return fail_nomem(c);
            if (put_field_mask_path(c, fr, o->p, (size_t)o->v, tmp) != 0)
                return -1;
            scratch_release(&c->scratch, mark);
        }
        putch(c, '"');
        return 0;
    }
    case PROTO_WKT_STRUCT: {
        const proto_field_t *f = field_by_number(m, 1);
        if (f == NULL || !f->is_map) {
            put(c, "{}", 2);
            return 0;
        }
        size_t count; /* the path shows struct["key"], not struct.fields["key"] */
        return print_map(c, fr, f, slots[f->index].first, depth, &count);
    }
    case PROTO_WKT_LIST_VALUE: {
        const proto_field_t *f = field_by_number(m, 1);
        if (f == NULL || !f->repeated) {
            put(c, "[]", 2);
            return 0;
        }
        size_t count;
        return print_array(c, fr, f, slots[f->index].first, depth, &count);
    }
    case PROTO_WKT_VALUE:
        return print_value(c, fr, m, slots, depth);
    case PROTO_WKT_EMPTY:
        put(c, "{}", 2);
        return 0;
    default: { /* the wrappers: the bare value of field 1 */
        const proto_field_t *f = field_by_number(m, 1);
        if (f == NULL)
            return fail(c, fr, CODEC_ERR_TYPE, "%s has no field 1", m->full_name);
        const occ_t *o = slots[f->index].last;
        if (o == NULL) {
            put_default(c, f);
            return 0;
        }
        return put_scalar(c, fr, f, f->type, o->v, o->p, 0);
    }
    }
}

/*
 * Prints message |m| whose bytes are the segments listed from |segs| (only the first one
 * when |single|), skipping segments that start before |cut|.
 */
static int print_message(p2j_t *c, const frame_t *parent, const proto_message_t *m, const occ_t *segs, int single,
                         const uint8_t *cut, uint32_t depth)
{
    if (depth > c->max_depth)
        return fail(c, parent, CODEC_ERR_DEPTH, "nesting deeper than %u levels", c->max_depth);
    frame_t fr = {parent, NULL, -1, NULL, 0, 0};
    scratch_mark_t mark = scratch_mark(&c->scratch);
    slot_t *slots = scratch_alloc(&c->scratch, (m->n_fields ? m->n_fields : 1) * sizeof(*slots));
    if (slots == NULL)
        return fail_nomem(c);
    memset(slots, 0, m->n_fields * sizeof(*slots));
    for (const occ_t *o = segs; o != NULL; o = single ? NULL : o->next) {
        if (cut != NULL && o->p < cut)
            continue;
        if (scan(c, &fr, m, o->p, o->p + o->v, slots, depth) != 0)
            return -1;
    }
    int rc;
    if (m->wkt != PROTO_WKT_NONE) {
        /* outlined whole: a value of its own form, which the outline's reader parses */
        size_t at = outline_begin(c);
        c->raw_depth++;
        rc = print_wkt(c, &fr, m, slots, depth);
        c->raw_depth--;
        outline_value_since(c, CODEC_OUTLINE_RAW, at);
    } else {
        outline_mark(c, CODEC_OUTLINE_OBJECT);
        putch(c, '{');
        rc = print_fields(c, &fr, m, slots, 1, depth);
        putch(c, '}');
        outline_mark(c, CODEC_OUTLINE_END);
    }
    scratch_release(&c->scratch, mark);
    return rc;
}

int codec_pb_to_json(const proto_registry_t *r, const proto_message_t *m, const uint8_t *pb, size_t len, const codec_options_t *opt,
                     util_buf_t *out, util_error_t *err)
{
    static const codec_options_t defaults;
    if (opt == NULL)
        opt = &defaults;
    if (m == NULL)
        return util_error_set(err, CODEC_ERR_TYPE, "no message type given");
    size_t max_input = opt->max_input != 0 ? opt->max_input : CODEC_DEFAULT_MAX_INPUT;
    if (len > max_input)
        return util_error_set(err, CODEC_ERR_SIZE, "protobuf input of %zu bytes is over the limit of %zu bytes", len, max_input);
    if (pb == NULL)
        pb = (const uint8_t *)"";
    uint8_t inline_block[SCRATCH_INLINE] __attribute__((aligned(16)));
    p2j_t c;
    c.r = r;
    c.out = out;
    c.err = err;
    c.base = pb;
    c.max_depth = opt->max_depth != 0 ? opt->max_depth : CODEC_DEFAULT_MAX_DEPTH;
    if (c.max_depth > CODEC_MAX_DEPTH_LIMIT)
        c.max_depth = CODEC_MAX_DEPTH_LIMIT;
    c.emit_defaults = opt->emit_defaults;
    c.proto_names = opt->proto_names;
    c.enum_ints = opt->enum_ints;
    c.outline = opt->outline;
    c.start = out->len;
    c.raw_depth = 0;
    c.escaped = 0;
    c.only_fields = opt->only_fields;
    scratch_init(&c.scratch, inline_block, sizeof(inline_block));
    size_t start = out->len;
    occ_t seg = {pb, NULL, len, WIRE_LEN};
    int rc = print_message(&c, NULL, m, &seg, 1, NULL, 1);
    scratch_dispose(&c.scratch);
    if (rc == 0 && util_buf_failed(out))
        rc = fail_nomem(&c);
    if (rc != 0 && !out->failed)
        out->len = start; /* no partial output on failure */
    return rc;
}
