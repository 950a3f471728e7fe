#!/usr/bin/env bash
# The foundation benchmark (not a test). On this machine, in one run, against baselines measured in the same run:
#   (a) the gateway under `wrk -t2 -c64 -d10s` with a signed ~700-byte order body (a new webhook id per request,
#       so every request is verified, resolved and enqueued), and nginx answering a static 200 to the same load;
#   (b) ingestion of 20,000 new order jobs (3 lines each) by one worker process (concurrency 4) and by two, and
#       pgbench running the same SQL transaction, also on new orders, with 4 clients; besides, and not against the
#       baseline, one worker that also relays its stock changes to inventory pushes, and one draining 10 % duplicate
#       deliveries (which take the cheap "unchanged" path pgbench never takes);
#   (c) the peak RSS (VmHWM) of the gateway and of a worker;
#   (d) PgBouncer (transaction pooling, as scripts/services.sh starts it): one worker ingesting through it with
#       DATABASE_POOLING=transaction (the statement unnamed), the same worker direct with DATABASE_POOLING=transaction
#       (what giving up the prepared statement costs alone), and pgbench through it (-M extended: unnamed statements;
#       its -M prepared would not survive transaction pooling), against the direct worker and pgbench of (b);
#   (e) micro-batched ingestion: one worker ingesting up to 64 orders per transaction (one statement), 2 transactions
#       at once (WORKER_CONCURRENCY=128 INGEST_BATCH_SIZE=64 INGEST_BATCH_CONCURRENCY=2), against pgbench running the
#       single-order transaction at 2 clients (the same number of transactions at once; goal >= 1.5x) and at 4 (b's),
#       and against the unbatched worker of (b); PostgreSQL alone on the batch statement (pgbench, 2 clients, 64 new
#       orders a statement: scripts/bench/make_ingest_pgbench.py --batch); and the latency from enqueue to commit at a
#       light load (one order at a time, scripts/bench/paced_orders.py), batched and not;
#   (f) Redis Cluster (6 nodes, 3 masters and 3 replicas: scripts/services.sh start-cluster bench) against one Redis:
#       the gateway under (a)'s load and one worker's ingestion as in (b), each run on both in the same round.
# In (a) the gateway runs twice per round: with Redis's AOF fsynced every second (`appendfsync everysec`, the
# default: a Redis crash may lose up to a second of accepted webhooks, which polling recovers) and at every write
# (`always`: nothing acknowledged is lost); see REDIS_APPENDFSYNC in scripts/services.sh.
# ROUNDS (default 3) repeats (a), (b) and (f); medians are printed. GATEWAY_ONLY=1 runs (a) alone, INGEST_ONLY=1 all
# but (a), CLUSTER_ONLY=1 (f) alone, SKIP_CLUSTER=1 all but (f). VARIANTS (300) is how many variants the orders' lines spread over (fewer: more orders share stock rows). Results also go to bench-results/. A wrk run with any
# non-2xx answer or socket error, or a gateway run that enqueued fewer jobs than it answered, is invalid: the
# script says so and exits 1 (wrk's requests/s counts those answers too).
# Everything talks to 127.0.0.1 only. Bars: gateway ≥ 0.3× nginx with p99 ≤ 20 ms; ingestion ≥ 0.7× pgbench;
# RSS ≤ 100 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
JOBS=${JOBS:-20000}
VARIANTS=${VARIANTS:-300}
GATEWAY_PORT=18080
NGINX_PORT=18081
work="$PWD/.local/bench-run"
results="$PWD/bench-results"
mkdir -p "$work" "$results"

scripts/install-deps.sh
scripts/services.sh stop bench
rm -rf .local/bench
scripts/services.sh start bench >/dev/null
eval "$(scripts/services.sh env bench | sed 's/^/export /')"
redis_port=36379
psql_url="${DATABASE_URL%%\?*}"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  scripts/services.sh stop bench  # the cluster too
}
trap cleanup EXIT

echo "== release build"
swift build -c release >/dev/null
bin=$(swift build -c release --show-bin-path)
export LOG_LEVEL=warning SHOPIFY_API_SECRET=bench-secret JWT_SECRET=bench-jwt-secret-of-at-least-32-bytes
"$bin/ecommerce-worker" migrate >/dev/null

business=00000000-0000-0000-0000-00000000be01
shop=bench-shop.myshopify.com
psql "$psql_url" -q <<SQL
INSERT INTO products (id, business_id, name) VALUES ('00000000-0000-0000-0000-00000000a001', '$business', 'Bench');
INSERT INTO variants (id, product_id, business_id, sku)
  SELECT ('00000000-0000-0000-0000-' || lpad(n::text, 12, '0'))::uuid, '00000000-0000-0000-0000-00000000a001', '$business', 'BENCH-' || n
  FROM generate_series(1, $VARIANTS) n;
INSERT INTO stock_levels (variant_id, business_id, quantity) SELECT id, business_id, 1000000000 FROM variants WHERE business_id = '$business';
INSERT INTO ecommerce_connection (business_id, shop_domain, status) VALUES ('$business', '$shop', 'active');
SQL

median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
peak_rss_mib() { awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

# (a) gateway vs nginx ------------------------------------------------------------------------------------------
gateway_report="(a) gateway   not run (INGEST_ONLY=1)"; always_rps=0; gateway_rps=1; nginx_rps=1; always_p99=0; gateway_rss=0; invalid=""
python3 scripts/bench/make_order_jobs.py body "$shop" > "$work/body.json"
signature=$(openssl dgst -sha256 -hmac "$SHOPIFY_API_SECRET" -binary < "$work/body.json" | base64)
run_wrk() {
  RUN_ID="$(date +%s%N)" BODY_FILE="$work/body.json" SIGNATURE="$signature" SHOP="$shop" \
    wrk -t2 -c64 -d10s -s scripts/bench/webhook.lua "$1" | grep '^RESULT'
}
# A valid wrk run answered every request 2xx without socket errors; a gateway's run also enqueued each one it
# answered (requests still in flight when wrk stops may be enqueued without being counted as answered: more is fine).
check_wrk() {  # $1 = what ran, $2 = its RESULT line, $3 = the jobs enqueued meanwhile (none for nginx)
  local bad answered
  bad=$(( $(echo "$2" | field non2xx) + $(echo "$2" | field errors) ))
  [ "$bad" = 0 ] || invalid+=" $1: $bad non-2xx or socket errors;"
  [ -z "${3:-}" ] && return
  answered=$(echo "$2" | field requests)
  [ "$3" -ge "$answered" ] || invalid+=" $1: $answered answered, $3 enqueued;"
}
if [ "${INGEST_ONLY:-0}" != 1 ] && [ "${CLUSTER_ONLY:-0}" != 1 ]; then
cat > "$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / { default_type application/json; return 200 '{"ok":true}'; }
  }
}
NGINX
nginx -c "$work/nginx.conf" -p "$work"
HTTP_HOST=127.0.0.1 HTTP_PORT=$GATEWAY_PORT "$bin/ecommerce-gateway" & gateway=$!; pids+=($gateway)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$GATEWAY_PORT/readyz" >/dev/null && break; sleep 0.1; done

echo "== (a) gateway vs nginx, wrk -t2 -c64 -d10s, ${ROUNDS} rounds"
invalid=""
: > "$work/gateway.txt"; : > "$work/nginx.txt"; : > "$work/gateway-always.txt"
for round in $(seq 1 "$ROUNDS"); do
  before=$(redis-cli -p $redis_port zcard {ecommerce-orders}:ready)
  g=$(run_wrk "http://127.0.0.1:$GATEWAY_PORT/ecommerce/webhooks/shopify")
  after=$(redis-cli -p $redis_port zcard {ecommerce-orders}:ready)
  n=$(run_wrk "http://127.0.0.1:$NGINX_PORT/")
  redis-cli -p $redis_port flushall >/dev/null
  redis-cli -p $redis_port config set appendfsync always >/dev/null
  a=$(run_wrk "http://127.0.0.1:$GATEWAY_PORT/ecommerce/webhooks/shopify")
  redis-cli -p $redis_port config set appendfsync everysec >/dev/null
  check_wrk "round $round gateway" "$g" $((after - before)); check_wrk "round $round nginx" "$n"
  check_wrk "round $round gateway-always" "$a"
  echo "  round $round gateway: $g enqueued=$((after - before))"
  echo "  round $round gateway, appendfsync always: $a"
  echo "  round $round nginx:   $n"
  echo "$g" >> "$work/gateway.txt"; echo "$n" >> "$work/nginx.txt"; echo "$a" >> "$work/gateway-always.txt"
  # Each round starts from an empty Redis: a round leaves ~200,000 jobs and as many dedupe keys, and carrying them
  # over makes Redis rewrite its AOF (a fork writing hundreds of MB) during the next round's measurement.
  redis-cli -p $redis_port flushall >/dev/null
done
gateway_rss=$(peak_rss_mib "$gateway")
gateway_rps=$(field requests_per_sec < "$work/gateway.txt" | median)
gateway_p99=$(field p99_ms < "$work/gateway.txt" | median)
always_rps=$(field requests_per_sec < "$work/gateway-always.txt" | median)
always_p99=$(field p99_ms < "$work/gateway-always.txt" | median)
nginx_rps=$(field requests_per_sec < "$work/nginx.txt" | median)
nginx_p99=$(field p99_ms < "$work/nginx.txt" | median)
kill -TERM "$gateway"; wait "$gateway" 2>/dev/null || true
kill "$(cat "$work/nginx.pid")"; rm -f "$work/nginx.pid"
redis-cli -p $redis_port flushall >/dev/null
gateway_report="(a) gateway   $gateway_rps req/s, p99 $gateway_p99 ms | nginx $nginx_rps req/s, p99 $nginx_p99 ms | ratio $(awk -v a="$gateway_rps" -v b="$nginx_rps" 'BEGIN { printf "%.2f", a / b }') (bar >= 0.30, p99 <= 20 ms)"
fi
if [ "${GATEWAY_ONLY:-0}" = 1 ]; then  # (a) alone: an A/B of two commits' gateways
  echo "gateway benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(git rev-parse --short HEAD), medians of $ROUNDS rounds"
  echo "$gateway_report"
  [ -z "$invalid" ] || { echo "bench-foundation: invalid runs:$invalid" >&2; exit 1; }
  exit 0
fi

# (b) ingestion vs pgbench --------------------------------------------------------------------------------------
: > "$work/worker-rss.txt"
# The measured workers run without the stock-change relay (INVENTORY_RELAY=off), as pgbench, their baseline, relays
# nothing: both leave their outbox rows behind, and both sets are dropped after each phase. What the relay costs is
# measured on its own, by a third drain with one worker relaying as a production worker does by default.
batch_env() {  # $1 = on/off: the worker environment for micro-batched ingestion
  if [ "$1" = on ]; then echo "WORKER_CONCURRENCY=128 INGEST_BATCH_SIZE=64 INGEST_BATCH_CONCURRENCY=2 INGEST_BATCH_LINGER_MS=2"; else echo "WORKER_CONCURRENCY=4"; fi
}
# Where the orders queue lives: one Redis, or (f) the cluster's master of the queue's slot (set below).
orders_port=$redis_port; orders_url=$REDIS_URL
drain() {  # $1 = worker processes, $2 = on/off: the relay in each, $3 = duplicate share, $4 = direct|unnamed|pooled, $5 = batching on/off; prints orders/s
  local count=$1 relay=$2 duplicates=$3 database=${4:-direct} batching=${5:-off} started worker_pids=() url=$DATABASE_URL pooling=session
  [ "$database" = direct ] || pooling=transaction
  [ "$database" = pooled ] && url=$POOLED_DATABASE_URL
  # Loaded aside first (under the queue's hash tag: in its slot on a cluster) and renamed onto the queue when the
  # clock starts: loading is not part of draining.
  python3 scripts/bench/make_order_jobs.py jobs "$business" "$shop" "$JOBS" "$duplicates" "$VARIANTS" "{ecommerce-orders}:bench-pending" > "$work/jobs.resp"
  redis-cli -p "$orders_port" --pipe < "$work/jobs.resp" >/dev/null
  for i in $(seq 1 "$count"); do
    # shellcheck disable=SC2046 # batch_env's words are NAME=VALUE pairs
    env REDIS_URL="$orders_url" DATABASE_URL="$url" DATABASE_POOLING=$pooling $(batch_env "$batching") \
      WORKER_QUEUES=ecommerce-orders INVENTORY_RELAY="$relay" METRICS_HOST=127.0.0.1 METRICS_PORT=$((19090 + i)) \
      "$bin/ecommerce-worker" run & worker_pids+=($!); pids+=($!)
  done
  for i in $(seq 1 "$count"); do
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$((19090 + i))/healthz" >/dev/null && break; sleep 0.1; done
  done
  psql "$psql_url" -qc CHECKPOINT >/dev/null  # each measured phase, pgbench's too, starts with no dirty buffers to flush
  started=$(date +%s.%N)
  redis-cli -p "$orders_port" rename "{ecommerce-orders}:bench-pending" "{ecommerce-orders}:ready" >/dev/null
  local finished; finished=$(python3 scripts/bench/wait_drained.py "$orders_port" ecommerce-orders)
  for pid in "${worker_pids[@]}"; do
    peak_rss_mib "$pid" >> "$work/worker-rss.txt"; echo >> "$work/worker-rss.txt"  # drain runs in a subshell
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  done
  local dead; dead=$(redis-cli -p "$orders_port" hlen "{ecommerce-orders}:dead")
  [ "$dead" = 0 ] || echo "  WARNING: $dead dead letters" >&2
  psql "$psql_url" -qc "DELETE FROM ecommerce_inventory_outbox" >/dev/null
  awk -v n="$JOBS" -v s="$started" -v f="$finished" 'BEGIN { printf "%.1f", n / (f - s) }'
}
python3 scripts/bench/make_ingest_pgbench.py "$VARIANTS" > "$work/ingest.pgbench"  # the worker's statement, as pgbench runs it
python3 scripts/bench/make_ingest_pgbench.py "$VARIANTS" --batch 64 > "$work/ingest-batch.pgbench"  # a batching worker's
echo "== (b) ingestion of $JOBS new order jobs (3 lines) vs pgbench on new orders, ${ROUNDS} rounds; (d) through PgBouncer"
: > "$work/one.txt"; : > "$work/two.txt"; : > "$work/relaying.txt"; : > "$work/duplicates.txt"; : > "$work/pgbench.txt"
: > "$work/unnamed.txt"; : > "$work/pooled.txt"; : > "$work/pgbench-pooled.txt"
pgbench_tps() {  # $1 = port, $2 = protocol, $3 = clients (4), $4 = script (the single-order transaction)
  psql "$psql_url" -qc CHECKPOINT >/dev/null
  local tps
  tps=$(pgbench -h 127.0.0.1 -p "$1" -U postgres -n -M "$2" -c "${3:-4}" -j 2 -T 10 -D business=$business \
    -f "${4:-$work/ingest.pgbench}" ecommerce 2>"$work/pgbench.err" | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
  [ -n "$tps" ] || { echo "pgbench failed:" >&2; cat "$work/pgbench.err" >&2; exit 1; }
  # pgbench's stock changes fill the inventory outbox too (the trigger is part of the transaction): drop them, as
  # the workers' are dropped, so that no later phase starts with a backlog.
  psql "$psql_url" -qc "DELETE FROM ecommerce_inventory_outbox" >/dev/null
  echo "$tps"
}
pooled_port=${POOLED_DATABASE_URL##*:}; pooled_port=${pooled_port%%/*}
paced() {  # $1 = batching on/off: one worker, orders one at a time; prints "p50_ms=… p99_ms=…"
  local worker
  # shellcheck disable=SC2046
  env $(batch_env "$1") WORKER_QUEUES=ecommerce-orders INVENTORY_RELAY=off METRICS_HOST=127.0.0.1 METRICS_PORT=19099 \
    "$bin/ecommerce-worker" run >/dev/null & worker=$!; pids+=($worker)
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:19099/healthz" >/dev/null && break; sleep 0.1; done
  python3 scripts/bench/paced_orders.py $redis_port "$psql_url" "$business" "$shop" 200
  kill -TERM "$worker"; wait "$worker" 2>/dev/null || true
  psql "$psql_url" -qc "DELETE FROM ecommerce_inventory_outbox" >/dev/null
}
: > "$work/batched.txt"; : > "$work/paced-off.txt"; : > "$work/paced-on.txt"; : > "$work/pgbench-2.txt"; : > "$work/pgbench-batch.txt"
echo 0 > "$work/worker-rss.txt"
for round in $(seq 1 "$( [ "${CLUSTER_ONLY:-0}" = 1 ] && echo 0 || echo "$ROUNDS")"); do
  one=$(drain 1 off 0); two=$(drain 2 off 0); relaying=$(drain 1 on 0); duplicated=$(drain 1 off 0.1)
  unnamed=$(drain 1 off 0 unnamed); pooled=$(drain 1 off 0 pooled); batched=$(drain 1 off 0 direct on)
  paced_off=$(paced off); paced_on=$(paced on)
  echo "  round $round (e): 1 worker batched ${batched}/s; one at a time: unbatched $paced_off, batched $paced_on"
  echo "$batched" >> "$work/batched.txt"; echo "$paced_off" >> "$work/paced-off.txt"; echo "$paced_on" >> "$work/paced-on.txt"
  pg=$(pgbench_tps 35432 prepared)
  pg_pooled=$(pgbench_tps "$pooled_port" extended)
  pg2=$(pgbench_tps 35432 prepared 2); pg_batch=$(pgbench_tps 35432 prepared 2 "$work/ingest-batch.pgbench")
  echo "  round $round (e): pgbench 2 clients ${pg2} tps; PostgreSQL alone on the batch statement ${pg_batch} tps x 64 orders"
  echo "$pg2" >> "$work/pgbench-2.txt"; echo "$pg_batch" >> "$work/pgbench-batch.txt"
  echo "  round $round (d): 1 worker unnamed ${unnamed}/s, through pgbouncer ${pooled}/s, pgbench through pgbouncer ${pg_pooled} tps"
  echo "$unnamed" >> "$work/unnamed.txt"; echo "$pooled" >> "$work/pooled.txt"; echo "$pg_pooled" >> "$work/pgbench-pooled.txt"
  echo "  round $round: 1 worker ${one}/s, 2 workers ${two}/s, 1 worker relaying ${relaying}/s, 1 worker with 10 % duplicates ${duplicated}/s, pgbench ${pg} tps"
  echo "$one" >> "$work/one.txt"; echo "$two" >> "$work/two.txt"; echo "$relaying" >> "$work/relaying.txt"
  echo "$duplicated" >> "$work/duplicates.txt"
  echo "$pg" >> "$work/pgbench.txt"
done
one=$(median < "$work/one.txt"); two=$(median < "$work/two.txt"); relaying=$(median < "$work/relaying.txt")
duplicated=$(median < "$work/duplicates.txt")
pg=$(median < "$work/pgbench.txt")
unnamed=$(median < "$work/unnamed.txt"); pooled=$(median < "$work/pooled.txt"); pg_pooled=$(median < "$work/pgbench-pooled.txt")
batched=$(median < "$work/batched.txt"); pg2=$(median < "$work/pgbench-2.txt")
pg_batch_orders=$(median < "$work/pgbench-batch.txt" | awk '{ printf "%.0f", $1 * 64 }')
paced_off_p50=$(field p50_ms < "$work/paced-off.txt" | median); paced_off_p99=$(field p99_ms < "$work/paced-off.txt" | median)
paced_on_p50=$(field p50_ms < "$work/paced-on.txt" | median); paced_on_p99=$(field p99_ms < "$work/paced-on.txt" | median)
worker_rss=$(sort -n "$work/worker-rss.txt" | tail -1)

# (f) Redis Cluster vs one Redis ---------------------------------------------------------------------------------
cluster_report="(f) cluster   not run (SKIP_CLUSTER=1)"
if [ "${SKIP_CLUSTER:-0}" != 1 ]; then
  scripts/services.sh start-cluster bench >/dev/null
  cluster_url=$(scripts/services.sh cluster-env bench | cut -d= -f2-)
  cluster_first=${cluster_url#redis-cluster://127.0.0.1:}; cluster_first=${cluster_first%%,*}
  # The port of the master serving the orders queue's slot: where the benchmark loads and watches the queue.
  orders_slot=$(redis-cli -p "$cluster_first" cluster keyslot "{ecommerce-orders}:ready")
  cluster_orders_port=$(redis-cli -p "$cluster_first" cluster nodes | awk -v slot="$orders_slot" '$3 ~ /master/ {
    for (i = 9; i <= NF; i++) { n = split($i, range, "-"); if (n == 1) range[2] = range[1]
      if (slot >= range[1] && slot <= range[2]) { split($2, address, "[:@]"); print address[2] } } }')
  flush_cluster() { for port in $(seq "$cluster_first" $((cluster_first + 5))); do redis-cli -p "$port" flushall >/dev/null 2>&1 || true; done; }
  # Where a gateway run's time goes: CPU time (user + system, in clock ticks) of the gateway and of the Redis processes
  # (one, or the cluster's six: masters and the replicas they replicate to) over the run, per request answered.
  cpu_ticks() { local ticks=0; for pid in "$@"; do ticks=$((ticks + $(awk '{ print $14 + $15 }' "/proc/$pid/stat"))); done; echo "$ticks"; }
  per_request_us() { awk -v t="$1" -v hz="$(getconf CLK_TCK)" -v n="$2" 'BEGIN { printf "%.1f", t / hz / n * 1e6 }'; }
  single_redis=$(cat .local/bench/redis/redis.pid)
  cluster_redis=$(cat .local/bench/redis-cluster/*/redis.pid | tr '\n' ' ')
  HTTP_HOST=127.0.0.1 HTTP_PORT=$GATEWAY_PORT "$bin/ecommerce-gateway" & single_gateway=$!; pids+=($single_gateway)
  REDIS_URL=$cluster_url HTTP_HOST=127.0.0.1 HTTP_PORT=$((GATEWAY_PORT + 2)) "$bin/ecommerce-gateway" & cluster_gateway=$!; pids+=($cluster_gateway)
  for port in $GATEWAY_PORT $((GATEWAY_PORT + 2)); do
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
  done
  echo "== (f) Redis Cluster (orders queue on the master at :$cluster_orders_port) vs one Redis, ${ROUNDS} rounds"
  : > "$work/f-gateway-single.txt"; : > "$work/f-gateway-cluster.txt"; : > "$work/f-ingest-single.txt"; : > "$work/f-ingest-cluster.txt"
  : > "$work/f-cpu-single.txt"; : > "$work/f-cpu-cluster.txt"
  for round in $(seq 1 "$ROUNDS"); do
    g0=$(cpu_ticks "$single_gateway"); r0=$(cpu_ticks "$single_redis")
    gs=$(run_wrk "http://127.0.0.1:$GATEWAY_PORT/ecommerce/webhooks/shopify")
    g1=$(cpu_ticks "$single_gateway"); r1=$(cpu_ticks "$single_redis")
    redis-cli -p $redis_port flushall >/dev/null
    echo "gateway_us=$(per_request_us $((g1 - g0)) "$(echo "$gs" | field requests)") redis_us=$(per_request_us $((r1 - r0)) "$(echo "$gs" | field requests)")" >> "$work/f-cpu-single.txt"
    before=$(redis-cli -p "$cluster_orders_port" zcard "{ecommerce-orders}:ready")
    # shellcheck disable=SC2086 # the cluster's pids, one word each
    g0=$(cpu_ticks "$cluster_gateway"); r0=$(cpu_ticks $cluster_redis)
    gc=$(run_wrk "http://127.0.0.1:$((GATEWAY_PORT + 2))/ecommerce/webhooks/shopify")
    # shellcheck disable=SC2086
    g1=$(cpu_ticks "$cluster_gateway"); r1=$(cpu_ticks $cluster_redis)
    echo "gateway_us=$(per_request_us $((g1 - g0)) "$(echo "$gc" | field requests)") redis_us=$(per_request_us $((r1 - r0)) "$(echo "$gc" | field requests)")" >> "$work/f-cpu-cluster.txt"
    after=$(redis-cli -p "$cluster_orders_port" zcard "{ecommerce-orders}:ready")
    flush_cluster
    check_wrk "(f) round $round gateway on one Redis" "$gs"; check_wrk "(f) round $round gateway on the cluster" "$gc" $((after - before))
    orders_port=$redis_port; orders_url=$REDIS_URL; is=$(drain 1 off 0)
    orders_port=$cluster_orders_port; orders_url=$cluster_url; ic=$(drain 1 off 0)
    orders_port=$redis_port; orders_url=$REDIS_URL
    echo "  round $round (f): gateway one Redis $gs"
    echo "  round $round (f): gateway cluster   $gc enqueued=$((after - before))"
    echo "  round $round (f): 1 worker one Redis ${is}/s, on the cluster ${ic}/s"
    echo "$gs" >> "$work/f-gateway-single.txt"; echo "$gc" >> "$work/f-gateway-cluster.txt"
    echo "$is" >> "$work/f-ingest-single.txt"; echo "$ic" >> "$work/f-ingest-cluster.txt"
  done
  kill -TERM "$single_gateway" "$cluster_gateway"; wait "$single_gateway" "$cluster_gateway" 2>/dev/null || true
  fgs=$(field requests_per_sec < "$work/f-gateway-single.txt" | median); fgs99=$(field p99_ms < "$work/f-gateway-single.txt" | median)
  fgc=$(field requests_per_sec < "$work/f-gateway-cluster.txt" | median); fgc99=$(field p99_ms < "$work/f-gateway-cluster.txt" | median)
  fis=$(median < "$work/f-ingest-single.txt"); fic=$(median < "$work/f-ingest-cluster.txt")
  cpu() { field "$1" < "$work/f-cpu-$2.txt" | median; }
  cluster_report="(f) cluster   gateway on the cluster $fgc req/s, p99 $fgc99 ms | on one Redis $fgs req/s, p99 $fgs99 ms | ratio $(awk -v a="$fgc" -v b="$fgs" 'BEGIN { printf "%.2f", a / b }')
    CPU per request: gateway $(cpu gateway_us cluster) us on the cluster, $(cpu gateway_us single) us on one Redis | Redis $(cpu redis_us cluster) us (6 nodes), $(cpu redis_us single) us (one)
    1 worker x4 ingesting on the cluster $fic orders/s | on one Redis $fis orders/s | ratio $(awk -v a="$fic" -v b="$fis" 'BEGIN { printf "%.2f", a / b }')"
fi
if [ "${CLUSTER_ONLY:-0}" = 1 ]; then
  echo "cluster benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(git rev-parse --short HEAD), medians of $ROUNDS rounds"
  echo "$cluster_report"
  echo "$cluster_report" > "$results/foundation-cluster-$(date -u +%Y%m%dT%H%M).txt"
  [ -z "$invalid" ] || { echo "bench-foundation: invalid runs:$invalid" >&2; exit 1; }
  exit 0
fi
applied=$(psql "$psql_url" -tAc "SELECT count(*) FROM ecommerce_ingested_order WHERE business_id = '$business' AND source = 'webhook'")

report=$(cat <<TXT
foundation benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, medians of $ROUNDS rounds
$gateway_report
    gateway with appendfsync always $always_rps req/s, p99 $always_p99 ms | $(awk -v a="$always_rps" -v b="$gateway_rps" 'BEGIN { printf "%.2f", a / b }') x everysec, $(awk -v a="$always_rps" -v b="$nginx_rps" 'BEGIN { printf "%.2f", a / b }') x nginx
(b) ingestion 1 worker x4 $one orders/s | 2 workers x4 $two orders/s | pgbench 4 clients $pg tps | ratio 1 worker $(awk -v a="$one" -v b="$pg" 'BEGIN { printf "%.2f", a / b }'), 2 workers $(awk -v a="$two" -v b="$pg" 'BEGIN { printf "%.2f", a / b }') (bar >= 0.70)
    1 worker x4 also relaying its stock changes (INVENTORY_RELAY=on; not in the baseline) $relaying orders/s, ratio $(awk -v a="$relaying" -v b="$pg" 'BEGIN { printf "%.2f", a / b }')
    1 worker x4 with 10 % duplicate deliveries (the cheap path; not in the baseline) $duplicated orders/s
$(if [ -n "$invalid" ]; then echo "INVALID wrk runs:$invalid"; fi)
    distinct orders ingested over all rounds and pgbench: $applied
(c) peak RSS  gateway $gateway_rss MiB | worker $worker_rss MiB (bar <= 100 MiB)
(d) pgbouncer 1 worker x4 through PgBouncer (DATABASE_POOLING=transaction) $pooled orders/s = $(awk -v a="$pooled" -v b="$one" 'BEGIN { printf "%.2f", a / b }') x direct | the same direct, statement unnamed $unnamed orders/s = $(awk -v a="$unnamed" -v b="$one" 'BEGIN { printf "%.2f", a / b }') x prepared | pgbench through PgBouncer (-M extended) $pg_pooled tps = $(awk -v a="$pg_pooled" -v b="$pg" 'BEGIN { printf "%.2f", a / b }') x direct prepared
(e) batching  1 worker, 64 orders per transaction at most, 2 at once: $batched orders/s = $(awk -v a="$batched" -v b="$pg2" 'BEGIN { printf "%.2f", a / b }') x pgbench 2 clients, $pg2 tps (goal >= 1.5) = $(awk -v a="$batched" -v b="$pg" 'BEGIN { printf "%.2f", a / b }') x pgbench 4 clients = $(awk -v a="$batched" -v b="$one" 'BEGIN { printf "%.2f", a / b }') x unbatched | PostgreSQL alone on the batch statement (pgbench 2 clients) $pg_batch_orders orders/s
    enqueue to commit, one order at a time: unbatched p50 $paced_off_p50 ms p99 $paced_off_p99 ms, batched p50 $paced_on_p50 ms p99 $paced_on_p99 ms
$cluster_report
TXT
)
echo "$report"
echo "$report" > "$results/foundation-$(date -u +%Y%m%dT%H%M).txt"
if [ -n "$invalid" ]; then
  echo "bench-foundation: invalid runs (non-2xx answers, socket errors or jobs not enqueued):$invalid" >&2
  exit 1
fi
