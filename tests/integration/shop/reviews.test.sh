#!/usr/bin/env bash
# reviews.test.sh — the example shop's REST reviews service (examples/shop/reviews/reviews-backend)
# against curl: no gateway involved.
#
# Starts reviews-backend on a free loopback port (it binds port 0 and writes the port to a file),
# then checks a table of requests (routes, 404/405, every test hook and its bad values), that a
# delayed request does not hold up the others (x-test-delay-ms waits on an h2o timer, not in a
# sleep), that a client leaving mid-delay does no harm, keep-alive, the one-line-per-request log,
# and the SIGTERM shutdown (idle, and with a delayed response in flight that must still go out).
#
# Env (set by ctest): PORTICO_BUILD_DIR.
set -u
. "$(dirname "$0")/../lib.sh"

BIN=${PORTICO_BUILD_DIR:-}/examples/shop/reviews/reviews-backend
if [ ! -x "$BIN" ]; then
    echo "FAIL: $BIN is not built (examples/shop/CMakeLists.txt needs add_subdirectory(reviews))"
    echo "0 passed, 1 failed"
    exit 1
fi

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# start_reviews NAME [args...]: starts the service, sets RPID and PORT.
start_reviews() {
    local name=$1
    shift
    rm -f "$TMP/$name.port"
    start "$name" "$BIN" --listen 127.0.0.1:0 --port-file "$TMP/$name.port" "$@"
    RPID=$LAST_PID
    for _ in $(seq 100); do
        [ -s "$TMP/$name.port" ] && break
        kill -0 "$RPID" 2>/dev/null || break
        sleep 0.05
    done
    PORT=$(cat "$TMP/$name.port" 2>/dev/null)
    [ -n "$PORT" ] || { echo "reviews-backend did not start:"; cat "$TMP/$name.log"; summary; exit 1; }
}

# req [curl args...]: prints "STATUS BODY".
req() {
    curl -s -o "$TMP/body" -w '%{http_code}' "$@" >"$TMP/status" 2>/dev/null
    echo "$(cat "$TMP/status") $(cat "$TMP/body")"
}

start_reviews main
URL=http://127.0.0.1:$PORT

# ---- the case table: name | path | header (or -) | method | expected "STATUS BODY" (exact) ----------
CASES=(
  "known sku|/reviews/ABC-123|-|GET|200 {\"sku\":\"ABC-123\",\"average\":4.5,\"count\":2,\"reviews\":[{\"author\":\"ana\",\"rating\":5,\"text\":\"Does exactly what a widget should.\"},{\"author\":\"bram\",\"rating\":4,\"text\":\"Solid, a little heavy.\"}]}"
  "four reviews|/reviews/XYZ-999|-|GET|200 {\"sku\":\"XYZ-999\",\"average\":4.0,\"count\":4,\"reviews\":[{\"author\":\"chen\",\"rating\":5,\"text\":\"Worth the sale price.\"},{\"author\":\"dana\",\"rating\":3,\"text\":\"Battery could be better.\"},{\"author\":\"eli\",\"rating\":4,\"text\":\"Fast and well built.\"},{\"author\":\"fay\",\"rating\":4,\"text\":\"Good, but the manual is thin.\"}]}"
  "no reviews|/reviews/GIFT-50|-|GET|200 {\"sku\":\"GIFT-50\",\"average\":null,\"count\":0,\"reviews\":[]}"
  "query ignored|/reviews/DEF-456?lang=en|-|GET|200 {\"sku\":\"DEF-456\",\"average\":2.0,\"count\":1,\"reviews\":[{\"author\":\"gus\",\"rating\":2,\"text\":\"Fits, but wore out quickly.\"}]}"
  "unknown sku|/reviews/NOPE-1|-|GET|404 {\"code\":404,\"message\":\"no product with SKU \\\"NOPE-1\\\"\"}"
  "sku is case-sensitive|/reviews/abc-123|-|GET|404 {\"code\":404,\"message\":\"no product with SKU \\\"abc-123\\\"\"}"
  "empty sku|/reviews/|-|GET|404 {\"code\":404,\"message\":\"no route for /reviews/\"}"
  "extra segment|/reviews/ABC-123/x|-|GET|404 {\"code\":404,\"message\":\"no route for /reviews/ABC-123/x\"}"
  "unknown path|/nothing|-|GET|404 {\"code\":404,\"message\":\"no route for /nothing\"}"
  "health|/healthz|-|GET|200 {\"status\":\"ok\"}"
  "method|/reviews/ABC-123|-|DELETE|405 {\"code\":405,\"message\":\"method DELETE is not allowed: use GET\"}"
  "hook status|/reviews/ABC-123|x-test-status: 503|GET|503 {\"code\":503,\"message\":\"status 503 requested by x-test-status\"}"
  "hook status 500|/reviews/NOPE|x-test-status: 500|GET|500 {\"code\":500,\"message\":\"status 500 requested by x-test-status\"}"
  "hook body|/reviews/ABC-123|x-test-body: this is not JSON|GET|200 this is not JSON"
  "hook bad status|/reviews/ABC-123|x-test-status: 99|GET|400 {\"code\":400,\"message\":\"x-test-status must be an HTTP status in 100..599\"}"
  "hook bad status text|/reviews/ABC-123|x-test-status: five|GET|400 {\"code\":400,\"message\":\"x-test-status must be an HTTP status in 100..599\"}"
  "hook bad delay|/reviews/ABC-123|x-test-delay-ms: soon|GET|400 {\"code\":400,\"message\":\"x-test-delay-ms must be a number of milliseconds in 0..60000\"}"
  "hook delay too long|/reviews/ABC-123|x-test-delay-ms: 60001|GET|400 {\"code\":400,\"message\":\"x-test-delay-ms must be a number of milliseconds in 0..60000\"}"
  "hook zero delay|/healthz|x-test-delay-ms: 0|GET|200 {\"status\":\"ok\"}"
)
for c in "${CASES[@]}"; do
    IFS='|' read -r name path header method expected <<<"$c"
    if [ "$header" = "-" ]; then
        got=$(req -X "$method" "$URL$path")
    else
        got=$(req -X "$method" -H "$header" "$URL$path")
    fi
    check "$name" "$expected" "$got"
done

# status and body hooks together: a 502 whose body is not JSON
check "hook status + body" "502 <html>bad gateway</html>" \
    "$(req -H 'x-test-status: 502' -H 'x-test-body: <html>bad gateway</html>' "$URL/reviews/ABC-123")"
# the content type of JSON answers, and a Content-Length (the gateway's HTTP/1.1 client reads it)
headers=$(curl -s -D - -o /dev/null "$URL/reviews/ABC-123")
check_has "content-type" "content-type: application/json" "$headers"
check_has "content-length" "content-length: 186" "$(echo "$headers" | tr 'A-Z' 'a-z' | tr -d '\r')"

# ---- a delay holds only its own request --------------------------------------------------------
t0=$(now_ms)
got=$(req -H 'x-test-delay-ms: 200' "$URL/reviews/ABC-123")
t1=$(now_ms)
check_has "delayed answer" "200 {\"sku\":\"ABC-123\"" "$got"
[ $((t1 - t0)) -ge 190 ] && ok || bad "delay 200 ms took $((t1 - t0)) ms"

# three requests delayed 300 ms each, in parallel: about 300 ms in all, not 900
t0=$(now_ms)
CURLS=()
for i in 1 2 3; do
    curl -s -o "$TMP/par$i" -w '%{http_code}' -H 'x-test-delay-ms: 300' "$URL/reviews/XYZ-999" >"$TMP/par$i.status" &
    CURLS+=($!)
done
# meanwhile an undelayed request is answered while the delayed ones are still outstanding (an
# order, not a time limit: a server that let a delay hold it up would answer the three first)
got=$(req "$URL/healthz")
outstanding=0
for p in "${CURLS[@]}"; do kill -0 "$p" 2>/dev/null && outstanding=$((outstanding + 1)); done
wait "${CURLS[@]}"
t1=$(now_ms)
check "undelayed during delays" "200 {\"status\":\"ok\"}" "$got"
[ "$outstanding" -eq 3 ] && ok || bad "undelayed request was answered after $((3 - outstanding)) of the delayed ones"
for i in 1 2 3; do check "parallel $i" "200" "$(cat "$TMP/par$i.status")"; done
[ $((t1 - t0)) -lt 600 ] && ok || bad "three parallel 300 ms delays took $((t1 - t0)) ms"

# a client that leaves while its answer waits: the server goes on serving
curl -s -m 0.2 -o /dev/null -H 'x-test-delay-ms: 1000' "$URL/reviews/ABC-123"
check "after a client left" "200 {\"status\":\"ok\"}" "$(req "$URL/healthz")"
sleep 1
kill -0 "$RPID" 2>/dev/null && ok || bad "reviews-backend died after a client left mid-delay"

# keep-alive: two requests on one connection
out=$(curl -s -v "$URL/reviews/GIFT-50" "$URL/healthz" 2>&1)
check_has "keep-alive reuse" "Re-using existing connection" "$out"
check_has "keep-alive second answer" '{"status":"ok"}' "$out"

# one log line per request
lines=$(grep -c '^reviews-backend: GET /reviews/ABC-123 200 ' "$TMP/main.log")
[ "$lines" -ge 4 ] && ok || bad "expected one log line per ABC-123 request, found $lines"
check_has "log line of a 404" "reviews-backend: GET /reviews/NOPE-1 404 " "$(cat "$TMP/main.log")"
check_has "log line of a delay" "reviews-backend: GET /reviews/ABC-123 200 2" "$(grep ' 200 2[0-9][0-9]ms' "$TMP/main.log")"

# ---- SIGTERM ---------------------------------------------------------------------------------------
# idle: exits 0 at once and the port closes
kill -TERM "$RPID"
t0=$(now_ms)
wait "$RPID"
rc=$?
t1=$(now_ms)
check "idle SIGTERM exit status" "0" "$rc"
[ $((t1 - t0)) -lt 1000 ] && ok || bad "idle shutdown took $((t1 - t0)) ms"
check_has "shutdown logged" "reviews-backend: SIGTERM, shutting down" "$(cat "$TMP/main.log")"
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then bad "port $PORT still open after SIGTERM"; else ok; fi

# with a delayed response in flight: it still goes out, then the process exits 0
start_reviews busy
curl -s -o "$TMP/inflight" -w '%{http_code}' -H 'x-test-delay-ms: 500' "http://127.0.0.1:$PORT/reviews/OLD-001" >"$TMP/inflight.status" &
CURL=$!
sleep 0.15
kill -TERM "$RPID"
wait "$CURL"
wait "$RPID"
rc=$?
check "in-flight SIGTERM exit status" "0" "$rc"
check "in-flight answer delivered" "200" "$(cat "$TMP/inflight.status")"
check_has "in-flight body" '"sku":"OLD-001","average":4.5' "$(cat "$TMP/inflight")"

# a grace period too short for the delay: the process still exits 0, and says what it dropped
start_reviews short --grace-ms 50
curl -s -m 3 -o /dev/null -H 'x-test-delay-ms: 2000' "http://127.0.0.1:$PORT/reviews/OLD-001" &
CURL=$!
sleep 0.15
t0=$(now_ms)
kill -TERM "$RPID"
wait "$RPID"
rc=$?
t1=$(now_ms)
check "short grace exit status" "0" "$rc"
[ $((t1 - t0)) -lt 1000 ] && ok || bad "shutdown with --grace-ms 50 took $((t1 - t0)) ms"
check_has "dropped response logged" "1 delayed responses dropped after 50ms" "$(cat "$TMP/short.log")"
wait "$CURL"

# ---- the command line --------------------------------------------------------------------------
"$BIN" --help >"$TMP/help" 2>&1
check "--help exit status" "0" "$?"
check_has "--help text" "usage: reviews-backend" "$(cat "$TMP/help")"
"$BIN" --listen nonsense >"$TMP/bad" 2>&1
check "bad --listen exit status" "1" "$?"
check_has "bad --listen message" "--listen nonsense: expected HOST:PORT" "$(cat "$TMP/bad")"
"$BIN" --frobnicate >"$TMP/bad" 2>&1
check "unknown option exit status" "2" "$?"

summary
