import Hummingbird
import Logging
import PostgresNIO
import Prometheus
import RedisClient
import Storage

/// `GET /healthz` (the process answers), `GET /readyz` (Redis and PostgreSQL answer) and `GET /metrics`.
public struct HealthController: Sendable {
    let redis: RedisClient
    let postgres: PostgresClient
    let metricsRegistry: PrometheusCollectorRegistry
    /// Runs before `/metrics` is rendered: gauges read from elsewhere are brought up to date.
    let beforeScrape: @Sendable (Logger) async -> Void

    public init(
        redis: RedisClient,
        postgres: PostgresClient,
        metricsRegistry: PrometheusCollectorRegistry,
        beforeScrape: @escaping @Sendable (Logger) async -> Void = { _ in }
    ) {
        self.redis = redis
        self.postgres = postgres
        self.metricsRegistry = metricsRegistry
        self.beforeScrape = beforeScrape
    }

    struct Readiness: Encodable {
        var status: String
        var redis: String
        var postgres: String
    }

    /// `/healthz`, `/readyz` and `/metrics`.
    public func addRoutes(to router: Router<some RequestContext>) {
        self.addProbeRoutes(to: router)
        router.get("/metrics") { _, context in
            await self.beforeScrape(context.logger)
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: self.metricsRegistry.emitToBuffer()))
            )
        }
    }

    /// `/healthz` and `/readyz` only (for a process whose metrics have a port of their own).
    public func addProbeRoutes(to router: Router<some RequestContext>) {
        router.get("/healthz") { _, _ in Response.json(["status": "ok"]) }
        router.get("/readyz") { _, context in
            async let redisReady = self.check { try await self.redis.ping() }
            async let postgresReady = self.check { try await self.postgres.query("SELECT 1", logger: context.logger) }
            let (redisOK, postgresOK) = await (redisReady, postgresReady)
            let readiness = Readiness(
                status: redisOK && postgresOK ? "ready" : "unavailable",
                redis: redisOK ? "ok" : "down",
                postgres: postgresOK ? "ok" : "down"
            )
            return Response.json(readiness, status: redisOK && postgresOK ? .ok : .serviceUnavailable)
        }
    }

    /// Whether `probe` succeeds within 2 s (a database that is down makes a query wait, not fail).
    private func check(_ probe: @escaping @Sendable () async throws -> Void) async -> Bool {
        (try? await withTimeout(.seconds(2), probe)) != nil
    }
}
