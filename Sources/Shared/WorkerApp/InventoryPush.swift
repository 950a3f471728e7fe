import EcommerceJobs
import Foundation
import JobQueue
import Logging
import ShopifyAdmin
import Storage

/// `inventory.push`: FlowPOS owns the quantity, so its stock is written to Shopify, but never blindly.
///
/// The write is a compare-and-set against the quantity Shopify was last known to hold, with an idempotency key.
/// When Shopify's quantity has moved since (an order placed there, not yet ingested), writing FlowPOS's number
/// would re-open sold stock; so the push re-reads Shopify, remembers what it holds, and hands the job back for a
/// while so that ingestion catches up (the ingested order changes FlowPOS stock, which pushes again).
struct InventoryPush: Sendable {
    let inventory: InventoryStore
    let accounts: ShopifyAccounts
    let queue: RedisJobQueue
    /// How long a push waits after finding Shopify moved.
    let staleRetryDelay: Duration

    func push(_ envelope: JobEnvelope<InventoryPushJob.Payload>, context: JobContext) async throws {
        let businessId = try EcommerceHandlers.businessId(of: envelope)
        let variantId = envelope.payload.variantId
        let logger = context.logger
        // From here on a new change of the variant enqueues a new push: this one may read a quantity too old.
        try await self.queue.forgetDedupe(InventoryPushJob.dedupeKey(variantId: variantId))

        guard let state = try await self.inventory.pushState(businessId: businessId, variantId: variantId, logger: logger),
            let itemId = state.inventoryItemId
        else {
            logger.info("variant not in Shopify; stock not pushed", metadata: ["variant.id": "\(variantId)"])
            return
        }
        let account: ShopifyAccount
        do {
            account = try await self.accounts.account(businessId: businessId, logger: logger)
        } catch let error as PermanentJobError where error.code == "shop_not_connected" {
            logger.info("business not connected; stock not pushed", metadata: ["variant.id": "\(variantId)"])
            return
        }
        let client = account.client
        guard let changeFrom = state.shopifyQuantity else {
            // No baseline: what Shopify holds now may already lack orders FlowPOS has not ingested. Remember it,
            // and push against it once ingestion has had time to catch up.
            guard
                let current = try await client.available(
                    inventoryItemId: itemId,
                    locationId: account.locationId,
                    as: account.credentials,
                    logger: logger
                )
            else {
                logger.warning("item not stocked at the connection's location; stock not pushed", metadata: ["variant.id": "\(variantId)"])
                return
            }
            try await self.inventory.recordShopifyQuantity(businessId: businessId, variantId: variantId, quantity: current, logger: logger)
            if current == state.quantity { return }
            throw JobRetryLater(after: self.staleRetryDelay, reason: "first sight of Shopify's stock; letting ingestion catch up")
        }
        if changeFrom == state.quantity { return }
        let outcome = try await client.setAvailable(
            inventoryItemId: itemId,
            locationId: account.locationId,
            quantity: state.quantity,
            changeFrom: changeFrom,
            // The same intent (this variant, from this quantity to that one) always carries the same key.
            idempotencyKey: "flowpos-\(variantId.uuidString.lowercased())-\(changeFrom)-\(state.quantity)",
            reference: "flowpos://stock/\(variantId.uuidString.lowercased())",
            as: account.credentials,
            logger: logger
        )
        switch outcome {
        case .applied:
            try await self.inventory.recordShopifyQuantity(businessId: businessId, variantId: variantId, quantity: state.quantity, logger: logger)
            logger.debug("stock pushed", metadata: ["variant.id": "\(variantId)", "from": "\(changeFrom)", "to": "\(state.quantity)"])
        case .stale:
            let current = try await client.available(inventoryItemId: itemId, locationId: account.locationId, as: account.credentials, logger: logger)
            if let current {
                try await self.inventory.recordShopifyQuantity(businessId: businessId, variantId: variantId, quantity: current, logger: logger)
            }
            logger.notice(
                "Shopify's stock moved since the last push; waiting for ingestion before pushing",
                metadata: ["variant.id": "\(variantId)", "expected": "\(changeFrom)", "shopify": "\(current.map(String.init) ?? "none")"]
            )
            throw JobRetryLater(after: self.staleRetryDelay, reason: "Shopify's stock moved; letting ingestion catch up")
        }
    }
}
