#!/usr/bin/env bash
# run.sh — unary figures of portico's browser protocols: gRPC-Web (binary and text) and Connect
# (proto, JSON, GET) beside portico's REST GET and, as the peer, nginx grpc_pass (plain gRPC
# pass-through) and the backend called directly, all in the same run and CPU layout as
# ../shared/peers/bench.sh: the proxy alone on CPU 0 (portico with one worker, nginx with one
# worker), the peers' Go backend and h2load (one thread) on CPU 1. Every row is h2load for
# DURATION seconds after a WARMUP, CONNS connections, one stream each; the gateway's CPU time is
# read from /proc/PID/stat, so "gw µs/req" is its CPU cost per request whichever side
# saturated. Each request kind is checked with curl first (status and body).
#
# Usage: bench/browser/run.sh   (env: ROUNDS (1; >1 prints medians), DURATION (5), WARMUP (1),
#                                CONNS (50), PEERS=path to shared/peers, BUILD=release build dir)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PEERS=${PEERS:-$ROOT/../shared/peers}
BUILD=${BUILD:-$ROOT/build/release}
PEERS_BUILD=${PEERS_BUILD:-/tmp/peers-build}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
CONNS=${CONNS:-50}
ROUNDS=${ROUNDS:-1}
GW_CPU=0
LOAD_CPU=1
HOST=127.0.0.1
TCK=$(getconf CLK_TCK)

[ -f "$PEERS/bench.sh" ] || { echo "run.sh: no peers at $PEERS (set PEERS=)" >&2; exit 1; }
bash "$ROOT/scripts/setup.sh"
[ -x "$PEERS_BUILD/bin/backend-go" ] || PEERS_BUILD=$PEERS_BUILD bash "$PEERS/setup.sh"
for t in h2load curl nginx taskset protoc base64; do command -v $t >/dev/null || { echo "missing $t" >&2; exit 1; }; done
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target portico >/dev/null

WORK=$(mktemp -d /tmp/portico-bench-browser.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  sleep 0.2
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() {
  for _ in $(seq 100); do (exec 3<>/dev/tcp/$HOST/"$1") 2>/dev/null && return 0; sleep 0.05; done
  echo "port $1 did not open" >&2
  return 1
}
# start CPU CMD...: sets STARTED_PID
start() {
  local cpu=$1; shift
  taskset -c "$cpu" "$@" >>"$WORK/processes.log" 2>&1 &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
}
stop() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
# utime+stime of a process and its direct children (nginx's worker), in clock ticks
ticks() {
  local t=0 c
  for c in $1 $(ps -o pid= --ppid "$1" 2>/dev/null); do
    t=$((t + $(awk '{print $14+$15}' "/proc/$c/stat" 2>/dev/null || echo 0)))
  done
  echo $t
}

# waits (up to 60 s) until both cores are nearly idle, so other work does not skew a round
wait_quiet() {
  local a b u0 u1
  for _ in $(seq 60); do
    a=($(awk '$1=="cpu0"||$1=="cpu1"{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat))
    sleep 1
    b=($(awk '$1=="cpu0"||$1=="cpu1"{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat))
    u0=$((100 * (b[0] - a[0]) / ((b[1] - a[1]) > 0 ? (b[1] - a[1]) : 1)))
    u1=$((100 * (b[2] - a[2]) / ((b[3] - a[3]) > 0 ? (b[3] - a[3]) : 1)))
    [ "$u0" -le 15 ] && [ "$u1" -le 15 ] && return 0
  done
  echo "[bench] WARNING: the machine stayed busy (cpu0 ${u0}%, cpu1 ${u1}%): figures are noisy" >&2
}

# ---- request bodies -------------------------------------------------------------------------------
# bench.proto with GetPrice marked NO_SIDE_EFFECTS, so Connect GET applies (wire format unchanged)
mkdir -p "$WORK/proto"
sed 's#rpc GetPrice(GetPriceRequest) returns (Price) {#&\n    option idempotency_level = NO_SIDE_EFFECTS;#' "$PEERS/bench.proto" >"$WORK/proto/bench.proto"
grep -q NO_SIDE_EFFECTS "$WORK/proto/bench.proto" || { echo "run.sh: cannot mark GetPrice in bench.proto" >&2; exit 1; }
GAPIS=/usr/share/gocode/src/github.com/grpc-ecosystem/grpc-gateway/third_party/googleapis
protoc --include_imports -I "$WORK/proto" -I "$ROOT/descriptors" -I "$GAPIS" -I /usr/include \
  --descriptor_set_out="$WORK/bench.pb" "$WORK/proto/bench.proto"
GRPC_FRAME=$PEERS_BUILD/data/getprice.grpc   # 00 + length + GetPriceRequest{sku:"ABC-123" quantity:2}
tail -c +6 "$GRPC_FRAME" >"$WORK/getprice.pb"
base64 -w0 "$GRPC_FRAME" >"$WORK/getprice.grpcweb.txt"
printf '{"sku":"ABC-123","quantity":2}' >"$WORK/getprice.json"
GET_B64=$(base64 -w0 "$WORK/getprice.pb" | tr '+/' '-_' | tr -d '=')
GRPC_PATH=/bench.v1.PriceService/GetPrice

BPORT=$(free_port)
start $LOAD_CPU "$PEERS_BUILD/bin/backend-go" -listen "$HOST:$BPORT"
BACKEND_PID=$STARTED_PID
wait_port "$BPORT"

# ---- one measurement ------------------------------------------------------------------------------
SUMMARY=$WORK/summary.tsv
: >"$SUMMARY"
# measure ROUND NAME GW_PID MODE(h1|h2) URL [h2load args...]
measure() {
  local round=$1 name=$2 gw=$3 mode=$4 url=$5; shift 5
  local proto=() out="$WORK/$name.$round.txt" lf="$WORK/$name.$round.log"
  [ "$mode" = h1 ] && proto=(--h1)
  local g0=0 t0 t1
  [ -n "$gw" ] && g0=$(ticks "$gw")
  t0=$(date +%s%N)
  taskset -c $LOAD_CPU h2load "${proto[@]}" -t1 -c"$CONNS" -m1 -D "$DURATION" --warm-up-time "$WARMUP" \
    --log-file="$lf" "$@" "$url" >"$out" 2>&1 || true
  t1=$(date +%s%N)
  local g1=0
  [ -n "$gw" ] && g1=$(ticks "$gw")
  local rps bad p50 p99 pct us
  rps=$(sed -nE 's/^finished in .*, ([0-9.]+) req\/s.*/\1/p' "$out")
  rps=${rps:-0}
  bad=$(sed -nE 's/^status codes: [0-9]+ 2xx, ([0-9]+) 3xx, ([0-9]+) 4xx, ([0-9]+) 5xx.*/\1+\2+\3/p' "$out")
  bad=$((${bad:-0}))
  read -r p50 p99 < <(cut -f3 "$lf" 2>/dev/null | sort -n | awk '{a[NR]=$1} END{ if (NR==0) {print "- -"; exit}
      i50=int(NR*0.50); if (i50<1) i50=1; i99=int(NR*0.99); if (i99<1) i99=1;
      printf "%.2f %.2f\n", a[i50]/1000, a[i99]/1000 }')
  rm -f "$lf"
  if [ -n "$gw" ]; then
    pct=$(awk -v g=$((g1 - g0)) -v tck="$TCK" -v ns=$((t1 - t0)) 'BEGIN{printf "%.0f", 100*(g/tck)/(ns/1e9)}')
    us=$(awk -v p="$pct" -v r="$rps" 'BEGIN{ if (r>0) printf "%.1f", p/100*1e6/r; else print "-"}')
  else
    pct=-
    us=-
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$name" "$mode" "$rps" "$p50" "$p99" "$bad" "$pct" "$us" | tee -a "$SUMMARY" >&2
}

# check NAME EXPECTED ACTUAL: a request kind must answer correctly before it is measured
verify() {
  case "$3" in
    *"$2"*) ;;
    *) echo "run.sh: $1 does not answer as expected (wanted [$2], got [${3:0:300}])" >&2; exit 1 ;;
  esac
}

# ---- nginx grpc_pass, the peer ------------------------------------------------------------------------
NPORT=$(free_port)
mkdir -p "$WORK/nginx/tmp"
sed -e "s#@PREFIX@#$WORK/nginx#g" -e "s#@LISTEN@#$HOST:$NPORT#g" -e "s#@BACKEND@#$HOST:$BPORT#g" \
  "$PEERS/nginx.conf.in" >"$WORK/nginx/nginx.conf"

# ---- portico ----------------------------------------------------------------------------------------
PPORT=$(free_port)
cat >"$WORK/portico.json" <<JSON
{"listen": [{"address": "$HOST", "port": $PPORT}], "workers": 1,
 "descriptors": ["$WORK/bench.pb"],
 "upstreams": {"bench": {"protocol": "grpc", "targets": ["$HOST:$BPORT"], "timeout_ms": 5000}},
 "grpc_services": [{"service": "bench.v1.PriceService", "upstream": "bench"}],
 "cors": {"allowed_origins": ["https://shop.example.com"]}}
JSON
P=http://$HOST:$PPORT
CWEB=(-d "$GRPC_FRAME" -H 'content-type: application/grpc-web+proto' -H 'x-grpc-web: 1' -H 'origin: https://shop.example.com')
CTEXT=(-d "$WORK/getprice.grpcweb.txt" -H 'content-type: application/grpc-web-text' -H 'x-grpc-web: 1')
CPROTO=(-d "$WORK/getprice.pb" -H 'content-type: application/proto' -H 'connect-protocol-version: 1')
CJSON=(-d "$WORK/getprice.json" -H 'content-type: application/json' -H 'connect-protocol-version: 1')
CGET="$P$GRPC_PATH?connect=v1&encoding=proto&base64=1&message=$GET_B64"

for round in $(seq "$ROUNDS"); do
  echo "[bench] round $round/$ROUNDS" >&2
  wait_quiet
  measure "$round" direct "" h2 "http://$HOST:$BPORT$GRPC_PATH" -d "$GRPC_FRAME" -H 'content-type: application/grpc' -H 'te: trailers'

  start $GW_CPU nginx -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf"
  NGINX_PID=$STARTED_PID
  wait_port "$NPORT"
  measure "$round" nginx-grpc_pass "$NGINX_PID" h2 "http://$HOST:$NPORT$GRPC_PATH" -d "$GRPC_FRAME" \
    -H 'content-type: application/grpc' -H 'te: trailers'
  stop "$NGINX_PID"

  start $GW_CPU "$BUILD/portico" serve -c "$WORK/portico.json"
  PORTICO_PID=$STARTED_PID
  wait_port "$PPORT"
  if [ "$round" = 1 ]; then
    verify "REST GET" '"sku":"ABC-123"' "$(curl -s "$P/v1/prices/ABC-123?quantity=2")"
    verify "gRPC-Web" 'grpc-status:0' "$(curl -s --http2-prior-knowledge --data-binary @"$GRPC_FRAME" \
      -H 'content-type: application/grpc-web+proto' "$P$GRPC_PATH" | tr -d '\0' | tr -c '[:print:]' ' ')"
    verify "gRPC-Web text" 'grpc-status:0' "$(curl -s --data-binary @"$WORK/getprice.grpcweb.txt" \
      -H 'content-type: application/grpc-web-text' "$P$GRPC_PATH" | base64 -d | tr -d '\0' | tr -c '[:print:]' ' ')"
    verify "Connect proto" "200" "$(curl -s -o /dev/null -w '%{http_code}' --data-binary @"$WORK/getprice.pb" \
      -H 'content-type: application/proto' "$P$GRPC_PATH")"
    verify "Connect JSON" '"sku":"ABC-123"' "$(curl -s --data-binary @"$WORK/getprice.json" \
      -H 'content-type: application/json' -H 'connect-protocol-version: 1' "$P$GRPC_PATH")"
    verify "Connect GET" "200" "$(curl -s -o /dev/null -w '%{http_code}' "$CGET")"
  fi
  measure "$round" portico-rest-get "$PORTICO_PID" h2 "$P/v1/prices/ABC-123?quantity=2"
  measure "$round" portico-rest-get "$PORTICO_PID" h1 "$P/v1/prices/ABC-123?quantity=2"
  measure "$round" portico-grpcweb "$PORTICO_PID" h2 "$P$GRPC_PATH" "${CWEB[@]}"
  measure "$round" portico-grpcweb "$PORTICO_PID" h1 "$P$GRPC_PATH" "${CWEB[@]}"
  measure "$round" portico-grpcweb-text "$PORTICO_PID" h1 "$P$GRPC_PATH" "${CTEXT[@]}"
  measure "$round" portico-connect-proto "$PORTICO_PID" h2 "$P$GRPC_PATH" "${CPROTO[@]}"
  measure "$round" portico-connect-json "$PORTICO_PID" h2 "$P$GRPC_PATH" "${CJSON[@]}"
  measure "$round" portico-connect-json "$PORTICO_PID" h1 "$P$GRPC_PATH" "${CJSON[@]}"
  measure "$round" portico-connect-get "$PORTICO_PID" h2 "$CGET"
  stop "$PORTICO_PID"
done

# ---- the table (medians over rounds) -----------------------------------------------------------------
echo
echo "portico browser protocols, unary GetPrice; ${CONNS} connections x 1 stream, ${DURATION}s after ${WARMUP}s warm-up, $ROUNDS round(s) (medians)"
echo "gateway alone on CPU $GW_CPU (portico: 1 worker; nginx: 1 worker); backend (peers' Go) + h2load on CPU $LOAD_CPU"
echo
/usr/bin/python3 - "$SUMMARY" <<'PY'
import statistics, sys
rows = {}
order = []
for line in open(sys.argv[1]):
    r, name, mode, rps, p50, p99, bad, pct, us = line.rstrip("\n").split("\t")
    key = (name, mode)
    if key not in rows:
        rows[key] = []
        order.append(key)
    rows[key].append((float(rps), p50, p99, int(bad), pct, us))

def med(vals):
    nums = [float(v) for v in vals if v not in ("-", "")]
    return statistics.median(nums) if nums else None

table = {}
for key in order:
    rs = rows[key]
    table[key] = {
        "rps": med([x[0] for x in rs]), "p50": med([x[1] for x in rs]), "p99": med([x[2] for x in rs]),
        "bad": sum(x[3] for x in rs), "pct": med([x[4] for x in rs]), "us": med([x[5] for x in rs]),
    }
ref_rest = table.get(("portico-rest-get", "h2"), {}).get("us")
ref_nginx = table.get(("nginx-grpc_pass", "h2"), {}).get("us")
fmt = lambda v, f: "-" if v is None else f % v
print("| scenario | proto | req/s | p50 ms | p99 ms | non-2xx | gw cpu % | gw µs/req | ÷ portico REST GET (h2c) | ÷ nginx grpc_pass |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for key in order:
    t = table[key]
    r1 = "-" if t["us"] is None or not ref_rest else "%.2f" % (t["us"] / ref_rest)
    r2 = "-" if t["us"] is None or not ref_nginx else "%.2f" % (t["us"] / ref_nginx)
    print(f"| {key[0]} | {'h2c' if key[1] == 'h2' else 'HTTP/1.1'} | {fmt(t['rps'], '%.0f')} | {fmt(t['p50'], '%.2f')} | "
          f"{fmt(t['p99'], '%.2f')} | {t['bad']} | {fmt(t['pct'], '%.0f')} | {fmt(t['us'], '%.1f')} | {r1} | {r2} |")
PY
mkdir -p "$ROOT/build/bench"
cp "$SUMMARY" "$ROOT/build/bench/browser-$(date +%Y%m%d-%H%M%S).tsv"
