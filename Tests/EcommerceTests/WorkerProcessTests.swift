import EcommerceJobs
import Foundation
import JobQueue
import PostgresNIO
import RedisClient
import Shopify
import Storage
import Testing

/// Real `ecommerce-worker` processes against real Redis and PostgreSQL: crash recovery and graceful shutdown.
///
/// A handler is held mid-job by a row lock the test takes on the order's dedupe row, so that the job is
/// provably in flight when the worker is killed or told to stop.
@Suite("Worker processes", .serialized)
struct WorkerProcessTests {
    static let binDirectory: String = {
        if let directory = ProcessInfo.processInfo.environment["ECOMMERCE_BIN_DIR"] { return directory }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug").path
    }()

    static let logDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("ecommerce-worker-logs")

    static func startWorker(_ name: String, extra: [String: String] = [:]) throws -> ChildProcess {
        var environment = [
            "REDIS_URL": TestServices.redisURL(.processes),
            "DATABASE_URL": TestServices.databaseURL,
            "WORKER_QUEUES": EcommerceQueue.orders,
            "WORKER_CONCURRENCY": "2",
            "METRICS_PORT": "0",
            "METRICS_HOST": "127.0.0.1",
            "LOG_LEVEL": "info",
            "LOG_FORMAT": "json",
            // These workers share the test database with in-process suites that drive the stock-change relay.
            "INVENTORY_RELAY": "off",
        ]
        environment.merge(extra) { $1 }
        try FileManager.default.createDirectory(at: Self.logDirectory, withIntermediateDirectories: true)
        return try ChildProcess.spawn(
            Self.binDirectory + "/ecommerce-worker",
            ["run"],
            environment: environment,
            logPath: Self.logDirectory.appendingPathComponent("\(name).log").path
        )
    }

    /// The log a worker started by ``startWorker(_:extra:)`` wrote, for a failure's message.
    static func log(of name: String) -> String {
        let path = Self.logDirectory.appendingPathComponent("\(name).log").path
        return (try? String(contentsOfFile: path, encoding: .utf8)) ?? "(none)"
    }

    /// Enqueues the order as the gateway would.
    static func enqueue(_ order: ShopifyOrder, for business: BusinessFixture, redis: RedisClient) async throws {
        let envelope = OrderIngestJob.envelope(
            .init(source: .webhook, topic: "orders/create", webhookId: UUID().uuidString, order: order),
            businessId: business.id,
            shop: business.shop
        )
        try await RedisJobQueue(redis: redis).enqueue(OrderIngestJob.self, envelope)
    }

    /// Runs `body` while holding an uncommitted insert of the order's dedupe row: the worker's ingestion blocks on it.
    static func holdingOrder<Result: Sendable>(
        _ client: PostgresClient,
        business: BusinessFixture,
        orderId: Int64,
        _ body: @Sendable () async throws -> Result
    ) async throws -> Result {
        try await client.withConnection { connection in
            try await connection.query("BEGIN", logger: TestServices.logger)
            try await connection.query(
                "INSERT INTO ecommerce_ingested_order (business_id, shopify_order_id, source) VALUES (\(business.id), \(orderId), 'test-lock')",
                logger: TestServices.logger
            )
            do {
                let result = try await body()
                try await connection.query("ROLLBACK", logger: TestServices.logger)
                return result
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: TestServices.logger)
                throw error
            }
        }
    }

    /// Enqueues the order and waits until a worker has claimed it and its handler is blocked on the test's row
    /// lock; false if no worker claimed it within 30 s.
    static func enqueueAndAwaitClaim(_ order: ShopifyOrder, for business: BusinessFixture, redis: RedisClient) async throws -> Bool {
        try await Self.enqueue(order, for: business, redis: redis)
        let owners = QueueKeys(queue: EcommerceQueue.orders).owners
        let claimed = try await TestServices.eventually(timeout: .seconds(30)) {
            try await redis.send(["HLEN", RedisArgument(owners)]).int ?? 0 > 0
        }
        try await Task.sleep(for: .milliseconds(300))  // long enough for the handler to reach the lock
        return claimed
    }

    @Test("a worker process SIGKILLed mid-job has its job finished by another within 30 s, once")
    func killedWorkerJobRecovered() async throws {
        let redis = TestServices.redis(.processes)
        defer { redis.shutdown() }
        _ = try await redis.send(["FLUSHDB"])
        try await TestServices.withPostgres { client in
            let business = try await BusinessFixture.create(on: client, stock: [("A", 10, 81)])
            let order = OrderFactory.order(lines: [OrderFactory.line(1, variant: business.variants[0], quantity: 2)])
            // A 5 s lease (15 s by default): the bound leaves room for a loaded machine, the recovery is the same.
            let lease = ["WORKER_LEASE_SECONDS": "5"]
            let victim = try Self.startWorker("victim", extra: lease)
            defer { victim.signal(SIGKILL) }
            let (killedAt, rescuer) = try await Self.holdingOrder(client, business: business, orderId: order.id) {
                #expect(try await Self.enqueueAndAwaitClaim(order, for: business, redis: redis), "the victim never claimed the job")
                #expect(await victim.stop(SIGKILL, timeout: .seconds(10)) == .signalled(SIGKILL))
                return (ContinuousClock.now, try Self.startWorker("rescuer", extra: lease))
            }
            defer { rescuer.signal(SIGKILL) }
            // The lock is released: the victim's last statement may still commit now; either way the rescuer must
            // recover the job, and stock must change once.
            let done = try await TestServices.eventually(timeout: .seconds(30), every: .milliseconds(100)) {
                let stats = try await RedisJobQueue(redis: redis).stats(queue: EcommerceQueue.orders)
                let stock = try await BusinessFixture.stock(of: business.variants[0].id, on: client)
                return stats.inflight == 0 && stats.ready == 0 && stock == 8
            }
            let elapsed = killedAt.duration(to: .now)
            #expect(done, "the job was not finished by the second worker")
            #expect(elapsed < .seconds(30), "recovery took \(elapsed); the rescuer's log: \(Self.log(of: "rescuer"))")
            #expect(try await BusinessFixture.stock(of: business.variants[0].id, on: client) == 8)
            #expect(try await BusinessFixture.movements(of: business.variants[0].id, on: client) == [-2])
            #expect(try await RedisJobQueue(redis: redis).stats(queue: EcommerceQueue.orders).dead == 0)
            let rescuerExit = await rescuer.stop(SIGTERM)
            #expect(rescuerExit == .exited(0), "worker exit: \(String(describing: rescuerExit))")
        }
    }

    @Test("SIGTERM hands an unfinished job back to the queue and exits cleanly; the next worker finishes it")
    func sigtermHandsJobBack() async throws {
        let redis = TestServices.redis(.processes)
        defer { redis.shutdown() }
        _ = try await redis.send(["FLUSHDB"])
        try await TestServices.withPostgres { client in
            let business = try await BusinessFixture.create(on: client, stock: [("A", 10, 82)])
            let order = OrderFactory.order(lines: [OrderFactory.line(1, variant: business.variants[0], quantity: 3)])
            let worker = try Self.startWorker("graceful", extra: ["WORKER_SHUTDOWN_GRACE_SECONDS": "1"])
            defer { worker.signal(SIGKILL) }
            try await Self.holdingOrder(client, business: business, orderId: order.id) {
                #expect(try await Self.enqueueAndAwaitClaim(order, for: business, redis: redis))
                let exit = await worker.stop(SIGTERM, timeout: .seconds(30))
                #expect(exit == .exited(0), "worker exit: \(String(describing: exit))")
                let stats = try await RedisJobQueue(redis: redis).stats(queue: EcommerceQueue.orders)
                #expect(stats.ready == 1 && stats.inflight == 0 && stats.dead == 0, "\(stats)")
            }
            // The handed-back worker's last statement was waiting on the test's lock; PostgreSQL may still run it
            // now that the lock is gone. Either way the next worker must finish the job and stock change once.
            let next = try Self.startWorker("next")
            defer { next.signal(SIGKILL) }
            let done = try await TestServices.eventually(timeout: .seconds(30), every: .milliseconds(100)) {
                let stats = try await RedisJobQueue(redis: redis).stats(queue: EcommerceQueue.orders)
                let stock = try await BusinessFixture.stock(of: business.variants[0].id, on: client)
                return stats.ready == 0 && stats.inflight == 0 && stock == 7
            }
            #expect(done)
            let nextExit = await next.stop(SIGTERM)
            #expect(nextExit == .exited(0), "worker exit: \(String(describing: nextExit))")
            #expect(try await BusinessFixture.movements(of: business.variants[0].id, on: client) == [-3])
        }
    }

    @Test("a bad configuration stops start-up with a message naming the variable")
    func badConfiguration() async throws {
        let logPath = FileManager.default.temporaryDirectory.appendingPathComponent("ecommerce-worker-badconfig.log").path
        try? FileManager.default.removeItem(atPath: logPath)
        let worker = try ChildProcess.spawn(
            Self.binDirectory + "/ecommerce-worker",
            ["run"],
            environment: ["REDIS_URL": "http://nope", "DATABASE_URL": TestServices.databaseURL],
            logPath: logPath
        )
        #expect(await worker.waitForExit(timeout: .seconds(10)) == .exited(78))
        let output = try String(contentsOfFile: logPath, encoding: .utf8)
        #expect(output.contains("REDIS_URL"))
    }

    /// Runs an `ecommerce-worker` ops command and returns what it printed.
    static func command(_ arguments: [String]) async throws -> String {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("ops-\(UUID().uuidString).txt").path
        let child = try ChildProcess.spawn(
            Self.binDirectory + "/ecommerce-worker",
            arguments,
            environment: ["REDIS_URL": TestServices.redisURL(.processes), "DATABASE_URL": TestServices.databaseURL, "LOG_LEVEL": "error"],
            logPath: output
        )
        let exit = await child.waitForExit(timeout: .seconds(30))
        #expect(exit == .exited(0), "\(arguments): \(String(describing: exit))")
        defer { try? FileManager.default.removeItem(atPath: output) }
        return (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
    }

    @Test("ops commands: live workers, queue truth, dead letters listed and purged, the schedule against connections")
    func opsCommands() async throws {
        let redis = TestServices.redis(.processes)
        defer { redis.shutdown() }
        _ = try await redis.send(["FLUSHDB"])
        let worker = try Self.startWorker("ops")
        defer { worker.signal(SIGKILL) }
        let seen = try await TestServices.eventually(timeout: .seconds(20), every: .milliseconds(200)) {
            let workers = try JSONDecoder().decode([WorkerReport].self, from: Data(try await Self.command(["workers", "--json"]).utf8))
            return workers.count == 1 && workers[0].queues == [EcommerceQueue.orders] && workers[0].concurrency == 2
        }
        #expect(seen, "the running worker is listed")

        // A malformed job goes to dead letters; the CLI lists it and purges it.
        _ = try await redis.send(["LPUSH", RedisArgument(EcommerceQueue.orders), "not a job"])
        let buried = try await TestServices.eventually(timeout: .seconds(10)) {
            try await RedisJobQueue(redis: redis).stats(queue: EcommerceQueue.orders).dead == 1
        }
        #expect(buried)
        let queues = try JSONDecoder().decode([QueueStats].self, from: Data(try await Self.command(["queues", "--json"]).utf8))
        #expect(queues.first { $0.queue == EcommerceQueue.orders }?.dead == 1)
        #expect(Set(queues.map(\.queue)) == Set(EcommerceQueue.all))
        let table = try await Self.command(["dead", "list", "--queue", EcommerceQueue.orders])
        #expect(table.hasPrefix("ID") && table.split(separator: "\n").count == 2, "\(table)")
        #expect(try await Self.command(["dead", "purge", "--queue", EcommerceQueue.orders, "--all"]).contains("purged 1"))
        #expect(try await RedisJobQueue(redis: redis).stats(queue: EcommerceQueue.orders).dead == 0)

        struct Status: Decodable {
            var activeConnections: Int
            var scheduled: Int
            var missing: [String]
            var extra: [String]
        }
        // The worker's scheduler has reconciled with the (shared) test database; other suites change connections
        // meanwhile, so only the report's own consistency is checked, and that the schedule is not empty.
        let status = try JSONDecoder().decode(Status.self, from: Data(try await Self.command(["schedule", "status", "--json"]).utf8))
        #expect(status.scheduled > 0 && status.scheduled == status.activeConnections - status.missing.count + status.extra.count)

        #expect(await worker.stop(SIGTERM) == .exited(0))
        let after = try JSONDecoder().decode([WorkerReport].self, from: Data(try await Self.command(["workers", "--json"]).utf8))
        #expect(after.isEmpty, "a worker that stopped cleanly is gone")
    }
}
