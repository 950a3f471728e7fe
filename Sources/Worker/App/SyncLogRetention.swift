import Foundation
import Logging
import ServiceLifecycle
import Storage

/// Deletes sync logs older than the retention age, hourly. Safe in every replica (a plain `DELETE`).
public struct SyncLogRetention: Service {
    let syncLogs: SyncLogStore
    let age: Duration
    let interval: Duration
    let logger: Logger

    public init(syncLogs: SyncLogStore, age: Duration, interval: Duration = .seconds(3600), logger: Logger) {
        self.syncLogs = syncLogs
        self.age = age
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await repeatUntilShutdown(every: self.interval, logger: self.logger, failure: "sync log retention failed") {
            let deleted = try await self.syncLogs.deleteRuns(olderThan: self.age, logger: self.logger)
            if deleted > 0 { self.logger.info("old sync logs deleted", metadata: ["count": "\(deleted)"]) }
        }
    }
}
