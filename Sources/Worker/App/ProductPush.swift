import EcommerceJobs
import Foundation
import JobQueue
import Logging
import ShopifyAdmin
import Storage

/// The product push (`products.plan`, `products.page`): FlowPOS products become Shopify products through
/// `productSet`, page by page, shared by every worker; a large catalog as a bulk operation (``BulkProductPush``).
struct ProductPush: Sendable {
    let catalog: ProductPushStore
    let syncLogs: SyncLogStore
    let accounts: ShopifyAccounts
    let queue: RedisJobQueue
    /// A catalog of more products than this is pushed as a bulk operation (``BulkProductPush``); 0: never.
    let bulkThreshold: Int

    /// Plans the push: page jobs, or one bulk push job when the catalog has more products than the bulk threshold.
    func plan(_ envelope: JobEnvelope<ProductPushPlanJob.Payload>, context: JobContext) async throws {
        let businessId = try EcommerceHandlers.businessId(of: envelope)
        let payload = envelope.payload
        if self.bulkThreshold > 0 {
            let total = try await self.catalog.count(of: .products, businessId: businessId, logger: context.logger)
            if total > self.bulkThreshold {
                let pages = (total + max(1, payload.pageSize) - 1) / max(1, payload.pageSize)
                try await self.syncLogs.plan(runId: payload.runId, total: total, pages: pages, logger: context.logger)
                try await self.queue.enqueue(
                    ProductBulkPushJob.self,
                    ProductBulkPushJob.envelope(
                        .init(runId: payload.runId, pageSize: max(1, payload.pageSize)),
                        businessId: envelope.businessId,
                        shop: envelope.shop,
                        dedupeKey: "\(ProductBulkPushJob.kind):\(payload.runId)"
                    )
                )
                context.logger.info("push planned as a bulk operation", metadata: ["run.id": "\(payload.runId)", "products": "\(total)"])
                return
            }
        }
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
        let products = try await self.catalog.products(businessId: businessId, page: PagedPush.page(of: envelope), logger: context.logger)
        try await PagedPush.runPage(
            products,
            envelope: envelope,
            context: context,
            accounts: self.accounts,
            syncLogs: self.syncLogs,
            subject: { "product \($0.id)" },
            prepare: { account in try await self.accounts.ensureCustomIdDefinition(account, businessId: businessId, logger: context.logger) },
            push: { product, account in try await self.push(product, businessId: businessId, account: account, logger: context.logger) }
        )
    }

    private func push(_ product: CatalogProduct, businessId: UUID, account: ShopifyAccount, logger: Logger) async throws {
        guard !product.variants.isEmpty else { throw PushRefusal(code: "no_variants", message: "the product has no variants") }
        let (input, planned) = Self.input(for: product)
        let result = try await account.client.productSet(input, locationId: account.locationId, as: account.credentials, logger: logger)
        try await self.catalog.saveMappings(businessId: businessId, try Self.mappings(planned, productId: product.id, result: result), logger: logger)
    }

    /// What `productSet` is sent for a product, and per variant what its mapping needs once Shopify answers: the
    /// option value it is found by, and the stock it is created with with the outbox movements that stock holds
    /// (a variant Shopify has already is not given stock).
    static func input(for product: CatalogProduct) -> (ProductSetInput, [BulkPushLine.Variant]) {
        let single = product.variants.count == 1
        var planned: [BulkPushLine.Variant] = []
        let variants = product.variants.map { variant in
            let initialQuantity = variant.shopifyVariantId == nil ? max(variant.quantity, 0) : nil
            let option = Self.optionValue(of: variant, single: single)
            planned.append(
                BulkPushLine.Variant(
                    id: variant.id,
                    option: option,
                    quantity: initialQuantity,
                    movements: initialQuantity == nil ? [] : variant.waitingMovements
                )
            )
            return ProductSetInput.Variant(
                shopifyVariantId: variant.shopifyVariantId,
                optionValue: option,
                sku: variant.sku,
                barcode: variant.barcode,
                price: variant.price,
                initialQuantity: initialQuantity
            )
        }
        let input = ProductSetInput(
            flowposProductId: product.id.uuidString.lowercased(),
            title: product.name,
            descriptionHtml: product.description,
            active: product.active,
            variants: variants
        )
        return (input, planned)
    }

    /// The mappings of a product's variants from Shopify's answer, each found by its option value.
    static func mappings(_ planned: [BulkPushLine.Variant], productId: UUID, result: ProductSetResult) throws(PushRefusal) -> [ProductMapping] {
        var mappings: [ProductMapping] = []
        for variant in planned {
            guard let pushed = result.variants.first(where: { $0.optionValue == variant.option }) else {
                throw PushRefusal(code: "variant_missing", message: "Shopify did not return variant \(variant.option)")
            }
            mappings.append(
                ProductMapping(
                    variantId: variant.id,
                    productId: productId,
                    shopifyProductId: result.productId,
                    shopifyVariantId: pushed.variantId,
                    shopifyInventoryItemId: pushed.inventoryItemId,
                    shopifyQuantity: variant.quantity,
                    includedMovements: variant.movements
                )
            )
        }
        return mappings
    }

    /// The option value naming a variant in Shopify: its title, else its SKU; `Default Title` for a lone variant.
    static func optionValue(of variant: CatalogProduct.Variant, single: Bool) -> String {
        if let title = variant.title?.trimmingCharacters(in: .whitespaces), !title.isEmpty { return title }
        if single { return "Default Title" }
        return variant.sku ?? variant.id.uuidString.lowercased()
    }
}
