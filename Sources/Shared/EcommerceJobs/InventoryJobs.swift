import Foundation
import JobQueue

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
