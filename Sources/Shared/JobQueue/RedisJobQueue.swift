import Foundation
import JSONBytes
import RedisClient

/// Whether an enqueue-if-new added the job.
public enum EnqueueResult: Sendable, Equatable {
    case enqueued
    case duplicate
}

/// The reliable job queue of DESIGN §3 on Redis lists, hashes and sorted sets.
///
/// At-least-once: a job leaves the system only by ``ack(_:workerId:)`` or to dead letters. Every transition is a
/// Lua script in ``QueueScripts``.
public struct RedisJobQueue: Sendable {
    public let redis: RedisClient
    /// How long an enqueue-if-new remembers a dedupe key, unless the enqueue says otherwise. Shopify retries a
    /// webhook for about 4 hours and sometimes delivers a day late.
    public var dedupeWindow: Duration = .seconds(48 * 3600)

    public init(redis: RedisClient) {
        self.redis = redis
    }

    // MARK: Producing

    /// Adds a job to its queue. With a `dedupeKey` in the envelope this is enqueue-if-new, as one atomic step:
    /// a second job with the same key inside the dedupe window is not added.
    @discardableResult
    public func enqueue<Job: JobDefinition>(
        _ job: Job.Type,
        _ envelope: JobEnvelope<Job.Payload>,
        dedupeWindow: Duration? = nil
    ) async throws
        -> EnqueueResult
    {
        let data = try JobCoding.encoder().encode(envelope)
        return try await self.enqueue(raw: Array(data), id: envelope.id, queue: Job.queue, dedupeKey: envelope.dedupeKey, dedupeWindow: dedupeWindow)
    }

    /// Adds an already encoded envelope.
    ///
    /// `dedupeWindow` overrides how long the dedupe key holds (48 hours by default): a short window with
    /// ``forgetDedupe(_:)`` at the start of the job coalesces bursts into one pending job per key.
    @discardableResult
    public func enqueue(
        raw: [UInt8],
        id: String,
        queue: String,
        dedupeKey: String?,
        dedupeWindow: Duration? = nil
    ) async throws(RedisError)
        -> EnqueueResult
    {
        let result = await withCheckedContinuation { continuation in
            self.enqueue(raw: raw, id: id, queue: queue, dedupeKey: dedupeKey, dedupeWindow: dedupeWindow) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    /// Like ``enqueue(raw:id:queue:dedupeKey:dedupeWindow:)``, for callers that are not async (the gateway's webhook
    /// path, on an event loop: see ``RedisClient/send(commands:completion:)``). `completion` must not block.
    ///
    /// A `record` (only with a `dedupeKey`) is written by the same script, with the outcome: see ``EnqueueRecord``.
    public func enqueue(
        raw: [UInt8],
        id: String,
        queue: String,
        dedupeKey: String?,
        dedupeWindow: Duration? = nil,
        record: EnqueueRecord? = nil,
        completion: @escaping @Sendable (Result<EnqueueResult, RedisError>) -> Void
    ) {
        let queueKeys = QueueKeys(queue: queue)
        guard let dedupeKey else {
            self.redis.run(QueueScripts.enqueue, keys: queueKeys.readyKeys, arguments: [RedisArgument(bytes: raw)]) { result in
                completion(result.flatMap { reply in Result { () throws(RedisError) in try reply.orThrow() }.map { _ in .enqueued } })
            }
            return
        }
        // The dedupe key, its count and the record's list are in the queue's slot with its other keys (a record's
        // list is named under the queue's tag: see ``EnqueueRecord``).
        var keys = queueKeys.readyKeys + [queueKeys.dedupe(dedupeKey), queueKeys.dedupeCounts]
        var arguments = [
            RedisArgument(bytes: raw), RedisArgument(id), RedisArgument(max(1, Int((dedupeWindow ?? self.dedupeWindow).components.seconds))),
        ]
        if let record {
            keys.append(record.list)
            arguments += [
                RedisArgument(bytes: record.openObject), RedisArgument(max(1, record.cap)),
                RedisArgument(max(1, Int(record.retention.components.seconds))),
            ]
        }
        self.redis.run(QueueScripts.enqueueIfNew, keys: keys, arguments: arguments) { result in
            completion(result.map { $0.int == 1 ? .enqueued : .duplicate })
        }
    }

    /// Releases a dedupe key of `queue`, so that the next enqueue with it goes through (see `dedupeWindow`).
    public func forgetDedupe(_ dedupeKey: String, queue: String) async throws(RedisError) {
        let keys = QueueKeys(queue: queue)
        _ = try await self.redis.run(QueueScripts.forgetDedupe, keys: [keys.dedupe(dedupeKey), keys.dedupeCounts], arguments: [])
    }

    /// How many dedupe keys `queues` have alive (to within the keys that expired in the last few minutes), without
    /// scanning for them: enqueue-if-new counts each key by its expiry, ``forgetDedupe(_:queue:)`` uncounts it.
    public func dedupeKeyCount(queues: [String]) async throws(RedisError) -> Int {
        var total = 0
        for queue in queues {
            total += try await self.redis.run(QueueScripts.countDedupe, keys: [QueueKeys(queue: queue).dedupeCounts], arguments: []).int ?? 0
        }
        return total
    }

    // MARK: Consuming

    /// Claims up to `max` jobs, trying the queues in the order given; the claim and its lease are one step.
    public func claim(
        from queues: [String],
        workerId: String,
        max: Int,
        lease: Duration,
        shopCaps: [String: Int] = [:]
    ) async throws
        -> [ClaimedJob]
    {
        try await self.claim(from: queues, workerId: workerId, max: max, lease: lease, shopCaps: shopCaps, acking: []).jobs
    }

    /// Acks `finished` (as ``ack(_:workerId:)`` would, one result per job: false when that claim was lost), then
    /// claims up to `max` jobs (zero: only ack), trying the queues in the order given. Each queue is one round trip
    /// that acks its finished jobs and claims what is still wanted (``QueueScripts/claim``: one queue's slot per
    /// script); queues are asked until `max` jobs are claimed, and a queue with acks but nothing more to claim is
    /// asked only to ack. Within a queue the shops with ready jobs take turns (``FairShare``); `shopCaps`
    /// (queue → jobs) skips a shop's jobs while it has that many claimed.
    ///
    /// A failure part of the way throws: jobs claimed by the earlier round trips stay leased to `workerId` unreceived,
    /// which ``releaseUnreceived(queue:workerId:holding:)`` hands back, as for a claim whose answer was lost.
    public func claim(
        from queues: [String],
        workerId: String,
        max: Int,
        lease: Duration,
        shopCaps: [String: Int],
        acking finished: [ClaimedJob]
    ) async throws -> (jobs: [ClaimedJob], acked: [Bool]) {
        let claimFrom = max > 0 ? queues : []
        var order = claimFrom
        for job in finished where !order.contains(job.queue) { order.append(job.queue) }
        var jobs: [ClaimedJob] = []
        var acked = Array(repeating: false, count: finished.count)
        for queue in order {
            let acks = finished.indices.filter { finished[$0].queue == queue }
            let wanted = claimFrom.contains(queue) ? max - jobs.count : 0
            guard !acks.isEmpty || wanted > 0 else { continue }
            let reply = try await self.redis.run(
                QueueScripts.claim,
                keys: QueueKeys(queue: queue).claimKeys,
                arguments: [
                    RedisArgument(workerId), RedisArgument(lease.milliseconds), RedisArgument(wanted),
                    RedisArgument(Swift.max(0, shopCaps[queue] ?? 0)),
                ] + acks.map { RedisArgument(finished[$0].id) }
            )
            let parts = reply.elements
            guard parts.count == 2 else { throw RedisError.unexpectedReply("claim returned \(reply)") }
            let results = parts[0].elements.map { $0.int == 1 }
            guard results.count == acks.count else { throw RedisError.unexpectedReply("claim acked \(results.count) of \(acks.count)") }
            for (index, result) in zip(acks, results) { acked[index] = result }
            for element in parts[1].elements {
                guard case .string(let raw) = element else { continue }
                do {
                    let header = try JobHeader(json: raw)
                    jobs.append(ClaimedJob(queue: queue, header: header, envelope: raw))
                } catch {
                    // It has an id (the script checked) but not the rest of an envelope: bury it under that id.
                    let id = JobHeader.id(in: raw) ?? "unknown"
                    try await self.buryUnreadable(queue: queue, id: id, raw: raw, workerId: workerId, error: "malformed envelope: \(error)")
                }
            }
        }
        return (jobs, acked)
    }

    /// Removes a finished job. Returns false when the claim was lost (the lease expired and another worker
    /// recovered the job): the job will run again, which idempotent handlers allow.
    @discardableResult
    public func ack(_ job: ClaimedJob, workerId: String) async throws -> Bool {
        let keys = QueueKeys(queue: job.queue)
        let reply = try await self.redis.run(
            QueueScripts.ack,
            keys: [keys.inflight, keys.owners, keys.leases, keys.recoveries, keys.running],
            arguments: [RedisArgument(job.id), RedisArgument(workerId)]
        )
        return reply.int == 1
    }

    /// Moves a claimed job to the delayed set, to run again after `delay` as `envelope` (which may carry a
    /// bumped attempt count, or be unchanged for a retry that spends no attempt).
    @discardableResult
    public func retry(_ job: ClaimedJob, workerId: String, envelope: [UInt8], after delay: Duration) async throws -> Bool {
        let keys = QueueKeys(queue: job.queue)
        let reply = try await self.redis.run(
            QueueScripts.retry,
            keys: [keys.inflight, keys.owners, keys.leases, keys.delayed, keys.running],
            arguments: [RedisArgument(job.id), RedisArgument(workerId), RedisArgument(bytes: envelope), RedisArgument(delay.milliseconds)]
        )
        return reply.int == 1
    }

    /// Moves a claimed job to dead letters with the error that killed it.
    @discardableResult
    public func bury(_ job: ClaimedJob, workerId: String, envelope: [UInt8], attempt: Int, error: String) async throws -> Bool {
        let keys = QueueKeys(queue: job.queue)
        let record = DeadLetter(
            id: job.id,
            job: String(decoding: envelope, as: UTF8.self),
            error: error,
            attempt: attempt,
            failedAtMs: Int64(Date().timeIntervalSince1970 * 1000)
        )
        let reply = try await self.redis.run(
            QueueScripts.bury,
            keys: [keys.inflight, keys.owners, keys.leases, keys.dead, keys.recoveries, keys.running],
            arguments: [RedisArgument(job.id), RedisArgument(workerId), RedisArgument(bytes: Array(try JSONEncoder().encode(record)))]
        )
        return reply.int == 1
    }

    private func buryUnreadable(queue: String, id: String, raw: [UInt8], workerId: String, error: String) async throws {
        let header = JobHeader(id: id, kind: "unknown", attempt: 0, maxAttempts: 0, enqueuedAt: Date())
        try await self.bury(ClaimedJob(queue: queue, header: header, envelope: raw), workerId: workerId, envelope: raw, attempt: 0, error: error)
    }

    /// Hands a claimed job back to the ready jobs (ahead of the shops' next turns), unfinished and without spending an
    /// attempt.
    @discardableResult
    public func release(_ job: ClaimedJob, workerId: String) async throws -> Bool {
        let keys = QueueKeys(queue: job.queue)
        let reply = try await self.redis.run(
            QueueScripts.release,
            keys: [keys.inflight, keys.owners, keys.leases, keys.running] + keys.readyKeys,
            arguments: [RedisArgument(job.id), RedisArgument(workerId)]
        )
        return reply.int == 1
    }

    /// Hands back to `queue`'s ready jobs the jobs `workerId` has a claim on but is not running or holding
    /// (`holding`): claims whose reply was lost. They count no recovery. Returns how many were handed back.
    @discardableResult
    public func releaseUnreceived(queue: String, workerId: String, holding: Set<String>) async throws -> Int {
        let keys = QueueKeys(queue: queue)
        let reply = try await self.redis.run(
            QueueScripts.releaseUnreceived,
            keys: [keys.inflight, keys.owners, keys.leases, keys.running] + keys.readyKeys,
            arguments: [RedisArgument(workerId)] + holding.sorted().map { RedisArgument($0) }
        )
        return reply.int ?? 0
    }

    /// Keeps the leases of a worker's jobs alive; returns how many were still its own.
    @discardableResult
    public func extendLeases(queue: String, jobIds: [String], workerId: String, lease: Duration) async throws -> Int {
        guard !jobIds.isEmpty else { return 0 }
        let keys = QueueKeys(queue: queue)
        let reply = try await self.redis.run(
            QueueScripts.extendLeases,
            keys: [keys.owners, keys.leases],
            arguments: [RedisArgument(workerId), RedisArgument(lease.milliseconds)] + jobIds.map { RedisArgument($0) }
        )
        return reply.int ?? 0
    }

    /// Promotes due retries and recovers jobs whose worker stopped renewing its lease; jobs recovered more than
    /// `maxRecoveries` times are quarantined in dead letters. Also moves up to `batch` jobs from the list an earlier
    /// version enqueued onto (``QueueKeys/legacyReady``) among the ready jobs, and recounts the claimed jobs per shop
    /// when the counts disagree with the claims. Safe to run from every worker at once.
    public func maintain(queue: String, maxRecoveries: Int, batch: Int) async throws -> QueueMaintenance {
        let keys = QueueKeys(queue: queue)
        let reply = try await self.redis.run(
            QueueScripts.maintain,
            keys: keys.readyKeys + [
                keys.running, keys.legacyReady, keys.delayed, keys.inflight, keys.owners, keys.leases, keys.dead, keys.recoveries,
            ],
            arguments: [RedisArgument(maxRecoveries), RedisArgument(batch)]
        )
        let values = reply.elements.map { $0.int ?? 0 }
        guard values.count == 3 else { throw RedisError.unexpectedReply("maintain returned \(reply)") }
        var result = QueueMaintenance()
        (result.promoted, result.recovered, result.quarantined) = (values[0], values[1], values[2])
        return result
    }

    // MARK: Inspecting

    /// Counts for one queue, from one atomic read of Redis.
    public func stats(queue: String) async throws -> QueueStats {
        let keys = QueueKeys(queue: queue)
        let reply = try await self.redis.run(
            QueueScripts.stats,
            keys: [keys.ready, keys.inflight, keys.delayed, keys.dead, keys.legacyReady, keys.backlog],
            arguments: []
        )
        let values = reply.elements
        guard values.count == 8 else { throw RedisError.unexpectedReply("stats returned \(reply)") }
        var age = 0.0
        if let nowMs = values[5].int {
            // The longest wait among the next jobs in line: in a fair queue the oldest job need not be the next.
            let enqueued = values[4].elements.compactMap { element -> Date? in
                guard case .string(let raw) = element else { return nil }
                return (try? JobHeader(json: raw))?.enqueuedAt
            }
            if let oldest = enqueued.min() { age = max(0, Double(nowMs) / 1000 - oldest.timeIntervalSince1970) }
        }
        return QueueStats(
            queue: queue,
            ready: values[0].int ?? 0,
            inflight: values[1].int ?? 0,
            delayed: values[2].int ?? 0,
            dead: values[3].int ?? 0,
            oldestReadyAgeSeconds: age,
            shops: values[6].int ?? 0,
            largestBacklogs: Self.backlogs(values[7].elements)
        )
    }

    /// The shop groups (``FairShare``: a business id, or a shop) with the most ready jobs in `queue`, largest first.
    public func largestBacklogs(queue: String, limit: Int = 10) async throws -> [ShopBacklog] {
        let reply = try await self.redis.send(
            [
                "ZRANGE", RedisArgument(QueueKeys(queue: queue).backlog), "+inf", "1", "BYSCORE", "REV", "LIMIT", "0", RedisArgument(max(1, limit)),
                "WITHSCORES",
            ]
        ).orThrow().elements
        return Self.backlogs(reply)
    }

    /// `group, count, …` (a `WITHSCORES` reply) as backlogs.
    private static func backlogs(_ flat: [RedisValue]) -> [ShopBacklog] {
        stride(from: 0, to: flat.count - 1, by: 2).compactMap { index in
            guard let group = flat[index].text, let count = flat[index + 1].text.flatMap(Double.init) else { return nil }
            return ShopBacklog(group: group, ready: Int(count))
        }
    }

    /// A page of a queue's dead letters: about `count` of them from `cursor` (`"0"` for the first page), in the
    /// order Redis keeps them (`HSCAN`), not by time. Over a whole walk every letter present throughout is seen at
    /// least once (rarely twice, when Redis resizes the hash meanwhile).
    ///
    /// - Throws: `RedisError.replyError` for a cursor Redis does not accept.
    public func deadLetterPage(queue: String, cursor: String = "0", count: Int = 100) async throws -> DeadLetterPage {
        let reply = try await self.redis.send(
            ["HSCAN", RedisArgument(QueueKeys(queue: queue).dead), RedisArgument(cursor), "COUNT", RedisArgument(max(1, count))]
        ).orThrow().elements
        guard reply.count == 2, let next = reply[0].text else { throw RedisError.unexpectedReply("HSCAN") }
        let fields = reply[1].elements
        let decoder = JSONDecoder()
        let letters = stride(from: 1, to: fields.count, by: 2).compactMap { index -> DeadLetter? in
            guard case .string(let bytes) = fields[index] else { return nil }
            return try? decoder.decode(DeadLetter.self, from: Data(bytes))
        }
        return DeadLetterPage(letters: letters.sorted { $0.failedAtMs > $1.failedAtMs }, next: next == "0" ? nil : next)
    }

    /// Walks all of a queue's dead letters a page of about `count` at a time, handing each page to `body` (which may
    /// retry or delete what it is given: the walk allows it).
    public func forEachDeadLetterPage(queue: String, count: Int, _ body: ([DeadLetter]) async throws -> Void) async throws {
        var cursor: String? = "0"
        while let current = cursor {
            let page = try await self.deadLetterPage(queue: queue, cursor: current, count: count)
            try await body(page.letters)
            cursor = page.next
        }
    }

    /// Every dead letter of a queue, newest first: for tools and tests that want them all (the dashboard and the
    /// sweeper read pages).
    public func deadLetters(queue: String) async throws -> [DeadLetter] {
        var byId: [String: DeadLetter] = [:]
        try await self.forEachDeadLetterPage(queue: queue, count: 500) { letters in
            for letter in letters { byId[letter.id] = letter }
        }
        return byId.values.sorted { $0.failedAtMs > $1.failedAtMs }
    }

    /// One dead letter by its job id; nil if there is none.
    public func deadLetter(queue: String, id: String) async throws -> DeadLetter? {
        guard case .string(let bytes) = try await self.redis.send(["HGET", RedisArgument(QueueKeys(queue: queue).dead), RedisArgument(id)]).orThrow()
        else { return nil }
        return try JSONDecoder().decode(DeadLetter.self, from: Data(bytes))
    }

    /// Puts a dead letter back on its queue with a fresh attempt budget. Returns false if it is gone.
    @discardableResult
    public func retryDeadLetter(queue: String, id: String) async throws -> Bool {
        let keys = QueueKeys(queue: queue)
        guard case .string(let recordBytes) = try await self.redis.send(["HGET", RedisArgument(keys.dead), RedisArgument(id)]).orThrow()
        else { return false }
        let record = try JSONDecoder().decode(DeadLetter.self, from: Data(recordBytes))
        var envelope = Array(record.job.utf8)
        if var decoded = try? JobCoding.decoder().decode(JobEnvelope<JSONValue>.self, from: Data(envelope)) {
            decoded.attempt = 0
            envelope = Array(try JobCoding.encoder().encode(decoded))
        }
        let reply = try await self.redis.run(
            QueueScripts.resurrect,
            keys: [keys.dead] + keys.readyKeys,
            arguments: [RedisArgument(id), RedisArgument(bytes: recordBytes), RedisArgument(bytes: envelope)]
        )
        return reply.int == 1
    }

    /// Deletes the queue's dead letters that failed more than `age` ago, looking at up to `batch` of them (a walk
    /// over all of them takes several calls). Returns how many went, and whether the walk came round to its start.
    @discardableResult
    public func pruneDeadLetters(queue: String, olderThan age: Duration, batch: Int) async throws -> (deleted: Int, walkDone: Bool) {
        let keys = QueueKeys(queue: queue)
        let reply = try await self.redis.run(
            QueueScripts.pruneDead,
            keys: [keys.dead, keys.deadPruneCursor],
            arguments: [RedisArgument(age.milliseconds), RedisArgument(batch)]
        ).orThrow().elements
        return (reply.first?.int ?? 0, reply.dropFirst().first?.int == 1)
    }

    /// Deletes one dead letter, or all of a queue's when `id` is nil; returns how many went.
    @discardableResult
    public func purgeDeadLetters(queue: String, id: String? = nil) async throws -> Int {
        let dead = QueueKeys(queue: queue).dead
        if let id {
            return try await self.redis.send(["HDEL", RedisArgument(dead), RedisArgument(id)]).orThrow().int ?? 0
        }
        let count = try await self.redis.send(["HLEN", RedisArgument(dead)]).orThrow().int ?? 0
        try await self.redis.send(["DEL", RedisArgument(dead)]).orThrow()
        return count
    }

}

extension Duration {
    /// Whole milliseconds, for Redis arguments and journals.
    public var milliseconds: Int {
        let (seconds, attoseconds) = self.components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}

extension RedisJobQueue: JobQueueDriver {
    /// One maintenance pass over at most 1,000 due retries and 1,000 expired leases.
    public func maintain(queue: String, maxRecoveries: Int) async throws -> QueueMaintenance {
        try await self.maintain(queue: queue, maxRecoveries: maxRecoveries, batch: 1000)
    }

    /// One batch of 500 dead letters of the retention's walk.
    @discardableResult
    public func pruneDeadLetters(queue: String, olderThan age: Duration) async throws -> (deleted: Int, walkDone: Bool) {
        try await self.pruneDeadLetters(queue: queue, olderThan: age, batch: 500)
    }

    /// Records the worker's heartbeat in ``WorkerRegistry``.
    public func report(worker: WorkerReport) async throws {
        try await WorkerRegistry(redis: self.redis).report(worker)
    }

    /// Removes a stopping worker from ``WorkerRegistry``.
    public func removeWorker(id: String) async throws {
        try await WorkerRegistry(redis: self.redis).remove(id: id)
    }
}
