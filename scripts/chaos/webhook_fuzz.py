"""Webhook fuzz (not a test): throws malformed, forged, oversized, huge-header and slow requests at a running
gateway and counts the answers. Fails (exit 1) on any 5xx other than 503, on a forged request accepted, or if the
gateway stops answering. Usage: webhook_fuzz.py HOST PORT SECRET SHOP [ROUNDS]"""
import base64, collections, hashlib, hmac, json, random, socket, sys, time

host, port, secret, shop = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode(), sys.argv[4]
rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 200
random.seed(7)

def sign(body: bytes) -> str:
    return base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode()

def order(order_id: int) -> bytes:
    return json.dumps({"id": order_id, "name": f"#F{order_id}", "updated_at": "2026-11-27T10:00:00Z", "created_at": "2026-11-27T10:00:00Z",
                       "cancelled_at": None, "line_items": [{"id": order_id * 10, "variant_id": None, "sku": "FUZZ", "quantity": 1, "current_quantity": 1}],
                       "customer": {"email": "fuzz@example.com"}}).encode()

def send(raw: bytes, slow: bool = False, timeout: float = 10) -> int:
    """Sends raw bytes, returns the status code (0 when the connection was refused or closed without an answer)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as connection:
            if slow:
                for index in range(0, len(raw), 7):
                    connection.sendall(raw[index:index + 7])
                    time.sleep(0.002)
            else:
                connection.sendall(raw)
            answer = b""
            while b"\r\n" not in answer:
                chunk = connection.recv(4096)
                if not chunk:
                    break
                answer += chunk
            line = answer.split(b"\r\n", 1)[0].split()
            return int(line[1]) if len(line) > 1 else 0
    except OSError:
        return 0

def request(body: bytes, headers: dict, path: str = "/ecommerce/webhooks/shopify", content_length=None) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", "Connection: close", f"Content-Length: {len(body) if content_length is None else content_length}"]
    lines += [f"{key}: {value}" for key, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

def headers(body: bytes, topic="orders/create", signature=None, webhook_id=None) -> dict:
    return {"Content-Type": "application/json", "X-Shopify-Topic": topic, "X-Shopify-Shop-Domain": shop,
            "X-Shopify-Hmac-Sha256": signature if signature is not None else sign(body),
            "X-Shopify-Webhook-Id": webhook_id or f"fuzz-{random.getrandbits(64)}"}

results = collections.Counter()
forged_accepted = 0
bad_5xx = 0
cases = {
    "valid": lambda i: request(order(10_000 + i), headers(order(10_000 + i))),
    "forged signature": lambda i: request(order(20_000 + i), headers(order(20_000 + i), signature=sign(b"other"))),
    "signature of another secret": lambda i: request(order(i), headers(order(i), signature=base64.b64encode(hmac.new(b"x", order(i), hashlib.sha256).digest()).decode())),
    "one byte changed": lambda i: request(order(i).replace(b"FUZZ", b"FUZY"), headers(order(i))),
    "no signature": lambda i: request(order(i), {k: v for k, v in headers(order(i)).items() if k != "X-Shopify-Hmac-Sha256"}),
    "garbage signature": lambda i: request(order(i), headers(order(i), signature="%%%not-base64%%%")),
    "not JSON, signed": lambda i: request(b"\x00\xff" * 50, headers(b"\x00\xff" * 50)),
    "JSON array, signed": lambda i: request(b"[1,2,3]", headers(b"[1,2,3]")),
    "order without id, signed": lambda i: request(b'{"line_items": []}', headers(b'{"line_items": []}')),
    "unknown topic, signed": lambda i: request(order(i), headers(order(i), topic="products/delete")),
    "oversized": lambda i: request(b"x" * (2 << 20), headers(b"")),
    "lying content-length": lambda i: request(order(i), headers(order(i)), content_length=len(order(i)) + 100),
    "huge header": lambda i: request(order(i), {**headers(order(i)), "X-Padding": "y" * 100_000}),
    "many headers": lambda i: request(order(i), {**headers(order(i)), **{f"X-H{n}": "z" for n in range(500)}}),
    "duplicate delivery": lambda i: request(order(30_000), headers(order(30_000), webhook_id="fuzz-duplicate")),
}
started = time.time()
for round_number in range(rounds):
    for name, build in cases.items():
        slow = name == "valid" and round_number % 20 == 0
        status = send(build(round_number), slow=slow, timeout=1 if name == "lying content-length" else 10)
        results[(name + (" (slow body)" if slow else ""), status)] += 1
        if name not in ("valid", "duplicate delivery") and "signed" not in name and name not in ("oversized", "lying content-length", "huge header", "many headers") and status == 200:
            forged_accepted += 1
        if status >= 500 and status != 503:
            bad_5xx += 1
alive = send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
print(f"webhook fuzz: {sum(results.values())} requests in {time.time() - started:.1f} s")
for (name, status), count in sorted(results.items()):
    print(f"  {name:34s} -> {status if status else 'closed'}: {count}")
print(f"forged requests accepted: {forged_accepted} | 5xx other than 503: {bad_5xx} | /healthz afterwards: {alive}")
sys.exit(0 if forged_accepted == 0 and bad_5xx == 0 and alive == 200 else 1)
