import EcommerceJobs
import Foundation
import JobQueue
import Logging
import ShopifyAdmin
import Storage

/// `inventory.reconcile`: the one place an absolute quantity is written to Shopify, for drift from stock edited in
/// Shopify by hand. Every variant in Shopify is read; one that differs from FlowPOS's quantity is set to it with a
/// compare-and-set against what was just read, so an order placed in between is not overwritten.
///
/// A variant whose movements still wait in the outbox is skipped (they are on their way and its numbers do not
/// compare yet); one Shopify moved between the read and the write counts as drifted, not corrected, and the next
/// reconciliation sees it again. Like any absolute write, it would re-open units Shopify sold that FlowPOS has not
/// ingested yet: it is an explicit operation, meant for when ingestion has caught up.
///
/// A retried run starts again from the first variant: what it corrected reads as equal then.
struct InventoryReconciliation: Sendable {
    let inventory: InventoryStore
    let accounts: ShopifyAccounts
    let syncLogs: SyncLogStore

    func reconcile(_ envelope: JobEnvelope<InventoryReconcileJob.Payload>, context: JobContext) async throws {
        let businessId = try EcommerceHandlers.businessId(of: envelope)
        let runId = envelope.payload.runId
        let logger = context.logger
        let account: ShopifyAccount
        do {
            account = try await self.accounts.account(businessId: businessId, logger: logger)
        } catch let failure as PermanentJobError {
            try await self.syncLogs.fail(runId: runId, error: SyncError(code: failure.code, message: failure.message), logger: logger)
            return
        }
        var checked = 0
        var drifted = 0
        var corrected = 0
        var errors: [SyncError] = []
        var after: UUID?
        while true {
            let page = try await self.inventory.reconciliationPage(
                businessId: businessId,
                after: after,
                limit: max(1, envelope.payload.pageSize),
                logger: logger
            )
            guard let last = page.last else { break }
            after = last.variantId
            for item in page {
                if item.waitingMovements > 0 {
                    errors.append(
                        SyncError(
                            code: "movements_pending",
                            message: "stock movements of the variant are still being pushed; reconcile it again later",
                            subject: "variant \(item.variantId.uuidString.lowercased())"
                        )
                    )
                    continue
                }
                guard
                    let shopify = try await account.client.available(
                        inventoryItemId: item.inventoryItemId,
                        locationId: account.locationId,
                        as: account.credentials,
                        logger: logger
                    )
                else {
                    errors.append(
                        SyncError(
                            code: "not_stocked",
                            message: "the item is not stocked at the connection's location",
                            subject: "variant \(item.variantId.uuidString.lowercased())"
                        )
                    )
                    continue
                }
                checked += 1
                try await self.inventory.recordShopifyQuantity(businessId: businessId, variantId: item.variantId, quantity: shopify, logger: logger)
                guard shopify != item.quantity else { continue }
                drifted += 1
                let outcome = try await account.client.setAvailable(
                    inventoryItemId: item.inventoryItemId,
                    locationId: account.locationId,
                    quantity: item.quantity,
                    changeFrom: shopify,
                    // The same correction (this run, this variant, from this number) always carries the same key.
                    idempotencyKey: "flowpos-reconcile-\(runId.uuidString.lowercased())-\(item.variantId.uuidString.lowercased())-\(shopify)",
                    reference: "gid://flowpos/StockReconciliation/\(runId.uuidString.lowercased())",
                    as: account.credentials,
                    logger: logger
                )
                switch outcome {
                case .applied:
                    corrected += 1
                    try await self.inventory.recordShopifyQuantity(
                        businessId: businessId,
                        variantId: item.variantId,
                        quantity: item.quantity,
                        logger: logger
                    )
                case .stale:
                    errors.append(
                        SyncError(
                            code: "shopify_moved",
                            message: "Shopify's quantity changed while it was being corrected; reconcile again later",
                            subject: "variant \(item.variantId.uuidString.lowercased())"
                        )
                    )
                }
            }
        }
        try await self.syncLogs.finishRun(
            runId: runId,
            processed: checked,
            failed: errors.count,
            errors: errors,
            details: SyncDetails(drifted: drifted, corrected: corrected),
            logger: logger
        )
        logger.info(
            "inventory reconciled",
            metadata: ["run.id": "\(runId)", "checked": "\(checked)", "drifted": "\(drifted)", "corrected": "\(corrected)"]
        )
    }
}
