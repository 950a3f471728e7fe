import Foundation
import JSONBytes
import JobQueue
import RedisClient
import Shopify
import ShopifyAdmin
import ShopifySimulatorCore
import Testing

@Suite("Shopify Admin client against the simulator")
struct ShopifyClientTests {
    let logger = TestServices.logger

    @Test("productSet creates, then upserts by customId without change; ids come back")
    func productSetUpserts() async throws {
        try await SimulatorHarness.run { harness in
            let locationId = try await harness.connectShop("upsert.myshopify.com", accessToken: "token-1")
            let credentials = ShopifyCredentials(shop: "upsert.myshopify.com", accessToken: "token-1")
            let client = harness.client()
            var input = SampleProduct.input()
            let created = try await client.productSet(input, locationId: locationId, as: credentials, logger: self.logger)
            #expect(created.variants.count == 2)
            #expect(Set(created.variants.map(\.optionValue)) == ["S", "M"])

            input.variants = input.variants.enumerated().map { index, variant in
                var variant = variant
                variant.shopifyVariantId = created.variants[index].variantId
                variant.initialQuantity = nil
                return variant
            }
            let again = try await client.productSet(input, locationId: locationId, as: credentials, logger: self.logger)
            #expect(again == created)
            let stats = try #require(harness.simulator.stats(of: "upsert.myshopify.com"))
            #expect(stats.productsCreated == 1 && stats.productsChanged == 0)
            let product = try #require(harness.simulator.products(of: "upsert.myshopify.com").first)
            #expect(product.variants.allSatisfy { $0.available == [String(locationId): 5] })

            // The variant list is replaced: a variant left out is deleted.
            input.variants.removeLast()
            let trimmed = try await client.productSet(input, locationId: locationId, as: credentials, logger: self.logger)
            #expect(trimmed.variants.count == 1)
            #expect(harness.simulator.products(of: "upsert.myshopify.com").first?.variants.count == 1)
        }
    }

    @Test("userErrors become a non-retryable error with Shopify's messages")
    func userErrorsAreReported() async throws {
        try await SimulatorHarness.run { harness in
            let locationId = try await harness.connectShop("refuse.myshopify.com", accessToken: "token-2")
            let credentials = ShopifyCredentials(shop: "refuse.myshopify.com", accessToken: "token-2")
            let error = await #expect(throws: ShopifyAdminError.self) {
                _ = try await harness.client().productSet(
                    SampleProduct.input(title: " ", price: "-1"),
                    locationId: locationId,
                    as: credentials,
                    logger: self.logger
                )
            }
            guard case .userErrors(let operation, let errors) = error else {
                Issue.record("expected userErrors, got \(String(describing: error))")
                return
            }
            #expect(operation == "productSet")
            #expect(errors.contains { $0.code == "INVALID_PRODUCT" && $0.field == ["input", "title"] })
            #expect(errors.contains { $0.message.contains("Price") })
            #expect(error?.isRetryable == false)
        }
    }

    @Test("a wrong token is 401 unauthorized; an unknown operation is a GraphQL error")
    func unauthorizedAndUnknownOperation() async throws {
        try await SimulatorHarness.run { harness in
            harness.simulator.createShop("auth.myshopify.com", accessToken: "right")
            let client = harness.client()
            await #expect(throws: ShopifyAdminError.self) {
                _ = try await client.locations(as: ShopifyCredentials(shop: "auth.myshopify.com", accessToken: "wrong"), logger: self.logger)
            }
            let locations = try await client.locations(as: ShopifyCredentials(shop: "auth.myshopify.com", accessToken: "right"), logger: self.logger)
            #expect(locations.count == 1 && locations[0].isActive)
            let bogus = GraphQLOperation<[String: Int]>(name: "bogus", query: "query { nope { id } }", variables: .object([:]), expectedCost: 1)
            do {
                _ = try await client.send(bogus, as: ShopifyCredentials(shop: "auth.myshopify.com", accessToken: "right"), logger: self.logger)
                Issue.record("an unknown field was accepted")
            } catch let error as ShopifyAdminError {
                guard case .graphQL(_, let messages) = error else { throw error }
                #expect(messages.first?.contains("doesn't exist") == true)
            }
        }
    }

    @Test("THROTTLED answers are waited out: every call succeeds; the shared budget keeps ten clients mostly unthrottled")
    func throttlingIsHonoured() async throws {
        let redis = TestServices.redis()
        defer { redis.shutdown() }
        // A bucket about half of one round of the ten clients' calls, slow to refill (60 points, 20/s): 20 productSets of
        // about 11 points need about 8 s, and clients that do not share a budget collide however slowly they run (with
        // 100 points at 100/s, clients slowed down beside a build stayed under the rate and hardly collided). With the
        // shared budget, about half of the first round is throttled (the budget learns the bucket from the answers).
        try await SimulatorHarness.run(settings: SimulatorSettings(bucketSize: 60, restoreRate: 20)) { harness in
            func push(shop: String, budget: RedisClient?) async throws -> ShopStats {
                let locationId = try await harness.connectShop(shop, accessToken: "t")
                _ = try await redis.send(["DEL", RedisArgument(ShopifyCostBudget.key(shop: shop))])
                let credentials = ShopifyCredentials(shop: shop, accessToken: "t")
                // Ten workers, each with its own client, sharing (or not) the Redis budget.
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<10 {
                        let client = harness.client(redis: budget)
                        group.addTask {
                            for _ in 0..<2 {
                                _ = try await client.productSet(SampleProduct.input(), locationId: locationId, as: credentials, logger: self.logger)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                return try #require(harness.simulator.stats(of: shop))
            }
            let alone = try await push(shop: "alone.myshopify.com", budget: nil)
            let shared = try await push(shop: "shared.myshopify.com", budget: redis)
            #expect(alone.productsCreated == 20 && shared.productsCreated == 20)
            #expect(alone.throttled > 10, "without a shared budget the ten clients should collide: \(alone)")
            // With the budget, only the first burst (before the first answer tells the real bucket) can be throttled.
            #expect(shared.throttled <= 10, "\(shared)")
            #expect(shared.throttled < alone.throttled)
        }
    }

    @Test("5xx answers are errors worth retrying; 503 waits for Retry-After, then hands the job back")
    func serverErrors() async throws {
        try await SimulatorHarness.run(settings: SimulatorSettings(bucketSize: 1000, restoreRate: 1000, failureRate: 1)) { harness in
            harness.simulator.createShop("down.myshopify.com", accessToken: "t")
            let client = harness.client(maxInlineWait: .milliseconds(500))
            for _ in 0..<6 {
                do {
                    _ = try await client.locations(as: ShopifyCredentials(shop: "down.myshopify.com", accessToken: "t"), logger: self.logger)
                    Issue.record("a failing Admin API answered")
                } catch let error as ShopifyAdminError {
                    guard case .http(500, _) = error else { throw error }
                    #expect(error.isRetryable)
                } catch is ShopifyThrottled {
                    // 503 with Retry-After: 1 exceeds the 0.5 s inline wait (a worker maps it to JobRetryLater).
                }
            }
        }
    }

    @Test("inventorySetQuantities: compare-and-set refuses a stale quantity; an idempotency key applies once")
    func inventoryCompareAndSet() async throws {
        try await SimulatorHarness.run { harness in
            let locationId = try await harness.connectShop("stock.myshopify.com", accessToken: "t")
            let credentials = ShopifyCredentials(shop: "stock.myshopify.com", accessToken: "t")
            let client = harness.client()
            let product = try await client.productSet(
                SampleProduct.input(variants: ["One"]),
                locationId: locationId,
                as: credentials,
                logger: self.logger
            )
            let item = product.variants[0].inventoryItemId
            #expect(try await client.available(inventoryItemId: item, locationId: locationId, as: credentials, logger: self.logger) == 5)

            func set(_ quantity: Int, from: Int, key: String) async throws -> InventorySetOutcome {
                try await client.setAvailable(
                    inventoryItemId: item,
                    locationId: locationId,
                    quantity: quantity,
                    changeFrom: from,
                    idempotencyKey: key,
                    reference: "flowpos://test",
                    as: credentials,
                    logger: self.logger
                )
            }
            #expect(try await set(9, from: 4, key: "k1") == .stale)
            #expect(try await set(9, from: 5, key: "k2") == .applied)
            #expect(try await client.available(inventoryItemId: item, locationId: locationId, as: credentials, logger: self.logger) == 9)
            // A retried call with the same key answers as before and changes nothing, even though 5 is stale now.
            #expect(try await set(9, from: 5, key: "k2") == .applied)
            #expect(harness.simulator.stats(of: "stock.myshopify.com")?.inventoryWrites == 1)
        }
    }

    @Test("orders updated since a time come in pages, oldest change first, with their lines")
    func ordersPaginate() async throws {
        try await SimulatorHarness.run { harness in
            let locationId = try await harness.connectShop("orders.myshopify.com", accessToken: "t")
            let credentials = ShopifyCredentials(shop: "orders.myshopify.com", accessToken: "t")
            let client = harness.client()
            let product = try await client.productSet(
                SampleProduct.input(variants: ["One"]),
                locationId: locationId,
                as: credentials,
                logger: self.logger
            )
            let variant = product.variants[0].variantId
            let start = Date(timeIntervalSince1970: 1_790_000_000)
            for minute in 0..<5 {
                _ = try #require(
                    harness.simulator.placeOrder(
                        shop: "orders.myshopify.com",
                        lines: [.init(variantId: variant, quantity: minute + 1)],
                        at: start + Double(minute * 60)
                    )
                )
            }
            var seen: [ShopifyOrder] = []
            var cursor: String? = nil
            var pages = 0
            repeat {
                let page = try await client.orders(updatedSince: start + 60, first: 2, after: cursor, as: credentials, logger: self.logger)
                seen += page.orders
                cursor = page.nextCursor
                pages += 1
            } while cursor != nil && pages < 10
            #expect(pages == 2)
            #expect(seen.map { $0.lineItems[0].quantity } == [2, 3, 4, 5])
            #expect(seen.allSatisfy { $0.lineItems[0].variantId == variant && $0.updatedAtDate != nil })
        }
    }

    @Test("a page asking for more than 1,000 points is refused outright (MAX_COST_EXCEEDED), not waited for")
    func ordersAboveTheSingleQueryMaximum() async throws {
        try await SimulatorHarness.run { harness in
            _ = harness.simulator.createShop("costly.myshopify.com", accessToken: "t")
            let credentials = ShopifyCredentials(shop: "costly.myshopify.com", accessToken: "t")
            let started = ContinuousClock.now
            await #expect {
                _ = try await harness.client().orders(
                    updatedSince: Date(timeIntervalSince1970: 0),
                    first: ShopifyAdminClient.maxOrdersPerPage + 1,
                    after: nil,
                    as: credentials,
                    logger: self.logger
                )
            } throws: { error in
                guard case ShopifyAdminError.graphQL(_, let messages) = error else { return false }
                return messages.contains { $0.contains("exceeds") } && !(error as! ShopifyAdminError).isRetryable
            }
            #expect(started.duration(to: .now) < .seconds(5))
            #expect(harness.simulator.stats(of: "costly.myshopify.com")?.maxCostExceeded == 1)
            let page = try await harness.client().orders(
                updatedSince: Date(timeIntervalSince1970: 0),
                first: ShopifyAdminClient.maxOrdersPerPage,
                after: nil,
                as: credentials,
                logger: self.logger
            )
            #expect(page.orders.isEmpty)
        }
    }

    @Test("simulated orders change as Shopify's do: refunds and cancellations restock, edits lower quantities; activation stocks an item")
    func simulatedOrderLifecycle() async throws {
        try await SimulatorHarness.run { harness in
            let shop = "lifecycle.myshopify.com"
            let locationId = try await harness.connectShop(shop, accessToken: "t")
            let credentials = ShopifyCredentials(shop: shop, accessToken: "t")
            let client = harness.client()
            let product = try await client.productSet(
                SampleProduct.input(variants: ["One"]),
                locationId: locationId,
                as: credentials,
                logger: self.logger
            )
            let (variant, item) = (product.variants[0].variantId, product.variants[0].inventoryItemId)
            let stock = { harness.simulator.available(shop: shop, inventoryItemId: item, locationId: locationId) }
            try await client.activate(inventoryItemId: item, locationId: locationId, as: credentials, logger: self.logger)
            #expect(stock() == 5)  // activating an active item changes nothing

            let placed = try JSONDecoder().decode(
                ShopifyOrder.self,
                from: try #require(harness.simulator.placeOrder(shop: shop, lines: [.init(variantId: variant, quantity: 4)]))
            )
            #expect(stock() == 1)
            let line = placed.lineItems[0].id
            let refunded = try JSONDecoder().decode(
                ShopifyOrder.self,
                from: try #require(
                    harness.simulator.changeOrder(shop: shop, orderId: placed.id, .refund(lineItemId: line, quantity: 1, restock: true))
                )
            )
            #expect(stock() == 2 && refunded.consumedQuantity(of: refunded.lineItems[0]) == 3)
            let edited = try JSONDecoder().decode(
                ShopifyOrder.self,
                from: try #require(harness.simulator.changeOrder(shop: shop, orderId: placed.id, .lowerQuantity(lineItemId: line, to: 1)))
            )
            #expect(stock() == 4 && edited.consumedQuantity(of: edited.lineItems[0]) == 1)
            let cancelled = try JSONDecoder().decode(
                ShopifyOrder.self,
                from: try #require(harness.simulator.changeOrder(shop: shop, orderId: placed.id, .cancel))
            )
            #expect(stock() == 5 && cancelled.cancelledAt != nil && cancelled.consumedQuantity(of: cancelled.lineItems[0]) == 0)
            // The orders query sees the latest state.
            let page = try await client.orders(
                updatedSince: Date(timeIntervalSince1970: 0),
                first: 5,
                after: nil,
                as: credentials,
                logger: self.logger
            )
            #expect(page.orders.count == 1 && page.orders[0].cancelledAt != nil && page.orders[0].refunds?.count == 1)
        }
    }
}
