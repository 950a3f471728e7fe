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
