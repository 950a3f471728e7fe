/// A job taken from a queue by one worker, with its lease.
public struct ClaimedJob: Sendable {
    public let queue: String
    public let header: JobHeader
    /// The envelope exactly as it was stored.
    public let envelope: [UInt8]

    public var id: String { self.header.id }

    public init(queue: String, header: JobHeader, envelope: [UInt8]) {
        self.queue = queue
        self.header = header
        self.envelope = envelope
    }
}
