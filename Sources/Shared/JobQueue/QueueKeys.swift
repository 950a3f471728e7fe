/// The Redis keys of one queue, all named after it (`ecommerce-orders:ready`, `ecommerce-orders:inflight`, …).
///
/// Ready jobs wait in one sorted set scored by their fair tag (see ``FairShare``): its size (`ZCARD`) is the queue's
/// backlog, the one number an autoscaler reads (KEDA's `redis` trigger reads a sorted set's size as it reads a
/// list's length).
public struct QueueKeys: Sendable, Hashable {
    /// Jobs waiting to run: envelope → fair tag. Claims take the lowest tags first.
    public let ready: String
    /// What versions before fair shares pushed ready jobs onto: a list under the queue's own name. Maintenance
    /// moves what it finds there into ``ready``, so jobs enqueued by a process of the earlier version are not lost.
    public let legacyReady: String
    /// The fair-share clock: `*` → the tag of the last job claimed; shop group → the last tag given to its jobs.
    public let fair: String
    /// Ready jobs per shop group: group → count, a sorted set so that the largest backlogs read in one call.
    public let backlog: String
    /// Claimed jobs per shop group: group → count, for the per-shop in-flight caps.
    public let running: String
    /// Claimed jobs: job id → envelope.
    public let inflight: String
    /// Claimed jobs: job id → the worker that holds the claim.
    public let owners: String
    /// Claimed jobs: job id → lease expiry (Redis time, ms). An expired lease means the worker is gone.
    public let leases: String
    /// Jobs waiting for a retry: envelope scored by due time (Redis time, ms).
    public let delayed: String
    /// Dead letters: job id → JSON record with the envelope, last error, attempts and time.
    public let dead: String
    /// How often each job was recovered from a lost worker, for quarantine.
    public let recoveries: String
    /// Where the dead-letter retention's walk over `dead` stands (an `HSCAN` cursor).
    public let deadPruneCursor: String

    public init(queue: String) {
        self.ready = queue + ":ready"
        self.legacyReady = queue
        self.fair = queue + ":fair"
        self.backlog = queue + ":backlog"
        self.running = queue + ":running"
        self.inflight = queue + ":inflight"
        self.owners = queue + ":owners"
        self.leases = queue + ":leases"
        self.delayed = queue + ":delayed"
        self.dead = queue + ":dead"
        self.recoveries = queue + ":recoveries"
        self.deadPruneCursor = queue + ":dead-prune-cursor"
    }

    /// The keys a script that adds ready jobs declares, in ``FairShare/luaAddReady``'s order.
    public var readyKeys: [String] { [self.ready, self.fair, self.backlog] }
}
