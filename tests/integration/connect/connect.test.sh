#!/usr/bin/env bash
# connect.test.sh — the Connect protocol through the real portico binary to the real shop
# backend: unary POST with JSON and proto, unary GET for NO_SIDE_EFFECTS methods (JSON and
# base64 proto), errors as Connect JSON with the code table's HTTP statuses and decoded
# details, trailer- headers, Connect-Timeout-Ms, Connect-Protocol-Version, 415/405, server
# streaming envelopes with the EndStreamResponse, malformed envelopes, `buf curl --protocol
# connect`; CORS from the global policy and a per-service override, on preflights, on REST
# routes and on errors (404, 405, 503); and the auto-mapped REST route beside Connect.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../browser/common.sh"

PORTICO=${PORTICO_BIN:?}
BACKEND=$(find_bin shop-backend)
FRAMES="/usr/bin/python3 $(dirname "$0")/../grpcweb/frames.py"
[ -x "$BACKEND" ] || { echo "shop-backend not built"; exit 1; }
SHOP_PB=$TMP/shop.pb
shop_get_pb "$SHOP_PB" || { echo "cannot build the shop descriptor set"; exit 1; }

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
  "upstreams": {"shop": {"protocol": "grpc", "targets": ["127.0.0.1:$BPORT"], "timeout_ms": 3000, "connect_timeout_ms": 500}},
  "grpc_services": [{"service": "shop.v1.PriceService", "upstream": "shop"},
                    {"service": "shop.v1.StockService", "upstream": "shop", "json": {"emit_defaults": true},
                     "cors": {"allowed_origins": ["https://stock.example"], "allowed_methods": ["POST"], "max_age_s": 60}}],
  "limits": {"max_request_body_bytes": 65536},
  "forward_headers": ["x-request-id", "authorization"],
  "cors": {"allowed_origins": ["https://app.example.com", "http://localhost:*"], "exposed_headers": ["X-Served-By"]}
}
JSON
start gateway "$PORTICO" serve -c "$TMP/portico.json"
GW_PID=$LAST_PID
wait_port $GPORT
U=http://127.0.0.1:$GPORT

pb() { echo "$2" | "$PORTICO" transcode -d "$SHOP_PB" -m "$1" --from json --to binary >"$3"; }
json() { echo -n "$2" | xxd -r -p | "$PORTICO" transcode -d "$SHOP_PB" -m "$1" --from binary --to json; }
# cx METHOD PATH [curl args]: status; headers in $TMP/h, body in $TMP/b
cx() {
  local m=$1 p=$2; shift 2
  curl -s -o "$TMP/b" -D "$TMP/h" -w '%{http_code}' -X "$m" "$@" "$U$p"
}
hdr() { grep -i "^$1:" "$TMP/h" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
body() { cat "$TMP/b"; }
CJ=(-H 'content-type: application/json' -H 'connect-protocol-version: 1')

# ---- unary POST ---------------------------------------------------------------------------------
for proto in --http1.1 --http2-prior-knowledge; do
  s=$(cx POST /shop.v1.PriceService/GetPrice $proto "${CJ[@]}" -H 'x-request-id: c-1' --data '{"sku":"ABC-123","quantity":3}')
  check "$proto json 200" 200 "$s"
  check "$proto json content type" "application/json" "$(hdr content-type)"
  check_has "$proto json body" '"displayName":"Classic Widget"' "$(body)"
  check_has "$proto json int64 as string" '"amountMicros":"59970000"' "$(body)"
  check "$proto initial metadata header" "c-1" "$(hdr x-request-id)"
  check "$proto trailing metadata as trailer-" "shop-backend" "$(hdr trailer-x-served-by)"
done
# without Connect-Protocol-Version (allowed) and with a charset parameter
s=$(cx POST /shop.v1.PriceService/GetPrice -H 'content-type: application/json; charset=utf-8' -H 'connect-protocol-version: 1' \
  --data '{"sku":"XYZ-999"}')
check "charset parameter 200" 200 "$s"
# the service's JSON options apply: StockService emits defaults
s=$(cx POST /shop.v1.StockService/GetStock "${CJ[@]}" --data '{"sku":"DEF-456"}')
check_has "emit_defaults of the service" '"available":0' "$(body)"

pb shop.v1.GetPriceRequest '{"sku":"GIFT-50","currency":"JPY"}' "$TMP/get.pb"
s=$(cx POST /shop.v1.PriceService/GetPrice -H 'content-type: application/proto' --data-binary @"$TMP/get.pb")
check "proto 200" 200 "$s"
check "proto content type" "application/proto" "$(hdr content-type)"
check_has "proto body" '"currency":"JPY"' "$(json shop.v1.Price "$(xxd -p "$TMP/b" | tr -d '\n')")"
s=$(cx POST /shop.v1.PriceService/GetPrice -H 'content-type: application/proto' --data-binary @/dev/null)
check "empty proto body is the empty message" 400 "$s"
check_has "  (the backend wants a sku)" '"code":"invalid_argument"' "$(body)"

# ---- unary GET --------------------------------------------------------------------------------------
q=$(python3 -c 'import urllib.parse;print(urllib.parse.quote("{\"sku\":\"ABC-123\",\"currency\":\"GBP\"}"))')
s=$(cx GET "/shop.v1.PriceService/GetPrice?connect=v1&encoding=json&message=$q")
check "GET json 200" 200 "$s"
check_has "GET json body" '"currency":"GBP"' "$(body)"
b64=$(base64 -w0 "$TMP/get.pb" | tr '+/' '-_' | tr -d '=')
s=$(cx GET "/shop.v1.PriceService/GetPrice?message=$b64&base64=1&encoding=proto&connect=v1&cachebust=7")
check "GET proto base64 200" 200 "$s"
check "GET proto content type" "application/proto" "$(hdr content-type)"
s=$(cx GET "/shop.v1.StockService/ListWarehouses?encoding=json&message=%7B%22region%22%3A%22us-east%22%7D")
check_has "GET ListWarehouses" '"id":"nyc-1"' "$(body)"
s=$(cx GET "/shop.v1.PriceService/BatchGetPrices?encoding=json&message=%7B%7D")
check "GET of a method with side effects 405" 405 "$s"
check "  Allow" "POST" "$(hdr allow)"
check_has "  Connect error" '"code":"unimplemented"' "$(body)"
s=$(cx GET "/shop.v1.PriceService/GetPrice?encoding=cbor&message=x")
check "GET unknown encoding 415" 415 "$s"
s=$(cx GET "/shop.v1.PriceService/GetPrice?encoding=json&message=%7B&connect=v1")
check "GET bad JSON 400" 400 "$s"
check_has "  invalid_argument" '"code":"invalid_argument"' "$(body)"
s=$(cx GET "/shop.v1.PriceService/GetPrice?encoding=json&message=%7B%7D&compression=br")
check "GET compression 501" 501 "$s"

# ---- errors -----------------------------------------------------------------------------------------
s=$(cx POST /shop.v1.PriceService/GetPrice "${CJ[@]}" --data '{"sku":"NOPE-1"}')
check "not_found 404" 404 "$s"
check "error content type" "application/json" "$(hdr content-type)"
check_has "error code" '"code":"not_found"' "$(body)"
check_has "error message" '"message":"product \"NOPE-1\" not found"' "$(body)"
check_has "error detail type" '"type":"google.rpc.ErrorInfo"' "$(body)"
check_has "error detail value unpadded" '"value":"ChFQUk9EVUNUX05PVF9GT1VORBIQc2hvcC5leGFtcGxlLmNvbRoNCgNza3USBk5PUEUtMQ"' "$(body)"
check_has "error detail debug" '"debug":{"reason":"PRODUCT_NOT_FOUND","domain":"shop.example.com","metadata":{"sku":"NOPE-1"}}' "$(body)"
check "error trailer header" "shop-backend" "$(hdr trailer-x-served-by)"
# the code table
while read -r status code; do
  s=$(cx POST /shop.v1.PriceService/GetPrice "${CJ[@]}" -H "x-test-status: $code" --data '{"sku":"ABC-123"}')
  lc=$(tr 'A-Z' 'a-z' <<<"$code")
  [ "$lc" = cancelled ] && lc=canceled
  check "$code HTTP status" "$status" "$s"
  check_has "$code name" "\"code\":\"$lc\"" "$(body)"
done <<'TABLE'
499 CANCELLED
500 UNKNOWN
400 INVALID_ARGUMENT
504 DEADLINE_EXCEEDED
409 ALREADY_EXISTS
403 PERMISSION_DENIED
429 RESOURCE_EXHAUSTED
400 FAILED_PRECONDITION
409 ABORTED
400 OUT_OF_RANGE
501 UNIMPLEMENTED
500 INTERNAL
503 UNAVAILABLE
500 DATA_LOSS
401 UNAUTHENTICATED
TABLE
# a unary response followed by an error status: the status wins
s=$(cx POST /shop.v1.PriceService/GetPrice "${CJ[@]}" -H 'x-test-abort-after: 1' --data '{"sku":"ABC-123"}')
check "message then error" 409 "$s"

# ---- request checks ----------------------------------------------------------------------------------
s=$(cx POST /shop.v1.PriceService/GetPrice -H 'content-type: application/json' -H 'connect-protocol-version: 2' --data '{}')
check "protocol version 2 400" 400 "$s"
check_has "  named" 'Connect-Protocol-Version' "$(body)"
s=$(cx POST /shop.v1.PriceService/GetPrice -H 'content-type: application/xml' -H 'connect-protocol-version: 1' --data '<a/>')
check "unsupported codec 415" 415 "$s"
check "  Accept-Post" "application/json, application/proto" "$(hdr accept-post)"
s=$(cx POST /shop.v1.PriceService/GetPrice -H 'content-type: text/plain' --data 'x')
check "unsupported codec without the version header 415" 415 "$s"
s=$(cx POST /shop.v1.PriceService/GetPrice "${CJ[@]}" --data '{"sku":"ABC-123","colour":"red"}')
check "unknown JSON field 400" 400 "$s"
check_has "  names the field" 'colour' "$(body)"
s=$(cx POST /shop.v1.PriceService/GetPrice "${CJ[@]}" --data '{"sku":')
check "bad JSON 400" 400 "$s"
s=$(cx POST /shop.v1.PriceService/GetPrice "${CJ[@]}" -H 'content-encoding: gzip' --data '{}')
check "request compression 501" 501 "$s"
check_has "  unimplemented" '"code":"unimplemented"' "$(body)"
s=$(cx POST /shop.v1.PriceService/GetPrice "${CJ[@]}" -H 'connect-timeout-ms: 150' -H 'x-test-delay-ms: 2000' \
  --data '{"sku":"ABC-123"}')
check "Connect-Timeout-Ms deadline 504" 504 "$s"
check_has "  deadline_exceeded" '"code":"deadline_exceeded"' "$(body)"
s=$(cx POST /shop.v1.PriceService/GetPrice "${CJ[@]}" -H 'connect-timeout-ms: 12345678901' --data '{"sku":"ABC-123"}')
check "bad Connect-Timeout-Ms 400" 400 "$s"
s=$(cx PUT /shop.v1.PriceService/GetPrice "${CJ[@]}" --data '{}')
check "PUT 405" 405 "$s"
s=$(cx POST /shop.v1.PriceService/WatchPrice "${CJ[@]}" --data '{"sku":"ABC-123"}')
check "unary protocol on a stream 415" 415 "$s"
s=$(cx POST /shop.v1.PriceService/Nope "${CJ[@]}" --data '{}')
check "unknown method 404" 404 "$s"
check_has "  unimplemented" '"code":"unimplemented"' "$(body)"

# ---- server streaming ---------------------------------------------------------------------------------
echo -n '{"sku":"ABC-123","updates":3,"intervalMs":10}' >"$TMP/watch.json"
$FRAMES encode "$TMP/watch.json" >"$TMP/watch.env"
for proto in --http1.1 --http2-prior-knowledge; do
  s=$(cx POST /shop.v1.PriceService/WatchPrice $proto -N -H 'content-type: application/connect+json' \
    -H 'connect-protocol-version: 1' -H 'x-request-id: s-1' --data-binary @"$TMP/watch.env")
  d=$($FRAMES decode --connect "$TMP/b")
  check "$proto stream 200" 200 "$s"
  check "$proto stream content type" "application/connect+json" "$(hdr content-type)"
  check "$proto stream 3 messages" 3 "$(grep -c '^msg ' <<<"$d")"
  check_has "$proto stream JSON message" '"sequence":2' "$(sed -n '2s/^msg //p' <<<"$d" | xxd -r -p)"
  check "$proto EndStreamResponse" 'end {"metadata":{"x-served-by":["shop-backend"]}}' "$(tail -1 <<<"$d")"
  check "$proto stream header metadata" "s-1" "$(hdr x-request-id)"
done
pb shop.v1.WatchPriceRequest '{"sku":"XYZ-999","updates":2,"intervalMs":10}' "$TMP/watch.pb"
$FRAMES encode "$TMP/watch.pb" >"$TMP/watchpb.env"
s=$(cx POST /shop.v1.PriceService/WatchPrice -N -H 'content-type: application/connect+proto' --data-binary @"$TMP/watchpb.env")
d=$($FRAMES decode --connect "$TMP/b")
check "proto stream 2 messages" 2 "$(grep -c '^msg ' <<<"$d")"
check_has "proto stream message" '"sku":"XYZ-999"' "$(json shop.v1.PriceUpdate "$(sed -n '1s/^msg //p' <<<"$d")")"
s=$(cx POST /shop.v1.PriceService/WatchPrice -N -H 'content-type: application/connect+json' -H 'x-test-abort-after: 2' \
  -H 'x-test-status-message: cut short' --data-binary @"$TMP/watch.env")
d=$($FRAMES decode --connect "$TMP/b")
check "stream error: HTTP 200" 200 "$s"
check "stream error: 2 messages" 2 "$(grep -c '^msg ' <<<"$d")"
check "stream error: EndStream error" \
  'end {"error":{"code":"aborted","message":"cut short"},"metadata":{"x-served-by":["shop-backend"]}}' "$(tail -1 <<<"$d")"
echo -n '{"sku":"NOPE-3"}' >"$TMP/nope.json"
$FRAMES encode "$TMP/nope.json" >"$TMP/nope.env"
s=$(cx POST /shop.v1.PriceService/WatchPrice -H 'content-type: application/connect+json' --data-binary @"$TMP/nope.env")
d=$($FRAMES decode --connect "$TMP/b")
check "error before any message: HTTP 200" 200 "$s"
check_has "  only the EndStream" 'end {"error":{"code":"not_found","message":"product \"NOPE-3\" not found","details":[{"type":"google.rpc.ErrorInfo"' "$d"
# a client that goes away cancels the upstream call (the backend logs how its calls ended)
echo -n '{"sku":"ABC-123","updates":50,"intervalMs":50}' >"$TMP/long.json"
$FRAMES encode "$TMP/long.json" >"$TMP/long.env"
curl -s -N --max-time 0.4 -H 'content-type: application/connect+json' -H 'x-request-id: connect-gone' \
  --data-binary @"$TMP/long.env" "$U/shop.v1.PriceService/WatchPrice" >/dev/null
for _ in $(seq 100); do grep -q connect-gone "$TMP/backend.log" && break; sleep 0.05; done
check_has "client gone: upstream call cancelled" "status=1 CANCELLED" "$(grep -e 'connect-gone' "$TMP/backend.log")"
# malformed envelopes: answered in the EndStreamResponse
printf '\x00\x00' >"$TMP/short.env"
$FRAMES encode --length 999 "$TMP/watch.json" >"$TMP/liar.env"
$FRAMES encode --length 0x7fffffff "$TMP/watch.json" >"$TMP/huge.env"
$FRAMES encode --flags 0x02 "$TMP/watch.json" >"$TMP/endflag.env"
$FRAMES encode "$TMP/watch.json" "$TMP/watch.json" >"$TMP/two.env"
echo -n '{"sku":' >"$TMP/badjson.json"
$FRAMES encode "$TMP/badjson.json" >"$TMP/badjson.env"
while read -r name file code msg; do
  s=$(cx POST /shop.v1.PriceService/WatchPrice -H 'content-type: application/connect+json' --data-binary @"$TMP/$file")
  d=$($FRAMES decode --connect "$TMP/b")
  check "$name: HTTP 200" 200 "$s"
  check_has "$name: code" "end {\"error\":{\"code\":\"$code\"" "$d"
  check_has "$name: message" "${msg//_/ }" "$d"
done <<'CASES'
truncated-prefix short.env invalid_argument 5-byte_message_prefix
bad-length-prefix liar.env invalid_argument announces_999_bytes
oversized huge.env resource_exhausted larger_than_the_limit
end-stream-flag endflag.env internal invalid_frame_flags_0x02
two-messages two.env invalid_argument the_request_has_2
bad-json badjson.env invalid_argument line_1
CASES
s=$(cx POST /shop.v1.PriceService/WatchPrice -H 'content-type: application/connect+cbor' --data-binary @"$TMP/watch.env")
check "stream codec 415" 415 "$s"
s=$(cx POST /shop.v1.PriceService/WatchPrice -H 'content-type: application/connect+json' -H 'connect-content-encoding: gzip' \
  --data-binary @"$TMP/watch.env")
check_has "stream compression unimplemented" '"code":"unimplemented"' "$($FRAMES decode --connect "$TMP/b")"

# ---- the auto-mapped REST route keeps its JSON API beside Connect ---------------------------------------------
s=$(cx POST /shop.v1.StockService/ListWarehouses -H 'content-type: application/json' --data '{"pageSize":1}')
check "REST auto-mapped route 200" 200 "$s"
s=$(cx POST /shop.v1.StockService/ListWarehouses -H 'content-type: application/json' --data '{"pageToken":"bogus"}')
check_has "REST error shape (numeric code)" '"code":3' "$(body)"
s=$(cx POST /shop.v1.StockService/ListWarehouses "${CJ[@]}" --data '{"pageToken":"bogus"}')
check_has "Connect error shape with the header" '"code":"invalid_argument"' "$(body)"

# ---- CORS ------------------------------------------------------------------------------------------------------
O=(-H 'origin: https://app.example.com')
s=$(cx POST /shop.v1.PriceService/GetPrice "${CJ[@]}" "${O[@]}" --data '{"sku":"ABC-123"}')
check "actual request: origin" "https://app.example.com" "$(hdr access-control-allow-origin)"
check "actual request: no credentials" "" "$(hdr access-control-allow-credentials)"
check_has "actual request: configured exposed header" "X-Served-By" "$(hdr access-control-expose-headers)"
check_has "actual request: trailer- header exposed by name" "trailer-x-served-by" "$(hdr access-control-expose-headers)"
check "actual request: vary" "Origin" "$(hdr vary)"
s=$(cx POST /shop.v1.PriceService/GetPrice "${CJ[@]}" -H 'origin: http://localhost:5173' --data '{"sku":"NOPE-1"}')
check "error response carries CORS" "http://localhost:5173" "$(hdr access-control-allow-origin)"
s=$(cx POST /shop.v1.PriceService/GetPrice "${CJ[@]}" -H 'origin: https://evil.example' --data '{"sku":"ABC-123"}')
check "foreign origin still served" 200 "$s"
check "foreign origin: no allow-origin" "" "$(hdr access-control-allow-origin)"
check "foreign origin: vary" "Origin" "$(hdr vary)"
# per-service override: StockService allows only https://stock.example and POST
s=$(cx POST /shop.v1.StockService/GetStock "${CJ[@]}" "${O[@]}" --data '{"sku":"ABC-123"}')
check "override: global origin refused" "" "$(hdr access-control-allow-origin)"
s=$(cx POST /shop.v1.StockService/GetStock "${CJ[@]}" -H 'origin: https://stock.example' --data '{"sku":"ABC-123"}')
check "override: its origin allowed" "https://stock.example" "$(hdr access-control-allow-origin)"
s=$(cx OPTIONS /shop.v1.StockService/GetStock -H 'origin: https://stock.example' -H 'access-control-request-method: POST' \
  -H 'access-control-request-headers: content-type, connect-protocol-version')
check "override preflight 204" 204 "$s"
check "override preflight methods" "POST" "$(hdr access-control-allow-methods)"
check "override preflight max-age" 60 "$(hdr access-control-max-age)"
s=$(cx OPTIONS /shop.v1.StockService/GetStock -H 'origin: https://stock.example' -H 'access-control-request-method: GET')
check "override preflight GET refused" 403 "$s"
check "  without CORS headers" "" "$(hdr access-control-allow-origin)"
# the override follows the service onto its REST routes
s=$(cx GET /v1/products/ABC-123/stock -H 'origin: https://stock.example')
check "override on the service's REST route" "https://stock.example" "$(hdr access-control-allow-origin)"
s=$(cx OPTIONS /v1/products/ABC-123/stock -H 'origin: https://app.example.com' -H 'access-control-request-method: GET')
check "REST preflight of the overridden service refused" 403 "$s"
# global policy on REST routes and gateway errors
s=$(cx OPTIONS /v1/products/ABC-123/price "${O[@]}" -H 'access-control-request-method: PATCH' \
  -H 'access-control-request-headers: content-type, authorization')
check "REST preflight 204" 204 "$s"
check "REST preflight methods" "GET, POST, PUT, PATCH, DELETE" "$(hdr access-control-allow-methods)"
check "REST preflight max-age" 7200 "$(hdr access-control-max-age)"
s=$(cx GET /v1/products/ABC-123/price "${O[@]}")
check "REST 200 with CORS" "https://app.example.com" "$(hdr access-control-allow-origin)"
s=$(cx GET /v1/nope "${O[@]}")
check "404 with CORS" "404 https://app.example.com" "$s $(hdr access-control-allow-origin)"
s=$(cx DELETE /v1/products/ABC-123/price "${O[@]}")
check "405 with CORS" "405 https://app.example.com" "$s $(hdr access-control-allow-origin)"
s=$(cx GET "/v1/prices/ABC-123?quantity=x" "${O[@]}")
check "400 with CORS" "400 https://app.example.com" "$s $(hdr access-control-allow-origin)"
s=$(cx OPTIONS /v1/products/ABC-123/price -H 'origin: https://evil.example' -H 'access-control-request-method: GET')
check "foreign preflight 403" 403 "$s"
check_has "  says why" 'origin \"https://evil.example\" is not allowed' "$(body)"
s=$(cx OPTIONS /v1/products/ABC-123/price "${O[@]}" -H 'access-control-request-method: GET' \
  -H 'access-control-request-headers: x-secret')
check "preflight with a header not allowed 403" 403 "$s"

# ---- buf curl, a real Connect client --------------------------------------------------------------------------
if npm_setup; then
  for proto in "" --http2-prior-knowledge; do
    r=$(timeout 30 "$BUF" curl --protocol connect $proto --schema "$SHOP_PB#format=binpb" \
      -d '{"sku":"ABC-123","currency":"EUR"}' "$U/shop.v1.PriceService/GetPrice" 2>&1)
    check_has "buf curl connect $proto unary" '"currency": "EUR"' "$r"
    r=$(timeout 30 "$BUF" curl --protocol connect $proto --schema "$SHOP_PB#format=binpb" \
      -d '{"sku":"XYZ-999","updates":4,"intervalMs":10}' "$U/shop.v1.PriceService/WatchPrice" 2>&1)
    check "buf curl connect $proto stream" 4 "$(grep -c '"sequence"' <<<"$r")"
  done
  r=$(timeout 30 "$BUF" curl --protocol connect --schema "$SHOP_PB#format=binpb" -d '{"sku":"NOPE-9"}' \
    "$U/shop.v1.PriceService/GetPrice" 2>&1)
  check_has "buf curl connect error code" '"code": "not_found"' "$r"
  check_has "buf curl connect error debug" '"reason": "PRODUCT_NOT_FOUND"' "$r"
  r=$(timeout 30 "$BUF" curl --protocol connect --schema "$SHOP_PB#format=binpb" -H 'x-test-abort-after: 1' \
    -d '{"sku":"ABC-123","updates":3,"intervalMs":10}' "$U/shop.v1.PriceService/WatchPrice" 2>&1)
  check_has "buf curl connect stream error" '"code": "aborted"' "$r"
  r=$(timeout 30 "$BUF" curl --protocol connect --schema "$SHOP_PB#format=binpb" -d '{"region":"eu-west"}' \
    "$U/shop.v1.StockService/ListWarehouses" 2>&1)
  check_has "buf curl connect auto-mapped method" '"id": "ams-1"' "$r"
else
  bad "npm packages for buf curl could not be installed"
fi

# ---- the backend goes away ----------------------------------------------------------------------------------------
kill -9 $BACKEND_PID
wait $BACKEND_PID 2>/dev/null
s=$(cx POST /shop.v1.PriceService/GetPrice "${CJ[@]}" "${O[@]}" --data '{"sku":"ABC-123"}')
check "backend down 503" 503 "$s"
check_has "  unavailable" '"code":"unavailable"' "$(body)"
check "  with CORS" "https://app.example.com" "$(hdr access-control-allow-origin)"

kill -TERM $GW_PID
wait $GW_PID
check "gateway exit" 0 $?
check_not_has "no sanitizer report" "Sanitizer" "$(cat "$TMP/gateway.log")"
summary
