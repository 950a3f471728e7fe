import Foundation

/// One Redis server's address.
public struct RedisNode: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port` (the form Redis itself writes in `MOVED` and `ASK` replies).
    public init?(_ text: some StringProtocol) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else { return nil }
        let host = String(text[..<colon])
        guard !host.isEmpty else { return nil }
        self.init(host: host, port: port)
    }

    public var description: String { "\(self.host):\(self.port)" }
}

/// Where and how to reach Redis: one server (`redis://`), or a Redis Cluster named by some of its nodes
/// (`redis-cluster://`, see ``init(url:)``).
public struct RedisConfiguration: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var password: String?
    public var database: Int
    /// The nodes a cluster client first asks for the slot map; empty for a single server. Any reachable node of the
    /// cluster will do: the client learns the others from it.
    public var clusterSeeds: [RedisNode] = []
    /// How long a connect attempt may take; short, so that callers learn quickly that Redis is down.
    public var connectTimeout: Duration = .seconds(1)
    /// How long a command may wait for its reply before its connection is closed (no command we send blocks on
    /// the server).
    public var commandTimeout: Duration = .seconds(5)

    public init(host: String = "127.0.0.1", port: Int = 6379, password: String? = nil, database: Int = 0) {
        self.host = host
        self.port = port
        self.password = password
        self.database = database
    }

    /// A cluster client's configuration: `seeds` are some of the cluster's nodes.
    public init(clusterSeeds seeds: [RedisNode], password: String? = nil) {
        self.init(host: seeds.first?.host ?? "127.0.0.1", port: seeds.first?.port ?? 6379, password: password)
        self.clusterSeeds = seeds
    }

    /// True for a Redis Cluster.
    public var isCluster: Bool { !self.clusterSeeds.isEmpty }

    /// The single server's address.
    public var node: RedisNode { RedisNode(host: self.host, port: self.port) }

    /// Parses `redis://[:password@]host:port[/db]` (one server) or
    /// `redis-cluster://[:password@]host:port[,host:port…]` (a cluster, named by seed nodes; it has no databases).
    public init(url: String) throws(RedisError) {
        let clusterScheme = "redis-cluster://"
        if url.hasPrefix(clusterScheme) {
            var rest = Substring(url.dropFirst(clusterScheme.count))
            var password: String?
            if let at = rest.lastIndex(of: "@") {
                let credentials = rest[..<at]
                guard credentials.hasPrefix(":") else { throw .invalidURL("expected redis-cluster://[:password@]host:port[,host:port…]") }
                let raw = String(credentials.dropFirst())
                password = raw.isEmpty ? nil : (raw.removingPercentEncoding ?? raw)
                rest = rest[rest.index(after: at)...]
            }
            if rest.hasSuffix("/") { rest = rest.dropLast() }
            var seeds: [RedisNode] = []
            for part in rest.split(separator: ",", omittingEmptySubsequences: false) {
                guard let node = RedisNode(part) else { throw .invalidURL("a cluster node must be host:port, got '\(part)'") }
                seeds.append(node)
            }
            guard !seeds.isEmpty else { throw .invalidURL("a cluster url names at least one node") }
            self.init(clusterSeeds: seeds, password: password)
            return
        }
        guard let components = URLComponents(string: url), components.scheme == "redis" else {
            throw .invalidURL("expected redis://[:password@]host:port[/db] or redis-cluster://[:password@]host:port[,host:port…]")
        }
        guard let host = components.host, !host.isEmpty else { throw .invalidURL("missing host") }
        self.init(host: host, port: components.port ?? 6379)
        if let password = components.password, !password.isEmpty {
            self.password = password.removingPercentEncoding ?? password
        }
        let path = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        if !path.isEmpty {
            guard let database = Int(path), database >= 0 else { throw .invalidURL("database must be a number") }
            self.database = database
        }
    }

    /// This configuration aimed at one node of a cluster (no database: a cluster has only database 0).
    func aimed(at node: RedisNode) -> RedisConfiguration {
        var configuration = self
        configuration.host = node.host
        configuration.port = node.port
        configuration.database = 0
        return configuration
    }
}
