/// Exponential backoff with jitter for failed jobs: attempt n waits a random time in [d/2, d], where
/// d = min(base · 2^(n−1), cap). The jitter spreads retries of jobs that failed together.
public struct RetryBackoff: Sendable {
    public var base: Duration
    public var cap: Duration

    public init(base: Duration = .seconds(1), cap: Duration = .seconds(600)) {
        self.base = base
        self.cap = cap
    }

    /// The delay before the run that follows the `failures`-th failure (1-based).
    public func delay(afterFailures failures: Int) -> Duration {
        let exponent = min(max(failures - 1, 0), 30)
        let ceiling = min(self.base * (1 << exponent), self.cap)
        let ceilingMs = max(ceiling.milliseconds, 1)
        return .milliseconds(Int.random(in: (ceilingMs / 2)...ceilingMs))
    }
}
