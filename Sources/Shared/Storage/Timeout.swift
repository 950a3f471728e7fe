/// An operation that did not finish within its time.
public struct TimeoutError: Error, CustomStringConvertible {
    public var timeout: Duration
    public var description: String { "timed out after \(self.timeout)" }
}

/// Runs `operation`, cancelled and answered with ``TimeoutError`` when it takes longer than `timeout`.
///
/// PostgreSQL queries wait for a pooled connection without a limit of their own: while the database is down a
/// query waits until it returns. Callers that must answer meanwhile (a webhook's shop lookup, a readiness probe)
/// bound the wait with this; the query's lease request is cancelled with it.
public func withTimeout<Result: Sendable>(
    _ timeout: Duration,
    _ operation: @escaping @Sendable () async throws -> Result
) async throws -> Result {
    try await withThrowingTaskGroup(of: Result?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let result = first else { throw TimeoutError(timeout: timeout) }
        return result
    }
}
