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
