#!/usr/bin/env bash
# rest.test.sh — the gateway end to end: the real portico binary in front of the real
# grpc-core shop backend, driven by curl over HTTP/1.1 and HTTP/2 (h2c), h2load for load.
# Checks routing (additional bindings, 404, 405 + Allow), request binding (path, query,
# body, PATCH field mask), response mapping (JSON, status codes, error details, metadata),
# server streaming (array, NDJSON, SSE, error mid-stream), deadlines, a backend that is down
# or killed, malformed requests, and that the server keeps serving after all of it.
source "$(dirname "$0")/../lib.sh"

PORTICO=${PORTICO_BIN:?}
BACKEND=$(find_bin shop-backend)
SHOP_PB=$PORTICO_BUILD_DIR/descriptors/shop.pb
[ -x "$BACKEND" ] || { echo "shop-backend not built"; exit 1; }

BPORT=$(free_port)
GPORT=$(free_port)
start backend "$BACKEND" --listen 127.0.0.1:$BPORT
BACKEND_PID=$LAST_PID
wait_port $BPORT

cat >"$TMP/portico.json" <<JSON
{
  "listen": [{"address": "127.0.0.1", "port": $GPORT}],
  "workers": 2,
  "descriptors": ["$SHOP_PB"],
  "upstreams": {"shop": {"protocol": "grpc", "targets": ["127.0.0.1:$BPORT"], "timeout_ms": 2000, "connect_timeout_ms": 500}},
  "grpc_services": [{"service": "shop.v1.PriceService", "upstream": "shop"},
                    {"service": "shop.v1.StockService", "upstream": "shop"}],
  "limits": {"max_request_body_bytes": 65536},
  "forward_headers": ["x-request-id", "authorization", "traceparent", "x-test-delay-ms", "x-test-status",
                      "x-test-status-message", "x-test-status-details", "x-test-abort-after", "x-echo-color"],
  "shutdown_timeout_ms": 3000
}
JSON

out=$("$PORTICO" check -c "$TMP/portico.json")
check "check exit" 0 $?
check_has "check lists routes" "GET    /v1/products/{sku}/price" "$out"
check_has "check lists auto-mapped" "/shop.v1.StockService/ListWarehouses" "$out"

start gateway "$PORTICO" serve -c "$TMP/portico.json"
GW_PID=$LAST_PID
wait_port $GPORT
U=http://127.0.0.1:$GPORT

# req METHOD PATH [curl args...] -> prints "STATUS\nBODY"
req() {
  local m=$1 p=$2; shift 2
  curl -s -o "$TMP/body" -w '%{http_code}' -X "$m" "$@" "$U$p" >"$TMP/status" 2>/dev/null
  echo "$(cat "$TMP/status")"
  cat "$TMP/body"
}

for proto in --http1.1 --http2-prior-knowledge; do
  r=$(req GET /v1/products/ABC-123/price $proto)
  check "$proto GET price status" 200 "$(head -1 <<<"$r")"
  check_has "$proto GET price sku" '"sku":"ABC-123"' "$r"
  check_has "$proto GET price int64 as string" '"amountMicros":"' "$r"

  r=$(req GET "/v1/prices/ABC-123?quantity=3&currency=EUR" $proto)
  check "$proto additional binding" 200 "$(head -1 <<<"$r")"
  check_has "$proto query quantity" '"quantity":3' "$r"
  check_has "$proto query currency" '"currency":"EUR"' "$r"
done

# query strings: '+' is a space, %2B a plus; path variables are percent-decoded
r=$(req GET "/v1/prices/ABC%2D123")
check_has "path var decoded" '"sku":"ABC-123"' "$r"
r=$(req GET "/v1/prices/ABC-123?currency=E+U")
check_has "plus is space (the backend quotes it)" 'currency \"E U\" is not supported' "$r"
r=$(req GET "/v1/prices/ABC-123?currency=E%2BU")
check_has "%2B is plus" 'currency \"E+U\" is not supported' "$r"
r=$(req GET "/v1/prices/ABC-123?promoCode=SAVE10")
check "wrapper from query (json name)" 200 "$(head -1 <<<"$r")"
r=$(req GET "/v1/prices/ABC-123?promo_code=BOGUS")
check "wrapper from query (proto name) reaches backend" 400 "$(head -1 <<<"$r")"
check_has "backend validation message" 'BOGUS' "$r"

# auto-mapped method without annotation: POST /pkg.Service/Method with a JSON body
r=$(req POST /shop.v1.StockService/ListWarehouses -H 'content-type: application/json' --data '{}')
check "auto-mapped 200" 200 "$(head -1 <<<"$r")"
check_has "auto-mapped body" '"warehouses"' "$r"

# PATCH: the empty update_mask is filled from the body's keys (currency is not updatable, so naming it fails)
r=$(req PATCH /v1/products/XYZ-999/price -H 'content-type: application/json' --data '{"displayName":"Renamed"}')
check "patch 200" 200 "$(head -1 <<<"$r")"
check_has "patch applied" '"displayName":"Renamed"' "$r"
r=$(req PATCH /v1/products/XYZ-999/price -H 'content-type: application/json' --data '{"displayName":"Again","currency":"USD"}')
check "patch mask from body keys" 400 "$(head -1 <<<"$r")"
check_has "mask names currency" 'update_mask path \"currency\"' "$r"
r=$(req PATCH "/v1/products/XYZ-999/price?updateMask=displayName" -H 'content-type: application/json' \
    --data '{"displayName":"Third","currency":"USD"}')
check "explicit mask wins" 200 "$(head -1 <<<"$r")"

# errors from the gateway itself
r=$(req GET /v1/nope)
check "404" 404 "$(head -1 <<<"$r")"
check_has "404 json" '"code":5' "$r"
r=$(curl -s -D - -o /dev/null -X DELETE $U/v1/products/ABC-123/price)
check_has "405" "405" "$r"
check_has "405 Allow" "allow: get, patch" "$(tr 'A-Z' 'a-z' <<<"$r")"
r=$(req GET "/v1/prices/ABC-123?colour=red")
check "unknown query 400" 400 "$(head -1 <<<"$r")"
check_has "unknown query named" 'colour' "$r"
r=$(req GET "/v1/prices/ABC-123?quantity=1.5")
check "bad int query 400" 400 "$(head -1 <<<"$r")"
check_has "bad int named" 'quantity' "$r"
r=$(req GET "/v1/prices/AB%zzC")
check "bad percent-encoding 400" 400 "$(head -1 <<<"$r")"
r=$(req POST /v1/prices:batch -H 'content-type: application/json' --data '{"items": [}')
check "bad JSON 400" 400 "$(head -1 <<<"$r")"
check_has "bad JSON says where" 'line 1' "$r"
r=$(req POST /v1/prices:batch -H 'content-type: text/plain' --data 'x')
check "415" 415 "$(head -1 <<<"$r")"
head -c 200000 /dev/zero | tr '\0' 'a' >"$TMP/big"
r=$(req POST /v1/prices:batch -H 'content-type: application/json' --data-binary @"$TMP/big")
check "413" 413 "$(head -1 <<<"$r")"
check_has "413 is JSON" '"code":3' "$r"
r=$(req POST /v1/prices:batch --http2-prior-knowledge -H 'content-type: application/json' --data-binary @"$TMP/big")
check "413 over h2c too" 413 "$(head -1 <<<"$r")"

# bodies
r=$(req POST /v1/prices:batch -H 'content-type: application/json' \
    --data '{"items":[{"sku":"ABC-123","quantity":2},{"sku":"XYZ-999","quantity":1}],"currency":"USD"}')
check "batch 200" 200 "$(head -1 <<<"$r")"
check_has "batch prices" '"prices":[' "$r"

# backend statuses and details
r=$(req GET /v1/products/NOPE-1/price)
check "backend NOT_FOUND" 404 "$(head -1 <<<"$r")"
check_has "NOT_FOUND body" '"code":5' "$r"
r=$(req GET /v1/products/ABC-123/price -H 'x-test-status: PERMISSION_DENIED' -H 'x-test-status-message: nope' \
    -H 'x-test-status-details: error-info')
check "status hook 403" 403 "$(head -1 <<<"$r")"
check_has "message" '"message":"nope"' "$r"
check_has "details decoded" '"@type":"type.googleapis.com/google.rpc.ErrorInfo"' "$r"

# metadata both ways
r=$(curl -s -D - -o /dev/null $U/v1/products/ABC-123/price -H 'x-request-id: abc-42' -H 'x-echo-color: blue' \
    -H 'connection: keep-alive' | tr 'A-Z' 'a-z')
check_has "request id echoed" "grpc-metadata-x-request-id: abc-42" "$r"
check_has "allow-listed header forwarded" "grpc-metadata-x-echo-color: blue" "$r"

# deadlines and a slow backend
r=$(req GET /v1/products/ABC-123/price -H 'x-test-delay-ms: 1500' -H 'grpc-timeout: 200m')
check "client deadline 504" 504 "$(head -1 <<<"$r")"
check_has "deadline code" '"code":4' "$r"

# server streaming
r=$(curl -s -N "$U/v1/products/ABC-123/price:watch?updates=3&intervalMs=10")
check_has "stream array starts" '[{' "$r"
check "stream array has 3" 3 "$(grep -o '"sequence"' <<<"$r" | wc -l)"
r=$(curl -s -N -H 'accept: application/x-ndjson' "$U/v1/products/ABC-123/price:watch?updates=3&intervalMs=10")
check "ndjson lines" 3 "$(grep -c '^{' <<<"$r")"
r=$(curl -s -N -H 'accept: text/event-stream' "$U/v1/products/ABC-123/price:watch?updates=2&intervalMs=10")
check "sse events" 2 "$(grep -c '^data: {' <<<"$r")"
r=$(curl -s -N -H 'x-test-abort-after: 2' "$U/v1/products/ABC-123/price:watch?updates=5&intervalMs=10")
check_has "stream error in band" '{"error":{"code":10' "$r"

# load: 1000 requests over 100 connections, HTTP/1.1 and h2c
if command -v h2load >/dev/null; then
  r=$(h2load -n 1000 -c 100 -m 1 --h1 "$U/v1/products/ABC-123/price" 2>&1)
  check_has "h2load h1 all 2xx" "1000 succeeded" "$r"
  check_has "h2load h1 status" "status codes: 1000 2xx" "$r"
  r=$(h2load -n 1000 -c 100 -m 4 "$U/v1/products/ABC-123/price" 2>&1)
  check_has "h2load h2 all 2xx" "status codes: 1000 2xx" "$r"
fi

# backend killed mid-stream, then down
curl -s -N "$U/v1/products/ABC-123/price:watch?updates=50&intervalMs=50" >"$TMP/killed" &
CURL_PID=$!
sleep 0.4
kill -9 $BACKEND_PID
wait $CURL_PID
check_has "killed mid-stream: in-band UNAVAILABLE" '"code":14' "$(cat "$TMP/killed")"
r=$(req GET /v1/products/ABC-123/price)
check "backend down 503" 503 "$(head -1 <<<"$r")"
check_has "backend down body" '"code":14' "$r"

# still serving after everything
r=$(req GET /v1/nope)
check "still serving" 404 "$(head -1 <<<"$r")"

# graceful stop
kill -TERM $GW_PID
for _ in $(seq 50); do kill -0 $GW_PID 2>/dev/null || break; sleep 0.1; done
wait $GW_PID 2>/dev/null
check "SIGTERM exit code" 0 $?
summary
