import JobQueue
import RedisClient

/// Moves what a single Redis holds under the key names of versions before hash tags (`ecommerce-orders:ready`,
/// `ecommerce:poll-schedule`, …) to today's names (`{ecommerce-orders}:ready`, `{ecommerce-polling}:schedule`), so
/// that no job waits under a name nobody reads any more: `ecommerce-worker redis-migrate-keys`.
///
/// A key whose new name is free is renamed; where both exist (processes of both versions ran meanwhile) they are
/// merged: sorted sets keep each member's higher score (a ready job at its later tag, a lease at its later expiry)
/// and add backlog counts up, hashes keep what the new key has and add what only the old one has (claimed-job
/// counts are added, and maintenance recounts them from the claims anyway). Safe to run again: a second run finds
/// nothing to move. Dedupe keys are not moved (which queue a key belongs to is not in its name): they expire within
/// their window, and a delivery repeated across the upgrade is enqueued once more, which the handlers' idempotence
/// absorbs (an order is applied once by its key in PostgreSQL). The old deliveries journal expires within its week.
///
/// Only on a single Redis: the old names of one queue hash to different slots, so no cluster ever held them.
public struct RedisKeyMigration: Sendable {
    let redis: RedisClient

    public init(redis: RedisClient) {
        self.redis = redis
    }

    /// Old name → new name: every queue's keys and the poll schedule.
    public static func renames(queues: [String] = EcommerceQueue.all) -> [(untagged: String, tagged: String)] {
        queues.flatMap { QueueKeys.untaggedNames(queue: $0) } + [(PollSchedule.untaggedKey, PollSchedule.key)]
    }

    /// KEYS: old name, new name, … pairs. Returns how many old keys were moved.
    static let moveScript = RedisScript(
        """
        local moved = 0
        for i = 1, #KEYS, 2 do
          local from, to = KEYS[i], KEYS[i + 1]
          local kind = redis.call('TYPE', from).ok
          if kind ~= 'none' then
            if redis.call('EXISTS', to) == 0 then
              redis.call('RENAME', from, to)
            elseif kind == 'zset' then
              local sum = string.sub(to, -#':backlog') == ':backlog'
              redis.call('ZUNIONSTORE', to, 2, to, from, 'AGGREGATE', sum and 'SUM' or 'MAX')
              redis.call('DEL', from)
            elseif kind == 'hash' then
              local add = string.sub(to, -#':running') == ':running'
              local fields = redis.call('HGETALL', from)
              for j = 1, #fields, 2 do
                if add then redis.call('HINCRBY', to, fields[j], fields[j + 1]) else redis.call('HSETNX', to, fields[j], fields[j + 1]) end
              end
              redis.call('DEL', from)
            else
              -- A string (the dead letters' walk cursor): the new one stands.
              redis.call('DEL', from)
            end
            moved = moved + 1
          end
        end
        return moved
        """
    )

    /// Moves every old key to its new name; returns how many were moved. Refused on a cluster.
    @discardableResult
    public func run(queues: [String] = EcommerceQueue.all) async throws -> Int {
        guard !self.redis.configuration.isCluster else {
            throw RedisError.replyError("redis-migrate-keys runs on the single Redis that held the old names, before moving to a cluster")
        }
        let pairs = Self.renames(queues: queues)
        let reply = try await self.redis.run(Self.moveScript, keys: pairs.flatMap { [$0.untagged, $0.tagged] }, arguments: [])
        // The old count of dedupe keys: nothing reads it any more.
        _ = try await self.redis.send(["DEL", "ecommerce:dedupe-expiring"])
        return reply.int ?? 0
    }
}
