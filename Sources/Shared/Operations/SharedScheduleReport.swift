import Logging
import Synchronization

/// One schedule report shared by every caller for `maxAge`: comparing the schedule with the connections walks
/// both, which every open dashboard refreshing every few seconds must not pay for on its own.
public final class SharedScheduleReport: Sendable {
    private let maxAge: Duration
    private let cached = Mutex<(report: ScheduleReport, readAt: ContinuousClock.Instant)?>(nil)

    public init(maxAge: Duration) {
        self.maxAge = maxAge
    }

    /// The report read less than `maxAge` ago, or a fresh one from `reports`.
    public func report(from reports: OpsReports, logger: Logger) async throws -> ScheduleReport {
        if let cached = self.cached.withLock({ $0 }), .now - cached.readAt < self.maxAge { return cached.report }
        let fresh = try await reports.schedule(logger: logger)
        self.cached.withLock { $0 = (fresh, .now) }
        return fresh
    }
}
