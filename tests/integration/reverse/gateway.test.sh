#!/usr/bin/env bash
# gateway.test.sh — gRPC→REST through the running gateway: shop.v1.ReviewsService is configured
# on the REST reviews backend ("protocol": "http"), and portico serves it to Connect, gRPC-Web
# and REST clients by translating each call through the method's google.api.http rule. Checks
# the translated answers, HTTP error statuses mapped back to gRPC codes (404 NOT_FOUND,
# 409 ABORTED, 503 UNAVAILABLE, other 5xx INTERNAL), a non-JSON reply, a backend that is down.
source "$(dirname "$0")/../lib.sh"

PORTICO=${PORTICO_BIN:?}
REVIEWS=$(find_bin reviews-backend)
[ -x "$REVIEWS" ] || { echo "reviews-backend not built"; exit 1; }
RPORT=$(free_port); GPORT=$(free_port)
start reviews "$REVIEWS" --listen 127.0.0.1:$RPORT
RPID=$LAST_PID
wait_port $RPORT

cat >"$TMP/portico.json" <<JSON
{
  "listen": [{"address": "127.0.0.1", "port": $GPORT}],
  "workers": 1,
  "descriptors": ["$PORTICO_DESC_DIR/shop_reviews.pb"],
  "upstreams": {"reviews": {"protocol": "http", "targets": ["127.0.0.1:$RPORT"], "timeout_ms": 1000}},
  "grpc_services": [{"service": "shop.v1.ReviewsService", "upstream": "reviews"}],
  "forward_headers": ["x-test-status", "x-test-body", "x-test-delay-ms"]
}
JSON
start gateway "$PORTICO" serve -c "$TMP/portico.json"
wait_port $GPORT
U=http://127.0.0.1:$GPORT

# connect METHOD-PATH JSON [headers...] -> "STATUS BODY"
connect() {
  local path=$1 body=$2; shift 2
  curl -s -o "$TMP/body" -w '%{http_code}' -X POST "$U$path" -H 'content-type: application/json' \
    -H 'connect-protocol-version: 1' "$@" --data "$body" >"$TMP/status"
  echo "$(cat "$TMP/status") $(cat "$TMP/body")"
}

r=$(connect /shop.v1.ReviewsService/GetReviews '{"sku":"ABC-123"}')
check "connect 200" 200 "${r%% *}"
check_has "translated reply" '"average":4.5' "$r"
check_has "repeated messages" '"reviews":[{"author":"ana"' "$r"

r=$(curl -s "$U/reviews/ABC-123")
check_has "REST through gRPC->REST" '"count":2' "$r"

r=$(curl -s -o /dev/null -w '%{http_code}' "$U/shop.v1.ReviewsService/GetReviews?connect=v1&encoding=json&message=%7B%22sku%22%3A%22ABC-123%22%7D")
check "connect GET (NO_SIDE_EFFECTS)" 200 "$r"

r=$(connect /shop.v1.ReviewsService/GetReviews '{"sku":"NOPE-1"}')
check "404 -> not_found" 404 "${r%% *}"
check_has "code name" '"code":"not_found"' "$r"
r=$(connect /shop.v1.ReviewsService/GetReviews '{"sku":"ABC-123"}' -H 'x-test-status: 409')
check_has "409 -> aborted" '"code":"aborted"' "$r"
r=$(connect /shop.v1.ReviewsService/GetReviews '{"sku":"ABC-123"}' -H 'x-test-status: 503')
check_has "503 -> unavailable" '"code":"unavailable"' "$r"
r=$(connect /shop.v1.ReviewsService/GetReviews '{"sku":"ABC-123"}' -H 'x-test-status: 500')
check_has "500 -> internal" '"code":"internal"' "$r"
r=$(connect /shop.v1.ReviewsService/GetReviews '{"sku":"ABC-123"}' -H 'x-test-status: 418')
check_has "other 4xx -> failed_precondition" '"code":"failed_precondition"' "$r"
r=$(connect /shop.v1.ReviewsService/GetReviews '{"sku":"ABC-123"}' -H 'x-test-body: not json')
check_has "non-JSON reply -> internal" '"code":"internal"' "$r"
r=$(connect /shop.v1.ReviewsService/GetReviews '{"sku":"ABC-123"}' -H 'x-test-delay-ms: 1500')
check_has "slow backend -> deadline_exceeded" '"code":"deadline_exceeded"' "$r"

# gRPC-Web binary: the framed request, the trailer frame with grpc-status 0
printf '\x00\x00\x00\x00\x09\x0a\x07ABC-123' >"$TMP/req.bin"
curl -s -o "$TMP/gw.bin" -H 'content-type: application/grpc-web+proto' -H 'x-grpc-web: 1' \
  --data-binary @"$TMP/req.bin" "$U/shop.v1.ReviewsService/GetReviews"
check_has "grpc-web trailers" "grpc-status:0" "$(tr -d '\000' <"$TMP/gw.bin" | strings)"

kill -9 $RPID; wait $RPID 2>/dev/null
r=$(connect /shop.v1.ReviewsService/GetReviews '{"sku":"ABC-123"}')
check_has "backend down -> unavailable" '"code":"unavailable"' "$r"
summary
