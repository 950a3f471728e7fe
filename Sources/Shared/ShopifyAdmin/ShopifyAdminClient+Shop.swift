import JSONBytes
import Logging

extension ShopifyAdminClient {
    static let shopDomainDocument = """
        query ShopDomain {
          shop { myshopifyDomain }
        }
        """

    struct ShopDomainData: Decodable, Sendable {
        var shop: Shop

        struct Shop: Decodable, Sendable {
            var myshopifyDomain: String
        }
    }

    /// The shop's `myshopify.com` domain, as the token's shop sees it: the cheapest question that proves Shopify
    /// accepts the token (1 point). A refused token throws ``ShopifyAdminError/unauthorized(status:tokenFingerprint:)``.
    public func shopDomain(as credentials: ShopifyCredentials, logger: Logger) async throws -> String {
        let data = try await self.send(
            GraphQLOperation<ShopDomainData>(name: "shop", query: Self.shopDomainDocument, variables: .object([:]), expectedCost: 1),
            as: credentials,
            logger: logger
        )
        return data.shop.myshopifyDomain
    }
}
