/// Fair shares across shops inside one queue: start-time fair queueing with one virtual clock per queue.
///
/// Every ready job carries a tag, its score in the queue's ready set. A job added by a producer gets its group's
/// next tag: one past the later of the group's last tag and the queue's clock, which is the tag of the last job
/// claimed. Claims take the lowest tags first, so a shop with 10,000 ready jobs (tags clock+1 … clock+10,000) and a
/// shop with one (clock+1) take turns: each group gets one job per step of the clock, however many it has waiting.
/// A job that has already waited (handed back, recovered from a lost worker) goes in at the clock itself, ahead of
/// every group's next turn.
///
/// A job's group is its business (one shop per business), else its shop, else the empty group: read from the
/// envelope by pattern, the same way in every script, so that what a claim counts in and what an ack counts out
/// always match. Everything is in keys of the one queue, so no script spans two queues.
public enum FairShare {
    /// Lua: `groupOf(raw)`, the group of an envelope (lower-cased, so that a business id written in either case is
    /// one group).
    public static let luaGroupOf = """
        local function groupOf(raw)
          local group = string.match(raw, '"businessId":"([%w%-]+)"') or string.match(raw, '"shop":"([%w%.%-]+)"') or ''
          return string.lower(group)
        end
        """

    /// Lua (needs ``luaGroupOf``): `addReady(ready, fair, backlog, raw, waited)` adds an envelope to the ready set at
    /// its group's next tag, or at the clock when `waited` (it has had its turn already); counts it in the group's
    /// backlog unless the very same envelope was there already.
    public static let luaAddReady = """
        local function addReady(ready, fair, backlog, raw, waited)
          local group = groupOf(raw)
          local known = redis.call('HMGET', fair, '*', group)
          local clock = tonumber(known[1] or '0')
          local tag = clock
          if not waited then
            tag = math.max(tonumber(known[2] or '0'), clock) + 1
            redis.call('HSET', fair, group, tag)
          end
          if redis.call('ZADD', ready, tag, raw) == 1 then redis.call('ZINCRBY', backlog, 1, group) end
        end
        """

    /// Lua (needs ``luaGroupOf``): `unclaim(inflight, owners, leases, running, id)` ends a claim (the caller checked its
    /// owner, or its lease expired) and uncounts it from its group's claimed jobs; returns the envelope, or false when
    /// it was gone.
    static let luaUnclaim = """
        local function unclaim(inflight, owners, leases, running, id)
          local raw = redis.call('HGET', inflight, id)
          if raw then
            local group = groupOf(raw)
            if redis.call('HINCRBY', running, group, -1) <= 0 then redis.call('HDEL', running, group) end
          end
          redis.call('HDEL', inflight, id)
          redis.call('HDEL', owners, id)
          redis.call('ZREM', leases, id)
          return raw
        end
        """

    /// Lua: `takeReady(ready, fair, backlog, raw, group, tag, clock)` removes a ready job that is being claimed,
    /// uncounts it from its group's backlog (forgetting the group's last tag when nothing of it is left) and moves
    /// the clock to its tag. Returns the new clock.
    static let luaTakeReady = """
        local function takeReady(ready, fair, backlog, raw, group, tag, clock)
          redis.call('ZREM', ready, raw)
          if tonumber(redis.call('ZINCRBY', backlog, -1, group)) <= 0 then
            redis.call('ZREM', backlog, group)
            redis.call('HDEL', fair, group)
          end
          if tag > clock then
            redis.call('HSET', fair, '*', tag)
            return tag
          end
          return clock
        end
        """

    /// The group of an envelope, read as ``luaGroupOf`` reads it (for drivers and tools outside Redis).
    public static func group(of raw: [UInt8]) -> String {
        let value =
            self.firstValue(after: Array(#""businessId":""#.utf8), in: raw, allowing: { $0 == UInt8(ascii: "-") })
            ?? self.firstValue(after: Array(#""shop":""#.utf8), in: raw, allowing: { $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") })
        return value.map { String(decoding: $0, as: UTF8.self).lowercased() } ?? ""
    }

    /// Lua's `string.match(raw, '<prefix>([%w<extra>]+)"')`: the first run of letters, digits and allowed bytes
    /// that follows `prefix` and ends at a quote.
    private static func firstValue(after prefix: [UInt8], in raw: [UInt8], allowing extra: (UInt8) -> Bool) -> ArraySlice<UInt8>? {
        guard raw.count > prefix.count else { return nil }
        var start = 0
        while start + prefix.count <= raw.count {
            if raw[start..<start + prefix.count].elementsEqual(prefix) {
                var end = start + prefix.count
                while end < raw.count, raw[end].isASCIIAlphanumeric || extra(raw[end]) { end += 1 }
                if end > start + prefix.count, end < raw.count, raw[end] == UInt8(ascii: "\"") {
                    return raw[(start + prefix.count)..<end]
                }
            }
            start += 1
        }
        return nil
    }

    /// The Lua a script needs to add ready jobs as part of more work (``luaGroupOf`` and ``luaAddReady``); call
    /// `addReady` with the queue's ``QueueKeys/readyKeys``.
    public static let luaForProducers = luaGroupOf + "\n" + luaAddReady

    /// The Lua of every script that ends claims or hands jobs back: ``luaGroupOf``, ``luaAddReady`` and ``luaUnclaim``.
    static let luaForClaims = luaForProducers + "\n" + luaUnclaim
}

extension UInt8 {
    fileprivate var isASCIIAlphanumeric: Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self)
            || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self)
    }
}
