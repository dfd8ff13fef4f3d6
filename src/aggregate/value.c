/*
 * value.c — arena-allocated, immutable JSON values for composite requests; see value.h.
 *
 * Run arenas are raw (util_arena_init_raw): every field of a node is set here, never assumed
 * zero. Parsing reuses the codec's strict pull lexer (proto/json_lex.c): one pass, children gathered
 * on a scratch stack and copied into the arena when their container closes, so a node costs a
 * bump allocation and nothing is freed until the run ends.
 */
#include "aggregate/value.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/json_lex.h"
#include "proto/proto.h"
#include "util/json_quote.h"

static const aggregate_value_t value_null = {.kind = AGGREGATE_VALUE_NULL};
static const aggregate_value_t value_false = {.kind = AGGREGATE_VALUE_FALSE};
static const aggregate_value_t value_true = {.kind = AGGREGATE_VALUE_TRUE};

const aggregate_value_t *aggregate_value_null(void)
{
    return &value_null;
}

const aggregate_value_t *aggregate_value_bool(int b)
{
    return b ? &value_true : &value_false;
}

static aggregate_value_t *text_value(util_arena_t *a, aggregate_value_kind_t kind, const char *s, size_t len)
{
    aggregate_value_t *v = util_arena_alloc(a, sizeof(*v));
    char *copy = v != NULL ? util_arena_strndup(a, s, len) : NULL;
    if (copy == NULL)
        return NULL;
    v->kind = kind;
    v->plain = 0;
    v->len = len;
    v->cap = 0;
    v->u.text = copy;
    return v;
}

aggregate_value_t *aggregate_value_string(util_arena_t *a, const char *s, size_t len)
{
    return text_value(a, AGGREGATE_VALUE_STRING, s, len);
}

aggregate_value_t *aggregate_value_number(util_arena_t *a, const char *text, size_t len)
{
    return text_value(a, AGGREGATE_VALUE_NUMBER, text, len);
}

aggregate_value_t *aggregate_value_integer(util_arena_t *a, int64_t v)
{
    char num[21];
    size_t n = 0;
    if (v < 0)
        num[n++] = '-';
    n += util_u64_format(num + n, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v);
    return text_value(a, AGGREGATE_VALUE_NUMBER, num, n);
}

static aggregate_value_t *container(util_arena_t *a, aggregate_value_kind_t kind, size_t cap, size_t elem)
{
    aggregate_value_t *v = util_arena_alloc(a, sizeof(*v));
    if (v == NULL)
        return NULL;
    v->kind = kind;
    v->plain = 0;
    v->len = 0;
    v->cap = cap;
    v->u.items = NULL;
    if (cap != 0 && (v->u.items = util_arena_alloc(a, cap * elem)) == NULL)
        return NULL;
    return v;
}

aggregate_value_t *aggregate_value_array(util_arena_t *a, size_t cap)
{
    return container(a, AGGREGATE_VALUE_ARRAY, cap, sizeof(aggregate_value_t *));
}

aggregate_value_t *aggregate_value_object(util_arena_t *a, size_t cap)
{
    return container(a, AGGREGATE_VALUE_OBJECT, cap, sizeof(aggregate_member_t));
}

/* Makes room for one more entry of |elem| bytes. */
static int grow(util_arena_t *a, aggregate_value_t *v, size_t elem)
{
    if (v->len < v->cap)
        return 0;
    size_t cap = v->cap ? v->cap * 2 : 4;
    void *p = util_arena_alloc(a, cap * elem);
    if (p == NULL)
        return -1;
    if (v->len != 0)
        memcpy(p, (const void *)v->u.items, v->len * elem);
    v->u.items = p;
    v->cap = cap;
    return 0;
}

int aggregate_value_append(util_arena_t *a, aggregate_value_t *array, const aggregate_value_t *v)
{
    if (v == NULL || grow(a, array, sizeof(*array->u.items)) != 0)
        return -1;
    array->u.items[array->len++] = v;
    return 0;
}

int aggregate_value_add(util_arena_t *a, aggregate_value_t *object, const char *key, size_t key_len, const aggregate_value_t *v)
{
    if (v == NULL || grow(a, object, sizeof(*object->u.members)) != 0)
        return -1;
    object->u.members[object->len++] = (aggregate_member_t){key, key_len, v};
    return 0;
}

long aggregate_value_find(const aggregate_value_t *object, const char *key, size_t key_len)
{
    if (object == NULL || object->kind != AGGREGATE_VALUE_OBJECT)
        return -1;
    for (size_t i = 0; i < object->len; i++) {
        const aggregate_member_t *m = &object->u.members[i];
        if (aggregate_key_is(m->key, m->key_len, key, key_len))
            return (long)i;
    }
    return -1;
}

int aggregate_value_set(util_arena_t *a, aggregate_value_t *object, const char *key, size_t key_len, const aggregate_value_t *v)
{
    long i = aggregate_value_find(object, key, key_len);
    if (i < 0)
        return aggregate_value_add(a, object, key, key_len, v);
    if (v == NULL)
        return -1;
    object->u.members[i].value = v;
    return 0;
}

const aggregate_value_t *aggregate_value_get(const aggregate_value_t *object, const char *key, size_t key_len)
{
    long i = aggregate_value_find(object, key, key_len);
    return i < 0 ? NULL : object->u.members[i].value;
}

aggregate_value_t *aggregate_value_copy(util_arena_t *a, const aggregate_value_t *v, size_t extra)
{
    size_t elem = v->kind == AGGREGATE_VALUE_OBJECT ? sizeof(aggregate_member_t) : sizeof(aggregate_value_t *);
    aggregate_value_t *c = container(a, v->kind, v->len + extra, elem);
    if (c == NULL)
        return NULL;
    if (v->len != 0)
        memcpy((void *)c->u.items, (const void *)v->u.items, v->len * elem);
    c->len = v->len;
    return c;
}

/* ---------------------------------------------------------------------------------------
 * Member index
 */

static uint64_t key_hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

int aggregate_member_index_init(util_arena_t *a, aggregate_member_index_t *ix, size_t n)
{
    size_t slots = 32;
    while (slots < n * 2)
        slots *= 2;
    if ((ix->slots = util_arena_alloc(a, slots * sizeof(*ix->slots))) == NULL)
        return -1;
    memset(ix->slots, 0, slots * sizeof(*ix->slots)); /* run arenas are not zeroed */
    ix->mask = slots - 1;
    return 0;
}

uint32_t *aggregate_member_index_slot(const aggregate_member_index_t *ix, const aggregate_member_t *members, const char *key,
                                      size_t key_len)
{
    size_t s = (size_t)key_hash(key, key_len) & ix->mask;
    while (ix->slots[s] != 0) {
        const aggregate_member_t *m = &members[ix->slots[s] - 1];
        if (aggregate_key_is(m->key, m->key_len, key, key_len))
            break;
        s = (s + 1) & ix->mask;
    }
    return &ix->slots[s];
}

/* ---------------------------------------------------------------------------------------
 * Equality
 */

static int number_equal(const aggregate_value_t *x, const aggregate_value_t *y)
{
    if (x->len == y->len && memcmp(x->u.text, y->u.text, x->len) == 0)
        return 1;
    char *ex, *ey;
    errno = 0;
    long long ix = strtoll(x->u.text, &ex, 10), iy = strtoll(y->u.text, &ey, 10);
    /* strtoll clamps what is past int64 to its ends; JSON integers have one spelling (no
     * leading zeros, and -0 is within range), so two integers whose texts differ differ */
    if (*ex == '\0' && *ey == '\0')
        return errno != ERANGE && ix == iy;
    return strtod(x->u.text, NULL) == strtod(y->u.text, NULL);
}

int aggregate_value_equal(const aggregate_value_t *x, const aggregate_value_t *y)
{
    if (x == y)
        return 1;
    if (x == NULL || y == NULL || x->kind != y->kind)
        return 0;
    switch (x->kind) {
    case AGGREGATE_VALUE_NULL:
    case AGGREGATE_VALUE_FALSE:
    case AGGREGATE_VALUE_TRUE:
        return 1;
    case AGGREGATE_VALUE_NUMBER:
        return number_equal(x, y);
    case AGGREGATE_VALUE_STRING:
        return x->len == y->len && memcmp(x->u.text, y->u.text, x->len) == 0;
    case AGGREGATE_VALUE_ARRAY:
        if (x->len != y->len)
            return 0;
        for (size_t i = 0; i < x->len; i++)
            if (!aggregate_value_equal(x->u.items[i], y->u.items[i]))
                return 0;
        return 1;
    case AGGREGATE_VALUE_OBJECT:
        if (x->len != y->len)
            return 0;
        for (size_t i = 0; i < x->len; i++) {
            const aggregate_member_t *m = &x->u.members[i];
            if (!aggregate_value_equal(m->value, aggregate_value_get(y, m->key, m->key_len)))
                return 0;
        }
        return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * Parsing
 */

typedef struct parser {
    json_lex_t lx;
    util_arena_t *a;
    /* children of the open containers (item pointers or members), see stack_grow */
    uint8_t *stack;
    size_t stack_len, stack_cap;
    /* in-place parsing: the source text, which unescaped strings and keys may point into */
    char *src;
    size_t src_len;
    int nomem;
} parser_t;

/* Doubles the stack (in the arena: the outgrown block is left behind; a malloc'd buffer cost a
 * realloc per parse). Entries are far smaller than its first 1 KiB. */
static int stack_grow(parser_t *p)
{
    size_t cap = p->stack_cap ? p->stack_cap * 2 : 1024;
    uint8_t *grown = util_arena_alloc(p->a, cap);
    if (grown == NULL) {
        p->nomem = 1;
        return -1;
    }
    if (p->stack_len != 0)
        memcpy(grown, p->stack, p->stack_len);
    p->stack = grown;
    p->stack_cap = cap;
    return 0;
}

/* Pushes a member / an item (typed, so the copy is a plain store). */
static inline int push_member(parser_t *p, const aggregate_member_t *m)
{
    if (p->stack_cap - p->stack_len < sizeof(*m) && stack_grow(p) != 0)
        return -1;
    memcpy(p->stack + p->stack_len, m, sizeof(*m));
    p->stack_len += sizeof(*m);
    return 0;
}

static inline int push_item(parser_t *p, const aggregate_value_t *v)
{
    if (p->stack_cap - p->stack_len < sizeof(v) && stack_grow(p) != 0)
        return -1;
    memcpy(p->stack + p->stack_len, &v, sizeof(v));
    p->stack_len += sizeof(v);
    return 0;
}

/* The object whose members were pushed since stack offset |base|, moved into the arena and
 * popped; NULL (p->nomem set) when out of memory. */
static aggregate_value_t *pop_object(parser_t *p, size_t base)
{
    size_t n = (p->stack_len - base) / sizeof(aggregate_member_t);
    aggregate_value_t *o = aggregate_value_object(p->a, n);
    if (o == NULL) {
        p->nomem = 1;
        return NULL;
    }
    if (n != 0)
        memcpy(o->u.members, p->stack + base, n * sizeof(aggregate_member_t));
    o->len = n;
    p->stack_len = base;
    return o;
}

/* As pop_object, for an array. */
static aggregate_value_t *pop_array(parser_t *p, size_t base)
{
    size_t n = (p->stack_len - base) / sizeof(aggregate_value_t *);
    aggregate_value_t *arr = aggregate_value_array(p->a, n);
    if (arr == NULL) {
        p->nomem = 1;
        return NULL;
    }
    if (n != 0)
        memcpy((void *)arr->u.items, p->stack + base, n * sizeof(aggregate_value_t *));
    arr->len = n;
    p->stack_len = base;
    return arr;
}

/* A string node over |t| (|len| bytes, NUL-terminated, as long-lived as the run), written back
 * as is when |plain|; NULL (p->nomem set) when |t| is NULL or out of memory. */
static const aggregate_value_t *string_node(parser_t *p, const char *t, size_t len, int plain)
{
    aggregate_value_t *v = t != NULL ? util_arena_alloc(p->a, sizeof(*v)) : NULL;
    if (v == NULL) {
        p->nomem = 1;
        return NULL;
    }
    *v = (aggregate_value_t){.kind = AGGREGATE_VALUE_STRING, .plain = (unsigned)plain, .len = len, .u.text = t};
    return v;
}

/* Drops duplicate keys of |m| (|*n| members): the first position keeps the last value. Small
 * objects are compared pairwise; larger ones go through a member index. */
static int dedupe(parser_t *p, aggregate_member_t *m, size_t *n)
{
    size_t count = *n, out = 0;
    if (count < 2)
        return 0;
    if (count <= 16) {
        for (size_t i = 0; i < count; i++) {
            size_t k;
            for (k = 0; k < out; k++)
                if (aggregate_key_is(m[k].key, m[k].key_len, m[i].key, m[i].key_len))
                    break;
            if (k < out)
                m[k].value = m[i].value;
            else
                m[out++] = m[i];
        }
        *n = out;
        return 0;
    }
    aggregate_member_index_t ix;
    if (aggregate_member_index_init(p->a, &ix, count) != 0)
        return -1;
    for (size_t i = 0; i < count; i++) {
        uint32_t *slot = aggregate_member_index_slot(&ix, m, m[i].key, m[i].key_len);
        if (*slot != 0) {
            m[*slot - 1].value = m[i].value;
        } else {
            m[out] = m[i];
            *slot = (uint32_t)++out;
        }
    }
    *n = out;
    return 0;
}

static const aggregate_value_t *parse_value(parser_t *p);

/* |s| as a NUL-terminated string of the run: in place when it lies in the (modifiable)
 * source text, which means it had no escapes (the lexer decodes escaped ones elsewhere): its
 * closing quote, already consumed, becomes the NUL. Otherwise a copy in the arena. */
static char *keep_text(parser_t *p, const json_str_t *s, int *in_place)
{
    if (p->src != NULL && s->s >= p->src && s->s < p->src + p->src_len) {
        char *t = p->src + (s->s - p->src);
        t[s->len] = '\0';
        *in_place = 1;
        return t;
    }
    *in_place = 0;
    char *t = util_arena_strndup(p->a, s->s, s->len);
    if (t == NULL)
        p->nomem = 1;
    return t;
}

static const aggregate_value_t *parse_object(parser_t *p)
{
    if (json_lex_object_begin(&p->lx) != 0)
        return NULL;
    size_t base = p->stack_len, count = 0;
    json_str_t key;
    int r;
    while ((r = json_lex_object_next(&p->lx, &count, &key)) == 1) {
        int in_place;
        char *k = keep_text(p, &key, &in_place);
        if (k == NULL)
            return NULL;
        aggregate_member_t m = {k, key.len, NULL};
        if ((m.value = parse_value(p)) == NULL || push_member(p, &m) != 0)
            return NULL;
    }
    if (r < 0)
        return NULL;
    aggregate_value_t *o = pop_object(p, base);
    if (o == NULL || dedupe(p, o->u.members, &o->len) != 0) {
        p->nomem = 1;
        return NULL;
    }
    return o;
}

static const aggregate_value_t *parse_array(parser_t *p)
{
    if (json_lex_array_begin(&p->lx) != 0)
        return NULL;
    size_t base = p->stack_len, count = 0;
    int r;
    while ((r = json_lex_array_next(&p->lx, &count)) == 1) {
        const aggregate_value_t *v = parse_value(p);
        if (v == NULL || push_item(p, v) != 0)
            return NULL;
    }
    return r < 0 ? NULL : pop_array(p, base);
}

static const aggregate_value_t *parse_value(parser_t *p)
{
    json_str_t s;
    const aggregate_value_t *v;
    switch (json_lex_peek(&p->lx)) {
    case JSON_KIND_OBJECT:
        return parse_object(p);
    case JSON_KIND_ARRAY:
        return parse_array(p);
    case JSON_KIND_STRING: {
        if (json_lex_string(&p->lx, &s) != 0)
            return NULL;
        int in_place;
        const char *t = keep_text(p, &s, &in_place);
        /* plain: written back as is; DEL is legal raw in JSON but written escaped, as
         * util_json_quote does, so the two parse paths give the same output */
        return string_node(p, t, s.len, t != NULL && in_place && memchr(t, 0x7f, s.len) == NULL);
    }
    case JSON_KIND_NUMBER:
        if (json_lex_number(&p->lx, &s) != 0)
            return NULL;
        v = aggregate_value_number(p->a, s.s, s.len);
        break;
    case JSON_KIND_TRUE:
    case JSON_KIND_FALSE:
    case JSON_KIND_NULL: {
        json_kind_t k = json_lex_peek(&p->lx);
        if (json_lex_literal(&p->lx, k) != 0)
            return NULL;
        return k == JSON_KIND_NULL ? &value_null : aggregate_value_bool(k == JSON_KIND_TRUE);
    }
    default:
        json_lex_fail(&p->lx, p->lx.p == p->lx.end ? "unexpected end of input" : "expected a value");
        return NULL;
    }
    if (v == NULL)
        p->nomem = 1;
    return v;
}

static const aggregate_value_t *parse(parser_t *p, const char *text, size_t len, util_error_t *err);

const aggregate_value_t *aggregate_value_parse(util_arena_t *a, const char *text, size_t len, util_error_t *err)
{
    parser_t p = {.a = a};
    return parse(&p, text, len, err);
}

const aggregate_value_t *aggregate_value_parse_in_place(util_arena_t *a, char *text, size_t len, util_error_t *err)
{
    parser_t p = {.a = a, .src = text, .src_len = len};
    return parse(&p, text, len, err);
}

static const aggregate_value_t *parse(parser_t *p, const char *text, size_t len, util_error_t *err)
{
    util_error_t local;
    if (err == NULL)
        err = &local;
    json_lex_init(&p->lx, text, len, AGGREGATE_VALUE_MAX_DEPTH, err);
    const aggregate_value_t *v = parse_value(p);
    if (v != NULL && json_lex_finish(&p->lx) != 0)
        v = NULL;
    if (v == NULL && p->nomem)
        util_error_set(err, CODEC_ERR_NOMEM, "out of memory");
    json_lex_dispose(&p->lx);
    return v;
}

/* ---------------------------------------------------------------------------------------
 * Building from a printer's outline
 */

typedef struct outline_reader {
    parser_t p; /* the arena, the member / item stack and the text (p.src) */
    const codec_outline_event_t *ev, *end;
    size_t depth;
} outline_reader_t;

/* The event's text, NULL when it does not lie in the text. */
static char *outline_text(outline_reader_t *o, const codec_outline_event_t *e)
{
    if (e->len == 0 || e->off > o->p.src_len || e->len > o->p.src_len - e->off)
        return NULL;
    return o->p.src + e->off;
}

static inline int has_backslash(const char *s, size_t len)
{
    if (len >= 32)
        return memchr(s, '\\', len) != NULL;
    for (size_t i = 0; i < len; i++) /* most strings are short: no call */
        if (s[i] == '\\')
            return 1;
    return 0;
}

/* The text of a printed string with its quotes ("..." at |s|, |len| bytes): in place when the
 * printer escaped nothing in it (it escapes '"', '\\', controls and DEL; the event says so, or
 * the text has no backslash), else decoded into the arena. Returns the text (|*out_len| bytes,
 * NUL-terminated) or NULL; |*plain| tells whether it is the printed text itself. */
static const char *outline_text_of_string(outline_reader_t *o, const codec_outline_event_t *e, char *s, size_t len, size_t *out_len,
                                          int *plain)
{
    if (len < 2 || s[0] != '"' || s[len - 1] != '"')
        return NULL;
    if ((e->kind & CODEC_OUTLINE_NO_ESCAPES) || !has_backslash(s + 1, len - 2)) {
        s[len - 1] = '\0';
        *out_len = len - 2;
        *plain = 1;
        return s + 1;
    }
    const aggregate_value_t *v = aggregate_value_parse(o->p.a, s, len, NULL);
    if (!aggregate_value_is(v, AGGREGATE_VALUE_STRING))
        return NULL;
    *out_len = v->len;
    *plain = 0;
    return v->u.text;
}

static const aggregate_value_t *outline_string(outline_reader_t *o, const codec_outline_event_t *e, char *s, size_t len)
{
    size_t n = 0;
    int plain = 0;
    const char *t = outline_text_of_string(o, e, s, len, &n, &plain);
    return string_node(&o->p, t, n, plain);
}

/* A scalar as printed: a string, a number, true, false or null. */
static const aggregate_value_t *outline_scalar(outline_reader_t *o, const codec_outline_event_t *e, char *s, size_t len)
{
    if (s[0] == '"')
        return outline_string(o, e, s, len);
    if (s[0] == 't' || s[0] == 'f' || s[0] == 'n')
        return len == 4 && memcmp(s, "true", 4) == 0    ? &value_true
               : len == 5 && memcmp(s, "false", 5) == 0 ? &value_false
               : len == 4 && memcmp(s, "null", 4) == 0  ? &value_null
                                                        : NULL;
    return json_number_scan(s, s + len, 0) == len ? aggregate_value_number(o->p.a, s, len) : NULL;
}

static const aggregate_value_t *outline_value(outline_reader_t *o)
{
    if (o->ev == o->end || ++o->depth > AGGREGATE_VALUE_MAX_DEPTH)
        return NULL;
    const codec_outline_event_t *e = o->ev++;
    const aggregate_value_t *v = NULL;
    char *s;
    switch (e->kind & ~CODEC_OUTLINE_NO_ESCAPES) {
    case CODEC_OUTLINE_SCALAR:
        if ((s = outline_text(o, e)) != NULL)
            v = outline_scalar(o, e, s, e->len);
        break;
    case CODEC_OUTLINE_RAW:
        /* a well-known type: mostly a scalar (Timestamp, Duration, wrappers ...), else parsed */
        if ((s = outline_text(o, e)) != NULL)
            v = s[0] == '{' || s[0] == '[' ? aggregate_value_parse(o->p.a, s, e->len, NULL) : outline_scalar(o, e, s, e->len);
        break;
    case CODEC_OUTLINE_OBJECT: {
        size_t base = o->p.stack_len;
        while (o->ev != o->end && (o->ev->kind & ~CODEC_OUTLINE_NO_ESCAPES) == CODEC_OUTLINE_KEY) {
            const codec_outline_event_t *k = o->ev++;
            char *ks = outline_text(o, k);
            aggregate_member_t m;
            int plain;
            if (ks == NULL || (m.key = outline_text_of_string(o, k, ks, k->len, &m.key_len, &plain)) == NULL ||
                (m.value = outline_value(o)) == NULL || push_member(&o->p, &m) != 0)
                return NULL;
        }
        if (o->ev == o->end || o->ev->kind != CODEC_OUTLINE_END)
            return NULL;
        o->ev++;
        /* no duplicate keys to drop: the registry refuses a message with two fields of one name
         * (proto or JSON), and the printer writes one entry per map key */
        v = pop_object(&o->p, base);
        break;
    }
    case CODEC_OUTLINE_ARRAY: {
        size_t base = o->p.stack_len;
        while (o->ev != o->end && o->ev->kind != CODEC_OUTLINE_END) {
            const aggregate_value_t *item = outline_value(o);
            if (item == NULL || push_item(&o->p, item) != 0)
                return NULL;
        }
        if (o->ev == o->end)
            return NULL;
        o->ev++;
        v = pop_array(&o->p, base);
        break;
    }
    default:
        return NULL;
    }
    o->depth--;
    return v;
}

const aggregate_value_t *aggregate_value_from_outline(util_arena_t *a, char *text, size_t len, const codec_outline_event_t *events,
                                                      size_t n_events)
{
    outline_reader_t o = {.p = {.a = a, .src = text, .src_len = len}, .ev = events, .end = events + n_events};
    const aggregate_value_t *v = outline_value(&o);
    return v != NULL && o.ev == o.end ? v : NULL;
}

/* ---------------------------------------------------------------------------------------
 * Writing
 */

/* "text", for text known to need no escapes. */
static inline void write_plain(util_buf_t *out, const char *s, size_t len)
{
    if (util_buf_reserve(out, len + 2) != 0)
        return;
    uint8_t *d = out->data + out->len;
    d[0] = '"';
    memcpy(d + 1, s, len);
    d[len + 1] = '"';
    out->len += len + 2;
}

/* "key": in one reservation, escaping through util_json_quote only when the key needs it
 * (keys are short and nearly always plain). */
static inline void write_key(util_buf_t *out, const char *s, size_t len)
{
    if (util_buf_reserve(out, len + 3) != 0)
        return;
    /* copied while checking, without a branch per byte; redone escaped in the rare case */
    static const uint8_t needs_escape[256] = {
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,         1,          1,          1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, ['"'] = 1, ['\\'] = 1, [0x7f] = 1,
    };
    uint8_t *d = out->data + out->len, bad = 0;
    d[0] = '"';
    for (size_t i = 0; i < len; i++) {
        uint8_t c = (uint8_t)s[i];
        bad |= needs_escape[c];
        d[i + 1] = c;
    }
    if (bad) {
        util_json_quote(out, s, len);
        util_buf_putc(out, ':');
        return;
    }
    d[len + 1] = '"';
    d[len + 2] = ':';
    out->len += len + 3;
}

void aggregate_value_write(util_buf_t *out, const aggregate_value_t *v)
{
    switch (v->kind) {
    case AGGREGATE_VALUE_NULL:
        util_buf_append(out, "null", 4);
        return;
    case AGGREGATE_VALUE_FALSE:
        util_buf_append(out, "false", 5);
        return;
    case AGGREGATE_VALUE_TRUE:
        util_buf_append(out, "true", 4);
        return;
    case AGGREGATE_VALUE_NUMBER:
        util_buf_append(out, v->u.text, v->len);
        return;
    case AGGREGATE_VALUE_STRING:
        if (v->plain)
            write_plain(out, v->u.text, v->len);
        else
            util_json_quote(out, v->u.text, v->len);
        return;
    case AGGREGATE_VALUE_ARRAY:
        util_buf_putc(out, '[');
        for (size_t i = 0; i < v->len; i++) {
            if (i != 0)
                util_buf_putc(out, ',');
            aggregate_value_write(out, v->u.items[i]);
        }
        util_buf_putc(out, ']');
        return;
    case AGGREGATE_VALUE_OBJECT:
        util_buf_putc(out, '{');
        for (size_t i = 0; i < v->len; i++) {
            if (i != 0)
                util_buf_putc(out, ',');
            write_key(out, v->u.members[i].key, v->u.members[i].key_len);
            aggregate_value_write(out, v->u.members[i].value);
        }
        util_buf_putc(out, '}');
        return;
    }
}

/* ---------------------------------------------------------------------------------------
 * From jansson
 */

/* The shortest text that reads back as |d| ("0.1", not jansson's "0.10000000000000001"), with
 * ".0" on integral values and the exponent written without "+" or leading zeros ("1e22"), as
 * jansson writes it. JSON has no NaN or infinity, so a loaded real is always finite. */
static size_t real_text(double d, char *out, size_t size)
{
    int n = 0;
    for (int prec = 1; prec <= 17; prec++) {
        n = snprintf(out, size, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            break;
    }
    char *e = strchr(out, 'e');
    if (e == NULL) {
        if (strchr(out, '.') == NULL && (size_t)n + 2 < size) {
            memcpy(out + n, ".0", 3);
            n += 2;
        }
        return (size_t)n;
    }
    char *r = e + 1, *w = e + 1;
    if (*r == '+')
        r++;
    else if (*r == '-')
        *w++ = *r++;
    while (*r == '0' && r[1] != '\0')
        r++;
    memmove(w, r, strlen(r) + 1);
    return strlen(out);
}

const aggregate_value_t *aggregate_value_from_json(util_arena_t *a, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_NULL:
        return &value_null;
    case JSON_TRUE:
        return &value_true;
    case JSON_FALSE:
        return &value_false;
    case JSON_INTEGER:
        return aggregate_value_integer(a, (int64_t)json_integer_value(v));
    case JSON_REAL: {
        char text[40];
        size_t n = real_text(json_real_value(v), text, sizeof(text));
        return aggregate_value_number(a, text, n);
    }
    case JSON_STRING:
        return aggregate_value_string(a, json_string_value(v), json_string_length(v));
    case JSON_ARRAY: {
        aggregate_value_t *arr = aggregate_value_array(a, json_array_size(v));
        for (size_t i = 0; arr != NULL && i < json_array_size(v); i++)
            if (aggregate_value_append(a, arr, aggregate_value_from_json(a, json_array_get(v, i))) != 0)
                return NULL;
        return arr;
    }
    case JSON_OBJECT: {
        aggregate_value_t *o = aggregate_value_object(a, json_object_size(v));
        const char *key;
        size_t key_len;
        json_t *m;
        json_object_keylen_foreach((json_t *)v, key, key_len, m)
        {
            char *k = o != NULL ? util_arena_strndup(a, key, key_len) : NULL;
            if (k == NULL || aggregate_value_add(a, o, k, key_len, aggregate_value_from_json(a, m)) != 0)
                return NULL;
        }
        return o;
    }
    }
    return NULL;
}
