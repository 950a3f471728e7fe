import EcommerceJobs
import Foundation
import JobQueue
import Logging
import PostgresNIO
import RedisClient
import Storage
import Synchronization

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

    /// The poll schedule's entries against the active connections, compared a chunk at a time (`ZSCAN` against
    /// PostgreSQL for extra entries, keyset pages of active ids against `ZMSCORE` for missing ones), so that memory
    /// stays bounded however many connections there are; at most `listLimit` ids of each kind are listed, all are
    /// counted. Not a snapshot: a connection that changes during the walk may be counted on either side.
    public func schedule(listLimit: Int = 100, chunk: Int = 1000, logger: Logger) async throws -> ScheduleReport {
        let connections = ConnectionStore(client: self.postgres)
        var report = ScheduleReport(activeConnections: 0, scheduled: 0, missingCount: 0, missing: [], extraCount: 0, extra: [], nextDue: nil)
        var cursor = "0"
        repeat {
            let reply = try await self.redis.send(["ZSCAN", RedisArgument(PollSchedule.key), RedisArgument(cursor), "COUNT", RedisArgument(chunk)])
                .orThrow().elements
            guard reply.count == 2, let next = reply[0].text else { throw RedisError.unexpectedReply("ZSCAN") }
            cursor = next
            let members = stride(from: 0, to: reply[1].elements.count, by: 2).compactMap { reply[1].elements[$0].text }
            report.scheduled += members.count
            let active = try await connections.activeAmong(members.compactMap { UUID(uuidString: $0) }, logger: logger)
            for member in members where !(UUID(uuidString: member).map(active.contains) ?? false) {
                report.extraCount += 1
                if report.extra.count < listLimit { report.extra.append(member) }
            }
        } while cursor != "0"
        var after: UUID?
        while true {
            let page = try await connections.activeBusinessIds(after: after, limit: chunk, logger: logger)
            guard let last = page.last else { break }
            after = last
            report.activeConnections += page.count
            let ids = page.map { $0.uuidString.lowercased() }
            let scores = try await self.redis.send([RedisArgument("ZMSCORE"), RedisArgument(PollSchedule.key)] + ids.map { RedisArgument($0) })
                .orThrow().elements
            for (id, score) in zip(ids, scores) where score == .null {
                report.missingCount += 1
                if report.missing.count < listLimit { report.missing.append(id) }
            }
            if page.count < chunk { break }
        }
        let first = try await self.redis.send(["ZRANGE", RedisArgument(PollSchedule.key), "0", "0", "WITHSCORES"]).orThrow().elements
        report.nextDue = first.count == 2 ? first[1].text.flatMap(Double.init).map { Date(timeIntervalSince1970: $0 / 1000) } : nil
        report.missing.sort()
        report.extra.sort()
        return report
    }

    /// A page of each queue's dead letters (at most `limitPerQueue`, in Redis's order: not necessarily the newest),
    /// newest first. The queues' numbers have the totals; ``deadLetterPage(queue:cursor:limit:)`` pages on.
    public func deadLetters(limitPerQueue: Int) async throws -> [DeadLetterSummary] {
        var letters: [DeadLetterSummary] = []
        for queue in EcommerceQueue.all {
            letters += try await self.deadLetterPage(queue: queue, limit: limitPerQueue).letters.prefix(limitPerQueue)
        }
        return letters.sorted { $0.failedAt > $1.failedAt }
    }

    /// One page of a queue's dead letters, summarised, and the cursor of the next page (nil after the last). About
    /// `limit` of them: Redis may return a few more, which are all kept, since the cursor has moved past them.
    public func deadLetterPage(queue: String, cursor: String = "0", limit: Int) async throws -> DeadLetterSummaryPage {
        let page = try await RedisJobQueue(redis: self.redis).deadLetterPage(queue: queue, cursor: cursor, count: limit)
        let letters = page.letters.map { letter in
            let header = try? JobCoding.decoder().decode(JobHeader.self, from: Data(letter.job.utf8))
            return DeadLetterSummary(
                queue: queue,
                id: letter.id,
                kind: header?.kind ?? "unknown",
                error: letter.error,
                attempt: letter.attempt,
                failedAt: letter.failedAt
            )
        }
        return DeadLetterSummaryPage(letters: letters, next: page.next)
    }

    /// All of the above at once, for the dashboard.
    ///
    /// - Parameter schedule: a schedule report read a moment ago (see ``SharedScheduleReport``); nil reads one now.
    public func overview(
        deadLetterLimit: Int = 50,
        runLimit: Int = 50,
        connectionLimit: Int = 100,
        schedule: ScheduleReport? = nil,
        logger: Logger
    ) async throws -> OpsOverview {
        let scheduleReport: ScheduleReport
        if let schedule { scheduleReport = schedule } else { scheduleReport = try await self.schedule(logger: logger) }
        return OpsOverview(
            generatedAt: Date(),
            workers: try await self.workers(),
            queues: try await self.queues(),
            schedule: scheduleReport,
            connections: try await self.connections(limit: connectionLimit, logger: logger),
            syncRuns: try await SyncLogStore(client: self.postgres).recentRuns(limit: runLimit, logger: logger),
            deadLetters: try await self.deadLetters(limitPerQueue: deadLetterLimit)
        )
    }
}
