"""Webhook fuzz (not a test): throws valid, duplicated, malformed, forged, oversized, huge-header and slow requests
at a running gateway and checks every answer against what that kind of request must get: with Redis up a valid
delivery is accepted (200 {"ok":true}), with Redis down it is refused for a redelivery (503); a forged one is 401
either way; a signed but unusable one is 200 {"ok":false,...} (Shopify must not retry it); an oversized one 413.
A gateway that refuses everything, or accepts everything, fails. Exits 1 on any unexpected answer or if the gateway
stops answering. Usage: webhook_fuzz.py HOST PORT SECRET SHOP up|down [ROUNDS]"""
import base64, collections, hashlib, hmac, json, random, socket, sys, time

host, port, secret, shop, redis_state = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode(), sys.argv[4], sys.argv[5]
if redis_state not in ("up", "down"):
    sys.exit("webhook_fuzz: the fifth argument says whether Redis is up or down")
rounds = int(sys.argv[6]) if len(sys.argv) > 6 else 200
random.seed(7)

def sign(body: bytes) -> str:
    return base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode()

def order(order_id: int) -> bytes:
    return json.dumps({"id": order_id, "name": f"#F{order_id}", "updated_at": "2026-11-27T10:00:00Z", "created_at": "2026-11-27T10:00:00Z",
                       "cancelled_at": None, "line_items": [{"id": order_id * 10, "variant_id": None, "sku": "FUZZ", "quantity": 1, "current_quantity": 1}],
                       "customer": {"email": "fuzz@example.com"}}).encode()

def send(raw: bytes, slow: bool = False, timeout: float = 10) -> tuple[int, bytes]:
    """Sends raw bytes; returns the status code and the body (0 when the connection was refused or closed without
    an answer). Every request says Connection: close, so the body is what comes until the gateway closes."""
    answer = b""
    try:
        with socket.create_connection((host, port), timeout=timeout) as connection:
            try:
                if slow:
                    for index in range(0, len(raw), 7):
                        connection.sendall(raw[index:index + 7])
                        time.sleep(0.002)
                else:
                    connection.sendall(raw)
            except OSError:
                pass  # the gateway may answer (413, 431) and close before it has read all we send: read that answer
            while len(answer) < 1 << 20:
                chunk = connection.recv(4096)
                if not chunk:
                    break
                answer += chunk
    except OSError:
        if not answer:
            return 0, b""
    head, _, body = answer.partition(b"\r\n\r\n")
    line = head.split(b"\r\n", 1)[0].split()
    return (int(line[1]) if len(line) > 1 else 0), body

def request(body: bytes, headers: dict, path: str = "/ecommerce/webhooks/shopify", content_length=None) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", "Connection: close", f"Content-Length: {len(body) if content_length is None else content_length}"]
    lines += [f"{key}: {value}" for key, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

def headers(body: bytes, topic="orders/create", signature=None, webhook_id=None) -> dict:
    return {"Content-Type": "application/json", "X-Shopify-Topic": topic, "X-Shopify-Shop-Domain": shop,
            "X-Shopify-Hmac-Sha256": signature if signature is not None else sign(body),
            "X-Shopify-Webhook-Id": webhook_id or f"fuzz-{random.getrandbits(64)}"}

ACCEPTED = (200, {"ok": True})
def rejected(code: str):
    """A verified delivery we cannot use: 200, so that Shopify does not retry it, with the reason."""
    return (200, {"ok": False, "error": code})
UNAUTHORIZED, TOO_LARGE, UNAVAILABLE = 401, 413, 503

# case: (build, what it must get with Redis up, with Redis down). An expectation is a status, or (status, body),
# or a set of them. Refusals that do not reach Redis are the same either way.
cases = {
    "valid": (lambda i: request(order(10_000 + i), headers(order(10_000 + i))), ACCEPTED, UNAVAILABLE),
    "duplicate delivery": (lambda i: request(order(30_000), headers(order(30_000), webhook_id="fuzz-duplicate")), ACCEPTED, UNAVAILABLE),
    "forged signature": (lambda i: request(order(20_000 + i), headers(order(20_000 + i), signature=sign(b"other"))), UNAUTHORIZED, UNAUTHORIZED),
    "signature of another secret": (lambda i: request(order(i), headers(order(i), signature=base64.b64encode(hmac.new(b"x", order(i), hashlib.sha256).digest()).decode())), UNAUTHORIZED, UNAUTHORIZED),
    "one byte changed": (lambda i: request(order(i).replace(b"FUZZ", b"FUZY"), headers(order(i))), UNAUTHORIZED, UNAUTHORIZED),
    "no signature": (lambda i: request(order(i), {k: v for k, v in headers(order(i)).items() if k != "X-Shopify-Hmac-Sha256"}), UNAUTHORIZED, UNAUTHORIZED),
    "garbage signature": (lambda i: request(order(i), headers(order(i), signature="%%%not-base64%%%")), UNAUTHORIZED, UNAUTHORIZED),
    "not JSON, signed": (lambda i: request(b"\x00\xff" * 50, headers(b"\x00\xff" * 50)), rejected("invalid_payload"), rejected("invalid_payload")),
    "JSON array, signed": (lambda i: request(b"[1,2,3]", headers(b"[1,2,3]")), rejected("invalid_payload"), rejected("invalid_payload")),
    "order without id, signed": (lambda i: request(b'{"line_items": []}', headers(b'{"line_items": []}')), rejected("invalid_payload"), rejected("invalid_payload")),
    "unknown topic, signed": (lambda i: request(order(i), headers(order(i), topic="products/delete")), rejected("unsupported_topic"), rejected("unsupported_topic")),
    "oversized": (lambda i: request(b"x" * (2 << 20), headers(b"")), TOO_LARGE, TOO_LARGE),
    # The body never completes: the gateway gives up on it (408) or the client's 1 s timeout ends it first (0).
    "lying content-length": (lambda i: request(order(i), headers(order(i)), content_length=len(order(i)) + 100), {0, 408}, {0, 408}),
    "huge header": (lambda i: request(order(i), {**headers(order(i)), "X-Padding": "y" * 100_000}), 431, 431),
    # More headers than the fast path reads, in a head of normal length: the full HTTP parser takes it, and it is
    # a valid delivery.
    "many headers": (lambda i: request(order(40_000 + i), {**headers(order(40_000 + i)), **{f"X-H{n}": "z" for n in range(500)}}), ACCEPTED, UNAVAILABLE),
}

def matches(expected, status: int, body: bytes) -> bool:
    if isinstance(expected, set):
        return any(matches(option, status, body) for option in expected)
    if isinstance(expected, tuple):
        try:
            return status == expected[0] and json.loads(body) == expected[1]
        except ValueError:
            return False
    return status == expected

results = collections.Counter()
unexpected = collections.Counter()
examples = {}
started = time.time()
for round_number in range(rounds):
    for name, (build, when_up, when_down) in cases.items():
        slow = name == "valid" and round_number % 20 == 0
        status, body = send(build(round_number), slow=slow, timeout=1 if name == "lying content-length" else 10)
        label = name + (" (slow body)" if slow else "")
        results[(label, status)] += 1
        if not matches(when_up if redis_state == "up" else when_down, status, body):
            unexpected[label] += 1
            examples.setdefault(label, (status, body[:200]))
alive, _ = send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
print(f"webhook fuzz (Redis {redis_state}): {sum(results.values())} requests in {time.time() - started:.1f} s")
for (name, status), count in sorted(results.items()):
    print(f"  {name:34s} -> {status if status else 'closed'}: {count}")
for name, (status, body) in examples.items():
    print(f"  UNEXPECTED {name}: {unexpected[name]} answers, e.g. {status} {body!r}")
print(f"unexpected answers: {sum(unexpected.values())} | /healthz afterwards: {alive}")
sys.exit(0 if not unexpected and alive == 200 else 1)
