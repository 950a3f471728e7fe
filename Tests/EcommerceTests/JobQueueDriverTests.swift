import Foundation
import JobQueue
import JobQueueTesting
import RedisClient
import Testing

/// One contract, two drivers: the Redis queue and the in-memory one that unit tests use, held to the same answers.
@Suite("Job queue drivers: one contract")
struct JobQueueDriverConformanceTests {
    /// A driver under test, with what the contract leaves to each driver: how a test puts an envelope in.
    enum Driver: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case redis, memory

        var testDescription: String { self.rawValue }

        func make() -> TestQueue {
            switch self {
            case .redis:
                let client = TestServices.redis()
                let queue = RedisJobQueue(redis: client)
                return TestQueue(
                    driver: queue,
                    close: { client.shutdown() },
                    put: { bytes, name in _ = try await queue.enqueue(raw: bytes, id: "", queue: name, dedupeKey: nil) },
                    dead: { name in try await queue.deadLetters(queue: name) }
                )
            case .memory:
                let queue = MemoryJobQueue()
                return TestQueue(
                    driver: queue,
                    close: {},
                    put: { bytes, name in queue.enqueue(bytes, to: name) },
                    dead: { queue.deadLetters(queue: $0) }
                )
            }
        }
    }

    struct TestQueue {
        var driver: any JobQueueDriver
        var close: @Sendable () -> Void
        var put: @Sendable ([UInt8], String) async throws -> Void
        /// The queue's dead letters (not part of what a worker needs, so not in the contract).
        var dead: @Sendable (String) async throws -> [DeadLetter]

        /// Puts Echo jobs carrying `values` in `queue`; their ids in order.
        @discardableResult
        func put(_ values: [Int], in queue: String) async throws -> [String] {
            var ids: [String] = []
            for value in values {
                let job = try encodedEcho(value)
                try await self.put(job.bytes, queue)
                ids.append(job.id)
            }
            return ids
        }

        func claim(
            _ queue: String,
            by worker: String,
            max: Int,
            lease: Duration = .seconds(30),
            shopCap: Int = 0,
            acking: [ClaimedJob] = []
        ) async throws -> (
            jobs: [ClaimedJob], acked: [Bool]
        ) {
            try await self.driver.claim(from: [queue], workerId: worker, max: max, lease: lease, shopCaps: [queue: shopCap], acking: acking)
        }
    }

    @Test("claims come oldest first, leased to their worker; an ack rides on the next claim; only the holder settles", arguments: Driver.allCases)
    func claimAndAck(driver: Driver) async throws {
        let queue = driver.make()
        defer { queue.close() }
        let name = uniqueQueue()
        let ids = try await queue.put([1, 2, 3], in: name)
        let first = try await queue.claim(name, by: "w1", max: 2)
        #expect(first.jobs.map(\.id) == Array(ids.prefix(2)) && first.acked.isEmpty)
        #expect(try await queue.driver.ack(first.jobs[0], workerId: "w2") == false, "another worker's ack changes nothing")
        let second = try await queue.claim(name, by: "w1", max: 5, acking: [first.jobs[0]])
        #expect(second.acked == [true] && second.jobs.map(\.id) == [ids[2]])
        #expect(try await queue.driver.ack(first.jobs[0], workerId: "w1") == false, "acked once only")
        let ackOnly = try await queue.claim(name, by: "w1", max: 0, acking: [first.jobs[1], second.jobs[0]])
        #expect(ackOnly.acked == [true, true] && ackOnly.jobs.isEmpty)
        #expect(try await queue.claim(name, by: "w1", max: 5).jobs.isEmpty)
    }

    @Test("a retry waits for its delay and keeps the envelope it was given; a burial keeps the error", arguments: Driver.allCases)
    func retryAndBury(driver: Driver) async throws {
        let queue = driver.make()
        defer { queue.close() }
        let name = uniqueQueue()
        try await queue.put([1, 2], in: name)
        let jobs = try await queue.claim(name, by: "w1", max: 2).jobs
        var envelope = try JobCoding.decoder().decode(JobEnvelope<EchoJob.Payload>.self, from: Data(jobs[0].envelope))
        envelope.attempt = 1
        let bumped = Array(try JobCoding.encoder().encode(envelope))
        #expect(try await queue.driver.retry(jobs[0], workerId: "w2", envelope: bumped, after: .zero) == false)
        // Due in 6 s: the check right after cannot be beaten by a stalled machine, and the promotion is waited for.
        #expect(try await queue.driver.retry(jobs[0], workerId: "w1", envelope: bumped, after: .seconds(6)) == true)
        #expect(try await queue.driver.maintain(queue: name, maxRecoveries: 3).promoted == 0, "not due yet")
        var promoted = 0
        let due = try await TestServices.eventually(timeout: .seconds(30), every: .milliseconds(100)) {
            promoted += try await queue.driver.maintain(queue: name, maxRecoveries: 3).promoted
            return promoted > 0
        }
        #expect(due && promoted == 1)
        let again = try await queue.claim(name, by: "w1", max: 1).jobs
        #expect(again.map(\.id) == [jobs[0].id] && again.first?.header.attempt == 1)
        #expect(try await queue.driver.bury(jobs[1], workerId: "w1", envelope: jobs[1].envelope, attempt: 5, error: "no") == true)
        #expect(try await queue.driver.bury(jobs[1], workerId: "w1", envelope: jobs[1].envelope, attempt: 5, error: "no") == false)
        let dead = try await queue.dead(name)
        #expect(dead.map(\.id) == [jobs[1].id] && dead.first?.error == "no" && dead.first?.attempt == 5)
    }

    @Test("a released job is the next claimed; claims whose answer was lost are handed back, held ones kept", arguments: Driver.allCases)
    func releaseAndUnreceived(driver: Driver) async throws {
        let queue = driver.make()
        defer { queue.close() }
        let name = uniqueQueue()
        try await queue.put([1, 2, 3, 4], in: name)
        let jobs = try await queue.claim(name, by: "w1", max: 3).jobs
        #expect(try await queue.driver.release(jobs[2], workerId: "w1") == true)
        #expect(try await queue.claim(name, by: "w2", max: 1).jobs.map(\.id) == [jobs[2].id], "back at the consuming end")
        let handedBack = try await queue.driver.releaseUnreceived(queue: name, workerId: "w1", holding: [jobs[0].id])
        #expect(handedBack == 1)
        #expect(try await queue.claim(name, by: "w2", max: 1).jobs.map(\.id) == [jobs[1].id])
        #expect(try await queue.driver.ack(jobs[0], workerId: "w1") == true, "the held job stayed claimed")
    }

    @Test("an expired lease is recovered, then quarantined past the recoveries allowed; renewals keep only the holder's", arguments: Driver.allCases)
    func leasesAndRecovery(driver: Driver) async throws {
        let queue = driver.make()
        defer { queue.close() }
        let name = uniqueQueue()
        try await queue.put([1, 2], in: name)
        // Leases of 6 s, renewed at once: a stalled test process cannot let one expire before its renewal.
        let jobs = try await queue.claim(name, by: "w1", max: 2, lease: .seconds(6)).jobs
        #expect(try await queue.driver.extendLeases(queue: name, jobIds: jobs.map(\.id), workerId: "w2", lease: .seconds(30)) == 0)
        #expect(try await queue.driver.extendLeases(queue: name, jobIds: [jobs[1].id], workerId: "w1", lease: .seconds(30)) == 1)
        /// Maintenance passes until one recovers or quarantines something; their sum.
        func maintainUntilExpired() async throws -> QueueMaintenance {
            var total = QueueMaintenance()
            _ = try await TestServices.eventually(timeout: .seconds(30), every: .milliseconds(100)) {
                let pass = try await queue.driver.maintain(queue: name, maxRecoveries: 1)
                total.recovered += pass.recovered
                total.quarantined += pass.quarantined
                return total.recovered + total.quarantined > 0
            }
            return total
        }
        let first = try await maintainUntilExpired()
        #expect(first.recovered == 1 && first.quarantined == 0, "\(first)")
        let reclaimed = try await queue.claim(name, by: "w3", max: 2, lease: .milliseconds(100)).jobs
        #expect(reclaimed.map(\.id) == [jobs[0].id])
        let second = try await maintainUntilExpired()
        #expect(second.recovered == 0 && second.quarantined == 1, "\(second)")
        #expect(try await queue.dead(name).first?.error.hasPrefix("quarantined") == true)
        #expect(try await queue.driver.ack(jobs[0], workerId: "w1") == false)
        #expect(try await queue.driver.ack(jobs[1], workerId: "w1") == true)
    }

    @Test("an element that is not an envelope goes to dead letters at once; the claim goes on with the next", arguments: Driver.allCases)
    func malformedElements(driver: Driver) async throws {
        let queue = driver.make()
        defer { queue.close() }
        let name = uniqueQueue()
        try await queue.put(Array("not json".utf8), name)
        try await queue.put(Array(#"{"id":"no-kind"}"#.utf8), name)
        let ids = try await queue.put([7], in: name)
        let claimed = try await queue.claim(name, by: "w1", max: 3).jobs
        #expect(claimed.map(\.id) == ids)
        let dead = try await queue.dead(name)
        #expect(dead.count == 2 && dead.allSatisfy { $0.error.hasPrefix("malformed envelope") }, "\(dead.map(\.error))")
        #expect(dead.contains { $0.id == "no-kind" }, "buried under its id when it has one")
        #expect(try await queue.driver.maintain(queue: name, maxRecoveries: 3) == QueueMaintenance())
    }
}
