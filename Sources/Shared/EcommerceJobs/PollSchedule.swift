import Foundation
import JobQueue
import Logging
import RedisClient

/// The poll schedule in Redis: a sorted set of businesses scored by their next due time (ms), each business at
/// its own offset within the interval so that many businesses do not poll at once.
///
/// A tick (one Lua script) takes the due businesses, moves each to its next slot and enqueues one poll per
/// business and slot unless that slot was ticked already (a hash of each business's last ticked slot), all
/// atomically: however many workers tick, each slot is polled exactly once. Reconciliation makes the set hold
/// exactly the active connections. Both keys carry the polling queue's hash tag: in a Redis Cluster the tick's one
/// script touches one slot, its queue's.
public struct PollSchedule: Sendable {
    let redis: RedisClient
    public let interval: Duration
    public static let key = QueueKeys.tag(OrderPollJob.queue) + ":schedule"
    /// Business → the last slot a tick enqueued a poll for.
    public static let tickedKey = QueueKeys.tag(OrderPollJob.queue) + ":ticked"
    /// The schedule's name before hash tags (`redis-migrate-keys` renames it).
    public static let untaggedKey = "ecommerce:poll-schedule"

    public init(redis: RedisClient, interval: Duration) {
        self.redis = redis
        self.interval = interval
    }

    var intervalMilliseconds: Int64 { Int64(self.interval.components.seconds) * 1000 + self.interval.components.attoseconds / 1_000_000_000_000_000 }

    /// A business's offset within the interval, the same in every process (from its id's first bytes).
    public func offset(of businessId: UUID) -> Int64 {
        let bytes = withUnsafeBytes(of: businessId.uuid) { Array($0.prefix(8)) }
        let value = bytes.reduce(UInt64(0)) { ($0 << 8) | UInt64($1) }
        return Int64(value % UInt64(self.intervalMilliseconds))
    }

    /// The business's first due time after `now` (ms).
    func nextDue(of businessId: UUID, after now: Int64) -> Int64 {
        let period = self.intervalMilliseconds
        let due = now - now % period + self.offset(of: businessId)
        return due > now ? due : due + period
    }

    /// KEYS: schedule, the poll queue's ready keys (``QueueKeys/readyKeys``), ticked slots. ARGV: interval ms, max
    /// attempts, kind, enqueuedAt, limit. Returns how many polls were enqueued.
    static let tickScript = RedisScript(
        """
        \(FairShare.luaForProducers)
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local interval = tonumber(ARGV[1])
        local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[5]))
        local enqueued = 0
        for i = 1, #due, 2 do
            local business = due[i]
            local slot = tonumber(due[i + 1])
            -- Missed slots are skipped: one poll reads everything since the last one.
            local nextDue = slot + interval * (math.floor((now - slot) / interval) + 1)
            redis.call('ZADD', KEYS[1], 'XX', nextDue, business)
            local slotText = string.format('%d', slot)
            local dedupeKey = 'poll:' .. business .. ':' .. slotText
            if tonumber(redis.call('HGET', KEYS[5], business) or '-1') < slot then
                redis.call('HSET', KEYS[5], business, slotText)
                addReady(KEYS[2], KEYS[3], KEYS[4], cjson.encode({
                    id = business .. '-' .. slotText, kind = ARGV[3], businessId = business, attempt = 0,
                    maxAttempts = tonumber(ARGV[2]), enqueuedAt = ARGV[4], dedupeKey = dedupeKey, payload = {slot = slot, tickedAt = now}
                }), false)
                enqueued = enqueued + 1
            end
        end
        return enqueued
        """
    )

    /// Enqueues the polls that are due (at most `limit` per call); returns how many.
    @discardableResult
    public func tick(limit: Int = 500) async throws -> Int {
        let reply = try await self.redis.run(
            Self.tickScript,
            keys: [Self.key] + QueueKeys(queue: OrderPollJob.queue).readyKeys + [Self.tickedKey],
            arguments: [
                RedisArgument(Int(self.intervalMilliseconds)), RedisArgument(OrderPollJob.maxAttempts), RedisArgument(OrderPollJob.kind),
                RedisArgument(ISO8601DateFormatter().string(from: Date())), RedisArgument(limit),
            ]
        ).orThrow()
        return reply.int ?? 0
    }

    /// Makes the schedule hold exactly `active`: adds the missing at their next due time, removes the others.
    public func reconcile(active: [UUID]) async throws -> (added: Int, removed: Int) {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let scheduled = Set(try await self.redis.send(["ZRANGE", RedisArgument(Self.key), "0", "-1"]).orThrow().elements.compactMap(\.text))
        let wanted = Set(active.map { $0.uuidString.lowercased() })
        let missing = active.filter { !scheduled.contains($0.uuidString.lowercased()) }
        let extra = scheduled.subtracting(wanted)
        for chunk in stride(from: 0, to: missing.count, by: 500).map({ Array(missing[$0..<min($0 + 500, missing.count)]) }) {
            let pairs = chunk.flatMap { [RedisArgument(Int(self.nextDue(of: $0, after: now))), RedisArgument($0.uuidString.lowercased())] }
            try await self.redis.send([RedisArgument("ZADD"), RedisArgument(Self.key), RedisArgument("NX")] + pairs).orThrow()
        }
        for chunk in stride(from: 0, to: extra.count, by: 500).map({ Array(Array(extra)[$0..<min($0 + 500, extra.count)]) }) {
            let replies = try await self.redis.send(commands: [
                [RedisArgument("ZREM"), RedisArgument(Self.key)] + chunk.map { RedisArgument($0) },
                [RedisArgument("HDEL"), RedisArgument(Self.tickedKey)] + chunk.map { RedisArgument($0) },
            ])
            for reply in replies { try reply.orThrow() }
        }
        return (missing.count, extra.count)
    }

    /// Adds businesses to the schedule at their next due time, leaving others as they are (a new connection).
    public func reconcile(adding businesses: [UUID]) async throws -> Int {
        guard !businesses.isEmpty else { return 0 }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let pairs = businesses.flatMap { [RedisArgument(Int(self.nextDue(of: $0, after: now))), RedisArgument($0.uuidString.lowercased())] }
        return try await self.redis.send([RedisArgument("ZADD"), RedisArgument(Self.key), RedisArgument("NX")] + pairs).orThrow().int ?? 0
    }
}
