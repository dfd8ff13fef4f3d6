/*
 * fuzz_json_to_pb.c — libFuzzer target for codec_json_to_pb (src/proto/json_to_pb.c).
 *
 * Input: one selector byte (message type and options, see fuzz_common.h), then JSON text.
 * Besides "no crash, no leak, no undefined behaviour" it checks that a rejection carries a codec
 * error code and a one-line message, and that accepted input round-trips: the wire bytes
 * json_to_pb wrote must print with pb_to_json, and that JSON must parse and print back to
 * itself. A broken property aborts, which libFuzzer reports like a crash.
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    fuzz_target_t t;
    fuzz_target_pick(data[0], &t);
    util_buf_t pb = UTIL_BUF_INIT, json = UTIL_BUF_INIT;
    util_error_t err = {0};
    if (codec_json_to_pb(t.registry, t.message, (const char *)data + 1, size - 1, &t.opt, &pb, &err) != 0) {
        fuzz_check_error(&t, &err);
    } else {
        if (codec_pb_to_json(t.registry, t.message, pb.data, pb.len, &t.opt, &json, &err) != 0)
            fuzz_fail("pb_to_json rejects what json_to_pb wrote", &t, &err, NULL, NULL);
        fuzz_check_json_fixpoint(&t, &json);
    }
    util_buf_dispose(&pb);
    util_buf_dispose(&json);
    return 0;
}
