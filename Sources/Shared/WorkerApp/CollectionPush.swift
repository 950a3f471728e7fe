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

    /// Pushes one page of categories (see ``PagedPush/runPage(_:envelope:context:accounts:syncLogs:subject:push:)``).
    func page(_ envelope: JobEnvelope<CollectionPushPageJob.Payload>, context: JobContext) async throws {
        let businessId = try EcommerceHandlers.businessId(of: envelope)
        let categories = try await self.collections.categories(businessId: businessId, page: PagedPush.page(of: envelope), logger: context.logger)
        try await PagedPush.runPage(
            categories,
            envelope: envelope,
            context: context,
            accounts: self.accounts,
            syncLogs: self.syncLogs,
            subject: { "category \($0.id)" },
            push: { category, account in try await self.push(category, businessId: businessId, account: account, logger: context.logger) }
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
