import Foundation
import Logging
import PostgresNIO

/// The state of a business's link to its Shopify store.
public enum ConnectionStatus: String, Sendable, Codable {
    case active
    case disconnected
    case uninstalled
}

/// What the gateway needs to know about a shop: which business it feeds and whether the link is live.
public struct ShopConnection: Sendable, Equatable {
    public var businessId: UUID
    public var shop: String
    public var status: ConnectionStatus
}

/// `ecommerce_connection`: reading and changing business ⇄ shop links.
public struct ConnectionStore: Sendable {
    let client: PostgresClient

    public init(client: PostgresClient) {
        self.client = client
    }

    /// The connection of a shop domain: the active one if there is one, otherwise the most recent.
    public func connection(forShop shop: String, logger: Logger) async throws -> ShopConnection? {
        let rows = try await self.client.query(
            """
            SELECT business_id, shop_domain, status FROM ecommerce_connection
            WHERE shop_domain = \(shop)
            ORDER BY (status = 'active') DESC, updated_at DESC
            LIMIT 1
            """,
            logger: logger
        )
        for try await (businessId, shop, status) in rows.decode((UUID, String, String).self) {
            return ShopConnection(businessId: businessId, shop: shop, status: ConnectionStatus(rawValue: status) ?? .disconnected)
        }
        return nil
    }

    /// Creates or replaces a business's connection (the OAuth callback's final step, and test fixtures).
    public func save(businessId: UUID, shop: String, status: ConnectionStatus, logger: Logger) async throws {
        try await self.client.query(
            """
            INSERT INTO ecommerce_connection (business_id, shop_domain, status, installed_at)
            VALUES (\(businessId), \(shop), \(status.rawValue), now())
            ON CONFLICT (business_id) DO UPDATE
            SET shop_domain = EXCLUDED.shop_domain, status = EXCLUDED.status, updated_at = now(),
                uninstalled_at = NULL, installed_at = now(),
                custom_id_defined_at = CASE WHEN ecommerce_connection.shop_domain = EXCLUDED.shop_domain THEN ecommerce_connection.custom_id_defined_at END,
                -- Another shop starts afresh: its own location, and polling from now.
                location_id = CASE WHEN ecommerce_connection.shop_domain = EXCLUDED.shop_domain THEN ecommerce_connection.location_id END,
                last_synced_at = CASE WHEN ecommerce_connection.shop_domain = EXCLUDED.shop_domain THEN ecommerce_connection.last_synced_at END,
                created_at = CASE WHEN ecommerce_connection.shop_domain = EXCLUDED.shop_domain THEN ecommerce_connection.created_at ELSE now() END
            """,
            logger: logger
        )
    }

    /// The shop is connected to another business (its active connection); connecting it here is refused.
    public struct ShopConnectedElsewhere: Error, Sendable {
        public var shop: String
    }

    /// The OAuth callback's final step (and the `connect` ops command's): the business's connection to `shop` and its tokens, written in one
    /// statement (a crash cannot leave a connection without its token). A shop actively connected to another
    /// business is refused with ``ShopConnectedElsewhere``.
    public func connect(
        businessId: UUID,
        shop: String,
        sealedAccessToken: [UInt8],
        sealedRefreshToken: [UInt8]?,
        expiresAt: Date?,
        scopes: String?,
        logger: Logger
    ) async throws {
        do {
            try await self.client.query(
                """
                INSERT INTO ecommerce_connection (business_id, shop_domain, status, installed_at, access_token_ciphertext,
                                                  refresh_token_ciphertext, token_expires_at, scopes)
                VALUES (\(businessId), \(shop), 'active', now(), \(ByteBuffer(bytes: sealedAccessToken)),
                        \(sealedRefreshToken.map { ByteBuffer(bytes: $0) }), \(expiresAt), \(scopes))
                ON CONFLICT (business_id) DO UPDATE
                SET shop_domain = EXCLUDED.shop_domain, status = 'active', updated_at = now(), uninstalled_at = NULL, installed_at = now(),
                    access_token_ciphertext = EXCLUDED.access_token_ciphertext, refresh_token_ciphertext = EXCLUDED.refresh_token_ciphertext,
                    token_expires_at = EXCLUDED.token_expires_at, scopes = EXCLUDED.scopes,
                    -- Another shop starts afresh: its own location, definition and polling from now.
                    custom_id_defined_at = CASE WHEN ecommerce_connection.shop_domain = EXCLUDED.shop_domain THEN ecommerce_connection.custom_id_defined_at END,
                    location_id = CASE WHEN ecommerce_connection.shop_domain = EXCLUDED.shop_domain THEN ecommerce_connection.location_id END,
                    last_synced_at = CASE WHEN ecommerce_connection.shop_domain = EXCLUDED.shop_domain THEN ecommerce_connection.last_synced_at END,
                    created_at = CASE WHEN ecommerce_connection.shop_domain = EXCLUDED.shop_domain THEN ecommerce_connection.created_at ELSE now() END
                """,
                logger: logger
            )
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            // `ecommerce_connection_active_shop`: one active connection per shop.
            throw ShopConnectedElsewhere(shop: shop)
        }
    }

    /// `app/uninstalled`: the token is dead. Marks the connection uninstalled and wipes its tokens; history stays.
    /// An uninstall `triggeredAt` before the current install began (a retry delivered after a reinstall) changes
    /// nothing. Returns whether a connection of that shop changed.
    @discardableResult
    public func markUninstalled(businessId: UUID, shop: String, triggeredAt: Date? = nil, logger: Logger) async throws -> Bool {
        let rows = try await self.client.query(
            """
            UPDATE ecommerce_connection
            SET status = 'uninstalled', uninstalled_at = now(), updated_at = now(),
                access_token_ciphertext = NULL, refresh_token_ciphertext = NULL, token_expires_at = NULL
            WHERE business_id = \(businessId) AND shop_domain = \(shop) AND status <> 'uninstalled'
              AND (\(triggeredAt)::timestamptz IS NULL OR installed_at IS NULL OR installed_at <= \(triggeredAt))
            RETURNING business_id
            """,
            logger: logger
        )
        for try await _ in rows.decode(UUID.self) { return true }
        return false
    }

    /// What a worker needs to call Shopify for a business: the shop, the sealed token, the location to stock at.
    public struct Account: Sendable {
        public var businessId: UUID
        public var shop: String
        public var status: ConnectionStatus
        public var sealedAccessToken: [UInt8]?
        public var locationId: Int64?
        /// The high-water mark of polling: orders updated before it were read.
        public var lastSyncedAt: Date?
        public var connectedAt: Date
        /// When the current install began (the last OAuth callback).
        public var installedAt: Date?
        /// When the shop's custom-ID metafield definition was made sure of; nil until then.
        public var customIdDefinedAt: Date?
        /// For expiring offline tokens: when the access token expires, and the sealed refresh token.
        public var tokenExpiresAt: Date?
        public var sealedRefreshToken: [UInt8]?
        public var scopes: String?
    }

    /// What calling Shopify for the business needs (its shop, sealed token, location); nil when it was never connected.
    public func account(businessId: UUID, logger: Logger) async throws -> Account? {
        let rows = try await self.client.query(
            """
            SELECT shop_domain, status, access_token_ciphertext, location_id, last_synced_at, created_at, token_expires_at,
                   refresh_token_ciphertext, scopes, installed_at, custom_id_defined_at
            FROM ecommerce_connection WHERE business_id = \(businessId)
            """,
            logger: logger
        )
        for try await (shop, status, sealed, location, lastSynced, created, expires, refresh, scopes, installed, customIdDefined) in rows.decode(
            (String, String, ByteBuffer?, String?, Date?, Date, Date?, ByteBuffer?, String?, Date?, Date?).self
        ) {
            return Account(
                businessId: businessId,
                shop: shop,
                status: ConnectionStatus(rawValue: status) ?? .disconnected,
                sealedAccessToken: sealed.map { Array($0.readableBytesView) },
                locationId: location.flatMap { Int64($0) },
                lastSyncedAt: lastSynced,
                connectedAt: created,
                installedAt: installed,
                customIdDefinedAt: customIdDefined,
                tokenExpiresAt: expires,
                sealedRefreshToken: refresh.map { Array($0.readableBytesView) },
                scopes: scopes
            )
        }
        return nil
    }

    /// Stores a business's access token (sealed by ``TokenCipher``) and granted scopes.
    public func saveAccessToken(businessId: UUID, sealed: [UInt8], scopes: String?, logger: Logger) async throws {
        try await self.client.query(
            """
            UPDATE ecommerce_connection SET access_token_ciphertext = \(ByteBuffer(bytes: sealed)), scopes = \(scopes), updated_at = now()
            WHERE business_id = \(businessId)
            """,
            logger: logger
        )
    }

    /// Remembers that the shop has the custom-ID metafield definition (created, or found taken).
    public func markCustomIdDefined(businessId: UUID, logger: Logger) async throws {
        try await self.client.query(
            "UPDATE ecommerce_connection SET custom_id_defined_at = now(), updated_at = now() WHERE business_id = \(businessId)",
            logger: logger
        )
    }

    /// Remembers the Shopify location a business stocks at.
    public func saveLocation(businessId: UUID, locationId: Int64, logger: Logger) async throws {
        try await self.client.query(
            "UPDATE ecommerce_connection SET location_id = \(String(locationId)), updated_at = now() WHERE business_id = \(businessId)",
            logger: logger
        )
    }

    /// Moves the polling high-water mark forward (never back).
    public func advanceLastSynced(businessId: UUID, to time: Date, logger: Logger) async throws {
        try await self.client.query(
            """
            UPDATE ecommerce_connection SET last_synced_at = GREATEST(COALESCE(last_synced_at, \(time)), \(time)), updated_at = now()
            WHERE business_id = \(businessId)
            """,
            logger: logger
        )
    }

    /// Every business with an active connection (what the poll schedule must hold).
    public func activeBusinessIds(logger: Logger) async throws -> [UUID] {
        var ids: [UUID] = []
        for try await id in try await self.client.query("SELECT business_id FROM ecommerce_connection WHERE status = 'active'", logger: logger)
            .decode(UUID.self)
        {
            ids.append(id)
        }
        return ids
    }

    /// One page of the active connections' business ids in id order, the first after `after` (keyset paging: the
    /// cost of a page does not grow with how far the walk has come).
    public func activeBusinessIds(after: UUID?, limit: Int, logger: Logger) async throws -> [UUID] {
        var ids: [UUID] = []
        let rows =
            if let after {
                try await self.client.query(
                    "SELECT business_id FROM ecommerce_connection WHERE status = 'active' AND business_id > \(after) ORDER BY business_id LIMIT \(limit)",
                    logger: logger
                )
            } else {
                try await self.client.query(
                    "SELECT business_id FROM ecommerce_connection WHERE status = 'active' ORDER BY business_id LIMIT \(limit)",
                    logger: logger
                )
            }
        for try await id in rows.decode(UUID.self) { ids.append(id) }
        return ids
    }

    /// Which of `ids` have an active connection.
    public func activeAmong(_ ids: [UUID], logger: Logger) async throws -> Set<UUID> {
        guard !ids.isEmpty else { return [] }
        var active: Set<UUID> = []
        for try await id in try await self.client.query(
            "SELECT business_id FROM ecommerce_connection WHERE status = 'active' AND business_id = ANY(\(ids))",
            logger: logger
        ).decode(UUID.self) {
            active.insert(id)
        }
        return active
    }

    /// Records a fresh OAuth `state` for a business and shop, valid for `lifetime`; expired ones are swept.
    public func createOAuthState(_ state: String, businessId: UUID, shop: String, lifetime: Duration, logger: Logger) async throws {
        try await self.client.query("DELETE FROM ecommerce_oauth_state WHERE expires_at < now() - interval '1 day'", logger: logger)
        try await self.client.query(
            """
            INSERT INTO ecommerce_oauth_state (state, business_id, shop_domain, expires_at)
            VALUES (\(state), \(businessId), \(shop), now() + make_interval(secs => \(Double(lifetime.components.seconds))))
            """,
            logger: logger
        )
    }

    /// Uses a `state` once: the business it was issued for, if it exists, is unexpired, unused and for this shop.
    /// (The lookup is by primary key; a guess must match 256 random bits.)
    public func consumeOAuthState(_ state: String, shop: String, logger: Logger) async throws -> UUID? {
        let rows = try await self.client.query(
            """
            UPDATE ecommerce_oauth_state SET used_at = now()
            WHERE state = \(state) AND used_at IS NULL AND expires_at > now() AND shop_domain = \(shop)
            RETURNING business_id
            """,
            logger: logger
        )
        for try await id in rows.decode(UUID.self) { return id }
        return nil
    }

    /// Stores the tokens of an OAuth grant (sealed), with their expiry and the granted scopes.
    public func saveTokens(
        businessId: UUID,
        sealedAccessToken: [UInt8],
        sealedRefreshToken: [UInt8]?,
        expiresAt: Date?,
        scopes: String,
        logger: Logger
    ) async throws {
        try await self.client.query(
            """
            UPDATE ecommerce_connection
            SET access_token_ciphertext = \(ByteBuffer(bytes: sealedAccessToken)),
                refresh_token_ciphertext = \(sealedRefreshToken.map { ByteBuffer(bytes: $0) }),
                token_expires_at = \(expiresAt), scopes = \(scopes), updated_at = now()
            WHERE business_id = \(businessId)
            """,
            logger: logger
        )
    }

    /// The connection as the API shows it (never the tokens).
    public struct Summary: Codable, Sendable {
        public var businessId: UUID
        public var shop: String
        public var status: ConnectionStatus
        public var scopes: [String]
        public var locationId: Int64?
        public var lastSyncedAt: Date?
        public var tokenExpiresAt: Date?
        public var connectedAt: Date
        public var updatedAt: Date
        /// When the next scheduled poll is due (filled in from the schedule).
        public var nextPollAt: Date?
    }

    /// The connection as the admin API shows it, without any secret; nil when it was never connected.
    public func summary(businessId: UUID, logger: Logger) async throws -> Summary? {
        let rows = try await self.client.query(
            """
            SELECT shop_domain, status, scopes, location_id, last_synced_at, token_expires_at, created_at, updated_at
            FROM ecommerce_connection WHERE business_id = \(businessId)
            """,
            logger: logger
        )
        for try await (shop, status, scopes, location, lastSynced, expires, created, updated) in rows.decode(
            (String, String, String?, String?, Date?, Date?, Date, Date).self
        ) {
            return Summary(
                businessId: businessId,
                shop: shop,
                status: ConnectionStatus(rawValue: status) ?? .disconnected,
                scopes: (scopes ?? "").split(separator: ",").map(String.init),
                locationId: location.flatMap { Int64($0) },
                lastSyncedAt: lastSynced,
                tokenExpiresAt: expires,
                connectedAt: created,
                updatedAt: updated
            )
        }
        return nil
    }

    /// Disconnects a business (FlowPOS side): polling stops, tokens are wiped, history stays. Returns whether an
    /// active connection changed.
    @discardableResult
    public func disconnect(businessId: UUID, logger: Logger) async throws -> Bool {
        let rows = try await self.client.query(
            """
            UPDATE ecommerce_connection
            SET status = 'disconnected', access_token_ciphertext = NULL, refresh_token_ciphertext = NULL, token_expires_at = NULL,
                updated_at = now()
            WHERE business_id = \(businessId) AND status = 'active'
            RETURNING business_id
            """,
            logger: logger
        )
        for try await _ in rows.decode(UUID.self) { return true }
        return false
    }

    /// `shop/redact` (48 hours after uninstall): deletes what the module holds about the shop — its orders and
    /// their lines, mappings, the outbox, OAuth states and the connection itself. FlowPOS's own catalog and stock
    /// stay (they are the merchant's point-of-sale data). Only an uninstalled connection of that shop is redacted:
    /// a shop reinstalled since keeps its data. Returns whether anything was deleted.
    @discardableResult
    public func redactShop(businessId: UUID, shop: String, logger: Logger) async throws -> Bool {
        try await self.client.withTransaction(logger: logger) { connection in
            let rows = try await connection.query(
                """
                DELETE FROM ecommerce_connection WHERE business_id = \(businessId) AND shop_domain = \(shop) AND status = 'uninstalled'
                RETURNING business_id
                """,
                logger: logger
            )
            var deleted = false
            for try await _ in rows.decode(UUID.self) { deleted = true }
            guard deleted else { return false }
            for table in ["ecommerce_ingested_order", "ecommerce_product_mapping", "ecommerce_collection_mapping", "ecommerce_inventory_outbox"] {
                var query = PostgresQuery(unsafeSQL: "DELETE FROM \(table) WHERE business_id = $1")
                query.binds.append(businessId)
                try await connection.query(query, logger: logger)
            }
            try await connection.query("DELETE FROM ecommerce_oauth_state WHERE shop_domain = \(shop)", logger: logger)
            return true
        }
    }
}
