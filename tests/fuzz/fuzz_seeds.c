/*
 * fuzz_seeds.c — writes the seed corpus of the fuzz targets at build time (seeds are
 * generated, never committed): `fuzz_seeds OUTDIR` creates OUTDIR/json_to_pb, OUTDIR/pb_to_json
 * OUTDIR/path_template and OUTDIR/aggregate_value (JSON documents).
 *
 * Codec seeds are a selector byte (see fuzz_common.h) followed by one of the JSON documents
 * below, or by its wire encoding (made with codec_json_to_pb) for the binary target, plus a few
 * hand-made wire inputs that JSON cannot produce (unknown fields of every wire type, unpacked
 * repeated fields, a proto2 group). Every codec seed is written with several option selectors
 * so the fuzzer starts from all option combinations. Path-template seeds are
 * "<template>\n<path>" as fuzz_path_template.c expects.
 */
#include <errno.h>
#include <sys/stat.h>

#include "fuzz_common.h"

enum { EVERYTHING, SMALL, NESTED, WELL_KNOWN, MAPS, SCALARS, REPEATED, LEGACY };

static const struct {
    int message;
    const char *json;
} seeds[] = {
    {EVERYTHING, "{}"},
    {EVERYTHING, "{\"scalars\":{\"fDouble\":1.5,\"fFloat\":-0.25,\"fInt64\":\"-9223372036854775808\","
                 "\"fUint64\":\"18446744073709551615\",\"fInt32\":-2147483648,\"fFixed64\":\"1\",\"fFixed32\":4294967295,"
                 "\"fBool\":true,\"fString\":\"h\\u00e9llo \\ud83d\\ude00\\n\",\"fBytes\":\"AAEC/w==\",\"fUint32\":7,"
                 "\"fEnum\":\"NEGATIVE\",\"fSfixed32\":-1,\"fSfixed64\":\"-2\",\"fSint32\":-3,\"fSint64\":\"-4\"},"
                 "\"repeated\":{\"rDouble\":[\"NaN\",\"Infinity\",\"-Infinity\",-0,5e-324],\"rFloat\":[3.4028235e38],"
                 "\"rInt64\":[\"1\",\"-1\"],\"rBool\":[true,false],\"rString\":[\"\",\"x\"],\"rBytes\":[\"\",\"YQ\"],"
                 "\"rEnum\":[\"RED\",2,99],\"rNested\":[{},{\"a\":1}],\"rUnpacked\":[1,2,3]},"
                 "\"maps\":{\"mString\":{\"k\":\"v\"},\"mInt32\":{\"-1\":1},\"mInt64\":{\"9223372036854775807\":\"0\"},"
                 "\"mUint32\":{\"4294967295\":1},\"mUint64\":{\"18446744073709551615\":\"2\"},\"mSint32\":{\"-5\":-5},"
                 "\"mSint64\":{\"-6\":\"-6\"},\"mFixed32\":{\"7\":7},\"mFixed64\":{\"8\":\"8\"},\"mSfixed32\":{\"-9\":-9},"
                 "\"mSfixed64\":{\"-10\":\"-10\"},\"mBool\":{\"true\":false,\"false\":true},\"mNested\":{\"n\":{\"b\":\"x\"}},"
                 "\"mEnum\":{\"e\":\"BLUE\"},\"mBytes\":{\"b\":\"/w==\"},\"mDouble\":{\"d\":\"NaN\"},"
                 "\"mValue\":{\"v\":[1,\"a\",null,{\"o\":true}]}},"
                 "\"nested\":{\"a\":1,\"b\":\"b\",\"child\":{\"child\":{\"nums\":[1,2]}}},"
                 "\"choiceNested\":{\"a\":2},\"optInt32\":0,\"optString\":\"\",\"optEnum\":\"COLOR_UNSPECIFIED\","
                 "\"renamed_Field\":5,\"snakeCaseName\":\"s\",\"fieldWith1Digit\":1}"},
    {EVERYTHING, "{\"choiceNull\":null,\"custom_json\":1,\"snake_case_name\":\"p\",\"field_with_1_digit\":2}"},
    {EVERYTHING, "{\"choiceString\":\"\\u0000\\\"\\\\\\/\\b\\f\\r\\t\"}"},
    {EVERYTHING, "{\"choiceInt\":0,\"wellKnown\":{\"any\":{\"@type\":\"type.googleapis.com/portico.test.Everything\","
                 "\"wellKnown\":{\"any\":{\"@type\":\"type.googleapis.com/google.protobuf.Duration\",\"value\":\"1s\"}}}}}"},
    {SMALL, "{\"sku\":\"A-1\",\"amountMicros\":\"1990000\",\"currency\":\"EUR\",\"quantity\":3,\"tags\":[\"x\",\"y\"],"
            "\"updatedAt\":\"2024-02-29T23:59:59.999Z\",\"color\":\"GREEN\"}"},
    {SMALL, "{\"sku\":\"\",\"amount_micros\":1e3,\"quantity\":\"12\",\"color\":3,\"updated_at\":\"1970-01-01T00:00:00+01:30\"}"},
    {NESTED, "{\"a\":1,\"child\":{\"a\":2,\"child\":{\"a\":3,\"child\":{\"a\":4,\"child\":{\"a\":5,\"child\":{\"a\":6,"
             "\"child\":{\"a\":7,\"child\":{\"a\":8,\"child\":{\"a\":9}}}}}}}}}"},
    {NESTED, "{\"nums\":[0,-1,2147483647,-2147483648,1e2,\"5\"],\"b\":\"\\ud800\\udc00\"}"},
    {WELL_KNOWN, "{\"any\":{\"@type\":\"type.googleapis.com/portico.test.Small\",\"sku\":\"a\"},"
                 "\"timestamp\":\"0001-01-01T00:00:00Z\",\"duration\":\"-315576000000.999999999s\",\"fieldMask\":\"a.bC,d\","
                 "\"struct\":{\"a\":{\"b\":[null,true,1.5,\"s\",[],{}]}},\"value\":[1,[2,[3]]],\"listValue\":[{}],"
                 "\"nullValue\":null,\"empty\":{},\"doubleValue\":\"-Infinity\",\"floatValue\":1.5,\"int64Value\":\"-1\","
                 "\"uint64Value\":\"1\",\"int32Value\":0,\"uint32Value\":4294967295,\"boolValue\":false,\"stringValue\":\"\","
                 "\"bytesValue\":\"-_8\",\"rTimestamp\":[\"9999-12-31T23:59:59.999999999Z\",\"1972-06-30T23:59:59.5Z\"],"
                 "\"rValue\":[null,\"x\"],\"rAny\":[{},{\"@type\":\"type.googleapis.com/google.protobuf.Value\",\"value\":1},"
                 "{\"@type\":\"type.googleapis.com/google.protobuf.Timestamp\",\"value\":\"2000-01-01T00:00:00.000001Z\"},"
                 "{\"@type\":\"type.googleapis.com/google.protobuf.Struct\",\"value\":{\"k\":{}}},"
                 "{\"@type\":\"type.googleapis.com/google.protobuf.Empty\",\"value\":{}},"
                 "{\"@type\":\"type.googleapis.com/google.protobuf.FieldMask\",\"value\":\"x\"},"
                 "{\"@type\":\"type.googleapis.com/google.protobuf.BytesValue\",\"value\":\"AA==\"}],"
                 "\"rInt32Value\":[1,-1]}"},
    {WELL_KNOWN, "{\"value\":{\"deep\":{\"deeper\":{\"deepest\":[[[[{}]]]]}}},\"struct\":{}}"},
    {WELL_KNOWN, "{\"any\":{\"@type\":\"type.googleapis.com/google.protobuf.Any\",\"value\":"
                 "{\"@type\":\"type.googleapis.com/google.protobuf.Int32Value\",\"value\":5}}}"},
    {MAPS, "{\"mString\":{\"\":\"\",\"\\u00e9\":\"\\ud83d\\ude00\"},\"mBool\":{\"true\":true},"
           "\"mInt32\":{\"0\":0,\"2147483647\":-2147483648},\"mValue\":{\"n\":null,\"s\":{\"x\":[]}}}"},
    {SCALARS, "{\"fDouble\":1.7976931348623157e308,\"fFloat\":1.4e-45,\"fInt64\":9007199254740993,\"fUint64\":1e19,"
              "\"fBytes\":\"\",\"fString\":\"\",\"fEnum\":\"COLOR_UNSPECIFIED\"}"},
    {SCALARS, "{\"fDouble\":\"1e-300\",\"fFloat\":\"-0\",\"fInt32\":\"-0\",\"fBool\":false,\"fSint64\":\"9223372036854775807\"}"},
    {REPEATED, "{\"rDouble\":[0.1,0.2],\"rFloat\":[\"NaN\",1e-45],\"rUint64\":[\"0\",18446744073709551615],"
               "\"rFixed64\":[\"1\"],\"rFixed32\":[1],\"rUint32\":[1],\"rSfixed32\":[-1],\"rSfixed64\":[\"-1\"],"
               "\"rSint32\":[-1],\"rSint64\":[\"-1\"],\"rInt32\":[1,2,3],\"rEnum\":[\"NEGATIVE\"]}"},
    {LEGACY, "{\"count\":1,\"label\":\"x\",\"size\":\"SMALL\",\"id\":\"-1\",\"packedNums\":[1,2],\"plainNums\":[3],"
             "\"ratio\":\"-Infinity\",\"blob\":\"AQ==\",\"grp\":{\"g\":4}}"},
    {LEGACY, "{\"id\":\"0\"}"},
};

/* Wire inputs JSON cannot produce. */
static const struct {
    int message;
    const char *bytes;
    size_t len;
} raw_seeds[] = {
#define RAW(m, s)                                                                                                                  \
    {                                                                                                                              \
        m, s, sizeof(s) - 1                                                                                                        \
    }
    RAW(NESTED, "\x08\x01\xf8\x07\x05\xfd\x07\x01\x02\x03\x04\xf9\x07\x01\x02\x03\x04\x05\x06\x07\x08\xfa\x07\x01x"
                "\xfb\x07\x08\x01\xfc\x07"),                       /* unknown varint, fixed32, fixed64, bytes, group */
    RAW(NESTED, "\x20\x01\x20\x02\x22\x02\x03\x04"),               /* unpacked then packed repeated */
    RAW(NESTED, "\x1a\x02\x08\x01\x1a\x02\x12\x00"),               /* a sub-message given twice: merged */
    RAW(SMALL, "\x38\x80\x80\x80\x80\xf8\xff\xff\xff\xff\x01"),    /* enum with a sign-extended 10-byte varint */
    RAW(MAPS, "\x0a\x00\x0a\x02\x12\x00\x12\x04\x08\x01\x08\x02"), /* map entries without key/value, repeated keys */
    RAW(LEGACY, "\x4b\x50\x03\x4c\x18\x07\x20\x00"),               /* group, closed enum with an unknown number */
#undef RAW
};

static const char *const path_template_seeds[] = {
    "/v1/items/{id}\n/v1/items/42",
    "/v1/{name=shelves/*/books/*}\n/v1/shelves/1/books/2",
    "/v1/{name=items/*}:cancel\n/v1/items/7:cancel",
    "/v1/{rest=**}\n/v1/a/b/c",
    "/v1/files/{path=**}:download\n/v1/files/a%2Fb/c:download",
    "/v1/{a}/{b.c}/x\n/v1/%41/b%20c/x",
    "/v1/*/items/**\n/v1/any/items/x/y",
    "/{x=a/*/b/**}\n/a/1/b/2/3",
    "/v1/items\n/v1/items/",
};

static const uint8_t selectors[] = {0x00, 0x08, 0x30, 0x40, 0x80, 0x78};

/* Writes one seed file: |selector| (when >= 0) then |data|. */
/* Backend replies as the composite engine parses them (fuzz_aggregate_value.c). */
static const char *const aggregate_value_seeds[] = {
    "{\"sku\":\"ABC-123\",\"average\":4.5,\"count\":2,\"reviews\":[{\"author\":\"ana\",\"rating\":5,\"text\":\"ok\"}]}",
    "{\"a\":1,\"a\":{\"b\":[1,2,{\"c\":null}]},\"big\":12345678901234567890,\"f\":1.10e-3}",
    "[true,false,null,\"\\u0000\\ud83d\\ude00\",-0,{}]",
    "{\"o\":{\"x\":{\"y\":{\"z\":[[[]]]}}},\"k\\u0000\":\"v\"}",
};

static int write_seed(const char *dir, const char *kind, unsigned n, int selector, const void *data, size_t len)
{
    char path[4096];
    uint8_t sel = (uint8_t)selector;
    snprintf(path, sizeof(path), "%s/%s/seed-%03u-%02x", dir, kind, n, selector < 0 ? 0 : sel);
    FILE *f = fopen(path, "wb");
    if (f == NULL || (selector >= 0 && fwrite(&sel, 1, 1, f) != 1) || (len > 0 && fwrite(data, 1, len, f) != len)) {
        fprintf(stderr, "error: cannot write %s: %s\n", path, strerror(errno));
        if (f != NULL)
            fclose(f);
        return -1;
    }
    return fclose(f) == 0 ? 0 : -1;
}

static int make_dir(const char *dir, const char *sub)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s%s%s", dir, sub ? "/" : "", sub ? sub : "");
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "error: cannot create %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_seeds OUTDIR\n");
        return 2;
    }
    const char *dir = argv[1];
    if (make_dir(dir, NULL) != 0 || make_dir(dir, "json_to_pb") != 0 || make_dir(dir, "pb_to_json") != 0 ||
        make_dir(dir, "path_template") != 0 || make_dir(dir, "aggregate_value") != 0)
        return 1;
    for (size_t i = 0; i < sizeof(aggregate_value_seeds) / sizeof(aggregate_value_seeds[0]); i++)
        if (write_seed(dir, "aggregate_value", (unsigned)i, -1, aggregate_value_seeds[i], strlen(aggregate_value_seeds[i])) != 0)
            return 1;
    for (size_t i = 0; i < sizeof(path_template_seeds) / sizeof(path_template_seeds[0]); i++)
        if (write_seed(dir, "path_template", (unsigned)i, -1, path_template_seeds[i], strlen(path_template_seeds[i])) != 0)
            return 1;
    const proto_registry_t *reg = fuzz_registry();
    codec_options_t opt = {0};
    unsigned n = 0;
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++, n++) {
        const proto_message_t *m = proto_registry_find_message(reg, fuzz_messages[seeds[i].message]);
        util_buf_t pb = UTIL_BUF_INIT;
        util_error_t err = {0};
        if (codec_json_to_pb(reg, m, seeds[i].json, strlen(seeds[i].json), &opt, &pb, &err) != 0) {
            /* Still a useful JSON seed; say so, since a seed is meant to be valid. */
            fprintf(stderr, "warning: seed %zu (%s) is rejected: %s\n", i, m->full_name, err.message);
        }
        for (size_t s = 0; s < sizeof(selectors); s++) {
            uint8_t sel = (uint8_t)(selectors[s] | seeds[i].message);
            if (write_seed(dir, "json_to_pb", n, sel, seeds[i].json, strlen(seeds[i].json)) != 0 ||
                (pb.len > 0 && write_seed(dir, "pb_to_json", n, sel, pb.data, pb.len) != 0)) {
                util_buf_dispose(&pb);
                return 1;
            }
        }
        util_buf_dispose(&pb);
    }
    for (size_t i = 0; i < sizeof(raw_seeds) / sizeof(raw_seeds[0]); i++, n++) {
        for (size_t s = 0; s < sizeof(selectors); s++) {
            uint8_t sel = (uint8_t)(selectors[s] | raw_seeds[i].message);
            if (write_seed(dir, "pb_to_json", n, sel, raw_seeds[i].bytes, raw_seeds[i].len) != 0)
                return 1;
        }
    }
    printf("fuzz_seeds: %u seeds x %zu selectors in %s\n", n, sizeof(selectors), dir);
    return 0;
}
