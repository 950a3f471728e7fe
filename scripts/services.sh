#!/usr/bin/env bash
# Starts and stops a throwaway Redis (AOF on), PostgreSQL 15 and a PgBouncer in transaction pooling mode in front of
# it (the port after PostgreSQL's, PGBOUNCER_PORT) on 127.0.0.1, with their data under .local/.
#
#   scripts/services.sh start|stop|status|env|start-redis|stop-redis|restart-redis|kill-redis|restart-postgres [NAME]
#   scripts/services.sh start-cluster|stop-cluster|cluster-env [NAME]
#   scripts/services.sh kill-cluster-node|start-cluster-node [NAME] PORT
#
# start-cluster makes a Redis Cluster of 6 redis-server processes (3 masters, 3 replicas, `redis-cli --cluster
# create`) on REDIS_CLUSTER_PORT … +5 (REDIS_PORT + 21 unless set: 16400 for test), AOF on as above, a node timeout of
# 1 s so that a replica takes over a dead master within a few seconds; cluster-env prints its REDIS_URL. A node
# killed with kill-cluster-node (SIGKILL) comes back with start-cluster-node, as a replica of its replacement.
#
# Redis keeps an AOF; REDIS_APPENDFSYNC (everysec, the default, or always) says when it reaches the disk. The gateway
# answers a webhook 200 once its LPUSH returned: with everysec a Redis crash (kill-redis: SIGKILL, then a start from
# the AOF) can lose up to a second of accepted webhooks, which polling recovers later; with always nothing
# acknowledged is lost, at the price scripts/bench-foundation.sh measures.
#
# NAME (default "test") picks the data folder .local/NAME and, unless REDIS_PORT / PG_PORT are set, the ports:
# test → 16379 / 15432, dev → 26379 / 25432, bench → 36379 / 35432, ui (the dashboard check) → 17379 / 17432,
# chaos → 18379 / 18432, trace (the tracing check) → 19379 / 19432, api (the API fuzz) → 21379 / 21432, anything else → 6379 / 5432. So a test run, a demo and the chaos suite coexist. Ports the
# test command uses stay below 32768: above, in Linux's ephemeral range, a client socket may hold the port already.
# `env` prints the REDIS_URL and DATABASE_URL to use. Services are stopped by their pid files.
set -euo pipefail
cd "$(dirname "$0")/.."
command=${1:-}
name=${2:-test}
case "$name" in
  test) default_redis=16379 default_pg=15432 ;;
  dev) default_redis=26379 default_pg=25432 ;;
  bench) default_redis=36379 default_pg=35432 ;;
  ui) default_redis=17379 default_pg=17432 ;;
  chaos) default_redis=18379 default_pg=18432 ;;
  trace) default_redis=19379 default_pg=19432 ;;
  api) default_redis=21379 default_pg=21432 ;;
  *) default_redis=6379 default_pg=5432 ;;
esac
REDIS_PORT=${REDIS_PORT:-$default_redis}
REDIS_APPENDFSYNC=${REDIS_APPENDFSYNC:-everysec}
case "$REDIS_APPENDFSYNC" in
  always | everysec) ;;
  *) echo "services: REDIS_APPENDFSYNC must be always or everysec" >&2; exit 2 ;;
esac
REDIS_CLUSTER_PORT=${REDIS_CLUSTER_PORT:-$((REDIS_PORT + 21))}
PG_PORT=${PG_PORT:-$default_pg}
PGBOUNCER_PORT=${PGBOUNCER_PORT:-$((PG_PORT + 1))}
root="$PWD/.local/$name"
pg_bin=/usr/lib/postgresql/15/bin
redis_dir="$root/redis"
pg_data="$root/pg/data"
pg_run="$root/pg/run"
bouncer_dir="$root/pgbouncer"
cluster_dir="$root/redis-cluster"
cluster_ports=$(seq "$REDIS_CLUSTER_PORT" $((REDIS_CLUSTER_PORT + 5)))
database=ecommerce

print_env() {
  echo "REDIS_URL=redis://127.0.0.1:$REDIS_PORT"
  echo "DATABASE_URL=postgres://postgres@127.0.0.1:$PG_PORT/$database?sslmode=disable"
  echo "POOLED_DATABASE_URL=postgres://postgres@127.0.0.1:$PGBOUNCER_PORT/$database?sslmode=disable"
}

# PgBouncer as Debian ships it (1.18), transaction pooling: a server connection belongs to a client for one
# transaction only, so session state (named prepared statements, session advisory locks, SET) does not survive.
# Any database name is passed through to the same server (scratch databases included). It refuses to run as root.
start_pgbouncer() {
  mkdir -p "$bouncer_dir"
  if [ -f "$bouncer_dir/pgbouncer.pid" ] && kill -0 "$(cat "$bouncer_dir/pgbouncer.pid")" 2>/dev/null; then return; fi
  cat >"$bouncer_dir/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=$PG_PORT
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGBOUNCER_PORT
unix_socket_dir =
auth_type = trust
auth_file = $bouncer_dir/users.txt
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 20
ignore_startup_parameters = extra_float_digits,options
pidfile = $bouncer_dir/pgbouncer.pid
logfile = $bouncer_dir/pgbouncer.log
INI
  echo '"postgres" ""' >"$bouncer_dir/users.txt"
  chown -R postgres:postgres "$bouncer_dir"
  runuser -u postgres -- pgbouncer -d -q "$bouncer_dir/pgbouncer.ini"
  for _ in $(seq 1 100); do
    psql -h 127.0.0.1 -p "$PGBOUNCER_PORT" -U postgres -d "$database" -tAc "SELECT 1" >/dev/null 2>&1 && return
    sleep 0.1
  done
  echo "services: pgbouncer did not start on $PGBOUNCER_PORT (see $bouncer_dir/pgbouncer.log)" >&2
  exit 1
}

stop_pgbouncer() { stop_pidfile "$bouncer_dir/pgbouncer.pid" INT; }

start_redis() {
  mkdir -p "$redis_dir"
  if [ -f "$redis_dir/redis.pid" ] && kill -0 "$(cat "$redis_dir/redis.pid")" 2>/dev/null; then return; fi
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$redis_dir" \
    --pidfile "$redis_dir/redis.pid" --logfile "$redis_dir/redis.log" \
    --appendonly yes --appendfsync "$REDIS_APPENDFSYNC" --save "" --databases 32 >/dev/null
  await_redis "$REDIS_PORT" "$redis_dir/redis.log"
}

await_redis() {  # PORT LOG: waits up to 5 s for the Redis on PORT to answer, or stops naming its log
  for _ in $(seq 1 100); do
    redis-cli -p "$1" ping >/dev/null 2>&1 && return
    sleep 0.05
  done
  echo "services: the redis on $1 did not start; see $2" >&2
  exit 1
}

start_postgres() {
  mkdir -p "$root/pg" "$pg_run"
  chown -R postgres:postgres "$root/pg"
  if [ ! -f "$pg_data/PG_VERSION" ]; then
    # initdb refuses root: run it as the postgres user. Trust auth: a throwaway server on loopback only.
    runuser -u postgres -- "$pg_bin/initdb" -D "$pg_data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_data" status >/dev/null 2>&1; then return; fi
  runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_data" -l "$root/pg/postgres.log" -w -t 30 \
    -o "-p $PG_PORT -k $pg_run -c listen_addresses=127.0.0.1 -c max_connections=400 -c shared_buffers=256MB" start >/dev/null
  psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$database'" | grep -q 1 ||
    psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE $database" >/dev/null
}

# Sends SIGNAL to the pid in PIDFILE, waits up to 5 s for it to go, and removes the file.
stop_pidfile() {  # PIDFILE SIGNAL
  [ -f "$1" ] || return 0
  local pid
  pid=$(cat "$1")
  if kill -0 "$pid" 2>/dev/null; then
    kill -"$2" "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  fi
  rm -f "$1"
}

stop_redis() { stop_pidfile "$redis_dir/redis.pid" TERM; }

cluster_url() {
  local nodes=""
  for port in $cluster_ports; do nodes="$nodes${nodes:+,}127.0.0.1:$port"; done
  echo "redis-cluster://$nodes"
}

start_cluster_node() {  # PORT
  local dir="$cluster_dir/$1"
  mkdir -p "$dir"
  if [ -f "$dir/redis.pid" ] && kill -0 "$(cat "$dir/redis.pid")" 2>/dev/null; then return; fi
  redis-server --daemonize yes --bind 127.0.0.1 --port "$1" --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
    --cluster-enabled yes --cluster-config-file "$dir/nodes.conf" --cluster-node-timeout 1000 \
    --appendonly yes --appendfsync "$REDIS_APPENDFSYNC" --save "" >/dev/null
  await_redis "$1" "$dir/redis.log"
}

# Every node sees every slot served (cluster_state:ok) and knows all six nodes.
cluster_ready() {
  for port in $cluster_ports; do
    redis-cli -p "$port" cluster info 2>/dev/null | grep -q "cluster_state:ok" || return 1
    [ "$(redis-cli -p "$port" cluster nodes 2>/dev/null | grep -vc "fail")" -ge 6 ] || return 1
  done
}

start_cluster() {
  for port in $cluster_ports; do start_cluster_node "$port"; done
  if ! redis-cli -p "$REDIS_CLUSTER_PORT" cluster info | grep -q "cluster_slots_assigned:16384"; then
    local nodes=""
    for port in $cluster_ports; do nodes="$nodes 127.0.0.1:$port"; done
    # shellcheck disable=SC2086
    redis-cli --cluster create $nodes --cluster-replicas 1 --cluster-yes >"$cluster_dir/create.log" 2>&1 || {
      echo "services: redis-cli --cluster create failed; see $cluster_dir/create.log" >&2
      exit 1
    }
  fi
  for _ in $(seq 1 300); do
    cluster_ready && return
    sleep 0.1
  done
  echo "services: the cluster on $REDIS_CLUSTER_PORT did not become ready" >&2
  exit 1
}

stop_cluster() {
  for port in $cluster_ports; do stop_pidfile "$cluster_dir/$port/redis.pid" KILL; done
}

# A crash, not a shutdown: SIGKILL, so that Redis writes nothing more (what the AOF has not fsynced is lost).
kill_redis() { stop_pidfile "$redis_dir/redis.pid" KILL; }

stop_postgres() {
  [ -f "$pg_data/postmaster.pid" ] || return 0
  local pid
  pid=$(head -1 "$pg_data/postmaster.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -INT "$pid"  # fast shutdown
    for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  fi
}

case "$command" in
  start)
    scripts/install-deps.sh
    start_redis
    start_postgres
    start_pgbouncer
    print_env
    ;;
  stop)
    stop_pgbouncer
    stop_redis
    stop_cluster
    stop_postgres
    ;;
  start-cluster)
    scripts/install-deps.sh
    start_cluster
    echo "REDIS_URL=$(cluster_url)"
    ;;
  stop-cluster) stop_cluster ;;
  cluster-env) echo "REDIS_URL=$(cluster_url)" ;;
  # A crash of one node (SIGKILL): its replica takes over its slots after the node timeout.
  kill-cluster-node) stop_pidfile "$cluster_dir/${3:?port}/redis.pid" KILL ;;
  start-cluster-node) start_cluster_node "${3:?port}" ;;
  status)
    redis-cli -p "$REDIS_PORT" ping 2>/dev/null || echo "redis: down"
    psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "SELECT 'postgres: up'" 2>/dev/null || echo "postgres: down"
    ;;
  # For failure tests: Redis comes back from its AOF, PostgreSQL from its WAL.
  start-redis) start_redis ;;
  stop-redis) stop_redis ;;
  restart-redis)
    stop_redis
    start_redis
    ;;
  kill-redis)
    kill_redis
    start_redis
    ;;
  restart-postgres)
    stop_postgres
    start_postgres
    ;;
  env) print_env ;;
  *)
    echo "usage: scripts/services.sh start|stop|status|env|start-redis|stop-redis|restart-redis|kill-redis|restart-postgres|start-cluster|stop-cluster|cluster-env [NAME]" >&2
    echo "       scripts/services.sh kill-cluster-node|start-cluster-node NAME PORT" >&2
    exit 2
    ;;
esac
