/// The Redis keys of one queue. The ready list is the queue's own name (`ecommerce-orders`), so that `LLEN`
/// on it is the backlog an autoscaler reads; the other states hang off it with a suffix.
public struct QueueKeys: Sendable, Hashable {
    /// Jobs waiting to run: `LPUSH` in, taken from the right (oldest first).
    public let ready: String
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
        self.ready = queue
        self.inflight = queue + ":inflight"
        self.owners = queue + ":owners"
        self.leases = queue + ":leases"
        self.delayed = queue + ":delayed"
        self.dead = queue + ":dead"
        self.recoveries = queue + ":recoveries"
        self.deadPruneCursor = queue + ":dead-prune-cursor"
    }
}
