import Foundation
import JSONBytes
import JobQueue
import Logging
import Shopify
import Testing

@testable import ShopifyAdmin
@testable import ShopifySimulatorCore

/// The simulator refuses what Shopify refuses, answers only what was asked and charges what Shopify's cost rules
/// charge; every document the production code sends is one Shopify accepts.
@Suite("Shopify fidelity: the schema, answers shaped by the selection, computed costs")
struct ShopifyFidelityTests {
    let logger = TestServices.logger

    // MARK: The production documents

    /// Every GraphQL document in the production sources (the simulator's own excepted): Swift string literals
    /// starting with `query` or `mutation`, and `.graphql` files.
    static func productionDocuments() throws -> [(file: String, text: String)] {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Sources").standardized
        let literal = try NSRegularExpression(pattern: ##"#?"""(.*?)"""#?"##, options: [.dotMatchesLineSeparators])
        var documents: [(String, String)] = []
        guard let files = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil) else { return [] }
        for case let url as URL in files where !url.path.contains("ShopifySimulator") {
            if url.pathExtension == "graphql" {
                documents.append((url.lastPathComponent, try String(contentsOf: url, encoding: .utf8)))
            } else if url.pathExtension == "swift" {
                let text = try String(contentsOf: url, encoding: .utf8)
                for match in literal.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                    guard let range = Range(match.range(at: 1), in: text) else { continue }
                    let body = String(text[range])
                    let trimmed = body.drop { $0.isWhitespace }
                    if trimmed.hasPrefix("query") || trimmed.hasPrefix("mutation") { documents.append((url.lastPathComponent, body)) }
                }
            }
        }
        return documents
    }

    /// `mutation ProductSet(…)` → `ProductSet`.
    static func operationName(_ document: String) -> String {
        let words = document.split(whereSeparator: { !$0.isLetter && !$0.isNumber && $0 != "_" })
        return words.count > 1 ? String(words[1]) : "(anonymous)"
    }

    @Test("every document the production code can send is valid against Shopify's schema, and static")
    func productionDocumentsAreValid() throws {
        let documents = try Self.productionDocuments()
        // Products, orders (and their follow-ups), inventory, collections, locations, webhooks, the metafield definition.
        #expect(documents.count >= 16, "found only \(documents.map { Self.operationName($0.text) })")
        for (file, text) in documents {
            let name = Self.operationName(text)
            let errors = AdminSchema.shopify.validationErrors(of: text)
            #expect(errors.isEmpty, "\(file): \(name): \(errors.map(\.message).joined(separator: "; "))")
            #expect(!text.contains("\\("), "\(file): \(name) interpolates a value; variables carry values")
        }
        // The check itself can fail: the documents as they were, asking for `code` on `UserError`.
        let old =
            "mutation CollectionCreate($input: CollectionInput!) { collectionCreate(input: $input) { collection { id } userErrors { field message code } } }"
        #expect(AdminSchema.shopify.validationErrors(of: old).map(\.code) == ["undefinedField"])
    }

    // MARK: Refusals

    /// Sends a raw request to a fresh simulator shop and returns the HTTP status and the decoded body.
    func send(_ simulator: ShopifySimulator, shop: String, query: String, variables: [String: Any] = [:]) throws -> (Int, [String: Any]) {
        let body = try JSONSerialization.data(withJSONObject: ["query": query, "variables": variables])
        let answer = simulator.graphQL(shop: shop, version: "2026-10", accessToken: "t", body: body)
        return (answer.status, try #require(try JSONSerialization.jsonObject(with: answer.body) as? [String: Any]))
    }

    /// The first entry of a refusal: HTTP 200, `errors` with message, locations and `extensions.code`, no `data`.
    func refusal(_ answer: (Int, [String: Any])) throws -> (message: String, code: String, extensions: [String: Any]) {
        #expect(answer.0 == 200)
        #expect(answer.1["data"] == nil, "a refused document gets no data: \(answer.1)")
        let errors = try #require(answer.1["errors"] as? [[String: Any]], "\(answer.1)")
        let first = try #require(errors.first)
        let extensions = try #require(first["extensions"] as? [String: Any])
        #expect((first["locations"] as? [[String: Int]])?.first?["line"] != nil, "\(first)")
        return (try #require(first["message"] as? String), try #require(extensions["code"] as? String), extensions)
    }

    @Test("the simulator refuses whole, as Shopify does: UserError.code, an unknown argument, a variable missing a required input field")
    func refusesWhatShopifyRefuses() throws {
        let simulator = ShopifySimulator(apiSecret: "s")
        let shop = "strict.myshopify.com"
        simulator.createShop(shop, accessToken: "t")

        let code = try self.refusal(
            try self.send(
                simulator,
                shop: shop,
                query:
                    "mutation C($input: CollectionInput!) { collectionCreate(input: $input) { collection { id } userErrors { field message code } } }",
                variables: ["input": ["title": "Teas"]]
            )
        )
        #expect(code.code == "undefinedField" && code.message == "Field 'code' doesn't exist on type 'UserError'")
        #expect(simulator.collections(of: shop).isEmpty, "nothing ran")

        let argument = try self.refusal(try self.send(simulator, shop: shop, query: "query { locations(first: 1, active: true) { nodes { id } } }"))
        #expect(argument.code == "argumentNotAccepted" && argument.message == "Field 'locations' doesn't accept argument 'active'")

        let missing = try self.refusal(
            try self.send(simulator, shop: shop, query: "mutation { productSet { product { id } } }")
        )
        #expect(missing.code == "missingRequiredArguments" && missing.message == "Field 'productSet' is missing required arguments: input")

        // `InventorySetQuantitiesInput.reason` is `String!`: leaving it out refuses the variable, with where.
        let document = """
            mutation S($input: InventorySetQuantitiesInput!, $key: String!) {
              inventorySetQuantities(input: $input) @idempotent(key: $key) { userErrors { code } }
            }
            """
        let quantities: [[String: Any]] = [
            ["inventoryItemId": "gid://shopify/InventoryItem/1", "locationId": "gid://shopify/Location/1", "quantity": 3]
        ]
        let variable = try self.refusal(
            try self.send(simulator, shop: shop, query: document, variables: ["key": "k", "input": ["name": "available", "quantities": quantities]])
        )
        #expect(variable.code == "INVALID_VARIABLE")
        #expect(
            variable.message.hasPrefix("Variable $input of type InventorySetQuantitiesInput! was provided invalid value for reason"),
            "\(variable.message)"
        )
        let problems = try #require(variable.extensions["problems"] as? [[String: Any]])
        #expect(problems.first?["path"] as? [String] == ["reason"] && problems.first?["explanation"] as? String == "Expected value to not be null")

        // An input field the type does not have, and a value of the wrong scalar.
        let unknown = try self.refusal(
            try self.send(
                simulator,
                shop: shop,
                query: document,
                variables: [
                    "key": "k", "input": ["name": "available", "reason": "correction", "quantities": quantities, "ignoreCompareQuantity": true],
                ]
            )
        )
        #expect(
            unknown.code == "INVALID_VARIABLE" && unknown.message.contains("Field is not defined on InventorySetQuantitiesInput"),
            "\(unknown.message)"
        )
        let scalar = try self.refusal(
            try self.send(
                simulator,
                shop: shop,
                query: "query L($first: Int!) { locations(first: $first) { nodes { id } } }",
                variables: ["first": "ten"]
            )
        )
        #expect(scalar.code == "INVALID_VARIABLE" && scalar.message.contains("Could not coerce value \"ten\" to Int"), "\(scalar.message)")
        #expect(simulator.stats(of: shop)?.invalidDocuments == 6)
        // Connections are paged by at most 250 nodes.
        let page = try self.refusal(try self.send(simulator, shop: shop, query: "query { locations(first: 251) { nodes { id } } }"))
        #expect(page.code == "BAD_REQUEST" && page.message.contains("250"), "\(page.message)")
        #expect(simulator.stats(of: shop)?.pointsCharged == 0, "a refused document costs nothing")
    }

    // MARK: Answers

    @Test("an answer holds exactly the selected fields, under their aliases, with __typename")
    func answersAreShapedBySelection() throws {
        let simulator = ShopifySimulator(apiSecret: "s")
        let shop = "shaped.myshopify.com"
        let locationId = simulator.createShop(shop, accessToken: "t")
        let (status, body) = try self.send(
            simulator,
            shop: shop,
            query: "query { shopLocations: locations(first: 5) { nodes { __typename where: id } } }"
        )
        #expect(status == 200)
        let data = try #require(body["data"] as? [String: Any], "\(body)")
        #expect(Array(data.keys) == ["shopLocations"])
        let connection = try #require(data["shopLocations"] as? [String: Any])
        #expect(Array(connection.keys) == ["nodes"], "no pageInfo or edges unless asked")
        let nodes = try #require(connection["nodes"] as? [[String: Any]])
        #expect(nodes.count == 1)
        #expect(Set(nodes[0].keys) == ["__typename", "where"])
        #expect(nodes[0]["__typename"] as? String == "Location" && nodes[0]["where"] as? String == "gid://shopify/Location/\(locationId)")
    }

    @Test("a client decoder that reads a field its document did not select fails, as it would against Shopify")
    func decoderReadingUnselectedFieldFails() async throws {
        struct Locations: Decodable, Sendable {
            var locations: Nodes<Location>
            struct Location: Decodable, Sendable {
                var id: String
                var name: String
            }
        }
        try await SimulatorHarness.run { harness in
            harness.simulator.createShop("decode.myshopify.com", accessToken: "t")
            let credentials = ShopifyCredentials(shop: "decode.myshopify.com", accessToken: "t")
            let selectsIdOnly = GraphQLOperation<Locations>(
                name: "locations",
                query: "query Locations($first: Int!) { locations(first: $first) { nodes { id } } }",
                variables: .object(["first": .int(1)]),
                expectedCost: 3
            )
            await #expect {
                _ = try await harness.client().send(selectsIdOnly, as: credentials, logger: self.logger)
            } throws: { error in
                guard case ShopifyAdminError.invalidResponse(_, let reason) = error else { return false }
                return reason.contains("name")
            }
            // The same decoder with `name` selected reads it.
            var selectsBoth = selectsIdOnly
            selectsBoth.query = "query Locations($first: Int!) { locations(first: $first) { nodes { id name } } }"
            let read = try await harness.client().send(selectsBoth, as: credentials, logger: self.logger)
            #expect(read.locations.nodes.count == 1 && read.locations.nodes[0].name == "Shop location")
        }
    }

    @Test("a payload with plain UserErrors (no code) is read by its message: a subscription that exists already is not a failure")
    func existingSubscriptionIsToldByMessage() async throws {
        try await SimulatorHarness.run { harness in
            harness.simulator.createShop("subscribed.myshopify.com", accessToken: "t")
            let credentials = ShopifyCredentials(shop: "subscribed.myshopify.com", accessToken: "t")
            let client = harness.client()
            let uri = "https://gateway.example/ecommerce/webhooks/shopify"
            let created = try await client.createWebhookSubscription(topic: "ORDERS_CREATE", uri: uri, as: credentials, logger: self.logger)
            #expect(created?.topic == "ORDERS_CREATE")
            #expect(try await client.createWebhookSubscription(topic: "ORDERS_CREATE", uri: uri, as: credentials, logger: self.logger) == nil)
            await #expect(throws: ShopifyAdminError.self) {
                try await client.createWebhookSubscription(topic: "ORDERS_CREATE", uri: "ftp://nowhere", as: credentials, logger: self.logger)
            }
            #expect(try await client.webhookSubscriptions(as: credentials, logger: self.logger).count == 1)
        }
    }

    // MARK: Costs

    /// `extensions.cost` of an answer.
    func cost(_ body: [String: Any]) throws -> (requested: Double, actual: Double?) {
        let cost = try #require((body["extensions"] as? [String: Any])?["cost"] as? [String: Any], "\(body)")
        return (try #require(cost["requestedQueryCost"] as? Double), cost["actualQueryCost"] as? Double)
    }

    /// The poll's variables for a page of `first` orders.
    static func pollVariables(first: Int) -> [String: Any] {
        [
            "first": first, "query": "updated_at:>='2026-01-01T00:00:00Z'", "lines": ShopifyAdminClient.orderLinesPerPage,
            "refunds": ShopifyAdminClient.orderRefundsPerPage, "refundLines": ShopifyAdminClient.refundLinesPerPage,
        ]
    }

    @Test("requestedQueryCost is Shopify's, from the document: the poll's page, a 3-variant productSet; above 1,000 is MAX_COST_EXCEEDED")
    func costsFollowShopifysRules() throws {
        let simulator = ShopifySimulator(apiSecret: "s")
        let shop = "cost.myshopify.com"
        let locationId = simulator.createShop(shop, accessToken: "t")
        #expect(ShopifyAdminClient.maxOrdersPerPage == 16)

        // A page of 16 orders: the orders connection costs 2 plus, per order, the order (1), its line connection
        // (2 + 10 lines × (line 1 + variant 1)) and 3 refunds, each 1 plus its refund line connection
        // (2 + 5 × (refund line 1 + its line item 1)); scalars cost nothing.
        let perOrder = 1 + (2 + 10 * (1 + 1)) + 3 * (1 + (2 + 5 * (1 + 1)))
        let (_, page) = try self.send(simulator, shop: shop, query: ShopifyAdminClient.ordersDocument, variables: Self.pollVariables(first: 16))
        let pageCost = try self.cost(page)
        #expect(pageCost.requested == Double(2 + 16 * perOrder))
        #expect(pageCost.requested == 994)
        #expect(pageCost.actual == 2, "an empty page holds only the connection")
        #expect(ShopifyAdminClient.ordersCost(first: 16) == 994, "the client reserves what Shopify will ask")

        // One more order per page is above the single-query maximum: refused outright, nothing charged.
        let before = simulator.stats(of: shop)?.pointsCharged
        let (_, tooMuch) = try self.send(simulator, shop: shop, query: ShopifyAdminClient.ordersDocument, variables: Self.pollVariables(first: 17))
        let errors = try #require(tooMuch["errors"] as? [[String: Any]])
        #expect((errors.first?["extensions"] as? [String: Any])?["code"] as? String == "MAX_COST_EXCEEDED")
        #expect(errors.first?["message"] as? String == "Query cost is \(2 + 17 * perOrder), which exceeds the single query max cost limit (1000).")
        #expect(simulator.stats(of: shop)?.pointsCharged == before)

        // productSet (since 2025-10): 10 + 0.2 per variant + 0.4 per metafield: 3 variants and the custom-ID metafield.
        let variants: [[String: Any]] = ["S", "M", "L"].map { ["optionValues": [["optionName": "Title", "name": $0]], "price": "5.00"] }
        let input: [String: Any] = [
            "title": "Tee", "productOptions": [["name": "Title", "values": [["name": "S"], ["name": "M"], ["name": "L"]]]], "variants": variants,
            "metafields": [["namespace": "flowpos", "key": "product_id", "type": "id", "value": "p-1"]],
        ]
        let (_, product) = try self.send(
            simulator,
            shop: shop,
            query: ShopifyAdminClient.productSetDocument,
            variables: ["input": input, "identifier": NSNull()]
        )
        #expect(try self.cost(product).requested == Double(100 + 3 * 2 + 1 * 4) / 10, "10 + 3 × 0.2 + 1 × 0.4, in tenths of a point")
        #expect(try self.cost(product).actual == 11, "a mutation is charged what it asked")
        _ = locationId
    }

    @Test(
        "inventory mutations are idempotent as Shopify's: a repeated key changes nothing, a key reused with other variables and a missing key are refused"
    )
    func inventoryIdempotency() async throws {
        try await SimulatorHarness.run { harness in
            let shop = "idempotent.myshopify.com"
            let locationId = try await harness.connectShop(shop, accessToken: "t")
            let credentials = ShopifyCredentials(shop: shop, accessToken: "t")
            let client = harness.client()
            let product = try await client.productSet(
                SampleProduct.input(variants: ["S"]),
                locationId: locationId,
                as: credentials,
                logger: self.logger
            )
            let item = product.variants[0].inventoryItemId
            try await client.activate(inventoryItemId: item, locationId: locationId, as: credentials, logger: self.logger)
            let before = try #require(harness.simulator.available(shop: shop, inventoryItemId: item, locationId: locationId))
            func adjust(_ delta: Int, key: String, reason: String = "correction") async throws -> Bool {
                try await client.adjustAvailable(
                    inventoryItemId: item,
                    locationId: locationId,
                    delta: delta,
                    idempotencyKey: key,
                    reason: reason,
                    reference: "gid://flowpos/Test/1",
                    as: credentials,
                    logger: self.logger
                )
            }
            #expect(try await adjust(-2, key: "movement-1"))
            #expect(try await adjust(-2, key: "movement-1"), "a retry gets the first answer")
            #expect(harness.simulator.available(shop: shop, inventoryItemId: item, locationId: locationId) == before - 2)
            #expect(harness.simulator.stats(of: shop)?.idempotentReplays == 1)
            await #expect(throws: ShopifyAdminError.self) { _ = try await adjust(-3, key: "movement-1") }
            #expect(try await adjust(-3, key: "movement-2"))
            #expect(harness.simulator.available(shop: shop, inventoryItemId: item, locationId: locationId) == before - 5)
            await #expect(throws: ShopifyAdminError.self) { _ = try await adjust(1, key: "movement-3", reason: "because") }

            let withoutKey = """
                mutation A($input: InventoryAdjustQuantitiesInput!) { inventoryAdjustQuantities(input: $input) { userErrors { code } } }
                """
            let change: [String: Any] = [
                "delta": 1, "inventoryItemId": "gid://shopify/InventoryItem/\(item)", "locationId": "gid://shopify/Location/\(locationId)",
            ]
            let refused = try self.refusal(
                try self.send(
                    harness.simulator,
                    shop: shop,
                    query: withoutKey,
                    variables: ["input": ["name": "available", "reason": "correction", "changes": [change]]]
                )
            )
            #expect(refused.code == "BAD_REQUEST")
            let mismatch = try self.refusal(
                try self.send(
                    harness.simulator,
                    shop: shop,
                    query: ShopifyAdminClient.inventoryAdjustQuantitiesDocument,
                    variables: ["idempotencyKey": "movement-2", "input": ["name": "available", "reason": "correction", "changes": [change]]]
                )
            )
            #expect(mismatch.code == "IDEMPOTENCY_KEY_PARAMETER_MISMATCH")
            #expect(harness.simulator.available(shop: shop, inventoryItemId: item, locationId: locationId) == before - 5)
        }
    }

    @Test("every operation the client sends is priced by Shopify's rules, and the client reserves that much")
    func everyOperationsRequestedCost() async throws {
        try await SimulatorHarness.run { harness in
            let shop = "priced.myshopify.com"
            let locationId = try await harness.connectShop(shop, accessToken: "t")
            let credentials = ShopifyCredentials(shop: shop, accessToken: "t")
            let client = harness.client()
            let logger = self.logger
            let product = try await client.productSet(
                SampleProduct.input(variants: ["S", "M", "L"]),
                locationId: locationId,
                as: credentials,
                logger: logger
            )
            _ = try await client.locations(as: credentials, logger: logger)
            let item = product.variants[0].inventoryItemId
            try await client.activate(inventoryItemId: item, locationId: locationId, as: credentials, logger: logger)
            _ = try await client.setAvailable(
                inventoryItemId: item,
                locationId: locationId,
                quantity: 4,
                changeFrom: 5,
                idempotencyKey: UUID().uuidString,
                reference: "gid://flowpos/Test/1",
                as: credentials,
                logger: logger
            )
            _ = try await client.adjustAvailable(
                inventoryItemId: item,
                locationId: locationId,
                delta: -1,
                idempotencyKey: UUID().uuidString,
                reason: "correction",
                reference: "gid://flowpos/Test/2",
                as: credentials,
                logger: logger
            )
            _ = try await client.available(inventoryItemId: item, locationId: locationId, as: credentials, logger: logger)
            let collection = try await client.createCollection(title: "Teas", handle: "teas", as: credentials, logger: logger)
            #expect(try await client.collection(handle: "teas", as: credentials, logger: logger) == collection)
            try await client.updateCollection(id: collection, title: "Green teas", as: credentials, logger: logger)
            try await client.addProducts([product.productId], toCollection: collection, as: credentials, logger: logger)
            try await client.removeProducts([product.productId], fromCollection: collection, as: credentials, logger: logger)
            try await client.createWebhookSubscription(topic: "ORDERS_CREATE", uri: "https://gateway.example/w", as: credentials, logger: logger)
            _ = try await client.webhookSubscriptions(as: credentials, logger: logger)
            // An order that needs every follow-up: 12 lines, 3 refunds, one of them of 6 lines.
            let start = Date()
            let lines = (0..<12).map { ShopifySimulator.OrderLine(variantId: product.variants[$0 % 3].variantId, quantity: 1) }
            let order = try JSONDecoder().decode(
                ShopifyOrder.self,
                from: try #require(harness.simulator.placeOrder(shop: shop, lines: lines, at: start))
            )
            let ids = order.lineItems.map(\.id)
            for (index, refunded) in [Array(ids[0..<6]), [ids[6]], [ids[7]]].enumerated() {
                _ = harness.simulator.changeOrder(
                    shop: shop,
                    orderId: order.id,
                    .refundLines(refunded.map { ($0, 1) }, restock: false),
                    at: start + Double(index)
                )
            }
            let page = try await client.orders(
                updatedSince: start - 1,
                first: ShopifyAdminClient.maxOrdersPerPage,
                after: nil,
                as: credentials,
                logger: logger
            )
            #expect(page.orders.first?.lineItems.count == 12 && page.orders.first?.refunds?.map(\.refundLineItems.count) == [6, 1, 1])

            let costs = try #require(harness.simulator.stats(of: shop)).requestedCosts
            var expected: [String: Double] = [:]
            for mutation in [
                "metafieldDefinitionCreate", "inventoryActivate", "inventorySetQuantities", "inventoryAdjustQuantities", "collectionCreate",
                "collectionUpdate",
                "collectionAddProducts", "collectionRemoveProducts", "webhookSubscriptionCreate",
            ] {
                expected[mutation] = 10
            }
            // 10 + 3 variants × 0.2 + 1 metafield × 0.4.
            expected["productSet"] = 11
            // The connection (2) and 10 locations.
            expected["locations"] = Double(2 + 10)
            // The item, its level, and its quantities (a list of one object).
            expected["inventoryItem"] = Double(1 + 1 + 1)
            expected["webhookSubscriptions"] = Double(2 + 50)
            // One object: the collection's id is a scalar.
            expected["collectionByHandle"] = 1
            let perOrder: Int = 1 + (2 + 10 * 2) + 3 * (1 + (2 + 5 * 2))
            let fullPage: Int = 2 + 16 * perOrder
            expected["orders"] = Double(fullPage)
            // order(id:) serves two follow-ups: the rest of the lines (1 + 2 + 100 × 2) and, last, the refunds
            // (1 + 50 × (1 + 2 + 5 × 2)); refund(id:) the rest of a refund's lines (1 + 2 + 100 × 2).
            let refundsRead: Int = 1 + 50 * (1 + 2 + 5 * 2)
            let linesRead: Int = 1 + 2 + 100 * 2
            expected["order"] = Double(refundsRead)
            expected["refund"] = Double(linesRead)
            #expect(costs == expected)
            #expect(Double(ShopifyAdminClient.productSetCost(variants: 3, metafields: 1)) == costs["productSet"])
            #expect(Double(ShopifyAdminClient.ordersCost(first: ShopifyAdminClient.maxOrdersPerPage)) == costs["orders"])
            #expect(Double(ShopifyAdminClient.followUpCost) == costs["refund"])
        }
    }

    // MARK: Orders read whole

    @Test("an order with 120 lines and a refund of 60 lines comes back whole from a page asking for 10 and 5")
    func ordersAreReadWhole() async throws {
        try await SimulatorHarness.run { harness in
            let shop = "whole.myshopify.com"
            let locationId = try await harness.connectShop(shop, accessToken: "t")
            let credentials = ShopifyCredentials(shop: shop, accessToken: "t")
            let client = harness.client()
            let options = (1...120).map { "V\($0)" }
            let product = try await client.productSet(
                ProductSetInput(
                    flowposProductId: UUID().uuidString.lowercased(),
                    title: "Many",
                    descriptionHtml: nil,
                    active: true,
                    variants: options.map {
                        .init(shopifyVariantId: nil, optionValue: $0, sku: "SKU-\($0)", barcode: nil, price: "1.00", initialQuantity: 50)
                    }
                ),
                locationId: locationId,
                as: credentials,
                logger: self.logger
            )
            let start = Date()
            let placed = try #require(
                harness.simulator.placeOrder(shop: shop, lines: product.variants.map { .init(variantId: $0.variantId, quantity: 2) }, at: start)
            )
            let order = try JSONDecoder().decode(ShopifyOrder.self, from: placed)
            let refunded = order.lineItems.prefix(60).map { (lineItemId: $0.id, quantity: 1) }
            _ = try #require(harness.simulator.changeOrder(shop: shop, orderId: order.id, .refundLines(refunded, restock: true), at: start + 1))
            let before = try #require(harness.simulator.stats(of: shop)).requests

            let page = try await client.orders(
                updatedSince: start - 60,
                first: ShopifyAdminClient.maxOrdersPerPage,
                after: nil,
                as: credentials,
                logger: self.logger
            )
            let read = try #require(page.orders.first)
            #expect(read.lineItems.count == 120)
            #expect(Set(read.lineItems.map(\.id)) == Set(order.lineItems.map(\.id)))
            #expect(read.lineItems.filter { $0.currentQuantity == 1 }.count == 60 && read.lineItems.filter { $0.currentQuantity == 2 }.count == 60)
            #expect(read.refunds?.count == 1 && read.refunds?.first?.refundLineItems.count == 60)
            #expect(Set(read.refunds?.first?.refundLineItems.map(\.lineItemId) ?? []) == Set(refunded.map(\.lineItemId)))
            // The page, then 110 lines in two follow-ups, then 55 refund lines in one.
            #expect(try #require(harness.simulator.stats(of: shop)).requests - before == 4)
        }
    }
}
