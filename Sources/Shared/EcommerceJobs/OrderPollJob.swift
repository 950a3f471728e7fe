import Foundation
import JobQueue

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
