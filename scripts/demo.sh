#!/usr/bin/env bash
# demo.sh — the main job: sets up, builds and runs portico on the example types.
# Until the gateway server lands, this shows `portico transcode` converting example
# messages between JSON and protobuf binary and the errors it gives on bad input.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"$(nproc)" >/dev/null
P=build/release/portico
SET=build/release/descriptors/codec_test.pb

show() { echo "\$ $*"; }
echo "portico $($P version | cut -d' ' -f2) — proto3 JSON <-> protobuf with descriptor sets"
echo
JSON='{"sku":"ABC-123","amountMicros":"1234500","currency":"EUR","quantity":2,"tags":["new","sale"],"updatedAt":"2026-11-26T10:00:00.5Z","color":"BLUE"}'
show "echo '$JSON' | portico transcode -d codec_test.pb -m portico.test.Small --from json --to binary | xxd"
echo "$JSON" | $P transcode -d $SET -m portico.test.Small --from json --to binary | od -An -tx1 | head -5
echo
show "... | portico transcode --from json --to binary | portico transcode --from binary --to json --proto-names --emit-defaults"
echo "$JSON" | $P transcode -d $SET -m portico.test.Small --from json --to binary |
  $P transcode -d $SET -m portico.test.Small --from binary --to json --proto-names --emit-defaults
echo
WKT='{"wellKnown":{"any":{"@type":"type.googleapis.com/google.protobuf.Duration","value":"1.5s"},"struct":{"a":[1,"x",null,{"b":true}]},"fieldMask":"scalars.fInt32,wellKnown","int64Value":"-9007199254740993"},"maps":{"mInt64":{"-1":"2"},"mBool":{"true":false}},"choiceNested":{"a":1}}'
show "echo '$WKT' | portico transcode -m portico.test.Everything --from json --to json"
echo "$WKT" | $P transcode -d $SET -m portico.test.Everything --from json --to json
echo
for bad in '{"quantity":1.5}' '{"color":"PURPLE"}' '{"colour":"RED"}' '{"updatedAt":"2026-13-01T00:00:00Z"}' '{"sku":"x",}'; do
  show "echo '$bad' | portico transcode -m portico.test.Small --from json --to binary"
  echo "$bad" | $P transcode -d $SET -m portico.test.Small --from json --to binary >/dev/null || echo "(exit $?)"
done
