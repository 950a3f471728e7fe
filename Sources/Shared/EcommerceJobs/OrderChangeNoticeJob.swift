import Foundation
import JSONBytes
import JobQueue
import Shopify

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

extension OrderChangeNoticeJob.Payload: JSONWritable {
    public func write(to writer: inout JSONWriter) {
        writer.object { writer in
            writer.field("topic", self.topic)
            writer.field("webhookId", self.webhookId)
            writer.field("change", self.change)
        }
    }
}
