import Foundation
import Operations
import ProcessEnvironment
import ShopifyAdmin
import Storage

/// A worker process's configuration (DESIGN §7).
public struct WorkerConfiguration: Sendable {
    public var common: CommonConfiguration
    /// `WORKER_QUEUES`: comma-separated queue names; all when unset.
    public var queues: [String]?
    public var concurrency: Int
    /// `WORKER_SHOPIFY_CONCURRENCY` (`WORKER_CONCURRENCY` − 1, at least 1): jobs of the queues that call Shopify in
    /// flight at once. Those jobs wait on the shop's cost budget; the slots left keep order ingestion, which does
    /// not, from waiting behind them.
    public var shopifyConcurrency: Int
    /// `SHOP_CONCURRENCY` (2; 0 for none): per queue that calls Shopify, at most this many jobs of one shop claimed at
    /// once across all workers, so that one merchant's backlog leaves the other slots to the other merchants.
    public var shopConcurrency: Int
    /// `WORKER_PREFETCH`: jobs claimed ahead of free slots and held until one frees; nil (unset) leaves it to the
    /// worker: four times `WORKER_CONCURRENCY` when none of its queues calls Shopify, else none.
    public var prefetch: Int?
    /// `WORKER_JOB_TIMEOUT_SECONDS` (300): a job still running after this long is abandoned and counted as failed.
    public var jobTimeout: Duration
    public var metricsHost: String
    public var metricsPort: Int
    public var lease: Duration
    public var shutdownGrace: Duration
    public var maxRecoveries: Int
    /// `DEAD_LETTER_RETENTION_DAYS` (30; 0 keeps them): dead letters older than this are deleted.
    public var deadLetterRetention: Duration?
    public var retryBase: Duration
    /// `SHOPIFY_API_VERSION`, `SHOPIFY_ADMIN_BASE_URL`.
    public var shopify: ShopifyAdminConfiguration
    /// `TOKEN_ENCRYPTION_KEYS`; without it, jobs that call Shopify fail with a message naming the variable.
    public var tokenCipher: TokenCipher?
    /// `SHOPIFY_API_KEY` and `SHOPIFY_API_SECRET`: needed to refresh expiring tokens (the key requires the secret).
    public var appCredentials: (apiKey: String, apiSecret: String)?
    /// `INVENTORY_SWEEP_SECONDS` (1): how often this process's relay sweeps the stock-change outbox.
    public var inventorySweepInterval: Duration
    /// `INVENTORY_RELAY` (`on`): whether this process relays the stock-change outbox (any number may).
    public var inventoryRelay: Bool
    /// `POLL_INTERVAL_SECONDS` (900): how often each connected business is polled.
    public var pollInterval: Duration
    /// `POLL_OVERLAP_SECONDS` (300): how far before the last poll's start the next one reads.
    public var pollOverlap: Duration
    /// `POLL_PAGE_SIZE` (9, at most 9): orders per page of a poll; each order asks for 50 lines and 50 refund lines,
    /// so ten would ask for more than Shopify's single-query maximum of 1,000 points.
    public var pollPageSize: Int
    /// `POLL_SCHEDULER` (`on`): whether this process runs the poll schedule (any number may).
    public var pollScheduler: Bool
    /// `SYNC_LOG_RETENTION_DAYS` (90): sync logs older than this are deleted.
    public var syncLogRetention: Duration
    /// `SYNC_RUN_ABANDON_SECONDS` (3600): a sync run still running this long after it started is failed as
    /// `abandoned` (its jobs were lost); a later run covers it.
    public var syncRunAbandonAfter: Duration
    /// `BULK_PUSH_THRESHOLD`, `BULK_PUSH_POLL_SECONDS`: when product pushes run as bulk operations, and how often
    /// a push looks at its operation without the webhook.
    public var bulkPush: BulkPushSettings
    /// `INGEST_BATCH_SIZE` (1: off), `INGEST_BATCH_LINGER_MS` (2), `INGEST_BATCH_CONCURRENCY` (2): orders ingested
    /// several to a transaction (``IngestBatching``).
    public var ingestBatching: IngestBatching

    /// `WORKER_EVENT_LOOPS` (1), read on its own because it is needed before anything else starts.
    ///
    /// One thread by default: a worker spends most of a job waiting on PostgreSQL, Redis or Shopify, and with two
    /// threads each reply wakes a thread and hops between them, which costs worker CPU per ingested order
    /// (`docs/performance.md`). Workers scale out as processes; raise it for a process that should use more
    /// cores on its own.
    public static func eventLoops(in environment: Environment) throws(ConfigurationError) -> Int {
        try environment.int("WORKER_EVENT_LOOPS", default: 1, range: 1...256)
    }

    public init(environment: Environment = Environment()) throws(ConfigurationError) {
        self.common = try CommonConfiguration(environment: environment)
        self.shopify = try ShopifyAdminConfiguration(environment: environment)
        self.tokenCipher = try TokenCipher.fromEnvironment(environment)
        // The secret alone is common (it is also the gateway's webhook key): without the key, no refreshes.
        switch (environment.optional("SHOPIFY_API_KEY"), environment.optional("SHOPIFY_API_SECRET")) {
        case (let key?, let secret?): self.appCredentials = (key, secret)
        case (nil, _): self.appCredentials = nil
        case (_, nil): throw ConfigurationError(variable: "SHOPIFY_API_SECRET", reason: "is required with SHOPIFY_API_KEY")
        }
        self.inventorySweepInterval = try environment.seconds("INVENTORY_SWEEP_SECONDS", default: 1, range: 0.1...3600)
        self.inventoryRelay = try environment.switch("INVENTORY_RELAY", default: true)
        self.pollInterval = try environment.seconds("POLL_INTERVAL_SECONDS", default: 900, range: 1...86_400)
        self.pollOverlap = try environment.seconds("POLL_OVERLAP_SECONDS", default: 300, range: 0...86_400)
        self.pollPageSize = try environment.int(
            "POLL_PAGE_SIZE",
            default: ShopifyAdminClient.maxOrdersPerPage,
            range: 1...ShopifyAdminClient.maxOrdersPerPage
        )
        self.pollScheduler = try environment.switch("POLL_SCHEDULER", default: true)
        self.syncLogRetention = .seconds(86_400 * (try environment.int("SYNC_LOG_RETENTION_DAYS", default: 90, range: 1...3650)))
        self.syncRunAbandonAfter = try environment.seconds("SYNC_RUN_ABANDON_SECONDS", default: 3600, range: 600...604_800)
        self.ingestBatching = IngestBatching(
            maxOrders: try environment.int("INGEST_BATCH_SIZE", default: 1, range: 1...1000),
            linger: .milliseconds(try environment.int("INGEST_BATCH_LINGER_MS", default: 2, range: 0...1000)),
            concurrentBatches: try environment.int("INGEST_BATCH_CONCURRENCY", default: 2, range: 1...64)
        )
        self.bulkPush = BulkPushSettings(
            threshold: try environment.int("BULK_PUSH_THRESHOLD", default: 1000, range: 0...10_000_000),
            pollInterval: try environment.seconds("BULK_PUSH_POLL_SECONDS", default: 30, range: 1...3600)
        )
        self.queues = environment.optional("WORKER_QUEUES").map { raw in
            raw.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        if self.queues?.isEmpty == true { throw ConfigurationError(variable: "WORKER_QUEUES", reason: "names no queue") }
        self.concurrency = try environment.int("WORKER_CONCURRENCY", default: 4, range: 1...512)
        self.shopifyConcurrency = try environment.int(
            "WORKER_SHOPIFY_CONCURRENCY",
            default: max(1, self.concurrency - 1),
            range: 1...self.concurrency
        )
        self.shopConcurrency = try environment.int("SHOP_CONCURRENCY", default: 2, range: 0...512)
        self.prefetch = try environment.int("WORKER_PREFETCH", range: 0...512)
        _ = try Self.eventLoops(in: environment)  // used before the configuration is read (see there); checked with the rest
        self.jobTimeout = try environment.seconds("WORKER_JOB_TIMEOUT_SECONDS", default: 300, range: 1...86_400)
        self.metricsHost = environment.optional("METRICS_HOST") ?? "0.0.0.0"
        self.metricsPort = try environment.int("METRICS_PORT", default: 9090, range: 0...65535)
        self.lease = try environment.seconds("WORKER_LEASE_SECONDS", default: 15, range: 1...300)
        self.shutdownGrace = try environment.seconds("WORKER_SHUTDOWN_GRACE_SECONDS", default: 20, range: 0...3600)
        self.maxRecoveries = try environment.int("WORKER_MAX_RECOVERIES", default: 3, range: 0...100)
        let deadLetterDays = try environment.int("DEAD_LETTER_RETENTION_DAYS", default: 30, range: 0...3650)
        self.deadLetterRetention = deadLetterDays == 0 ? nil : .seconds(86_400 * deadLetterDays)
        self.retryBase = try environment.seconds("WORKER_RETRY_BASE_SECONDS", default: 1, range: 0.001...3600)
    }
}
