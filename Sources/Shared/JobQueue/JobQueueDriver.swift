/// What a ``JobWorker`` needs from a queue: claiming with a lease, settling a job, keeping leases alive, handing
/// jobs back, and the maintenance that recovers the jobs of lost workers.
///
/// Every transition names the worker that holds the claim: a transition by a worker whose claim was lost (its lease
/// expired and another worker recovered the job) changes nothing and answers false. ``RedisJobQueue`` is the
/// production driver; `MemoryJobQueue` (in `JobQueueTesting`) is the same contract in memory for unit tests, and
/// a conformance suite holds both to it.
public protocol JobQueueDriver: Sendable {
    /// Acks `finished` (one result per job: false when that claim was lost), then claims up to `max` jobs from
    /// `queues` in that order, each leased to `workerId` for `lease`. Within a queue, the shops with ready jobs take
    /// turns (``FairShare``: one job of each shop per turn, however many each has waiting); `shopCaps` (queue → jobs,
    /// absent or 0 for none) passes over a shop's jobs while that many of them are claimed, by any worker. Elements
    /// that are not envelopes go to dead letters at once instead of being claimed.
    ///
    /// - Throws: when the queue could not be reached; the claim may then have run without its answer arriving
    ///   (see ``releaseUnreceived(queue:workerId:holding:)``).
    func claim(
        from queues: [String],
        workerId: String,
        max: Int,
        lease: Duration,
        shopCaps: [String: Int],
        acking finished: [ClaimedJob]
    ) async throws -> (jobs: [ClaimedJob], acked: [Bool])

    /// Removes a finished job. False when the claim was lost.
    @discardableResult
    func ack(_ job: ClaimedJob, workerId: String) async throws -> Bool

    /// Moves a claimed job to the delayed jobs, to run again after `delay` as `envelope`. False when the claim was
    /// lost.
    @discardableResult
    func retry(_ job: ClaimedJob, workerId: String, envelope: [UInt8], after delay: Duration) async throws -> Bool

    /// Moves a claimed job to dead letters with the error that killed it. False when the claim was lost.
    @discardableResult
    func bury(_ job: ClaimedJob, workerId: String, envelope: [UInt8], attempt: Int, error: String) async throws -> Bool

    /// Hands a claimed job back to the ready jobs, ahead of every shop's next turn (it has had its own), unfinished
    /// and without spending an attempt.
    @discardableResult
    func release(_ job: ClaimedJob, workerId: String) async throws -> Bool

    /// Hands back the jobs `workerId` has a claim on in `queue` but neither runs nor holds (`holding`): claims
    /// whose answer was lost. They count no recovery. Returns how many were handed back.
    @discardableResult
    func releaseUnreceived(queue: String, workerId: String, holding: Set<String>) async throws -> Int

    /// Renews the leases of `jobIds` that `workerId` still holds; returns how many it did.
    @discardableResult
    func extendLeases(queue: String, jobIds: [String], workerId: String, lease: Duration) async throws -> Int

    /// Promotes due retries and recovers jobs whose lease expired; a job recovered more than `maxRecoveries` times
    /// is quarantined in dead letters. Safe to run from every worker at once.
    func maintain(queue: String, maxRecoveries: Int) async throws -> QueueMaintenance

    /// Deletes a bounded batch of the dead letters older than `age`. Returns how many went, and whether the walk
    /// over them is complete.
    @discardableResult
    func pruneDeadLetters(queue: String, olderThan age: Duration) async throws -> (deleted: Int, walkDone: Bool)

    /// Records a worker's heartbeat report, for operators.
    func report(worker: WorkerReport) async throws

    /// Removes a stopping worker's report.
    func removeWorker(id: String) async throws
}

/// What one maintenance pass did.
public struct QueueMaintenance: Sendable, Equatable {
    /// Due retries moved back to the ready list.
    public var promoted = 0
    /// Jobs taken back from workers whose lease expired.
    public var recovered = 0
    /// Jobs moved to dead letters for having been recovered too often.
    public var quarantined = 0

    /// A pass that did nothing (yet).
    public init() {}
}

extension JobQueueDriver {
    /// ``claim(from:workerId:max:lease:shopCaps:acking:)`` with no per-shop cap.
    public func claim(
        from queues: [String],
        workerId: String,
        max: Int,
        lease: Duration,
        acking finished: [ClaimedJob]
    ) async throws -> (jobs: [ClaimedJob], acked: [Bool]) {
        try await self.claim(from: queues, workerId: workerId, max: max, lease: lease, shopCaps: [:], acking: finished)
    }
}
