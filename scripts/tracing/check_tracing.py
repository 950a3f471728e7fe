"""End-to-end tracing, checked against the real processes: a gateway and a worker started with
OTEL_EXPORTER_OTLP_ENDPOINT pointing at an OTLP/HTTP receiver this script runs (JSON encoding), a business connected
through OAuth with its catalog pushed, and one order delivered by the simulator's webhook. The receiver must get, from
both processes, the spans of that delivery in one trace: the gateway's, the worker's job continuing it, the ingestion
statement under the job; and the product push's Shopify calls, and the relay's span that the inventory pushes continue.

  check_tracing.py BIN_DIR       (run by scripts/test.sh)

Exits non-zero with the failed expectation.
"""

import json
import os
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from ecommerce import System, fresh_services, say, wait_until  # noqa: E402

SHOP = "tracing-shop.myshopify.com"
BUSINESS = str(uuid.UUID("00000000-0000-4000-8000-0000000077ac"))
RECEIVER_PORT = 19470


class Receiver:
    """An OTLP/HTTP receiver: keeps every span posted to /v1/traces, with its process's service.name."""

    def __init__(self, port: int):
        self.spans: list[dict] = []
        self.requests = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (the standard library's name)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if self.path != "/v1/traces" or "json" not in (self.headers.get("Content-Type") or ""):
                    self.send_response(404)
                    self.end_headers()
                    return
                receiver.take(json.loads(body))
                answer = b"{}"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def take(self, export: dict) -> None:
        with self.lock:
            self.requests += 1
            for resource_spans in export.get("resourceSpans", []):
                attributes = attribute_map(resource_spans.get("resource", {}).get("attributes", []))
                for scope in resource_spans.get("scopeSpans", []):
                    for span in scope.get("spans", []):
                        self.spans.append({**span, "service": attributes.get("service.name"), "attributes": attribute_map(span.get("attributes", []))})

    def named(self, name: str) -> list[dict]:
        with self.lock:
            return [span for span in self.spans if span["name"] == name]

    def trace(self, trace_id: str) -> list[dict]:
        with self.lock:
            return [span for span in self.spans if span["traceId"] == trace_id]

    def close(self) -> None:
        self.server.shutdown()


def attribute_map(attributes: list[dict]) -> dict:
    """OTLP's key/value list as a dict of plain values (integers arrive as strings in OTLP's JSON)."""
    result = {}
    for attribute in attributes:
        value = attribute.get("value", {})
        if "stringValue" in value:
            result[attribute["key"]] = value["stringValue"]
        elif "intValue" in value:
            result[attribute["key"]] = int(value["intValue"])
        elif "doubleValue" in value:
            result[attribute["key"]] = float(value["doubleValue"])
        elif "boolValue" in value:
            result[attribute["key"]] = bool(value["boolValue"])
    return result


def expect(condition: bool, what: str, seen="") -> None:
    if not condition:
        raise AssertionError(f"tracing: expected {what}" + (f"\n--- seen:\n{seen}" if seen else ""))
    say(f"  ok: {what}")


def check(system: System, receiver: Receiver) -> None:
    system.migrate()
    system.start_simulator([SHOP])
    system.start_gateway()
    system.start_worker(1)
    system.connect_via_oauth(BUSINESS, SHOP)
    system.seed_catalog(BUSINESS, products=3, stock=10, prefix="TRACE")
    products = system.push("products", BUSINESS, show_progress=False)
    assert products["status"] == "completed", products
    variants = system.shop_variants(SHOP)
    order = system.place_order(SHOP, [(variants["TRACE-1"], 2)])
    wait_until("the order ingested", lambda: system.stock(BUSINESS).get("TRACE-1") == 8, 60)

    say("tracing: one delivery, one trace across the gateway and the worker")
    def delivery():
        spans = [s for s in receiver.named("webhook orders/create") if s["attributes"].get("shopify.order_id") == order["id"]]
        return spans[0] if spans else None
    webhook = wait_until("the delivery's span at the receiver", delivery, 30, 0.5)
    trace_id = webhook["traceId"]
    expect(webhook["service"] == "ecommerce-gateway" and not webhook.get("parentSpanId"), "the gateway's span starts the trace", webhook)
    expect(webhook["attributes"].get("shopify.shop") == SHOP and webhook["attributes"].get("webhook.answer") == "accepted",
           "with the shop and the answer", webhook["attributes"])
    names = lambda: {s["name"] for s in receiver.trace(trace_id)}  # noqa: E731
    wait_until("the job's and the statement's spans", lambda: {"job orders.ingest", "postgresql ingest order"} <= names(), 30, 0.5)
    spans = receiver.trace(trace_id)
    job = next(s for s in spans if s["name"] == "job orders.ingest")
    statement = next(s for s in spans if s["name"] == "postgresql ingest order")
    expect(job["service"] == "ecommerce-worker" and job.get("parentSpanId") == webhook["spanId"], "the worker's job continues the delivery's span", job)
    expect(job["attributes"].get("job.kind") == "orders.ingest" and job["attributes"].get("job.attempt") == 0, "with the job's kind and attempt", job["attributes"])
    expect(statement.get("parentSpanId") == job["spanId"] and statement["attributes"].get("flowpos.ingest.outcome") == "applied",
           "the stock commit under the job", statement)

    say("tracing: pushes and the relay")
    push = next((s for s in receiver.named("job products.page")), None) or wait_until(
        "the product push's span", lambda: next(iter(receiver.named("job products.page")), None), 30, 0.5)
    calls = [s for s in receiver.trace(push["traceId"]) if s["name"].startswith("shopify graphql ")]
    expect(calls and all(s["attributes"].get("shopify.shop") == SHOP for s in calls), "the push's Shopify calls in its trace, with the shop",
           [s["name"] for s in receiver.trace(push["traceId"])])
    expect(any("shopify.cost.charged" in s["attributes"] for s in calls), "with the cost Shopify charged")
    # A sale at the till: FlowPOS's stock changes, the relay turns it into an inventory push.
    system.sql(f"UPDATE stock_levels s SET quantity = quantity - 1 FROM variants v "
               f"WHERE v.id = s.variant_id AND s.business_id = '{BUSINESS}' AND v.sku = 'TRACE-2'")
    relay = wait_until("a relay span", lambda: next(iter(receiver.named("inventory relay")), None), 30, 0.5)
    wait_until("an inventory push continuing the relay's trace",
               lambda: any(s["name"] == "job inventory.push" for s in receiver.trace(relay["traceId"])), 30, 0.5)
    expect(True, "an inventory push continues the relay's trace")
    say(f"  {len(receiver.spans)} spans in {receiver.requests} exports")


def main() -> int:
    bin_dir = sys.argv[1]
    fresh_services("trace")
    receiver = Receiver(RECEIVER_PORT)
    environment = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{RECEIVER_PORT}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
    }
    system = System("trace", bin_dir, gateway_port=19480, simulator_port=19481, worker_metrics_base=19490, env=environment)
    try:
        check(system, receiver)
        say("tracing: all checks passed")
        return 0
    except Exception as error:  # noqa: BLE001 (any failure fails the check, with the logs to read)
        say(f"tracing: FAILED: {error}")
        say(f"  logs: {system.log_dir}")
        return 1
    finally:
        system.stop_all()
        receiver.close()


if __name__ == "__main__":
    sys.exit(main())
