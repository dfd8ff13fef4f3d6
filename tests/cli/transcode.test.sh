#!/usr/bin/env bash
# transcode.test.sh — black-box tests of the portico CLI: `portico transcode` round trips and
# options, every error path (bad JSON, bad wire bytes, bad or missing descriptor sets, unknown
# message names, limits), usage errors, `version` and `--help`.
#
# Each row of the tables below is one case. Inputs are printf %b strings (so \x0a is a byte).
#   ok    NAME INPUT EXPECTED_STDOUT ARGS...   exit 0, stdout exactly EXPECTED (JSON; trailing newline ignored)
#   okhex NAME INPUT EXPECTED_HEX ARGS...      exit 0, stdout bytes as lowercase hex
#   bad   NAME INPUT STDERR_SUBSTRING ARGS...  exit 1, nothing on stdout, stderr one line "error: ..." holding SUBSTRING
#   usage NAME STDERR_SUBSTRING ARGS...        exit 2, nothing on stdout, stderr holding SUBSTRING (portico ARGS, no stdin)
# ARGS of ok/okhex/bad follow `portico transcode`. An exit status of 128 or more (a signal, a
# crash) always fails, and so does any sanitizer report, since it adds lines to stderr.
set -uo pipefail

: "${PORTICO_BIN:?set PORTICO_BIN to the portico binary}"
: "${PORTICO_DESC_DIR:?set PORTICO_DESC_DIR to the built descriptor sets}"
: "${PORTICO_SOURCE_DIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
P=$PORTICO_BIN
T=$PORTICO_DESC_DIR/codec_test.pb
T2=$PORTICO_DESC_DIR/codec_proto2.pb
SMALL=(-d "$T" -m portico.test.Small)
EV=(-d "$T" -m portico.test.Everything)
NESTED=(-d "$T" -m portico.test.Nested)
J2J=(--from json --to json)
J2B=(--from json --to binary)
B2J=(--from binary --to json)
B2B=(--from binary --to binary)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

pass() { passed=$((passed + 1)); }
fail() {
    failed=$((failed + 1))
    echo "FAIL: $1"
    shift
    for line in "$@"; do printf '    %s\n' "$line"; done
}

# run INPUT ARGS... : runs portico with INPUT on stdin; sets rc, and leaves stdout/stderr in files.
run() {
    local input=$1
    shift
    printf '%b' "$input" >"$tmp/in"
    "$P" "$@" <"$tmp/in" >"$tmp/out" 2>"$tmp/err"
    rc=$?
}

crashed() {
    if [ "$rc" -ge 128 ]; then
        fail "$1: crashed (exit $rc)" "$(tail -c 1500 "$tmp/err")"
        return 0
    fi
    return 1
}

ok() {
    local name=$1 input=$2 want=$3
    shift 3
    run "$input" transcode "$@"
    crashed "$name" && return
    local got
    got=$(cat "$tmp/out")
    if [ "$rc" -ne 0 ] || [ "$got" != "$want" ] || [ -s "$tmp/err" ]; then
        fail "$name" "args:   $*" "exit:   $rc (want 0)" "stdout: $got" "want:   $want" "stderr: $(head -c 600 "$tmp/err")"
    else
        pass
    fi
}

okhex() {
    local name=$1 input=$2 want=$3
    shift 3
    run "$input" transcode "$@"
    crashed "$name" && return
    local got
    got=$(od -An -v -tx1 "$tmp/out" | tr -d ' \n')
    if [ "$rc" -ne 0 ] || [ "$got" != "$want" ] || [ -s "$tmp/err" ]; then
        fail "$name" "args:   $*" "exit:   $rc (want 0)" "stdout: $got" "want:   $want" "stderr: $(head -c 600 "$tmp/err")"
    else
        pass
    fi
}

# check_error NAME WANT_RC SUBSTRING: the shared contract of rejected input.
check_error() {
    local name=$1 want_rc=$2 sub=$3 lines
    crashed "$name" && return
    lines=$(wc -l <"$tmp/err")
    if [ "$rc" -ne "$want_rc" ]; then
        fail "$name" "exit $rc, want $want_rc" "stdout: $(head -c 300 "$tmp/out" | cat -v)" "stderr: $(head -c 600 "$tmp/err")"
    elif [ -s "$tmp/out" ]; then
        fail "$name" "stdout must be empty on error, got: $(head -c 300 "$tmp/out" | cat -v)"
    elif [ "$want_rc" -eq 1 ] && { [ "$lines" -ne 1 ] || [ "$(head -c 7 "$tmp/err")" != "error: " ]; }; then
        fail "$name" "stderr must be one line starting with 'error: ', got:" "$(head -c 1500 "$tmp/err")"
    elif ! grep -qiF -- "$sub" "$tmp/err"; then
        fail "$name" "stderr does not mention \"$sub\":" "$(head -c 600 "$tmp/err")"
    else
        pass
    fi
}

bad() {
    local name=$1 input=$2 sub=$3
    shift 3
    run "$input" transcode "$@"
    check_error "$name" 1 "$sub"
}

usage() {
    local name=$1 sub=$2
    shift 2
    run "" "$@"
    check_error "$name" 2 "$sub"
}

# --- fixtures built at test time ---------------------------------------------------------------
printf 'not a descriptor set\n' >"$tmp/text.pb"
: >"$tmp/empty.pb"
printf '\x0a\x05\x0a\x03abc\xff\xff' >"$tmp/garbage.pb"
protoc -I "$PORTICO_SOURCE_DIR/descriptors" -I /usr/include --descriptor_set_out="$tmp/noimports.pb" \
    test/codec_test.proto
# The same file name as codec_test.proto with different contents: loading both must be refused.
mkdir -p "$tmp/alt/test"
printf 'syntax = "proto3";\npackage portico.test;\nmessage Small { string other = 1; }\n' >"$tmp/alt/test/codec_test.proto"
protoc -I "$tmp/alt" --include_imports --descriptor_set_out="$tmp/conflict.pb" test/codec_test.proto

deep_json() { # deep_json N: N nested "child" objects
    local i s='{}'
    for ((i = 0; i < $1; i++)); do s="{\"child\":$s}"; done
    printf '%s' "$s"
}
DEEP40=$(deep_json 40)
DEEP300=$(deep_json 300)
LISTS=$(printf '%*s' 100000 '' | tr ' ' '[')
# Binary for 40 nested Nested messages, made by portico itself (checked by the okhex rows below).
printf '%s' "$DEEP40" | "$P" transcode "${NESTED[@]}" "${J2B[@]}" >"$tmp/deep40.bin" 2>/dev/null
DEEP40_BIN=$(od -An -v -tx1 "$tmp/deep40.bin" | tr -d ' \n' | sed 's/../\\x&/g')

# --- round trips and options ----------------------------------------------------------------------
okhex "json->binary Small" '{"sku":"a","amountMicros":"5"}' 0a01611005 "${SMALL[@]}" "${J2B[@]}"
ok "binary->json Small" '\x0a\x01a\x10\x05' '{"sku":"a","amountMicros":"5"}' "${SMALL[@]}" "${B2J[@]}"
ok "binary->json field order follows numbers" '\x10\x05\x0a\x01a' '{"sku":"a","amountMicros":"5"}' "${SMALL[@]}" "${B2J[@]}"
okhex "binary->binary" '\x0a\x01a\x10\x05' 0a01611005 "${SMALL[@]}" "${B2B[@]}"
ok "json->json normalizes" '{ "sku" : "a", "amount_micros": 5, "tags": [], "color": "COLOR_UNSPECIFIED" }' \
    '{"sku":"a","amountMicros":"5"}' "${SMALL[@]}" "${J2J[@]}"
ok "empty binary is the empty message" '' '{}' "${SMALL[@]}" "${B2J[@]}"
okhex "empty object is empty binary" '{}' '' "${SMALL[@]}" "${J2B[@]}"
ok "all Small fields" \
    '{"sku":"k-1","amountMicros":"-9223372036854775808","currency":"EUR","quantity":3,"tags":["a",""],"updatedAt":"2024-01-02T03:04:05.500Z","color":"GREEN"}' \
    '{"sku":"k-1","amountMicros":"-9223372036854775808","currency":"EUR","quantity":3,"tags":["a",""],"updatedAt":"2024-01-02T03:04:05.500Z","color":"GREEN"}' \
    "${SMALL[@]}" "${J2J[@]}"
okhex "packed repeated, negative int32 as 10 bytes" '{"nums":[1,-1]}' 220b01ffffffffffffffffff01 "${NESTED[@]}" "${J2B[@]}"
ok "unpacked input for a packed field" '\x20\x01\x20\x02' '{"nums":[1,2]}' "${NESTED[@]}" "${B2J[@]}"
ok "unknown fields in binary are skipped" '\xf8\x07\x01\x08\x07' '{"a":7}' "${NESTED[@]}" "${B2J[@]}"
ok "last value of a repeated singular field wins" '\x08\x01\x08\x02' '{"a":2}' "${NESTED[@]}" "${B2J[@]}"
ok "--emit-defaults" '{}' '{"sku":"","amountMicros":"0","currency":"","quantity":0,"tags":[],"color":"COLOR_UNSPECIFIED"}' \
    "${SMALL[@]}" "${J2J[@]}" --emit-defaults
ok "--emit-defaults --proto-names" '' \
    '{"sku":"","amount_micros":"0","currency":"","quantity":0,"tags":[],"color":"COLOR_UNSPECIFIED"}' \
    "${SMALL[@]}" "${B2J[@]}" --emit-defaults --proto-names
ok "--proto-names" '{"amountMicros":"5","updatedAt":"1970-01-01T00:00:00Z"}' \
    '{"amount_micros":"5","updated_at":"1970-01-01T00:00:00Z"}' "${SMALL[@]}" "${J2J[@]}" --proto-names
ok "--enum-ints" '{"color":"GREEN"}' '{"color":2}' "${SMALL[@]}" "${J2J[@]}" --enum-ints
ok "--enum-ints with an unknown number" '\x38\x09' '{"color":9}' "${SMALL[@]}" "${B2J[@]}" --enum-ints
ok "unknown enum number prints as a number" '\x38\x09' '{"color":9}' "${SMALL[@]}" "${B2J[@]}"
ok "--ignore-unknown skips unknown fields" '{"sku":"a","bogus":{"x":[1,{"y":null}]}}' '{"sku":"a"}' \
    "${SMALL[@]}" "${J2J[@]}" --ignore-unknown
ok "json_name option and proto name" '{"custom_json":5,"snake_case_name":"s"}' '{"renamed_Field":5,"snakeCaseName":"s"}' \
    "${EV[@]}" "${J2J[@]}"
ok "proto-names uses the proto name of a json_name field" '{"renamed_Field":5}' '{"custom_json":5}' \
    "${EV[@]}" "${J2J[@]}" --proto-names
ok "oneof NullValue member" '{"choiceNull":null}' '{"choiceNull":null}' "${EV[@]}" "${J2J[@]}"
ok "optional presence" '{"optInt32":0,"optString":""}' '{"optInt32":0,"optString":""}' "${EV[@]}" "${J2J[@]}"
ok "well-known types" \
    '{"wellKnown":{"any":{"@type":"type.googleapis.com/portico.test.Small","sku":"x"},"duration":"-1.500s","fieldMask":"a.bC,d","struct":{"k":[1,"s",null,true]},"int64Value":"7","bytesValue":"AQI="}}' \
    '{"wellKnown":{"any":{"@type":"type.googleapis.com/portico.test.Small","sku":"x"},"duration":"-1.500s","fieldMask":"a.bC,d","struct":{"k":[1,"s",null,true]},"int64Value":"7","bytesValue":"AQI="}}' \
    "${EV[@]}" "${J2J[@]}"
ok "floats" '{"scalars":{"fDouble":0.1,"fFloat":0.1},"repeated":{"rDouble":["NaN","-Infinity",-0,1e+300]}}' \
    '{"scalars":{"fDouble":0.1,"fFloat":0.1},"repeated":{"rDouble":["NaN","-Infinity",-0,1e+300]}}' "${EV[@]}" "${J2J[@]}"
okhex "two descriptor sets, proto2 group and required field" '{"id":"7","grp":{"g":3}}' 20074b50034c \
    -d "$T" -d "$T2" -m portico.test2.Legacy "${J2B[@]}"
ok "proto2: --emit-defaults leaves fields with presence out" '{"id":"7"}' '{"id":"7","packedNums":[],"plainNums":[]}' \
    -d "$T2" -m portico.test2.Legacy "${J2J[@]}" --emit-defaults
ok "the same set twice" '{"sku":"a"}' '{"sku":"a"}' -d "$T" -d "$T" -m portico.test.Small "${J2J[@]}"
ok "40 nested messages (json)" "$DEEP40" "$DEEP40" "${NESTED[@]}" "${J2J[@]}"
ok "40 nested messages (binary)" "$DEEP40_BIN" "$DEEP40" "${NESTED[@]}" "${B2J[@]}"
ok "--max-depth above the nesting" '{"child":{"child":{}}}' '{"child":{"child":{}}}' "${NESTED[@]}" "${J2J[@]}" --max-depth 10
ok "--max-input at the size" '{"a":1}' '{"a":1}' "${NESTED[@]}" "${J2J[@]}" --max-input 7
ok "long form options" '{"a":1}' '{"a":1}' --descriptor-set "$T" --message portico.test.Nested "${J2J[@]}"

# --- bad input: exit 1, one line ----------------------------------------------------------------------
bad "not an integer" '{"quantity":1.5}' 'quantity' "${SMALL[@]}" "${J2J[@]}"
bad "int32 out of range" '{"quantity":2147483648}' 'quantity' "${SMALL[@]}" "${J2B[@]}"
bad "int64 out of range" '{"amountMicros":"9223372036854775808"}' 'amountMicros' "${SMALL[@]}" "${J2B[@]}"
bad "string for a number field" '{"quantity":"many"}' 'quantity' "${SMALL[@]}" "${J2B[@]}"
bad "number for a string field" '{"sku":5}' 'sku' "${SMALL[@]}" "${J2B[@]}"
bad "unknown field" '{"sku":"a","bogus":1}' 'bogus' "${SMALL[@]}" "${J2B[@]}"
bad "unknown enum name" '{"color":"PURPLE"}' 'PURPLE' "${SMALL[@]}" "${J2B[@]}"
bad "bad timestamp" '{"updatedAt":"2024-13-01T00:00:00Z"}' 'updatedAt' "${SMALL[@]}" "${J2B[@]}"
bad "nested field path" '{"repeated":{"rNested":[{},{"a":"x"}]}}' 'rNested[1].a' "${EV[@]}" "${J2B[@]}"
bad "two oneof members" '{"choiceString":"a","choiceInt":1}' 'choice' "${EV[@]}" "${J2B[@]}"
bad "Any with an unknown type" '{"wellKnown":{"any":{"@type":"type.googleapis.com/no.Such"}}}' 'no.Such' "${EV[@]}" "${J2B[@]}"
bad "truncated JSON" '{"sku":' '' "${SMALL[@]}" "${J2B[@]}"
bad "empty JSON input" '' '' "${SMALL[@]}" "${J2B[@]}"
bad "trailing garbage" '{} {}' '' "${SMALL[@]}" "${J2B[@]}"
bad "top level is not an object" '[1]' '' "${SMALL[@]}" "${J2B[@]}"
bad "invalid UTF-8 in JSON" '{"sku":"\xff"}' 'UTF-8' "${SMALL[@]}" "${J2B[@]}"
bad "NUL byte in JSON" '{"sku":"a"}\x00' '' "${SMALL[@]}" "${J2B[@]}"
bad "truncated length-delimited field" '\x0a\x05ab' '' "${SMALL[@]}" "${B2J[@]}"
bad "invalid wire type" '\x0f' '' "${SMALL[@]}" "${B2J[@]}"
bad "field number 0" '\x00\x01' '' "${SMALL[@]}" "${B2J[@]}"
bad "varint longer than 10 bytes" '\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01' '' "${SMALL[@]}" "${B2J[@]}"
bad "truncated varint" '\x10\xff' '' "${SMALL[@]}" "${B2J[@]}"
bad "truncated fixed64" '\x09\x01\x02' '' -d "$T" -m portico.test.Scalars "${B2J[@]}"
bad "invalid UTF-8 in a binary string" '\x0a\x01\xff' 'sku' "${SMALL[@]}" "${B2J[@]}"
ok "wrong wire type is an unknown field" '\x30\x01\x10\x02' '{"amountMicros":"2"}' "${SMALL[@]}" "${B2J[@]}"
bad "garbage inside a nested message" '\x32\x02\x0f\x00' '' "${SMALL[@]}" "${B2B[@]}"
bad "timestamp out of range in binary" '\x32\x0b\x08\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01' '' "${SMALL[@]}" "${B2J[@]}"
bad "--max-depth below the nesting (json)" '{"child":{"child":{"child":{"child":{}}}}}' 'deep' \
    "${NESTED[@]}" "${J2J[@]}" --max-depth 3
bad "--max-depth below the nesting (binary)" "$DEEP40_BIN" 'deep' "${NESTED[@]}" "${B2J[@]}" --max-depth 10
bad "300 nested messages, default limit" "$DEEP300" '' "${NESTED[@]}" "${J2B[@]}"
bad "100000 nested JSON lists" "{\"wellKnown\":{\"value\":$LISTS" '' "${EV[@]}" "${J2B[@]}"
bad "100000 nested lists in an unknown field" "{\"x\":$LISTS" '' "${EV[@]}" "${J2B[@]}" --ignore-unknown
bad "--max-input below the size" '{"a":1}' '6' "${NESTED[@]}" "${J2J[@]}" --max-input 6
bad "Any of a Value without \"value\"" '{"wellKnown":{"any":{"@type":"type.googleapis.com/google.protobuf.Value"}}}' \
    'any' "${EV[@]}" "${J2B[@]}"
# Input text quoted in an error must not break the one-line contract.
bad "newline in an unknown JSON key" '{"bo\\ngus":1}' 'gus' "${EV[@]}" "${J2B[@]}"
bad "newline in a JSON map key" '{"maps":{"mInt32":{"a\\nb":1}}}' 'mInt32' "${EV[@]}" "${J2B[@]}"
bad "newline in a binary Struct key" '\x2a\x0b\x0a\x09\x0a\x03a\x0ab\x12\x02\x00\x01' 'struct' \
    -d "$T" -m portico.test.WellKnown "${B2J[@]}"
bad "newline in a binary Any type URL" '\x0a\x05\x0a\x03a\x0ab' 'any' -d "$T" -m portico.test.WellKnown "${B2J[@]}"

# --- descriptor sets and message names ----------------------------------------------------------------------
bad "missing descriptor set" '{}' "$tmp/nope.pb" -d "$tmp/nope.pb" -m portico.test.Small "${J2J[@]}"
bad "text file as descriptor set" '{}' "$tmp/text.pb" -d "$tmp/text.pb" -m portico.test.Small "${J2J[@]}"
bad "garbage descriptor set" '{}' "$tmp/garbage.pb" -d "$tmp/garbage.pb" -m portico.test.Small "${J2J[@]}"
bad "directory as descriptor set" '{}' "$tmp" -d "$tmp" -m portico.test.Small "${J2J[@]}"
bad "empty descriptor set" '{}' '' -d "$tmp/empty.pb" -m portico.test.Small "${J2J[@]}"
bad "set built without --include_imports" '{}' '--include_imports' -d "$tmp/noimports.pb" -m portico.test.Small "${J2J[@]}"
bad "a file defined twice, differently" '{}' 'codec_test.proto' -d "$T" -d "$tmp/conflict.pb" -m portico.test.Small "${J2J[@]}"
bad "unknown message name" '{}' 'portico.test.Nope' -d "$T" -m portico.test.Nope "${J2J[@]}"
bad "message name without package" '{}' 'Small' -d "$T" -m Small "${J2J[@]}"
bad "enum name as message name" '{}' 'portico.test.Color' -d "$T" -m portico.test.Color "${J2J[@]}"
bad "message of a set not loaded" '{}' 'portico.test2.Legacy' -d "$T" -m portico.test2.Legacy "${J2J[@]}"

# --- usage errors: exit 2 -------------------------------------------------------------------------
usage "no command" 'usage'
usage "unknown command" 'frobnicate' frobnicate
usage "transcode without -d" '-d' transcode -m portico.test.Small "${J2J[@]}"
usage "transcode without -m" '-m' transcode -d "$T" "${J2J[@]}"
usage "transcode without --from" '--from' transcode "${SMALL[@]}" --to json
usage "transcode without --to" '--to' transcode "${SMALL[@]}" --from json
usage "--from xml" '--from' transcode "${SMALL[@]}" --from xml --to json
usage "--to text" '--to' transcode "${SMALL[@]}" --from json --to text
usage "unknown option" '--bogus' transcode "${SMALL[@]}" "${J2J[@]}" --bogus
usage "-d without a file" '-d' transcode -m portico.test.Small "${J2J[@]}" -d
usage "-m without a name" '-m' transcode -d "$T" "${J2J[@]}" -m
usage "--max-depth not a number" '--max-depth' transcode "${SMALL[@]}" "${J2J[@]}" --max-depth abc
usage "--max-input negative" '--max-input' transcode "${SMALL[@]}" "${J2J[@]}" --max-input -5

# --- version and help -------------------------------------------------------------------------------
run "" version
if [ "$rc" -eq 0 ] && grep -qE '^portico [0-9]+\.[0-9]+\.[0-9]+' "$tmp/out" && [ ! -s "$tmp/err" ]; then
    pass
else
    fail "portico version" "exit $rc" "stdout: $(head -c 300 "$tmp/out")" "stderr: $(head -c 300 "$tmp/err")"
fi
for args in "--help" "help" "transcode --help"; do
    # shellcheck disable=SC2086 # the words of $args are separate arguments
    run "" $args
    if [ "$rc" -eq 0 ] && grep -q 'transcode' "$tmp/out" && grep -q -- '--emit-defaults' "$tmp/out" && [ ! -s "$tmp/err" ]; then
        pass
    else
        fail "portico $args" "exit $rc" "stdout: $(head -c 300 "$tmp/out")" "stderr: $(head -c 300 "$tmp/err")"
    fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
