#!/usr/bin/env bash
# listeners.test.sh — the front door's protocols and process model: HTTP/1.1, h2c by prior
# knowledge and by Upgrade, TLS with ALPN (h2 and http/1.1) on a second listener, config
# errors naming file and JSON path, and graceful shutdown: a request in flight when SIGTERM
# arrives still gets its answer, while new connections are refused.
source "$(dirname "$0")/../lib.sh"

PORTICO=${PORTICO_BIN:?}
BACKEND=$(find_bin shop-backend)
SHOP_PB=$PORTICO_BUILD_DIR/descriptors/shop.pb

BPORT=$(free_port); HPORT=$(free_port); TPORT=$(free_port)
start backend "$BACKEND" --listen 127.0.0.1:$BPORT
wait_port $BPORT

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/key.pem" -out "$TMP/cert.pem" -days 2 \
  -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null

cat >"$TMP/portico.json" <<JSON
{
  "listen": [{"address": "127.0.0.1", "port": $HPORT},
             {"address": "127.0.0.1", "port": $TPORT, "tls": {"certificate": "cert.pem", "key": "key.pem"}}],
  "workers": 0,
  "descriptors": ["$SHOP_PB"],
  "upstreams": {"shop": {"protocol": "grpc", "targets": ["127.0.0.1:$BPORT"]}},
  "grpc_services": [{"service": "shop.v1.PriceService", "upstream": "shop"}],
  "forward_headers": ["x-test-delay-ms"],
  "shutdown_timeout_ms": 5000
}
JSON

# config errors: file and JSON path, unknown keys, bad TLS material
sed 's/"workers": 0/"wokers": 0/' "$TMP/portico.json" >"$TMP/typo.json"
out=$("$PORTICO" check -c "$TMP/typo.json" 2>&1); rc=$?
check "unknown key exit" 1 $rc
check_has "unknown key named with path" 'typo.json' "$out"
check_has "unknown key named" '"wokers"' "$out"
sed 's/"port": '$HPORT'}/"port": "x"}/' "$TMP/portico.json" >"$TMP/type.json"
out=$("$PORTICO" check -c "$TMP/type.json" 2>&1)
check_has "type error path" 'listen[0].port' "$out"
sed 's/shop.v1.PriceService/shop.v1.NoSuchService/' "$TMP/portico.json" >"$TMP/svc.json"
out=$("$PORTICO" check -c "$TMP/svc.json" 2>&1)
check_has "unknown service" 'grpc_services[0].service: "shop.v1.NoSuchService" is not in the descriptor sets' "$out"
echo "not a key" >"$TMP/bad-key.pem"
sed 's/"key": "key.pem"/"key": "bad-key.pem"/' "$TMP/portico.json" >"$TMP/badkey.json"
out=$("$PORTICO" serve -c "$TMP/badkey.json" 2>&1); rc=$?
check "bad TLS key exit" 1 $rc
check_has "bad TLS key named" 'bad-key.pem' "$out"

start gateway "$PORTICO" serve -c "$TMP/portico.json"
GW=$LAST_PID
wait_port $HPORT
wait_port $TPORT
P=/v1/products/ABC-123/price

r=$(curl -s -o /dev/null -w '%{http_version} %{http_code}' --http1.1 http://127.0.0.1:$HPORT$P)
check "http/1.1" "1.1 200" "$r"
r=$(curl -s -o /dev/null -w '%{http_version} %{http_code}' --http2-prior-knowledge http://127.0.0.1:$HPORT$P)
check "h2c prior knowledge" "2 200" "$r"
r=$(curl -s -o /dev/null -w '%{http_version} %{http_code}' --http2 http://127.0.0.1:$HPORT$P)
check "h2c upgrade" "2 200" "$r"
r=$(curl -s -o /dev/null -w '%{http_version} %{http_code}' --cacert "$TMP/cert.pem" https://localhost:$TPORT$P)
check "TLS ALPN h2" "2 200" "$r"
r=$(curl -s -o /dev/null -w '%{http_version} %{http_code}' --http1.1 --cacert "$TMP/cert.pem" https://localhost:$TPORT$P)
check "TLS ALPN http/1.1" "1.1 200" "$r"
r=$(curl -s --cacert "$TMP/cert.pem" https://localhost:$TPORT$P)
check_has "TLS body" '"sku":"ABC-123"' "$r"

# graceful shutdown: a slow request in flight finishes; afterwards the port is closed
curl -s -o "$TMP/slow" -w '%{http_code}' -H 'x-test-delay-ms: 800' http://127.0.0.1:$HPORT$P >"$TMP/slow.code" &
CURL=$!
sleep 0.3
kill -TERM $GW
wait $CURL
check "in-flight request finished" 200 "$(cat "$TMP/slow.code")"
check_has "in-flight body" '"sku":"ABC-123"' "$(cat "$TMP/slow")"
wait $GW 2>/dev/null
check "exit status after SIGTERM" 0 $?
r=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$HPORT$P)
check "closed after shutdown" 000 "$r"
check_has "shutdown logged" "SIGTERM received" "$(cat "$TMP/gateway.log")"
summary
