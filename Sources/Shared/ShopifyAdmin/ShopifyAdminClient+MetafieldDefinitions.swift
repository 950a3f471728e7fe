import JSONBytes
import Logging

extension ShopifyAdminClient {
    static let customIdDefinitionCreateDocument = """
        mutation CustomIdDefinitionCreate($definition: MetafieldDefinitionInput!) {
          metafieldDefinitionCreate(definition: $definition) {
            createdDefinition { id }
            userErrors { field message code }
          }
        }
        """

    struct MetafieldDefinitionCreateData: Decodable, Sendable {
        var metafieldDefinitionCreate: Payload

        struct Payload: Decodable, Sendable {
            var createdDefinition: Ref?
            var userErrors: [ShopifyUserError]
        }
    }

    /// Makes sure the shop has the `id`-type metafield definition on products that `productSet(identifier:
    /// {customId:})` looks products up by (``customIdNamespace``.``customIdKey``): creates it, and takes Shopify's
    /// `TAKEN` as "it exists already". Shopify refuses a custom-ID lookup without it.
    public func ensureCustomIdDefinition(as credentials: ShopifyCredentials, logger: Logger) async throws {
        let data = try await self.send(
            GraphQLOperation<MetafieldDefinitionCreateData>(
                name: "metafieldDefinitionCreate",
                query: Self.customIdDefinitionCreateDocument,
                variables: .object([
                    "definition": .object([
                        "namespace": .string(Self.customIdNamespace),
                        "key": .string(Self.customIdKey),
                        "name": .string("FlowPOS product id"),
                        "ownerType": .string("PRODUCT"),
                        "type": .string("id"),
                    ])
                ]),
                expectedCost: 10
            ),
            as: credentials,
            logger: logger
        )
        let errors = data.metafieldDefinitionCreate.userErrors
        if errors.isEmpty || errors.allSatisfy({ $0.code == "TAKEN" }) { return }
        throw ShopifyAdminError.userErrors(operation: "metafieldDefinitionCreate", errors)
    }
}
