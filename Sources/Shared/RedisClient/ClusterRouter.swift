import NIOCore
import Synchronization

/// A Redis Cluster's slot map, and commands sent by it: what ``RedisClient`` uses when its configuration names a
/// cluster.
///
/// The map comes from the cluster itself (`CLUSTER SHARDS`, asked of any node it knows, then of the seeds). A
/// command goes to the master serving its key's slot (``ClusterSlot/of(command:)``), on the calling loop's
/// connection to that node, so that pipelining is kept per node: the commands of one request are split by node,
/// sent together to each, and their replies put back in the request's order. Redis' redirections are followed:
/// `MOVED` (the slot has a new owner: the map is corrected at once and read again from the cluster), `ASK` (a slot
/// being migrated: this one command goes to the importing node after `ASKING`), and `TRYAGAIN`/`CLUSTERDOWN`
/// (a migration or a failover in progress: asked again shortly). A connection that fails makes the client read
/// the map again (a failover gives the slots of a dead master to its replica), but the request itself fails: it
/// may have run, and only the caller knows whether it may be sent twice.
final class ClusterRouter: Sendable {
    /// Which master serves each slot.
    struct SlotMap: Sendable {
        /// The masters, by index.
        var masters: [RedisNode]
        /// Slot → index in ``masters``; -1 where no master serves it.
        var owners: [Int16]
        /// Every node the cluster reported, replicas too: where to ask for the map next time.
        var nodes: [RedisNode]

        func master(slot: Int) -> RedisNode? {
            let index = Int(self.owners[slot])
            return index >= 0 ? self.masters[index] : nil
        }

        /// The map with `slot` served by `node` (a `MOVED` says so before a full read of the map does).
        func moving(slot: Int, to node: RedisNode) -> SlotMap {
            var map = self
            if let index = map.masters.firstIndex(of: node) {
                map.owners[slot] = Int16(index)
            } else {
                map.masters.append(node)
                map.owners[slot] = Int16(map.masters.count - 1)
            }
            if !map.nodes.contains(node) { map.nodes.append(node) }
            return map
        }
    }

    private struct State {
        var map: SlotMap?
        /// Who waits for the map being read now (nil when no read is in progress).
        var waiting: [@Sendable (Result<SlotMap, RedisError>) -> Void]?
        var lastRead: NIODeadline = .distantPast
    }

    private let connections: EventLoopRedis
    private let seeds: [RedisNode]
    private let state = Mutex(State())
    private let redirections = Atomic<Int>(0)

    /// How many redirections one command follows before its last error reply is its answer.
    static let maxRedirections = 32
    /// How long a command waits before asking again after `TRYAGAIN` or `CLUSTERDOWN`.
    static let retryDelay = TimeAmount.milliseconds(100)
    /// A failing connection reads the map again at most this often (during a failover, many requests fail at once).
    static let rereadInterval = TimeAmount.milliseconds(200)

    init(connections: EventLoopRedis, seeds: [RedisNode]) {
        self.connections = connections
        self.seeds = seeds
    }

    /// How many `MOVED` and `ASK` redirections were followed.
    var redirectionsFollowed: Int { self.redirections.load(ordering: .relaxed) }

    /// Sends `commands` routed by their keys' slots; call on `loop`; `completion` runs there.
    func send(_ commands: [[RedisArgument]], on loop: any EventLoop, completion: @escaping @Sendable (Result<[RedisValue], RedisError>) -> Void) {
        self.withMap(on: loop) { result in
            switch result {
            case .failure(let error): completion(.failure(error))
            case .success(let map): self.dispatch(commands, map: map, on: loop, completion: completion)
            }
        }
    }

    /// The map as the cluster reports it now (read afresh); `completion` runs on `loop`.
    func readMap(on loop: any EventLoop, completion: @escaping @Sendable (Result<SlotMap, RedisError>) -> Void) {
        self.read(on: loop) { result in loop.execute { completion(result) } }
    }

    // MARK: Routing

    /// The known map, or the map read now when there is none yet; `body` runs on `loop`.
    private func withMap(on loop: any EventLoop, _ body: @escaping @Sendable (Result<SlotMap, RedisError>) -> Void) {
        if let map = self.state.withLock({ $0.map }) { return body(.success(map)) }
        self.read(on: loop) { result in
            if loop.inEventLoop { body(result) } else { loop.execute { body(result) } }
        }
    }

    private func dispatch(
        _ commands: [[RedisArgument]],
        map: SlotMap,
        on loop: any EventLoop,
        completion: @escaping @Sendable (Result<[RedisValue], RedisError>) -> Void
    ) {
        guard let anyMaster = map.masters.first else { return completion(.failure(.connectionFailed("the cluster reported no master"))) }
        if commands.count == 1 {
            // Most requests are one command (a script): no grouping, no gathering.
            let command = commands[0]
            let node = ClusterSlot.of(command: command).flatMap(map.master(slot:)) ?? anyMaster
            self.sendOne(command, to: node, asking: false, hops: 0, on: loop) { completion($0.map { [$0] }) }
            return
        }
        var groups: [RedisNode: [Int]] = [:]
        var order: [RedisNode] = []
        for (index, command) in commands.enumerated() {
            let node = ClusterSlot.of(command: command).flatMap(map.master(slot:)) ?? anyMaster
            if groups[node] == nil { order.append(node) }
            groups[node, default: []].append(index)
        }
        let gather = Gather(count: commands.count, groups: order.count, completion: completion)
        for node in order {
            let indices = groups[node]!
            self.connections.on(loop, node: node).send(commands: indices.map { commands[$0] }) { result in
                switch result {
                case .failure(let error):
                    self.rereadSoon(on: loop)
                    gather.fail(error)
                case .success(let replies):
                    for (position, index) in indices.enumerated() {
                        gather.expect()
                        self.follow(replies[position], of: commands[index], hops: 0, on: loop) { gather.settle(index, $0) }
                    }
                    gather.groupDone()
                }
            }
        }
    }

    /// What a reply asks of its command: nothing (it is the answer), or to be sent again elsewhere or later.
    private func follow(
        _ reply: RedisValue,
        of command: [RedisArgument],
        hops: Int,
        on loop: any EventLoop,
        completion: @escaping @Sendable (Result<RedisValue, RedisError>) -> Void
    ) {
        guard case .error(let message) = reply, let redirect = Redirect(message), hops < Self.maxRedirections else {
            return completion(.success(reply))
        }
        switch redirect {
        case .moved(let slot, let node):
            self.redirections.add(1, ordering: .relaxed)
            self.state.withLock { state in state.map = state.map?.moving(slot: slot, to: node) }
            self.rereadSoon(on: loop)
            self.sendOne(command, to: node, asking: false, hops: hops + 1, on: loop, completion: completion)
        case .ask(let node):
            self.redirections.add(1, ordering: .relaxed)
            self.sendOne(command, to: node, asking: true, hops: hops + 1, on: loop, completion: completion)
        case .again:
            self.rereadSoon(on: loop)
            loop.scheduleTask(in: Self.retryDelay) {
                self.withMap(on: loop) { result in
                    switch result {
                    case .failure(let error): completion(.failure(error))
                    case .success(let map):
                        guard let node = ClusterSlot.of(command: command).flatMap(map.master(slot:)) ?? map.masters.first else {
                            return completion(.success(reply))
                        }
                        self.sendOne(command, to: node, asking: false, hops: hops + 1, on: loop, completion: completion)
                    }
                }
            }
        }
    }

    private func sendOne(
        _ command: [RedisArgument],
        to node: RedisNode,
        asking: Bool,
        hops: Int,
        on loop: any EventLoop,
        completion: @escaping @Sendable (Result<RedisValue, RedisError>) -> Void
    ) {
        let request: [[RedisArgument]] = asking ? [["ASKING"], command] : [command]
        self.connections.on(loop, node: node).send(commands: request) { result in
            switch result {
            case .failure(let error):
                self.rereadSoon(on: loop)
                completion(.failure(error))
            case .success(let replies):
                self.follow(replies[replies.count - 1], of: command, hops: hops, on: loop, completion: completion)
            }
        }
    }

    // MARK: The map

    /// Reads the map again unless a read is in progress or one was made very recently.
    private func rereadSoon(on loop: any EventLoop) {
        let due = self.state.withLock { state in state.waiting == nil && state.lastRead + Self.rereadInterval <= .now() }
        if due { self.read(on: loop) { _ in } }
    }

    /// Reads the map from the first node that answers; callers arriving meanwhile wait for the same read.
    /// Completions run on the loop that made the read.
    private func read(on loop: any EventLoop, completion: @escaping @Sendable (Result<SlotMap, RedisError>) -> Void) {
        let (start, known) = self.state.withLock { state -> (Bool, [RedisNode]) in
            if state.waiting != nil {
                state.waiting!.append(completion)
                return (false, [])
            }
            state.waiting = [completion]
            return (true, state.map?.nodes ?? [])
        }
        guard start else { return }
        var candidates: [RedisNode] = []
        for node in known + self.seeds where !candidates.contains(node) { candidates.append(node) }
        self.ask(candidates, from: 0, lastError: nil, on: loop) { result in
            let waiting = self.state.withLock { state in
                if case .success(let map) = result { state.map = map }
                state.lastRead = .now()
                defer { state.waiting = nil }
                return state.waiting ?? []
            }
            for waiter in waiting { waiter(result) }
        }
    }

    private func ask(
        _ candidates: [RedisNode],
        from index: Int,
        lastError: RedisError?,
        on loop: any EventLoop,
        completion: @escaping @Sendable (Result<SlotMap, RedisError>) -> Void
    ) {
        guard index < candidates.count else {
            return completion(.failure(.connectionFailed("no cluster node answered CLUSTER SHARDS: \(lastError.map { "\($0)" } ?? "none known")")))
        }
        self.connections.on(loop, node: candidates[index]).send(commands: [["CLUSTER", "SHARDS"]]) { result in
            switch result.flatMap({ replies in Result { () throws(RedisError) in try Self.parseShards(replies[0].orThrow()) } }) {
            case .success(let map): completion(.success(map))
            case .failure(let error): self.ask(candidates, from: index + 1, lastError: error, on: loop, completion: completion)
            }
        }
    }

    /// `CLUSTER SHARDS`' reply: per shard `slots` (start, end, …) and `nodes` (each a flat list of field, value).
    static func parseShards(_ reply: RedisValue) throws(RedisError) -> SlotMap {
        var map = SlotMap(masters: [], owners: Array(repeating: -1, count: ClusterSlot.count), nodes: [])
        for shard in reply.elements {
            let fields = Self.fields(shard)
            let ranges = (fields["slots"]?.elements ?? []).compactMap(\.int)
            var master: RedisNode?
            var masterOnline = false
            for nodeReply in fields["nodes"]?.elements ?? [] {
                let node = Self.fields(nodeReply)
                let endpoint = node["endpoint"]?.text.flatMap { $0.isEmpty || $0 == "?" ? nil : $0 } ?? node["ip"]?.text
                guard let host = endpoint, let port = node["port"]?.int else { continue }
                let address = RedisNode(host: host, port: port)
                if !map.nodes.contains(address) { map.nodes.append(address) }
                let online = node["health"]?.text == "online"
                if node["role"]?.text == "master", master == nil || (online && !masterOnline) {
                    master = address
                    masterOnline = online
                }
            }
            guard let master, !ranges.isEmpty else { continue }
            guard ranges.count % 2 == 0, ranges.allSatisfy({ (0..<ClusterSlot.count).contains($0) }) else {
                throw .unexpectedReply("CLUSTER SHARDS slots \(ranges)")
            }
            let index = map.masters.firstIndex(of: master) ?? (map.masters.count)
            if index == map.masters.count { map.masters.append(master) }
            for pair in stride(from: 0, to: ranges.count, by: 2) where ranges[pair] <= ranges[pair + 1] {
                for slot in ranges[pair]...ranges[pair + 1] { map.owners[slot] = Int16(index) }
            }
        }
        guard !map.masters.isEmpty else { throw .unexpectedReply("CLUSTER SHARDS named no master serving slots") }
        return map
    }

    /// A flat `field, value, …` array as a dictionary.
    private static func fields(_ value: RedisValue) -> [String: RedisValue] {
        let flat = value.elements
        var fields: [String: RedisValue] = [:]
        for index in stride(from: 0, to: flat.count - 1, by: 2) {
            if let name = flat[index].text { fields[name] = flat[index + 1] }
        }
        return fields
    }
}

/// What a cluster's error reply asks of the command it answers.
enum Redirect: Equatable {
    /// `MOVED <slot> <host:port>`: the slot is served there now.
    case moved(slot: Int, node: RedisNode)
    /// `ASK <slot> <host:port>`: the key is being migrated there; ask there once, after `ASKING`.
    case ask(node: RedisNode)
    /// `TRYAGAIN` (a multi-key command during a slot's migration) or `CLUSTERDOWN` (no master for the slot yet).
    case again

    init?(_ message: String) {
        let parts = message.split(separator: " ")
        switch parts.first {
        case "MOVED", "ASK":
            guard parts.count == 3, let slot = Int(parts[1]), let node = RedisNode(parts[2]) else { return nil }
            self = parts[0] == "MOVED" ? .moved(slot: slot, node: node) : .ask(node: node)
        case "TRYAGAIN", "CLUSTERDOWN":
            self = .again
        default:
            return nil
        }
    }
}

/// The replies of one routed request, gathered from its nodes: used only on the request's event loop (every
/// connection's completion runs on its own loop, which is the request's), hence unchecked.
private final class Gather: @unchecked Sendable {
    private var replies: [RedisValue?]
    /// Groups still to answer plus commands still following a redirection.
    private var outstanding: Int
    private var failure: RedisError?
    private var completion: (@Sendable (Result<[RedisValue], RedisError>) -> Void)?

    init(count: Int, groups: Int, completion: @escaping @Sendable (Result<[RedisValue], RedisError>) -> Void) {
        self.replies = Array(repeating: nil, count: count)
        self.outstanding = groups
        self.completion = completion
    }

    func expect() { self.outstanding += 1 }

    func settle(_ index: Int, _ result: Result<RedisValue, RedisError>) {
        switch result {
        case .success(let reply): self.replies[index] = reply
        case .failure(let error): self.failure = self.failure ?? error
        }
        self.done()
    }

    func fail(_ error: RedisError) {
        self.failure = self.failure ?? error
        self.done()
    }

    func groupDone() { self.done() }

    private func done() {
        self.outstanding -= 1
        guard self.outstanding == 0, let completion = self.completion else { return }
        self.completion = nil
        if let failure = self.failure { return completion(.failure(failure)) }
        completion(.success(self.replies.map { $0 ?? .null }))
    }
}
