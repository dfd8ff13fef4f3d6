/*
 * fuzz_common.h — shared by the codec fuzz targets (fuzz_json_to_pb.c, fuzz_pb_to_json.c), the
 * seed generator (fuzz_seeds.c) and the replay driver: loads the test descriptor sets once and
 * turns the first input byte into a message type and codec options, so one target covers
 * several types and every option combination.
 *
 * Selector byte: bits 0-2 pick the message (fuzz_messages[]), bit 3 emit_defaults, bit 4
 * proto_names, bit 5 enum_ints, bit 6 ignore_unknown, bit 7 a small max_depth (8) so the depth
 * limit is exercised as well as the default.
 *
 * The descriptor sets come from $PORTICO_DESC_DIR, else from the build's descriptors/ folder
 * (FUZZ_DESC_DIR, set by tests/fuzz/CMakeLists.txt).
 */
#ifndef PORTICO_FUZZ_COMMON_H
#define PORTICO_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"

#ifndef FUZZ_DESC_DIR
#define FUZZ_DESC_DIR "descriptors"
#endif

#define FUZZ_N_MESSAGES 8

static const char *const fuzz_messages[FUZZ_N_MESSAGES] = {
    "portico.test.Everything", "portico.test.Small",   "portico.test.Nested",   "portico.test.WellKnown",
    "portico.test.Maps",       "portico.test.Scalars", "portico.test.Repeated", "portico.test2.Legacy",
};

typedef struct fuzz_target {
    const proto_registry_t *registry;
    const proto_message_t *message;
    codec_options_t opt;
} fuzz_target_t;

/* Loads the registry on first use; a harness that cannot load its schema must not run silently. */
static inline const proto_registry_t *fuzz_registry(void)
{
    static proto_registry_t *reg;
    static const char *const sets[] = {"codec_test.pb", "codec_proto2.pb"};
    if (reg != NULL)
        return reg;
    const char *dir = getenv("PORTICO_DESC_DIR");
    if (dir == NULL || *dir == '\0')
        dir = FUZZ_DESC_DIR;
    reg = proto_registry_new();
    if (reg == NULL) {
        fprintf(stderr, "fuzz: out of memory\n");
        abort();
    }
    for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
        char path[4096];
        util_error_t err = {0};
        snprintf(path, sizeof(path), "%s/%s", dir, sets[i]);
        if (proto_registry_load_file(reg, path, &err) != 0) {
            fprintf(stderr, "fuzz: cannot load %s: %s (set PORTICO_DESC_DIR)\n", path, err.message);
            abort();
        }
    }
    for (size_t i = 0; i < FUZZ_N_MESSAGES; i++) {
        if (proto_registry_find_message(reg, fuzz_messages[i]) == NULL) {
            fprintf(stderr, "fuzz: %s is not in the descriptor sets\n", fuzz_messages[i]);
            abort();
        }
    }
    return reg;
}

static inline void fuzz_target_pick(uint8_t selector, fuzz_target_t *t)
{
    memset(t, 0, sizeof(*t));
    t->registry = fuzz_registry();
    t->message = proto_registry_find_message(t->registry, fuzz_messages[selector & 7]);
    t->opt.emit_defaults = (selector >> 3) & 1;
    t->opt.proto_names = (selector >> 4) & 1;
    t->opt.enum_ints = (selector >> 5) & 1;
    t->opt.ignore_unknown = (selector >> 6) & 1;
    t->opt.max_depth = (selector & 0x80) ? 8 : 0;
}

/* A property the codec must keep was broken: print what and where, then crash for libFuzzer. */
static inline void fuzz_fail(const char *what, const fuzz_target_t *t, const util_error_t *err, const util_buf_t *a,
                             const util_buf_t *b)
{
    fprintf(stderr,
            "fuzz property broken: %s\n  message %s, options emit_defaults=%d proto_names=%d enum_ints=%d "
            "ignore_unknown=%d max_depth=%u\n",
            what, t->message->full_name, t->opt.emit_defaults, t->opt.proto_names, t->opt.enum_ints, t->opt.ignore_unknown,
            t->opt.max_depth);
    if (err != NULL)
        fprintf(stderr, "  error: %s\n", err->message);
    if (a != NULL)
        fprintf(stderr, "  first:  %.*s\n", (int)(a->len > 2000 ? 2000 : a->len), (const char *)a->data);
    if (b != NULL)
        fprintf(stderr, "  second: %.*s\n", (int)(b->len > 2000 ? 2000 : b->len), (const char *)b->data);
    abort();
}

/* Every rejection must carry a codec error code and one non-empty line of text. */
static inline void fuzz_check_error(const fuzz_target_t *t, const util_error_t *err)
{
    if (err->code > CODEC_ERR_SYNTAX + 64 || err->code < CODEC_ERR_SYNTAX || err->message[0] == '\0' ||
        strchr(err->message, '\n') != NULL || strlen(err->message) >= sizeof(err->message))
        fuzz_fail("a rejection without a codec error code or a one-line message", t, err, NULL, NULL);
}

static inline int fuzz_buf_equal(const util_buf_t *a, const util_buf_t *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/*
 * Copies compact JSON |in| to |out| without its `"name":null` object members. The proto3 JSON
 * mapping loses one thing on purpose: a google.protobuf.NullValue field holding a number other
 * than 0 (possible on the wire, the enum is open) prints as null, which parses back as 0, the
 * default, which is not printed. Comparing texts without null members tolerates exactly that.
 */
static inline void fuzz_json_drop_nulls(const util_buf_t *in, util_buf_t *out)
{
    const char *s = (const char *)in->data;
    size_t n = in->len, i = 0;
    while (i < n) {
        if (s[i] == '"' && out->len > 0 && (out->data[out->len - 1] == '{' || out->data[out->len - 1] == ',')) {
            size_t j = i + 1; /* a member name: find its end */
            while (j < n && s[j] != '"')
                j += s[j] == '\\' ? 2 : 1;
            if (j + 6 <= n && memcmp(s + j + 1, ":null", 5) == 0 && (s[j + 6] == ',' || s[j + 6] == '}')) {
                i = s[j + 6] == ',' ? j + 7 : j + 6;
                if (s[j + 6] == '}' && out->data[out->len - 1] == ',')
                    out->len--;
                continue;
            }
            util_buf_append(out, s + i, j + 1 - i < n - i ? j + 1 - i : n - i);
            i = j + 1;
            continue;
        }
        if (s[i] == '"') { /* a string value: copy it whole so its contents are not taken for syntax */
            size_t j = i + 1;
            while (j < n && s[j] != '"')
                j += s[j] == '\\' ? 2 : 1;
            j = j < n ? j + 1 : n;
            util_buf_append(out, s + i, j - i);
            i = j;
            continue;
        }
        util_buf_putc(out, (uint8_t)s[i++]);
    }
}

/*
 * The round-trip property shared by both targets: |json1| is what pb_to_json printed; parsing it
 * back must succeed and printing that must give the same text (JSON -> pb -> JSON is a fixpoint),
 * up to null members that may vanish (see fuzz_json_drop_nulls), after which it must be stable.
 */
static inline void fuzz_check_json_fixpoint(const fuzz_target_t *t, const util_buf_t *json1)
{
    util_buf_t pb2 = UTIL_BUF_INIT, json2 = UTIL_BUF_INIT;
    util_error_t err = {0};
    /* max_depth counts nested messages when printing and nested JSON containers when parsing
       (proto.h); a message level prints as at most two containers (a repeated or map field's
       array/object, then the element's object) plus one array of scalars at the leaves */
    codec_options_t reparse = t->opt;
    uint32_t d = reparse.max_depth ? reparse.max_depth : CODEC_DEFAULT_MAX_DEPTH;
    reparse.max_depth = 2 * d + 1;
    if (codec_json_to_pb(t->registry, t->message, (const char *)json1->data, json1->len, &reparse, &pb2, &err) != 0)
        fuzz_fail("json_to_pb rejects what pb_to_json printed", t, &err, json1, NULL);
    if (codec_pb_to_json(t->registry, t->message, pb2.data, pb2.len, &t->opt, &json2, &err) != 0)
        fuzz_fail("pb_to_json rejects what json_to_pb wrote", t, &err, json1, NULL);
    if (!fuzz_buf_equal(json1, &json2)) {
        util_buf_t a = UTIL_BUF_INIT, b = UTIL_BUF_INIT, pb3 = UTIL_BUF_INIT, json3 = UTIL_BUF_INIT;
        fuzz_json_drop_nulls(json1, &a);
        fuzz_json_drop_nulls(&json2, &b);
        if (!fuzz_buf_equal(&a, &b))
            fuzz_fail("JSON -> binary -> JSON changed the JSON", t, NULL, json1, &json2);
        if (codec_json_to_pb(t->registry, t->message, (const char *)json2.data, json2.len, &reparse, &pb3, &err) != 0 ||
            codec_pb_to_json(t->registry, t->message, pb3.data, pb3.len, &t->opt, &json3, &err) != 0 ||
            !fuzz_buf_equal(&json2, &json3))
            fuzz_fail("JSON -> binary -> JSON is not stable after dropping null members", t, NULL, &json2, &json3);
        util_buf_dispose(&a);
        util_buf_dispose(&b);
        util_buf_dispose(&pb3);
        util_buf_dispose(&json3);
    }
    util_buf_dispose(&pb2);
    util_buf_dispose(&json2);
}

#endif
