import Foundation
import JobQueue
import JobQueueTesting
import Logging
import ServiceLifecycle
import Synchronization
import Testing

@testable import ShopifyAdmin
@testable import WorkerApp

/// The worker loop on the in-memory driver: claiming, prefetch, settling, retries, timeouts and shutdown, with no
/// Redis, so each behaviour is tested alone and fast.
@Suite("Job worker on the in-memory queue")
struct JobWorkerTests {
    let logger = TestServices.logger

    func worker(
        _ queue: any JobQueueDriver,
        queues: [String],
        concurrency: Int = 4,
        prefetch: Int = 0,
        jobTimeout: Duration? = nil,
        lease: Duration? = nil,
        maxRecoveries: Int? = nil,
        shutdownGrace: Duration? = nil,
        handler: @escaping @Sendable (JobEnvelope<EchoJob.Payload>, JobContext) async throws -> Void
    ) -> JobWorker {
        var registry = JobRegistry()
        registry.register(EchoJob.self, handler: handler)
        var configuration = JobWorkerConfiguration(queues: queues, concurrency: concurrency)
        configuration.prefetch = prefetch
        configuration.backoff = RetryBackoff(base: .milliseconds(10), cap: .milliseconds(40))
        configuration.maintenanceInterval = .milliseconds(20)
        configuration.heartbeatInterval = .milliseconds(100)
        if let jobTimeout { configuration.jobTimeout = jobTimeout }
        if let lease { configuration.lease = lease }
        if let maxRecoveries { configuration.maxRecoveries = maxRecoveries }
        if let shutdownGrace { configuration.shutdownGrace = shutdownGrace }
        return JobWorker(queue: queue, registry: registry, configuration: configuration, logger: self.logger)
    }

    func put(_ values: Range<Int>, maxAttempts: Int = EchoJob.maxAttempts, in name: String, on queue: MemoryJobQueue) throws {
        for value in values { queue.enqueue(try encodedEcho(value, maxAttempts: maxAttempts).bytes, to: name) }
    }

    @Test("every job runs once and is acked, with and without prefetch", arguments: [0, 3])
    func everyJobOnce(prefetch: Int) async throws {
        let queue = MemoryJobQueue()
        let name = uniqueQueue()
        try self.put(0..<300, in: name, on: queue)
        let runs = Mutex<[Int: Int]>([:])
        let worker = self.worker(queue, queues: [name], prefetch: prefetch) { envelope, _ in
            runs.withLock { $0[envelope.payload.value, default: 0] += 1 }
        }
        let done = try await runWorkers([worker], timeout: .seconds(30)) {
            let stats = queue.stats(queue: name)
            return runs.withLock { $0.count } == 300 && stats.ready == 0 && stats.inflight == 0
        }
        #expect(done, "\(queue.stats(queue: name))")
        #expect(runs.withLock { $0.values.allSatisfy { $0 == 1 } })
    }

    @Test("a failing job is retried with a bumped attempt until its last, then buried with its error")
    func failuresEndInDeadLetters() async throws {
        let queue = MemoryJobQueue()
        let name = uniqueQueue()
        try self.put(0..<1, maxAttempts: 3, in: name, on: queue)
        let attempts = Mutex<[Int]>([])
        let worker = self.worker(queue, queues: [name]) { envelope, _ in
            attempts.withLock { $0.append(envelope.attempt) }
            throw PermanentlyBroken()
        }
        let buried = try await runWorkers([worker], timeout: .seconds(30)) { queue.stats(queue: name).dead == 1 }
        #expect(buried)
        #expect(attempts.withLock { $0 } == [0, 1, 2])
        let letter = try #require(queue.deadLetters(queue: name).first)
        #expect(letter.attempt == 3 && letter.error == "broken")
    }

    @Test("retry-later defers the job without spending an attempt; a permanent error buries it at once")
    func retryLaterAndPermanent() async throws {
        let queue = MemoryJobQueue()
        let name = uniqueQueue()
        try self.put(0..<2, maxAttempts: 2, in: name, on: queue)
        let runs = Mutex<[Int: [Int]]>([:])
        let worker = self.worker(queue, queues: [name]) { envelope, _ in
            let count = runs.withLock { runs in
                runs[envelope.payload.value, default: []].append(envelope.attempt)
                return runs[envelope.payload.value]!.count
            }
            if envelope.payload.value == 1 { throw PermanentJobError(code: "refused", message: "no") }
            if count < 4 { throw JobRetryLater(after: .milliseconds(10), reason: "throttled") }
        }
        let settled = try await runWorkers([worker], timeout: .seconds(30)) {
            let stats = queue.stats(queue: name)
            return stats.dead == 1 && stats.ready == 0 && stats.inflight == 0 && stats.delayed == 0 && runs.withLock { $0[0]?.count } == 4
        }
        #expect(settled, "\(queue.stats(queue: name))")
        #expect(runs.withLock { $0[0] } == [0, 0, 0, 0], "deferrals spend no attempt")
        #expect(runs.withLock { $0[1] } == [0], "a permanent error is not retried")
    }

    @Test("a handler that meets Shopify's rate limit is deferred, not failed: the worker's registry maps ShopifyThrottled")
    func shopifyThrottleIsDeferred() async throws {
        let queue = MemoryJobQueue()
        let name = uniqueQueue()
        try self.put(0..<1, maxAttempts: 1, in: name, on: queue)
        let attempts = Mutex<[Int]>([])
        var registry = JobRegistry()
        registry.mapError = { error in JobRetryLater.retry(for: error) ?? error }
        registry.register(EchoJob.self) { envelope, _ in
            let count = attempts.withLock { attempts in
                attempts.append(envelope.attempt)
                return attempts.count
            }
            if count < 3 { throw ShopifyThrottled(retryAfter: .milliseconds(10), reason: "THROTTLED") }
        }
        var configuration = JobWorkerConfiguration(queues: [name], concurrency: 1)
        configuration.maintenanceInterval = .milliseconds(20)
        let worker = JobWorker(queue: queue, registry: registry, configuration: configuration, logger: self.logger)
        let done = try await runWorkers([worker], timeout: .seconds(30)) {
            let stats = queue.stats(queue: name)
            return attempts.withLock { $0.count } == 3 && stats.ready == 0 && stats.inflight == 0 && stats.delayed == 0
        }
        #expect(done, "\(queue.stats(queue: name))")
        #expect(attempts.withLock { $0 } == [0, 0, 0], "with one attempt allowed, only deferrals let it run three times")
        #expect(queue.stats(queue: name).dead == 0)
    }

    @Test("a handler that never returns is abandoned after the job timeout; its slot frees for the next job")
    func timeouts() async throws {
        let queue = MemoryJobQueue()
        let name = uniqueQueue()
        try self.put(0..<3, maxAttempts: 1, in: name, on: queue)
        let finished = Mutex<Set<Int>>([])
        // A timeout of 5 s: the jobs that return at once must not be timed out by a stalled test process.
        let worker = self.worker(queue, queues: [name], concurrency: 1, jobTimeout: .seconds(5)) { envelope, _ in
            if envelope.payload.value == 0 { try await Task.sleep(for: .seconds(3600)) }
            _ = finished.withLock { $0.insert(envelope.payload.value) }
        }
        let done = try await runWorkers([worker], timeout: .seconds(30)) {
            queue.stats(queue: name).dead == 1 && finished.withLock { $0 } == [1, 2]
        }
        #expect(done, "\(queue.stats(queue: name))")
        #expect(queue.deadLetters(queue: name).first?.error.contains("timed out") == true)
    }

    @Test("on shutdown held jobs go back at once, a running job past the grace period after it; none is lost")
    func shutdownHandsBack() async throws {
        let queue = MemoryJobQueue()
        let name = uniqueQueue()
        try self.put(0..<4, in: name, on: queue)
        let started = Mutex<[Int]>([])
        let worker = self.worker(queue, queues: [name], concurrency: 1, prefetch: 2, shutdownGrace: .milliseconds(200)) {
            envelope,
            _ in
            started.withLock { $0.append(envelope.payload.value) }
            try await Task.sleep(for: .seconds(3600))
        }
        let group = ServiceGroup(configuration: .init(services: [worker], logger: self.logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let holding = try await TestServices.eventually(timeout: .seconds(30)) { queue.stats(queue: name).inflight == 3 }
            #expect(holding, "one running, two held")
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(started.withLock { $0 } == [0])
        let stats = queue.stats(queue: name)
        #expect(stats.ready == 4 && stats.inflight == 0 && stats.dead == 0, "\(stats)")
        #expect(queue.workers.isEmpty, "the worker removed its report")
    }

    @Test("claims whose answer is lost are handed back: every job runs once, none is recovered or quarantined")
    func lostClaimAnswers() async throws {
        let memory = MemoryJobQueue()
        memory.loseClaimAnswers(every: 3)
        let name = uniqueQueue()
        try self.put(0..<60, in: name, on: memory)
        let runs = Mutex<[Int: Int]>([:])
        // A lost claim is handed back a second after it; a lease of 10 s is what a stalled machine may not beat
        // (with 2 s, a test run beside a release build saw leases expire first and jobs quarantined).
        let worker = self.worker(memory, queues: [name], lease: .seconds(10), maxRecoveries: 0) { envelope, _ in
            runs.withLock { $0[envelope.payload.value, default: 0] += 1 }
        }
        let done = try await runWorkers([worker], timeout: .seconds(30)) {
            let stats = memory.stats(queue: name)
            return runs.withLock { $0.count } == 60 && stats.ready == 0 && stats.inflight == 0
        }
        #expect(done, "\(memory.stats(queue: name))")
        #expect(runs.withLock { $0.values.allSatisfy { $0 == 1 } })
        #expect(memory.stats(queue: name).dead == 0)
        #expect(memory.lostClaimAnswers > 0 && worker.unreceivedClaimsReleased > 0)
    }
}

struct PermanentlyBroken: Error, CustomStringConvertible {
    var description: String { "broken" }
}
