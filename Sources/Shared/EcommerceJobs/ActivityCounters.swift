import Foundation
import JobQueue
import Logging
import RedisClient
import ServiceLifecycle
import Synchronization

/// Per-minute counts of what the system did, kept in Redis for the dashboard's charts of the last hour: webhooks by
/// answer, jobs by queue and outcome, and the ingestion lag as a histogram.
///
/// Each process adds to counts of its own in memory (a lock and a dictionary entry: nothing on the webhook path
/// talks to Redis for this) and ``run()`` flushes them every few seconds, one script call per minute that adds them
/// to that minute's hash (`HINCRBY`), so that replicas' counts sum. A flush that fails keeps its counts for the next;
/// a crash loses at most one interval of counts. These are charts, not accounting: the queue and the database are.
///
/// A minute's hash expires after ``retention``; all the hashes share a hash tag (one Redis Cluster slot), so that one
/// script reads the hour.
public final class ActivityCounters: Service, Sendable {
    /// How long a minute's counts stay in Redis.
    public static let retention: Duration = .seconds(2 * 3600)
    /// The minutes a process keeps while Redis does not take them: older ones are dropped.
    static let pendingMinutesKept = 120

    let redis: RedisClient
    let interval: Duration
    let logger: Logger
    /// Counts not yet in Redis: minute (since the epoch) → field → count.
    private let pending = Mutex<[Int64: [String: Int]]>([:])

    public init(redis: RedisClient, interval: Duration = .seconds(5), logger: Logger) {
        self.redis = redis
        self.interval = interval
        self.logger = logger
    }

    static func key(minute: Int64) -> String { "{ecommerce:activity}:\(minute)" }

    static func minute(of date: Date) -> Int64 { Int64((date.timeIntervalSince1970 / 60).rounded(.down)) }

    /// Counts one event (or `count`) in the minute of `date`.
    public func add(_ field: ActivityField, count: Int = 1, at date: Date = Date()) {
        let minute = Self.minute(of: date)
        self.pending.withLock { $0[minute, default: [:]][field.name, default: 0] += count }
    }

    /// Flushes every `interval` until the service group shuts down, then once more.
    public func run() async {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: self.interval)
                await self.flushLogging()
            }
        }
        await self.flushLogging()
    }

    private func flushLogging() async {
        do {
            try await self.flush()
        } catch {
            self.logger.warning("activity counters not flushed; kept for the next try", metadata: ["error": "\(error)"])
        }
    }

    /// KEYS: the minute's hash. ARGV: retention (s), then field, count pairs.
    static let addScript = RedisScript(
        """
        for i = 2, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
        redis.call('EXPIRE', KEYS[1], ARGV[1])
        return 1
        """
    )

    /// Adds the counts gathered so far to Redis; on a failure, the counts not sent are merged back.
    public func flush() async throws(RedisError) {
        var taken = self.pending.withLock { pending in
            defer { pending = [:] }
            return pending
        }
        for minute in taken.keys.sorted() {
            guard let fields = taken[minute], !fields.isEmpty else { continue }
            let arguments =
                [RedisArgument(Int(Self.retention.components.seconds))] + fields.flatMap { [RedisArgument($0.key), RedisArgument($0.value)] }
            do {
                _ = try await self.redis.run(Self.addScript, keys: [Self.key(minute: minute)], arguments: arguments)
                taken[minute] = nil
            } catch {
                self.keep(taken)
                throw error
            }
        }
    }

    /// Puts counts a failed flush took back, with those added meanwhile; bounded to the newest minutes.
    private func keep(_ unsent: [Int64: [String: Int]]) {
        self.pending.withLock { pending in
            for (minute, fields) in unsent {
                pending[minute, default: [:]].merge(fields, uniquingKeysWith: +)
            }
            if pending.count > Self.pendingMinutesKept {
                for minute in pending.keys.sorted().dropLast(Self.pendingMinutesKept) { pending[minute] = nil }
            }
        }
    }

    /// KEYS: the minutes' hashes, oldest first. Returns each one's HGETALL.
    static let readScript = RedisScript(
        """
        local result = {}
        for i = 1, #KEYS do result[i] = redis.call('HGETALL', KEYS[i]) end
        return result
        """
    )

    /// The last `minutes` minutes up to `now` (the current one included, still filling) as charts draw them.
    public static func report(redis: RedisClient, minutes: Int = 60, now: Date = Date()) async throws(RedisError) -> ActivityReport {
        let last = Self.minute(of: now)
        let range = (last - Int64(minutes) + 1)...last
        let reply = try await redis.run(Self.readScript, keys: range.map { Self.key(minute: $0) }, arguments: [])
        let hashes = reply.elements.map { hash -> [String: Int] in
            let items = hash.elements
            var fields: [String: Int] = [:]
            for index in stride(from: 0, to: items.count - 1, by: 2) {
                if let name = items[index].text, let count = items[index + 1].text.flatMap({ Int($0) }) { fields[name] = count }
            }
            return fields
        }
        guard hashes.count == range.count else { throw RedisError.unexpectedReply("activity read returned \(hashes.count) minutes") }
        return ActivityReport(minutes: Array(range), counts: hashes)
    }
}

/// What ``ActivityCounters`` counts: a field of a minute's hash.
public struct ActivityField: Sendable, Hashable {
    public let name: String

    /// A webhook delivery, by the gateway's answer (`accepted`, `duplicate`, `unauthorized`, …).
    public static func webhook(answer: String) -> Self { Self(name: "webhook|\(answer)") }

    /// A job's outcome as recorded in its queue.
    public static func job(queue: String, outcome: JobSettlement.Outcome) -> Self { Self(name: "job|\(queue)|\(outcome.rawValue)") }

    /// A webhook order's ingestion lag (its arrival at the gateway to its stock commit), in its histogram bucket.
    public static func ingestLag(seconds: Double) -> Self {
        let bucket = IngestLagBuckets.upperBounds.firstIndex { seconds <= $0 } ?? IngestLagBuckets.upperBounds.count
        return Self(name: "lag|\(bucket)")
    }
}

/// The ingestion lag histogram's buckets: bucket `i` counts lags in (bound `i - 1`, bound `i`], the last one the rest.
public enum IngestLagBuckets {
    public static let upperBounds: [Double] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900]

    /// The `quantile` (0…1) of a histogram, interpolated linearly within its bucket; nil when it is empty. A quantile
    /// in the last bucket (beyond every bound) is reported as the last bound.
    public static func quantile(_ quantile: Double, of counts: [Int]) -> Double? {
        let total = counts.reduce(0, +)
        guard total > 0 else { return nil }
        let rank = quantile * Double(total)
        var below = 0
        for (index, count) in counts.enumerated() where count > 0 {
            if Double(below + count) >= rank {
                guard index < upperBounds.count else { return upperBounds.last }
                let lower = index == 0 ? 0 : upperBounds[index - 1]
                let within = max(0, rank - Double(below)) / Double(count)
                return lower + (upperBounds[index] - lower) * within
            }
            below += count
        }
        return upperBounds.last
    }
}

/// The charts' data: per minute, oldest first.
public struct ActivityReport: Encodable, Sendable {
    /// Each minute's start, in seconds since the epoch.
    public var minutes: [Int64]
    /// Webhook deliveries per minute, by answer.
    public var webhooks: [Series]
    /// Jobs per minute, per queue: completed, failed (each failed attempt, retried or not) and of those dead.
    public var jobs: [QueueSeries]
    /// The ingestion lag of webhook orders per minute (seconds; null in a minute without one).
    public var ingestLag: LagSeries

    public struct Series: Encodable, Sendable, Equatable {
        public var name: String
        public var counts: [Int]
    }

    public struct QueueSeries: Encodable, Sendable, Equatable {
        public var queue: String
        public var completed: [Int]
        public var failed: [Int]
        public var dead: [Int]
    }

    public struct LagSeries: Encodable, Sendable, Equatable {
        public var count: [Int]
        public var p50: [Double?]
        public var p99: [Double?]
    }

    init(minutes: [Int64], counts: [[String: Int]]) {
        self.minutes = minutes.map { $0 * 60 }
        func series(_ field: String) -> [Int] { counts.map { $0[field] ?? 0 } }
        let names = Set(counts.flatMap(\.keys))
        let answers = names.compactMap { $0.hasPrefix("webhook|") ? String($0.dropFirst("webhook|".count)) : nil }.sorted()
        self.webhooks = answers.map { Series(name: $0, counts: series("webhook|\($0)")) }
        let queues = Set(
            names.compactMap { name -> String? in
                let parts = name.split(separator: "|")
                return parts.count == 3 && parts[0] == "job" ? String(parts[1]) : nil
            }
        )
        self.jobs = queues.sorted().map { queue in
            func outcome(_ outcome: JobSettlement.Outcome) -> [Int] { series(ActivityField.job(queue: queue, outcome: outcome).name) }
            let dead = outcome(.dead)
            return QueueSeries(queue: queue, completed: outcome(.succeeded), failed: zip(outcome(.retrying), dead).map(+), dead: dead)
        }
        let histograms = counts.map { minute in (0...IngestLagBuckets.upperBounds.count).map { minute["lag|\($0)"] ?? 0 } }
        self.ingestLag = LagSeries(
            count: histograms.map { $0.reduce(0, +) },
            p50: histograms.map { IngestLagBuckets.quantile(0.5, of: $0) },
            p99: histograms.map { IngestLagBuckets.quantile(0.99, of: $0) }
        )
    }
}
