import Foundation
import JobQueue
import RedisClient
import ServiceLifecycle
import Synchronization
import Testing

/// A job kind for queue tests; tests put it on queues of their own by enqueueing raw envelopes.
enum EchoJob: JobDefinition {
    struct Payload: Codable, Sendable {
        var value: Int
    }

    static let kind = "test.echo"
    static let queue = "test-echo"
    static let maxAttempts = 3
}

/// A unique queue per test, so that tests run in parallel on one Redis database.
func uniqueQueue(_ name: String = #function) -> String {
    "test-\(name.prefix(while: { $0 != "(" }))-\(UUID().uuidString.prefix(8))"
}

func encodedEcho(
    _ value: Int,
    maxAttempts: Int = EchoJob.maxAttempts,
    dedupeKey: String? = nil,
    business: UUID? = nil,
    shop: String? = nil
) throws -> (id: String, bytes: [UInt8]) {
    var envelope = EchoJob.envelope(.init(value: value), businessId: business, shop: shop, dedupeKey: dedupeKey)
    envelope.maxAttempts = maxAttempts
    return (envelope.id, Array(try JobCoding.encoder().encode(envelope)))
}

/// Runs workers until `until` holds (or the timeout passes), then cancels them.
func runWorkers(_ workers: [JobWorker], timeout: Duration, until: @escaping @Sendable () async throws -> Bool) async throws -> Bool {
    try await TestServices.whileRunning(workers) { try await TestServices.eventually(timeout: timeout, until) }
}

extension RedisJobQueue {
    /// Enqueues an `EchoJob` carrying `value`.
    @discardableResult
    func enqueueEcho(_ value: Int, to queue: String, maxAttempts: Int = EchoJob.maxAttempts) async throws -> EnqueueResult {
        let job = try encodedEcho(value, maxAttempts: maxAttempts)
        return try await self.enqueue(raw: job.bytes, id: job.id, queue: queue, dedupeKey: nil)
    }
}

@Suite("Redis job queue")
struct JobQueueTests {
    let logger = TestServices.logger

    func makeWorker(
        _ redis: RedisClient,
        queue: String,
        concurrency: Int = 4,
        prefetch: Int = 0,
        lease: Duration = .seconds(15),
        handler: @escaping @Sendable (JobEnvelope<EchoJob.Payload>, JobContext) async throws -> Void
    ) -> JobWorker {
        var registry = JobRegistry()
        registry.register(EchoJob.self, handler: handler)
        var configuration = JobWorkerConfiguration(queues: [queue], concurrency: concurrency)
        configuration.backoff = RetryBackoff(base: .milliseconds(20), cap: .milliseconds(100))
        configuration.maintenanceInterval = .milliseconds(50)
        configuration.prefetch = prefetch
        configuration.lease = lease
        configuration.heartbeatInterval = lease / 5
        return JobWorker(queue: RedisJobQueue(redis: redis), registry: registry, configuration: configuration, logger: self.logger)
    }

    @Test func enqueueClaimAck() async throws {
        let redis = TestServices.redis()
        defer { redis.shutdown() }
        let queue = RedisJobQueue(redis: redis)
        let name = uniqueQueue()
        let job = try encodedEcho(7)
        #expect(try await queue.enqueue(raw: job.bytes, id: job.id, queue: name, dedupeKey: nil) == .enqueued)
        let claimed = try await queue.claim(from: [name], workerId: "w1", max: 10, lease: .seconds(30))
        #expect(claimed.map(\.id) == [job.id])
        #expect(claimed.first?.header.kind == EchoJob.kind)
        var stats = try await queue.stats(queue: name)
        #expect(stats.ready == 0 && stats.inflight == 1)
        // Another worker cannot settle a claim it does not hold.
        #expect(try await queue.ack(claimed[0], workerId: "w2") == false)
        #expect(try await queue.ack(claimed[0], workerId: "w1"))
        stats = try await queue.stats(queue: name)
        #expect(stats == QueueStats(queue: name, ready: 0, inflight: 0, delayed: 0, dead: 0, oldestReadyAgeSeconds: 0))
    }

    @Test("acks ride on the next claim: each finished job is acked once, a lost claim says so, and an ack-only call claims nothing")
    func acksRideOnTheNextClaim() async throws {
        let redis = TestServices.redis()
        defer { redis.shutdown() }
        let queue = RedisJobQueue(redis: redis)
        let first = uniqueQueue()
        let second = uniqueQueue()
        for (index, name) in [first, first, second, second].enumerated() {
            try await queue.enqueueEcho(index, to: name)
        }
        let mine = try await queue.claim(from: [first, second], workerId: "w1", max: 2, lease: .seconds(30))
        let theirs = try await queue.claim(from: [second], workerId: "w2", max: 1, lease: .seconds(30))
        #expect(mine.map(\.queue) == [first, first] && theirs.map(\.queue) == [second])

        // w1 acks its two jobs and one it does not hold, and claims the last job of `second` in the same call.
        let next = try await queue.claim(from: [first, second], workerId: "w1", max: 5, lease: .seconds(30), acking: mine + theirs)
        #expect(next.acked == [true, true, false])
        #expect(next.jobs.map(\.queue) == [second])
        #expect(try await queue.stats(queue: first).inflight == 0)
        #expect(try await queue.stats(queue: second).inflight == 2)

        // Acking again is a no-op; max 0 only acks.
        let ackOnly = try await queue.claim(from: [second], workerId: "w1", max: 0, lease: .seconds(30), acking: mine + next.jobs)
        #expect(ackOnly.acked == [false, false, true] && ackOnly.jobs.isEmpty)
        let rest = try await queue.stats(queue: second)
        #expect(rest.inflight == 1 && rest.ready == 0 && rest.dead == 0)
    }

    @Test func enqueueIfNewIsAtomicUnderConcurrency() async throws {
        let redis = TestServices.redis()
        defer { redis.shutdown() }
        let queue = RedisJobQueue(redis: redis)
        let name = uniqueQueue()
        let key = "test:\(UUID())"
        let results = try await withThrowingTaskGroup(of: EnqueueResult.self) { group in
            for value in 0..<50 {
                group.addTask {
                    let job = try encodedEcho(value, dedupeKey: key)
                    return try await queue.enqueue(raw: job.bytes, id: job.id, queue: name, dedupeKey: key)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.filter { $0 == .enqueued }.count == 1)
        #expect(try await queue.stats(queue: name).ready == 1)
        let ttl = try await redis.send(["TTL", RedisArgument(QueueKeys(queue: name).dedupe(key))]).int ?? 0
        #expect(ttl > 47 * 3600)
    }

    @Test("dedupe keys are counted without a scan: each new key once, a duplicate never, a forgotten key no more, past buckets dropped")
    func dedupeKeysAreCounted() async throws {
        let redis = TestServices.redis()
        defer { redis.shutdown() }
        let queue = RedisJobQueue(redis: redis)
        let name = uniqueQueue()  // its count is this test's own, whatever else runs
        let counts = QueueKeys(queue: name).dedupeCounts
        defer { Task { _ = try? await redis.send(["DEL", RedisArgument(counts)]) } }
        // A bucket of keys that expired an hour ago: not counted, and deleted.
        let past = Int(Date().timeIntervalSince1970) / 600 - 6
        _ = try await redis.send(["HSET", RedisArgument(counts), RedisArgument(past), "5"])
        let keys = (0..<3).map { "test:\($0):\(UUID())" }
        for (index, key) in keys.enumerated() {
            let job = try encodedEcho(index, dedupeKey: key)
            let window: Duration = index == 0 ? .seconds(60) : .seconds(48 * 3600)
            #expect(try await queue.enqueue(raw: job.bytes, id: job.id, queue: name, dedupeKey: key, dedupeWindow: window) == .enqueued)
            #expect(try await queue.enqueue(raw: job.bytes, id: job.id, queue: name, dedupeKey: key, dedupeWindow: window) == .duplicate)
        }
        #expect(try await queue.dedupeKeyCount(queues: [name]) == 3)
        #expect(try await redis.send(["HEXISTS", RedisArgument(counts), RedisArgument(past)]).int == 0)
        try await queue.forgetDedupe(keys[1], queue: name)
        try await queue.forgetDedupe(keys[1], queue: name)  // gone already: uncounted once
        #expect(try await queue.dedupeKeyCount(queues: [name]) == 2)
        for key in keys { try await queue.forgetDedupe(key, queue: name) }
        #expect(try await queue.dedupeKeyCount(queues: [name]) == 0)
    }

    @Test func oldestReadyAgeComesFromTheEnvelope() async throws {
        let redis = TestServices.redis()
        defer { redis.shutdown() }
        let queue = RedisJobQueue(redis: redis)
        let name = uniqueQueue()
        var envelope = EchoJob.envelope(.init(value: 1))
        envelope.enqueuedAt = Date().addingTimeInterval(-120)
        try await queue.enqueue(raw: Array(try JobCoding.encoder().encode(envelope)), id: envelope.id, queue: name, dedupeKey: nil)
        let newer = try encodedEcho(2)
        try await queue.enqueue(raw: newer.bytes, id: newer.id, queue: name, dedupeKey: nil)
        let age = try await queue.stats(queue: name).oldestReadyAgeSeconds
        #expect(age > 115 && age < 140)
    }

    @Test("4 consumers × 5,000 jobs each: every job acked exactly once", arguments: [0, 8])
    func fourConsumersExactlyOnce(prefetch: Int) async throws {
        let name = uniqueQueue()
        let producer = TestServices.redis()
        defer { producer.shutdown() }
        let queue = RedisJobQueue(redis: producer)
        let total = 20_000
        var ids: [String] = []
        for start in stride(from: 0, to: total, by: 500) {
            let batch = try (start..<start + 500).map { try encodedEcho($0) }
            ids += batch.map(\.id)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for job in batch { group.addTask { _ = try await queue.enqueue(raw: job.bytes, id: job.id, queue: name, dedupeKey: nil) } }
                try await group.waitForAll()
            }
        }
        let seen = Mutex<[String: Int]>([:])
        let redisClients = (0..<4).map { _ in TestServices.redis() }
        defer { for client in redisClients { client.shutdown() } }
        let workers = redisClients.map { client in
            // A long lease: this is about claims never overlapping, and a loaded CI machine has stalled the test
            // process past a 15 s lease (its jobs were then rightly recovered and run again).
            self.makeWorker(client, queue: name, concurrency: 8, prefetch: prefetch, lease: .seconds(60)) { envelope, _ in
                seen.withLock { $0[envelope.id, default: 0] += 1 }
            }
        }
        let drained = try await runWorkers(workers, timeout: .seconds(120)) {
            let stats = try await queue.stats(queue: name)
            return stats.ready == 0 && stats.inflight == 0 && seen.withLock { $0.count } == total
        }
        #expect(drained)
        let counts = seen.withLock { $0 }
        #expect(counts.count == total)
        #expect(counts.values.allSatisfy { $0 == 1 })
        #expect(Set(ids) == Set(counts.keys))
        let stats = try await queue.stats(queue: name)
        #expect(stats.dead == 0 && stats.delayed == 0)
    }

    @Test("an enqueue's record lands in its capped list with the outcome, trimmed a tenth past the cap, with an expiry")
    func enqueueRecords() async throws {
        let redis = TestServices.redis()
        defer { redis.shutdown() }
        let queue = RedisJobQueue(redis: redis)
        let name = uniqueQueue()
        let list = "\(name):journal"
        defer { Task { _ = try? await redis.send(["DEL", RedisArgument(list)]) } }
        func enqueue(_ value: Int, key: String) async throws -> EnqueueResult {
            let job = try encodedEcho(value)
            let record = EnqueueRecord(list: list, cap: 100, retention: .seconds(3600), openObject: Array(#"{"value":\#(value)"#.utf8))
            return try await withCheckedThrowingContinuation { continuation in
                queue.enqueue(raw: job.bytes, id: job.id, queue: name, dedupeKey: key, record: record) { continuation.resume(with: $0) }
            }
        }
        #expect(try await enqueue(0, key: "\(name)-0") == .enqueued)
        #expect(try await enqueue(0, key: "\(name)-0") == .duplicate)
        let first = try await redis.send(["LRANGE", RedisArgument(list), "0", "-1"]).elements.compactMap(\.text)
        #expect(first == [#"{"value":0,"outcome":"duplicate"}"#, #"{"value":0,"outcome":"enqueued"}"#])
        #expect(try await redis.send(["TTL", RedisArgument(list)]).int.map { $0 > 3500 } == true, "an expiry from its creation")
        for value in 1...300 { _ = try await enqueue(value, key: "\(name)-\(value)") }
        let length = try #require(try await redis.send(["LLEN", RedisArgument(list)]).int)
        #expect((100...110).contains(length), "\(length) entries for a cap of 100")
        #expect(try await redis.send(["LINDEX", RedisArgument(list), "0"]).text == #"{"value":300,"outcome":"enqueued"}"#)
        #expect(try await queue.stats(queue: name).ready == 301, "every job enqueued, whatever the record")
    }

    @Test("held jobs keep their leases while they wait, and go back to the queue on shutdown while the running job finishes")
    func heldJobsAreLeasedAndHandedBack() async throws {
        let redis = TestServices.redis()
        defer { redis.shutdown() }
        let queue = RedisJobQueue(redis: redis)
        let name = uniqueQueue()
        for value in 0..<5 {
            try await queue.enqueueEcho(value, to: name)
        }
        let ran = Mutex<[Int]>([])
        let mayFinish = Atomic<Bool>(false)
        // One slot and two held jobs; a lease of 20 s that only the heartbeat (every 4 s) keeps. A stalled test process
        // stalls the heartbeat too, and on resuming the maintenance (every 50 ms) comes first: CI once saw all three
        // recovered with a lease of 8 s. This lease tolerates a stall of 16 s, and the stall gauge below says in the
        // failure how long the process stood still. The running job ends when the test says so (not after a fixed
        // time, which a stalled process could stretch past the shutdown grace), with a bound of its own.
        let worker = self.makeWorker(redis, queue: name, concurrency: 1, prefetch: 2, lease: .seconds(20)) { envelope, _ in
            ran.withLock { $0.append(envelope.payload.value) }
            _ = await TestServices.eventually(timeout: .seconds(60)) { mayFinish.load(ordering: .relaxed) }
        }
        let group = ServiceGroup(configuration: .init(services: [worker], logger: self.logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let holding = try await TestServices.eventually(timeout: .seconds(30)) {
                let stats = try await queue.stats(queue: name)
                return stats.inflight == 3 && stats.ready == 2
            }
            #expect(holding, "one running and two held, all claimed")
            let longestStall = Mutex<Duration>(.zero)
            let gauge = Task {
                var last = ContinuousClock.now
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(100))
                    let now = ContinuousClock.now
                    longestStall.withLock { $0 = max($0, now - last - .milliseconds(100)) }
                    last = now
                }
            }
            try await Task.sleep(for: .seconds(24))  // past the lease: only renewals keep the held jobs claimed
            gauge.cancel()
            let stats = try await queue.stats(queue: name)
            #expect(
                stats.inflight == 3 && stats.ready == 2,
                "held jobs were not recovered: \(stats); the test process stood still for up to \(longestStall.withLock { $0 })"
            )
            await group.triggerGracefulShutdown()
            // The held jobs go back at once; the running one stays claimed until it ends (the grace is 20 s).
            _ = try await TestServices.eventually(timeout: .seconds(15)) {
                let stats = try await queue.stats(queue: name)
                return stats.inflight == 1 && stats.ready == 4
            }
            let during = try await queue.stats(queue: name)  // the running job cannot end before `mayFinish`
            #expect(during.inflight == 1 && during.ready == 4, "held jobs handed back while the running one runs: \(during)")
            mayFinish.store(true, ordering: .relaxed)
            try await tasks.waitForAll()
        }
        #expect(ran.withLock { $0 } == [0], "only the first job ran, to its end")
        let after = try await queue.stats(queue: name)
        #expect(after.ready == 4 && after.inflight == 0 && after.dead == 0, "\(after)")
    }

    @Test("a failing job is retried with backoff and ends in dead letters with its error")
    func retriesReachDeadLetters() async throws {
        let redis = TestServices.redis()
        defer { redis.shutdown() }
        let queue = RedisJobQueue(redis: redis)
        let name = uniqueQueue()
        let runs = Mutex<[Int]>([])
        let worker = self.makeWorker(redis, queue: name) { envelope, _ in
            runs.withLock { $0.append(envelope.attempt) }
            struct Boom: Error, CustomStringConvertible { var description: String { "shopify said no" } }
            throw Boom()
        }
        let job = try encodedEcho(1, maxAttempts: 3)
        try await queue.enqueue(raw: job.bytes, id: job.id, queue: name, dedupeKey: nil)
        let buried = try await runWorkers([worker], timeout: .seconds(30)) {
            try await queue.stats(queue: name).dead == 1
        }
        #expect(buried)
        #expect(runs.withLock { $0 } == [0, 1, 2])
        let dead = try await queue.deadLetters(queue: name)
        #expect(dead.count == 1)
        #expect(dead.first?.id == job.id)
        #expect(dead.first?.attempt == 3)
        #expect(dead.first?.error.contains("shopify said no") == true)
        #expect(dead.first?.job.contains("\"attempt\":3") == true)
        let stats = try await queue.stats(queue: name)
        #expect(stats.ready == 0 && stats.inflight == 0 && stats.delayed == 0)

        // Retry from dead letters: back on the queue with a fresh attempt budget; then purge.
        #expect(try await queue.retryDeadLetter(queue: name, id: job.id))
        #expect(try await queue.stats(queue: name).ready == 1)
        let again = try await queue.claim(from: [name], workerId: "w", max: 1, lease: .seconds(5))
        #expect(again.first?.header.attempt == 0)
        try await queue.bury(again[0], workerId: "w", envelope: again[0].envelope, attempt: 0, error: "by hand")
        #expect(try await queue.purgeDeadLetters(queue: name) == 1)
        #expect(try await queue.stats(queue: name).dead == 0)
    }

    @Test("retry-later defers without spending an attempt")
    func retryLaterKeepsAttempts() async throws {
        let redis = TestServices.redis()
        defer { redis.shutdown() }
        let queue = RedisJobQueue(redis: redis)
        let name = uniqueQueue()
        let runs = Mutex<[Int]>([])
        let worker = self.makeWorker(redis, queue: name) { envelope, _ in
            let count = runs.withLock { runs in
                runs.append(envelope.attempt)
                return runs.count
            }
            if count <= 5 { throw JobRetryLater(after: .milliseconds(10), reason: "THROTTLED") }
        }
        try await queue.enqueueEcho(1, to: name, maxAttempts: 2)
        let finished = try await runWorkers([worker], timeout: .seconds(30)) {
            let stats = try await queue.stats(queue: name)
            return runs.withLock { $0.count } == 6 && stats.inflight == 0 && stats.delayed == 0
        }
        #expect(finished)
        // Six runs of a job allowed two attempts, all at attempt 0: throttling spent nothing.
        #expect(runs.withLock { $0 } == Array(repeating: 0, count: 6))
        #expect(try await queue.stats(queue: name).dead == 0)
    }

    @Test("malformed jobs go to dead letters, not into a loop")
    func malformedJobsBuried() async throws {
        let redis = TestServices.redis()
        defer { redis.shutdown() }
        let queue = RedisJobQueue(redis: redis)
        let name = uniqueQueue()
        let handled = Mutex(0)
        let worker = self.makeWorker(redis, queue: name) { _, _ in handled.withLock { $0 += 1 } }
        let garbage: [[UInt8]] = [
            Array("not json at all".utf8),
            Array(#"{"no":"id"}"#.utf8),
            Array(#"{"id":"x1","kind":"test.echo"}"#.utf8),  // an id but not an envelope
            Array(#"{"id":"x2","kind":"no.such.kind","attempt":0,"maxAttempts":3,"enqueuedAt":"2026-11-27T10:00:00Z","payload":{}}"#.utf8),
            Array(#"{"id":"x3","kind":"test.echo","attempt":0,"maxAttempts":3,"enqueuedAt":"2026-11-27T10:00:00Z","payload":{"value":"nan"}}"#.utf8),
        ]
        // Onto the list under the queue's own name, where processes of the version before fair shares put ready
        // jobs: maintenance moves them among the ready jobs, and the claim buries what is not an envelope.
        for raw in garbage { _ = try await redis.send(["LPUSH", RedisArgument(name), RedisArgument(bytes: raw)]) }
        let good = try encodedEcho(1)
        try await queue.enqueue(raw: good.bytes, id: good.id, queue: name, dedupeKey: nil)
        // A good envelope whose id is not its first member: the claim script reads it the slow way.
        let idNotFirst = #"{"kind":"test.echo","id":"late-id","attempt":0,"maxAttempts":3,"enqueuedAt":"2026-11-27T10:00:00Z","payload":{"value":2}}"#
        try await queue.enqueue(raw: Array(idNotFirst.utf8), id: "late-id", queue: name, dedupeKey: nil)
        let settled = try await runWorkers([worker], timeout: .seconds(30)) {
            let stats = try await queue.stats(queue: name)
            return stats.dead == garbage.count && stats.ready == 0 && stats.inflight == 0
        }
        #expect(settled)
        #expect(handled.withLock { $0 } == 2)
        let errors = try await queue.deadLetters(queue: name).map(\.error)
        #expect(errors.filter { $0.contains("malformed envelope") }.count == 3)
        #expect(errors.contains { $0.contains("no handler for job kind no.such.kind") })
        #expect(errors.contains { $0.contains("malformed_payload") })
    }

    @Test("the jobs of a worker that stops renewing its lease are recovered, and a job that keeps killing workers is quarantined")
    func crashRecoveryAndQuarantine() async throws {
        let redis = TestServices.redis()
        defer { redis.shutdown() }
        let queue = RedisJobQueue(redis: redis)
        let name = uniqueQueue()
        let job = try encodedEcho(1)
        try await queue.enqueue(raw: job.bytes, id: job.id, queue: name, dedupeKey: nil)
        for recovery in 1...3 {
            // A worker claims and "dies" (never renews, never acks). The lease is long enough that the check right
            // after the claim is not beaten by a machine stalled for a second; its expiry is waited for, not slept.
            let claimed = try await queue.claim(from: [name], workerId: "doomed-\(recovery)", max: 1, lease: .seconds(6))
            #expect(claimed.map(\.id) == [job.id])
            #expect(try await queue.maintain(queue: name, maxRecoveries: 2).recovered == 0)  // lease still valid
            var result = QueueMaintenance()
            let expired = try await TestServices.eventually(timeout: .seconds(30), every: .milliseconds(100)) {
                let pass = try await queue.maintain(queue: name, maxRecoveries: 2)
                result.recovered += pass.recovered
                result.quarantined += pass.quarantined
                return result.recovered + result.quarantined > 0
            }
            #expect(expired)
            if recovery <= 2 {
                #expect(result.recovered == 1 && result.quarantined == 0)
                #expect(try await queue.stats(queue: name).ready == 1)
            } else {
                #expect(result.recovered == 0 && result.quarantined == 1)
            }
        }
        let dead = try await queue.deadLetters(queue: name)
        #expect(dead.map(\.id) == [job.id])
        #expect(dead.first?.error.contains("quarantined") == true)
        let stats = try await queue.stats(queue: name)
        #expect(stats.ready == 0 && stats.inflight == 0)
    }

    @Test("claims whose reply is lost (the worker's connection killed as Redis answers) are handed back: every job runs once, none is quarantined")
    func lostClaimRepliesAreNotRecoveries() async throws {
        // The worker alone in its database, so that its connections are the ones listed there.
        let workerRedis = TestServices.redis(.lostReplies)
        let control = TestServices.redis()
        let stall = TestServices.redis()
        defer {
            workerRedis.shutdown()
            control.shutdown()
            stall.shutdown()
        }
        let queue = RedisJobQueue(redis: workerRedis)
        let name = uniqueQueue()
        let jobs = 1000
        for value in 0..<jobs { try await queue.enqueueEcho(value, to: name) }
        let runs = Mutex<[Int: Int]>([:])
        var registry = JobRegistry()
        registry.register(EchoJob.self) { envelope, _ in
            runs.withLock { $0[envelope.payload.value, default: 0] += 1 }
            try await Task.sleep(for: .milliseconds(20))
        }
        var configuration = JobWorkerConfiguration(queues: [name], concurrency: 4)
        // One lost claim would quarantine its jobs before the change: their lease expires, a recovery is counted.
        configuration.maxRecoveries = 0
        // Long enough that a claim loop held up by a loaded machine still looks before the leases expire.
        configuration.lease = .seconds(10)
        configuration.heartbeatInterval = .milliseconds(500)
        configuration.maintenanceInterval = .milliseconds(100)
        let worker = JobWorker(queue: queue, registry: registry, configuration: configuration, logger: self.logger)
        /// The worker's connections: the clients whose database is its own.
        @Sendable func workerConnections() async throws -> [String] {
            let list = try await control.send(["CLIENT", "LIST"]).text ?? ""
            return list.split(separator: "\n").compactMap { line in
                let fields = line.split(separator: " ")
                guard fields.contains("db=\(TestServices.RedisDatabase.lostReplies.rawValue)") else { return nil }
                return fields.first { $0.hasPrefix("id=") }.map { String($0.dropFirst(3)) }
            }
        }
        let kills = Atomic<Int>(0)
        let done = try await runWorkers([worker], timeout: .seconds(150)) {
            let finished = runs.withLock { $0.count }
            // At least 20 kills, and more (up to 100) until one of them lands between a claim and its reply: on a
            // loaded machine the timing may miss for a while.
            let killed = kills.load(ordering: .relaxed)
            if finished < jobs && killed < 100 && (killed < 20 || worker.unreceivedClaimsReleased == 0) {
                // Redis is held busy for 100 ms; the worker's next claim and then the kill queue up behind it, and
                // Redis runs both in one turn: the claim executes, the connection dies before its reply is sent.
                let connections = try await workerConnections()
                let busy = Task {
                    _ = try? await stall.send([
                        "EVAL",
                        "local t = redis.call('TIME') local s = t[1] * 1e6 + t[2] repeat t = redis.call('TIME') until t[1] * 1e6 + t[2] - s > 100000",
                        "0",
                    ])
                }
                try await Task.sleep(for: .milliseconds(60))
                for id in connections { _ = try await control.send(["CLIENT", "KILL", "ID", RedisArgument(id)]) }
                _ = await busy.result
                kills.add(1, ordering: .relaxed)
                try await Task.sleep(for: .milliseconds(150))
                return false
            }
            let stats = try await queue.stats(queue: name)
            return finished == jobs && stats.ready == 0 && stats.inflight == 0 && stats.delayed == 0
        }
        #expect(done, "\(runs.withLock { $0.count }) of \(jobs) jobs ran")
        #expect(kills.load(ordering: .relaxed) > 0)
        let runCounts = runs.withLock { $0 }
        #expect(runCounts.values.allSatisfy { $0 == 1 }, "jobs that ran twice: \(runCounts.filter { $0.value > 1 }.keys.sorted())")
        #expect(try await queue.deadLetters(queue: name).isEmpty, "quarantined jobs that never ran")
        #expect(worker.unreceivedClaimsReleased > 0, "no claim reply was lost: the test did not test anything")
    }

    @Test("dead letters older than the retention are deleted in bounded batches, newer ones kept, whatever wrote them")
    func deadLetterRetention() async throws {
        let redis = TestServices.redis()
        defer { redis.shutdown() }
        let queue = RedisJobQueue(redis: redis)
        let name = uniqueQueue()
        let dead = QueueKeys(queue: name).dead
        // 1,200 old records (as bury writes them, and as the Lua scripts' cjson writes them) and 10 fresh ones.
        let old = Int64(Date().timeIntervalSince1970 * 1000) - 3 * 86_400_000
        for index in 0..<1_200 {
            let record =
                index % 2 == 0
                ? #"{"id":"old-\#(index)","job":"{}","error":"e","attempt":1,"failedAtMs":\#(old)}"#
                : #"{"attempt":0,"error":"malformed","failedAtMs":\#(old),"id":"old-\#(index)","job":"x"}"#
            _ = try await redis.send(["HSET", RedisArgument(dead), RedisArgument("old-\(index)"), RedisArgument(record)])
        }
        for index in 0..<10 {
            let job = try encodedEcho(index, maxAttempts: 1)
            try await queue.enqueue(raw: job.bytes, id: job.id, queue: name, dedupeKey: nil)
            let claimed = try #require(try await queue.claim(from: [name], workerId: "w", max: 1, lease: .seconds(10)).first)
            #expect(try await queue.bury(claimed, workerId: "w", envelope: claimed.envelope, attempt: 1, error: "failed"))
        }
        var deleted = 0
        var calls = 0
        var walkDone = false
        while !walkDone {
            let batch = try await queue.pruneDeadLetters(queue: name, olderThan: .seconds(86_400), batch: 100)
            deleted += batch.deleted
            walkDone = batch.walkDone
            calls += 1
            #expect(calls < 100, "the walk ends")
            if calls >= 100 { break }
        }
        #expect(calls > 1, "one call looks at a batch, not at everything")
        #expect(deleted == 1_200)
        #expect(try await queue.stats(queue: name).dead == 10)
        #expect(try await queue.pruneDeadLetters(queue: name, olderThan: .seconds(86_400)).deleted == 0)
    }

    @Test("a live worker's heartbeat keeps its lease; a lost lease makes its late ack a no-op")
    func heartbeatKeepsLease() async throws {
        let redis = TestServices.redis()
        defer { redis.shutdown() }
        let queue = RedisJobQueue(redis: redis)
        let name = uniqueQueue()
        let job = try encodedEcho(1)
        try await queue.enqueue(raw: job.bytes, id: job.id, queue: name, dedupeKey: nil)
        // Renewed every 2 s with a lease of 8 s, 6 times: past the first lease, and a stall of 5 s spares it (a test
        // process beside a release build was seen stalled for more than 3 s).
        let claimed = try await queue.claim(from: [name], workerId: "alive", max: 1, lease: .seconds(8))
        for _ in 0..<6 {
            try await Task.sleep(for: .seconds(2))
            #expect(try await queue.extendLeases(queue: name, jobIds: [job.id], workerId: "alive", lease: .seconds(8)) == 1)
            #expect(try await queue.maintain(queue: name, maxRecoveries: 3).recovered == 0)
        }
        // Renewals stop: the lease runs out, and its expiry is waited for.
        var recovered = 0
        let lost = try await TestServices.eventually(timeout: .seconds(30), every: .milliseconds(100)) {
            recovered += try await queue.maintain(queue: name, maxRecoveries: 3).recovered
            return recovered > 0
        }
        #expect(lost && recovered == 1)
        #expect(try await queue.extendLeases(queue: name, jobIds: [job.id], workerId: "alive", lease: .seconds(1)) == 0)
        #expect(try await queue.ack(claimed[0], workerId: "alive") == false)
        #expect(try await queue.stats(queue: name).ready == 1)
    }

    @Test("a group limit keeps a slot for the other queues: slow jobs of the group never take them all")
    func groupLimitKeepsASlotFree() async throws {
        let redis = TestServices.redis()
        defer { redis.shutdown() }
        let queue = RedisJobQueue(redis: redis)
        let (slow, fast) = (uniqueQueue("slow"), uniqueQueue("fast"))
        for value in 0..<6 {
            try await queue.enqueueEcho(value, to: slow)
        }
        let release = Atomic<Bool>(false)
        let running = Atomic<Int>(0)
        let mostRunning = Atomic<Int>(0)
        let fastDone = Atomic<Int>(0)
        var registry = JobRegistry()
        registry.register(EchoJob.self) { envelope, context in
            if envelope.payload.value >= 100 {
                fastDone.add(1, ordering: .sequentiallyConsistent)
                return
            }
            let now = running.add(1, ordering: .sequentiallyConsistent).newValue
            mostRunning.max(now, ordering: .sequentiallyConsistent)
            while !release.load(ordering: .sequentiallyConsistent) { try await Task.sleep(for: .milliseconds(10)) }
            running.subtract(1, ordering: .sequentiallyConsistent)
        }
        var configuration = JobWorkerConfiguration(queues: [slow, fast], concurrency: 4)
        configuration.groupLimit = QueueGroupLimit(queues: [slow], maxInFlight: 3)
        let worker = JobWorker(queue: queue, registry: registry, configuration: configuration, logger: self.logger)
        let done = try await runWorkers([worker], timeout: .seconds(30)) {
            // While the slow jobs hold their slots, fast jobs keep arriving and must keep getting through.
            if fastDone.load(ordering: .sequentiallyConsistent) < 5 {
                try await queue.enqueueEcho(100 + fastDone.load(ordering: .sequentiallyConsistent), to: fast)
                try await Task.sleep(for: .milliseconds(50))
                return false
            }
            release.store(true, ordering: .sequentiallyConsistent)
            let stats = try await queue.stats(queue: slow)
            return stats.ready == 0 && stats.inflight == 0
        }
        #expect(done)
        #expect(mostRunning.load(ordering: .sequentiallyConsistent) == 3)
    }

    @Test("a handler that never returns is abandoned after the job timeout: its slot frees, and the job ends in dead letters")
    func hungHandlerTimesOut() async throws {
        let redis = TestServices.redis()
        defer { redis.shutdown() }
        let queue = RedisJobQueue(redis: redis)
        let name = uniqueQueue()
        let hung = try encodedEcho(0, maxAttempts: 2)
        try await queue.enqueue(raw: hung.bytes, id: hung.id, queue: name, dedupeKey: nil)
        final class Flag: Sendable { let raised = Atomic<Bool>(false) }
        let stop = Flag()
        let others = Atomic<Int>(0)
        var registry = JobRegistry()
        registry.register(EchoJob.self) { envelope, _ in
            guard envelope.payload.value == 0 else {
                others.add(1, ordering: .sequentiallyConsistent)
                return
            }
            // Hangs and ignores cancellation, like a call whose connection vanished without an error (a detached
            // task's value is awaited whatever happens to the waiting task).
            await Task.detached {
                while !stop.raised.load(ordering: .sequentiallyConsistent) { try? await Task.sleep(for: .milliseconds(10)) }
            }.value
        }
        var configuration = JobWorkerConfiguration(queues: [name], concurrency: 1)
        // Long enough that the jobs that return at once are not timed out by a stalled test process.
        configuration.jobTimeout = .seconds(3)
        configuration.heartbeatInterval = .milliseconds(50)
        configuration.backoff = RetryBackoff(base: .milliseconds(20), cap: .milliseconds(50))
        configuration.maintenanceInterval = .milliseconds(50)
        let worker = JobWorker(queue: queue, registry: registry, configuration: configuration, logger: self.logger)
        let done = try await runWorkers([worker], timeout: .seconds(30)) {
            if others.load(ordering: .sequentiallyConsistent) < 3 {
                try await queue.enqueueEcho(1, to: name)
            }
            let letters = try await queue.deadLetters(queue: name)
            return others.load(ordering: .sequentiallyConsistent) >= 3 && letters.contains { $0.id == hung.id }
        }
        stop.raised.store(true, ordering: .sequentiallyConsistent)
        #expect(done, "the only slot came free for other jobs, and the hung job reached dead letters")
        let letter = try #require(try await queue.deadLetters(queue: name).first { $0.id == hung.id })
        #expect(letter.error.contains("timed out") && letter.attempt == 2)
    }

    @Test func backoffGrowsAndIsCapped() {
        let backoff = RetryBackoff(base: .seconds(1), cap: .seconds(60))
        for failures in 1...12 {
            let delay = backoff.delay(afterFailures: failures)
            let ceiling = min(Duration.seconds(1) * (1 << (failures - 1)), .seconds(60))
            #expect(delay <= ceiling && delay >= ceiling / 2)
        }
    }

    @Test("Redis errors surface; after SCRIPT FLUSH (as after a Redis restart) the queue's scripts are loaded again on demand")
    func redisErrorsSurfaceAndNoScriptReloads() async throws {
        // SCRIPT FLUSH empties the whole server's script cache: on a server of its own, not the one every suite shares.
        let server = try ScratchRedis()
        defer { Task { await server.stop() } }
        let redis = RedisClient(configuration: RedisConfiguration(host: "127.0.0.1", port: server.port))
        defer { redis.shutdown() }
        #expect(await TestServices.eventually(timeout: .seconds(30), every: .milliseconds(50)) { (try? await redis.send(["PING"]).text) == "PONG" })
        await #expect(throws: RedisError.self) { try await redis.send(["NOSUCHCOMMAND"]).orThrow() }
        let queue = RedisJobQueue(redis: redis)
        let name = uniqueQueue()
        try await queue.enqueueEcho(1, to: name)
        #expect(try await queue.stats(queue: name).ready == 1)
        #expect(try await redis.send(["SCRIPT", "FLUSH"]).text == "OK")
        try await queue.enqueueEcho(2, to: name)
        #expect(try await queue.stats(queue: name).ready == 2, "the scripts ran again after the flush")
    }
}
