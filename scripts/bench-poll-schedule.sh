#!/usr/bin/env bash
# The poll schedule benchmark (not a test): BUSINESSES (100,000) active connections, the interval compressed to
# INTERVAL seconds (10), WORKERS (4) worker processes all running the scheduler, SLOTS (5) slots measured.
# Prints polls enqueued per slot, duplicates (bar 0), misses (bar 0), the worst lateness of a poll against its slot
# (Redis' clock at enqueue − the slot), and the Redis memory of the schedule. The workers do not consume the polls
# (they serve another queue), so every enqueued poll is counted. Everything talks to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
BUSINESSES=${BUSINESSES:-100000}
INTERVAL=${INTERVAL:-10}
WORKERS=${WORKERS:-4}
SLOTS=${SLOTS:-5}
work="$PWD/.local/bench-poll"
results="$PWD/bench-results"
mkdir -p "$work" "$results"

scripts/install-deps.sh
scripts/services.sh stop bench
rm -rf .local/bench
scripts/services.sh start bench >/dev/null
eval "$(scripts/services.sh env bench | sed 's/^/export /')"
psql_url="${DATABASE_URL%%\?*}"
redis_port=36379
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
export LOG_LEVEL=warning
"$bin/ecommerce-worker" migrate >/dev/null
echo "== $BUSINESSES connections"
psql "$psql_url" -q -c "INSERT INTO ecommerce_connection (business_id, shop_domain, status)
  SELECT gen_random_uuid(), 'bench-' || n || '.myshopify.com', 'active' FROM generate_series(1, $BUSINESSES) n"
psql "$psql_url" -tAc "SELECT business_id FROM ecommerce_connection WHERE status = 'active'" > "$work/businesses.txt"

for i in $(seq 1 "$WORKERS"); do
  WORKER_QUEUES=ecommerce-products POLL_INTERVAL_SECONDS=$INTERVAL INVENTORY_RELAY=off METRICS_HOST=127.0.0.1 METRICS_PORT=$((19290 + i)) \
    "$bin/ecommerce-worker" run & pids+=($!)
done
# Wait until the schedule holds every business, then measure from the next whole interval on.
for _ in $(seq 1 600); do
  [ "$(redis-cli -p $redis_port zcard {ecommerce-polling}:schedule)" -ge "$BUSINESSES" ] && break
  sleep 0.1
done
now_ms=$(( $(date +%s%N) / 1000000 ))
interval_ms=$(( INTERVAL * 1000 ))
window_start=$(( (now_ms / interval_ms + 1) * interval_ms ))
window_end=$(( window_start + SLOTS * interval_ms ))
echo "== measuring $SLOTS slots of $INTERVAL s with $WORKERS workers"
sleep $(( (window_end - now_ms) / 1000 + 3 ))
memory=$(redis-cli -p $redis_port memory usage {ecommerce-polling}:schedule samples 0)
for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
wait 2>/dev/null || true
pids=()
redis-cli -p $redis_port --raw zrange {ecommerce-polling}:ready 0 -1 > "$work/jobs.txt"

report=$( {
  echo "poll schedule benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $WORKERS workers"
  python3 scripts/bench/poll_schedule_report.py "$work/jobs.txt" "$work/businesses.txt" "$window_start" "$interval_ms" "$SLOTS"
  awk -v m="$memory" -v n="$BUSINESSES" 'BEGIN { printf "schedule memory in Redis: %.1f MiB (%.0f bytes per business)\n", m / 1048576, m / n }'
} )
echo "$report" | tee "$results/poll-schedule-$(date -u +%Y%m%dT%H%M%SZ).txt"
