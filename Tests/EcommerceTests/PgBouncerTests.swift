import EcommerceJobs
import Foundation
import JobQueue
import PostgresNIO
import RedisClient
import Storage
import Testing
import WorkerApp

/// Migrations, ingestion and the stock-change relay through a real PgBouncer 1.18 in transaction pooling mode
/// (`scripts/services.sh` starts it in front of the test PostgreSQL), with `DATABASE_POOLING=transaction`.
@Suite("Through PgBouncer in transaction pooling mode", .serialized)
struct PgBouncerTests {
    let logger = TestServices.logger

    /// A scratch database reached through PgBouncer, with `connections` connections at most.
    func withPooledDatabase<Result: Sendable>(
        connections: Int = 20,
        _ body: @Sendable (PostgresClient, String) async throws -> Result
    ) async throws -> Result {
        // Said at once when the pooler is not there (scripts/services.sh starts it), rather than after the client's
        // connection attempts give up.
        guard let port = URLComponents(string: TestServices.pooledDatabaseURL)?.port, (try? RawConnection(port: port).close()) != nil else {
            Issue.record("no PgBouncer at \(TestServices.pooledDatabaseURL): start it with scripts/services.sh start test")
            throw PooledDatabaseError()
        }
        return try await TestServices.withScratchDatabase("pooled") { direct in
            guard var components = URLComponents(string: TestServices.pooledDatabaseURL), let name = direct.database else {
                throw PooledDatabaseError()
            }
            components.path = "/" + name
            var configuration = try PostgresClient.Configuration(url: try #require(components.string))
            configuration.options.maximumConnections = connections
            configuration.options.minimumConnections = 0
            let client = PostgresClient(configuration: configuration, backgroundLogger: self.logger)
            return try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await client.run() }
                defer { group.cancelAll() }
                return try await body(client, try #require(components.string))
            }
        }
    }

    struct PooledDatabaseError: Error {}

    @Test("three replicas migrating at once through the pooler apply each migration once")
    func migrations() async throws {
        try await self.withPooledDatabase { client, _ in
            let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
                for _ in 0..<3 { group.addTask { try await Migrator(client: client).migrate(logger: self.logger) } }
                return try await group.reduce(into: [[Int]]()) { $0.append($1) }
            }
            let all = Migrations.all.map(\.version).sorted()
            #expect(applied.flatMap { $0 }.sorted() == all, "each migration applied by exactly one replica: \(applied)")
            let rows = try await client.query("SELECT count(*)::int FROM ecommerce_schema_migrations", logger: self.logger).decode(Int.self)
            #expect(try await rows.first { _ in true } == all.count)
            #expect(try await Migrator(client: client).migrate(logger: self.logger).isEmpty)
        }
    }

    @Test("ingestion in transaction mode: ten concurrent deliveries of one order decrement once, 300 orders over 20 connections each once")
    func ingestion() async throws {
        try await self.withPooledDatabase { client, _ in
            try await Migrator(client: client).migrate(logger: self.logger)
            let business = try await BusinessFixture.create(on: client, stock: [("A", 1000, 1001), ("B", 1000, nil)])
            let ingestor = OrderIngestor(client: client, pooling: .transaction)
            let order = OrderFactory.order(lines: [
                OrderFactory.line(1, variant: business.variants[0], quantity: 2), OrderFactory.line(2, variant: business.variants[1], quantity: 1),
            ])
            let outcomes = try await IngestBatchTests().ingestConcurrently(Array(repeating: order, count: 10), business: business, ingestor: ingestor)
                .map { try $0.get().outcome }
            #expect(outcomes.filter { $0 == .applied }.count == 1 && outcomes.filter { $0 == .unchanged }.count == 9)
            #expect(try await BusinessFixture.stock(of: business.variants[0].id, on: client) == 998)

            // 300 orders of one unit each, 60 at a time over the 20 connections PgBouncer lends in turn.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<300 {
                    if index >= 60 { try await group.next() }
                    group.addTask {
                        let single = OrderFactory.order(lines: [OrderFactory.line(1, variant: business.variants[1], quantity: 1)])
                        let result = try await ingestor.ingest(
                            businessId: business.id,
                            order: single,
                            source: "poll",
                            reference: nil,
                            logger: self.logger
                        )
                        #expect(result.outcome == .applied)
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await BusinessFixture.stock(of: business.variants[1].id, on: client) == 1000 - 1 - 300)
        }
    }

    @Test("the stock-change relay through the pooler takes each change once")
    func relay() async throws {
        let redis = TestServices.redis(.pgbouncer)
        defer { redis.shutdown() }
        _ = try await redis.send(["FLUSHDB"])
        try await self.withPooledDatabase { client, _ in
            try await Migrator(client: client).migrate(logger: self.logger)
            let business = try await BusinessFixture.create(on: client, stock: [("A", 10, 1001), ("B", 10, 1002)])
            try await client.query("DELETE FROM ecommerce_inventory_outbox", logger: self.logger)  // the fixture's own stock
            // Mapped to Shopify inventory items: their changes are pushed.
            try await client.query(
                "UPDATE ecommerce_product_mapping SET shopify_inventory_item_id = shopify_variant_id + 1 WHERE business_id = \(business.id)",
                logger: self.logger
            )
            for variant in business.variants {
                try await client.query("UPDATE stock_levels SET quantity = quantity - 3 WHERE variant_id = \(variant.id)", logger: self.logger)
            }
            let queue = RedisJobQueue(redis: redis)
            // Two relays at once, as two workers run them: the rows are taken once between them.
            let relays = (0..<2).map { _ in InventoryOutboxRelay(postgres: client, queue: queue, interval: .seconds(60), logger: self.logger) }
            let taken = try await withThrowingTaskGroup(of: Int.self) { group in
                for relay in relays { group.addTask { try await relay.relayBatch() } }
                return try await group.reduce(0, +)
            }
            #expect(taken == 2)
            let stats = try await queue.stats(queue: InventoryPushJob.queue)
            #expect(stats.ready + stats.delayed == 2, "one push per variant: \(stats)")
            #expect(try await relays[0].relayBatch() == 0)
        }
    }
}
