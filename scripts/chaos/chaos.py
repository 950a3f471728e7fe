"""The chaos suite (not part of the test command): customers place ORDERS orders in the simulated shop while the
simulator duplicates 30 % and drops 10 % of the webhooks, one of four workers is SIGKILLed and restarted, Redis is
restarted (it comes back from its AOF), then SIGKILLed (a crash: what its AOF had not fsynced is lost, accepted
webhooks included, and polling must recover them) and PostgreSQL is restarted; a few poison jobs are injected. Then it waits
until the system has converged and checks: every order ingested exactly once, FlowPOS stock exactly as expected, no
job lost (dead letters are the injected poison and nothing else). Then the webhook fuzz runs against the same
gateway, once with Redis up and once with Redis down. Prints the figures; exits non-zero if a check fails.

  chaos.py BIN_DIR [ORDERS] [--cluster]        (scripts/chaos.sh builds and runs it)

With --cluster the system runs on a Redis Cluster (6 nodes, 3 masters and 3 replicas: scripts/services.sh
start-cluster) and the Redis disruptions are a failover instead: the master serving the orders queue's slot is
SIGKILLed while orders flow, its replica takes over; the time from the kill to the replica's promotion and to orders
being ingested again is printed, the killed node then rejoins as a replica. What the master had not replicated when it
died is lost to Redis (replication is asynchronous): polling must recover those orders, as after a Redis crash.

Its own services ("chaos": Redis 18379, PostgreSQL 18432; fresh data each run), gateway on :18580, simulator on
:18581, worker metrics on :18591-18594. Logs in .local/chaos/logs.
"""

import concurrent.futures
import os
import random
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from ecommerce import ROOT, System, fresh_services, progress, say, services, wait_until  # noqa: E402

BUSINESS = "00000000-0000-4000-8000-0000000c4a05"
SHOP = "chaos-shop.myshopify.com"
PRODUCTS = 50
INITIAL_STOCK = 100_000
POISON = [f"chaos-poison-{n}" for n in range(1, 6)]
QUEUES = ["ecommerce-orders", "ecommerce-shop-events", "ecommerce-polling", "ecommerce-products", "ecommerce-collections", "ecommerce-inventory"]
WORKERS = 4


def main() -> int:
    arguments = [argument for argument in sys.argv[1:] if argument != "--cluster"]
    cluster = "--cluster" in sys.argv[1:]
    bin_dir = arguments[0]
    order_count = int(arguments[1]) if len(arguments) > 1 else 10_000
    fresh_services("chaos")
    if cluster:
        services("start-cluster", "chaos")
    system = System(
        "chaos",
        bin_dir,
        gateway_port=18580,
        simulator_port=18581,
        worker_metrics_base=18590,
        env={
            "POLL_INTERVAL_SECONDS": "20",
            "POLL_OVERLAP_SECONDS": "20",
            # A SIGKILLed worker's jobs come back after the lease.
            "WORKER_LEASE_SECONDS": "5",
            "LOG_LEVEL": "notice",
        },
        redis_cluster=cluster,
    )
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        return run(system, order_count, cluster)
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    finally:
        system.stop_all()
        services("stop", "chaos", check=False)
        say(f"logs: {system.log_dir}")


def run(system: System, order_count: int, cluster: bool) -> int:
    say(f"chaos: setting up (simulator as a Shopify Plus shop: bucket 10,000, 1,000 points/s; {WORKERS} workers"
        f"{'; Redis Cluster of 3 masters and 3 replicas' if cluster else ''})")
    system.migrate()
    system.start_simulator([SHOP], ["--bucket-size", "10000", "--restore-rate", "1000"])
    system.start_gateway()
    for index in range(1, WORKERS + 1):
        system.start_worker(index)
    system.connect_via_oauth(BUSINESS, SHOP)
    system.seed_catalog(BUSINESS, products=PRODUCTS, stock=INITIAL_STOCK, prefix="CHAOS")
    run = system.push("products", BUSINESS, show_progress=False)
    if run["status"] != "completed":
        raise RuntimeError(f"product push: {run}")
    variants = system.shop_variants(SHOP)
    skus = sorted(variants)

    for poison_id in POISON:
        system.inject_poison(poison_id, BUSINESS, SHOP)

    redis_disruptions = "the orders queue's Redis master SIGKILLed at 50 % (a failover)" if cluster else "Redis restarted at 50 %, SIGKILLed at 60 %"
    say(f"chaos: {order_count} orders; webhooks 30 % duplicated, 10 % dropped; a worker SIGKILLed at 25 %, {redis_disruptions}, PostgreSQL at 75 %")
    system.set_webhook_faults(drop=0.10, duplicate=0.30)
    stats_before = system.simulator("GET", f"/_control/shops/{SHOP}/stats").json()
    rng = random.Random(2026)
    plans = []
    for _ in range(order_count):
        chosen = rng.sample(skus, rng.randint(1, 3))
        plans.append([(sku, rng.randint(1, 3)) for sku in chosen])
    ordered: dict[int, int] = {}
    expected = {sku: INITIAL_STOCK for sku in skus}
    for plan in plans:
        for sku, quantity in plan:
            expected[sku] -= quantity
    events: list[str] = []
    lock = threading.Lock()
    placed = 0

    def place(plan):
        order = system.place_order(SHOP, [(variants[sku], quantity) for sku, quantity in plan])
        return order["id"], sum(quantity for _, quantity in plan)

    disruptions = {order_count // 4: kill_worker, 3 * order_count // 4: restart_postgres}
    if cluster:
        disruptions[order_count // 2] = fail_over
    else:
        disruptions.update({order_count // 2: restart_redis, 3 * order_count // 5: kill_redis})
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        for order_id, units in pool.map(place, plans):
            with lock:
                ordered[order_id] = units
                placed += 1
            progress("orders placed", placed, order_count)
            if placed in disruptions:
                events.append(disruptions[placed](system))
    placing_seconds = time.monotonic() - started
    system.set_webhook_faults(drop=0, duplicate=0)
    stats = system.simulator("GET", f"/_control/shops/{SHOP}/stats").json()
    dropped = stats["webhooksDropped"] - stats_before["webhooksDropped"]
    duplicated = stats["webhooksDuplicated"] - stats_before["webhooksDuplicated"]
    refused = stats["webhooksRefused"] - stats_before["webhooksRefused"]
    say(f"chaos: placed in {placing_seconds:.0f} s; webhooks dropped {dropped}, sent twice {duplicated}, refused attempts {refused}")

    say("chaos: waiting for the system to converge (webhooks, retries, recoveries, polls)")
    converge_started = time.monotonic()

    def converged():
        state = system.reconcile(BUSINESS, ordered)
        progress("orders ingested", state["ingested"], order_count)
        if state["missing"] or system.stock(BUSINESS) != expected:
            return None
        # Nothing of the orders queue left to run (ready or in flight).
        busy = int(system.redis("ZCARD", "{ecommerce-orders}:ready")) + int(system.redis("HLEN", "{ecommerce-orders}:inflight"))
        return state if busy == 0 else None

    try:
        final = wait_until("convergence", converged, 900, 2)
    except TimeoutError:
        final = system.reconcile(BUSINESS, ordered)
    converge_seconds = time.monotonic() - converge_started
    stock = system.stock(BUSINESS)
    wrong_stock = {sku: (stock.get(sku), expected[sku]) for sku in skus if stock.get(sku) != expected[sku]}
    dead = {queue: system.redis("HKEYS", f"{{{queue}}}:dead").split() for queue in QUEUES}
    unexpected_dead = {queue: [job for job in jobs if job not in POISON] for queue, jobs in dead.items()}
    unexpected_dead = {queue: jobs for queue, jobs in unexpected_dead.items() if jobs}
    poison_dead = sum(1 for job in dead["ecommerce-orders"] if job in POISON)

    say("chaos: webhook fuzz with Redis up, then with Redis down")
    fuzz_up = fuzz(system, rounds=40, redis="up")
    system.service("stop-cluster" if cluster else "stop-redis")
    try:
        fuzz_down = fuzz(system, rounds=10, redis="down")
    finally:
        system.service("start-cluster" if cluster else "start-redis")

    # Every job the killed worker held was recovered and finished: neither in flight nor dead now.
    unfinished_after_kill = [job for job in killed_holding
                             if system.redis("HEXISTS", "{ecommerce-orders}:inflight", job) == "1" or job in dead["ecommerce-orders"]]
    checks = {
        "the SIGKILLed worker held jobs, and each was recovered": bool(killed_holding) and not unfinished_after_kill,
        **({"the killed master's replica took over and orders flowed again": failover["flowing"] is not None} if cluster else {}),
        "every order ingested (lost = 0)": not final["missing"],
        "no order applied twice (double-applied = 0)": not final["double"],
        "no order applied in part": not final["short"],
        "FlowPOS stock exactly as expected": not wrong_stock,
        f"dead letters only the {len(POISON)} injected poison jobs": poison_dead == len(POISON) and not unexpected_dead,
        "fuzz with Redis up: every answer as expected (valid ones 200, forged ones 401, no 5xx)": fuzz_up[0] == 0,
        "fuzz with Redis down: every answer as expected (valid ones 503, forged ones 401)": fuzz_down[0] == 0,
    }
    say("\n== chaos summary")
    say(f"orders placed           {order_count} ({sum(ordered.values())} units) in {placing_seconds:.0f} s")
    say(f"webhooks                dropped {dropped}, duplicated {duplicated}, delivery attempts refused {refused}")
    say(f"disruptions             {'; '.join(events)}")
    say(f"killed worker's jobs    {len(killed_holding)} held at the kill, {len(unfinished_after_kill)} not finished since")
    say(f"poison jobs injected    {len(POISON)}, in dead letters {poison_dead}")
    say(f"ingested                {final['ingested']} (first seen by {final['sources']})")
    say(f"lost                    {len(final['missing'])}")
    say(f"double-applied          {len(final['double'])}")
    say(f"applied in part         {len(final['short'])}")
    say(f"stock mismatches        {len(wrong_stock)} of {len(skus)} SKUs {dict(list(wrong_stock.items())[:5]) if wrong_stock else ''}")
    say(f"other dead letters      {sum(len(jobs) for jobs in unexpected_dead.values())} {unexpected_dead if unexpected_dead else ''}")
    say(f"time to converge        {converge_seconds:.0f} s after the last order")
    say(f"fuzz, Redis up          {fuzz_up[1]}")
    say(f"fuzz, Redis down        {fuzz_down[1]}")
    for name, passed in checks.items():
        say(f"  {'PASS' if passed else 'FAIL'}  {name}")
    return 0 if all(checks.values()) else 1


# The jobs worker 3 held when it was SIGKILLed: the kill proves recovery only if there were some.
killed_holding: list[str] = []


def held_by(system: System, pid: int) -> list[str]:
    """Ids of the order jobs the worker process `pid` has claimed (`{ecommerce-orders}:owners` maps job id to worker id,
    `HOST-PID-RANDOM`)."""
    fields = system.redis("HGETALL", "{ecommerce-orders}:owners").split()
    return [job for job, owner in zip(fields[0::2], fields[1::2]) if f"-{pid}-" in owner]


def kill_worker(system: System) -> str:
    pid = system.processes["worker-3"].pid
    # Kill it only while it holds jobs (a few seconds at most while orders flow); else the kill tests nothing.
    for _ in range(100):
        held = held_by(system, pid)
        if held:
            break
        time.sleep(0.05)
    system.kill("worker-3", signal.SIGKILL)
    killed_holding.extend(held)
    time.sleep(2)
    system.start_worker(3)
    return f"worker 3 SIGKILLed holding {len(held)} order jobs, and restarted"


# What the failover measured (seconds after the kill; None if it did not happen).
failover: dict = {"promoted": None, "flowing": None}


def ingested_count(system: System) -> int:
    return int(system.sql("SELECT count(*) FROM ecommerce_ingested_order")[0][0])


def fail_over(system: System) -> str:
    """SIGKILLs the master serving the orders queue's slot while orders flow; waits for its replica to take over and
    for orders to be ingested again; brings the killed node back (it rejoins as a replica of its replacement)."""
    slot = int(system.redis("CLUSTER", "KEYSLOT", "{ecommerce-orders}:ready"))
    port = system.master_port(slot)
    killed = time.monotonic()
    system.service("kill-cluster-node", str(port))
    try:
        wait_until("a replica promoted", lambda: system.master_port(slot) not in (None, port), 60, 0.05)
        failover["promoted"] = time.monotonic() - killed
        # Jobs claimed before the kill may still finish: flowing again means an ingestion after the promotion.
        promoted_at = ingested_count(system)
        wait_until("orders ingested again", lambda: ingested_count(system) > promoted_at, 120, 0.05)
        failover["flowing"] = time.monotonic() - killed
    except TimeoutError:
        pass
    system.service("start-cluster-node", str(port))
    promoted = f"{failover['promoted']:.1f} s" if failover["promoted"] is not None else "never"
    flowing = f"{failover['flowing']:.1f} s" if failover["flowing"] is not None else "never"
    return (f"Redis master :{port} (serving the orders queue's slot {slot}) SIGKILLed: its replica promoted after {promoted}, "
            f"orders ingested again {flowing} after the kill; the old master back as a replica")


def restart_redis(system: System) -> str:
    started = time.monotonic()
    system.service("restart-redis")
    return f"Redis restarted from its AOF ({time.monotonic() - started:.1f} s down)"


def kill_redis(system: System) -> str:
    def waiting() -> int:
        # Right after a start Redis may still be loading its AOF (an error reply, not a number): ask again.
        for _ in range(100):
            try:
                return int(system.redis("ZCARD", "{ecommerce-orders}:ready")) + int(system.redis("HLEN", "{ecommerce-orders}:inflight"))
            except ValueError:
                time.sleep(0.1)
        return -1

    started = time.monotonic()
    accepted = waiting()
    system.service("kill-redis")
    after = waiting()
    return (f"Redis SIGKILLed and started from its AOF ({time.monotonic() - started:.1f} s down; "
            f"order jobs waiting {accepted} before, {after} after)")


def restart_postgres(system: System) -> str:
    started = time.monotonic()
    system.service("restart-postgres")
    return f"PostgreSQL restarted ({time.monotonic() - started:.1f} s down)"


def fuzz(system: System, rounds: int, redis: str) -> tuple[int, str]:
    """Runs scripts/chaos/webhook_fuzz.py with Redis `up` or `down`; returns its exit status and its summary line."""
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "scripts", "chaos", "webhook_fuzz.py"), "127.0.0.1", str(system.gateway_port), system.env["SHOPIFY_API_SECRET"], SHOP, redis, str(rounds)],
        capture_output=True,
        text=True,
    )
    with open(os.path.join(system.log_dir, "fuzz.log"), "a") as log:
        log.write(result.stdout + result.stderr)
    lines = result.stdout.strip().splitlines()
    return result.returncode, (lines[0] + " | " + lines[-1]) if lines else result.stderr.strip()[-300:]


if __name__ == "__main__":
    sys.exit(main())
