import Foundation
import JobQueue
import Logging
import ShopifyAdmin
import Storage

/// What a job needs to talk to a business's shop.
struct ShopifyAccount: Sendable {
    var credentials: ShopifyCredentials
    var locationId: Int64
    var client: ShopifyAdminClient
}

/// Resolves a business to its shop, its opened access token and the location it stocks at (fetched from Shopify
/// and remembered the first time it is missing).
struct ShopifyAccounts: Sendable {
    let connections: ConnectionStore
    let cipher: TokenCipher?
    let client: ShopifyAdminClient

    func account(businessId: UUID, logger: Logger) async throws -> ShopifyAccount {
        guard let account = try await self.connections.account(businessId: businessId, logger: logger), account.status == .active else {
            throw PermanentJobError(code: "shop_not_connected", message: "the business has no active Shopify connection")
        }
        guard let sealed = account.sealedAccessToken else {
            throw PermanentJobError(code: "missing_token", message: "the connection has no access token")
        }
        guard let cipher = self.cipher else {
            throw PermanentJobError(code: "token_keys_missing", message: "TOKEN_ENCRYPTION_KEYS is not configured")
        }
        let token: String
        do {
            token = try cipher.open(sealed, context: businessId.uuidString.lowercased())
        } catch {
            throw PermanentJobError(code: "token_unreadable", message: error.description)
        }
        let credentials = ShopifyCredentials(shop: account.shop, accessToken: token)
        if let locationId = account.locationId {
            return ShopifyAccount(credentials: credentials, locationId: locationId, client: self.client)
        }
        let locations = try await self.client.locations(as: credentials, logger: logger)
        guard let location = locations.first(where: \.isActive) else {
            throw PermanentJobError(code: "no_location", message: "the shop has no active location")
        }
        try await self.connections.saveLocation(businessId: businessId, locationId: location.id, logger: logger)
        return ShopifyAccount(credentials: credentials, locationId: location.id, client: self.client)
    }
}
