import EcommerceJobs
import Foundation
import JobQueue
import Logging
import ShopifyAdmin
import Storage

/// The product push (`products.plan`, `products.page`): FlowPOS products become Shopify products through
/// `productSet`, page by page, shared by every worker.
struct ProductPush: Sendable {
    let catalog: ProductPushStore
    let syncLogs: SyncLogStore
    let accounts: ShopifyAccounts
    let queue: RedisJobQueue

    func plan(_ envelope: JobEnvelope<ProductPushPlanJob.Payload>, context: JobContext) async throws {
        try await PagedPush.plan(
            envelope,
            table: .products,
            pageJob: ProductPushPageJob.self,
            catalog: self.catalog,
            syncLogs: self.syncLogs,
            queue: self.queue,
            context: context
        )
    }

    /// Pushes one page of products (see ``PagedPush/runPage(_:envelope:context:accounts:syncLogs:subject:push:)``).
    func page(_ envelope: JobEnvelope<ProductPushPageJob.Payload>, context: JobContext) async throws {
        let businessId = try EcommerceHandlers.businessId(of: envelope)
        let payload = envelope.payload
        let page = ProductPage(number: payload.page, after: payload.after, through: payload.through, count: 0)
        let products = try await self.catalog.products(businessId: businessId, page: page, logger: context.logger)
        try await PagedPush.runPage(
            products,
            envelope: envelope,
            context: context,
            accounts: self.accounts,
            syncLogs: self.syncLogs,
            subject: { "product \($0.id)" },
            push: { product, account in try await self.push(product, businessId: businessId, account: account, logger: context.logger) }
        )
    }

    private func push(_ product: CatalogProduct, businessId: UUID, account: ShopifyAccount, logger: Logger) async throws {
        guard !product.variants.isEmpty else { throw PushRefusal(code: "no_variants", message: "the product has no variants") }
        let single = product.variants.count == 1
        let variants = product.variants.map { variant in
            ProductSetInput.Variant(
                shopifyVariantId: variant.shopifyVariantId,
                optionValue: Self.optionValue(of: variant, single: single),
                sku: variant.sku,
                barcode: variant.barcode,
                price: variant.price,
                initialQuantity: variant.shopifyVariantId == nil ? max(variant.quantity, 0) : nil
            )
        }
        let result = try await account.client.productSet(
            ProductSetInput(
                flowposProductId: product.id.uuidString.lowercased(),
                title: product.name,
                descriptionHtml: product.description,
                active: product.active,
                variants: variants
            ),
            locationId: account.locationId,
            as: account.credentials,
            logger: logger
        )
        var mappings: [ProductMapping] = []
        for (variant, input) in zip(product.variants, variants) {
            guard let pushed = result.variants.first(where: { $0.optionValue == input.optionValue }) else {
                throw PushRefusal(code: "variant_missing", message: "Shopify did not return variant \(input.optionValue)")
            }
            mappings.append(
                ProductMapping(
                    variantId: variant.id,
                    productId: product.id,
                    shopifyProductId: result.productId,
                    shopifyVariantId: pushed.variantId,
                    shopifyInventoryItemId: pushed.inventoryItemId,
                    shopifyQuantity: input.initialQuantity
                )
            )
        }
        try await self.catalog.saveMappings(businessId: businessId, mappings, logger: logger)
    }

    /// The option value naming a variant in Shopify: its title, else its SKU; `Default Title` for a lone variant.
    static func optionValue(of variant: CatalogProduct.Variant, single: Bool) -> String {
        if let title = variant.title?.trimmingCharacters(in: .whitespaces), !title.isEmpty { return title }
        if single { return "Default Title" }
        return variant.sku ?? variant.id.uuidString.lowercased()
    }
}

/// The planning step every paged push shares.
enum PagedPush {
    /// Splits the push into pages and enqueues them (deduplicated, so a re-run plan adds nothing). The run's size
    /// is recorded before the first page is enqueued, so that the last page to finish always knows it is the last.
    static func plan<PageJob: JobDefinition>(
        _ envelope: JobEnvelope<ProductPushPlanJob.Payload>,
        table: CatalogTable,
        pageJob: PageJob.Type,
        catalog: ProductPushStore,
        syncLogs: SyncLogStore,
        queue: RedisJobQueue,
        context: JobContext
    ) async throws where PageJob.Payload == ProductPushPageJob.Payload {
        let businessId = try EcommerceHandlers.businessId(of: envelope)
        let payload = envelope.payload
        let pages = try await catalog.pages(of: table, businessId: businessId, size: max(1, payload.pageSize), logger: context.logger)
        try await syncLogs.plan(runId: payload.runId, total: pages.reduce(0) { $0 + $1.count }, pages: pages.count, logger: context.logger)
        for page in pages {
            let job = PageJob.envelope(
                .init(runId: payload.runId, page: page.number, after: page.after, through: page.through),
                businessId: envelope.businessId,
                shop: envelope.shop,
                dedupeKey: "\(PageJob.kind):\(payload.runId):\(page.number)"
            )
            try await queue.enqueue(PageJob.self, job)
        }
        context.logger.info("push planned", metadata: ["run.id": "\(payload.runId)", "table": "\(table.rawValue)", "pages": "\(pages.count)"])
    }

    /// Pushes the items of one page and records the page's counters once. An item Shopify refuses (its
    /// `userErrors`) or that cannot be sent (``PushRefusal``) counts as failed and the page goes on; throttling
    /// hands the whole page back (pushes are idempotent); other failures retry the page, and on its last attempt
    /// the failing items are recorded as failed so that the run always ends. Without a usable connection the
    /// whole page fails with the reason; a 401 refreshes the token and runs the page again, or fails it when the
    /// token cannot be refreshed.
    static func runPage<Item: Sendable>(
        _ items: [Item],
        envelope: JobEnvelope<ProductPushPageJob.Payload>,
        context: JobContext,
        accounts: ShopifyAccounts,
        syncLogs: SyncLogStore,
        subject: (Item) -> String,
        push: (Item, ShopifyAccount) async throws -> Void
    ) async throws {
        let businessId = try EcommerceHandlers.businessId(of: envelope)
        let payload = envelope.payload
        let logger = context.logger
        let lastAttempt = context.header.attempt + 1 >= context.header.maxAttempts
        func failPage(_ failure: PermanentJobError) async throws {
            let error = SyncError(code: failure.code, message: failure.message, subject: "page \(payload.page)")
            try await syncLogs.recordPage(
                runId: payload.runId,
                page: payload.page,
                processed: 0,
                failed: items.count,
                errors: [error],
                logger: logger
            )
        }
        /// The token, not an item: refresh it and run the page again (`JobRetryLater`); if it cannot be, fail the page.
        func recover(_ error: ShopifyAdminError) async throws {
            do {
                try await accounts.recover(from: error, businessId: businessId, logger: logger)
            } catch let failure as PermanentJobError {
                try await failPage(failure)
            }
        }
        let account: ShopifyAccount
        do {
            account = try await accounts.account(businessId: businessId, logger: logger)
        } catch let failure as PermanentJobError {
            try await failPage(failure)
            return
        } catch let error as ShopifyAdminError where error.isUnauthorized {
            try await recover(error)
            return
        }
        var processed = 0
        var errors: [SyncError] = []
        for item in items {
            do {
                try await push(item, account)
                processed += 1
            } catch let error as ShopifyAdminError where error.isUnauthorized {
                try await recover(error)
                return
            } catch let refusal as PushRefusal {
                errors.append(SyncError(code: refusal.code, message: refusal.message, subject: subject(item)))
            } catch let error as ShopifyAdminError where !error.isRetryable || lastAttempt {
                errors.append(SyncError(code: "shopify_refused", message: error.description, subject: subject(item)))
            }
        }
        try await syncLogs.recordPage(
            runId: payload.runId,
            page: payload.page,
            processed: processed,
            failed: items.count - processed,
            errors: errors,
            logger: logger
        )
        if !errors.isEmpty {
            logger.warning("items refused by Shopify", metadata: ["run.id": "\(payload.runId)", "failed": "\(errors.count)"])
        }
    }
}

/// An item a push cannot send as it is: counted as failed, the page goes on.
struct PushRefusal: Error {
    var code: String
    var message: String
}
