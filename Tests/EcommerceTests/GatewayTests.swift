import EcommerceJobs
import Foundation
import GatewayApp
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JobQueue
import Logging
import NIOCore
import Operations
import PostgresNIO
import ProcessEnvironment
import Prometheus
import RedisClient
import Shopify
import Storage
import Synchronization
import Testing

/// The gateway against real Redis (its own database index, flushed per test) and PostgreSQL.
@Suite("Webhook gateway", .serialized)
struct GatewayTests {
    static let secret = "gateway-test-secret"
    static let previousSecret = "gateway-test-old-secret"
    static let maxBody = 64 * 1024
    static let jwtSecret = "gateway-test-jwt-secret-of-32-bytes-or-more"

    static func configuration(redisURL: String = TestServices.redisURL(.gateway), extra: [String: String] = [:]) throws -> GatewayConfiguration {
        try GatewayConfiguration(
            environment: Environment(
                [
                    "REDIS_URL": redisURL,
                    "DATABASE_URL": TestServices.databaseURL,
                    "SHOPIFY_API_SECRET": secret,
                    "SHOPIFY_API_SECRET_PREVIOUS": previousSecret,
                    "WEBHOOK_MAX_BODY_BYTES": String(maxBody),
                    "SHOP_CACHE_TTL_SECONDS": "0",
                    "JWT_SECRET": jwtSecret,
                    "PRODUCT_PUSH_PAGE_SIZE": "7",
                    // The doctor tests run it several times in a row; its own test sets an interval.
                    "DOCTOR_MIN_INTERVAL_SECONDS": "0",
                ].merging(extra) { _, new in new }
            )
        )
    }

    /// How a delivery reaches the intake: the byte-level fast path of a live server (what Shopify's plain requests
    /// take), or Hummingbird's router (the carrier for every other request shape).
    /// How a test's requests reach the gateway's webhook intake.
    enum Carrier: String, CaseIterable, Sendable {
        /// Over a socket, read by the webhook fast path (`WebhookChannelHandler`).
        case fastPath
        /// Hummingbird's in-memory router: the route's handler without any socket.
        case router
        /// Over a socket, with more headers than the fast path reads: Hummingbird's HTTP parser and the route take it,
        /// as they take any delivery the fast path hands over in production.
        case routerOverSocket

        var setup: TestingSetup { self == .router ? .router : .live }
    }

    /// A client that adds headers to every request: more than ``WebhookWireRequest/maxHeaderCount`` of them send a
    /// delivery down the router path over a real socket.
    struct PaddedClient: TestClientProtocol {
        var client: any TestClientProtocol
        var padding: HTTPFields

        static func overflowingFastPath(_ client: any TestClientProtocol) -> PaddedClient {
            var padding = HTTPFields()
            for index in 0...WebhookWireRequest.maxHeaderCount { padding[HTTPField.Name("X-Padding-\(index)")!] = "1" }
            return PaddedClient(client: client, padding: padding)
        }

        func executeRequest(uri: String, method: HTTPRequest.Method, headers: HTTPFields, body: ByteBuffer?) async throws -> TestResponse {
            try await self.client.executeRequest(uri: uri, method: method, headers: headers + self.padding, body: body)
        }

        var port: Int? { self.client.port }
    }

    /// Runs `body` against a gateway, with a migrated database and a flushed Redis.
    func withGateway(
        carrier: Carrier = .fastPath,
        redisURL: String = TestServices.redisURL(.gateway),
        environment extra: [String: String] = [:],
        _ body: @Sendable (any TestClientProtocol, PostgresClient, RedisClient) async throws -> Void
    ) async throws {
        let configuration = try Self.configuration(redisURL: redisURL, extra: extra)
        let redis = RedisClient(configuration: configuration.common.redis)
        defer { redis.shutdown() }
        if redisURL == TestServices.redisURL(.gateway) { _ = try await redis.send(["FLUSHDB"]) }
        // The application runs the PostgreSQL client as one of its services.
        let postgres = PostgresClient(configuration: configuration.common.database, backgroundLogger: TestServices.logger)
        let app = buildGatewayApplication(
            configuration: configuration,
            redis: redis,
            postgres: postgres,
            metricsRegistry: PrometheusCollectorRegistry(),
            logger: TestServices.logger
        )
        try await app.test(carrier.setup) { client in
            try await Migrator(client: postgres).migrate(logger: TestServices.logger)
            let checked = ContractCheckedClient(client: client)
            try await body(carrier == .routerOverSocket ? PaddedClient.overflowingFastPath(checked) : checked, postgres, redis)
        }
    }

    static func headers(
        body: String,
        topic: String = "orders/create",
        shop: String?,
        webhookId: String? = UUID().uuidString,
        secret: String? = secret
    ) -> HTTPFields {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let secret { headers[HTTPField.Name("X-Shopify-Hmac-Sha256")!] = WebhookSignatureVerifier.sign(body: Array(body.utf8), secret: secret) }
        headers[HTTPField.Name("X-Shopify-Topic")!] = topic
        if let shop { headers[HTTPField.Name("X-Shopify-Shop-Domain")!] = shop }
        if let webhookId { headers[HTTPField.Name("X-Shopify-Webhook-Id")!] = webhookId }
        return headers
    }

    static func post(_ client: any TestClientProtocol, body: String, headers: HTTPFields) async throws -> (HTTPResponse.Status, String, HTTPFields) {
        try await client.execute(uri: "/ecommerce/webhooks/shopify", method: .post, headers: headers, body: ByteBuffer(string: body)) { response in
            (response.status, String(buffer: response.body), response.headers)
        }
    }

    struct WebhookAnswer: Decodable, Equatable {
        var ok: Bool
        var error: String?
    }

    static func ack(_ answer: String) throws -> WebhookAnswer {
        try JSONDecoder().decode(WebhookAnswer.self, from: Data(answer.utf8))
    }

    static func queueLength(_ redis: RedisClient, _ queue: String) async throws -> Int {
        try await redis.send(["ZCARD", RedisArgument(QueueKeys(queue: queue).ready)]).int ?? -1
    }

    struct MissingJob: Error, CustomStringConvertible {
        var queue: String
        var description: String { "no job in \(self.queue)" }
    }

    /// The newest job of `queue` (the last in line: the tests' jobs are of one shop, whose turns keep their order); a
    /// test that expects one fails, rather than passing silently, when it is missing.
    static func queuedJob(_ redis: RedisClient, _ queue: String) async throws -> [UInt8] {
        let last = try await redis.send(["ZRANGE", RedisArgument(QueueKeys(queue: queue).ready), "-1", "-1"]).orThrow().elements.first
        guard case .string(let raw) = last else { throw MissingJob(queue: queue) }
        return raw
    }

    @Test("a signed order is enqueued once, however often it is delivered", arguments: Carrier.allCases)
    func signedOrderEnqueuedOnce(carrier: Carrier) async throws {
        try await self.withGateway(carrier: carrier) { client, postgres, redis in
            let business = try await BusinessFixture.create(on: postgres, stock: [("A", 5, 11)])
            let order = OrderFactory.order(lines: [OrderFactory.line(1, variant: business.variants[0], quantity: 1)])
            let body = OrderFactory.webhookBody(order)
            let headers = Self.headers(body: body, shop: business.shop, webhookId: "wh-1")
            for _ in 0..<3 {
                let (status, answer, _) = try await Self.post(client, body: body, headers: headers)
                #expect(status == .ok)
                #expect(answer == #"{"ok":true}"#)
            }
            #expect(try await Self.queueLength(redis, EcommerceQueue.orders) == 1)
            // The job carries the order, the business and the shop, and no customer data.
            let raw = try await Self.queuedJob(redis, EcommerceQueue.orders)
            let envelope = try JobCoding.decoder().decode(JobEnvelope<OrderIngestJob.Payload>.self, from: Data(raw))
            #expect(envelope.kind == OrderIngestJob.kind)
            #expect(envelope.businessId == business.id)
            #expect(String(decoding: raw, as: UTF8.self).contains(#""businessId":"\#(business.id.uuidString.lowercased())""#), "written lower-cased")
            #expect(envelope.shop == business.shop)
            #expect(envelope.payload.order.id == order.id)
            #expect(envelope.payload.order.updatedAt == order.updatedAt)
            #expect(envelope.payload.order.lineItems == order.lineItems)
            #expect(envelope.dedupeKey == "webhook:\(business.shop):wh-1")
            let text = String(decoding: raw, as: UTF8.self)
            #expect(!text.contains("jane@example.com") && !text.contains("Doe"))

            // A different delivery id of the same order is a new delivery (transport dedupe only);
            // ingestion makes its effect idempotent.
            let (status, _, _) = try await Self.post(client, body: body, headers: Self.headers(body: body, shop: business.shop, webhookId: "wh-2"))
            #expect(status == .ok)
            #expect(try await Self.queueLength(redis, EcommerceQueue.orders) == 2)
        }
    }

    @Test("authentication failures answer 401 and enqueue nothing", arguments: Carrier.allCases)
    func unauthorized(carrier: Carrier) async throws {
        try await self.withGateway(carrier: carrier) { client, postgres, redis in
            let business = try await BusinessFixture.create(on: postgres, stock: [("A", 5, 11)])
            let body = OrderFactory.webhookBody(OrderFactory.order(lines: [OrderFactory.line(1, variant: business.variants[0], quantity: 1)]))
            var tampered = Array(body.utf8)
            tampered[tampered.count / 2] ^= 0x01
            let cases: [(String, HTTPFields, String)] = [
                ("missing signature", Self.headers(body: body, shop: business.shop, secret: nil), body),
                ("wrong secret", Self.headers(body: body, shop: business.shop, secret: "not-the-secret"), body),
                ("one byte changed", Self.headers(body: body, shop: business.shop), String(decoding: tampered, as: UTF8.self)),
                ("missing shop", Self.headers(body: body, shop: nil), body),
                (
                    "garbage signature",
                    { () -> HTTPFields in
                        var headers = Self.headers(body: body, shop: business.shop)
                        headers[HTTPField.Name("X-Shopify-Hmac-Sha256")!] = "%%%"
                        return headers
                    }(), body
                ),
            ]
            for (name, headers, sentBody) in cases {
                let (status, answer, _) = try await Self.post(client, body: sentBody, headers: headers)
                #expect(status == .unauthorized, "\(name)")
                #expect(answer.contains(#""error":"#), "\(name)")
            }
            // Compliance topics with a bad signature: 401 too.
            let (status, _, _) = try await Self.post(
                client,
                body: "{}",
                headers: Self.headers(body: "{}", topic: "customers/redact", shop: business.shop, secret: "forged")
            )
            #expect(status == .unauthorized)
            #expect(try await Self.queueLength(redis, EcommerceQueue.orders) == 0)
            #expect(try await Self.queueLength(redis, EcommerceQueue.shopEvents) == 0)
        }
    }

    @Test("the previous secret is accepted during a rotation", arguments: Carrier.allCases)
    func previousSecretAccepted(carrier: Carrier) async throws {
        try await self.withGateway(carrier: carrier) { client, postgres, redis in
            let business = try await BusinessFixture.create(on: postgres, stock: [("A", 5, 11)])
            let body = OrderFactory.webhookBody(OrderFactory.order(lines: [OrderFactory.line(1, variant: business.variants[0], quantity: 1)]))
            let (status, answer, _) = try await Self.post(
                client,
                body: body,
                headers: Self.headers(body: body, shop: business.shop, secret: Self.previousSecret)
            )
            #expect(status == .ok && answer == #"{"ok":true}"#)
            #expect(try await Self.queueLength(redis, EcommerceQueue.orders) == 1)
        }
    }

    @Test("verified application errors answer 200 ok:false with a code and enqueue nothing", arguments: Carrier.allCases)
    func applicationErrors(carrier: Carrier) async throws {
        try await self.withGateway(carrier: carrier) { client, postgres, redis in
            let active = try await BusinessFixture.create(on: postgres, stock: [("A", 5, 11)])
            let disconnected = try await BusinessFixture.create(on: postgres, stock: [("A", 5, 11)], connection: .disconnected)
            let order = OrderFactory.webhookBody(OrderFactory.order(lines: [OrderFactory.line(1, variant: active.variants[0], quantity: 1)]))
            let cases: [(body: String, topic: String, shop: String, code: String)] = [
                (order, "orders/create", "nobody-\(UUID().uuidString.prefix(6).lowercased()).myshopify.com", "unknown_shop"),
                (order, "orders/create", disconnected.shop, "shop_not_connected"),
                (order, "products/create", active.shop, "unsupported_topic"),
                (order, "", active.shop, "missing_topic"),
                (order, "orders/create", "evil.example.com", "invalid_shop_domain"),
                (#"{"id": 1}"#, "orders/create", active.shop, "invalid_payload"),
                ("this is not json", "orders/updated", active.shop, "invalid_payload"),
                (#"{"id":1,"updated_at":"yesterday","line_items":[]}"#, "orders/create", active.shop, "invalid_payload"),
                (#"{"id": 5}"#, "refunds/create", active.shop, "invalid_payload"),
                ("[]", "app/uninstalled", active.shop, "invalid_payload"),
            ]
            for item in cases {
                var headers = Self.headers(body: item.body, topic: item.topic, shop: item.shop)
                if item.topic.isEmpty { headers[HTTPField.Name("X-Shopify-Topic")!] = nil }
                let (status, answer, _) = try await Self.post(client, body: item.body, headers: headers)
                #expect(status == .ok, "\(item.code)")
                #expect(try Self.ack(answer) == WebhookAnswer(ok: false, error: item.code), "\(item.code): \(answer)")
            }
            #expect(try await Self.queueLength(redis, EcommerceQueue.orders) == 0)
            #expect(try await Self.queueLength(redis, EcommerceQueue.shopEvents) == 0)
        }
    }

    @Test(
        "one event delivered to two subscriptions (same event id, own webhook ids) is enqueued once; triggered-at rides on shop events",
        arguments: Carrier.allCases
    )
    func eventIdDedupe(carrier: Carrier) async throws {
        try await self.withGateway(carrier: carrier) { client, postgres, redis in
            let business = try await BusinessFixture.create(on: postgres, stock: [("A", 5, 11)])
            let body = OrderFactory.webhookBody(OrderFactory.order(lines: [OrderFactory.line(1, variant: business.variants[0], quantity: 1)]))
            let event = UUID().uuidString.lowercased()
            for subscription in ["wh-a", "wh-b"] {
                var headers = Self.headers(body: body, shop: business.shop, webhookId: subscription)
                headers[HTTPField.Name("X-Shopify-Event-Id")!] = event
                let (status, answer, _) = try await Self.post(client, body: body, headers: headers)
                #expect(status == .ok && answer == #"{"ok":true}"#)
            }
            #expect(try await Self.queueLength(redis, EcommerceQueue.orders) == 1)
            let raw = try await Self.queuedJob(redis, EcommerceQueue.orders)
            #expect(
                try JobCoding.decoder().decode(JobEnvelope<OrderIngestJob.Payload>.self, from: Data(raw)).dedupeKey
                    == "webhook:\(business.shop):event-\(event)"
            )
            // Another event of the same order is another delivery.
            var other = Self.headers(body: body, shop: business.shop, webhookId: "wh-c")
            other[HTTPField.Name("X-Shopify-Event-Id")!] = UUID().uuidString
            _ = try await Self.post(client, body: body, headers: other)
            #expect(try await Self.queueLength(redis, EcommerceQueue.orders) == 2)

            let uninstall = #"{"id": 1, "domain": "x"}"#
            var headers = Self.headers(body: uninstall, topic: "app/uninstalled", shop: business.shop)
            headers[HTTPField.Name("X-Shopify-Triggered-At")!] = "2026-11-30T10:00:00.123Z"
            let (status, _, _) = try await Self.post(client, body: uninstall, headers: headers)
            #expect(status == .ok)
            let job = try await Self.queuedJob(redis, EcommerceQueue.shopEvents)
            let envelope = try JobCoding.decoder().decode(JobEnvelope<ShopEventJob.Payload>.self, from: Data(job))
            #expect(envelope.payload.triggeredAt == "2026-11-30T10:00:00.123Z")
            let triggered = try #require(envelope.payload.triggeredAtDate)
            #expect(abs(triggered.timeIntervalSince1970 - 1_796_032_800.123) < 0.001)
        }
    }

    @Test("order changes and lifecycle topics go to their queues; lifecycle topics reach an uninstalled shop", arguments: Carrier.allCases)
    func topicRouting(carrier: Carrier) async throws {
        try await self.withGateway(carrier: carrier) { client, postgres, redis in
            let business = try await BusinessFixture.create(on: postgres, stock: [("A", 5, 11)], connection: .uninstalled)
            let refund = #"{"id": 77, "order_id": 5551234567890, "refund_line_items": [], "note": "customer said"}"#
            let redact = #"{"shop_id": 1, "customer": {"email": "jane@example.com"}, "orders_to_redact": [1]}"#
            // An order change for an uninstalled shop is refused; the privacy topic is accepted.
            var (status, answer, _) = try await Self.post(
                client,
                body: refund,
                headers: Self.headers(body: refund, topic: "refunds/create", shop: business.shop)
            )
            #expect(status == .ok)
            #expect(try Self.ack(answer) == WebhookAnswer(ok: false, error: "shop_not_connected"))
            (status, answer, _) = try await Self.post(
                client,
                body: redact,
                headers: Self.headers(body: redact, topic: "customers/redact", shop: business.shop)
            )
            #expect(status == .ok && answer == #"{"ok":true}"#)
            #expect(try await Self.queueLength(redis, EcommerceQueue.shopEvents) == 1)
            let raw = try await Self.queuedJob(redis, EcommerceQueue.shopEvents)
            #expect(!String(decoding: raw, as: UTF8.self).contains("jane@example.com"))

            try await ConnectionStore(client: postgres).save(
                businessId: business.id,
                shop: business.shop,
                status: .active,
                logger: TestServices.logger
            )
            (status, answer, _) = try await Self.post(
                client,
                body: refund,
                headers: Self.headers(body: refund, topic: "refunds/create", shop: business.shop)
            )
            #expect(status == .ok && answer == #"{"ok":true}"#)
            let job = try await Self.queuedJob(redis, EcommerceQueue.orders)
            let envelope = try JobCoding.decoder().decode(JobEnvelope<OrderChangeNoticeJob.Payload>.self, from: Data(job))
            #expect(envelope.kind == OrderChangeNoticeJob.kind)
            #expect(envelope.payload.change == ShopifyOrderChange(orderId: 5_551_234_567_890, changeId: 77))
        }
    }

    @Test(
        "bulk_operations/finish goes to the products queue with the operation; a body without a bulk operation id is refused",
        arguments: Carrier.allCases
    )
    func bulkOperationFinish(carrier: Carrier) async throws {
        try await self.withGateway(carrier: carrier) { client, postgres, redis in
            let business = try await BusinessFixture.create(on: postgres, stock: [("A", 5, 11)])
            for invalid in [
                #"{"status": "completed"}"#, #"{"admin_graphql_api_id": "gid://shopify/Order/1"}"#, #"{"admin_graphql_api_id": 12}"#, "[]",
            ] {
                let (status, answer, _) = try await Self.post(
                    client,
                    body: invalid,
                    headers: Self.headers(body: invalid, topic: "bulk_operations/finish", shop: business.shop)
                )
                #expect(status == .ok)
                #expect(try Self.ack(answer) == WebhookAnswer(ok: false, error: "invalid_payload"), "\(invalid)")
            }
            #expect(try await Self.queueLength(redis, EcommerceQueue.products) == 0)
            let body = #"""
                {"admin_graphql_api_id": "gid://shopify/BulkOperation/42", "completed_at": "2026-12-07T10:00:00Z", "created_at": "2026-12-07T09:58:00Z",
                 "error_code": null, "status": "completed", "type": "mutation"}
                """#
            let webhookId = UUID().uuidString
            for _ in 0..<2 {
                let (status, answer, _) = try await Self.post(
                    client,
                    body: body,
                    headers: Self.headers(body: body, topic: "bulk_operations/finish", shop: business.shop, webhookId: webhookId)
                )
                #expect(status == .ok && answer == #"{"ok":true}"#)
            }
            #expect(try await Self.queueLength(redis, EcommerceQueue.products) == 1, "the second delivery is the same event")
            let job = try await Self.queuedJob(redis, EcommerceQueue.products)
            let envelope = try JobCoding.decoder().decode(JobEnvelope<BulkOperationFinishJob.Payload>.self, from: Data(job))
            #expect(envelope.kind == BulkOperationFinishJob.kind && envelope.shop == business.shop)
            #expect(envelope.payload.operationId == "gid://shopify/BulkOperation/42" && envelope.payload.status == "completed")
        }
    }

    @Test("the shop cache answers from memory for its TTL, then asks PostgreSQL again: an uninstall is seen once the TTL has passed")
    func shopCacheExpires() async throws {
        // Every other gateway test runs with the cache off (TTL 0); this one with a real TTL of 6 s.
        try await self.withGateway(environment: ["SHOP_CACHE_TTL_SECONDS": "6"]) { client, postgres, _ in
            let business = try await BusinessFixture.create(on: postgres, stock: [("A", 5, 11)])
            func deliver() async throws -> String {
                let body = OrderFactory.webhookBody(OrderFactory.order(lines: [OrderFactory.line(1, variant: business.variants[0], quantity: 1)]))
                let (status, answer, _) = try await Self.post(client, body: body, headers: Self.headers(body: body, shop: business.shop))
                #expect(status == .ok)
                return answer
            }
            // Taken before the first lookup: the entry expires at least 6 s after this instant (its lookup came later).
            let cachedAt = ContinuousClock.now
            #expect(try await deliver() == #"{"ok":true}"#)
            #expect(
                try await ConnectionStore(client: postgres).markUninstalled(businessId: business.id, shop: business.shop, logger: TestServices.logger)
            )
            // Within the TTL the gateway has not asked again: it still takes the shop for connected.
            #expect(try await deliver() == #"{"ok":true}"#, "answered from the cache")
            #expect(cachedAt.duration(to: .now) < .seconds(6), "the check above ran within the TTL (else it proves nothing)")
            // Past it, the next delivery reads the uninstall.
            let refused = try await TestServices.eventually(timeout: .seconds(30), every: .milliseconds(250)) {
                try Self.ack(try await deliver()) == WebhookAnswer(ok: false, error: "shop_not_connected")
            }
            #expect(refused, "the uninstall is seen after the TTL")
            #expect(cachedAt.duration(to: .now) >= .seconds(6), "not before the TTL: the cache answered until then")
        }
    }

    @Test("bodies over the limit answer 413", arguments: Carrier.allCases)
    func oversizedBody(carrier: Carrier) async throws {
        try await self.withGateway(carrier: carrier) { client, postgres, redis in
            let business = try await BusinessFixture.create(on: postgres, stock: [("A", 5, 11)])
            let body = #"{"id":1,"padding":""# + String(repeating: "x", count: Self.maxBody) + #""}"#
            let (status, answer, _) = try await Self.post(client, body: body, headers: Self.headers(body: body, shop: business.shop))
            #expect(status == .contentTooLarge)
            #expect(answer.contains("payload_too_large"))
            #expect(try await Self.queueLength(redis, EcommerceQueue.orders) == 0)
        }
    }

    @Test("health, readiness, and metrics with the queues and poll lag as Redis and PostgreSQL have them")
    func probes() async throws {
        try await self.withGateway { client, postgres, redis in
            try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains(#""status":"ready""#))
            }
            let business = try await BusinessFixture.create(on: postgres, stock: [("Q", 5, 12)])
            for _ in 0..<3 {
                let body = OrderFactory.webhookBody(OrderFactory.order(lines: [OrderFactory.line(1, variant: business.variants[0], quantity: 1)]))
                _ = try await Self.post(client, body: body, headers: Self.headers(body: body, shop: business.shop))
            }
            #expect(try await Self.queueLength(redis, EcommerceQueue.orders) == 3)
            try await client.execute(uri: "/metrics", method: .get) { response in
                let text = String(buffer: response.body)
                #expect(text.contains(#"ecommerce_queue_jobs{queue="ecommerce-orders",state="ready"} 3"#), "\(text.prefix(2000))")
                #expect(text.contains(#"ecommerce_queue_jobs{queue="ecommerce-orders",state="dead"} 0"#))
                #expect(text.contains(#"ecommerce_queue_oldest_ready_age_seconds{queue="ecommerce-orders"}"#))
                #expect(text.contains(#"ecommerce_poll_lag_connections{le="+Inf"}"#))
                #expect(text.contains("ecommerce_poll_lag_max_seconds"))
            }
        }
    }

    @Test(
        "the queue gauges are read at most once per METRICS_REFRESH_SECONDS however often /metrics is scraped; GATEWAY_METRICS_PORT moves /metrics off the public port"
    )
    func metricsAreCachedAndMayHaveTheirOwnPort() async throws {
        let metricsPort = try HostileConnectionTests.freePort()
        let environment = ["METRICS_REFRESH_SECONDS": "3", "GATEWAY_METRICS_PORT": String(metricsPort), "GATEWAY_METRICS_HOST": "127.0.0.1"]
        let flush = TestServices.redis(.metrics)
        _ = try await flush.send(["FLUSHDB"])
        flush.shutdown()
        try await self.withGateway(redisURL: TestServices.redisURL(.metrics), environment: environment) { client, postgres, redis in
            try await client.execute(uri: "/metrics", method: .get) { #expect($0.status == .notFound, "not on the public port") }
            try await client.execute(uri: "/readyz", method: .get) { #expect($0.status == .ok) }
            func ready() async throws -> Double? {
                let text = try await Self.get(port: metricsPort, path: "/metrics")
                return text.split(separator: "\n").first { $0.hasPrefix(#"ecommerce_queue_jobs{queue="ecommerce-orders",state="ready"}"#) }
                    .flatMap { $0.split(separator: " ").last.flatMap { Double($0) } }
            }
            let business = try await BusinessFixture.create(on: postgres, stock: [("M", 5, 13)])
            func deliver() async throws {
                let body = OrderFactory.webhookBody(OrderFactory.order(lines: [OrderFactory.line(1, variant: business.variants[0], quantity: 1)]))
                _ = try await Self.post(client, body: body, headers: Self.headers(body: body, shop: business.shop))
            }
            try await deliver()
            let refreshed = ContinuousClock.now  // at most: the scrape below refreshes
            #expect(try await ready() == 1)
            // Scraped again and again within the interval: the gauge is the one read first. (Only scrapes that start
            // well within it count, so that a slow machine cannot make the test fail.)
            try await deliver()
            var withinInterval = 0
            for _ in 0..<20 where ContinuousClock.now - refreshed < .seconds(2) {
                #expect(try await ready() == 1)
                withinInterval += 1
            }
            #expect(withinInterval > 0)
            try await Task.sleep(until: refreshed + .milliseconds(3200))
            #expect(try await ready() == 2)
            // The same refresh counted the dedupe keys: each delivery's event id is one.
            let dedupe = try await Self.get(port: metricsPort, path: "/metrics").split(separator: "\n").first {
                $0.hasPrefix("ecommerce_dedupe_keys ")
            }
            #expect(dedupe.flatMap { $0.split(separator: " ").last.flatMap { Double($0) } } == 2, "\(String(describing: dedupe))")
        }
    }

    /// A GET on 127.0.0.1 with a plain socket; the body.
    static func get(port: Int, path: String) async throws -> String {
        let connection = try RawConnection(port: port)
        defer { connection.close() }
        connection.send("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        return await connection.responses(1).first?.body ?? ""
    }

    @Test("with Redis stopped the gateway answers 503 with Retry-After, and recovers when Redis is back", arguments: Carrier.allCases)
    func redisDownAnswers503(carrier: Carrier) async throws {
        let redisServer = try ScratchRedis()
        defer { Task { await redisServer.stop() } }
        // redis-server takes a moment to listen, longer when the machine is busy with the other suites.
        let probe = RedisClient(configuration: RedisConfiguration(host: "127.0.0.1", port: redisServer.port, database: 0))
        let listening = await TestServices.eventually(timeout: .seconds(30), every: .milliseconds(50)) { (try? await probe.ping()) != nil }
        probe.shutdown()
        #expect(listening)
        try await self.withGateway(carrier: carrier, redisURL: "redis://127.0.0.1:\(redisServer.port)") { client, postgres, redis in
            let business = try await BusinessFixture.create(on: postgres, stock: [("A", 5, 11)])
            let body = OrderFactory.webhookBody(OrderFactory.order(lines: [OrderFactory.line(1, variant: business.variants[0], quantity: 1)]))
            var (status, _, headers) = try await Self.post(client, body: body, headers: Self.headers(body: body, shop: business.shop))
            #expect(status == .ok)

            await redisServer.stop()
            (status, _, headers) = try await Self.post(client, body: body, headers: Self.headers(body: body, shop: business.shop))
            #expect(status == .serviceUnavailable)
            #expect(headers[.retryAfter] == "5")
            try await client.execute(uri: "/readyz", method: .get) { #expect($0.status == .serviceUnavailable) }

            try redisServer.start()
            let recovered = await TestServices.eventually(timeout: .seconds(30), every: .milliseconds(100)) {
                (try? await Self.post(client, body: body, headers: Self.headers(body: body, shop: business.shop)).0) == .ok
            }
            #expect(recovered)
            #expect(try await Self.queueLength(redis, EcommerceQueue.orders) == 1)
        }
    }
}

/// A redis-server of the test's own on a random port, to stop and start at will.
final class ScratchRedis: Sendable {
    /// Below Linux's ephemeral range (32768+), where a client socket may already hold the port; above the
    /// project's fixed service ports.
    let port = Int.random(in: 27000..<32000)
    private let process = Mutex<ChildProcess?>(nil)

    init() throws {
        try self.start()
    }

    func start() throws {
        let child = try ChildProcess.spawn(
            "/usr/bin/redis-server",
            ["--port", "\(self.port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", "/tmp"],
            environment: [:]
        )
        self.process.withLock { $0 = child }
    }

    func stop() async {
        guard let child = self.process.withLock({ $0.take() }) else { return }
        await child.stop(SIGTERM)
    }

    /// SIGSTOP freezes it (connections stay open, nothing answers), SIGCONT thaws it.
    func signal(_ signal: Int32) {
        self.process.withLock { $0?.signal(signal) }
    }
}
