import AsyncHTTPClient
import Foundation
import Logging
import RedisClient
import ServiceLifecycle
import ShopifyAdmin
import ShopifySimulatorCore

/// A simulator served in-process on a free port of 127.0.0.1.
struct SimulatorHarness: Sendable {
    let simulator: ShopifySimulator
    let port: Int

    /// `SHOPIFY_ADMIN_BASE_URL` for this simulator.
    var baseURLTemplate: String { "http://127.0.0.1:\(self.port)/shops/{shop}" }

    static func run<Result: Sendable>(
        settings: SimulatorSettings = SimulatorSettings(bucketSize: 1000, restoreRate: 10_000),
        apiSecret: String = "simulator-test-secret",
        _ body: @Sendable (SimulatorHarness) async throws -> Result
    ) async throws -> Result {
        let simulator = ShopifySimulator(settings: settings, apiSecret: apiSecret)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = buildSimulatorApplication(simulator: simulator, host: "127.0.0.1", port: 0, logger: TestServices.logger) { port in
            continuation.yield(port)
        }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.run() }
            defer { group.cancelAll() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw SimulatorHarnessError() }
            return try await body(SimulatorHarness(simulator: simulator, port: port))
        }
    }

    /// A shop as connecting leaves it: created, with the custom-ID metafield definition that `productSet` finds
    /// products by. Returns its location id.
    @discardableResult
    func connectShop(_ domain: String, accessToken: String) async throws -> Int64 {
        let locationId = self.simulator.createShop(domain, accessToken: accessToken)
        try await self.client().ensureCustomIdDefinition(as: ShopifyCredentials(shop: domain, accessToken: accessToken), logger: TestServices.logger)
        return locationId
    }

    /// A client for this simulator, with the shared budget when `redis` is given.
    func client(redis: RedisClient? = nil, maxInlineWait: Duration = .seconds(30)) -> ShopifyAdminClient {
        ShopifyAdminClient(
            configuration: ShopifyAdminConfiguration(
                baseURLTemplate: self.baseURLTemplate,
                requestTimeout: .seconds(10),
                maxInlineWait: maxInlineWait
            ),
            http: HTTPClient.shared,
            budget: redis.map { ShopifyCostBudget(redis: $0) }
        )
    }
}

struct SimulatorHarnessError: Error {}

/// Sample products for the client tests.
enum SampleProduct {
    static func input(title: String = "Sample tee", variants: [String] = ["S", "M"], price: String = "12.50") -> ProductSetInput {
        ProductSetInput(
            flowposProductId: UUID().uuidString.lowercased(),
            title: title,
            descriptionHtml: nil,
            active: true,
            variants: variants.map { option in
                .init(
                    shopifyVariantId: nil,
                    optionValue: option,
                    sku: "SKU-\(option)-\(UUID().uuidString.prefix(6))",
                    barcode: nil,
                    price: price,
                    initialQuantity: 5
                )
            }
        )
    }
}
