#!/usr/bin/env bash
# golden.test.sh — protoc-gen-portico's outputs against the committed goldens in tests/codegen/golden/:
# the transcoding table (.routes) and the OpenAPI document (.openapi.json) of the example shop and of
# the codegen test protos, byte for byte, with a diff on mismatch. Also: the descriptor set (.pb) holds
# the same files as protoc's own --include_imports set and loads into the gateway (portico transcode),
# and the plugin parameters (name=, openapi=false, auto_mapping=false, unknown keys) do what they say.
#
# Regenerate the goldens after an intended change (then review the diff with git):
#   PORTICO_REGEN_GOLDEN=1 ctest --test-dir BUILD -R codegen/golden
set -u
. "$(dirname "$0")/lib.sh"

WORK=$PORTICO_BUILD_DIR/codegen-golden
mkdir -p "$WORK"

# name | proto (relative to descriptors/)
CASES="shop|shop/v1/shop.proto
codegen_types|test/codegen_types.proto
codegen_routes|test/codegen_routes.proto"

while IFS='|' read -r name proto; do
    out=$WORK/$name
    if ! run_plugin "$out" "" "$proto"; then
        fail "$name: protoc-gen-portico on $proto"
        sed 's/^/      /' "$out.stderr"
        continue
    fi
    pass "$name: protoc-gen-portico on $proto"
    for ext in routes openapi.json; do
        got=$out/$name.$ext want=$GOLDEN/$name.$ext
        if [ "${PORTICO_REGEN_GOLDEN:-}" = 1 ]; then
            cp "$got" "$want"
            pass "$name.$ext regenerated"
        elif [ ! -f "$want" ]; then
            fail "$name.$ext: no golden file $want (run with PORTICO_REGEN_GOLDEN=1)"
        elif diff -u "$want" "$got" >"$out/$ext.diff"; then
            pass "$name.$ext matches the golden"
        else
            fail "$name.$ext differs from the golden (- golden, + generated):"
            head -n 80 "$out/$ext.diff" | sed 's/^/      /'
        fi
    done
    # the set holds what --include_imports gives: the same files, in the same order
    protoc --include_imports --include_source_info -I "$DESCRIPTORS" -I /usr/include \
        --descriptor_set_out="$out/protoc.pb" "$proto"
    list_files() {
        protoc --decode=google.protobuf.FileDescriptorSet -I /usr/include google/protobuf/descriptor.proto <"$1" |
            sed -n 's/^  name: "\(.*\)"$/\1/p'
    }
    if [ -s "$out/$name.pb" ] && [ "$(list_files "$out/$name.pb")" = "$(list_files "$out/protoc.pb")" ]; then
        pass "$name.pb holds the files of protoc --include_imports ($(list_files "$out/$name.pb" | wc -l) files)"
    else
        fail "$name.pb holds the files of protoc --include_imports"
        diff <(list_files "$out/protoc.pb") <(list_files "$out/$name.pb") | sed 's/^/      /'
    fi
done <<<"$CASES"

# The set loads into the gateway and transcodes (int64 as a JSON string, enum by name).
if [ -x "${PORTICO_BIN:-}" ]; then
    got=$(printf '{"sku":"ABC-123","amountMicros":"19990000","kind":"PRICE_KIND_SALE"}' |
        "$PORTICO_BIN" transcode -d "$WORK/shop/shop.pb" -m shop.v1.Price --from json --to binary |
        "$PORTICO_BIN" transcode -d "$WORK/shop/shop.pb" -m shop.v1.Price --from binary --to json)
    if [ "$got" = '{"sku":"ABC-123","amountMicros":"19990000","kind":"PRICE_KIND_SALE"}' ]; then
        pass "shop.pb loads into portico transcode"
    else
        fail "shop.pb loads into portico transcode: got $got"
    fi
else
    fail "PORTICO_BIN is not set to the portico binary"
fi

# Parameters
if run_plugin "$WORK/params1" "name=api/shop,openapi=false,descriptor_set=false" shop/v1/shop.proto &&
    [ -f "$WORK/params1/api/shop.routes" ] && [ ! -e "$WORK/params1/api/shop.openapi.json" ] &&
    [ ! -e "$WORK/params1/api/shop.pb" ] && grep -q '^# descriptor-set shop.pb$' "$WORK/params1/api/shop.routes"; then
    pass "name=api/shop,openapi=false,descriptor_set=false: only api/shop.routes"
else
    fail "name=api/shop,openapi=false,descriptor_set=false: only api/shop.routes"
    find "$WORK/params1" | sed 's/^/      /'
fi
if run_plugin "$WORK/params2" "auto_mapping=false,routes=false,descriptor_set=false" shop/v1/shop.proto &&
    ! grep -q ListWarehouses "$WORK/params2/shop.openapi.json" && grep -q PriceService_GetPrice "$WORK/params2/shop.openapi.json" &&
    [ ! -e "$WORK/params2/shop.routes" ]; then
    pass "auto_mapping=false: no operation for ListWarehouses (no http rule)"
else
    fail "auto_mapping=false: no operation for ListWarehouses (no http rule)"
fi
if run_plugin "$WORK/params3" "title=Shop API,version=1.2.3,server=https://api.example.com,proto_names=true" shop/v1/shop.proto &&
    grep -q '"title": "Shop API"' "$WORK/params3/shop.openapi.json" &&
    grep -q '"version": "1.2.3"' "$WORK/params3/shop.openapi.json" &&
    grep -q '"url": "https://api.example.com"' "$WORK/params3/shop.openapi.json" &&
    grep -q '"amount_micros": {' "$WORK/params3/shop.openapi.json"; then
    pass "title=, version=, server=, proto_names=true reach the document"
else
    fail "title=, version=, server=, proto_names=true reach the document"
fi
if ! run_plugin "$WORK/params4" "colour=blue" shop/v1/shop.proto &&
    grep -q 'unknown or incomplete parameter "colour"' "$WORK/params4.stderr"; then
    pass "an unknown parameter fails with its name"
else
    fail "an unknown parameter fails with its name"
    sed 's/^/      /' "$WORK/params4.stderr"
fi
if ! run_plugin "$WORK/params5" "openapi=maybe" shop/v1/shop.proto && grep -q 'openapi=maybe: expected true or false' "$WORK/params5.stderr"; then
    pass "a bad boolean fails with the parameter"
else
    fail "a bad boolean fails with the parameter"
fi
# Several files in one run: one table and one document for all of them.
if run_plugin "$WORK/multi" "name=both" test/codegen_types.proto test/codegen_routes.proto &&
    grep -q 'TypeService.CreateResource' "$WORK/multi/both.routes" && grep -q 'Library.GetBook' "$WORK/multi/both.routes" &&
    grep -q 'Library_GetBook' "$WORK/multi/both.openapi.json" && grep -q 'TypeService_Echo' "$WORK/multi/both.openapi.json"; then
    pass "two files in one run: one table and one document"
else
    fail "two files in one run: one table and one document"
fi
# Not run by protoc: a usage message, not a hang or a crash.
if "$PLUGIN" --help >/dev/null 2>"$WORK/usage.txt"; then
    fail "protoc-gen-portico --help exits non-zero"
elif grep -q "protoc plugin" "$WORK/usage.txt"; then
    pass "protoc-gen-portico --help explains it is a protoc plugin"
else
    fail "protoc-gen-portico --help explains it is a protoc plugin"
fi
if printf 'not a request' | "$PLUGIN" >"$WORK/garbage.out" && grep -q "does not hold a CodeGeneratorRequest" "$WORK/garbage.out"; then
    pass "garbage on stdin: an error in the response"
else
    fail "garbage on stdin: an error in the response"
fi

summary
