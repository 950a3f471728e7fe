import AsyncHTTPClient
import Crypto
import EcommerceJobs
import Foundation
import JobQueue
import PostgresNIO
import RedisClient
import ShopifyAdmin
import ShopifySimulatorCore
import Storage
import Testing
import WorkerApp

/// A business with a catalog and a connection to a simulated shop (token sealed as in production).
struct CatalogFixture {
    var businessId = UUID()
    var shop: String
    var locationId: Int64
    var accessToken: String

    /// `TOKEN_ENCRYPTION_KEYS` for ``cipher``, for a worker that must open the tokens the fixtures seal.
    static let cipherSpecification = "test:" + Data(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }).base64EncodedString()
    static let cipher = try! TokenCipher(specification: cipherSpecification)

    static func create(on postgres: PostgresClient, simulator: ShopifySimulator, products: Int, variants: Int) async throws -> CatalogFixture {
        let shop = "push-\(UUID().uuidString.prefix(8).lowercased()).myshopify.com"
        let token = "shpat_\(UUID().uuidString)"
        let locationId = simulator.createShop(shop, accessToken: token)
        let fixture = CatalogFixture(shop: shop, locationId: locationId, accessToken: token)
        let logger = TestServices.logger
        try await postgres.query(
            """
            INSERT INTO products (id, business_id, name)
            SELECT gen_random_uuid(), \(fixture.businessId), 'Product ' || n FROM generate_series(1, \(products)) n
            """,
            logger: logger
        )
        try await postgres.query(
            """
            INSERT INTO variants (id, product_id, business_id, title, sku, price)
            SELECT gen_random_uuid(), p.id, p.business_id, 'Size ' || v, p.id || '-' || v, 10 + v
            FROM products p, generate_series(1, \(variants)) v WHERE p.business_id = \(fixture.businessId)
            """,
            logger: logger
        )
        try await postgres.query(
            "INSERT INTO stock_levels (variant_id, business_id, quantity) SELECT id, business_id, 7 FROM variants WHERE business_id = \(fixture.businessId)",
            logger: logger
        )
        let connections = ConnectionStore(client: postgres)
        try await connections.save(businessId: fixture.businessId, shop: shop, status: .active, logger: logger)
        try await connections.saveAccessToken(
            businessId: fixture.businessId,
            sealed: try Self.cipher.seal(token, context: fixture.businessId.uuidString.lowercased()),
            scopes: "write_products",
            logger: logger
        )
        return fixture
    }
}

@Suite("Product push against the simulator", .serialized)
struct ProductPushTests {
    let logger = TestServices.logger

    /// Starts a push as the gateway does and runs two in-process workers until the run is no longer running.
    func push<Plan: JobDefinition>(
        _ fixture: CatalogFixture,
        postgres: PostgresClient,
        redis: RedisClient,
        harness: SimulatorHarness,
        pageSize: Int = 50,
        plan: Plan.Type = ProductPushPlanJob.self,
        kind: String = "product_push",
        tokenRefresh: ShopifyOAuthClient? = nil,
        bulkPush: BulkPushSettings = BulkPushSettings(threshold: 0),
        before: @Sendable (UUID) async throws -> Void = { _ in }
    ) async throws -> SyncRun where Plan.Payload == ProductPushPlanJob.Payload {
        let syncLogs = SyncLogStore(client: postgres)
        let runId = try await syncLogs.startRun(businessId: fixture.businessId, kind: kind, reference: nil, logger: self.logger)
        let queue = RedisJobQueue(redis: redis)
        try await queue.enqueue(
            Plan.self,
            Plan.envelope(.init(runId: runId, pageSize: pageSize), businessId: fixture.businessId, shop: fixture.shop)
        )
        try await before(runId)
        let handlers = EcommerceHandlers(
            postgres: postgres,
            queue: queue,
            shopify: harness.client(redis: redis),
            tokenCipher: CatalogFixture.cipher,
            tokenRefresh: tokenRefresh,
            bulkPush: bulkPush
        )
        let workers = (0..<2).map { _ in
            var configuration = JobWorkerConfiguration(queues: [Plan.queue], concurrency: 4)
            configuration.maintenanceInterval = .milliseconds(100)
            return JobWorker(queue: queue, registry: handlers.registry(), configuration: configuration, logger: self.logger)
        }
        let finished = try await runWorkers(workers, timeout: .seconds(120)) {
            try await syncLogs.run(id: runId, logger: self.logger)?.status != "running"
        }
        #expect(finished, "the push did not finish")
        return try #require(try await syncLogs.run(id: runId, logger: self.logger))
    }

    func mappingCount(_ fixture: CatalogFixture, _ postgres: PostgresClient) async throws -> Int {
        let rows = try await postgres.query(
            """
            SELECT count(*)::int FROM ecommerce_product_mapping
            WHERE business_id = \(fixture.businessId) AND shopify_variant_id IS NOT NULL AND shopify_inventory_item_id IS NOT NULL
            """,
            logger: self.logger
        )
        for try await count in rows.decode(Int.self) { return count }
        return 0
    }

    @Test("500 products × 3 variants: completed with exact counters and mappings; a second push changes nothing")
    func pushFiveHundredProducts() async throws {
        let redis = TestServices.redis(.shopify)
        defer { redis.shutdown() }
        _ = try await redis.send(["FLUSHDB"])
        try await TestServices.withPostgres { postgres in
            try await SimulatorHarness.run { harness in
                let fixture = try await CatalogFixture.create(on: postgres, simulator: harness.simulator, products: 500, variants: 3)
                let first = try await self.push(fixture, postgres: postgres, redis: redis, harness: harness)
                #expect(first.status == "completed")
                #expect(first.total == 500 && first.processed == 500 && first.failed == 0 && first.pagesTotal == 10 && first.pagesDone == 10)
                #expect(try await self.mappingCount(fixture, postgres) == 1500)
                let products = harness.simulator.products(of: fixture.shop)
                #expect(products.count == 500)
                #expect(products.allSatisfy { $0.variants.count == 3 && $0.customId != nil })
                // Created with FlowPOS's stock at the connection's location.
                #expect(products.allSatisfy { $0.variants.allSatisfy { $0.available == [String(fixture.locationId): 7] } })

                let second = try await self.push(fixture, postgres: postgres, redis: redis, harness: harness)
                #expect(second.status == "completed" && second.processed == 500)
                let stats = try #require(harness.simulator.stats(of: fixture.shop))
                #expect(stats.productsCreated == 500 && stats.productsChanged == 0, "\(stats)")
                #expect(harness.simulator.products(of: fixture.shop) == products)
                #expect(try await RedisJobQueue(redis: redis).stats(queue: EcommerceQueue.products).dead == 0)
            }
        }
    }

    @Test("invalid products end the run partial, with their errors; the others are pushed")
    func partialPush() async throws {
        let redis = TestServices.redis(.shopify)
        defer { redis.shutdown() }
        _ = try await redis.send(["FLUSHDB"])
        try await TestServices.withPostgres { postgres in
            try await SimulatorHarness.run { harness in
                let fixture = try await CatalogFixture.create(on: postgres, simulator: harness.simulator, products: 12, variants: 2)
                // Two products Shopify refuses (blank title, negative price) and one with no variants.
                try await postgres.query(
                    """
                    UPDATE products SET name = '' WHERE id = (SELECT id FROM products WHERE business_id = \(fixture.businessId) ORDER BY id LIMIT 1)
                    """,
                    logger: self.logger
                )
                try await postgres.query(
                    """
                    UPDATE variants SET price = -5 WHERE product_id = (SELECT id FROM products WHERE business_id = \(fixture.businessId) ORDER BY id DESC LIMIT 1)
                    """,
                    logger: self.logger
                )
                try await postgres.query(
                    "INSERT INTO products (id, business_id, name) VALUES (gen_random_uuid(), \(fixture.businessId), 'Empty')",
                    logger: self.logger
                )
                let run = try await self.push(fixture, postgres: postgres, redis: redis, harness: harness, pageSize: 5)
                #expect(run.status == "partial")
                #expect(run.total == 13 && run.processed == 10 && run.failed == 3 && run.pagesTotal == 3)
                #expect(run.errors.count == 3)
                #expect(run.errors.contains { $0.code == "no_variants" })
                #expect(run.errors.contains { $0.message.contains("Title can't be blank") })
                #expect(run.errors.contains { $0.message.contains("Price must be greater than or equal to 0") })
                #expect(harness.simulator.products(of: fixture.shop).count == 10)
            }
        }
    }

    @Test("a push for a business whose token cannot be opened fails its pages with the reason")
    func unreadableToken() async throws {
        let redis = TestServices.redis(.shopify)
        defer { redis.shutdown() }
        _ = try await redis.send(["FLUSHDB"])
        try await TestServices.withPostgres { postgres in
            try await SimulatorHarness.run { harness in
                let fixture = try await CatalogFixture.create(on: postgres, simulator: harness.simulator, products: 3, variants: 1)
                // A token sealed for another business does not open for this one.
                try await ConnectionStore(client: postgres).saveAccessToken(
                    businessId: fixture.businessId,
                    sealed: try CatalogFixture.cipher.seal("shpat_other", context: UUID().uuidString.lowercased()),
                    scopes: nil,
                    logger: self.logger
                )
                let run = try await self.push(fixture, postgres: postgres, redis: redis, harness: harness)
                #expect(run.status == "failed" && run.failed == 3 && run.processed == 0)
                #expect(run.errors.first?.code == "token_unreadable")
                #expect(harness.simulator.stats(of: fixture.shop)?.requests == 0)
            }
        }
    }

    @Test("categories become manual collections; membership and titles follow FlowPOS by difference")
    func collectionPush() async throws {
        let redis = TestServices.redis(.shopify)
        defer { redis.shutdown() }
        _ = try await redis.send(["FLUSHDB"])
        try await TestServices.withPostgres { postgres in
            try await SimulatorHarness.run { harness in
                let fixture = try await CatalogFixture.create(on: postgres, simulator: harness.simulator, products: 6, variants: 1)
                #expect(try await self.push(fixture, postgres: postgres, redis: redis, harness: harness).status == "completed")
                var products: [UUID] = []
                for try await id in try await postgres.query(
                    "SELECT id FROM products WHERE business_id = \(fixture.businessId) ORDER BY id",
                    logger: self.logger
                ).decode(UUID.self) {
                    products.append(id)
                }
                let (a, b) = (UUID(), UUID())
                try await postgres.query(
                    "INSERT INTO categories (id, business_id, name) VALUES (\(a), \(fixture.businessId), 'Tops'), (\(b), \(fixture.businessId), 'Sale')",
                    logger: self.logger
                )
                func link(_ category: UUID, _ indexes: [Int]) async throws {
                    for index in indexes {
                        try await postgres.query(
                            "INSERT INTO product_categories (product_id, category_id) VALUES (\(products[index]), \(category))",
                            logger: self.logger
                        )
                    }
                }
                try await link(a, [0, 1, 2, 3])
                try await link(b, [2, 3, 4, 5])
                var shopifyIds: [Int64] = []
                for id in products {
                    for try await productId in try await postgres.query(
                        "SELECT DISTINCT shopify_product_id FROM ecommerce_product_mapping WHERE product_id = \(id)",
                        logger: self.logger
                    ).decode(Int64.self) {
                        shopifyIds.append(productId)
                    }
                }
                func collections() -> [String: [Int64]] {
                    harness.simulator.collections(of: fixture.shop).reduce(into: [:]) { $0[$1.title] = $1.productIds }
                }
                let pushCollections = {
                    try await self.push(
                        fixture,
                        postgres: postgres,
                        redis: redis,
                        harness: harness,
                        pageSize: 1,
                        plan: CollectionPushPlanJob.self,
                        kind: "collection_push"
                    )
                }

                let first = try await pushCollections()
                #expect(first.status == "completed" && first.processed == 2 && first.pagesTotal == 2)
                #expect(
                    collections() == ["Tops": [0, 1, 2, 3].map { shopifyIds[$0] }.sorted(), "Sale": [2, 3, 4, 5].map { shopifyIds[$0] }.sorted()]
                )

                // Product 0 leaves Tops, product 4 joins it, Sale is renamed.
                try await postgres.query(
                    "DELETE FROM product_categories WHERE category_id = \(a) AND product_id = \(products[0])",
                    logger: self.logger
                )
                try await link(a, [4])
                try await postgres.query("UPDATE categories SET name = 'Clearance' WHERE id = \(b)", logger: self.logger)
                let before = try #require(harness.simulator.stats(of: fixture.shop))
                #expect(try await pushCollections().status == "completed")
                let after = try #require(harness.simulator.stats(of: fixture.shop))
                #expect(
                    collections() == [
                        "Tops": [1, 2, 3, 4].map { shopifyIds[$0] }.sorted(), "Clearance": [2, 3, 4, 5].map { shopifyIds[$0] }.sorted(),
                    ]
                )
                #expect(after.collectionsCreated == 2 && after.collectionsChanged == before.collectionsChanged + 1)
                #expect(after.membershipChanges == before.membershipChanges + 2)

                // Nothing changed in FlowPOS: nothing changes in Shopify.
                #expect(try await pushCollections().status == "completed")
                let last = try #require(harness.simulator.stats(of: fixture.shop))
                #expect(last.collectionsChanged == after.collectionsChanged && last.membershipChanges == after.membershipChanges)
            }
        }
    }

    @Test("two collection pushes at once, and a collectionCreate whose answer is lost after Shopify made it, end with one collection per category")
    func collectionPushIsSafeToRepeat() async throws {
        let redis = TestServices.redis(.shopify)
        defer { redis.shutdown() }
        _ = try await redis.send(["FLUSHDB"])
        try await TestServices.withPostgres { postgres in
            try await SimulatorHarness.run { harness in
                let fixture = try await CatalogFixture.create(on: postgres, simulator: harness.simulator, products: 3, variants: 1)
                #expect(try await self.push(fixture, postgres: postgres, redis: redis, harness: harness).status == "completed")
                let names = ["Coffee", "Tea", "Coffee"]  // two categories of one name are two collections
                for name in names {
                    try await postgres.query(
                        """
                        WITH category AS (INSERT INTO categories (id, business_id, name) VALUES (gen_random_uuid(), \(fixture.businessId), \(name)) RETURNING id)
                        INSERT INTO product_categories (product_id, category_id)
                        SELECT p.id, c.id FROM products p, category c WHERE p.business_id = \(fixture.businessId)
                        """,
                        logger: self.logger
                    )
                }
                // The first collectionCreate is done by Shopify, and its answer never arrives.
                harness.simulator.loseAnswers(to: "collectionCreate")
                let syncLogs = SyncLogStore(client: postgres)
                let queue = RedisJobQueue(redis: redis)
                var runs: [UUID] = []
                for _ in 0..<2 {
                    let runId = try await syncLogs.startRun(
                        businessId: fixture.businessId,
                        kind: "collection_push",
                        reference: nil,
                        logger: self.logger
                    )
                    try await queue.enqueue(
                        CollectionPushPlanJob.self,
                        CollectionPushPlanJob.envelope(.init(runId: runId, pageSize: 1), businessId: fixture.businessId)
                    )
                    runs.append(runId)
                }
                let runIds = runs
                let handlers = EcommerceHandlers(
                    postgres: postgres,
                    queue: queue,
                    shopify: harness.client(redis: redis),
                    tokenCipher: CatalogFixture.cipher
                )
                let workers = (0..<2).map { _ in
                    var configuration = JobWorkerConfiguration(queues: [EcommerceQueue.collections], concurrency: 4)
                    configuration.maintenanceInterval = .milliseconds(100)
                    configuration.backoff = RetryBackoff(base: .milliseconds(200))
                    return JobWorker(queue: queue, registry: handlers.registry(), configuration: configuration, logger: self.logger)
                }
                let finished = try await runWorkers(workers, timeout: .seconds(60)) {
                    for runId in runIds where try await syncLogs.run(id: runId, logger: self.logger)?.status == "running" { return false }
                    return true
                }
                #expect(finished)
                for runId in runs {
                    let run = try #require(try await syncLogs.run(id: runId, logger: self.logger))
                    #expect(run.status == "completed" && run.processed == 3, "\(run.status) \(run.errors)")
                }
                let collections = harness.simulator.collections(of: fixture.shop)
                #expect(collections.map(\.title).sorted() == names.sorted(), "\(collections.map(\.handle))")
                #expect(collections.allSatisfy { $0.productIds.count == 3 })
                #expect(Set(collections.map(\.handle)).count == 3)
                #expect(harness.simulator.stats(of: fixture.shop)?.answersLost == 1)
            }
        }
    }

    /// Connects the fixture's business with an expiring token pair from the simulator's OAuth, the access token
    /// replaced by `accessToken` when given; returns the token client that refreshes.
    func expiringTokens(
        _ fixture: CatalogFixture,
        harness: SimulatorHarness,
        postgres: PostgresClient,
        expiresIn: TimeInterval,
        accessToken: String?
    )
        async throws -> ShopifyOAuthClient
    {
        let query = ["client_id": harness.simulator.apiKey, "scope": "write_products", "redirect_uri": "https://gateway.example/cb", "state": "s"]
        let redirect = try #require(URLComponents(string: try harness.simulator.authorize(shop: fixture.shop, query: query).get()))
        let code = try #require(redirect.queryItems?.first { $0.name == "code" }?.value)
        let grant = try harness.simulator.exchangeToken(
            shop: fixture.shop,
            form: ["client_id": harness.simulator.apiKey, "client_secret": harness.simulator.apiSecret, "code": code]
        ).get()
        let context = fixture.businessId.uuidString.lowercased()
        try await ConnectionStore(client: postgres).saveTokens(
            businessId: fixture.businessId,
            sealedAccessToken: try CatalogFixture.cipher.seal(accessToken ?? (grant["access_token"] as! String), context: context),
            sealedRefreshToken: try (grant["refresh_token"] as? String).map { try CatalogFixture.cipher.seal($0, context: context) },
            expiresAt: Date() + expiresIn,
            scopes: "write_products",
            logger: self.logger
        )
        return ShopifyOAuthClient(
            configuration: ShopifyAdminConfiguration(baseURLTemplate: harness.baseURLTemplate),
            apiKey: harness.simulator.apiKey,
            apiSecret: harness.simulator.apiSecret,
            http: HTTPClient.shared
        )
    }

    @Test("an expiring token is refreshed once, however many workers need it at the same time")
    func singleFlightRefresh() async throws {
        let redis = TestServices.redis(.shopify)
        defer { redis.shutdown() }
        _ = try await redis.send(["FLUSHDB"])
        try await TestServices.withPostgres { postgres in
            try await SimulatorHarness.run(settings: SimulatorSettings(bucketSize: 1000, restoreRate: 10_000, expiringTokens: true)) { harness in
                let fixture = try await CatalogFixture.create(on: postgres, simulator: harness.simulator, products: 40, variants: 1)
                let refresher = try await self.expiringTokens(fixture, harness: harness, postgres: postgres, expiresIn: 60, accessToken: nil)
                let run = try await self.push(fixture, postgres: postgres, redis: redis, harness: harness, pageSize: 5, tokenRefresh: refresher)
                #expect(run.status == "completed" && run.processed == 40)
                #expect(harness.simulator.stats(of: fixture.shop)?.tokenRefreshes == 1)
                let account = try #require(try await ConnectionStore(client: postgres).account(businessId: fixture.businessId, logger: self.logger))
                #expect((account.tokenExpiresAt?.timeIntervalSinceNow ?? 0) > 3000)
            }
        }
    }

    @Test("a 401 refreshes the token once and the push goes on; without a refresh token the pages fail with the reason")
    func unauthorizedRefreshes() async throws {
        let redis = TestServices.redis(.shopify)
        defer { redis.shutdown() }
        _ = try await redis.send(["FLUSHDB"])
        try await TestServices.withPostgres { postgres in
            try await SimulatorHarness.run(settings: SimulatorSettings(bucketSize: 1000, restoreRate: 10_000, expiringTokens: true)) { harness in
                let fixture = try await CatalogFixture.create(on: postgres, simulator: harness.simulator, products: 6, variants: 1)
                let refresher = try await self.expiringTokens(
                    fixture,
                    harness: harness,
                    postgres: postgres,
                    expiresIn: 3600,
                    accessToken: "shpat_revoked"
                )
                let run = try await self.push(fixture, postgres: postgres, redis: redis, harness: harness, pageSize: 3, tokenRefresh: refresher)
                #expect(run.status == "completed" && run.processed == 6)
                #expect(harness.simulator.stats(of: fixture.shop)?.tokenRefreshes == 1)

                let stuck = try await CatalogFixture.create(on: postgres, simulator: harness.simulator, products: 2, variants: 1)
                try await ConnectionStore(client: postgres).saveAccessToken(
                    businessId: stuck.businessId,
                    sealed: try CatalogFixture.cipher.seal("shpat_revoked", context: stuck.businessId.uuidString.lowercased()),
                    scopes: nil,
                    logger: self.logger
                )
                let failed = try await self.push(stuck, postgres: postgres, redis: redis, harness: harness, tokenRefresh: refresher)
                #expect(failed.status == "failed" && failed.errors.first?.code == "token_rejected")
            }
        }
    }
}
