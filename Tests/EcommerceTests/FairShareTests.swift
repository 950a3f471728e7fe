import Foundation
import JobQueue
import JobQueueTesting
import Logging
import RedisClient
import ShopifyAdmin
import ShopifySimulatorCore
import Synchronization
import Testing

@testable import WorkerApp

/// Fair shares across shops inside a queue (``FairShare``), held to the same answers on both drivers, and what only
/// the Redis driver has (its counts, the list of an earlier version).
@Suite("Fair shares across shops")
struct FairShareTests {
    typealias Driver = JobQueueDriverConformanceTests.Driver

    /// Shops A (30 ready jobs), then B, C and D (one each).
    struct Shops {
        let a = UUID(), b = UUID(), c = UUID(), d = UUID()

        func name(of job: ClaimedJob) -> String {
            switch job.header.businessId {
            case self.a: "A"
            case self.b: "B"
            case self.c: "C"
            case self.d: "D"
            default: "?"
            }
        }
    }

    func put(_ count: Int, of business: UUID, in queue: String, on driver: JobQueueDriverConformanceTests.TestQueue) async throws {
        for value in 0..<count { try await driver.put(try encodedEcho(value, business: business).bytes, queue) }
    }

    @Test("a shop with 30 ready jobs and three shops with one take turns: one job of each shop per turn", arguments: Driver.allCases)
    func shopsTakeTurns(driver: Driver) async throws {
        let queue = driver.make()
        defer { queue.close() }
        let name = uniqueQueue()
        let shops = Shops()
        try await self.put(30, of: shops.a, in: name, on: queue)
        for shop in [shops.b, shops.c, shops.d] { try await self.put(1, of: shop, in: name, on: queue) }
        let first = try await queue.claim(name, by: "w1", max: 6).jobs.map(shops.name)
        #expect(Set(first.prefix(4)) == ["A", "B", "C", "D"], "the first turn takes one job of every shop: \(first)")
        #expect(first.suffix(2) == ["A", "A"], "then the shop with more goes on alone: \(first)")
        // A shop that comes later joins at the current turn, not behind A's 24 jobs still waiting.
        try await self.put(1, of: shops.b, in: name, on: queue)
        let second = try await queue.claim(name, by: "w1", max: 2).jobs.map(shops.name)
        #expect(second.sorted() == ["A", "B"], "\(second)")
        // Within a shop, jobs come in the order they were enqueued.
        let rest = try await queue.claim(name, by: "w1", max: 30).jobs
        let values = try rest.map { try JobCoding.decoder().decode(JobEnvelope<EchoJob.Payload>.self, from: Data($0.envelope)).payload.value }
        #expect(values == Array(values.sorted()) && rest.count == 26, "\(values)")
    }

    @Test("a per-shop cap holds across two workers; the capped shop's jobs keep their place and come first once it frees", arguments: Driver.allCases)
    func capsAcrossWorkers(driver: Driver) async throws {
        let queue = driver.make()
        defer { queue.close() }
        let name = uniqueQueue()
        let shops = Shops()
        try await self.put(30, of: shops.a, in: name, on: queue)
        try await self.put(5, of: shops.b, in: name, on: queue)
        func claim(_ worker: String, _ max: Int) async throws -> [ClaimedJob] {
            try await queue.claim(name, by: worker, max: max, shopCap: 2).jobs
        }
        let one = try await claim("w1", 10)
        #expect(one.map(shops.name).sorted() == ["A", "A", "B", "B"], "two of each shop, however many were asked for")
        let two = try await claim("w2", 10)
        #expect(two.isEmpty, "the other worker finds both shops at their cap: \(two.map(shops.name))")
        try await self.put(1, of: shops.c, in: name, on: queue)
        #expect(try await claim("w2", 10).map(shops.name) == ["C"], "a third shop is served past the capped ones")
        // w1 finishes one job of A: the next claim (w2's) may take exactly one more of A.
        let acked = try await queue.claim(name, by: "w1", max: 0, shopCap: 2, acking: [one.first { shops.name(of: $0) == "A" }!])
        #expect(acked.acked == [true])
        #expect(try await claim("w2", 10).map(shops.name) == ["A"])
        // A release or a retry frees the slot as an ack does.
        let b = one.first { shops.name(of: $0) == "B" }!
        #expect(try await queue.driver.release(b, workerId: "w1"))
        #expect(
            try await claim("w2", 10).map(shops.name) == ["B"],
            "one more of B (the released job or the next): the release counted it out of the cap"
        )
    }

    @Test(
        "a shop held at its cap while the clock ran on lags far behind it: the other shops' turns are still found past its backlog",
        arguments: Driver.allCases
    )
    func cappedBacklogDoesNotHideTurns(driver: Driver) async throws {
        let queue = driver.make()
        defer { queue.close() }
        let name = uniqueQueue()
        let shops = Shops()
        func claim(_ max: Int) async throws -> [ClaimedJob] {
            try await queue.claim(name, by: "w1", max: max, shopCap: 1).jobs
        }
        try await self.put(200, of: shops.a, in: name, on: queue)
        #expect(try await claim(1).map(shops.name) == ["A"])
        // B's 150 jobs are claimed (and acked) while A stays at its cap: the clock runs 150 turns past A's next jobs.
        try await self.put(150, of: shops.b, in: name, on: queue)
        var taken = 0
        while taken < 150 {
            let jobs = try await claim(10)
            #expect(!jobs.isEmpty && jobs.allSatisfy { shops.name(of: $0) == "B" })
            if jobs.isEmpty { break }
            _ = try await queue.claim(name, by: "w1", max: 0, acking: jobs)
            taken += jobs.count
        }
        // 199 of A's jobs wait, most of them behind the clock, more than one look passes over: C's turn is found.
        try await self.put(1, of: shops.c, in: name, on: queue)
        #expect(try await claim(1).map(shops.name) == ["C"])
    }

    @Test("a released or recovered job goes ahead of every shop's next turn", arguments: Driver.allCases)
    func handedBackGoesFirst(driver: Driver) async throws {
        let queue = driver.make()
        defer { queue.close() }
        let name = uniqueQueue()
        let shops = Shops()
        try await self.put(10, of: shops.a, in: name, on: queue)
        try await self.put(10, of: shops.b, in: name, on: queue)
        let taken = try await queue.claim(name, by: "w1", max: 4).jobs
        #expect(try await queue.driver.release(taken[3], workerId: "w1"))
        #expect(try await queue.claim(name, by: "w2", max: 1).jobs.map(\.id) == [taken[3].id])
    }
}

/// What only the Redis driver keeps: the backlog per shop, the claimed count per shop, and the list that processes of
/// the version before fair shares enqueued onto.
@Suite("Fair shares in Redis")
struct RedisFairShareTests {
    @Test("stats count the shops waiting and the largest backlogs; the per-shop counts end at zero whatever path a job left by")
    func countsStayTrue() async throws {
        let redis = TestServices.redis()
        defer { redis.shutdown() }
        let queue = RedisJobQueue(redis: redis)
        let name = uniqueQueue()
        let keys = QueueKeys(queue: name)
        let (a, b) = (UUID(), UUID())
        for (business, count) in [(a, 6), (b, 2)] {
            for value in 0..<count {
                let job = try encodedEcho(value, business: business)
                try await queue.enqueue(raw: job.bytes, id: job.id, queue: name, dedupeKey: nil)
            }
        }
        let stats = try await queue.stats(queue: name)
        #expect(stats.ready == 8 && stats.shops == 2)
        #expect(
            stats.largestBacklogs == [
                ShopBacklog(group: a.uuidString.lowercased(), ready: 6), ShopBacklog(group: b.uuidString.lowercased(), ready: 2),
            ]
        )
        #expect(try await queue.largestBacklogs(queue: name, limit: 1).map(\.ready) == [6])

        let jobs = try await queue.claim(from: [name], workerId: "w1", max: 5, lease: .seconds(30))
        #expect(try await redis.send(["HGET", RedisArgument(keys.running), RedisArgument(a.uuidString.lowercased())]).text == "3")
        #expect(try await queue.ack(jobs[0], workerId: "w1"))
        #expect(try await queue.retry(jobs[1], workerId: "w1", envelope: jobs[1].envelope, after: .seconds(60)))
        #expect(try await queue.bury(jobs[2], workerId: "w1", envelope: jobs[2].envelope, attempt: 1, error: "no"))
        #expect(try await queue.release(jobs[3], workerId: "w1"))
        #expect(try await queue.releaseUnreceived(queue: name, workerId: "w1", holding: []) == 1)
        #expect(try await redis.send(["HLEN", RedisArgument(keys.running)]).int == 0, "nothing counted as claimed once nothing is")
        let after = try await queue.stats(queue: name)
        #expect(after.ready == 5 && after.inflight == 0 && after.delayed == 1 && after.dead == 1, "\(after)")
        #expect(after.largestBacklogs.map(\.ready).reduce(0, +) == after.ready, "the backlogs add up to the ready jobs")
    }

    @Test("claimed counts that disagree with the claims (an upgrade, a bug) are recounted by maintenance")
    func runningCountsHeal() async throws {
        let redis = TestServices.redis()
        defer { redis.shutdown() }
        let queue = RedisJobQueue(redis: redis)
        let name = uniqueQueue()
        let keys = QueueKeys(queue: name)
        let business = UUID()
        let job = try encodedEcho(1, business: business)
        try await queue.enqueue(raw: job.bytes, id: job.id, queue: name, dedupeKey: nil)
        _ = try await queue.claim(from: [name], workerId: "w1", max: 1, lease: .seconds(30))
        let group = RedisArgument(business.uuidString.lowercased())
        _ = try await redis.send(["HSET", RedisArgument(keys.running), group, "7"])
        _ = try await queue.maintain(queue: name, maxRecoveries: 3)
        #expect(try await redis.send(["HGET", RedisArgument(keys.running), group]).text == "1")
    }

    @Test("jobs a process of the earlier version pushed onto the queue's list are moved among the ready jobs and run")
    func legacyListDrained() async throws {
        let redis = TestServices.redis()
        defer { redis.shutdown() }
        let queue = RedisJobQueue(redis: redis)
        let name = uniqueQueue()
        let old = try (0..<3).map { try encodedEcho($0, business: UUID()) }
        for job in old { _ = try await redis.send(["LPUSH", RedisArgument(name), RedisArgument(bytes: job.bytes)]) }
        #expect(try await queue.stats(queue: name).ready == 3, "counted while still on the list")
        #expect(try await queue.maintain(queue: name, maxRecoveries: 3) == QueueMaintenance())
        #expect(try await redis.send(["EXISTS", RedisArgument(name)]).int == 0, "the list is gone")
        let claimed = try await queue.claim(from: [name], workerId: "w1", max: 5, lease: .seconds(30))
        #expect(Set(claimed.map(\.id)) == Set(old.map(\.id)))
    }

    @Test("group of an envelope: the Swift reading matches the scripts' (business id in either case, else shop, else none)")
    func groupReading() throws {
        let business = UUID()
        #expect(FairShare.group(of: try encodedEcho(1, business: business, shop: "x.myshopify.com").bytes) == business.uuidString.lowercased())
        let shopOnly = EchoJob.envelope(.init(value: 1), shop: "Shop-1.myshopify.com")
        #expect(FairShare.group(of: Array(try JobCoding.encoder().encode(shopOnly))) == "shop-1.myshopify.com")
        #expect(FairShare.group(of: try encodedEcho(1).bytes) == "")
        #expect(FairShare.group(of: Array(#"{"businessId":"AB-12","x":1}"#.utf8)) == "ab-12")
        #expect(FairShare.group(of: Array(#"{"businessId":"not valid!","shop":"s.myshopify.com"}"#.utf8)) == "s.myshopify.com")
    }
}

/// A Shopify-bound job whose shop's bucket is empty does not sleep in its slot.
@Suite("Hand-back on an empty bucket")
struct EmptyBucketHandBackTests {
    @Test("a job whose shop's budget cannot cover its call within the inline wait is handed back at once, its attempts kept")
    func emptyBucketHandsBack() async throws {
        let redis = TestServices.redis()
        defer { redis.shutdown() }
        try await SimulatorHarness.run { harness in
            let shop = "busy-\(UUID().uuidString.prefix(8).lowercased()).myshopify.com"
            harness.simulator.createShop(shop, accessToken: "t")
            // The shop's bucket as a large push leaves it: empty, and refilling at 2 points a second, so that the
            // query's 12 points are 6 s away.
            let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
            _ = try await redis.send(
                [
                    "HSET", RedisArgument(ShopifyCostBudget.key(shop: shop)), "available", "0", "max", "1000", "rate", "2", "at",
                    RedisArgument("\(nowMs)"),
                ]
            ).orThrow()
            let client = harness.client(redis: redis, maxInlineWait: .seconds(2))
            let queue = MemoryJobQueue()
            let name = uniqueQueue()
            queue.enqueue(Array(try JobCoding.encoder().encode(EchoJob.envelope(.init(value: 1), businessId: UUID(), shop: shop))), to: name)
            let handled = Mutex<[(attempt: Int, seconds: Double, error: String)]>([])
            var registry = JobRegistry()
            registry.mapError = { error in JobRetryLater.retry(for: error) ?? error }
            registry.register(EchoJob.self) { envelope, _ in
                let started = ContinuousClock.now
                do {
                    _ = try await client.locations(as: ShopifyCredentials(shop: shop, accessToken: "t"), logger: TestServices.logger)
                    handled.withLock { $0.append((envelope.attempt, 0, "answered")) }
                } catch {
                    let elapsed = started.duration(to: .now)
                    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                    handled.withLock { $0.append((envelope.attempt, seconds, "\(error)")) }
                    throw error
                }
            }
            var configuration = JobWorkerConfiguration(queues: [name], concurrency: 1)
            configuration.maintenanceInterval = .milliseconds(50)
            let worker = JobWorker(queue: queue, registry: registry, configuration: configuration, logger: TestServices.logger)
            let deferred = try await runWorkers([worker], timeout: .seconds(30)) { queue.stats(queue: name).delayed == 1 }
            #expect(deferred, "\(queue.stats(queue: name))")
            let first = try #require(handled.withLock { $0.first })
            #expect(first.error.contains("cost budget is spent") && first.seconds < 1.5, "handed back at once, not slept on: \(first)")
            #expect(first.attempt == 0)
            #expect(queue.stats(queue: name).dead == 0 && queue.stats(queue: name).ready == 0)
            // It comes back with its attempts as they were, once its wait is over.
            let promoted = try await TestServices.eventually(timeout: .seconds(30), every: .milliseconds(200)) {
                try await queue.maintain(queue: name, maxRecoveries: 3).promoted == 1
            }
            #expect(promoted)
            let again = try await queue.claim(from: [name], workerId: "check", max: 1, lease: .seconds(30), acking: []).jobs
            #expect(again.first?.header.attempt == 0)
        }
    }
}
