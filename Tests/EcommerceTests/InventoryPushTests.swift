import EcommerceJobs
import Foundation
import JobQueue
import PostgresNIO
import RedisClient
import Shopify
import ShopifyAdmin
import ShopifySimulatorCore
import Storage
import Testing

@testable import WorkerApp

@Suite("Inventory push from FlowPOS stock changes", .serialized)
struct InventoryPushTests {
    let logger = TestServices.logger

    struct Pushed {
        var fixture: CatalogFixture
        /// The first product's variants: FlowPOS id, Shopify variant id, inventory item id.
        var variants: [(id: UUID, shopifyVariantId: Int64, itemId: Int64)]

        /// What Shopify holds of a variant at the fixture's location.
        func available(of variant: (id: UUID, shopifyVariantId: Int64, itemId: Int64), in harness: SimulatorHarness) -> Int? {
            harness.simulator.available(shop: self.fixture.shop, inventoryItemId: variant.itemId, locationId: self.fixture.locationId)
        }
    }

    /// A catalog pushed to the simulator (stock 7 everywhere, nothing waiting in the outbox).
    func pushedCatalog(postgres: PostgresClient, redis: RedisClient, harness: SimulatorHarness) async throws -> Pushed {
        let fixture = try await CatalogFixture.create(on: postgres, simulator: harness.simulator, products: 2, variants: 2)
        let run = try await ProductPushTests().push(fixture, postgres: postgres, redis: redis, harness: harness)
        #expect(run.status == "completed")
        // The set-up's stock is in the quantities the variants were created with: nothing of it waits to be pushed.
        #expect(try await self.outboxRows(of: fixture.businessId, postgres) == 0)
        let rows = try await postgres.query(
            """
            SELECT m.variant_id, m.shopify_variant_id, m.shopify_inventory_item_id FROM ecommerce_product_mapping m
            WHERE m.business_id = \(fixture.businessId) AND m.product_id = (SELECT min(id::text)::uuid FROM products WHERE business_id = \(fixture.businessId))
            ORDER BY m.variant_id
            """,
            logger: self.logger
        )
        var variants: [(UUID, Int64, Int64)] = []
        for try await row in rows.decode((UUID, Int64, Int64).self) { variants.append(row) }
        return Pushed(fixture: fixture, variants: variants)
    }

    /// Runs `body` with a catalog pushed to the simulator (see ``pushedCatalog(postgres:redis:harness:)``), on a
    /// flushed Redis database and a PostgreSQL database of its own: the outbox holds only this test's stock changes.
    func withPushedCatalog(_ body: @Sendable (Pushed, PostgresClient, RedisClient, SimulatorHarness) async throws -> Void) async throws {
        let redis = TestServices.redis(.inventory)
        defer { redis.shutdown() }
        _ = try await redis.send(["FLUSHDB"])
        try await TestServices.withPrivatePostgres { postgres in
            try await SimulatorHarness.run { harness in
                try await body(try await self.pushedCatalog(postgres: postgres, redis: redis, harness: harness), postgres, redis, harness)
            }
        }
    }

    func workers(postgres: PostgresClient, redis: RedisClient, harness: SimulatorHarness) -> [JobWorker] {
        let queue = RedisJobQueue(redis: redis)
        let handlers = EcommerceHandlers(
            postgres: postgres,
            queue: queue,
            shopify: harness.client(redis: redis),
            tokenCipher: CatalogFixture.cipher
        )
        var configuration = JobWorkerConfiguration(queues: [EcommerceQueue.inventory], concurrency: 4)
        configuration.maintenanceInterval = .milliseconds(50)
        return [JobWorker(queue: queue, registry: handlers.registry(), configuration: configuration, logger: self.logger)]
    }

    func relay(postgres: PostgresClient, redis: RedisClient) -> InventoryOutboxRelay {
        InventoryOutboxRelay(postgres: postgres, queue: RedisJobQueue(redis: redis), interval: .seconds(60), logger: self.logger)
    }

    /// Relays one batch of the outbox: on the suite's own database (``withPushedCatalog(_:)``) every row is this
    /// test's.
    func relayOnce(postgres: PostgresClient, redis: RedisClient) async throws -> Int {
        try await self.relay(postgres: postgres, redis: redis).relayBatch()
    }

    /// The business's stock changes not relayed yet.
    func outboxRows(of businessId: UUID, _ postgres: PostgresClient) async throws -> Int {
        let rows = try await postgres.query(
            "SELECT count(*)::int FROM ecommerce_inventory_outbox WHERE business_id = \(businessId)",
            logger: self.logger
        )
        for try await count in rows.decode(Int.self) { return count }
        return -1
    }

    func setStock(_ variant: UUID, to quantity: Int, _ postgres: PostgresClient) async throws {
        try await postgres.query(
            "UPDATE stock_levels SET quantity = \(quantity), updated_at = now() WHERE variant_id = \(variant)",
            logger: self.logger
        )
    }

    @Test("the relay service drains a backlog of many batches in one sweep, without waiting for the next")
    func relayDrainsABacklog() async throws {
        let redis = TestServices.redis(.inventory)
        defer { redis.shutdown() }
        // Its own database: worker processes of other suites relay the shared outbox too, and would drain it
        // for this relay (or leave it rows they took and rolled back when killed, after its one sweep).
        try await TestServices.withPrivatePostgres { postgres in
            let business = try await BusinessFixture.create(on: postgres, stock: [("A", 1, nil), ("B", 1, nil)], connection: nil)
            for quantity in 2...12 {
                for variant in business.variants { try await self.setStock(variant.id, to: quantity, postgres) }
            }
            let backlog = { try await self.outboxRows(of: business.id, postgres) }
            #expect(try await backlog() >= 22)
            // Batches of 4 rows, each of only two variants; the next sweep is a minute away.
            let relay = InventoryOutboxRelay(
                postgres: postgres,
                queue: RedisJobQueue(redis: redis),
                interval: .seconds(60),
                batchSize: 4,
                logger: self.logger
            )
            let drained = try await TestServices.whileRunning([relay]) {
                try await TestServices.eventually(timeout: .seconds(30)) { try await backlog() == 0 }
            }
            #expect(drained)
        }
    }

    @Test("a running relay takes a later stock change at its next sweep; no stock trigger sends NOTIFY")
    func relaySweepsLaterChanges() async throws {
        let redis = TestServices.redis(.inventory)
        defer { redis.shutdown() }
        // Its own database, so that only this relay can have taken the change (see `relayDrainsABacklog`).
        try await TestServices.withPrivatePostgres { postgres in
            // A notifying commit holds a database-wide lock through its WAL flush: stock changes would commit one
            // at a time (see the `inventory_outbox_without_notify` migration).
            let notifying = try await postgres.query(
                """
                SELECT count(*)::int FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
                WHERE t.tgrelid = 'stock_levels'::regclass AND p.prosrc ILIKE '%notify%'
                """,
                logger: self.logger
            )
            for try await count in notifying.decode(Int.self) { #expect(count == 0) }

            let business = try await BusinessFixture.create(on: postgres, stock: [("A", 1, nil)], connection: nil)
            let backlog = { try await self.outboxRows(of: business.id, postgres) }
            let relay = InventoryOutboxRelay(
                postgres: postgres,
                queue: RedisJobQueue(redis: redis),
                interval: .milliseconds(200),
                logger: self.logger
            )
            let relayed = try await TestServices.whileRunning([relay]) {
                // The relay's first sweep takes the fixture's own rows; the change below comes after it.
                guard try await TestServices.eventually(timeout: .seconds(30), { try await backlog() == 0 }) else { return false }
                try await self.setStock(business.variants[0].id, to: 5, postgres)
                return try await TestServices.eventually(timeout: .seconds(30)) { try await backlog() == 0 }
            }
            #expect(relayed)
        }
    }

    @Test("a burst of stock movements reaches Shopify in one call, as their sum; unmapped variants are skipped")
    func coalescedPush() async throws {
        try await self.withPushedCatalog { pushed, postgres, redis, harness in
            let variant = pushed.variants[0]
            for quantity in [6, 5, 9, 4, 12] { try await self.setStock(variant.id, to: quantity, postgres) }
            // A variant FlowPOS has but Shopify does not.
            let unmapped = try await BusinessFixture.create(on: postgres, stock: [("X", 3, nil)], connection: nil)
            try await self.setStock(unmapped.variants[0].id, to: 2, postgres)

            #expect(try await self.relayOnce(postgres: postgres, redis: redis) >= 2)
            let queued = try await redis.send(["ZRANGE", RedisArgument(QueueKeys(queue: EcommerceQueue.inventory).ready), "0", "-1"]).elements
                .compactMap(\.text)
                .map {
                    try JobCoding.decoder().decode(JobEnvelope<InventoryPushJob.Payload>.self, from: Data($0.utf8)).payload.variantId
                }
            #expect(queued.filter { $0 == variant.id }.count == 1, "one coalesced job for the changed variant")
            #expect(!queued.contains(unmapped.variants[0].id), "no job for a variant not in Shopify")
            let writesBefore = harness.simulator.stats(of: pushed.fixture.shop)?.inventoryAdjustments ?? -1
            let shopify: @Sendable () -> Int? = { pushed.available(of: variant, in: harness) }

            let done = try await runWorkers(self.workers(postgres: postgres, redis: redis, harness: harness), timeout: .seconds(30)) {
                shopify() == 12
            }
            #expect(done)
            #expect(harness.simulator.stats(of: pushed.fixture.shop)?.inventoryAdjustments == writesBefore + 1, "one call for the burst")
            // The other variant did not change and was not written.
            #expect(
                harness.simulator.available(
                    shop: pushed.fixture.shop,
                    inventoryItemId: pushed.variants[1].itemId,
                    locationId: pushed.fixture.locationId
                ) == 7
            )
        }
    }

    /// What Shopify, FlowPOS and ingestion said at one moment of the oversell scenario.
    struct Moment: Sendable, CustomStringConvertible {
        var flowpos: Int
        var ingested: Bool
        var shopify: Int?
        var description: String { "FlowPOS \(self.flowpos), order ingested \(self.ingested), Shopify \(self.shopify.map(String.init) ?? "none")" }
    }

    @Test(
        "the oversell scenario: Shopify sells 2 of 7, FlowPOS receives 10, the webhook is 60 s late: Shopify never shows more than FlowPOS minus the units sold and not ingested, and ends equal"
    )
    func oversellWindowIsClosed() async throws {
        try await self.withPushedCatalog { pushed, postgres, redis, harness in
            let fixture = pushed.fixture
            let variant = pushed.variants[0]
            let shopify: @Sendable () -> Int? = { pushed.available(of: variant, in: harness) }
            // 1. A customer buys 2 in Shopify: Shopify holds 5, FlowPOS still 7; the webhook is held back.
            let payload = try #require(
                harness.simulator.placeOrder(shop: fixture.shop, lines: [.init(variantId: variant.shopifyVariantId, quantity: 2)])
            )
            let order = try JSONDecoder().decode(ShopifyOrder.self, from: payload)
            /// FlowPOS's quantity and whether the order is ingested, from one snapshot, then Shopify's number.
            let moment: @Sendable () async throws -> Moment = {
                let rows = try await postgres.query(
                    """
                    SELECT s.quantity, EXISTS (SELECT FROM ecommerce_ingested_order o
                                               WHERE o.business_id = \(fixture.businessId) AND o.shopify_order_id = \(order.id))
                    FROM stock_levels s WHERE s.variant_id = \(variant.id)
                    """,
                    logger: self.logger
                )
                var moment = Moment(flowpos: -1, ingested: false, shopify: nil)
                for try await (quantity, ingested) in rows.decode((Int, Bool).self) { moment = Moment(flowpos: quantity, ingested: ingested) }
                moment.shopify = shopify()
                return moment
            }
            /// Watches every 10 ms: Shopify ≤ FlowPOS − (2 while the order is not ingested).
            let watcher = Task {
                var violations: [Moment] = []
                var samples = 0
                while !Task.isCancelled {
                    let now: Moment
                    do {
                        now = try await moment()
                    } catch {
                        // Cancelled in the middle of a query (PostgresNIO throws CancellationError): the watch is over.
                        if Task.isCancelled { break }
                        throw error
                    }
                    samples += 1
                    if let shown = now.shopify, shown > now.flowpos - (now.ingested ? 0 : 2) { violations.append(now) }
                    try? await Task.sleep(for: .milliseconds(10))
                }
                return (samples, violations)
            }
            // 2. FlowPOS receives 10 before the order is ingested: 17. The movement (+10) is pushed.
            try await self.setStock(variant.id, to: 17, postgres)
            _ = try await self.relayOnce(postgres: postgres, redis: redis)
            try await TestServices.whileRunning(self.workers(postgres: postgres, redis: redis, harness: harness)) {
                let pushedDelta = try await TestServices.eventually(timeout: .seconds(30)) { shopify() == 15 }
                #expect(pushedDelta, "Shopify \(String(describing: shopify()))")
                // 3. The webhook arrives 60 s after the sale; the workers keep running meanwhile.
                try await Task.sleep(for: .seconds(60))
                _ = try await OrderIngestor(client: postgres).ingest(
                    businessId: fixture.businessId,
                    order: order,
                    source: "webhook",
                    reference: nil,
                    logger: self.logger
                )
                #expect(try await BusinessFixture.stock(of: variant.id, on: postgres) == 15)
                // The ingested sale came from Shopify: nothing of it goes back.
                #expect(try await self.outboxRows(of: fixture.businessId, postgres) == 0)
                _ = try await self.relayOnce(postgres: postgres, redis: redis)
                try await Task.sleep(for: .seconds(1))
            }
            watcher.cancel()
            let (samples, violations) = try await watcher.value
            #expect(samples > 1000, "the watcher sampled \(samples) moments")
            #expect(violations.isEmpty, "Shopify showed sold stock: \(violations.prefix(5))")
            #expect(shopify() == 15)
            #expect(try await BusinessFixture.stock(of: variant.id, on: postgres) == 15)
            #expect(harness.simulator.stats(of: fixture.shop)?.inventoryAdjustments == 1, "one movement pushed: +10")
            #expect(try await RedisJobQueue(redis: redis).stats(queue: EcommerceQueue.inventory).dead == 0)
        }
    }

    @Test("repeated transitions (5→4, 4→5, 5→4) all reach Shopify: each movement has its own key")
    func repeatedTransitionsAllReachShopify() async throws {
        try await self.withPushedCatalog { pushed, postgres, redis, harness in
            let fixture = pushed.fixture
            let variant = pushed.variants[0]
            let shopify: @Sendable () -> Int? = { pushed.available(of: variant, in: harness) }
            try await TestServices.whileRunning(self.workers(postgres: postgres, redis: redis, harness: harness)) {
                for quantity in [5, 4, 5, 4] {
                    try await self.setStock(variant.id, to: quantity, postgres)
                    _ = try await self.relayOnce(postgres: postgres, redis: redis)
                    let reached = try await TestServices.eventually(timeout: .seconds(30)) {
                        try await self.outboxRows(of: fixture.businessId, postgres) == 0 && shopify() == quantity
                    }
                    #expect(reached, "Shopify \(String(describing: shopify())) after FlowPOS went to \(quantity)")
                }
            }
            // Four movements applied under four keys: had two movements shared a key, Shopify would have answered the
            // second from the first (a replay, not applied) and ended elsewhere than 4. Replays of one movement's own
            // key may happen: a job still looping picks up the next movement's batch while that movement's own job
            // opens the same batch, and both send it; Shopify applies it once. So replays are not counted here.
            let stats = harness.simulator.stats(of: fixture.shop)
            #expect(stats?.inventoryAdjustments == 4, "\(String(describing: stats))")
            #expect(shopify() == 4)
        }
    }

    @Test("stock movements made before a variant exists in Shopify are in the quantity it is created with, and are not pushed again")
    func movementsBeforeCreationArePushedOnce() async throws {
        let redis = TestServices.redis(.inventory)
        defer { redis.shutdown() }
        _ = try await redis.send(["FLUSHDB"])
        try await TestServices.withPrivatePostgres { postgres in
            try await SimulatorHarness.run { harness in
                // The fixture's stock (7 for each variant) waits in the outbox when the first push runs, as a sale made
                // while a catalog is first pushed does. (This is the dashboard check's story: the doctor found its
                // variants at 80 in Shopify for 40 in FlowPOS.)
                let fixture = try await CatalogFixture.create(on: postgres, simulator: harness.simulator, products: 1, variants: 2)
                #expect(try await self.outboxRows(of: fixture.businessId, postgres) == 2)
                let run = try await ProductPushTests().push(fixture, postgres: postgres, redis: redis, harness: harness)
                #expect(run.status == "completed")
                _ = try await self.relayOnce(postgres: postgres, redis: redis)
                let queue = RedisJobQueue(redis: redis)
                let settled = try await TestServices.whileRunning(self.workers(postgres: postgres, redis: redis, harness: harness)) {
                    try await TestServices.eventually(timeout: .seconds(30)) {
                        let stats = try await queue.stats(queue: EcommerceQueue.inventory)
                        return try await self.outboxRows(of: fixture.businessId, postgres) == 0 && stats.ready == 0 && stats.inflight == 0
                    }
                }
                #expect(settled)
                let items = try await postgres.query(
                    "SELECT shopify_inventory_item_id FROM ecommerce_product_mapping WHERE business_id = \(fixture.businessId)",
                    logger: self.logger
                ).decode(Int64.self).reduce(into: [Int64]()) { $0.append($1) }
                #expect(items.count == 2)
                for item in items {
                    let shown = harness.simulator.available(shop: fixture.shop, inventoryItemId: item, locationId: fixture.locationId)
                    #expect(shown == 7, "Shopify shows \(String(describing: shown)) for FlowPOS's 7")
                }
            }
        }
    }

    @Test("a crash between Shopify's answer and recording it does not push the movement twice")
    func crashAfterShopifyAnswered() async throws {
        try await self.withPushedCatalog { pushed, postgres, redis, harness in
            let fixture = pushed.fixture
            let variant = pushed.variants[0]
            let shopify: @Sendable () -> Int? = { pushed.available(of: variant, in: harness) }
            try await self.setStock(variant.id, to: 3, postgres)  // −4
            _ = try await self.relayOnce(postgres: postgres, redis: redis)
            // A push runs to Shopify's answer and dies before it records it: its batch stays open.
            let inventory = InventoryStore(client: postgres)
            let batch = try #require(try await inventory.openBatch(businessId: fixture.businessId, variantId: variant.id, logger: self.logger))
            #expect(batch.delta == -4 && batch.movements == 1)
            let applied = try await harness.client().adjustAvailable(
                inventoryItemId: variant.itemId,
                locationId: fixture.locationId,
                delta: batch.delta,
                idempotencyKey: InventoryPush.idempotencyKey(variantId: variant.id, batch: batch),
                reason: "correction",
                reference: "gid://flowpos/StockMovements/\(batch.id)",
                as: ShopifyCredentials(shop: fixture.shop, accessToken: fixture.accessToken),
                logger: self.logger
            )
            #expect(applied)
            #expect(shopify() == 3)
            // A later movement arrives meanwhile (−1): it must reach Shopify, the first one not again.
            try await self.setStock(variant.id, to: 2, postgres)
            _ = try await self.relayOnce(postgres: postgres, redis: redis)
            // The job is still queued (the crashed run never settled): workers run it again.
            let settled = try await runWorkers(self.workers(postgres: postgres, redis: redis, harness: harness), timeout: .seconds(30)) {
                try await self.outboxRows(of: fixture.businessId, postgres) == 0
            }
            #expect(settled)
            let stats = harness.simulator.stats(of: fixture.shop)
            #expect(shopify() == 2, "Shopify \(String(describing: shopify())): the −4 was applied twice or the −1 lost")
            #expect(stats?.idempotentReplays == 1, "the open batch was sent again under its key")
            #expect(stats?.inventoryAdjustments == 2)
        }
    }

    @Test("a reconciliation finds stock edited in Shopify and sets it back to FlowPOS's quantity; its sync log counts it")
    func reconciliationCorrectsDrift() async throws {
        try await self.withPushedCatalog { pushed, postgres, redis, harness in
            let fixture = pushed.fixture
            // Someone edits two variants' stock in Shopify's admin.
            for variant in pushed.variants {
                #expect(
                    harness.simulator.editAvailable(shop: fixture.shop, inventoryItemId: variant.itemId, locationId: fixture.locationId, to: 40)
                )
            }
            let run = try await ProductPushTests().push(
                fixture,
                postgres: postgres,
                redis: redis,
                harness: harness,
                pageSize: 3,
                plan: InventoryReconcileJob.self,
                kind: "inventory_reconcile"
            )
            #expect(run.status == "completed", "\(run.errors)")
            #expect(run.processed == 4, "every variant in Shopify checked")
            #expect(run.details.drifted == 2 && run.details.corrected == 2)
            for variant in pushed.variants {
                #expect(pushed.available(of: variant, in: harness) == 7)
            }
            // Nothing drifted any more: a second run checks and changes nothing.
            let again = try await ProductPushTests().push(
                fixture,
                postgres: postgres,
                redis: redis,
                harness: harness,
                plan: InventoryReconcileJob.self,
                kind: "inventory_reconcile"
            )
            #expect(again.status == "completed" && again.processed == 4 && again.details.drifted == 0)
        }
    }

    @Test("the outbox is written in the stock change's transaction: a rolled-back change leaves no row")
    func outboxIsTransactional() async throws {
        struct Rollback: Error {}
        try await TestServices.withPostgres { postgres in
            let business = try await BusinessFixture.create(on: postgres, stock: [("T", 5, nil)], connection: .active)
            func outboxRows() async throws -> Int { try await self.outboxRows(of: business.id, postgres) }  // its one variant's
            #expect(try await outboxRows() == 1)  // the insert of the stock row
            do {
                try await postgres.withTransaction(logger: self.logger) { connection in
                    try await connection.query(
                        "UPDATE stock_levels SET quantity = 1 WHERE variant_id = \(business.variants[0].id)",
                        logger: self.logger
                    )
                    throw Rollback()
                }
            } catch let error as PostgresTransactionError where error.closureError is Rollback {}
            #expect(try await outboxRows() == 1)
            try await self.setStock(business.variants[0].id, to: 5, postgres)  // unchanged quantity: no row
            #expect(try await outboxRows() == 1)
            try await self.setStock(business.variants[0].id, to: 4, postgres)
            #expect(try await outboxRows() == 2)
        }
    }
}
