#!/usr/bin/env python3
"""Writes the committed seed corpus of the fuzz targets (Fuzz/Corpus/<target>/): valid deliveries and the shapes
scripts/chaos/webhook_fuzz.py sends (malformed, oversized, huge-header, lying, duplicated headers), valid order
bodies and their edge cases, valid job envelopes and their edge cases. Run it again after changing it; libFuzzer
adds what it finds elsewhere (.local/fuzz), not here; the inputs of its findings, once fixed, are committed here
by hand as finding-* files, which this script leaves alone.

  python3 Fuzz/make_seeds.py
"""
import base64
import json
import pathlib

root = pathlib.Path(__file__).resolve().parent / "Corpus"


def write(target: str, name: str, data: bytes) -> None:
    folder = root / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def head(lines, first_line="POST /ecommerce/webhooks/shopify HTTP/1.1", end="\r\n") -> bytes:
    return (end.join([first_line, *lines]) + end + end).encode()


valid = [
    "Host: gateway.example", "Content-Type: application/json", "Content-Length: 12",
    "X-Shopify-Topic: orders/create", "X-Shopify-Hmac-Sha256: dGVzdA==", "X-Shopify-Shop-Domain: shop.myshopify.com",
    "X-Shopify-Webhook-Id: 4f5b6ebf-143c-4da5-8d0f-fb8553bfd85d", "X-Shopify-Event-Id: 98880550-7158-44d4-b7cd-2c97c8a091b5",
    "X-Shopify-Triggered-At: 2026-12-03T08:00:00.000Z", "X-Shopify-API-Version: 2026-10",
]
# The first byte of a webhook-head input picks the size of the pieces the rest arrives in (1 + byte % 16).
heads = {
    "valid": head(valid),
    "valid-in-bytes": head(valid),
    "query-string": head(valid, "POST /ecommerce/webhooks/shopify?x=1&y=%20 HTTP/1.1"),
    "chunked": head([line for line in valid if not line.startswith("Content-Length")] + ["Transfer-Encoding: chunked"]),
    "two-lengths": head(valid + ["Content-Length: 13"]),
    "length-padded": head([line if not line.startswith("Content-Length") else "Content-Length:   0012  " for line in valid]),
    "length-signed": head([line if not line.startswith("Content-Length") else "Content-Length: +12" for line in valid]),
    "folded": head(valid[:3] + [" continued"] + valid[3:]),
    "bare-lf": head(valid, end="\n"),
    "expect": head(valid + ["Expect: 100-continue"]),
    "connection-close": head(valid + ["Connection: keep-alive, close"]),
    "lower-method": head(valid, "post /ecommerce/webhooks/shopify HTTP/1.1"),
    "http10": head(valid, "POST /ecommerce/webhooks/shopify HTTP/1.0"),
    "other-path": head(valid, "POST /ecommerce/webhooks/shopifyx HTTP/1.1"),
    "get": head(["Host: gateway.example"], "GET /healthz HTTP/1.1"),
    "space-before-colon": head(valid[:2] + ["Content-Length : 12"] + valid[3:]),
    "empty-value": head(valid + ["X-Empty:"]),
    "obs-text": head(valid + ["X-Note: caf\u00e9"]),
    "nul-in-value": head(valid + ["X-Note: a\u0000b"]),
    "huge-header-name": head(valid + ["X" * 17000 + ": 1"]),
    "huge-query": head(valid, "POST /ecommerce/webhooks/shopify?" + "q" * 17000 + " HTTP/1.1"),
    "many-headers": head(valid + [f"X-H{i}: {i}" for i in range(120)]),
    "truncated": head(valid)[:-3],
}
for index, (name, data) in enumerate(heads.items()):
    write("WebhookHead", name, bytes([0 if name != "valid-in-bytes" else 0x10]) + data)

line = {"id": 866550311766439020, "variant_id": 808950810, "sku": "IPOD-342-N", "quantity": 2, "current_quantity": 2,
        "title": "IPod Nano", "price": "199.00", "properties": [{"name": "engraving", "value": "hi"}]}
order = {"id": 450789469, "admin_graphql_api_id": "gid://shopify/Order/450789469", "name": "#1001",
         "created_at": "2026-12-03T08:00:00-05:00", "updated_at": "2026-12-03T08:01:00-05:00", "cancelled_at": None,
         "test": False, "line_items": [line, dict(line, id=866550311766439021, variant_id=None, sku=None, quantity=1)],
         "refunds": [{"id": 509562969, "order_id": 450789469,
                      "refund_line_items": [{"id": 104689539, "line_item_id": 866550311766439020, "quantity": 1,
                                             "restock_type": "return"}]}],
         "customer": {"email": "bob@example.com"}, "total_price": "598.94"}
orders = {
    "order": json.dumps(order),
    "order-compact-sorted": json.dumps(order, separators=(",", ":"), sort_keys=True),
    "order-minimal": json.dumps({"id": 1, "updated_at": "2026-12-03T08:00:00Z", "line_items": []}),
    "order-cancelled": json.dumps(dict(order, cancelled_at="2026-12-03T09:00:00Z")),
    "order-escapes": json.dumps(dict(order, name="#\u00e9\u2028\ud83d\ude00 \"quoted\" \\ /")),
    "order-unicode-escaped": json.dumps(dict(order, name="caf\u00e9"), ensure_ascii=True),
    "order-float-quantity": json.dumps(order).replace('"quantity": 2', '"quantity": 2.0'),
    "order-exponent-id": json.dumps(order).replace("450789469,", "4.50789469e8,", 1),
    "order-string-id": json.dumps(dict(order, id="450789469")),
    "order-duplicate-key": '{"id": 1, "id": 2, "updated_at": "2026-12-03T08:00:00Z", "line_items": []}',
    "order-big-int": json.dumps(dict(order, id=18446744073709551616)),
    "order-negative-quantity": json.dumps(dict(order, line_items=[dict(line, quantity=-1)])),
    "order-deep": '{"id": 1, "updated_at": "2026-12-03T08:00:00Z", "line_items": [], "x": ' + "[" * 200 + "]" * 200 + "}",
    "order-trailing-comma": '{"id": 1, "updated_at": "2026-12-03T08:00:00Z", "line_items": [],}',
    "order-bom": "\ufeff" + json.dumps(order),
    "order-whitespace": "\n\t " + json.dumps(order, indent=2) + " \r\n",
    "order-truncated": json.dumps(order)[:-7],
    "not-json": "id=1&line_items=",
}
for name, text in orders.items():
    write("OrderScanner", name, text.encode())

envelope = {"id": "0b3c9e6a-5b4b-4d1e-9d0e-7a3f1f2c9b11", "kind": "orders.ingest", "businessId": "3f0c", "shop": "s.myshopify.com",
            "attempt": 0, "maxAttempts": 10, "enqueuedAt": "2026-12-03T08:00:00Z", "dedupeKey": "webhook:abc",
            "payload": {"order": order, "source": "webhook", "webhookId": "abc"}}
envelopes = {
    "envelope": json.dumps(envelope, separators=(",", ":")),
    "envelope-spaced": json.dumps(envelope),
    "envelope-id-not-first": json.dumps(dict(list(envelope.items())[1:] + [("id", envelope["id"])]), separators=(",", ":")),
    "envelope-duplicate-id": '{"id":"first-id","kind":"k","id":"second-id","attempt":0,"maxAttempts":1,'
                             '"enqueuedAt":"2026-12-03T08:00:00Z","payload":null}',
    "envelope-escaped-id": '{"id":"a\\u0062c","kind":"k","attempt":0,"maxAttempts":1,"enqueuedAt":"2026-12-03T08:00:00Z","payload":1}',
    "envelope-minimal": '{"id":"x","kind":"k","attempt":0,"maxAttempts":1,"enqueuedAt":"2026-12-03T08:00:00Z","payload":{}}',
    "envelope-fractional-date": json.dumps(dict(envelope, enqueuedAt="2026-12-03T08:00:00.123Z"), separators=(",", ":")),
    "envelope-big-numbers": json.dumps(dict(envelope, payload={"n": 12345678901234567890, "f": 1e308, "neg": -0.0}), separators=(",", ":")),
    "envelope-wrong-types": '{"id":1,"kind":"k","attempt":"0","maxAttempts":1,"enqueuedAt":"2026-12-03T08:00:00Z","payload":{}}',
    "envelope-truncated": json.dumps(envelope, separators=(",", ":"))[:-9],
}
for name, text in envelopes.items():
    write("JobEnvelope", name, text.encode())
# The envelope target's finding of 2026-12-07 (objects, then arrays nested past 512): Foundation's JSONDecoder traps
# on it instead of throwing (as a JWT header it stopped the gateway); the targets check the scanner's refusal alone
# for documents nested that deep.
write("JobEnvelope", "envelope-deeper-than-512", base64.b64decode(
    "eyJuYW1pZCI6InNlY29uZC4taWQiLCJraU5kIjpbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1t7Im5hbWlkIjoic2Vjby5kLi1pZCIsImtpTmQiOltbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW3sibmFtaWQiOiJzZWNvLmQuLWlkIiwia2lOZCI6W1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1t7ImlkTmQiOlt7Im5hbWlkIjoic2Vjby5kLi1pZCIsImtpTmQiOltbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1s="))
print(f"seeds written under {root}")
