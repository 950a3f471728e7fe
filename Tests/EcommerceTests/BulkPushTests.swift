import AsyncHTTPClient
import EcommerceJobs
import Foundation
import GatewayApp
import HummingbirdTesting
import JobQueue
import NIOHTTP1
import Operations
import PostgresNIO
import Prometheus
import RedisClient
import Shopify
import ShopifyAdmin
import ShopifySimulatorCore
import Storage
import Testing

@testable import WorkerApp

@Suite("Bulk product pushes and the variant ceiling against the simulator", .serialized)
struct BulkPushTests {
    let logger = TestServices.logger

    func bulkRow(_ runId: UUID, _ postgres: PostgresClient) async throws -> BulkPush? {
        try await BulkPushStore(client: postgres).push(runId: runId, logger: self.logger)
    }

    /// The push's worker-side parts, as a job builds them, for driving a push to a crash by hand.
    func bulkPush(_ postgres: PostgresClient, redis: RedisClient, harness: SimulatorHarness) -> BulkProductPush {
        BulkProductPush(
            catalog: ProductPushStore(client: postgres),
            pushes: BulkPushStore(client: postgres),
            syncLogs: SyncLogStore(client: postgres),
            accounts: ShopifyAccounts(
                connections: ConnectionStore(client: postgres),
                cipher: CatalogFixture.cipher,
                client: harness.client(redis: redis),
                oauth: nil,
                redis: redis
            ),
            settings: BulkPushSettings(threshold: 1)
        )
    }

    @Test("1,000 products × 3 variants push as one bulk operation, finished by the webhook: exact counters and mappings; again, nothing changes")
    func bulkPushOfAThousand() async throws {
        let redis = TestServices.redis(.bulkPush)
        defer { redis.shutdown() }
        _ = try await redis.send(["FLUSHDB"])
        let configuration = try GatewayTests.configuration(redisURL: TestServices.redisURL(.bulkPush))
        let gatewayPostgres = PostgresClient(configuration: configuration.common.database, backgroundLogger: self.logger)
        let gateway = buildGatewayApplication(
            configuration: configuration,
            redis: redis,
            postgres: gatewayPostgres,
            metricsRegistry: PrometheusCollectorRegistry(),
            logger: self.logger
        )
        try await gateway.test(.live) { client in
            try await TestServices.withPostgres { postgres in
                try await SimulatorHarness.run(
                    settings: SimulatorSettings(bucketSize: 1000, restoreRate: 10_000, bulkRowsPerSecond: 2000),
                    apiSecret: GatewayTests.secret
                ) { harness in
                    let fixture = try await CatalogFixture.create(on: postgres, simulator: harness.simulator, products: 1000, variants: 3)
                    let credentials = ShopifyCredentials(shop: fixture.shop, accessToken: fixture.accessToken)
                    // The shop's bulk_operations/finish subscription points at the live gateway, as connecting makes it.
                    let callback = "http://127.0.0.1:\(client.port!)/ecommerce/webhooks/shopify"
                    try await harness.client().createWebhookSubscription(
                        topic: ShopifyAdminClient.subscriptionTopic(WebhookTopic.bulkOperationsFinish.rawValue),
                        uri: callback,
                        as: credentials,
                        logger: self.logger
                    )
                    // Looking only every 10 minutes: the push finishes this fast only through the webhook.
                    let slowLook = BulkPushSettings(threshold: 100, pollInterval: .seconds(600))
                    let push = ProductPushTests()
                    let first = try await push.push(fixture, postgres: postgres, redis: redis, harness: harness, pageSize: 100, bulkPush: slowLook)
                    #expect(first.status == "completed", "\(first.errors)")
                    #expect(first.total == 1000 && first.processed == 1000 && first.failed == 0 && first.pagesTotal == 10 && first.pagesDone == 10)
                    #expect(try await push.mappingCount(fixture, postgres) == 3000)
                    let products = harness.simulator.products(of: fixture.shop)
                    #expect(products.count == 1000)
                    #expect(products.allSatisfy { $0.variants.count == 3 && $0.customId != nil })
                    #expect(products.allSatisfy { $0.variants.allSatisfy { $0.available == [String(fixture.locationId): 7] } })
                    let stats = try #require(harness.simulator.stats(of: fixture.shop))
                    #expect(stats.bulkOperationsStarted == 1 && stats.productsCreated == 1000)
                    #expect(stats.requestedCosts["productSet"] == nil, "no product went through a single productSet call")
                    #expect(stats.webhooksDelivered >= 1)
                    let row = try #require(try await self.bulkRow(first.id, postgres))
                    #expect(row.stage == .finished && row.status == "COMPLETED" && row.lines == 1000)

                    let second = try await push.push(fixture, postgres: postgres, redis: redis, harness: harness, pageSize: 100, bulkPush: slowLook)
                    #expect(second.status == "completed" && second.processed == 1000)
                    let again = try #require(harness.simulator.stats(of: fixture.shop))
                    #expect(again.bulkOperationsStarted == 2 && again.productsCreated == 1000 && again.productsChanged == 0, "\(again)")
                    #expect(harness.simulator.products(of: fixture.shop) == products)
                    #expect(try await RedisJobQueue(redis: redis).stats(queue: EcommerceQueue.products).dead == 0)
                }
            }
        }
    }

    @Test("a worker that crashed after the upload, or after Shopify started the operation, resumes without a second operation")
    func crashResumes() async throws {
        let redis = TestServices.redis(.bulkPush)
        defer { redis.shutdown() }
        _ = try await redis.send(["FLUSHDB"])
        try await TestServices.withPostgres { postgres in
            try await SimulatorHarness.run(settings: SimulatorSettings(bucketSize: 1000, restoreRate: 10_000, bulkRowsPerSecond: 2000)) { harness in
                // No webhook subscription: the push looks at its operation every 200 ms.
                let quickLook = BulkPushSettings(threshold: 10, pollInterval: .milliseconds(200))
                let bulk = self.bulkPush(postgres, redis: redis, harness: harness)
                for crash in ["after the upload", "after the start"] {
                    let fixture = try await CatalogFixture.create(on: postgres, simulator: harness.simulator, products: 120, variants: 2)
                    try await harness.client().ensureCustomIdDefinition(
                        as: ShopifyCredentials(shop: fixture.shop, accessToken: fixture.accessToken),
                        logger: self.logger
                    )
                    let run = try await ProductPushTests().push(
                        fixture,
                        postgres: postgres,
                        redis: redis,
                        harness: harness,
                        pageSize: 50,
                        bulkPush: quickLook
                    ) { runId in
                        // The crashed worker's work, up to the crash.
                        let account = try await bulk.accounts.account(businessId: fixture.businessId, logger: self.logger)
                        let uploaded = try #require(
                            try await bulk.upload(runId: runId, businessId: fixture.businessId, pageSize: 50, account: account, logger: self.logger)
                        )
                        #expect(uploaded.stage == .uploaded && uploaded.lines == 120)
                        if crash == "after the start" {
                            // Shopify started it; the worker died before recording the operation.
                            #expect(try await bulk.pushes.beginStart(runId: runId, logger: self.logger))
                            let started = try await account.client.runBulkMutation(
                                ShopifyAdminClient.bulkProductSetDocument(marker: BulkProductPush.marker(runId)),
                                stagedUploadPath: uploaded.stagedUploadPath,
                                clientIdentifier: "flowpos-push-\(runId)",
                                as: account.credentials,
                                logger: self.logger
                            )
                            #expect(started.isRunning)
                            #expect(try await self.bulkRow(runId, postgres)?.stage == .starting)
                        }
                    }
                    #expect(run.status == "completed" && run.processed == 120 && run.failed == 0, "\(crash): \(run.errors)")
                    let stats = try #require(harness.simulator.stats(of: fixture.shop))
                    #expect(stats.bulkOperationsStarted == 1, "\(crash): one operation, not a second")
                    #expect(stats.productsCreated == 120)
                    #expect(try await ProductPushTests().mappingCount(fixture, postgres) == 240)
                    #expect(try await self.bulkRow(run.id, postgres)?.stage == .finished)
                }
            }
        }
    }

    @Test("a bulk operation that fails at Shopify ends the run partial: what it ran is mapped, the rest failed with Shopify's error code")
    func failedOperation() async throws {
        let redis = TestServices.redis(.bulkPush)
        defer { redis.shutdown() }
        _ = try await redis.send(["FLUSHDB"])
        try await TestServices.withPostgres { postgres in
            try await SimulatorHarness.run(settings: SimulatorSettings(bucketSize: 1000, restoreRate: 10_000, bulkRowsPerSecond: 2000)) { harness in
                let fixture = try await CatalogFixture.create(on: postgres, simulator: harness.simulator, products: 100, variants: 1)
                harness.simulator.failNextBulkOperation(shop: fixture.shop, .init(errorCode: "INTERNAL_SERVER_ERROR", afterLines: 40))
                let run = try await ProductPushTests().push(
                    fixture,
                    postgres: postgres,
                    redis: redis,
                    harness: harness,
                    pageSize: 25,
                    bulkPush: BulkPushSettings(threshold: 10, pollInterval: .milliseconds(200))
                )
                #expect(run.status == "partial" && run.processed == 40 && run.failed == 60 && run.pagesDone == 4, "\(run)")
                #expect(run.errors.first?.code == "bulk_operation_failed")
                #expect(run.errors.first?.message.contains("INTERNAL_SERVER_ERROR") == true, "\(run.errors)")
                #expect(try await ProductPushTests().mappingCount(fixture, postgres) == 40)
                let row = try #require(try await self.bulkRow(run.id, postgres))
                #expect(row.status == "FAILED" && row.errorCode == "INTERNAL_SERVER_ERROR")
                #expect(harness.simulator.stats(of: fixture.shop)?.bulkOperationsStarted == 1)
            }
        }
    }

    @Test("at the variant ceiling, products with new variants fail as variant_ceiling without retrying; updates still go through")
    func variantCeiling() async throws {
        let redis = TestServices.redis(.bulkPush)
        defer { redis.shutdown() }
        _ = try await redis.send(["FLUSHDB"])
        try await TestServices.withPostgres { postgres in
            // A store at the ceiling from 10 variants on, allowed 6 new variants a day.
            let settings = SimulatorSettings(bucketSize: 1000, restoreRate: 10_000, variantCeilingThreshold: 10, dailyVariantCreations: 6)
            try await SimulatorHarness.run(settings: settings) { harness in
                let fixture = try await CatalogFixture.create(on: postgres, simulator: harness.simulator, products: 10, variants: 2)
                let push = ProductPushTests()
                let first = try await push.push(fixture, postgres: postgres, redis: redis, harness: harness, pageSize: 5)
                // Five products make 10 variants; every later creation is past the day's six.
                #expect(first.status == "partial" && first.processed == 5 && first.failed == 5, "\(first)")
                #expect(first.errors.count == 5 && first.errors.allSatisfy { $0.code == "variant_ceiling" }, "\(first.errors)")
                #expect(first.errors.first?.message.contains("variant ceiling") == true)
                let stats = try #require(harness.simulator.stats(of: fixture.shop))
                #expect(stats.variantCeilingRefusals == 5, "each refused once: not retried")
                #expect(try await RedisJobQueue(redis: redis).stats(queue: EcommerceQueue.products).dead == 0)

                // Again: the five pushed are updates (no new variant) and pass; the others are refused again.
                let second = try await push.push(fixture, postgres: postgres, redis: redis, harness: harness, pageSize: 5)
                #expect(second.processed == 5 && second.failed == 5 && second.errors.allSatisfy { $0.code == "variant_ceiling" })
                #expect(harness.simulator.products(of: fixture.shop).count == 5)
            }
        }
    }
}

@Suite("The simulator's bulk operations")
struct SimulatorBulkTests {
    let logger = TestServices.logger

    @Test("staged file, result lines shaped to the selection, five at once per shop, refusals for a bad file or mutation")
    func bulkOperationRules() async throws {
        try await SimulatorHarness.run(settings: SimulatorSettings(bulkRowsPerSecond: 0.001)) { harness in
            let shop = "bulk-\(UUID().uuidString.prefix(8).lowercased()).myshopify.com"
            let locationId = try await harness.connectShop(shop, accessToken: "t")
            let credentials = ShopifyCredentials(shop: shop, accessToken: "t")
            let client = harness.client()
            let line = Array(
                (String(
                    decoding: try JSONEncoder().encode(ShopifyAdminClient.productSetVariables(SampleProduct.input(), locationId: locationId)),
                    as: UTF8.self
                ) + "\n").utf8
            )
            let document = ShopifyAdminClient.bulkProductSetDocument(marker: "m")
            // Not JSONL: refused before anything runs.
            let broken = try await client.stageBulkVariables(Array("not json\n".utf8), filename: "b.jsonl", as: credentials, logger: self.logger)
            await #expect {
                try await client.runBulkMutation(
                    document,
                    stagedUploadPath: broken,
                    clientIdentifier: "flowpos-test",
                    as: credentials,
                    logger: self.logger
                )
            } throws: { error in
                guard case ShopifyAdminError.userErrors(_, let errors) = error else { return false }
                return errors.first?.code == "INVALID_STAGED_UPLOAD_FILE"
            }
            // A mutation Shopify's schema refuses.
            let staged = try await client.stageBulkVariables(line, filename: "a.jsonl", as: credentials, logger: self.logger)
            await #expect {
                try await client.runBulkMutation(
                    "mutation { productSet(input: {title: 1}) { nope } }",
                    stagedUploadPath: staged,
                    clientIdentifier: "flowpos-test",
                    as: credentials,
                    logger: self.logger
                )
            } throws: { error in
                guard case ShopifyAdminError.userErrors(_, let errors) = error else { return false }
                return errors.first?.code == "INVALID_MUTATION"
            }
            // Five run at once (a line in 1,000 s keeps them running however slow this machine is); a sixth waits its turn.
            var started: [BulkOperationState] = []
            for index in 0..<5 {
                let path = try await client.stageBulkVariables(line + line, filename: "\(index).jsonl", as: credentials, logger: self.logger)
                started.append(
                    try await client.runBulkMutation(
                        document,
                        stagedUploadPath: path,
                        clientIdentifier: "flowpos-test",
                        as: credentials,
                        logger: self.logger
                    )
                )
            }
            let sixth = try await client.stageBulkVariables(line, filename: "6.jsonl", as: credentials, logger: self.logger)
            await #expect {
                try await client.runBulkMutation(
                    document,
                    stagedUploadPath: sixth,
                    clientIdentifier: "flowpos-test",
                    as: credentials,
                    logger: self.logger
                )
            } throws: { error in
                guard case ShopifyAdminError.userErrors(_, let errors) = error else { return false }
                return errors.first?.code == "OPERATION_IN_PROGRESS"
            }
            // The latest is the shop's current one; each finishes with a result line per input line.
            #expect(try await client.currentBulkMutation(as: credentials, logger: self.logger)?.id == started.last?.id)
            harness.simulator.settings.bulkRowsPerSecond = 10_000
            let finished = try await TestServices.eventually(timeout: .seconds(30)) {
                for operation in started {
                    guard try await client.bulkOperation(id: operation.id, as: credentials, logger: self.logger)?.status == "COMPLETED" else {
                        return false
                    }
                }
                return true
            }
            #expect(finished)
            let done = try #require(try await client.bulkOperation(id: started[0].id, as: credentials, logger: self.logger))
            #expect(done.objectCount == 2 && done.query?.contains("FlowPOSPush_m") == true)
            var outcomes: [BulkProductSetOutcome] = []
            try await client.readBulkProductSetResults(url: try #require(done.url), logger: self.logger) { outcomes.append($0) }
            #expect(outcomes.map(\.line).sorted() == [0, 1])
            let created = try outcomes[0].result.get()
            #expect(created.variants.count == 2 && created.variants.allSatisfy { $0.optionValue != nil })
            // The second line is the same product: the same ids.
            #expect(try outcomes[1].result.get().productId == created.productId)
            #expect(try await client.bulkOperation(id: "gid://shopify/BulkOperation/1", as: credentials, logger: self.logger) == nil)
        }
    }

    @Test("a staged upload without its key, or that is not a multipart form, is refused; one over 100 MB answers 413")
    func stagedUploadRefusals() async throws {
        try await SimulatorHarness.run { harness async throws in
            let url = "http://127.0.0.1:\(harness.port)/_staged-uploads"
            func post(_ body: [UInt8], contentType: String) async throws -> UInt {
                var request = HTTPClientRequest(url: url)
                request.method = .POST
                request.headers.add(name: "Content-Type", value: contentType)
                request.body = .bytes(body)
                return try await HTTPClient.shared.execute(request, timeout: .seconds(30)).status.code
            }
            let form =
                "--b\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\ntmp/unknown\r\n--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nx\r\n--b--\r\n"
            #expect(try await post(Array(form.utf8), contentType: "multipart/form-data; boundary=b") == 400, "a key no target was made for")
            #expect(try await post(Array("x".utf8), contentType: "text/plain") == 400)
            #expect(try await post(Array("--b\r\nbroken".utf8), contentType: "multipart/form-data; boundary=b") == 400)
            let huge = [UInt8](repeating: UInt8(ascii: "a"), count: ShopifySimulator.stagedUploadLimit + (128 << 10))
            #expect(try await post(huge, contentType: "multipart/form-data; boundary=b") == 413)
        }
    }
}
