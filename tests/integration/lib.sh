# lib.sh — shared helpers for the integration tests (sourced): free loopback ports, starting
# and stopping processes by PID, waiting for ports, table-style checks and the closing
# "N passed, N failed" line. Every process a test starts is recorded and killed on exit.
set -u

PASS=0
FAIL=0
PIDS=()
TMP=$(mktemp -d /tmp/portico-it.XXXXXX)

cleanup() {
  for pid in "${PIDS[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
  done
  sleep 0.2
  for pid in "${PIDS[@]:-}"; do
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
  done
  rm -rf "$TMP"
}
trap cleanup EXIT

# A free TCP port on 127.0.0.1 (the kernel picks it; a tiny race with other tests is accepted).
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_port PORT [SECONDS]: waits until something accepts on 127.0.0.1:PORT.
wait_port() {
  local port=$1 tries=$(( ${2:-10} * 20 ))
  for _ in $(seq "$tries"); do
    if (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "port $port did not open" >&2
  return 1
}

# start NAME CMD...: runs CMD in the background with output in $TMP/NAME.log; sets LAST_PID.
start() {
  local name=$1; shift
  "$@" >"$TMP/$name.log" 2>&1 &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}

ok() { PASS=$((PASS + 1)); }
bad() { FAIL=$((FAIL + 1)); echo "FAIL: $*" >&2; }

# check NAME EXPECTED ACTUAL: exact comparison.
check() {
  if [ "$2" == "$3" ]; then ok; else bad "$1: expected [$2], got [$3]"; fi
}

# check_has NAME NEEDLE HAYSTACK: substring.
check_has() {
  case "$3" in
    *"$2"*) ok ;;
    *) bad "$1: expected to contain [$2], got [${3:0:600}]" ;;
  esac
}

check_not_has() {
  case "$3" in
    *"$2"*) bad "$1: expected not to contain [$2], got [${3:0:600}]" ;;
    *) ok ;;
  esac
}

summary() {
  echo "$PASS passed, $FAIL failed"
  [ "$FAIL" -eq 0 ]
}

# Locates a built binary under PORTICO_BUILD_DIR by name.
find_bin() {
  find "${PORTICO_BUILD_DIR:?}" -type f -name "$1" -perm -u+x 2>/dev/null | head -1
}
