"""The whole story on one machine (scripts/run-local.sh runs it): the Shopify simulator, a gateway and two workers on
the "dev" services; a demo business connected through the real OAuth flow; its catalog pushed as products and
collections; customers' orders placed in the simulated shop with some webhooks duplicated and some dropped; FlowPOS
stock going down as webhooks arrive and the poll catching the dropped ones; a summary and the dashboard URL. Then it
keeps running until Ctrl-C, which stops every process it started.

  story.py BIN_DIR [ORDERS]
"""

import os
import random
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
from ecommerce import System, progress, say, wait_until  # noqa: E402

BUSINESS = "00000000-0000-0000-0000-000000000001"
SHOP = "demo-shop.myshopify.com"
POLL_SECONDS = 30


def main() -> int:
    bin_dir = sys.argv[1]
    order_count = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    gateway_port = int(os.environ.get("HTTP_PORT", "8080"))
    system = System(
        "dev",
        bin_dir,
        gateway_port=gateway_port,
        simulator_port=int(os.environ.get("SIMULATOR_PORT", "8081")),
        worker_metrics_base=9090,
        # A short poll period so that the poll's catch-up shows within the demo.
        env={"POLL_INTERVAL_SECONDS": str(POLL_SECONDS), "POLL_OVERLAP_SECONDS": "60", "LOG_LEVEL": os.environ.get("LOG_LEVEL", "info")},
    )
    # Ctrl-C and SIGTERM end the story the same way: everything started here is stopped.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        return story(system, order_count, gateway_port)
    except KeyboardInterrupt:
        say("\nstopping…")
        return 0
    finally:
        system.stop_all()


def story(system: System, order_count: int, gateway_port: int) -> int:
    say("1/7 migrations, simulator, gateway and two workers")
    system.migrate()
    system.start_simulator([SHOP])
    system.start_gateway()
    system.start_worker(1)
    system.start_worker(2)
    say(f"    logs in {system.log_dir}")

    say(f"2/7 connecting the demo business to {SHOP} through OAuth (install → consent → callback → token exchange)")
    system.connect_via_oauth(BUSINESS, SHOP)
    connection = system.gateway("GET", "/ecommerce/connection", system.merchant_token(BUSINESS)).json()
    say(f"    {connection['status']}, scopes {connection.get('scopes')}, next poll at {connection.get('nextPollAt')}")

    say("3/7 the FlowPOS catalog: 12 coffees and 8 teas, 60 of each in stock")
    system.seed_catalog(BUSINESS, products=12, stock=60, prefix="COFFEE", category="Coffee")
    system.seed_catalog(BUSINESS, products=8, stock=60, prefix="TEA", category="Tea")
    run = system.push("products", BUSINESS)
    say(f"    product push {run['status']}: {run['processed']} pushed, {run['failed']} failed")
    run = system.push("collections", BUSINESS)
    say(f"    collection push {run['status']}: {run['processed']} collections")
    variants = system.shop_variants(SHOP)
    before = system.stock(BUSINESS)

    say(f"4/7 {order_count} customer orders in the shop; the simulator drops 20 % of the webhooks and sends 20 % twice")
    system.set_webhook_faults(drop=0.2, duplicate=0.2)
    webhooks_before = system.simulator("GET", f"/_control/shops/{SHOP}/stats").json()
    rng = random.Random(7)
    ordered: dict[int, int] = {}
    expected = dict(before)
    for index in range(order_count):
        skus = rng.sample(sorted(variants), rng.randint(1, 3))
        lines = [(variants[sku], rng.randint(1, 2)) for sku in skus]
        order = system.place_order(SHOP, lines)
        ordered[order["id"]] = sum(quantity for _, quantity in lines)
        for sku, (_, quantity) in zip(skus, lines):
            expected[sku] -= quantity
        progress("orders placed", index + 1, order_count)
    system.set_webhook_faults(drop=0, duplicate=0)
    stats = system.simulator("GET", f"/_control/shops/{SHOP}/stats").json()
    dropped = stats["webhooksDropped"] - webhooks_before["webhooksDropped"]
    duplicated = stats["webhooksDuplicated"] - webhooks_before["webhooksDuplicated"]
    say(f"    webhooks: {dropped} dropped, {duplicated} sent twice")

    say("5/7 stock going down as the webhooks are ingested")
    time.sleep(3)
    after_webhooks = system.reconcile(BUSINESS, ordered)
    show_stock(before, system.stock(BUSINESS), expected)
    say(f"    ingested {after_webhooks['ingested']}/{order_count} orders from webhooks; {len(after_webhooks['missing'])} wait for the poll")

    say(f"6/7 the poll (every {POLL_SECONDS} s) catching the dropped webhooks")
    started = time.monotonic()

    def caught_up():
        state = system.reconcile(BUSINESS, ordered)
        progress("orders ingested", state["ingested"], order_count)
        return state if not state["missing"] and system.stock(BUSINESS) == expected else None

    final = wait_until("every order ingested and the stock as expected", caught_up, 3 * POLL_SECONDS + 30, 1)
    say(f"    caught up in {time.monotonic() - started:.0f} s")
    show_stock(before, system.stock(BUSINESS), expected)

    say("7/7 summary")
    dead = sum(int(system.redis("HLEN", f"{{{queue}}}:dead")) for queue in ["ecommerce-orders", "ecommerce-polling", "ecommerce-products", "ecommerce-collections", "ecommerce-inventory", "ecommerce-shop-events"])
    units = sum(ordered.values())
    say(f"    orders placed {order_count} ({units} units), ingested {final['ingested']} (first seen by: {final['sources']}),")
    say(f"    applied twice {len(final['double'])}, missing {len(final['missing'])}, webhooks dropped {dropped} / duplicated {duplicated}, dead letters {dead}")
    say(f"    FlowPOS stock: {sum(before.values())} → {sum(system.stock(BUSINESS).values())} units (expected {sum(expected.values())})")
    token = system.ops_token()
    say(f"\nDashboard: http://127.0.0.1:{gateway_port}/ops#token={token}")
    say(f"Merchant token for the admin API: {system.merchant_token(BUSINESS)}")
    say(f"Simulator: http://127.0.0.1:{system.simulator_port}/_control/shops/{SHOP}/orders · Ctrl-C stops everything.")
    while True:
        time.sleep(3600)


def show_stock(before: dict[str, int], now: dict[str, int], expected: dict[str, int]) -> None:
    changed = [sku for sku in sorted(before) if expected[sku] != before[sku]][:6]
    say("    SKU          before  now  expected")
    for sku in changed:
        say(f"    {sku:<12} {before[sku]:>6} {now.get(sku, 0):>4} {expected[sku]:>9}")


if __name__ == "__main__":
    sys.exit(main())
