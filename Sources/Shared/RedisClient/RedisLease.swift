import Foundation

/// A lock in Redis that expires by itself: held by one owner for `ttl` unless extended, so a holder that dies frees
/// it within `ttl`. Only the owner can extend or release it (compare-and-delete in one script).
public struct RedisLease: Sendable {
    public let redis: RedisClient
    public let key: String
    public let ttl: Duration
    /// Who holds it; a fresh value per lease.
    public let owner: String

    public init(redis: RedisClient, key: String, ttl: Duration, owner: String = UUID().uuidString) {
        self.redis = redis
        self.key = key
        self.ttl = ttl
        self.owner = owner
    }

    private var ttlMilliseconds: RedisArgument { RedisArgument(String(max(1, Int((self.ttl / .milliseconds(1)).rounded())))) }

    /// Takes the lease if nobody holds it; false otherwise.
    public func acquire() async throws -> Bool {
        try await self.redis.send(["SET", RedisArgument(self.key), RedisArgument(self.owner), "NX", "PX", self.ttlMilliseconds]).orThrow() != .null
    }

    /// Takes the lease, asking again every `interval` until `timeout`; false if it stayed taken.
    public func acquire(waitingAtMost timeout: Duration, interval: Duration = .milliseconds(200)) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while try await !self.acquire() {
            guard ContinuousClock.now < deadline else { return false }
            try await Task.sleep(for: interval)
        }
        return true
    }

    /// Renews the lease for another `ttl`; false if it was lost (expired and taken by someone else).
    public func extend() async throws -> Bool {
        try await self.redis.run(Self.extendScript, keys: [self.key], arguments: [RedisArgument(self.owner), self.ttlMilliseconds]).orThrow().int == 1
    }

    /// Gives the lease up if this owner still holds it.
    public func release() async throws {
        try await self.redis.run(Self.releaseScript, keys: [self.key], arguments: [RedisArgument(self.owner)]).orThrow()
    }

    static let releaseScript = RedisScript("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0")
    static let extendScript = RedisScript("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0")
}
