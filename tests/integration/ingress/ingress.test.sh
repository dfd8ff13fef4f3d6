#!/usr/bin/env bash
# ingress.test.sh — native gRPC ingress, end to end: portico with `"protocol": "grpc"`
# listeners (h2c and TLS) in front of the real shop backend and the echo backend that
# ingress-client serves, driven by grpc core's C client (ingress-client: unary, server /
# client / bidi streaming, metadata, status details, deadlines, cancellation seen by the
# backend, unknown methods, a dead backend, large messages, 200 concurrent calls, flow control
# both ways, TLS), by curl with hand-made bodies (malformed gRPC frames, wrong method,
# content-type, grpc-timeout, grpc-encoding) and by raw bytes (not HTTP/2, a broken HTTP/2
# frame). After all that abuse portico must still serve, must not have logged a sanitizer
# report, and must stop gracefully on SIGTERM with a call in flight.
# gRPC→REST: a second portico serves shop.v1.ReviewsService from the REST reviews-backend and
# portico.reversetest.* from tests/integration/reverse/rest_backend.py ("protocol": "http"
# upstreams) on a grpc listener, called by ingress-client --only rest / rest-shapes / rest-down
# (answers, mapped HTTP errors, deadlines, cancellation seen by the backend, server streaming,
# untranslatable methods, the backend down).
source "$(dirname "$0")/../lib.sh"

HERE=$(cd "$(dirname "$0")" && pwd)
PORTICO=${PORTICO_BIN:?}
CLIENT=$(find_bin ingress-client)
BACKEND=$(find_bin shop-backend)
SHOP_PB=$PORTICO_BUILD_DIR/descriptors/shop.pb
if [ -z "$CLIENT" ] || [ -z "$BACKEND" ]; then
  echo "ingress-client or shop-backend not built (pkg-config grpc missing?): skipped"
  summary
  exit 0
fi

protoc --include_imports -I "$HERE" --descriptor_set_out="$TMP/echo.pb" "$HERE/echo.proto"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/key.pem" -out "$TMP/cert.pem" -days 2 \
  -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null

SPORT=$(free_port); EPORT=$(free_port); DPORT=$(free_port); GPORT=$(free_port); TPORT=$(free_port); HPORT=$(free_port)
start backend "$BACKEND" --listen 127.0.0.1:$SPORT
SHOP_LOG=$TMP/backend.log
wait_port $SPORT

cat >"$TMP/portico.json" <<JSON
{
  "listen": [{"address": "127.0.0.1", "port": $GPORT, "protocol": "grpc"},
             {"address": "127.0.0.1", "port": $TPORT, "protocol": "grpc",
              "tls": {"certificate": "cert.pem", "key": "key.pem"}},
             {"address": "127.0.0.1", "port": $HPORT}],
  "workers": 2,
  "descriptors": ["$SHOP_PB", "echo.pb"],
  "upstreams": {
    "price": {"protocol": "grpc", "targets": ["127.0.0.1:$SPORT"], "timeout_ms": 5000},
    "stock": {"protocol": "grpc", "targets": ["127.0.0.1:$SPORT"], "timeout_ms": 700},
    "echo":  {"protocol": "grpc", "targets": ["127.0.0.1:$EPORT"], "timeout_ms": 60000},
    "dead":  {"protocol": "grpc", "targets": ["127.0.0.1:$DPORT"], "timeout_ms": 3000, "connect_timeout_ms": 1000}
  },
  "grpc_services": [{"service": "shop.v1.PriceService", "upstream": "price"},
                    {"service": "shop.v1.StockService", "upstream": "stock"},
                    {"service": "test.ingress.v1.Echo", "upstream": "echo"},
                    {"service": "test.ingress.v1.Dead", "upstream": "dead"}],
  "shutdown_timeout_ms": 5000
}
JSON

start portico "$PORTICO" serve -c "$TMP/portico.json"
GW=$LAST_PID
wait_port $GPORT
wait_port $TPORT
out=$(cat "$TMP/portico.log")
check_has "grpc listener announced" "127.0.0.1:$GPORT (grpc)" "$out"
check_has "tls grpc listener announced" "127.0.0.1:$TPORT (grpc, tls)" "$out"

# ---- hand-made requests with curl -----------------------------------------------------------
# A gRPC frame of GetPriceRequest{sku: "ABC-123"}: 0x0a 0x07 "ABC-123" (9 bytes).
MSG='\x0a\x07ABC-123'
frame() { # flags length-hex(8 digits) body -> stdout
  printf "\\x$1"; printf "%s" "$2" | xxd -r -p; printf "$3"
}
# curl_grpc NAME BODYFILE|none [curl args...]: headers and trailers (curl dumps both with -D) into
# $TMP/NAME.hdr. Requests that portico answers from their headers alone are sent without a body
# ("none": HEADERS with END_STREAM): curl 7.88 mishandles an answer that ends the stream before
# it has uploaded (it reports a stream error or waits for its own END_STREAM forever).
curl_grpc() {
  local name=$1 body=$2 data=(-X POST); shift 2
  [ "$body" = none ] || data=(--data-binary @"$body")
  curl -sS --http2-prior-knowledge --max-time 10 -D "$TMP/$name.hdr" -o "$TMP/$name.body" \
    -H 'content-type: application/grpc' -H 'te: trailers' "${data[@]}" "$@" \
    "http://127.0.0.1:$GPORT/shop.v1.PriceService/GetPrice" 2>"$TMP/$name.err" || echo "curl $name: $(cat "$TMP/$name.err")" >&2
  tr -d '\r' <"$TMP/$name.hdr"
}

frame 00 00000009 "$MSG" >"$TMP/ok.bin"
h=$(curl_grpc ok "$TMP/ok.bin" -H 'x-request-id: curl-1')
check_has "curl: HTTP/2 200" "HTTP/2 200" "$h"
check_has "curl: content-type" "content-type: application/grpc" "$h"
check_has "curl: grpc-status 0" "grpc-status: 0" "$h"
check_has "curl: echoed request id" "x-request-id: curl-1" "$h"
check_has "curl: backend trailer" "x-served-by: shop-backend" "$h"
check "curl: response body is one frame" "00" "$(head -c1 "$TMP/ok.body" | xxd -p)"
check_has "curl: response decodes" "Classic Widget" "$(tail -c +6 "$TMP/ok.body" | tr -c '[:print:]' ' ')"

# the prefix announces 100 bytes, 11 come, then END_STREAM
frame 00 00000064 "$MSG" >"$TMP/trunc.bin"
h=$(curl_grpc trunc "$TMP/trunc.bin")
check_has "truncated message: INTERNAL" "grpc-status: 13" "$h"
check_has "truncated message: says so" "ended in the middle of a message" "$h"
# a flags byte that is neither 0 nor 1
frame 02 00000009 "$MSG" >"$TMP/flags.bin"
h=$(curl_grpc flags "$TMP/flags.bin")
check_has "bad flags: INTERNAL" "grpc-status: 13" "$h"
check_has "bad flags: says so" "flags" "$h"
# a length prefix of 2 GiB: rejected from the prefix alone
frame 00 7fffffff "$MSG" >"$TMP/huge.bin"
h=$(curl_grpc huge "$TMP/huge.bin")
check_has "oversized message: RESOURCE_EXHAUSTED" "grpc-status: 8" "$h"
check_has "oversized message: names the limit" "larger than 4194304 bytes" "$h"
# a compressed message without grpc-encoding
frame 01 00000009 "$MSG" >"$TMP/comp.bin"
h=$(curl_grpc comp "$TMP/comp.bin")
check_has "compressed message: UNIMPLEMENTED" "grpc-status: 12" "$h"
check_has "compressed message: accept-encoding" "grpc-accept-encoding: identity" "$h"
# two messages, the second truncated: the first may reach the backend, the status is INTERNAL
{ frame 00 00000009 "$MSG"; frame 00 00000010 'abc'; } >"$TMP/two.bin"
h=$(curl_grpc two "$TMP/two.bin")
check_has "second message truncated: INTERNAL" "grpc-status: 13" "$h"
# an empty body: no request message, the backend says so
h=$(curl_grpc empty none)
check_has "no message: backend's INVALID_ARGUMENT" "grpc-status: 3" "$h"
# headers portico checks itself
h=$(curl_grpc gzip none -H 'grpc-encoding: gzip')
check_has "grpc-encoding gzip: UNIMPLEMENTED" "grpc-status: 12" "$h"
check_has "grpc-encoding gzip: accept-encoding" "grpc-accept-encoding: identity" "$h"
h=$(curl_grpc timeout none -H 'grpc-timeout: soon')
check_has "bad grpc-timeout: INVALID_ARGUMENT" "grpc-status: 3" "$h"
check_has "bad grpc-timeout: named" 'grpc-timeout "soon"' "$h"
h=$(curl_grpc ctype none -H 'content-type: text/plain')
check_has "wrong content-type: 415" "HTTP/2 415" "$h"
h=$(curl_grpc json none -H 'content-type: application/grpc+json')
check_has "grpc+json: UNIMPLEMENTED" "grpc-status: 12" "$h"
h=$(curl -sS --http2-prior-knowledge -D - -o /dev/null "http://127.0.0.1:$GPORT/shop.v1.PriceService/GetPrice" | tr -d '\r')
check_has "GET: 405" "HTTP/2 405" "$h"
h=$(curl_grpc md none -H 'x-bad-bin: not base64!')
check_has "invalid -bin metadata: INVALID_ARGUMENT" "grpc-status: 3" "$h"
check_has "invalid -bin metadata: named" "x-bad-bin" "$h"
h=$(curl -sS --http2-prior-knowledge --max-time 10 -D - -o /dev/null -H 'content-type: application/grpc' -X POST \
  "http://127.0.0.1:$GPORT/shop.v1.PriceService/Nope" | tr -d '\r')
check_has "unknown method: UNIMPLEMENTED" "grpc-status: 12" "$h"

# not HTTP/2 at all, and a broken HTTP/2 frame: the connection goes, portico stays
r=$(curl -sS --http1.1 --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$GPORT/shop.v1.PriceService/GetPrice" 2>&1)
check_not_has "HTTP/1.1 on the grpc port is not answered 200" "200" "$r"
r=$(/usr/bin/python3 - "$GPORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")  # preface + SETTINGS
# WINDOW_UPDATE on the connection with length 3 (must be 4): FRAME_SIZE_ERROR
s.sendall(b"\x00\x00\x03\x08\x00\x00\x00\x00\x00\x00\x00\x01")
data = b""
try:
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
except socket.timeout:
    print("timeout")
# walk the frames: report a GOAWAY and the end of the connection
i, kinds = 0, []
while i + 9 <= len(data):
    n = int.from_bytes(data[i:i+3], "big"); kinds.append(data[i+3]); i += 9 + n
print("goaway" if 7 in kinds else "no-goaway", "closed")
PY
)
check "broken HTTP/2 frame: GOAWAY, then close" "goaway closed" "$r"
# an answer that comes before the client has finished sending: the client gets a moment to end
# its side, then RST_STREAM(NO_ERROR) (RFC 9113 8.1)
r=$(/usr/bin/python3 - "$GPORT" <<'PY'
import socket, struct, sys, time
def frame(t, flags, sid, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([t, flags]) + struct.pack(">I", sid) + payload
def lit(name, value):  # HPACK literal header field without indexing, new name
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value
path = b"/shop.v1.PriceService/Nope"
hdrs = b"\x83\x86\x04" + bytes([len(path)]) + path + b"\x01\x09localhost" + lit(b"content-type", b"application/grpc")
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b"") + frame(1, 4, 1, hdrs))  # HEADERS, no END_STREAM
buf, events, t0, sent = b"", [], time.time(), False
s.settimeout(0.1)
while time.time() - t0 < 4 and not any(e.startswith("rst") for e in events):
    try:
        c = s.recv(65536)
        if not c:
            break
        buf += c
    except socket.timeout:
        pass
    while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
        n, t, fl = int.from_bytes(buf[:3], "big"), buf[3], buf[4]
        sid = int.from_bytes(buf[5:9], "big")
        if sid == 1 and t == 1:
            events.append("headers-end" if fl & 1 else "headers")
        if sid == 1 and t == 3:
            events.append("rst-%d" % int.from_bytes(buf[9:13], "big"))
        buf = buf[9 + n:]
    if "headers-end" in events and not sent:
        s.sendall(frame(0, 0, 1, b"\x00\x00\x00\x00\x00"))  # more request data, still no END_STREAM
        sent = True
print(" ".join(events), "%.1f" % (time.time() - t0))
PY
)
check_has "answer before the request ended: trailers-only, then RST_STREAM(NO_ERROR)" "headers-end rst-0" "$r"
h=$(curl_grpc after "$TMP/ok.bin")
check_has "still serving after malformed input" "grpc-status: 0" "$h"
# TLS: ALPN h2 on the grpc listener
r=$(curl -sS --cacert "$TMP/cert.pem" --resolve "localhost:$TPORT:127.0.0.1" --http2 -o /dev/null -w '%{http_version}' \
  -H 'content-type: application/grpc' -H 'te: trailers' --data-binary @"$TMP/ok.bin" \
  "https://localhost:$TPORT/shop.v1.PriceService/GetPrice" 2>&1)
check "TLS listener speaks h2 (ALPN)" "2" "$r"

# ---- grpc core's client -------------------------------------------------------------------------
"$CLIENT" --target 127.0.0.1:$GPORT --echo-listen 127.0.0.1:$EPORT --shop-log "$SHOP_LOG" \
  --tls-target 127.0.0.1:$TPORT --ca "$TMP/cert.pem" >"$TMP/client.out" 2>&1
rc=$?
cat "$TMP/client.out"
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$TMP/client.out" | tail -1)
if [ -n "$line" ]; then
  PASS=$((PASS + ${line%% passed*}))
  f=${line#*, }; FAIL=$((FAIL + ${f%% failed*}))
else
  bad "ingress-client did not finish (exit $rc)"
fi
check "ingress-client exit status" 0 $rc

h=$(curl_grpc final "$TMP/ok.bin")
check_has "still serving after the client suite" "grpc-status: 0" "$h"

# ---- graceful shutdown with a call in flight ---------------------------------------------------
"$CLIENT" --target 127.0.0.1:$GPORT --only shutdown --portico-pid $GW >"$TMP/shutdown.out" 2>&1
rc=$?
cat "$TMP/shutdown.out"
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$TMP/shutdown.out" | tail -1)
if [ -n "$line" ]; then
  PASS=$((PASS + ${line%% passed*}))
  f=${line#*, }; FAIL=$((FAIL + ${f%% failed*}))
else
  bad "ingress-client --only shutdown did not finish (exit $rc)"
fi
wait $GW 2>/dev/null
check "portico exit status after SIGTERM" 0 $?

out=$(cat "$TMP/portico.log")
check_not_has "no AddressSanitizer report" "AddressSanitizer" "$out"
check_not_has "no UBSan report" "runtime error" "$out"
check_not_has "no LeakSanitizer report" "LeakSanitizer" "$out"
[ "$FAIL" -eq 0 ] || { echo "--- portico log"; tail -40 "$TMP/portico.log"; }

# ---- gRPC→REST: native gRPC clients of services on HTTP/JSON upstreams --------------------------
# client_run NAME ARGS...: one ingress-client run, its "N passed, N failed" added to ours
client_run() {
  local name=$1; shift
  "$CLIENT" "$@" >"$TMP/$name.out" 2>&1
  local rc=$?
  cat "$TMP/$name.out"
  local line
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$TMP/$name.out" | tail -1)
  if [ -n "$line" ]; then
    PASS=$((PASS + ${line%% passed*}))
    local f=${line#*, }; FAIL=$((FAIL + ${f%% failed*}))
  else
    bad "ingress-client $name did not finish (exit $rc)"
  fi
  check "ingress-client $name exit status" 0 $rc
}
REVIEWS=$(find_bin reviews-backend)
REVIEWS_PB=${PORTICO_DESC_DIR:-$PORTICO_BUILD_DIR/descriptors}/shop_reviews.pb
if [ -z "$REVIEWS" ]; then
  bad "reviews-backend not built"
else
  protoc --include_imports -I "$PORTICO_SOURCE_DIR/descriptors" -I /usr/include -I "$PORTICO_SOURCE_DIR/tests/integration/reverse" \
    --descriptor_set_out="$TMP/reverse_test.pb" "$PORTICO_SOURCE_DIR/tests/integration/reverse/reverse_test.proto"
  RPORT=$(free_port); G2PORT=$(free_port); G3PORT=$(free_port)
  start reviews "$REVIEWS" --listen 127.0.0.1:$RPORT
  RPID=$LAST_PID
  start restpy /usr/bin/python3 "$PORTICO_SOURCE_DIR/tests/integration/reverse/rest_backend.py" --port-file "$TMP/rest.port"
  wait_port $RPORT
  for _ in $(seq 100); do [ -s "$TMP/rest.port" ] && break; sleep 0.05; done
  XPORT=$(cat "$TMP/rest.port")
  # two gateways: the reversetest Reviews service binds the same REST path as the shop's
  cat >"$TMP/rest.json" <<JSON
{
  "listen": [{"address": "127.0.0.1", "port": $G2PORT, "protocol": "grpc"}],
  "workers": 2,
  "descriptors": ["$REVIEWS_PB"],
  "upstreams": {"reviews": {"protocol": "http", "targets": ["127.0.0.1:$RPORT"], "timeout_ms": 1000,
                            "connect_timeout_ms": 1000, "max_connections": 1}},
  "grpc_services": [{"service": "shop.v1.ReviewsService", "upstream": "reviews"}],
  "forward_headers": ["x-test-status", "x-test-body", "x-test-delay-ms"]
}
JSON
  cat >"$TMP/shapes.json" <<JSON
{
  "listen": [{"address": "127.0.0.1", "port": $G3PORT, "protocol": "grpc"}],
  "workers": 1,
  "descriptors": ["reverse_test.pb"],
  "limits": {"max_request_body_bytes": 65536},
  "upstreams": {"rest": {"protocol": "http", "targets": ["127.0.0.1:$XPORT"], "timeout_ms": 5000}},
  "grpc_services": [{"service": "portico.reversetest.Reviews", "upstream": "rest"},
                    {"service": "portico.reversetest.Library", "upstream": "rest"}]
}
JSON
  start portico-rest "$PORTICO" serve -c "$TMP/rest.json"
  G2=$LAST_PID
  start portico-shapes "$PORTICO" serve -c "$TMP/shapes.json"
  G3=$LAST_PID
  wait_port $G2PORT
  wait_port $G3PORT
  client_run rest --target 127.0.0.1:$G2PORT --reviews-log "$TMP/reviews.log" --only rest
  client_run rest-shapes --target 127.0.0.1:$G3PORT --only rest-shapes
  kill -9 $RPID; wait $RPID 2>/dev/null
  client_run rest-down --target 127.0.0.1:$G2PORT --only rest-down
  kill -TERM $G2 $G3
  wait $G2 2>/dev/null; check "gRPC->REST portico exit status after SIGTERM" 0 $?
  wait $G3 2>/dev/null; check "second gRPC->REST portico exit status after SIGTERM" 0 $?
  for log in portico-rest portico-shapes; do
    out=$(cat "$TMP/$log.log")
    check_not_has "$log: no sanitizer report" "Sanitizer" "$out"
    check_not_has "$log: no UBSan report" "runtime error" "$out"
  done
  [ "$FAIL" -eq 0 ] || { echo "--- gRPC->REST portico logs"; tail -n 20 "$TMP/portico-rest.log" "$TMP/portico-shapes.log"; }
fi
summary
