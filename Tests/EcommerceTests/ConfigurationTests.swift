import EcommerceJobs
import GatewayApp
import Operations
import PostgresNIO
import ProcessEnvironment
import Testing
import WorkerApp

@testable import ShopifyAdmin

@Suite("Configuration from the environment")
struct ConfigurationTests {
    static let base = ["REDIS_URL": "redis://127.0.0.1:6379", "DATABASE_URL": "postgres://u:p@127.0.0.1:5432/db"]

    func worker(_ extra: [String: String]) throws(ConfigurationError) -> WorkerConfiguration {
        try WorkerConfiguration(environment: Environment(Self.base.merging(extra) { $1 }))
    }

    @Test("the app secret alone (shared with the gateway) is fine; the key needs the secret")
    func appCredentials() throws {
        #expect(try self.worker(["SHOPIFY_API_SECRET": "s"]).appCredentials == nil)
        #expect(try self.worker(["SHOPIFY_API_SECRET": "s", "SHOPIFY_API_KEY": "k"]).appCredentials?.apiKey == "k")
        #expect(throws: ConfigurationError.self) { try self.worker(["SHOPIFY_API_KEY": "k"]) }
    }

    @Test("a bad value names its variable")
    func badValuesNameTheVariable() {
        for (variable, value) in [
            ("INVENTORY_RELAY", "maybe"), ("POLL_SCHEDULER", "2"), ("TOKEN_ENCRYPTION_KEYS", "k:short"), ("SHOPIFY_API_VERSION", "latest"),
            ("SHOPIFY_ADMIN_BASE_URL", "ftp://x"), ("POLL_INTERVAL_SECONDS", "0"), ("SYNC_LOG_RETENTION_DAYS", "0"),
            ("POLL_PAGE_SIZE", String(ShopifyAdminClient.maxOrdersPerPage + 1)), ("DATABASE_MAX_CONNECTIONS", "0"),
            ("DATABASE_MIN_CONNECTIONS", "-1"),
            ("WORKER_PREFETCH", "-1"), ("WORKER_EVENT_LOOPS", "0"),
        ] {
            do {
                _ = try self.worker([variable: value])
                Issue.record("\(variable)=\(value) was accepted")
            } catch {
                #expect(error.variable == variable)
            }
        }
    }

    @Test("the gateway's webhook dedupe window is WEBHOOK_DEDUPE_HOURS, 48 by default, within 1–720")
    func webhookDedupeWindow() throws {
        let gateway = Self.base.merging(["SHOPIFY_API_SECRET": "s", "JWT_SECRET": String(repeating: "j", count: 32)]) { $1 }
        #expect(try GatewayConfiguration(environment: Environment(gateway)).webhookDedupeWindow == .seconds(48 * 3600))
        let twoHours = gateway.merging(["WEBHOOK_DEDUPE_HOURS": "2"]) { $1 }
        #expect(try GatewayConfiguration(environment: Environment(twoHours)).webhookDedupeWindow == .seconds(7200))
        for value in ["0", "721", "soon"] {
            #expect(throws: ConfigurationError.self) {
                try GatewayConfiguration(environment: Environment(gateway.merging(["WEBHOOK_DEDUPE_HOURS": value]) { $1 }))
            }
        }
    }

    @Test("the database pool keeps a few connections open, without keep-alive timers, and never more than its maximum")
    func databasePool() throws {
        let defaults = try self.worker([:]).common.database.options
        #expect(defaults.minimumConnections == 4 && defaults.maximumConnections == 20 && defaults.keepAliveBehavior == nil)
        let small = try self.worker(["DATABASE_MAX_CONNECTIONS": "2"]).common.database.options
        #expect(small.minimumConnections == 2 && small.maximumConnections == 2)
        #expect(throws: ConfigurationError.self) { try self.worker(["DATABASE_MAX_CONNECTIONS": "2", "DATABASE_MIN_CONNECTIONS": "3"]) }
    }

    @Test("a worker prefetches by default only when none of its queues calls Shopify")
    func prefetchDefault() throws {
        #expect(try self.worker([:]).prefetch == nil)
        #expect(try self.worker(["WORKER_PREFETCH": "2"]).prefetch == 2)
        #expect(WorkerProcess.prefetch(queues: [EcommerceQueue.orders], configured: nil, concurrency: 4) == 16)
        #expect(WorkerProcess.prefetch(queues: EcommerceQueue.all, configured: nil, concurrency: 4) == 0)
        #expect(WorkerProcess.prefetch(queues: [EcommerceQueue.orders, EcommerceQueue.inventory], configured: nil, concurrency: 4) == 0)
        #expect(WorkerProcess.prefetch(queues: EcommerceQueue.all, configured: 3, concurrency: 4) == 3)
    }

    @Test("the default poll page asks for no more than Shopify's single-query maximum")
    func pollPageFitsOneQuery() throws {
        let configuration = try self.worker([:])
        #expect(configuration.pollPageSize == ShopifyAdminClient.maxOrdersPerPage)
        #expect(ShopifyAdminClient.ordersCost(first: configuration.pollPageSize) <= ShopifyAdminClient.singleQueryMaxCost)
        #expect(ShopifyAdminClient.ordersCost(first: configuration.pollPageSize + 1) > ShopifyAdminClient.singleQueryMaxCost)
    }
}
