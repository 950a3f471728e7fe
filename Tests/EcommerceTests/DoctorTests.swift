import Diagnostics
import EcommerceJobs
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JobQueue
import NIOFoundationCompat
import NIOHTTP1
import PostgresNIO
import RedisClient
import Shopify
import ShopifyAdmin
import ShopifySimulatorCore
import Storage
import Testing

@testable import WorkerApp

/// The doctor of one business, against a gateway whose Shopify is the simulator: healthy, then each fault it names
/// produced for real (a revoked token, a deleted subscription, a forged delivery, an unmapped SKU, a stopped relay,
/// a stale poll), and `--fix`. Part of the gateway suite: it shares its flushed Redis database.
extension GatewayTests {
    static let doctorBaseURL = "https://gateway.example"

    /// Runs `body` against a gateway with OAuth configured against a simulator (the doctor's Shopify), and a
    /// business as a healthy connection leaves it (see ``healthyBusiness(postgres:redis:harness:)``).
    func withDoctor(
        doctorMinInterval: Int = 0,
        _ body: @Sendable (any TestClientProtocol, PostgresClient, RedisClient, SimulatorHarness, CatalogFixture) async throws -> Void
    ) async throws {
        try await SimulatorHarness.run { harness in
            let environment = [
                "SHOPIFY_API_KEY": harness.simulator.apiKey,
                "PUBLIC_BASE_URL": Self.doctorBaseURL,
                "APP_REDIRECT_URL": "https://app.example/shopify/done",
                "TOKEN_ENCRYPTION_KEYS": CatalogFixture.cipherSpecification,
                "SHOPIFY_ADMIN_BASE_URL": harness.baseURLTemplate,
                "DOCTOR_MIN_INTERVAL_SECONDS": String(doctorMinInterval),
            ]
            try await self.withGateway(environment: environment) { client, postgres, redis in
                let fixture = try await self.healthyBusiness(postgres: postgres, redis: redis, harness: harness)
                try await body(client, postgres, redis, harness, fixture)
            }
        }
    }

    /// Connected with every scope the app asks for, its catalog pushed (mapped, 7 on both sides, nothing waiting),
    /// subscribed to every topic at the gateway's public URL, in the poll schedule and polled just now.
    func healthyBusiness(postgres: PostgresClient, redis: RedisClient, harness: SimulatorHarness) async throws -> CatalogFixture {
        let logger = TestServices.logger
        let fixture = try await CatalogFixture.create(on: postgres, simulator: harness.simulator, products: 1, variants: 2)
        let run = try await ProductPushTests().push(fixture, postgres: postgres, redis: redis, harness: harness)
        #expect(run.status == "completed")
        let connections = ConnectionStore(client: postgres)
        try await connections.saveAccessToken(
            businessId: fixture.businessId,
            sealed: try CatalogFixture.cipher.seal(fixture.accessToken, context: fixture.businessId.uuidString.lowercased()),
            scopes: ShopifyAccessScopes.needed.joined(separator: ","),
            logger: logger
        )
        let credentials = ShopifyCredentials(shop: fixture.shop, accessToken: fixture.accessToken)
        for topic in WebhookTopic.subscribed {
            try await harness.client().createWebhookSubscription(
                topic: ShopifyAdminClient.subscriptionTopic(topic.rawValue),
                uri: WebhookTopic.callbackURL(publicBaseURL: Self.doctorBaseURL),
                as: credentials,
                logger: logger
            )
        }
        _ = try await PollSchedule(redis: redis, interval: .seconds(900)).reconcile(adding: [fixture.businessId])
        try await connections.advanceLastSynced(businessId: fixture.businessId, to: Date(), logger: logger)
        return fixture
    }

    /// What `ecommerce-worker doctor` needs to see what the gateway's doctor sees.
    func doctorCommandEnvironment(_ harness: SimulatorHarness) -> [String: String] {
        [
            "REDIS_URL": TestServices.redisURL(.gateway),
            "TOKEN_ENCRYPTION_KEYS": CatalogFixture.cipherSpecification,
            "SHOPIFY_ADMIN_BASE_URL": harness.baseURLTemplate,
            "PUBLIC_BASE_URL": Self.doctorBaseURL,
        ]
    }

    /// The gateway's doctor report, as JSON decodes it. Over a socket with a patient client (120 s): the doctor asks
    /// Shopify several things, and beside a release build the test process was seen stalled past the test client's
    /// 20 s.
    func doctorReport(
        _ client: some TestClientProtocol,
        _ businessId: UUID,
        token: String = TestJWT.ops(),
        fix: Bool = false
    ) async throws
        -> DoctorReport
    {
        let (status, _, body) = try await SocketClient(client).execute(
            uri: "/ops/api/businesses/\(businessId.uuidString.lowercased())/doctor\(fix ? "/fix" : "")",
            method: fix ? .POST : .GET,
            headers: ["Authorization": "Bearer \(token)"]
        )
        #expect(status == .ok, "\(body)")
        return try Self.reportDecoder.decode(DoctorReport.self, from: Data(body.utf8))
    }

    static var reportDecoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }

    /// The doctor as the gateway has it, with thresholds a test can reach in seconds.
    func quickDoctor(
        postgres: PostgresClient,
        redis: RedisClient,
        harness: SimulatorHarness,
        pollInterval: Duration = .seconds(900)
    ) -> BusinessDoctor {
        var doctor = BusinessDoctor(
            postgres: postgres,
            redis: redis,
            shopify: .init(client: harness.client(), cipher: CatalogFixture.cipher),
            neededScopes: ShopifyAccessScopes.needed,
            publicBaseURL: Self.doctorBaseURL,
            pollInterval: pollInterval
        )
        doctor.thresholds.relayDelay = .seconds(1)
        return doctor
    }

    @Test("the doctor of a healthy business: every step ok, with its evidence, through the ops API and for the merchant itself")
    func doctorHealthy() async throws {
        try await self.withDoctor { client, _, redis, harness, fixture in
            // A delivery through the gateway: the journal keeps it, in the enqueue's own round trip.
            // Delivered twice (Shopify's retry): both are journaled, the second as the duplicate it was.
            let order = OrderFactory.order(lines: [])
            let body = OrderFactory.webhookBody(order)
            let headers = Self.headers(body: body, shop: fixture.shop)
            for _ in 0..<2 {
                let (status, _, _) = try await Self.post(client, body: body, headers: headers)
                #expect(status == .ok)
            }
            let journal = try await OperatorJournal(redis: redis).deliveries(shop: fixture.shop)
            #expect(
                journal.map(\.outcome) == ["duplicate", "enqueued"] && journal.allSatisfy { $0.orderId == order.id && $0.topic == "orders/create" }
            )
            #expect(journal.first?.webhookId == headers[HTTPField.Name("X-Shopify-Webhook-Id")!])

            let report = try await self.doctorReport(client, fixture.businessId)
            #expect(report.verdict == .ok, "\(report.text)")
            let checks = [
                "connection", "scopes", "token", "oauth_callbacks", "webhook_subscriptions", "webhook_deliveries", "mappings", "stock_relay",
                "inventory_pushes", "drift", "polling",
            ]
            #expect(report.findings.map(\.check) == checks)
            #expect(report.findings.allSatisfy { $0.verdict == .ok && !$0.evidence.isEmpty && $0.action == nil }, "\(report.text)")
            #expect(report.finding("token")?.evidence.contains { $0.contains("Shopify accepts it") } == true)
            #expect(report.finding("webhook_deliveries")?.evidence.contains { $0.hasPrefix("orders/create: last delivery") } == true)
            #expect(report.finding("mappings")?.evidence == ["2 of 2 variants are in Shopify"])
            #expect(report.finding("drift")?.evidence.allSatisfy { $0.hasSuffix("FlowPOS 7, Shopify 7") } == true)

            // The merchant may read its own; another business's token may not; nor fix anything.
            #expect(try await self.doctorReport(client, fixture.businessId, token: TestJWT.merchant(fixture.businessId)).verdict == .ok)
            let path = "/ops/api/businesses/\(fixture.businessId.uuidString.lowercased())/doctor"
            let (other, _) = try await self.get(client, path, token: TestJWT.merchant(UUID()))
            #expect(other == .forbidden)
            let (none, _) = try await self.get(client, path, token: nil)
            #expect(none == .unauthorized)
            let (malformed, refusal) = try await self.get(client, "/ops/api/businesses/not-a-uuid/doctor", token: TestJWT.ops())
            #expect(malformed == .badRequest && refusal["error"] as? String == "invalid_business_id")
            let (fixByMerchant, _) = try await self.post(client, path + "/fix", token: TestJWT.merchant(fixture.businessId))
            #expect(fixByMerchant == .forbidden)
            // The same report from the worker's command, for scripts: JSON, exit 0 when all is ok.
            let printed = try await WorkerProcessTests.command(
                ["doctor", "--business", fixture.businessId.uuidString, "--json"],
                extra: self.doctorCommandEnvironment(harness)
            )
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            let fromCommand = try decoder.decode(DoctorReport.self, from: Data(printed.utf8))
            #expect(fromCommand.verdict == .ok && fromCommand.findings.map(\.check) == checks, "\(fromCommand.text)")
            // A business without a connection: one failing step that says how to connect.
            let unknown = try await self.doctorReport(client, UUID())
            #expect(unknown.verdict == .failing && unknown.findings.map(\.check) == ["connection"])
        }
    }

    @Test("the doctor answers at once while a push holds the shop's rate limit: its Shopify steps are warnings naming the limit")
    func doctorThrottled() async throws {
        try await self.withDoctor { client, _, redis, _, fixture in
            // The shop's bucket as a long push leaves it: empty, and slow to refill (half a point a second), so that
            // each of the doctor's calls would wait seconds, under the workers' 30 s inline wait but past a person's.
            let drain = """
                local t = redis.call('TIME')
                local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
                redis.call('HSET', KEYS[1], 'available', '0', 'max', '1000', 'rate', '0.5', 'at', tostring(now))
                return 1
                """
            _ = try await redis.send(["EVAL", RedisArgument(drain), "1", RedisArgument(ShopifyCostBudget.key(shop: fixture.shop))]).orThrow()
            let started = ContinuousClock.now
            let report = try await self.doctorReport(client, fixture.businessId)
            let elapsed = started.duration(to: .now)
            #expect(elapsed < .seconds(10), "the doctor waited \(elapsed) for the rate limit")
            for check in ["token", "webhook_subscriptions", "drift"] {
                let finding = try #require(report.finding(check))
                #expect(finding.verdict == .warning, "\(check): \(report.text)")
                #expect(finding.evidence.contains { $0.contains("Shopify rate limit") }, "\(check): \(report.text)")
            }
        }
    }

    @Test(
        "the doctor names each fault produced for real: a deleted subscription (fixed), a forged delivery, an unmapped SKU, a stopped relay, a stale poll, a revoked token"
    )
    func doctorFaults() async throws {
        try await self.withDoctor { client, postgres, redis, harness, fixture in
            let logger = TestServices.logger
            let business = fixture.businessId
            let doctor = self.quickDoctor(postgres: postgres, redis: redis, harness: harness)

            // Shopify deleted a subscription (as it does after failed deliveries): failing, until --fix re-creates it.
            #expect(harness.simulator.removeWebhookSubscriptions(shop: fixture.shop, topic: "ORDERS_CREATE") == 1)
            var report = try await self.doctorReport(client, business)
            var finding = try #require(report.finding("webhook_subscriptions"))
            #expect(finding.verdict == .failing && finding.evidence.contains("orders/create: not subscribed"), "\(report.text)")
            #expect(finding.action?.contains("--fix") == true)
            let fixed = try await self.doctorReport(client, business, fix: true)
            #expect(fixed.fixed.first?.contains("ORDERS_CREATE") == true, "\(fixed.text)")
            report = try await self.doctorReport(client, business)
            #expect(report.finding("webhook_subscriptions")?.verdict == .ok, "\(report.text)")

            // A delivery for the shop with a bad signature: refused 401, and the doctor points at the secret.
            let body = OrderFactory.webhookBody(OrderFactory.order(lines: []))
            let (forged, _, _) = try await Self.post(
                client,
                body: body,
                headers: Self.headers(body: body, shop: fixture.shop, secret: "not-the-secret")
            )
            #expect(forged == .unauthorized)
            // Written without holding up the answer: it lands a moment later.
            let journaled = try await TestServices.eventually(timeout: .seconds(10)) {
                try await OperatorJournal(redis: redis).webhookRefusals().contains { $0.shop == fixture.shop && $0.code == "invalid_signature" }
            }
            #expect(journaled)
            report = try await self.doctorReport(client, business)
            finding = try #require(report.finding("webhook_deliveries"))
            #expect(finding.verdict == .failing && finding.evidence.contains { $0.contains("refused with invalid_signature") }, "\(report.text)")
            #expect(finding.action?.contains("SHOPIFY_API_SECRET") == true)
            _ = try await redis.send(["DEL", "ecommerce:journal:webhook-refusals"])

            // A FlowPOS variant that was never pushed: a warning naming its SKU.
            try await postgres.query(
                """
                INSERT INTO variants (id, product_id, business_id, title, sku, price)
                SELECT gen_random_uuid(), id, business_id, 'New', 'DOCTOR-NEW-SKU', 10 FROM products WHERE business_id = \(business) LIMIT 1
                """,
                logger: logger
            )
            report = try await doctor.examine(businessId: business, logger: logger)
            finding = try #require(report.finding("mappings"))
            #expect(
                finding.verdict == .warning && finding.evidence == ["2 of 3 variants are in Shopify", "not in Shopify: DOCTOR-NEW-SKU"],
                "\(report.text)"
            )
            try await postgres.query("DELETE FROM variants WHERE sku = 'DOCTOR-NEW-SKU' AND business_id = \(business)", logger: logger)

            // A stock change with no relay running: failing once it waits past the threshold (1 s here).
            let variant = try #require(
                try await postgres.query("SELECT variant_id FROM ecommerce_product_mapping WHERE business_id = \(business) LIMIT 1", logger: logger)
                    .decode(UUID.self).first { _ in true }
            )
            try await postgres.query("UPDATE stock_levels SET quantity = 9 WHERE variant_id = \(variant)", logger: logger)
            report = try await doctor.examine(businessId: business, logger: logger)
            #expect(report.finding("stock_relay")?.verdict == .ok, "a change just made is not late: \(report.text)")
            try await Task.sleep(for: .milliseconds(1500))
            report = try await doctor.examine(businessId: business, logger: logger)
            finding = try #require(report.finding("stock_relay"))
            #expect(finding.verdict == .failing && finding.action?.contains("ecommerce-worker workers") == true, "\(report.text)")
            // The waiting movement is left out of the drift sample (Shopify has not been told yet).
            #expect(report.finding("drift")?.verdict == .ok, "\(report.text)")
            try await postgres.query("UPDATE stock_levels SET quantity = 7 WHERE variant_id = \(variant)", logger: logger)
            try await postgres.query("DELETE FROM ecommerce_inventory_outbox WHERE business_id = \(business)", logger: logger)

            // No poll for a while (an interval of 3 s here): past two intervals a warning, past four failing. The
            // warning's window is 6 s wide, room for a stalled test process.
            let pollDoctor = self.quickDoctor(postgres: postgres, redis: redis, harness: harness, pollInterval: .seconds(3))
            try await ConnectionStore(client: postgres).advanceLastSynced(businessId: business, to: Date(), logger: logger)
            report = try await pollDoctor.examine(businessId: business, logger: logger)
            #expect(report.finding("polling")?.verdict == .ok, "\(report.text)")
            try await Task.sleep(for: .milliseconds(6500))
            report = try await pollDoctor.examine(businessId: business, logger: logger)
            #expect(report.finding("polling")?.verdict == .warning, "\(report.text)")
            try await Task.sleep(for: .milliseconds(6000))
            report = try await pollDoctor.examine(businessId: business, logger: logger)
            #expect(report.finding("polling")?.verdict == .failing, "\(report.text)")
            // And a business the schedule lost.
            _ = try await redis.send(["ZREM", RedisArgument(PollSchedule.key), RedisArgument(business.uuidString.lowercased())])
            report = try await doctor.examine(businessId: business, logger: logger)
            finding = try #require(report.finding("polling"))
            #expect(finding.verdict == .failing && finding.evidence.contains("not in the poll schedule"), "\(report.text)")

            // Shopify revoked the token: failing, and the steps that need Shopify say why they did not run.
            #expect(harness.simulator.revokeAccessTokens(shop: fixture.shop) > 0)
            report = try await self.doctorReport(client, business)
            finding = try #require(report.finding("token"))
            #expect(finding.verdict == .failing && finding.evidence.contains { $0.contains("Shopify refused it") }, "\(report.text)")
            #expect(finding.action?.contains("reconnect the shop") == true)
            #expect(report.finding("webhook_subscriptions")?.verdict == .warning)
            // The command says so to people, and exits 2.
            let printed = try await WorkerProcessTests.command(
                ["doctor", "--business", business.uuidString],
                extra: self.doctorCommandEnvironment(harness),
                expect: .exited(2)
            )
            #expect(printed.contains("[FAILING] Access token") && printed.contains("→ the token was revoked"), "\(printed)")
        }
    }

    /// The worker side for the trace: order ingestion and polls, journaling outcomes as a deployed worker does.
    func orderWorkers(postgres: PostgresClient, redis: RedisClient, harness: SimulatorHarness) -> [JobWorker] {
        let queue = RedisJobQueue(redis: redis)
        let handlers = EcommerceHandlers(postgres: postgres, queue: queue, shopify: harness.client(redis: redis), tokenCipher: CatalogFixture.cipher)
        var configuration = JobWorkerConfiguration(queues: [EcommerceQueue.orders, EcommerceQueue.polling], concurrency: 2)
        configuration.maintenanceInterval = .milliseconds(50)
        let journal = OperatorJournal(redis: redis)
        configuration.onSettled = { journal.recordSettlement($0) }
        return [JobWorker(queue: queue, registry: handlers.registry(), configuration: configuration, logger: TestServices.logger)]
    }

    @Test("an order's trace: delivered twice, an update dropped and caught by a poll, then edited; every step in order, from the API and the command")
    func orderTrace() async throws {
        try await self.withDoctor { client, postgres, redis, harness, fixture in
            let logger = TestServices.logger
            let business = fixture.businessId
            let mapped = try await postgres.query(
                "SELECT variant_id, shopify_variant_id FROM ecommerce_product_mapping WHERE business_id = \(business) ORDER BY variant_id LIMIT 1",
                logger: logger
            ).decode((UUID, Int64).self).reduce(into: [(UUID, Int64)]()) { $0.append($1) }
            let (variant, shopifyVariant) = try #require(mapped.first)
            let placed = try #require(harness.simulator.placeOrder(shop: fixture.shop, lines: [.init(variantId: shopifyVariant, quantity: 2)]))
            let order = try JSONDecoder().decode(ShopifyOrder.self, from: placed)
            let body = String(decoding: placed, as: UTF8.self)
            let headers = Self.headers(body: body, topic: "orders/create", shop: fixture.shop)
            let queue = RedisJobQueue(redis: redis)
            // 1. orders/create, and Shopify's retry of it (both before any worker runs, so the steps' order is fixed).
            for _ in 0..<2 { #expect(try await Self.post(client, body: body, headers: headers).0 == .ok) }
            try await TestServices.whileRunning(self.orderWorkers(postgres: postgres, redis: redis, harness: harness)) {
                let ingested = try await TestServices.eventually(timeout: .seconds(30)) {
                    try await BusinessFixture.stock(of: variant, on: postgres) == 5
                }
                #expect(ingested, "7 − 2")
                // 2. One unit refunded and restocked in Shopify; its orders/updated never arrives; a poll reads it.
                _ = try #require(
                    harness.simulator.changeOrder(
                        shop: fixture.shop,
                        orderId: order.id,
                        .refund(lineItemId: order.lineItems[0].id, quantity: 1, restock: true)
                    )
                )
                try await queue.enqueue(
                    OrderPollJob.self,
                    OrderPollJob.envelope(
                        .init(slot: nil),
                        businessId: business,
                        shop: fixture.shop,
                        dedupeKey: OrderPollJob.requestKey(businessId: business)
                    )
                )
                let polled = try await TestServices.eventually(timeout: .seconds(30)) {
                    try await BusinessFixture.stock(of: variant, on: postgres) == 6
                }
                #expect(polled, "the restocked unit back: 6")
                // 3. orders/edited: a notice, which changes no stock by itself.
                let edit = #"{"order_edit": {"id": 91, "order_id": \#(order.id), "committed_at": "2026-12-04T10:00:00Z"}}"#
                #expect(
                    try await Self.post(client, body: edit, headers: Self.headers(body: edit, topic: "orders/edited", shop: fixture.shop)).0 == .ok
                )
                let noted = try await TestServices.eventually(timeout: .seconds(30)) {
                    try await OrderHistoryStore(client: postgres).events(businessId: business, orderId: order.id, logger: logger).contains {
                        $0.kind == "order_change"
                    }
                }
                #expect(noted)
                // Its job's outcome is journaled just after the notice is recorded.
                _ = try await TestServices.eventually(timeout: .seconds(10)) {
                    try await OperatorJournal(redis: redis).jobOutcomes(businessId: business).count >= 2
                }
            }

            let (status, _, traced) = try await SocketClient(client).execute(
                uri: "/ops/api/businesses/\(business.uuidString.lowercased())/orders/\(order.id)/trace",
                headers: ["Authorization": "Bearer \(TestJWT.merchant(business))"]
            )
            #expect(status == .ok, "\(traced)")
            let trace = try Self.reportDecoder.decode(OrderTrace.self, from: Data(traced.utf8))
            let kinds = trace.steps.map(\.kind)
            #expect(
                kinds == [
                    "delivery", "delivery", "ingestion", "stock_movement", "job", "ingestion", "stock_movement", "delivery", "change_notice", "job",
                ],
                "\(trace.text)"
            )
            let summaries = trace.steps.map(\.summary)
            #expect(summaries[0].hasPrefix("orders/create") && summaries[0].hasSuffix("enqueued"), "\(trace.text)")
            #expect(summaries[1].hasSuffix("a duplicate: no job"))
            #expect(summaries[2].contains("from webhook") && summaries[3].contains("-2 → 5"), "\(trace.text)")
            #expect(summaries[4].contains("orders.ingest") && summaries[4].hasSuffix("succeeded"), "\(trace.text)")
            #expect(summaries[5].contains("from poll (poll:") && summaries[6].contains("+1 → 6"), "\(trace.text)")
            #expect(summaries[7].hasPrefix("orders/edited") && summaries[8].contains("orders/edited noted"), "\(trace.text)")
            #expect(trace.record?.source == "webhook" && trace.lines.map(\.appliedQuantity) == [1], "\(trace.text)")
            #expect(trace.jobs.count == 2 && trace.jobs.allSatisfy { $0.state == "not_held" })

            // The command prints the same steps; another business's token sees nothing of it.
            let printed = try await WorkerProcessTests.command(
                ["trace", "order", "--business", business.uuidString, String(order.id)],
                extra: self.doctorCommandEnvironment(harness)
            )
            #expect(printed.contains("a duplicate: no job") && printed.contains("orders/edited noted"), "\(printed)")
            let (other, _) = try await self.get(
                client,
                "/ops/api/businesses/\(business.uuidString.lowercased())/orders/\(order.id)/trace",
                token: TestJWT.merchant(UUID())
            )
            #expect(other == .forbidden)
            let (malformed, _) = try await self.get(
                client,
                "/ops/api/businesses/\(business.uuidString.lowercased())/orders/-4/trace",
                token: TestJWT.ops()
            )
            #expect(malformed == .badRequest)
        }
    }
}
