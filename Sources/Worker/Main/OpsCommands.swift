import ArgumentParser
import EcommerceJobs
import Foundation
import JobQueue
import Logging
import Operations
import PostgresNIO
import ProcessEnvironment
import RedisClient
import Storage
import WorkerApp

/// The operator's commands: are the workers running, does every active connection have its poll, does
/// `lastSyncedAt` advance, and what is in the dead letters. Tables for people, `--json` for scripts.
struct OpsOptions: ParsableArguments {
    @Flag(help: "Print JSON instead of a table.") var json = false
}

/// Runs `body` with the configured Redis and PostgreSQL, then closes them.
func withServices<Result: Sendable>(_ body: @Sendable (RedisClient, PostgresClient, Logger) async throws -> Result) async throws -> Result {
    let configuration = try loadConfiguration()
    var logger = Logger(label: "ecommerce-worker")
    logger.logLevel = .warning
    let redis = RedisClient(configuration: configuration.common.redis)
    defer { redis.shutdown() }
    let postgres = PostgresClient(configuration: configuration.common.database, backgroundLogger: logger)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await postgres.run() }
        defer { group.cancelAll() }
        return try await body(redis, postgres, logger)
    }
}

/// Runs `body` with the operator's reports over the configured Redis and PostgreSQL.
func withReports<Result: Sendable>(_ body: @Sendable (OpsReports, Logger) async throws -> Result) async throws -> Result {
    try await withServices { redis, postgres, logger in try await body(OpsReports(redis: redis, postgres: postgres), logger) }
}

/// Prints rows as aligned columns, or the value as JSON.
func output(_ value: some Encodable, json: Bool, header: [String], rows: [[String]]) throws {
    if json {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
        return
    }
    let all = [header] + rows
    let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
    for row in all {
        print(row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  "))
    }
}

struct Queues: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ready, in-flight, delayed and dead jobs per queue, the longest wait in line, and the shops with the largest backlogs."
    )
    @OptionGroup var options: OpsOptions

    func run() async throws {
        let stats = try await withReports { reports, _ in try await reports.queues() }
        try output(
            stats,
            json: self.options.json,
            header: ["QUEUE", "READY", "IN-FLIGHT", "DELAYED", "DEAD", "OLDEST READY", "SHOPS", "LARGEST BACKLOGS"],
            rows: stats.map {
                [
                    $0.queue, "\($0.ready)", "\($0.inflight)", "\($0.delayed)", "\($0.dead)", String(format: "%.1f s", $0.oldestReadyAgeSeconds),
                    "\($0.shops)",
                    $0.largestBacklogs.prefix(3).map { "\($0.group.isEmpty ? "(no shop)" : $0.group):\($0.ready)" }.joined(separator: " "),
                ]
            }
        )
    }
}

struct RedisMigrateKeys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "redis-migrate-keys",
        abstract: "Moves the queues' keys and the poll schedule from the names before hash tags to today's (single Redis only; safe to run again)."
    )

    func run() async throws {
        let moved = try await withServices { redis, _, _ in try await RedisKeyMigration(redis: redis).run() }
        print("moved \(moved) key(s) to their hash-tagged names")
    }
}

struct Workers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Live worker processes: host, pid, queues, concurrency, jobs in flight, heartbeat age.")
    @OptionGroup var options: OpsOptions

    func run() async throws {
        let workers = try await withReports { reports, _ in try await reports.workers() }
        let now = Date().timeIntervalSince1970 * 1000
        try output(
            workers,
            json: self.options.json,
            header: ["HOST", "PID", "QUEUES", "CONCURRENCY", "IN FLIGHT", "HEARTBEAT"],
            rows: workers.map {
                [
                    $0.host, "\($0.pid)", $0.queues.joined(separator: ","), "\($0.concurrency)", "\($0.inFlight)",
                    String(format: "%.1f s ago", (now - Double($0.heartbeatAtMs)) / 1000),
                ]
            }
        )
        if workers.isEmpty && !self.options.json { print("no live worker") }
    }
}

struct Dead: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Dead letters: list, show, retry, purge.",
        subcommands: [List.self, Show.self, Retry.self, Purge.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A page of a queue's dead letters (newest first within it); the next page's cursor on stderr."
        )
        @Option(help: "The queue, e.g. ecommerce-orders.") var queue: String
        @Option(help: "About this many letters.") var limit = 100
        @Option(help: "The cursor a previous page printed (0: the first page).") var cursor = "0"
        @OptionGroup var options: OpsOptions

        func validate() throws {
            guard (1...10_000).contains(self.limit) else { throw ValidationError("--limit must be 1…10000") }
            guard UInt64(self.cursor) != nil else { throw ValidationError("--cursor must be a number a previous page printed") }
        }

        func run() async throws {
            let (queue, cursor, limit) = (self.queue, self.cursor, self.limit)
            let page = try await withServices { redis, _, _ in
                try await RedisJobQueue(redis: redis).deadLetterPage(queue: queue, cursor: cursor, count: limit)
            }
            let letters = page.letters
            if let next = page.next { FileHandle.standardError.write(Data("more: --cursor \(next)\n".utf8)) }
            try output(
                letters,
                json: self.options.json,
                header: ["ID", "ATTEMPTS", "FAILED AT", "ERROR"],
                rows: letters.map {
                    [
                        $0.id, "\($0.attempt)", ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double($0.failedAtMs) / 1000)),
                        String($0.error.prefix(80)),
                    ]
                }
            )
        }
    }

    struct Show: AsyncParsableCommand {
        @Option(help: "The queue.") var queue: String
        @Argument(help: "The job id.") var id: String

        func run() async throws {
            let (queue, id) = (self.queue, self.id)
            let letter = try await withServices { redis, _, _ in try await RedisJobQueue(redis: redis).deadLetter(queue: queue, id: id) }
            guard let letter else { throw ValidationError("no dead letter \(id) in \(queue)") }
            try output(letter, json: true, header: [], rows: [])
        }
    }

    /// Which dead letters a retry or purge acts on: one job id, or `--all` of the queue.
    struct Target: ParsableArguments {
        @Option(help: "The queue.") var queue: String
        @Argument(help: "The job id (or --all).") var id: String?
        @Flag(help: "Every dead letter of the queue.") var all = false

        func validate() throws {
            guard (self.id != nil) != self.all else { throw ValidationError("give a job id or --all") }
        }
    }

    struct Retry: AsyncParsableCommand {
        @OptionGroup var target: Target

        func run() async throws {
            let (queue, id) = (self.target.queue, self.target.id)
            let retried = try await withServices { redis, _, _ in
                let jobs = RedisJobQueue(redis: redis)
                if let id { return try await jobs.retryDeadLetter(queue: queue, id: id) ? 1 : 0 }
                var count = 0
                try await jobs.forEachDeadLetterPage(queue: queue, count: 500) { letters in
                    for letter in letters where try await jobs.retryDeadLetter(queue: queue, id: letter.id) { count += 1 }
                }
                return count
            }
            print("retried \(retried)")
        }
    }

    struct Purge: AsyncParsableCommand {
        @OptionGroup var target: Target

        func run() async throws {
            let (queue, id) = (self.target.queue, self.target.id)
            let purged = try await withServices { redis, _, _ in try await RedisJobQueue(redis: redis).purgeDeadLetters(queue: queue, id: id) }
            print("purged \(purged)")
        }
    }
}

struct Schedule: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The poll schedule against the active connections.", subcommands: [Status.self])

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Entries vs active connections, missing and extra ones, the next due.")
        @OptionGroup var options: OpsOptions

        func run() async throws {
            let report = try await withReports { reports, logger in try await reports.schedule(logger: logger) }
            try output(
                report,
                json: self.options.json,
                header: ["ACTIVE", "SCHEDULED", "MISSING", "EXTRA", "NEXT DUE"],
                rows: [
                    [
                        "\(report.activeConnections)", "\(report.scheduled)", "\(report.missingCount)", "\(report.extraCount)",
                        report.nextDue.map { ISO8601DateFormatter().string(from: $0) } ?? "-",
                    ]
                ]
            )
        }
    }
}

struct Connections: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Connections with their status and poll lag.")
    @OptionGroup var options: OpsOptions

    func run() async throws {
        let rows = try await withReports { reports, logger in try await reports.connections(logger: logger) }
        try output(
            rows,
            json: self.options.json,
            header: ["BUSINESS", "SHOP", "STATUS", "LAST SYNCED", "LAG"],
            rows: rows.map {
                [
                    $0.businessId.uuidString.lowercased(), $0.shop, $0.status,
                    $0.lastSyncedAt.map { ISO8601DateFormatter().string(from: $0) } ?? "never",
                    $0.lagSeconds.map { String(format: "%.0f s", $0) } ?? "-",
                ]
            }
        )
    }
}
