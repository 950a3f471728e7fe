import Foundation
import PostgresNIO

/// The ingestion statement for several orders at once (``OrderIngestBatcher``): what ``IngestStatement`` does for one
/// order, for every order of a batch in one statement, so that PostgreSQL plans, starts and finishes one statement
/// per batch instead of one per order (`docs/performance.md`: a batch's statement costs PostgreSQL well under half
/// the time per order).
///
/// The orders must be distinct (one event per business and order; the batcher runs a second event of an order on
/// its own after this one's commit). Per order it is the one-order statement's compare-and-set: an order whose row
/// changed since the snapshot, or whose first insert lost to a concurrent one, does not win and writes nothing (the
/// batcher then runs it alone, on a fresh snapshot); a stale one wins only its sync log row. Locks are taken in one
/// order (see `locked`): known order rows, new orders' inserts, then stock rows, each sorted. Stock rows are
/// written once per variant, and each order's movement records what stood after it: the final quantity less what
/// the batch's later orders changed.
struct BatchIngestStatement: PostgresPreparedStatement {
    static let name = "ecommerce_ingest_orders_v1"
    static let bindingDataTypes: [PostgresDataType] = [
        .int8Array, .uuidArray, .int8Array, .timestamptzArray, .boolArray, .textArray, .textArray, .uuidArray, .int8Array, .textArray,
        .textArray, .int8Array, .int8Array, .int8Array, .textArray, .int8Array,
    ]
    static let sql = """
        WITH orders AS (
            -- A name or a reference the order does not have is bound as '' (arrays of optionals do not bind).
            SELECT idx, business_id, order_id, updated_at, cancelled, NULLIF(name, '') AS name, source, sync_log_id, line_count,
                   updated_at_text, NULLIF(reference, '') AS reference
            FROM UNNEST($1::int[], $2::uuid[], $3::bigint[], $4::timestamptz[], $5::bool[], $6::text[], $7::text[],
                        $8::uuid[], $9::int[], $10::text[], $11::text[])
                 AS o(idx, business_id, order_id, updated_at, cancelled, name, source, sync_log_id, line_count, updated_at_text, reference)
        ), input AS (
            SELECT * FROM UNNEST($12::int[], $13::bigint[], $14::bigint[], $15::text[], $16::int[])
                 WITH ORDINALITY AS i(idx, line_id, shopify_variant_id, sku, target, position)
        ), state AS (
            SELECT o.*, k.version AS known_version, k.version IS NOT NULL AS seen,
                   COALESCE(k.shopify_updated_at > o.updated_at, false) AS stale
            FROM orders o
            LEFT JOIN ecommerce_ingested_order k ON k.business_id = o.business_id AND k.shopify_order_id = o.order_id
        ), resolved AS (
            -- As the one-order statement resolves a line (IngestStatement), for every line of every order.
            SELECT i.*, s.business_id, s.order_id, a.applied_quantity,
                   COALESCE(a.variant_id,
                            (SELECT m.variant_id FROM ecommerce_product_mapping m
                             WHERE m.business_id = s.business_id AND m.shopify_variant_id = NULLIF(i.shopify_variant_id, 0)),
                            (SELECT v.id FROM variants v WHERE v.business_id = s.business_id AND v.sku = NULLIF(i.sku, ''))) AS variant_id
            FROM input i JOIN state s USING (idx)
            LEFT JOIN ecommerce_order_line a ON a.business_id = s.business_id AND a.shopify_order_id = s.order_id
                                             AND a.shopify_line_item_id = i.line_id
            WHERE NOT s.stale
        ), updates AS (
            SELECT idx, business_id, order_id, line_id, variant_id, sku, target, target - COALESCE(applied_quantity, 0) AS taken
            FROM resolved WHERE variant_id IS NOT NULL AND target IS DISTINCT FROM applied_quantity
        ), deltas AS (
            SELECT idx, business_id, variant_id, -sum(taken) AS delta FROM updates GROUP BY idx, business_id, variant_id HAVING sum(taken) <> 0
        ), unmapped AS (
            SELECT idx, line_id, shopify_variant_id, sku, position FROM resolved WHERE variant_id IS NULL
        ), outcome AS (
            SELECT s.idx, CASE WHEN s.stale THEN 'stale' WHEN EXISTS (SELECT FROM deltas d WHERE d.idx = s.idx) THEN 'applied'
                               ELSE 'unchanged' END AS value
            FROM state s
        ), locked AS (
            -- The batch's known order rows, locked in (business, order) order before any is written (the claim below waits
            -- for this). Every batch takes its locks in one order: these, then its new orders' inserts, then stock rows,
            -- each sorted; a one-order statement takes its order row, then stock rows, sorted. So no two statements ever
            -- wait on each other in a cycle. What was read stays the snapshot's: a row written since fails the compare
            -- below, as in the one-order statement.
            SELECT 1 FROM ecommerce_ingested_order k
            JOIN orders o ON k.business_id = o.business_id AND k.shopify_order_id = o.order_id
            ORDER BY k.business_id, k.shopify_order_id
            FOR UPDATE OF k
        ), claim AS (
            UPDATE ecommerce_ingested_order k
            SET version = k.version + 1, shopify_updated_at = s.updated_at, cancelled = s.cancelled, last_applied_at = now()
            FROM state s
            WHERE k.business_id = s.business_id AND k.shopify_order_id = s.order_id AND k.version = s.known_version AND NOT s.stale
              AND (SELECT count(*) FROM locked) >= 0
            RETURNING s.idx
        ), created AS (
            INSERT INTO ecommerce_ingested_order
                (business_id, shopify_order_id, order_name, source, version, shopify_updated_at, cancelled, last_applied_at)
            SELECT business_id, order_id, name, source, 1, updated_at, cancelled, now() FROM state WHERE NOT seen
            ORDER BY business_id, order_id
            ON CONFLICT (business_id, shopify_order_id) DO NOTHING
            RETURNING business_id, shopify_order_id
        ), won AS (
            SELECT idx FROM claim
            UNION ALL SELECT s.idx FROM created c JOIN state s ON s.business_id = c.business_id AND s.order_id = c.shopify_order_id
            UNION ALL SELECT idx FROM state WHERE stale
        ), changes AS (
            SELECT * FROM deltas WHERE idx IN (SELECT idx FROM won)
        ), origin AS (
            SELECT set_config('ecommerce.stock_origin', 'shopify', true)
        ), levels AS (
            INSERT INTO stock_levels (variant_id, business_id, quantity)
            SELECT variant_id, business_id, sum(delta) FROM changes, origin GROUP BY variant_id, business_id
            ORDER BY variant_id  -- every writer locks stock rows in one order: no deadlocks
            ON CONFLICT (variant_id) DO UPDATE SET quantity = stock_levels.quantity + EXCLUDED.quantity, updated_at = now()
            RETURNING variant_id, quantity
        ), movements AS (
            -- One movement per order and variant, in the batch's order: what stood after it is the final quantity less what
            -- the batch's later orders changed.
            INSERT INTO stock_movements (business_id, variant_id, delta, quantity_after, reason, reference)
            SELECT c.business_id, c.variant_id, c.delta,
                   l.quantity - COALESCE(sum(c.delta) OVER (PARTITION BY c.variant_id ORDER BY c.idx
                                                           ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING), 0),
                   CASE WHEN c.delta < 0 THEN 'ecommerce_order' ELSE 'ecommerce_order_restock' END, 'shopify-order:' || s.order_id
            FROM changes c JOIN levels l USING (variant_id) JOIN state s USING (idx)
            ORDER BY c.idx
        ), applied AS (
            INSERT INTO ecommerce_order_line (business_id, shopify_order_id, shopify_line_item_id, variant_id, sku, applied_quantity)
            SELECT business_id, order_id, line_id, variant_id, NULLIF(sku, ''), target FROM updates
            WHERE idx IN (SELECT idx FROM won)
            ON CONFLICT (business_id, shopify_order_id, shopify_line_item_id)
            DO UPDATE SET applied_quantity = EXCLUDED.applied_quantity,
                          variant_id = COALESCE(ecommerce_order_line.variant_id, EXCLUDED.variant_id)
        ), logged AS (
            INSERT INTO ecommerce_sync_log (id, business_id, kind, status, processed, failed, total, errors, details, reference, finished_at)
            SELECT s.sync_log_id, s.business_id, 'order_ingest',
                   CASE WHEN s.stale THEN 'skipped' WHEN EXISTS (SELECT FROM unmapped u WHERE u.idx = s.idx) THEN 'partial' ELSE 'completed' END,
                   (SELECT count(*) FROM updates u WHERE u.idx = s.idx), (SELECT count(*) FROM unmapped u WHERE u.idx = s.idx), s.line_count,
                   COALESCE((SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object('error', 'unmapped_variant', 'lineItemId', u.line_id,
                                              'shopifyVariantId', NULLIF(u.shopify_variant_id, 0), 'sku', NULLIF(u.sku, ''))) ORDER BY u.position)
                             FROM unmapped u WHERE u.idx = s.idx), '[]'),
                   jsonb_strip_nulls(jsonb_build_object('orderId', s.order_id, 'orderName', s.name,
                                     'updatedAt', s.updated_at_text, 'outcome', o.value, 'source', s.source)),
                   s.reference, now()
            FROM state s JOIN outcome o USING (idx)
            WHERE s.idx IN (SELECT idx FROM won)
        )
        SELECT s.idx, s.idx IN (SELECT idx FROM won), o.value, NOT s.seen,
               COALESCE((SELECT array_agg(d.variant_id ORDER BY d.variant_id) FROM deltas d WHERE d.idx = s.idx), '{}'),
               COALESCE((SELECT array_agg(d.delta ORDER BY d.variant_id) FROM deltas d WHERE d.idx = s.idx), '{}'),
               COALESCE((SELECT array_agg(u.line_id ORDER BY u.position) FROM unmapped u WHERE u.idx = s.idx), '{}')
        FROM state s JOIN outcome o USING (idx)
        ORDER BY s.idx
        """

    /// One order's row: its position in the batch (1-based) and what the one-order statement answers.
    struct Row {
        var index: Int
        var order: IngestStatement.Row
    }

    let events: [OrderIngestor.Event]

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 16)
        let orders = self.events.map(\.order)
        bindings.append(self.events.indices.map { $0 + 1 })
        bindings.append(self.events.map(\.businessId))
        bindings.append(orders.map(\.orderId))
        bindings.append(orders.map(\.updatedAt))
        bindings.append(orders.map(\.cancelled))
        bindings.append(orders.map { $0.name ?? "" })
        bindings.append(self.events.map(\.source))
        bindings.append(self.events.map(\.syncLogId))
        bindings.append(orders.map(\.lines.count))
        bindings.append(orders.map(\.updatedAtText))
        bindings.append(self.events.map { $0.reference ?? "" })
        let lines = orders.enumerated().flatMap { index, order in order.lines.map { (index + 1, $0) } }
        bindings.append(lines.map(\.0))
        bindings.append(lines.map(\.1.id))
        bindings.append(lines.map { $0.1.shopifyVariantId ?? 0 })  // 0: none (Shopify ids are positive)
        bindings.append(lines.map { $0.1.sku ?? "" })
        // Bound as bigint and cast by the statement: a quantity past an int fails the statement, not the process.
        bindings.append(lines.map(\.1.quantity))
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        let (index, won, outcome, firstSeen, variants, deltas, unmapped) = try row.decode((Int, Bool, String, Bool, [UUID], [Int], [Int64]).self)
        return Row(
            index: index,
            order: IngestStatement.Row(
                won: won,
                outcome: outcome,
                firstSeen: firstSeen,
                variants: variants,
                deltas: deltas,
                unmappedLineIds: unmapped
            )
        )
    }
}
