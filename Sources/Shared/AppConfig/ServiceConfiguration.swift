import Foundation
import JobQueue
import Logging
import PostgresNIO
import RedisClient
import ShopifyAdmin
import Storage

/// What every process reads: where Redis and PostgreSQL are, and how to log.
public struct CommonConfiguration: Sendable {
    public var redis: RedisConfiguration
    public var database: PostgresClient.Configuration
    public var logLevel: Logger.Level
    public var logFormat: LogFormat

    public init(environment: Environment) throws(ConfigurationError) {
        let redisURL = try environment.required("REDIS_URL")
        do {
            self.redis = try RedisConfiguration(url: redisURL)
        } catch {
            throw ConfigurationError(variable: "REDIS_URL", reason: "is not a redis://[:password@]host:port[/db] url (\(error))")
        }
        let databaseURL = try environment.required("DATABASE_URL")
        do {
            self.database = try PostgresClient.Configuration(url: databaseURL)
        } catch {
            throw ConfigurationError(variable: "DATABASE_URL", reason: "is not a postgres://user:password@host:port/db url (\(error.reason))")
        }
        self.database.options.maximumConnections = try environment.int("DATABASE_MAX_CONNECTIONS", default: 20, range: 1...500)
        self.database.options.minimumConnections = try environment.int(
            "DATABASE_MIN_CONNECTIONS",
            default: min(4, self.database.options.maximumConnections),
            range: 0...self.database.options.maximumConnections
        )
        let level = environment.optional("LOG_LEVEL") ?? "info"
        guard let logLevel = Logger.Level(rawValue: level.lowercased()) else {
            throw ConfigurationError(variable: "LOG_LEVEL", reason: "must be one of trace, debug, info, notice, warning, error, critical")
        }
        self.logLevel = logLevel
        let format = environment.optional("LOG_FORMAT") ?? "text"
        guard let logFormat = LogFormat(rawValue: format.lowercased()) else {
            throw ConfigurationError(variable: "LOG_FORMAT", reason: "must be json or text")
        }
        self.logFormat = logFormat
    }
}

/// The gateway's configuration (DESIGN §7).
public struct GatewayConfiguration: Sendable {
    public var common: CommonConfiguration
    public var host: String
    public var port: Int
    /// `SHOPIFY_API_SECRET`: the webhook HMAC key.
    public var apiSecret: String
    /// `SHOPIFY_API_SECRET_PREVIOUS`: still accepted during a rotation.
    public var previousApiSecret: String?
    /// Webhook bodies above this get 413.
    public var maxWebhookBodyBytes: Int
    /// How long a shop → business lookup is reused.
    public var shopCacheTTL: Duration
    /// `JWT_SECRET`: the HS256 key of admin tokens.
    public var jwtSecret: String
    /// `PRODUCT_PUSH_PAGE_SIZE`: products per page job of a push.
    public var productPageSize: Int
    /// `HTTP_IDLE_TIMEOUT_SECONDS` (75, nginx's `keepalive_timeout`): a connection with no request for this long
    /// is closed.
    public var idleTimeout: Duration
    /// `HTTP_READ_TIMEOUT_SECONDS` (60, nginx's `client_header_timeout`): a webhook delivery must arrive whole, head
    /// and body, this long after its first byte, or its connection is closed.
    public var readTimeout: Duration
    /// The OAuth install; nil (routes answer 503) unless `SHOPIFY_API_KEY` is set.
    public var oauth: OAuthConfiguration?
    /// `GATEWAY_METRICS_PORT` (unset): when set, `/metrics` is served only there (on `GATEWAY_METRICS_HOST`,
    /// `0.0.0.0`), not on the public port.
    public var metricsPort: Int?
    public var metricsHost: String
    /// `METRICS_REFRESH_SECONDS` (5): the queue and poll-lag gauges are read from Redis and PostgreSQL at most this
    /// often, however often `/metrics` is scraped.
    public var metricsRefreshInterval: Duration
    /// `POLL_INTERVAL_SECONDS` (900): a new connection joins the poll schedule with it.
    public var pollInterval: Duration
    /// `WEBHOOK_DEDUPE_HOURS` (48): how long a webhook's event id keeps a second delivery of it out of the queue
    /// (the dedupe keys' retention; ingestion's own dedupe in PostgreSQL catches what arrives later).
    public var webhookDedupeWindow: Duration

    public init(environment: Environment = Environment()) throws(ConfigurationError) {
        self.common = try CommonConfiguration(environment: environment)
        self.host = environment.optional("HTTP_HOST") ?? "0.0.0.0"
        self.port = try environment.int("HTTP_PORT", default: 8080, range: 0...65535)
        self.apiSecret = try environment.required("SHOPIFY_API_SECRET")
        self.previousApiSecret = environment.optional("SHOPIFY_API_SECRET_PREVIOUS")
        self.maxWebhookBodyBytes = try environment.int("WEBHOOK_MAX_BODY_BYTES", default: 1_048_576, range: 1024...(64 << 20))
        self.shopCacheTTL = try environment.seconds("SHOP_CACHE_TTL_SECONDS", default: 30, range: 0...3600)
        self.jwtSecret = try environment.required("JWT_SECRET")
        guard self.jwtSecret.utf8.count >= 32 else { throw ConfigurationError(variable: "JWT_SECRET", reason: "must have at least 32 bytes") }
        self.productPageSize = try environment.int("PRODUCT_PUSH_PAGE_SIZE", default: 50, range: 1...250)
        self.pollInterval = try environment.seconds("POLL_INTERVAL_SECONDS", default: 900, range: 1...86_400)
        self.idleTimeout = try environment.seconds("HTTP_IDLE_TIMEOUT_SECONDS", default: 75, range: 0.1...86_400)
        self.readTimeout = try environment.seconds("HTTP_READ_TIMEOUT_SECONDS", default: 60, range: 0.1...86_400)
        self.metricsPort = try environment.optional("GATEWAY_METRICS_PORT").map { _ throws(ConfigurationError) in
            try environment.int("GATEWAY_METRICS_PORT", default: 9090, range: 0...65535)
        }
        self.metricsHost = environment.optional("GATEWAY_METRICS_HOST") ?? "0.0.0.0"
        self.metricsRefreshInterval = try environment.seconds("METRICS_REFRESH_SECONDS", default: 5, range: 0...300)
        self.webhookDedupeWindow = .seconds(3600 * (try environment.int("WEBHOOK_DEDUPE_HOURS", default: 48, range: 1...720)))
        self.oauth = try environment.optional("SHOPIFY_API_KEY").map { apiKey throws(ConfigurationError) in
            try OAuthConfiguration(apiKey: apiKey, environment: environment)
        }
    }
}

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

    /// `WORKER_EVENT_LOOPS` (1), read on its own because it is needed before anything else starts.
    ///
    /// One thread by default: a worker spends most of a job waiting on PostgreSQL, Redis or Shopify, and with two
    /// threads each reply woke a thread and hopped between them (on two cores, one thread took about 10 % less
    /// worker CPU per ingested order). Workers scale out as processes; raise it for a process that should use more
    /// cores on its own.
    public static func eventLoops(in environment: Environment) throws(ConfigurationError) -> Int {
        try environment.int("WORKER_EVENT_LOOPS", default: 1, range: 1...256)
    }

    public init(environment: Environment = Environment()) throws(ConfigurationError) {
        self.common = try CommonConfiguration(environment: environment)
        self.shopify = try ShopifyAdminConfiguration(environment: environment)
        self.tokenCipher = try environment.optional("TOKEN_ENCRYPTION_KEYS").map { specification throws(ConfigurationError) in
            do {
                return try TokenCipher(specification: specification)
            } catch {
                throw ConfigurationError(variable: "TOKEN_ENCRYPTION_KEYS", reason: "is invalid: \(error) (expected id:base64-32-byte-key[,…])")
            }
        }
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

extension ShopifyAdminConfiguration {
    /// Reads `SHOPIFY_API_VERSION` (`2026-10`) and `SHOPIFY_ADMIN_BASE_URL` (`https://{shop}`).
    init(environment: Environment) throws(ConfigurationError) {
        self.init()
        if let version = environment.optional("SHOPIFY_API_VERSION") {
            guard version.range(of: #"^\d{4}-(01|04|07|10)$"#, options: .regularExpression) != nil else {
                throw ConfigurationError(variable: "SHOPIFY_API_VERSION", reason: "must look like 2026-10")
            }
            self.apiVersion = version
        }
        if let base = environment.optional("SHOPIFY_ADMIN_BASE_URL") {
            guard base.contains("{shop}"), base.hasPrefix("http://") || base.hasPrefix("https://") else {
                throw ConfigurationError(variable: "SHOPIFY_ADMIN_BASE_URL", reason: "must be an http(s) URL containing {shop}")
            }
            self.baseURLTemplate = base.hasSuffix("/") ? String(base.dropLast()) : base
        }
    }
}

/// What the OAuth install needs besides the app secret: set `SHOPIFY_API_KEY` and the rest become required.
public struct OAuthConfiguration: Sendable {
    /// `SHOPIFY_API_KEY`: the app's client id.
    public var apiKey: String
    /// `SHOPIFY_SCOPES` (`write_products,write_inventory,read_locations,read_orders`).
    public var scopes: [String]
    /// `PUBLIC_BASE_URL`: the gateway as Shopify reaches it (OAuth `redirect_uri`, webhook subscriptions).
    public var publicBaseURL: String
    /// `APP_REDIRECT_URL`: where the merchant lands after the callback.
    public var appRedirectURL: String
    /// `TOKEN_ENCRYPTION_KEYS`.
    public var tokenCipher: TokenCipher
    /// `SHOPIFY_API_VERSION`, `SHOPIFY_ADMIN_BASE_URL`.
    public var shopify: ShopifyAdminConfiguration

    init(apiKey: String, environment: Environment) throws(ConfigurationError) {
        self.apiKey = apiKey
        self.scopes = (environment.optional("SHOPIFY_SCOPES") ?? "write_products,write_inventory,read_locations,read_orders")
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        func url(_ name: String) throws(ConfigurationError) -> String {
            let value = try environment.required(name)
            guard let url = URL(string: value), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                throw ConfigurationError(variable: name, reason: "must be an http(s) URL")
            }
            return value.hasSuffix("/") ? String(value.dropLast()) : value
        }
        self.publicBaseURL = try url("PUBLIC_BASE_URL")
        self.appRedirectURL = try url("APP_REDIRECT_URL")
        do {
            self.tokenCipher = try TokenCipher(specification: try environment.required("TOKEN_ENCRYPTION_KEYS"))
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw ConfigurationError(variable: "TOKEN_ENCRYPTION_KEYS", reason: "is invalid: \(error)")
        }
        self.shopify = try ShopifyAdminConfiguration(environment: environment)
    }
}
