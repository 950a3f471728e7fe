import EcommerceJobs
import Foundation
import JobQueue
import Logging
import ShopifyAdmin
import Storage

/// `inventory.push`: FlowPOS's own stock movements (POS sales, receipts, counts) reach Shopify as deltas.
///
/// Why deltas: Shopify decrements its own number when an order is placed there, and that order reaches FlowPOS
/// later (a late webhook, a poll). An absolute number computed before it was ingested re-opens sold stock; a
/// delta commutes with Shopify's decrements, so Shopify never shows more than FlowPOS minus what Shopify sold and
/// FlowPOS has not ingested yet. Movements that came from Shopify are not in the outbox at all (see the
/// `inventory_movement_deltas` migration).
///
/// Exactly once: the movements waiting for a variant are fixed as a batch in PostgreSQL before the call, the call
/// carries the batch's key (`@idempotent`), and the batch is removed only after Shopify answered. A crash in
/// between leaves the batch open; the retry sends the same delta under the same key and Shopify applies it once.
struct InventoryPush: Sendable {
    let inventory: InventoryStore
    let accounts: ShopifyAccounts
    let queue: RedisJobQueue
    /// Batches one job pushes before it hands the variant to a later job (a variant that never stops moving).
    let maxBatchesPerJob = 20

    func push(_ envelope: JobEnvelope<InventoryPushJob.Payload>, context: JobContext) async throws {
        let businessId = try EcommerceHandlers.businessId(of: envelope)
        let variantId = envelope.payload.variantId
        let logger = context.logger.with(variantId: variantId)
        // From here on a new movement of the variant enqueues a new push: this one may not see it.
        try await self.queue.forgetDedupe(InventoryPushJob.dedupeKey(variantId: variantId), queue: InventoryPushJob.queue)

        guard let itemId = try await self.inventory.inventoryItem(businessId: businessId, variantId: variantId, logger: logger) else {
            let dropped = try await self.inventory.dropMovements(businessId: businessId, variantId: variantId, logger: logger)
            logger.info("variant not in Shopify; its movements are not pushed", metadata: ["movements": "\(dropped)"])
            return
        }
        let account: ShopifyAccount
        do {
            account = try await self.accounts.account(businessId: businessId, logger: logger)
        } catch let error as PermanentJobError where error.code == "shop_not_connected" {
            let dropped = try await self.inventory.dropMovements(businessId: businessId, variantId: variantId, logger: logger)
            logger.info("business not connected; its movements are not pushed", metadata: ["movements": "\(dropped)"])
            return
        }
        for _ in 0..<self.maxBatchesPerJob {
            guard let batch = try await self.inventory.openBatch(businessId: businessId, variantId: variantId, logger: logger) else { return }
            if batch.delta != 0 {
                let stocked = try await account.client.adjustAvailable(
                    inventoryItemId: itemId,
                    locationId: account.locationId,
                    delta: batch.delta,
                    idempotencyKey: Self.idempotencyKey(variantId: variantId, batch: batch),
                    reason: "correction",
                    reference: "gid://flowpos/StockMovements/\(batch.id)",
                    as: account.credentials,
                    logger: logger
                )
                if !stocked {
                    logger.warning(
                        "item not stocked at the connection's location; movements not pushed",
                        metadata: ["movements": "\(batch.movements)"]
                    )
                }
                // For the doctor (the business's last pushes); the push is done whether or not this is written.
                try? await OperatorJournal(redis: self.queue.redis).recordInventoryPush(
                    businessId: businessId,
                    .init(variantId: variantId, delta: batch.delta, movements: batch.movements, outcome: stocked ? "applied" : "not_stocked")
                )
            }
            try await self.inventory.closeBatch(batch, variantId: variantId, logger: logger)
            logger.debug("stock movements pushed", metadata: ["batch": "\(batch.id)", "movements": "\(batch.movements)", "delta": "\(batch.delta)"])
        }
        // Still moving: the rest goes to a later job, so that one variant does not hold a worker slot for ever.
        throw JobRetryLater(after: .zero, reason: "more stock movements of the variant wait")
    }

    /// One key per batch of movements: the variant and the batch's first movement (movement ids are never reused).
    static func idempotencyKey(variantId: UUID, batch: StockMovementBatch) -> String {
        "flowpos-stock-\(variantId.uuidString.lowercased())-\(batch.id)"
    }
}

extension Logger {
    /// This logger with the variant's id in its metadata.
    func with(variantId: UUID) -> Logger {
        var logger = self
        logger[metadataKey: "variant.id"] = "\(variantId)"
        return logger
    }
}
