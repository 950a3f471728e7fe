import EcommerceJobs
import Foundation
import JobQueue
import Logging
import PostgresNIO
import RedisClient
import Storage

/// A connection as an operator sees it: its status and how far behind its polls are.
public struct ConnectionLag: Codable, Sendable, Equatable {
    public var businessId: UUID
    public var shop: String
    public var status: String
    public var lastSyncedAt: Date?
    /// now − `lastSyncedAt`; nil for a connection never polled.
    public var lagSeconds: Double?
}

/// The poll schedule against the active connections: every active connection should have exactly one entry.
public struct ScheduleReport: Codable, Sendable, Equatable {
    public var activeConnections: Int
    public var scheduled: Int
    /// Active businesses without a schedule entry (their polls stopped).
    public var missing: [String]
    /// Scheduled businesses that are no longer active (removed at their next tick).
    public var extra: [String]
    public var nextDue: Date?
}

/// One dead letter with its queue, shortened for a listing.
public struct DeadLetterSummary: Codable, Sendable, Equatable {
    public var queue: String
    public var id: String
    /// The job's kind from its envelope ("unknown" when the envelope is unreadable).
    public var kind: String
    public var error: String
    public var attempt: Int
    public var failedAt: Date
}

/// Everything the ops dashboard shows, read at one moment.
public struct OpsOverview: Codable, Sendable {
    public var generatedAt: Date
    public var workers: [WorkerReport]
    public var queues: [QueueStats]
    public var schedule: ScheduleReport
    /// The active connections most behind first (at most `connectionLimit`; `schedule` has the count).
    public var connections: [ConnectionLag]
    public var syncRuns: [SyncRun]
    /// The newest dead letters of every queue (at most `deadLetterLimit` per queue; `queues` has the totals).
    public var deadLetters: [DeadLetterSummary]
}

/// The operator's questions answered from Redis and PostgreSQL themselves: are the workers running, what waits in
/// which queue, does every active connection have its repeat poll, does `lastSyncedAt` advance, what died and why.
/// One definition, used by the worker's ops commands and by the gateway's dashboard.
public struct OpsReports: Sendable {
    let redis: RedisClient
    let postgres: PostgresClient
    /// A worker not heard from for this long is considered gone (heartbeats come every few seconds).
    public var workerMaxAge: Duration = .seconds(60)

    public init(redis: RedisClient, postgres: PostgresClient) {
        self.redis = redis
        self.postgres = postgres
    }

    /// Ready, in-flight, delayed and dead jobs and the oldest ready job's age, per queue.
    public func queues() async throws -> [QueueStats] {
        let jobs = RedisJobQueue(redis: self.redis)
        var stats: [QueueStats] = []
        for queue in EcommerceQueue.all { stats.append(try await jobs.stats(queue: queue)) }
        return stats
    }

    /// The worker processes that reported recently.
    public func workers() async throws -> [WorkerReport] {
        try await WorkerRegistry(redis: self.redis).live(maxAge: self.workerMaxAge)
    }

    /// The connections, active ones first, then the ones never polled and the most behind; all of them without a
    /// limit.
    public func connections(limit: Int? = nil, logger: Logger) async throws -> [ConnectionLag] {
        var rows: [ConnectionLag] = []
        for try await (business, shop, status, synced) in try await self.postgres.query(
            """
            SELECT business_id, shop_domain, status, last_synced_at FROM ecommerce_connection
            ORDER BY status, last_synced_at NULLS FIRST LIMIT \(limit)
            """,
            logger: logger
        ).decode((UUID, String, String, Date?).self) {
            rows.append(
                ConnectionLag(
                    businessId: business,
                    shop: shop,
                    status: status,
                    lastSyncedAt: synced,
                    lagSeconds: synced.map { -$0.timeIntervalSinceNow }
                )
            )
        }
        return rows
    }

    /// The poll schedule's entries against the active connections.
    public func schedule(logger: Logger) async throws -> ScheduleReport {
        let active = Set(try await ConnectionStore(client: self.postgres).activeBusinessIds(logger: logger).map { $0.uuidString.lowercased() })
        let scheduled = Set(try await self.redis.send(["ZRANGE", RedisArgument(PollSchedule.key), "0", "-1"]).orThrow().elements.compactMap(\.text))
        let first = try await self.redis.send(["ZRANGE", RedisArgument(PollSchedule.key), "0", "0", "WITHSCORES"]).orThrow().elements
        let nextDue = first.count == 2 ? first[1].text.flatMap(Double.init).map { Date(timeIntervalSince1970: $0 / 1000) } : nil
        return ScheduleReport(
            activeConnections: active.count,
            scheduled: scheduled.count,
            missing: active.subtracting(scheduled).sorted(),
            extra: scheduled.subtracting(active).sorted(),
            nextDue: nextDue
        )
    }

    /// The newest dead letters of every queue, newest first.
    public func deadLetters(limitPerQueue: Int) async throws -> [DeadLetterSummary] {
        let jobs = RedisJobQueue(redis: self.redis)
        var letters: [DeadLetterSummary] = []
        for queue in EcommerceQueue.all {
            for letter in try await jobs.deadLetters(queue: queue).prefix(limitPerQueue) {
                let header = try? JobCoding.decoder().decode(JobHeader.self, from: Data(letter.job.utf8))
                letters.append(
                    DeadLetterSummary(
                        queue: queue,
                        id: letter.id,
                        kind: header?.kind ?? "unknown",
                        error: letter.error,
                        attempt: letter.attempt,
                        failedAt: letter.failedAt
                    )
                )
            }
        }
        return letters.sorted { $0.failedAt > $1.failedAt }
    }

    /// All of the above at once, for the dashboard.
    public func overview(deadLetterLimit: Int = 50, runLimit: Int = 50, connectionLimit: Int = 100, logger: Logger) async throws -> OpsOverview {
        OpsOverview(
            generatedAt: Date(),
            workers: try await self.workers(),
            queues: try await self.queues(),
            schedule: try await self.schedule(logger: logger),
            connections: try await self.connections(limit: connectionLimit, logger: logger),
            syncRuns: try await SyncLogStore(client: self.postgres).recentRuns(limit: runLimit, logger: logger),
            deadLetters: try await self.deadLetters(limitPerQueue: deadLetterLimit)
        )
    }
}
