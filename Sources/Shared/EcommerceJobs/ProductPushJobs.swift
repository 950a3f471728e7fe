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

/// Pushes a large catalog as a Shopify bulk operation (a push of more products than the bulk threshold): writes the
/// `productSet` variables as JSONL, stages and starts the operation, follows it and records its results. One job
/// per push; it comes back (without spending an attempt) to look at the operation until it ends, and resumes
/// from the stage recorded after a crash.
public enum ProductBulkPushJob: JobDefinition {
    public struct Payload: Codable, Sendable, Equatable {
        public var runId: UUID
        /// Result lines per recorded sync page.
        public var pageSize: Int

        public init(runId: UUID, pageSize: Int) {
            self.runId = runId
            self.pageSize = pageSize
        }
    }

    public static let kind = "products.bulk"
    public static let queue = EcommerceQueue.products
    public static let maxAttempts = 8
}

/// `bulk_operations/finish`: a shop's bulk operation ended; the push that started it records its results now
/// instead of at its next look.
public enum BulkOperationFinishJob: JobDefinition {
    public struct Payload: Codable, Sendable, Equatable {
        /// `admin_graphql_api_id`: `gid://shopify/BulkOperation/…`.
        public var operationId: String
        /// `completed`, `failed`, … as the webhook says.
        public var status: String
        public var webhookId: String?

        public init(operationId: String, status: String, webhookId: String?) {
            self.operationId = operationId
            self.status = status
            self.webhookId = webhookId
        }
    }

    public static let kind = "products.bulk-finished"
    public static let queue = EcommerceQueue.products
    public static let maxAttempts = 8
}
