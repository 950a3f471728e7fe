#!/usr/bin/env python3
"""The many-merchants benchmark's run (scripts/bench-fair-shares.sh builds and calls it): fair shares across shops.

  fair_shares.py BIN_DIR

Its own services ("bench"), a simulator whose every shop has the same bucket, a gateway, WORKERS worker processes
serving every queue. One large merchant (LARGE_PRODUCTS products × 3 variants) and SMALL small ones (20 variants
each), all connected through OAuth; the small catalogs pushed first. Then three phases, each with fresh workers:
`alone` (the small merchants' stock changes and polls, nothing else), `fair` (the same while the large push runs,
default settings) and `unfair` (the same while the large push runs, SHOP_CONCURRENCY=0 and 30 s inline waits).
The large push runs per call (BULK_PUSH_THRESHOLD=0): the pressure on the slots is what this measures; the same
push in bulk is compared with it in scripts/bench-shopify-push.sh (MODES="per-call bulk").
Standard library only; everything talks to 127.0.0.1.
"""

import json
import math
import os
import subprocess
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from ecommerce import System, fresh_services, say, services, wait_until  # noqa: E402

LARGE_PRODUCTS = int(os.environ.get("LARGE_PRODUCTS", "2000"))
SMALL = int(os.environ.get("SMALL", "50"))
CHANGES = 20
RESTORE_RATE = int(os.environ.get("RESTORE_RATE", "100"))
BUCKET = int(os.environ.get("BUCKET", "1000"))
WORKERS = int(os.environ.get("WORKERS", "4"))
SHOPIFY_QUEUES = ["ecommerce-polling", "ecommerce-products", "ecommerce-collections", "ecommerce-inventory"]
WINDOW = 1.0  # seconds per fairness window


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)] if ordered else float("nan")


def jain(shares: list[float]) -> float:
    total = sum(shares)
    squares = sum(x * x for x in shares)
    return total * total / (len(shares) * squares) if squares > 0 else 1.0


class Sampler(threading.Thread):
    """Every 0.2 s, which shops have Shopify-bound work (ready or claimed jobs in any Shopify queue)."""

    def __init__(self, system: System):
        super().__init__(daemon=True)
        self.system = system
        self.samples: list[tuple[float, set[str]]] = []
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            now = time.time()
            groups: set[str] = set()
            for queue in SHOPIFY_QUEUES:
                groups.update(self.system.redis("ZRANGE", f"{queue}:backlog", "0", "-1").split())
                fields = self.system.redis("HGETALL", f"{queue}:running").split()
                groups.update(fields[0::2])
            self.samples.append((now, groups))
            self.stopping.wait(0.2)


class Bench:
    def __init__(self, bin_dir: str):
        fresh_services("bench")
        self.system = System("bench", bin_dir, 18280, 18281, 19280, env={"LOG_LEVEL": "warning", "POLL_INTERVAL_SECONDS": "86400", "BULK_PUSH_THRESHOLD": "0"})
        self.large_shop = "large-merchant.myshopify.com"
        self.small_shops = [f"small-{i:02d}.myshopify.com" for i in range(SMALL)]
        self.business = {shop: str(uuid.uuid4()) for shop in [self.large_shop, *self.small_shops]}
        self.small_ids = [self.business[shop] for shop in self.small_shops]
        self.workers: list[str] = []

    def setup(self) -> None:
        system = self.system
        system.migrate()
        system.start_simulator(list(self.business), ["--bucket-size", str(BUCKET), "--restore-rate", str(RESTORE_RATE)])
        system.start_gateway()
        large = self.business[self.large_shop]
        system.sql(f"""
            INSERT INTO products (id, business_id, name) SELECT gen_random_uuid(), '{large}', 'Product ' || n FROM generate_series(1, {LARGE_PRODUCTS}) n;
            INSERT INTO variants (id, product_id, business_id, title, sku, price)
              SELECT gen_random_uuid(), p.id, p.business_id, 'Size ' || v, 'L-' || p.id || '-' || v, 10 + v
              FROM products p, generate_series(1, 3) v WHERE p.business_id = '{large}';
            INSERT INTO stock_levels (variant_id, business_id, quantity) SELECT id, business_id, 25 FROM variants WHERE business_id = '{large}';
        """)
        for index, shop in enumerate(self.small_shops):
            system.seed_catalog(self.business[shop], CHANGES, 25, f"S{index:02d}")
        say(f"connecting {len(self.business)} merchants through OAuth")
        for shop, business in self.business.items():
            system.connect_via_oauth(business, shop)
        self.start_workers({})
        say(f"pushing the {SMALL} small catalogs ({CHANGES} variants each)")
        runs = []
        for business in self.small_ids:
            answer = system.gateway("POST", "/ecommerce/sync/products", system.merchant_token(business))
            assert answer.status == 202, answer.body
            runs.append((business, answer.json()["syncLogId"]))
        for business, run_id in runs:
            token = system.merchant_token(business)
            run = wait_until("a small catalog push", lambda: (r := system.gateway("GET", f"/ecommerce/sync/logs/{run_id}", token).json())["status"] != "running" and r, 300)
            assert run["processed"] == CHANGES and run["failed"] == 0, run
        self.stop_workers()

    def start_workers(self, env: dict) -> None:
        for index in range(1, WORKERS + 1):
            self.system.start_worker(index, env)
            self.workers.append(f"worker-{index}")

    def stop_workers(self) -> None:
        for name in self.workers:
            self.system.kill(name)
        self.workers = []

    def quantities(self, shop: str) -> dict[str, int]:
        products = self.system.simulator("GET", f"/_control/shops/{shop}/products").json()
        return {v["sku"]: sum(v["available"].values()) for p in products for v in p["variants"]}

    def phase(self, name: str, env: dict, with_large: bool, expected: int) -> dict:
        system = self.system
        self.start_workers(env)
        if with_large:
            large = self.business[self.large_shop]
            answer = system.gateway("POST", "/ecommerce/sync/products", system.merchant_token(large))
            assert answer.status == 202, answer.body
            wait_until("the large push's pages", lambda: int(system.redis("ZCARD", "{ecommerce-products}:ready")) > 5, 60, 0.2)
            time.sleep(15)  # long enough for its pages to hold every slot they can get, and to drain its bucket
        sampler = Sampler(system)
        sampler.start()
        started = time.time()
        ids = ",".join(f"'{b}'" for b in self.small_ids)
        system.sql(f"UPDATE stock_levels SET quantity = quantity - 1 WHERE business_id IN ({ids})")
        subprocess.run([os.path.join(system.bin_dir, "ecommerce-worker"), "enqueue-polls"], env=system.env, check=True, stdout=subprocess.DEVNULL)
        pending = {shop: None for shop in self.small_shops}
        latencies: list[float] = []
        deadline = time.time() + 900
        while pending and time.time() < deadline:
            for shop in list(pending):
                levels = self.quantities(shop)
                if levels and all(quantity == expected for quantity in levels.values()):
                    latencies += [time.time() - started] * len(levels)
                    del pending[shop]
            time.sleep(0.2)
        polls = wait_until(
            "the small merchants' polls",
            lambda: (rows := system.sql(
                f"SELECT extract(epoch FROM finished_at) FROM ecommerce_sync_log WHERE kind = 'poll' AND business_id IN ({ids}) "
                f"AND started_at >= to_timestamp({started}) AND finished_at IS NOT NULL")) and len(rows) >= SMALL and rows,
            900,
            0.5,
        )
        ended = time.time()
        sampler.stopping.set()
        sampler.join()
        fairness = self.fairness(sampler.samples, started, ended)
        self.stop_workers()
        if with_large:
            for key in system.redis("KEYS", "ecommerce-products*").split():
                system.redis("DEL", key)
        lateness = [float(row[0]) - started for row in polls]
        return {
            "phase": name,
            "missing": len(pending),
            "push_p50": percentile(latencies, 0.5),
            "push_p99": percentile(latencies, 0.99),
            "poll_p50": percentile(lateness, 0.5),
            "poll_p99": percentile(lateness, 0.99),
            "jain": fairness,
        }

    def fairness(self, samples: list[tuple[float, set[str]]], started: float, ended: float) -> float:
        """Mean over 1 s windows of Jain's index of slot time across the shops with Shopify-bound work all through
        the window (windows with at least two such shops)."""
        intervals: dict[str, list[tuple[float, float]]] = {}
        for business in self.business.values():
            entries = self.system.redis("LRANGE", f"ecommerce:journal:jobs:{business}", "0", "-1").splitlines()
            for line in entries:
                entry = json.loads(line)
                if entry.get("queue") in SHOPIFY_QUEUES and entry.get("ranMs") is not None:
                    end = entry["at"] / 1000
                    intervals.setdefault(business, []).append((end - entry["ranMs"] / 1000, end))
        indexes = []
        window = started
        while window + WINDOW <= ended:
            inside = [groups for at, groups in samples if window <= at < window + WINDOW]
            if inside:
                busy = set.intersection(*inside)
                if len(busy) >= 2:
                    shares = [sum(max(0.0, min(b, window + WINDOW) - max(a, window)) for a, b in intervals.get(group, [])) for group in busy]
                    indexes.append(jain(shares))
            window += WINDOW
        return sum(indexes) / len(indexes) if indexes else float("nan")


def main() -> int:
    bench = Bench(sys.argv[1])
    try:
        bench.setup()
        results = []
        for index, (name, env, with_large) in enumerate(
            [
                ("alone", {}, False),
                ("fair", {}, True),
                ("unfair", {"SHOP_CONCURRENCY": "0", "SHOPIFY_MAX_INLINE_WAIT_SECONDS": "30"}, True),
            ]
        ):
            say(f"== phase {name}")
            results.append(bench.phase(name, env, with_large, expected=25 - 1 - index))
    finally:
        bench.system.stop_all()
        services("stop", "bench")
    say(
        f"fair shares benchmark, {time.strftime('%Y-%m-%dT%H:%MZ', time.gmtime())}, {os.cpu_count()} cores, {WORKERS} workers, "
        f"bucket {BUCKET} points, restore {RESTORE_RATE} points/s; {SMALL} small merchants x {CHANGES} stock changes and a poll; "
        f"large push {LARGE_PRODUCTS} products x 3 variants"
    )
    for r in results:
        say(
            f"  {r['phase']:7s} inventory push latency p50 {r['push_p50']:.2f} s p99 {r['push_p99']:.2f} s | "
            f"poll lateness p50 {r['poll_p50']:.2f} s p99 {r['poll_p99']:.2f} s | Jain {r['jain']:.2f} | shops not done {r['missing']}"
        )
    alone = results[0]
    for r in results[1:]:
        say(f"  {r['phase']}: push p99 with the large push / alone = {r['push_p99'] / alone['push_p99']:.2f} (goal <= 2); "
            f"poll p99 ratio {r['poll_p99'] / alone['poll_p99']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
