/*
 * codec_pb_to_json_test.c — codec_pb_to_json() (src/proto/pb_to_json.c): protobuf wire
 * bytes → proto3 JSON. One table of cases; each gives the input either as protobuf text
 * format (encoded by protoc at run time; parts separated by "\n--\n" are encoded one by one
 * and concatenated, which is how a field comes to appear several times on the wire) or as
 * hand-written hex, and expects either exact JSON or an error code and message fragment.
 * A few generated inputs (deep nesting, big maps) and output-buffer properties follow.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/proto.h"
#include "test.h"

enum { O_EMIT = 1, O_NAMES = 2, O_INTS = 4 };

typedef struct {
    const char *type;   /* message full name */
    const char *text;   /* protoc text format ("--" lines split parts), or NULL */
    const char *hex;    /* wire bytes in hex (spaces ignored), or NULL */
    unsigned opts;      /* O_* */
    const char *expect; /* JSON, or NULL when an error is expected */
    int code;           /* expected error code */
    const char *msg;    /* fragment of the expected error message */
} case_t;

#define E "portico.test.Everything"
#define S "portico.test.Scalars"
#define R "portico.test.Repeated"
#define M "portico.test.Maps"
#define W "portico.test.WellKnown"
#define N "portico.test.Nested"
#define L "portico.test2.Legacy"

static const case_t cases[] = {
    /* --- scalars ------------------------------------------------------------------------ */
    {S,
     "f_double: 1.5 f_float: 0.25 f_int64: -5 f_uint64: 18446744073709551615 f_int32: -7 f_fixed64: 9 "
     "f_fixed32: 10 f_bool: true f_string: \"hi\" f_bytes: \"a\\001b\" f_uint32: 4294967295 f_enum: BLUE "
     "f_sfixed32: -3 f_sfixed64: -4 f_sint32: -9 f_sint64: -10",
     NULL, 0,
     "{\"fDouble\":1.5,\"fFloat\":0.25,\"fInt64\":\"-5\",\"fUint64\":\"18446744073709551615\",\"fInt32\":-7,"
     "\"fFixed64\":\"9\",\"fFixed32\":10,\"fBool\":true,\"fString\":\"hi\",\"fBytes\":\"YQFi\",\"fUint32\":4294967295,"
     "\"fEnum\":\"BLUE\",\"fSfixed32\":-3,\"fSfixed64\":\"-4\",\"fSint32\":-9,\"fSint64\":\"-10\"}",
     0, NULL},
    {S, "f_int64: -9223372036854775808 f_int32: -2147483648 f_sint32: -2147483648 f_sint64: -9223372036854775808", NULL, 0,
     "{\"fInt64\":\"-9223372036854775808\",\"fInt32\":-2147483648,\"fSint32\":-2147483648,"
     "\"fSint64\":\"-9223372036854775808\"}",
     0, NULL},
    {S, "f_sfixed64: 9223372036854775807 f_sint32: 2147483647 f_fixed64: 18446744073709551615", NULL, 0,
     "{\"fFixed64\":\"18446744073709551615\",\"fSfixed64\":\"9223372036854775807\",\"fSint32\":2147483647}", 0, NULL},
    /* proto3 defaults written explicitly on the wire are still omitted */
    {S, NULL, "09 0000000000000000 15 00000000 18 00 28 00 40 00 4a 00 62 00 70 00", 0, "{}", 0, NULL},
    /* int32 keeps the low 32 bits of a 64-bit varint */
    {S, NULL, "28 ffffffff0f", 0, "{\"fInt32\":-1}", 0, NULL},
    {S, NULL, "28 80808080 10", 0, "{}", 0, NULL},
    {S, NULL, "", O_EMIT,
     "{\"fDouble\":0,\"fFloat\":0,\"fInt64\":\"0\",\"fUint64\":\"0\",\"fInt32\":0,\"fFixed64\":\"0\",\"fFixed32\":0,"
     "\"fBool\":false,\"fString\":\"\",\"fBytes\":\"\",\"fUint32\":0,\"fEnum\":\"COLOR_UNSPECIFIED\",\"fSfixed32\":0,"
     "\"fSfixed64\":\"0\",\"fSint32\":0,\"fSint64\":\"0\"}",
     0, NULL},
    {S, "f_int32: 5", NULL, O_NAMES, "{\"f_int32\":5}", 0, NULL},
    {S, "f_enum: RED", NULL, O_INTS, "{\"fEnum\":1}", 0, NULL},
    {S, NULL, "", O_EMIT | O_INTS | O_NAMES,
     "{\"f_double\":0,\"f_float\":0,\"f_int64\":\"0\",\"f_uint64\":\"0\",\"f_int32\":0,\"f_fixed64\":\"0\","
     "\"f_fixed32\":0,\"f_bool\":false,\"f_string\":\"\",\"f_bytes\":\"\",\"f_uint32\":0,\"f_enum\":0,"
     "\"f_sfixed32\":0,\"f_sfixed64\":\"0\",\"f_sint32\":0,\"f_sint64\":\"0\"}",
     0, NULL},
    /* enums: negative, unknown number */
    {S, "f_enum: NEGATIVE", NULL, 0, "{\"fEnum\":\"NEGATIVE\"}", 0, NULL},
    {S, NULL, "70 07", 0, "{\"fEnum\":7}", 0, NULL},
    {S, NULL, "70 07", O_INTS, "{\"fEnum\":7}", 0, NULL},
    /* last occurrence of a singular scalar wins */
    {S, NULL, "28 01 28 02 40 01 28 03", 0, "{\"fInt32\":3,\"fBool\":true}", 0, NULL},
    {S, "f_string: \"first\"\n--\nf_string: \"second\"", NULL, 0, "{\"fString\":\"second\"}", 0, NULL},
    /* floating point: shortest round trip, specials, -0 */
    {S, "f_double: 0.1 f_float: 0.1", NULL, 0, "{\"fDouble\":0.1,\"fFloat\":0.1}", 0, NULL},
    {S, "f_double: 1e20 f_float: 16777216", NULL, 0, "{\"fDouble\":1e+20,\"fFloat\":16777216}", 0, NULL},
    {S, "f_double: 123456789012 f_float: 1234567", NULL, 0, "{\"fDouble\":123456789012,\"fFloat\":1234567}", 0, NULL},
    {S, "f_double: 1e15", NULL, 0, "{\"fDouble\":1e+15}", 0, NULL},
    {S, "f_double: 0.30000000000000004", NULL, 0, "{\"fDouble\":0.30000000000000004}", 0, NULL},
    {S, "f_double: 0.3333333333333333", NULL, 0, "{\"fDouble\":0.3333333333333333}", 0, NULL},
    {S, "f_double: -2.5e-300 f_float: 3.4028235e38", NULL, 0, "{\"fDouble\":-2.5e-300,\"fFloat\":3.4028235e+38}", 0, NULL},
    {S, "f_float: 1.1", NULL, 0, "{\"fFloat\":1.1}", 0, NULL},
    {S, "f_double: 1.7976931348623157e308 f_float: 1e-5", NULL, 0, "{\"fDouble\":1.7976931348623157e+308,\"fFloat\":1e-05}", 0,
     NULL},
    {S, "f_double: 2.2250738585072014e-308 f_float: 0.33333334", NULL, 0,
     "{\"fDouble\":2.2250738585072014e-308,\"fFloat\":0.33333334}", 0, NULL},
    {S, "f_double: 1e-7 f_float: 1.17549435e-38", NULL, 0, "{\"fDouble\":1e-07,\"fFloat\":1.1754944e-38}", 0, NULL},
    {S, "f_double: 1e100 f_float: 7e-45", NULL, 0, "{\"fDouble\":1e+100,\"fFloat\":7.00649e-45}", 0, NULL},
    {S, "f_double: -123456.789e-10", NULL, 0, "{\"fDouble\":-1.23456789e-05}", 0, NULL},
    {S, "f_double: 9007199254740993", NULL, 0, "{\"fDouble\":9007199254740992}", 0, NULL},
    {S, "f_double: 123456789012345678", NULL, 0, "{\"fDouble\":1.2345678901234568e+17}", 0, NULL},
    {S, "f_double: 0.1234567890123456789", NULL, 0, "{\"fDouble\":0.12345678901234568}", 0, NULL},
    {S, "f_float: 0.2", NULL, 0, "{\"fFloat\":0.2}", 0, NULL},
    {S, NULL, "09 0100000000000000", 0, "{\"fDouble\":5e-324}", 0, NULL}, /* smallest subnormal */
    {S, NULL, "15 01000000", 0, "{\"fFloat\":1.4013e-45}", 0, NULL},      /* %.6g is the floor */
    {S, NULL, "09 0000000000000080 15 00000080", 0, "{\"fDouble\":-0,\"fFloat\":-0}", 0, NULL},
    {S, NULL, "09 000000000000f87f 15 0000c07f", 0, "{\"fDouble\":\"NaN\",\"fFloat\":\"NaN\"}", 0, NULL},
    {S, NULL, "09 000000000000f07f 15 000080ff", 0, "{\"fDouble\":\"Infinity\",\"fFloat\":\"-Infinity\"}", 0, NULL},
    {S, NULL, "09 000000000000f0ff", 0, "{\"fDouble\":\"-Infinity\"}", 0, NULL},
    /* strings: escaping as protobuf's C++ writer does, UTF-8 passed through */
    {S, "f_string: \"a\\\"b\\\\c/\\n\\t\\r\\b\\f\\001\\037<>&'\\177\"", NULL, 0,
     "{\"fString\":\"a\\\"b\\\\c/\\n\\t\\r\\b\\f\\u0001\\u001f\\u003c\\u003e&'\\u007f\"}", 0, NULL},
    {S, NULL, "4a 0d c3a9 e4b8ad f09f9880 c2a9 dfbf", 0, "{\"fString\":\"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\xc2\xa9\xdf\xbf\"}",
     0, NULL},
    /* U+0085, U+00AD, U+2028, U+FEFF, U+E0001 are escaped (the last as a surrogate pair) */
    {S, NULL, "4a 0e c285 c2ad e280a8 efbbbf f3a08081", 0, "{\"fString\":\"\\u0085\\u00ad\\u2028\\ufeff\\udb40\\udc01\"}", 0, NULL},
    {S, NULL, "4a 03 61 00 62", 0, "{\"fString\":\"a\\u0000b\"}", 0, NULL},
    {S, NULL, "4a 02 c0 80", 0, NULL, CODEC_ERR_UTF8, "field \"fString\": invalid UTF-8 in string"}, /* overlong */
    {S, NULL, "4a 03 eda080", 0, NULL, CODEC_ERR_UTF8, "invalid UTF-8"},                             /* surrogate */
    {S, NULL, "4a 02 e4b8", 0, NULL, CODEC_ERR_UTF8, "invalid UTF-8"},                               /* truncated */
    {S, NULL, "4a 01 80", 0, NULL, CODEC_ERR_UTF8, "invalid UTF-8"},                                 /* continuation */
    {S, NULL, "4a 04 f4908080", 0, NULL, CODEC_ERR_UTF8, "invalid UTF-8"},                           /* > U+10FFFF */
    {S, NULL, "4a 01 ff", 0, NULL, CODEC_ERR_UTF8, "invalid UTF-8"},
    {S, NULL, "4a 01 ff", O_NAMES, NULL, CODEC_ERR_UTF8, "field \"f_string\": invalid UTF-8 in string"},
    /* bytes: standard base64 with padding; invalid UTF-8 is fine there */
    {S, NULL, "62 01 ff", 0, "{\"fBytes\":\"/w==\"}", 0, NULL},
    {S, "f_bytes: \"ab\"", NULL, 0, "{\"fBytes\":\"YWI=\"}", 0, NULL},
    {S, "f_bytes: \"\\373\\357\\377\"", NULL, 0, "{\"fBytes\":\"++//\"}", 0, NULL},

    /* --- repeated --------------------------------------------------------------------- */
    {R,
     "r_double: [1, 2.5] r_float: [0.5] r_int64: [-1] r_uint64: [1] r_int32: [1, -1] r_fixed64: [2] r_fixed32: [3] "
     "r_bool: [true, false] r_string: [\"a\", \"\"] r_bytes: [\"\\377\"] r_uint32: [4] r_enum: [RED, NEGATIVE] "
     "r_sfixed32: [-5] r_sfixed64: [-6] r_sint32: [-7] r_sint64: [-8] r_nested { a: 1 } r_nested { } r_unpacked: [9, 0]",
     NULL, 0,
     "{\"rDouble\":[1,2.5],\"rFloat\":[0.5],\"rInt64\":[\"-1\"],\"rUint64\":[\"1\"],\"rInt32\":[1,-1],"
     "\"rFixed64\":[\"2\"],\"rFixed32\":[3],\"rBool\":[true,false],\"rString\":[\"a\",\"\"],\"rBytes\":[\"/w==\"],"
     "\"rUint32\":[4],\"rEnum\":[\"RED\",\"NEGATIVE\"],\"rSfixed32\":[-5],\"rSfixed64\":[\"-6\"],\"rSint32\":[-7],"
     "\"rSint64\":[\"-8\"],\"rNested\":[{\"a\":1},{}],\"rUnpacked\":[9,0]}",
     0, NULL},
    /* packed and unpacked mixed, interleaved with other fields, in one array in wire order */
    {R, NULL, "2a 02 01 02 28 03 42 01 01 2a 01 04 28 05", 0, "{\"rInt32\":[1,2,3,4,5],\"rBool\":[true]}", 0, NULL},
    /* a [packed = false] field accepts packed data, and an empty packed run adds nothing */
    {R, NULL, "a2 01 03 01 02 03 2a 00", 0, "{\"rUnpacked\":[1,2,3]}", 0, NULL},
    {R, NULL, "3a 08 01000000 02000000 3d 03000000", 0, "{\"rFixed32\":[1,2,3]}", 0, NULL},
    {R, NULL, "0a 08 000000000000f03f 09 0000000000000040", 0, "{\"rDouble\":[1,2]}", 0, NULL},
    {R, NULL, "", O_EMIT,
     "{\"rDouble\":[],\"rFloat\":[],\"rInt64\":[],\"rUint64\":[],\"rInt32\":[],\"rFixed64\":[],\"rFixed32\":[],"
     "\"rBool\":[],\"rString\":[],\"rBytes\":[],\"rUint32\":[],\"rEnum\":[],\"rSfixed32\":[],\"rSfixed64\":[],"
     "\"rSint32\":[],\"rSint64\":[],\"rNested\":[],\"rUnpacked\":[]}",
     0, NULL},
    {R, NULL, "3a 07 01000000 020000", 0, NULL, CODEC_ERR_WIRE, "not a multiple of 4"},
    {R, NULL, "32 09 0000000000000000 00", 0, NULL, CODEC_ERR_WIRE, "not a multiple of 8"},
    {R, NULL, "2a 02 01 80", 0, NULL, CODEC_ERR_WIRE, "invalid protobuf at byte 3: truncated varint"},
    {R, NULL, "4a 01 61 4a 01 ff", 0, NULL, CODEC_ERR_UTF8, "field \"rString[1]\": invalid UTF-8 in string"},
    {R, "r_nested { a: 1 } r_nested { b: \"x\" child { nums: [1, 2] } }", NULL, O_NAMES,
     "{\"r_nested\":[{\"a\":1},{\"b\":\"x\",\"child\":{\"nums\":[1,2]}}]}", 0, NULL},

    /* --- maps ------------------------------------------------------------------------- */
    {M,
     "m_string { key: \"k\" value: \"v\" } m_int32 { key: -1 value: -2 } m_int64 { key: -3 value: -4 } "
     "m_uint32 { key: 4294967295 value: 5 } m_uint64 { key: 18446744073709551615 value: 6 } "
     "m_sint32 { key: -7 value: -8 } m_sint64 { key: -9 value: -10 } m_fixed32 { key: 11 value: 12 } "
     "m_fixed64 { key: 13 value: 14 } m_sfixed32 { key: -15 value: -16 } m_sfixed64 { key: -17 value: -18 } "
     "m_bool { key: true value: false } m_nested { key: \"n\" value { a: 19 } } "
     "m_enum { key: \"e\" value: BLUE } m_bytes { key: \"b\" value: \"\\377\" } m_double { key: \"d\" value: 0.5 } "
     "m_value { key: \"x\" value { list_value { values { number_value: 1 } values { string_value: \"s\" } } } }",
     NULL, 0,
     "{\"mString\":{\"k\":\"v\"},\"mInt32\":{\"-1\":-2},\"mInt64\":{\"-3\":\"-4\"},\"mUint32\":{\"4294967295\":5},"
     "\"mUint64\":{\"18446744073709551615\":\"6\"},\"mSint32\":{\"-7\":-8},\"mSint64\":{\"-9\":\"-10\"},"
     "\"mFixed32\":{\"11\":12},\"mFixed64\":{\"13\":\"14\"},\"mSfixed32\":{\"-15\":-16},\"mSfixed64\":{\"-17\":\"-18\"},"
     "\"mBool\":{\"true\":false},\"mNested\":{\"n\":{\"a\":19}},\"mEnum\":{\"e\":\"BLUE\"},"
     "\"mBytes\":{\"b\":\"/w==\"},\"mDouble\":{\"d\":0.5},\"mValue\":{\"x\":[1,\"s\"]}}",
     0, NULL},
    {M, NULL, "62 04 08 01 10 00 62 04 08 00 10 01 62 00", 0, "{\"mBool\":{\"true\":false,\"false\":false}}", 0, NULL},
    /* a later duplicate key replaces the value and keeps the first position */
    {M,
     "m_string { key: \"a\" value: \"1\" }\n--\nm_string { key: \"b\" value: \"2\" }\n--\n"
     "m_string { key: \"a\" value: \"3\" } m_int32 { key: 1 value: 1 }\n--\nm_int32 { key: 1 value: 2 }",
     NULL, 0, "{\"mString\":{\"a\":\"3\",\"b\":\"2\"},\"mInt32\":{\"1\":2}}", 0, NULL},
    /* missing key or value: the defaults */
    {M, NULL, "0a 00 12 02 10 05 12 02 08 07 6a 03 0a 01 6b", 0,
     "{\"mString\":{\"\":\"\"},\"mInt32\":{\"0\":5,\"7\":0},\"mNested\":{\"k\":{}}}", 0, NULL},
    /* within an entry, the last key wins */
    {M, NULL, "12 04 08 01 08 02", 0, "{\"mInt32\":{\"2\":0}}", 0, NULL},
    {M, "m_enum { key: \"e\" }", NULL, O_INTS, "{\"mEnum\":{\"e\":0}}", 0, NULL},
    {M, "m_string { key: \"<\\\"k\\\">\" value: \"v\" }", NULL, 0, "{\"mString\":{\"\\u003c\\\"k\\\"\\u003e\":\"v\"}}", 0, NULL},
    {M, NULL, "", O_EMIT,
     "{\"mString\":{},\"mInt32\":{},\"mInt64\":{},\"mUint32\":{},\"mUint64\":{},\"mSint32\":{},\"mSint64\":{},"
     "\"mFixed32\":{},\"mFixed64\":{},\"mSfixed32\":{},\"mSfixed64\":{},\"mBool\":{},\"mNested\":{},\"mEnum\":{},"
     "\"mBytes\":{},\"mDouble\":{},\"mValue\":{}}",
     0, NULL},
    {M, NULL, "0a 03 0a 01 ff", 0, NULL, CODEC_ERR_UTF8, "field \"mString\": invalid UTF-8 in map key"},
    {M, NULL, "6a 08 0a 01 6b 12 03 12 01 80", 0, NULL, CODEC_ERR_UTF8, "field \"mNested[\"k\"].b\": invalid UTF-8"},
    {M, NULL, "12 03 08 01 10", 0, NULL, CODEC_ERR_WIRE, "field \"mInt32[0]\": invalid protobuf at byte 5: truncated"},
    {M, "m_value { key: \"x\" }", NULL, 0, NULL, CODEC_ERR_TYPE, "field \"mValue[\"x\"]\": google.protobuf.Value has no kind"},

    /* --- messages: merge, oneof, optional, presence --------------------------------------- */
    {E, "nested { a: 1 nums: [1] child { a: 5 } }\n--\nnested { b: \"x\" nums: [2] child { b: \"y\" } }", NULL, 0,
     "{\"nested\":{\"a\":1,\"b\":\"x\",\"child\":{\"a\":5,\"b\":\"y\"},\"nums\":[1,2]}}", 0, NULL},
    {E, "nested { a: 1 }\n--\nnested { a: 2 }", NULL, 0, "{\"nested\":{\"a\":2}}", 0, NULL},
    {E, "nested { }", NULL, 0, "{\"nested\":{}}", 0, NULL},
    {E, "choice_string: \"s\"\n--\nchoice_int: 0", NULL, 0, "{\"choiceInt\":0}", 0, NULL},
    {E, "choice_int: 4\n--\nchoice_string: \"\"", NULL, 0, "{\"choiceString\":\"\"}", 0, NULL},
    /* a message member merges only the occurrences after the last other member */
    {E, "choice_nested { a: 1 }\n--\nchoice_int: 3\n--\nchoice_nested { b: \"x\" }\n--\nchoice_nested { nums: 1 }", NULL, 0,
     "{\"choiceNested\":{\"b\":\"x\",\"nums\":[1]}}", 0, NULL},
    {E, "choice_nested { a: 1 }\n--\nchoice_nested { b: \"x\" }", NULL, 0, "{\"choiceNested\":{\"a\":1,\"b\":\"x\"}}", 0, NULL},
    {E, "choice_null: NULL_VALUE", NULL, 0, "{\"choiceNull\":null}", 0, NULL},
    {E, "choice_null: NULL_VALUE", NULL, O_INTS, "{\"choiceNull\":0}", 0, NULL},
    {E, "opt_int32: 0 opt_string: \"\" opt_enum: COLOR_UNSPECIFIED", NULL, 0,
     "{\"optInt32\":0,\"optString\":\"\",\"optEnum\":\"COLOR_UNSPECIFIED\"}", 0, NULL},
    {E, "custom_json: 1 snake_case_name: \"s\" field_with_1_digit: 2", NULL, 0,
     "{\"renamed_Field\":1,\"snakeCaseName\":\"s\",\"fieldWith1Digit\":2}", 0, NULL},
    {E, "custom_json: 1 snake_case_name: \"s\" field_with_1_digit: 2", NULL, O_NAMES,
     "{\"custom_json\":1,\"snake_case_name\":\"s\",\"field_with_1_digit\":2}", 0, NULL},
    /* emit_defaults: no messages, oneofs or optionals */
    {E, "", NULL, O_EMIT, "{\"renamed_Field\":0,\"snakeCaseName\":\"\",\"fieldWith1Digit\":0}", 0, NULL},
    /* fields print in declaration order whatever the wire order */
    {E, NULL, "f0 01 02 2a 02 08 01 a0 01 03", 0, "{\"nested\":{\"a\":1},\"optInt32\":3,\"renamed_Field\":2}", 0, NULL},

    /* --- unknown fields and wire types -------------------------------------------------- */
    /* unknown varint, fixed64, length, fixed32, and a group holding a nested group */
    {N, NULL, "b8 06 96 01 c1 06 0102030405060708 ca 06 02 6869 d5 06 01020304 db 06 08 01 e3 06 e4 06 dc 06 08 07", 0, "{\"a\":7}",
     0, NULL},
    /* a known field with a wire type that does not fit is an unknown field */
    {N, NULL, "0a 01 05 10 01 1d 01000000 08 02", 0, "{\"a\":2}", 0, NULL},
    {N, NULL, "08", 0, NULL, CODEC_ERR_WIRE, "invalid protobuf at byte 1: truncated varint"},
    {N, NULL, "80", 0, NULL, CODEC_ERR_WIRE, "invalid protobuf at byte 0: truncated varint"},
    {N, NULL, "08 ffffffffffffffffffff01", 0, NULL, CODEC_ERR_WIRE, "varint longer than 10 bytes"},
    {N, NULL, "12 05 61", 0, NULL, CODEC_ERR_WIRE, "invalid protobuf at byte 1: length 5 past the end (1 bytes left)"},
    {N, NULL, "12 ffffffffffffffff7f", 0, NULL, CODEC_ERR_WIRE, "past the end"},
    {N, NULL, "08 01 0e", 0, NULL, CODEC_ERR_WIRE, "invalid protobuf at byte 2: invalid wire type 6"},
    {N, NULL, "0f", 0, NULL, CODEC_ERR_WIRE, "invalid wire type 7"},
    {N, NULL, "08 01 ce 06", 0, NULL, CODEC_ERR_WIRE, "invalid protobuf at byte 2: invalid wire type 6"},
    {N, NULL, "08 01 cc 06", 0, NULL, CODEC_ERR_WIRE, "invalid protobuf at byte 2: end-group tag without a start-group"},
    {N, NULL, "00", 0, NULL, CODEC_ERR_WIRE, "invalid protobuf at byte 0: field number 0"},
    {N, NULL, "0c", 0, NULL, CODEC_ERR_WIRE, "end-group tag without a start-group"},
    {N, NULL, "cb 06 08 01", 0, NULL, CODEC_ERR_WIRE, "unterminated group"},
    {N, NULL, "cb 06 d4 06", 0, NULL, CODEC_ERR_WIRE, "end-group tag does not match"},
    {N, NULL, "c9 06 01020304", 0, NULL, CODEC_ERR_WIRE, "truncated 64-bit value"},
    {N, NULL, "cd 06 0102", 0, NULL, CODEC_ERR_WIRE, "truncated 32-bit value"},
    {N, NULL, "f8 ff ff ff ff 01 00", 0, NULL, CODEC_ERR_WIRE, "field number too large"},
    /* errors inside a nested message name the field path */
    {N, NULL, "1a 04 1a 02 08 80", 0, NULL, CODEC_ERR_WIRE, "field \"child.child\": invalid protobuf at byte 5"},
    {E, NULL, "2a 03 12 01 ff", 0, NULL, CODEC_ERR_UTF8, "field \"nested.b\": invalid UTF-8 in string"},

    /* --- well-known types ------------------------------------------------------------- */
    {W, "timestamp { seconds: 1 nanos: 500000000 } duration { seconds: -1 nanos: -500000000 }", NULL, 0,
     "{\"timestamp\":\"1970-01-01T00:00:01.500Z\",\"duration\":\"-1.500s\"}", 0, NULL},
    {W, "timestamp { } duration { }", NULL, 0, "{\"timestamp\":\"1970-01-01T00:00:00Z\",\"duration\":\"0s\"}", 0, NULL},
    {W, "timestamp { seconds: -62135596800 } duration { nanos: 10000 }", NULL, 0,
     "{\"timestamp\":\"0001-01-01T00:00:00Z\",\"duration\":\"0.000010s\"}", 0, NULL},
    {W, "timestamp { seconds: 253402300799 nanos: 999999999 } duration { seconds: 315576000000 }", NULL, 0,
     "{\"timestamp\":\"9999-12-31T23:59:59.999999999Z\",\"duration\":\"315576000000s\"}", 0, NULL},
    {W, "timestamp { seconds: 253402300800 }", NULL, 0, NULL, CODEC_ERR_RANGE, "field \"timestamp\": Timestamp out of range"},
    {W, "timestamp { seconds: -62135596801 }", NULL, 0, NULL, CODEC_ERR_RANGE, "Timestamp out of range"},
    {W, "timestamp { nanos: -1 }", NULL, 0, NULL, CODEC_ERR_RANGE, "Timestamp out of range"},
    {W, "timestamp { nanos: 1000000000 }", NULL, 0, NULL, CODEC_ERR_RANGE, "Timestamp out of range"},
    {W, "duration { seconds: 1 nanos: -1 }", NULL, 0, NULL, CODEC_ERR_RANGE, "field \"duration\": Duration out of range"},
    {W, "duration { seconds: 315576000001 }", NULL, 0, NULL, CODEC_ERR_RANGE, "Duration out of range"},
    {W, "r_timestamp { seconds: 1 } r_timestamp { seconds: 99999999999999 }", NULL, 0, NULL, CODEC_ERR_RANGE,
     "field \"rTimestamp[1]\": Timestamp out of range"},
    {W, "field_mask { paths: \"foo_bar.baz_qux\" paths: \"x\" paths: \"a.b_c.d\" }", NULL, 0,
     "{\"fieldMask\":\"fooBar.bazQux,x,a.bC.d\"}", 0, NULL},
    {W, "field_mask { }", NULL, 0, "{\"fieldMask\":\"\"}", 0, NULL},
    {W, "field_mask { paths: \"fooBar\" }", NULL, 0, NULL, CODEC_ERR_RANGE, "upper-case"},
    {W, "field_mask { paths: \"foo__bar\" }", NULL, 0, NULL, CODEC_ERR_RANGE, "not followed by a lower-case letter"},
    {W, "field_mask { paths: \"foo_\" }", NULL, 0, NULL, CODEC_ERR_RANGE, "field \"fieldMask\": FieldMask path \"foo_\""},
    {W, "field_mask { paths: \"foo_1\" }", NULL, 0, NULL, CODEC_ERR_RANGE, "not followed by a lower-case letter"},
    /* (one Struct entry per part: protoc writes map entries in hash order) */
    {W,
     "struct { fields { key: \"a\" value { null_value: NULL_VALUE } } }\n--\nstruct { fields { key: \"b\" value { number_value: "
     "1.5 } } }\n--\n"
     "struct { fields { key: \"c\" value { string_value: \"s\" } } }\n--\nstruct { fields { key: \"d\" value { bool_value: false } "
     "} }\n--\n"
     "struct { fields { key: \"e\" value { struct_value { fields { key: \"f\" value { list_value { } } } } } } }\n--\n"
     "struct { fields { key: \"g\" value { list_value { values { struct_value { } } values { bool_value: true } } } } }",
     NULL, 0, "{\"struct\":{\"a\":null,\"b\":1.5,\"c\":\"s\",\"d\":false,\"e\":{\"f\":[]},\"g\":[{},true]}}", 0, NULL},
    {W, "struct { } list_value { } value { null_value: NULL_VALUE }", NULL, 0, "{\"struct\":{},\"value\":null,\"listValue\":[]}", 0,
     NULL},
    {W, "value { number_value: 0 }", NULL, 0, "{\"value\":0}", 0, NULL},
    {W, "value { string_value: \"\" }", NULL, O_INTS, "{\"value\":\"\"}", 0, NULL},
    {W, "value { null_value: NULL_VALUE }", NULL, O_INTS, "{\"value\":null}", 0, NULL},
    /* the kind seen last wins */
    {W, "value { string_value: \"s\" }\n--\nvalue { bool_value: true }", NULL, 0, "{\"value\":true}", 0, NULL},
    {W, "value { }", NULL, 0, NULL, CODEC_ERR_TYPE, "field \"value\": google.protobuf.Value has no kind set"},
    {W, "struct { fields { key: \"a\" value { list_value { values { bool_value: true } values { } } } } }", NULL, 0, NULL,
     CODEC_ERR_TYPE, "field \"struct[\"a\"][1]\": google.protobuf.Value has no kind set"},
    {W, NULL, "2a 08 0a 06 0a 01 6b 12 01 ff", 0, NULL, CODEC_ERR_WIRE, "field \"struct[\"k\"]\": invalid protobuf at byte 9"},
    {W, "r_value { bool_value: true } r_value { }", NULL, 0, NULL, CODEC_ERR_TYPE, "field \"rValue[1]\": google.protobuf.Value"},
    {W, NULL, "32 09 11 000000000000f87f", 0, NULL, CODEC_ERR_RANGE, "field \"value\": google.protobuf.Value cannot hold NaN"},
    {W, NULL, "32 09 11 000000000000f07f", 0, NULL, CODEC_ERR_RANGE, "cannot hold Infinity"},
    {W, "list_value { values { number_value: 1 } values { null_value: NULL_VALUE } values { list_value { } } }", NULL, 0,
     "{\"listValue\":[1,null,[]]}", 0, NULL},
    {W, "empty { }", NULL, 0, "{\"empty\":{}}", 0, NULL},
    {W,
     "double_value { value: 1.5 } float_value { value: 0.1 } int64_value { value: -5 } uint64_value { value: 6 } "
     "int32_value { value: -7 } uint32_value { value: 8 } bool_value { value: true } string_value { value: \"<s>\" } "
     "bytes_value { value: \"\\377\" }",
     NULL, 0,
     "{\"doubleValue\":1.5,\"floatValue\":0.1,\"int64Value\":\"-5\",\"uint64Value\":\"6\",\"int32Value\":-7,"
     "\"uint32Value\":8,\"boolValue\":true,\"stringValue\":\"\\u003cs\\u003e\",\"bytesValue\":\"/w==\"}",
     0, NULL},
    /* a present wrapper holding the default prints the default */
    {W,
     "double_value { } float_value { } int64_value { } uint64_value { } int32_value { } uint32_value { } "
     "bool_value { } string_value { } bytes_value { } r_int32_value { } r_int32_value { value: 3 }",
     NULL, 0,
     "{\"doubleValue\":0,\"floatValue\":0,\"int64Value\":\"0\",\"uint64Value\":\"0\",\"int32Value\":0,"
     "\"uint32Value\":0,\"boolValue\":false,\"stringValue\":\"\",\"bytesValue\":\"\",\"rInt32Value\":[0,3]}",
     0, NULL},
    {W, NULL, "1a 03 08 80 80", 0, NULL, CODEC_ERR_WIRE, "field \"duration\": invalid protobuf at byte 3"},
    {W, "null_value: NULL_VALUE", NULL, 0, "{}", 0, NULL},
    {W, "", NULL, O_EMIT, "{\"nullValue\":null,\"rTimestamp\":[],\"rValue\":[],\"rAny\":[],\"rInt32Value\":[]}", 0, NULL},
    {W, "", NULL, O_EMIT | O_INTS, "{\"nullValue\":0,\"rTimestamp\":[],\"rValue\":[],\"rAny\":[],\"rInt32Value\":[]}", 0, NULL},
    /* Any */
    {W, "any { [type.googleapis.com/portico.test.Nested] { a: 1 b: \"z\" } }", NULL, 0,
     "{\"any\":{\"@type\":\"type.googleapis.com/portico.test.Nested\",\"a\":1,\"b\":\"z\"}}", 0, NULL},
    {W, "any { [type.googleapis.com/portico.test.Nested] { } }", NULL, O_EMIT | O_NAMES,
     "{\"any\":{\"@type\":\"type.googleapis.com/portico.test.Nested\",\"a\":0,\"b\":\"\",\"nums\":[]},"
     "\"null_value\":null,\"r_timestamp\":[],\"r_value\":[],\"r_any\":[],\"r_int32_value\":[]}",
     0, NULL},
    {W,
     "any { [type.googleapis.com/google.protobuf.Timestamp] { seconds: 3 } } "
     "r_any { [type.googleapis.com/google.protobuf.Duration] { seconds: 2 } } "
     "r_any { [type.googleapis.com/google.protobuf.Int64Value] { value: 5 } } "
     "r_any { [type.googleapis.com/google.protobuf.Value] { list_value { values { bool_value: true } } } } "
     "r_any { [type.googleapis.com/google.protobuf.Struct] { fields { key: \"k\" value { string_value: \"v\" } } } } "
     "r_any { [type.googleapis.com/google.protobuf.FieldMask] { paths: \"a_b\" } } "
     "r_any { [type.googleapis.com/google.protobuf.Empty] { } } "
     "r_any { [type.googleapis.com/google.protobuf.Any] { [type.googleapis.com/portico.test.Nested] { a: 4 } } }",
     NULL, 0,
     "{\"any\":{\"@type\":\"type.googleapis.com/google.protobuf.Timestamp\",\"value\":\"1970-01-01T00:00:03Z\"},"
     "\"rAny\":[{\"@type\":\"type.googleapis.com/google.protobuf.Duration\",\"value\":\"2s\"},"
     "{\"@type\":\"type.googleapis.com/google.protobuf.Int64Value\",\"value\":\"5\"},"
     "{\"@type\":\"type.googleapis.com/google.protobuf.Value\",\"value\":[true]},"
     "{\"@type\":\"type.googleapis.com/google.protobuf.Struct\",\"value\":{\"k\":\"v\"}},"
     "{\"@type\":\"type.googleapis.com/google.protobuf.FieldMask\",\"value\":\"aB\"},"
     "{\"@type\":\"type.googleapis.com/google.protobuf.Empty\"},"
     "{\"@type\":\"type.googleapis.com/google.protobuf.Any\",\"value\":"
     "{\"@type\":\"type.googleapis.com/portico.test.Nested\",\"a\":4}}]}",
     0, NULL},
    {W, "any { }", NULL, 0, "{\"any\":{}}", 0, NULL},
    {W, "any { type_url: \"\" value: \"\" }", NULL, 0, "{\"any\":{}}", 0, NULL},
    {W, "any { type_url: \"type.googleapis.com/portico.test.Nested\" }", NULL, 0,
     "{\"any\":{\"@type\":\"type.googleapis.com/portico.test.Nested\"}}", 0, NULL},
    {W, "any { value: \"\\010\\001\" }", NULL, 0, NULL, CODEC_ERR_ANY,
     "field \"any\": google.protobuf.Any has a value but no type URL"},
    {W, "any { type_url: \"type.googleapis.com/no.such.Type\" value: \"\\010\\001\" }", NULL, 0, NULL, CODEC_ERR_ANY,
     "cannot resolve Any type URL \"type.googleapis.com/no.such.Type\""},
    /* input quoted in a message is escaped so that the message stays one line */
    {W, "any { type_url: \"a\\nb\\\"c\\001\" }", NULL, 0, NULL, CODEC_ERR_ANY, "cannot resolve Any type URL \"a\\x0ab\\\"c\\x01\""},
    {W, NULL, "2a 0b 0a 09 0a 03 61 0a 62 12 02 00 01", 0, NULL, CODEC_ERR_WIRE,
     "field \"struct[\"a\\x0ab\"]\": invalid protobuf at byte 11: field number 0"},
    {W, "field_mask { paths: \"a\\nB\" }", NULL, 0, NULL, CODEC_ERR_RANGE, "FieldMask path \"a\\x0aB\" has an upper-case"},
    {W, "any { type_url: \"portico.test.Nested\" }", NULL, 0, NULL, CODEC_ERR_ANY, "cannot resolve Any type URL"},
    {W, "r_any { } r_any { type_url: \"x/y\" }", NULL, 0, NULL, CODEC_ERR_ANY, "field \"rAny[1]\": cannot resolve"},
    {W, "any { type_url: \"type.googleapis.com/portico.test.Nested\" value: \"\\022\\001\\377\" }", NULL, 0, NULL, CODEC_ERR_UTF8,
     "field \"any.b\": invalid UTF-8 in string"},
    {W, "any { type_url: \"type.googleapis.com/portico.test.Nested\" value: \"\\010\" }", NULL, 0, NULL, CODEC_ERR_WIRE,
     "truncated varint"},
    {W, "any { [type.googleapis.com/google.protobuf.Value] { } }", NULL, 0, NULL, CODEC_ERR_TYPE, "has no kind set"},
    /* top-level well-known types print in their special form */
    {"google.protobuf.Timestamp", "seconds: 1", NULL, 0, "\"1970-01-01T00:00:01Z\"", 0, NULL},
    {"google.protobuf.Duration", "nanos: 1", NULL, 0, "\"0.000000001s\"", 0, NULL},
    {"google.protobuf.StringValue", "value: \"x\"", NULL, 0, "\"x\"", 0, NULL},
    {"google.protobuf.Empty", "", NULL, 0, "{}", 0, NULL},
    {"google.protobuf.Value", "", NULL, 0, NULL, CODEC_ERR_TYPE, "has no kind set"},

    /* --- proto2 ----------------------------------------------------------------------- */
    /* present fields print even when they hold the default; absent ones never */
    {L, "count: 42 label: \"none\" size: LARGE id: 0 ratio: 0", NULL, 0,
     "{\"count\":42,\"label\":\"none\",\"size\":\"LARGE\",\"id\":\"0\",\"ratio\":0}", 0, NULL},
    {L, "id: 5", NULL, O_EMIT, "{\"id\":\"5\",\"packedNums\":[],\"plainNums\":[]}", 0, NULL},
    {L, NULL, "2a 02 01 02 28 03 30 04 32 02 05 06", 0, "{\"packedNums\":[1,2,3],\"plainNums\":[4,5,6]}", 0, NULL},
    {L, "id: 1 Grp { g: 5 }", NULL, 0, "{\"id\":\"1\",\"grp\":{\"g\":5}}", 0, NULL},
    {L, "id: 1 Grp { g: 5 }\n--\nid: 1 Grp { }", NULL, O_NAMES, "{\"id\":\"1\",\"grp\":{\"g\":5}}", 0, NULL},
    {L, NULL, "4b 50 01 4c", 0, "{\"grp\":{\"g\":1}}", 0, NULL},
    {L, NULL, "4b 50 01", 0, NULL, CODEC_ERR_WIRE, "unterminated group"},
    /* a closed enum's unknown number is an unknown field: the last known value stays */
    {L, NULL, "18 01 18 07", 0, "{\"size\":\"SMALL\"}", 0, NULL},
    {L, NULL, "18 07", 0, "{}", 0, NULL},
    {L, "id: 2 blob: \"\"", NULL, 0, "{\"id\":\"2\",\"blob\":\"\"}", 0, NULL},
};

/* ----------------------------------------------------------------------------------------- */

static proto_registry_t *registry;

static size_t hex_decode(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    for (const char *p = hex; *p; p++) {
        int v;
        if (*p >= '0' && *p <= '9')
            v = *p - '0';
        else if (*p >= 'a' && *p <= 'f')
            v = *p - 'a' + 10;
        else
            continue;
        if (hi < 0) {
            hi = v;
        } else {
            if (n < cap)
                out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    return n;
}

/* Encodes protobuf text |text| of |type| with protoc; appends the bytes to |out|. Returns 0 or -1. */
static int protoc_encode(const char *type, const char *text, size_t text_len, util_buf_t *out)
{
    const char *src = getenv("PORTICO_SOURCE_DIR");
    if (src == NULL)
        src = ".";
    const char *proto = strncmp(type, "portico.test2.", 14) == 0 ? "codec_proto2.proto" : "codec_test.proto";
    char in_path[128], cmd[2048];
    snprintf(in_path, sizeof(in_path), "/tmp/portico-pb2json-test-%d.txt", (int)getpid());
    FILE *f = fopen(in_path, "w");
    if (f == NULL)
        return -1;
    fwrite(text, 1, text_len, f);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "protoc --encode=%s -I %s/descriptors -I /usr/include %s/descriptors/test/%s < %s", type, src, src,
             proto, in_path);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return -1;
    uint8_t chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
        util_buf_append(out, chunk, n);
    int rc = pclose(p);
    remove(in_path);
    return rc == 0 ? 0 : -1;
}

/* Builds the wire input of case |c| into |out|. */
static int case_input(const case_t *c, util_buf_t *out)
{
    if (c->hex != NULL) {
        uint8_t tmp[4096];
        size_t n = hex_decode(c->hex, tmp, sizeof(tmp));
        util_buf_append(out, tmp, n);
        return 0;
    }
    const char *p = c->text;
    for (;;) {
        const char *sep = strstr(p, "\n--\n");
        size_t n = sep != NULL ? (size_t)(sep - p) : strlen(p);
        if (protoc_encode(c->type, p, n, out) != 0)
            return -1;
        if (sep == NULL)
            return 0;
        p = sep + 4;
    }
}

static int convert(const char *type, const uint8_t *pb, size_t len, const codec_options_t *opt, util_buf_t *out, util_error_t *err)
{
    const proto_message_t *m = proto_registry_find_message(registry, type);
    if (m == NULL) {
        fprintf(stderr, "no message %s\n", type);
        return -2;
    }
    return codec_pb_to_json(registry, m, pb, len, opt, out, err);
}

static void run_case(size_t i, const case_t *c)
{
    util_buf_t in = UTIL_BUF_INIT, out = UTIL_BUF_INIT;
    if (case_input(c, &in) != 0) {
        TEST_FAIL_("case %zu: cannot build the input", i);
        return;
    }
    codec_options_t opt = {0};
    opt.emit_defaults = (c->opts & O_EMIT) != 0;
    opt.proto_names = (c->opts & O_NAMES) != 0;
    opt.enum_ints = (c->opts & O_INTS) != 0;
    util_error_t err = {0};
    int rc = convert(c->type, in.data, in.len, &opt, &out, &err);
    util_buf_putc(&out, 0);
    if (c->expect != NULL) {
        if (rc != 0)
            fprintf(stderr, "case %zu: unexpected error: %s\n", i, err.message);
        CHECK_INT_EQ(rc, 0);
        if (rc == 0) {
            if (strcmp((const char *)out.data, c->expect) != 0)
                fprintf(stderr, "case %zu (%s):\n", i, c->type);
            CHECK_STR_EQ((const char *)out.data, c->expect);
        }
    } else {
        if (rc == 0)
            fprintf(stderr, "case %zu: expected an error, got %s\n", i, (const char *)out.data);
        CHECK_INT_EQ(rc, -1);
        if (rc != 0) {
            if (err.code != c->code)
                fprintf(stderr, "case %zu: %s\n", i, err.message);
            CHECK_INT_EQ(err.code, c->code);
            CHECK_STR_HAS(err.message, c->msg);
        }
    }
    util_buf_dispose(&in);
    util_buf_dispose(&out);
}

/* Nested { child { child { ... { a: 1 } } } } with |levels| messages in all (the outer one included). */
static void make_nested(util_buf_t *b, int levels)
{
    util_buf_t cur = UTIL_BUF_INIT;
    uint8_t a[2] = {0x08, 0x01};
    util_buf_append(&cur, a, 2);
    for (int i = 1; i < levels; i++) {
        util_buf_t next = UTIL_BUF_INIT;
        uint8_t hdr[11];
        size_t n = 0;
        hdr[n++] = 0x1a;
        size_t len = cur.len;
        while (len >= 0x80) {
            hdr[n++] = (uint8_t)(len | 0x80);
            len >>= 7;
        }
        hdr[n++] = (uint8_t)len;
        util_buf_append(&next, hdr, n);
        util_buf_append(&next, cur.data, cur.len);
        util_buf_dispose(&cur);
        cur = next;
    }
    util_buf_append(b, cur.data, cur.len);
    util_buf_dispose(&cur);
}

static void test_depth(void)
{
    static const struct {
        int levels;
        uint32_t max_depth;
        int ok;
    } depth_cases[] = {
        {3, 3, 1},
        {4, 3, 0},
        {1, 1, 1},
        {2, 1, 0},
        {100, 0, 1},
        {101, 0, 0},
        {5000, 0, 0},
        /* a larger max_depth is clamped to CODEC_MAX_DEPTH_LIMIT */
        {1000, 6000, 1},
        {1001, 6000, 0},
        {5000, 6000, 0},
    };
    for (size_t i = 0; i < sizeof(depth_cases) / sizeof(depth_cases[0]); i++) {
        util_buf_t in = UTIL_BUF_INIT, out = UTIL_BUF_INIT;
        make_nested(&in, depth_cases[i].levels);
        codec_options_t opt = {0};
        opt.max_depth = depth_cases[i].max_depth;
        util_error_t err = {0};
        int rc = convert(N, in.data, in.len, &opt, &out, &err);
        CHECK_INT_EQ(rc, depth_cases[i].ok ? 0 : -1);
        if (depth_cases[i].ok && rc == 0) {
            /* {"child":{"child":...{"a":1}...}} */
            size_t want = (size_t)(depth_cases[i].levels - 1) * strlen("{\"child\":}") + strlen("{\"a\":1}");
            CHECK_INT_EQ(out.len, want);
        } else if (!depth_cases[i].ok) {
            CHECK_INT_EQ(err.code, CODEC_ERR_DEPTH);
            CHECK_STR_HAS(err.message, "nesting deeper than");
            CHECK_STR_HAS(err.message, "child\": nesting deeper than");
        }
        util_buf_dispose(&in);
        util_buf_dispose(&out);
    }
    /* nested unknown groups count too */
    util_buf_t in = UTIL_BUF_INIT, out = UTIL_BUF_INIT;
    for (int i = 0; i < 200; i++)
        util_buf_puts(&in, "\xcb\x06"); /* start group 105 */
    for (int i = 0; i < 200; i++)
        util_buf_puts(&in, "\xcc\x06"); /* end group 105 */
    util_error_t err = {0};
    codec_options_t opt = {0};
    CHECK_INT_EQ(convert(N, in.data, in.len, &opt, &out, &err), -1);
    CHECK_INT_EQ(err.code, CODEC_ERR_DEPTH);
    opt.max_depth = 300;
    CHECK_INT_EQ(convert(N, in.data, in.len, &opt, &out, &err), 0);
    util_buf_dispose(&in);
    util_buf_dispose(&out);
}

static void put_varint(util_buf_t *b, uint64_t v)
{
    while (v >= 0x80) {
        util_buf_putc(b, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    util_buf_putc(b, (uint8_t)v);
}

/* Appends one map entry of field |number|: string key and string value, or int64 key and value. */
static void put_entry(util_buf_t *b, uint32_t number, const char *skey, const char *sval, int64_t ikey, int64_t ival)
{
    util_buf_t e = UTIL_BUF_INIT;
    if (skey != NULL) {
        util_buf_putc(&e, 0x0a);
        put_varint(&e, strlen(skey));
        util_buf_puts(&e, skey);
        util_buf_putc(&e, 0x12);
        put_varint(&e, strlen(sval));
        util_buf_puts(&e, sval);
    } else {
        util_buf_putc(&e, 0x08);
        put_varint(&e, (uint64_t)ikey);
        util_buf_putc(&e, 0x10);
        put_varint(&e, (uint64_t)ival);
    }
    put_varint(b, (uint64_t)number << 3 | 2);
    put_varint(b, e.len);
    util_buf_append(b, e.data, e.len);
    util_buf_dispose(&e);
}

/* More map entries than the small-map path handles, with duplicates spread around. */
static void test_big_map(void)
{
    util_buf_t in = UTIL_BUF_INIT, out = UTIL_BUF_INIT, want = UTIL_BUF_INIT;
    char k[16], v[16];
    for (int i = 0; i < 40; i++) {
        snprintf(k, sizeof(k), "k%d", i);
        snprintf(v, sizeof(v), "v%d", i);
        put_entry(&in, 1, k, v, 0, 0);
        put_entry(&in, 3, NULL, NULL, -i, i);
    }
    for (int i = 0; i < 40; i += 3) {
        snprintf(k, sizeof(k), "k%d", i);
        snprintf(v, sizeof(v), "w%d", i);
        put_entry(&in, 1, k, v, 0, 0);
        put_entry(&in, 3, NULL, NULL, -i, i * 10);
    }
    util_buf_puts(&want, "{\"mString\":{");
    for (int i = 0; i < 40; i++)
        util_buf_printf(&want, "%s\"k%d\":\"%c%d\"", i ? "," : "", i, i % 3 == 0 ? 'w' : 'v', i);
    util_buf_puts(&want, "},\"mInt64\":{");
    for (int i = 0; i < 40; i++)
        util_buf_printf(&want, "%s\"%d\":\"%d\"", i ? "," : "", -i, i % 3 == 0 ? i * 10 : i);
    util_buf_puts(&want, "}}");
    util_buf_putc(&want, 0);
    util_error_t err = {0};
    CHECK_INT_EQ(convert(M, in.data, in.len, NULL, &out, &err), 0);
    util_buf_putc(&out, 0);
    CHECK_STR_EQ((const char *)out.data, (const char *)want.data);
    util_buf_dispose(&in);
    util_buf_dispose(&out);
    util_buf_dispose(&want);
}

/* Output is appended after what the buffer holds; on failure the buffer is restored. */
static void test_output_buffer(void)
{
    util_buf_t out = UTIL_BUF_INIT;
    util_buf_puts(&out, "prefix:");
    util_error_t err = {0};
    uint8_t good[] = {0x08, 0x05}, bad[] = {0x08, 0x05, 0x12, 0x01, 0xff};
    CHECK_INT_EQ(convert(N, good, sizeof(good), NULL, &out, &err), 0);
    util_buf_putc(&out, 0);
    CHECK_STR_EQ((const char *)out.data, "prefix:{\"a\":5}");
    out.len = strlen("prefix:");
    CHECK_INT_EQ(convert(N, bad, sizeof(bad), NULL, &out, &err), -1);
    CHECK_INT_EQ(out.len, strlen("prefix:"));
    util_buf_dispose(&out);
}

static void test_limits(void)
{
    uint8_t in[] = {0x08, 0x05, 0x12, 0x01, 0x61};
    util_buf_t out = UTIL_BUF_INIT;
    util_error_t err = {0};
    codec_options_t opt = {0};
    opt.max_input = 4;
    CHECK_INT_EQ(convert(N, in, sizeof(in), &opt, &out, &err), -1);
    CHECK_INT_EQ(err.code, CODEC_ERR_SIZE);
    CHECK_STR_HAS(err.message, "5 bytes");
    opt.max_input = 5;
    CHECK_INT_EQ(convert(N, in, sizeof(in), &opt, &out, &err), 0);
    /* empty input, NULL input */
    out.len = 0;
    CHECK_INT_EQ(convert(N, NULL, 0, NULL, &out, &err), 0);
    CHECK_INT_EQ(out.len, 2);
    /* no message type */
    CHECK_INT_EQ(codec_pb_to_json(registry, NULL, in, sizeof(in), NULL, &out, &err), -1);
    util_buf_dispose(&out);
}

/* Any needs a registry to resolve its type URL. */
static void test_any_without_registry(void)
{
    util_buf_t in = UTIL_BUF_INIT, out = UTIL_BUF_INIT;
    const char *text = "any { [type.googleapis.com/portico.test.Nested] { a: 1 } }";
    CHECK_INT_EQ(protoc_encode(W, text, strlen(text), &in), 0);
    util_error_t err = {0};
    const proto_message_t *m = proto_registry_find_message(registry, W);
    CHECK_INT_EQ(codec_pb_to_json(NULL, m, in.data, in.len, NULL, &out, &err), -1);
    CHECK_INT_EQ(err.code, CODEC_ERR_ANY);
    util_buf_dispose(&in);
    util_buf_dispose(&out);
}

/* Every prefix of a valid message either converts or fails cleanly (no crash, no partial output). */
static void test_truncations(void)
{
    util_buf_t in = UTIL_BUF_INIT;
    const char *text = "scalars { f_string: \"h\xc3\xa9llo\" f_double: 2.5 f_sint64: -3 } "
                       "repeated { r_int32: [1, 300, 70000] r_nested { a: 1 b: \"x\" } } "
                       "maps { m_string { key: \"a\" value: \"b\" } m_value { key: \"v\" value { number_value: 1 } } } "
                       "well_known { any { [type.googleapis.com/portico.test.Nested] { a: 1 } } "
                       "timestamp { seconds: 5 } field_mask { paths: \"a_b\" } } choice_int: 5";
    CHECK_INT_EQ(protoc_encode(E, text, strlen(text), &in), 0);
    int ok = 0, failed = 0, bad = 0;
    for (size_t n = 0; n <= in.len; n++) {
        util_buf_t out = UTIL_BUF_INIT;
        util_error_t err = {0};
        /* a copy of exactly n bytes, so ASan sees any read past the end */
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, in.data, n);
        int rc = convert(E, copy, n, NULL, &out, &err);
        if (rc == 0)
            ok++;
        else if (err.code == CODEC_ERR_WIRE || err.code == CODEC_ERR_UTF8)
            failed++;
        else
            bad++;
        if (rc != 0 && out.len != 0)
            bad++;
        free(copy);
        util_buf_dispose(&out);
    }
    CHECK(ok >= 2); /* at least the empty and the full message */
    CHECK(failed > 0);
    CHECK_INT_EQ(bad, 0);
    util_buf_dispose(&in);
}

/* A json_name option may hold characters that JSON escapes. */
static void test_odd_json_name(void)
{
    char path[128];
    if (test_protoc("syntax = \"proto3\";\npackage jn;\nmessage T { int32 x = 1 [json_name = \"a\\\"<b\"]; }\n", path,
                    sizeof(path)) != 0)
        return;
    proto_registry_t *r = proto_registry_new();
    util_error_t err = {0};
    CHECK_INT_EQ(proto_registry_load_file(r, path, &err), 0);
    const proto_message_t *m = proto_registry_find_message(r, "jn.T");
    CHECK(m != NULL);
    if (m != NULL) {
        uint8_t in[] = {0x08, 0x05};
        util_buf_t out = UTIL_BUF_INIT, outline = UTIL_BUF_INIT;
        codec_options_t opt = {.outline = &outline};
        CHECK_INT_EQ(codec_pb_to_json(r, m, in, sizeof(in), &opt, &out, &err), 0);
        util_buf_putc(&out, 0);
        CHECK_STR_EQ((const char *)out.data, "{\"a\\\"\\u003cb\":5}");
        /* the outline covers the key as printed, and does not call it free of escapes */
        const codec_outline_event_t *ev = (const codec_outline_event_t *)(void *)outline.data;
        CHECK_INT_EQ(outline.len / sizeof(*ev), 4);
        if (outline.len / sizeof(*ev) == 4) {
            CHECK_INT_EQ(ev[1].kind, CODEC_OUTLINE_KEY);
            CHECK(ev[1].off == 1 && ev[1].len == 12);
            CHECK_INT_EQ(ev[2].kind, CODEC_OUTLINE_SCALAR | CODEC_OUTLINE_NO_ESCAPES);
        }
        util_buf_dispose(&out);
        util_buf_dispose(&outline);
    }
    proto_registry_free(r);
    test_protoc_cleanup();
}

/* codec_options_t.only_fields: only the chosen fields of the top message are printed. */
static void only_case(const char *type, const char *text, const char *const *names, const char *expect)
{
    const proto_message_t *m = proto_registry_find_message(registry, type);
    util_buf_t in = UTIL_BUF_INIT, out = UTIL_BUF_INIT, outline = UTIL_BUF_INIT;
    CHECK(m != NULL);
    case_t c = {type, text, NULL, 0, expect, 0, NULL};
    if (m == NULL || case_input(&c, &in) != 0) {
        TEST_FAIL_("cannot build the input of %s", type);
        return;
    }
    uint8_t only[64] = {0};
    for (size_t i = 0; i < m->n_fields && i < sizeof(only); i++)
        for (const char *const *n = names; *n != NULL; n++)
            only[i] |= strcmp(m->fields[i].name, *n) == 0;
    codec_options_t opt = {.only_fields = only, .outline = &outline};
    util_error_t err = {0};
    CHECK_INT_EQ(codec_pb_to_json(registry, m, in.data, in.len, &opt, &out, &err), 0);
    util_buf_putc(&out, 0);
    CHECK_STR_EQ((const char *)out.data, expect);
    /* the outline covers what was printed: its first event opens the object, its last closes it */
    const codec_outline_event_t *ev = (const codec_outline_event_t *)(void *)outline.data;
    size_t n = outline.len / sizeof(*ev);
    CHECK(n >= 2 && ev[0].kind == CODEC_OUTLINE_OBJECT && ev[n - 1].kind == CODEC_OUTLINE_END);
    util_buf_dispose(&in);
    util_buf_dispose(&out);
    util_buf_dispose(&outline);
}

static void test_only_fields(void)
{
    /* nested messages print whole */
    only_case(N, "a: 1 b: \"x\" child { a: 2 b: \"y\" } nums: [3]", (const char *[]){"a", "child", NULL},
              "{\"a\":1,\"child\":{\"a\":2,\"b\":\"y\"}}");
    only_case(N, "a: 1 b: \"x\"", (const char *[]){"nums", NULL}, "{}");
    /* a oneof's member is chosen among all of them: a later member left out hides an earlier one */
    only_case(E, "choice_string: \"s\"\n--\nchoice_int: 5", (const char *[]){"choice_string", "nested", NULL}, "{}");
    only_case(E, "choice_int: 5\n--\nchoice_string: \"s\"", (const char *[]){"choice_string", NULL}, "{\"choiceString\":\"s\"}");
}

int main(void)
{
    registry = proto_registry_new();
    util_error_t err = {0};
    if (proto_registry_load_file(registry, test_desc_path("codec_test.pb"), &err) != 0 ||
        proto_registry_load_file(registry, test_desc_path("codec_proto2.pb"), &err) != 0) {
        fprintf(stderr, "cannot load the test descriptors: %s\n", err.message);
        return 1;
    }
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run_case(i, &cases[i]);
    test_depth();
    test_big_map();
    test_output_buffer();
    test_limits();
    test_any_without_registry();
    test_truncations();
    test_odd_json_name();
    test_only_fields();
    proto_registry_free(registry);
    return test_summary();
}
