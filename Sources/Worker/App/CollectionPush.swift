import EcommerceJobs
import Foundation
import JobQueue
import Logging
import RedisClient
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

    /// Pushes one page of categories (see ``PagedPush/runPage(_:envelope:context:accounts:syncLogs:subject:push:)``),
    /// one page of a business at a time: two pushes at once would both find no collection for a new category and
    /// both create one. A page that finds another running waits its turn without spending an attempt.
    func page(_ envelope: JobEnvelope<CollectionPushPageJob.Payload>, context: JobContext) async throws {
        let businessId = try EcommerceHandlers.businessId(of: envelope)
        let lease = RedisLease(redis: self.queue.redis, key: "ecommerce:collection-push:\(businessId.uuidString.lowercased())", ttl: .seconds(120))
        guard try await lease.acquire(waitingAtMost: .seconds(2)) else {
            throw JobRetryLater(after: .seconds(2), reason: "a collection push of this business is running")
        }
        do {
            try await self.runPage(envelope, businessId: businessId, lease: lease, context: context)
            try? await lease.release()
        } catch {
            try? await lease.release()
            throw error
        }
    }

    private func runPage(
        _ envelope: JobEnvelope<CollectionPushPageJob.Payload>,
        businessId: UUID,
        lease: RedisLease,
        context: JobContext
    ) async throws {
        let categories = try await self.collections.categories(businessId: businessId, page: PagedPush.page(of: envelope), logger: context.logger)
        try await PagedPush.runPage(
            categories,
            envelope: envelope,
            context: context,
            accounts: self.accounts,
            syncLogs: self.syncLogs,
            subject: { "category \($0.id)" },
            push: { category, account in
                _ = try await lease.extend()  // a long page keeps its turn
                try await self.push(category, businessId: businessId, account: account, logger: context.logger)
            }
        )
    }

    /// The collection's handle, fixed by the category: its name made a handle, and its id's first 8 characters so
    /// that two categories of one name differ. Shopify's storefront shows it (`/collections/<handle>`).
    static func handle(of category: CatalogCategory) -> String {
        let words = category.name.lowercased().split { !($0.isLetter || $0.isNumber) || !$0.isASCII }
        return (words.prefix(8) + [Substring(category.id.uuidString.lowercased().prefix(8))]).joined(separator: "-")
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
            // Find before create: a create whose answer was lost (a timeout after Shopify made it) left a collection
            // with this handle and no mapping. Adopting it keeps one collection per category; it has no products
            // yet, since they are added only after the mapping below is saved.
            let handle = Self.handle(of: category)
            if let existing = try await client.collection(handle: handle, as: account.credentials, logger: logger) {
                collectionId = existing
                logger.notice("collection found by its handle; adopted", metadata: ["category.id": "\(category.id)", "handle": "\(handle)"])
            } else {
                collectionId = try await client.createCollection(title: category.name, handle: handle, as: account.credentials, logger: logger)
            }
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
