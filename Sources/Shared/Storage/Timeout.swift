import Synchronization

/// An operation that did not finish within its time.
public struct TimeoutError: Error, CustomStringConvertible {
    public var timeout: Duration
    public var description: String { "timed out after \(self.timeout)" }
}

/// Runs `operation` and answers with its result, or with ``TimeoutError`` once `timeout` has passed, whichever
/// comes first; on a timeout the operation is cancelled and left to end on its own.
///
/// PostgreSQL queries wait for a pooled connection without a limit of their own: while the database is down a
/// query waits until it returns. Callers that must answer meanwhile (a webhook's shop lookup, a readiness probe)
/// bound the wait with this. It does not wait for the cancelled operation to finish, as a task group would: an
/// operation slow to notice its cancellation would hold the answer (20 s were seen for a 2 s timeout).
public func withTimeout<Result: Sendable>(
    _ timeout: Duration,
    _ operation: @escaping @Sendable () async throws -> Result
) async throws -> Result {
    let race = TimeoutRace<Result>()
    let work = Task {
        do {
            race.finish(.success(try await operation()))
        } catch {
            race.finish(.failure(error))
        }
    }
    race.setTimer(
        Task {
            try? await Task.sleep(for: timeout)
            if race.finish(.failure(TimeoutError(timeout: timeout))) { work.cancel() }
        }
    )
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { race.wait($0) }
    } onCancel: {
        work.cancel()
        race.finish(.failure(CancellationError()))
    }
}

/// The first of an operation's outcome and its timeout, handed to a caller that may start waiting before or after
/// it came.
private final class TimeoutRace<Result: Sendable>: Sendable {
    private enum State {
        case pending
        case waiting(CheckedContinuation<Result, any Error>)
        case finished(Swift.Result<Result, any Error>)
        case delivered
    }

    private let state = Mutex(State.pending)
    private let timer = Mutex<Task<Void, Never>?>(nil)

    /// The timer's task, cancelled as soon as the race is decided (so that no sleep outlives it).
    func setTimer(_ task: Task<Void, Never>) {
        self.timer.withLock { $0 = task }
        if self.isDecided { task.cancel() }
    }

    private var isDecided: Bool {
        self.state.withLock { state in
            if case .pending = state { return false }
            if case .waiting = state { return false }
            return true
        }
    }

    func wait(_ continuation: CheckedContinuation<Result, any Error>) {
        let ready: Swift.Result<Result, any Error>? = self.state.withLock { state in
            guard case .finished(let result) = state else {
                state = .waiting(continuation)
                return nil
            }
            state = .delivered
            return result
        }
        if let ready { continuation.resume(with: ready) }
    }

    /// Records `outcome` if nothing came first; true if it was the first.
    @discardableResult
    func finish(_ outcome: Swift.Result<Result, any Error>) -> Bool {
        let (first, waiting): (Bool, CheckedContinuation<Result, any Error>?) = self.state.withLock { state in
            switch state {
            case .pending:
                state = .finished(outcome)
                return (true, nil)
            case .waiting(let continuation):
                state = .delivered
                return (true, continuation)
            case .finished, .delivered:
                return (false, nil)
            }
        }
        guard first else { return false }
        self.timer.withLock { $0 }?.cancel()
        waiting?.resume(with: outcome)
        return true
    }
}
