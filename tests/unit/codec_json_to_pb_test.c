/*
 * codec_json_to_pb_test.c — the JSON→protobuf codec (src/proto/json_to_pb.c) against the
 * proto3 JSON mapping. Valid documents are encoded and the bytes decoded by protoc
 * (`protoc --decode`, an independent implementation) and compared as text; a second table
 * pins exact bytes where the encoding itself matters (defaults omitted, packing, map
 * entries, lengths); a third checks every error's code and message; a fourth covers the
 * text forms of codec_text_to_pb().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/proto.h"
#include "test.h"

static proto_registry_t *reg;

#define E "portico.test.Everything"
#define SMALL "portico.test.Small"
#define LEGACY "portico.test2.Legacy"

/* ---------------------------------------------------------------------------------------
 * Helpers
 */
static const proto_message_t *message(const char *type)
{
    const proto_message_t *m = proto_registry_find_message(reg, type);
    if (m == NULL) {
        fprintf(stderr, "no message %s in the test descriptor sets\n", type);
        exit(1);
    }
    return m;
}

/* Collapses runs of whitespace to one space and trims the ends, in place. */
static char *squeeze(char *s)
{
    char *o = s;
    int space = 0;
    for (char *p = s; *p; p++) {
        if (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') {
            space = o != s;
            continue;
        }
        if (space)
            *o++ = ' ';
        space = 0;
        *o++ = *p;
    }
    *o = '\0';
    return s;
}

/* Decodes |data| as |type| with protoc; returns the text format, squeezed (valid until the next call). */
static char *protoc_decode(const char *type, const uint8_t *data, size_t len)
{
    static util_buf_t text = UTIL_BUF_INIT;
    text.len = 0;
    char tmp[] = "/tmp/portico-j2p-test-XXXXXX";
    int fd = mkstemp(tmp);
    if (fd < 0 || write(fd, data, len) != (ssize_t)len) {
        util_buf_puts(&text, "(cannot write temp file)");
    } else {
        close(fd);
        int proto2 = strncmp(type, "portico.test2.", 14) == 0;
        char cmd[8192];
        snprintf(cmd, sizeof(cmd), "protoc --descriptor_set_in=%s --decode=%s %s < %s 2>&1",
                 test_desc_path(proto2 ? "codec_proto2.pb" : "codec_test.pb"), type,
                 proto2 ? "test/codec_proto2.proto" : "test/codec_test.proto", tmp);
        FILE *p = popen(cmd, "r");
        char chunk[4096];
        size_t n;
        while (p != NULL && (n = fread(chunk, 1, sizeof(chunk), p)) > 0)
            util_buf_append(&text, chunk, n);
        if (p == NULL || pclose(p) != 0)
            util_buf_puts(&text, " (protoc failed)");
        unlink(tmp);
    }
    util_buf_putc(&text, 0);
    return squeeze((char *)text.data);
}

static char *hex(const uint8_t *data, size_t len)
{
    static char out[4096];
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < len && o + 4 < sizeof(out); i++)
        o += (size_t)snprintf(out + o, sizeof(out) - o, i ? " %02x" : "%02x", data[i]);
    return out;
}

static int encode(const char *type, const char *json, const codec_options_t *opt, util_buf_t *out, util_error_t *err)
{
    return codec_json_to_pb(reg, message(type), json, strlen(json), opt, out, err);
}

/* ---------------------------------------------------------------------------------------
 * Valid documents, checked through protoc --decode (which prints an Any as its type_url and
 * raw value bytes, in C escapes: "\010\001" is field 1 = 1)
 */
typedef struct {
    const char *type;
    const char *json;
    const char *text; /* protoc's text format, whitespace squeezed */
} decode_case_t;

static const decode_case_t decode_cases[] = {
    /* Scalars: every type, json names. */
    {E,
     "{\"scalars\":{\"fDouble\":1.5,\"fFloat\":-2.25,\"fInt64\":\"-9223372036854775808\",\"fUint64\":"
     "\"18446744073709551615\",\"fInt32\":-2147483648,\"fFixed64\":\"18446744073709551615\",\"fFixed32\":4294967295,"
     "\"fBool\":true,\"fString\":\"hello\",\"fBytes\":\"AQID\",\"fUint32\":4294967295,\"fEnum\":\"BLUE\","
     "\"fSfixed32\":-5,\"fSfixed64\":\"-6\",\"fSint32\":-7,\"fSint64\":\"-8\"}}",
     "scalars { f_double: 1.5 f_float: -2.25 f_int64: -9223372036854775808 f_uint64: 18446744073709551615 f_int32: "
     "-2147483648 f_fixed64: 18446744073709551615 f_fixed32: 4294967295 f_bool: true f_string: \"hello\" f_bytes: "
     "\"\\001\\002\\003\" f_uint32: 4294967295 f_enum: BLUE f_sfixed32: -5 f_sfixed64: -6 f_sint32: -7 f_sint64: -8 }"},
    /* Proto names are accepted as well as json names. */
    {E, "{\"scalars\":{\"f_int32\":5,\"f_string\":\"x\",\"f_sint64\":-1}}", "scalars { f_int32: 5 f_string: \"x\" f_sint64: -1 }"},
    /* 64-bit values as JSON numbers, parsed exactly. */
    {E, "{\"scalars\":{\"fUint64\":18446744073709551615,\"fInt64\":-9223372036854775808,\"fFixed64\":9007199254740993}}",
     "scalars { f_int64: -9223372036854775808 f_uint64: 18446744073709551615 f_fixed64: 9007199254740993 }"},
    {E, "{\"scalars\":{\"fInt64\":9223372036854775807,\"fSfixed64\":-9223372036854775808}}",
     "scalars { f_int64: 9223372036854775807 f_sfixed64: -9223372036854775808 }"},
    /* Exponent and fraction forms that are still integers, as numbers and as strings. */
    {E,
     "{\"scalars\":{\"fInt32\":1e2,\"fInt64\":\"1.0e3\",\"fUint32\":\"2.50e1\",\"fUint64\":"
     "\"1.8446744073709551615e19\",\"fSint64\":-9.223372036854775808e18,\"fSint32\":1.0,\"fFixed32\":\"100e-2\"}}",
     "scalars { f_int64: 1000 f_uint64: 18446744073709551615 f_int32: 100 f_fixed32: 1 f_uint32: 25 f_sint32: 1 "
     "f_sint64: -9223372036854775808 }"},
    /* Zeros in every spelling are defaults and are not written. */
    {E, "{\"scalars\":{\"fInt32\":\"-0\",\"fUint32\":-0,\"fInt64\":0e5,\"fDouble\":0,\"fBool\":false,\"fString\":\"\"}}",
     "scalars { }"},
    /* Leading zeros are accepted inside strings. */
    {E, "{\"scalars\":{\"fInt32\":\"007\",\"fDouble\":\"-01.5\"}}", "scalars { f_double: -1.5 f_int32: 7 }"},
    /* Floating point: strings, special values, extremes. */
    {E, "{\"scalars\":{\"fDouble\":\"NaN\",\"fFloat\":\"Infinity\"}}", "scalars { f_double: nan f_float: inf }"},
    {E, "{\"scalars\":{\"fDouble\":\"-Infinity\",\"fFloat\":\"-1.5e3\"}}", "scalars { f_double: -inf f_float: -1500 }"},
    {E, "{\"scalars\":{\"fDouble\":1.7976931348623157e308,\"fFloat\":3.4028235e38}}",
     "scalars { f_double: 1.7976931348623157e+308 f_float: 3.40282347e+38 }"},
    {E, "{\"scalars\":{\"fDouble\":5e-324,\"fFloat\":-1e-50}}", "scalars { f_double: 4.94065645841247e-324 f_float: -0 }"},
    {E, "{\"scalars\":{\"fDouble\":\"1e2\",\"fFloat\":12}}", "scalars { f_double: 100 f_float: 12 }"},
    /* Bytes: standard and URL-safe alphabets, with and without padding. */
    {E, "{\"scalars\":{\"fBytes\":\"-_8=\"}}", "scalars { f_bytes: \"\\373\\377\" }"},
    {E, "{\"scalars\":{\"fBytes\":\"+/8\"}}", "scalars { f_bytes: \"\\373\\377\" }"},
    {E, "{\"scalars\":{\"fBytes\":\"AQ\"}}", "scalars { f_bytes: \"\\001\" }"},
    {E, "{\"scalars\":{\"fBytes\":\"aGk\\/\"}}", "scalars { f_bytes: \"hi?\" }"},
    /* Enums: name, number, numeric string, negative, unknown number of an open enum. */
    {E, "{\"scalars\":{\"fEnum\":2}}", "scalars { f_enum: GREEN }"},
    {E, "{\"scalars\":{\"fEnum\":\"3\"}}", "scalars { f_enum: BLUE }"},
    {E, "{\"scalars\":{\"fEnum\":\"NEGATIVE\"}}", "scalars { f_enum: NEGATIVE }"},
    {E, "{\"scalars\":{\"fEnum\":-1}}", "scalars { f_enum: NEGATIVE }"},
    {E, "{\"scalars\":{\"fEnum\":77}}", "scalars { f_enum: 77 }"},
    {E, "{\"scalars\":{\"fEnum\":\"COLOR_UNSPECIFIED\"}}", "scalars { }"},
    /* null means "not set". */
    {E, "{\"scalars\":{\"fInt32\":null,\"fString\":null,\"fEnum\":null,\"fBytes\":null},\"nested\":null}", "scalars { }"},
    /* Strings: escapes and UTF-8. */
    {E, "{\"scalars\":{\"fString\":\"a\\\"b\\\\c\\u00e9\\ud83d\\ude00\\n\"}}",
     "scalars { f_string: \"a\\\"b\\\\c\\303\\251\\360\\237\\230\\200\\n\" }"},
    {E, "{\"scalars\":{\"fString\":\"\xc3\xa9t\xc3\xa9\"}}", "scalars { f_string: \"\\303\\251t\\303\\251\" }"},
    {E, "{\"scalars\":{\"fString\":\"nul\\u0000byte\"}}", "scalars { f_string: \"nul\\000byte\" }"},
    /* Whitespace everywhere. */
    {E, " \n{ \"nested\" :\t{ \"a\" : 1 , \"b\" : \"x\" } }\r\n", "nested { a: 1 b: \"x\" }"},
    /* Nested messages, recursion. */
    {E, "{\"nested\":{\"a\":1,\"child\":{\"b\":\"deep\",\"child\":{\"nums\":[1,2]}}}}",
     "nested { a: 1 child { b: \"deep\" child { nums: 1 nums: 2 } } }"},
    {E, "{\"nested\":{}}", "nested { }"},
    /* Repeated fields. */
    {E,
     "{\"repeated\":{\"rInt32\":[1,-2,3],\"rString\":[\"a\",\"\"],\"rBool\":[true,false],\"rDouble\":[1.5,\"NaN\"],"
     "\"rEnum\":[\"RED\",2,\"3\"],\"rUnpacked\":[1,2],\"rNested\":[{\"a\":1},{}],\"rBytes\":[\"AQ==\",\"\"],"
     "\"rSint64\":[\"-3\",4],\"rFixed32\":[1],\"rFloat\":[0.5],\"rUint64\":[\"18446744073709551615\"],"
     "\"rSfixed64\":[-1],\"rFixed64\":[2],\"rSfixed32\":[-3],\"rUint32\":[4],\"rInt64\":[\"-5\"],\"rSint32\":[-6]}}",
     "repeated { r_double: 1.5 r_double: nan r_float: 0.5 r_int64: -5 r_uint64: 18446744073709551615 r_int32: 1 "
     "r_int32: -2 r_int32: 3 r_fixed64: 2 r_fixed32: 1 r_bool: true r_bool: false r_string: \"a\" r_string: \"\" "
     "r_bytes: \"\\001\" r_bytes: \"\" r_uint32: 4 r_enum: RED r_enum: GREEN r_enum: BLUE r_sfixed32: -3 "
     "r_sfixed64: -1 r_sint32: -6 r_sint64: -3 r_sint64: 4 r_nested { a: 1 } r_nested { } r_unpacked: 1 r_unpacked: 2 }"},
    {E, "{\"repeated\":{\"rInt32\":[],\"rString\":[],\"rNested\":[]}}", "repeated { }"},
    {E, "{\"repeated\":{\"rInt32\":null,\"rNested\":null}}", "repeated { }"},
    /* Maps with every key type. */
    {E, "{\"maps\":{\"mString\":{\"a\":\"b\",\"\":\"\"},\"mInt32\":{\"-1\":2},\"mInt64\":{\"9223372036854775807\":\"-1\"}}}",
     "maps { m_string { key: \"\" value: \"\" } m_string { key: \"a\" value: \"b\" } m_int32 { key: -1 value: 2 } m_int64 "
     "{ key: 9223372036854775807 value: -1 } }"},
    {E,
     "{\"maps\":{\"mUint32\":{\"4294967295\":1},\"mUint64\":{\"18446744073709551615\":\"2\"},\"mSint32\":{\"-5\":-6},"
     "\"mSint64\":{\"-7\":\"8\"},\"mFixed32\":{\"1\":2},\"mFixed64\":{\"3\":\"4\"},\"mSfixed32\":{\"-1\":-2},"
     "\"mSfixed64\":{\"-3\":\"-4\"}}}",
     "maps { m_uint32 { key: 4294967295 value: 1 } m_uint64 { key: 18446744073709551615 value: 2 } m_sint32 { key: -5 "
     "value: -6 } m_sint64 { key: -7 value: 8 } m_fixed32 { key: 1 value: 2 } m_fixed64 { key: 3 value: 4 } m_sfixed32 "
     "{ key: -1 value: -2 } m_sfixed64 { key: -3 value: -4 } }"},
    {E,
     "{\"maps\":{\"mBool\":{\"true\":false,\"false\":true},\"mNested\":{\"k\":{\"a\":1},\"e\":{}},\"mEnum\":{\"x\":"
     "\"GREEN\",\"y\":0},\"mBytes\":{\"b\":\"AQ\"},\"mDouble\":{\"d\":\"Infinity\"},\"mValue\":{\"n\":null,\"s\":\"x\"}}}",
     "maps { m_bool { key: false value: true } m_bool { key: true value: false } m_nested { key: \"e\" value { } } "
     "m_nested { key: \"k\" value { a: 1 } } m_enum { key: \"x\" value: GREEN } m_enum { key: \"y\" value: COLOR_UNSPECIFIED } "
     "m_bytes { key: \"b\" value: \"\\001\" } m_double { key: \"d\" value: inf } m_value { key: \"n\" value { null_value: "
     "NULL_VALUE } } m_value { key: \"s\" value { string_value: \"x\" } } }"},
    {E, "{\"maps\":{\"mString\":{},\"mInt32\":null}}", "maps { }"},
    {E, "{\"maps\":{\"m_string\":{\"k\\u00e9\":\"v\"}}}", "maps { m_string { key: \"k\\303\\251\" value: \"v\" } }"},
    /* Oneofs. */
    {E, "{\"choiceString\":\"x\"}", "choice_string: \"x\""},
    {E, "{\"choiceNested\":{\"a\":1}}", "choice_nested { a: 1 }"},
    {E, "{\"choice_int\":0}", "choice_int: 0"},
    {E, "{\"choiceNull\":null}", "choice_null: NULL_VALUE"},
    {E, "{\"choiceInt\":null,\"choiceString\":\"x\"}", "choice_string: \"x\""},
    {E, "{\"choiceString\":\"x\",\"choiceNested\":null}", "choice_string: \"x\""},
    /* proto3 optional: written even when default. */
    {E, "{\"optInt32\":0,\"optString\":\"\",\"optEnum\":\"COLOR_UNSPECIFIED\"}",
     "opt_int32: 0 opt_string: \"\" opt_enum: COLOR_UNSPECIFIED"},
    {E, "{\"optInt32\":null}", ""},
    /* json_name option, snake case, digits. */
    {E, "{\"renamed_Field\":5}", "custom_json: 5"},
    {E, "{\"custom_json\":6}", "custom_json: 6"},
    {E, "{\"snakeCaseName\":\"a\",\"fieldWith1Digit\":3}", "snake_case_name: \"a\" field_with_1_digit: 3"},
    {E, "{\"snake_case_name\":\"b\",\"field_with_1_digit\":4}", "snake_case_name: \"b\" field_with_1_digit: 4"},
    /* Well-known types. */
    {E, "{\"wellKnown\":{\"timestamp\":\"2020-01-01T00:00:00Z\",\"duration\":\"1.5s\"}}",
     "well_known { timestamp { seconds: 1577836800 } duration { seconds: 1 nanos: 500000000 } }"},
    {E, "{\"wellKnown\":{\"timestamp\":\"1970-01-01T01:00:00.001+01:00\",\"duration\":\"-0.5s\"}}",
     "well_known { timestamp { nanos: 1000000 } duration { nanos: -500000000 } }"},
    {E, "{\"wellKnown\":{\"fieldMask\":\"a,bC.dE,fooBar\"}}",
     "well_known { field_mask { paths: \"a\" paths: \"b_c.d_e\" paths: \"foo_bar\" } }"},
    {E, "{\"wellKnown\":{\"fieldMask\":\"\"}}", "well_known { field_mask { } }"},
    /* empty paths are kept, as the printer writes them (a fuzzer-found round trip) */
    {E, "{\"wellKnown\":{\"fieldMask\":\"a,,bC,\"}}",
     "well_known { field_mask { paths: \"a\" paths: \"\" paths: \"b_c\" paths: \"\" } }"},
    {E, "{\"wellKnown\":{\"struct\":{\"a\":1,\"b\":[true,null,\"s\",{\"c\":{}}]}}}",
     "well_known { struct { fields { key: \"a\" value { number_value: 1 } } fields { key: \"b\" value { list_value { "
     "values { bool_value: true } values { null_value: NULL_VALUE } values { string_value: \"s\" } values { "
     "struct_value { fields { key: \"c\" value { struct_value { } } } } } } } } } }"},
    {E, "{\"wellKnown\":{\"struct\":{}}}", "well_known { struct { } }"},
    {E, "{\"wellKnown\":{\"value\":1.5}}", "well_known { value { number_value: 1.5 } }"},
    {E, "{\"wellKnown\":{\"value\":\"s\"}}", "well_known { value { string_value: \"s\" } }"},
    {E, "{\"wellKnown\":{\"value\":false}}", "well_known { value { bool_value: false } }"},
    {E, "{\"wellKnown\":{\"value\":null}}", "well_known { value { null_value: NULL_VALUE } }"},
    {E, "{\"wellKnown\":{\"value\":[]}}", "well_known { value { list_value { } } }"},
    {E, "{\"wellKnown\":{\"value\":{}}}", "well_known { value { struct_value { } } }"},
    {E, "{\"wellKnown\":{\"value\":18446744073709551615}}", "well_known { value { number_value: 1.8446744073709552e+19 } }"},
    {E, "{\"wellKnown\":{\"listValue\":[1,\"a\",[]]}}",
     "well_known { list_value { values { number_value: 1 } values { string_value: \"a\" } values { list_value { } } } }"},
    {E, "{\"wellKnown\":{\"nullValue\":null}}", "well_known { }"},
    {E, "{\"wellKnown\":{\"nullValue\":\"NULL_VALUE\"}}", "well_known { }"},
    {E, "{\"wellKnown\":{\"empty\":{}}}", "well_known { empty { } }"},
    {E,
     "{\"wellKnown\":{\"doubleValue\":1.5,\"floatValue\":\"NaN\",\"int64Value\":\"5\",\"uint64Value\":"
     "\"18446744073709551615\",\"int32Value\":0,\"uint32Value\":7,\"boolValue\":false,\"stringValue\":\"\","
     "\"bytesValue\":\"AQ==\"}}",
     "well_known { double_value { value: 1.5 } float_value { value: nan } int64_value { value: 5 } uint64_value { value: "
     "18446744073709551615 } int32_value { } uint32_value { value: 7 } bool_value { } string_value { } bytes_value { "
     "value: \"\\001\" } }"},
    {E, "{\"wellKnown\":{\"int32Value\":null,\"boolValue\":true,\"stringValue\":\"s\"}}",
     "well_known { bool_value { value: true } string_value { value: \"s\" } }"},
    {E, "{\"wellKnown\":{\"rTimestamp\":[\"1970-01-01T00:00:01Z\"],\"rValue\":[null,1,{\"a\":[]}],\"rInt32Value\":[1,0]}}",
     "well_known { r_timestamp { seconds: 1 } r_value { null_value: NULL_VALUE } r_value { number_value: 1 } r_value { "
     "struct_value { fields { key: \"a\" value { list_value { } } } } } r_int32_value { value: 1 } r_int32_value { } }"},
    /* Any: "@type" first or last, WKT payloads, nesting, the empty Any. */
    {E, "{\"wellKnown\":{\"any\":{\"@type\":\"type.googleapis.com/portico.test.Nested\",\"a\":1,\"b\":\"x\"}}}",
     "well_known { any { type_url: \"type.googleapis.com/portico.test.Nested\" value: \"\\010\\001\\022\\001x\" } }"},
    {E,
     "{\"wellKnown\":{\"any\":{\"a\":1,\"child\":{\"nums\":[1,2]},\"@type\":\"type.googleapis.com/"
     "portico.test.Nested\"}}}",
     "well_known { any { type_url: \"type.googleapis.com/portico.test.Nested\" value: "
     "\"\\010\\001\\032\\004\\\"\\002\\001\\002\" } }"},
    {E, "{\"wellKnown\":{\"any\":{\"@type\":\"type.googleapis.com/google.protobuf.Duration\",\"value\":\"1s\"}}}",
     "well_known { any { type_url: \"type.googleapis.com/google.protobuf.Duration\" value: \"\\010\\001\" } }"},
    {E, "{\"wellKnown\":{\"any\":{\"value\":{\"a\":1},\"@type\":\"type.googleapis.com/google.protobuf.Struct\"}}}",
     "well_known { any { type_url: \"type.googleapis.com/google.protobuf.Struct\" value: "
     "\"\\n\\016\\n\\001a\\022\\t\\021\\000\\000\\000\\000\\000\\000\\360?\" } }"},
    {E, "{\"wellKnown\":{\"any\":{\"@type\":\"type.googleapis.com/google.protobuf.Int32Value\",\"value\":\"7\"}}}",
     "well_known { any { type_url: \"type.googleapis.com/google.protobuf.Int32Value\" value: \"\\010\\007\" } }"},
    {E, "{\"wellKnown\":{\"any\":{\"@type\":\"type.googleapis.com/google.protobuf.Empty\",\"value\":{}}}}",
     "well_known { any { type_url: \"type.googleapis.com/google.protobuf.Empty\" } }"},
    {E,
     "{\"wellKnown\":{\"any\":{\"@type\":\"type.googleapis.com/google.protobuf.Any\",\"value\":{\"@type\":"
     "\"type.googleapis.com/portico.test.Small\",\"sku\":\"s\"}}}}",
     "well_known { any { type_url: \"type.googleapis.com/google.protobuf.Any\" value: "
     "\"\\n&type.googleapis.com/portico.test.Small\\022\\003\\n\\001s\" } }"},
    {E,
     "{\"wellKnown\":{\"any\":{\"@type\":\"type.googleapis.com/portico.test.WellKnown\",\"any\":{\"@type\":\"x/"
     "portico.test.Nested\",\"a\":2},\"timestamp\":\"1970-01-01T00:00:00Z\"}}}",
     "well_known { any { type_url: \"type.googleapis.com/portico.test.WellKnown\" value: "
     "\"\\n\\033\\n\\025x/portico.test.Nested\\022\\002\\010\\002\\022\\000\" } }"},
    {E, "{\"wellKnown\":{\"any\":{}}}", "well_known { any { } }"},
    {E, "{\"wellKnown\":{\"any\":{\"@type\":\"t/google.protobuf.Empty\"}}}",
     "well_known { any { type_url: \"t/google.protobuf.Empty\" } }"},
    {E,
     "{\"wellKnown\":{\"rAny\":[{\"@type\":\"type.googleapis.com/portico.test.Nested\",\"a\":1},{\"@type\":"
     "\"type.googleapis.com/google.protobuf.StringValue\",\"value\":\"s\"}]}}",
     "well_known { r_any { type_url: \"type.googleapis.com/portico.test.Nested\" value: \"\\010\\001\" } r_any { "
     "type_url: \"type.googleapis.com/google.protobuf.StringValue\" value: \"\\n\\001s\" } }"},
    /* The Small message of the benchmark. */
    {SMALL,
     "{\"sku\":\"A-1\",\"amountMicros\":\"1250000\",\"currency\":\"EUR\",\"quantity\":3,\"tags\":[\"x\",\"y\"],"
     "\"updatedAt\":\"2024-05-01T12:00:00.250Z\",\"color\":\"RED\"}",
     "sku: \"A-1\" amount_micros: 1250000 currency: \"EUR\" quantity: 3 tags: \"x\" tags: \"y\" updated_at { seconds: "
     "1714564800 nanos: 250000000 } color: RED"},
    /* Top-level well-known types take their JSON forms. */
    {"google.protobuf.Timestamp", "\"2020-01-01T00:00:00.5Z\"", "seconds: 1577836800 nanos: 500000000"},
    {"google.protobuf.Duration", " \"-1.000000001s\" ", "seconds: -1 nanos: -1"},
    {"google.protobuf.FieldMask", "\"x.yZ\"", "paths: \"x.y_z\""},
    {"google.protobuf.Value", "null", "null_value: NULL_VALUE"},
    {"google.protobuf.Value", "[1,{\"a\":true}]",
     "list_value { values { number_value: 1 } values { struct_value { fields { key: \"a\" value { bool_value: true } } "
     "} } }"},
    {"google.protobuf.Struct", "{\"k\":\"v\"}", "fields { key: \"k\" value { string_value: \"v\" } }"},
    {"google.protobuf.ListValue", "[]", ""},
    {"google.protobuf.Int64Value", "\"-5\"", "value: -5"},
    {"google.protobuf.BoolValue", "true", "value: true"},
    {"google.protobuf.StringValue", "\"\"", ""},
    {"google.protobuf.Empty", "{}", ""},
    {"google.protobuf.Any", "{\"@type\":\"type.googleapis.com/google.protobuf.Timestamp\",\"value\":\"1970-01-01T00:00:02Z\"}",
     "type_url: \"type.googleapis.com/google.protobuf.Timestamp\" value: \"\\010\\002\""},
    /* proto2: explicit presence (defaults are written), closed enums, groups. */
    {LEGACY,
     "{\"count\":0,\"label\":\"\",\"size\":\"LARGE\",\"id\":\"1\",\"packedNums\":[1,2],\"plainNums\":[3,4],"
     "\"ratio\":\"Infinity\",\"blob\":\"\",\"grp\":{\"g\":1}}",
     "count: 0 label: \"\" size: LARGE id: 1 packed_nums: 1 packed_nums: 2 plain_nums: 3 plain_nums: 4 ratio: inf "
     "blob: \"\" Grp { g: 1 }"},
    {LEGACY, "{\"size\":1,\"id\":0}", "size: SMALL id: 0"},
};

static void test_decode_cases(void)
{
    for (size_t i = 0; i < sizeof(decode_cases) / sizeof(decode_cases[0]); i++) {
        const decode_case_t *tc = &decode_cases[i];
        util_buf_t out = UTIL_BUF_INIT;
        util_error_t err = {0, ""};
        int rc = encode(tc->type, tc->json, NULL, &out, &err);
        if (rc != 0)
            fprintf(stderr, "decode case %zu: %s\n  error: %s\n", i, tc->json, err.message);
        CHECK_INT_EQ(rc, 0);
        if (rc == 0) {
            const char *text = protoc_decode(tc->type, out.data, out.len);
            if (strcmp(text, tc->text) != 0)
                fprintf(stderr, "decode case %zu: %s\n", i, tc->json);
            CHECK_STR_EQ(text, tc->text);
        }
        util_buf_dispose(&out);
    }
}

/* ---------------------------------------------------------------------------------------
 * Exact bytes
 */
typedef struct {
    const char *type;
    const char *json;
    const char *hex;
} hex_case_t;

static const hex_case_t hex_cases[] = {
    /* Negative int32 is a ten-byte varint; sint32 is zigzag. */
    {E, "{\"scalars\":{\"fInt32\":-1}}", "0a 0b 28 ff ff ff ff ff ff ff ff ff 01"},
    {E, "{\"scalars\":{\"fSint32\":-1,\"fSint64\":\"1\"}}", "0a 06 88 01 01 90 01 02"},
    /* Fixed-width values, little endian. */
    {E, "{\"scalars\":{\"fFixed32\":1,\"fSfixed64\":-2}}", "0a 0f 3d 01 00 00 00 81 01 fe ff ff ff ff ff ff ff"},
    {E, "{\"scalars\":{\"fFloat\":1.5,\"fDouble\":-2}}", "0a 0e 15 00 00 c0 3f 09 00 00 00 00 00 00 00 c0"},
    /* Defaults of fields without presence are omitted... */
    {E, "{\"scalars\":{\"fInt32\":0,\"fString\":\"\",\"fBool\":false,\"fDouble\":0,\"fBytes\":\"\",\"fEnum\":0}}", "0a 00"},
    /* ...but -0.0 is not the default bit pattern. */
    {E, "{\"scalars\":{\"fDouble\":-0.0}}", "0a 09 09 00 00 00 00 00 00 00 80"},
    /* Packed by default, unpacked on request, empty packed arrays write nothing. */
    {E, "{\"repeated\":{\"rInt32\":[1,2,300]}}", "12 06 2a 04 01 02 ac 02"},
    {E, "{\"repeated\":{\"rUnpacked\":[1,2]}}", "12 06 a0 01 01 a0 01 02"},
    {E, "{\"repeated\":{\"rInt32\":[],\"rDouble\":[0]}}", "12 0a 0a 08 00 00 00 00 00 00 00 00"},
    {E, "{\"repeated\":{\"rBool\":[false,true],\"rString\":[\"\"]}}", "12 06 42 02 00 01 4a 00"},
    /* Fields with presence write their defaults. */
    {E, "{\"optInt32\":0}", "a0 01 00"},
    {E, "{\"choiceNull\":null}", "68 00"},
    {E, "{\"choiceString\":\"\"}", "52 00"},
    /* NullValue without presence: null is its default; a Value field holds null_value. */
    {E, "{\"wellKnown\":{\"nullValue\":null}}", "22 00"},
    {E, "{\"wellKnown\":{\"value\":null}}", "22 04 32 02 08 00"},
    /* Map entries always carry key and value. */
    {E, "{\"maps\":{\"mInt32\":{\"0\":0}}}", "1a 06 12 04 08 00 10 00"},
    {E, "{\"maps\":{\"mBool\":{\"true\":true}}}", "1a 06 62 04 08 01 10 01"},
    {E, "{\"maps\":{\"mString\":{\"\":\"\"}}}", "1a 06 0a 04 0a 00 12 00"},
    /* Wrappers: the wrapper is present, its default value is not written. */
    {E, "{\"wellKnown\":{\"int32Value\":0,\"boolValue\":true}}", "22 07 72 00 82 01 02 08 01"},
    /* Timestamp and Duration omit zero parts. */
    {E, "{\"wellKnown\":{\"timestamp\":\"1970-01-01T00:00:00Z\",\"duration\":\"0.000000001s\"}}", "22 06 12 00 1a 02 10 01"},
    /* Any: type_url then value. */
    {E, "{\"wellKnown\":{\"any\":{\"a\":5,\"@type\":\"t/portico.test.Nested\"}}}",
     "22 1d 0a 1b 0a 15 74 2f 70 6f 72 74 69 63 6f 2e 74 65 73 74 2e 4e 65 73 74 65 64 12 02 08 05"},
    /* Unknown enum numbers of open enums pass through (sign-extended when negative). */
    {E, "{\"scalars\":{\"fEnum\":-2}}", "0a 0b 70 fe ff ff ff ff ff ff ff ff 01"},
    /* Groups. */
    {LEGACY, "{\"id\":1,\"grp\":{\"g\":2}}", "20 01 4b 50 02 4c"},
};

static void test_hex_cases(void)
{
    for (size_t i = 0; i < sizeof(hex_cases) / sizeof(hex_cases[0]); i++) {
        const hex_case_t *tc = &hex_cases[i];
        util_buf_t out = UTIL_BUF_INIT;
        util_error_t err = {0, ""};
        int rc = encode(tc->type, tc->json, NULL, &out, &err);
        if (rc != 0)
            fprintf(stderr, "hex case %zu: %s\n  error: %s\n", i, tc->json, err.message);
        CHECK_INT_EQ(rc, 0);
        CHECK_STR_EQ(hex(out.data, out.len), tc->hex);
        util_buf_dispose(&out);
    }
}

/* Lengths that need more than one varint byte: the content is moved up correctly. */
static void test_long_values(void)
{
    static const size_t sizes[] = {126, 127, 128, 129, 300, 16383, 16384, 70000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i];
        util_buf_t json = UTIL_BUF_INIT;
        util_buf_puts(&json, "{\"nested\":{\"child\":{\"b\":\"");
        for (size_t k = 0; k < n; k++)
            util_buf_putc(&json, (uint8_t)('a' + k % 26));
        util_buf_puts(&json, "\",\"a\":7},\"a\":9},\"repeated\":{\"rInt32\":[");
        for (size_t k = 0; k < n / 2; k++)
            util_buf_printf(&json, "%s%zu", k ? "," : "", k);
        util_buf_puts(&json, "]}}");
        util_buf_putc(&json, 0);
        util_buf_t out = UTIL_BUF_INIT;
        util_error_t err = {0, ""};
        CHECK_INT_EQ(encode(E, (char *)json.data, NULL, &out, &err), 0);
        /* Expected: protoc's own encoding of the same message (field order is the same). */
        char *text = protoc_decode(E, out.data, out.len);
        CHECK_STR_HAS(text, "nested { a: 9 child { a: 7 b: \"abcdefghij");
        char tail[64];
        snprintf(tail, sizeof(tail), "r_int32: %zu }", n / 2 - 1);
        CHECK_STR_HAS(text, tail);
        /* nested: tag, length, then child: tag, length, b: tag, length. */
        size_t blen = n, child = 1 + (blen < 128 ? 1 : blen < 16384 ? 2 : 3) + blen + 2;
        size_t nested = 1 + (child < 128 ? 1 : child < 16384 ? 2 : 3) + child + 2;
        CHECK_INT_EQ(out.data[0], 0x2a);
        size_t got = 0, shift = 0, p = 1;
        while (out.data[p] & 0x80) {
            got |= (size_t)(out.data[p++] & 0x7f) << shift;
            shift += 7;
        }
        got |= (size_t)out.data[p] << shift;
        CHECK_INT_EQ(got, nested);
        util_buf_dispose(&out);
        util_buf_dispose(&json);
    }
}

/* ---------------------------------------------------------------------------------------
 * Errors
 */
typedef struct {
    const char *type;
    const char *json;
    int code;
    const char *message; /* substring of the message */
} error_case_t;

static const error_case_t error_cases[] = {
    /* The examples of the brief. */
    {SMALL, "{\"colour\":1}", CODEC_ERR_UNKNOWN_FIELD, "unknown field \"colour\" in portico.test.Small"},
    {SMALL, "{\"quantity\":1.5}", CODEC_ERR_TYPE, "field \"quantity\": 1.5 is not an integer"},
    {SMALL, "{\"quantity\":\"1.5\"}", CODEC_ERR_TYPE, "field \"quantity\": 1.5 is not an integer"},
    {E, "{\"repeated\":{\"rNested\":[{\"a\":1},{\"a\":1.5}]}}", CODEC_ERR_TYPE,
     "field \"repeated.rNested[1].a\": 1.5 is not an integer"},
    {SMALL, "{\"color\":\"PURPLE\"}", CODEC_ERR_UNKNOWN_FIELD,
     "field \"color\": unknown enum value \"PURPLE\" for portico.test.Color"},
    /* Unknown fields name their message and path. */
    {E, "{\"nested\":{\"child\":{\"zz\":1}}}", CODEC_ERR_UNKNOWN_FIELD,
     "field \"nested.child\": unknown field \"zz\" in portico.test.Nested"},
    {E, "{\"customJson\":1}", CODEC_ERR_UNKNOWN_FIELD, "unknown field \"customJson\""},
    {E, "{\"@type\":\"x/portico.test.Nested\"}", CODEC_ERR_UNKNOWN_FIELD, "unknown field \"@type\""},
    {E, "{\"scalars\":{\"FInt32\":1}}", CODEC_ERR_UNKNOWN_FIELD, "unknown field \"FInt32\" in portico.test.Scalars"},
    {E, "{\"wellKnown\":{\"empty\":{\"a\":1}}}", CODEC_ERR_UNKNOWN_FIELD,
     "field \"wellKnown.empty\": unknown field \"a\" in google.protobuf.Empty"},
    /* Integer ranges. */
    {E, "{\"scalars\":{\"fInt32\":2147483648}}", CODEC_ERR_RANGE, "field \"scalars.fInt32\": 2147483648 is out of range for int32"},
    {E, "{\"scalars\":{\"fInt32\":-2147483649}}", CODEC_ERR_RANGE, "-2147483649 is out of range for int32"},
    {E, "{\"scalars\":{\"fSint32\":\"3e9\"}}", CODEC_ERR_RANGE, "3e9 is out of range for sint32"},
    {E, "{\"scalars\":{\"fUint32\":-1}}", CODEC_ERR_RANGE, "-1 is out of range for uint32"},
    {E, "{\"scalars\":{\"fFixed32\":4294967296}}", CODEC_ERR_RANGE, "4294967296 is out of range for fixed32"},
    {E, "{\"scalars\":{\"fUint64\":18446744073709551616}}", CODEC_ERR_RANGE, "18446744073709551616 is out of range for uint64"},
    {E, "{\"scalars\":{\"fUint64\":\"-1\"}}", CODEC_ERR_RANGE, "-1 is out of range for uint64"},
    {E, "{\"scalars\":{\"fInt64\":\"9223372036854775808\"}}", CODEC_ERR_RANGE, "out of range for int64"},
    {E, "{\"scalars\":{\"fInt64\":-9223372036854775809}}", CODEC_ERR_RANGE, "out of range for int64"},
    {E, "{\"scalars\":{\"fUint64\":1e20}}", CODEC_ERR_RANGE, "1e20 is out of range for uint64"},
    {E, "{\"scalars\":{\"fUint64\":1e999999999999}}", CODEC_ERR_RANGE, "out of range for uint64"},
    {E, "{\"scalars\":{\"fSfixed64\":123456789012345678901234567890}}", CODEC_ERR_RANGE, "out of range for sfixed64"},
    {E, "{\"scalars\":{\"fEnum\":2147483648}}", CODEC_ERR_RANGE, "2147483648 is out of range for portico.test.Color"},
    /* Fractions. */
    {E, "{\"scalars\":{\"fInt64\":\"1e-2\"}}", CODEC_ERR_TYPE, "1e-2 is not an integer"},
    {E, "{\"scalars\":{\"fUint64\":18446744073709551615.5}}", CODEC_ERR_TYPE, "is not an integer"},
    {E, "{\"scalars\":{\"fInt32\":1e-999999999}}", CODEC_ERR_TYPE, "is not an integer"},
    {E, "{\"scalars\":{\"fEnum\":1.5}}", CODEC_ERR_TYPE, "1.5 is not an integer"},
    /* Integer strings must be exactly a number. */
    {E, "{\"scalars\":{\"fInt32\":\"+1\"}}", CODEC_ERR_TYPE, "expected int32, got \"+1\""},
    {E, "{\"scalars\":{\"fInt32\":\" 1\"}}", CODEC_ERR_TYPE, "expected int32, got \" 1\""},
    {E, "{\"scalars\":{\"fInt32\":\"1 \"}}", CODEC_ERR_TYPE, "expected int32"},
    {E, "{\"scalars\":{\"fInt32\":\"\"}}", CODEC_ERR_TYPE, "expected int32, got \"\""},
    {E, "{\"scalars\":{\"fInt64\":\"0x10\"}}", CODEC_ERR_TYPE, "expected int64, got \"0x10\""},
    {E, "{\"scalars\":{\"fUint64\":\"abc\"}}", CODEC_ERR_TYPE, "expected uint64, got \"abc\""},
    {E, "{\"scalars\":{\"fInt32\":\"NaN\"}}", CODEC_ERR_TYPE, "expected int32"},
    {E, "{\"scalars\":{\"fInt32\":true}}", CODEC_ERR_TYPE, "field \"scalars.fInt32\": expected int32, got true"},
    {E, "{\"scalars\":{\"fInt32\":{}}}", CODEC_ERR_TYPE, "expected int32, got an object"},
    {E, "{\"scalars\":{\"fInt32\":[1]}}", CODEC_ERR_TYPE, "expected int32, got an array"},
    /* Bool values are JSON true/false only. */
    {E, "{\"scalars\":{\"fBool\":\"true\"}}", CODEC_ERR_TYPE, "expected bool (true or false), got a string"},
    {E, "{\"scalars\":{\"fBool\":1}}", CODEC_ERR_TYPE, "expected bool (true or false), got a number"},
    /* Floating point. */
    {E, "{\"scalars\":{\"fFloat\":3.502823e+38}}", CODEC_ERR_RANGE, "3.502823e+38 is out of range for float"},
    {E, "{\"scalars\":{\"fFloat\":\"-3.502823e+38\"}}", CODEC_ERR_RANGE, "out of range for float"},
    {E, "{\"scalars\":{\"fDouble\":1e999}}", CODEC_ERR_RANGE, "1e999 is out of range for double"},
    {E, "{\"scalars\":{\"fDouble\":-1.89769e+308}}", CODEC_ERR_RANGE, "out of range for double"},
    {E, "{\"scalars\":{\"fDouble\":\"nan\"}}", CODEC_ERR_TYPE, "expected double, got \"nan\""},
    {E, "{\"scalars\":{\"fDouble\":\"inf\"}}", CODEC_ERR_TYPE, "expected double, got \"inf\""},
    {E, "{\"scalars\":{\"fFloat\":\"Infinity \"}}", CODEC_ERR_TYPE, "expected float"},
    {E, "{\"scalars\":{\"fDouble\":\"1.5f\"}}", CODEC_ERR_TYPE, "expected double"},
    {E, "{\"scalars\":{\"fDouble\":\"\"}}", CODEC_ERR_TYPE, "expected double"},
    {E, "{\"scalars\":{\"fDouble\":false}}", CODEC_ERR_TYPE, "expected double, got false"},
    /* Strings and bytes. */
    {E, "{\"scalars\":{\"fString\":5}}", CODEC_ERR_TYPE, "field \"scalars.fString\": expected a string, got a number"},
    {E, "{\"scalars\":{\"fString\":\"\xc3\x28\"}}", CODEC_ERR_UTF8, "invalid UTF-8"},
    {E, "{\"scalars\":{\"fString\":\"\\udc00\"}}", CODEC_ERR_SYNTAX, "lone low surrogate"},
    {E, "{\"scalars\":{\"fBytes\":\"!!!!\"}}", CODEC_ERR_TYPE, "field \"scalars.fBytes\": \"!!!!\" is not valid base64"},
    {E, "{\"scalars\":{\"fBytes\":\"AQIDB\"}}", CODEC_ERR_TYPE, "is not valid base64"},
    {E, "{\"scalars\":{\"fBytes\":[1]}}", CODEC_ERR_TYPE, "expected a base64 string, got an array"},
    /* Enums. */
    {E, "{\"scalars\":{\"fEnum\":\"red\"}}", CODEC_ERR_UNKNOWN_FIELD, "unknown enum value \"red\" for portico.test.Color"},
    {E, "{\"scalars\":{\"fEnum\":\"RED\\u0000X\"}}", CODEC_ERR_UNKNOWN_FIELD, "unknown enum value"},
    {E, "{\"scalars\":{\"fEnum\":\"\"}}", CODEC_ERR_UNKNOWN_FIELD, "unknown enum value \"\""},
    {E, "{\"scalars\":{\"fEnum\":true}}", CODEC_ERR_TYPE, "expected an enum name or number, got true"},
    {E, "{\"repeated\":{\"rEnum\":[\"RED\",\"NOPE\"]}}", CODEC_ERR_UNKNOWN_FIELD,
     "field \"repeated.rEnum[1]\": unknown enum value \"NOPE\""},
    {LEGACY, "{\"size\":7}", CODEC_ERR_UNKNOWN_FIELD, "field \"size\": unknown enum number 7 for portico.test2.Size"},
    {LEGACY, "{\"size\":\"MEDIUM\"}", CODEC_ERR_UNKNOWN_FIELD, "unknown enum value \"MEDIUM\" for portico.test2.Size"},
    /* The same field twice, by either name. */
    {E, "{\"scalars\":{\"fInt32\":1,\"f_int32\":2}}", CODEC_ERR_SYNTAX,
     "field \"scalars.f_int32\": the field is given more than once in portico.test.Scalars"},
    {E, "{\"nested\":{},\"nested\":{}}", CODEC_ERR_SYNTAX, "field \"nested\": the field is given more than once"},
    {E, "{\"optInt32\":null,\"optInt32\":1}", CODEC_ERR_SYNTAX, "given more than once"},
    /* Oneofs. */
    {E, "{\"choiceString\":\"a\",\"choiceInt\":1}", CODEC_ERR_ONEOF,
     "fields \"choiceString\" and \"choiceInt\" are both members of oneof \"choice\""},
    {E, "{\"choice_nested\":{},\"choiceNull\":null}", CODEC_ERR_ONEOF,
     "fields \"choice_nested\" and \"choiceNull\" are both members of oneof \"choice\""},
    /* null where it is not allowed. */
    {E, "{\"repeated\":{\"rInt32\":[1,null]}}", CODEC_ERR_TYPE,
     "field \"repeated.rInt32[1]\": null is not allowed as an array element"},
    {E, "{\"repeated\":{\"rUnpacked\":[null]}}", CODEC_ERR_TYPE, "null is not allowed as an array element"},
    {E, "{\"repeated\":{\"rNested\":[{},null]}}", CODEC_ERR_TYPE, "field \"repeated.rNested[1]\": null is not allowed"},
    {E, "{\"repeated\":{\"rString\":[null]}}", CODEC_ERR_TYPE, "null is not allowed as an array element"},
    {E, "{\"wellKnown\":{\"rInt32Value\":[null]}}", CODEC_ERR_TYPE, "null is not allowed as an array element"},
    {E, "{\"maps\":{\"mString\":{\"a\":null}}}", CODEC_ERR_TYPE, "field \"maps.mString[a]\": null is not allowed as a map value"},
    {E, "{\"maps\":{\"mNested\":{\"a\":null}}}", CODEC_ERR_TYPE, "null is not allowed as a map value"},
    /* Duplicate map and Struct keys (compared after unescaping). */
    {E, "{\"maps\":{\"mString\":{\"a\":\"1\",\"a\":\"2\"}}}", CODEC_ERR_SYNTAX,
     "field \"maps.mString[a]\": map key \"a\" is given more than once"},
    {E, "{\"maps\":{\"mInt32\":{\"1\":1,\"2\":2,\"\\u0031\":3}}}", CODEC_ERR_SYNTAX, "map key \"1\" is given more than once"},
    {E, "{\"wellKnown\":{\"struct\":{\"a\":{\"x\":1,\"y\":2},\"b\":{\"x\":1,\"x\":2}}}}", CODEC_ERR_SYNTAX,
     "field \"wellKnown.struct[b][x]\": map key \"x\" is given more than once"},
    {E, "{\"wellKnown\":{\"struct\":{\"a\":{\"x\":1},\"a\":2}}}", CODEC_ERR_SYNTAX, "map key \"a\" is given more than once"},
    /* Map keys. */
    {E, "{\"maps\":{\"mInt32\":{\"x\":1}}}", CODEC_ERR_TYPE, "field \"maps.mInt32[x]\": map key \"x\" is not a valid int32"},
    {E, "{\"maps\":{\"mInt32\":{\"1.0\":1}}}", CODEC_ERR_TYPE, "map key \"1.0\" is not a valid int32"},
    {E, "{\"maps\":{\"mInt32\":{\"\":1}}}", CODEC_ERR_TYPE, "map key \"\" is not a valid int32"},
    {E, "{\"maps\":{\"mInt32\":{\"-\":1}}}", CODEC_ERR_TYPE, "map key \"-\" is not a valid int32"},
    {E, "{\"maps\":{\"mInt32\":{\"2147483648\":1}}}", CODEC_ERR_RANGE, "2147483648 is out of range for int32"},
    {E, "{\"maps\":{\"mUint64\":{\"-1\":1}}}", CODEC_ERR_RANGE, "-1 is out of range for uint64"},
    {E, "{\"maps\":{\"mBool\":{\"yes\":true}}}", CODEC_ERR_TYPE, "map key \"yes\" is not a bool"},
    {E, "{\"maps\":{\"mBool\":{\"True\":true}}}", CODEC_ERR_TYPE, "map key \"True\" is not a bool"},
    {E, "{\"maps\":{\"mInt32\":{\"1\":\"x\"}}}", CODEC_ERR_TYPE, "field \"maps.mInt32[1]\": expected int32, got \"x\""},
    {E, "{\"maps\":{\"mString\":{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":1}}}", CODEC_ERR_TYPE,
     "field \"maps.mString[aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...]\": expected a string, got a number"},
    /* Wrong JSON kinds for messages, arrays and maps. */
    {E, "{\"scalars\":[]}", CODEC_ERR_TYPE, "field \"scalars\": expected an object for portico.test.Scalars, got an array"},
    {E, "{\"scalars\":\"x\"}", CODEC_ERR_TYPE, "expected an object for portico.test.Scalars, got a string"},
    {E, "{\"repeated\":{\"rInt32\":1}}", CODEC_ERR_TYPE, "field \"repeated.rInt32\": expected an array, got a number"},
    {E, "{\"repeated\":{\"rNested\":{}}}", CODEC_ERR_TYPE, "expected an array, got an object"},
    {E, "{\"maps\":{\"mString\":[]}}", CODEC_ERR_TYPE, "field \"maps.mString\": expected an object (map), got an array"},
    {E, "[]", CODEC_ERR_TYPE, "expected an object for portico.test.Everything, got an array"},
    {E, "null", CODEC_ERR_TYPE, "expected an object for portico.test.Everything, got null"},
    {E, "\"x\"", CODEC_ERR_TYPE, "got a string"},
    /* Well-known types. */
    {E, "{\"wellKnown\":{\"timestamp\":1}}", CODEC_ERR_TYPE,
     "field \"wellKnown.timestamp\": expected a string for google.protobuf.Timestamp, got a number"},
    {E, "{\"wellKnown\":{\"timestamp\":\"2020-13-01T00:00:00Z\"}}", CODEC_ERR_RANGE,
     "field \"wellKnown.timestamp\": \"2020-13-01T00:00:00Z\" is not a valid google.protobuf.Timestamp"},
    {E, "{\"wellKnown\":{\"timestamp\":\"10000-01-01T00:00:00Z\"}}", CODEC_ERR_RANGE, "not a valid google.protobuf.Timestamp"},
    {E, "{\"wellKnown\":{\"duration\":\"1.5\"}}", CODEC_ERR_RANGE, "\"1.5\" is not a valid google.protobuf.Duration"},
    {E, "{\"wellKnown\":{\"rTimestamp\":[\"1970-01-01T00:00:00Z\",\"x\"]}}", CODEC_ERR_RANGE,
     "field \"wellKnown.rTimestamp[1]\": \"x\" is not a valid google.protobuf.Timestamp"},
    {E, "{\"wellKnown\":{\"fieldMask\":\"a,b_c\"}}", CODEC_ERR_TYPE, "field mask path \"b_c\" contains '_'"},
    {E, "{\"wellKnown\":{\"fieldMask\":{\"paths\":[\"a\"]}}}", CODEC_ERR_TYPE,
     "expected a string for google.protobuf.FieldMask, got an object"},
    {E, "{\"wellKnown\":{\"value\":1e999}}", CODEC_ERR_RANGE, "1e999 is out of range for google.protobuf.Value"},
    {E, "{\"wellKnown\":{\"struct\":[]}}", CODEC_ERR_TYPE, "expected an object for google.protobuf.Struct, got an array"},
    {E, "{\"wellKnown\":{\"struct\":{\"a\":{\"b\":[1,2e999]}}}}", CODEC_ERR_RANGE,
     "field \"wellKnown.struct[a][b][1]\": 2e999 is out of range"},
    {E, "{\"wellKnown\":{\"listValue\":{}}}", CODEC_ERR_TYPE, "expected an array for google.protobuf.ListValue"},
    {E, "{\"wellKnown\":{\"empty\":[]}}", CODEC_ERR_TYPE, "expected an object for google.protobuf.Empty"},
    {E, "{\"wellKnown\":{\"int32Value\":\"x\"}}", CODEC_ERR_TYPE, "field \"wellKnown.int32Value\": expected int32"},
    {E, "{\"wellKnown\":{\"int32Value\":{\"value\":1}}}", CODEC_ERR_TYPE, "expected int32, got an object"},
    /* Any. */
    {E, "{\"wellKnown\":{\"any\":{\"a\":1}}}", CODEC_ERR_ANY, "field \"wellKnown.any\": google.protobuf.Any has no \"@type\""},
    {E, "{\"wellKnown\":{\"any\":{\"@type\":\"type.googleapis.com/no.Such\"}}}", CODEC_ERR_ANY,
     "type URL \"type.googleapis.com/no.Such\" names no known message"},
    {E, "{\"wellKnown\":{\"any\":{\"@type\":\"portico.test.Nested\"}}}", CODEC_ERR_ANY, "names no known message"},
    {E, "{\"wellKnown\":{\"any\":{\"@type\":1}}}", CODEC_ERR_TYPE, "expected a type URL string for \"@type\", got a number"},
    {E, "{\"wellKnown\":{\"any\":{\"@type\":\"t/portico.test.Nested\",\"zz\":1}}}", CODEC_ERR_UNKNOWN_FIELD,
     "field \"wellKnown.any\": unknown field \"zz\" in portico.test.Nested"},
    {E, "{\"wellKnown\":{\"any\":{\"@type\":\"t/portico.test.Nested\",\"a\":\"x\"}}}", CODEC_ERR_TYPE,
     "field \"wellKnown.any.a\": expected int32"},
    {E, "{\"wellKnown\":{\"any\":{\"@type\":\"t/portico.test.Nested\",\"@type\":\"t/portico.test.Nested\"}}}", CODEC_ERR_ANY,
     "\"@type\" is given more than once"},
    {E, "{\"wellKnown\":{\"any\":{\"@type\":\"t/google.protobuf.Duration\",\"value\":\"1s\",\"x\":1}}}", CODEC_ERR_UNKNOWN_FIELD,
     "unknown field \"x\" in google.protobuf.Any holding google.protobuf.Duration"},
    {E, "{\"wellKnown\":{\"any\":{\"@type\":\"t/google.protobuf.Duration\",\"value\":\"1\"}}}", CODEC_ERR_RANGE,
     "field \"wellKnown.any.value\": \"1\" is not a valid google.protobuf.Duration"},
    {E, "{\"wellKnown\":{\"any\":{\"@type\":\"t/google.protobuf.Duration\",\"value\":\"1s\",\"value\":\"2s\"}}}", CODEC_ERR_SYNTAX,
     "given more than once"},
    {E, "{\"wellKnown\":{\"any\":{\"a\":1,\"child\":{\"nums\":[1,{}]},\"@type\":\"t/portico.test.Nested\"}}}", CODEC_ERR_TYPE,
     "field \"wellKnown.any.child.nums[1]\": expected int32, got an object"},
    {E, "{\"wellKnown\":{\"any\":{\"@type\":\"t/google.protobuf.Value\"}}}", CODEC_ERR_ANY,
     "field \"wellKnown.any\": google.protobuf.Any holding google.protobuf.Value has no \"value\""},
    {E, "{\"wellKnown\":{\"any\":{\"@type\":\"t/google.protobuf.Timestamp\"}}}", CODEC_ERR_ANY,
     "google.protobuf.Any holding google.protobuf.Timestamp has no \"value\""},
    {E, "{\"wellKnown\":{\"any\":[]}}", CODEC_ERR_TYPE, "expected an object for google.protobuf.Any, got an array"},
    {E, "{\"wellKnown\":{\"any\":{\"a\":1,\"a\" 2}}}", CODEC_ERR_SYNTAX, "expected ':'"},
    /* Syntax errors come from the tokenizer with their position. */
    {E, "{\"scalars\":{\"fInt32\":1,}}", CODEC_ERR_SYNTAX, "invalid JSON at line 1 column 24: expected a string key after ','"},
    {E, "{\n\"nested\": {\"a\": 01}}", CODEC_ERR_SYNTAX, "invalid JSON at line 2 column 17: invalid number"},
    {E, "", CODEC_ERR_SYNTAX, "invalid JSON at line 1 column 1: unexpected end of input"},
    {E, "{} {}", CODEC_ERR_SYNTAX, "unexpected data after the JSON value"},
    {E, "{\"scalars\":{\"fInt32\":NaN}}", CODEC_ERR_SYNTAX, "expected a value"},
    {E, "{\"scalars\":{\"fInt32\":}}", CODEC_ERR_SYNTAX, "expected a value"},
    {E, "{\"scalars\"", CODEC_ERR_SYNTAX, "unexpected end of input"},
    {"google.protobuf.Timestamp", "{}", CODEC_ERR_TYPE, "expected a string for google.protobuf.Timestamp, got an object"},
    {"google.protobuf.Int32Value", "1.5", CODEC_ERR_TYPE, "1.5 is not an integer"},
};

static void test_error_cases(void)
{
    for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
        const error_case_t *tc = &error_cases[i];
        util_buf_t out = UTIL_BUF_INIT;
        util_error_t err = {0, ""};
        int rc = encode(tc->type, tc->json, NULL, &out, &err);
        if (rc != -1 || err.code != tc->code || strstr(err.message, tc->message) == NULL)
            fprintf(stderr, "error case %zu: %s\n", i, tc->json);
        CHECK_INT_EQ(rc, -1);
        CHECK_INT_EQ(err.code, tc->code);
        CHECK_STR_HAS(err.message, tc->message);
        util_buf_dispose(&out);
    }
}

/* ---------------------------------------------------------------------------------------
 * Options: ignore_unknown, max_depth, max_input
 */
static void test_ignore_unknown(void)
{
    static const decode_case_t cases[] = {
        {SMALL, "{\"colour\":{\"x\":[1,2,{\"y\":null}]},\"sku\":\"a\",\"@type\":1}", "sku: \"a\""},
        {SMALL, "{\"color\":\"PURPLE\",\"sku\":\"a\"}", "sku: \"a\""},
        {E, "{\"repeated\":{\"rEnum\":[\"RED\",\"PURPLE\",\"BLUE\"]}}", "repeated { r_enum: RED r_enum: BLUE }"},
        {E, "{\"repeated\":{\"rEnum\":[\"PURPLE\"]}}", "repeated { }"},
        {E, "{\"maps\":{\"mEnum\":{\"a\":\"PURPLE\",\"b\":\"RED\"}}}", "maps { m_enum { key: \"b\" value: RED } }"},
        {E, "{\"wellKnown\":{\"any\":{\"@type\":\"t/portico.test.Nested\",\"zz\":[],\"a\":3}}}",
         "well_known { any { type_url: \"t/portico.test.Nested\" value: \"\\010\\003\" } }"},
        {E, "{\"wellKnown\":{\"any\":{\"@type\":\"t/google.protobuf.Duration\",\"zz\":1,\"value\":\"3s\"}}}",
         "well_known { any { type_url: \"t/google.protobuf.Duration\" value: \"\\010\\003\" } }"},
        {E, "{\"choiceNested\":{\"zz\":1},\"opt_enum\":\"NOPE\"}", "choice_nested { }"},
        {LEGACY, "{\"size\":9,\"id\":1}", "id: 1"},
    };
    codec_options_t opt = {0};
    opt.ignore_unknown = 1;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        util_buf_t out = UTIL_BUF_INIT;
        util_error_t err = {0, ""};
        int rc = encode(cases[i].type, cases[i].json, &opt, &out, &err);
        if (rc != 0)
            fprintf(stderr, "ignore_unknown case %zu: %s\n", i, err.message);
        CHECK_INT_EQ(rc, 0);
        CHECK_STR_EQ(protoc_decode(cases[i].type, out.data, out.len), cases[i].text);
        util_buf_dispose(&out);
    }
    /* Skipped values are still syntax-checked, and known fields still type-checked. */
    static const error_case_t errors[] = {
        {SMALL, "{\"colour\":[1,],\"sku\":\"a\"}", CODEC_ERR_SYNTAX, "expected a value after ','"},
        {SMALL, "{\"colour\":\"\xff\"}", CODEC_ERR_UTF8, "invalid UTF-8"},
        {SMALL, "{\"colour\":1,\"quantity\":\"x\"}", CODEC_ERR_TYPE, "expected int32"},
    };
    for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
        util_buf_t out = UTIL_BUF_INIT;
        util_error_t err = {0, ""};
        CHECK_INT_EQ(encode(errors[i].type, errors[i].json, &opt, &out, &err), -1);
        CHECK_INT_EQ(err.code, errors[i].code);
        CHECK_STR_HAS(err.message, errors[i].message);
        util_buf_dispose(&out);
    }
}

static void test_limits(void)
{
    /* Depth: nested.child.child... with max_depth objects allowed. */
    for (uint32_t depth = 2; depth <= 40; depth += 6) {
        util_buf_t json = UTIL_BUF_INIT;
        util_buf_puts(&json, "{\"nested\":");
        for (uint32_t i = 1; i < depth; i++)
            util_buf_puts(&json, i + 1 < depth ? "{\"child\":" : "{}");
        for (uint32_t i = 2; i < depth; i++)
            util_buf_putc(&json, '}');
        util_buf_puts(&json, "}");
        util_buf_putc(&json, 0);
        codec_options_t opt = {0};
        opt.max_depth = depth;
        util_buf_t out = UTIL_BUF_INIT;
        util_error_t err = {0, ""};
        CHECK_INT_EQ(encode(E, (char *)json.data, &opt, &out, &err), 0);
        opt.max_depth = depth - 1;
        CHECK_INT_EQ(encode(E, (char *)json.data, &opt, &out, &err), -1);
        CHECK_INT_EQ(err.code, CODEC_ERR_DEPTH);
        CHECK_STR_HAS(err.message, "JSON nesting deeper than");
        util_buf_dispose(&out);
        util_buf_dispose(&json);
    }
    /* The default depth limit holds against a deeply nested Struct (no stack overflow). */
    {
        util_buf_t json = UTIL_BUF_INIT;
        util_buf_puts(&json, "{\"wellKnown\":{\"value\":");
        for (int i = 0; i < 100000; i++)
            util_buf_putc(&json, '[');
        util_buf_putc(&json, 0);
        util_buf_t out = UTIL_BUF_INIT;
        util_error_t err = {0, ""};
        CHECK_INT_EQ(encode(E, (char *)json.data, NULL, &out, &err), -1);
        CHECK_INT_EQ(err.code, CODEC_ERR_DEPTH);
        CHECK_STR_HAS(err.message, "JSON nesting deeper than 100");
        /* a max_depth above CODEC_MAX_DEPTH_LIMIT is clamped to it */
        codec_options_t deep = {0};
        deep.max_depth = 1000000;
        out.len = 0;
        CHECK_INT_EQ(encode(E, (char *)json.data, &deep, &out, &err), -1);
        CHECK_INT_EQ(err.code, CODEC_ERR_DEPTH);
        CHECK_STR_HAS(err.message, "JSON nesting deeper than 1000");
        util_buf_dispose(&out);
        util_buf_dispose(&json);
    }
    /* Size: checked before parsing. */
    {
        codec_options_t opt = {0};
        opt.max_input = 10;
        util_buf_t out = UTIL_BUF_INIT;
        util_error_t err = {0, ""};
        CHECK_INT_EQ(encode(E, "{\"nested\":{}}", &opt, &out, &err), -1);
        CHECK_INT_EQ(err.code, CODEC_ERR_SIZE);
        CHECK_STR_HAS(err.message, "JSON input of 13 bytes is larger than the limit of 10 bytes");
        CHECK_INT_EQ(out.len, 0);
        opt.max_input = 13;
        CHECK_INT_EQ(encode(E, "{\"nested\":{}}", &opt, &out, &err), 0);
        util_buf_dispose(&out);
    }
}

/* Maps with many keys (the duplicate check switches to a hash index): every key is kept,
 * and a duplicate is found wherever it is. */
static void test_big_maps(void)
{
    static const size_t sizes[] = {15, 16, 17, 33, 100, 1000, 5000};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i];
        for (int dup = 0; dup <= 1; dup++) {
            util_buf_t json = UTIL_BUF_INIT;
            util_buf_puts(&json, "{\"maps\":{\"mInt32\":{");
            for (size_t k = 0; k < n; k++)
                util_buf_printf(&json, "%s\"%zu\":%zu", k ? "," : "", k * 7919 % 100003, k);
            if (dup)
                util_buf_printf(&json, ",\"%zu\":1", (n / 2) * 7919 % 100003);
            util_buf_puts(&json, "},\"mString\":{\"a\":{\"x\":[1]}}}}");
            util_buf_putc(&json, 0);
            util_buf_t out = UTIL_BUF_INIT;
            util_error_t err = {0, ""};
            /* mString values must be strings: only reached without the duplicate. */
            CHECK_INT_EQ(encode(E, (char *)json.data, NULL, &out, &err), -1);
            if (dup) {
                CHECK_INT_EQ(err.code, CODEC_ERR_SYNTAX);
                CHECK_STR_HAS(err.message, "is given more than once");
            } else {
                CHECK_INT_EQ(err.code, CODEC_ERR_TYPE);
                CHECK_STR_HAS(err.message, "field \"maps.mString[a]\": expected a string, got an object");
                /* Without the bad tail the map encodes, one entry per key. */
                util_buf_t ok = UTIL_BUF_INIT;
                util_buf_append(&ok, json.data, json.len);
                char *tail = strstr((char *)ok.data, ",\"mString\"");
                strcpy(tail, "}}");
                out.len = 0;
                CHECK_INT_EQ(encode(E, (char *)ok.data, NULL, &out, &err), 0);
                char *text = protoc_decode(E, out.data, out.len);
                size_t entries = 0;
                for (char *p = text; (p = strstr(p, "m_int32 {")) != NULL; p++)
                    entries++;
                CHECK_INT_EQ(entries, n);
                util_buf_dispose(&ok);
            }
            util_buf_dispose(&out);
            util_buf_dispose(&json);
        }
    }
}

/* The codec appends: existing bytes of |out| are kept. */
static void test_appends(void)
{
    util_buf_t out = UTIL_BUF_INIT;
    util_buf_append(&out, "\xaa\xbb", 2);
    util_error_t err = {0, ""};
    CHECK_INT_EQ(encode(E, "{\"nested\":{\"a\":1}}", NULL, &out, &err), 0);
    CHECK_STR_EQ(hex(out.data, out.len), "aa bb 2a 02 08 01");
    util_buf_dispose(&out);
}

/* ---------------------------------------------------------------------------------------
 * codec_text_to_pb
 */
typedef struct {
    const char *type;
    const char *field;
    const char *text;
    const char *hex; /* NULL: an error is expected */
    int code;
    const char *message;
} text_case_t;

#define SC "portico.test.Scalars"
#define WK "portico.test.WellKnown"
#define RP "portico.test.Repeated"

static const text_case_t text_cases[] = {
    {SC, "f_int32", "5", "28 05", 0, NULL},
    {SC, "f_int32", "-1", "28 ff ff ff ff ff ff ff ff ff 01", 0, NULL},
    {SC, "f_int32", "1e2", "28 64", 0, NULL},
    {SC, "f_int32", "0", "28 00", 0, NULL},
    {SC, "f_int32", "abc", NULL, CODEC_ERR_TYPE, "field \"f_int32\": expected int32, got \"abc\""},
    {SC, "f_int32", "1.5", NULL, CODEC_ERR_TYPE, "field \"f_int32\": 1.5 is not an integer"},
    {SC, "f_int32", "", NULL, CODEC_ERR_TYPE, "expected int32, got \"\""},
    {SC, "f_int32", "99999999999", NULL, CODEC_ERR_RANGE, "99999999999 is out of range for int32"},
    {SC, "f_uint64", "18446744073709551615", "20 ff ff ff ff ff ff ff ff ff 01", 0, NULL},
    {SC, "f_sint64", "-2", "90 01 03", 0, NULL},
    {SC, "f_fixed32", "1", "3d 01 00 00 00", 0, NULL},
    {SC, "f_string", "h\xc3\xa9", "4a 03 68 c3 a9", 0, NULL},
    {SC, "f_string", "", "4a 00", 0, NULL},
    {SC, "f_string", "a b\"c", "4a 05 61 20 62 22 63", 0, NULL},
    {SC, "f_string", "\xc3", NULL, CODEC_ERR_UTF8, "invalid UTF-8"},
    {SC, "f_bool", "true", "40 01", 0, NULL},
    {SC, "f_bool", "1", "40 01", 0, NULL},
    {SC, "f_bool", "False", "40 00", 0, NULL},
    {SC, "f_bool", "yes", NULL, CODEC_ERR_TYPE, "expected bool (true or false), got \"yes\""},
    {SC, "f_enum", "BLUE", "70 03", 0, NULL},
    {SC, "f_enum", "2", "70 02", 0, NULL},
    {SC, "f_enum", "PURPLE", NULL, CODEC_ERR_UNKNOWN_FIELD, "unknown enum value \"PURPLE\" for portico.test.Color"},
    {SC, "f_bytes", "AQID", "62 03 01 02 03", 0, NULL},
    {SC, "f_bytes", "-_8", "62 02 fb ff", 0, NULL},
    {SC, "f_bytes", "*", NULL, CODEC_ERR_TYPE, "is not valid base64"},
    {SC, "f_double", "NaN", "09 00 00 00 00 00 00 f8 7f", 0, NULL},
    {SC, "f_double", "-Infinity", "09 00 00 00 00 00 00 f0 ff", 0, NULL},
    {SC, "f_double", "1.5", "09 00 00 00 00 00 00 f8 3f", 0, NULL},
    {SC, "f_float", "1e39", NULL, CODEC_ERR_RANGE, "1e39 is out of range for float"},
    {SC, "f_float", "x", NULL, CODEC_ERR_TYPE, "expected float, got \"x\""},
    {WK, "timestamp", "1970-01-01T00:00:01Z", "12 02 08 01", 0, NULL},
    {WK, "timestamp", "yesterday", NULL, CODEC_ERR_RANGE, "\"yesterday\" is not a valid google.protobuf.Timestamp"},
    {WK, "duration", "1.5s", "1a 08 08 01 10 80 ca b5 ee 01", 0, NULL},
    {WK, "field_mask", "a,bC", "22 08 0a 01 61 0a 03 62 5f 63", 0, NULL},
    {WK, "int32_value", "0", "72 00", 0, NULL},
    {WK, "int32_value", "5", "72 02 08 05", 0, NULL},
    {WK, "bool_value", "true", "82 01 02 08 01", 0, NULL},
    {WK, "string_value", "s", "8a 01 03 0a 01 73", 0, NULL},
    {WK, "string_value", "", "8a 01 00", 0, NULL},
    {WK, "r_int32_value", "3", "b2 01 02 08 03", 0, NULL},
    {WK, "struct", "{}", NULL, CODEC_ERR_TYPE, "a google.protobuf.Struct cannot be given as text"},
    {WK, "any", "x", NULL, CODEC_ERR_TYPE, "cannot be given as text"},
    {RP, "r_int32", "5", "28 05", 0, NULL},
    {RP, "r_string", "x", "4a 01 78", 0, NULL},
    {RP, "r_nested", "x", NULL, CODEC_ERR_TYPE, "a portico.test.Nested cannot be given as text"},
    {"portico.test.Maps", "m_string", "x", NULL, CODEC_ERR_TYPE, "field \"m_string\": a map field cannot be given as text"},
    {E, "nested", "x", NULL, CODEC_ERR_TYPE, "cannot be given as text"},
    {E, "choice_null", "NULL_VALUE", "68 00", 0, NULL},
    {LEGACY, "size", "3", NULL, CODEC_ERR_UNKNOWN_FIELD, "unknown enum number 3 for portico.test2.Size"},
};

static void test_text_cases(void)
{
    for (size_t i = 0; i < sizeof(text_cases) / sizeof(text_cases[0]); i++) {
        const text_case_t *tc = &text_cases[i];
        const proto_message_t *m = message(tc->type);
        const proto_field_t *f = proto_message_field_by_name(m, tc->field, strlen(tc->field));
        CHECK(f != NULL);
        if (f == NULL)
            continue;
        util_buf_t out = UTIL_BUF_INIT;
        util_error_t err = {0, ""};
        int rc = codec_text_to_pb(reg, f, tc->text, strlen(tc->text), &out, &err);
        if (tc->hex != NULL) {
            if (rc != 0)
                fprintf(stderr, "text case %zu: %s\n", i, err.message);
            CHECK_INT_EQ(rc, 0);
            CHECK_STR_EQ(hex(out.data, out.len), tc->hex);
        } else {
            CHECK_INT_EQ(rc, -1);
            CHECK_INT_EQ(err.code, tc->code);
            CHECK_STR_HAS(err.message, tc->message);
        }
        util_buf_dispose(&out);
    }
}

int main(void)
{
    util_error_t err = {0, ""};
    reg = proto_registry_new();
    if (proto_registry_load_file(reg, test_desc_path("codec_test.pb"), &err) != 0 ||
        proto_registry_load_file(reg, test_desc_path("codec_proto2.pb"), &err) != 0) {
        fprintf(stderr, "cannot load the test descriptor sets: %s\n", err.message);
        return 1;
    }
    test_decode_cases();
    test_hex_cases();
    test_long_values();
    test_error_cases();
    test_ignore_unknown();
    test_limits();
    test_big_maps();
    test_appends();
    test_text_cases();
    proto_registry_free(reg);
    return test_summary();
}
