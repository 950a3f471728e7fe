"""Drives a running FlowPOS ecommerce system from scripts: starts and stops its processes (simulator, gateway,
workers) by pid, talks to the gateway, the simulator's control API, Redis and PostgreSQL, and mints admin tokens.

Used by the whole-story run (scripts/story.py), the dashboard check (scripts/dashboard/check_dashboard.py) and the
chaos suite (scripts/chaos/chaos.py). Standard library only; `psql` and `redis-cli` from the Debian packages.
Everything talks to 127.0.0.1.
"""

import base64
import hashlib
import hmac
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def mint_jwt(secret: str, business_id: str | None = None, ttl: int = 3600) -> str:
    """An HS256 admin token: an operator's (`role: ops`) without a business, a merchant's with one."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    claims = {"exp": int(time.time()) + ttl}
    if business_id:
        claims["businessId"] = business_id
    else:
        claims["role"] = "ops"
    signing_input = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + b64(json.dumps(claims).encode())
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(signature)


def say(message: str) -> None:
    print(message, flush=True)


def progress(label: str, done: int, total: int) -> None:
    """One self-overwriting progress line on a terminal; a plain line every tenth otherwise."""
    width = 30
    filled = int(width * done / total) if total else width
    line = f"  {label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
    if sys.stdout.isatty():
        print("\r" + line, end="" if done < total else "\n", flush=True)
    elif total and (done == total or done % max(1, total // 10) == 0):
        print(line, flush=True)


class HTTPAnswer:
    def __init__(self, status: int, body: bytes, headers):
        self.status = status
        self.body = body
        self.headers = headers

    def json(self):
        return json.loads(self.body) if self.body else None


def http(method: str, url: str, body=None, headers: dict | None = None, timeout: float = 10) -> HTTPAnswer:
    """One request; answers of every status come back (no exception for 4xx/5xx). JSON bodies for dicts/lists."""
    data = None
    headers = dict(headers or {})
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return HTTPAnswer(response.status, response.read(), response.headers)
    except urllib.error.HTTPError as error:
        return HTTPAnswer(error.code, error.read(), error.headers)


def wait_until(description: str, condition, timeout: float, interval: float = 0.5):
    """Polls `condition` until it returns something truthy; raises with `description` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as error:  # a service still starting, a connection refused
            last_error = error
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {description}" + (f" (last error: {last_error})" if last_error else ""))


def services(action: str, name: str, *extra: str, check: bool = True) -> None:
    """`scripts/services.sh ACTION NAME [EXTRA…]`: the named Redis and PostgreSQL (start, stop, restart-redis, …)."""
    subprocess.run([os.path.join(ROOT, "scripts", "services.sh"), action, name, *extra], check=check, stdout=subprocess.DEVNULL)


def fresh_services(name: str) -> None:
    """The named Redis and PostgreSQL started from empty data folders."""
    services("stop", name)
    shutil.rmtree(os.path.join(ROOT, ".local", name), ignore_errors=True)
    services("start", name)


class System:
    """The processes of one local system and the ways to reach it.

    `services` names the scripts/services.sh instance (its Redis and PostgreSQL must be running); logs go to
    .local/<services>/logs.
    """

    def __init__(self, services: str, bin_dir: str, gateway_port: int, simulator_port: int, worker_metrics_base: int, env: dict | None = None,
                 redis_cluster: bool = False):
        self.services = services
        self.bin_dir = bin_dir
        self.gateway_port = gateway_port
        self.simulator_port = simulator_port
        self.worker_metrics_base = worker_metrics_base
        self.log_dir = os.path.join(ROOT, ".local", services, "logs")
        os.makedirs(self.log_dir, exist_ok=True)
        service_env = subprocess.run([os.path.join(ROOT, "scripts", "services.sh"), "env", services], check=True, capture_output=True, text=True).stdout
        self.env = dict(os.environ)
        if redis_cluster:
            # The services' Redis Cluster (scripts/services.sh start-cluster) instead of its single Redis.
            service_env += subprocess.run([os.path.join(ROOT, "scripts", "services.sh"), "cluster-env", services], check=True, capture_output=True,
                                          text=True).stdout
        for line in service_env.splitlines():
            key, _, value = line.partition("=")
            self.env[key] = value
        self.env.update(
            {
                "HTTP_HOST": "127.0.0.1",
                "HTTP_PORT": str(gateway_port),
                "SHOPIFY_API_KEY": "simulator-app",
                "SHOPIFY_API_SECRET": "local-app-secret",
                "JWT_SECRET": "local-jwt-secret-of-at-least-32-bytes!",
                "PUBLIC_BASE_URL": f"http://127.0.0.1:{gateway_port}",
                "APP_REDIRECT_URL": f"http://127.0.0.1:{gateway_port}/healthz",
                "SHOPIFY_ADMIN_BASE_URL": f"http://127.0.0.1:{simulator_port}/shops/{{shop}}",
                "TOKEN_ENCRYPTION_KEYS": "local:" + base64.b64encode(hashlib.sha256(b"local token key " + services.encode()).digest()).decode(),
                "LOG_FORMAT": "text",
            }
        )
        self.env.update(env or {})
        self.processes: dict[str, subprocess.Popen] = {}

    # Processes

    def start(self, name: str, argv: list[str], env: dict | None = None) -> subprocess.Popen:
        """Starts a process in its own process group, output appended to logs/<name>.log."""
        log = open(os.path.join(self.log_dir, f"{name}.log"), "ab")
        process = subprocess.Popen(argv, env={**self.env, **(env or {})}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes[name] = process
        return process

    def start_simulator(self, shops: list[str], options: list[str] | None = None) -> None:
        argv = [os.path.join(self.bin_dir, "shopify-simulator"), "--port", str(self.simulator_port), "--api-key", self.env["SHOPIFY_API_KEY"], "--api-secret", self.env["SHOPIFY_API_SECRET"]]
        argv += options or []
        for shop in shops:
            argv += ["--shop", f"{shop}:shpat_{uuid.uuid4().hex}"]
        self.start("simulator", argv)
        wait_until("the simulator", lambda: self.simulator("GET", "/_control/settings").status == 200, 30)

    def start_gateway(self) -> None:
        self.start("gateway", [os.path.join(self.bin_dir, "ecommerce-gateway")])
        wait_until("the gateway", lambda: self.gateway("GET", "/readyz").status == 200, 60)

    def start_worker(self, index: int, env: dict | None = None) -> subprocess.Popen:
        process = self.start(f"worker-{index}", [os.path.join(self.bin_dir, "ecommerce-worker"), "run"], {"METRICS_PORT": str(self.worker_metrics_base + index), **(env or {})})
        wait_until(f"worker {index}", lambda: http("GET", f"http://127.0.0.1:{self.worker_metrics_base + index}/readyz").status == 200, 60)
        return process

    def migrate(self) -> None:
        subprocess.run([os.path.join(self.bin_dir, "ecommerce-worker"), "migrate"], env=self.env, check=True, stdout=subprocess.DEVNULL)

    def kill(self, name: str, sig: int = signal.SIGTERM, timeout: float = 60) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop_all(self) -> None:
        """SIGTERM to every process started here (workers first, the simulator last), then waits."""
        order = sorted(self.processes, key=lambda name: (name == "simulator", name == "gateway", name))
        for name in order:
            self.kill(name)

    # Services

    def service(self, action: str, *extra: str) -> None:
        """`scripts/services.sh ACTION NAME [EXTRA…]` for this system's Redis and PostgreSQL, e.g. `restart-redis`."""
        services(action, self.services, *extra)

    def sql(self, query: str) -> list[list[str]]:
        """Rows of a query through psql, as text fields."""
        url = self.env["DATABASE_URL"].split("?")[0]
        out = subprocess.run(["psql", url, "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", query], check=True, capture_output=True, text=True).stdout
        return [line.split("\t") for line in out.splitlines() if line]

    def redis(self, *args: str) -> str:
        url = self.env["REDIS_URL"]
        if not url.startswith("redis-cluster://"):
            return subprocess.run(["redis-cli", "-u", url, *args], check=True, capture_output=True, text=True).stdout.strip()
        # A cluster: the first node that answers, following redirections (-c); a node may be down (the chaos kills one).
        failure = ""
        for node in url.removeprefix("redis-cluster://").split(","):
            host, _, port = node.rpartition(":")
            answer = subprocess.run(["redis-cli", "-c", "-h", host, "-p", port, *args], capture_output=True, text=True)
            if answer.returncode == 0 and not answer.stdout.startswith("Could not connect"):
                return answer.stdout.strip()
            failure = answer.stdout + answer.stderr
        raise RuntimeError(f"no cluster node answered {args}: {failure.strip()}")

    def cluster_nodes(self) -> list[dict]:
        """The cluster's nodes as `CLUSTER NODES` lists them: port, role flags, and the slots of a master."""
        nodes = []
        for line in self.redis("CLUSTER", "NODES").splitlines():
            fields = line.split()
            port = int(fields[1].split("@")[0].rpartition(":")[2])
            slots = set()
            for part in fields[8:]:
                if not part.startswith("["):
                    low, _, high = part.partition("-")
                    slots.update(range(int(low), int(high or low) + 1))
            nodes.append({"port": port, "flags": fields[2].split(","), "slots": slots})
        return nodes

    def master_port(self, slot: int) -> int | None:
        """The port of the live master serving `slot`, or None while no master serves it."""
        for node in self.cluster_nodes():
            if "master" in node["flags"] and "fail" not in node["flags"] and "fail?" not in node["flags"] and slot in node["slots"]:
                return node["port"]
        return None

    # HTTP

    def gateway(self, method: str, path: str, token: str | None = None, body=None, timeout: float = 10) -> HTTPAnswer:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return http(method, f"http://127.0.0.1:{self.gateway_port}{path}", body, headers, timeout)

    def simulator(self, method: str, path: str, body=None, timeout: float = 10) -> HTTPAnswer:
        return http(method, f"http://127.0.0.1:{self.simulator_port}{path}", body, timeout=timeout)

    def ops_token(self) -> str:
        return mint_jwt(self.env["JWT_SECRET"])

    def merchant_token(self, business_id: str) -> str:
        return mint_jwt(self.env["JWT_SECRET"], business_id)

    # The flows a merchant goes through

    def connect_via_oauth(self, business_id: str, shop: str) -> None:
        """The real install: the gateway's authorize URL, the shop's consent (the simulator approves), the callback
        with its signed query, the token exchange, webhook subscriptions and the first poll."""
        answer = self.gateway("GET", f"/ecommerce/oauth/install?shop={shop}&businessId={business_id}", self.merchant_token(business_id))
        if answer.status != 200:
            raise RuntimeError(f"install refused: {answer.status} {answer.body[:200]!r}")
        # urllib follows the simulator's 302 to the gateway's callback, and the callback's 302 to APP_REDIRECT_URL.
        done = http("GET", answer.json()["authorizeUrl"], timeout=30)
        if done.status != 200:
            raise RuntimeError(f"OAuth callback failed: {done.status} {done.body[:300]!r}")
        status = self.gateway("GET", f"/ecommerce/connection?businessId={business_id}", self.ops_token()).json()
        if status.get("status") != "active":
            raise RuntimeError(f"connection not active after OAuth: {status}")

    def seed_catalog(self, business_id: str, products: int, stock: int, prefix: str, category: str | None = None, bad_price_every: int = 0) -> None:
        """FlowPOS products with one variant each (SKU PREFIX-n, `stock` in stock), optionally all in one category.
        Every `bad_price_every`-th product gets a negative price, which Shopify refuses."""
        bad = f"CASE WHEN {bad_price_every} > 0 AND n % {bad_price_every} = 0 THEN -1 ELSE 9.99 END" if bad_price_every else "9.99"
        statements = f"""
            INSERT INTO products (id, business_id, name)
              SELECT md5('{prefix}-p' || n)::uuid, '{business_id}', '{prefix} product ' || n FROM generate_series(1, {products}) n ON CONFLICT DO NOTHING;
            INSERT INTO variants (id, product_id, business_id, sku, price)
              SELECT md5('{prefix}-v' || n)::uuid, md5('{prefix}-p' || n)::uuid, '{business_id}', '{prefix}-' || n, {bad}
              FROM generate_series(1, {products}) n ON CONFLICT DO NOTHING;
            INSERT INTO stock_levels (variant_id, business_id, quantity)
              SELECT md5('{prefix}-v' || n)::uuid, '{business_id}', {stock} FROM generate_series(1, {products}) n ON CONFLICT DO NOTHING;
        """
        if category:
            statements += f"""
            INSERT INTO categories (id, business_id, name) VALUES (md5('{prefix}-c')::uuid, '{business_id}', '{category}') ON CONFLICT DO NOTHING;
            INSERT INTO product_categories (product_id, category_id)
              SELECT md5('{prefix}-p' || n)::uuid, md5('{prefix}-c')::uuid FROM generate_series(1, {products}) n ON CONFLICT DO NOTHING;
            """
        self.sql(statements)

    def push(self, kind: str, business_id: str, show_progress: bool = True, timeout: float = 300) -> dict:
        """Starts a product or collection push (`kind` = products | collections) and follows its run to the end."""
        token = self.merchant_token(business_id)
        answer = self.gateway("POST", f"/ecommerce/sync/{kind}", token)
        if answer.status != 202:
            raise RuntimeError(f"{kind} push refused: {answer.status} {answer.body[:200]!r}")
        run_id = answer.json()["syncLogId"]

        def finished():
            run = self.gateway("GET", f"/ecommerce/sync/logs/{run_id}", token).json()
            if show_progress and run.get("pagesTotal"):
                progress(f"{kind} pages", run["pagesDone"], run["pagesTotal"])
            return run if run["status"] != "running" else None

        return wait_until(f"the {kind} push", finished, timeout, 0.5)

    # Orders placed in the simulated shop, and what FlowPOS made of them

    def shop_variants(self, shop: str) -> dict[str, int]:
        """SKU → Shopify variant id of the products pushed to the simulated shop."""
        products = self.simulator("GET", f"/_control/shops/{shop}/products").json()
        return {variant["sku"]: variant["id"] for product in products for variant in product["variants"] if variant.get("sku")}

    def set_webhook_faults(self, drop: float, duplicate: float, delay: float = 0, max_delay_ms: int = 0) -> None:
        settings = self.simulator("GET", "/_control/settings").json()
        settings.update({"webhookDropRate": drop, "webhookDuplicateRate": duplicate, "webhookDelayRate": delay, "webhookMaxDelayMs": max_delay_ms})
        answer = self.simulator("PUT", "/_control/settings", settings)
        if answer.status != 204:
            raise RuntimeError(f"simulator settings refused: {answer.status} {answer.body[:200]!r}")

    def place_order(self, shop: str, lines: list[tuple[int, int]]) -> dict:
        """A customer's order in the shop: (variant id, quantity) per line. Returns the order as Shopify sends it."""
        answer = self.simulator("POST", f"/_control/shops/{shop}/orders", {"lines": [{"variantId": v, "quantity": q} for v, q in lines]})
        if answer.status != 201:
            raise RuntimeError(f"order refused by the simulator: {answer.status} {answer.body[:200]!r}")
        return answer.json()

    def inject_poison(self, job_id: str, business_id: str, shop: str) -> None:
        """Puts a poison job on ecommerce-orders: a readable envelope whose payload no handler can read, which a
        worker buries in the dead letters at once. It goes onto the list under the queue's own name, where versions
        before fair shares enqueued, so that every run also sees a worker's maintenance move such jobs in."""
        envelope = {"id": job_id, "kind": "orders.ingest", "businessId": business_id, "shop": shop, "attempt": 0, "maxAttempts": 5,
                    "enqueuedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "payload": {"poison": True}}
        self.redis("LPUSH", "ecommerce-orders", json.dumps(envelope))

    def stock(self, business_id: str) -> dict[str, int]:
        """SKU → FlowPOS quantity for the business."""
        rows = self.sql(f"SELECT v.sku, s.quantity FROM stock_levels s JOIN variants v ON v.id = s.variant_id WHERE s.business_id = '{business_id}'")
        return {sku: int(quantity) for sku, quantity in rows}

    def reconcile(self, business_id: str, orders: dict[int, int]) -> dict:
        """Compares what FlowPOS applied with the orders placed (order id → units ordered): orders ingested, missing,
        applied more than once (their stock movements add up to more than the order) or less, and by which source."""
        applied = {int(reference.split(":")[1]): -int(total) for reference, total in self.sql(
            f"SELECT reference, sum(delta) FROM stock_movements WHERE business_id = '{business_id}' AND reference LIKE 'shopify-order:%' GROUP BY reference")}
        sources = dict(self.sql(f"SELECT source, count(*) FROM ecommerce_ingested_order WHERE business_id = '{business_id}' GROUP BY source"))
        missing = [order for order in orders if order not in applied]
        double = [order for order, units in orders.items() if applied.get(order, 0) > units]
        short = [order for order, units in orders.items() if 0 < applied.get(order, 0) < units]
        return {"ingested": len(orders) - len(missing), "missing": missing, "double": double, "short": short, "sources": {k: int(v) for k, v in sources.items()}}
