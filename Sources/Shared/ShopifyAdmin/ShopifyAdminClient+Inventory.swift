import JSONBytes
import Logging

/// The answer of a compare-and-set stock write.
public enum InventorySetOutcome: Sendable, Equatable {
    case applied
    /// Shopify's quantity was not `changeFromQuantity` any more (`CHANGE_FROM_QUANTITY_STALE`): nothing changed.
    case stale
}

extension ShopifyAdminClient {
    static let inventorySetQuantitiesDocument = """
        mutation InventorySetQuantities($input: InventorySetQuantitiesInput!, $idempotencyKey: String!) {
          inventorySetQuantities(input: $input) @idempotent(key: $idempotencyKey) {
            inventoryAdjustmentGroup { id }
            userErrors { field message code }
          }
        }
        """

    struct InventorySetData: Decodable, Sendable {
        var inventorySetQuantities: Payload

        struct Payload: Decodable, Sendable {
            var userErrors: [ShopifyUserError]
        }
    }

    /// Sets the `available` quantity of an item at a location if Shopify still holds `changeFrom` (nil skips the
    /// compare, which the reconciliation never does). `idempotencyKey` makes a retried call apply at most once.
    public func setAvailable(
        inventoryItemId: Int64,
        locationId: Int64,
        quantity: Int,
        changeFrom: Int?,
        idempotencyKey: String,
        reference: String,
        as credentials: ShopifyCredentials,
        logger: Logger
    ) async throws -> InventorySetOutcome {
        let input: JSONValue = .object([
            "name": .string("available"),
            "reason": .string("correction"),
            "referenceDocumentUri": .string(reference),
            "quantities": .array([
                .object([
                    "inventoryItemId": .string(ShopifyGID.make("InventoryItem", inventoryItemId)),
                    "locationId": .string(ShopifyGID.make("Location", locationId)),
                    "quantity": .int(Int64(quantity)),
                    // Required on every quantity since 2026-04; an explicit null would skip the compare.
                    "changeFromQuantity": changeFrom.map { .int(Int64($0)) } ?? .null,
                ])
            ]),
        ])
        let data = try await self.send(
            GraphQLOperation<InventorySetData>(
                name: "inventorySetQuantities",
                query: Self.inventorySetQuantitiesDocument,
                variables: .object(["input": input, "idempotencyKey": .string(idempotencyKey)]),
                expectedCost: 10
            ),
            as: credentials,
            logger: logger
        )
        let errors = data.inventorySetQuantities.userErrors
        if errors.isEmpty { return .applied }
        if errors.allSatisfy({ $0.code == "CHANGE_FROM_QUANTITY_STALE" }) { return .stale }
        throw ShopifyAdminError.userErrors(operation: "inventorySetQuantities", errors)
    }

    static let inventoryAdjustQuantitiesDocument = """
        mutation InventoryAdjustQuantities($input: InventoryAdjustQuantitiesInput!, $idempotencyKey: String!) {
          inventoryAdjustQuantities(input: $input) @idempotent(key: $idempotencyKey) {
            inventoryAdjustmentGroup { id }
            userErrors { field message code }
          }
        }
        """

    struct InventoryAdjustData: Decodable, Sendable {
        var inventoryAdjustQuantities: Payload

        struct Payload: Decodable, Sendable {
            var userErrors: [ShopifyUserError]
        }
    }

    /// Adds `delta` to the `available` quantity of an item at a location. Deltas commute with Shopify's own
    /// decrements (orders placed there meanwhile), which an absolute write would overwrite. `idempotencyKey` names
    /// the movements the delta carries: a retried call with the same key and delta applies at most once. Returns
    /// false when the item is not stocked at the location (nothing changed).
    public func adjustAvailable(
        inventoryItemId: Int64,
        locationId: Int64,
        delta: Int,
        idempotencyKey: String,
        reason: String,
        reference: String,
        as credentials: ShopifyCredentials,
        logger: Logger
    ) async throws -> Bool {
        let input: JSONValue = .object([
            "name": .string("available"),
            "reason": .string(reason),
            "referenceDocumentUri": .string(reference),
            "changes": .array([
                .object([
                    "delta": .int(Int64(delta)),
                    "inventoryItemId": .string(ShopifyGID.make("InventoryItem", inventoryItemId)),
                    "locationId": .string(ShopifyGID.make("Location", locationId)),
                ])
            ]),
        ])
        let data = try await self.send(
            GraphQLOperation<InventoryAdjustData>(
                name: "inventoryAdjustQuantities",
                query: Self.inventoryAdjustQuantitiesDocument,
                variables: .object(["input": input, "idempotencyKey": .string(idempotencyKey)]),
                expectedCost: 10
            ),
            as: credentials,
            logger: logger
        )
        let errors = data.inventoryAdjustQuantities.userErrors
        if errors.isEmpty { return true }
        if errors.allSatisfy({ $0.code == "ITEM_NOT_STOCKED_AT_LOCATION" }) { return false }
        throw ShopifyAdminError.userErrors(operation: "inventoryAdjustQuantities", errors)
    }

    static let inventoryLevelDocument = """
        query InventoryLevel($inventoryItemId: ID!, $locationId: ID!) {
          inventoryItem(id: $inventoryItemId) {
            inventoryLevel(locationId: $locationId) { quantities(names: ["available"]) { name quantity } }
          }
        }
        """

    struct InventoryLevelData: Decodable, Sendable {
        var inventoryItem: Item?

        struct Item: Decodable, Sendable {
            var inventoryLevel: Level?
        }

        struct Level: Decodable, Sendable {
            var quantities: [Quantity]
        }

        struct Quantity: Decodable, Sendable {
            var name: String
            var quantity: Int
        }
    }

    /// Shopify's `available` quantity of an item at a location; nil when the item is not stocked there.
    public func available(inventoryItemId: Int64, locationId: Int64, as credentials: ShopifyCredentials, logger: Logger) async throws -> Int? {
        let data = try await self.send(
            GraphQLOperation<InventoryLevelData>(
                name: "inventoryLevel",
                query: Self.inventoryLevelDocument,
                variables: .object([
                    "inventoryItemId": .string(ShopifyGID.make("InventoryItem", inventoryItemId)),
                    "locationId": .string(ShopifyGID.make("Location", locationId)),
                ]),
                expectedCost: 3
            ),
            as: credentials,
            logger: logger
        )
        guard let item = data.inventoryItem else {
            throw ShopifyAdminError.invalidResponse(operation: "inventoryLevel", reason: "inventory item \(inventoryItemId) not found")
        }
        return item.inventoryLevel?.quantities.first { $0.name == "available" }?.quantity
    }
}

extension ShopifyAdminClient {
    static let inventoryActivateDocument = """
        mutation InventoryActivate($inventoryItemId: ID!, $locationId: ID!) {
          inventoryActivate(inventoryItemId: $inventoryItemId, locationId: $locationId) {
            inventoryLevel { id }
            userErrors { field message }
          }
        }
        """

    struct InventoryActivateData: Decodable, Sendable {
        var inventoryActivate: Payload

        struct Payload: Decodable, Sendable {
            var userErrors: [ShopifyUserError]
        }
    }

    /// Stocks an item at a location (needed before its quantity there can be set). Activating twice is harmless.
    public func activate(inventoryItemId: Int64, locationId: Int64, as credentials: ShopifyCredentials, logger: Logger) async throws {
        let data = try await self.send(
            GraphQLOperation<InventoryActivateData>(
                name: "inventoryActivate",
                query: Self.inventoryActivateDocument,
                variables: .object([
                    "inventoryItemId": .string(ShopifyGID.make("InventoryItem", inventoryItemId)),
                    "locationId": .string(ShopifyGID.make("Location", locationId)),
                ]),
                expectedCost: 10
            ),
            as: credentials,
            logger: logger
        )
        let errors = data.inventoryActivate.userErrors
        if !errors.isEmpty { throw ShopifyAdminError.userErrors(operation: "inventoryActivate", errors) }
    }
}
