import Foundation
import Logging
import PostgresNIO

/// A stock change waiting in the outbox: the variant whose quantity changed, and whether it is in Shopify.
public struct StockChange: Sendable, Equatable {
    public var businessId: UUID
    public var variantId: UUID
    public var mapped: Bool
}

/// What an inventory push compares: FlowPOS's quantity, and the Shopify item and its last known quantity.
public struct InventoryPushState: Sendable, Equatable {
    public var quantity: Int
    public var inventoryItemId: Int64?
    public var shopifyQuantity: Int?
}

/// The stock-change outbox and the per-variant Shopify quantities the inventory push keeps.
public struct InventoryStore: Sendable {
    let client: PostgresClient

    public init(client: PostgresClient) {
        self.client = client
    }

    /// Takes up to `limit` outbox rows (oldest first, skipping rows another relay holds) and hands the distinct
    /// variants to `relay`; the rows are deleted only if `relay` returns, in the same transaction, so a relay that
    /// fails or dies leaves them for the next sweep. Returns how many rows it took: fewer than `limit` means the
    /// outbox was drained (of the rows not held by another relay).
    @discardableResult
    public func relayOutbox(limit: Int, logger: Logger, _ relay: @Sendable ([StockChange]) async throws -> Void) async throws -> Int {
        try await self.client.withTransaction(logger: logger) { connection in
            let rows = try await connection.query(
                """
                WITH taken AS (
                    DELETE FROM ecommerce_inventory_outbox
                    WHERE id IN (SELECT id FROM ecommerce_inventory_outbox ORDER BY id LIMIT \(limit) FOR UPDATE SKIP LOCKED)
                    RETURNING business_id, variant_id
                )
                SELECT t.business_id, t.variant_id, bool_or(m.shopify_inventory_item_id IS NOT NULL), (sum(count(*)) OVER ())::int
                FROM taken t
                LEFT JOIN ecommerce_product_mapping m ON m.business_id = t.business_id AND m.variant_id = t.variant_id
                GROUP BY t.business_id, t.variant_id
                """,
                logger: logger
            )
            var changes: [StockChange] = []
            var taken = 0
            for try await (businessId, variantId, mapped, rowsTaken) in rows.decode((UUID, UUID, Bool, Int).self) {
                changes.append(StockChange(businessId: businessId, variantId: variantId, mapped: mapped))
                taken = rowsTaken
            }
            if !changes.isEmpty { try await relay(changes) }
            return taken
        }
    }

    public func pushState(businessId: UUID, variantId: UUID, logger: Logger) async throws -> InventoryPushState? {
        let rows = try await self.client.query(
            """
            SELECT s.quantity, m.shopify_inventory_item_id, m.shopify_quantity
            FROM stock_levels s
            LEFT JOIN ecommerce_product_mapping m ON m.business_id = s.business_id AND m.variant_id = s.variant_id
            WHERE s.business_id = \(businessId) AND s.variant_id = \(variantId)
            """,
            logger: logger
        )
        for try await (quantity, item, known) in rows.decode((Int, Int64?, Int?).self) {
            return InventoryPushState(quantity: quantity, inventoryItemId: item, shopifyQuantity: known)
        }
        return nil
    }

    /// Remembers what Shopify holds for a variant (after a push, or a read).
    public func recordShopifyQuantity(businessId: UUID, variantId: UUID, quantity: Int, logger: Logger) async throws {
        try await self.client.query(
            """
            UPDATE ecommerce_product_mapping SET shopify_quantity = \(quantity), shopify_quantity_at = now()
            WHERE business_id = \(businessId) AND variant_id = \(variantId)
            """,
            logger: logger
        )
    }
}
