#!/usr/bin/env bash
# composite.test.sh — composite endpoints end to end: portico with aggregations in front of the
# real shop gRPC backend and the real reviews REST backend, with controllable delays and
# failures (the backends' x-test-* hooks, set per call through the composite's headers).
# Checks parallelism (3 calls of 100 ms answer in well under 200 ms), optional and required
# failures, timeouts, a dependency chain, merge rules, a 5xx and a non-JSON reply, the
# parts header and _meta, caching, and cancellation when the client goes away.
source "$(dirname "$0")/../lib.sh"

PORTICO=${PORTICO_BIN:?}
SHOP=$(find_bin shop-backend)
REVIEWS=$(find_bin reviews-backend)
SHOP_PB=$PORTICO_BUILD_DIR/descriptors/shop.pb
[ -x "$SHOP" ] && [ -x "$REVIEWS" ] || { echo "backends not built"; exit 1; }

SPORT=$(free_port); RPORT=$(free_port); GPORT=$(free_port)
start shop "$SHOP" --listen 127.0.0.1:$SPORT
start reviews "$REVIEWS" --listen 127.0.0.1:$RPORT
wait_port $SPORT; wait_port $RPORT
mkdir -p "$TMP/agg"

# The example's own product page, unchanged
cp "$PORTICO_SOURCE_DIR/aggregations/product.json" "$TMP/agg/product.json"

# parallelism: three calls, each delayed 100 ms by its backend
cat >"$TMP/agg/slow.json" <<'JSON'
{"method": "GET", "path": "/v1/slow/{id}", "timeout_ms": 2000,
 "calls": [
  {"name": "price", "grpc": {"upstream": "price", "method": "shop.v1.PriceService/GetPrice",
     "request": {"sku": "{id}"}, "headers": {"x-test-delay-ms": "100"}}, "group": "price", "allow": ["sku"]},
  {"name": "stock", "grpc": {"upstream": "stock", "method": "shop.v1.StockService/GetStock",
     "request": {"sku": "{id}"}, "headers": {"x-test-delay-ms": "100"}}, "group": "stock", "allow": ["available"]},
  {"name": "reviews", "http": {"upstream": "reviews", "path": "/reviews/{id}", "headers": {"x-test-delay-ms": "100"}},
   "group": "reviews", "allow": ["count"]}
 ]}
JSON

# failures and timeouts, selected by query parameters forwarded as headers
cat >"$TMP/agg/faulty.json" <<'JSON'
{"method": "GET", "path": "/v1/faulty/{id}", "timeout_ms": 1500,
 "calls": [
  {"name": "price", "grpc": {"upstream": "price", "method": "shop.v1.PriceService/GetPrice",
     "request": {"sku": "{id}"}, "headers": {"x-test-delay-ms": "{query.price_delay}", "x-test-status": "{query.price_status}"}},
   "timeout_ms": 300, "group": "price", "allow": ["sku"]},
  {"name": "reviews", "http": {"upstream": "reviews", "path": "/reviews/{id}",
     "headers": {"x-test-status": "{query.reviews_status}", "x-test-body": "{query.reviews_body}",
                 "x-test-delay-ms": "{query.reviews_delay}"}},
   "required": false, "timeout_ms": 300, "group": "reviews", "allow": ["count", "average"]}
 ]}
JSON

# a dependency chain: stock is asked for the SKU that the price call answered with
cat >"$TMP/agg/chain.json" <<'JSON'
{"method": "GET", "path": "/v1/chain/{id}",
 "calls": [
  {"name": "price", "grpc": {"upstream": "price", "method": "shop.v1.PriceService/GetPrice", "request": {"sku": "{id}"}},
   "target": "", "allow": ["sku", "currency"]},
  {"name": "stock", "grpc": {"upstream": "stock", "method": "shop.v1.StockService/GetStock",
     "request": {"sku": "{calls.price.sku}"}}, "group": "inventory", "allow": ["sku", "available"],
   "rename": {"available": "count"}},
  {"name": "reviews", "http": {"upstream": "reviews", "path": "/reviews/{calls.stock.sku}"}, "required": false,
   "collection": "comments", "target": "reviews", "deny": ["text"]}
 ]}
JSON
sed -i 's/"target": "", //' "$TMP/agg/chain.json"

# a dependency on a field its own call does not keep: the reply is printed with only the fields
# the shape keeps (allow), and with the ones other calls read too
cat >"$TMP/agg/chain2.json" <<'JSON'
{"method": "GET", "path": "/v1/chain2/{id}",
 "calls": [
  {"name": "price", "grpc": {"upstream": "price", "method": "shop.v1.PriceService/GetPrice", "request": {"sku": "{id}"}},
   "allow": ["displayName"]},
  {"name": "stock", "grpc": {"upstream": "stock", "method": "shop.v1.StockService/GetStock",
     "request": {"sku": "{calls.price.sku}"}}, "group": "inventory", "allow": ["available"]}
 ]}
JSON

cat >"$TMP/portico.json" <<JSON
{
  "listen": [{"address": "127.0.0.1", "port": $GPORT}],
  "workers": 2,
  "descriptors": ["$SHOP_PB"],
  "upstreams": {
    "price": {"protocol": "grpc", "targets": ["127.0.0.1:$SPORT"]},
    "stock": {"protocol": "grpc", "targets": ["127.0.0.1:$SPORT"]},
    "reviews": {"protocol": "http", "targets": ["127.0.0.1:$RPORT"]}
  },
  "grpc_services": [{"service": "shop.v1.PriceService", "upstream": "price"}],
  "aggregations": ["$TMP/agg/*.json"]
}
JSON

out=$("$PORTICO" check -c "$TMP/portico.json" 2>&1)
check "check ok" 0 $?
check_has "check lists the composite" "composite of 3 calls" "$out"

start gateway "$PORTICO" serve -c "$TMP/portico.json"
GW=$LAST_PID
wait_port $GPORT
U=http://127.0.0.1:$GPORT

# get PATH -> "STATUS TIME_S" line, body in $TMP/body, headers in $TMP/headers
get() {
  curl -s -D "$TMP/headers" -o "$TMP/body" -w '%{http_code} %{time_total}' "$U$1"
}

# the example product page
r=$(get /v1/products/ABC-123)
check "product 200" 200 "${r%% *}"
b=$(cat "$TMP/body")
check_has "product name renamed" '"name":"Classic Widget"' "$b"
check_has "price moved" '"price":{' "$b"
check_has "stock grouped" '"stock":{"available"' "$b"
check_has "reviews grouped and renamed" '"items":[' "$b"
check_has "meta" '"_meta":{' "$b"
check_has "parts header" 'price=ok' "$(tr 'A-Z' 'a-z' <"$TMP/headers")"
# price and stock are two upstreams naming the same backend: their calls share one pool, so
# the backend sees both calls of a composite on one connection (same client port)
pp=$(grep 'GetPrice status=0' "$TMP/shop.log" | tail -1 | grep -o 'peer=[^ ]*')
sp=$(grep 'GetStock status=0' "$TMP/shop.log" | tail -1 | grep -o 'peer=[^ ]*')
check "same-backend upstreams share a connection" "$pp" "$sp"
r=$(get /v1/products/NOPE-9)
check "unknown product: backend 404 passed through" 404 "${r%% *}"
check_has "error names the part" 'price' "$(cat "$TMP/body")"

# parallel: three 100 ms calls well under 200 ms (median of 5)
times=()
for i in 1 2 3 4 5; do r=$(get /v1/slow/ABC-123); times+=("${r#* }"); done
check "slow 200" 200 "${r%% *}"
med=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)
check "parallel (median ${med}s < 0.19s)" 1 "$(awk -v t="$med" 'BEGIN{print (t < 0.19) ? 1 : 0}')"
check_has "slow merged" '"reviews":{"count"' "$(cat "$TMP/body")"

# optional part failing: 200, the part left out and reported
r=$(get "/v1/faulty/ABC-123?reviews_status=503")
check "optional 5xx -> 200" 200 "${r%% *}"
check_not_has "optional part left out" '"reviews":{' "$(cat "$TMP/body")"
check_has "optional part reported" 'reviews=error' "$(tr 'A-Z' 'a-z' <"$TMP/headers")"
r=$(get "/v1/faulty/ABC-123?reviews_body=not%20json")
check "non-JSON optional -> 200" 200 "${r%% *}"
check_has "non-JSON reported" 'reviews=error' "$(tr 'A-Z' 'a-z' <"$TMP/headers")"
r=$(get "/v1/faulty/ABC-123?reviews_delay=800")
check "optional timeout -> 200" 200 "${r%% *}"
check_has "timeout reported" 'reviews=timeout' "$(tr 'A-Z' 'a-z' <"$TMP/headers")"
check "optional timeout bounded (<0.6s)" 1 "$(awk -v t="${r#* }" 'BEGIN{print (t < 0.6) ? 1 : 0}')"

# required part failing
r=$(get "/v1/faulty/ABC-123?price_status=UNAVAILABLE")
check "required failure 502 (bad gateway)" 502 "${r%% *}"
check_has "required failure names the part" 'price' "$(cat "$TMP/body")"
r=$(get "/v1/faulty/ABC-123?price_delay=800")
check "required timeout 504" 504 "${r%% *}"

# dependency chain
r=$(get /v1/chain/XYZ-999)
check "chain 200" 200 "${r%% *}"
b=$(cat "$TMP/body")
check_has "chain root fields" '"sku":"XYZ-999"' "$b"
check_has "chain grouped + renamed" '"inventory":{"sku":"XYZ-999","count"' "$b"
check_has "chain collection" '"comments":[' "$b"
check_not_has "chain deny" '"text"' "$b"
r=$(get /v1/chain2/ABC-123)
check "chain on a field the call does not keep: 200" 200 "${r%% *}"
b=$(cat "$TMP/body")
check_has "the dependent call got the field" '"inventory":{"available":42}' "$b"
check_has "the field itself stays out" '{"displayName":"Classic Widget","inventory"' "$b"

# cancellation: the client leaves during a slow composite, the server keeps serving
curl -s -m 0.05 "$U/v1/slow/ABC-123" >/dev/null 2>&1
sleep 0.3
r=$(get /v1/products/ABC-123)
check "serving after a cancelled composite" 200 "${r%% *}"

kill -TERM $GW; wait $GW 2>/dev/null
check "clean exit" 0 $?
summary
