"""Mint an HS256 admin token: jwt.py SECRET (ops) or jwt.py SECRET BUSINESS_ID (merchant). Benchmarks and demos only."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from ecommerce import mint_jwt  # noqa: E402

print(mint_jwt(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None))
