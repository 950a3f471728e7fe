import Foundation
import JSONBytes
import Logging
import PostgresNIO
import Tracing

/// One state of an ecommerce order as ingestion applies it: what each line takes from stock now, and the version
/// (`updatedAt`) that orders the states.
public struct OrderState: Sendable, Equatable {
    public struct Line: Sendable, Equatable {
        /// The line's id in the shop: what was applied is remembered per line.
        public var id: Int64
        /// The shop's variant, mapped to a FlowPOS variant through `ecommerce_product_mapping`.
        public var shopifyVariantId: Int64?
        /// The FlowPOS variant's SKU, when the shop's variant is not mapped.
        public var sku: String?
        /// Units the line takes from stock in this state (0 once cancelled, refunded with restock, or removed).
        public var quantity: Int

        public init(id: Int64, shopifyVariantId: Int64?, sku: String?, quantity: Int) {
            (self.id, self.shopifyVariantId, self.sku, self.quantity) = (id, shopifyVariantId, sku, quantity)
        }
    }

    public var orderId: Int64
    /// The order's name in the shop (`#1001`), for the sync log.
    public var name: String?
    /// The state's version: an older state than the one applied changes nothing.
    public var updatedAt: Date
    /// `updatedAt` as the shop wrote it, kept in the sync log.
    public var updatedAtText: String
    public var cancelled: Bool
    /// Each line once.
    public var lines: [Line]

    public init(orderId: Int64, name: String?, updatedAt: Date, updatedAtText: String, cancelled: Bool, lines: [Line]) {
        (self.orderId, self.name, self.updatedAt, self.updatedAtText) = (orderId, name, updatedAt, updatedAtText)
        (self.cancelled, self.lines) = (cancelled, lines)
    }
}

/// What ingesting one order state did.
public struct OrderIngestionResult: Sendable, Equatable {
    public enum Outcome: String, Sendable {
        /// Stock changed for at least one line.
        case applied
        /// The state was already applied (a duplicate) or changes no quantity.
        case unchanged
        /// Older than the state already applied: ignored.
        case stale
    }

    public var outcome: Outcome
    /// Whether this was the first time the order was seen.
    public var firstSeen: Bool
    /// Stock change per FlowPOS variant (negative: units left stock).
    public var stockDeltas: [UUID: Int]
    /// Lines whose variant is neither mapped nor found by SKU; they are recorded in the sync log.
    public var unmappedLineIds: [Int64]
    /// The sync log row written for this event.
    public var syncLogId: UUID
}

/// Applies Shopify order states to FlowPOS stock, exactly once per unit, whatever the number, order or
/// timing of deliveries.
///
/// Per order and line it remembers the quantity already taken from stock, and applies only the difference to
/// the order's current state. One statement does it all, so all or nothing, in one round trip and one commit:
///
/// 1. it reads what is known (the order's version and last applied state, the quantities applied per line, the
///    FlowPOS variants of the lines through `ecommerce_product_mapping` or else their SKU), from its snapshot;
/// 2. it compares and sets the order's version and, only if that succeeds, changes stock, writes the movements,
///    the applied quantities and the sync log row.
///
/// A concurrent delivery of the same order that committed in between makes the compare fail and nothing is
/// written; the statement then runs again on a fresh snapshot. No lock is held across a round trip, so a slow
/// client cannot stall an order.
public struct OrderIngestor: Sendable {
    let client: PostgresClient
    /// Rounds of read-and-compare before giving up (each failed round means another delivery of the order won).
    let maxRounds: Int

    /// Whether the statement may be prepared by name once per connection (``DatabasePooling/session``).
    let pooling: DatabasePooling

    /// Several orders to a transaction (``IngestBatching``); nil: one statement, one commit, per order.
    let batcher: OrderIngestBatcher?

    public init(client: PostgresClient, maxRounds: Int = 50, pooling: DatabasePooling = .session, batching: IngestBatching = .off) {
        self.pooling = pooling
        self.client = client
        self.maxRounds = maxRounds
        self.batcher = batching.isOn ? OrderIngestBatcher(client: client, settings: batching, pooling: pooling, maxRounds: maxRounds) : nil
    }

    /// Ingests one state of an order for a business. `source` and `reference` (e.g. the webhook id) go to the
    /// sync log and stock movements.
    ///
    /// With batching on, the order shares the next batch's transaction; `alone` (a retry) gives it one of its own.
    ///
    /// - Throws: ``OrderIngestionError/contention(orderId:rounds:)`` when other deliveries of the order kept winning.
    public func ingest(
        businessId: UUID,
        order: OrderState,
        source: String,
        reference: String?,
        alone: Bool = false,
        logger: Logger
    ) async throws -> OrderIngestionResult {
        let event = Event(syncLogId: UUID.random(), businessId: businessId, order: order, source: source, reference: reference)
        // One span for the statement and its rounds (a child of the job's when it runs in one).
        return try await withSpan("postgresql ingest order", ofKind: .client) { span in
            span.attributes["db.system.name"] = "postgresql"
            span.attributes["db.operation.name"] = "ingest order"
            span.attributes["shopify.order_id"] = order.orderId
            if let batcher = self.batcher {
                let result = try await batcher.ingest(event, logger: logger, alone: alone)
                span.attributes["flowpos.ingest.outcome"] = result.outcome.rawValue
                return result
            }
            let (result, rounds) = try await Self.applyUntilWon(
                event,
                pooling: self.pooling,
                maxRounds: self.maxRounds,
                logger: logger,
                on: self.client
            )
            span.attributes["flowpos.ingest.outcome"] = result.outcome.rawValue
            span.attributes["flowpos.ingest.rounds"] = rounds
            return result
        }
    }

    /// The statement's rounds for one order event until one wins (each round a fresh snapshot, and a transaction of
    /// its own), and how many it took.
    ///
    /// - Throws: ``OrderIngestionError/contention(orderId:rounds:)`` after `maxRounds` lost rounds.
    static func applyUntilWon(
        _ event: Event,
        pooling: DatabasePooling,
        maxRounds: Int,
        logger: Logger,
        on client: PostgresClient
    ) async throws -> (OrderIngestionResult, rounds: Int) {
        for round in 1...max(1, maxRounds) {
            if let result = try await Self.apply(event, pooling: pooling, logger: logger, on: client) { return (result, round) }
        }
        throw OrderIngestionError.contention(orderId: event.order.orderId, rounds: maxRounds)
    }

    /// One order event, as the statement takes it.
    struct Event: Sendable {
        var syncLogId: UUID
        var businessId: UUID
        var order: OrderState
        var source: String
        var reference: String?
    }

    /// Runs the statement once. Nil when another delivery of the order committed since its snapshot (nothing was
    /// written).
    static func apply(_ event: Event, pooling: DatabasePooling, logger: Logger, on client: PostgresClient) async throws -> OrderIngestionResult? {
        let statement = IngestStatement(event: event)
        var rows: [IngestStatement.Row] = []
        switch pooling {
        case .session:
            for try await row in try await client.execute(statement, logger: logger) { rows.append(row) }
        case .transaction:
            // Unnamed: parsed, bound and run in one round trip, on whichever server connection the pooler lends.
            let query = PostgresQuery(unsafeSQL: IngestStatement.sql, binds: try statement.makeBindings())
            for try await row in try await client.query(query, logger: logger) { rows.append(try statement.decodeRow(row)) }
        }
        for row in rows {
            guard row.won else { return nil }
            return row.result(syncLogId: event.syncLogId)
        }
        return nil
    }
}

/// The ingestion statement, prepared once per connection: PostgreSQL parses and plans it once instead of for every
/// order event, where planning is most of the statement's work (`docs/performance.md`).
///
/// Why it is safe: `known` and the applied quantities come from the statement's snapshot. `UPDATE … WHERE version =
/// known version` waits for a concurrent writer of the order row and then re-checks the version on the row it
/// committed, so it matches only if nobody wrote since the snapshot; `INSERT … ON CONFLICT DO NOTHING` likewise
/// inserts only if nobody inserted. Every other write reads `won`, so it happens only after the row is locked and the
/// snapshot is known to be current, and the statement commits or fails as one. A stale event (older than the state
/// applied) wins only its sync log row. `scripts/bench/make_ingest_pgbench.py` runs this very SQL in pgbench.
struct IngestStatement: PostgresPreparedStatement {
    static let name = "ecommerce_ingest_order_v2"
    static let bindingDataTypes: [PostgresDataType] = [
        .int8Array, .int8Array, .textArray, .int8Array, .timestamptz, .uuid, .int8, .bool, .text, .text, .text, .uuid, .int8, .text, .text,
    ]
    static let sql = """
        WITH input AS (
            SELECT * FROM UNNEST($1::bigint[], $2::bigint[],
                                 $3::text[], $4::int[])
                 WITH ORDINALITY AS i(line_id, shopify_variant_id, sku, target, position)
        ), known AS (
            SELECT version, shopify_updated_at > $5 AS stale FROM ecommerce_ingested_order
            WHERE business_id = $6 AND shopify_order_id = $7
        ), stale AS (
            SELECT COALESCE((SELECT stale FROM known), false) AS yes
        ), resolved AS (
            -- A line applied before keeps its variant; a new one maps through the product mapping, else its SKU. What
            -- was applied stays applied whatever became of the variant: one deleted (and re-created with its SKU)
            -- leaves the line's applied quantity, so a redelivery applies nothing again.
            SELECT i.*, a.applied_quantity,
                   COALESCE(a.variant_id,
                            (SELECT m.variant_id FROM ecommerce_product_mapping m
                             WHERE m.business_id = $6 AND m.shopify_variant_id = NULLIF(i.shopify_variant_id, 0)),
                            (SELECT v.id FROM variants v WHERE v.business_id = $6 AND v.sku = NULLIF(i.sku, ''))) AS variant_id
            FROM input i
            LEFT JOIN ecommerce_order_line a ON a.business_id = $6 AND a.shopify_order_id = $7
                                             AND a.shopify_line_item_id = i.line_id
            WHERE NOT (SELECT yes FROM stale)
        ), updates AS (
            SELECT line_id, variant_id, sku, target, target - COALESCE(applied_quantity, 0) AS taken
            FROM resolved WHERE variant_id IS NOT NULL AND target IS DISTINCT FROM applied_quantity
        ), deltas AS (
            SELECT variant_id, -sum(taken) AS delta FROM updates GROUP BY variant_id HAVING sum(taken) <> 0
        ), unmapped AS (
            SELECT line_id, shopify_variant_id, sku, position FROM resolved WHERE variant_id IS NULL
        ), outcome AS (
            SELECT CASE WHEN (SELECT yes FROM stale) THEN 'stale' WHEN EXISTS (SELECT FROM deltas) THEN 'applied' ELSE 'unchanged' END AS value
        ), claim AS (
            UPDATE ecommerce_ingested_order
            SET version = version + 1, shopify_updated_at = $5, cancelled = $8, last_applied_at = now()
            WHERE business_id = $6 AND shopify_order_id = $7
              AND version = (SELECT version FROM known) AND NOT (SELECT yes FROM stale)
            RETURNING 1
        ), created AS (
            INSERT INTO ecommerce_ingested_order
                (business_id, shopify_order_id, order_name, source, version, shopify_updated_at, cancelled, last_applied_at)
            SELECT $6, $7, $9, $10, 1, $5, $8, now()
            WHERE NOT EXISTS (SELECT FROM known)
            ON CONFLICT (business_id, shopify_order_id) DO NOTHING
            RETURNING 1
        ), won AS (
            SELECT 1 FROM claim UNION ALL SELECT 1 FROM created UNION ALL SELECT 1 FROM stale WHERE yes
        ), changes AS (
            SELECT variant_id, delta FROM deltas WHERE EXISTS (SELECT FROM won)
        ), origin AS (
            -- These movements came from Shopify and are in its number already: the outbox trigger (an AFTER trigger,
            -- so it runs at the end of the statement, after this) writes nothing for them. Local to the transaction.
            SELECT set_config('ecommerce.stock_origin', 'shopify', true)
        ), levels AS (
            INSERT INTO stock_levels (variant_id, business_id, quantity)
            SELECT variant_id, $6, delta FROM changes, origin
            ORDER BY variant_id  -- every writer locks stock rows in one order: no deadlocks
            ON CONFLICT (variant_id) DO UPDATE SET quantity = stock_levels.quantity + EXCLUDED.quantity, updated_at = now()
            RETURNING variant_id, quantity
        ), movements AS (
            INSERT INTO stock_movements (business_id, variant_id, delta, quantity_after, reason, reference)
            SELECT $6, c.variant_id, c.delta, l.quantity,
                   CASE WHEN c.delta < 0 THEN 'ecommerce_order' ELSE 'ecommerce_order_restock' END, $11
            FROM changes c JOIN levels l USING (variant_id)
        ), applied AS (
            INSERT INTO ecommerce_order_line (business_id, shopify_order_id, shopify_line_item_id, variant_id, sku, applied_quantity)
            SELECT $6, $7, line_id, variant_id, NULLIF(sku, ''), target FROM updates
            WHERE EXISTS (SELECT FROM won)
            ON CONFLICT (business_id, shopify_order_id, shopify_line_item_id)
            DO UPDATE SET applied_quantity = EXCLUDED.applied_quantity,
                          variant_id = COALESCE(ecommerce_order_line.variant_id, EXCLUDED.variant_id)
        ), logged AS (
            INSERT INTO ecommerce_sync_log (id, business_id, kind, status, processed, failed, total, errors, details, reference, finished_at)
            SELECT $12, $6, 'order_ingest',
                   CASE WHEN (SELECT yes FROM stale) THEN 'skipped' WHEN EXISTS (SELECT FROM unmapped) THEN 'partial' ELSE 'completed' END,
                   (SELECT count(*) FROM updates), (SELECT count(*) FROM unmapped), $13,
                   COALESCE((SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object('error', 'unmapped_variant', 'lineItemId', line_id,
                                              'shopifyVariantId', NULLIF(shopify_variant_id, 0), 'sku', NULLIF(sku, ''))) ORDER BY position)
                             FROM unmapped), '[]'),
                   jsonb_strip_nulls(jsonb_build_object('orderId', $7, 'orderName', $9,
                                     'updatedAt', $14, 'outcome', (SELECT value FROM outcome), 'source', $10)),
                   $15, now()
            WHERE EXISTS (SELECT FROM won)
        )
        SELECT EXISTS (SELECT FROM won), (SELECT value FROM outcome), NOT EXISTS (SELECT FROM known),
               COALESCE((SELECT array_agg(variant_id ORDER BY variant_id) FROM deltas), '{}'),
               COALESCE((SELECT array_agg(delta ORDER BY variant_id) FROM deltas), '{}'),
               COALESCE((SELECT array_agg(line_id ORDER BY position) FROM unmapped), '{}')
        """

    struct Row {
        var won: Bool
        var outcome: OrderIngestionResult.Outcome
        var firstSeen: Bool
        var stockDeltas: [UUID: Int]
        var unmappedLineIds: [Int64]

        /// An order's answer as both statements write it (the variants and their deltas as two arrays, in one order).
        init(won: Bool, outcome: String, firstSeen: Bool, variants: [UUID], deltas: [Int], unmappedLineIds: [Int64]) {
            self.won = won
            self.outcome = OrderIngestionResult.Outcome(rawValue: outcome) ?? .unchanged  // the statements say one of the three
            self.firstSeen = firstSeen
            self.stockDeltas = Dictionary(zip(variants, deltas), uniquingKeysWith: +)
            self.unmappedLineIds = unmappedLineIds
        }

        /// What the statement did, for the event whose sync log row it wrote.
        func result(syncLogId: UUID) -> OrderIngestionResult {
            OrderIngestionResult(
                outcome: self.outcome,
                firstSeen: self.firstSeen,
                stockDeltas: self.stockDeltas,
                unmappedLineIds: self.unmappedLineIds,
                syncLogId: syncLogId
            )
        }
    }

    let event: OrderIngestor.Event

    func makeBindings() throws -> PostgresBindings {
        let order = self.event.order
        let lines = order.lines
        var bindings = PostgresBindings(capacity: 15)
        bindings.append(lines.map(\.id))
        bindings.append(lines.map { $0.shopifyVariantId ?? 0 })  // 0: none (Shopify ids are positive)
        bindings.append(lines.map { $0.sku ?? "" })
        bindings.append(lines.map(\.quantity))
        bindings.append(order.updatedAt)
        bindings.append(self.event.businessId)
        bindings.append(order.orderId)
        bindings.append(order.cancelled)
        bindings.append(order.name)
        bindings.append(self.event.source)
        bindings.append("shopify-order:\(order.orderId)")
        bindings.append(self.event.syncLogId)
        bindings.append(lines.count)
        bindings.append(order.updatedAtText)
        bindings.append(self.event.reference)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        let (won, outcome, firstSeen, variants, deltas, unmapped) = try row.decode((Bool, String, Bool, [UUID], [Int], [Int64]).self)
        return Row(won: won, outcome: outcome, firstSeen: firstSeen, variants: variants, deltas: deltas, unmappedLineIds: unmapped)
    }
}

/// An order that cannot be ingested as sent.
public enum OrderIngestionError: Error, Sendable, CustomStringConvertible {
    case invalidOrder(String)
    /// Other deliveries of the order kept winning; the job is retried later.
    case contention(orderId: Int64, rounds: Int)

    public var description: String {
        switch self {
        case .invalidOrder(let reason): "invalid order: \(reason)"
        case .contention(let orderId, let rounds): "order \(orderId) changed under \(rounds) attempts in a row"
        }
    }
}
