import Foundation

/// What sits in `<queue>:dead` for one job.
public struct DeadLetter: Codable, Sendable {
    public var id: String
    /// The envelope as it was when the job died.
    public var job: String
    public var error: String
    public var attempt: Int
    public var failedAtMs: Int64

    public var failedAt: Date { Date(timeIntervalSince1970: Double(self.failedAtMs) / 1000) }

    public init(id: String, job: String, error: String, attempt: Int, failedAtMs: Int64) {
        self.id = id
        self.job = job
        self.error = error
        self.attempt = attempt
        self.failedAtMs = failedAtMs
    }
}

/// One page of a queue's dead letters, and where the next page starts.
public struct DeadLetterPage: Sendable {
    /// Newest first within the page.
    public var letters: [DeadLetter]
    /// The cursor of the next page; nil when this was the last.
    public var next: String?
}
