import Foundation
import RedisClient

/// A shop's GraphQL cost budget, shared by every worker through Redis: a leaky bucket mirrored from what
/// Shopify reports, so that ten workers pushing to one shop together stay inside the one budget Shopify gives
/// the app for that shop.
///
/// Before a call a worker reserves the operation's expected cost (``reserve(shop:cost:)``); when the bucket is
/// short it is told how long to wait. After the answer it settles (``settle(shop:reserved:charged:status:)``): the
/// difference between reserved and charged goes back, and the bucket is lowered to what Shopify reports as
/// available (never raised: Shopify does not know about reservations still in flight). The bucket's size and
/// restore rate are taken from each answer's `throttleStatus`; until the first answer, conservative defaults apply.
public struct ShopifyCostBudget: Sendable {
    let redis: RedisClient
    let defaultMaximum: Double
    let defaultRestoreRate: Double

    public init(redis: RedisClient, defaultMaximum: Double = 1000, defaultRestoreRate: Double = 50) {
        self.redis = redis
        self.defaultMaximum = defaultMaximum
        self.defaultRestoreRate = defaultRestoreRate
    }

    /// The Redis hash of a shop's bucket.
    public static func key(shop: String) -> String { "ecommerce:shopify-budget:\(shop)" }

    /// Common part of both scripts: the bucket refilled up to Redis' clock.
    private static let refill = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local b = redis.call('HMGET', KEYS[1], 'available', 'max', 'rate', 'at')
        local max = tonumber(b[2]) or tonumber(ARGV[2])
        local rate = tonumber(b[3]) or tonumber(ARGV[3])
        local available = tonumber(b[1]) or max
        local at = tonumber(b[4]) or now
        available = math.min(max, available + math.max(0, now - at) / 1000 * rate)
        """

    private static let store = """
        redis.call('HSET', KEYS[1], 'available', tostring(available), 'max', tostring(max), 'rate', tostring(rate), 'at', tostring(now))
        redis.call('PEXPIRE', KEYS[1], 3600000)
        """

    /// ARGV: cost, default maximum, default restore rate. Returns 0 when granted, else milliseconds to wait.
    static let reserveScript = RedisScript(
        refill + """

            local cost = math.min(tonumber(ARGV[1]), max)
            local wait = 0
            if available >= cost then
                available = available - cost
            else
                wait = math.ceil((cost - available) / rate * 1000)
            end
            """ + "\n" + store + """

                return wait
                """
    )

    /// ARGV: refund (reserved − charged), default maximum, default restore rate, then optionally Shopify's
    /// maximumAvailable, currentlyAvailable and restoreRate.
    static let settleScript = RedisScript(
        refill + """

            available = available + tonumber(ARGV[1])
            if ARGV[4] then
                max = tonumber(ARGV[4])
                rate = tonumber(ARGV[6])
                available = math.min(available, tonumber(ARGV[5]))
            end
            available = math.max(0, math.min(max, available))
            """ + "\n" + store + """

                return 0
                """
    )

    /// Takes `cost` points from the shop's bucket; nil when granted, otherwise how long to wait before asking again.
    public func reserve(shop: String, cost: Double) async throws -> Duration? {
        let reply = try await self.redis.run(
            Self.reserveScript,
            keys: [Self.key(shop: shop)],
            arguments: [RedisArgument(String(cost)), RedisArgument(String(self.defaultMaximum)), RedisArgument(String(self.defaultRestoreRate))]
        ).orThrow()
        let wait = reply.int ?? 0
        return wait > 0 ? .milliseconds(wait) : nil
    }

    /// Settles a reservation with what Shopify charged, and follows Shopify's view of the bucket when it sent one.
    public func settle(shop: String, reserved: Double, charged: Double, status: QueryCost.ThrottleStatus?) async throws {
        var arguments = [
            RedisArgument(String(reserved - charged)), RedisArgument(String(self.defaultMaximum)), RedisArgument(String(self.defaultRestoreRate)),
        ]
        if let status {
            arguments += [
                RedisArgument(String(status.maximumAvailable)), RedisArgument(String(status.currentlyAvailable)),
                RedisArgument(String(status.restoreRate)),
            ]
        }
        try await self.redis.run(Self.settleScript, keys: [Self.key(shop: shop)], arguments: arguments).orThrow()
    }
}
