import Foundation

/// Tunables of the simulated platform, changeable at run time through the control API.
public struct SimulatorSettings: Codable, Sendable {
    /// Leaky bucket size per shop, in cost points (Shopify: `maximumAvailable`).
    public var bucketSize: Double
    /// Points restored per second (Shopify: `restoreRate`).
    public var restoreRate: Double
    /// Share of Admin API requests answered with a 5xx before doing anything (0…1).
    public var failureRate: Double

    public init(bucketSize: Double = 1000, restoreRate: Double = 100, failureRate: Double = 0) {
        self.bucketSize = bucketSize
        self.restoreRate = restoreRate
        self.failureRate = failureRate
    }
}

/// Counters per shop, read by tests and the push benchmark.
public struct ShopStats: Codable, Sendable, Equatable {
    public var requests = 0
    public var throttled = 0
    public var failuresInjected = 0
    /// Points actually charged (throttled requests cost nothing).
    public var pointsCharged: Double = 0
    public var productsCreated = 0
    /// productSet calls that changed an existing product; identical input changes nothing.
    public var productsChanged = 0
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
    var available: Double
    var refilledAt: Date
    var stats = ShopStats()

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
