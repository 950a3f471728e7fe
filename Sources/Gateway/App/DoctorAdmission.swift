import Foundation
import Synchronization

/// Admits a business's doctor run at most once per interval in this process (runs and fixes counted apart, so that a
/// fix may follow the run that showed what to fix). A doctor run asks Shopify several things on the shop's own cost
/// budget, the one its pushes and polls spend: without this a script (or a fuzzer) asking in a loop drains it, and
/// every answer then waits for Shopify's throttle (the API fuzz saw 5–10 s answers).
final class DoctorAdmission: Sendable {
    let minInterval: Duration
    /// When each (business, fix) last ran; entries older than the interval are dropped once it holds many.
    private let lastRuns = Mutex<[Key: ContinuousClock.Instant]>([:])
    private struct Key: Hashable {
        var businessId: UUID
        var fix: Bool
    }
    static let prunedAbove = 10_000

    init(minInterval: Duration) {
        self.minInterval = minInterval
    }

    /// Nil when the run may go ahead (and it is counted as run now); otherwise how long until it may.
    func admit(_ businessId: UUID, fix: Bool, now: ContinuousClock.Instant = .now) -> Duration? {
        guard self.minInterval > .zero else { return nil }
        return self.lastRuns.withLock { lastRuns in
            let key = Key(businessId: businessId, fix: fix)
            if let last = lastRuns[key], now - last < self.minInterval { return self.minInterval - (now - last) }
            if lastRuns.count >= Self.prunedAbove { lastRuns = lastRuns.filter { now - $0.value < self.minInterval } }
            lastRuns[key] = now
            return nil
        }
    }
}
