/// A queue's numbers, read from Redis itself (not counted by any one process).
public struct QueueStats: Sendable, Equatable, Codable {
    public var queue: String
    public var ready: Int
    public var inflight: Int
    public var delayed: Int
    public var dead: Int
    /// Seconds the longest-waiting of the next jobs in line has waited since it was enqueued (in a fair queue the
    /// oldest job need not be next: a large shop's later jobs wait their turns); 0 when none is waiting.
    public var oldestReadyAgeSeconds: Double
    /// How many shop groups (``FairShare``) have ready jobs: the ones taking turns.
    public var shops: Int
    /// The shop groups with the most ready jobs, largest first (a few).
    public var largestBacklogs: [ShopBacklog]

    public init(
        queue: String,
        ready: Int,
        inflight: Int,
        delayed: Int,
        dead: Int,
        oldestReadyAgeSeconds: Double,
        shops: Int = 0,
        largestBacklogs: [ShopBacklog] = []
    ) {
        self.queue = queue
        self.ready = ready
        self.inflight = inflight
        self.delayed = delayed
        self.dead = dead
        self.oldestReadyAgeSeconds = oldestReadyAgeSeconds
        self.shops = shops
        self.largestBacklogs = largestBacklogs
    }
}

/// A shop group's ready jobs in one queue (see ``FairShare`` for what a group is).
public struct ShopBacklog: Sendable, Equatable, Codable {
    /// The business id (lower case), else the shop domain; empty for jobs of no shop.
    public var group: String
    public var ready: Int

    public init(group: String, ready: Int) {
        self.group = group
        self.ready = ready
    }
}
