import EcommerceJobs
import Foundation
import JobQueue
import RedisClient
import Testing

@Suite("Activity counters: the dashboard's per-minute charts")
struct ActivityCountersTests {
    /// A minute of its own, in the past, so that no other test's counts (all of the current minute) land in it.
    static func pastMinute() -> Date {
        let minutes = Int64.random(in: 26_000_000..<27_000_000)  // 2019–2021
        return Date(timeIntervalSince1970: Double(minutes * 60) + 30)
    }

    @Test("two processes' counts of one minute sum in Redis, each minute apart; the report draws answers, queues and lag quantiles")
    func countsSumAcrossProcesses() async throws {
        let redis = TestServices.redis()
        defer { redis.shutdown() }
        let now = Self.pastMinute()
        let earlier = now.addingTimeInterval(-60)
        let gatewayA = ActivityCounters(redis: redis, logger: TestServices.logger)
        let gatewayB = ActivityCounters(redis: redis, logger: TestServices.logger)
        for _ in 0..<3 { gatewayA.add(.webhook(answer: "accepted"), at: now) }
        gatewayB.add(.webhook(answer: "accepted"), count: 2, at: now)
        gatewayA.add(.webhook(answer: "unauthorized"), at: earlier)
        for _ in 0..<4 { gatewayB.add(.job(queue: "ecommerce-orders", outcome: .succeeded), at: now) }
        gatewayB.add(.job(queue: "ecommerce-orders", outcome: .retrying), at: now)
        gatewayB.add(.job(queue: "ecommerce-orders", outcome: .dead), at: now)
        gatewayA.add(.job(queue: "ecommerce-polling", outcome: .succeeded), at: earlier)
        // 50 lags of 20 ms, 48 of 300 ms and 2 of 45 s: the median among the first, the 99th percentile among the last.
        for _ in 0..<50 { gatewayA.add(.ingestLag(seconds: 0.02), at: now) }
        for _ in 0..<48 { gatewayB.add(.ingestLag(seconds: 0.3), at: now) }
        for _ in 0..<2 { gatewayA.add(.ingestLag(seconds: 45), at: now) }
        try await gatewayA.flush()
        try await gatewayB.flush()
        try await gatewayB.flush()  // nothing left to send: nothing counted twice

        let report = try await ActivityCounters.report(redis: redis, minutes: 3, now: now)
        let minute = Int64((now.timeIntervalSince1970 / 60).rounded(.down)) * 60
        #expect(report.minutes == [minute - 120, minute - 60, minute])
        #expect(report.webhooks.map(\.name) == ["accepted", "unauthorized"])
        #expect(report.webhooks.map(\.counts) == [[0, 0, 5], [0, 1, 0]])
        #expect(report.jobs.map(\.queue) == ["ecommerce-orders", "ecommerce-polling"])
        #expect(report.jobs.map(\.completed) == [[0, 0, 4], [0, 1, 0]])
        #expect(report.jobs.map(\.failed) == [[0, 0, 2], [0, 0, 0]], "failed: each failed attempt, retried or dead")
        #expect(report.jobs.map(\.dead) == [[0, 0, 1], [0, 0, 0]])
        #expect(report.ingestLag.count == [0, 0, 100])
        #expect(report.ingestLag.p50[0] == nil && report.ingestLag.p50[1] == nil)
        let p50 = try #require(report.ingestLag.p50[2])
        let p99 = try #require(report.ingestLag.p99[2])
        #expect(p50 > 0.01 && p50 <= 0.025, "p50 \(p50) in 20 ms's bucket")
        #expect(p99 > 30 && p99 <= 60, "p99 \(p99) in 45 s's bucket")
        let ttl = try await redis.send(["TTL", RedisArgument("{ecommerce:activity}:\(minute / 60)")]).int ?? 0
        #expect(ttl > 7000 && ttl <= 7200, "a minute's counts expire after two hours: \(ttl)")
    }

    @Test("the quantiles of a histogram: interpolated within their bucket, the last bound past every bound, nil when empty")
    func quantiles() {
        let bounds = IngestLagBuckets.upperBounds
        var counts = [Int](repeating: 0, count: bounds.count + 1)
        #expect(IngestLagBuckets.quantile(0.5, of: counts) == nil)
        counts[3] = 10  // (0.05, 0.1]
        #expect(abs((IngestLagBuckets.quantile(0.5, of: counts) ?? 0) - 0.075) < 1e-9)
        #expect(IngestLagBuckets.quantile(1, of: counts) == 0.1)
        counts[bounds.count] = 90  // beyond 900 s
        #expect(IngestLagBuckets.quantile(0.99, of: counts) == bounds.last)
        #expect(ActivityField.ingestLag(seconds: 0.1) == ActivityField.ingestLag(seconds: 0.06), "a bound belongs to its bucket")
        #expect(ActivityField.ingestLag(seconds: 0.1) != ActivityField.ingestLag(seconds: 0.1001))
    }

    @Test("a flush while Redis is down keeps its counts, with those added meanwhile, and a later flush delivers them once")
    func failedFlushKeepsCounts() async throws {
        let server = try ScratchRedis()
        let redis = RedisClient(configuration: RedisConfiguration(host: "127.0.0.1", port: server.port))
        defer { redis.shutdown() }
        #expect(await TestServices.eventually(timeout: .seconds(30)) { (try? await redis.ping()) != nil })
        let now = Self.pastMinute()
        let counters = ActivityCounters(redis: redis, logger: TestServices.logger)
        counters.add(.webhook(answer: "accepted"), count: 2, at: now)
        await server.stop()
        await #expect(throws: RedisError.self) { try await counters.flush() }
        counters.add(.webhook(answer: "accepted"), at: now)
        counters.add(.webhook(answer: "accepted"), at: now.addingTimeInterval(60))
        try server.start()
        let delivered = await TestServices.eventually(timeout: .seconds(30)) { (try? await counters.flush()) != nil }
        #expect(delivered)
        try await counters.flush()
        let report = try await ActivityCounters.report(redis: redis, minutes: 2, now: now.addingTimeInterval(60))
        #expect(report.webhooks.map(\.name) == ["accepted"] && report.webhooks.first?.counts == [3, 1])
        await server.stop()
    }
}
