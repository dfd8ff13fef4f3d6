#!/usr/bin/env bash
# run.sh — the gateway benchmark: portico beside grpc-gateway, nginx grpc_pass and the direct
# gRPC call, in the same run and CPU layout, through ../shared/peers/bench.sh (its candidate
# hook): portico alone on CPU 0 with one worker, backend + load generator on CPU 1.
# GET /v1/prices/{sku} and POST /v1/prices:batch over wrk (HTTP/1.1) and h2load (HTTP/1.1 and
# h2c), 50 connections, ROUNDS rounds (default 3) with medians. Afterwards it measures
# portico's idle RSS and holds 10 000 idle keep-alive connections.
#
# Usage: bench/gateway/run.sh   (env: ROUNDS, DURATION, PEERS=path to shared/peers)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PEERS=${PEERS:-$ROOT/../shared/peers}
BUILD=${BUILD:-$ROOT/build/release}
PEERS_BUILD=${PEERS_BUILD:-/tmp/peers-build}
export PEERS_BUILD

[ -f "$PEERS/bench.sh" ] || { echo "run.sh: no peers at $PEERS (set PEERS=)" >&2; exit 1; }
bash "$ROOT/scripts/setup.sh"
[ -x "$PEERS_BUILD/bin/grpc-gateway" ] || bash "$PEERS/setup.sh"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target portico >/dev/null

WORK=$(mktemp -d /tmp/portico-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
protoc --include_imports -I "$PEERS" -I "$ROOT/descriptors" -I /usr/include \
  --descriptor_set_out="$WORK/bench.pb" "$PEERS/bench.proto"

# The candidate command: bench.sh exports LISTEN_ADDR and BACKEND_ADDR before running it.
cat >"$WORK/candidate.sh" <<SH
#!/usr/bin/env bash
host=\${LISTEN_ADDR%:*}; port=\${LISTEN_ADDR##*:}
cat >"$WORK/portico.json" <<JSON
{"listen": [{"address": "\$host", "port": \$port}], "workers": 1,
 "descriptors": ["$WORK/bench.pb"],
 "upstreams": {"bench": {"protocol": "grpc", "targets": ["\$BACKEND_ADDR"], "timeout_ms": 5000}},
 "grpc_services": [{"service": "bench.v1.PriceService", "upstream": "bench"}]}
JSON
exec "$BUILD/portico" serve -c "$WORK/portico.json"
SH
chmod +x "$WORK/candidate.sh"

echo "== throughput and CPU per request (bench.sh, ROUNDS=${ROUNDS:-3})"
CANDIDATE_CMD="$WORK/candidate.sh" CANDIDATE_NAME=portico CANDIDATE_H2C=1 ROUNDS="${ROUNDS:-3}" \
  OUT="$WORK/results" bash "$PEERS/bench.sh" 2>"$WORK/bench.log" || { tail -30 "$WORK/bench.log"; exit 1; }
cat "$WORK/results/summary.md"
mkdir -p "$ROOT/build/bench" && cp -r "$WORK/results" "$ROOT/build/bench/gateway-$(date +%Y%m%d-%H%M%S)"

echo
echo "== idle memory and 10 000 idle keep-alive connections"
PORT=18999
LISTEN_ADDR=127.0.0.1:$PORT BACKEND_ADDR=127.0.0.1:1 bash -c "ulimit -n \$(ulimit -Hn); exec $WORK/candidate.sh" 2>"$WORK/idle.log" &
PID=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.05; done
sleep 0.5
echo "idle RSS: $(awk '/VmRSS/{print $2, $3}' /proc/$PID/status)"
ulimit -n "$(ulimit -Hn)"
/usr/bin/python3 - "$PORT" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
conns, errors = [], 0
for i in range(10000):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        conns.append(s)
    except OSError:
        errors += 1
time.sleep(1.0)
# every connection still works: one request on a sample of them, then all stay idle
ok = 0
for s in conns[::500]:
    s.sendall(b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
    if s.recv(4096).startswith(b"HTTP/1.1 404"):
        ok += 1
print(f"idle keep-alive connections held: {len(conns)} (connect errors: {errors}); sample requests answered: {ok}/{len(conns[::500])}")
for s in conns:
    s.close()
PY
echo "RSS with 10 000 connections open (measured after): $(awk '/VmHWM/{print "peak", $2, $3}' /proc/$PID/status)"
kill $PID; wait $PID 2>/dev/null || true
