"""Mint an HS256 admin token: jwt.py SECRET (ops) or jwt.py SECRET BUSINESS_ID (merchant). Benchmarks and demos only."""
import base64, hashlib, hmac, json, sys, time

def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

secret = sys.argv[1].encode()
claims = {"exp": int(time.time()) + 3600}
if len(sys.argv) > 2:
    claims["businessId"] = sys.argv[2]
else:
    claims["role"] = "ops"
signing_input = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + b64(json.dumps(claims).encode())
signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
print(signing_input + "." + b64(signature))
