import Logging
import NIOCore
import NIOPosix

/// The Redis client of every process: connections driven by the NIO event loops (see ``EventLoopRedis``), for
/// async code and for code already on a loop.
///
/// A request goes out on the connection of the event loop it is made on (the calling task's, as tasks run on the
/// loops), so a reply comes back without crossing threads, and requests made in one turn of a loop share one write.
/// A broken connection fails the requests in flight with ``RedisError/connectionFailed(_:)`` and is re-established
/// on the next request, so a Redis restart is seen by callers as a short burst of errors, never as a hang.
///
/// Against a Redis Cluster (``RedisConfiguration/isCluster``) every command goes to the master serving its key's
/// slot, with one connection per loop and node (see ``ClusterRouter``): callers write the same code for both, as
/// long as each command and each script keeps its keys in one slot (``ClusterSlot``).
public final class RedisClient: Sendable {
    private let connections: EventLoopRedis
    private let router: ClusterRouter?
    private let group: any EventLoopGroup
    public let configuration: RedisConfiguration

    public init(configuration: RedisConfiguration, eventLoopGroup: any EventLoopGroup = NIOSingletons.posixEventLoopGroup) {
        self.configuration = configuration
        self.group = eventLoopGroup
        self.connections = EventLoopRedis(configuration: configuration)
        self.router = configuration.isCluster ? ClusterRouter(connections: self.connections, seeds: configuration.clusterSeeds) : nil
    }

    /// Closes the connections; requests made afterwards fail with ``RedisError/clientClosed``.
    public func shutdown() {
        self.connections.shutdown()
    }

    /// Sends one command, e.g. `["LPUSH", key, value]`; returns its reply, which may be an error reply.
    public func send(_ command: [RedisArgument]) async throws(RedisError) -> RedisValue {
        try await self.send(commands: [command])[0]
    }

    /// Sends several commands back to back on one connection (not atomically: use a script for that).
    public func send(commands: [[RedisArgument]]) async throws(RedisError) -> [RedisValue] {
        let result = await withCheckedContinuation { continuation in
            self.send(commands: commands) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    /// Like ``send(commands:)`` for code that is not async: on an event loop of the client's group the commands
    /// go out at once on that loop's connection and `completion` runs there; from elsewhere they go through one of
    /// the loops. `completion` must not block.
    public func send(commands: [[RedisArgument]], completion: @escaping @Sendable (Result<[RedisValue], RedisError>) -> Void) {
        let loop = self.group.any()
        if loop.inEventLoop {
            self.send(commands, on: loop, completion: completion)
        } else {
            loop.execute { self.send(commands, on: loop, completion: completion) }
        }
    }

    private func send(
        _ commands: [[RedisArgument]],
        on loop: any EventLoop,
        completion: @escaping @Sendable (Result<[RedisValue], RedisError>) -> Void
    ) {
        if let router = self.router {
            router.send(commands, on: loop, completion: completion)
        } else {
            self.connections.on(loop).send(commands: commands, completion: completion)
        }
    }

    /// Sends one command to one server as it is, not routed by slot and without following redirections: for
    /// administering a cluster (`CLUSTER SETSLOT`, `MIGRATE`, `FLUSHDB` on each master).
    public func send(_ command: [RedisArgument], to node: RedisNode) async throws(RedisError) -> RedisValue {
        let result = await withCheckedContinuation { continuation in
            let loop = self.group.any()
            loop.execute { self.connections.on(loop, node: node).send(commands: [command]) { continuation.resume(returning: $0) } }
        }
        return try result.get()[0]
    }

    /// The masters that serve the data: the cluster's, read afresh from it, or the one server.
    public func masters() async throws(RedisError) -> [RedisNode] {
        guard let router = self.router else { return [self.configuration.node] }
        let result = await withCheckedContinuation { continuation in
            let loop = self.group.any()
            loop.execute { router.readMap(on: loop) { continuation.resume(returning: $0) } }
        }
        return try result.get().masters
    }

    /// How many `MOVED` and `ASK` redirections the client followed (always 0 for a single server).
    public var redirectionsFollowed: Int { self.router?.redirectionsFollowed ?? 0 }

    /// Runs a Lua script by its SHA-1, loading it first when Redis does not have it (after a restart, say).
    public func run(_ script: RedisScript, keys: [String], arguments: [RedisArgument]) async throws(RedisError) -> RedisValue {
        let result = await withCheckedContinuation { continuation in
            self.run(script, keys: keys, arguments: arguments) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    /// Like ``run(_:keys:arguments:)`` for code that is not async (see ``send(commands:completion:)``); an error
    /// reply is a failure.
    public func run(
        _ script: RedisScript,
        keys: [String],
        arguments: [RedisArgument],
        completion: @escaping @Sendable (Result<RedisValue, RedisError>) -> Void
    ) {
        var numberAndKeys: [RedisArgument] = [RedisArgument(keys.count)]
        numberAndKeys.reserveCapacity(1 + keys.count + arguments.count)
        for key in keys { numberAndKeys.append(RedisArgument(key)) }
        numberAndKeys.append(contentsOf: arguments)
        let tail = numberAndKeys
        self.send(commands: [script.evalsha + tail]) { result in
            switch result.map({ $0[0] }) {
            case .success(.error(let message)) where message.hasPrefix("NOSCRIPT"):
                self.send(commands: [[RedisArgument("EVAL"), RedisArgument(script.source)] + tail]) { retried in
                    completion(retried.flatMap { replies in Result { () throws(RedisError) in try replies[0].orThrow() } })
                }
            case .success(let reply):
                completion(Result { () throws(RedisError) in try reply.orThrow() })
            case .failure(let error):
                completion(.failure(error))
            }
        }
    }

    /// `PING`, for readiness checks.
    public func ping() async throws(RedisError) {
        try await self.send(["PING"]).orThrow()
    }
}

/// One argument of a Redis command: any bytes (commands are binary safe).
public struct RedisArgument: Sendable, ExpressibleByStringLiteral {
    public var bytes: [UInt8]

    public init(_ string: String) { self.bytes = Array(string.utf8) }
    public init(bytes: [UInt8]) { self.bytes = bytes }
    public init(_ value: Int) { self.bytes = Array(String(value).utf8) }
    public init(stringLiteral value: String) { self.init(value) }
}
