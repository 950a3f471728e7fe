import RedisClient

/// The queue's state transitions, each one Lua script so that a job is always in exactly one state.
///
/// Times come from Redis (`TIME`), not from the callers, so that workers on hosts with skewed clocks agree on
/// leases and due times. Scripts never re-encode an envelope (cjson would round large integers): they move the
/// caller's bytes as they are, and decode only to read the `id`.
enum QueueScripts {
    private static let now = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)"

    /// Dedupe keys are counted by when they expire, in buckets of this many seconds (see ``countDedupe``).
    static let dedupeBucketSeconds = 600

    /// An ``EnqueueRecord``'s entry (Lua): its open object with the outcome appended, closed.
    private static let recordEntry = #"ARGV[4] .. ',"outcome":"' .. (enqueued and 'enqueued' or 'duplicate') .. '"}'"#

    /// KEYS: ready, dedupe key, dedupe counts, and for an ``EnqueueRecord`` its list. ARGV: envelope, job id, dedupe
    /// ttl (s), and for a record its open JSON object, cap and retention (s). Returns 1 if enqueued, 0 if a duplicate.
    /// The key is counted in its expiry's bucket (`EXPIRETIME`, so that ``forgetDedupe`` finds the same one). The
    /// record gets the outcome appended and closed, and goes to its list by ``CappedList``'s rule.
    static let enqueueIfNew = RedisScript(
        """
        local enqueued = redis.call('SET', KEYS[2], ARGV[2], 'NX', 'EX', ARGV[3]) ~= false
        if enqueued then
          redis.call('HINCRBY', KEYS[3], math.floor(redis.call('EXPIRETIME', KEYS[2]) / \(dedupeBucketSeconds)), 1)
          redis.call('LPUSH', KEYS[1], ARGV[1])
        end
        if #KEYS > 3 then
        \(CappedList.luaPush(list: "KEYS[4]", entry: recordEntry, cap: "tonumber(ARGV[5])", retention: "ARGV[6]"))
        end
        return enqueued and 1 or 0
        """
    )

    /// Deletes a dedupe key and uncounts it. KEYS: dedupe key, dedupe counts. Returns 1 if it existed.
    static let forgetDedupe = RedisScript(
        """
        local expires = redis.call('EXPIRETIME', KEYS[1])
        if redis.call('DEL', KEYS[1]) == 0 then return 0 end
        if expires > 0 then redis.call('HINCRBY', KEYS[2], math.floor(expires / \(dedupeBucketSeconds)), -1) end
        return 1
        """
    )

    /// The dedupe keys alive: the buckets of expiry times still to come (the current bucket counts whole: keys that
    /// expired in its first minutes are counted until it ends); past buckets are deleted. KEYS: dedupe counts.
    static let countDedupe = RedisScript(
        """
        local current = math.floor(tonumber(redis.call('TIME')[1]) / \(dedupeBucketSeconds))
        local buckets = redis.call('HGETALL', KEYS[1])
        local alive = 0
        for i = 1, #buckets, 2 do
          if tonumber(buckets[i]) < current then
            redis.call('HDEL', KEYS[1], buckets[i])
          else
            alive = alive + tonumber(buckets[i + 1])
          end
        end
        return math.max(alive, 0)
        """
    )

    /// Lua: `ack(inflight, owners, leases, recoveries, job id, worker id)` removes a finished job if the worker still
    /// holds its claim; returns 1, or 0 if the claim was lost.
    private static let ackFunction = """
        local function ack(inflight, owners, leases, recoveries, id, worker)
          if redis.call('HGET', owners, id) ~= worker then return 0 end
          redis.call('HDEL', inflight, id)
          redis.call('HDEL', owners, id)
          redis.call('ZREM', leases, id)
          redis.call('HDEL', recoveries, id)
          return 1
        end
        """

    /// Acks the worker's finished jobs, then claims up to a number of new ones: one round trip per job for both,
    /// which is most of what a worker says to Redis.
    ///
    /// KEYS: for each acked job, its queue's inflight, owners, leases, recoveries; then for each queue to claim
    /// from, ready, inflight, owners, leases, dead. ARGV: worker id, lease ms, max jobs, number of acks, the acked
    /// job ids. Returns {ack results (1, or 0 if that claim was lost), claimed: queue index (1-based), envelope,
    /// queue index, envelope, ...}. An element that is not an envelope with an `id` goes to dead letters at once
    /// instead of looping.
    static let claim = RedisScript(
        """
        \(now)
        \(ackFunction)
        local acks = tonumber(ARGV[4])
        local acked = {}
        for i = 1, acks do
          local k = (i - 1) * 4
          acked[i] = ack(KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4], ARGV[4 + i], ARGV[1])
        end
        local max = tonumber(ARGV[3])
        local expiry = now + tonumber(ARGV[2])
        local result = {}
        local claimed = 0
        for q = 1, (#KEYS - acks * 4) / 5 do
          local base = acks * 4 + (q - 1) * 5
          while claimed < max do
            local raw = redis.call('RPOP', KEYS[base + 1])
            if not raw then break end
            -- Every envelope this code writes starts with its id: reading it there cost under 1 µs of Redis's time
            -- per claim, decoding the whole envelope with cjson about 7.
            local id = string.match(raw, '^{"id":"([%w%-]+)","')
            if not id then
              local ok, job = pcall(cjson.decode, raw)
              id = ok and type(job) == 'table' and job.id or nil
            end
            if type(id) ~= 'string' or id == '' then
              local deadId = 'malformed-' .. redis.sha1hex(raw)
              redis.call('HSET', KEYS[base + 5], deadId, cjson.encode({id = deadId, job = raw,
                error = 'malformed envelope: not JSON with a string id', attempt = 0, failedAtMs = now}))
            else
              redis.call('HSET', KEYS[base + 2], id, raw)
              redis.call('HSET', KEYS[base + 3], id, ARGV[1])
              redis.call('ZADD', KEYS[base + 4], expiry, id)
              result[#result + 1] = q
              result[#result + 1] = raw
              claimed = claimed + 1
            end
          end
        end
        return {acked, result}
        """
    )

    /// KEYS: inflight, owners, leases, recoveries. ARGV: job id, worker id. Returns 1, or 0 if the claim was lost.
    static let ack = RedisScript(
        """
        \(ackFunction)
        return ack(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV[2])
        """
    )

    /// KEYS: inflight, owners, leases, delayed. ARGV: job id, worker id, envelope to run later, delay ms.
    static let retry = RedisScript(
        """
        if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
        \(now)
        redis.call('HDEL', KEYS[1], ARGV[1])
        redis.call('HDEL', KEYS[2], ARGV[1])
        redis.call('ZREM', KEYS[3], ARGV[1])
        redis.call('ZADD', KEYS[4], now + tonumber(ARGV[4]), ARGV[3])
        return 1
        """
    )

    /// KEYS: inflight, owners, leases, dead, recoveries. ARGV: job id, worker id, dead-letter record (JSON).
    static let bury = RedisScript(
        """
        if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
        redis.call('HDEL', KEYS[1], ARGV[1])
        redis.call('HDEL', KEYS[2], ARGV[1])
        redis.call('ZREM', KEYS[3], ARGV[1])
        redis.call('HSET', KEYS[4], ARGV[1], ARGV[3])
        redis.call('HDEL', KEYS[5], ARGV[1])
        return 1
        """
    )

    /// Hands a claimed job back unfinished (graceful shutdown): it goes to the consuming end of the ready list.
    /// KEYS: inflight, owners, leases, ready. ARGV: job id, worker id.
    static let release = RedisScript(
        """
        if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
        local raw = redis.call('HGET', KEYS[1], ARGV[1])
        redis.call('HDEL', KEYS[1], ARGV[1])
        redis.call('HDEL', KEYS[2], ARGV[1])
        redis.call('ZREM', KEYS[3], ARGV[1])
        if raw then redis.call('RPUSH', KEYS[4], raw) end
        return 1
        """
    )

    /// Hands back the jobs a worker holds a claim on but never received (the claim's reply was lost: Redis ran it,
    /// the connection broke before the answer arrived): back to the consuming end of the ready list, without a
    /// recovery counted, since they never ran. KEYS: inflight, owners, leases, ready. ARGV: worker id, then the ids
    /// the worker does hold (running or held). Returns how many were handed back.
    static let releaseUnreceived = RedisScript(
        """
        local keep = {}
        for i = 2, #ARGV do keep[ARGV[i]] = true end
        local owners = redis.call('HGETALL', KEYS[2])
        local released = 0
        for i = 1, #owners, 2 do
          local id, owner = owners[i], owners[i + 1]
          if owner == ARGV[1] and not keep[id] then
            local raw = redis.call('HGET', KEYS[1], id)
            redis.call('HDEL', KEYS[1], id)
            redis.call('HDEL', KEYS[2], id)
            redis.call('ZREM', KEYS[3], id)
            if raw then
              redis.call('RPUSH', KEYS[4], raw)
              released = released + 1
            end
          end
        end
        return released
        """
    )

    /// KEYS: owners, leases. ARGV: worker id, lease ms, job ids... Returns how many leases were still ours.
    static let extendLeases = RedisScript(
        """
        \(now)
        local kept = 0
        for i = 3, #ARGV do
          if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[1] then
            redis.call('ZADD', KEYS[2], 'XX', now + tonumber(ARGV[2]), ARGV[i])
            kept = kept + 1
          end
        end
        return kept
        """
    )

    /// Promotes due retries and recovers the jobs of workers whose leases expired. Safe to run from every worker.
    /// KEYS: ready, delayed, inflight, owners, leases, dead, recoveries. ARGV: max recoveries, batch limit.
    /// Returns {promoted, recovered, quarantined}.
    static let maintain = RedisScript(
        """
        \(now)
        local limit = tonumber(ARGV[2])
        local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, limit)
        for _, raw in ipairs(due) do
          redis.call('ZREM', KEYS[2], raw)
          redis.call('LPUSH', KEYS[1], raw)
        end
        local recovered, quarantined = 0, 0
        local expired = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now, 'LIMIT', 0, limit)
        for _, id in ipairs(expired) do
          local raw = redis.call('HGET', KEYS[3], id)
          redis.call('ZREM', KEYS[5], id)
          redis.call('HDEL', KEYS[3], id)
          redis.call('HDEL', KEYS[4], id)
          if raw then
            local count = redis.call('HINCRBY', KEYS[7], id, 1)
            if count > tonumber(ARGV[1]) then
              local ok, job = pcall(cjson.decode, raw)
              local attempt = ok and type(job) == 'table' and tonumber(job.attempt) or 0
              redis.call('HSET', KEYS[6], id, cjson.encode({id = id, job = raw, attempt = attempt, failedAtMs = now,
                error = 'quarantined: its worker was lost ' .. count .. ' times while running it'}))
              redis.call('HDEL', KEYS[7], id)
              quarantined = quarantined + 1
            else
              -- Back to the consuming end: it has waited already.
              redis.call('RPUSH', KEYS[1], raw)
              recovered = recovered + 1
            end
          end
        end
        return {#due, recovered, quarantined}
        """
    )

    /// Deletes dead letters older than a retention, a bounded batch per call: `HSCAN` from the cursor the last call
    /// left (so successive calls walk the whole hash), reading each record's `failedAtMs` without decoding it.
    /// KEYS: dead, cursor key. ARGV: retention ms, batch count. Returns {deleted, 1 when the walk is complete}.
    static let pruneDead = RedisScript(
        """
        \(now)
        local cutoff = now - tonumber(ARGV[1])
        local reply = redis.call('HSCAN', KEYS[1], redis.call('GET', KEYS[2]) or '0', 'COUNT', ARGV[2])
        local fields, deleted = reply[2], 0
        for i = 1, #fields, 2 do
          local at = tonumber(string.match(fields[i + 1], '"failedAtMs"%s*:%s*(%d+)'))
          if at and at < cutoff then
            redis.call('HDEL', KEYS[1], fields[i])
            deleted = deleted + 1
          end
        end
        if reply[1] == '0' then redis.call('DEL', KEYS[2]) else redis.call('SET', KEYS[2], reply[1]) end
        return {deleted, reply[1] == '0' and 1 or 0}
        """
    )

    /// KEYS: ready, inflight, delayed, dead. Returns {ready, inflight, delayed, dead, oldest ready envelope or false, now ms}.
    static let stats = RedisScript(
        """
        \(now)
        return {redis.call('LLEN', KEYS[1]), redis.call('HLEN', KEYS[2]), redis.call('ZCARD', KEYS[3]),
          redis.call('HLEN', KEYS[4]), redis.call('LINDEX', KEYS[1], -1), now}
        """
    )

    /// Puts a dead letter back on the ready list, only if it is still the record the caller read.
    /// KEYS: dead, ready. ARGV: job id, the record as read, the envelope to enqueue.
    static let resurrect = RedisScript(
        """
        if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
        redis.call('HDEL', KEYS[1], ARGV[1])
        redis.call('LPUSH', KEYS[2], ARGV[3])
        return 1
        """
    )
}
