#!/usr/bin/env bash
# Where the webhook path's CPU goes (not a test; a benchmark's companion). Throughput ratios against nginx swing by a
# third between rounds on this shared machine; CPU time per request does not. Under the foundation benchmark's load
# (wrk -t2 -c64 -d10s, a signed order, a new webhook id per request) it prints, per round:
#   - requests/s, and the CPU time per request of the gateway and of Redis (perf stat's task-clock of each process),
#   - Redis's time per enqueue script call (INFO commandstats),
# then one profiled run (perf record) with the share of the gateway's samples spent building the operator journal's
# entry, and an A/B of the enqueue script itself, the gateway's own (its SHA as MONITOR sees it), run by
# redis-benchmark on unique dedupe keys with and without the journal's list (the script writes the entry only when
# it gets the sixth key).
# ROUNDS (default 3). Everything talks to 127.0.0.1 only; the bench services are started and stopped here.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
GATEWAY_PORT=18080
redis_port=36379
work="$PWD/.local/bench-cost"
mkdir -p "$work"

scripts/install-deps.sh
command -v perf >/dev/null || { echo "bench-gateway-cost: needs perf (linux-perf)" >&2; exit 1; }
scripts/services.sh stop bench
rm -rf .local/bench
scripts/services.sh start bench >/dev/null
eval "$(scripts/services.sh env bench | sed 's/^/export /')"
psql_url="${DATABASE_URL%%\?*}"
gateway=""
cleanup() {
  [ -n "$gateway" ] && kill -TERM "$gateway" 2>/dev/null || true
  wait 2>/dev/null || true
  scripts/services.sh stop bench
}
trap cleanup EXIT

swift build -c release >/dev/null
bin=$(swift build -c release --show-bin-path)
export LOG_LEVEL=warning SHOPIFY_API_SECRET=bench-secret JWT_SECRET=bench-jwt-secret-of-at-least-32-bytes
"$bin/ecommerce-worker" migrate >/dev/null
shop=bench-shop.myshopify.com
psql "$psql_url" -qc "INSERT INTO ecommerce_connection (business_id, shop_domain, status) VALUES ('00000000-0000-0000-0000-00000000be01', '$shop', 'active')"
python3 scripts/bench/make_order_jobs.py body "$shop" > "$work/body.json"
signature=$(openssl dgst -sha256 -hmac "$SHOPIFY_API_SECRET" -binary < "$work/body.json" | base64)
HTTP_HOST=127.0.0.1 HTTP_PORT=$GATEWAY_PORT "$bin/ecommerce-gateway" & gateway=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$GATEWAY_PORT/readyz" >/dev/null && break; sleep 0.1; done
redis_pid=$(cat .local/bench/redis/redis.pid 2>/dev/null || pgrep -f "redis-server.*:$redis_port")

load() {
  RUN_ID="$(date +%s%N)" BODY_FILE="$work/body.json" SIGNATURE="$signature" SHOP="$shop" \
    wrk -t2 -c64 -d10s -s scripts/bench/webhook.lua "http://127.0.0.1:$GATEWAY_PORT/ecommerce/webhooks/shopify" | grep '^RESULT'
}
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
clock_ms() { awk '/task-clock/ { gsub(",", "", $1); print $1 }' "$1"; }

echo "== CPU per request, ${ROUNDS} rounds of wrk -t2 -c64 -d10s"
for round in $(seq 1 "$ROUNDS"); do
  redis-cli -p $redis_port config resetstat >/dev/null
  perf stat -e task-clock -p "$gateway" -o "$work/gateway.stat" -- sleep 10 2>/dev/null & g=$!
  perf stat -e task-clock -p "$redis_pid" -o "$work/redis.stat" -- sleep 10 2>/dev/null & r=$!
  result=$(load)
  wait $g $r
  requests=$(echo "$result" | field requests)
  calls=$(redis-cli -p $redis_port info commandstats | sed -n 's/^cmdstat_evalsha:.*usec_per_call=\([0-9.]*\).*/\1/p')
  awk -v rps="$(echo "$result" | field requests_per_sec)" -v n="$requests" -v g="$(clock_ms "$work/gateway.stat")" \
    -v r="$(clock_ms "$work/redis.stat")" -v e="$calls" -v round="$round" \
    'BEGIN { printf "  round %d: %.0f req/s | gateway %.1f us CPU/request | Redis %.1f us CPU/request, of which the enqueue script %.1f us\n", round, rps, g * 1000 / n, r * 1000 / n, e }'
  redis-cli -p $redis_port flushall >/dev/null
done

echo "== the journal's entry in the gateway (perf record of one run)"
perf record -F 999 -g -p "$gateway" -o "$work/perf.data" -- sleep 10 >/dev/null 2>&1 & p=$!
load >/dev/null
wait $p || true
perf report -i "$work/perf.data" --children --sort symbol -g none 2>/dev/null |
  awk '/deliveryRecord/ { printf "  OperatorJournal.deliveryRecord: %s of the gateway'"'"'s samples (with what it calls)\n", $1; found = 1 }
       END { if (!found) print "  OperatorJournal.deliveryRecord: not sampled" }'

echo "== the enqueue script in Redis, with and without the journal's entry (redis-benchmark, 200,000 calls, 16 clients)"
redis-cli -p $redis_port flushall >/dev/null
timeout 5 redis-cli -p $redis_port monitor > "$work/monitor.txt" 2>/dev/null & m=$!
sleep 0.5
curl -s -o /dev/null -X POST "http://127.0.0.1:$GATEWAY_PORT/ecommerce/webhooks/shopify" --data-binary @"$work/body.json" \
  -H "X-Shopify-Topic: orders/create" -H "X-Shopify-Shop-Domain: $shop" -H "X-Shopify-Hmac-Sha256: $signature" \
  -H "X-Shopify-Webhook-Id: cost-$(date +%s%N)"
sleep 0.5; kill $m 2>/dev/null || true; wait $m 2>/dev/null || true
sha=$(grep -o '"EVALSHA" "[0-9a-f]\{40\}" "6"' "$work/monitor.txt" | head -1 | cut -d'"' -f4)
[ -n "$sha" ] || { echo "bench-gateway-cost: no enqueue with a journal entry seen in MONITOR" >&2; exit 1; }
# Distinct envelopes (redis-benchmark fills __rand_int__ in), as the ready jobs are members of a sorted set.
envelope=$(python3 -c "print('{\"id\":\"__rand_int__\",\"businessId\":\"00000000-0000-0000-0000-00000000be01\",' + 'x' * 820 + '}')")
entry='{"at":1733280000000,"topic":"orders/create","webhookId":"b54557e4-bdd9-4b37-8a5f-bf7d70bcd043","eventId":"98880550-7158-44d4-b7cd-2c97c8a091b5","orderId":820982911946154508,"jobId":"0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"'
per_call() {
  redis-cli -p $redis_port flushall >/dev/null; redis-cli -p $redis_port config resetstat >/dev/null
  redis-benchmark -p $redis_port -n 200000 -c 16 -r 100000000 -q "$@" >/dev/null 2>&1
  redis-cli -p $redis_port info commandstats | sed -n 's/^cmdstat_evalsha:.*usec_per_call=\([0-9.]*\).*/\1/p'
}
for round in $(seq 1 "$ROUNDS"); do
  without=$(per_call EVALSHA "$sha" 5 q:ready q:fair q:backlog q:dedupe:__rand_int__ q:counts "$envelope" job-id 86400)
  with=$(per_call EVALSHA "$sha" 6 q:ready q:fair q:backlog q:dedupe:__rand_int__ q:counts q:journal "$envelope" job-id 86400 "$entry" 300 604800)
  echo "  round $round: without the entry $without us/call, with it $with us/call"
done
