#!/usr/bin/env bash
# The whole story locally, from a clean slate: Redis and PostgreSQL (data under .local/dev, reset each run, ports
# 26379/25432), the Shopify simulator on :8081, one gateway on :8080 and two workers (metrics on :9091, :9092); a demo
# business connected through OAuth, its catalog pushed, orders placed with duplicated and dropped webhooks, stock
# following, the poll catching up, a summary and the dashboard URL (scripts/story.py). Ctrl-C stops everything.
#   scripts/run-local.sh [ORDERS]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build
scripts/services.sh stop dev
rm -rf .local/dev
scripts/services.sh start dev >/dev/null
# `|| true`: under `set -e` a failing command in the trap would skip the rest of it.
trap 'scripts/services.sh stop dev || true' EXIT
python3 scripts/story.py "$(swift build --show-bin-path)" "${1:-40}"
