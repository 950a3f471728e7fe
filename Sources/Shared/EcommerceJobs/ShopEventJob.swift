import Foundation
import JobQueue

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
