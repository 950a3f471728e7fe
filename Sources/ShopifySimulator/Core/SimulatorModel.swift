import Foundation

/// Tunables of the simulated platform, changeable at run time through the control API.
public struct SimulatorSettings: Codable, Sendable {
    /// Leaky bucket size per shop, in cost points (Shopify: `maximumAvailable`).
    public var bucketSize: Double
    /// Points restored per second (Shopify: `restoreRate`).
    public var restoreRate: Double
    /// Share of Admin API requests answered with a 5xx before doing anything (0…1).
    public var failureRate: Double
    /// Webhook faults (shares 0…1): deliveries dropped, sent twice, or held back up to `webhookMaxDelayMs`
    /// (which reorders them).
    public var webhookDropRate: Double
    public var webhookDuplicateRate: Double
    public var webhookDelayRate: Double
    public var webhookMaxDelayMs: Int
    /// Whether the token exchange issues expiring offline tokens with a refresh token.
    public var expiringTokens: Bool
    /// Lines of a bulk operation run per second (Shopify publishes no figure; see docs/performance.md).
    public var bulkRowsPerSecond: Double
    /// Shopify's variant ceiling: a shop with this many variants or more may create at most
    /// `dailyVariantCreations` variants a day; past it a variant-creating `productSet` is answered HTTP 429.
    public var variantCeilingThreshold: Int
    public var dailyVariantCreations: Int

    public init(
        bucketSize: Double = 1000,
        restoreRate: Double = 100,
        failureRate: Double = 0,
        webhookDropRate: Double = 0,
        webhookDuplicateRate: Double = 0,
        webhookDelayRate: Double = 0,
        webhookMaxDelayMs: Int = 2000,
        expiringTokens: Bool = false,
        bulkRowsPerSecond: Double = 200,
        variantCeilingThreshold: Int = 50_000,
        dailyVariantCreations: Int = 1_000
    ) {
        self.bucketSize = bucketSize
        self.restoreRate = restoreRate
        self.failureRate = failureRate
        self.webhookDropRate = webhookDropRate
        self.webhookDuplicateRate = webhookDuplicateRate
        self.webhookDelayRate = webhookDelayRate
        self.webhookMaxDelayMs = webhookMaxDelayMs
        self.expiringTokens = expiringTokens
        self.bulkRowsPerSecond = bulkRowsPerSecond
        self.variantCeilingThreshold = variantCeilingThreshold
        self.dailyVariantCreations = dailyVariantCreations
    }

    /// Missing keys keep their defaults, so the control API can change one setting at a time.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = SimulatorSettings()
        self.bucketSize = try container.decodeIfPresent(Double.self, forKey: .bucketSize) ?? defaults.bucketSize
        self.restoreRate = try container.decodeIfPresent(Double.self, forKey: .restoreRate) ?? defaults.restoreRate
        self.failureRate = try container.decodeIfPresent(Double.self, forKey: .failureRate) ?? defaults.failureRate
        self.webhookDropRate = try container.decodeIfPresent(Double.self, forKey: .webhookDropRate) ?? defaults.webhookDropRate
        self.webhookDuplicateRate = try container.decodeIfPresent(Double.self, forKey: .webhookDuplicateRate) ?? defaults.webhookDuplicateRate
        self.webhookDelayRate = try container.decodeIfPresent(Double.self, forKey: .webhookDelayRate) ?? defaults.webhookDelayRate
        self.webhookMaxDelayMs = try container.decodeIfPresent(Int.self, forKey: .webhookMaxDelayMs) ?? defaults.webhookMaxDelayMs
        self.expiringTokens = try container.decodeIfPresent(Bool.self, forKey: .expiringTokens) ?? defaults.expiringTokens
        self.bulkRowsPerSecond = try container.decodeIfPresent(Double.self, forKey: .bulkRowsPerSecond) ?? defaults.bulkRowsPerSecond
        self.variantCeilingThreshold = try container.decodeIfPresent(Int.self, forKey: .variantCeilingThreshold) ?? defaults.variantCeilingThreshold
        self.dailyVariantCreations = try container.decodeIfPresent(Int.self, forKey: .dailyVariantCreations) ?? defaults.dailyVariantCreations
    }
}

/// Counters per shop, read by tests and the push benchmark.
public struct ShopStats: Codable, Sendable, Equatable {
    public var requests = 0
    public var throttled = 0
    /// Queries refused for asking more than the single-query maximum of 1,000 points.
    public var maxCostExceeded = 0
    /// Requests refused whole: a document the schema refuses, or variables that do not match their types.
    public var invalidDocuments = 0
    /// The requested cost of the latest request, by root field (`orders`, `productSet`, …).
    public var requestedCosts: [String: Double] = [:]
    public var failuresInjected = 0
    /// Points actually charged (throttled requests cost nothing).
    public var pointsCharged: Double = 0
    public var productsCreated = 0
    /// productSet calls that changed an existing product; identical input changes nothing.
    public var productsChanged = 0
    /// inventorySetQuantities calls that changed a quantity.
    public var inventoryWrites = 0
    public var inventoryStale = 0
    /// inventoryAdjustQuantities calls that changed a quantity.
    public var inventoryAdjustments = 0
    /// Calls of an idempotent mutation answered from an earlier call with the same key (nothing changed).
    public var idempotentReplays = 0
    /// Collection creations, updates that changed a title, and membership changes (products added or removed).
    public var collectionsCreated = 0
    public var collectionsChanged = 0
    public var membershipChanges = 0
    /// Bulk operations started, and variant-creating calls refused at the variant ceiling.
    public var bulkOperationsStarted = 0
    public var variantCeilingRefusals = 0
    /// Calls that did their work and then timed out (``ShopifySimulator/loseAnswers(to:count:)``).
    public var answersLost = 0
    /// Refresh-token exchanges (each rotates the pair).
    public var tokenRefreshes = 0
    public var webhooksDelivered = 0
    public var webhooksDropped = 0
    public var webhooksDuplicated = 0
    /// Deliveries answered with something else than a 2xx (each attempt counts).
    public var webhooksRefused = 0
    public var firstChargeAt: Date?
    public var lastChargeAt: Date?
}

/// One simulated shop: its data, its tokens and its cost bucket.
struct SimulatedShop {
    var domain: String
    var accessTokens: Set<String>
    var locations: [Location]
    var products: [Int64: Product] = [:]
    var productIdByCustomId: [String: Int64] = [:]
    /// Available quantity per inventory item and location; presence means the item is stocked there.
    var inventory: [Int64: [Int64: Int]] = [:]
    /// Idempotent mutations by key: the arguments of the first call (JSON, sorted keys) and its answer.
    var idempotentAnswers: [String: (request: Data, answer: Data)] = [:]
    var collections: [Int64: Collection] = [:]
    /// Metafield definitions, by owner type, namespace and key (`PRODUCT flowpos.product_id`).
    var metafieldDefinitions: [String: MetafieldDefinition] = [:]
    /// Webhook subscriptions: topic (GraphQL form, e.g. `ORDERS_CREATE`) and URI, by id.
    var subscriptions: [Int64: (topic: String, uri: String)] = [:]
    /// Orders as their REST webhook payloads (JSON), by id. Written through ``store(order:payload:updatedAt:)``.
    private(set) var orders: [Int64: Data] = [:]
    /// Each order's `updated_at`, kept beside the payload so that a page of `orders` does not parse every order.
    private(set) var orderUpdatedAt: [Int64: Date] = [:]
    var available: Double
    var refilledAt: Date
    var stats = ShopStats()
    /// Variants in the shop, and those created on `variantDay` (days since 1970, UTC): the variant ceiling's counts.
    var variantCount = 0
    var variantsCreatedToday = 0
    var variantDay = 0
    var bulkOperations: [Int64: ShopifySimulator.BulkOperation] = [:]
    var bulkFailures: [ShopifySimulator.BulkFailure] = []

    /// Stores an order's payload and its `updated_at` (the text the payload carries) together.
    mutating func store(order id: Int64, payload: Data, updatedAt: String) {
        self.orders[id] = payload
        self.orderUpdatedAt[id] = ShopifySimulator.date(updatedAt)
    }

    struct Location: Codable, Equatable {
        var id: Int64
        var name: String
        var isActive: Bool
    }

    struct Product: Codable, Equatable {
        var id: Int64
        var title: String
        var descriptionHtml: String?
        var status: String
        var customId: String?
        var variants: [Variant]
        var updatedAt: Date
    }

    struct MetafieldDefinition: Codable, Equatable {
        var id: Int64
        var ownerType: String
        var namespace: String
        var key: String
        var name: String
        var type: String

        static func key(ownerType: String, namespace: String, key: String) -> String { "\(ownerType) \(namespace).\(key)" }
    }

    struct Collection: Codable, Equatable {
        var id: Int64
        var title: String
        /// Unique in the shop: the one asked for or made from the title, with `-1`, `-2`… if taken, as Shopify does.
        var handle: String
        var productIds: Set<Int64>
    }

    struct Variant: Codable, Equatable {
        var id: Int64
        var optionValue: String
        var sku: String?
        var barcode: String?
        var price: String
        var inventoryItemId: Int64
    }
}

/// Ids are unique across shops, as Shopify's are.
struct IdSequence {
    private var next: Int64 = 1_000_000_000

    mutating func take() -> Int64 {
        self.next += 1
        return self.next
    }
}
