import Foundation
import Logging
import PostgresNIO

/// A FlowPOS product with what a push needs: its variants, their stock and their Shopify ids when mapped.
public struct CatalogProduct: Sendable, Equatable {
    public var id: UUID
    public var name: String
    public var description: String?
    public var active: Bool
    public var variants: [Variant]

    public struct Variant: Sendable, Equatable {
        public var id: UUID
        public var title: String?
        public var sku: String?
        public var barcode: String?
        /// Decimal text, e.g. `12.50`.
        public var price: String
        public var quantity: Int
        public var shopifyVariantId: Int64?
        /// The variant's movements waiting in the outbox, read with `quantity` (one snapshot): `quantity` already
        /// holds them, so a push that creates the variant with it hands these to ``ProductMapping/includedMovements``.
        public var waitingMovements: [Int64] = []
    }
}

/// A variant's place in Shopify, recorded after a push.
public struct ProductMapping: Sendable, Equatable {
    public var variantId: UUID
    public var productId: UUID
    public var shopifyProductId: Int64
    public var shopifyVariantId: Int64
    public var shopifyInventoryItemId: Int64
    /// The quantity Shopify was given when the variant was created there (the inventory push's first baseline);
    /// nil keeps what is known.
    public var shopifyQuantity: Int?
    /// Outbox movements that `shopifyQuantity` already holds: removed with the mapping, so that the inventory push
    /// does not send them again (Shopify would count them twice).
    public var includedMovements: [Int64] = []

    public init(
        variantId: UUID,
        productId: UUID,
        shopifyProductId: Int64,
        shopifyVariantId: Int64,
        shopifyInventoryItemId: Int64,
        shopifyQuantity: Int? = nil,
        includedMovements: [Int64] = []
    ) {
        self.variantId = variantId
        self.productId = productId
        self.shopifyProductId = shopifyProductId
        self.shopifyVariantId = shopifyVariantId
        self.shopifyInventoryItemId = shopifyInventoryItemId
        self.shopifyQuantity = shopifyQuantity
        self.includedMovements = includedMovements
    }
}

/// What a push pages through.
public enum CatalogTable: String, Sendable {
    case products
    case categories
}

/// A page of a push: the products (or categories) with ids in `(after, through]`.
public struct ProductPage: Codable, Sendable, Equatable {
    public var number: Int
    public var after: UUID?
    public var through: UUID
    public var count: Int

    public init(number: Int, after: UUID?, through: UUID, count: Int) {
        self.number = number
        self.after = after
        self.through = through
        self.count = count
    }
}

/// Reads the FlowPOS catalog for pushes and records where its variants went in Shopify.
public struct ProductPushStore: Sendable {
    let client: PostgresClient

    public init(client: PostgresClient) {
        self.client = client
    }

    /// Splits a business's products (or categories) into keyset pages of `size` (by id), reading ids only.
    public func pages(of table: CatalogTable = .products, businessId: UUID, size: Int, logger: Logger) async throws -> [ProductPage] {
        var pages: [ProductPage] = []
        var after: UUID? = nil
        while true {
            var query = PostgresQuery(
                unsafeSQL: "SELECT id FROM \(table.rawValue) WHERE business_id = $1 AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3"
            )
            query.binds.append(businessId)
            query.binds.append(after)
            query.binds.append(size)
            let rows = try await self.client.query(query, logger: logger)
            var ids: [UUID] = []
            for try await id in rows.decode(UUID.self) { ids.append(id) }
            guard let last = ids.last else { return pages }
            pages.append(ProductPage(number: pages.count + 1, after: after, through: last, count: ids.count))
            after = last
            if ids.count < size { return pages }
        }
    }

    /// How many products (or categories) a business has.
    public func count(of table: CatalogTable, businessId: UUID, logger: Logger) async throws -> Int {
        var query = PostgresQuery(unsafeSQL: "SELECT count(*)::int FROM \(table.rawValue) WHERE business_id = $1")
        query.binds.append(businessId)
        for try await count in try await self.client.query(query, logger: logger).decode(Int.self) { return count }
        return 0
    }

    /// How many products (or categories) a page's range `(after, through]` holds now.
    public func count(of table: CatalogTable, businessId: UUID, page: ProductPage, logger: Logger) async throws -> Int {
        var query = PostgresQuery(
            unsafeSQL: "SELECT count(*)::int FROM \(table.rawValue) WHERE business_id = $1 AND ($2::uuid IS NULL OR id > $2) AND id <= $3"
        )
        query.binds.append(businessId)
        query.binds.append(page.after)
        query.binds.append(page.through)
        for try await count in try await self.client.query(query, logger: logger).decode(Int.self) { return count }
        return 0
    }

    /// The products of one page with their variants (oldest first), stock and existing mappings.
    public func products(businessId: UUID, page: ProductPage, logger: Logger) async throws -> [CatalogProduct] {
        let rows = try await self.client.query(
            """
            SELECT p.id, p.name, p.description, p.status = 'active', v.id, v.title, v.sku, v.barcode, v.price::text,
                   COALESCE(s.quantity, 0), m.shopify_variant_id,
                   ARRAY(SELECT o.id FROM ecommerce_inventory_outbox o WHERE o.variant_id = v.id AND o.batch IS NULL ORDER BY o.id)
            FROM products p
            LEFT JOIN variants v ON v.product_id = p.id
            LEFT JOIN stock_levels s ON s.variant_id = v.id
            LEFT JOIN ecommerce_product_mapping m ON m.business_id = p.business_id AND m.variant_id = v.id
            WHERE p.business_id = \(businessId) AND (\(page.after)::uuid IS NULL OR p.id > \(page.after)) AND p.id <= \(page.through)
            ORDER BY p.id, v.created_at, v.id
            """,
            logger: logger
        )
        var products: [CatalogProduct] = []
        for try await (id, name, description, active, variantId, title, sku, barcode, price, quantity, shopifyVariantId, waiting) in rows.decode(
            (UUID, String, String?, Bool, UUID?, String?, String?, String?, String?, Int, Int64?, [Int64]).self
        ) {
            if products.last?.id != id {
                products.append(CatalogProduct(id: id, name: name, description: description, active: active, variants: []))
            }
            if let variantId {
                products[products.count - 1].variants.append(
                    .init(
                        id: variantId,
                        title: title,
                        sku: sku,
                        barcode: barcode,
                        price: price ?? "0",
                        quantity: quantity,
                        shopifyVariantId: shopifyVariantId,
                        waitingMovements: waiting
                    )
                )
            }
        }
        return products
    }

    /// Records (or moves) the Shopify ids of a product's variants, and removes the outbox movements their
    /// creation quantity holds, in one transaction. (An unknown quantity travels as -1: PostgresNIO binds no arrays of
    /// optionals; quantities given to Shopify at creation are never negative.)
    public func saveMappings(businessId: UUID, _ mappings: [ProductMapping], logger: Logger) async throws {
        guard !mappings.isEmpty else { return }
        let included = mappings.flatMap(\.includedMovements)
        try await self.client.withTransaction(logger: logger) { connection in
            try await self.saveMappings(businessId: businessId, mappings, on: connection, logger: logger)
            // Not a batch being pushed (a variant being created has none); the relay may have dropped some already.
            if !included.isEmpty {
                try await connection.query(
                    "DELETE FROM ecommerce_inventory_outbox WHERE business_id = \(businessId) AND id = ANY(\(included)::bigint[]) AND batch IS NULL",
                    logger: logger
                )
            }
        }
    }

    private func saveMappings(businessId: UUID, _ mappings: [ProductMapping], on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            INSERT INTO ecommerce_product_mapping
                (business_id, variant_id, product_id, shopify_product_id, shopify_variant_id, shopify_inventory_item_id, shopify_quantity,
                 shopify_quantity_at, updated_at)
            SELECT \(businessId), variant_id, product_id, shopify_product_id, shopify_variant_id, shopify_inventory_item_id,
                   NULLIF(quantity, -1), CASE WHEN quantity = -1 THEN NULL ELSE now() END, now()
            FROM UNNEST(\(mappings.map(\.variantId))::uuid[], \(mappings.map(\.productId))::uuid[], \(mappings.map(\.shopifyProductId))::bigint[],
                        \(mappings.map(\.shopifyVariantId))::bigint[], \(mappings.map(\.shopifyInventoryItemId))::bigint[],
                        \(mappings.map { $0.shopifyQuantity ?? -1 })::int[])
                 AS m(variant_id, product_id, shopify_product_id, shopify_variant_id, shopify_inventory_item_id, quantity)
            ON CONFLICT (business_id, variant_id) DO UPDATE
            SET product_id = EXCLUDED.product_id, shopify_product_id = EXCLUDED.shopify_product_id,
                shopify_variant_id = EXCLUDED.shopify_variant_id, shopify_inventory_item_id = EXCLUDED.shopify_inventory_item_id,
                shopify_quantity = COALESCE(EXCLUDED.shopify_quantity, ecommerce_product_mapping.shopify_quantity),
                shopify_quantity_at = COALESCE(EXCLUDED.shopify_quantity_at, ecommerce_product_mapping.shopify_quantity_at),
                updated_at = now()
            """,
            logger: logger
        )
    }
}
