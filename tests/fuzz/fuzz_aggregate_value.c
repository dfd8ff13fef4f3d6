// fuzz_aggregate_value.c — libFuzzer target for the composite engine's JSON values
// (src/aggregate/value.c) and the deep merge (merge.c) that builds every merged document.
//
// Input: any bytes, parsed as one JSON document in a raw arena (as a run does). Beyond "no crash,
// no sanitizer report", it checks the properties the engine relies on: what parses writes back
// as JSON that parses to an equal value and writes identically (a fixed point after one round);
// objects hold unique keys; merging a document into itself, or into an empty object, gives an
// equal document; nothing a merge reads is changed by it; and parsing in place (as replies
// are) accepts and refuses the same inputs, with equal values that write identically.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate/aggregate_int.h"

#define FUZZ_REQUIRE(cond)                                                                                                         \
    do {                                                                                                                           \
        if (!(cond))                                                                                                               \
            abort();                                                                                                               \
    } while (0)

static void check_unique_keys(const aggregate_value_t *v)
{
    if (v->kind == AGGREGATE_VALUE_ARRAY)
        for (size_t i = 0; i < v->len; i++)
            check_unique_keys(v->u.items[i]);
    if (v->kind != AGGREGATE_VALUE_OBJECT)
        return;
    for (size_t i = 0; i < v->len; i++) {
        const aggregate_member_t *m = &v->u.members[i];
        FUZZ_REQUIRE(aggregate_value_find(v, m->key, m->key_len) == (long)i);
        check_unique_keys(m->value);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    util_arena_t a;
    util_arena_init_raw(&a);
    util_error_t err;
    const aggregate_value_t *v = aggregate_value_parse(&a, (const char *)data, size, &err);
    if (v == NULL) {
        FUZZ_REQUIRE(err.message[0] != '\0');
        char *copy = malloc(size + 1);
        FUZZ_REQUIRE(copy != NULL);
        memcpy(copy, data, size);
        copy[size] = '\0';
        FUZZ_REQUIRE(aggregate_value_parse_in_place(&a, copy, size, &err) == NULL);
        free(copy);
        util_arena_dispose(&a);
        return 0;
    }
    check_unique_keys(v);

    util_buf_t once = UTIL_BUF_INIT, twice = UTIL_BUF_INIT;
    aggregate_value_write(&once, v);
    FUZZ_REQUIRE(!util_buf_failed(&once));
    const aggregate_value_t *again = aggregate_value_parse(&a, (const char *)once.data, once.len, &err);
    FUZZ_REQUIRE(again != NULL);
    FUZZ_REQUIRE(aggregate_value_equal(v, again));
    aggregate_value_write(&twice, again);
    FUZZ_REQUIRE(once.len == twice.len && memcmp(once.data, twice.data, once.len) == 0);

    char *copy = util_arena_alloc(&a, size + 1);
    FUZZ_REQUIRE(copy != NULL);
    memcpy(copy, data, size);
    copy[size] = '\0';
    const aggregate_value_t *in_place = aggregate_value_parse_in_place(&a, copy, size, &err);
    FUZZ_REQUIRE(in_place != NULL && aggregate_value_equal(v, in_place));
    util_buf_t written = UTIL_BUF_INIT;
    aggregate_value_write(&written, in_place);
    FUZZ_REQUIRE(written.len == once.len && memcmp(written.data, once.data, once.len) == 0);
    util_buf_dispose(&written);

    if (v->kind == AGGREGATE_VALUE_OBJECT) {
        const aggregate_value_t *self = aggregate_json_merge(&a, v, again);
        FUZZ_REQUIRE(self != NULL && aggregate_value_equal(self, v));
        const aggregate_value_t *into_empty = aggregate_json_merge(&a, aggregate_value_object(&a, 0), v);
        FUZZ_REQUIRE(into_empty != NULL && aggregate_value_equal(into_empty, v));
        util_buf_t after = UTIL_BUF_INIT;
        aggregate_value_write(&after, v);
        FUZZ_REQUIRE(after.len == once.len && memcmp(after.data, once.data, once.len) == 0);
        util_buf_dispose(&after);
    }
    util_buf_dispose(&once);
    util_buf_dispose(&twice);
    util_arena_dispose(&a);
    return 0;
}
