import Foundation
import Logging
import Storage
import Synchronization

/// Resolves a shop domain to its connection, remembering answers briefly so that a burst of webhooks from one
/// shop costs one database query.
///
/// Caching means a connection change takes up to the TTL to be seen; that is harmless here because the worker,
/// not the gateway, acts on the connection's state.
final class ShopDirectory: Sendable {
    private struct Entry {
        var connection: ShopConnection?
        var expires: ContinuousClock.Instant
    }

    private let store: ConnectionStore
    private let ttl: Duration
    /// How long a lookup may wait for PostgreSQL: past it the delivery is answered 503 (Shopify delivers it again)
    /// rather than left waiting while the database is away.
    private let lookupTimeout: Duration
    private let cache = Mutex<[String: Entry]>([:])
    /// Bounds memory whatever the number of shops.
    private let maxEntries = 100_000

    init(store: ConnectionStore, ttl: Duration, lookupTimeout: Duration = .seconds(2)) {
        self.store = store
        self.ttl = ttl
        self.lookupTimeout = lookupTimeout
    }

    /// The remembered answer for `shop` while it is fresh: `.some(nil)` for a shop known to have no connection,
    /// `nil` when the database must be asked.
    func cachedConnection(forShop shop: String) -> ShopConnection?? {
        guard let entry = self.cache.withLock({ $0[shop] }), entry.expires > .now else { return nil }
        return .some(entry.connection)
    }

    func connection(forShop shop: String, logger: Logger) async throws -> ShopConnection? {
        if let cached = self.cachedConnection(forShop: shop) { return cached }
        let now = ContinuousClock.now
        let store = self.store
        let connection = try await withTimeout(self.lookupTimeout) { try await store.connection(forShop: shop, logger: logger) }
        self.cache.withLock { cache in
            if cache.count >= self.maxEntries { cache.removeAll(keepingCapacity: true) }
            cache[shop] = Entry(connection: connection, expires: now + self.ttl)
        }
        return connection
    }
}
