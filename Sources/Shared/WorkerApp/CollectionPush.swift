import EcommerceJobs
import Foundation
import JobQueue
import Logging
import ShopifyAdmin
import Storage

/// The collection push (`collections.plan`, `collections.page`): each FlowPOS category becomes a manual collection
/// holding the category's products that are in Shopify; membership changes by difference with what was pushed last.
struct CollectionPush: Sendable {
    let catalog: ProductPushStore
    let collections: CollectionPushStore
    let syncLogs: SyncLogStore
    let accounts: ShopifyAccounts
    let queue: RedisJobQueue

    func plan(_ envelope: JobEnvelope<CollectionPushPlanJob.Payload>, context: JobContext) async throws {
        try await PagedPush.plan(
            envelope,
            table: .categories,
            pageJob: CollectionPushPageJob.self,
            catalog: self.catalog,
            syncLogs: self.syncLogs,
            queue: self.queue,
            context: context
        )
    }

    /// Pushes one page of categories; failures are handled as in the product push.
    func page(_ envelope: JobEnvelope<CollectionPushPageJob.Payload>, context: JobContext) async throws {
        let businessId = try EcommerceHandlers.businessId(of: envelope)
        let payload = envelope.payload
        let logger = context.logger
        let page = ProductPage(number: payload.page, after: payload.after, through: payload.through, count: 0)
        let categories = try await self.collections.categories(businessId: businessId, page: page, logger: logger)
        let lastAttempt = context.header.attempt + 1 >= context.header.maxAttempts
        let account: ShopifyAccount
        do {
            account = try await self.accounts.account(businessId: businessId, logger: logger)
        } catch let error as PermanentJobError {
            try await self.syncLogs.recordPage(
                runId: payload.runId,
                page: payload.page,
                processed: 0,
                failed: categories.count,
                errors: [SyncError(code: error.code, message: error.message, subject: "page \(payload.page)")],
                logger: logger
            )
            return
        }
        var processed = 0
        var errors: [SyncError] = []
        for category in categories {
            do {
                try await self.push(category, businessId: businessId, account: account, logger: logger)
                processed += 1
            } catch let error as ShopifyAdminError where !error.isRetryable || lastAttempt {
                errors.append(SyncError(code: "shopify_refused", message: error.description, subject: "category \(category.id)"))
            }
        }
        try await self.syncLogs.recordPage(
            runId: payload.runId,
            page: payload.page,
            processed: processed,
            failed: categories.count - processed,
            errors: errors,
            logger: logger
        )
    }

    private func push(_ category: CatalogCategory, businessId: UUID, account: ShopifyAccount, logger: Logger) async throws {
        let client = account.client
        let collectionId: Int64
        let previous: Set<Int64>
        if let pushed = category.pushed {
            collectionId = pushed.collectionId
            previous = pushed.productIds
            if pushed.title != category.name {
                try await client.updateCollection(id: collectionId, title: category.name, as: account.credentials, logger: logger)
            }
        } else {
            collectionId = try await client.createCollection(title: category.name, as: account.credentials, logger: logger)
            previous = []
            // Remembered at once, so that a retry of this page updates the collection instead of creating another.
            try await self.collections.saveCollection(
                businessId: businessId,
                categoryId: category.id,
                collectionId: collectionId,
                title: category.name,
                productIds: [],
                logger: logger
            )
        }
        let added = category.shopifyProductIds.subtracting(previous).sorted()
        let removed = previous.subtracting(category.shopifyProductIds).sorted()
        if !added.isEmpty { try await client.addProducts(added, toCollection: collectionId, as: account.credentials, logger: logger) }
        if !removed.isEmpty { try await client.removeProducts(removed, fromCollection: collectionId, as: account.credentials, logger: logger) }
        try await self.collections.saveCollection(
            businessId: businessId,
            categoryId: category.id,
            collectionId: collectionId,
            title: category.name,
            productIds: category.shopifyProductIds,
            logger: logger
        )
    }
}
