import Foundation
import JobQueue
import Synchronization
import Testing

@testable import EcommerceJobs
@testable import RedisClient

/// Redis Cluster: the slot of a key, every queue in one slot of its own, and the cluster client against the real
/// 6-node cluster that `scripts/test.sh` starts (`scripts/services.sh start-cluster`): redirections followed while a
/// slot moves under flowing jobs. The queue conformance suite and the worker-process tests run on that cluster too
/// (the test command runs them again with TEST_REDIS_ON_CLUSTER=1).
@Suite("Redis Cluster", .serialized)
struct RedisClusterTests {
    /// `scripts/services.sh`, which kills and restarts the test cluster's nodes.
    static let servicesScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/services.sh").path

    @Test("key slots are CRC16 (XMODEM) mod 16384 of the key or its hash tag, as the cluster specification gives them")
    func slots() {
        #expect(ClusterSlot.crc16(Array("123456789".utf8)[...]) == 0x31C3)
        #expect(ClusterSlot.of("foo") == 12182)
        #expect(ClusterSlot.of("{user1000}.following") == ClusterSlot.of("{user1000}.followers"))
        #expect(ClusterSlot.of("foo{}{bar}") == Int(ClusterSlot.crc16(Array("foo{}{bar}".utf8)[...]) % 16384), "an empty tag: the whole key")
        #expect(ClusterSlot.of("foo{{bar}}zap") == ClusterSlot.of("{bar"), "the tag ends at the first }")
        #expect(ClusterSlot.of("foo{bar}{zap}") == ClusterSlot.of("bar"), "the first tag counts")
        #expect(ClusterSlot.of(command: ["EVALSHA", "abc", "2", "{q}:ready", "{q}:fair", "x"]) == ClusterSlot.of("q"))
        #expect(ClusterSlot.of(command: ["EVALSHA", "abc", "0", "x"]) == nil)
        #expect(ClusterSlot.of(command: ["PING"]) == nil)
        #expect(ClusterSlot.of(command: ["hget", "{q}:inflight", "id"]) == ClusterSlot.of("q"))
    }

    @Test("every key a queue's scripts touch is in the queue's one slot; the queues are in different slots")
    func queueKeysShareTheirQueuesSlot() {
        var queueSlots: Set<Int> = []
        for queue in EcommerceQueue.all {
            let keys = QueueKeys(queue: queue)
            let slot = ClusterSlot.of(keys.ready)
            queueSlots.insert(slot)
            let all =
                keys.claimKeys + keys.readyKeys + [
                    keys.legacyReady, keys.delayed, keys.deadPruneCursor, keys.dedupeCounts, keys.dedupe("webhook:shop:1"),
                    OperatorJournal.deliveriesKey(queue: queue, shop: "a.myshopify.com"),
                ]
            for key in all { #expect(ClusterSlot.of(key) == slot, "\(key) of \(queue)") }
        }
        #expect(queueSlots.count == EcommerceQueue.all.count)
        let polling = ClusterSlot.of(QueueKeys(queue: EcommerceQueue.polling).ready)
        #expect(ClusterSlot.of(PollSchedule.key) == polling)
        #expect(ClusterSlot.of(PollSchedule.tickedKey) == polling)
    }

    @Test("redirections are read from Redis' error replies; other errors are answers")
    func redirections() {
        #expect(Redirect("MOVED 3999 127.0.0.1:6381") == .moved(slot: 3999, node: RedisNode(host: "127.0.0.1", port: 6381)))
        #expect(Redirect("ASK 3999 redis-2:6379") == .ask(node: RedisNode(host: "redis-2", port: 6379)))
        #expect(Redirect("TRYAGAIN Multiple keys request during rehashing of slot") == .again)
        #expect(Redirect("CLUSTERDOWN The cluster is down") == .again)
        #expect(Redirect("CROSSSLOT Keys in request don't hash to the same slot") == nil)
        #expect(Redirect("MOVED 3999") == nil)
        #expect(Redirect("ERR unknown command") == nil)
    }

    @Test("a CLUSTER SHARDS reply becomes the slot map: each range to its shard's master, failed masters passed over")
    func shardsReply() throws {
        func text(_ value: String) -> RedisValue { .string(Array(value.utf8)) }
        func node(_ port: Int, _ role: String, _ health: String = "online") -> RedisValue {
            .array([
                text("id"), text("x"), text("port"), .integer(port), text("ip"), text("127.0.0.1"), text("endpoint"), text("127.0.0.1"),
                text("role"), text(role), text("health"), text(health),
            ])
        }
        func shard(_ low: Int, _ high: Int, _ nodes: [RedisValue]) -> RedisValue {
            .array([text("slots"), .array([.integer(low), .integer(high)]), text("nodes"), .array(nodes)])
        }
        let reply = RedisValue.array([
            shard(0, 5460, [node(7000, "master"), node(7003, "replica")]),
            shard(5461, 10922, [node(7001, "master", "failed"), node(7004, "master")]),
            shard(10923, 16383, [node(7002, "master")]),
        ])
        let map = try ClusterRouter.parseShards(reply)
        #expect(map.master(slot: 0)?.port == 7000)
        #expect(map.master(slot: 5460)?.port == 7000)
        #expect(map.master(slot: 5461)?.port == 7004, "the online master of a shard whose old master failed")
        #expect(map.master(slot: 16383)?.port == 7002)
        #expect(Set(map.nodes.map(\.port)) == [7000, 7001, 7002, 7003, 7004])
        #expect(throws: RedisError.self) { try ClusterRouter.parseShards(.array([])) }
    }

    @Test("redis-cluster:// urls name seed nodes; a bad node is refused with what was wrong")
    func clusterURLs() throws {
        let configuration = try RedisConfiguration(url: "redis-cluster://:s%40cret@10.0.0.1:7000,10.0.0.2:7001")
        #expect(configuration.isCluster)
        #expect(configuration.clusterSeeds == [RedisNode(host: "10.0.0.1", port: 7000), RedisNode(host: "10.0.0.2", port: 7001)])
        #expect(configuration.password == "s@cret")
        #expect(try !RedisConfiguration(url: "redis://127.0.0.1:6379/3").isCluster)
        for bad in ["redis-cluster://", "redis-cluster://host", "redis-cluster://a:1,,b:2", "redis-cluster://a:99999", "redis-cluster://user:pw@a:1"]
        {
            #expect(throws: RedisError.self, "\(bad)") { try RedisConfiguration(url: bad) }
        }
    }

    @Test("keys under the names before hash tags are moved to today's names on a single Redis, merged where both exist")
    func migrationMovesUntaggedKeys() async throws {
        let redis = TestServices.redis(.queueTests)
        defer { redis.shutdown() }
        let queue = uniqueQueue()
        let keys = QueueKeys(queue: queue)
        let old = try encodedEcho(1)
        let new = try encodedEcho(2)
        // An old process's ready job, claim and dead letter; a new process's ready job and claim count.
        _ = try await redis.send(commands: [
            ["ZADD", RedisArgument(queue + ":ready"), "5", RedisArgument(bytes: old.bytes)],
            ["ZADD", RedisArgument(queue + ":backlog"), "1", ""],
            ["HSET", RedisArgument(queue + ":dead"), "gone", "{}"],
            ["HSET", RedisArgument(queue + ":running"), "", "1"],
            ["ZADD", RedisArgument(keys.ready), "7", RedisArgument(bytes: new.bytes)],
            ["ZADD", RedisArgument(keys.backlog), "1", ""],
            ["HSET", RedisArgument(keys.running), "", "2"],
        ])
        let migration = RedisKeyMigration(redis: redis)
        #expect(try await migration.run(queues: [queue]) == 4)
        #expect(try await redis.send(["ZCARD", RedisArgument(keys.ready)]).int == 2)
        #expect(try await redis.send(["ZSCORE", RedisArgument(keys.backlog), ""]).int == 2, "backlog counts add up")
        #expect(try await redis.send(["HGET", RedisArgument(keys.running), ""]).int == 3)
        #expect(try await redis.send(["HEXISTS", RedisArgument(keys.dead), "gone"]).int == 1)
        #expect(try await redis.send(["EXISTS", RedisArgument(queue + ":ready"), RedisArgument(queue + ":dead")]).int == 0)
        #expect(try await migration.run(queues: [queue]) == 0, "a second run finds nothing")
        let claimed = try await RedisJobQueue(redis: redis).claim(from: [queue], workerId: "w", max: 5, lease: .seconds(30))
        #expect(Set(claimed.map(\.id)) == [old.id, new.id])
        if let cluster = TestServices.clusterRedis() {
            defer { cluster.shutdown() }
            await #expect(throws: RedisError.self) { try await RedisKeyMigration(redis: cluster).run(queues: [queue]) }
        }
    }

    @Test(
        "on the cluster: a queue's slot moved to another master while jobs flow; ASK and MOVED followed, every job claimed once",
        .enabled(if: TestServices.clusterURL != nil, "needs the test cluster (scripts/test.sh starts it)"),
        .timeLimit(.minutes(2))
    )
    func reshardingWhileJobsFlow() async throws {
        let redis = try #require(TestServices.clusterRedis())
        defer { redis.shutdown() }
        let queue = RedisJobQueue(redis: redis)
        let name = uniqueQueue()
        let slot = ClusterSlot.of(QueueKeys(queue: name).ready)
        let nodes = try await ClusterNodes.read(redis)
        let source = try #require(nodes.first { $0.slots.contains(slot) })
        let target = try #require(nodes.first { $0.id != source.id })
        let total = 600
        let claimedCounts = ClaimTally()

        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                for value in 0..<total {
                    let job = try encodedEcho(value)
                    _ = try await queue.enqueue(raw: job.bytes, id: job.id, queue: name, dedupeKey: nil)
                    if value % 20 == 0 { try await Task.sleep(for: .milliseconds(10)) }
                }
            }
            tasks.addTask {
                var finished: [ClaimedJob] = []
                let deadline = ContinuousClock.now + .seconds(60)
                while claimedCounts.withLock({ $0.count }) < total, ContinuousClock.now < deadline {
                    let (jobs, _) = try await queue.claim(
                        from: [name],
                        workerId: "w",
                        max: 10,
                        lease: .seconds(30),
                        shopCaps: [:],
                        acking: finished
                    )
                    claimedCounts.withLock { counts in for job in jobs { counts[job.id, default: 0] += 1 } }
                    finished = jobs
                    if jobs.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
                }
                _ = try await queue.claim(from: [name], workerId: "w", max: 0, lease: .seconds(30), shopCaps: [:], acking: finished)
            }
            // Mid-flow: the slot migrates key by key (commands meanwhile meet ASK and TRYAGAIN), then changes owner
            // (the client's map is stale: MOVED).
            while claimedCounts.withLock({ $0.count }) < total / 3 { try await Task.sleep(for: .milliseconds(10)) }
            try await ClusterNodes.move(slot: slot, from: source, to: target, nodes: nodes, redis: redis)
            try await tasks.waitForAll()
        }
        let counts = claimedCounts.withLock { $0 }
        #expect(counts.count == total, "every job claimed")
        #expect(counts.values.allSatisfy { $0 == 1 }, "none twice")
        #expect(redis.redirectionsFollowed > 0, "the client followed the cluster's redirections")
        let after = try await ClusterNodes.read(redis)
        #expect(after.first { $0.slots.contains(slot) }?.id == target.id)
        let stats = try await queue.stats(queue: name)
        #expect(stats.ready == 0 && stats.inflight == 0)
    }
}

extension RedisClusterTests {
    @Test(
        "on the cluster: the master of a queue's slot SIGKILLed; its replica takes over and the client finds it, jobs flow again",
        .enabled(if: TestServices.clusterURL != nil, "needs the test cluster (scripts/test.sh starts it)"),
        .timeLimit(.minutes(2))
    )
    func failover() async throws {
        let redis = try #require(TestServices.clusterRedis())
        defer { redis.shutdown() }
        let queue = RedisJobQueue(redis: redis)
        let name = uniqueQueue()
        let slot = ClusterSlot.of(QueueKeys(queue: name).ready)
        _ = try await queue.stats(queue: name)  // the client has its map
        let victim = try #require(try await ClusterNodes.read(redis).first { $0.slots.contains(slot) })
        try await runToEnd(Self.servicesScript, ["kill-cluster-node", "test", String(victim.node.port)])
        let killed = ContinuousClock.now
        // Until a replica is promoted the slot's commands fail (the connection, then CLUSTERDOWN); then they work.
        let job = try encodedEcho(1)
        var enqueued = false
        while !enqueued, ContinuousClock.now - killed < .seconds(30) {
            do {
                _ = try await queue.enqueue(raw: job.bytes, id: job.id, queue: name, dedupeKey: nil)
                enqueued = true
            } catch {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        let recovered = ContinuousClock.now - killed
        #expect(enqueued, "no master for the slot 30 s after the kill")
        let claimed = try await queue.claim(from: [name], workerId: "w", max: 5, lease: .seconds(30))
        #expect(claimed.map(\.id) == [job.id], "after \(recovered)")
        let owner = try await ClusterNodes.read(redis).first { $0.slots.contains(slot) }
        #expect(owner != nil && owner?.node != victim.node, "a replica serves the slot now")
        // The killed node comes back as a replica of its replacement: the cluster has 3 masters and 3 replicas again.
        try await runToEnd(Self.servicesScript, ["start-cluster-node", "test", String(victim.node.port)])
        let whole = try await TestServices.eventually(timeout: .seconds(30)) {
            let text = try? await redis.send(["CLUSTER", "NODES"], to: victim.node).text
            return text.map { $0.split(separator: "\n").filter { !$0.contains("fail") }.count == 6 } ?? false
        }
        #expect(whole, "the killed node rejoined")
    }
}

/// How often each job id was claimed, shared by the test's tasks.
final class ClaimTally: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    func withLock<Result>(_ body: (inout [String: Int]) -> Result) -> Result { self.counts.withLock { body(&$0) } }
}

/// The masters of the test cluster as `CLUSTER NODES` lists them, and a slot's migration done by hand as
/// `redis-cli --cluster reshard` does it.
struct ClusterNodes: Sendable {
    var id: String
    var node: RedisNode
    var slots: Set<Int>

    static func read(_ redis: RedisClient) async throws -> [ClusterNodes] {
        let any = try #require(try await redis.masters().first)
        let text = try #require(try await redis.send(["CLUSTER", "NODES"], to: any).orThrow().text)
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count >= 8, fields[2].contains("master"), !fields[2].contains("fail") else { return nil }
            guard let address = fields[1].split(separator: "@").first, let node = RedisNode(address) else { return nil }
            var slots: Set<Int> = []
            for range in fields.dropFirst(8) where !range.hasPrefix("[") {
                let bounds = range.split(separator: "-").compactMap { Int($0) }
                if let low = bounds.first, let high = bounds.last, low <= high { slots.formUnion(low...high) }
            }
            return ClusterNodes(id: String(fields[0]), node: node, slots: slots)
        }
    }

    static func move(slot: Int, from source: ClusterNodes, to target: ClusterNodes, nodes: [ClusterNodes], redis: RedisClient) async throws {
        let slotArgument = RedisArgument(slot)
        try await redis.send(["CLUSTER", "SETSLOT", slotArgument, "IMPORTING", RedisArgument(source.id)], to: target.node).orThrow()
        try await redis.send(["CLUSTER", "SETSLOT", slotArgument, "MIGRATING", RedisArgument(target.id)], to: source.node).orThrow()
        while true {
            let keys = try await redis.send(["CLUSTER", "GETKEYSINSLOT", slotArgument, "100"], to: source.node).orThrow().elements
            if keys.isEmpty { break }
            let names = keys.compactMap { $0.text.map { RedisArgument($0) } }
            try await redis.send(
                ["MIGRATE", RedisArgument(target.node.host), RedisArgument(target.node.port), "", "0", "5000", "KEYS"] + names,
                to: source.node
            ).orThrow()
            try await Task.sleep(for: .milliseconds(20))  // jobs flow between the keys' moves
        }
        for node in [target, source] + nodes.filter({ $0.id != source.id && $0.id != target.id }) {
            try await redis.send(["CLUSTER", "SETSLOT", slotArgument, "NODE", RedisArgument(target.id)], to: node.node).orThrow()
        }
    }
}
