"""The ops dashboard, checked the way a person would use it: headless Chromium (Debian's) opens /ops against a running
system (its own Redis and PostgreSQL, the simulator, a gateway and a worker, a business connected through OAuth with
a finished product push, a partly refused one and a dead letter), signs in by typing a token, reads what the page
shows, clicks a dead letter's Retry button, and keeps screenshots in test-artifacts/.

  check_dashboard.py BIN_DIR       (run by scripts/test.sh)

Exits non-zero with the failed expectation. Chromium is driven over the DevTools protocol (websockets from PyPI).
"""

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from ecommerce import ROOT, System, fresh_services, http, say, services, wait_until  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

ARTIFACTS = os.path.join(ROOT, "test-artifacts")
SHOP = "dashboard-shop.myshopify.com"
BUSINESS = str(uuid.UUID("00000000-0000-4000-8000-00000000da5b"))
ORDER: dict = {}  # the order prepare() places


class Browser:
    """One headless Chromium tab over the DevTools protocol."""

    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="dashboard-chromium-")
        self.process = subprocess.Popen(
            [
                shutil.which("chromium") or "chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
                f"--user-data-dir={self.profile}", "--window-size=1280,2000", "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        port = wait_until("Chromium's DevTools port", lambda: open(port_file).readline().strip() if os.path.exists(port_file) else None, 60, 0.2)
        pages = wait_until("a Chromium tab", lambda: [t for t in http("GET", f"http://127.0.0.1:{port}/json/list").json() if t["type"] == "page"], 30, 0.2)
        self.socket = connect(pages[0]["webSocketDebuggerUrl"], max_size=64 * 1024 * 1024, open_timeout=30)
        self.next_id = 0
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=1280, height=2000, deviceScaleFactor=1, mobile=False)

    def call(self, method: str, **params):
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=60))
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str) -> None:
        self.call("Page.navigate", url=url)
        wait_until(f"{url} to load", lambda: self.evaluate("document.readyState") == "complete", 30, 0.2)

    def text(self, selector: str) -> str:
        """What a person reads in an element (innerText: only what is rendered, hidden parts excluded)."""
        return self.evaluate(f"(() => {{ const n = document.querySelector({json.dumps(selector)}); return n ? n.innerText : ''; }})()") or ""

    def visible(self, selector: str) -> bool:
        return bool(self.evaluate(f"(() => {{ const n = document.querySelector({json.dumps(selector)}); return !!n && n.offsetParent !== null; }})()"))

    def click(self, selector: str) -> None:
        """A real mouse click in the middle of the element, as a person would."""
        box = self.evaluate(
            f"(() => {{ const n = document.querySelector({json.dumps(selector)}); n.scrollIntoView({{block: 'center'}});"
            " const r = n.getBoundingClientRect(); return {x: r.x + r.width / 2, y: r.y + r.height / 2}; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=box["x"], y=box["y"], button="left", clickCount=1)

    def type(self, selector: str, text: str) -> None:
        self.click(selector)
        self.call("Input.insertText", text=text)

    def screenshot(self, name: str, selector: str | None = None) -> str:
        """The whole page, or only the element `selector` names."""
        os.makedirs(ARTIFACTS, exist_ok=True)
        path = os.path.join(ARTIFACTS, name)
        options = {}
        if selector:
            box = self.evaluate(f"(() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect(); "
                                "return {x: r.x + scrollX, y: r.y + scrollY, width: r.width, height: r.height}; })()")
            options["clip"] = {**box, "scale": 1}
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True, **options)["data"]
        with open(path, "wb") as file:
            file.write(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            self.socket.close()
        finally:
            self.process.terminate()
            self.process.wait(10)
            shutil.rmtree(self.profile, ignore_errors=True)


def expect(condition: bool, what: str, seen: str = "") -> None:
    if not condition:
        raise AssertionError(f"dashboard: expected {what}" + (f"\n--- the page shows:\n{seen}" if seen else ""))
    say(f"  ok: {what}")


def prepare(system: System) -> None:
    """A system with something in every section of the dashboard."""
    system.migrate()
    system.start_simulator([SHOP])
    system.start_gateway()
    system.start_worker(1)
    system.connect_via_oauth(BUSINESS, SHOP)
    system.seed_catalog(BUSINESS, products=12, stock=40, prefix="DASH", category="Dashboard picks", bad_price_every=12)
    products = system.push("products", BUSINESS, show_progress=False)
    assert products["status"] == "partial" and products["failed"] == 1, products
    collections = system.push("collections", BUSINESS, show_progress=False)
    assert collections["status"] == "completed", collections
    # A customer's order, delivered by the simulator's webhook and ingested: the order search finds it.
    variants = system.shop_variants(SHOP)
    order = system.place_order(SHOP, [(variants["DASH-1"], 2)])
    ORDER["id"] = order["id"]
    wait_until("the order ingested", lambda: system.stock(BUSINESS).get("DASH-1") == 38, 60)
    # Another, each of its webhooks delivered twice: the charts show duplicates beside the accepted deliveries.
    system.set_webhook_faults(drop=0, duplicate=1.0)
    system.place_order(SHOP, [(variants["DASH-2"], 1)])
    wait_until("the second order ingested", lambda: system.stock(BUSINESS).get("DASH-2") == 39, 60)
    system.set_webhook_faults(drop=0, duplicate=0)
    system.inject_poison("poison-dashboard-1", BUSINESS, SHOP)
    wait_until("the poison job in the dead letters", lambda: system.redis("HEXISTS", "{ecommerce-orders}:dead", "poison-dashboard-1") == "1", 30)


def check(system: System, browser: Browser) -> None:
    url = f"http://127.0.0.1:{system.gateway_port}/ops"

    say("dashboard: without a token")
    browser.open(url)
    wait_until("the sign-in form", lambda: browser.visible("#sign-in"), 10, 0.2)
    expect("Ops token" in browser.text("#sign-in"), "a sign-in form asking for an ops token")
    expect(not browser.visible("#overview"), "no data before signing in")

    say("dashboard: a merchant's token")
    browser.open(url + "#token=" + system.merchant_token(BUSINESS))
    wait_until("the refusal", lambda: "refused" in browser.text("#banner"), 10, 0.2)
    expect("an ops token is required" in browser.text("#banner"), "a merchant token refused with the reason", browser.text("body"))
    expect(browser.visible("#sign-in") and not browser.visible("#overview"), "the sign-in form again, no data")

    say("dashboard: signing in with an ops token")
    browser.type("#token", system.ops_token())
    browser.click("#sign-in button[type=submit]")
    wait_until("the overview", lambda: browser.evaluate("document.body.dataset.state") == "ready", 15, 0.2)
    page = browser.text("body")
    expect("token=" not in browser.evaluate("location.href"), "no token left in the address bar")

    worker_pid = str(system.processes["worker-1"].pid)
    workers = browser.text("#workers")
    expect("(1 live)" in workers and worker_pid in workers, f"one live worker, pid {worker_pid}", workers)
    expect("ecommerce-orders" in workers and "heartbeat" in workers.lower(), "the worker's queues and heartbeat", workers)

    queues = browser.text("#queues")
    for queue in ["ecommerce-orders", "ecommerce-polling", "ecommerce-products", "ecommerce-collections", "ecommerce-inventory", "ecommerce-shop-events"]:
        expect(queue in queues, f"queue {queue} listed", queues)
    orders_row = next(line for line in queues.splitlines() if line.startswith("ecommerce-orders"))
    expect(orders_row.split("\t")[4].strip() == "1", "ecommerce-orders with 1 dead job", orders_row)

    connections = browser.text("#connections")
    expect(SHOP in connections and "active" in connections, f"{SHOP} active", connections)
    expect("1 active connections, 1 scheduled polls" in connections, "the poll schedule covering the connection", connections)
    expect("without a poll" not in connections, "no connection without its poll", connections)

    runs = browser.text("#sync-runs")
    expect("product push" in runs and "collection push" in runs and "poll" in runs, "the product push, the collection push and the first poll", runs)
    expect("partial" in runs and "Price must be greater than or equal to 0" in runs, "the refused product's reason", runs)
    expect("1/1 pages" in runs, "a full progress bar for the finished push", runs)
    expect(browser.evaluate("document.querySelectorAll('#sync-runs progress').length") >= 3, "progress bars drawn")

    dead = browser.text("#dead-letters")
    expect("poison-dashboard-1" in dead and "orders.ingest" in dead, "the poison job among the dead letters", dead)
    expect(browser.visible("#dead-letters button[data-id='poison-dashboard-1']"), "a Retry button for it")
    say(f"  screenshot: {browser.screenshot('dashboard.png')}")

    say("dashboard: the worker stops")
    system.kill("worker-1")
    wait_until("no live worker shown", lambda: "No live worker" in browser.text("#workers"), 20, 0.5)
    expect(True, "'No live worker' shown once the worker is gone")

    say("dashboard: retrying the dead letter")
    browser.click("#dead-letters button[data-id='poison-dashboard-1']")
    wait_until("the retry's confirmation", lambda: "is back on ecommerce-orders" in browser.text("#banner"), 10, 0.2)
    wait_until("the dead letter gone", lambda: "No dead letter." in browser.text("#dead-letters"), 10, 0.2)
    expect(True, "the dead letter leaves the list with a confirmation")
    expect(system.redis("ZRANGE", "{ecommerce-orders}:ready", "0", "-1").count("poison-dashboard-1") == 1, "the job back on ecommerce-orders in Redis")
    ready = next(line for line in browser.text("#queues").splitlines() if line.startswith("ecommerce-orders")).split("\t")
    expect(ready[1].strip() == "1" and ready[4].strip() == "0", "ecommerce-orders now 1 ready, 0 dead", "\t".join(ready))
    say(f"  screenshot: {browser.screenshot('dashboard-after-retry.png')}")

    say("dashboard: the doctor of the connected business")
    browser.click(f"#connections button[data-business='{BUSINESS}']")
    wait_until("the doctor's report", lambda: browser.evaluate("document.querySelector('#doctor').dataset.state") == "done", 60, 0.3)
    doctor = browser.text("#doctor")
    def finding(check: str) -> str:
        return browser.evaluate(f"(() => {{ const n = document.querySelector('#doctor .finding[data-check={check}]'); return n ? n.className : ''; }})()") or ""
    # drift: the seeded stock waited in the outbox while the first push created the variants with it; pushed again
    # afterwards, Shopify showed twice FlowPOS's number (the doctor found that: 80 for 40).
    for check_name in ["connection", "scopes", "token", "webhook_subscriptions", "stock_relay", "drift", "polling"]:
        expect(finding(check_name).endswith(" ok"), f"the doctor's {check_name} step ok", doctor)
    expect("Shopify accepts it" in doctor, "the token tried against Shopify", doctor)
    # One product of the push was refused (a bad price): its variants are not in Shopify, and the doctor says which.
    expect(finding("mappings").endswith(" warning") and "not in Shopify: DASH-" in doctor, "the refused product's variants named as unmapped", doctor)
    expect("POST /ecommerce/sync/products" in doctor, "what to do about them", doctor)
    say(f"  screenshot: {browser.screenshot('ops-doctor.png')}")

    say("dashboard: an order found by the search box")
    browser.type("#trace-order", str(ORDER["id"]))
    browser.click("#trace-form button[type=submit]")
    wait_until("the order's trace", lambda: browser.evaluate("document.querySelector('#trace').dataset.state") == "done", 30, 0.3)
    found = browser.text("#trace")
    kinds = browser.evaluate("[...document.querySelectorAll('#trace li')].map((n) => n.dataset.kind)")
    expect(kinds[:4] == ["delivery", "ingestion", "stock_movement", "job"], "the delivery, its ingestion, the stock movement and the job, in order", found)
    expect("orders/create" in found and "from webhook" in found and "-2 → 38" in found, "what each step says", found)
    expect("2 applied" in found, "the quantity applied to the line", found)
    say(f"  screenshot: {browser.screenshot('ops-order-trace.png')}")

    say("dashboard: the charts of the last hour, from this check's own traffic")
    forged = http("POST", f"http://127.0.0.1:{system.gateway_port}/ecommerce/webhooks/shopify", body=b'{"id": 1}',
                  headers={"Content-Type": "application/json", "X-Shopify-Topic": "orders/create", "X-Shopify-Shop-Domain": SHOP,
                           "X-Shopify-Hmac-Sha256": base64.b64encode(b"not the signature").decode()})
    expect(forged.status == 401, "a forged delivery refused (401)", str(forged.status))

    def legend(chart: str) -> str:
        return browser.text(f"#chart-{chart} .legend")

    def points(chart: str) -> int:
        return int(browser.evaluate(f"(document.querySelector('#chart-{chart} svg') || {{dataset: {{}}}}).dataset.points || '0'"))

    # The gateway's and the worker's counts reach Redis within their flush interval (5 s); the page redraws every 5 s.
    wait_until("the forged delivery in the webhooks chart", lambda: "unauthorized (1)" in legend("webhooks"), 30, 0.5)
    webhooks = legend("webhooks")
    expect("accepted" in webhooks and "duplicate" in webhooks and "unauthorized (1)" in webhooks,
           "webhooks by answer: accepted, duplicate, and the forged one", webhooks)
    series = browser.evaluate("[...document.querySelectorAll('#chart-webhooks path.series')].map((n) => n.dataset.series)")
    expect(set(series) >= {"accepted", "duplicate", "unauthorized"} and points("webhooks") > 0, "a line per answer", str(series))
    jobs = legend("jobs")
    expect("orders" in jobs and "/ 1 failed" in jobs, "jobs per queue: the orders completed, and the poison job's failure", jobs)
    expect(browser.evaluate("document.querySelectorAll('#chart-jobs path.series.dashed').length") > 0, "failed jobs drawn dashed")
    lag = legend("lag")
    expect("p50" in lag and "p99" in lag and "webhook orders" in lag and points("lag") > 0, "the ingestion lag's p50 and p99 drawn", lag)
    expect(browser.evaluate("document.querySelectorAll('script:not([src])').length") == 0, "no inline script (the CSP is unchanged)")
    say(f"  screenshot: {browser.screenshot('ops-charts.png', '#activity')}")


def main() -> int:
    bin_dir = sys.argv[1]
    # Its own Redis and PostgreSQL (scripts/services.sh "ui": 17379 / 17432), fresh each run.
    fresh_services("ui")
    system = System("ui", bin_dir, gateway_port=18480, simulator_port=18481, worker_metrics_base=18490)
    browser = None
    try:
        prepare(system)
        browser = Browser()
        check(system, browser)
        say("dashboard: all checks passed")
        return 0
    except Exception as error:
        say(f"dashboard: FAILED: {error}")
        if browser:
            try:
                say(f"  screenshot of the failure: {browser.screenshot('dashboard-failure.png')}")
            except Exception:
                pass
        say(f"  logs: {system.log_dir}")
        return 1
    finally:
        if browser:
            browser.close()
        system.stop_all()
        services("stop", "ui", check=False)


if __name__ == "__main__":
    sys.exit(main())
