#!/usr/bin/env bash
# demo.sh — the main job: sets up and builds everything, then runs the example shop behind
# the gateway: the shop's gRPC backend (grpc core) on 127.0.0.1:50051, the reviews REST
# backend (h2o) on 127.0.0.1:8081 and portico on
# http://127.0.0.1:8080 (config: examples/shop/portico.json). It shows a few requests and
# then keeps serving until Ctrl-C (or SIGTERM), when both processes are stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"$(nproc)" >/dev/null

BACKEND=build/release/examples/shop/shop-backend
REVIEWS=build/release/examples/shop/reviews/reviews-backend
PORTICO=build/release/portico
PIDS=()
stop() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap stop EXIT INT TERM

for port in 50051 8081 8080; do
  if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
    echo "demo: port $port is already in use; stop whatever listens there first" >&2
    exit 1
  fi
done

# the backends log one line per call; keep their logs out of the way
"$BACKEND" --listen 127.0.0.1:50051 2>build/release/shop-backend.log &
PIDS+=($!)
"$REVIEWS" --listen 127.0.0.1:8081 2>build/release/reviews-backend.log &
PIDS+=($!)
"$PORTICO" check -c examples/shop/portico.json
"$PORTICO" serve -c examples/shop/portico.json &
PIDS+=($!)
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null && break; sleep 0.05; done

show() {
  echo
  echo "\$ curl $*"
  curl -sS "$@"
  echo
}
show localhost:8080/v1/products/ABC-123
show localhost:8080/v1/products/ABC-123/price
show "localhost:8080/v1/prices/ABC-123?quantity=3&currency=EUR"
show -X POST localhost:8080/v1/prices:batch -H 'content-type: application/json' \
  -d '{"items":[{"sku":"ABC-123","quantity":2},{"sku":"XYZ-999"}]}'
show localhost:8080/v1/products/ABC-123/stock
show -H 'accept: application/x-ndjson' "localhost:8080/v1/products/ABC-123/price:watch?updates=3&intervalMs=200"
show localhost:8080/v1/products/NO-SUCH-SKU/price
show -X DELETE localhost:8080/v1/products/ABC-123/price

echo
echo "portico is serving the example shop on http://127.0.0.1:8080 — press Ctrl-C to stop."
echo "(backend logs: build/release/shop-backend.log, build/release/reviews-backend.log)"
wait
