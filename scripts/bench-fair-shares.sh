#!/usr/bin/env bash
# The many-merchants benchmark (not a test): fair shares across shops. One merchant pushes LARGE_PRODUCTS (2,000)
# products × 3 variants while SMALL (50) small merchants each have 20 stock changes to push and a poll due; every shop
# on a Standard plan's bucket (RESTORE_RATE 100 points/s, BUCKET 1,000 points) in the Shopify simulator; WORKERS (4)
# worker processes serving every queue, as deployed. Three phases, each with fresh workers on the same system:
#   alone      the small merchants' changes and polls with nothing else running;
#   fair       the same while the large push runs, with the defaults (shops take turns, SHOP_CONCURRENCY=2,
#              SHOPIFY_MAX_INLINE_WAIT_SECONDS=2);
#   unfair     the same while the large push runs, with the caps off and 30 s inline waits (the behaviour before
#              fair shares, except that claims still take turns).
# Printed per phase: the small merchants' inventory-push latency (stock changed in FlowPOS → every one of a shop's
# new quantities in the shop, per variant) p50/p99, their poll lateness (enqueued → done) p50/p99, and Jain's
# fairness index of worker-slot time across the shops with Shopify-bound work (per second, over the shops with work
# all through it; the mean); then p99 with the push ÷ p99 alone (goal ≤ 2). The run: scripts/bench/fair_shares.py.
# Everything talks to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
results="$PWD/bench-results"
mkdir -p "$results"
scripts/install-deps.sh
echo "== release build"
swift build -c release >/dev/null
bin=$(swift build -c release --show-bin-path)
python3 scripts/bench/fair_shares.py "$bin" | tee "$results/fair-shares-$(date -u +%Y%m%dT%H%M%SZ).txt"
