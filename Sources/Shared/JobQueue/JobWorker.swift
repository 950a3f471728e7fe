import Foundation
import JSONBytes
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// How a ``JobWorker`` runs.
public struct JobWorkerConfiguration: Sendable {
    /// Queues to serve, in priority order (the worker rotates the order between claims for fairness).
    public var queues: [String]
    /// Jobs in flight at once in this process.
    public var concurrency: Int
    /// Jobs claimed beyond the free slots and held, leased, until a slot frees (0: none). Holding a few lets one
    /// Redis round trip claim and ack several jobs; held jobs wait behind running ones, so keep it 0 for queues
    /// whose jobs are slow and that other workers could take sooner.
    public var prefetch = 0
    /// How long a claim stays valid without a heartbeat. A worker that dies is noticed at most this long
    /// (plus one maintenance interval) later.
    public var lease: Duration = .seconds(15)
    public var heartbeatInterval: Duration = .seconds(3)
    /// How often this worker promotes due retries and recovers expired leases (every worker does; the scripts
    /// make that safe).
    public var maintenanceInterval: Duration = .seconds(1)
    /// Crash recoveries after which a job is quarantined in dead letters.
    public var maxRecoveries: Int = 3
    /// Dead letters older than this are deleted (nil: kept until someone retries or purges them); the walk over
    /// them takes a batch every `deadLetterPruneInterval`.
    public var deadLetterRetention: Duration?
    public var deadLetterPruneInterval: Duration = .seconds(60)
    /// On shutdown, how long in-flight jobs may take to finish before they are handed back.
    public var shutdownGrace: Duration = .seconds(20)
    public var backoff = RetryBackoff()
    /// The longest pause between claims while the queues are empty.
    public var maxIdleWait: Duration = .milliseconds(50)
    /// A handler still running after this long is abandoned (cancelled, its late outcome dropped) and the job
    /// counted as a failed attempt, so that a call that never returns cannot hold a slot and its lease forever.
    public var jobTimeout: Duration = .seconds(300)
    /// At most this many jobs of these queues in flight at once, so that the other queues always find a free slot
    /// (nil: no limit). Jobs that wait on a shared rate limit can otherwise take every slot.
    public var groupLimit: QueueGroupLimit?

    public init(queues: [String], concurrency: Int) {
        self.queues = queues
        self.concurrency = concurrency
    }
}

/// A cap on the jobs of some queues in flight together in one worker.
public struct QueueGroupLimit: Sendable, Equatable {
    public var queues: Set<String>
    public var maxInFlight: Int

    public init(queues: Set<String>, maxInFlight: Int) {
        self.queues = queues
        self.maxInFlight = max(1, maxInFlight)
    }
}

/// A worker process's job processor: claims jobs, runs their handlers with bounded concurrency, keeps their leases
/// alive, acks, retries or buries them, recovers the jobs of dead workers, and hands unfinished jobs back on
/// graceful shutdown.
public final class JobWorker: Service, Sendable {
    /// This process's identity in claims (`host-pid-random`).
    public let id: String
    private let queue: RedisJobQueue
    private let registry: JobRegistry
    private let configuration: JobWorkerConfiguration
    private let logger: Logger
    private let state = Mutex(State())
    private let metrics: JobMetrics
    private let slotFreed: AsyncStream<Void>
    private let slotFreedSignal: AsyncStream<Void>.Continuation

    private struct InFlight {
        var job: ClaimedJob
        /// This run of the job (the same job id may run again here after a timeout while the old run hangs).
        var run = UUID.random()
        var startedAt = ContinuousClock.now
        var task: Task<Void, Never>?
        var handedBack = false
        /// The handler has returned and the outcome is being recorded: the lease no longer needs renewing.
        var settling = false
    }

    /// A succeeded job whose ack waits for the claim loop's next claim.
    private struct PendingAck {
        var job: ClaimedJob
        /// Resumed with the ack's result, or nil when the claim loop did not send it (the job then acks alone).
        var done: CheckedContinuation<Bool?, Never>
    }

    private struct State {
        var inFlight: [String: InFlight] = [:]
        var shuttingDown = false
        var pendingAcks: [PendingAck] = []
        /// Claimed ahead of a free slot (`prefetch`), in claim order; leased, not started.
        var held: [ClaimedJob] = []
        /// Whether the claim loop is about to claim again, and so can carry acks: false while it sleeps on empty
        /// queues and once it has stopped.
        var claimLoopTakesAcks = false
        /// Jobs handed back because their claim's reply was lost (see ``JobWorker/releaseUnreceivedClaims()``).
        var unreceivedReleased = 0
        /// Jobs abandoned after their timeout whose failure is being recorded: no longer in flight, still leased to
        /// this worker, so never taken for a claim whose reply was lost.
        var recordingAbandoned: Set<String> = []
    }

    public init(queue: RedisJobQueue, registry: JobRegistry, configuration: JobWorkerConfiguration, logger: Logger) {
        self.id = "\(ProcessInfo.processInfo.hostName)-\(getpid())-\(UUID().uuidString.prefix(8).lowercased())"
        self.queue = queue
        self.registry = registry
        self.configuration = configuration
        self.logger = logger
        self.metrics = JobMetrics(queues: configuration.queues)
        (self.slotFreed, self.slotFreedSignal) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Jobs running right now in this process.
    public var inFlightCount: Int { self.state.withLock { $0.inFlight.count } }

    /// Jobs this worker handed back because the reply to their claim was lost, since it started.
    public var unreceivedClaimsReleased: Int { self.state.withLock { $0.unreceivedReleased } }

    public func run() async throws {
        self.logger.info(
            "worker started",
            metadata: ["worker.id": "\(self.id)", "queues": "\(self.configuration.queues)", "concurrency": "\(self.configuration.concurrency)"]
        )
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.heartbeatLoop() }
            group.addTask { await self.maintenanceLoop() }
            await withGracefulShutdownHandler {
                await self.claimLoop()
            } onGracefulShutdown: {
                self.state.withLock { $0.shuttingDown = true }
                self.slotFreedSignal.yield()
            }
            await self.drain()
            group.cancelAll()
        }
        try? await WorkerRegistry(redis: self.queue.redis).remove(id: self.id)
        self.logger.info("worker stopped", metadata: ["worker.id": "\(self.id)"])
    }

    // MARK: Claiming

    /// What one turn of the claim loop does, decided under the state lock.
    private struct ClaimTurn {
        /// Held jobs that now have a slot.
        var start: [ClaimedJob] = []
        /// Acks to send with this turn's claim (empty when the turn does not call Redis).
        var acks: [PendingAck] = []
        var queues: [String] = []
        var max = 0
        var callsRedis: Bool { self.max > 0 || !self.acks.isEmpty }
    }

    /// Starts held jobs in free slots and decides whether to call Redis: when no job is held to fill the next free
    /// slot, or when enough acks wait. Group queues never have jobs held beyond the group's room. Nil once the
    /// worker is shutting down.
    private func planTurn(_ state: inout State, rotation: Int) -> ClaimTurn? {
        if state.shuttingDown { return nil }
        var turn = ClaimTurn()
        state.claimLoopTakesAcks = true
        let group = self.configuration.groupLimit
        func inGroup(_ queue: String) -> Bool { group?.queues.contains(queue) == true }
        // Jobs whose handler returned do not hold a slot while their outcome is recorded.
        let running = state.inFlight.values.filter { !$0.settling }
        var free = self.configuration.concurrency - running.count
        var room = group.map { $0.maxInFlight - running.count { inGroup($0.job.queue) } } ?? Int.max
        var stillHeld: [ClaimedJob] = []
        for job in state.held {
            if free > 0 && (!inGroup(job.queue) || room > 0) {
                turn.start.append(job)
                free -= 1
                if inGroup(job.queue) { room -= 1 }
            } else {
                stillHeld.append(job)
            }
        }
        state.held = stillHeld
        room -= stillHeld.count { inGroup($0.queue) }

        let queues = self.configuration.queues
        let first = rotation % queues.count
        var order = Array(queues[first...]) + Array(queues[..<first])
        var want = free + self.configuration.prefetch - stillHeld.count
        if group != nil {
            // A claim takes at most what the group has room for whenever a group queue is among those asked.
            if room <= 0 { order.removeAll(where: inGroup) }
            if order.contains(where: inGroup) { want = min(want, room) }
        }
        let max = order.isEmpty ? 0 : Swift.max(0, want)
        // Without prefetch every ack goes at once (with the claim of the slot it freed); with it, acks gather until
        // the held jobs run out or `prefetch` of them wait (and the heartbeat sends any that wait longer).
        let needsJobs = max > 0 && stillHeld.isEmpty
        if needsJobs || state.pendingAcks.count >= Swift.max(1, self.configuration.prefetch) {
            turn.acks = state.pendingAcks
            state.pendingAcks = []
            turn.queues = order
            turn.max = max
        }
        return turn
    }

    /// Claims jobs whenever a slot is free, sending the acks of jobs that succeeded meanwhile with the claim.
    ///
    /// With `prefetch`, a claim also takes that many jobs beyond the free slots and holds them (leased like running
    /// ones): a slot that frees is refilled at once, and Redis is asked again only when the held jobs run out, so
    /// that one round trip claims and acks several jobs.
    private func claimLoop() async {
        var slotFreed = self.slotFreed.makeAsyncIterator()
        var idleWait = Duration.milliseconds(1)
        var rotation = 0
        /// When to look for claims whose reply was lost, after a claim failed.
        var unreceivedChecks: [ContinuousClock.Instant] = []
        defer { self.sendWaitingAcksAlone(stopTaking: true) }
        while !Task.isCancelled {
            if let due = unreceivedChecks.first, due <= .now {
                // Here, between claims, so that no claim's reply is on its way while it looks.
                if await self.releaseUnreceivedClaims() { unreceivedChecks.removeFirst() }
            }
            // Held jobs left when shutting down are handed back by `drain`.
            guard let turn = self.state.withLock({ self.planTurn(&$0, rotation: rotation) }) else { return }
            for job in turn.start { self.start(job) }
            guard turn.callsRedis else {
                if turn.start.isEmpty { _ = await slotFreed.next() }
                continue
            }
            rotation &+= 1
            let jobs: [ClaimedJob]
            do {
                let claimed = try await self.queue.claim(
                    from: turn.queues,
                    workerId: self.id,
                    max: turn.max,
                    lease: self.configuration.lease,
                    acking: turn.acks.map(\.job)
                )
                jobs = claimed.jobs
                for (ack, kept) in zip(turn.acks, claimed.acked) { ack.done.resume(returning: kept) }
            } catch {
                for ack in turn.acks { ack.done.resume(returning: nil) }
                self.logger.error("claiming jobs failed", metadata: ["error": "\(error)"])
                // Redis may have run the claim and lost only its reply: those jobs are leased to this worker, which
                // does not know them. Look once the connection is back, and again before their lease could expire
                // (a claim still queued in Redis when the connection broke may run after the first look).
                if turn.max > 0 {
                    unreceivedChecks = [.now + .seconds(1), .now + self.configuration.lease / 2].sorted()
                }
                try? await Task.sleep(for: .seconds(1))
                continue
            }
            if turn.max == 0 { continue }
            let holdsNone = self.state.withLock { state in
                state.held.append(contentsOf: jobs)  // started by the next turn, in claim order
                return state.held.isEmpty
            }
            if holdsNone {
                // Nothing to do: acks arriving while this loop sleeps are sent by their jobs, not held up by the nap.
                self.sendWaitingAcksAlone(stopTaking: true)
                try? await Task.sleep(for: idleWait)
                idleWait = min(idleWait * 2, self.configuration.maxIdleWait)
                continue
            }
            idleWait = .milliseconds(1)
        }
    }

    /// Hands back the jobs leased to this worker that it neither runs nor holds: claims Redis ran whose reply never
    /// arrived. Without this their lease would expire and count a recovery, and a job that never ran would be
    /// quarantined after a few broken connections. Returns false if Redis could not be asked (try again later).
    private func releaseUnreceivedClaims() async -> Bool {
        let holding = self.state.withLock { state in
            Set(state.inFlight.keys).union(state.held.map(\.id)).union(state.recordingAbandoned)
        }
        var released = 0
        for queue in self.configuration.queues {
            do {
                released += try await self.queue.releaseUnreceived(queue: queue, workerId: self.id, holding: holding)
            } catch {
                self.logger.warning("could not look for claims whose reply was lost", metadata: ["error": "\(error)"])
                return false
            }
        }
        if released > 0 {
            self.state.withLock { $0.unreceivedReleased += released }
            self.logger.warning("jobs whose claim reply was lost handed back, not counted as recoveries", metadata: ["jobs": "\(released)"])
        }
        return true
    }

    /// Sends the acks still waiting for a claim on their own: from the heartbeat, which bounds how long an ack
    /// waits (a job that finished no longer has its lease renewed), and with `stopTaking` from the claim loop when
    /// it naps or ends, after which acks go alone until its next turn.
    private func sendWaitingAcksAlone(stopTaking: Bool = false) {
        let waiting = self.state.withLock { state in
            if stopTaking { state.claimLoopTakesAcks = false }
            defer { state.pendingAcks = [] }
            return state.pendingAcks
        }
        for ack in waiting { ack.done.resume(returning: nil) }
    }

    /// Hands a succeeded job's ack to the claim loop, so that it travels with the next claim. Nil when the loop
    /// cannot take it (idle, stopping, or its claim failed): the caller acks by itself.
    private func ackWithNextClaim(_ job: ClaimedJob) async -> Bool? {
        await withCheckedContinuation { continuation in
            let taken = self.state.withLock { state in
                guard state.claimLoopTakesAcks else { return false }
                state.pendingAcks.append(PendingAck(job: job, done: continuation))
                return true
            }
            if taken {
                self.slotFreedSignal.yield()
            } else {
                continuation.resume(returning: nil)
            }
        }
    }

    private func start(_ job: ClaimedJob) {
        let entry = InFlight(job: job)
        self.state.withLock { $0.inFlight[job.id] = entry }
        // The task is unstructured on purpose: on shutdown a handler stuck past the grace period is handed back
        // and abandoned, instead of holding the process open (see `drain`); so is one past the job timeout.
        let task = Task {
            await self.execute(job, run: entry.run)
            self.state.withLock { state in
                if state.inFlight[job.id]?.run == entry.run { state.inFlight.removeValue(forKey: job.id) }
            }
            self.slotFreedSignal.yield()
        }
        self.state.withLock { state in
            if state.inFlight[job.id]?.run == entry.run { state.inFlight[job.id]?.task = task }
        }
    }

    // MARK: Running one job

    private func execute(_ job: ClaimedJob, run: UUID) async {
        // Set as one dictionary: swift-log's stream handler re-renders all its metadata on every single change.
        var logger = self.logger
        var metadata = logger.handler.metadata
        metadata["job.id"] = "\(job.id)"
        metadata["job.kind"] = "\(job.header.kind)"
        metadata["queue"] = "\(job.queue)"
        if let business = job.header.businessId { metadata["business.id"] = "\(business)" }
        if let shop = job.header.shop { metadata["shop"] = "\(shop)" }
        logger.handler.metadata = metadata
        let started = ContinuousClock.now
        let outcome: JobOutcome
        if let handler = self.registry.handler(for: job.header.kind) {
            do {
                try await handler(job.envelope, JobContext(logger: logger, header: job.header, queue: job.queue))
                outcome = .succeeded
            } catch let later as JobRetryLater {
                outcome = .retryLater(later)
            } catch let permanent as PermanentJobError {
                outcome = .failed(permanent.description, permanent: true)
            } catch {
                outcome = .failed(String(describing: error), permanent: false)
            }
        } else {
            outcome = .failed("no handler for job kind \(job.header.kind)", permanent: true)
        }
        let handedBack = self.state.withLock { state in
            // Gone or replaced: this run was abandoned after its timeout, and its outcome already recorded.
            guard state.inFlight[job.id]?.run == run else { return true }
            state.inFlight[job.id]?.settling = true
            return state.inFlight[job.id]?.handedBack ?? false
        }
        if handedBack {
            self.slotFreedSignal.yield()
            logger.info("job handed back before it finished; its outcome is dropped")
            return
        }
        self.metrics.duration[job.queue]?.record(duration: ContinuousClock.now - started)
        await self.settle(job, outcome: outcome, logger: logger)
    }

    private enum JobOutcome {
        case succeeded
        case retryLater(JobRetryLater)
        case failed(String, permanent: Bool)
    }

    /// Records the outcome in Redis. A failure to do so is retried briefly; if Redis stays away the lease
    /// expires and the job runs again, which at-least-once allows.
    ///
    /// The slot is free from here on: an ack wakes the claim loop as it rides on its next claim, any other outcome
    /// wakes it at once.
    private func settle(_ job: ClaimedJob, outcome: JobOutcome, logger: Logger) async {
        if case .succeeded = outcome {} else { self.slotFreedSignal.yield() }
        for attempt in 1...3 {
            do {
                switch outcome {
                case .succeeded:
                    var kept = attempt == 1 ? await self.ackWithNextClaim(job) : nil
                    if kept == nil { kept = try await self.queue.ack(job, workerId: self.id) }
                    if kept == false { logger.warning("job finished after its lease was lost; another worker may run it again") }
                    logger.debug("job succeeded")
                case .retryLater(let later):
                    try await self.queue.retry(job, workerId: self.id, envelope: job.envelope, after: later.delay)
                    logger.info("job deferred without spending an attempt", metadata: ["reason": "\(later.reason)", "delay": "\(later.delay)"])
                case .failed(let error, let permanent):
                    let failures = job.header.attempt + 1
                    let envelope = Self.bumpAttempt(job.envelope, to: failures)
                    if permanent || failures >= job.header.maxAttempts {
                        try await self.queue.bury(job, workerId: self.id, envelope: envelope, attempt: failures, error: error)
                        logger.error("job moved to dead letters", metadata: ["error": "\(error)", "attempt": "\(failures)"])
                    } else {
                        let delay = self.configuration.backoff.delay(afterFailures: failures)
                        try await self.queue.retry(job, workerId: self.id, envelope: envelope, after: delay)
                        logger.warning("job failed; retrying", metadata: ["error": "\(error)", "attempt": "\(failures)", "delay": "\(delay)"])
                    }
                }
                break
            } catch {
                logger.error("recording the job's outcome failed", metadata: ["error": "\(error)", "try": "\(attempt)"])
                try? await Task.sleep(for: .milliseconds(200 * attempt))
            }
        }
        let counter: Counter? =
            switch outcome {
            case .succeeded: self.metrics.succeeded[job.queue]
            case .retryLater: self.metrics.deferred[job.queue]
            case .failed: self.metrics.failed[job.queue]
            }
        counter?.increment()
    }

    /// The envelope with `attempt` set, leaving the payload as it was.
    static func bumpAttempt(_ envelope: [UInt8], to attempt: Int) -> [UInt8] {
        guard var decoded = try? JobCoding.decoder().decode(JobEnvelope<JSONValue>.self, from: Data(envelope)),
            let encoded = try? { () throws -> Data in
                decoded.attempt = attempt
                return try JobCoding.encoder().encode(decoded)
            }()
        else { return envelope }
        return Array(encoded)
    }

    // MARK: Background loops

    private func heartbeatLoop() async {
        let registry = WorkerRegistry(redis: self.queue.redis)
        let started = Int64(Date().timeIntervalSince1970 * 1000)
        while !Task.isCancelled {
            let inFlight = self.state.withLock { $0.inFlight.count }
            // Visible to `ecommerce-worker workers`; a report failing is not worth stopping for.
            try? await registry.report(
                WorkerReport(
                    id: self.id,
                    host: ProcessInfo.processInfo.hostName,
                    pid: getpid(),
                    queues: self.configuration.queues,
                    concurrency: self.configuration.concurrency,
                    inFlight: inFlight,
                    startedAtMs: started,
                    heartbeatAtMs: Int64(Date().timeIntervalSince1970 * 1000)
                )
            )
            try? await Task.sleep(for: self.configuration.heartbeatInterval)
            self.sendWaitingAcksAlone()
            await self.abandonOverdueJobs()
            let byQueue = self.state.withLock { state in
                let leased = state.inFlight.values.filter { !$0.settling }.map(\.job) + state.held
                return Dictionary(grouping: leased, by: \.queue).mapValues { $0.map(\.id) }
            }
            for (queue, ids) in byQueue {
                do {
                    let kept = try await self.queue.extendLeases(queue: queue, jobIds: ids, workerId: self.id, lease: self.configuration.lease)
                    // A job acked while the renewal was on its way is not lost: count only jobs still running or held.
                    let running = self.state.withLock { state in
                        ids.count { id in state.inFlight[id].map { !$0.settling } ?? state.held.contains { $0.id == id } }
                    }
                    if kept < running {
                        self.logger.warning(
                            "leases lost: those jobs were recovered by another worker",
                            metadata: ["queue": "\(queue)", "lost": "\(running - kept)"]
                        )
                    }
                } catch {
                    self.logger.error("extending leases failed", metadata: ["queue": "\(queue)", "error": "\(error)"])
                }
            }
        }
    }

    /// Jobs whose handler ran past the job timeout: cancelled, their slot freed, the run counted as a failure.
    private func abandonOverdueJobs() async {
        let timeout = self.configuration.jobTimeout
        let overdue = self.state.withLock { state -> [InFlight] in
            let now = ContinuousClock.now
            let overdue = state.inFlight.values.filter { !$0.settling && !$0.handedBack && now - $0.startedAt > timeout }
            for entry in overdue {
                state.inFlight.removeValue(forKey: entry.job.id)
                state.recordingAbandoned.insert(entry.job.id)
            }
            return overdue
        }
        for entry in overdue {
            entry.task?.cancel()
            self.slotFreedSignal.yield()
            var logger = self.logger
            logger[metadataKey: "job.id"] = "\(entry.job.id)"
            logger[metadataKey: "job.kind"] = "\(entry.job.header.kind)"
            logger[metadataKey: "queue"] = "\(entry.job.queue)"
            logger.error("job timed out; abandoned", metadata: ["timeout": "\(timeout)"])
            await self.settle(entry.job, outcome: .failed("timed out after \(timeout)", permanent: false), logger: logger)
            _ = self.state.withLock { $0.recordingAbandoned.remove(entry.job.id) }
        }
    }

    private func maintenanceLoop() async {
        var lastPrune: ContinuousClock.Instant?
        while !Task.isCancelled {
            if let retention = self.configuration.deadLetterRetention,
                lastPrune.map({ .now - $0 >= self.configuration.deadLetterPruneInterval }) ?? true
            {
                lastPrune = .now
                await self.pruneDeadLetters(olderThan: retention)
            }
            for queue in self.configuration.queues {
                do {
                    let result = try await self.queue.maintain(queue: queue, maxRecoveries: self.configuration.maxRecoveries)
                    if result.recovered > 0 || result.quarantined > 0 {
                        self.logger.warning(
                            "recovered jobs of a lost worker",
                            metadata: ["queue": "\(queue)", "recovered": "\(result.recovered)", "quarantined": "\(result.quarantined)"]
                        )
                        self.metrics.recovered[queue]?.increment(by: Int64(result.recovered))
                        self.metrics.quarantined[queue]?.increment(by: Int64(result.quarantined))
                    }
                } catch {
                    self.logger.error("queue maintenance failed", metadata: ["queue": "\(queue)", "error": "\(error)"])
                }
            }
            try? await Task.sleep(for: self.configuration.maintenanceInterval)
        }
    }

    /// One batch of the dead-letter retention per queue.
    private func pruneDeadLetters(olderThan retention: Duration) async {
        for queue in self.configuration.queues {
            do {
                let (deleted, _) = try await self.queue.pruneDeadLetters(queue: queue, olderThan: retention)
                if deleted > 0 { self.logger.info("old dead letters deleted", metadata: ["queue": "\(queue)", "count": "\(deleted)"]) }
            } catch {
                self.logger.error("dead-letter retention failed", metadata: ["queue": "\(queue)", "error": "\(error)"])
            }
        }
    }

    // MARK: Shutdown

    /// Waits for in-flight jobs up to the grace period, then hands the rest back to their queues.
    private func drain() async {
        // Held jobs never started: back to their queues first, for other workers to take now.
        let held = self.state.withLock { state in
            defer { state.held = [] }
            return state.held
        }
        for job in held { await self.handBack(job) }
        let deadline = ContinuousClock.now + self.configuration.shutdownGrace
        while self.inFlightCount > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        let unfinished = self.state.withLock { state in
            for id in state.inFlight.keys { state.inFlight[id]?.handedBack = true }
            return Array(state.inFlight.values)
        }
        for entry in unfinished {
            await self.handBack(entry.job)
            entry.task?.cancel()
        }
    }

    private func handBack(_ job: ClaimedJob) async {
        do {
            try await self.queue.release(job, workerId: self.id)
            self.logger.info("job handed back on shutdown", metadata: ["job.id": "\(job.id)", "queue": "\(job.queue)"])
        } catch {
            self.logger.error(
                "handing a job back failed; its lease will expire and another worker will recover it",
                metadata: ["job.id": "\(job.id)", "error": "\(error)"]
            )
        }
    }
}

/// This process's job metrics, made once per served queue (bounded labels).
private struct JobMetrics: Sendable {
    var succeeded: [String: Counter] = [:]
    var deferred: [String: Counter] = [:]
    var failed: [String: Counter] = [:]
    var recovered: [String: Counter] = [:]
    var quarantined: [String: Counter] = [:]
    var duration: [String: Timer] = [:]

    init(queues: [String]) {
        for queue in queues {
            self.succeeded[queue] = Counter(label: "jobs_total", dimensions: [("queue", queue), ("outcome", "succeeded")])
            self.deferred[queue] = Counter(label: "jobs_total", dimensions: [("queue", queue), ("outcome", "deferred")])
            self.failed[queue] = Counter(label: "jobs_total", dimensions: [("queue", queue), ("outcome", "failed")])
            self.recovered[queue] = Counter(label: "job_recoveries_total", dimensions: [("queue", queue)])
            self.quarantined[queue] = Counter(label: "job_quarantines_total", dimensions: [("queue", queue)])
            self.duration[queue] = Timer(label: "job_duration_seconds", dimensions: [("queue", queue)])
        }
    }
}
