import Foundation
import JobQueue
import Logging
import RedisClient
import ShopifyAdmin
import Storage

/// What a job needs to talk to a business's shop.
struct ShopifyAccount: Sendable {
    var credentials: ShopifyCredentials
    var locationId: Int64
    var client: ShopifyAdminClient
    /// The connection as it was read (polling reads its high-water mark from it).
    var connection: ConnectionStore.Account
}

/// Resolves a business to its shop, its opened access token and the location it stocks at (fetched from Shopify
/// and remembered the first time it is missing).
///
/// Expiring offline tokens are refreshed before they expire, single-flight per business across every replica (a
/// Redis lock; the refresh token rotates, so two concurrent refreshes would lose one), and the new pair is stored
/// in one statement. A 401 from Shopify forces one refresh (``recover(from:businessId:logger:)``).
struct ShopifyAccounts: Sendable {
    let connections: ConnectionStore
    let cipher: TokenCipher?
    let client: ShopifyAdminClient
    /// Refreshes tokens; nil when the worker has no `SHOPIFY_API_KEY` / `SHOPIFY_API_SECRET`.
    let oauth: ShopifyOAuthClient?
    let redis: RedisClient?
    /// Refresh this long before the access token expires.
    var refreshMargin: TimeInterval = 300

    func account(businessId: UUID, logger: Logger) async throws -> ShopifyAccount {
        var account = try await self.connection(businessId: businessId, logger: logger)
        if let expires = account.tokenExpiresAt, expires.timeIntervalSinceNow < self.refreshMargin, account.sealedRefreshToken != nil {
            account = try await self.refreshed(account, force: false, logger: logger)
        }
        let credentials = ShopifyCredentials(shop: account.shop, accessToken: try self.open(account.sealedAccessToken, businessId: businessId))
        if let locationId = account.locationId {
            return ShopifyAccount(credentials: credentials, locationId: locationId, client: self.client, connection: account)
        }
        let locations = try await self.client.locations(as: credentials, logger: logger)
        guard let location = locations.first(where: \.isActive) else {
            throw PermanentJobError(code: "no_location", message: "the shop has no active location")
        }
        try await self.connections.saveLocation(businessId: businessId, locationId: location.id, logger: logger)
        return ShopifyAccount(credentials: credentials, locationId: location.id, client: self.client, connection: account)
    }

    /// Before products are pushed: the custom-ID metafield definition that `productSet` finds them by, created
    /// once per shop (connecting creates it; this covers connections made before that, or a failed attempt).
    func ensureCustomIdDefinition(_ account: ShopifyAccount, businessId: UUID, logger: Logger) async throws {
        guard account.connection.customIdDefinedAt == nil else { return }
        try await self.client.ensureCustomIdDefinition(as: account.credentials, logger: logger)
        try await self.connections.markCustomIdDefined(businessId: businessId, logger: logger)
    }

    /// Runs `body`, which calls Shopify for the business; a 401 refreshes the token once and hands the job back
    /// (``recover(from:businessId:logger:)``).
    func recoveringToken(businessId: UUID, logger: Logger, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as ShopifyAdminError where error.isUnauthorized {
            try await self.recover(from: error, businessId: businessId, logger: logger)
        }
    }

    /// After Shopify answered 401: refreshes the token once (unless another replica already did) and hands the job
    /// back to run with it; without a way to refresh, the job fails for good with a clear reason.
    func recover(from error: ShopifyAdminError, businessId: UUID, logger: Logger) async throws -> Never {
        let account = try await self.connection(businessId: businessId, logger: logger)
        guard account.sealedRefreshToken != nil, self.oauth != nil else {
            throw PermanentJobError(code: "token_rejected", message: "Shopify rejected the access token (\(error)); reconnect the shop")
        }
        // Refresh only if the refused token is still the stored one: another job refused with the same token may
        // already have replaced it, and a second refresh would be wasted (and rotate the pair again).
        let stored = ShopifyCredentials.fingerprint(of: try self.open(account.sealedAccessToken, businessId: businessId))
        if case .unauthorized(_, let refused) = error, refused != stored {
            throw JobRetryLater(after: .milliseconds(200), reason: "access token already refreshed after a 401")
        }
        _ = try await self.refreshed(account, force: true, logger: logger)
        throw JobRetryLater(after: .milliseconds(200), reason: "access token refreshed after a 401")
    }

    private func connection(businessId: UUID, logger: Logger) async throws -> ConnectionStore.Account {
        guard let account = try await self.connections.account(businessId: businessId, logger: logger), account.status == .active else {
            throw PermanentJobError(code: "shop_not_connected", message: "the business has no active Shopify connection")
        }
        return account
    }

    private func open(_ sealed: [UInt8]?, businessId: UUID) throws -> String {
        guard let sealed else { throw PermanentJobError(code: "missing_token", message: "the connection has no access token") }
        guard let cipher = self.cipher else {
            throw PermanentJobError(code: "token_keys_missing", message: "TOKEN_ENCRYPTION_KEYS is not configured")
        }
        do {
            return try cipher.open(sealed, context: businessId.uuidString.lowercased())
        } catch {
            throw PermanentJobError(code: "token_unreadable", message: error.description)
        }
    }

    /// Refreshes under the business's lock. Whoever gets the lock first re-reads the connection: if the token it
    /// saw was replaced meanwhile (another replica refreshed), that one is used and no second refresh happens.
    private func refreshed(_ seen: ConnectionStore.Account, force: Bool, logger: Logger) async throws -> ConnectionStore.Account {
        guard let oauth = self.oauth, let redis = self.redis, let cipher = self.cipher else { return seen }
        let businessId = seen.businessId
        let lease = RedisLease(redis: redis, key: "ecommerce:token-refresh:\(businessId.uuidString.lowercased())", ttl: .seconds(30))
        guard try await lease.acquire(waitingAtMost: .seconds(15)) else {
            throw JobRetryLater(after: .seconds(2), reason: "another replica is refreshing the token")
        }
        do {
            let current = try await self.connection(businessId: businessId, logger: logger)
            let replaced = current.sealedAccessToken != seen.sealedAccessToken
            let stillExpiring = current.tokenExpiresAt.map { $0.timeIntervalSinceNow < self.refreshMargin } ?? false
            guard !replaced, force || stillExpiring, let sealedRefresh = current.sealedRefreshToken else {
                try await lease.release()
                return current
            }
            let context = businessId.uuidString.lowercased()
            let refreshToken = try self.open(sealedRefresh, businessId: businessId)
            let grant = try await oauth.refresh(refreshToken: refreshToken, shop: current.shop, logger: logger)
            try await self.connections.saveTokens(
                businessId: businessId,
                sealedAccessToken: try cipher.seal(grant.accessToken, context: context),
                sealedRefreshToken: try cipher.seal(grant.refreshToken ?? refreshToken, context: context),
                expiresAt: grant.expiresIn.map { Date() + Double($0) },
                scopes: grant.scopes.isEmpty ? (current.scopes ?? "") : grant.scopes.joined(separator: ","),
                logger: logger
            )
            logger.info("Shopify access token refreshed", metadata: ["shop": "\(current.shop)"])
            try await lease.release()
            return try await self.connection(businessId: businessId, logger: logger)
        } catch {
            try? await lease.release()
            throw error
        }
    }

}
