import Foundation
import RedisClient

/// A live worker process as it reports itself on every heartbeat.
public struct WorkerReport: Codable, Sendable, Equatable {
    public var id: String
    public var host: String
    public var pid: Int32
    public var queues: [String]
    public var concurrency: Int
    public var inFlight: Int
    public var startedAtMs: Int64
    public var heartbeatAtMs: Int64
}

/// `ecommerce:workers`: each worker's latest report (a hash) and when it was made (a sorted set), so that operators
/// can see which workers are alive. A worker that stops cleanly removes itself; one that died ages out.
public struct WorkerRegistry: Sendable {
    let redis: RedisClient
    static let reports = "ecommerce:workers"
    static let seen = "ecommerce:workers:seen"

    public init(redis: RedisClient) {
        self.redis = redis
    }

    /// Stores `report` as the worker's latest and marks it seen now.
    public func report(_ report: WorkerReport) async throws {
        let json = try JSONEncoder().encode(report)
        _ = try await self.redis.send(commands: [
            ["HSET", RedisArgument(Self.reports), RedisArgument(report.id), RedisArgument(bytes: Array(json))],
            ["ZADD", RedisArgument(Self.seen), RedisArgument(Int(report.heartbeatAtMs)), RedisArgument(report.id)],
        ])
    }

    /// Forgets a worker (it stopped, or aged out).
    public func remove(id: String) async throws {
        _ = try await self.redis.send(commands: [
            ["HDEL", RedisArgument(Self.reports), RedisArgument(id)], ["ZREM", RedisArgument(Self.seen), RedisArgument(id)],
        ])
    }

    /// Workers heard from within `maxAge`; older entries (dead workers) are dropped.
    public func live(maxAge: Duration) async throws -> [WorkerReport] {
        let cutoff = Int(Date().timeIntervalSince1970 * 1000) - Int(maxAge.components.seconds) * 1000
        let stale = try await self.redis.send(["ZRANGEBYSCORE", RedisArgument(Self.seen), "-inf", RedisArgument("(\(cutoff)")]).orThrow().elements
            .compactMap(\.text)
        for id in stale { try await self.remove(id: id) }
        let values = try await self.redis.send(["HVALS", RedisArgument(Self.reports)]).orThrow().elements
        return values.compactMap { value in
            guard case .string(let bytes) = value else { return nil }
            return try? JSONDecoder().decode(WorkerReport.self, from: Data(bytes))
        }.sorted { ($0.host, $0.pid) < ($1.host, $1.pid) }
    }
}
