#!/usr/bin/env bash
# backends.test.sh — the example shop's gRPC backend (examples/shop/shop-backend) against a
# real HTTP/2 client: no gateway involved.
#
# Starts shop-backend on a free loopback port (it binds port 0 and reports the port in a
# file), then calls it with curl --http2-prior-knowledge: requests are protoc --encode'd text
# protos in a gRPC frame (0x00 + big-endian length), responses are split into frames and
# protoc --decode'd, and grpc-status / grpc-message / grpc-status-details-bin are read from
# the header and trailer dump. The case table checks every method, the error paths and the
# test hooks; then come concurrency (curl fan-out and h2load), the per-call log, and
# SIGTERM shutdowns (idle and with a call in flight) by PID.
#
# Env (set by ctest): PORTICO_BUILD_DIR, PORTICO_DESC_DIR, PORTICO_SOURCE_DIR.
set -u

BUILD_DIR=${PORTICO_BUILD_DIR:-$(cd "$(dirname "$0")/../../.." && pwd)/build}
DESC_DIR=${PORTICO_DESC_DIR:-$BUILD_DIR/descriptors}
BACKEND=$BUILD_DIR/examples/shop/shop-backend
DESC=$DESC_DIR/shop.pb
RPC_PROTOS=/usr/share/gocode/src/github.com/gogo/googleapis

if [ ! -x "$BACKEND" ]; then
    echo "SKIP: $BACKEND not built (grpc not found at configure time)"
    echo "0 passed, 0 failed"
    exit 0
fi
for tool in curl protoc od base64; do
    command -v $tool >/dev/null || { echo "missing tool: $tool"; echo "0 passed, 1 failed"; exit 1; }
done
[ -f "$DESC" ] || { echo "missing descriptor set $DESC"; echo "0 passed, 1 failed"; exit 1; }

TMP=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT

passed=0
failed=0
ok() { passed=$((passed + 1)); }
fail() {
    failed=$((failed + 1))
    echo "FAIL: $*"
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# start_backend NAME [args...]: starts shop-backend, sets BPID and PORT.
start_backend() {
    local name=$1
    shift
    rm -f "$TMP/$name.port"
    "$BACKEND" --listen 127.0.0.1:0 --port-file "$TMP/$name.port" "$@" 2>"$TMP/$name.log" &
    BPID=$!
    PIDS+=("$BPID")
    for _ in $(seq 100); do
        [ -s "$TMP/$name.port" ] && break
        kill -0 "$BPID" 2>/dev/null || break
        sleep 0.05
    done
    if [ ! -s "$TMP/$name.port" ]; then
        echo "shop-backend did not start:"
        cat "$TMP/$name.log"
        echo "$passed passed, $((failed + 1)) failed"
        exit 1
    fi
    PORT=$(cat "$TMP/$name.port")
}

# frame FILE: FILE as one uncompressed gRPC message.
frame() {
    local n
    n=$(stat -c%s "$1")
    printf "\\x00\\x$(printf %02x $((n >> 24 & 255)))\\x$(printf %02x $((n >> 16 & 255)))"
    printf "\\x$(printf %02x $((n >> 8 & 255)))\\x$(printf %02x $((n & 255)))"
    cat "$1"
}

# encode TYPE TEXT > framed request
encode() {
    printf '%s\n' "$2" | protoc --descriptor_set_in="$DESC" --encode="shop.v1.$1" shop/v1/shop.proto >"$TMP/req.pb" || return 1
    frame "$TMP/req.pb"
}

# decode_frames FILE TYPE: every message of a response body, decoded; then "frames=N".
decode_frames() {
    local f=$1 type=$2 off=0 n=0 size flag b1 b2 b3 b4 len
    size=$(stat -c%s "$f")
    while [ "$off" -lt "$size" ]; do
        read -r flag b1 b2 b3 b4 < <(od -An -tu1 -j "$off" -N5 "$f")
        len=$(((b1 << 24) | (b2 << 16) | (b3 << 8) | b4))
        n=$((n + 1))
        echo "--- frame $n (flag $flag, $len bytes)"
        tail -c +$((off + 6)) "$f" | head -c "$len" |
            protoc --descriptor_set_in="$DESC" --decode="shop.v1.$type" shop/v1/shop.proto 2>&1
        off=$((off + 5 + len))
    done
    echo "frames=$n"
}

# decode_details HEADERS: the google.rpc.Status in grpc-status-details-bin, as text.
decode_details() {
    local v
    v=$(grep -i '^grpc-status-details-bin:' "$1" | head -1 | sed 's/^[^:]*: *//' | tr -d '\r\n')
    [ -n "$v" ] || return 0
    while [ $((${#v} % 4)) -ne 0 ]; do v="$v="; done
    echo "--- grpc-status-details-bin"
    printf '%s' "$v" | base64 -d 2>/dev/null |
        protoc -I "$RPC_PROTOS" -I /usr/include --decode=google.rpc.Status google/rpc/status.proto 2>&1
}

# grpc_call METHOD REQFILE OUT [curl args...]: one call; OUT gets headers, trailers and the
# decoded response (RESP_TYPE), plus "elapsed_ms=N".
grpc_call() {
    local method=$1 req=$2 out=$3
    shift 3
    local t0
    t0=$(now_ms)
    curl -s --max-time 20 --http2-prior-knowledge -X POST -H 'content-type: application/grpc' -H 'te: trailers' "$@" \
        --data-binary @"$req" -D "$out.hdr" -o "$out.body" "http://127.0.0.1:$PORT/shop.v1.$method"
    local rc=$?
    {
        echo "curl_rc=$rc"
        tr -d '\r' <"$out.hdr"
        if [ -s "$out.body" ]; then decode_frames "$out.body" "$RESP_TYPE"; else echo "frames=0"; fi
        decode_details "$out.hdr"
        echo "elapsed_ms=$(($(now_ms) - t0))"
    } >"$out"
}

grpc_status_of() { grep -i '^grpc-status:' "$1" | tail -1 | sed 's/^[^:]*: *//'; }

start_backend main --watch-interval-ms 20

# ---- the case table --------------------------------------------------------------------------
# name | Service/Method | request type | request (protobuf text) | metadata (;-separated) |
#   want grpc-status | response type | wanted substrings of the dump (;-separated)
# Cases run in order: later ones see the updates and reservations of earlier ones.
CASES=$(
    cat <<'EOF'
get price, defaults | PriceService/GetPrice | GetPriceRequest | sku: "ABC-123" | x-request-id: t-get-1 | 0 | Price | amount_micros: 19990000;currency: "USD";quantity: 1;kind: PRICE_KIND_LIST;seconds: 1714564800;display_name: "Classic Widget";x-request-id: t-get-1;x-served-by: shop-backend;frames=1
get price, bulk + promo in EUR | PriceService/GetPrice | GetPriceRequest | sku: "ABC-123" quantity: 12 currency: "EUR" promo_code { value: "SAVE10" } | | 0 | Price | amount_micros: 188690000;unit_amount_micros: 18390000;currency: "EUR";quantity: 12;type: TYPE_BULK;percent_off_bps: 500;code: "SAVE10";percent_off_bps: 1000
get price, sale in JPY | PriceService/GetPrice | GetPriceRequest | sku: "XYZ-999" currency: "JPY" | | 0 | Price | unit_amount_micros: 37425000000;value: 44850000000;kind: PRICE_KIND_SALE;key: "warranty"
get price, fixed promo | PriceService/GetPrice | GetPriceRequest | sku: "GIFT-50" promo_code { value: "WELCOME5" } | | 0 | Price | amount_micros: 45000000;amount_off_micros: 5000000;type: TYPE_PROMO
get price, unknown sku | PriceService/GetPrice | GetPriceRequest | sku: "NOPE-1" | x-request-id: t-404 | 5 | Price | grpc-message: product "NOPE-1" not found;type.googleapis.com/google.rpc.ErrorInfo;PRODUCT_NOT_FOUND;shop.example.com;x-request-id: t-404;x-served-by: shop-backend
get price, bad quantity | PriceService/GetPrice | GetPriceRequest | sku: "ABC-123" quantity: -3 | | 3 | Price | quantity must be between 1 and 10000, got -3;type.googleapis.com/google.rpc.BadRequest
get price, too many | PriceService/GetPrice | GetPriceRequest | sku: "ABC-123" quantity: 10001 | | 3 | Price | got 10001
get price, bad currency | PriceService/GetPrice | GetPriceRequest | sku: "ABC-123" currency: "XXX" | | 3 | Price | currency "XXX" is not supported
get price, bad promo | PriceService/GetPrice | GetPriceRequest | sku: "ABC-123" promo_code { value: "FREE" } | | 3 | Price | promo code "FREE" is not valid
get price, no sku | PriceService/GetPrice | GetPriceRequest | quantity: 2 | | 3 | Price | sku is required
batch, with missing | PriceService/BatchGetPrices | BatchGetPricesRequest | items { sku: "ABC-123" } items { sku: "NOPE-1" } items { sku: "XYZ-999" quantity: 2 } allow_missing: true | | 0 | BatchGetPricesResponse | missing_skus: "NOPE-1";total_amount_micros: 518990000;sku: "XYZ-999";currency: "USD";frames=1
batch, missing fails | PriceService/BatchGetPrices | BatchGetPricesRequest | items { sku: "ABC-123" } items { sku: "NOPE-1" } | | 5 | BatchGetPricesResponse | product "NOPE-1" not found
batch, bad item | PriceService/BatchGetPrices | BatchGetPricesRequest | items { sku: "ABC-123" } items { sku: "ABC-123" quantity: -1 } | | 3 | BatchGetPricesResponse | items[1].quantity must be between 1 and 10000
batch, empty | PriceService/BatchGetPrices | BatchGetPricesRequest | currency: "EUR" | | 3 | BatchGetPricesResponse | items must hold 1 to 100 entries, got 0
update, masked unit price | PriceService/UpdatePrice | UpdatePriceRequest | price { sku: "ABC-123" unit_amount_micros: 21000000 tags: "ignored" } update_mask { paths: "unit_amount_micros" } | | 0 | Price | unit_amount_micros: 21000000;version: 2;tags: "widget"
get after update | PriceService/GetPrice | GetPriceRequest | sku: "ABC-123" quantity: 2 | | 0 | Price | amount_micros: 42000000;version: 2
update, implicit mask | PriceService/UpdatePrice | UpdatePriceRequest | price { sku: "XYZ-999" tags: "new" display_name: "Gadget Pro 2" } | | 0 | Price | tags: "new";display_name: "Gadget Pro 2";version: 5;unit_amount_micros: 249500000
update, version check | PriceService/UpdatePrice | UpdatePriceRequest | price { sku: "ABC-123" kind: PRICE_KIND_SALE } expected_version { value: 99 } | | 10 | Price | is at version 2, not 99;VERSION_MISMATCH
update, immutable path | PriceService/UpdatePrice | UpdatePriceRequest | price { sku: "ABC-123" } update_mask { paths: "sku" } | | 3 | Price | update_mask path "sku" is not updatable
update, bad amount | PriceService/UpdatePrice | UpdatePriceRequest | price { sku: "ABC-123" unit_amount_micros: -5 } update_mask { paths: "unit_amount_micros" } | | 3 | Price | price.unit_amount_micros must be between 1
update, wrong currency | PriceService/UpdatePrice | UpdatePriceRequest | price { sku: "ABC-123" currency: "EUR" unit_amount_micros: 1 } | | 3 | Price | price.currency must be empty or USD
update, unknown sku | PriceService/UpdatePrice | UpdatePriceRequest | price { sku: "NOPE-1" unit_amount_micros: 1 } | | 5 | Price | product "NOPE-1" not found
update, no price | PriceService/UpdatePrice | UpdatePriceRequest | update_mask { paths: "kind" } | | 3 | Price | price is required
watch, 4 updates | PriceService/WatchPrice | WatchPriceRequest | sku: "DEF-456" updates: 4 | x-request-id: t-watch | 0 | PriceUpdate | frames=4;reason: REASON_SNAPSHOT;reason: REASON_INCREASE;reason: REASON_DECREASE;sequence: 4;delta_micros: -300000;unit_amount_micros: 750000;x-request-id: t-watch
watch, default count in GBP | PriceService/WatchPrice | WatchPriceRequest | sku: "GIFT-50" currency: "GBP" | | 0 | PriceUpdate | frames=3;currency: "GBP";unit_amount_micros: 39500000
watch, abort after 2 | PriceService/WatchPrice | WatchPriceRequest | sku: "ABC-123" updates: 5 | x-test-abort-after: 2 | 10 | PriceUpdate | frames=2;grpc-message: test hook: stream aborted after 2 messages
watch, abort after 1 as UNAVAILABLE | PriceService/WatchPrice | WatchPriceRequest | sku: "ABC-123" updates: 5 | x-test-abort-after: 1;x-test-status: 14;x-test-status-message: backend restarting | 14 | PriceUpdate | frames=1;grpc-message: backend restarting
watch, abort before any | PriceService/WatchPrice | WatchPriceRequest | sku: "ABC-123" | x-test-abort-after: 0;x-test-status-details: error-info | 10 | PriceUpdate | frames=0;TEST_HOOK;google.rpc.ErrorInfo
watch, too many updates | PriceService/WatchPrice | WatchPriceRequest | sku: "ABC-123" updates: 5000 | | 3 | PriceUpdate | updates must be between 1 and 1000, got 5000
watch, unknown sku | PriceService/WatchPrice | WatchPriceRequest | sku: "NOPE-1" | | 5 | PriceUpdate | frames=0;PRODUCT_NOT_FOUND
stock, in stock | StockService/GetStock | GetStockRequest | sku: "ABC-123" | | 0 | Stock | available: 42;warehouse: "ams-1";status: STOCK_STATUS_IN_STOCK;key: "nyc-1"
stock, low | StockService/GetStock | GetStockRequest | sku: "XYZ-999" | | 0 | Stock | available: 3;warehouse: "nyc-1";status: STOCK_STATUS_LOW_STOCK
stock, out with restock date | StockService/GetStock | GetStockRequest | sku: "DEF-456" | | 0 | Stock | status: STOCK_STATUS_OUT_OF_STOCK;seconds: 1906444800
stock, discontinued | StockService/GetStock | GetStockRequest | sku: "OLD-001" | | 0 | Stock | status: STOCK_STATUS_DISCONTINUED;available: 1
stock, one warehouse | StockService/GetStock | GetStockRequest | sku: "ABC-123" warehouse: "ber-1" | | 0 | Stock | available: 3;warehouse: "ber-1";status: STOCK_STATUS_LOW_STOCK
stock, unknown warehouse | StockService/GetStock | GetStockRequest | sku: "ABC-123" warehouse: "mars-1" | | 5 | Stock | warehouse "mars-1" not found;WAREHOUSE_NOT_FOUND
stock, unknown sku | StockService/GetStock | GetStockRequest | sku: "NOPE-1" | | 5 | Stock | product "NOPE-1" not found
warehouses, all active | StockService/ListWarehouses | ListWarehousesRequest | | | 0 | ListWarehousesResponse | total_size: 4;id: "sfo-1";city: "Amsterdam";kind: KIND_DROPSHIP;capabilities: "same-day";frames=1
warehouses, page 1 | StockService/ListWarehouses | ListWarehousesRequest | page_size: 2 | | 0 | ListWarehousesResponse | id: "ber-1";next_page_token: "offset:2"
warehouses, page 2 | StockService/ListWarehouses | ListWarehousesRequest | page_size: 2 page_token: "offset:2" | | 0 | ListWarehousesResponse | id: "nyc-1";id: "sfo-1";total_size: 4
warehouses, region with inactive | StockService/ListWarehouses | ListWarehousesRequest | region: "eu-west" show_inactive: true | | 0 | ListWarehousesResponse | id: "lon-1";total_size: 3
warehouses, bad token | StockService/ListWarehouses | ListWarehousesRequest | page_token: "bogus" | | 3 | ListWarehousesResponse | page_token "bogus" is not valid
reserve | StockService/ReserveStock | ReserveStockRequest | sku: "ABC-123" quantity: 5 order_id: "o-1" labels { key: "channel" value: "web" } | | 0 | Reservation | reservation_id: "res-000001";warehouse: "ams-1";remaining: 20;state: STATE_HELD;order_id: "o-1";value: "web"
stock after reserve | StockService/GetStock | GetStockRequest | sku: "ABC-123" | | 0 | Stock | available: 37;reserved: 5
reserve, not enough | StockService/ReserveStock | ReserveStockRequest | sku: "XYZ-999" quantity: 10 | | 9 | Reservation | only 2 units of "XYZ-999" available in nyc-1, asked for 10;INSUFFICIENT_STOCK
reserve, discontinued | StockService/ReserveStock | ReserveStockRequest | sku: "OLD-001" quantity: 1 | | 9 | Reservation | PRODUCT_DISCONTINUED
reserve, closed warehouse | StockService/ReserveStock | ReserveStockRequest | sku: "ABC-123" quantity: 1 warehouse: "lon-1" | | 9 | Reservation | warehouse "lon-1" is closed
reserve, zero | StockService/ReserveStock | ReserveStockRequest | sku: "ABC-123" | | 3 | Reservation | quantity must be between 1 and 1000, got 0
hook, status number | PriceService/GetPrice | GetPriceRequest | sku: "ABC-123" | x-test-status: 14;x-test-status-message: try later;x-request-id: t-hook | 14 | Price | grpc-message: try later;x-request-id: t-hook;frames=0
hook, status name | StockService/GetStock | GetStockRequest | sku: "ABC-123" | x-test-status: permission_denied | 7 | Stock | test hook: injected status
hook, details alone | PriceService/GetPrice | GetPriceRequest | sku: "ABC-123" | x-test-status-details: bad-request | 3 | Price | google.rpc.BadRequest;test_hook
hook, status + error info | StockService/ReserveStock | ReserveStockRequest | sku: "ABC-123" quantity: 1 | x-test-status: 8;x-test-status-details: error-info | 8 | Reservation | google.rpc.ErrorInfo;TEST_HOOK;/shop.v1.StockService/ReserveStock
hook, bad status | PriceService/GetPrice | GetPriceRequest | sku: "ABC-123" | x-test-status: 99 | 3 | Price | x-test-status must be a gRPC status code
hook, bad details | PriceService/GetPrice | GetPriceRequest | sku: "ABC-123" | x-test-status-details: nope | 3 | Price | must be "error-info" or "bad-request"
hook, bad delay | PriceService/GetPrice | GetPriceRequest | sku: "ABC-123" | x-test-delay-ms: soon | 3 | Price | x-test-delay-ms must be a number
hook, delay | PriceService/GetPrice | GetPriceRequest | sku: "GIFT-50" | x-test-delay-ms: 300 | 0 | Price | amount_micros: 50000000
hook, delay past deadline | PriceService/GetPrice | GetPriceRequest | sku: "GIFT-50" | x-test-delay-ms: 3000;grpc-timeout: 200m | 4 | Price | frames=0
hook, unary message then error | PriceService/GetPrice | GetPriceRequest | sku: "GIFT-50" | x-test-abort-after: 1 | 10 | Price | frames=1;amount_micros: 50000000
update, dearest allowed | PriceService/UpdatePrice | UpdatePriceRequest | price { sku: "GIFT-50" unit_amount_micros: 1000000000000 } | | 0 | Price | unit_amount_micros: 1000000000000;version: 2
update, dearer than allowed | PriceService/UpdatePrice | UpdatePriceRequest | price { sku: "GIFT-50" unit_amount_micros: 1000000000001 } | | 3 | Price | must be between 1 and 1000000000000 micros
get price, largest quote | PriceService/GetPrice | GetPriceRequest | sku: "GIFT-50" quantity: 10000 currency: "JPY" promo_code { value: "SAVE10" } | | 0 | Price | amount_micros: 1282500000000000000
batch, total overflows | PriceService/BatchGetPrices | BatchGetPricesRequest | items { sku: "GIFT-50" quantity: 10000 } items { sku: "GIFT-50" quantity: 10000 } items { sku: "GIFT-50" quantity: 10000 } items { sku: "GIFT-50" quantity: 10000 } items { sku: "GIFT-50" quantity: 10000 } items { sku: "GIFT-50" quantity: 10000 } items { sku: "GIFT-50" quantity: 10000 } items { sku: "GIFT-50" quantity: 10000 } currency: "JPY" | | 11 | BatchGetPricesResponse | does not fit in int64 micros of JPY
echo metadata | StockService/GetStock | GetStockRequest | sku: "GIFT-50" | x-echo-tenant: acme;x-request-id: t-echo;x-other: no | 0 | Stock | x-echo-tenant: acme;x-request-id: t-echo;available: 1000
EOF
)

run_case() {
    local name=$1 method=$2 type=$3 text=$4 md=$5 want=$6 rtype=$7 needles=$8
    local out=$TMP/case.out
    local args=()
    if ! encode "$type" "$text" >"$TMP/req.bin"; then
        fail "$name: cannot encode $type { $text }"
        return
    fi
    IFS=';' read -ra mds <<<"$md"
    for h in "${mds[@]}"; do
        h=$(echo "$h" | sed 's/^ *//; s/ *$//')
        [ -n "$h" ] && args+=(-H "$h")
    done
    RESP_TYPE=$rtype grpc_call "$method" "$TMP/req.bin" "$out" "${args[@]}"
    local got
    got=$(grpc_status_of "$out")
    local bad=0
    if [ "$got" != "$want" ]; then
        fail "$name: grpc-status $got, want $want"
        bad=1
    fi
    IFS=';' read -ra ns <<<"$needles"
    for n in "${ns[@]}"; do
        n=$(echo "$n" | sed 's/^ *//; s/ *$//')
        [ -z "$n" ] && continue
        if ! grep -qF -- "$n" "$out"; then
            fail "$name: output lacks '$n'"
            bad=1
        fi
    done
    if [ $bad -eq 0 ]; then
        ok
    else
        sed 's/^/    | /' "$out"
    fi
}

trim() { echo "$1" | sed 's/^ *//; s/ *$//'; }
while IFS= read -r line; do
    [ -z "$line" ] && continue
    IFS='|' read -r c_name c_method c_type c_text c_md c_want c_rtype c_needles <<<"$line"
    run_case "$(trim "$c_name")" "$(trim "$c_method")" "$(trim "$c_type")" "$(trim "$c_text")" "$(trim "$c_md")" \
        "$(trim "$c_want")" "$(trim "$c_rtype")" "$(trim "$c_needles")"
done <<<"$CASES"

# The delay hook really waits.
encode GetPriceRequest 'sku: "ABC-123"' >"$TMP/get.bin"
RESP_TYPE=Price grpc_call PriceService/GetPrice "$TMP/get.bin" "$TMP/delay.out" -H 'x-test-delay-ms: 400'
el=$(sed -n 's/^elapsed_ms=//p' "$TMP/delay.out")
if [ "$(grpc_status_of "$TMP/delay.out")" = 0 ] && [ "$el" -ge 400 ] && [ "$el" -lt 3000 ]; then ok; else fail "delay hook: 400 ms took ${el} ms"; fi

# ---- raw protocol edge cases --------------------------------------------------------------------
RESP_TYPE=Price
printf 'garbage!' >"$TMP/junk.pb"
frame "$TMP/junk.pb" >"$TMP/junk.bin"
grpc_call PriceService/GetPrice "$TMP/junk.bin" "$TMP/junk.out"
if [ "$(grpc_status_of "$TMP/junk.out")" = 3 ] && grep -q 'is not a valid shop.v1.GetPriceRequest' "$TMP/junk.out"; then ok; else fail "junk request: $(cat "$TMP/junk.out")"; fi
: >"$TMP/empty.bin"
grpc_call PriceService/GetPrice "$TMP/empty.bin" "$TMP/empty.out"
if [ "$(grpc_status_of "$TMP/empty.out")" = 3 ] && grep -q 'expects one request message' "$TMP/empty.out"; then ok; else fail "empty request: $(cat "$TMP/empty.out")"; fi
grpc_call PriceService/NoSuchMethod "$TMP/get.bin" "$TMP/unimpl.out"
if [ "$(grpc_status_of "$TMP/unimpl.out")" = 12 ]; then ok; else fail "unknown method: $(cat "$TMP/unimpl.out")"; fi
RESP_TYPE=Price grpc_call Nope/Nope "$TMP/get.bin" "$TMP/unimpl2.out"
if [ "$(grpc_status_of "$TMP/unimpl2.out")" = 12 ]; then ok; else fail "unknown service: $(cat "$TMP/unimpl2.out")"; fi

# ---- concurrency ---------------------------------------------------------------------------------
# 200 calls, 50 at a time, each held 300 ms by the backend: serially that is 60 s.
cat >"$TMP/one.sh" <<EOF
#!/usr/bin/env bash
curl -s --max-time 30 --http2-prior-knowledge -H 'content-type: application/grpc' -H 'te: trailers' \\
  -H 'x-test-delay-ms: 300' -H "x-request-id: fan-\$1" --data-binary @$TMP/get.bin -D - -o /dev/null \\
  http://127.0.0.1:$PORT/shop.v1.PriceService/GetPrice | tr -d '\\r' | grep -c '^grpc-status: 0\$'
EOF
chmod +x "$TMP/one.sh"
t0=$(now_ms)
good=$(seq 200 | xargs -P 50 -n 1 "$TMP/one.sh" | grep -c '^1$')
el=$(($(now_ms) - t0))
if [ "$good" = 200 ]; then ok; else fail "fan-out: $good of 200 calls returned grpc-status 0"; fi
if [ "$el" -lt 15000 ]; then ok; else fail "fan-out: 200 delayed calls took ${el} ms: calls are not concurrent"; fi
# the backend's side: one log line per call
logged=$(grep -c 'GetPrice status=0 OK .*request-id=fan-' "$TMP/main.log")
if [ "$logged" = 200 ]; then ok; else fail "fan-out: backend logged $logged of 200 calls"; fi

if command -v h2load >/dev/null; then
    # 4 connections x 100 concurrent streams, each held 200 ms.
    h2load -n 1000 -c 4 -m 100 -d "$TMP/get.bin" -H 'content-type: application/grpc' -H 'te: trailers' \
        -H 'x-test-delay-ms: 200' "http://127.0.0.1:$PORT/shop.v1.PriceService/GetPrice" >"$TMP/h2load.out" 2>&1
    if grep -q 'requests: 1000 total, 1000 started, 1000 done, 1000 succeeded' "$TMP/h2load.out"; then
        ok
    else
        fail "h2load: $(grep -E 'requests:|status codes' "$TMP/h2load.out")"
    fi
    logged=$(grep -c 'GetPrice status=0 OK' "$TMP/main.log")
    if [ "$logged" -ge 1200 ]; then ok; else fail "h2load: backend logged only $logged OK GetPrice calls"; fi
fi

# --max-calls: calls beyond the cap are refused with RESOURCE_EXHAUSTED, the others served
MAIN_PID=$BPID
MAIN_PORT=$PORT
start_backend limit --max-calls 2
LIMIT_PID=$BPID
# grpc core refuses with RST_STREAM after the trailers; curl 7.88 then sometimes reports error 92
# and drops the trailers it read. Such a call counts as refused only when the backend logged a
# refusal for it: the refusal count comes from the log, the OK count from curl.
lim=()
for i in 1 2 3 4; do
    RESP_TYPE=Price grpc_call PriceService/GetPrice "$TMP/get.bin" "$TMP/limit$i.out" -H 'x-test-delay-ms: 1500' &
    lim+=($!)
done
wait "${lim[@]}"
codes=$(for i in 1 2 3 4; do grpc_status_of "$TMP/limit$i.out"; done | sort | tr '\n' ' ')
n_ok=$(for i in 1 2 3 4; do grpc_status_of "$TMP/limit$i.out"; done | grep -c '^0$')
n_8=$(for i in 1 2 3 4; do grpc_status_of "$TMP/limit$i.out"; done | grep -c '^8$')
n_lost=$(grep -l 'curl_rc=92' "$TMP"/limit?.out 2>/dev/null | xargs -r grep -L -i '^grpc-status:' | wc -l)
n_refusals=$(grep -c 'refusing a call: 2 calls already running' "$TMP/limit.log")
if [ "$n_ok" = 2 ] && [ $((n_8 + n_lost)) = 2 ] && [ "$n_refusals" = 2 ]; then
    ok
else
    fail "--max-calls 2 with 4 calls: statuses $codes, want 0 0 8 8 (refusals logged: $n_refusals; $(grep -h curl_rc "$TMP"/limit?.out | tr '\n' ' '))"
fi
kill -TERM "$LIMIT_PID"
wait "$LIMIT_PID"
rc=$?
if [ "$rc" = 0 ] && grep -q 'refusing a call: 2 calls already running' "$TMP/limit.log"; then ok; else fail "limit backend: exit $rc"; fi
BPID=$MAIN_PID
PORT=$MAIN_PORT

# ---- shutdown ----------------------------------------------------------------------------------
# idle: SIGTERM by PID, exit 0, quickly, with nothing from the sanitizers
MAIN_PID=$BPID
t0=$(now_ms)
kill -TERM "$MAIN_PID"
wait "$MAIN_PID"
rc=$?
el=$(($(now_ms) - t0))
if [ "$rc" = 0 ]; then ok; else fail "idle shutdown: exit status $rc"; fi
if [ "$el" -lt 2000 ]; then ok; else fail "idle shutdown took ${el} ms"; fi
if grep -q 'shop-backend: stopped' "$TMP/main.log" && ! grep -qE 'Sanitizer|runtime error|LeakSanitizer' "$TMP/main.log"; then
    ok
else
    fail "main backend log: $(grep -E 'Sanitizer|runtime error|stopped' "$TMP/main.log" | head -5)"
fi

# busy: a call in flight finishes within the grace period; one past it is cancelled
start_backend busy --grace-ms 800
BUSY_PID=$BPID
# curl 7.88 drops the trailers of a stream that ends right after a GOAWAY (the server closes
# the connection at once), so this call goes through nghttp when there is one.
if command -v nghttp >/dev/null; then
    nghttp -v -d "$TMP/get.bin" -H 'content-type: application/grpc' -H 'te: trailers' -H 'x-test-delay-ms: 400' \
        "http://127.0.0.1:$PORT/shop.v1.PriceService/GetPrice" 2>&1 | tr -d '\r' |
        sed -n 's/^.*recv (stream_id=[0-9]*) grpc-status: /grpc-status: /p' >"$TMP/short.out" &
else
    RESP_TYPE=Price grpc_call PriceService/GetPrice "$TMP/get.bin" "$TMP/short.out" -H 'x-test-delay-ms: 400' \
        -H 'x-request-id: in-grace' &
fi
c1=$!
RESP_TYPE=Price grpc_call PriceService/GetPrice "$TMP/get.bin" "$TMP/long.out" -H 'x-test-delay-ms: 10000' &
c2=$!
sleep 0.2
t0=$(now_ms)
kill -TERM "$BUSY_PID"
wait "$BUSY_PID"
rc=$?
el=$(($(now_ms) - t0))
wait $c1 $c2
if [ "$rc" = 0 ]; then ok; else fail "busy shutdown: exit status $rc"; fi
if [ "$el" -lt 4000 ]; then ok; else fail "busy shutdown took ${el} ms (grace 800 ms)"; fi
if [ "$(grpc_status_of "$TMP/short.out")" = 0 ] || { ! command -v nghttp >/dev/null && grep -q 'status=0 OK msgs=1 .*request-id=in-grace' "$TMP/busy.log"; }; then
    ok
else
    fail "call within the grace period: $(cat "$TMP/short.out")"
fi
st=$(grpc_status_of "$TMP/long.out")
if [ -n "$st" ] && [ "$st" != 0 ] || grep -q 'curl_rc=[1-9]' "$TMP/long.out"; then
    ok
else
    fail "call past the grace period was not cancelled: $(cat "$TMP/long.out")"
fi
if grep -q 'grace period over, cancelling' "$TMP/busy.log" && ! grep -qE 'Sanitizer|runtime error' "$TMP/busy.log"; then
    ok
else
    fail "busy backend log: $(cat "$TMP/busy.log")"
fi

# bad command lines fail with a message, not a crash
"$BACKEND" --listen nowhere >"$TMP/bad.out" 2>&1
rc=$?
if [ "$rc" = 2 ] && grep -q 'needs HOST:PORT' "$TMP/bad.out"; then ok; else fail "--listen nowhere: exit $rc: $(cat "$TMP/bad.out")"; fi
"$BACKEND" --max-calls 0 >"$TMP/bad.out" 2>&1
rc=$?
if [ "$rc" = 2 ] && grep -q 'max-calls needs a number' "$TMP/bad.out"; then ok; else fail "--max-calls 0: exit $rc"; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
