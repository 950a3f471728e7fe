#!/usr/bin/env python3
"""Writes order-ingestion jobs as Redis protocol (for `redis-cli --pipe`) or one signed webhook body.

  make_order_jobs.py jobs BUSINESS_ID SHOP COUNT DUPLICATE_SHARE VARIANTS [KEY] > jobs.resp
      COUNT `orders.ingest` envelopes (3 lines each, SKUs BENCH-1..BENCH-VARIANTS) added to the sorted set KEY
      ({ecommerce-orders}:ready by default) at fair tags 1..COUNT, as one business's enqueues get them; DUPLICATE_SHARE of them repeat an earlier order (a new job id, the same
      order), as duplicate deliveries do.
  make_order_jobs.py body SHOP > body.json
      a ~700-byte REST order body, as Shopify posts it.
"""
import json
import random
import sys
import uuid
from datetime import datetime, timezone


def order(order_id, variants, now):
    # Three distinct variants, v, v+100, v+200 (the pgbench transaction uses the same pattern).
    first = random.randint(1, variants // 3)
    lines = []
    for n in range(3):
        sku = first + n * (variants // 3)
        lines.append({"id": order_id * 10 + n, "variant_id": None, "sku": f"BENCH-{sku}", "quantity": 1 + n % 2,
                      "current_quantity": 1 + n % 2})
    return {"id": order_id, "name": f"#{order_id % 100000}", "created_at": now, "updated_at": now,
            "cancelled_at": None, "line_items": lines, "refunds": []}


def resp(*args):
    out = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        out.append(f"${len(data)}\r\n".encode() + data + b"\r\n")
    return b"".join(out)


def jobs(business, shop, count, duplicate_share, variants, target="{ecommerce-orders}:ready"):
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    base = random.randint(10**12, 2 * 10**12)
    made = []
    out = sys.stdout.buffer
    for i in range(count):
        if made and random.random() < duplicate_share:
            body = random.choice(made)
        else:
            body = order(base + i, variants, now)
            made.append(body)
        envelope = {"id": str(uuid.uuid4()), "kind": "orders.ingest", "businessId": business, "shop": shop,
                    "attempt": 0, "maxAttempts": 10, "enqueuedAt": now,
                    "payload": {"source": "webhook", "topic": "orders/create", "webhookId": str(uuid.uuid4()),
                                "order": body}}
        out.write(resp("ZADD", target, str(i + 1), json.dumps(envelope, separators=(",", ":"))))


def body(shop):
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    o = order(1234567890123, 300, now)
    o.update({"admin_graphql_api_id": "gid://shopify/Order/1234567890123", "email": "buyer@example.com",
              "currency": "EUR", "total_price": "59.97", "test": False})
    for line in o["line_items"]:
        line.update({"title": "Bench widget", "price": "19.99"})
    sys.stdout.write(json.dumps(o, separators=(",", ":")))


if __name__ == "__main__":
    if sys.argv[1] == "jobs":
        jobs(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]), *sys.argv[7:8])
    else:
        body(sys.argv[2])
