#!/usr/bin/env bash
# openapi_validate.test.sh — the OpenAPI documents protoc-gen-portico writes, checked by real validators
# under node (validate_openapi.mjs): @seriousme/openapi-schema-validator against the official OpenAPI 3.1
# schema (plus every $ref resolved), and Ajv compiling every component schema as JSON Schema 2020-12.
# Then the documented shapes are held against the wire: JSON printed by the gateway's own codec
# (portico transcode, JSON -> protobuf -> JSON) must validate against the component schema of its
# message. A broken document must be rejected (negative control), so a validator that accepts
# anything cannot pass this test.
#
# The validator is installed once by this test into $PORTICO_BUILD_DIR/codegen-npm with
# `npm install --prefix` (pinned versions). Only when npm itself is missing does the test skip.
set -u
. "$(dirname "$0")/lib.sh"

VALIDATOR_PKG="@seriousme/openapi-schema-validator@2.11.0"
NPM_DIR=$PORTICO_BUILD_DIR/codegen-npm
WORK=$PORTICO_BUILD_DIR/codegen-openapi
mkdir -p "$WORK"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "SKIP: node/npm not installed; the OpenAPI 3.1 validator cannot run (apt-get install nodejs npm)"
    exit 0
fi
if [ ! -f "$NPM_DIR/node_modules/@seriousme/openapi-schema-validator/package.json" ] ||
    ! grep -q '"version": "2.11.0"' "$NPM_DIR/node_modules/@seriousme/openapi-schema-validator/package.json"; then
    echo "installing $VALIDATOR_PKG into $NPM_DIR"
    if ! npm install --prefix "$NPM_DIR" --prefer-offline --no-audit --no-fund --loglevel=error "$VALIDATOR_PKG" >"$WORK/npm.log" 2>&1; then
        sed 's/^/      /' "$WORK/npm.log"
        fail "npm install $VALIDATOR_PKG"
        summary
        exit 1
    fi
fi

docs=()
for spec in shop:shop/v1/shop.proto codegen_types:test/codegen_types.proto codegen_routes:test/codegen_routes.proto; do
    name=${spec%%:*} proto=${spec#*:}
    if run_plugin "$WORK/$name" "" "$proto"; then
        docs+=("$WORK/$name/$name.openapi.json")
    else
        fail "$name: protoc-gen-portico on $proto"
        sed 's/^/      /' "$WORK/$name.stderr"
    fi
done
# the committed goldens are what users read: they must be valid too
docs+=("$GOLDEN/shop.openapi.json" "$GOLDEN/codegen_types.openapi.json" "$GOLDEN/codegen_routes.openapi.json")

# Samples: name | document | message | JSON input. Each is run through the codec (JSON -> binary -> JSON),
# and the JSON the gateway prints must match the schema the document gives for the message.
SAMPLES='price|shop|shop.v1.Price|{"sku":"ABC-123","amountMicros":"19990000","currency":"USD","quantity":2,"tags":["new"],"updatedAt":"2024-05-01T10:00:00Z","unitAmountMicros":9995000,"kind":"PRICE_KIND_SALE","compareAtMicros":"12000000","discounts":[{"type":"TYPE_PROMO","code":"SAVE10","percentOffBps":1000}],"attributes":{"color":"blue"},"displayName":"Mug","version":"3"}
price_defaults|shop|shop.v1.Price|{}
stock|shop|shop.v1.Stock|{"sku":"ABC-123","available":7,"status":"STOCK_STATUS_LOW_STOCK","availableByWarehouse":{"ams-1":4,"ber-2":3},"restockAt":"2024-06-01T00:00:00.5Z"}
batch|shop|shop.v1.BatchGetPricesRequest|{"items":[{"sku":"A","quantity":1}],"currency":"EUR","allowMissing":true}
warehouse|shop|shop.v1.ListWarehousesResponse|{"warehouses":[{"id":"ams-1","address":{"city":"Amsterdam","country":"NL"},"kind":"KIND_STORE","handlingDays":2}],"nextPageToken":"x","totalSize":1}
resource|codegen_types|portico.codegen.types.Resource|{"name":"r1","title":"T","old":"o","createTime":"2024-01-02T03:04:05.123456789Z","scalars":{"fDouble":1.5,"fFloat":2,"fInt64":"-9223372036854775808","fUint64":"18446744073709551615","fInt32":-5,"fFixed64":"7","fFixed32":8,"fBool":true,"fString":"s","fBytes":"AAEC","fUint32":4294967295,"fEnum":"RED","fSfixed32":-1,"fSfixed64":"-2","fSint32":-3,"fSint64":"-4","customName":"c"},"wkt":{"ts":"1970-01-01T00:00:00Z","dur":"-1.500s","mask":"fInt64,scalars.fBool","st":{"a":[1,"b",null,{"c":true}]},"val":42,"list":[1,"x"],"empty":{},"wDouble":1.25,"wFloat":0.5,"wInt64":"9","wUint64":"10","wInt32":11,"wUint32":12,"wBool":false,"wString":"","wBytes":"/w==","nullValue":null},"collections":{"tags":["a","b"],"colors":["BLUE","RED"],"items":[{"fInt32":1}],"byName":{"x":{"fString":"y"}},"byId":{"-5":"five"},"byFlag":{"true":1,"false":0},"byNumber":{"7":"BLUE"}},"choice":{"id":"c","number":"12","flag":true,"maybe":0}}
any|codegen_types|portico.codegen.types.WellKnown|{"any":{"@type":"type.googleapis.com/portico.codegen.types.Node","id":"n1","children":[{"id":"n2"}]}}
any_wkt|codegen_types|portico.codegen.types.WellKnown|{"any":{"@type":"type.googleapis.com/google.protobuf.Duration","value":"3s"}}
choice_node|codegen_types|portico.codegen.types.Choice|{"node":{"id":"root","parent":{"id":"up"}},"note":"n"}
book_event|codegen_routes|portico.codegen.routes.BookEvent|{"kind":"ADDED","book":{"name":"shelves/1/books/2","authors":["A"],"pages":"300"}}'

sample_args=()
if [ -x "${PORTICO_BIN:-}" ]; then
    while IFS='|' read -r name doc msg json; do
        for mode in plain defaults; do
            flags=()
            [ "$mode" = defaults ] && flags=(--emit-defaults)
            out=$WORK/sample_${name}_$mode.json
            if printf '%s' "$json" | "$PORTICO_BIN" transcode -d "$WORK/$doc/$doc.pb" -m "$msg" --from json --to binary |
                "$PORTICO_BIN" transcode -d "$WORK/$doc/$doc.pb" -m "$msg" --from binary --to json "${flags[@]}" >"$out" 2>"$out.err"; then
                sample_args+=(--sample "$WORK/$doc/$doc.openapi.json" "$msg" "$out")
            else
                fail "sample $name ($mode): portico transcode failed: $(cat "$out.err")"
            fi
        done
    done <<<"$SAMPLES"
else
    fail "PORTICO_BIN is not set to the portico binary: the codec samples cannot run"
fi
# Negative controls for the samples: JSON that breaks the mapping must be rejected by the schemas.
REJECTS='int64_as_number|shop|shop.v1.Price|{"amountMicros":19990000}
unknown_enum|shop|shop.v1.Price|{"kind":"PRICE_KIND_BOGUS"}
two_oneof_members|shop|shop.v1.Discount|{"amountOffMicros":"1","percentOffBps":2}
bad_timestamp|shop|shop.v1.Price|{"updatedAt":"yesterday"}
bad_duration|codegen_types|portico.codegen.types.WellKnown|{"dur":"90 minutes"}
any_without_type|codegen_types|portico.codegen.types.WellKnown|{"any":{"value":"3s"}}
map_key_not_int|codegen_types|portico.codegen.types.Collections|{"byId":{"five":"5"}}'
while IFS='|' read -r name doc msg json; do
    printf '%s' "$json" >"$WORK/reject_$name.json"
    sample_args+=(--reject "$WORK/$doc/$doc.openapi.json" "$msg" "$WORK/reject_$name.json")
done <<<"$REJECTS"

if node "$CODEGEN_TESTS/validate_openapi.mjs" "$NPM_DIR" "${docs[@]}" --expect-invalid "$CODEGEN_TESTS/negative.openapi.json" \
    "${sample_args[@]}" >"$WORK/node.log" 2>&1; then
    node_rc=0
else
    node_rc=1
fi
cat "$WORK/node.log"
# fold the node script's counts into ours
line=$(tail -n 1 "$WORK/node.log")
if [[ "$line" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    passed=$((passed + BASH_REMATCH[1]))
    failed=$((failed + BASH_REMATCH[2]))
    [ "$node_rc" -ne 0 ] && [ "${BASH_REMATCH[2]}" -eq 0 ] && fail "validate_openapi.mjs exited $node_rc"
else
    fail "validate_openapi.mjs did not finish (exit $node_rc)"
fi
summary
