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

    /// KEYS: ready, fair, backlog (``QueueKeys/readyKeys``). ARGV: envelope. Adds the job at its shop's next turn.
    static let enqueue = RedisScript(
        """
        \(FairShare.luaForProducers)
        addReady(KEYS[1], KEYS[2], KEYS[3], ARGV[1], false)
        return 1
        """
    )

    /// KEYS: ready, fair, backlog, dedupe key, dedupe counts, and for an ``EnqueueRecord`` its list. ARGV: envelope, job
    /// id, dedupe ttl (s), and for a record its open JSON object, cap and retention (s). Returns 1 if enqueued, 0 if a
    /// duplicate. The key is counted in its expiry's bucket (`EXPIRETIME`, so that ``forgetDedupe`` finds the same
    /// one). The record gets the outcome appended and closed, and goes to its list by ``CappedList``'s rule.
    static let enqueueIfNew = RedisScript(
        """
        \(FairShare.luaForProducers)
        local enqueued = redis.call('SET', KEYS[4], ARGV[2], 'NX', 'EX', ARGV[3]) ~= false
        if enqueued then
          redis.call('HINCRBY', KEYS[5], math.floor(redis.call('EXPIRETIME', KEYS[4]) / \(dedupeBucketSeconds)), 1)
          addReady(KEYS[1], KEYS[2], KEYS[3], ARGV[1], false)
        end
        if #KEYS > 5 then
        \(CappedList.luaPush(list: "KEYS[6]", entry: recordEntry, cap: "tonumber(ARGV[5])", retention: "ARGV[6]"))
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

    /// Lua (needs ``FairShare/luaUnclaim``): `ack(inflight, owners, leases, recoveries, running, job id, worker id)`
    /// removes a finished job if the worker still holds its claim; returns 1, or 0 if the claim was lost.
    private static let ackFunction = """
        local function ack(inflight, owners, leases, recoveries, running, id, worker)
          if redis.call('HGET', owners, id) ~= worker then return 0 end
          unclaim(inflight, owners, leases, running, id)
          redis.call('HDEL', recoveries, id)
          return 1
        end
        """

    /// How many ready jobs one claim looks at per job it may take, past the ones of shops at their cap, before it
    /// gives up on a queue (plus ``claimScanBase``): bounds a claim's work when the head of the line is all capped.
    static let claimScanPerJob = 4
    static let claimScanBase = 64

    /// Acks the worker's finished jobs of one queue, then claims up to a number of new ones from it: one round trip
    /// per job for both, which is most of what a worker says to Redis. One queue per call, so that a script touches
    /// only its queue's slot (``QueueKeys``): a worker claiming from several queues calls it for each in turn.
    ///
    /// The queue's ready jobs are taken by fair tag (``FairShare``): the shops with work take turns. A per-shop cap
    /// (0 for none) skips the jobs of a shop that has that many claimed already; they keep their place.
    ///
    /// KEYS: ready, fair, backlog, running, inflight, owners, leases, dead, recoveries (``QueueKeys/claimKeys``).
    /// ARGV: worker id, lease ms, max jobs, per-shop cap, then the acked job ids. Returns {ack results (1, or 0 if
    /// that claim was lost), the claimed envelopes}. An element that is not an envelope with an `id` goes to dead
    /// letters at once instead of looping.
    static let claim = RedisScript(
        """
        \(now)
        \(FairShare.luaForClaims)
        \(FairShare.luaTakeReady)
        \(ackFunction)
        local ready, fair, backlog, running = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
        local inflight, owners, leases, dead, recoveries = KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
        local acked = {}
        for i = 5, #ARGV do
          acked[#acked + 1] = ack(inflight, owners, leases, recoveries, running, ARGV[i], ARGV[1])
        end
        local max = tonumber(ARGV[3])
        local cap = tonumber(ARGV[4]) or 0
        local expiry = now + tonumber(ARGV[2])
        local result = {}
        local claimed = 0
        local clock = tonumber(redis.call('HGET', fair, '*') or '0')
        -- Looks at the ready jobs scored from `min` on, in tag order, taking what is not capped, for at most `budget`
        -- jobs; true when it ran out of budget before it ran out of jobs.
        local capped = {}
        local function scan(min, budget)
          local skipped, looked = 0, 0
          while claimed < max and looked < budget do
            -- The jobs skipped (capped) stay at the head: the next look starts past them.
            local head = redis.call('ZRANGE', ready, min, '+inf', 'BYSCORE', 'LIMIT', skipped, max - claimed + 8, 'WITHSCORES')
            if #head == 0 then return false end
            for i = 1, #head, 2 do
              if claimed >= max or looked >= budget then break end
              looked = looked + 1
              local raw, tag = head[i], tonumber(head[i + 1])
              local group = groupOf(raw)
              -- A shop found at its cap stays there for the rest of this claim: no need to ask again.
              if cap > 0 and (capped[group] or tonumber(redis.call('HGET', running, group) or '0') >= cap) then
                capped[group] = true
                skipped = skipped + 1
              else
                clock = takeReady(ready, fair, backlog, raw, group, tag, clock)
                -- Every envelope this code writes starts with its id: reading it there cost under 1 µs of Redis's
                -- time per claim, decoding the whole envelope with cjson about 7.
                local id = string.match(raw, '^{"id":"([%w%-]+)","')
                if not id then
                  local ok, job = pcall(cjson.decode, raw)
                  id = ok and type(job) == 'table' and job.id or nil
                end
                if type(id) ~= 'string' or id == '' then
                  local deadId = 'malformed-' .. redis.sha1hex(raw)
                  redis.call('HSET', dead, deadId, cjson.encode({id = deadId, job = raw,
                    error = 'malformed envelope: not JSON with a string id', attempt = 0, failedAtMs = now}))
                else
                  redis.call('HSET', inflight, id, raw)
                  redis.call('HSET', owners, id, ARGV[1])
                  redis.call('ZADD', leases, expiry, id)
                  redis.call('HINCRBY', running, group, 1)
                  result[#result + 1] = raw
                  claimed = claimed + 1
                end
              end
            end
          end
          return looked >= budget
        end
        if max > 0 then
          local budget = max * \(claimScanPerJob) + \(claimScanBase)
          -- A shop held at its cap while the clock ran on has its jobs lagging below the clock, possibly more than a
          -- look can pass over: the shops' current turns, from the clock on, get a look of their own.
          local from = '(' .. clock
          if scan('-inf', budget) and claimed < max then scan(from, budget) end
        end
        return {acked, result}
        """
    )

    /// KEYS: inflight, owners, leases, recoveries, running. ARGV: job id, worker id. Returns 1, or 0 if the claim was
    /// lost.
    static let ack = RedisScript(
        """
        \(FairShare.luaForClaims)
        \(ackFunction)
        return ack(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[1], ARGV[2])
        """
    )

    /// KEYS: inflight, owners, leases, delayed, running. ARGV: job id, worker id, envelope to run later, delay ms.
    static let retry = RedisScript(
        """
        if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
        \(now)
        \(FairShare.luaForClaims)
        unclaim(KEYS[1], KEYS[2], KEYS[3], KEYS[5], ARGV[1])
        redis.call('ZADD', KEYS[4], now + tonumber(ARGV[4]), ARGV[3])
        return 1
        """
    )

    /// KEYS: inflight, owners, leases, dead, recoveries, running. ARGV: job id, worker id, dead-letter record (JSON).
    static let bury = RedisScript(
        """
        if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
        \(FairShare.luaForClaims)
        unclaim(KEYS[1], KEYS[2], KEYS[3], KEYS[6], ARGV[1])
        redis.call('HSET', KEYS[4], ARGV[1], ARGV[3])
        redis.call('HDEL', KEYS[5], ARGV[1])
        return 1
        """
    )

    /// Hands a claimed job back unfinished (graceful shutdown): it goes in at the clock, ahead of every shop's next
    /// turn, since it has had its own. KEYS: inflight, owners, leases, running, ready, fair, backlog. ARGV: job id,
    /// worker id.
    static let release = RedisScript(
        """
        if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
        \(FairShare.luaForClaims)
        local raw = unclaim(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1])
        if raw then addReady(KEYS[5], KEYS[6], KEYS[7], raw, true) end
        return 1
        """
    )

    /// Hands back the jobs a worker holds a claim on but never received (the claim's reply was lost: Redis ran it,
    /// the connection broke before the answer arrived): back in at the clock, without a recovery counted, since they
    /// never ran. KEYS: inflight, owners, leases, running, ready, fair, backlog. ARGV: worker id, then the ids the
    /// worker does hold (running or held). Returns how many were handed back.
    static let releaseUnreceived = RedisScript(
        """
        \(FairShare.luaForClaims)
        local keep = {}
        for i = 2, #ARGV do keep[ARGV[i]] = true end
        local owners = redis.call('HGETALL', KEYS[2])
        local released = 0
        for i = 1, #owners, 2 do
          local id, owner = owners[i], owners[i + 1]
          if owner == ARGV[1] and not keep[id] then
            local raw = unclaim(KEYS[1], KEYS[2], KEYS[3], KEYS[4], id)
            if raw then
              addReady(KEYS[5], KEYS[6], KEYS[7], raw, true)
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

    /// Promotes due retries (each at its shop's next turn) and recovers the jobs of workers whose leases expired (at
    /// the clock: they have waited already); moves what a process of an earlier version pushed onto the queue's
    /// legacy list into the ready set; and recounts the claimed jobs per shop from the claims themselves when the
    /// counts disagree with them (a count can only be off after an upgrade, but a count stuck high would hold a
    /// shop at its cap for good). Safe to run from every worker.
    ///
    /// KEYS: ready, fair, backlog, running, legacy ready, delayed, inflight, owners, leases, dead, recoveries. ARGV:
    /// max recoveries, batch limit. Returns {promoted, recovered, quarantined}.
    static let maintain = RedisScript(
        """
        \(now)
        \(FairShare.luaForClaims)
        local ready, fair, backlog, running, legacy = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
        local delayed, inflight, owners, leases, dead, recoveries = KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11]
        local limit = tonumber(ARGV[2])
        local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, limit)
        for _, raw in ipairs(due) do
          redis.call('ZREM', delayed, raw)
          addReady(ready, fair, backlog, raw, false)
        end
        if redis.call('TYPE', legacy).ok == 'list' then
          for _ = 1, limit do
            local raw = redis.call('RPOP', legacy)
            if not raw then break end
            addReady(ready, fair, backlog, raw, true)
          end
        end
        local recovered, quarantined = 0, 0
        local expired = redis.call('ZRANGEBYSCORE', leases, '-inf', now, 'LIMIT', 0, limit)
        for _, id in ipairs(expired) do
          local raw = unclaim(inflight, owners, leases, running, id)
          if raw then
            local count = redis.call('HINCRBY', recoveries, id, 1)
            if count > tonumber(ARGV[1]) then
              local ok, job = pcall(cjson.decode, raw)
              local attempt = ok and type(job) == 'table' and tonumber(job.attempt) or 0
              redis.call('HSET', dead, id, cjson.encode({id = id, job = raw, attempt = attempt, failedAtMs = now,
                error = 'quarantined: its worker was lost ' .. count .. ' times while running it'}))
              redis.call('HDEL', recoveries, id)
              quarantined = quarantined + 1
            else
              addReady(ready, fair, backlog, raw, true)
              recovered = recovered + 1
            end
          end
        end
        local counted = 0
        for _, value in ipairs(redis.call('HVALS', running)) do counted = counted + tonumber(value) end
        if counted ~= redis.call('HLEN', inflight) then
          redis.call('DEL', running)
          for _, raw in ipairs(redis.call('HVALS', inflight)) do redis.call('HINCRBY', running, groupOf(raw), 1) end
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

    /// How many of the next jobs in line ``stats`` looks at for the longest wait.
    static let statsSample = 32

    /// How many of the largest shop backlogs ``stats`` lists.
    static let statsLargestBacklogs = 5

    /// KEYS: ready, inflight, delayed, dead, legacy ready, backlog. Returns {ready, inflight, delayed, dead, the next
    /// ``statsSample`` jobs in line (and the oldest on the legacy list), now ms, shop groups with ready jobs, the
    /// ``statsLargestBacklogs`` largest: group, count, ...}.
    static let stats = RedisScript(
        """
        \(now)
        local legacy = 0
        local next = redis.call('ZRANGE', KEYS[1], 0, \(statsSample - 1))
        if redis.call('TYPE', KEYS[5]).ok == 'list' then
          legacy = redis.call('LLEN', KEYS[5])
          next[#next + 1] = redis.call('LINDEX', KEYS[5], -1)
        end
        return {redis.call('ZCARD', KEYS[1]) + legacy, redis.call('HLEN', KEYS[2]), redis.call('ZCARD', KEYS[3]),
          redis.call('HLEN', KEYS[4]), next, now, redis.call('ZCARD', KEYS[6]),
          redis.call('ZRANGE', KEYS[6], '+inf', 1, 'BYSCORE', 'REV', 'LIMIT', 0, \(statsLargestBacklogs), 'WITHSCORES')}
        """
    )

    /// Puts a dead letter back among the ready jobs (at its shop's next turn), only if it is still the record the
    /// caller read. KEYS: dead, ready, fair, backlog. ARGV: job id, the record as read, the envelope to enqueue.
    static let resurrect = RedisScript(
        """
        if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
        \(FairShare.luaForProducers)
        redis.call('HDEL', KEYS[1], ARGV[1])
        addReady(KEYS[2], KEYS[3], KEYS[4], ARGV[3], false)
        return 1
        """
    )
}
