import EcommerceJobs
import Foundation
import JobQueue
import Logging
import PostgresNIO
import Prometheus
import RedisClient
import Synchronization

/// Gauges read from Redis and PostgreSQL when `/metrics` is scraped, at most once per `interval` (scrapes in
/// between, and scrapes while a refresh runs, read the gauges as they are): the queues as they are (ready,
/// in-flight, delayed, dead, longest wait in line, shops waiting, crash recoveries), the dedupe keys alive, and the poll lag of active connections (now − `lastSyncedAt`,
/// by bucket, and its maximum). The same whichever process would report them, so only the gateway exports them:
/// summing over pods does not double count. Per-process metrics (job durations, Shopify budget waits) stay with
/// the workers.
final class QueueTruthMetrics: Sendable {
    let queue: RedisJobQueue
    let postgres: PostgresClient
    let registry: PrometheusCollectorRegistry
    let interval: Duration
    /// When the last refresh started; nil before the first.
    private let lastRefresh = Mutex<ContinuousClock.Instant?>(nil)

    init(queue: RedisJobQueue, postgres: PostgresClient, registry: PrometheusCollectorRegistry, interval: Duration) {
        self.queue = queue
        self.postgres = postgres
        self.registry = registry
        self.interval = interval
    }

    /// Refreshes the gauges unless another scrape did less than `interval` ago (or is doing it now).
    func refreshIfDue(logger: Logger) async {
        let due = self.lastRefresh.withLock { last in
            let now = ContinuousClock.now
            if let previous = last, now - previous < self.interval { return false }
            last = now
            return true
        }
        guard due else { return }
        await self.refresh(logger: logger)
    }
    /// Poll lag bucket bounds in seconds (cumulative, as in a Prometheus histogram).
    static let lagBuckets: [Double] = [60, 300, 900, 1800, 3600, 7200, 21_600, 86_400]

    func refresh(logger: Logger) async {
        for name in EcommerceQueue.all {
            guard let stats = try? await self.queue.stats(queue: name) else { continue }
            for (state, value) in [("ready", stats.ready), ("inflight", stats.inflight), ("delayed", stats.delayed), ("dead", stats.dead)] {
                self.registry.makeGauge(
                    name: "ecommerce_queue_jobs",
                    labels: [("queue", name), ("state", state)],
                    help: "Jobs per queue and state, read from Redis"
                ).set(Double(value))
            }
            self.registry.makeGauge(
                name: "ecommerce_queue_oldest_ready_age_seconds",
                labels: [("queue", name)],
                help: "How long the longest-waiting of the next jobs in line has waited"
            ).set(stats.oldestReadyAgeSeconds)
            self.registry.makeGauge(
                name: "ecommerce_queue_shops_waiting",
                labels: [("queue", name)],
                help: "Shops with ready jobs in the queue, taking turns"
            ).set(Double(stats.shops))
            if let recovered = try? await self.queue.redis.send(["HLEN", RedisArgument(QueueKeys(queue: name).recoveries)]).int {
                self.registry.makeGauge(
                    name: "ecommerce_queue_recovered_jobs",
                    labels: [("queue", name)],
                    help: "Jobs taken back from dead workers at least once and not settled yet"
                ).set(Double(recovered))
            }
        }
        if let dedupeKeys = try? await self.queue.dedupeKeyCount(queues: EcommerceQueue.all) {
            self.registry.makeGauge(
                name: "ecommerce_dedupe_keys",
                help: "Enqueue-if-new keys alive in Redis (webhook event ids, coalesced polls and pushes)"
            ).set(Double(dedupeKeys))
        }
        do {
            // Counted in PostgreSQL: one row per scrape, however many connections there are.
            let bounds = Self.lagBuckets
            let rows = try await self.postgres.query(
                """
                WITH lag AS (
                    SELECT extract(epoch FROM now() - COALESCE(last_synced_at, created_at))::float8 AS seconds
                    FROM ecommerce_connection WHERE status = 'active'
                )
                SELECT (SELECT array_agg((SELECT count(*) FROM lag WHERE seconds <= bound)::int ORDER BY bound) FROM unnest(\(bounds)::float8[]) AS bound),
                       count(*)::int, COALESCE(max(seconds), 0)
                FROM lag
                """,
                logger: logger
            )
            for try await (withinBounds, total, maxLag) in rows.decode(([Int], Int, Double).self) {
                // One help text for every series of a metric: the registry refuses a mismatch.
                let help = "Active connections whose last poll is at most this many seconds old"
                for (bound, count) in zip(bounds, withinBounds) {
                    self.registry.makeGauge(name: "ecommerce_poll_lag_connections", labels: [("le", String(Int(bound)))], help: help).set(
                        Double(count)
                    )
                }
                self.registry.makeGauge(name: "ecommerce_poll_lag_connections", labels: [("le", "+Inf")], help: help).set(Double(total))
                self.registry.makeGauge(name: "ecommerce_poll_lag_max_seconds", help: "The largest poll lag of an active connection").set(maxLag)
            }
        } catch {
            logger.warning("poll lag not measured", metadata: ["error": "\(error)"])
        }
    }
}
