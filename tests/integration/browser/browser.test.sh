#!/usr/bin/env bash
# browser.test.sh — a real browser calls the example shop through portico: Debian's headless
# Chromium, driven by playwright-core, loads a page from another origin (so every call is a
# CORS request with preflights) that uses @connectrpc/connect-web (Connect JSON, binary and
# GET; gRPC-Web binary) and Google's grpc-web client (gRPC-Web text mode), and renders what
# came back. The checks read the rendered DOM text: data, streams, errors with details,
# metadata and trailers both ways (readable only through the exposed headers), a deadline,
# and a gateway whose CORS policy refuses the page.
# Needs chromium, node and npm (scripts/setup.sh installs them); npm packages are installed
# into $PORTICO_BUILD_DIR/npm at the first run.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/common.sh"

PORTICO=${PORTICO_BIN:?}
BACKEND=$(find_bin shop-backend)
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$BACKEND" ] || { echo "shop-backend not built"; exit 1; }
for tool in node npm "$CHROMIUM"; do
  command -v "$tool" >/dev/null || { echo "$tool is missing (run scripts/setup.sh)"; exit 1; }
done
npm_setup || { echo "npm install failed"; exit 1; }

SHOP_PB=$TMP/shop.pb
shop_get_pb "$SHOP_PB" || { echo "cannot build the shop descriptor set"; exit 1; }

BPORT=$(free_port)
GPORT=$(free_port)
G2PORT=$(free_port)
WPORT=$(free_port)
start backend "$BACKEND" --listen 127.0.0.1:$BPORT
wait_port $BPORT

PAGE_ORIGIN=http://127.0.0.1:$WPORT
cat >"$TMP/portico.json" <<JSON
{
  "listen": [{"address": "127.0.0.1", "port": $GPORT}],
  "workers": 2,
  "descriptors": ["$SHOP_PB"],
  "upstreams": {"shop": {"protocol": "grpc", "targets": ["127.0.0.1:$BPORT"], "timeout_ms": 5000}},
  "grpc_services": [{"service": "shop.v1.PriceService", "upstream": "shop"},
                    {"service": "shop.v1.StockService", "upstream": "shop"}],
  "cors": {"allowed_origins": ["$PAGE_ORIGIN"],
           "allowed_headers": ["X-Request-Id", "X-Test-Delay-Ms", "X-Test-Abort-After", "X-Test-Status",
                               "X-Test-Status-Message"]}
}
JSON
# the same shop behind a gateway that allows another origin only
sed -e "s/\"port\": $GPORT/\"port\": $G2PORT/" -e "s#\"$PAGE_ORIGIN\"#\"https://elsewhere.example\"#" \
  "$TMP/portico.json" >"$TMP/portico2.json"
start gateway "$PORTICO" serve -c "$TMP/portico.json"
GW_PID=$LAST_PID
start gateway2 "$PORTICO" serve -c "$TMP/portico2.json"
GW2_PID=$LAST_PID
wait_port $GPORT
wait_port $G2PORT

# the page: its script bundled with the npm packages, served from another origin
mkdir -p "$TMP/www"
cp "$BROWSER_TEST_DIR/page/index.html" "$TMP/www/"
cp "$SHOP_PB" "$TMP/www/shop.pb"
cp "$BROWSER_TEST_DIR/page/app.js" "$NPM_DIR/app.js"
cp "$BROWSER_TEST_DIR/driver.mjs" "$NPM_DIR/driver.mjs"
(cd "$NPM_DIR" && "$ESBUILD" app.js --bundle --format=iife --platform=browser --target=es2020 --log-level=error \
  --outfile="$TMP/www/app.bundle.js") || { echo "bundling failed"; exit 1; }
start web /usr/bin/python3 -m http.server "$WPORT" --bind 127.0.0.1 --directory "$TMP/www"
wait_port $WPORT

out=$(CHROMIUM=$CHROMIUM timeout 120 node "$NPM_DIR/driver.mjs" \
  "$PAGE_ORIGIN/index.html?gw=http://127.0.0.1:$GPORT&denied=http://127.0.0.1:$G2PORT" "$TMP/profile" 2>&1)
check "driver exit" 0 $?
echo "$out" | sed 's/^/  page| /'

line() { grep "^$1: " <<<"$out" | head -1; }

check "connect JSON unary, metadata both ways" \
  "connect-json: Classic Widget x2 = 39.98 USD echo=page-1 trailer=shop-backend" "$(line connect-json)"
check "connect GET (NO_SIDE_EFFECTS)" "connect-get: XYZ-999 available=3 STOCK_STATUS_LOW_STOCK via GET" "$(line connect-get)"
check "connect binary" "connect-proto: warehouses=ams-1,ber-1" "$(line connect-proto)"
check "connect server stream" "connect-stream: sequences=1,2,3" "$(line connect-stream)"
check "connect error with details" \
  "connect-error: NotFound product \"NOPE-1\" not found details=google.rpc.ErrorInfo" "$(line connect-error)"
check "connect deadline" "connect-deadline: DeadlineExceeded" "$(line connect-deadline)"
check "grpc-web unary + header" "grpcweb: Classic Widget = 18.39 EUR echo=page-2" "$(line grpcweb)"
check "grpc-web stream" "grpcweb-stream: sequences=1,2,3,4" "$(line grpcweb-stream)"
check "grpc-web trailers-only error" "grpcweb-error: error NotFound product \"NOPE-2\" not found" "$(line grpcweb-error)"
check "grpc-web error mid-stream" "grpcweb-stream-error: after 1,2 error Aborted cut short" "$(line grpcweb-stream-error)"
check "grpc-web-text unary" "grpcwebtext: Gift Card 50 = 39.50 GBP" "$(line grpcwebtext)"
check "grpc-web-text stream" "grpcwebtext-stream: sequences=1,2,3" "$(line grpcwebtext-stream)"
check "grpc-web-text error" "grpcwebtext-error: code=7 no entry" "$(line grpcwebtext-error)"
check_has "CORS refusal blocks the page" "cors-denied: error" "$(line cors-denied)"
check_not_has "no fatal page error" "fatal:" "$out"
check_has "the browser saw the refusal" "blocked by CORS policy" "$out"
check "only the refused gateway was blocked" 1 "$(grep -c 'blocked by CORS policy' <<<"$out")"

# the gateways served everything without trouble
r=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$GPORT/v1/products/ABC-123/price")
check "still serving" 200 "$r"

# graceful stop: exit 0, and no sanitizer report (leaks are reported at exit)
kill -TERM $GW_PID $GW2_PID
wait $GW_PID
check "gateway exit" 0 $?
wait $GW2_PID
check "gateway2 exit" 0 $?
check_not_has "no sanitizer report" "Sanitizer" "$(cat "$TMP"/gateway*.log)"
summary
