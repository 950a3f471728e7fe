/// A line an enqueue leaves in a capped list, written by the enqueue's own script (so in its round trip, and only
/// together with it), with the enqueue's outcome: a journal of what was received, such as the gateway's deliveries.
///
/// The entry is `openObject` with `,"outcome":"enqueued"}` or `,"outcome":"duplicate"}` appended: a JSON object
/// whose closing brace the script writes.
///
/// The list is a ``CappedList``: trimmed to `cap` and given `retention` only when new or a tenth past `cap`.
public struct EnqueueRecord: Sendable, Equatable {
    /// The list, newest first. The enqueue's script writes it, so it must be in the queue's slot: name it under
    /// ``QueueKeys/tag(_:)`` of the queue (as ``OperatorJournal`` names a shop's deliveries).
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
