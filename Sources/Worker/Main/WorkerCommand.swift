import ArgumentParser
import EcommerceJobs
import Foundation
import JobQueue
import Logging
import Metrics
import Operations
import PostgresNIO
import ProcessEnvironment
import Prometheus
import RedisClient
import ServiceLifecycle
import Shopify
import Storage
import UnixSignals
import WorkerApp

/// `ecommerce-worker`: runs jobs (`run`, the default) and the operator's commands.
@main
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ecommerce-worker",
        abstract: "Runs the ecommerce jobs; scale it horizontally.",
        subcommands: [
            Run.self, Migrate.self, Connect.self, EnqueuePolls.self, Queues.self, Workers.self, Dead.self, Schedule.self, Connections.self,
            Doctor.self, Trace.self, RedisMigrateKeys.self,
        ],
        defaultSubcommand: Run.self
    )

    static func main() async {
        do {
            ConcurrencySetup.runOnEventLoops(loops: try WorkerConfiguration.eventLoops(in: Environment()))
        } catch {
            printError("ecommerce-worker: \(error)")
            Foundation.exit(78)
        }
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
        let tracing = try TracingSetup.bootstrap(serviceName: "ecommerce-worker", environment: ProcessInfo.processInfo.environment, logger: logger)
        let process = WorkerProcess(configuration: configuration, metricsRegistry: registry, logger: logger)
        var groupConfiguration = ServiceGroupConfiguration(
            // The exporter first: it stops last, after the last job's spans.
            services: (tracing.map { [.init(service: $0)] } ?? []) + process.services,
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

/// Stores a connection with an access token obtained outside OAuth (a custom app installed from the shop's admin,
/// or a development shop in the simulator). The token is read from `SHOPIFY_ACCESS_TOKEN`, never from the command
/// line, and is stored sealed with `TOKEN_ENCRYPTION_KEYS`.
struct Connect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Connect a business to a shop with an existing access token (SHOPIFY_ACCESS_TOKEN).")

    @Option(help: "The FlowPOS business id.") var businessId: String
    @Option(help: "The shop domain, e.g. example.myshopify.com.") var shop: String

    func run() async throws {
        let configuration = try loadConfiguration()
        LogSetup.bootstrap(level: configuration.common.logLevel, format: configuration.common.logFormat)
        let logger = Logger(label: "ecommerce-worker")
        guard let businessId = UUID(uuidString: self.businessId) else { throw ValidationError("--business-id must be a UUID") }
        guard let shop = ShopDomain(self.shop) else { throw ValidationError("--shop must be a *.myshopify.com domain") }
        guard let token = ProcessInfo.processInfo.environment["SHOPIFY_ACCESS_TOKEN"], !token.isEmpty else {
            printError("ecommerce-worker: SHOPIFY_ACCESS_TOKEN is required")
            throw ExitCode(78)
        }
        guard let cipher = configuration.tokenCipher else {
            printError("ecommerce-worker: TOKEN_ENCRYPTION_KEYS is required to store a token")
            throw ExitCode(78)
        }
        let client = PostgresClient(configuration: configuration.common.database, backgroundLogger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await Migrator(client: client).migrate(logger: logger)
            do {
                try await ConnectionStore(client: client).connect(
                    businessId: businessId,
                    shop: shop.value,
                    sealedAccessToken: try cipher.seal(token, context: businessId.uuidString.lowercased()),
                    sealedRefreshToken: nil,
                    expiresAt: nil,
                    scopes: nil,
                    logger: logger
                )
            } catch is ConnectionStore.ShopConnectedElsewhere {
                printError("ecommerce-worker: \(shop.value) is connected to another business; disconnect it there first")
                throw ExitCode(1)
            }
        }
        print("connected \(businessId) to \(shop.value)")
    }
}

/// For an external cron: a poll now for every connected business (one pending per business, as the API allows).
struct EnqueuePolls: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "enqueue-polls", abstract: "Enqueue a poll now for every connected business.")

    func run() async throws {
        let configuration = try loadConfiguration()
        LogSetup.bootstrap(level: configuration.common.logLevel, format: configuration.common.logFormat)
        let logger = Logger(label: "ecommerce-worker")
        let client = PostgresClient(configuration: configuration.common.database, backgroundLogger: logger)
        let redis = RedisClient(configuration: configuration.common.redis)
        defer { redis.shutdown() }
        let (enqueued, pending) = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            let queue = RedisJobQueue(redis: redis)
            var counts = (0, 0)
            for businessId in try await ConnectionStore(client: client).activeBusinessIds(logger: logger) {
                let job = OrderPollJob.envelope(
                    .init(slot: nil),
                    businessId: businessId,
                    dedupeKey: OrderPollJob.requestKey(businessId: businessId)
                )
                if try await queue.enqueue(OrderPollJob.self, job, dedupeWindow: configuration.pollInterval) == .enqueued {
                    counts.0 += 1
                } else {
                    counts.1 += 1
                }
            }
            return counts
        }
        print("enqueued \(enqueued) polls (\(pending) already pending)")
    }
}
