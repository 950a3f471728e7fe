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
import WorkerApp

@Suite("Polling: the schedule and the poll job", .serialized)
struct PollTests {
    let logger = TestServices.logger

    /// A fresh polling Redis database, and a simulated shop whose catalog (one variant per product) was pushed.
    func withPushedShop(
        products: Int,
        _ body: @Sendable (PostgresClient, RedisClient, SimulatorHarness, CatalogFixture) async throws -> Void
    ) async throws {
        let redis = TestServices.redis(.polling)
        defer { redis.shutdown() }
        _ = try await redis.send(["FLUSHDB"])
        try await TestServices.withPostgres { postgres in
            try await SimulatorHarness.run { harness in
                let fixture = try await CatalogFixture.create(on: postgres, simulator: harness.simulator, products: products, variants: 1)
                #expect(try await ProductPushTests().push(fixture, postgres: postgres, redis: redis, harness: harness).status == "completed")
                try await body(postgres, redis, harness, fixture)
            }
        }
    }

    @Test("an order of 120 lines ingested through a poll decrements all 120 lines (the page holds 10; the rest follow)")
    func pollReadsOrdersWhole() async throws {
        try await self.withPushedShop(products: 120) { postgres, redis, harness, fixture in
            let variants = harness.simulator.products(of: fixture.shop).map { $0.variants[0].id }
            #expect(variants.count == 120)
            _ = try #require(harness.simulator.placeOrder(shop: fixture.shop, lines: variants.map { .init(variantId: $0, quantity: 2) }))
            let queue = RedisJobQueue(redis: redis)
            let handlers = EcommerceHandlers(
                postgres: postgres,
                queue: queue,
                shopify: harness.client(redis: redis),
                tokenCipher: CatalogFixture.cipher
            )
            let syncLogs = SyncLogStore(client: postgres)
            let job = OrderPollJob.envelope(.init(slot: nil), businessId: fixture.businessId)
            try await queue.enqueue(OrderPollJob.self, job)
            let worker = JobWorker(
                queue: queue,
                registry: handlers.registry(),
                configuration: JobWorkerConfiguration(queues: [EcommerceQueue.polling], concurrency: 1),
                logger: self.logger
            )
            let done = try await runWorkers([worker], timeout: .seconds(30)) {
                try await syncLogs.runs(businessId: fixture.businessId, kind: "poll", limit: 1, logger: self.logger).first.map {
                    $0.status != "running"
                } ?? false
            }
            #expect(done)
            let run = try #require(try await syncLogs.runs(businessId: fixture.businessId, kind: "poll", limit: 1, logger: self.logger).first)
            #expect(run.status == "completed" && run.details.ingested == 1, "\(run)")
            var stock: [Int: Int] = [:]
            for try await quantity in try await postgres.query(
                "SELECT s.quantity FROM stock_levels s JOIN variants v ON v.id = s.variant_id WHERE v.business_id = \(fixture.businessId)",
                logger: self.logger
            ).decode(Int.self) {
                stock[quantity, default: 0] += 1
            }
            #expect(stock == [5: 120], "every one of the 120 variants: 7 minus 2")
        }
    }

    @Test("a poll ingests the shop's orders through the ingestion path; the next finds only duplicates; the mark advances")
    func pollIngests() async throws {
        try await self.withPushedShop(products: 3) { postgres, redis, harness, fixture in
            let products = harness.simulator.products(of: fixture.shop)
            for (index, product) in products.enumerated() {
                _ = try #require(
                    harness.simulator.placeOrder(shop: fixture.shop, lines: [.init(variantId: product.variants[0].id, quantity: index + 1)])
                )
            }
            let queue = RedisJobQueue(redis: redis)
            let handlers = EcommerceHandlers(
                postgres: postgres,
                queue: queue,
                shopify: harness.client(redis: redis),
                tokenCipher: CatalogFixture.cipher,
                pollPageSize: 2
            )
            let syncLogs = SyncLogStore(client: postgres)
            func poll() async throws -> SyncRun {
                let job = OrderPollJob.envelope(
                    .init(slot: nil),
                    businessId: fixture.businessId,
                    dedupeKey: OrderPollJob.requestKey(businessId: fixture.businessId)
                )
                #expect(try await queue.enqueue(OrderPollJob.self, job, dedupeWindow: .seconds(900)) == .enqueued)
                #expect(
                    try await queue.enqueue(OrderPollJob.self, job, dedupeWindow: .seconds(900)) == .duplicate,
                    "one requested poll at a time"
                )
                let before = try await syncLogs.runs(businessId: fixture.businessId, kind: "poll", limit: 10, logger: self.logger).count
                let worker = JobWorker(
                    queue: queue,
                    registry: handlers.registry(),
                    configuration: JobWorkerConfiguration(queues: [EcommerceQueue.polling], concurrency: 2),
                    logger: self.logger
                )
                let done = try await runWorkers([worker], timeout: .seconds(30)) {
                    let runs = try await syncLogs.runs(businessId: fixture.businessId, kind: "poll", limit: 10, logger: self.logger)
                    return runs.count > before && runs[0].status != "running"
                }
                #expect(done)
                return try #require(try await syncLogs.runs(businessId: fixture.businessId, kind: "poll", limit: 1, logger: self.logger).first)
            }

            // One of the orders already came by webhook: the poll must not apply it again.
            let webhookOrder = try JSONDecoder().decode(ShopifyOrder.self, from: try #require(harness.simulator.orders(of: fixture.shop).first))
            _ = try await OrderIngestor(client: postgres).ingest(
                businessId: fixture.businessId,
                order: webhookOrder,
                source: "webhook",
                reference: nil,
                logger: self.logger
            )

            let first = try await poll()
            #expect(first.status == "completed")
            #expect(first.details == SyncDetails(fetched: 3, ingested: 2, updated: 0, duplicates: 1, since: first.details.since))
            var stock: [Int] = []
            for try await quantity in try await postgres.query(
                "SELECT s.quantity FROM stock_levels s JOIN variants v ON v.id = s.variant_id JOIN products p ON p.id = v.product_id WHERE p.business_id = \(fixture.businessId) ORDER BY s.quantity",
                logger: self.logger
            ).decode(Int.self) {
                stock.append(quantity)
            }
            #expect(stock == [4, 5, 6])  // 7 each, minus 3, 2 and 1
            let account = try #require(try await ConnectionStore(client: postgres).account(businessId: fixture.businessId, logger: self.logger))
            #expect(account.lastSyncedAt != nil)

            // The overlap reads the same orders again: nothing changes.
            let second = try await poll()
            #expect(second.details.fetched == 3 && second.details.duplicates == 3 && second.details.ingested == 0)
            #expect(try await BusinessFixture.movements(of: try #require(fixture.firstVariant(postgres)), on: postgres).count == 1)

            // A page that fails leaves the mark where it was, and the run says so.
            let mark = try await ConnectionStore(client: postgres).account(businessId: fixture.businessId, logger: self.logger)?.lastSyncedAt
            harness.simulator.settings.failureRate = 1
            let job = OrderPollJob.envelope(.init(slot: nil), businessId: fixture.businessId)
            try await queue.enqueue(OrderPollJob.self, job)
            let worker = JobWorker(
                queue: queue,
                registry: handlers.registry(),
                configuration: JobWorkerConfiguration(queues: [EcommerceQueue.polling], concurrency: 1),
                logger: self.logger
            )
            let failed = try await runWorkers([worker], timeout: .seconds(30)) {
                try await syncLogs.runs(businessId: fixture.businessId, kind: "poll", limit: 1, logger: self.logger).first?.status == "failed"
            }
            #expect(failed)
            let after = try await ConnectionStore(client: postgres).account(businessId: fixture.businessId, logger: self.logger)?.lastSyncedAt
            #expect(after == mark)

            // One poll per business at a time: while one runs (its lease held), a slot's poll is skipped and a
            // requested one waits, then runs once the lease is free.
            harness.simulator.settings.failureRate = 0
            _ = try await redis.send(["FLUSHDB"])  // the failed poll's retry, waiting in the delayed set
            let running = RedisLease(redis: redis, key: "ecommerce:poll-running:\(fixture.businessId.uuidString.lowercased())", ttl: .seconds(60))
            #expect(try await running.acquire())
            let runsBefore = try await syncLogs.runs(businessId: fixture.businessId, kind: "poll", limit: 50, logger: self.logger).count
            try await queue.enqueue(
                OrderPollJob.self,
                OrderPollJob.envelope(.init(slot: 1), businessId: fixture.businessId)
            )
            try await queue.enqueue(
                OrderPollJob.self,
                OrderPollJob.envelope(
                    .init(slot: nil),
                    businessId: fixture.businessId,
                    dedupeKey: OrderPollJob.requestKey(businessId: fixture.businessId)
                ),
                dedupeWindow: .seconds(900)
            )
            let held = try await runWorkers([worker], timeout: .seconds(30)) {
                let stats = try await queue.stats(queue: EcommerceQueue.polling)
                return stats.ready == 0 && stats.inflight == 0 && stats.delayed == 1
            }
            #expect(held, "the slot's poll finished without running, the requested one deferred")
            #expect(try await syncLogs.runs(businessId: fixture.businessId, kind: "poll", limit: 50, logger: self.logger).count == runsBefore)
            try await running.release()
            let ranAfter = try await runWorkers([worker], timeout: .seconds(30)) {
                let runs = try await syncLogs.runs(businessId: fixture.businessId, kind: "poll", limit: 50, logger: self.logger)
                return runs.count == runsBefore + 1 && runs[0].status == "completed"
            }
            #expect(ranAfter, "the requested poll ran once the other was done")
        }
    }

    @Test("a throttled poll is not a failure: its run ends deferred with a readable code, and the job waits without spending an attempt")
    func throttledPollIsDeferred() async throws {
        try await self.withPushedShop(products: 1) { postgres, redis, harness, fixture in
            // A bucket that refills at a point a second, drained by another app's reads: the poll's page is THROTTLED
            // and waiting is longer than the client's inline wait.
            harness.simulator.settings.restoreRate = 1
            let drain = try JSONSerialization.data(withJSONObject: ["query": "query { orders(first: 250) { edges { node { id } } } }"])
            // Then small reads until they are refused too: what is left in the bucket is a few points, so that even a
            // test process stalled for a minute (refilling 60 points) leaves the poll's page short.
            let sip = try JSONSerialization.data(withJSONObject: ["query": "query { orders(first: 5) { edges { node { id } } } }"])
            for body in Array(repeating: drain, count: 4) + Array(repeating: sip, count: 100) {
                _ = harness.simulator.graphQL(shop: fixture.shop, version: "2026-10", accessToken: fixture.accessToken, body: body)
            }
            let queue = RedisJobQueue(redis: redis)
            let handlers = EcommerceHandlers(
                postgres: postgres,
                queue: queue,
                shopify: harness.client(redis: redis, maxInlineWait: .milliseconds(50)),
                tokenCipher: CatalogFixture.cipher
            )
            let job = OrderPollJob.envelope(
                .init(slot: nil),
                businessId: fixture.businessId,
                dedupeKey: OrderPollJob.requestKey(businessId: fixture.businessId)
            )
            try await queue.enqueue(OrderPollJob.self, job, dedupeWindow: .seconds(900))
            let syncLogs = SyncLogStore(client: postgres)
            let worker = JobWorker(
                queue: queue,
                registry: handlers.registry(),
                configuration: JobWorkerConfiguration(queues: [EcommerceQueue.polling], concurrency: 1),
                logger: self.logger
            )
            let ended = try await runWorkers([worker], timeout: .seconds(30)) {
                let run = try await syncLogs.runs(businessId: fixture.businessId, kind: "poll", limit: 1, logger: self.logger).first
                return run.map { $0.status != "running" } ?? false
            }
            #expect(ended)
            let run = try #require(try await syncLogs.runs(businessId: fixture.businessId, kind: "poll", limit: 1, logger: self.logger).first)
            #expect(run.status == "deferred", "\(run.status) \(run.errors)")
            #expect(run.errors.map(\.code) == ["throttled"] && run.finishedAt != nil)
            let stats = try await queue.stats(queue: EcommerceQueue.polling)
            #expect(stats.dead == 0 && stats.delayed + stats.ready == 1, "the poll waits to go on: \(stats)")
        }
    }

    @Test("an interrupted poll keeps its progress: the mark stands at the last committed page's last change")
    func interruptedPollKeepsProgress() async throws {
        try await self.withPushedShop(products: 1) { postgres, redis, harness, fixture in
            let variant = try #require(harness.simulator.products(of: fixture.shop).first?.variants.first?.id)
            // Five orders a minute apart, all after the connection was made; pages of two.
            let start = Date().addingTimeInterval(-600)
            var ids: [Int64] = []
            for minute in 0..<5 {
                let payload = try #require(
                    harness.simulator.placeOrder(
                        shop: fixture.shop,
                        lines: [.init(variantId: variant, quantity: 1)],
                        at: start + Double(minute * 60)
                    )
                )
                ids.append(try JSONDecoder().decode(ShopifyOrder.self, from: payload).id)
            }
            try await postgres.query(
                "UPDATE ecommerce_connection SET last_synced_at = \(start - 60) WHERE business_id = \(fixture.businessId)",
                logger: self.logger
            )
            // The fifth order cannot be stored (a trigger refuses it): the poll fails on its third page.
            let function = "poll_test_refuse_\(ids[4])"
            try await postgres.query(
                PostgresQuery(
                    unsafeSQL: """
                        CREATE FUNCTION \(function)() RETURNS trigger LANGUAGE plpgsql AS $$
                        BEGIN IF NEW.shopify_order_id = \(ids[4]) THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$
                        """
                ),
                logger: self.logger
            )
            try await postgres.query(
                PostgresQuery(
                    unsafeSQL: "CREATE TRIGGER \(function) BEFORE INSERT ON ecommerce_ingested_order FOR EACH ROW EXECUTE FUNCTION \(function)()"
                ),
                logger: self.logger
            )
            let queue = RedisJobQueue(redis: redis)
            let handlers = EcommerceHandlers(
                postgres: postgres,
                queue: queue,
                shopify: harness.client(redis: redis),
                tokenCipher: CatalogFixture.cipher,
                pollOverlap: .zero,
                pollPageSize: 2
            )
            try await queue.enqueue(
                OrderPollJob.self,
                OrderPollJob.envelope(.init(slot: nil), businessId: fixture.businessId)
            )
            let worker = JobWorker(
                queue: queue,
                registry: handlers.registry(),
                configuration: JobWorkerConfiguration(queues: [EcommerceQueue.polling], concurrency: 1),
                logger: self.logger
            )
            let syncLogs = SyncLogStore(client: postgres)
            let failed = try await runWorkers([worker], timeout: .seconds(30)) {
                try await syncLogs.runs(businessId: fixture.businessId, kind: "poll", limit: 1, logger: self.logger).first?.status == "failed"
            }
            #expect(failed)
            try await postgres.query(PostgresQuery(unsafeSQL: "DROP FUNCTION IF EXISTS \(function)() CASCADE"), logger: self.logger)
            let mark = try #require(
                try await ConnectionStore(client: postgres).account(businessId: fixture.businessId, logger: self.logger)?.lastSyncedAt
            )
            // Pages: orders 1–2, 3–4, then 5 fails. The mark is order 4's change, not the start, not the end.
            #expect(abs(mark.timeIntervalSince(start + 180)) < 1.5)
        }
    }

    @Test("three workers ticking the schedule enqueue each business exactly once per slot")
    func exactlyOncePerSlot() async throws {
        let clients = (0..<3).map { _ in TestServices.redis(.polling) }
        defer { for client in clients { client.shutdown() } }
        _ = try await clients[0].send(["FLUSHDB"])
        let businesses = (0..<5).map { _ in UUID() }
        let schedules = clients.map { PollSchedule(redis: $0, interval: .milliseconds(500)) }
        _ = try await schedules[0].reconcile(active: businesses)
        /// The slots enqueued so far, per business.
        @Sendable func slotsTaken() async throws -> [UUID?: [Int64]] {
            let jobs = try await clients[0].send(["ZRANGE", RedisArgument(QueueKeys(queue: EcommerceQueue.polling).ready), "0", "-1"]).elements
                .compactMap(\.text)
                .map {
                    try JobCoding.decoder().decode(JobEnvelope<OrderPollJob.Payload>.self, from: Data($0.utf8))
                }
            return Dictionary(grouping: jobs) { $0.businessId }.mapValues { $0.compactMap(\.payload.slot).sorted() }
        }
        // The three tick until every business has had four slots (however long a loaded machine takes), not for a
        // fixed time.
        let fourEach = try await withThrowingTaskGroup(of: Void.self) { group in
            for schedule in schedules {
                group.addTask {
                    while !Task.isCancelled {
                        try await schedule.tick()
                        try? await Task.sleep(for: .milliseconds(20))
                    }
                }
            }
            let reached = try await TestServices.eventually(timeout: .seconds(60), every: .milliseconds(100)) {
                let slots = try await slotsTaken()
                return slots.count == businesses.count && slots.values.allSatisfy { $0.count >= 4 }
            }
            group.cancelAll()
            try await group.waitForAll()
            return reached
        }
        #expect(fourEach)
        let slots = try await slotsTaken()
        #expect(Set(slots.keys) == Set(businesses.map { Optional($0) }))
        for (business, taken) in slots {
            #expect(Set(taken).count == taken.count, "a slot polled twice for \(business): \(taken)")
            // A machine that stalls past a slot skips it (the schedule moves to the next one due): slots are whole
            // intervals apart, never closer.
            #expect(zip(taken, taken.dropFirst()).allSatisfy { ($1 - $0) % 500 == 0 && $1 > $0 }, "slots off the interval: \(taken)")
        }
    }

    @Test("uninstall stops polling: the schedule drops the business and a poll already queued does nothing")
    func uninstallStopsPolling() async throws {
        let redis = TestServices.redis(.polling)
        defer { redis.shutdown() }
        _ = try await redis.send(["FLUSHDB"])
        try await TestServices.withPostgres { postgres in
            let business = try await BusinessFixture.create(on: postgres, stock: [("U", 1, nil)])
            let connections = ConnectionStore(client: postgres)
            let schedule = PollSchedule(redis: redis, interval: .seconds(900))
            _ = try await schedule.reconcile(active: try await connections.activeBusinessIds(logger: self.logger))
            let member = business.id.uuidString.lowercased()
            #expect(try await redis.send(["ZSCORE", RedisArgument(PollSchedule.key), RedisArgument(member)]).text != nil)

            #expect(try await connections.markUninstalled(businessId: business.id, shop: business.shop, logger: self.logger))
            _ = try await schedule.reconcile(active: try await connections.activeBusinessIds(logger: self.logger))
            #expect(try await redis.send(["ZSCORE", RedisArgument(PollSchedule.key), RedisArgument(member)]) == .null)

            // A poll enqueued before the uninstall finds no active connection and does nothing.
            let queue = RedisJobQueue(redis: redis)
            try await queue.enqueue(OrderPollJob.self, OrderPollJob.envelope(.init(slot: 1), businessId: business.id))
            try await SimulatorHarness.run { harness in
                let handlers = EcommerceHandlers(
                    postgres: postgres,
                    queue: queue,
                    shopify: harness.client(redis: redis),
                    tokenCipher: CatalogFixture.cipher
                )
                let worker = JobWorker(
                    queue: queue,
                    registry: handlers.registry(),
                    configuration: JobWorkerConfiguration(queues: [EcommerceQueue.polling], concurrency: 1),
                    logger: self.logger
                )
                // Done means done: not waiting for a retry in the delayed set, nor in dead letters.
                let drained = try await runWorkers([worker], timeout: .seconds(30)) {
                    let stats = try await queue.stats(queue: EcommerceQueue.polling)
                    return stats.ready == 0 && stats.inflight == 0 && stats.delayed == 0
                }
                #expect(drained)
            }
            #expect(try await SyncLogStore(client: postgres).runs(businessId: business.id, kind: "poll", limit: 5, logger: self.logger).isEmpty)
            let after = try await queue.stats(queue: EcommerceQueue.polling)
            #expect(after.delayed == 0 && after.dead == 0, "the poll of an uninstalled shop failed instead of doing nothing: \(after)")
        }
    }

    @Test("businesses are spread over the interval; reconciliation follows the active connections")
    func spreadAndReconcile() async throws {
        let redis = TestServices.redis(.polling)
        defer { redis.shutdown() }
        _ = try await redis.send(["FLUSHDB"])
        let schedule = PollSchedule(redis: redis, interval: .seconds(900))
        var buckets = Array(repeating: 0, count: 10)
        for _ in 0..<2000 { buckets[Int(schedule.offset(of: UUID()) * 10 / 900_000)] += 1 }
        #expect(buckets.allSatisfy { (120...280).contains($0) }, "\(buckets)")

        let (a, b, c, d) = (UUID(), UUID(), UUID(), UUID())
        #expect(try await schedule.reconcile(active: [a, b, c]) == (3, 0))
        let scoreOfB = try await redis.send(["ZSCORE", RedisArgument(PollSchedule.key), RedisArgument(b.uuidString.lowercased())]).text
        #expect(try await schedule.reconcile(active: [b, c, d]) == (1, 1))
        let members = Set(try await redis.send(["ZRANGE", RedisArgument(PollSchedule.key), "0", "-1"]).elements.compactMap(\.text))
        #expect(members == Set([b, c, d].map { $0.uuidString.lowercased() }))
        #expect(try await redis.send(["ZSCORE", RedisArgument(PollSchedule.key), RedisArgument(b.uuidString.lowercased())]).text == scoreOfB)
    }
}

extension CatalogFixture {
    /// The variant of the business's first product (by id).
    func firstVariant(_ postgres: PostgresClient) async throws -> UUID? {
        for try await id in try await postgres.query(
            "SELECT v.id FROM variants v WHERE v.business_id = \(self.businessId) ORDER BY v.product_id LIMIT 1",
            logger: TestServices.logger
        ).decode(UUID.self) {
            return id
        }
        return nil
    }
}

@Suite("Connections: redaction and log retention")
struct ConnectionLifecycleTests {
    let logger = TestServices.logger

    @Test("shop/redact deletes the module's data of an uninstalled shop, and nothing of a reinstalled one")
    func redact() async throws {
        try await TestServices.withPostgres { postgres in
            let connections = ConnectionStore(client: postgres)
            let business = try await BusinessFixture.create(on: postgres, stock: [("R", 5, 70_001)])
            let order = OrderFactory.order(lines: [OrderFactory.line(1, variant: business.variants[0], quantity: 1)])
            _ = try await OrderIngestor(client: postgres).ingest(
                businessId: business.id,
                order: order,
                source: "webhook",
                reference: nil,
                logger: self.logger
            )
            func count(_ table: String) async throws -> Int {
                var query = PostgresQuery(unsafeSQL: "SELECT count(*)::int FROM \(table) WHERE business_id = $1")
                query.binds.append(business.id)
                for try await value in try await postgres.query(query, logger: self.logger).decode(Int.self) { return value }
                return 0
            }
            #expect(try await connections.redactShop(businessId: business.id, shop: business.shop, logger: self.logger) == false)  // still active
            #expect(try await count("ecommerce_ingested_order") == 1)
            #expect(try await connections.markUninstalled(businessId: business.id, shop: business.shop, logger: self.logger))
            #expect(try await connections.redactShop(businessId: business.id, shop: business.shop, logger: self.logger))
            for table in ["ecommerce_ingested_order", "ecommerce_order_line", "ecommerce_product_mapping", "ecommerce_connection"] {
                #expect(try await count(table) == 0, "\(table)")
            }
            // FlowPOS's own stock stays.
            #expect(try await BusinessFixture.stock(of: business.variants[0].id, on: postgres) == 4)
        }
    }

    @Test("sync logs older than the retention age are deleted, newer ones kept; the retention service does it on its own")
    func retention() async throws {
        // A database of its own: a retention deletes every business's old logs, and here they are all this test's.
        try await TestServices.withPrivatePostgres { postgres in
            let syncLogs = SyncLogStore(client: postgres)
            let business = UUID()
            func aged(days: Int) async throws -> UUID {
                let id = try await syncLogs.startRun(businessId: business, kind: "poll", reference: nil, logger: self.logger)
                try await postgres.query(
                    "UPDATE ecommerce_sync_log SET started_at = now() - make_interval(days => \(days)::int) WHERE id = \(id)",
                    logger: self.logger
                )
                return id
            }
            let old = try await aged(days: 10)
            let recent = try await aged(days: 1)
            #expect(try await syncLogs.deleteRuns(olderThan: .seconds(5 * 86_400), logger: self.logger) == 1)
            #expect(try await syncLogs.run(id: old, logger: self.logger) == nil)
            #expect(try await syncLogs.run(id: recent, logger: self.logger) != nil)

            // As a running service: it deletes at start and then every interval, with nothing asked of it.
            let older = try await aged(days: 10)
            let retention = SyncLogRetention(syncLogs: syncLogs, age: .seconds(5 * 86_400), interval: .milliseconds(200), logger: self.logger)
            let deletedWhileRunning = try await TestServices.whileRunning([retention]) {
                let first = try await TestServices.eventually(timeout: .seconds(30)) { try await syncLogs.run(id: older, logger: self.logger) == nil }
                let later = try await aged(days: 6)
                let second = try await TestServices.eventually(timeout: .seconds(30)) {
                    try await syncLogs.run(id: later, logger: self.logger) == nil
                }
                return first && second
            }
            #expect(deletedWhileRunning, "the running retention deleted the old logs, the one made while it ran too")
            #expect(try await syncLogs.run(id: recent, logger: self.logger) != nil, "and kept the young one")
        }
    }
}
