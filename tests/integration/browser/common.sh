# common.sh — helpers shared by the browser, gRPC-Web and Connect tests and bench/browser
# (sourced after tests/integration/lib.sh, or on its own by the benchmark):
#   npm_setup       installs the pinned npm packages of package.json into $PORTICO_BUILD_DIR/npm
#                   (once; later runs reuse them) and sets NPM_DIR, BUF (the buf CLI)
#   shop_get_pb OUT writes a shop descriptor set in which the read-only methods (GetPrice,
#                   GetStock, ListWarehouses) are idempotency_level NO_SIDE_EFFECTS, so Connect
#                   clients may call them with GET; the wire format is unchanged, so the real
#                   shop backend serves it. When shop.proto already says so, it is copied as is.

BROWSER_TEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

npm_setup() {
  NPM_DIR=${PORTICO_BUILD_DIR:?}/npm
  mkdir -p "$NPM_DIR"
  (
    # one installer at a time when ctest runs tests in parallel
    flock 9
    if ! cmp -s "$BROWSER_TEST_DIR/package.json" "$NPM_DIR/package.json" || [ ! -d "$NPM_DIR/node_modules/playwright-core" ]; then
      cp "$BROWSER_TEST_DIR/package.json" "$NPM_DIR/package.json"
      npm install --prefix "$NPM_DIR" --no-audit --no-fund --loglevel=error >"$NPM_DIR/install.log" 2>&1 ||
        { cat "$NPM_DIR/install.log" >&2; exit 1; }
    fi
  ) 9>"$NPM_DIR/.lock" || return 1
  BUF=$NPM_DIR/node_modules/.bin/buf
  ESBUILD=$NPM_DIR/node_modules/.bin/esbuild
}

shop_get_pb() {
  local out=$1 src=${PORTICO_SOURCE_DIR:?}/descriptors
  local work
  work=$(mktemp -d /tmp/portico-shop-proto.XXXXXX)
  mkdir -p "$work/shop/v1"
  /usr/bin/python3 - "$src/shop/v1/shop.proto" "$work/shop/v1/shop.proto" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
opt = "option idempotency_level = NO_SIDE_EFFECTS;"
if opt not in text:
    text = re.sub(r"(rpc (GetPrice|GetStock)\([^)]*\) returns \([^)]*\) \{)", r"\1\n    " + opt, text)
    text = re.sub(r"(rpc ListWarehouses\([^)]*\) returns \([^)]*\));", r"\1 {\n    " + opt + "\n  }", text)
open(sys.argv[2], "w").write(text)
PY
  protoc --include_imports -I "$work" -I "$src" -I /usr/include --descriptor_set_out="$out" shop/v1/shop.proto
  local rc=$?
  rm -rf "$work"
  return $rc
}
