import Foundation
import JSONBytes
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
/// the order's current state. It takes two statements and no explicit transaction:
///
/// 1. one read of everything known (the order's state and version, the quantities applied per line, the FlowPOS
///    variants for its Shopify variants and SKUs), from one snapshot;
/// 2. one write that compares and sets the order's version and, only if that succeeds, changes stock, writes
///    the movements, the applied quantities and the sync log: all in one statement, so all or nothing.
///
/// A concurrent delivery of the same order that wrote in between makes the compare fail; the state is then read
/// again and the difference recomputed. No lock is held across a round trip, so a slow client cannot stall an
/// order, and the common case costs two round trips and one commit.
public struct OrderIngestor: Sendable {
    let client: PostgresClient
    /// Rounds of read-and-compare before giving up (each failed round means another delivery of the order won).
    let maxRounds: Int

    public init(client: PostgresClient, maxRounds: Int = 50) {
        self.client = client
        self.maxRounds = maxRounds
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
        let log = SyncLogEntry(id: UUID.random(), businessId: businessId, order: order, source: source, reference: reference)
        for _ in 0..<self.maxRounds {
            let known = try await self.readKnown(businessId: businessId, order: order, logger: logger)
            if let lastApplied = known.lastApplied, updatedAt < lastApplied {
                let write = Write(log: log, outcome: .stale, apply: false, expectedVersion: nil, updatedAt: updatedAt)
                _ = try await self.write(write, logger: logger)
                return OrderIngestionResult(outcome: .stale, firstSeen: false, stockDeltas: [:], unmappedLineIds: [], syncLogId: log.id)
            }

            var write = Write(log: log, outcome: .unchanged, apply: true, expectedVersion: known.version, updatedAt: updatedAt)
            for line in order.lineItems {
                let target = order.consumedQuantity(of: line)
                if let previous = known.applied[line.id] {
                    guard target != previous.quantity else { continue }
                    write.stockDeltas[previous.variantId, default: 0] -= target - previous.quantity
                    write.lines.append(LineUpdate(lineId: line.id, variantId: previous.variantId, sku: line.sku, quantity: target))
                } else if let variantId = known.variant(for: line) {
                    write.stockDeltas[variantId, default: 0] -= target
                    write.lines.append(LineUpdate(lineId: line.id, variantId: variantId, sku: line.sku, quantity: target))
                } else {
                    write.unmapped.append(line)
                }
            }
            write.stockDeltas = write.stockDeltas.filter { $0.value != 0 }
            write.outcome = write.stockDeltas.isEmpty ? .unchanged : .applied

            guard try await self.write(write, logger: logger) else { continue }  // another delivery won: read again
            return OrderIngestionResult(
                outcome: write.outcome,
                firstSeen: known.version == nil,
                stockDeltas: write.stockDeltas,
                unmappedLineIds: write.unmapped.map(\.id),
                syncLogId: log.id
            )
        }
        throw OrderIngestionError.contention(orderId: order.id, rounds: self.maxRounds)
    }

    struct LineUpdate {
        var lineId: Int64
        var variantId: UUID
        var sku: String?
        var quantity: Int
    }

    /// What the database knows about an order: its version and last applied state (nil when never seen), the
    /// quantities already applied per line, and FlowPOS variants for its Shopify variants (through
    /// `ecommerce_product_mapping`) and SKUs.
    struct KnownOrder {
        var version: Int64?
        var lastApplied: Date?
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

    /// Statement 1: one `SELECT`, hence one snapshot, so the version and the applied quantities agree.
    private func readKnown(businessId: UUID, order: ShopifyOrder, logger: Logger) async throws -> KnownOrder {
        let shopifyVariantIds = order.lineItems.compactMap(\.variantId)
        let skus = order.lineItems.compactMap(\.sku).filter { !$0.isEmpty }
        let rows = try await self.client.query(
            """
            SELECT 'order', NULL::bigint, NULL::text, NULL::uuid, o.version, o.shopify_updated_at FROM ecommerce_ingested_order o
            WHERE o.business_id = \(businessId) AND o.shopify_order_id = \(order.id)
            UNION ALL
            SELECT 'applied', l.shopify_line_item_id, NULL, l.variant_id, l.applied_quantity, NULL FROM ecommerce_order_line l
            WHERE l.business_id = \(businessId) AND l.shopify_order_id = \(order.id) AND l.variant_id IS NOT NULL
            UNION ALL
            SELECT 'mapped', m.shopify_variant_id, NULL, m.variant_id, 0, NULL FROM ecommerce_product_mapping m
            WHERE m.business_id = \(businessId) AND m.shopify_variant_id = ANY(\(shopifyVariantIds)::bigint[])
            UNION ALL
            SELECT 'sku', NULL, v.sku, v.id, 0, NULL FROM variants v
            WHERE v.business_id = \(businessId) AND v.sku = ANY(\(skus)::text[])
            """,
            logger: logger
        )
        var known = KnownOrder()
        for try await (source, id, sku, variantId, number, updatedAt) in rows.decode((String, Int64?, String?, UUID?, Int64, Date?).self) {
            switch source {
            case "order":
                known.version = number
                known.lastApplied = updatedAt
            case "applied": if let id, let variantId { known.applied[id] = (variantId, Int(number)) }
            case "mapped": if let id, let variantId { known.byShopifyVariant[id] = variantId }
            default: if let sku, let variantId { known.bySku[sku] = variantId }
            }
        }
        return known
    }

    /// A sync log error for a line no FlowPOS variant matches.
    private struct UnmappedLine: JSONWritable {
        var line: ShopifyOrder.LineItem

        func write(to writer: inout JSONWriter) {
            writer.object { writer in
                writer.field("error", "unmapped_variant")
                writer.field("lineItemId", self.line.id)
                writer.field("shopifyVariantId", self.line.variantId)
                writer.field("sku", self.line.sku)
            }
        }
    }

    struct SyncLogEntry {
        var id: UUID
        var businessId: UUID
        var order: ShopifyOrder
        var source: String
        var reference: String?
    }

    /// What statement 2 writes.
    struct Write {
        var log: SyncLogEntry
        var outcome: OrderIngestionResult.Outcome
        /// False for a stale state: only the sync log row is written.
        var apply: Bool
        /// The version read in statement 1; nil when the order was not known (then the write inserts it).
        var expectedVersion: Int64?
        var updatedAt: Date
        var stockDeltas: [UUID: Int] = [:]
        var lines: [LineUpdate] = []
        var unmapped: [ShopifyOrder.LineItem] = []
    }

    /// Statement 2: compare-and-set the order's version, and only when that succeeded (`won`) change stock,
    /// write one movement per variant, the applied quantity per line and the sync log row. Returns false when
    /// another delivery changed the order since statement 1 (nothing was written).
    ///
    /// Why it is safe: `UPDATE … WHERE version = expected` waits for a concurrent writer of the row and then
    /// re-checks the version on the row it committed; `INSERT … ON CONFLICT DO NOTHING` waits likewise for a
    /// concurrent insert. Every other part reads `won`, so it runs after the row is locked, and the whole
    /// statement commits or fails as one.
    private func write(_ write: Write, logger: Logger) async throws -> Bool {
        let log = write.log
        let order = log.order
        // Written with JSONWriter rather than JSONEncoder: this runs for every order event.
        var errorsWriter = JSONWriter(capacity: 64)
        errorsWriter.array(write.unmapped.map { UnmappedLine(line: $0) })
        var detailsWriter = JSONWriter(capacity: 160)
        detailsWriter.object { writer in
            writer.field("orderId", order.id)
            writer.field("orderName", order.name)
            writer.field("updatedAt", order.updatedAt)
            writer.field("outcome", write.outcome.rawValue)
            writer.field("source", log.source)
        }
        let errors = String(decoding: errorsWriter.bytes, as: UTF8.self)
        let details = String(decoding: detailsWriter.bytes, as: UTF8.self)
        let status = write.outcome == .stale ? "skipped" : (write.unmapped.isEmpty ? "completed" : "partial")
        let deltas = write.stockDeltas.sorted { $0.key.uuidString < $1.key.uuidString }  // a fixed lock order avoids deadlocks
        let lines = write.lines
        let rows = try await self.client.query(
            """
            WITH claim AS (
                UPDATE ecommerce_ingested_order
                SET version = version + 1, shopify_updated_at = \(write.updatedAt), cancelled = \(order.cancelledAt != nil), last_applied_at = now()
                WHERE business_id = \(log.businessId) AND shopify_order_id = \(order.id) AND version = \(write.expectedVersion) AND \(write.apply)
                RETURNING 1
            ), created AS (
                INSERT INTO ecommerce_ingested_order
                    (business_id, shopify_order_id, order_name, source, version, shopify_updated_at, cancelled, last_applied_at)
                SELECT \(log.businessId), \(order.id), \(order.name), \(log.source), 1, \(write.updatedAt), \(order.cancelledAt != nil), now()
                WHERE \(write.apply) AND \(write.expectedVersion)::bigint IS NULL
                ON CONFLICT (business_id, shopify_order_id) DO NOTHING
                RETURNING 1
            ), won AS (
                SELECT 1 FROM claim UNION ALL SELECT 1 FROM created UNION ALL SELECT 1 WHERE NOT \(write.apply)
            ), changes AS (
                SELECT * FROM UNNEST(\(deltas.map(\.key))::uuid[], \(deltas.map(\.value))::int[]) AS c(variant_id, delta)
                WHERE EXISTS (SELECT FROM won)
            ), levels AS (
                INSERT INTO stock_levels (variant_id, business_id, quantity)
                SELECT variant_id, \(log.businessId), delta FROM changes
                ON CONFLICT (variant_id) DO UPDATE SET quantity = stock_levels.quantity + EXCLUDED.quantity, updated_at = now()
                RETURNING variant_id, quantity
            ), movements AS (
                INSERT INTO stock_movements (business_id, variant_id, delta, quantity_after, reason, reference)
                SELECT \(log.businessId), c.variant_id, c.delta, l.quantity,
                       CASE WHEN c.delta < 0 THEN 'ecommerce_order' ELSE 'ecommerce_order_restock' END, \("shopify-order:\(order.id)")
                FROM changes c JOIN levels l USING (variant_id)
            ), lines AS (
                INSERT INTO ecommerce_order_line (business_id, shopify_order_id, shopify_line_item_id, variant_id, sku, applied_quantity)
                SELECT \(log.businessId), \(order.id), line_id, variant_id, NULLIF(sku, ''), quantity
                FROM UNNEST(\(lines.map(\.lineId))::bigint[], \(lines.map(\.variantId))::uuid[],
                            \(lines.map { $0.sku ?? "" })::text[], \(lines.map(\.quantity))::int[])
                     AS l(line_id, variant_id, sku, quantity)
                WHERE EXISTS (SELECT FROM won)
                ON CONFLICT (business_id, shopify_order_id, shopify_line_item_id) DO UPDATE SET applied_quantity = EXCLUDED.applied_quantity
            ), logged AS (
                INSERT INTO ecommerce_sync_log (id, business_id, kind, status, processed, failed, total, errors, details, reference, finished_at)
                SELECT \(log.id), \(log.businessId), 'order_ingest', \(status), \(lines.count), \(write.unmapped.count), \(order.lineItems.count),
                       \(errors)::jsonb, \(details)::jsonb, \(log.reference), now()
                WHERE EXISTS (SELECT FROM won)
            )
            SELECT EXISTS (SELECT FROM won)
            """,
            logger: logger
        )
        for try await won in rows.decode(Bool.self) {
            return won
        }
        return false
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
