import Foundation
import Logging
import PostgresNIO

/// A variant with stock movements waiting in the outbox, and whether it is in Shopify.
public struct StockChange: Sendable, Equatable {
    public var businessId: UUID
    public var variantId: UUID
    public var mapped: Bool
}

/// Movements of one variant pushed in one call: fixed in the outbox before the call, so that a retry after a
/// crash sends the same delta under the same key.
public struct StockMovementBatch: Sendable, Equatable {
    /// The batch's first movement id; with the variant it makes the call's idempotency key.
    public var id: Int64
    public var delta: Int
    public var movements: Int
}

/// A variant a reconciliation compares: FlowPOS's quantity, its Shopify item, and its movements not pushed yet.
public struct ReconciliationItem: Sendable, Equatable {
    public var variantId: UUID
    public var inventoryItemId: Int64
    public var quantity: Int
    public var waitingMovements: Int
}

/// The stock-movement outbox the inventory push drains, and what a reconciliation compares.
public struct InventoryStore: Sendable {
    let client: PostgresClient

    public init(client: PostgresClient) {
        self.client = client
    }

    /// Takes up to `limit` movements not relayed yet (oldest first, skipping rows another relay holds) and hands
    /// their distinct variants to `relay`. Movements of variants Shopify does not have are dropped (a product push
    /// sends the whole quantity when it creates the variant); the others stay, marked relayed, until their push
    /// confirms them. All of it only if `relay` returns, in the same transaction, so a relay that fails or dies
    /// leaves them for the next sweep. Returns how many rows it took: fewer than `limit` means the outbox was
    /// drained (of the rows not held by another relay).
    @discardableResult
    public func relayOutbox(limit: Int, logger: Logger, _ relay: @Sendable ([StockChange]) async throws -> Void) async throws -> Int {
        try await self.client.withTransaction(logger: logger) { connection in
            let rows = try await connection.query(
                """
                WITH taken AS (
                    SELECT o.id, o.business_id, o.variant_id, m.shopify_inventory_item_id IS NOT NULL AS mapped
                    FROM ecommerce_inventory_outbox o
                    LEFT JOIN ecommerce_product_mapping m ON m.business_id = o.business_id AND m.variant_id = o.variant_id
                    WHERE NOT o.relayed
                    ORDER BY o.id LIMIT \(limit)
                    FOR UPDATE OF o SKIP LOCKED
                ), dropped AS (
                    DELETE FROM ecommerce_inventory_outbox WHERE id IN (SELECT id FROM taken WHERE NOT mapped)
                ), marked AS (
                    UPDATE ecommerce_inventory_outbox SET relayed = true WHERE id IN (SELECT id FROM taken WHERE mapped)
                )
                SELECT business_id, variant_id, bool_or(mapped), (sum(count(*)) OVER ())::int
                FROM taken GROUP BY business_id, variant_id
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

    /// The Shopify inventory item of a variant, nil when it is not in Shopify.
    public func inventoryItem(businessId: UUID, variantId: UUID, logger: Logger) async throws -> Int64? {
        let rows = try await self.client.query(
            """
            SELECT shopify_inventory_item_id FROM ecommerce_product_mapping
            WHERE business_id = \(businessId) AND variant_id = \(variantId)
            """,
            logger: logger
        )
        for try await item in rows.decode(Int64?.self) { return item }
        return nil
    }

    /// The variant's batch to push next: one left open by an earlier attempt (it may have reached Shopify; it is
    /// sent again under the same key), else a new one of up to `limit` waiting movements. Nil when none wait.
    ///
    /// Why the lock: two pushes of one variant may run at once (a push forgets its coalescing key when it starts).
    /// Without it the second could add movements to a batch the first has already sent, under the sent key, and
    /// Shopify would answer them from its idempotency store without applying them.
    public func openBatch(businessId: UUID, variantId: UUID, limit: Int = 1000, logger: Logger) async throws -> StockMovementBatch? {
        try await self.client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(hashtextextended(\(variantId.uuidString), 0))", logger: logger)
            let open = try await connection.query(
                """
                SELECT batch, sum(delta)::int, count(*)::int FROM ecommerce_inventory_outbox
                WHERE business_id = \(businessId) AND variant_id = \(variantId) AND batch IS NOT NULL
                GROUP BY batch ORDER BY batch LIMIT 1
                """,
                logger: logger
            )
            for try await (id, delta, movements) in open.decode((Int64, Int, Int).self) {
                return StockMovementBatch(id: id, delta: delta, movements: movements)
            }
            let formed = try await connection.query(
                """
                WITH waiting AS (
                    SELECT id FROM ecommerce_inventory_outbox
                    WHERE business_id = \(businessId) AND variant_id = \(variantId) AND batch IS NULL
                    ORDER BY id LIMIT \(limit)
                )
                UPDATE ecommerce_inventory_outbox SET batch = (SELECT min(id) FROM waiting)
                WHERE id IN (SELECT id FROM waiting)
                RETURNING batch, delta
                """,
                logger: logger
            )
            var batch: StockMovementBatch?
            for try await (id, delta) in formed.decode((Int64, Int).self) {
                batch = StockMovementBatch(id: id, delta: (batch?.delta ?? 0) + delta, movements: (batch?.movements ?? 0) + 1)
            }
            return batch
        }
    }

    /// Removes a batch whose movements Shopify has (or that cannot be pushed).
    public func closeBatch(_ batch: StockMovementBatch, variantId: UUID, logger: Logger) async throws {
        try await self.client.query(
            "DELETE FROM ecommerce_inventory_outbox WHERE variant_id = \(variantId) AND batch = \(batch.id)",
            logger: logger
        )
    }

    /// Drops every waiting movement of a variant that cannot be pushed (not in Shopify, or the business not
    /// connected); a reconciliation corrects Shopify later. Returns how many were dropped.
    @discardableResult
    public func dropMovements(businessId: UUID, variantId: UUID, logger: Logger) async throws -> Int {
        let rows = try await self.client.query(
            """
            WITH dropped AS (
                DELETE FROM ecommerce_inventory_outbox WHERE business_id = \(businessId) AND variant_id = \(variantId) RETURNING 1
            )
            SELECT count(*)::int FROM dropped
            """,
            logger: logger
        )
        for try await count in rows.decode(Int.self) { return count }
        return 0
    }

    /// The business's variants in Shopify, in keyset pages by variant id after `after`: FlowPOS's quantity, the
    /// inventory item, and how many of its movements still wait to be pushed.
    public func reconciliationPage(businessId: UUID, after: UUID?, limit: Int, logger: Logger) async throws -> [ReconciliationItem] {
        let rows = try await self.client.query(
            """
            SELECT m.variant_id, m.shopify_inventory_item_id, COALESCE(s.quantity, 0),
                   (SELECT count(*)::int FROM ecommerce_inventory_outbox o WHERE o.variant_id = m.variant_id AND o.business_id = m.business_id)
            FROM ecommerce_product_mapping m
            LEFT JOIN stock_levels s ON s.variant_id = m.variant_id
            WHERE m.business_id = \(businessId) AND m.shopify_inventory_item_id IS NOT NULL
              AND (\(after)::uuid IS NULL OR m.variant_id > \(after))
            ORDER BY m.variant_id LIMIT \(limit)
            """,
            logger: logger
        )
        var items: [ReconciliationItem] = []
        for try await (variantId, itemId, quantity, waiting) in rows.decode((UUID, Int64, Int, Int).self) {
            items.append(ReconciliationItem(variantId: variantId, inventoryItemId: itemId, quantity: quantity, waitingMovements: waiting))
        }
        return items
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

    /// How much of the business's catalog Shopify has: variants, variants mapped to a Shopify variant, and the
    /// first `sampleLimit` SKUs (or ids) of the unmapped ones.
    public func mappingSummary(businessId: UUID, sampleLimit: Int, logger: Logger) async throws -> MappingSummary {
        var summary = MappingSummary(variants: 0, mapped: 0, unmappedSample: [])
        let counts = try await self.client.query(
            """
            SELECT count(*)::int, count(m.shopify_variant_id)::int FROM variants v
            LEFT JOIN ecommerce_product_mapping m ON m.business_id = v.business_id AND m.variant_id = v.id
            WHERE v.business_id = \(businessId)
            """,
            logger: logger
        )
        for try await (variants, mapped) in counts.decode((Int, Int).self) { (summary.variants, summary.mapped) = (variants, mapped) }
        let unmapped = try await self.client.query(
            """
            SELECT COALESCE(v.sku, v.id::text) FROM variants v
            LEFT JOIN ecommerce_product_mapping m ON m.business_id = v.business_id AND m.variant_id = v.id
            WHERE v.business_id = \(businessId) AND m.shopify_variant_id IS NULL
            ORDER BY v.sku NULLS LAST, v.id LIMIT \(sampleLimit)
            """,
            logger: logger
        )
        for try await sku in unmapped.decode(String.self) { summary.unmappedSample.append(sku) }
        return summary
    }

    /// The business's movements still in the outbox: the oldest not yet relayed to a push job, and the oldest
    /// relayed whose push has not confirmed it, with how many of each.
    public func outboxBacklog(businessId: UUID, logger: Logger) async throws -> OutboxBacklog {
        let rows = try await self.client.query(
            """
            SELECT count(*) FILTER (WHERE NOT relayed)::int, min(created_at) FILTER (WHERE NOT relayed),
                   count(*) FILTER (WHERE relayed)::int, min(created_at) FILTER (WHERE relayed)
            FROM ecommerce_inventory_outbox WHERE business_id = \(businessId)
            """,
            logger: logger
        )
        for try await (unrelayed, oldestUnrelayed, waiting, oldestWaiting) in rows.decode((Int, Date?, Int, Date?).self) {
            return OutboxBacklog(unrelayed: unrelayed, oldestUnrelayed: oldestUnrelayed, awaitingPush: waiting, oldestAwaitingPush: oldestWaiting)
        }
        return OutboxBacklog(unrelayed: 0, oldestUnrelayed: nil, awaitingPush: 0, oldestAwaitingPush: nil)
    }
}

/// See ``InventoryStore/mappingSummary(businessId:sampleLimit:logger:)``.
public struct MappingSummary: Sendable, Equatable {
    public var variants: Int
    public var mapped: Int
    public var unmappedSample: [String]
}

/// See ``InventoryStore/outboxBacklog(businessId:logger:)``.
public struct OutboxBacklog: Sendable, Equatable {
    public var unrelayed: Int
    public var oldestUnrelayed: Date?
    public var awaitingPush: Int
    public var oldestAwaitingPush: Date?
}
