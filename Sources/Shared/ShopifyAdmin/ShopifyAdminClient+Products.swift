import JSONBytes
import Logging

/// A FlowPOS product as `productSet` receives it: upserted by `customId` (the FlowPOS product id) with its full
/// variant list, so that a variant left out is deleted in Shopify.
public struct ProductSetInput: Sendable, Equatable {
    public var flowposProductId: String
    public var title: String
    public var descriptionHtml: String?
    public var active: Bool
    public var variants: [Variant]

    public struct Variant: Sendable, Equatable {
        /// The Shopify variant id when the variant is already mapped (updated in place), nil for a new one.
        public var shopifyVariantId: Int64?
        /// The option value naming the variant (`Default Title` for a product with one variant).
        public var optionValue: String
        public var sku: String?
        public var barcode: String?
        /// Decimal string, e.g. `"12.50"`.
        public var price: String
        /// Stock to set at creation (Shopify's stock is set through productSet only when creating).
        public var initialQuantity: Int?

        public init(shopifyVariantId: Int64?, optionValue: String, sku: String?, barcode: String?, price: String, initialQuantity: Int?) {
            self.shopifyVariantId = shopifyVariantId
            self.optionValue = optionValue
            self.sku = sku
            self.barcode = barcode
            self.price = price
            self.initialQuantity = initialQuantity
        }
    }

    public init(flowposProductId: String, title: String, descriptionHtml: String?, active: Bool, variants: [Variant]) {
        self.flowposProductId = flowposProductId
        self.title = title
        self.descriptionHtml = descriptionHtml
        self.active = active
        self.variants = variants
    }
}

/// What `productSet` returns: the product and, per variant, its ids.
public struct ProductSetResult: Sendable, Equatable {
    public var productId: Int64
    public var variants: [Variant]

    public struct Variant: Sendable, Equatable {
        public var variantId: Int64
        public var inventoryItemId: Int64
        public var sku: String?
        public var optionValue: String?
    }
}

extension ShopifyAdminClient {
    /// The metafield holding the FlowPOS product id (`customId` identifies products by it).
    public static let customIdNamespace = "flowpos"
    public static let customIdKey = "product_id"
    static let optionName = "Title"

    static let productSetDocument = """
        mutation ProductSet($identifier: ProductSetIdentifiers, $input: ProductSetInput!) {
          productSet(identifier: $identifier, input: $input, synchronous: true) {
            product {
              id
              variants(first: 250) { nodes { id sku selectedOptions { name value } inventoryItem { id } } }
            }
            userErrors { field message code }
          }
        }
        """

    struct ProductSetData: Decodable, Sendable {
        var productSet: Payload

        struct Payload: Decodable, Sendable {
            var product: Product?
            var userErrors: [ShopifyUserError]
        }

        struct Product: Decodable, Sendable {
            var id: String
            var variants: Nodes<Variant>
        }

        struct Variant: Decodable, Sendable {
            var id: String
            var sku: String?
            var selectedOptions: [SelectedOption]?
            var inventoryItem: Ref
        }

        struct SelectedOption: Decodable, Sendable {
            var name: String
            var value: String
        }
    }

    /// What Shopify asks for one `productSet` (since 2025-10): 10 + 0.2 per variant + 0.4 per metafield, rounded
    /// up to a whole point (counted in tenths, so that no floating-point sum rounds it up once more).
    static func productSetCost(variants: Int, metafields: Int) -> Int { (100 + 2 * variants + 4 * metafields + 9) / 10 }

    /// Upserts one product by its FlowPOS id. `locationId` is where new variants are stocked.
    public func productSet(
        _ product: ProductSetInput,
        locationId: Int64,
        as credentials: ShopifyCredentials,
        logger: Logger
    ) async throws
        -> ProductSetResult
    {
        let data = try await self.send(
            GraphQLOperation<ProductSetData>(
                name: "productSet",
                query: Self.productSetDocument,
                variables: Self.productSetVariables(product, locationId: locationId),
                expectedCost: Self.productSetCost(variants: product.variants.count, metafields: 1)
            ),
            as: credentials,
            logger: logger
        )
        return try Self.productSetResult(data.productSet)
    }

    /// The variables of one `productSet` (of ``productSetDocument``): what a single call sends, and one line of a
    /// bulk push's JSONL file.
    public static func productSetVariables(_ product: ProductSetInput, locationId: Int64) -> JSONValue {
        let variants: [JSONValue] = product.variants.map { variant in
            var fields: [String: JSONValue] = [
                "optionValues": .array([.object(["optionName": .string(Self.optionName), "name": .string(variant.optionValue)])]),
                "price": .string(variant.price),
                "inventoryItem": .object(["sku": variant.sku.map(JSONValue.string) ?? .null, "tracked": .bool(true)]),
                "barcode": variant.barcode.map(JSONValue.string) ?? .null,
            ]
            if let id = variant.shopifyVariantId { fields["id"] = .string(ShopifyGID.make("ProductVariant", id)) }
            if let quantity = variant.initialQuantity {
                fields["inventoryQuantities"] = .array([
                    .object([
                        "locationId": .string(ShopifyGID.make("Location", locationId)), "name": .string("available"),
                        "quantity": .int(Int64(quantity)),
                    ])
                ])
            }
            return .object(fields)
        }
        let customId: JSONValue = .object([
            "namespace": .string(Self.customIdNamespace), "key": .string(Self.customIdKey), "value": .string(product.flowposProductId),
        ])
        let input: JSONValue = .object([
            "title": .string(product.title),
            "descriptionHtml": product.descriptionHtml.map(JSONValue.string) ?? .null,
            "status": .string(product.active ? "ACTIVE" : "DRAFT"),
            "productOptions": .array([
                .object([
                    "name": .string(Self.optionName),
                    "values": .array(product.variants.map { .object(["name": .string($0.optionValue)]) }),
                ])
            ]),
            "variants": .array(variants),
            "metafields": .array([
                .object([
                    "namespace": .string(Self.customIdNamespace), "key": .string(Self.customIdKey), "type": .string("id"),
                    "value": .string(product.flowposProductId),
                ])
            ]),
        ])
        return .object(["identifier": .object(["customId": customId]), "input": input])
    }

    /// The product and its variants' ids from a `productSet` payload, or its `userErrors` as an error.
    static func productSetResult(_ payload: ProductSetData.Payload) throws -> ProductSetResult {
        if !payload.userErrors.isEmpty { throw ShopifyAdminError.userErrors(operation: "productSet", payload.userErrors) }
        guard let created = payload.product, let productId = ShopifyGID.number(created.id) else {
            throw ShopifyAdminError.invalidResponse(operation: "productSet", reason: "no product and no userErrors")
        }
        return ProductSetResult(
            productId: productId,
            variants: try created.variants.nodes.map { variant in
                guard let variantId = ShopifyGID.number(variant.id), let itemId = ShopifyGID.number(variant.inventoryItem.id) else {
                    throw ShopifyAdminError.invalidResponse(operation: "productSet", reason: "variant without ids")
                }
                let option = variant.selectedOptions?.first { $0.name == Self.optionName }?.value
                return ProductSetResult.Variant(variantId: variantId, inventoryItemId: itemId, sku: variant.sku, optionValue: option)
            }
        )
    }
}

/// `{ nodes: [...] }` of a connection.
struct Nodes<Node: Decodable & Sendable>: Decodable, Sendable {
    var nodes: [Node]
}

/// `{ id }` of a referenced object.
struct Ref: Decodable, Sendable {
    var id: String
}
