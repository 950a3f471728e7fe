import NIOCore
import NIOPosix

/// Process-wide set-up of Swift concurrency, called first thing in `main`.
public enum ConcurrencySetup {
    /// Runs Swift concurrency's global executor on NIO's event loops, so that async code and the I/O it waits
    /// for share threads instead of hopping between NIO's loops and a second pool (`docs/performance.md`).
    ///
    /// Safe in these processes because nothing blocks a concurrency thread: Redis and PostgreSQL are both reached
    /// through NIO channels (hiredis only parses Redis replies). Must run before any task is created.
    ///
    /// - Parameter loops: event loop threads; nil for NIO's default, one per core.
    public static func runOnEventLoops(loops: Int? = nil) {
        if let loops { NIOSingletons.groupLoopCountSuggestion = loops }
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }
}
