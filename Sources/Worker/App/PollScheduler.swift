import EcommerceJobs
import Foundation
import Logging
import ServiceLifecycle
import Storage

/// Runs the poll schedule in a worker: ticks every second and reconciles with `ecommerce_connection` every
/// minute. Safe in every replica (see ``PollSchedule``).
public struct PollScheduler: Service {
    let schedule: PollSchedule
    let connections: ConnectionStore
    let tickInterval: Duration
    let reconcileInterval: Duration
    let logger: Logger

    public init(
        schedule: PollSchedule,
        connections: ConnectionStore,
        tickInterval: Duration = .seconds(1),
        reconcileInterval: Duration = .seconds(60),
        logger: Logger
    ) {
        self.schedule = schedule
        self.connections = connections
        self.tickInterval = tickInterval
        self.reconcileInterval = reconcileInterval
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var lastReconcile: ContinuousClock.Instant? = nil
            while !Task.isCancelled {
                do {
                    if lastReconcile.map({ $0.duration(to: .now) >= self.reconcileInterval }) ?? true {
                        let (added, removed) = try await self.schedule.reconcile(
                            active: try await self.connections.activeBusinessIds(logger: self.logger)
                        )
                        if added + removed > 0 {
                            self.logger.info("poll schedule reconciled", metadata: ["added": "\(added)", "removed": "\(removed)"])
                        }
                        lastReconcile = .now
                    }
                    while try await self.schedule.tick() == 500 {}
                } catch {
                    self.logger.error("poll scheduling failed; retrying", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: self.tickInterval)
            }
        }
    }
}
