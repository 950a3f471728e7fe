/// The Redis keys of one queue, all named after it behind its hash tag (`{ecommerce-orders}:ready`,
/// `{ecommerce-orders}:inflight`, …): in a Redis Cluster every key of a queue lives in the queue's one slot, so that
/// every script of the queue touches one slot, while different queues are free to live on different nodes.
///
/// Ready jobs wait in one sorted set scored by their fair tag (see ``FairShare``): its size (`ZCARD`) is the queue's
/// backlog, the one number an autoscaler reads (KEDA's `redis` trigger reads a sorted set's size as it reads a
/// list's length).
///
/// Versions before hash tags named the keys `ecommerce-orders:ready` and so on (``untaggedNames``):
/// `ecommerce-worker redis-migrate-keys` moves what a single Redis holds under those names (README, "Redis Cluster").
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
    /// The dedupe keys' counts by expiry bucket (see ``RedisJobQueue/dedupeKeyCount(queues:)``).
    public let dedupeCounts: String
    /// The start of the queue's dedupe keys' names (an enqueue-if-new's key is this and the job's dedupe key).
    public let dedupePrefix: String

    public init(queue: String) {
        let tagged = Self.tag(queue)
        self.ready = tagged + ":ready"
        // Untagged, it hashes whole: like the tag `{queue}`, so it is in the queue's slot too.
        self.legacyReady = queue
        self.fair = tagged + ":fair"
        self.backlog = tagged + ":backlog"
        self.running = tagged + ":running"
        self.inflight = tagged + ":inflight"
        self.owners = tagged + ":owners"
        self.leases = tagged + ":leases"
        self.delayed = tagged + ":delayed"
        self.dead = tagged + ":dead"
        self.recoveries = tagged + ":recoveries"
        self.deadPruneCursor = tagged + ":dead-prune-cursor"
        self.dedupeCounts = tagged + ":dedupe-expiring"
        self.dedupePrefix = tagged + ":dedupe:"
    }

    /// `{queue}`: the hash tag of every key of `queue`, for other keys that must share its slot (the poll schedule,
    /// the journal of deliveries written by the queue's enqueue script).
    public static func tag(_ queue: String) -> String { "{" + queue + "}" }

    /// The queue's dedupe key for a job's `dedupeKey`.
    public func dedupe(_ dedupeKey: String) -> String { self.dedupePrefix + dedupeKey }

    /// Each key of the queue (but the legacy list and dedupe keys) under its tag and under the name versions before
    /// hash tags gave it: what `redis-migrate-keys` moves.
    public static func untaggedNames(queue: String) -> [(untagged: String, tagged: String)] {
        let keys = QueueKeys(queue: queue)
        let tagged = [
            keys.ready, keys.fair, keys.backlog, keys.running, keys.inflight, keys.owners, keys.leases, keys.delayed, keys.dead, keys.recoveries,
            keys.deadPruneCursor,
        ]
        // `{queue}:ready` was `queue:ready`.
        return tagged.map { (queue + $0.dropFirst(Self.tag(queue).count), $0) }
    }

    /// The keys a claim declares (``QueueScripts/claim``), in its order.
    public var claimKeys: [String] {
        [self.ready, self.fair, self.backlog, self.running, self.inflight, self.owners, self.leases, self.dead, self.recoveries]
    }

    /// The keys a script that adds ready jobs declares, in ``FairShare/luaAddReady``'s order.
    public var readyKeys: [String] { [self.ready, self.fair, self.backlog] }
}
