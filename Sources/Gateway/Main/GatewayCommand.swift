import ArgumentParser
import Foundation
import GatewayApp
import Hummingbird
import Logging
import Metrics
import Operations
import PostgresNIO
import ProcessEnvironment
import Prometheus
import RedisClient
import ServiceLifecycle
import UnixSignals

/// `ecommerce-gateway`: configuration from the environment → build the application → run until SIGTERM.
@main
struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ecommerce-gateway",
        abstract: "Receives Shopify webhooks and serves the ecommerce API; stateless, run as many as needed."
    )

    static func main() async {
        ConcurrencySetup.runOnEventLoops()
        await Self.main(nil)
    }

    @Option(help: "Listen address (overrides HTTP_HOST).") var host: String?
    @Option(help: "Listen port (overrides HTTP_PORT).") var port: Int?

    func run() async throws {
        var configuration: GatewayConfiguration
        do {
            configuration = try GatewayConfiguration()
        } catch {
            printError("ecommerce-gateway: \(error)")
            throw ExitCode(78)
        }
        if let host { configuration.host = host }
        if let port { configuration.port = port }
        LogSetup.bootstrap(level: configuration.common.logLevel, format: configuration.common.logFormat)
        let logger = Logger(label: "ecommerce-gateway")
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

        let redis = RedisClient(configuration: configuration.common.redis)
        defer { redis.shutdown() }
        let postgres = PostgresClient(configuration: configuration.common.database, backgroundLogger: logger)
        let tracing = try TracingSetup.bootstrap(serviceName: "ecommerce-gateway", environment: ProcessInfo.processInfo.environment, logger: logger)
        let app = buildGatewayApplication(configuration: configuration, redis: redis, postgres: postgres, metricsRegistry: registry, logger: logger)
        guard let tracing else { return try await app.runService() }
        // The exporter first: it stops last, after the server's last spans.
        try await ServiceGroup(
            configuration: .init(
                services: [.init(service: tracing), .init(service: app, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        ).run()
    }
}
