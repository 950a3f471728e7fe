#!/usr/bin/env bash
# The product push benchmark (not a test). Pushes PRODUCTS (2,000) products × 3 variants to the Shopify simulator
# set to a RESTORE_RATE (100) points/s bucket of BUCKET (1,000) points, with 1, 2 and 4 worker processes
# (concurrency 4 each), a fresh shop and catalog per run, and prints for each:
#   points/s charged by the simulator beyond the bucket it starts with ÷ restore rate (bar ≥ 0.9), share of requests throttled (bar ≤ 1 %),
#   failed products (bar 0) and wall time.
# MODES ("per-call") picks how the push runs: `per-call` (BULK_PUSH_THRESHOLD=0: productSet per product, paced by
# the bucket) and/or `bulk` (BULK_PUSH_THRESHOLD=1: one bulk operation, run by the simulator at its
# bulkRowsPerSecond, BULK_ROWS_PER_SECOND, 200: an assumption, Shopify publishes no figure). With both, the last line
# prints per-call wall time ÷ bulk wall time per worker count (the issue's goal: ≥ 10 at the same bucket).
#   MODES="per-call bulk" WORKER_COUNTS=4 scripts/bench-shopify-push.sh
# The push is started through the gateway (POST /ecommerce/sync/products with an admin JWT) and followed through
# GET /ecommerce/sync/logs/{id}, as an operator would. Everything talks to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
PRODUCTS=${PRODUCTS:-2000}
RESTORE_RATE=${RESTORE_RATE:-100}
BUCKET=${BUCKET:-1000}
WORKER_COUNTS=${WORKER_COUNTS:-"1 2 4"}
MODES=${MODES:-per-call}
BULK_ROWS_PER_SECOND=${BULK_ROWS_PER_SECOND:-200}
GATEWAY_PORT=18180
SIMULATOR_PORT=18181
work="$PWD/.local/bench-push"
results="$PWD/bench-results"
mkdir -p "$work" "$results"

scripts/install-deps.sh
scripts/services.sh stop bench
rm -rf .local/bench
scripts/services.sh start bench >/dev/null
eval "$(scripts/services.sh env bench | sed 's/^/export /')"
psql_url="${DATABASE_URL%%\?*}"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  scripts/services.sh stop bench
}
trap cleanup EXIT

echo "== release build"
swift build -c release >/dev/null
bin=$(swift build -c release --show-bin-path)
export LOG_LEVEL=warning SHOPIFY_API_SECRET=bench-secret JWT_SECRET=bench-jwt-secret-of-at-least-32-bytes
export TOKEN_ENCRYPTION_KEYS="bench:$(openssl rand -base64 32)"
export SHOPIFY_ADMIN_BASE_URL="http://127.0.0.1:$SIMULATOR_PORT/shops/{shop}"
"$bin/ecommerce-worker" migrate >/dev/null

"$bin/shopify-simulator" --port $SIMULATOR_PORT --bucket-size "$BUCKET" --restore-rate "$RESTORE_RATE" & pids+=($!)
HTTP_HOST=127.0.0.1 HTTP_PORT=$GATEWAY_PORT "$bin/ecommerce-gateway" & pids+=($!)
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$GATEWAY_PORT/readyz" >/dev/null && curl -sf "http://127.0.0.1:$SIMULATOR_PORT/_control/settings" >/dev/null && break
  sleep 0.1
done
curl -sf -X PUT "http://127.0.0.1:$SIMULATOR_PORT/_control/settings" -H 'Content-Type: application/json' \
  -d "{\"bucketSize\": $BUCKET, \"restoreRate\": $RESTORE_RATE, \"bulkRowsPerSecond\": $BULK_ROWS_PER_SECOND}"
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

report="product push benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $PRODUCTS products x 3 variants, bucket $BUCKET points, restore $RESTORE_RATE points/s, bulk $BULK_ROWS_PER_SECOND lines/s"
declare -A walls
for mode in $MODES; do
threshold=0
[ "$mode" = bulk ] && threshold=1
for workers in $WORKER_COUNTS; do
  business=$(python3 -c "import uuid; print(uuid.uuid4())")
  shop="bench-$workers-$(date +%s).myshopify.com"
  token="shpat_$(openssl rand -hex 16)"
  curl -sf -X POST "http://127.0.0.1:$SIMULATOR_PORT/_control/shops" -H 'Content-Type: application/json' \
    -d "{\"shop\":\"$shop\",\"accessToken\":\"$token\"}" >/dev/null
  psql "$psql_url" -q <<SQL
INSERT INTO products (id, business_id, name) SELECT gen_random_uuid(), '$business', 'Product ' || n FROM generate_series(1, $PRODUCTS) n;
INSERT INTO variants (id, product_id, business_id, title, sku, price)
  SELECT gen_random_uuid(), p.id, p.business_id, 'Size ' || v, p.id || '-' || v, 10 + v FROM products p, generate_series(1, 3) v WHERE p.business_id = '$business';
INSERT INTO stock_levels (variant_id, business_id, quantity) SELECT id, business_id, 25 FROM variants WHERE business_id = '$business';
SQL
  SHOPIFY_ACCESS_TOKEN=$token "$bin/ecommerce-worker" connect --business-id "$business" --shop "$shop" >/dev/null

  worker_pids=()
  for i in $(seq 1 "$workers"); do
    BULK_PUSH_THRESHOLD=$threshold BULK_PUSH_POLL_SECONDS=1 WORKER_QUEUES=ecommerce-products WORKER_CONCURRENCY=4 METRICS_HOST=127.0.0.1 METRICS_PORT=$((19190 + i)) \
      "$bin/ecommerce-worker" run & worker_pids+=($!); pids+=($!)
  done
  for i in $(seq 1 "$workers"); do
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$((19190 + i))/healthz" >/dev/null && break; sleep 0.1; done
  done

  jwt=$(python3 scripts/bench/jwt.py "$JWT_SECRET" "$business")
  started=$(date +%s.%N)
  run_id=$(curl -sf -X POST "http://127.0.0.1:$GATEWAY_PORT/ecommerce/sync/products?businessId=$business" -H "Authorization: Bearer $jwt" \
    | json 'd["syncLogId"]')
  while true; do
    status=$(curl -sf "http://127.0.0.1:$GATEWAY_PORT/ecommerce/sync/logs/$run_id" -H "Authorization: Bearer $jwt" | json 'd["status"]')
    [ "$status" != running ] && break
    sleep 0.5
  done
  finished=$(date +%s.%N)
  log=$(curl -sf "http://127.0.0.1:$GATEWAY_PORT/ecommerce/sync/logs/$run_id" -H "Authorization: Bearer $jwt")
  stats=$(curl -sf "http://127.0.0.1:$SIMULATOR_PORT/_control/shops/$shop/stats")
  for pid in "${worker_pids[@]}"; do kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; done

  walls[$mode-$workers]=$(python3 -c "print($finished - $started)")
  line=$(python3 - "$log" "$stats" "$started" "$finished" "$RESTORE_RATE" "$workers" "$BUCKET" "$mode" <<'PY'
import json, sys
log, stats = json.loads(sys.argv[1]), json.loads(sys.argv[2])
started, finished, rate, workers, bucket = float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), sys.argv[6], float(sys.argv[7])
mode = sys.argv[8]
wall = finished - started
# The shop's bucket starts full: its BUCKET points are spent without waiting for any restore. Only what was charged
# beyond them measures how well the push keeps up with the restore rate.
points_per_second = (stats["pointsCharged"] - bucket) / wall
with_bucket = stats["pointsCharged"] / wall
throttled = stats["throttled"] / max(stats["requests"], 1)
if mode == "bulk":
    print(f"bulk, {workers} worker(s): status {log['status']}, pushed {log['processed']}/{log['total']}, failed {log['failed']} (bar 0) | "
          f"bulk operations {stats['bulkOperationsStarted']} | points charged {stats['pointsCharged']:.0f} "
          f"({stats['pointsCharged'] / wall / rate:.2f} x restore rate: the bucket stays free for the shop's other work) | wall {wall:.1f} s")
    sys.exit(0)
print(f"per call, {workers} worker(s): status {log['status']}, pushed {log['processed']}/{log['total']}, failed {log['failed']} (bar 0) | "
      f"points/s beyond the full bucket {points_per_second:.1f} = {points_per_second / rate:.2f} x restore rate (bar >= 0.90; "
      f"{with_bucket / rate:.2f} counting the bucket) | "
      f"throttled {stats['throttled']}/{stats['requests']} = {100 * throttled:.2f} % (bar <= 1 %) | wall {wall:.1f} s")
PY
)
  echo "  $line"
  report+=$'\n'"$line"
done
done
if [[ " $MODES " == *" per-call "* && " $MODES " == *" bulk "* ]]; then
  for workers in $WORKER_COUNTS; do
    line=$(python3 -c "print(f'{$workers} worker(s): per-call wall / bulk wall = {${walls[per-call-$workers]} / ${walls[bulk-$workers]}:.1f} (goal >= 10)')")
    echo "  $line"
    report+=$'\n'"$line"
  done
fi
echo "$report" | tee "$results/shopify-push-$(date -u +%Y%m%dT%H%M%SZ).txt"
