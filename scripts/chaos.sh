#!/usr/bin/env bash
# The chaos suite (not part of the test command; see scripts/chaos/chaos.py): 10,000 orders with duplicated and
# dropped webhooks, a worker SIGKILLed, Redis restarted and SIGKILLed, PostgreSQL restarted, poison jobs; then the
# exactly-once checks and the webhook fuzz. Release build unless BUILD=debug.   scripts/chaos.sh [ORDERS] [--cluster]
# --cluster: on a 6-node Redis Cluster, with a master SIGKILLed (a failover) instead of the Redis restarts.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
configuration=${BUILD:-release}
swift build -c "$configuration"
python3 scripts/chaos/chaos.py "$(swift build -c "$configuration" --show-bin-path)" "${1:-10000}" "${@:2}"
