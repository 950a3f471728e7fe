import AppConfig
import ArgumentParser
import Foundation
import Logging
import Metrics
import PostgresNIO
import Prometheus
import ServiceLifecycle
import Storage
import WorkerApp

/// `ecommerce-worker`: runs jobs (`run`, the default) and the operator's commands.
@main
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ecommerce-worker",
        abstract: "Runs the ecommerce jobs; scale it horizontally.",
        subcommands: [Run.self, Migrate.self],
        defaultSubcommand: Run.self
    )

    static func main() async {
        ConcurrencySetup.runOnEventLoops()
        await Self.main(nil)
    }
}

/// Reads the configuration or stops with a message naming the variable.
func loadConfiguration() throws -> WorkerConfiguration {
    do {
        return try WorkerConfiguration()
    } catch {
        printError("ecommerce-worker: \(error)")
        throw ExitCode(78)
    }
}

/// Applies pending migrations with a short-lived client (under the advisory lock, so replicas may race).
@discardableResult
func migrate(configuration: WorkerConfiguration, logger: Logger) async throws -> [Int] {
    let client = PostgresClient(configuration: configuration.common.database, backgroundLogger: logger)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await client.run() }
        defer { group.cancelAll() }
        return try await Migrator(client: client).migrate(logger: logger)
    }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Migrate, then claim and run jobs until SIGTERM (the default).")

    @Option(help: "Jobs in flight at once (overrides WORKER_CONCURRENCY).") var concurrency: Int?

    func run() async throws {
        var configuration = try loadConfiguration()
        if let concurrency { configuration.concurrency = max(1, concurrency) }
        LogSetup.bootstrap(level: configuration.common.logLevel, format: configuration.common.logFormat)
        let logger = Logger(label: "ecommerce-worker")
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

        try await migrate(configuration: configuration, logger: logger)
        let process = WorkerProcess(configuration: configuration, metricsRegistry: registry, logger: logger)
        var groupConfiguration = ServiceGroupConfiguration(
            services: [
                .init(service: process.postgres),
                .init(service: process.jobWorker, successTerminationBehavior: .gracefullyShutdownGroup),
                .init(service: process.metricsServer),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        // A handler stuck past the grace period has been handed back already; do not let it hold the process.
        groupConfiguration.maximumGracefulShutdownDuration = configuration.shutdownGrace + .seconds(10)
        groupConfiguration.maximumCancellationDuration = .seconds(5)
        try await ServiceGroup(configuration: groupConfiguration).run()
        process.redis.shutdown()
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database migrations and exit.")

    func run() async throws {
        let configuration = try loadConfiguration()
        LogSetup.bootstrap(level: configuration.common.logLevel, format: configuration.common.logFormat)
        let logger = Logger(label: "ecommerce-worker")
        let applied = try await migrate(configuration: configuration, logger: logger)
        print(applied.isEmpty ? "schema up to date" : "applied migrations \(applied.map(String.init).joined(separator: ", "))")
    }
}
