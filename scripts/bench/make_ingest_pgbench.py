#!/usr/bin/env python3
"""Writes the pgbench script of the ingestion baseline from the worker's own SQL, so that the two cannot drift.

  make_ingest_pgbench.py > ingest.pgbench

Takes `IngestStatement.sql` from Sources/Shared/Storage/OrderIngestor.swift and writes its parameters as what a
new order of three lines found by SKU binds (the orders of make_order_jobs.py): pgbench variables and literals.
Run the result with `pgbench -M prepared -D business=UUID`: the worker runs the statement prepared, once per order
event, with no explicit transaction.
"""
import pathlib
import re
import sys

SOURCE = pathlib.Path(__file__).resolve().parents[2] / "Sources/Shared/Storage/OrderIngestor.swift"

# The worker's binds, in IngestStatement.makeBindings() order.
PARAMETERS = {
    1: "ARRAY[:order::bigint * 10, :order::bigint * 10 + 1, :order::bigint * 10 + 2]",  # line ids
    2: "ARRAY[0, 0, 0]::bigint[]",  # no Shopify variant ids: found by SKU
    3: "ARRAY['BENCH-' || :v1::text, 'BENCH-' || :v2::text, 'BENCH-' || :v3::text]",  # SKUs
    4: "ARRAY[1, 2, 1]",  # quantities
    5: "now()",  # updated_at
    6: ":business::uuid",
    7: ":order::bigint",
    8: "false",  # cancelled
    9: "('#' || (:order::bigint % 100000)::text)",  # order name
    10: "'webhook'::text",  # source
    11: "('shopify-order-' || :order::text)",  # movement reference
    12: "gen_random_uuid()",  # sync log id
    13: "3",  # line count
    14: "now()::text",  # updated_at as sent
    15: "('webhook-bench-' || :order::text)",  # sync log reference
}


def main():
    source = SOURCE.read_text()
    match = re.search(r'struct IngestStatement.*?static let sql = """\n(.*?)\n\s*"""', source, re.S)
    if not match:
        sys.exit(f"IngestStatement.sql not found in {SOURCE}")
    sql = re.sub(r"--[^\n]*", "", match.group(1))
    sql = re.sub(r"\$(\d+)", lambda m: PARAMETERS[int(m.group(1))], sql)
    third = int(sys.argv[1]) // 3 if len(sys.argv) > 1 else 100  # VARIANTS (300) in three bands, as make_order_jobs.py
    print("\\set order random(100000000000, 999999999999)")
    print(f"\\set v1 random(1, {third})")
    print(f"\\set v2 :v1 + {third}")
    print(f"\\set v3 :v1 + {2 * third}")
    print(" ".join(sql.split()) + ";")


if __name__ == "__main__":
    main()
