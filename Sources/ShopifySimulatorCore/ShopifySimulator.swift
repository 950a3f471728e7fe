import Foundation
import Synchronization

/// An in-memory stand-in for Shopify's Admin API, for development and tests only (nothing in production imports
/// it). It keeps several shops, answers the GraphQL operations the client sends with Shopify's semantics where
/// they matter, and charges every request against a per-shop leaky bucket that answers `THROTTLED` exactly as
/// Shopify does.
///
/// Operations are dispatched on the document's root field and read their inputs from `variables` only (the
/// client never inlines values); unknown fields get Shopify's "doesn't exist" error.
public final class ShopifySimulator: Sendable {
    struct State {
        var settings: SimulatorSettings
        var shops: [String: SimulatedShop] = [:]
        var ids = IdSequence()
        var codes: [String: AuthorizationCode] = [:]
        var refreshTokens: [String: (shop: String, scope: String, accessToken: String)] = [:]
    }

    let state: Mutex<State>
    /// The app's client id and secret: the secret signs webhooks and OAuth redirects.
    public let apiKey: String
    public let apiSecret: String

    public init(settings: SimulatorSettings = SimulatorSettings(), apiKey: String = "simulator-app", apiSecret: String) {
        self.state = Mutex(State(settings: settings))
        self.apiKey = apiKey
        self.apiSecret = apiSecret
    }

    public var settings: SimulatorSettings {
        get { self.state.withLock { $0.settings } }
        set { self.state.withLock { $0.settings = newValue } }
    }

    /// Creates (or resets) a shop with one active location and an access token.
    @discardableResult
    public func createShop(_ domain: String, accessToken: String) -> Int64 {
        self.state.withLock { state in
            let locationId = state.ids.take()
            state.shops[domain] = SimulatedShop(
                domain: domain,
                accessTokens: [accessToken],
                locations: [.init(id: locationId, name: "Shop location", isActive: true)],
                available: state.settings.bucketSize,
                refilledAt: Date()
            )
            return locationId
        }
    }

    public func stats(of domain: String) -> ShopStats? {
        self.state.withLock { $0.shops[domain]?.stats }
    }

    /// A product as the simulator holds it, for assertions.
    public struct ProductSnapshot: Codable, Sendable, Equatable {
        public var id: Int64
        public var title: String
        public var status: String
        public var customId: String?
        public var variants: [VariantSnapshot]
    }

    public struct VariantSnapshot: Codable, Sendable, Equatable {
        public var id: Int64
        public var optionValue: String
        public var sku: String?
        public var price: String
        public var inventoryItemId: Int64
        /// Available quantity per location id (as strings, for JSON).
        public var available: [String: Int]
    }

    public func products(of domain: String) -> [ProductSnapshot] {
        self.state.withLock { state in
            guard let shop = state.shops[domain] else { return [] }
            return shop.products.values.sorted { $0.id < $1.id }.map { product in
                ProductSnapshot(
                    id: product.id,
                    title: product.title,
                    status: product.status,
                    customId: product.customId,
                    variants: product.variants.map { variant in
                        VariantSnapshot(
                            id: variant.id,
                            optionValue: variant.optionValue,
                            sku: variant.sku,
                            price: variant.price,
                            inventoryItemId: variant.inventoryItemId,
                            available: (shop.inventory[variant.inventoryItemId] ?? [:]).reduce(into: [:]) { $0[String($1.key)] = $1.value }
                        )
                    }
                )
            }
        }
    }

    /// An HTTP answer of the simulated API.
    public struct Answer: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var body: Data

        static func json(_ object: Any, status: Int = 200, headers: [String: String] = [:]) -> Answer {
            let body = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
            return Answer(status: status, headers: headers.merging(["Content-Type": "application/json"]) { $1 }, body: body)
        }
    }

    // MARK: GraphQL

    /// `POST /admin/api/{version}/graphql.json` of one shop.
    public func graphQL(shop domain: String, version: String, accessToken: String?, body: Data) -> Answer {
        guard version.range(of: #"^\d{4}-(01|04|07|10)$"#, options: .regularExpression) != nil else {
            return .json(["errors": "Not Found"], status: 404)
        }
        return self.state.withLock { state -> Answer in
            guard var shop = state.shops[domain] else { return .json(["errors": "Not Found"], status: 404) }
            guard let accessToken, shop.accessTokens.contains(accessToken) else {
                return .json(["errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"], status: 401)
            }
            defer { state.shops[domain] = shop }
            shop.stats.requests += 1
            if state.settings.failureRate > 0, Double.random(in: 0..<1) < state.settings.failureRate {
                shop.stats.failuresInjected += 1
                return Bool.random()
                    ? .json(["errors": "Service Unavailable"], status: 503, headers: ["Retry-After": "1"])
                    : .json(["errors": "Internal Server Error"], status: 500)
            }
            guard let request = try? JSONSerialization.jsonObject(with: body) as? [String: Any], let query = request["query"] as? String else {
                return .json(["errors": [["message": "Parse error: the body must be a JSON object with a query"]]], status: 400)
            }
            let variables = request["variables"] as? [String: Any] ?? [:]
            guard let field = Self.rootField(of: query) else {
                return .json(["errors": [["message": "syntax error: no operation in the document"]]])
            }
            let requested = Self.requestedCost(field: field, variables: variables)

            // Shopify refuses a query asking for more than 1,000 points outright, on every plan; no wait would help.
            if requested > 1000 {
                shop.stats.maxCostExceeded += 1
                return .json([
                    "errors": [
                        [
                            "message": "Query cost is \(Int(requested)), which exceeds the single query max cost limit (1000).",
                            "extensions": ["code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": 1000],
                        ]
                    ]
                ])
            }
            // The leaky bucket, refilled to now; a request above what is available is throttled and costs nothing.
            let now = Date()
            let settings = state.settings
            shop.available = min(settings.bucketSize, shop.available + now.timeIntervalSince(shop.refilledAt) * settings.restoreRate)
            shop.refilledAt = now
            if requested > shop.available {
                shop.stats.throttled += 1
                return .json([
                    "errors": [
                        [
                            "message": "Throttled",
                            "extensions": ["code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"],
                        ]
                    ],
                    "extensions": ["cost": Self.cost(requested: requested, actual: nil, shop: shop, settings: settings)],
                ])
            }
            shop.available -= requested

            var result: [String: Any]
            let actual: Double
            switch field {
            case "productSet":
                result = ["productSet": Self.productSet(variables, in: &shop, ids: &state.ids, now: now)]
                actual = requested
            case "inventorySetQuantities":
                // Since 2026-04 the directive is required on inventory mutations.
                guard query.contains("@idempotent"), let key = Self.idempotencyKey(query: query, variables: variables), !key.isEmpty else {
                    shop.available += requested
                    return .json([
                        "errors": [
                            ["message": "The @idempotent directive with a key is required for this mutation", "extensions": ["code": "BAD_REQUEST"]]
                        ]
                    ])
                }
                if let previous = shop.idempotentAnswers[key], let answer = try? JSONSerialization.jsonObject(with: previous) {
                    result = ["inventorySetQuantities": answer]
                } else {
                    let answer = Self.inventorySetQuantities(variables, in: &shop)
                    shop.idempotentAnswers[key] = try? JSONSerialization.data(withJSONObject: answer)
                    result = ["inventorySetQuantities": answer]
                }
                actual = requested
            case "collectionCreate", "collectionUpdate", "collectionAddProducts", "collectionRemoveProducts":
                result = [field: Self.collectionMutation(field, variables, in: &shop, ids: &state.ids)]
                actual = requested
            case "inventoryActivate":
                result = ["inventoryActivate": Self.inventoryActivate(variables, in: &shop)]
                actual = requested
            case "inventoryItem":
                result = ["inventoryItem": Self.inventoryItem(variables, in: shop)]
                actual = requested
            case "webhookSubscriptionCreate":
                result = ["webhookSubscriptionCreate": Self.webhookSubscriptionCreate(variables, in: &shop, ids: &state.ids)]
                actual = requested
            case "webhookSubscriptions":
                result = ["webhookSubscriptions": Self.webhookSubscriptions(in: shop)]
                actual = 2 + Double(shop.subscriptions.count)
            case "orders":
                guard let page = Self.orders(variables, in: shop) else {
                    shop.available += requested
                    return .json(["errors": [["message": "orders: first must be 1…250 and query a valid updated_at filter"]]])
                }
                result = ["orders": page.result]
                actual = min(requested, page.actualCost)
            case "locations":
                let first = variables["first"] as? Int ?? 10
                let nodes = shop.locations.prefix(first).map { ["id": "gid://shopify/Location/\($0.id)", "name": $0.name, "isActive": $0.isActive] }
                result = ["locations": ["nodes": nodes]]
                actual = 2 + Double(nodes.count)
            default:
                shop.available += requested
                return .json(["errors": [["message": "Field '\(field)' doesn't exist on type 'QueryRoot' or 'Mutation'"]]])
            }
            shop.available = min(settings.bucketSize, shop.available + (requested - actual))
            shop.stats.pointsCharged += actual
            shop.stats.firstChargeAt = shop.stats.firstChargeAt ?? now
            shop.stats.lastChargeAt = now
            return .json(["data": result, "extensions": ["cost": Self.cost(requested: requested, actual: actual, shop: shop, settings: settings)]])
        }
    }

    static func cost(requested: Double, actual: Double?, shop: SimulatedShop, settings: SimulatorSettings) -> [String: Any] {
        [
            "requestedQueryCost": requested,
            "actualQueryCost": actual as Any? ?? NSNull(),
            "throttleStatus": [
                "maximumAvailable": settings.bucketSize,
                "currentlyAvailable": (shop.available * 1000).rounded(.down) / 1000,
                "restoreRate": settings.restoreRate,
            ],
        ]
    }

    /// The first field of the operation's selection set: `mutation X($a: T) { productSet(...) {` → `productSet`.
    static func rootField(of query: String) -> String? {
        guard let brace = query.firstIndex(of: "{") else { return nil }
        let rest = query[query.index(after: brace)...].drop { $0.isWhitespace }
        let name = rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" }
        return name.isEmpty ? nil : String(name)
    }

    /// Shopify's model, simplified: a mutation costs 10, a connection 2 plus the objects it may return.
    static func requestedCost(field: String, variables: [String: Any]) -> Double {
        switch field {
        case "locations": 2 + Double(variables["first"] as? Int ?? 10)
        case "inventoryItem": 3
        case "webhookSubscriptions": 2 + Double(variables["first"] as? Int ?? 50)
        case "orders": 2 + Double(variables["first"] as? Int ?? 0) * 101
        default: 10
        }
    }
}
