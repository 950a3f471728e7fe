import EcommerceJobs
import Foundation
import JobQueue
import Logging
import PostgresNIO
import ProcessEnvironment
import Prometheus
import RedisClient
import ServiceLifecycle
import Shopify
import ShopifyAdmin
import ShopifySimulatorCore
import Storage
import Testing
import WorkerApp

/// The worker as it is deployed: `WorkerProcess` built from an environment and run with its own list of services
/// (the job processor with its group limit and token refresh, the stock-change relay, the poll scheduler, the
/// retention and the sweeper), not handlers and a `JobWorker` assembled by the test. On a PostgreSQL database and a
/// Redis database of its own, against the in-process simulator.
@Suite("The worker process as deployed", .serialized)
struct WorkerWiringTests {
    let logger = TestServices.logger

    /// Runs `body` while a `WorkerProcess` configured from `environment` (plus the connection settings) runs.
    func withWorkerProcess(
        harness: SimulatorHarness,
        database: PostgresClient.Configuration,
        environment extra: [String: String],
        _ body: @Sendable (RedisClient) async throws -> Void
    ) async throws {
        let redis = TestServices.redis(.wiring)
        defer { redis.shutdown() }
        _ = try await redis.send(["FLUSHDB"])
        var variables = [
            "REDIS_URL": TestServices.redisURL(.wiring),
            "DATABASE_URL": try TestServices.url(of: database),
            "SHOPIFY_ADMIN_BASE_URL": harness.baseURLTemplate,
            "SHOPIFY_API_KEY": harness.simulator.apiKey,
            "SHOPIFY_API_SECRET": harness.simulator.apiSecret,
            "TOKEN_ENCRYPTION_KEYS": CatalogFixture.cipherSpecification,
            "WORKER_CONCURRENCY": "4",
            "WORKER_SHOPIFY_CONCURRENCY": "2",
            "WORKER_RETRY_BASE_SECONDS": "0.2",
            "METRICS_HOST": "127.0.0.1",
            "METRICS_PORT": "0",
            "INVENTORY_SWEEP_SECONDS": "0.2",
        ]
        variables.merge(extra) { $1 }
        let configuration = try WorkerConfiguration(environment: Environment(variables))
        let process = WorkerProcess(configuration: configuration, metricsRegistry: PrometheusCollectorRegistry(), logger: self.logger)
        let group = ServiceGroup(configuration: .init(services: process.services, logger: self.logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                try await body(redis)
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        process.redis.shutdown()
    }

    /// A catalog of 2 products (one variant each, stock 7) in FlowPOS and a shop with expiring tokens, connected.
    func connectedCatalog(postgres: PostgresClient, harness: SimulatorHarness) async throws -> CatalogFixture {
        let fixture = try await CatalogFixture.create(on: postgres, simulator: harness.simulator, products: 2, variants: 1)
        try await harness.client().ensureCustomIdDefinition(
            as: ShopifyCredentials(shop: fixture.shop, accessToken: fixture.accessToken),
            logger: self.logger
        )
        // The process refreshes tokens with its own client (SHOPIFY_API_KEY / SECRET), not the one returned here.
        _ = try await ProductPushTests().expiringTokens(fixture, harness: harness, postgres: postgres, expiresIn: 3600, accessToken: nil)
        return fixture
    }

    /// Pushes the catalog through the products queue as the gateway starts a push; the finished run.
    func pushCatalog(_ fixture: CatalogFixture, postgres: PostgresClient, redis: RedisClient) async throws -> SyncRun? {
        let syncLogs = SyncLogStore(client: postgres)
        let runId = try await syncLogs.startRun(businessId: fixture.businessId, kind: "product_push", reference: nil, logger: self.logger)
        try await RedisJobQueue(redis: redis).enqueue(
            ProductPushPlanJob.self,
            ProductPushPlanJob.envelope(.init(runId: runId, pageSize: 50), businessId: fixture.businessId, shop: fixture.shop)
        )
        _ = try await TestServices.eventually(timeout: .seconds(60), every: .milliseconds(100)) {
            try await syncLogs.run(id: runId, logger: self.logger)?.status != "running"
        }
        return try await syncLogs.run(id: runId, logger: self.logger)
    }

    /// The Shopify variant ids of the catalog's variants, by FlowPOS variant id.
    func mappings(_ fixture: CatalogFixture, postgres: PostgresClient) async throws -> [(variant: UUID, shopifyVariantId: Int64, itemId: Int64)] {
        var mapped: [(UUID, Int64, Int64)] = []
        for try await row in try await postgres.query(
            """
            SELECT variant_id, shopify_variant_id, shopify_inventory_item_id FROM ecommerce_product_mapping
            WHERE business_id = \(fixture.businessId) AND shopify_variant_id IS NOT NULL ORDER BY variant_id
            """,
            logger: self.logger
        ).decode((UUID, Int64, Int64).self) {
            mapped.append(row)
        }
        return mapped
    }

    /// What a test of the deployed worker works with: a catalog of 2 products pushed through the products queue by
    /// the running `WorkerProcess`, its 2 mappings, and the token refreshes the simulator had counted by then.
    struct Deployed: Sendable {
        var postgres: PostgresClient
        var redis: RedisClient
        var harness: SimulatorHarness
        var fixture: CatalogFixture
        var variants: [(variant: UUID, shopifyVariantId: Int64, itemId: Int64)]
        var refreshesBefore: Int
    }

    /// Runs `body` beside a `WorkerProcess` configured with `environment`, on a scratch database, with a catalog
    /// connected through expiring tokens and pushed.
    func withDeployedWorker(environment: [String: String], _ body: @Sendable (Deployed) async throws -> Void) async throws {
        try await TestServices.withScratchDatabase("wiring") { database in
            try await TestServices.withPostgres(configuration: database) { postgres in
                try await SimulatorHarness.run(settings: SimulatorSettings(bucketSize: 1000, restoreRate: 10_000, expiringTokens: true)) { harness in
                    let fixture = try await self.connectedCatalog(postgres: postgres, harness: harness)
                    try await self.withWorkerProcess(harness: harness, database: database, environment: environment) { redis in
                        let run = try #require(try await self.pushCatalog(fixture, postgres: postgres, redis: redis))
                        #expect(run.status == "completed" && run.processed == 2, "\(run)")
                        let variants = try await self.mappings(fixture, postgres: postgres)
                        #expect(variants.count == 2)
                        let refreshes = harness.simulator.stats(of: fixture.shop)?.tokenRefreshes ?? 0
                        try await body(
                            Deployed(
                                postgres: postgres,
                                redis: redis,
                                harness: harness,
                                fixture: fixture,
                                variants: variants,
                                refreshesBefore: refreshes
                            )
                        )
                    }
                }
            }
        }
    }

    @Test("the scheduler's poll ingests a Shopify order on its own, through a token Shopify revoked, which it refreshes; notices and shop events run")
    func schedulerPollsAndShopEvents() async throws {
        // Polls every 2 s; no relay, so that only the poll calls Shopify after the push.
        try await self.withDeployedWorker(environment: ["POLL_INTERVAL_SECONDS": "2", "POLL_OVERLAP_SECONDS": "60", "INVENTORY_RELAY": "off"]) {
            deployed in
            let (postgres, redis, harness, fixture, variants, refreshesBefore) = (
                deployed.postgres, deployed.redis, deployed.harness, deployed.fixture, deployed.variants, deployed.refreshesBefore
            )

            // A sale in Shopify, no webhook: only the scheduler's poll can bring it in, and Shopify has revoked
            // the access token (the refresh token stays good). A poll already running meets the revocation too.
            #expect(harness.simulator.revokeAccessTokens(shop: fixture.shop) > 0)
            let placed = harness.simulator.placeOrder(
                shop: fixture.shop,
                lines: [.init(variantId: variants[1].shopifyVariantId, quantity: 2)]
            )
            _ = try #require(placed)
            let ingested = try await TestServices.eventually(timeout: .seconds(60), every: .milliseconds(200)) {
                try await BusinessFixture.stock(of: variants[1].variant, on: postgres) == 5
            }
            #expect(ingested, "the scheduled poll ingested the order: 7 − 2")
            #expect(
                harness.simulator.stats(of: fixture.shop)?.tokenRefreshes == refreshesBefore + 1,
                "the poll's 401 refreshed the token once"
            )
            // The stock commits before the poll's run is closed: wait for the run too.
            let pollCompleted = try await TestServices.eventually(timeout: .seconds(30), every: .milliseconds(100)) {
                try await SyncLogStore(client: postgres).runs(businessId: fixture.businessId, kind: "poll", limit: 50, logger: self.logger)
                    .contains { $0.status == "completed" && $0.details.ingested == 1 }
            }
            #expect(pollCompleted, "a poll run completed with the order ingested")

            // An order-change notice is processed into the sync log, not only queued.
            let queue = RedisJobQueue(redis: redis)
            try await queue.enqueue(
                OrderChangeNoticeJob.self,
                OrderChangeNoticeJob.envelope(
                    .init(topic: "refunds/create", webhookId: "wiring-refund", change: ShopifyOrderChange(orderId: 4242, changeId: 77)),
                    businessId: fixture.businessId,
                    shop: fixture.shop
                )
            )
            let noted = try await TestServices.eventually(timeout: .seconds(30), every: .milliseconds(100)) {
                try await SyncLogStore(client: postgres).runs(
                    businessId: fixture.businessId,
                    kind: "order_change",
                    limit: 5,
                    logger: self.logger
                )
                .contains { $0.status == "noted" }
            }
            #expect(noted, "the refund notice is in the sync log")

            // Shop events: the privacy topics are acknowledged, app/uninstalled ends the connection, and
            // shop/redact then deletes the module's data of the shop.
            for topic in ["customers/data_request", "customers/redact", "app/uninstalled", "shop/redact"] {
                try await queue.enqueue(
                    ShopEventJob.self,
                    ShopEventJob.envelope(
                        .init(topic: topic, webhookId: "wiring-\(topic)", triggeredAt: nil),
                        businessId: fixture.businessId,
                        shop: fixture.shop
                    )
                )
                let handled = try await TestServices.eventually(timeout: .seconds(30), every: .milliseconds(100)) {
                    let stats = try await queue.stats(queue: EcommerceQueue.shopEvents)
                    return stats.ready + stats.inflight + stats.delayed == 0
                }
                #expect(handled, "\(topic) was handled")
                #expect(try await queue.stats(queue: EcommerceQueue.shopEvents).dead == 0, "\(topic) is not a dead letter")
                if topic == "app/uninstalled" {
                    let account = try await ConnectionStore(client: postgres).account(businessId: fixture.businessId, logger: self.logger)
                    #expect(account?.status == .uninstalled && account?.sealedAccessToken == nil)
                }
            }
            #expect(try await ConnectionStore(client: postgres).account(businessId: fixture.businessId, logger: self.logger) == nil)
            #expect(try await self.mappings(fixture, postgres: postgres).isEmpty, "shop/redact deleted the mappings")
        }
    }

    @Test("the relay turns a FlowPOS stock change into an inventory push on its own, through a token Shopify revoked, which it refreshes")
    func relayPushesThroughARevokedToken() async throws {
        // No scheduler: only the relay's pushes call Shopify after the product push.
        try await self.withDeployedWorker(environment: ["POLL_SCHEDULER": "off"]) { deployed in
            let (postgres, redis, harness, fixture, variants, refreshesBefore) = (
                deployed.postgres, deployed.redis, deployed.harness, deployed.fixture, deployed.variants, deployed.refreshesBefore
            )
            #expect(harness.simulator.revokeAccessTokens(shop: fixture.shop) > 0)

            try await postgres.query(
                "UPDATE stock_levels SET quantity = 3, updated_at = now() WHERE variant_id = \(variants[0].variant)",
                logger: self.logger
            )
            let pushed = await TestServices.eventually(timeout: .seconds(60), every: .milliseconds(200)) {
                harness.simulator.available(shop: fixture.shop, inventoryItemId: variants[0].itemId, locationId: fixture.locationId) == 3
            }
            #expect(pushed, "Shopify has FlowPOS's 3")
            #expect(
                harness.simulator.stats(of: fixture.shop)?.tokenRefreshes == refreshesBefore + 1,
                "the push's 401 refreshed the token once"
            )
            let queue = RedisJobQueue(redis: redis)
            let stats = try await queue.stats(queue: EcommerceQueue.inventory)
            #expect(stats.dead == 0, "\(stats)")
        }
    }
}
