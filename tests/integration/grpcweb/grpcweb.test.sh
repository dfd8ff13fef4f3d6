#!/usr/bin/env bash
# grpcweb.test.sh — gRPC-Web through the real portico binary to the real shop backend:
# binary and text mode (padded chunks concatenated), unary and server streaming over
# HTTP/1.1 and h2c, trailers frames and trailers-only errors, metadata both ways (and what is
# not forwarded, from the backend's own log), deadlines, malformed frames (bad length prefix,
# truncated prefix, bad base64, oversized, bad flags, message counts) answered with clean gRPC
# statuses while the server keeps serving, 405/415, unknown methods, CORS on every answer,
# `buf curl --protocol grpcweb`, and a backend that is down.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../browser/common.sh"

PORTICO=${PORTICO_BIN:?}
BACKEND=$(find_bin shop-backend)
SHOP_PB=$PORTICO_BUILD_DIR/descriptors/shop.pb
FRAMES="/usr/bin/python3 $(dirname "$0")/frames.py"
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
  "upstreams": {"shop": {"protocol": "grpc", "targets": ["127.0.0.1:$BPORT"], "timeout_ms": 3000, "connect_timeout_ms": 500}},
  "grpc_services": [{"service": "shop.v1.PriceService", "upstream": "shop"},
                    {"service": "shop.v1.StockService", "upstream": "shop"}],
  "limits": {"max_request_body_bytes": 65536},
  "cors": {"allowed_origins": ["https://app.example.com", "https://*.shop.example"], "allow_credentials": true,
           "allowed_headers": ["X-Request-Id"]}
}
JSON
start gateway "$PORTICO" serve -c "$TMP/portico.json"
GW_PID=$LAST_PID
wait_port $GPORT
U=http://127.0.0.1:$GPORT

# pb TYPE JSON FILE: the protobuf encoding of JSON
pb() { echo "$2" | "$PORTICO" transcode -d "$SHOP_PB" -m "$1" --from json --to binary >"$3"; }
# json TYPE HEX: the JSON of protobuf bytes given in hex
json() { echo -n "$2" | xxd -r -p | "$PORTICO" transcode -d "$SHOP_PB" -m "$1" --from binary --to json; }
# gw CONTENT-TYPE METHOD BODYFILE [curl args]: status line; headers in $TMP/h, body in $TMP/b
gw() {
  local ct=$1 m=$2 body=$3; shift 3
  curl -s -o "$TMP/b" -D "$TMP/h" -w '%{http_code}' -H "content-type: $ct" -H 'x-grpc-web: 1' \
    --data-binary @"$body" "$@" "$U/$m"
}
hdr() { grep -i "^$1:" "$TMP/h" | head -1 | cut -d' ' -f2- | tr -d '\r'; }

pb shop.v1.GetPriceRequest '{"sku":"ABC-123","quantity":2}' "$TMP/get.pb"
$FRAMES encode "$TMP/get.pb" >"$TMP/get.bin"
$FRAMES encode --text "$TMP/get.pb" >"$TMP/get.txt"
pb shop.v1.WatchPriceRequest '{"sku":"ABC-123","updates":3,"intervalMs":10}' "$TMP/watch.pb"
$FRAMES encode "$TMP/watch.pb" >"$TMP/watch.bin"
$FRAMES encode --text "$TMP/watch.pb" >"$TMP/watch.txt"

# ---- unary, binary and text, HTTP/1.1 and h2c ------------------------------------------------
for proto in --http1.1 --http2-prior-knowledge; do
  for ct in application/grpc-web application/grpc-web+proto; do
    s=$(gw $ct shop.v1.PriceService/GetPrice "$TMP/get.bin" $proto)
    check "$proto $ct status" 200 "$s"
    check "$proto $ct content type" "application/grpc-web+proto" "$(hdr content-type)"
    d=$($FRAMES decode "$TMP/b")
    check "$proto $ct frames" "msg trailers" "$(cut -d' ' -f1 <<<"$d" | tr '\n' ' ' | sed 's/ $//')"
    check_has "$proto $ct message" '"displayName":"Classic Widget"' "$(json shop.v1.Price "$(sed -n 's/^msg //p' <<<"$d")")"
    check "$proto $ct trailers" "trailers grpc-status:0|x-served-by:shop-backend" "$(tail -1 <<<"$d")"
    check "$proto $ct content-length" "$(stat -c%s "$TMP/b")" "$(hdr content-length)"
  done
  s=$(gw application/grpc-web-text shop.v1.PriceService/GetPrice "$TMP/get.txt" $proto)
  check "$proto text status" 200 "$s"
  check "$proto text content type" "application/grpc-web-text+proto" "$(hdr content-type)"
  check "$proto text body is base64" "" "$(tr -d 'A-Za-z0-9+/=' <"$TMP/b")"
  d=$($FRAMES decode --text "$TMP/b")
  check_has "$proto text message" '"sku":"ABC-123"' "$(json shop.v1.Price "$(sed -n 's/^msg //p' <<<"$d")")"
  check "$proto text trailers" "trailers grpc-status:0|x-served-by:shop-backend" "$(tail -1 <<<"$d")"
done

# a text body sent as separately padded chunks (a client flushing mid-stream)
head -c 4 "$TMP/get.bin" | base64 -w0 >"$TMP/chunked.txt"
tail -c +5 "$TMP/get.bin" | head -c 2 | base64 -w0 >>"$TMP/chunked.txt"
tail -c +7 "$TMP/get.bin" | base64 -w0 >>"$TMP/chunked.txt"
check_has "chunks are padded mid-body" "=" "$(head -c 12 "$TMP/chunked.txt")"
s=$(gw application/grpc-web-text+proto shop.v1.PriceService/GetPrice "$TMP/chunked.txt")
check "padded chunks status" 200 "$s"
check "padded chunks ok" "trailers grpc-status:0|x-served-by:shop-backend" "$($FRAMES decode --text "$TMP/b" | tail -1)"

# ---- server streaming ------------------------------------------------------------------------
for proto in --http1.1 --http2-prior-knowledge; do
  s=$(gw application/grpc-web+proto shop.v1.PriceService/WatchPrice "$TMP/watch.bin" $proto -N)
  d=$($FRAMES decode "$TMP/b")
  check "$proto stream status" 200 "$s"
  check "$proto stream 3 messages" 3 "$(grep -c '^msg ' <<<"$d")"
  check "$proto stream trailers" "trailers grpc-status:0|x-served-by:shop-backend" "$(tail -1 <<<"$d")"
  check_has "$proto stream third" '"sequence":3' "$(json shop.v1.PriceUpdate "$(sed -n '3s/^msg //p' <<<"$d")")"
  s=$(gw application/grpc-web-text shop.v1.PriceService/WatchPrice "$TMP/watch.txt" $proto -N)
  d=$($FRAMES decode --text "$TMP/b")
  check "$proto text stream 3 messages" 3 "$(grep -c '^msg ' <<<"$d")"
  check "$proto text stream trailers" "trailers grpc-status:0|x-served-by:shop-backend" "$(tail -1 <<<"$d")"
done
# messages are flushed as they arrive, each text chunk padded by itself: with a second between
# updates the first message is readable while the stream is still open
pb shop.v1.WatchPriceRequest '{"sku":"ABC-123","updates":3,"intervalMs":1000}' "$TMP/slow.pb"
$FRAMES encode --text "$TMP/slow.pb" >"$TMP/slow.txt"
curl -s -N -H 'content-type: application/grpc-web-text' --data-binary @"$TMP/slow.txt" \
  "$U/shop.v1.PriceService/WatchPrice" >"$TMP/slow.out" &
CURL_PID=$!
for _ in $(seq 40); do
  [ "$($FRAMES decode --text "$TMP/slow.out" | grep -c '^msg ')" -ge 1 ] && break
  sleep 0.05
done
check "first message flushed before the end" 1 "$($FRAMES decode --text "$TMP/slow.out" | grep -c '^msg ')"
kill -0 $CURL_PID 2>/dev/null
check "  while the stream is still open" 0 $?
wait $CURL_PID
d=$($FRAMES decode --text "$TMP/slow.out")
check "slow stream complete" 3 "$(grep -c '^msg ' <<<"$d")"
check "slow stream trailers" "trailers grpc-status:0|x-served-by:shop-backend" "$(tail -1 <<<"$d")"

# a client that goes away cancels the upstream call (the backend logs how its calls ended)
pb shop.v1.WatchPriceRequest '{"sku":"ABC-123","updates":50,"intervalMs":50}' "$TMP/long.pb"
$FRAMES encode "$TMP/long.pb" >"$TMP/long.bin"
for proto in --http1.1 --http2-prior-knowledge; do
  curl -s -N $proto --max-time 0.4 -H 'content-type: application/grpc-web' -H "x-request-id: gone$proto" \
    --data-binary @"$TMP/long.bin" "$U/shop.v1.PriceService/WatchPrice" >/dev/null
done
wait_log() { for _ in $(seq 100); do grep -q -e "$1" "$TMP/backend.log" && return; sleep 0.05; done; }
wait_log 'gone--http1.1'
wait_log 'gone--http2'
check_has "client gone (HTTP/1.1): upstream call cancelled" "status=1 CANCELLED" "$(grep -e 'gone--http1.1' "$TMP/backend.log")"
check_has "client gone (h2c): upstream call cancelled" "status=1 CANCELLED" "$(grep -e 'gone--http2' "$TMP/backend.log")"

# ---- errors from the backend -------------------------------------------------------------------
pb shop.v1.GetPriceRequest '{"sku":"NOPE-1"}' "$TMP/nope.pb"
$FRAMES encode "$TMP/nope.pb" >"$TMP/nope.bin"
s=$(gw application/grpc-web shop.v1.PriceService/GetPrice "$TMP/nope.bin" -H 'origin: https://app.example.com')
check "trailers-only: HTTP 200" 200 "$s"
check "trailers-only: status header" 5 "$(hdr grpc-status)"
check "trailers-only: message percent-encoded" 'product "NOPE-1" not found' "$(hdr grpc-message)"
check_has "trailers-only: details header" "C" "$(hdr grpc-status-details-bin)"
check "trailers-only: trailing metadata as header" "shop-backend" "$(hdr x-served-by)"
check "trailers-only: empty body" 0 "$(stat -c%s "$TMP/b")"
check "trailers-only: CORS origin" "https://app.example.com" "$(hdr access-control-allow-origin)"
check "trailers-only: CORS credentials" "true" "$(hdr access-control-allow-credentials)"
check_has "trailers-only: grpc-status exposed" "Grpc-Status, Grpc-Message, Grpc-Status-Details-Bin" \
  "$(hdr access-control-expose-headers)"
check_has "trailers-only: metadata exposed by name" "x-served-by" "$(hdr access-control-expose-headers)"

s=$(gw application/grpc-web shop.v1.PriceService/GetPrice "$TMP/get.bin" -H 'x-test-status: UNAVAILABLE' \
  -H 'x-test-status-message: 100% down')
check "hook status" 14 "$(hdr grpc-status)"
check "hook message" "100%25 down" "$(hdr grpc-message)"

s=$(gw application/grpc-web shop.v1.PriceService/WatchPrice "$TMP/watch.bin" -H 'x-test-abort-after: 2' \
  -H 'x-test-status-message: cut short')
d=$($FRAMES decode "$TMP/b")
check "error mid-stream: 2 messages" 2 "$(grep -c '^msg ' <<<"$d")"
check "error mid-stream: trailers" "trailers grpc-status:10|grpc-message:cut short|x-served-by:shop-backend" "$(tail -1 <<<"$d")"
check "error mid-stream: HTTP 200" 200 "$s"

# unary with a response and then an error: the status wins, in the trailers frame
s=$(gw application/grpc-web shop.v1.PriceService/GetPrice "$TMP/get.bin" -H 'x-test-abort-after: 1')
d=$($FRAMES decode "$TMP/b")
check_has "unary message then error" "trailers grpc-status:10" "$(tail -1 <<<"$d")"

# ---- metadata --------------------------------------------------------------------------------
s=$(gw application/grpc-web shop.v1.PriceService/GetPrice "$TMP/get.bin" -H 'x-request-id: gw-42' \
  -H 'x-echo-color: blue' -H 'cookie: session=secret' -H 'x-user-agent: grpc-web-javascript/0.1' \
  -H 'origin: https://a.shop.example')
check "request id echoed" "gw-42" "$(hdr x-request-id)"
check "custom metadata echoed" "blue" "$(hdr x-echo-color)"
check_has "echoed headers exposed to the page" "x-request-id, x-echo-color" "$(hdr access-control-expose-headers)"
check "pattern origin allowed" "https://a.shop.example" "$(hdr access-control-allow-origin)"
wait_log 'gw-42'
call_log=$(grep 'gw-42' "$TMP/backend.log")
check_has "backend got x-echo-color" "x-echo-color" "$call_log"
check_not_has "cookie not forwarded" "cookie" "$call_log"
check_not_has "x-user-agent not forwarded" "x-user-agent" "$call_log"
check_not_has "x-grpc-web not forwarded" "x-grpc-web" "$call_log"

# ---- deadlines ---------------------------------------------------------------------------------
s=$(gw application/grpc-web shop.v1.PriceService/GetPrice "$TMP/get.bin" -H 'grpc-timeout: 200m' -H 'x-test-delay-ms: 2000')
check "client deadline" 4 "$(hdr grpc-status)"
s=$(gw application/grpc-web shop.v1.PriceService/GetPrice "$TMP/get.bin" -H 'grpc-timeout: soon')
check "bad grpc-timeout" 3 "$(hdr grpc-status)"
check_has "bad grpc-timeout named" "soon" "$(hdr grpc-message)"

# ---- malformed requests: clean gRPC errors ---------------------------------------------------------
printf '\x00\x00\x00' >"$TMP/short.bin"
$FRAMES encode --length 1000 "$TMP/get.pb" >"$TMP/liar.bin"
$FRAMES encode --length 0x7fffffff "$TMP/get.pb" >"$TMP/huge.bin"
$FRAMES encode --flags 0x80 "$TMP/get.pb" >"$TMP/flags.bin"
$FRAMES encode --flags 0x01 "$TMP/get.pb" >"$TMP/compressed.bin"
$FRAMES encode "$TMP/get.pb" "$TMP/get.pb" >"$TMP/two.bin"
: >"$TMP/empty.bin"
printf 'not a protobuf message' >"$TMP/garbage.pb"
$FRAMES encode "$TMP/garbage.pb" >"$TMP/garbage.bin"
printf 'AAAA!!!!' >"$TMP/badb64.txt"
base64 -w0 "$TMP/liar.bin" >"$TMP/liar.txt"
head -c 70000 /dev/zero >"$TMP/big.pb"
$FRAMES encode "$TMP/big.pb" >"$TMP/big.bin"

# name file content-type status message-substring
while read -r name file ct code msg; do
  s=$(gw "$ct" shop.v1.PriceService/GetPrice "$TMP/$file")
  check "$name: HTTP 200" 200 "$s"
  check "$name: grpc-status" "$code" "$(hdr grpc-status)"
  check_has "$name: message" "${msg//_/ }" "$(hdr grpc-message)"
done <<'CASES'
truncated-prefix short.bin application/grpc-web 3 5-byte_message_prefix
bad-length-prefix liar.bin application/grpc-web 3 announces_1000_bytes
oversized huge.bin application/grpc-web 8 larger_than_the_limit
trailer-flag flags.bin application/grpc-web 13 invalid_frame_flags_0x80
compressed compressed.bin application/grpc-web 13 compressed
two-messages two.bin application/grpc-web 3 exactly_one_request_message,_the_request_has_2
no-message empty.bin application/grpc-web 3 the_request_has_0
bad-base64 badb64.txt application/grpc-web-text 3 invalid_base64_character_0x21_at_offset_4
text-bad-length liar.txt application/grpc-web-text 3 announces_1000_bytes
bad-protobuf garbage.bin application/grpc-web 3 _
CASES
# a body over limits.max_request_body_bytes is refused by the HTTP layer
s=$(gw application/grpc-web shop.v1.PriceService/GetPrice "$TMP/big.bin")
check "body over the limit" 413 "$s"

# protocol-level refusals
s=$(gw application/grpc-web+json shop.v1.PriceService/GetPrice "$TMP/get.bin")
check "+json codec 415" 415 "$s"
s=$(curl -s -o /dev/null -w '%{http_code}' -X GET -H 'content-type: application/grpc-web' "$U/shop.v1.PriceService/GetPrice")
check "GET 405" 405 "$s"
s=$(gw application/grpc-web shop.v1.PriceService/Nope "$TMP/get.bin")
check "unknown method: HTTP 200" 200 "$s"
check "unknown method: UNIMPLEMENTED" 12 "$(hdr grpc-status)"
s=$(gw application/grpc-web shop.v1.ReviewService/List "$TMP/get.bin")
check "unknown service: UNIMPLEMENTED" 12 "$(hdr grpc-status)"

# ---- CORS preflight of a gRPC-Web call --------------------------------------------------------------
curl -s -o /dev/null -D "$TMP/h" -X OPTIONS -H 'origin: https://app.example.com' \
  -H 'access-control-request-method: POST' \
  -H 'access-control-request-headers: content-type,x-grpc-web,x-user-agent,grpc-timeout,x-request-id' \
  "$U/shop.v1.PriceService/GetPrice"
check "preflight 204" 204 "$(head -1 "$TMP/h" | cut -d' ' -f2)"
check "preflight origin" "https://app.example.com" "$(hdr access-control-allow-origin)"
check_has "preflight allows x-grpc-web" "X-Grpc-Web" "$(hdr access-control-allow-headers)"
check_has "preflight allows configured header" "X-Request-Id" "$(hdr access-control-allow-headers)"
check "preflight max-age" 7200 "$(hdr access-control-max-age)"
check "preflight vary" "Origin, Access-Control-Request-Method, Access-Control-Request-Headers" "$(hdr vary)"
curl -s -o /dev/null -D "$TMP/h" -X OPTIONS -H 'origin: https://evil.example' -H 'access-control-request-method: POST' \
  "$U/shop.v1.PriceService/GetPrice"
check "preflight from a foreign origin 403" 403 "$(head -1 "$TMP/h" | cut -d' ' -f2)"
check "no CORS headers for it" 0 "$(grep -ci '^access-control-' "$TMP/h")"

# ---- buf curl, a real gRPC-Web client ----------------------------------------------------------------
if npm_setup; then
  for proto in "" --http2-prior-knowledge; do
    r=$(timeout 30 "$BUF" curl --protocol grpcweb $proto --schema "$SHOP_PB#format=binpb" \
      -d '{"sku":"ABC-123","currency":"EUR"}' "$U/shop.v1.PriceService/GetPrice" 2>&1)
    check_has "buf curl grpcweb $proto unary" '"currency": "EUR"' "$r"
    r=$(timeout 30 "$BUF" curl --protocol grpcweb $proto --schema "$SHOP_PB#format=binpb" \
      -d '{"sku":"XYZ-999","updates":4,"intervalMs":10}' "$U/shop.v1.PriceService/WatchPrice" 2>&1)
    check "buf curl grpcweb $proto stream" 4 "$(grep -c '"sequence"' <<<"$r")"
  done
  r=$(timeout 30 "$BUF" curl --protocol grpcweb --schema "$SHOP_PB#format=binpb" -d '{"sku":"NOPE-9"}' \
    "$U/shop.v1.PriceService/GetPrice" 2>&1)
  check_has "buf curl grpcweb error code" '"code": "not_found"' "$r"
  check_has "buf curl grpcweb error details" '"type": "google.rpc.ErrorInfo"' "$r"
  r=$(timeout 30 "$BUF" curl --protocol grpcweb --schema "$SHOP_PB#format=binpb" -H 'x-test-abort-after: 1' \
    -d '{"sku":"ABC-123","updates":3,"intervalMs":10}' "$U/shop.v1.PriceService/WatchPrice" 2>&1)
  check_has "buf curl grpcweb stream error" '"code": "aborted"' "$r"
else
  bad "npm packages for buf curl could not be installed"
fi

# ---- still serving, then the backend goes away ----------------------------------------------------------
s=$(gw application/grpc-web shop.v1.PriceService/GetPrice "$TMP/get.bin")
check "still serving" "trailers grpc-status:0|x-served-by:shop-backend" "$($FRAMES decode "$TMP/b" | tail -1)"
kill -9 $BACKEND_PID
wait $BACKEND_PID 2>/dev/null
s=$(gw application/grpc-web shop.v1.PriceService/GetPrice "$TMP/get.bin")
check "backend down: HTTP 200" 200 "$s"
check "backend down: UNAVAILABLE" 14 "$(hdr grpc-status)"

kill -TERM $GW_PID
wait $GW_PID
check "gateway exit" 0 $?
check_not_has "no sanitizer report" "Sanitizer" "$(cat "$TMP/gateway.log")"
summary
