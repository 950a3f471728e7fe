import Foundation
import JobQueue

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
