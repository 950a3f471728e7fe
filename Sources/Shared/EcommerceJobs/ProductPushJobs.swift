import Foundation
import JobQueue

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
