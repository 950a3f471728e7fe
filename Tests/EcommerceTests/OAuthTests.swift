import Crypto
import EcommerceJobs
import Foundation
import GatewayApp
import Hummingbird
import HummingbirdTesting
import JobQueue
import Logging
import NIOFoundationCompat
import NIOHTTP1
import Operations
import PostgresNIO
import ProcessEnvironment
import Prometheus
import RedisClient
import ShopifyAdmin
import ShopifySimulatorCore
import Storage
import Synchronization
import Testing
import WorkerApp

@Suite("OAuth install against the simulator", .serialized)
struct OAuthTests {
    let logger = TestServices.logger
    static let cipherKey = Data(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }).base64EncodedString()
    /// Every line the gateway logs during these tests, at trace level, to look for secrets.
    static let capturedLines = LogLines()
    static let capturingLogger: Logger = {
        var logger = Logger(label: "oauth-test") { _ in CapturingLogHandler(lines: OAuthTests.capturedLines) }
        logger.logLevel = .trace
        return logger
    }()

    func withOAuthGateway(_ body: @Sendable (any TestClientProtocol, PostgresClient, RedisClient, SimulatorHarness) async throws -> Void) async throws
    {
        try await SimulatorHarness.run { harness in
            let configuration = try GatewayConfiguration(
                environment: Environment([
                    "REDIS_URL": TestServices.redisURL(.oauth),
                    "DATABASE_URL": TestServices.databaseURL,
                    "SHOPIFY_API_SECRET": harness.simulator.apiSecret,
                    "SHOPIFY_API_KEY": harness.simulator.apiKey,
                    "JWT_SECRET": GatewayTests.jwtSecret,
                    "PUBLIC_BASE_URL": "https://gateway.example",
                    "APP_REDIRECT_URL": "https://app.example/shopify/done",
                    "TOKEN_ENCRYPTION_KEYS": "test:\(Self.cipherKey)",
                    "SHOPIFY_ADMIN_BASE_URL": harness.baseURLTemplate,
                ])
            )
            let redis = RedisClient(configuration: configuration.common.redis)
            defer { redis.shutdown() }
            _ = try await redis.send(["FLUSHDB"])
            let postgres = PostgresClient(configuration: configuration.common.database, backgroundLogger: self.logger)
            let app = buildGatewayApplication(
                configuration: configuration,
                redis: redis,
                postgres: postgres,
                metricsRegistry: PrometheusCollectorRegistry(),
                logger: Self.capturingLogger
            )
            // Over a real socket, as Shopify's redirect and the merchant's browser reach it.
            try await app.test(.live) { client in
                try await Migrator(client: postgres).migrate(logger: self.logger)
                try await body(ContractCheckedClient(client: client), postgres, redis, harness)
            }
        }
    }

    /// Starts an install and lets the simulated merchant approve it; returns the callback's path and query.
    func approvedCallback(_ client: some TestClientProtocol, business: UUID, shop: String, harness: SimulatorHarness) async throws -> String {
        let (status, _, body) = try await SocketClient(client).execute(
            uri: "/ecommerce/oauth/install?shop=\(shop)",
            headers: ["Authorization": "Bearer \(TestJWT.merchant(business))"]
        )
        #expect(status == .ok)
        let answer = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        let authorizeURL = try #require(answer?["authorizeUrl"] as? String)
        let components = try #require(URLComponents(string: authorizeURL))
        #expect(components.path == "/shops/\(shop)/admin/oauth/authorize")
        var query: [String: String] = [:]
        for item in components.queryItems ?? [] { query[item.name] = item.value }
        #expect(query["redirect_uri"] == "https://gateway.example/ecommerce/oauth/callback")
        #expect(query["scope"] == "write_products,write_inventory,read_locations,read_orders")
        #expect(query["state"]?.count == 64)
        let redirect = try #require(URLComponents(string: try harness.simulator.authorize(shop: shop, query: query).get()))
        return redirect.path + "?" + (redirect.percentEncodedQuery ?? "")
    }

    func get(_ client: some TestClientProtocol, _ uri: String) async throws -> (HTTPResponse.Status, String, String?) {
        let (status, headers, body) = try await SocketClient(client).execute(uri: uri)
        return (status, body, headers.first(name: "Location"))
    }

    @Test("install → approve → callback: connected with a sealed token, its location, the webhooks and a first poll")
    func connects() async throws {
        try await self.withOAuthGateway { client, postgres, redis, harness in
            let business = UUID()
            let shop = "oauth-\(UUID().uuidString.prefix(8).lowercased()).myshopify.com"
            harness.simulator.createShop(shop, accessToken: "seed")
            let callback = try await self.approvedCallback(client, business: business, shop: shop, harness: harness)
            let (status, _, location) = try await self.get(client, callback)
            #expect(status == .found)
            #expect(location?.hasPrefix("https://app.example/shopify/done?status=connected&shop=\(shop)") == true)

            let account = try #require(try await ConnectionStore(client: postgres).account(businessId: business, logger: self.logger))
            #expect(account.status == .active && account.shop == shop && account.locationId != nil)
            // In the database the token exists only sealed.
            for try await (access, plain) in try await postgres.query(
                "SELECT encode(access_token_ciphertext, 'escape'), access_token_ciphertext::text FROM ecommerce_connection WHERE business_id = \(business)",
                logger: self.logger
            ).decode((String, String).self) {
                #expect(!access.contains("shpat_") && !plain.contains("shpat_"))
            }
            let cipher = try TokenCipher(specification: "test:\(Self.cipherKey)")
            let token = try cipher.open(try #require(account.sealedAccessToken), context: business.uuidString.lowercased())
            #expect(token.hasPrefix("shpat_"))
            // The token never reached a log line (everything the gateway logged during the flow, at trace level).
            let lines = Self.capturedLines.all
            #expect(!lines.isEmpty && !lines.contains { $0.contains(token) || $0.contains("shpat_") })
            let subscriptions = try await harness.client().webhookSubscriptions(
                as: ShopifyCredentials(shop: shop, accessToken: token),
                logger: self.logger
            )
            #expect(
                Set(subscriptions.map(\.topic)) == [
                    "ORDERS_CREATE", "ORDERS_UPDATED", "ORDERS_CANCELLED", "ORDERS_EDITED", "REFUNDS_CREATE", "APP_UNINSTALLED",
                    "BULK_OPERATIONS_FINISH",
                ]
            )
            #expect(subscriptions.allSatisfy { $0.uri == "https://gateway.example/ecommerce/webhooks/shopify" })
            #expect(try await redis.send(["ZSCORE", RedisArgument(PollSchedule.key), RedisArgument(business.uuidString.lowercased())]).text != nil)
            #expect(try await redis.send(["ZCARD", RedisArgument(QueueKeys(queue: EcommerceQueue.polling).ready)]).int == 1)

            // The same callback again: the state is spent.
            let (replay, body, _) = try await self.get(client, callback)
            #expect(replay == .badRequest && body.contains("invalid_state"))

            // Reconnecting the business to another shop replaces the connection: its token, its location.
            let other = "moved-\(UUID().uuidString.prefix(8).lowercased()).myshopify.com"
            let otherLocation = harness.simulator.createShop(other, accessToken: "seed")
            let (moved, _, _) = try await self.get(client, try await self.approvedCallback(client, business: business, shop: other, harness: harness))
            #expect(moved == .found)
            let replaced = try #require(try await ConnectionStore(client: postgres).account(businessId: business, logger: self.logger))
            #expect(replaced.shop == other && replaced.status == .active && replaced.locationId == otherLocation && replaced.lastSyncedAt == nil)
            let newToken = try cipher.open(try #require(replaced.sealedAccessToken), context: business.uuidString.lowercased())
            #expect(try await harness.client().locations(as: ShopifyCredentials(shop: other, accessToken: newToken), logger: self.logger).count == 1)
        }
    }

    @Test("a shop connected to another business gets 409 shop_connected_elsewhere before its code is spent; a failed exchange logs its cause")
    func shopConnectedElsewhere() async throws {
        try await self.withOAuthGateway { client, postgres, _, harness in
            let owner = UUID()
            let shop = "taken-\(UUID().uuidString.prefix(8).lowercased()).myshopify.com"
            harness.simulator.createShop(shop, accessToken: "seed")
            #expect(try await self.get(client, try await self.approvedCallback(client, business: owner, shop: shop, harness: harness)).0 == .found)

            let other = UUID()
            let callback = try await self.approvedCallback(client, business: other, shop: shop, harness: harness)
            let (status, body, _) = try await self.get(client, callback)
            #expect(status == .conflict && body.contains("shop_connected_elsewhere"), "\(status) \(body)")
            #expect(try await ConnectionStore(client: postgres).account(businessId: other, logger: self.logger) == nil)
            #expect(try await ConnectionStore(client: postgres).account(businessId: owner, logger: self.logger)?.status == .active)
            // The code was not spent: Shopify would still exchange it.
            let code = try #require(URLComponents(string: callback)?.queryItems?.first { $0.name == "code" }?.value)
            let form = ["client_id": harness.simulator.apiKey, "client_secret": harness.simulator.apiSecret, "code": code]
            #expect((try? harness.simulator.exchangeToken(shop: shop, form: form).get()) != nil)

            // A code Shopify refuses (spent here above): 502, and the log says why without the code or the secret.
            let fresh = UUID()
            let freshShop = "fresh-\(UUID().uuidString.prefix(8).lowercased()).myshopify.com"
            harness.simulator.createShop(freshShop, accessToken: "seed")
            let refused = try await self.approvedCallback(client, business: fresh, shop: freshShop, harness: harness)
            let refusedCode = try #require(URLComponents(string: refused)?.queryItems?.first { $0.name == "code" }?.value)
            _ = harness.simulator.exchangeToken(
                shop: freshShop,
                form: ["client_id": harness.simulator.apiKey, "client_secret": harness.simulator.apiSecret, "code": refusedCode]
            )
            let (failed, failedBody, _) = try await self.get(client, refused)
            #expect(failed == .badGateway && failedBody.contains("token_exchange_failed"))
            let lines = Self.capturedLines.all.filter { $0.contains("OAuth token exchange failed") }
            #expect(lines.contains { $0.contains("400") && $0.contains("invalid_request") }, "\(lines)")
            #expect(!lines.contains { $0.contains(refusedCode) || $0.contains(harness.simulator.apiSecret) })
        }
    }

    @Test("connecting creates the custom-ID metafield definition: productSet by customId is refused before, accepted after")
    func connectCreatesCustomIdDefinition() async throws {
        try await self.withOAuthGateway { client, postgres, _, harness in
            let business = UUID()
            let shop = "custom-\(UUID().uuidString.prefix(8).lowercased()).myshopify.com"
            let locationId = harness.simulator.createShop(shop, accessToken: "seed")
            let seed = ShopifyCredentials(shop: shop, accessToken: "seed")
            let product = SampleProduct.input()
            await #expect {
                _ = try await harness.client().productSet(product, locationId: locationId, as: seed, logger: self.logger)
            } throws: { error in
                guard case ShopifyAdminError.userErrors(_, let errors) = error else { return false }
                return errors.contains { $0.code == "INVALID_METAFIELD" && $0.field == ["identifier", "customId"] }
            }
            let (status, _, _) = try await self.get(client, try await self.approvedCallback(client, business: business, shop: shop, harness: harness))
            #expect(status == .found)
            #expect(try await ConnectionStore(client: postgres).account(businessId: business, logger: self.logger)?.customIdDefinedAt != nil)
            let created = try await harness.client().productSet(product, locationId: locationId, as: seed, logger: self.logger)
            #expect(created.variants.count == 2)
            // Connecting again finds the definition taken, which is what it wants.
            let (again, _, _) = try await self.get(client, try await self.approvedCallback(client, business: business, shop: shop, harness: harness))
            #expect(again == .found)
        }
    }

    @Test("an app/uninstalled triggered before the current install (a late retry) leaves it active; a current one uninstalls")
    func lateUninstallLeavesReinstallAlone() async throws {
        try await self.withOAuthGateway { client, postgres, redis, harness in
            let business = UUID()
            let shop = "reinstall-\(UUID().uuidString.prefix(8).lowercased()).myshopify.com"
            harness.simulator.createShop(shop, accessToken: "seed")
            #expect(try await self.get(client, try await self.approvedCallback(client, business: business, shop: shop, harness: harness)).0 == .found)
            // The merchant uninstalls, and reinstalls a moment later; the uninstall's webhook is delivered after that.
            let uninstalledAt = Date()
            try await Task.sleep(for: .milliseconds(20))
            #expect(try await self.get(client, try await self.approvedCallback(client, business: business, shop: shop, harness: harness)).0 == .found)

            let queue = RedisJobQueue(redis: redis)
            let handlers = EcommerceHandlers(postgres: postgres, queue: queue, shopify: harness.client(), tokenCipher: nil)
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            func handleUninstall(triggeredAt: Date) async throws {
                let job = ShopEventJob.envelope(
                    .init(topic: "app/uninstalled", webhookId: UUID().uuidString, triggeredAt: formatter.string(from: triggeredAt)),
                    businessId: business,
                    shop: shop
                )
                try await queue.enqueue(ShopEventJob.self, job)
                let worker = JobWorker(
                    queue: queue,
                    registry: handlers.registry(),
                    configuration: JobWorkerConfiguration(queues: [EcommerceQueue.shopEvents], concurrency: 1),
                    logger: self.logger
                )
                let handled = try await runWorkers([worker], timeout: .seconds(30)) {
                    let stats = try await queue.stats(queue: EcommerceQueue.shopEvents)
                    return stats.ready + stats.inflight + stats.delayed + stats.dead == 0
                }
                #expect(handled)
            }
            try await handleUninstall(triggeredAt: uninstalledAt)
            #expect(try await ConnectionStore(client: postgres).account(businessId: business, logger: self.logger)?.status == .active)
            try await handleUninstall(triggeredAt: Date())
            #expect(try await ConnectionStore(client: postgres).account(businessId: business, logger: self.logger)?.status == .uninstalled)
        }
    }

    @Test("the callback refuses a forged signature, a stale timestamp, a bad domain, another shop's state and missing parameters")
    func refusesBadCallbacks() async throws {
        try await self.withOAuthGateway { client, postgres, _, harness in
            let business = UUID()
            let shop = "guard-\(UUID().uuidString.prefix(8).lowercased()).myshopify.com"
            let other = "other-\(UUID().uuidString.prefix(8).lowercased()).myshopify.com"
            harness.simulator.createShop(shop, accessToken: "seed")
            harness.simulator.createShop(other, accessToken: "seed")
            let callback = try #require(
                URLComponents(string: try await self.approvedCallback(client, business: business, shop: shop, harness: harness))
            )
            var parameters: [String: String] = [:]
            for item in callback.queryItems ?? [] { parameters[item.name] = item.value }
            func uri(_ changes: [String: String], resign: Bool) -> String {
                var values = parameters.merging(changes) { $1 }
                if resign { values["hmac"] = ShopifySimulator.querySignature(values, secret: harness.simulator.apiSecret) }
                var components = URLComponents()
                components.path = "/ecommerce/oauth/callback"
                components.queryItems = values.sorted { $0.key < $1.key }.map { URLQueryItem(name: $0.key, value: $0.value) }
                return components.string!
            }
            // An expired state is refused like an unknown one.
            try await postgres.query(
                "UPDATE ecommerce_oauth_state SET expires_at = now() - interval '1 second' WHERE state = \(parameters["state"]!)",
                logger: self.logger
            )
            let (expired, expiredBody, _) = try await self.get(client, uri([:], resign: false))
            #expect(expired == .badRequest && expiredBody.contains("invalid_state"))
            try await postgres.query(
                "UPDATE ecommerce_oauth_state SET expires_at = now() + interval '5 minutes' WHERE state = \(parameters["state"]!)",
                logger: self.logger
            )
            let cases: [(String, String)] = [
                // One character of the state changed, the signature left as it was.
                (uri(["state": (parameters["state"]!.hasPrefix("0") ? "1" : "0") + parameters["state"]!.dropFirst()], resign: false), "invalid_hmac"),
                (uri(["timestamp": String(Int(Date().timeIntervalSince1970) - 3600)], resign: true), "stale_request"),
                (uri(["shop": "evil.example.com"], resign: true), "invalid_shop"),
                (uri(["shop": other], resign: true), "invalid_state"),
                ("/ecommerce/oauth/callback?shop=\(shop)", "missing_parameters"),
            ]
            for (uri, code) in cases {
                let (status, body, _) = try await self.get(client, uri)
                #expect(status == .badRequest, "\(code)")
                #expect(body.contains(code), "\(code): \(body)")
            }
            #expect(try await ConnectionStore(client: postgres).account(businessId: business, logger: self.logger) == nil)
            // The genuine callback still works after the refusals (none of them spent the state).
            let (status, _, _) = try await self.get(client, uri([:], resign: false))
            #expect(status == .found)
        }
    }
}

/// Log lines kept by ``CapturingLogHandler``.
final class LogLines: Sendable {
    private let lines = Mutex<[String]>([])
    var all: [String] { self.lines.withLock { $0 } }
    func append(_ line: String) { self.lines.withLock { $0.append(line) } }
}

/// Keeps every log line with its metadata.
struct CapturingLogHandler: LogHandler {
    let lines: LogLines
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let all = self.metadata.merging(event.metadata ?? [:]) { $1 }
        self.lines.append("\(event.level) \(event.message) \(all)")
    }
}
