import Foundation
import Logging
import PostgresNIO

/// A FlowPOS category as a collection push sees it: its name, the Shopify products it should hold (its products
/// that are in Shopify), and what was pushed last time.
public struct CatalogCategory: Sendable, Equatable {
    public var id: UUID
    public var name: String
    public var shopifyProductIds: Set<Int64>
    public var pushed: PushedCollection?

    public struct PushedCollection: Sendable, Equatable {
        public var collectionId: Int64
        public var title: String
        public var productIds: Set<Int64>
    }
}

/// Reads categories for collection pushes and records the collections they became.
public struct CollectionPushStore: Sendable {
    let client: PostgresClient

    public init(client: PostgresClient) {
        self.client = client
    }

    /// The categories of one page of a collection push, with what was last pushed of each.
    public func categories(businessId: UUID, page: ProductPage, logger: Logger) async throws -> [CatalogCategory] {
        let rows = try await self.client.query(
            """
            SELECT c.id, c.name, cm.shopify_collection_id, cm.title, cm.shopify_product_ids,
                   COALESCE((SELECT array_agg(DISTINCT m.shopify_product_id) FROM product_categories pc
                             JOIN ecommerce_product_mapping m ON m.product_id = pc.product_id AND m.business_id = c.business_id
                             WHERE pc.category_id = c.id AND m.shopify_product_id IS NOT NULL), '{}')
            FROM categories c
            LEFT JOIN ecommerce_collection_mapping cm ON cm.business_id = c.business_id AND cm.category_id = c.id
            WHERE c.business_id = \(businessId) AND (\(page.after)::uuid IS NULL OR c.id > \(page.after)) AND c.id <= \(page.through)
            ORDER BY c.id
            """,
            logger: logger
        )
        var categories: [CatalogCategory] = []
        for try await (id, name, collectionId, title, pushedIds, desired) in rows.decode((UUID, String, Int64?, String?, [Int64]?, [Int64]).self) {
            let pushed = collectionId.map { CatalogCategory.PushedCollection(collectionId: $0, title: title ?? "", productIds: Set(pushedIds ?? [])) }
            categories.append(CatalogCategory(id: id, name: name, shopifyProductIds: Set(desired), pushed: pushed))
        }
        return categories
    }

    /// Records a category's collection, the title and the products it now holds.
    public func saveCollection(
        businessId: UUID,
        categoryId: UUID,
        collectionId: Int64,
        title: String,
        productIds: Set<Int64>,
        logger: Logger
    )
        async throws
    {
        try await self.client.query(
            """
            INSERT INTO ecommerce_collection_mapping (business_id, category_id, shopify_collection_id, title, shopify_product_ids)
            VALUES (\(businessId), \(categoryId), \(collectionId), \(title), \(productIds.sorted())::bigint[])
            ON CONFLICT (business_id, category_id) DO UPDATE
            SET shopify_collection_id = EXCLUDED.shopify_collection_id, title = EXCLUDED.title,
                shopify_product_ids = EXCLUDED.shopify_product_ids, updated_at = now()
            """,
            logger: logger
        )
    }
}
