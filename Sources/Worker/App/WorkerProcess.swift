import AsyncHTTPClient
import EcommerceJobs
import Hummingbird
import JobQueue
import Logging
import Operations
import PostgresNIO
import ProcessEnvironment
import Prometheus
import RedisClient
import ServiceLifecycle
import ShopifyAdmin
import Storage

/// The services of a worker process, in start order: the PostgreSQL client, the dashboard's activity counts, the job
/// processor, the stock-change relay, the sync log retention and run sweeper, and a small HTTP server for `/healthz`, `/readyz` and `/metrics` on `METRICS_PORT`.
public struct WorkerProcess: Sendable {
    public let postgres: PostgresClient
    public let redis: RedisClient
    public let jobWorker: JobWorker
    public let metricsServer: any Service
    /// Relays the stock-change outbox to inventory pushes.
    public let inventoryRelay: InventoryOutboxRelay
    /// Enqueues each connected business's poll once per interval.
    public let pollScheduler: PollScheduler
    /// Deletes old sync logs.
    public let syncLogRetention: SyncLogRetention
    /// Brings sync runs whose jobs died or were lost to a final status.
    public let syncRunSweeper: SyncRunSweeper
    /// Jobs per queue and outcome, and the ingestion lag, per minute for the dashboard's charts.
    public let activity: ActivityCounters
    /// `INVENTORY_RELAY` and `POLL_SCHEDULER`: whether ``services`` holds the relay and the scheduler.
    let runsInventoryRelay: Bool
    let runsPollScheduler: Bool

    /// What a worker process runs, in start order: the job processor's end shuts the whole group down.
    public var services: [ServiceGroupConfiguration.ServiceConfiguration] {
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: self.postgres),
            // Before the job processor: shutdown goes in reverse order, so its last flush comes after the last job.
            .init(service: self.activity),
            .init(service: self.jobWorker, successTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: self.metricsServer),
            .init(service: self.syncLogRetention),
            .init(service: self.syncRunSweeper),
        ]
        if self.runsInventoryRelay { services.append(.init(service: self.inventoryRelay)) }
        if self.runsPollScheduler { services.append(.init(service: self.pollScheduler)) }
        return services
    }

    public init(configuration: WorkerConfiguration, metricsRegistry: PrometheusCollectorRegistry, logger: Logger) {
        self.runsInventoryRelay = configuration.inventoryRelay
        self.runsPollScheduler = configuration.pollScheduler
        self.postgres = PostgresClient(configuration: configuration.common.database, backgroundLogger: logger)
        self.redis = RedisClient(configuration: configuration.common.redis)
        let queue = RedisJobQueue(redis: self.redis)
        let activity = ActivityCounters(redis: self.redis, logger: logger)
        self.activity = activity
        let shopify = ShopifyAdminClient(
            configuration: configuration.shopify,
            http: HTTPClient.shared,
            budget: ShopifyCostBudget(redis: self.redis)
        )
        let handlers = EcommerceHandlers(
            postgres: self.postgres,
            queue: queue,
            shopify: shopify,
            tokenCipher: configuration.tokenCipher,
            pollOverlap: configuration.pollOverlap,
            pollPageSize: configuration.pollPageSize,
            tokenRefresh: configuration.appCredentials.map {
                ShopifyOAuthClient(configuration: configuration.shopify, apiKey: $0.apiKey, apiSecret: $0.apiSecret, http: HTTPClient.shared)
            },
            activity: activity,
            bulkPush: configuration.bulkPush,
            databasePooling: configuration.common.databasePooling,
            ingestBatching: configuration.ingestBatching
        )
        self.syncLogRetention = SyncLogRetention(syncLogs: SyncLogStore(client: self.postgres), age: configuration.syncLogRetention, logger: logger)
        self.syncRunSweeper = SyncRunSweeper(
            postgres: self.postgres,
            queue: queue,
            grace: max(.seconds(300), configuration.jobTimeout),
            abandonAfter: configuration.syncRunAbandonAfter,
            logger: logger
        )
        self.pollScheduler = PollScheduler(
            schedule: PollSchedule(redis: self.redis, interval: configuration.pollInterval),
            connections: ConnectionStore(client: self.postgres),
            logger: logger
        )
        self.inventoryRelay = InventoryOutboxRelay(
            postgres: self.postgres,
            queue: queue,
            interval: configuration.inventorySweepInterval,
            logger: logger
        )
        let registry = handlers.registry()
        var workerConfiguration = JobWorkerConfiguration(queues: configuration.queues ?? EcommerceQueue.all, concurrency: configuration.concurrency)
        workerConfiguration.lease = configuration.lease
        workerConfiguration.heartbeatInterval = configuration.lease / 5
        workerConfiguration.shutdownGrace = configuration.shutdownGrace
        workerConfiguration.maxRecoveries = configuration.maxRecoveries
        workerConfiguration.deadLetterRetention = configuration.deadLetterRetention
        workerConfiguration.backoff = RetryBackoff(base: configuration.retryBase)
        workerConfiguration.jobTimeout = configuration.jobTimeout
        workerConfiguration.prefetch = Self.prefetch(
            queues: workerConfiguration.queues,
            configured: configuration.prefetch,
            concurrency: configuration.concurrency
        )
        if configuration.shopConcurrency > 0 {
            workerConfiguration.shopCaps = Dictionary(uniqueKeysWithValues: EcommerceQueue.callingShopify.map { ($0, configuration.shopConcurrency) })
        }
        // Only worth a slot when this worker also serves queues outside the group (order ingestion, shop events).
        if !Set(workerConfiguration.queues).isSubset(of: EcommerceQueue.callingShopify) {
            workerConfiguration.groupLimit = QueueGroupLimit(queues: EcommerceQueue.callingShopify, maxInFlight: configuration.shopifyConcurrency)
        }
        // Every outcome of a business's job into the operator's journal (an order's trace reads it), and into the
        // dashboard's per-minute counts.
        let journal = OperatorJournal(redis: self.redis)
        workerConfiguration.onSettled = { settlement in
            journal.recordSettlement(settlement)
            activity.add(.job(queue: settlement.queue, outcome: settlement.outcome))
        }
        self.jobWorker = JobWorker(queue: queue, registry: registry, configuration: workerConfiguration, logger: logger)

        let router = Router()
        HealthController(redis: self.redis, postgres: self.postgres, metricsRegistry: metricsRegistry).addRoutes(to: router)
        self.metricsServer = Application(
            router: router,
            configuration: .init(address: .hostname(configuration.metricsHost, port: configuration.metricsPort), serverName: "ecommerce-worker"),
            logger: logger
        )
    }

    /// `WORKER_PREFETCH` when set; otherwise four times `WORKER_CONCURRENCY` for a worker none of whose queues calls
    /// Shopify, else none. Held jobs wait behind running ones: worth it for fast jobs (order ingestion, shop events),
    /// not for jobs that wait on a shop's Shopify budget while another worker could take them. Four slots' worth (a
    /// few milliseconds of orders) is where the saving in worker and Redis CPU per order stops growing
    /// (`docs/performance.md`).
    public static func prefetch(queues: [String], configured: Int?, concurrency: Int) -> Int {
        configured ?? (Set(queues).isDisjoint(with: EcommerceQueue.callingShopify) ? 4 * concurrency : 0)
    }
}
