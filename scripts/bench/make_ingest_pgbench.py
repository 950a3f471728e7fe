#!/usr/bin/env python3
"""Writes the pgbench script of the ingestion baseline from the worker's own SQL, so that the two cannot drift.

  make_ingest_pgbench.py > ingest.pgbench

Takes `IngestStatement.sql` from Sources/Shared/Storage/OrderIngestor.swift and writes its parameters as what a
new order of three lines found by SKU binds (the orders of make_order_jobs.py): pgbench variables and literals.
Run the result with `pgbench -M prepared -D business=UUID`: the worker runs the statement prepared, once per order
event, with no explicit transaction.

  make_ingest_pgbench.py VARIANTS --batch N > ingest-batch.pgbench

writes `BatchIngestStatement.sql` (BatchIngestStatement.swift) instead, for N new orders of three lines at once, as a
batching worker's statement binds them: PostgreSQL's own ceiling for batched ingestion (pgbench's tps times N orders/s).
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


BATCH_SOURCE = SOURCE.with_name("BatchIngestStatement.swift")


def batch_parameters(n: int, third: int) -> dict:
    """BatchIngestStatement's binds for n new orders of three lines found by SKU, one line in each band of variants."""
    orders, lines = f"generate_series(1, {n})", f"generate_series(1, {3 * n})"
    return {
        1: f"ARRAY(SELECT g FROM {orders} g)",  # order positions
        2: f"ARRAY(SELECT :business::uuid FROM {orders})",
        3: f"ARRAY(SELECT :order::bigint * 100 + g FROM {orders} g)",  # order ids
        4: f"ARRAY(SELECT now() FROM {orders})",
        5: f"ARRAY(SELECT false FROM {orders})",
        6: f"ARRAY(SELECT '#' || g FROM {orders} g)",
        7: f"ARRAY(SELECT 'webhook'::text FROM {orders})",
        8: f"ARRAY(SELECT gen_random_uuid() FROM {orders})",
        9: f"ARRAY(SELECT 3 FROM {orders})",
        10: f"ARRAY(SELECT now()::text FROM {orders})",
        11: f"ARRAY(SELECT 'webhook-bench-' || g FROM {orders} g)",
        12: f"ARRAY(SELECT (g + 2) / 3 FROM {lines} g)",  # each line's order position
        13: f"ARRAY(SELECT (:order::bigint * 100 + (g + 2) / 3) * 10 + g % 3 FROM {lines} g)",  # line ids
        14: f"ARRAY(SELECT 0::bigint FROM {lines})",  # found by SKU
        15: f"ARRAY(SELECT 'BENCH-' || ((g % 3) * {third} + 1 + floor(random() * {third}))::int FROM {lines} g)",
        16: f"ARRAY(SELECT CASE WHEN g % 3 = 1 THEN 2 ELSE 1 END FROM {lines} g)",  # quantities 1, 2, 1
    }


def statement_sql(path: pathlib.Path, struct: str) -> str:
    match = re.search(r"struct " + struct + r'.*?static let sql = """\n(.*?)\n\s*"""', path.read_text(), re.S)
    if not match:
        sys.exit(f"{struct}.sql not found in {path}")
    return re.sub(r"--[^\n]*", "", match.group(1))


def main():
    third = int(sys.argv[1]) // 3 if len(sys.argv) > 1 else 100  # VARIANTS (300) in three bands, as make_order_jobs.py
    if "--batch" in sys.argv:
        n = int(sys.argv[sys.argv.index("--batch") + 1])
        sql = statement_sql(BATCH_SOURCE, "BatchIngestStatement")
        parameters = batch_parameters(n, third)
        sql = re.sub(r"\$(\d+)", lambda m: parameters[int(m.group(1))], sql)
        print("\\set order random(10000000000, 99999999999)")  # ids past the one-order script's
        print(" ".join(sql.split()) + ";")
        return
    source = SOURCE.read_text()
    match = re.search(r'struct IngestStatement.*?static let sql = """\n(.*?)\n\s*"""', source, re.S)
    if not match:
        sys.exit(f"IngestStatement.sql not found in {SOURCE}")
    sql = re.sub(r"--[^\n]*", "", match.group(1))
    sql = re.sub(r"\$(\d+)", lambda m: PARAMETERS[int(m.group(1))], sql)
    print("\\set order random(100000000000, 999999999999)")
    print(f"\\set v1 random(1, {third})")
    print(f"\\set v2 :v1 + {third}")
    print(f"\\set v3 :v1 + {2 * third}")
    print(" ".join(sql.split()) + ";")


if __name__ == "__main__":
    main()
