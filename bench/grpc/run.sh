#!/usr/bin/env bash
# run.sh — the native gRPC pass-through benchmark: portico's `"protocol": "grpc"` listener
# beside nginx `grpc_pass` and the direct call, in the same run and the same CPU layout as
# ../shared/peers/bench.sh (whose "direct" and "nginx" scenarios these are, with its nginx.conf):
#
#   CPU GW_CPU (0)    the proxy under test, alone: nginx (1 worker) or portico (1 worker)
#   CPU LOAD_CPU (1)  the peers' gRPC backend (bench.v1.PriceService, Go) and h2load
#
# Load: h2load -t1 -c50 -m1, 1 s warm-up, 5 s measured, POST /bench.v1.PriceService/GetPrice
# with the peers' data/getprice.grpc. Scenarios run interleaved, ROUNDS times (default 3), and
# the medians are printed. Measurement as in bench.sh: req/s from h2load, p50/p99 from its
# per-request log, the proxy's CPU time (utime+stime of the process and its children from
# /proc, i.e. nginx's worker too) divided by requests = "gw µs/req", core busy shares from
# /proc/stat, and a test disturbed by other processes (> NOISE_PCT % of CPU not explained by
# proxy + backend + h2load) is rerun. Every path is checked once per round with curl (HTTP/2
# 200, grpc-status 0, body decoded by protoc) before it is measured.
#
# Target (docs, issue 6): portico's µs/req <= 2/3 of nginx's, measured in the same run.
#
# Usage: bench/grpc/run.sh   (env: ROUNDS DURATION WARMUP CONNS H2_STREAMS GW_CPU LOAD_CPU
#                             BACKEND=go|cpp PEERS PEERS_BUILD BUILD OUT NOISE_PCT SCENARIOS)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PEERS=${PEERS:-$ROOT/../shared/peers}
PEERS_BUILD=${PEERS_BUILD:-/tmp/peers-build}
BUILD=${BUILD:-$ROOT/build/release}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
CONNS=${CONNS:-50}
H2_STREAMS=${H2_STREAMS:-1}
GW_CPU=${GW_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
BACKEND=${BACKEND:-go}
NOISE_PCT=${NOISE_PCT:-10}
NOISE_RETRIES=${NOISE_RETRIES:-2}
SCENARIOS=${SCENARIOS:-direct nginx portico}
HOST=127.0.0.1
BACKEND_PORT=${BACKEND_PORT:-50051}
NGINX_PORT=${NGINX_PORT:-8081}
PORTICO_PORT=${PORTICO_PORT:-8091}
GRPC_PATH=/bench.v1.PriceService/GetPrice
B=$PEERS_BUILD
TCK=$(getconf CLK_TCK)

[ -f "$PEERS/bench.sh" ] || { echo "run.sh: no peers at $PEERS (set PEERS=)" >&2; exit 1; }
[ -x "$B/bin/backend-$BACKEND" ] && [ -f "$B/data/getprice.grpc" ] || bash "$PEERS/setup.sh"
for t in h2load curl nginx taskset protoc; do command -v $t >/dev/null || { echo "missing $t" >&2; exit 1; }; done
if [ -z "${PORTICO:-}" ]; then
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" -j"$(nproc)" --target portico >/dev/null
  PORTICO=$BUILD/portico
fi

OUT=${OUT:-$ROOT/build/bench/grpc-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
SUMMARY=$OUT/summary.tsv
printf 'round\tscenario\treq_per_s\tp50_ms\tp99_ms\tbad\tgw_cpu_pct\tgw_us_per_req\tbackend_cpu_pct\tloadgen_cpu_pct\tcpu%s_pct\tcpu%s_pct\tother_pct\ttries\n' \
  "$GW_CPU" "$LOAD_CPU" >"$SUMMARY"
log() { printf '[grpc-bench %s] %s\n' "$(date +%T)" "$*" >&2; }

# ---- processes: started here, stopped by PID ---------------------------------------------------
PIDS=()
stop_pid() {
  local p=$1 i
  kill -0 "$p" 2>/dev/null || return 0
  kill -TERM "$p" 2>/dev/null || true
  for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}
cleanup() {
  local i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[$i]}"; done
  PIDS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM
port_free() { [ -z "$(ss -ltnH "sport = :$1" 2>/dev/null)" ]; }
start() { # name cpu port cmd... -> STARTED_PID
  local name=$1 cpu=$2 port=$3 i
  shift 3
  port_free "$port" || { echo "port $port already in use; refusing to start $name" >&2; exit 1; }
  echo "[$name] taskset -c $cpu $(printf '%q ' "$@")" >>"$OUT/commands.txt"
  taskset -c "$cpu" "$@" >"$OUT/$name.log" 2>&1 &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
  for i in $(seq 100); do
    kill -0 "$STARTED_PID" 2>/dev/null || { echo "$name died; see $OUT/$name.log" >&2; exit 1; }
    (exec 3<>/dev/tcp/$HOST/$port) 2>/dev/null && return 0
    sleep 0.05
  done
  echo "$name: port $port not listening after 5 s" >&2
  exit 1
}
stop_last() {
  stop_pid "${PIDS[${#PIDS[@]} - 1]}"
  unset 'PIDS[${#PIDS[@]}-1]'
}

# ---- CPU accounting (bench.sh's) ---------------------------------------------------------------
cpu_snap() { awk -v a="cpu$GW_CPU" -v b="cpu$LOAD_CPU" '$1==a||$1==b{busy[$1]=$2+$3+$4+$7+$8+$9; tot[$1]=busy[$1]+$5+$6}
  END{print busy[a], tot[a], busy[b], tot[b]}' /proc/stat; }
proc_ticks() { # pid + direct children (nginx's worker): utime+stime
  local p=$1 t=0 c
  [ -n "$p" ] || { echo 0; return; }
  for c in $p $(ps -o pid= --ppid "$p" 2>/dev/null); do
    t=$((t + $(awk '{print $14+$15}' /proc/$c/stat 2>/dev/null || echo 0)))
  done
  echo $t
}
self_child_ticks() { awk '{print $16+$17}' /proc/$$/stat; }
pct() { awk -v t="$1" -v tck="$TCK" -v ns="$2" 'BEGIN{printf "%.0f", 100*(t/tck)/(ns/1e9)}'; }

wait_quiet() {
  local i a b u0 u1
  for i in $(seq "${QUIET_WAIT:-120}"); do
    a=($(cpu_snap)); sleep 1; b=($(cpu_snap))
    u0=$((100 * (b[0] - a[0]) / ((b[1] - a[1]) > 0 ? (b[1] - a[1]) : 1)))
    u1=$((100 * (b[2] - a[2]) / ((b[3] - a[3]) > 0 ? (b[3] - a[3]) : 1)))
    if [ "$u0" -le 10 ] && [ "$u1" -le 10 ]; then return 0; fi
    [ "$i" = 1 ] && log "machine busy (cpu$GW_CPU $u0%, cpu$LOAD_CPU $u1%): waiting for it to calm down"
  done
  log "WARNING: machine still busy; measuring anyway"
}

verify() { # name port
  local f="$OUT/r$ROUND-verify-$1.txt"
  curl -sS --http2-prior-knowledge -D "$f.hdr" -o "$f.body" --data-binary @"$B/data/getprice.grpc" \
    -H 'content-type: application/grpc' -H 'te: trailers' "http://$HOST:$2$GRPC_PATH"
  { tr -d '\r' <"$f.hdr"; tail -c +6 "$f.body" | protoc -I "$B/proto" -I "$GAPIS" -I /usr/include \
      --decode=bench.v1.Price "$B/proto/bench.proto"; } >"$f"
  rm -f "$f.hdr" "$f.body"
  grep -q '^HTTP/2 200' "$f" && grep -q '^grpc-status: 0' "$f" && grep -q 'amount_micros: 2469000' "$f" ||
    { echo "gRPC verification failed for $1:" >&2; cat "$f" >&2; exit 1; }
}
GAPIS=/usr/share/gocode/src/github.com/grpc-ecosystem/grpc-gateway/third_party/googleapis

measure() { # scenario port  (GW_PID set for proxies)
  local sc=$1 port=$2 attempt=0
  while :; do
    local name="r$ROUND-$sc" lf="$OUT/r$ROUND-$sc.reqlog"
    local cmd=(h2load -t1 -c"$CONNS" -m"$H2_STREAMS" -D "$DURATION" --warm-up-time "$WARMUP" --log-file="$lf"
      -d "$B/data/getprice.grpc" -H 'content-type: application/grpc' -H 'te: trailers' "http://$HOST:$port$GRPC_PATH")
    echo "[$name] taskset -c $LOAD_CPU $(printf '%q ' "${cmd[@]}")" >>"$OUT/commands.txt"
    rm -f "$lf"
    local s0 s1 g0 g1 be0 be1 lg0 lg1 t0 t1
    s0=($(cpu_snap)); g0=$(proc_ticks "$GW_PID"); be0=$(proc_ticks "$BACKEND_PID"); lg0=$(self_child_ticks); t0=$(date +%s%N)
    taskset -c "$LOAD_CPU" "${cmd[@]}" >"$OUT/$name.txt" 2>&1 || true
    t1=$(date +%s%N); lg1=$(self_child_ticks); s1=($(cpu_snap)); g1=$(proc_ticks "$GW_PID"); be1=$(proc_ticks "$BACKEND_PID")
    local ns=$((t1 - t0)) rps p50 p99 tot failed nonok bad gw us be lg c0 c1 other
    rps=$(sed -nE 's/^finished in .*, ([0-9.]+) req\/s.*/\1/p' "$OUT/$name.txt")
    rps=${rps:-0}
    read -r tot failed < <(sed -nE 's/^requests: ([0-9]+) total, [0-9]+ started, [0-9]+ done, [0-9]+ succeeded, ([0-9]+) failed, ([0-9]+) errored, ([0-9]+) timeout.*/\1 \2+\3+\4/p' "$OUT/$name.txt") || true
    nonok=$(sed -nE 's/^status codes: [0-9]+ 2xx, ([0-9]+) 3xx, ([0-9]+) 4xx, ([0-9]+) 5xx.*/\1+\2+\3/p' "$OUT/$name.txt")
    bad=$((${failed:-0} + ${nonok:-0}))
    read -r p50 p99 < <(cut -f3 "$lf" 2>/dev/null | sort -n | awk '{a[NR]=$1} END{ if (NR==0) {print "- -"; exit}
      i50=int(NR*0.50); if (i50<1) i50=1; i99=int(NR*0.99); if (i99<1) i99=1; printf "%.2f %.2f\n", a[i50]/1000, a[i99]/1000 }')
    rm -f "$lf"
    be=$(pct $((be1 - be0)) $ns)
    lg=$(pct $((lg1 - lg0)) $ns)
    c0=$(awk -v b0="${s0[0]}" -v t0="${s0[1]}" -v b1="${s1[0]}" -v t1="${s1[1]}" 'BEGIN{d=t1-t0; if (d<=0) d=1; printf "%.0f", 100*(b1-b0)/d}')
    c1=$(awk -v b0="${s0[2]}" -v t0="${s0[3]}" -v b1="${s1[2]}" -v t1="${s1[3]}" 'BEGIN{d=t1-t0; if (d<=0) d=1; printf "%.0f", 100*(b1-b0)/d}')
    if [ -n "$GW_PID" ]; then
      gw=$(pct $((g1 - g0)) $ns)
      us=$(awk -v p="$gw" -v r="$rps" 'BEGIN{ if (r>0) printf "%.1f", p/100*1e6/r; else print "-"}')
    else
      gw=-; us=-
    fi
    other=$(awk -v a="$c0" -v b="$c1" -v g="${gw/-/0}" -v be="$be" -v lg="$lg" 'BEGIN{o=a+b-g-be-lg; if (o<0) o=0; printf "%.0f", o}')
    if [ "$other" -gt "$NOISE_PCT" ] && [ "$attempt" -lt "$NOISE_RETRIES" ]; then
      log "$sc: ${other}% CPU used by something else (req/s $rps) - discarded, rerunning when quiet"
      attempt=$((attempt + 1))
      wait_quiet
      continue
    fi
    [ "$other" -gt "$NOISE_PCT" ] && log "WARNING: $sc: ${other}% CPU used by something else - not trustworthy"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$ROUND" "$sc" "$rps" "$p50" "$p99" "$bad" "$gw" "$us" \
      "$be" "$lg" "$c0" "$c1" "$other" "$((attempt + 1))" | tee -a "$SUMMARY" >&2
    return 0
  done
}

# ---- run ---------------------------------------------------------------------------------------
WORK=$(mktemp -d /tmp/portico-grpc-bench.XXXXXX)
trap 'cleanup; rm -rf "$WORK"' EXIT
protoc --include_imports -I "$PEERS" -I "$ROOT/descriptors" -I /usr/include --descriptor_set_out="$WORK/bench.pb" "$PEERS/bench.proto"
cat >"$WORK/portico.json" <<JSON
{"listen": [{"address": "$HOST", "port": $PORTICO_PORT, "protocol": "grpc"}], "workers": 1,
 "descriptors": ["$WORK/bench.pb"],
 "upstreams": {"bench": {"protocol": "grpc", "targets": ["$HOST:$BACKEND_PORT"], "timeout_ms": 5000}},
 "grpc_services": [{"service": "bench.v1.PriceService", "upstream": "bench"}]}
JSON
mkdir -p "$B/nginx/tmp"
sed -e "s#@PREFIX@#$B/nginx#g" -e "s#@LISTEN@#$HOST:$NGINX_PORT#g" -e "s#@BACKEND@#$HOST:$BACKEND_PORT#g" \
  "$PEERS/nginx.conf.in" >"$B/nginx/nginx.conf"
cp "$B/nginx/nginx.conf" "$WORK/portico.json" "$OUT/"
{
  echo "date: $(date -Is)"
  echo "host: $(uname -srm), $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
  echo "params: ROUNDS=$ROUNDS DURATION=$DURATION WARMUP=$WARMUP CONNS=$CONNS H2_STREAMS=$H2_STREAMS BACKEND=$BACKEND GW_CPU=$GW_CPU LOAD_CPU=$LOAD_CPU"
  echo "portico: $("$PORTICO" version 2>&1 | head -1) ($PORTICO)"
  echo "nginx: $(nginx -v 2>&1)"
  echo "h2load: $(h2load --version | head -1)"
} >"$OUT/env.txt"
log "results -> $OUT"
wait_quiet

GW_PID=""
start backend "$LOAD_CPU" "$BACKEND_PORT" "$B/bin/backend-$BACKEND" -listen "$HOST:$BACKEND_PORT"
BACKEND_PID=$STARTED_PID
for ROUND in $(seq "$ROUNDS"); do
  log "round $ROUND/$ROUNDS"
  for sc in $SCENARIOS; do
    case "$sc" in
    direct)
      GW_PID=""
      verify direct "$BACKEND_PORT"
      measure direct "$BACKEND_PORT"
      ;;
    nginx)
      start nginx "$GW_CPU" "$NGINX_PORT" nginx -p "$B/nginx" -e "$B/nginx/error.log" -c "$B/nginx/nginx.conf"
      GW_PID=$STARTED_PID
      verify nginx "$NGINX_PORT"
      measure nginx "$NGINX_PORT"
      stop_last
      GW_PID=""
      ;;
    portico)
      start portico "$GW_CPU" "$PORTICO_PORT" "$PORTICO" serve -c "$WORK/portico.json"
      GW_PID=$STARTED_PID
      verify portico "$PORTICO_PORT"
      measure portico "$PORTICO_PORT"
      stop_last
      GW_PID=""
      ;;
    *) echo "unknown scenario $sc" >&2; exit 1 ;;
    esac
  done
done
cleanup

median() { sort -n | awk '{a[NR]=$1} END{ if (NR==0) {print "-"; exit}; if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2 }'; }
col() { awk -F'\t' -v s="$1" -v c="$2" 'NR>1 && $2==s && $c!="-" {print $c}' "$SUMMARY"; }
{
  echo "| round | scenario | req/s | p50 ms | p99 ms | bad | gw cpu % | gw µs/req | backend cpu % | h2load cpu % | cpu$GW_CPU % | cpu$LOAD_CPU % | other % | tries |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  tail -n +2 "$SUMMARY" | awk -F'\t' '{printf "|"; for (i=1;i<=NF;i++) printf " %s |", $i; printf "\n"}'
  echo
  echo "Medians over $ROUNDS rounds (h2load -c$CONNS -m$H2_STREAMS, ${DURATION} s; proxy alone on CPU $GW_CPU):"
  echo
  echo "| scenario | req/s | p50 ms | p99 ms | proxy µs/req |"
  echo "|---|---|---|---|---|"
  for s in $SCENARIOS; do
    echo "| $s | $(col "$s" 3 | median) | $(col "$s" 4 | median) | $(col "$s" 5 | median) | $(col "$s" 8 | median) |"
  done
  n=$(col nginx 8 | median); p=$(col portico 8 | median)
  if [ "$n" != - ] && [ "$p" != - ]; then
    echo
    awk -v n="$n" -v p="$p" 'BEGIN{ r=p/n; printf "portico / nginx CPU per request: %.2f (target <= 0.67): %s\n", r, (r <= 0.6667 ? "met" : "NOT met") }'
  fi
} | tee "$OUT/summary.md"
log "done: $OUT/summary.md"
