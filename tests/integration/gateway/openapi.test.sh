#!/usr/bin/env bash
# openapi.test.sh — the gateway's own OpenAPI document and the generated routes table, end to end:
# the real portico binary in front of the real shop gRPC backend and the real reviews REST backend,
# with the example's product page (aggregations/product.json).
#   1. "openapi": `portico check` says where the document is; GET /openapi.json answers it
#      (application/json, CORS, ETag/304, HEAD, 405 for POST); it is valid OpenAPI 3.1 for the same
#      validators the codegen tests use (tests/codegen/validate_openapi.mjs); it has the REST paths and
#      the composite /v1/products/{id}; real answers of the gateway validate against the schemas the
#      document gives for them (a REST response and the composite's merged response), and a broken
#      answer does not (negative control).
#   2. "routes": a generated shop.routes with one line removed and one changed, loaded instead of the
#      raw descriptor set (the table names it): the gateway serves exactly the table's lines (the
#      removed route 404s, the changed one answers under its new method) and documents exactly them.
#   3. A bad routes table fails `portico check` with FILE:LINE; so does an openapi path a route answers.
# The validator is the npm package the codegen tests install into $PORTICO_BUILD_DIR/codegen-npm
# (installed here on first use the same way); only when npm is missing are those checks skipped.
source "$(dirname "$0")/../lib.sh"

PORTICO=${PORTICO_BIN:?}
SHOP=$(find_bin shop-backend)
REVIEWS=$(find_bin reviews-backend)
PLUGIN=$PORTICO_BUILD_DIR/codegen/protoc-gen-portico
SHOP_PB=$PORTICO_BUILD_DIR/descriptors/shop.pb
VALIDATOR_PKG="@seriousme/openapi-schema-validator@2.11.0"
NPM_DIR=$PORTICO_BUILD_DIR/codegen-npm
[ -x "$SHOP" ] && [ -x "$REVIEWS" ] || { echo "backends not built"; exit 1; }
[ -x "$PLUGIN" ] || { echo "protoc-gen-portico not built"; exit 1; }

SPORT=$(free_port); RPORT=$(free_port); GPORT=$(free_port); TPORT=$(free_port)
start shop "$SHOP" --listen 127.0.0.1:$SPORT
start reviews "$REVIEWS" --listen 127.0.0.1:$RPORT
wait_port $SPORT; wait_port $RPORT
mkdir -p "$TMP/agg" "$TMP/gen"
cp "$PORTICO_SOURCE_DIR/aggregations/product.json" "$TMP/agg/"

UPSTREAMS='"upstreams": {
    "price": {"protocol": "grpc", "targets": ["127.0.0.1:'$SPORT'"], "timeout_ms": 2000},
    "stock": {"protocol": "grpc", "targets": ["127.0.0.1:'$SPORT'"], "timeout_ms": 2000},
    "reviews": {"protocol": "http", "targets": ["127.0.0.1:'$RPORT'"], "timeout_ms": 1000}}'
SERVICES='"grpc_services": [{"service": "shop.v1.PriceService", "upstream": "price"},
                    {"service": "shop.v1.StockService", "upstream": "stock"}]'

# ---- 1. the document ------------------------------------------------------------------------------
cat >"$TMP/portico.json" <<JSON
{
  "listen": [{"address": "127.0.0.1", "port": $GPORT}],
  "workers": 2,
  "descriptors": ["$SHOP_PB"],
  $UPSTREAMS,
  $SERVICES,
  "aggregations": ["agg/*.json"],
  "cors": {"allowed_origins": ["https://docs.example"]},
  "openapi": {"title": "Shop", "version": "1.0.0", "servers": ["http://127.0.0.1:$GPORT"]}
}
JSON

out=$("$PORTICO" check -c "$TMP/portico.json" 2>&1)
check "check exit" 0 $?
check_has "check says where the document is" "GET /openapi.json -> OpenAPI 3.1 document (15 operations, 1 composite endpoint," "$out"

start gateway "$PORTICO" serve -c "$TMP/portico.json"
GW_PID=$LAST_PID
wait_port $GPORT
U=http://127.0.0.1:$GPORT

r=$(curl -s -D "$TMP/h" -o "$TMP/openapi.json" -w '%{http_code}' -H 'Origin: https://docs.example' "$U/openapi.json")
h=$(tr -d '\r' <"$TMP/h" | tr 'A-Z' 'a-z')
check "GET 200" 200 "$r"
check_has "content-type" "content-type: application/json" "$h"
check_has "CORS like every answer" "access-control-allow-origin: https://docs.example" "$h"
size=$(stat -c %s "$TMP/openapi.json")
check_has "content-length" "content-length: $size" "$h"
etag=$(grep -i '^etag:' "$TMP/h" | cut -d' ' -f2- | tr -d '\r')
check_has "etag" '"' "$etag"
r=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$U/openapi.json")
check "If-None-Match -> 304" 304 "$r"
r=$(curl -s -o /dev/null -w '%{http_code}' -H 'If-None-Match: "other"' "$U/openapi.json")
check "other ETag -> 200" 200 "$r"
r=$(curl -s -I -o "$TMP/head" -w '%{http_code} %{size_download}' "$U/openapi.json")
check "HEAD 200, no body" "200 0" "$r"
check_has "HEAD content-length" "content-length: $size" "$(tr -d '\r' <"$TMP/head" | tr 'A-Z' 'a-z')"
r=$(curl -s --http2-prior-knowledge -o "$TMP/openapi_h2.json" -w '%{http_code} %{http_version}' "$U/openapi.json")
check "HTTP/2 GET" "200 2" "$r"
check "HTTP/2 same bytes" "$(md5sum <"$TMP/openapi.json")" "$(md5sum <"$TMP/openapi_h2.json")"
r=$(curl -s -D "$TMP/h" -o "$TMP/body" -w '%{http_code}' -X POST "$U/openapi.json")
check "POST 405" 405 "$r"
check_has "405 Allow" "allow: GET, HEAD" "$(tr -d '\r' <"$TMP/h")"
check_has "405 JSON error" '"code":12' "$(cat "$TMP/body")"
r=$(curl -s -o /dev/null -w '%{http_code}' "$U/openapi.json/x")
check "a longer path is not the document" 404 "$r"

# what the document holds
facts=$(python3 - "$TMP/openapi.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
p = d["paths"]
print("openapi", d["openapi"], d["info"]["title"], d["info"]["version"], d["servers"][0]["url"].startswith("http://127.0.0.1:"))
for path in ["/v1/products/{sku}/price", "/v1/products/{price.sku}/price", "/v1/prices/{sku}", "/v1/products/{sku}/stock", "/shop.v1.StockService/ListWarehouses",
             "/v1/products/{id}"]:
    print("path", path, ",".join(sorted(p.get(path, {}).keys())) or "absent")
c = p["/v1/products/{id}"]["get"]
print("composite params", ",".join(q["in"] + ":" + q["name"] for q in c["parameters"]))
s = c["responses"]["200"]["content"]["application/json"]["schema"]
print("composite meta", ",".join(s["properties"]["_meta"]["required"]))
print("composite groups", ",".join(sorted(k for k in s["properties"] if k != "_meta")))
print("openapi path documented", "/openapi.json" in p)
PY
)
check_has "3.1 and info" "openapi 3.1.0 Shop 1.0.0 True" "$facts"
check_has "REST path" "path /v1/products/{sku}/price get" "$facts"
check_has "PATCH binding" "path /v1/products/{price.sku}/price patch" "$facts"
check_has "additional binding" "path /v1/prices/{sku} get" "$facts"
check_has "stock" "path /v1/products/{sku}/stock get" "$facts"
check_has "auto-mapped" "path /shop.v1.StockService/ListWarehouses post" "$facts"
check_has "composite path" "path /v1/products/{id} get" "$facts"
check_has "composite parameters" "composite params path:id,query:currency" "$facts"
check_has "composite _meta" "composite meta price,stock,reviews" "$facts"
check_has "composite groups" "composite groups reviews,stock" "$facts"
check_has "the document does not document itself" "openapi path documented False" "$facts"

# real answers of the gateway, to be held against the document's schemas
curl -s -o "$TMP/product.json" "$U/v1/products/ABC-123"
curl -s -o "$TMP/price.json" "$U/v1/products/ABC-123/price"
check_has "composite answered" '"_meta":{' "$(cat "$TMP/product.json")"
check_has "REST answered" '"sku":"ABC-123"' "$(cat "$TMP/price.json")"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); del d["_meta"]; json.dump(d, open(sys.argv[2], "w"))' \
    "$TMP/product.json" "$TMP/product_no_meta.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["stock"]="none"; json.dump(d, open(sys.argv[2], "w"))' \
    "$TMP/product.json" "$TMP/product_bad_stock.json"

# ---- 2. the routes table ----------------------------------------------------------------------------
protoc --plugin=protoc-gen-portico="$PLUGIN" --portico_out="$TMP/gen" -I "$PORTICO_SOURCE_DIR/descriptors" -I /usr/include \
    shop/v1/shop.proto 2>"$TMP/protoc.err"
check "protoc-gen-portico" 0 $?
[ -f "$TMP/gen/shop.routes" ] && [ -f "$TMP/gen/shop.pb" ]
check "table and set written" 0 $?
# drop the additional binding GET /v1/prices/{sku}; turn PATCH .../price into PUT
grep -v '^GET /v1/prices/{sku} ' "$TMP/gen/shop.routes" | sed 's|^PATCH /v1/products/{price.sku}/price |PUT /v1/products/{price.sku}/price |' \
    >"$TMP/gen/edited.routes"
check "one line dropped" 1 $(($(grep -c . "$TMP/gen/shop.routes") - $(grep -c . "$TMP/gen/edited.routes")))

cat >"$TMP/tables.json" <<JSON
{
  "listen": [{"address": "127.0.0.1", "port": $TPORT}],
  "workers": 1,
  "routes": ["gen/edited.routes"],
  $UPSTREAMS,
  $SERVICES,
  "openapi": {"path": "/api/openapi.json"}
}
JSON
out=$("$PORTICO" check -c "$TMP/tables.json" 2>&1)
check "tables: check exit" 0 $?
# exactly the table's routes: every line is routed, nothing else is
lines=$(grep -v '^#' "$TMP/gen/edited.routes" | grep -c .)
check_has "tables: route count" "ok, $lines routes" "$out"
missing=0
while read -r verb path _; do
    grep -qE "^$verb +$(printf '%s' "$path" | sed 's/[][\.*^$|+?(){}]/\\&/g') +->" <<<"$out" || { missing=$((missing + 1)); echo "not routed: $verb $path"; }
done < <(grep -v '^#' "$TMP/gen/edited.routes" | grep .)
check "tables: every line routed" 0 "$missing"
check_not_has "tables: dropped line" "/v1/prices/{sku} " "$out"
check_has "tables: document path" "GET /api/openapi.json -> OpenAPI 3.1 document ($lines operations, 0 composite endpoints," "$out"

start gateway_tables "$PORTICO" serve -c "$TMP/tables.json"
TW_PID=$LAST_PID
wait_port $TPORT
T=http://127.0.0.1:$TPORT
r=$(curl -s -o "$TMP/body" -w '%{http_code}' "$T/v1/products/ABC-123/price")
check "tables: kept route 200" 200 "$r"
check_has "tables: kept route reaches the backend" '"sku":"ABC-123"' "$(cat "$TMP/body")"
r=$(curl -s -o "$TMP/body" -w '%{http_code}' "$T/v1/prices/ABC-123")
check "tables: dropped route 404" 404 "$r"
r=$(curl -s -o /dev/null -w '%{http_code}' -X PATCH -H 'content-type: application/json' --data '{"amountMicros":"1"}' \
    "$T/v1/products/ABC-123/price")
check "tables: PATCH no longer routed (405)" 405 "$r"
r=$(curl -s -o "$TMP/body" -w '%{http_code}' -X PUT -H 'content-type: application/json' --data '{"displayName":"Classic Widget"}' \
    "$T/v1/products/ABC-123/price")
check "tables: PUT is routed to UpdatePrice" 200 "$r"
check_has "tables: PUT reached the backend" '"sku":"ABC-123"' "$(cat "$TMP/body")"
r=$(curl -s -o "$TMP/body" -w '%{http_code}' -X POST -H 'content-type: application/json' --data '{}' \
    "$T/shop.v1.StockService/ListWarehouses")
check "tables: auto line" 200 "$r"
r=$(curl -s -o "$TMP/tables_openapi.json" -w '%{http_code}' "$T/api/openapi.json")
check "tables: document served at its path" 200 "$r"
r=$(curl -s -o /dev/null -w '%{http_code}' "$T/openapi.json")
check "tables: not at the default path" 404 "$r"
facts=$(python3 - "$TMP/tables_openapi.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))["paths"]
print("prices", "/v1/prices/{sku}" in p)
print("price ops", ",".join(sorted(p["/v1/products/{price.sku}/price"].keys())))
print("n", sum(len([m for m in v if m in ("get", "put", "post", "delete", "patch")]) for v in p.values()))
PY
)
check_has "tables: dropped line undocumented" "prices False" "$facts"
check_has "tables: changed line documented" "price ops put" "$facts"
check_has "tables: one operation per line" "n $lines" "$facts"

# ---- 3. errors at load --------------------------------------------------------------------------------
bad_check() { # NAME TABLE-TEXT-FILTER EXPECTED...
    local name=$1 filter=$2
    shift 2
    sed "$filter" "$TMP/gen/shop.routes" >"$TMP/gen/bad.routes"
    sed 's|gen/edited.routes|gen/bad.routes|' "$TMP/tables.json" >"$TMP/bad.json"
    out=$("$PORTICO" check -c "$TMP/bad.json" 2>&1)
    check "$name: check fails" 1 $?
    for e in "$@"; do check_has "$name" "$e" "$out"; done
}
n=$(grep -n '^GET /v1/products/{sku}/stock ' "$TMP/gen/shop.routes" | cut -d: -f1)
bad_check "syntax" "${n}s/ unary / once /" "gen/bad.routes:$n: STREAMING \"once\" is not one of unary, server, client, bidi"
bad_check "unknown method" "${n}s/StockService.GetStock rule/StockService.GetStocks rule/" \
    "gen/bad.routes:$n: method shop.v1.StockService.GetStocks is not in the descriptor sets"
bad_check "unknown field" "${n}s|{sku}|{skew}|" "gen/bad.routes:$n: " '"skew"'
bad_check "not a table" "1s/.*/# routes/" "gen/bad.routes:1: not a portico routes table"
m=$(grep -n '^GET /v1/products/{sku}/price ' "$TMP/gen/shop.routes" | cut -d: -f1)
bad_check "collision" "${n}s|.*|GET /v1/products/{sku}/price - - shop.v1.GetStockRequest shop.v1.Stock unary shop.v1.StockService.GetStock rule|" \
    "gen/bad.routes:$n: GET /v1/products/{sku}/price (method shop.v1.StockService.GetStock) collides with GET /v1/products/{sku}/price (method shop.v1.PriceService.GetPrice) of" \
    "gen/bad.routes:$m:"
sed 's|"path": "/api/openapi.json"|"path": "/v1/products/spec"|' "$TMP/tables.json" | sed 's|"workers": 1,|"workers": 1, "aggregations": ["agg/*.json"],|' >"$TMP/collide.json"
out=$("$PORTICO" check -c "$TMP/collide.json" 2>&1)
check "openapi path taken: check fails" 1 $?
check_has "openapi path taken" "openapi.path: \"/v1/products/spec\" is also answered by the composite endpoint GET /v1/products/{id}" "$out"

# ---- validation under node ----------------------------------------------------------------------------
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "SKIP: node/npm not installed; the OpenAPI 3.1 validation cannot run"
else
    if [ ! -f "$NPM_DIR/node_modules/@seriousme/openapi-schema-validator/package.json" ] ||
        ! grep -q '"version": "2.11.0"' "$NPM_DIR/node_modules/@seriousme/openapi-schema-validator/package.json"; then
        echo "installing $VALIDATOR_PKG into $NPM_DIR"
        npm install --prefix "$NPM_DIR" --prefer-offline --no-audit --no-fund --loglevel=error "$VALIDATOR_PKG" >"$TMP/npm.log" 2>&1 ||
            { sed 's/^/      /' "$TMP/npm.log"; bad "npm install $VALIDATOR_PKG"; }
    fi
    node "$PORTICO_SOURCE_DIR/tests/codegen/validate_openapi.mjs" "$NPM_DIR" "$TMP/openapi.json" "$TMP/tables_openapi.json" \
        --sample "$TMP/openapi.json" shop.v1.Price "$TMP/price.json" >"$TMP/node.log" 2>&1
    check "validate_openapi.mjs exit" 0 $?
    check_has "document valid OpenAPI 3.1" "openapi.json: valid OpenAPI 3.1" "$(cat "$TMP/node.log")"
    check_has "every \$ref resolves" "openapi.json: every \$ref resolves" "$(cat "$TMP/node.log")"
    check_has "tables document valid" "tables_openapi.json: valid OpenAPI 3.1" "$(cat "$TMP/node.log")"
    check_has "REST answer matches its schema" "price.json is a valid shop.v1.Price" "$(cat "$TMP/node.log")"
    check_not_has "no failure" "FAIL" "$(cat "$TMP/node.log")"

    # the composite's answer against the 200 schema of its path (components as $defs, as the script does)
    cat >"$TMP/composite.mjs" <<'JS'
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
const [prefix, docFile, route, ...instances] = process.argv.slice(2);
const require = createRequire(path.join(path.resolve(prefix), "node_modules", "noop.js"));
const Ajv2020 = require("ajv/dist/2020").default;
const doc = JSON.parse(readFileSync(docFile, "utf8"));
const rewrite = (v) => JSON.parse(JSON.stringify(v).replaceAll('"#/components/schemas/', '"#/$defs/'));
const schema = { ...rewrite(doc.paths[route].get.responses["200"].content["application/json"].schema),
                 $defs: rewrite(doc.components.schemas) };
const ajv = new Ajv2020({ strict: true, allErrors: true });
for (const f of ["int32", "uint32", "int64", "uint64", "float", "double", "byte"]) ajv.addFormat(f, true);
ajv.addFormat("date-time", /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/);
const validate = ajv.compile(schema);
for (const f of instances) {
  const ok = validate(JSON.parse(readFileSync(f, "utf8")));
  console.log(`${path.basename(f)} ${ok ? "valid" : "invalid"}${ok ? "" : " " + JSON.stringify(validate.errors)}`);
}
JS
    res=$(node "$TMP/composite.mjs" "$NPM_DIR" "$TMP/openapi.json" "/v1/products/{id}" "$TMP/product.json" \
        "$TMP/product_no_meta.json" "$TMP/product_bad_stock.json" 2>&1)
    check_has "composite answer matches its schema" "product.json valid" "$res"
    check_has "without _meta: rejected (negative control)" "product_no_meta.json invalid" "$res"
    check_has "stock not an object: rejected (negative control)" "product_bad_stock.json invalid" "$res"
fi

# graceful stop, and nothing leaked (the sanitizers report at exit)
for pid in $GW_PID $TW_PID; do
    kill -TERM "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    wait "$pid" 2>/dev/null
    check "SIGTERM exit code ($pid)" 0 $?
done
check_not_has "no sanitizer report" "Sanitizer" "$(cat "$TMP/gateway.log" "$TMP/gateway_tables.log")"
summary
