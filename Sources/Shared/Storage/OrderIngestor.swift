import Foundation
import Logging
import PostgresNIO
import Shopify

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
/// the order's current state, all in one transaction that starts by locking the order's row: concurrent
/// deliveries of one order wait for each other instead of racing.
public struct OrderIngestor: Sendable {
    let client: PostgresClient

    public init(client: PostgresClient) {
        self.client = client
    }

    /// Ingests one state of an order for a business. `source` and `reference` (e.g. the webhook id) go to the
    /// sync log and stock movements.
    public func ingest(
        businessId: UUID,
        order: ShopifyOrder,
        source: String,
        reference: String?,
        logger: Logger
    ) async throws -> OrderIngestionResult {
        guard let updatedAt = order.updatedAtDate else {
            throw OrderIngestionError.invalidOrder("updated_at \(order.updatedAt) is not a timestamp")
        }
        let syncLogId = UUID()
        // Four statements, each one round trip: lock the order, read what is known, change stock, record.
        return try await self.client.withTransaction(logger: logger) { connection in
            let (firstSeen, lastApplied) = try await Self.lockOrder(connection, businessId: businessId, order: order, source: source, logger: logger)
            let log = SyncLogEntry(id: syncLogId, businessId: businessId, order: order, source: source, reference: reference)
            if let lastApplied, updatedAt < lastApplied {
                try await Self.finish(connection, log: log, outcome: .stale, lines: [], unmapped: [], updatedAt: nil, logger: logger)
                return OrderIngestionResult(outcome: .stale, firstSeen: false, stockDeltas: [:], unmappedLineIds: [], syncLogId: syncLogId)
            }

            let known = try await Self.readKnown(connection, businessId: businessId, order: order, logger: logger)
            var stockDeltas: [UUID: Int] = [:]
            var lineUpdates: [LineUpdate] = []
            var unmapped: [ShopifyOrder.LineItem] = []
            for line in order.lineItems {
                let target = order.consumedQuantity(of: line)
                if let previous = known.applied[line.id] {
                    guard target != previous.quantity else { continue }
                    stockDeltas[previous.variantId, default: 0] -= target - previous.quantity
                    lineUpdates.append(LineUpdate(lineId: line.id, variantId: previous.variantId, sku: line.sku, quantity: target))
                } else if let variantId = known.variant(for: line) {
                    stockDeltas[variantId, default: 0] -= target
                    lineUpdates.append(LineUpdate(lineId: line.id, variantId: variantId, sku: line.sku, quantity: target))
                } else {
                    unmapped.append(line)
                }
            }
            stockDeltas = stockDeltas.filter { $0.value != 0 }

            if !stockDeltas.isEmpty {
                try await Self.applyStock(
                    connection,
                    businessId: businessId,
                    deltas: stockDeltas,
                    reference: "shopify-order:\(order.id)",
                    logger: logger
                )
            }
            let outcome: OrderIngestionResult.Outcome = stockDeltas.isEmpty ? .unchanged : .applied
            try await Self.finish(
                connection,
                log: log,
                outcome: outcome,
                lines: lineUpdates,
                unmapped: unmapped,
                updatedAt: updatedAt,
                logger: logger
            )
            return OrderIngestionResult(
                outcome: outcome,
                firstSeen: firstSeen,
                stockDeltas: stockDeltas,
                unmappedLineIds: unmapped.map(\.id),
                syncLogId: syncLogId
            )
        }
    }

    /// Insert-if-new and lock in one statement: `ON CONFLICT DO UPDATE` takes the row lock, which is what
    /// serialises concurrent deliveries of one order. Returns whether the row is new and the state applied last.
    private static func lockOrder(
        _ connection: PostgresConnection,
        businessId: UUID,
        order: ShopifyOrder,
        source: String,
        logger: Logger
    ) async throws -> (firstSeen: Bool, lastApplied: Date?) {
        let rows = try await connection.query(
            """
            INSERT INTO ecommerce_ingested_order (business_id, shopify_order_id, order_name, source)
            VALUES (\(businessId), \(order.id), \(order.name), \(source))
            ON CONFLICT (business_id, shopify_order_id) DO UPDATE SET order_name = ecommerce_ingested_order.order_name
            RETURNING (xmax = 0), shopify_updated_at
            """,
            logger: logger
        )
        for try await (inserted, lastApplied) in rows.decode((Bool, Date?).self) {
            return (inserted, lastApplied)
        }
        throw OrderIngestionError.invalidOrder("the order row could not be locked")
    }

    struct LineUpdate {
        var lineId: Int64
        var variantId: UUID
        var sku: String?
        var quantity: Int
    }

    /// What the database knows about an order's lines: the quantities already applied, and FlowPOS variants for
    /// its Shopify variants (through `ecommerce_product_mapping`) and SKUs.
    struct KnownLines {
        var applied: [Int64: (variantId: UUID, quantity: Int)] = [:]
        var byShopifyVariant: [Int64: UUID] = [:]
        var bySku: [String: UUID] = [:]

        /// The mapping first, the SKU otherwise.
        func variant(for line: ShopifyOrder.LineItem) -> UUID? {
            if let id = line.variantId, let variant = self.byShopifyVariant[id] { return variant }
            if let sku = line.sku, !sku.isEmpty { return self.bySku[sku] }
            return nil
        }
    }

    private static func readKnown(_ connection: PostgresConnection, businessId: UUID, order: ShopifyOrder, logger: Logger) async throws -> KnownLines
    {
        let shopifyVariantIds = order.lineItems.compactMap(\.variantId)
        let skus = order.lineItems.compactMap(\.sku).filter { !$0.isEmpty }
        let rows = try await connection.query(
            """
            SELECT 'applied', l.shopify_line_item_id, NULL::text, l.variant_id, l.applied_quantity FROM ecommerce_order_line l
            WHERE l.business_id = \(businessId) AND l.shopify_order_id = \(order.id) AND l.variant_id IS NOT NULL
            UNION ALL
            SELECT 'mapped', m.shopify_variant_id, NULL::text, m.variant_id, 0 FROM ecommerce_product_mapping m
            WHERE m.business_id = \(businessId) AND m.shopify_variant_id = ANY(\(shopifyVariantIds)::bigint[])
            UNION ALL
            SELECT 'sku', NULL::bigint, v.sku, v.id, 0 FROM variants v
            WHERE v.business_id = \(businessId) AND v.sku = ANY(\(skus)::text[])
            """,
            logger: logger
        )
        var known = KnownLines()
        for try await (source, id, sku, variantId, quantity) in rows.decode((String, Int64?, String?, UUID, Int).self) {
            switch source {
            case "applied": if let id { known.applied[id] = (variantId, quantity) }
            case "mapped": if let id { known.byShopifyVariant[id] = variantId }
            default: if let sku { known.bySku[sku] = variantId }
            }
        }
        return known
    }

    /// Changes stock levels and writes one stock movement per variant, in one statement.
    private static func applyStock(
        _ connection: PostgresConnection,
        businessId: UUID,
        deltas: [UUID: Int],
        reference: String,
        logger: Logger
    ) async throws {
        let ordered = deltas.sorted { $0.key.uuidString < $1.key.uuidString }  // a fixed lock order avoids deadlocks
        try await connection.query(
            """
            WITH changes AS (
                SELECT * FROM UNNEST(\(ordered.map(\.key))::uuid[], \(ordered.map(\.value))::int[]) AS c(variant_id, delta)
            ), levels AS (
                INSERT INTO stock_levels (variant_id, business_id, quantity)
                SELECT variant_id, \(businessId), delta FROM changes
                ON CONFLICT (variant_id) DO UPDATE
                SET quantity = stock_levels.quantity + EXCLUDED.quantity, updated_at = now()
                RETURNING variant_id, quantity
            )
            INSERT INTO stock_movements (business_id, variant_id, delta, quantity_after, reason, reference)
            SELECT \(businessId), c.variant_id, c.delta, l.quantity,
                   CASE WHEN c.delta < 0 THEN 'ecommerce_order' ELSE 'ecommerce_order_restock' END, \(reference)
            FROM changes c JOIN levels l USING (variant_id)
            """,
            logger: logger
        )
    }

    struct SyncLogEntry {
        var id: UUID
        var businessId: UUID
        var order: ShopifyOrder
        var source: String
        var reference: String?
    }

    /// Records the applied quantities per line, the order's new state (unless `updatedAt` is nil) and the sync
    /// log row, in one statement.
    private static func finish(
        _ connection: PostgresConnection,
        log: SyncLogEntry,
        outcome: OrderIngestionResult.Outcome,
        lines: [LineUpdate],
        unmapped: [ShopifyOrder.LineItem],
        updatedAt: Date?,
        logger: Logger
    ) async throws {
        struct UnmappedLine: Encodable {
            var error = "unmapped_variant"
            var lineItemId: Int64
            var shopifyVariantId: Int64?
            var sku: String?
        }
        struct Details: Encodable {
            var orderId: Int64
            var orderName: String?
            var updatedAt: String
            var outcome: String
            var source: String
        }
        let encoder = JSONEncoder()
        let errors = String(
            decoding: try encoder.encode(unmapped.map { UnmappedLine(lineItemId: $0.id, shopifyVariantId: $0.variantId, sku: $0.sku) }),
            as: UTF8.self
        )
        let order = log.order
        let details = String(
            decoding: try encoder.encode(
                Details(orderId: order.id, orderName: order.name, updatedAt: order.updatedAt, outcome: outcome.rawValue, source: log.source)
            ),
            as: UTF8.self
        )
        let status = outcome == .stale ? "skipped" : (unmapped.isEmpty ? "completed" : "partial")
        try await connection.query(
            """
            WITH lines AS (
                INSERT INTO ecommerce_order_line (business_id, shopify_order_id, shopify_line_item_id, variant_id, sku, applied_quantity)
                SELECT \(log.businessId), \(order.id), line_id, variant_id, NULLIF(sku, ''), quantity
                FROM UNNEST(\(lines.map(\.lineId))::bigint[], \(lines.map(\.variantId))::uuid[],
                            \(lines.map { $0.sku ?? "" })::text[], \(lines.map(\.quantity))::int[])
                     AS l(line_id, variant_id, sku, quantity)
                ON CONFLICT (business_id, shopify_order_id, shopify_line_item_id)
                DO UPDATE SET applied_quantity = EXCLUDED.applied_quantity
            ), state AS (
                UPDATE ecommerce_ingested_order
                SET shopify_updated_at = \(updatedAt), cancelled = \(order.cancelledAt != nil), last_applied_at = now()
                WHERE business_id = \(log.businessId) AND shopify_order_id = \(order.id) AND \(updatedAt)::timestamptz IS NOT NULL
            )
            INSERT INTO ecommerce_sync_log (id, business_id, kind, status, processed, failed, total, errors, details, reference, finished_at)
            VALUES (\(log.id), \(log.businessId), 'order_ingest', \(status), \(lines.count), \(unmapped.count), \(order.lineItems.count),
                    \(errors)::jsonb, \(details)::jsonb, \(log.reference), now())
            """,
            logger: logger
        )
    }
}

/// An order that cannot be ingested as sent.
public enum OrderIngestionError: Error, Sendable, CustomStringConvertible {
    case invalidOrder(String)

    public var description: String {
        switch self {
        case .invalidOrder(let reason): "invalid order: \(reason)"
        }
    }
}
