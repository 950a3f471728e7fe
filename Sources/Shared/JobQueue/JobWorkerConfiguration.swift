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
    /// Per queue, at most this many jobs of one shop claimed at once, by all workers together (absent or 0: no cap;
    /// enforced by the claim script in Redis). Jobs of a shop at its cap keep their place in line while the claim
    /// serves other shops, so one merchant's burst cannot take every worker's slots.
    public var shopCaps: [String: Int] = [:]
    /// Told of every job's outcome once it is recorded in the queue (for a journal an operator reads). Called on the
    /// job's task: it must not block, and its failures are its own.
    public var onSettled: (@Sendable (JobSettlement) -> Void)?

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

/// A job's outcome as recorded in the queue: see ``JobWorkerConfiguration/onSettled``.
public struct JobSettlement: Sendable {
    public enum Outcome: String, Sendable {
        case succeeded
        /// Failed; tried again after a backoff.
        case retrying
        /// Handed back to run later without spending an attempt (``JobRetryLater``).
        case deferred
        /// Failed for good: in dead letters.
        case dead
    }

    public var header: JobHeader
    public var queue: String
    public var outcome: Outcome
    /// The failure (or the deferral's reason).
    public var error: String?
    /// How long the handler held its slot.
    public var ran: Duration = .zero
}
