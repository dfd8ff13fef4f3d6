/*
 * fuzz_pb_to_json.c — libFuzzer target for codec_pb_to_json (src/proto/pb_to_json.c).
 *
 * Input: one selector byte (message type and options, see fuzz_common.h), then protobuf wire
 * bytes. Besides "no crash, no leak, no undefined behaviour" it checks that a rejection carries
 * a codec error code and a one-line message, and the round-trip property: when pb_to_json
 * succeeds, json_to_pb must accept its output, and printing that again must give the same JSON.
 * And the outline (codec_options_t.outline, how the composite engine reads gRPC replies): printing
 * with it gives the same text, and the value built from it equals the value parsed from the
 * text, and writes the same. A broken property aborts, which libFuzzer reports like a crash.
 */
#include "aggregate/value.h"
#include "fuzz_common.h"

static void check_outline(const fuzz_target_t *t, const uint8_t *pb, size_t len, const util_buf_t *json)
{
    util_buf_t text = UTIL_BUF_INIT, outline = UTIL_BUF_INIT, w1 = UTIL_BUF_INIT, w2 = UTIL_BUF_INIT;
    util_error_t err = {0};
    codec_options_t opt = t->opt;
    opt.outline = &outline;
    if (codec_pb_to_json(t->registry, t->message, pb, len, &opt, &text, &err) != 0 || !fuzz_buf_equal(json, &text))
        fuzz_fail("printing with an outline changed the output", t, &err, json, &text);
    if (util_buf_failed(&outline))
        abort();
    util_arena_t a;
    util_arena_init_raw(&a);
    char *copy = util_arena_alloc(&a, text.len + 1);
    memcpy(copy, text.data, text.len);
    copy[text.len] = '\0';
    const aggregate_value_t *parsed = aggregate_value_parse(&a, (const char *)text.data, text.len, NULL);
    const aggregate_value_t *built = aggregate_value_from_outline(
        &a, copy, text.len, (const codec_outline_event_t *)(void *)outline.data, outline.len / sizeof(codec_outline_event_t));
    /* both fail only past the values' nesting limit */
    if ((parsed == NULL) != (built == NULL) || (parsed != NULL && !aggregate_value_equal(parsed, built)))
        fuzz_fail("the value built from the outline differs from the parsed text", t, NULL, json, NULL);
    if (parsed != NULL) {
        aggregate_value_write(&w1, parsed);
        aggregate_value_write(&w2, built);
        if (!fuzz_buf_equal(&w1, &w2))
            fuzz_fail("the value built from the outline writes differently", t, NULL, &w1, &w2);
    }
    util_arena_dispose(&a);
    util_buf_dispose(&text);
    util_buf_dispose(&outline);
    util_buf_dispose(&w1);
    util_buf_dispose(&w2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    fuzz_target_t t;
    fuzz_target_pick(data[0], &t);
    util_buf_t json = UTIL_BUF_INIT;
    util_error_t err = {0};
    if (codec_pb_to_json(t.registry, t.message, data + 1, size - 1, &t.opt, &json, &err) != 0)
        fuzz_check_error(&t, &err);
    else {
        fuzz_check_json_fixpoint(&t, &json);
        check_outline(&t, data + 1, size - 1, &json);
    }
    util_buf_dispose(&json);
    return 0;
}
