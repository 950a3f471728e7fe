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
        return try await self.client.withTransaction(logger: logger) { connection in
            // Insert-if-new, then lock the row: the lock is what serialises deliveries of the same order.
            let insert = try await connection.query(
                """
                INSERT INTO ecommerce_ingested_order (business_id, shopify_order_id, order_name, source)
                VALUES (\(businessId), \(order.id), \(order.name), \(source))
                ON CONFLICT DO NOTHING
                RETURNING true
                """,
                logger: logger
            )
            var firstSeen = false
            for try await _ in insert.decode(Bool.self) { firstSeen = true }
            var lastApplied: Date?
            for try await applied in try await connection.query(
                """
                SELECT shopify_updated_at FROM ecommerce_ingested_order
                WHERE business_id = \(businessId) AND shopify_order_id = \(order.id)
                FOR UPDATE
                """,
                logger: logger
            ).decode(Date?.self) {
                lastApplied = applied
            }
            if let lastApplied, updatedAt < lastApplied {
                try await Self.writeSyncLog(
                    connection,
                    id: syncLogId,
                    businessId: businessId,
                    order: order,
                    source: source,
                    reference: reference,
                    outcome: .stale,
                    processed: 0,
                    unmapped: [],
                    logger: logger
                )
                return OrderIngestionResult(outcome: .stale, firstSeen: false, stockDeltas: [:], unmappedLineIds: [], syncLogId: syncLogId)
            }

            let applied = try await Self.appliedLines(connection, businessId: businessId, orderId: order.id, logger: logger)
            let resolved = try await Self.resolveVariants(
                connection,
                businessId: businessId,
                lines: order.lineItems.filter { applied[$0.id] == nil },
                logger: logger
            )

            var stockDeltas: [UUID: Int] = [:]
            var lineUpdates: [(lineId: Int64, variantId: UUID, sku: String?, quantity: Int)] = []
            var unmapped: [ShopifyOrder.LineItem] = []
            for line in order.lineItems {
                let target = order.consumedQuantity(of: line)
                if let previous = applied[line.id] {
                    guard target != previous.quantity else { continue }
                    if let variantId = previous.variantId {
                        stockDeltas[variantId, default: 0] -= target - previous.quantity
                        lineUpdates.append((line.id, variantId, line.sku, target))
                    }
                } else if let variantId = resolved.variant(for: line) {
                    if target != 0 { stockDeltas[variantId, default: 0] -= target }
                    lineUpdates.append((line.id, variantId, line.sku, target))
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
            if !lineUpdates.isEmpty {
                try await connection.query(
                    """
                    INSERT INTO ecommerce_order_line (business_id, shopify_order_id, shopify_line_item_id, variant_id, sku, applied_quantity)
                    SELECT \(businessId), \(order.id), line_id, variant_id, NULLIF(sku, ''), quantity
                    FROM UNNEST(\(lineUpdates.map(\.lineId))::bigint[], \(lineUpdates.map(\.variantId))::uuid[],
                                \(lineUpdates.map { $0.sku ?? "" })::text[], \(lineUpdates.map(\.quantity))::int[])
                         AS l(line_id, variant_id, sku, quantity)
                    ON CONFLICT (business_id, shopify_order_id, shopify_line_item_id)
                    DO UPDATE SET applied_quantity = EXCLUDED.applied_quantity
                    """,
                    logger: logger
                )
            }
            try await connection.query(
                """
                UPDATE ecommerce_ingested_order
                SET shopify_updated_at = \(updatedAt), cancelled = \(order.cancelledAt != nil), last_applied_at = now()
                WHERE business_id = \(businessId) AND shopify_order_id = \(order.id)
                """,
                logger: logger
            )
            let outcome: OrderIngestionResult.Outcome = stockDeltas.isEmpty ? .unchanged : .applied
            try await Self.writeSyncLog(
                connection,
                id: syncLogId,
                businessId: businessId,
                order: order,
                source: source,
                reference: reference,
                outcome: outcome,
                processed: lineUpdates.count,
                unmapped: unmapped,
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

    private static func appliedLines(
        _ connection: PostgresConnection,
        businessId: UUID,
        orderId: Int64,
        logger: Logger
    ) async throws -> [Int64: (variantId: UUID?, quantity: Int)] {
        var applied: [Int64: (variantId: UUID?, quantity: Int)] = [:]
        let rows = try await connection.query(
            """
            SELECT shopify_line_item_id, variant_id, applied_quantity FROM ecommerce_order_line
            WHERE business_id = \(businessId) AND shopify_order_id = \(orderId)
            """,
            logger: logger
        )
        for try await (lineId, variantId, quantity) in rows.decode((Int64, UUID?, Int).self) {
            applied[lineId] = (variantId, quantity)
        }
        return applied
    }

    /// FlowPOS variants for Shopify lines: through `ecommerce_product_mapping` first, by SKU otherwise.
    struct ResolvedVariants {
        var byShopifyVariant: [Int64: UUID] = [:]
        var bySku: [String: UUID] = [:]

        func variant(for line: ShopifyOrder.LineItem) -> UUID? {
            if let id = line.variantId, let variant = self.byShopifyVariant[id] { return variant }
            if let sku = line.sku, !sku.isEmpty { return self.bySku[sku] }
            return nil
        }
    }

    private static func resolveVariants(
        _ connection: PostgresConnection,
        businessId: UUID,
        lines: [ShopifyOrder.LineItem],
        logger: Logger
    ) async throws -> ResolvedVariants {
        var resolved = ResolvedVariants()
        guard !lines.isEmpty else { return resolved }
        let shopifyVariantIds = lines.compactMap(\.variantId)
        let skus = lines.compactMap(\.sku).filter { !$0.isEmpty }
        let rows = try await connection.query(
            """
            SELECT m.shopify_variant_id, NULL::text, m.variant_id FROM ecommerce_product_mapping m
            WHERE m.business_id = \(businessId) AND m.shopify_variant_id = ANY(\(shopifyVariantIds)::bigint[])
            UNION ALL
            SELECT NULL::bigint, v.sku, v.id FROM variants v
            WHERE v.business_id = \(businessId) AND v.sku = ANY(\(skus)::text[])
            """,
            logger: logger
        )
        for try await (shopifyVariantId, sku, variantId) in rows.decode((Int64?, String?, UUID).self) {
            if let shopifyVariantId { resolved.byShopifyVariant[shopifyVariantId] = variantId }
            if let sku { resolved.bySku[sku] = variantId }
        }
        return resolved
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

    private static func writeSyncLog(
        _ connection: PostgresConnection,
        id: UUID,
        businessId: UUID,
        order: ShopifyOrder,
        source: String,
        reference: String?,
        outcome: OrderIngestionResult.Outcome,
        processed: Int,
        unmapped: [ShopifyOrder.LineItem],
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
        let details = String(
            decoding: try encoder.encode(
                Details(orderId: order.id, orderName: order.name, updatedAt: order.updatedAt, outcome: outcome.rawValue, source: source)
            ),
            as: UTF8.self
        )
        let status = outcome == .stale ? "skipped" : (unmapped.isEmpty ? "completed" : "partial")
        try await connection.query(
            """
            INSERT INTO ecommerce_sync_log (id, business_id, kind, status, processed, failed, total, errors, details, reference, finished_at)
            VALUES (\(id), \(businessId), 'order_ingest', \(status), \(processed), \(unmapped.count), \(order.lineItems.count),
                    \(errors)::jsonb, \(details)::jsonb, \(reference), now())
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
