import Foundation
import JobQueue
import Synchronization

/// The ``JobQueueDriver`` contract in memory, for unit tests of the worker loop and of handlers: no Redis, time
/// from `ContinuousClock`, one lock around everything (each call is atomic, as a Redis script is).
///
/// Never a production choice: what it holds dies with the process.
public final class MemoryJobQueue: JobQueueDriver {
    fileprivate struct Claim {
        var envelope: [UInt8]
        var owner: String
        var expiry: ContinuousClock.Instant
    }

    /// A ready job with its fair tag (``FairShare``).
    fileprivate struct ReadyJob {
        var tag: Int
        var envelope: [UInt8]
    }

    fileprivate struct Queue {
        /// Ready jobs by fair tag, the next to claim first (equal tags in arrival order).
        var ready: [ReadyJob] = []
        /// The tag of the last job claimed.
        var clock = 0
        /// Per shop group with ready jobs, the last tag given to one of them.
        var lastTag: [String: Int] = [:]
        var inFlight: [String: Claim] = [:]
        var delayed: [(due: ContinuousClock.Instant, envelope: [UInt8])] = []
        var dead: [String: DeadLetter] = [:]
        var recoveries: [String: Int] = [:]
    }

    private struct State {
        var queues: [String: Queue] = [:]
        var workers: [String: WorkerReport] = [:]
        /// Every this many claims that take jobs, the claim runs and then fails, as a broken connection would.
        var loseClaimAnswersEvery: Int?
        var claimsTakingJobs = 0
        var lostClaimAnswers = 0
    }

    /// The error of a claim whose answer was lost (see ``loseClaimAnswers(every:)``).
    public struct ClaimAnswerLost: Error {}

    private let state = Mutex(State())

    public init() {}

    // MARK: Producing and inspecting (what tests arrange and look at)

    /// Adds an encoded envelope to `queue`, at its shop's next turn.
    public func enqueue(_ envelope: [UInt8], to queue: String) {
        self.state.withLock { $0.queues[queue, default: Queue()].addReady(envelope, waited: false) }
    }

    /// Adds a typed job to its queue.
    public func enqueue<Job: JobDefinition>(_ job: Job.Type, _ envelope: JobEnvelope<Job.Payload>) throws {
        self.enqueue(Array(try JobCoding.encoder().encode(envelope)), to: Job.queue)
    }

    /// The queue's numbers, as ``RedisJobQueue/stats(queue:)`` gives them (the oldest ready age is not kept: 0).
    public func stats(queue name: String) -> QueueStats {
        self.state.withLock { state in
            let queue = state.queues[name] ?? Queue()
            return QueueStats(
                queue: name,
                ready: queue.ready.count,
                inflight: queue.inFlight.count,
                delayed: queue.delayed.count,
                dead: queue.dead.count,
                oldestReadyAgeSeconds: 0,
                shops: Set(queue.ready.map { FairShare.group(of: $0.envelope) }).count,
                largestBacklogs: Dictionary(grouping: queue.ready) { FairShare.group(of: $0.envelope) }
                    .map { ShopBacklog(group: $0.key, ready: $0.value.count) }
                    .sorted { ($0.ready, $1.group) > ($1.ready, $0.group) }
                    .prefix(5).map { $0 }
            )
        }
    }

    /// The queue's dead letters, newest first.
    public func deadLetters(queue: String) -> [DeadLetter] {
        self.state.withLock { state in (state.queues[queue]?.dead.values).map(Array.init) ?? [] }.sorted { $0.failedAtMs > $1.failedAtMs }
    }

    /// The ids of the jobs leased to `workerId` in `queue`.
    public func claimedIds(queue: String, workerId: String) -> Set<String> {
        self.state.withLock { state in Set((state.queues[queue]?.inFlight ?? [:]).filter { $0.value.owner == workerId }.keys) }
    }

    /// From now on every `every`th claim that takes jobs runs and then throws ``ClaimAnswerLost``: the jobs are
    /// leased to the worker, which never hears of them.
    public func loseClaimAnswers(every: Int) {
        self.state.withLock { $0.loseClaimAnswersEvery = every }
    }

    /// How many claim answers were lost so far.
    public var lostClaimAnswers: Int { self.state.withLock { $0.lostClaimAnswers } }

    /// The workers' latest reports.
    public var workers: [WorkerReport] { self.state.withLock { Array($0.workers.values) } }

    // MARK: JobQueueDriver

    public func claim(
        from queues: [String],
        workerId: String,
        max: Int,
        lease: Duration,
        shopCaps: [String: Int],
        acking finished: [ClaimedJob]
    ) async throws -> (jobs: [ClaimedJob], acked: [Bool]) {
        let (result, lost) = self.state.withLock { state in
            let acked = finished.map { Self.settle($0, workerId: workerId, in: &state) != nil }
            var jobs: [ClaimedJob] = []
            let now = ContinuousClock.now
            for name in queues where jobs.count < max {
                var queue = state.queues[name] ?? Queue()
                let cap = shopCaps[name] ?? 0
                var running: [String: Int] = [:]
                for claim in queue.inFlight.values { running[FairShare.group(of: claim.envelope), default: 0] += 1 }
                // As the claim script: past the capped shops' jobs, which keep their place, within a bounded look;
                // a second look from the clock on when the first ran out of budget. True when the look did.
                func scan(above floor: Int?, budget: Int) -> Bool {
                    var index = queue.ready.firstIndex { job in floor.map { job.tag > $0 } ?? true } ?? queue.ready.count
                    var looked = 0
                    while jobs.count < max, index < queue.ready.count, looked < budget {
                        looked += 1
                        let group = FairShare.group(of: queue.ready[index].envelope)
                        if cap > 0, running[group, default: 0] >= cap {
                            index += 1
                            continue
                        }
                        let raw = queue.take(at: index)
                        do {
                            let header = try JobHeader(json: raw)
                            queue.inFlight[header.id] = Claim(envelope: raw, owner: workerId, expiry: now + lease)
                            running[group, default: 0] += 1
                            jobs.append(ClaimedJob(queue: name, header: header, envelope: raw))
                        } catch {
                            // As the Redis driver: buried at once, under its id if it has one.
                            let id = JobHeader.id(in: raw) ?? "malformed-\(Self.fingerprint(raw))"
                            queue.dead[id] = DeadLetter(
                                id: id,
                                job: String(decoding: raw, as: UTF8.self),
                                error: "malformed envelope: \(error)",
                                attempt: 0,
                                failedAtMs: Self.nowMs()
                            )
                        }
                    }
                    return looked >= budget
                }
                let budget = (max - jobs.count) * 4 + 64
                if scan(above: nil, budget: budget), jobs.count < max { _ = scan(above: queue.clock, budget: budget) }
                state.queues[name] = queue
            }
            guard !jobs.isEmpty, let every = state.loseClaimAnswersEvery else { return ((jobs, acked), false) }
            state.claimsTakingJobs += 1
            let lost = state.claimsTakingJobs % every == 0
            if lost { state.lostClaimAnswers += 1 }
            return ((jobs, acked), lost)
        }
        if lost { throw ClaimAnswerLost() }
        return result
    }

    public func ack(_ job: ClaimedJob, workerId: String) async throws -> Bool {
        self.state.withLock { Self.settle(job, workerId: workerId, in: &$0) != nil }
    }

    public func retry(_ job: ClaimedJob, workerId: String, envelope: [UInt8], after delay: Duration) async throws -> Bool {
        self.state.withLock { state in
            guard Self.settle(job, workerId: workerId, in: &state, keepRecoveries: true) != nil else { return false }
            state.queues[job.queue, default: Queue()].delayed.append((ContinuousClock.now + delay, envelope))
            return true
        }
    }

    public func bury(_ job: ClaimedJob, workerId: String, envelope: [UInt8], attempt: Int, error: String) async throws -> Bool {
        self.state.withLock { state in
            guard Self.settle(job, workerId: workerId, in: &state) != nil else { return false }
            state.queues[job.queue, default: Queue()].dead[job.id] = DeadLetter(
                id: job.id,
                job: String(decoding: envelope, as: UTF8.self),
                error: error,
                attempt: attempt,
                failedAtMs: Self.nowMs()
            )
            return true
        }
    }

    public func release(_ job: ClaimedJob, workerId: String) async throws -> Bool {
        self.state.withLock { state in
            guard let claim = Self.settle(job, workerId: workerId, in: &state, keepRecoveries: true) else { return false }
            state.queues[job.queue, default: Queue()].addReady(claim.envelope, waited: true)
            return true
        }
    }

    public func releaseUnreceived(queue name: String, workerId: String, holding: Set<String>) async throws -> Int {
        self.state.withLock { state in
            guard var queue = state.queues[name] else { return 0 }
            let unreceived = queue.inFlight.filter { $0.value.owner == workerId && !holding.contains($0.key) }
            for (id, claim) in unreceived {
                queue.inFlight[id] = nil
                queue.addReady(claim.envelope, waited: true)
            }
            state.queues[name] = queue
            return unreceived.count
        }
    }

    public func extendLeases(queue name: String, jobIds: [String], workerId: String, lease: Duration) async throws -> Int {
        self.state.withLock { state in
            var kept = 0
            let expiry = ContinuousClock.now + lease
            for id in jobIds where state.queues[name]?.inFlight[id]?.owner == workerId {
                state.queues[name]?.inFlight[id]?.expiry = expiry
                kept += 1
            }
            return kept
        }
    }

    public func maintain(queue name: String, maxRecoveries: Int) async throws -> QueueMaintenance {
        self.state.withLock { state in
            guard var queue = state.queues[name] else { return QueueMaintenance() }
            let now = ContinuousClock.now
            let due = queue.delayed.filter { $0.due <= now }
            queue.delayed.removeAll { $0.due <= now }
            for job in due { queue.addReady(job.envelope, waited: false) }
            var result = QueueMaintenance()
            result.promoted = due.count
            for (id, claim) in queue.inFlight where claim.expiry <= now {
                queue.inFlight[id] = nil
                let count = queue.recoveries[id, default: 0] + 1
                if count > maxRecoveries {
                    queue.recoveries[id] = nil
                    queue.dead[id] = DeadLetter(
                        id: id,
                        job: String(decoding: claim.envelope, as: UTF8.self),
                        error: "quarantined: its worker was lost \(count) times while running it",
                        attempt: (try? JobHeader(json: claim.envelope).attempt) ?? 0,
                        failedAtMs: Self.nowMs()
                    )
                    result.quarantined += 1
                } else {
                    queue.recoveries[id] = count
                    queue.addReady(claim.envelope, waited: true)
                    result.recovered += 1
                }
            }
            state.queues[name] = queue
            return result
        }
    }

    public func pruneDeadLetters(queue name: String, olderThan age: Duration) async throws -> (deleted: Int, walkDone: Bool) {
        self.state.withLock { state in
            let cutoff = Self.nowMs() - Int64(age.components.seconds) * 1000
            let old = (state.queues[name]?.dead ?? [:]).filter { $0.value.failedAtMs < cutoff }.keys
            for id in old { state.queues[name]?.dead[id] = nil }
            return (old.count, true)
        }
    }

    public func report(worker: WorkerReport) async throws {
        self.state.withLock { $0.workers[worker.id] = worker }
    }

    public func removeWorker(id: String) async throws {
        _ = self.state.withLock { $0.workers.removeValue(forKey: id) }
    }

    // MARK: Helpers

    /// Ends `job`'s claim if `workerId` holds it; the claim, or nil when it was lost. Recoveries are forgotten when
    /// the job leaves the queue for good (ack, bury), kept when it comes back (retry, release).
    private static func settle(_ job: ClaimedJob, workerId: String, in state: inout State, keepRecoveries: Bool = false) -> Claim? {
        guard let claim = state.queues[job.queue]?.inFlight[job.id], claim.owner == workerId else { return nil }
        state.queues[job.queue]?.inFlight[job.id] = nil
        if !keepRecoveries { state.queues[job.queue]?.recoveries[job.id] = nil }
        return claim
    }

    /// FNV-1a: the same bytes always get the same dead-letter id, as the Redis driver's SHA-1 does.
    private static func fingerprint(_ bytes: [UInt8]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return String(hash, radix: 16)
    }

    private static func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}

extension MemoryJobQueue.Queue {
    /// As ``FairShare``'s `addReady`: at the group's next tag, or at the clock for a job that has waited.
    fileprivate mutating func addReady(_ envelope: [UInt8], waited: Bool) {
        var tag = self.clock
        if !waited {
            let group = FairShare.group(of: envelope)
            tag = Swift.max(self.lastTag[group] ?? 0, self.clock) + 1
            self.lastTag[group] = tag
        }
        let position = self.ready.firstIndex { $0.tag > tag } ?? self.ready.count
        self.ready.insert(.init(tag: tag, envelope: envelope), at: position)
    }

    /// As ``FairShare``'s `takeReady`: out of the ready jobs, the clock moved to its tag, its group's last tag
    /// forgotten when nothing of the group is left.
    fileprivate mutating func take(at index: Int) -> [UInt8] {
        let job = self.ready.remove(at: index)
        let group = FairShare.group(of: job.envelope)
        if !self.ready.contains(where: { FairShare.group(of: $0.envelope) == group }) { self.lastTag[group] = nil }
        self.clock = Swift.max(self.clock, job.tag)
        return job.envelope
    }
}
