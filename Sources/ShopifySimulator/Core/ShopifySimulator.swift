import Foundation
import GraphQL
import Synchronization

/// An in-memory stand-in for Shopify's Admin API, for development and tests only (nothing in production imports
/// it). It keeps several shops, answers the GraphQL operations the client sends with Shopify's semantics where
/// they matter, and charges every request against a per-shop leaky bucket that answers `THROTTLED` exactly as
/// Shopify does.
///
/// Every document is validated against Shopify's Admin schema (``AdminSchema``) and its variables against their
/// types; operations are dispatched on the root field, with its arguments resolved from literals or variables, and
/// their answers shaped to exactly the selection.
public final class ShopifySimulator: Sendable {
    struct State {
        var settings: SimulatorSettings
        var shops: [String: SimulatedShop] = [:]
        var ids = IdSequence()
        var codes: [String: AuthorizationCode] = [:]
        var refreshTokens: [String: (shop: String, scope: String, accessToken: String)] = [:]
        /// Root fields whose next answers are lost after the work is done (see ``loseAnswers(to:count:)``).
        var answersToLose: [String: Int] = [:]
        /// `http://host:port` the simulator is reached at: staged upload targets and result files are served there.
        var origin = "http://127.0.0.1:8081"
        /// Staged uploads by key (their `stagedUploadPath`), and finished bulk operations' result files by id.
        var stagedFiles: [String: StagedFile] = [:]
        var bulkResults: [Int64: Data] = [:]
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

    /// `http://host:port` the simulator is reached at (set once it listens).
    public var origin: String {
        get { self.state.withLock { $0.origin } }
        set { self.state.withLock { $0.origin = newValue } }
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

    /// Makes the next `count` calls of a root field (e.g. `collectionCreate`) do their work and then time out,
    /// answering HTTP 504 as a gateway would: the caller cannot know that Shopify did it (control API).
    public func loseAnswers(to rootField: String, count: Int = 1) {
        self.state.withLock { $0.answersToLose[rootField] = count }
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

    private struct RequestBody: Decodable {
        var query: String
        var variables: [String: JSONLiteral]?
    }

    /// A refusal before anything ran: HTTP 200, `errors`, no `data`.
    static func refused(_ errors: [ShopifyGraphQLError]) -> Answer { .json(["errors": errors.map(\.json)]) }

    /// `POST /admin/api/{version}/graphql.json` of one shop.
    ///
    /// As Shopify does: the document is validated against the Admin schema and its variables against their
    /// declared types (either refused whole); the requested cost is computed from the document before running it
    /// (above 1,000 points: `MAX_COST_EXCEEDED`; above what the bucket holds: `THROTTLED`, nothing charged); the
    /// answer holds exactly what was selected, and `actualQueryCost` counts what it holds.
    public func graphQL(shop domain: String, version: String, accessToken: String?, body: Data) -> Answer {
        guard version.range(of: #"^\d{4}-(01|04|07|10)$"#, options: .regularExpression) != nil else {
            return .json(["errors": "Not Found"], status: 404)
        }
        let request = try? JSONDecoder().decode(RequestBody.self, from: body)
        let prepared = request.map { AdminSchema.shopify.prepare($0.query) }
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
            guard let request, let prepared else {
                return .json(["errors": [["message": "Parse error: the body must be a JSON object with a query"]]], status: 400)
            }
            let document: PreparedDocument
            switch prepared {
            case .success(let valid): document = valid
            case .failure(let refusal):
                shop.stats.invalidDocuments += 1
                return Self.refused(refusal.errors)
            }
            let operation = OperationRequest(schema: .shopify, document: document, variables: request.variables ?? [:])
            let variableErrors = operation.variableErrors()
            if !variableErrors.isEmpty {
                shop.stats.invalidDocuments += 1
                return Self.refused(variableErrors)
            }
            let roots = operation.rootFields.filter { $0.name.value != "__typename" }
            guard roots.count == 1, let root = roots.first, let rootField = operation.index.field(root.name.value, on: document.rootType) else {
                return Self.refused([ShopifyGraphQLError(message: "The simulator answers one root field per document", code: "invalidDocument")])
            }
            let requested: Double
            do throws(GraphQLRefusal) {
                requested = try operation.requestedCost(mutationCost: { Self.mutationCost($0, operation) })
            } catch {
                return Self.refused(error.errors)
            }

            shop.stats.requestedCosts[root.name.value] = requested
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

            let arguments = operation.arguments(of: root).mapValues(\.any)
            if root.name.value == "productSet", let refusal = Self.variantCeilingRefusal(arguments, in: &shop, settings: settings, now: now) {
                // As Shopify answers productCreate/productUpdate at the ceiling (changelog, 2019-03): HTTP 429, nothing done.
                return .json(["errors": refusal], status: 429)
            }
            let resolved: Any
            switch root.name.value {
            case "stagedUploadsCreate":
                let origin = state.origin
                resolved = Self.stagedUploadsCreate(arguments, shop: shop, origin: origin, files: &state.stagedFiles)
            case "bulkOperationRunMutation":
                resolved = self.bulkOperationRunMutation(arguments, in: &shop, state: &state, now: now)
            case "node":
                resolved = Self.node(arguments, in: shop)
            case "currentBulkOperation":
                resolved = Self.currentBulkOperation(arguments, in: shop)
            default:
                switch Self.resolve(root.name.value, arguments, operation: operation, field: root, in: &shop, ids: &state.ids, now: now) {
                case .success(let value): resolved = value
                case .failure(let refusal): return Self.refused(refusal.errors)
                }
            }
            shop.available -= requested
            var actual = 0.0
            let data: [String: Any]
            do throws(SimulatorGap) {
                data = try operation.data(resolved, root: root, definition: rootField, cost: &actual)
            } catch {
                return Self.refused([ShopifyGraphQLError(message: error.message, code: "SIMULATOR_UNSUPPORTED")])
            }
            // A mutation is charged what was requested; a query what its answer holds, never more than requested.
            actual = document.rootType == "Mutation" ? requested : min(requested, actual)
            shop.available = min(settings.bucketSize, shop.available + (requested - actual))
            shop.stats.pointsCharged += actual
            shop.stats.firstChargeAt = shop.stats.firstChargeAt ?? now
            shop.stats.lastChargeAt = now
            if let lose = state.answersToLose[root.name.value], lose > 0 {
                state.answersToLose[root.name.value] = lose - 1
                shop.stats.answersLost += 1
                return .json(["errors": "Gateway Timeout"], status: 504)
            }
            return .json(["data": data, "extensions": ["cost": Self.cost(requested: requested, actual: actual, shop: shop, settings: settings)]])
        }
    }

    /// Runs one root field: what it returns is a superset of what can be selected, shaped afterwards.
    static func resolve(
        _ name: String,
        _ arguments: [String: Any],
        operation: OperationRequest,
        field: GraphQL.Field,
        in shop: inout SimulatedShop,
        ids: inout IdSequence,
        now: Date
    ) -> Result<Any, GraphQLRefusal> {
        switch name {
        case "productSet":
            return .success(Self.productSet(arguments, in: &shop, ids: &ids, now: now))
        case "inventorySetQuantities", "inventoryAdjustQuantities":
            return Self.idempotent(operation: operation, field: field, arguments: arguments, in: &shop) { shop in
                name == "inventorySetQuantities"
                    ? Self.inventorySetQuantities(arguments, in: &shop) : Self.inventoryAdjustQuantities(arguments, in: &shop)
            }
        case "collectionCreate", "collectionUpdate", "collectionAddProducts", "collectionRemoveProducts":
            return .success(Self.collectionMutation(name, arguments, in: &shop, ids: &ids))
        case "collectionByHandle":
            return .success(Self.collection(handle: arguments["handle"] as? String ?? "", in: shop))
        case "inventoryActivate":
            return .success(Self.inventoryActivate(arguments, in: &shop))
        case "inventoryItem":
            return .success(Self.inventoryItem(arguments, in: shop))
        case "metafieldDefinitionCreate":
            return .success(Self.metafieldDefinitionCreate(arguments, in: &shop, ids: &ids))
        case "webhookSubscriptionCreate":
            return .success(Self.webhookSubscriptionCreate(arguments, in: &shop, ids: &ids))
        case "webhookSubscriptions":
            return .success(Self.webhookSubscriptions(in: shop))
        case "orders":
            guard let page = Self.orders(arguments, in: shop) else {
                return .failure(
                    GraphQLRefusal([ShopifyGraphQLError(message: "orders: query must be a valid updated_at filter", code: "INVALID_QUERY")])
                )
            }
            return .success(page)
        case "order":
            return .success(Self.order(arguments, in: shop))
        case "refund":
            return .success(Self.refund(arguments, in: shop))
        case "shop":
            return .success(["id": "gid://shopify/Shop/\(shop.locations.first?.id ?? 1)", "name": shop.domain, "myshopifyDomain": shop.domain])
        case "locations":
            return .success(shop.locations.map { ["id": "gid://shopify/Location/\($0.id)", "name": $0.name, "isActive": $0.isActive] })
        default:
            return .failure(
                GraphQLRefusal([ShopifyGraphQLError(message: "The simulator does not implement \(name)", code: "SIMULATOR_UNSUPPORTED")])
            )
        }
    }

    /// Runs an inventory mutation under its `@idempotent(key:)`, required since 2026-04: the first call with a key
    /// runs and its answer is kept; a repeat with the same variables gets that answer and changes nothing; a repeat
    /// with other variables is refused (`IDEMPOTENCY_KEY_PARAMETER_MISMATCH`).
    static func idempotent(
        operation: OperationRequest,
        field: GraphQL.Field,
        arguments: [String: Any],
        in shop: inout SimulatedShop,
        _ run: (inout SimulatedShop) -> [String: Any]
    ) -> Result<Any, GraphQLRefusal> {
        func refused(_ message: String, _ code: String) -> Result<Any, GraphQLRefusal> {
            .failure(GraphQLRefusal([ShopifyGraphQLError(message: message, code: code, locations: ShopifyGraphQLError.Location.of(field.loc))]))
        }
        guard case .string(let key) = operation.directiveArgument("idempotent", "key", on: field), !key.isEmpty else {
            return refused("The @idempotent directive with a key is required for this mutation", "BAD_REQUEST")
        }
        let request = (try? JSONSerialization.data(withJSONObject: arguments, options: [.sortedKeys])) ?? Data()
        if let previous = shop.idempotentAnswers[key] {
            guard previous.request == request else {
                return refused("The same idempotency key cannot be used with different operation parameters.", "IDEMPOTENCY_KEY_PARAMETER_MISMATCH")
            }
            shop.stats.idempotentReplays += 1
            return .success((try? JSONSerialization.jsonObject(with: previous.answer)) ?? [:])
        }
        let answer = run(&shop)
        shop.idempotentAnswers[key] = (request, (try? JSONSerialization.data(withJSONObject: answer)) ?? Data())
        return .success(answer)
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

    /// A mutation's root field costs 10; `productSet` 10 + 0.2 per variant + 0.4 per metafield (since 2025-10),
    /// rounded up to a whole point.
    static func mutationCost(_ field: GraphQL.Field, _ operation: OperationRequest) -> Double {
        guard field.name.value == "productSet" else { return 10 }
        guard case .object(let input) = operation.arguments(of: field)["input"] else { return 10 }
        func count(_ key: String) -> Int {
            if case .array(let values) = input[key] { return values.count }
            return 0
        }
        var metafields = count("metafields")
        if case .array(let variants) = input["variants"] {
            for case .object(let variant) in variants {
                if case .array(let own) = variant["metafields"] { metafields += own.count }
            }
        }
        let tenths = 100 + 2 * count("variants") + 4 * metafields
        return Double((tenths + 9) / 10)
    }
}
