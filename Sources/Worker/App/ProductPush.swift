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
                    shopifyQuantity: input.initialQuantity,
                    includedMovements: input.initialQuantity == nil ? [] : variant.waitingMovements
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
