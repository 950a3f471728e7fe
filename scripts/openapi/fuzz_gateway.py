"""The admin API fuzzed from its contract: schemathesis (PyPI) against a running gateway, with its real Redis and
PostgreSQL (scripts/services.sh "api", fresh each run), the simulator and a worker, two businesses connected through
OAuth with a product push each.

First the document the gateway serves at /openapi.json must be valid OpenAPI 3.1 (openapi-spec-validator) and equal
to docs/openapi.json. Then schemathesis runs every operation twice, with a merchant's token and with an operator's
(the merchant first: the operator's run may disconnect businesses), and fails on a 5xx, an answer code, content type
or body the document does not give, a request the document forbids that the gateway accepts, an answer slower than a
second, an operation that ignores its token, and a merchant's answer that acts on or reads the other business
(scripts/openapi/schemathesis_hooks.py).

  fuzz_gateway.py BIN_DIR [--examples N] [--seed S]     (the test command: 25 examples, seed 1)

Exits non-zero when schemathesis found anything; its reports are kept in test-artifacts/openapi-fuzz/.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from ecommerce import ROOT, System, fresh_services, http, say, services, wait_until  # noqa: E402
from openapi_spec_validator import validate  # noqa: E402

OWN_SHOP, OTHER_SHOP = "fuzz-own.myshopify.com", "fuzz-other.myshopify.com"
OWN = str(uuid.UUID("00000000-0000-4000-8000-00000000f0a1"))
OTHER = str(uuid.UUID("00000000-0000-4000-8000-00000000f0b2"))
REPORTS = os.path.join(ROOT, "test-artifacts", "openapi-fuzz")
DEAD_LETTERS = 5  # poison jobs buried before the run, for the dead-letter retry operation to find
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
        "ignored_auth",
        "merchant_stays_in_its_business",
    ]
)


def prepare(system: System) -> dict[str, list[str]]:
    """Two connected businesses, each with a finished product push; returns each business's sync-log ids."""
    system.migrate()
    system.start_simulator([OWN_SHOP, OTHER_SHOP])
    system.start_gateway()
    system.start_worker(1)
    runs = {}
    for business, shop, prefix in ((OWN, OWN_SHOP, "OWN"), (OTHER, OTHER_SHOP, "OTHER")):
        system.connect_via_oauth(business, shop)
        system.seed_catalog(business, products=3, stock=10, prefix=prefix)
        system.push("products", business, show_progress=False)
        runs[business] = [row[0] for row in system.sql(f"SELECT id FROM ecommerce_sync_log WHERE business_id = '{business}' ORDER BY started_at")]
    # Dead letters for the retry operation to find (a random id never names one): each retry puts the poison job
    # back on its queue and the worker buries it again, so they stay findable through the whole run.
    for number in range(DEAD_LETTERS):
        system.inject_poison(f"poison-fuzz-{number}", OWN, OWN_SHOP)
    wait_until("the poison jobs in the dead letters", lambda: int(system.redis("HLEN", "{ecommerce-orders}:dead")) == DEAD_LETTERS, 30)
    return runs


def check_document(system: System) -> None:
    served = system.gateway("GET", "/openapi.json")
    if served.status != 200:
        raise AssertionError(f"GET /openapi.json answered {served.status}")
    document = served.json()
    validate(document)  # raises on a document that is not valid OpenAPI 3.1
    committed = json.load(open(os.path.join(ROOT, "docs", "openapi.json"), encoding="utf-8"))
    if document != committed:
        raise AssertionError("the served document differs from docs/openapi.json")
    operations = sum(1 for item in document["paths"].values() for method in item if method in ("get", "post", "put", "delete", "patch"))
    say(f"openapi: GET /openapi.json is valid OpenAPI {document['openapi']}, {operations} operations, equal to docs/openapi.json")


def fuzz(system: System, role: str, token: str, runs: dict[str, list[str]], examples: int, seed: int) -> tuple[int, float]:
    """One schemathesis run with `token`; returns its exit code and how long it took."""
    schemathesis = os.path.join(os.path.dirname(sys.executable), "schemathesis")
    report = os.path.join(REPORTS, role)
    os.makedirs(report, exist_ok=True)
    environment = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "schemathesis_hooks",
        "PYTHONPATH": os.path.dirname(os.path.abspath(__file__)),
        "FUZZ_ROLE": role,
        "FUZZ_OWN_BUSINESS": OWN,
        "FUZZ_OTHER_BUSINESS": OTHER,
        "FUZZ_OTHER_SHOP": OTHER_SHOP,
        "FUZZ_OWN_RUNS": ",".join(runs[OWN]),
        "FUZZ_OTHER_RUNS": ",".join(runs[OTHER]),
        "FUZZ_DEAD_LETTERS": ",".join(f"poison-fuzz-{number}" for number in range(DEAD_LETTERS)),
    }
    argv = [
        schemathesis, "run", f"http://127.0.0.1:{system.gateway_port}/openapi.json",
        "--checks", CHECKS,
        "--max-response-time", "1",
        "--max-examples", str(examples),
        "--seed", str(seed),
        "--workers", "2",
        "--request-timeout", "10",
        "--header", f"Authorization: Bearer {token}",
        "--generation-database", "none",
        "--report", "junit,ndjson",
        "--report-dir", report,
        "--no-color",
        "--output-sanitize", "true",
    ]
    say(f"openapi: schemathesis with a {role}'s token, {examples} examples per operation, seed {seed}")
    started = time.monotonic()
    # cwd: schemathesis keeps a .schemathesis cache in its working directory; keep it with the reports.
    code = subprocess.run(argv, env=environment, cwd=report).returncode
    return code, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("bin_dir")
    parser.add_argument("--examples", type=int, default=25)
    parser.add_argument("--seed", type=int, default=1)
    arguments = parser.parse_args()
    fresh_services("api")
    system = System("api", arguments.bin_dir, gateway_port=21480, simulator_port=21481, worker_metrics_base=21490)
    try:
        runs = prepare(system)
        check_document(system)
        results = {}
        for role, token in (("merchant", system.merchant_token(OWN)), ("ops", system.ops_token())):
            results[role] = fuzz(system, role, token, runs, arguments.examples, arguments.seed)
        for role, (code, seconds) in results.items():
            say(f"openapi: the {role}'s run {'passed' if code == 0 else 'FAILED'} in {seconds:.0f} s")
        if http("GET", f"http://127.0.0.1:{system.gateway_port}/healthz").status != 200:
            say("openapi: FAILED: the gateway no longer answers /healthz")
            return 1
        return 0 if all(code == 0 for code, _ in results.values()) else 1
    except Exception as error:  # noqa: BLE001 (any failure fails the check, with the logs to read)
        say(f"openapi: FAILED: {error}")
        say(f"  logs: {system.log_dir}")
        return 1
    finally:
        system.stop_all()
        services("stop", "api", check=False)


if __name__ == "__main__":
    sys.exit(main())
