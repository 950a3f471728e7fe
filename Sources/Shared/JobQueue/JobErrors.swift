/// Thrown by a handler to run the job again later without spending an attempt (rate limits, a dependency
/// asking to wait). The job keeps its place in the retry budget.
public struct JobRetryLater: Error, Sendable {
    public var delay: Duration
    public var reason: String

    public init(after delay: Duration, reason: String) {
        self.delay = delay
        self.reason = reason
    }
}

/// Thrown by a handler when retrying cannot help (a malformed payload, a refusal that will not change):
/// the job goes straight to dead letters.
public struct PermanentJobError: Error, Sendable, CustomStringConvertible {
    public var code: String
    public var message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(self.code): \(self.message)" }
}
