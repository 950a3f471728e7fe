import JSONBytes
import Logging

extension ShopifyAdminClient {
    static let collectionCreateDocument = """
        mutation CollectionCreate($input: CollectionInput!) {
          collectionCreate(input: $input) { collection { id } userErrors { field message } }
        }
        """
    static let collectionByHandleDocument = """
        query CollectionByHandle($handle: String!) {
          collectionByHandle(handle: $handle) { id }
        }
        """
    static let collectionUpdateDocument = """
        mutation CollectionUpdate($input: CollectionInput!) {
          collectionUpdate(input: $input) { collection { id } userErrors { field message } }
        }
        """
    static let collectionAddProductsDocument = """
        mutation CollectionAddProducts($id: ID!, $productIds: [ID!]!) {
          collectionAddProducts(id: $id, productIds: $productIds) { collection { id } userErrors { field message } }
        }
        """
    static let collectionRemoveProductsDocument = """
        mutation CollectionRemoveProducts($id: ID!, $productIds: [ID!]!) {
          collectionRemoveProducts(id: $id, productIds: $productIds) { job { id } userErrors { field message } }
        }
        """
    /// Shopify caps the product ids of one membership call.
    public static let collectionBatchLimit = 250

    struct CollectionPayload: Decodable, Sendable {
        var collection: Ref?
        var userErrors: [ShopifyUserError]
    }

    struct CollectionCreateData: Decodable, Sendable { var collectionCreate: CollectionPayload }
    struct CollectionUpdateData: Decodable, Sendable { var collectionUpdate: CollectionPayload }
    struct CollectionByHandleData: Decodable, Sendable { var collectionByHandle: Ref? }
    struct CollectionAddData: Decodable, Sendable { var collectionAddProducts: CollectionPayload }

    struct CollectionRemoveData: Decodable, Sendable {
        var collectionRemoveProducts: Payload

        struct Payload: Decodable, Sendable {
            var userErrors: [ShopifyUserError]
        }
    }

    private func collectionId(_ payload: CollectionPayload, operation: String) throws -> Int64 {
        if !payload.userErrors.isEmpty { throw ShopifyAdminError.userErrors(operation: operation, payload.userErrors) }
        guard let id = payload.collection.flatMap({ ShopifyGID.number($0.id) }) else {
            throw ShopifyAdminError.invalidResponse(operation: operation, reason: "no collection and no userErrors")
        }
        return id
    }

    /// Creates a manual collection (no rules: membership is set product by product) with `handle` (Shopify makes a
    /// taken handle unique with a suffix, so look it up first: ``collection(handle:as:logger:)``); returns its id.
    public func createCollection(title: String, handle: String, as credentials: ShopifyCredentials, logger: Logger) async throws -> Int64 {
        let data = try await self.send(
            GraphQLOperation<CollectionCreateData>(
                name: "collectionCreate",
                query: Self.collectionCreateDocument,
                variables: .object(["input": .object(["title": .string(title), "handle": .string(handle)])]),
                expectedCost: 10
            ),
            as: credentials,
            logger: logger
        )
        return try self.collectionId(data.collectionCreate, operation: "collectionCreate")
    }

    /// The id of the collection with exactly this handle, nil if there is none.
    ///
    /// `collectionByHandle` is deprecated in favour of `collectionByIdentifier`, which the schema this client is
    /// written against does not have yet.
    public func collection(handle: String, as credentials: ShopifyCredentials, logger: Logger) async throws -> Int64? {
        let data = try await self.send(
            GraphQLOperation<CollectionByHandleData>(
                name: "collectionByHandle",
                query: Self.collectionByHandleDocument,
                variables: .object(["handle": .string(handle)]),
                expectedCost: 1
            ),
            as: credentials,
            logger: logger
        )
        return data.collectionByHandle.flatMap { ShopifyGID.number($0.id) }
    }

    /// Renames a collection (`collectionUpdate`).
    ///
    /// - Throws: ``ShopifyAdminError`` (its `userErrors` among them) or ``ShopifyThrottled``.
    public func updateCollection(id: Int64, title: String, as credentials: ShopifyCredentials, logger: Logger) async throws {
        let data = try await self.send(
            GraphQLOperation<CollectionUpdateData>(
                name: "collectionUpdate",
                query: Self.collectionUpdateDocument,
                variables: .object(["input": .object(["id": .string(ShopifyGID.make("Collection", id)), "title": .string(title)])]),
                expectedCost: 10
            ),
            as: credentials,
            logger: logger
        )
        _ = try self.collectionId(data.collectionUpdate, operation: "collectionUpdate")
    }

    /// Adds products to a manual collection, in calls of at most 250.
    public func addProducts(_ productIds: [Int64], toCollection id: Int64, as credentials: ShopifyCredentials, logger: Logger) async throws {
        try await self.changeMembership(
            "collectionAddProducts",
            Self.collectionAddProductsDocument,
            productIds,
            id,
            credentials,
            logger,
            userErrors: { (data: CollectionAddData) in data.collectionAddProducts.userErrors }
        )
    }

    /// Removes products from a manual collection, in calls of at most 250.
    public func removeProducts(_ productIds: [Int64], fromCollection id: Int64, as credentials: ShopifyCredentials, logger: Logger) async throws {
        try await self.changeMembership(
            "collectionRemoveProducts",
            Self.collectionRemoveProductsDocument,
            productIds,
            id,
            credentials,
            logger,
            userErrors: { (data: CollectionRemoveData) in data.collectionRemoveProducts.userErrors }
        )
    }

    private func changeMembership<Response: Decodable & Sendable>(
        _ name: String,
        _ document: String,
        _ productIds: [Int64],
        _ collectionId: Int64,
        _ credentials: ShopifyCredentials,
        _ logger: Logger,
        userErrors: (Response) -> [ShopifyUserError]
    ) async throws {
        for start in stride(from: 0, to: productIds.count, by: Self.collectionBatchLimit) {
            let batch = productIds[start..<min(start + Self.collectionBatchLimit, productIds.count)]
            let data = try await self.send(
                GraphQLOperation<Response>(
                    name: name,
                    query: document,
                    variables: .object([
                        "id": .string(ShopifyGID.make("Collection", collectionId)),
                        "productIds": .array(batch.map { .string(ShopifyGID.make("Product", $0)) }),
                    ]),
                    expectedCost: 10
                ),
                as: credentials,
                logger: logger
            )
            let errors = userErrors(data)
            if !errors.isEmpty { throw ShopifyAdminError.userErrors(operation: name, errors) }
        }
    }
}
