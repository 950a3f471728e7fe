#!/usr/bin/env python3
"""Enqueue-to-commit latency of order ingestion at a light load: one order job at a time.

  paced_orders.py REDIS_PORT DATABASE_URL BUSINESS_ID SHOP COUNT

Adds one `orders.ingest` job to {ecommerce-orders}:ready (as make_order_jobs.py writes them), then asks PostgreSQL
(one psql session, about a millisecond a question) until the order's row is committed, waits 20 ms and goes on.
Prints the median and p99 of the COUNT latencies in milliseconds: `p50_ms=… p99_ms=…`. Standard library only;
talks to 127.0.0.1.
"""
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(__file__))
from make_order_jobs import order, resp  # noqa: E402


def main():
    port, url, business, shop, count = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
    redis = socket.create_connection(("127.0.0.1", port))
    psql = subprocess.Popen(["psql", url, "-At", "-q"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def ask(sql):
        psql.stdin.write(sql + "\n")
        psql.stdin.flush()
        return psql.stdout.readline().strip()

    base = int(time.time() * 1000) * 1000
    latencies = []
    for i in range(count):
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = order(base + i, 300, now)
        envelope = {"id": str(uuid.uuid4()), "kind": "orders.ingest", "businessId": business, "shop": shop, "attempt": 0,
                    "maxAttempts": 10, "enqueuedAt": now,
                    "payload": {"source": "webhook", "topic": "orders/create", "webhookId": str(uuid.uuid4()), "order": body}}
        started = time.perf_counter()
        redis.sendall(resp("ZADD", "{ecommerce-orders}:ready", str(i + 1), json.dumps(envelope, separators=(",", ":"))))
        redis.recv(64)
        question = f"SELECT count(*) FROM ecommerce_ingested_order WHERE business_id = '{business}' AND shopify_order_id = {base + i};"
        deadline = started + 10
        while ask(question) != "1":
            if time.perf_counter() > deadline:
                sys.exit(f"order {i} not committed within 10 s")
        latencies.append((time.perf_counter() - started) * 1000)
        time.sleep(0.02)
    latencies.sort()
    p50 = latencies[len(latencies) // 2]
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"p50_ms={p50:.1f} p99_ms={p99:.1f}")


if __name__ == "__main__":
    main()
