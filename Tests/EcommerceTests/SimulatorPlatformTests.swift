import AsyncHTTPClient
import EcommerceJobs
import Foundation
import GatewayApp
import Hummingbird
import HummingbirdTesting
import JobQueue
import NIOCore
import Operations
import PostgresNIO
import Prometheus
import RedisClient
import ShopifyAdmin
import ShopifySimulatorCore
import Storage
import Testing

@Suite("Simulator: OAuth and signed webhooks", .serialized)
struct SimulatorPlatformTests {
    let logger = TestServices.logger

    @Test("the OAuth redirect is signed as Shopify signs it (SHOPIFY.md vectors); codes are single-use; refresh tokens rotate")
    func oauth() async throws {
        // The simulator's query signature reproduces the published vectors.
        #expect(
            ShopifySimulator.querySignature(
                [
                    "code": "0907a61c0c8d55e99db179b68161bc00", "shop": "some-shop.myshopify.com", "state": "0.6784241404160823",
                    "timestamp": "1337178173",
                ],
                secret: "hush"
            ) == "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf"
        )
        #expect(
            ShopifySimulator.querySignature(
                ["code": "somecode", "host": "host", "shop": "some-shop.myshopify.com", "state": "1234", "timestamp": "123456", "hmac": "ignored"],
                secret: "API_SECRET_KEY"
            ) == "d7591e2c6e30a97f3eacf1f824ef316842a1b0f3dde947b5043d5331e42086fd"
        )
        let simulator = ShopifySimulator(settings: SimulatorSettings(expiringTokens: true), apiKey: "app-key", apiSecret: "app-secret")
        simulator.createShop("oauth.myshopify.com", accessToken: "seed")
        let query = [
            "client_id": "app-key", "scope": "write_products,read_orders", "redirect_uri": "https://gateway.example/ecommerce/oauth/callback",
            "state": "nonce-1",
        ]
        #expect(throws: OAuthRefusal.self) {
            try simulator.authorize(shop: "oauth.myshopify.com", query: query.merging(["client_id": "other"]) { $1 }).get()
        }
        let redirect = try #require(URLComponents(string: try simulator.authorize(shop: "oauth.myshopify.com", query: query).get()))
        var parameters: [String: String] = [:]
        for item in redirect.queryItems ?? [] { parameters[item.name] = item.value }
        #expect(parameters["state"] == "nonce-1" && parameters["shop"] == "oauth.myshopify.com")
        #expect(parameters["hmac"] == ShopifySimulator.querySignature(parameters, secret: "app-secret"))
        let code = try #require(parameters["code"])

        let form = ["client_id": "app-key", "client_secret": "app-secret", "code": code]
        #expect(throws: OAuthRefusal.self) {
            try simulator.exchangeToken(shop: "oauth.myshopify.com", form: form.merging(["client_secret": "wrong"]) { $1 }).get()
        }
        #expect(throws: OAuthRefusal.self) { try simulator.exchangeToken(shop: "other.myshopify.com", form: form).get() }
        let granted = try simulator.exchangeToken(shop: "oauth.myshopify.com", form: form).get()
        #expect(granted["scope"] as? String == "write_products,read_orders" && granted["expires_in"] as? Int == 3600)
        #expect(throws: OAuthRefusal.self) { try simulator.exchangeToken(shop: "oauth.myshopify.com", form: form).get() }  // a code is single-use

        let refresh = try #require(granted["refresh_token"] as? String)
        let refreshForm = ["client_id": "app-key", "client_secret": "app-secret", "grant_type": "refresh_token", "refresh_token": refresh]
        let rotated = try simulator.exchangeToken(shop: "oauth.myshopify.com", form: refreshForm).get()
        #expect(rotated["refresh_token"] as? String != refresh)
        #expect(throws: OAuthRefusal.self) { try simulator.exchangeToken(shop: "oauth.myshopify.com", form: refreshForm).get() }
        // The new access token works; the one it replaced does not.
        let body = Data(#"{"query":"query { locations(first: 1) { nodes { id } } }","variables":{"first":1}}"#.utf8)
        #expect(
            simulator.graphQL(shop: "oauth.myshopify.com", version: "2026-10", accessToken: rotated["access_token"] as? String, body: body).status
                == 200
        )
        #expect(
            simulator.graphQL(shop: "oauth.myshopify.com", version: "2026-10", accessToken: granted["access_token"] as? String, body: body).status
                == 401
        )
    }

    @Test("simulator webhooks reach the gateway signed and are enqueued once, duplicates and a second subscription included; a wrong secret gets 401")
    func signedWebhooks() async throws {
        let redis = TestServices.redis(.simulator)
        defer { redis.shutdown() }
        _ = try await redis.send(["FLUSHDB"])
        let configuration = try GatewayTests.configuration(redisURL: TestServices.redisURL(.simulator))
        let postgres = PostgresClient(configuration: configuration.common.database, backgroundLogger: self.logger)
        let app = buildGatewayApplication(
            configuration: configuration,
            redis: redis,
            postgres: postgres,
            metricsRegistry: PrometheusCollectorRegistry(),
            logger: self.logger
        )
        try await app.test(.live) { client in
            try await Migrator(client: postgres).migrate(logger: self.logger)
            let business = try await BusinessFixture.create(on: postgres, stock: [("W", 5, nil)])
            let uri = "http://127.0.0.1:\(client.port!)/ecommerce/webhooks/shopify"
            func deliverOrder(secret: String, duplicateRate: Double, subscriptions: [String]? = nil) async throws -> ShopStats {
                let simulator = ShopifySimulator(settings: SimulatorSettings(webhookDuplicateRate: duplicateRate), apiSecret: secret)
                let locationId = simulator.createShop(business.shop, accessToken: "t")
                _ = locationId
                let uris = subscriptions ?? [uri]
                for uri in uris {
                    let body = Data(
                        #"{"query":"mutation W($topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!) { webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) { webhookSubscription { id } userErrors { message } } }","variables":{"topic":"ORDERS_CREATE","webhookSubscription":{"uri":"\#(uri)","format":"JSON"}}}"#
                            .utf8
                    )
                    #expect(simulator.graphQL(shop: business.shop, version: "2026-10", accessToken: "t", body: body).status == 200)
                }
                let product = Data(
                    #"{"query":"mutation P($input: ProductSetInput!) { productSet(input: $input) { product { id } userErrors { message } } }","variables":{"input":{"title":"T","variants":[{"optionValues":[{"optionName":"Title","name":"A"}],"price":"1.00"}]}}}"#
                        .utf8
                )
                let created =
                    try JSONSerialization.jsonObject(
                        with: simulator.graphQL(shop: business.shop, version: "2026-10", accessToken: "t", body: product).body
                    ) as? [String: Any]
                let variantsQuery = simulator.products(of: business.shop)
                let variant = try #require(variantsQuery.first?.variants.first?.id, "\(String(describing: created))")
                _ = try #require(simulator.placeOrder(shop: business.shop, lines: [.init(variantId: variant, quantity: 1)]))
                _ = await TestServices.eventually(timeout: .seconds(30)) {
                    let stats = simulator.stats(of: business.shop)
                    return (stats?.webhooksDelivered ?? 0) + (stats?.webhooksRefused ?? 0)
                        >= uris.count * (secret == GatewayTests.secret ? Int(1 + duplicateRate) : 3)
                }
                return try #require(simulator.stats(of: business.shop))
            }
            let right = try await deliverOrder(secret: GatewayTests.secret, duplicateRate: 1)
            #expect(right.webhooksDelivered == 2 && right.webhooksDuplicated == 1 && right.webhooksRefused == 0, "\(right)")
            #expect(try await redis.send(["ZCARD", RedisArgument(QueueKeys(queue: EcommerceQueue.orders).ready)]).int == 1)

            let wrong = try await deliverOrder(secret: "not-the-app-secret", duplicateRate: 0)
            #expect(wrong.webhooksDelivered == 0 && wrong.webhooksRefused == 3, "\(wrong)")
            #expect(try await redis.send(["ZCARD", RedisArgument(QueueKeys(queue: EcommerceQueue.orders).ready)]).int == 1)

            // One event, two subscriptions to its topic: two deliveries with their own webhook ids and the same
            // event id, enqueued once.
            let fanned = try await deliverOrder(secret: GatewayTests.secret, duplicateRate: 0, subscriptions: [uri, uri + "?subscription=2"])
            #expect(fanned.webhooksDelivered == 2 && fanned.webhooksDuplicated == 0 && fanned.webhooksRefused == 0, "\(fanned)")
            #expect(try await redis.send(["ZCARD", RedisArgument(QueueKeys(queue: EcommerceQueue.orders).ready)]).int == 2)
        }
    }
}
