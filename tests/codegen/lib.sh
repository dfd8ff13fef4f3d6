# lib.sh — shared by the tests/codegen/*.test.sh scripts: where the plugin and the protos are,
# running protoc with the plugin, and the pass/fail counters with the closing "N passed, N failed".
# ctest sets PORTICO_SOURCE_DIR and PORTICO_BUILD_DIR; PORTICO_PROTOC_GEN_PORTICO overrides the plugin.

: "${PORTICO_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${PORTICO_BUILD_DIR:?PORTICO_BUILD_DIR must name the build directory (ctest sets it)}"
PLUGIN=${PORTICO_PROTOC_GEN_PORTICO:-$PORTICO_BUILD_DIR/codegen/protoc-gen-portico}
DESCRIPTORS=$PORTICO_SOURCE_DIR/descriptors
CODEGEN_TESTS=$PORTICO_SOURCE_DIR/tests/codegen
GOLDEN=$CODEGEN_TESTS/golden

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok    $*"; }
fail() { failed=$((failed + 1)); echo "FAIL  $*"; }
summary() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}

if [ ! -x "$PLUGIN" ]; then
    echo "protoc-gen-portico not built: $PLUGIN (build the project first)"
    echo "0 passed, 1 failed"
    exit 1
fi

# run_plugin OUT_DIR PARAMS PROTO... : protoc with the plugin, -I descriptors and /usr/include (plus
# $EXTRA_INCLUDE when set). stderr goes to OUT_DIR.stderr, minus the UTF-8 complaint Debian's
# libprotobuf logs about the binary .pb content (see docs/CODEGEN.md). Returns protoc's status.
run_plugin() {
    local out=$1 params=$2
    shift 2
    rm -rf "$out"
    mkdir -p "$out"
    local rc=0
    protoc --plugin=protoc-gen-portico="$PLUGIN" --portico_out="$out" ${params:+--portico_opt="$params"} \
        ${EXTRA_INCLUDE:+-I "$EXTRA_INCLUDE"} -I "$DESCRIPTORS" -I /usr/include "$@" 2>"$out.stderr.raw" || rc=$?
    grep -v 'contains invalid UTF-8 data when parsing a protocol buffer' "$out.stderr.raw" >"$out.stderr" || true
    rm -f "$out.stderr.raw"
    return $rc
}
