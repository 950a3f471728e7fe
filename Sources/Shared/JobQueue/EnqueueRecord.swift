/// A line an enqueue leaves in a capped list, written by the enqueue's own script (so in its round trip, and only
/// together with it), with the enqueue's outcome: a journal of what was received, such as the gateway's deliveries.
///
/// The entry is `openObject` with `,"outcome":"enqueued"}` or `,"outcome":"duplicate"}` appended: a JSON object
/// whose closing brace the script writes.
///
/// The list is trimmed to `cap` entries and its expiry set to `retention` when it is created and whenever it has
/// grown a tenth past `cap`, not on every write: on the webhook path each extra command costs throughput. So it holds
/// between `cap` and 1.1 × `cap` entries, and expires `retention` after its creation or its last trim.
public struct EnqueueRecord: Sendable, Equatable {
    /// The list, newest first.
    public var list: String
    public var cap: Int
    public var retention: Duration
    /// A JSON object without its closing brace, e.g. `{"topic":"orders/create"`.
    public var openObject: [UInt8]

    public init(list: String, cap: Int, retention: Duration, openObject: [UInt8]) {
        self.list = list
        self.cap = cap
        self.retention = retention
        self.openObject = openObject
    }
}
