#!/usr/bin/env bash
# cmake_function.test.sh — cmake/PorticoProtos.cmake in a project of its own: portico_add_protos()
# builds <name>.pb, <name>.routes and <name>.openapi.json, honours NAME/OPTIONS, sets the output
# properties on the target, does nothing on a second build, and rebuilds when an imported .proto
# changes (protoc's depfile). The protos are copied so that the test can touch an import.
set -u
. "$(dirname "$0")/lib.sh"

WORK=$PORTICO_BUILD_DIR/codegen-cmake
rm -rf "$WORK"
mkdir -p "$WORK/src" "$WORK/protos"
cp -r "$DESCRIPTORS/google" "$DESCRIPTORS/shop" "$DESCRIPTORS/test" "$WORK/protos/"

cat >"$WORK/src/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.16)
project(portico_add_protos_test NONE)
include($PORTICO_SOURCE_DIR/cmake/PorticoProtos.cmake)
set(P $WORK/protos)
portico_add_protos(TARGET shop_api
  PROTOS \${P}/shop/v1/shop.proto
  IMPORT_DIRS \${P} /usr/include
  OUT_DIR \${CMAKE_BINARY_DIR}/out
  PLUGIN $PLUGIN
  OPTIONS title=Shop version=2.0.0)
portico_add_protos(TARGET two_files
  PROTOS \${P}/test/codegen_types.proto \${P}/test/codegen_routes.proto
  IMPORT_DIRS \${P} /usr/include
  OUT_DIR \${CMAKE_BINARY_DIR}/out
  NAME both
  PLUGIN $PLUGIN
  OPTIONS openapi=false)
get_target_property(desc shop_api PORTICO_DESCRIPTOR_SET)
get_target_property(routes shop_api PORTICO_ROUTES)
get_target_property(openapi shop_api PORTICO_OPENAPI)
message(STATUS "properties: \${desc} \${routes} \${openapi}")
EOF

B=$WORK/build
if cmake -S "$WORK/src" -B "$B" >"$WORK/configure.log" 2>&1; then
    pass "a project using portico_add_protos configures"
else
    fail "a project using portico_add_protos configures"
    sed 's/^/      /' "$WORK/configure.log"
    summary
    exit 1
fi
if grep -qF "properties: $B/out/shop.pb $B/out/shop.routes $B/out/shop.openapi.json" "$WORK/configure.log"; then
    pass "the target carries PORTICO_DESCRIPTOR_SET, PORTICO_ROUTES and PORTICO_OPENAPI"
else
    fail "the target carries PORTICO_DESCRIPTOR_SET, PORTICO_ROUTES and PORTICO_OPENAPI"
fi
if cmake --build "$B" >"$WORK/build1.log" 2>&1; then
    pass "first build"
else
    fail "first build"
    sed 's/^/      /' "$WORK/build1.log"
fi
if [ -s "$B/out/shop.pb" ] && cmp -s "$B/out/shop.routes" "$GOLDEN/shop.routes" &&
    grep -q '"title": "Shop"' "$B/out/shop.openapi.json" && grep -q '"version": "2.0.0"' "$B/out/shop.openapi.json"; then
    pass "shop.pb, shop.routes (= the golden) and shop.openapi.json (with OPTIONS) built"
else
    fail "shop.pb, shop.routes (= the golden) and shop.openapi.json (with OPTIONS) built"
    ls -la "$B/out" 2>&1 | sed 's/^/      /'
fi
if [ -s "$B/out/both.pb" ] && grep -q 'Library.GetBook' "$B/out/both.routes" && grep -q 'TypeService.Echo' "$B/out/both.routes" &&
    [ ! -e "$B/out/both.openapi.json" ]; then
    pass "NAME both, two protos, openapi=false: both.pb and both.routes only"
else
    fail "NAME both, two protos, openapi=false: both.pb and both.routes only"
fi
if [ -x "${PORTICO_BIN:-}" ] && printf '{"sku":"A"}' | "$PORTICO_BIN" transcode -d "$B/out/shop.pb" -m shop.v1.Stock --from json --to binary >/dev/null; then
    pass "the descriptor set loads into portico"
else
    fail "the descriptor set loads into portico"
fi
if cmake --build "$B" >"$WORK/build2.log" 2>&1 && ! grep -q 'protoc-gen-portico' "$WORK/build2.log"; then
    pass "a second build runs nothing"
else
    fail "a second build runs nothing"
    sed 's/^/      /' "$WORK/build2.log"
fi
sleep 1
echo "// touched" >>"$WORK/protos/google/api/http.proto"
if cmake --build "$B" >"$WORK/build3.log" 2>&1 && grep -q 'protoc-gen-portico shop' "$WORK/build3.log" &&
    [ "$B/out/shop.pb" -nt "$WORK/build2.log" ]; then
    pass "changing an imported proto (google/api/http.proto) rebuilds shop"
else
    fail "changing an imported proto (google/api/http.proto) rebuilds shop"
    sed 's/^/      /' "$WORK/build3.log"
fi
summary
