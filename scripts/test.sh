#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine as root: installs what is missing, starts a throwaway Redis,
# PostgreSQL, PgBouncer and a 6-node Redis Cluster (scripts/services.sh, data under .local/test, made anew each run;
# the queue conformance suite and the worker-process tests run a second time on the cluster), validates deploy/, builds, checks the layers
# (scripts/check-layers.py) and the format, runs
# `swift test`, runs each fuzz target for a short smoke (scripts/fuzz.sh; FUZZ_SECONDS, 20), checks the ops
# dashboard in headless Chromium against a running system (its own services, "ui"; screenshots in test-artifacts/),
# checks the OTLP export of a delivery's trace from a running gateway and worker to a receiver (services "trace"),
# fuzzes the admin API from its OpenAPI contract with schemathesis (scripts/openapi/fuzz_gateway.py, services "api";
# OPENAPI_EXAMPLES per operation, 25), and stops the services again whatever happened.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/services.sh stop test  # leftovers of an interrupted run
# Every run starts from a new PostgreSQL cluster and an empty Redis: no test can lean on rows an earlier run left.
rm -rf .local/test
trap 'scripts/services.sh stop test; scripts/services.sh stop ui; scripts/services.sh stop trace; scripts/services.sh stop api' EXIT
scripts/services.sh start test
scripts/services.sh start-cluster test
export TEST_REDIS_PORT=${REDIS_PORT:-16379}
export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:${PG_PORT:-15432}/ecommerce?sslmode=disable"
export TEST_POOLED_DATABASE_URL="postgres://postgres@127.0.0.1:$((${PG_PORT:-15432} + 1))/ecommerce?sslmode=disable"
export ECOMMERCE_BIN_DIR="$PWD/.build/debug"
export TEST_REDIS_CLUSTER_URL="$(scripts/services.sh cluster-env test | cut -d= -f2-)"

echo "== deploy/"
scripts/validate-deploy.sh
echo "== build"
swift build --build-tests
echo "== layers (docs/architecture.md)"
python3 scripts/check-layers.py
echo "== format"
swift format lint --strict -r Sources Tests Fuzz Package.swift
echo "== OpenAPI document (docs/openapi.json is the one definition; the gateway serves its copy)"
python3 scripts/openapi/write_document.py --check
echo "== test"
swift test --skip-build
echo "== test on the Redis Cluster (the queue conformance suite, then the worker-process tests: one database, one suite at a time)"
TEST_REDIS_ON_CLUSTER=1 swift test --skip-build --filter JobQueueDriverConformanceTests
TEST_REDIS_ON_CLUSTER=1 swift test --skip-build --filter WorkerProcessTests
echo "== fuzz (smoke)"
scripts/fuzz.sh "${FUZZ_SECONDS:-20}"
echo "== dashboard"
"$(scripts/venv.sh)" scripts/dashboard/check_dashboard.py "$PWD/.build/debug"
echo "== tracing (OTLP export)"
"$(scripts/venv.sh)" scripts/tracing/check_tracing.py "$PWD/.build/debug"
echo "== admin API fuzz (OpenAPI contract)"
"$(scripts/venv.sh)" scripts/openapi/fuzz_gateway.py "$PWD/.build/debug" --examples "${OPENAPI_EXAMPLES:-25}"
