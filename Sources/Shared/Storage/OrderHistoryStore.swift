import Foundation
import Logging
import PostgresNIO

/// What PostgreSQL holds about one Shopify order of a business: its ingestion record, the quantity applied per line,
/// the sync-log events of its ingestions and change notices, and the stock movements it caused.
public struct OrderHistoryStore: Sendable {
    let client: PostgresClient

    public init(client: PostgresClient) {
        self.client = client
    }

    /// The order as ingestion left it.
    public struct Record: Codable, Sendable, Equatable {
        public var name: String?
        /// The source of the first ingestion (`webhook` or `poll`).
        public var source: String
        /// The version of the order last applied (Shopify's `updated_at`).
        public var shopifyUpdatedAt: Date?
        public var cancelled: Bool
        public var firstIngestedAt: Date
        public var lastAppliedAt: Date?
        /// Bumped by every write of the order's state.
        public var version: Int64
    }

    /// A line's quantity as FlowPOS's stock has it.
    public struct Line: Codable, Sendable, Equatable {
        public var lineItemId: Int64
        public var variantId: UUID?
        public var sku: String?
        public var appliedQuantity: Int
    }

    /// An ingestion (`order_ingest`) or a change notice (`order_change`) in the sync log.
    public struct Event: Codable, Sendable, Equatable {
        public var at: Date
        public var kind: String
        /// `completed`, `partial`, `skipped` (an older version), `noted`.
        public var status: String
        /// `webhook:<id>` or `poll:<run id>`.
        public var reference: String?
        /// The event's details as the sync log has them (source, outcome, updatedAt, topic…), as JSON text.
        public var details: String
    }

    /// A stock movement the order caused.
    public struct Movement: Codable, Sendable, Equatable {
        public var at: Date
        public var variantId: UUID
        public var delta: Int
        public var quantityAfter: Int
        public var reason: String
    }

    public func record(businessId: UUID, orderId: Int64, logger: Logger) async throws -> Record? {
        let rows = try await self.client.query(
            """
            SELECT order_name, source, shopify_updated_at, cancelled, first_ingested_at, last_applied_at, version
            FROM ecommerce_ingested_order WHERE business_id = \(businessId) AND shopify_order_id = \(orderId)
            """,
            logger: logger
        )
        for try await (name, source, updatedAt, cancelled, first, last, version) in rows.decode(
            (String?, String, Date?, Bool, Date, Date?, Int64).self
        ) {
            return Record(
                name: name,
                source: source,
                shopifyUpdatedAt: updatedAt,
                cancelled: cancelled,
                firstIngestedAt: first,
                lastAppliedAt: last,
                version: version
            )
        }
        return nil
    }

    public func lines(businessId: UUID, orderId: Int64, logger: Logger) async throws -> [Line] {
        let rows = try await self.client.query(
            """
            SELECT shopify_line_item_id, variant_id, sku, applied_quantity FROM ecommerce_order_line
            WHERE business_id = \(businessId) AND shopify_order_id = \(orderId) ORDER BY shopify_line_item_id
            """,
            logger: logger
        )
        var lines: [Line] = []
        for try await (id, variant, sku, applied) in rows.decode((Int64, UUID?, String?, Int).self) {
            lines.append(Line(lineItemId: id, variantId: variant, sku: sku, appliedQuantity: applied))
        }
        return lines
    }

    /// Oldest first; at most `limit` (the newest are kept when there are more).
    public func events(businessId: UUID, orderId: Int64, limit: Int = 200, logger: Logger) async throws -> [Event] {
        let rows = try await self.client.query(
            """
            SELECT started_at, kind, status, reference, details::text FROM (
                SELECT started_at, kind, status, reference, details FROM ecommerce_sync_log
                WHERE business_id = \(businessId) AND kind IN ('order_ingest', 'order_change') AND details->>'orderId' = \(String(orderId))
                ORDER BY started_at DESC LIMIT \(limit)
            ) newest ORDER BY started_at
            """,
            logger: logger
        )
        var events: [Event] = []
        for try await (at, kind, status, reference, details) in rows.decode((Date, String, String, String?, String).self) {
            events.append(Event(at: at, kind: kind, status: status, reference: reference, details: details))
        }
        return events
    }

    /// The movements of the given variants that reference the order (ingestion writes `shopify-order:<id>`).
    public func movements(businessId: UUID, orderId: Int64, variants: [UUID], logger: Logger) async throws -> [Movement] {
        guard !variants.isEmpty else { return [] }
        let rows = try await self.client.query(
            """
            SELECT created_at, variant_id, delta, quantity_after, reason FROM stock_movements
            WHERE variant_id = ANY(\(variants)::uuid[]) AND business_id = \(businessId) AND reference = \("shopify-order:\(orderId)")
            ORDER BY created_at, id
            """,
            logger: logger
        )
        var movements: [Movement] = []
        for try await (at, variant, delta, after, reason) in rows.decode((Date, UUID, Int, Int, String).self) {
            movements.append(Movement(at: at, variantId: variant, delta: delta, quantityAfter: after, reason: reason))
        }
        return movements
    }
}
