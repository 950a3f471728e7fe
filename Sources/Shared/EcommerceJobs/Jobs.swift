import Foundation
import JSONBytes
import JobQueue
import Shopify

/// Where an order's state came from.
public enum OrderSource: String, Codable, Sendable, JSONWritable {
    case webhook
    case poll

    public func write(to writer: inout JSONWriter) { writer.string(self.rawValue) }
}

/// Ingest one state of a Shopify order: decrement (or restock) FlowPOS stock by the difference to what was
/// already applied for that order. Idempotent; duplicates and stale states change nothing.
public enum OrderIngestJob: JobDefinition {
    public struct Payload: Codable, Sendable, Equatable {
        public var source: OrderSource
        /// The webhook topic, for webhook deliveries.
        public var topic: String?
        public var webhookId: String?
        public var order: ShopifyOrder

        public init(source: OrderSource, topic: String?, webhookId: String?, order: ShopifyOrder) {
            self.source = source
            self.topic = topic
            self.webhookId = webhookId
            self.order = order
        }
    }

    public static let kind = "orders.ingest"
    public static let queue = EcommerceQueue.orders
    public static let maxAttempts = 10
}

/// A change to an order that is not the order's state (`orders/edited`, `refunds/create`). Its stock effect
/// arrives with the order's next state (Shopify sends `orders/updated`, and polling re-reads changed orders);
/// this job records that the change was seen.
public enum OrderChangeNoticeJob: JobDefinition {
    public struct Payload: Codable, Sendable, Equatable {
        public var topic: String
        public var webhookId: String?
        public var change: ShopifyOrderChange

        public init(topic: String, webhookId: String?, change: ShopifyOrderChange) {
            self.topic = topic
            self.webhookId = webhookId
            self.change = change
        }
    }

    public static let kind = "orders.change-notice"
    public static let queue = EcommerceQueue.orders
    public static let maxAttempts = 10
}

/// `app/uninstalled` and the privacy topics. The body is not kept: for the privacy topics it is customer data.
public enum ShopEventJob: JobDefinition {
    public struct Payload: Codable, Sendable, Equatable {
        public var topic: String
        public var webhookId: String?
        /// `X-Shopify-Triggered-At` as Shopify sent it (RFC 3339): when the event happened.
        public var triggeredAt: String?

        public init(topic: String, webhookId: String?, triggeredAt: String? = nil) {
            self.topic = topic
            self.webhookId = webhookId
            self.triggeredAt = triggeredAt
        }

        /// ``triggeredAt`` as a date, when it is one.
        public var triggeredAtDate: Date? {
            guard let triggeredAt else { return nil }
            let formatter = ISO8601DateFormatter()
            if let date = formatter.date(from: triggeredAt) { return date }
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            return formatter.date(from: triggeredAt)
        }
    }

    public static let kind = "shop.event"
    public static let queue = EcommerceQueue.shopEvents
    public static let maxAttempts = 10
}

/// Plans a product push: splits the business's products into keyset pages and enqueues one page job each, so
/// that every worker shares a large push. Re-running it enqueues nothing twice (pages are deduplicated).
public enum ProductPushPlanJob: JobDefinition {
    public struct Payload: Codable, Sendable, Equatable {
        /// The push's sync log row.
        public var runId: UUID
        public var pageSize: Int

        public init(runId: UUID, pageSize: Int) {
            self.runId = runId
            self.pageSize = pageSize
        }
    }

    public static let kind = "products.plan"
    public static let queue = EcommerceQueue.products
    public static let maxAttempts = 10
}

/// Pushes one page of products (ids in `(after, through]`) with `productSet` and records its counters once.
public enum ProductPushPageJob: JobDefinition {
    public struct Payload: Codable, Sendable, Equatable {
        public var runId: UUID
        public var page: Int
        public var after: UUID?
        public var through: UUID

        public init(runId: UUID, page: Int, after: UUID?, through: UUID) {
            self.runId = runId
            self.page = page
            self.after = after
            self.through = through
        }
    }

    public static let kind = "products.page"
    public static let queue = EcommerceQueue.products
    /// Throttling does not spend attempts; these are for real failures (Shopify 5xx, a dead connection).
    public static let maxAttempts = 8
}

/// Pushes one variant's FlowPOS stock movements to Shopify as deltas (`inventoryAdjustQuantities`, one key per
/// batch of movements). Enqueued from the stock-movement outbox, coalesced per variant: while one is pending,
/// further movements of the variant add nothing, and the job pushes every movement waiting when it runs.
public enum InventoryPushJob: JobDefinition {
    public struct Payload: Codable, Sendable, Equatable {
        public var variantId: UUID

        public init(variantId: UUID) {
            self.variantId = variantId
        }
    }

    public static let kind = "inventory.push"
    public static let queue = EcommerceQueue.inventory
    public static let maxAttempts = 10

    /// The coalescing key of a variant's pending push.
    public static func dedupeKey(variantId: UUID) -> String { "inventory-push:\(variantId.uuidString.lowercased())" }
}

/// Compares every variant of a business in Shopify with FlowPOS's quantity and corrects drift (someone edited
/// stock in Shopify) with a compare-and-set; started by `POST /ecommerce/sync/inventory`, counted in its sync log.
public enum InventoryReconcileJob: JobDefinition {
    public typealias Payload = ProductPushPlanJob.Payload

    public static let kind = "inventory.reconcile"
    public static let queue = EcommerceQueue.inventory
    public static let maxAttempts = 10
}

/// Plans a collection push: FlowPOS categories in keyset pages, one page job each.
public enum CollectionPushPlanJob: JobDefinition {
    public typealias Payload = ProductPushPlanJob.Payload

    public static let kind = "collections.plan"
    public static let queue = EcommerceQueue.collections
    public static let maxAttempts = 10
}

/// Pushes one page of categories (ids in `(after, through]`) as manual collections, membership by difference.
public enum CollectionPushPageJob: JobDefinition {
    public typealias Payload = ProductPushPageJob.Payload

    public static let kind = "collections.page"
    public static let queue = EcommerceQueue.collections
    public static let maxAttempts = 8
}

/// Polls a business's shop for orders updated since its high-water mark and ingests them through the same path
/// as webhooks. Scheduled every poll interval (one job per business and slot), or requested now.
public enum OrderPollJob: JobDefinition {
    public struct Payload: Codable, Sendable, Equatable {
        /// The schedule slot (its due time, ms since 1970) for scheduled polls; nil for a poll requested now.
        public var slot: Int64?
        /// When the schedule enqueued it (Redis' clock, ms): `tickedAt − slot` is how late the poll was enqueued.
        public var tickedAt: Int64?

        public init(slot: Int64?, tickedAt: Int64? = nil) {
            self.slot = slot
            self.tickedAt = tickedAt
        }
    }

    public static let kind = "orders.poll"
    public static let queue = EcommerceQueue.polling
    public static let maxAttempts = 5

    /// While a requested poll of the business is pending or running, another request adds nothing.
    public static func requestKey(businessId: UUID) -> String { "poll-now:\(businessId.uuidString.lowercased())" }
}

extension OrderSource: JSONScannable {
    public init(scanning scanner: inout JSONScanner) throws(JSONScanError) {
        let text = try scanner.readString()
        guard let source = OrderSource(rawValue: text) else { throw JSONScanError(reason: "unknown order source \(text)", offset: 0) }
        self = source
    }
}

extension OrderIngestJob.Payload: JSONScannable {
    public init(scanning scanner: inout JSONScanner) throws(JSONScanError) {
        var source: OrderSource?
        var topic: String?
        var webhookId: String?
        var order: ShopifyOrder?
        try scanner.readObject { scanner, key throws(JSONScanError) in
            switch key {
            case "source": source = try OrderSource(scanning: &scanner)
            case "topic": topic = try scanner.readNull() ? nil : scanner.readString()
            case "webhookId": webhookId = try scanner.readNull() ? nil : scanner.readString()
            case "order": order = try ShopifyOrder(scanning: &scanner)
            default: try scanner.skipValue()
            }
        }
        guard let source else { throw scanner.missing("source") }
        guard let order else { throw scanner.missing("order") }
        self.init(source: source, topic: topic, webhookId: webhookId, order: order)
    }
}

extension OrderIngestJob.Payload: JSONWritable {
    public func write(to writer: inout JSONWriter) {
        writer.object { writer in
            writer.field("source", self.source)
            writer.field("topic", self.topic)
            writer.field("webhookId", self.webhookId)
            writer.field("order", self.order)
        }
    }
}

extension OrderChangeNoticeJob.Payload: JSONWritable {
    public func write(to writer: inout JSONWriter) {
        writer.object { writer in
            writer.field("topic", self.topic)
            writer.field("webhookId", self.webhookId)
            writer.field("change", self.change)
        }
    }
}

/// Every ecommerce job kind: what the worker registers a handler for and what the schema round-trip test covers.
public enum EcommerceJobKinds {
    public static let all: [any JobDefinition.Type] = [
        OrderIngestJob.self, OrderChangeNoticeJob.self, ShopEventJob.self, ProductPushPlanJob.self, ProductPushPageJob.self,
        InventoryPushJob.self, InventoryReconcileJob.self, CollectionPushPlanJob.self, CollectionPushPageJob.self, OrderPollJob.self,
    ]
}
