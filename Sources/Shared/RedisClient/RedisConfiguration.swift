import Foundation

/// Where and how to reach Redis.
public struct RedisConfiguration: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var password: String?
    public var database: Int
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

    /// Parses `redis://[:password@]host:port[/db]`.
    public init(url: String) throws(RedisError) {
        guard let components = URLComponents(string: url), components.scheme == "redis" else {
            throw .invalidURL("expected redis://[:password@]host:port[/db]")
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
}
