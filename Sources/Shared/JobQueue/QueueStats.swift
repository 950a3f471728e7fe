/// A queue's numbers, read from Redis itself (not counted by any one process).
public struct QueueStats: Sendable, Equatable, Codable {
    public var queue: String
    public var ready: Int
    public var inflight: Int
    public var delayed: Int
    public var dead: Int
    /// Seconds the oldest ready job has waited since it was enqueued; 0 when none is waiting.
    public var oldestReadyAgeSeconds: Double

    public init(queue: String, ready: Int, inflight: Int, delayed: Int, dead: Int, oldestReadyAgeSeconds: Double) {
        self.queue = queue
        self.ready = ready
        self.inflight = inflight
        self.delayed = delayed
        self.dead = dead
        self.oldestReadyAgeSeconds = oldestReadyAgeSeconds
    }
}
