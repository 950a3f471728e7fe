/// A line an enqueue leaves in a capped list, written by the enqueue's own script (so in its round trip, and only
/// together with it), with the enqueue's outcome: a journal of what was received, such as the gateway's deliveries.
///
/// The entry is `openObject` with `,"outcome":"enqueued"}` or `,"outcome":"duplicate"}` appended: a JSON object
/// whose closing brace the script writes.
public struct EnqueueRecord: Sendable, Equatable {
    /// The hash that keeps the latest entry of a kind: `field` is the kind (say, the topic).
    public struct Latest: Sendable, Equatable {
        public var hash: String
        public var field: String

        public init(hash: String, field: String) {
            self.hash = hash
            self.field = field
        }
    }

    /// The list, newest first.
    public var list: String
    /// The list keeps this many entries.
    public var cap: Int
    /// The list (and the hash) expire this long after their last write.
    public var retention: Duration
    /// A JSON object without its closing brace, e.g. `{"topic":"orders/create"`.
    public var openObject: [UInt8]
    public var latest: Latest?

    public init(list: String, cap: Int, retention: Duration, openObject: [UInt8], latest: Latest? = nil) {
        self.list = list
        self.cap = cap
        self.retention = retention
        self.openObject = openObject
        self.latest = latest
    }
}
