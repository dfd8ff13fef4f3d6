/*
 * fuzz_pb_to_json.c — libFuzzer target for codec_pb_to_json (src/proto/pb_to_json.c).
 *
 * Input: one selector byte (message type and options, see fuzz_common.h), then protobuf wire
 * bytes. Besides "no crash, no leak, no undefined behaviour" it checks that a rejection carries
 * a codec error code and a one-line message, and the round-trip property: when pb_to_json
 * succeeds, json_to_pb must accept its output, and printing that again must give the same JSON.
 * A broken property aborts, which libFuzzer reports like a crash.
 */
#include "fuzz_common.h"

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
    else
        fuzz_check_json_fixpoint(&t, &json);
    util_buf_dispose(&json);
    return 0;
}
