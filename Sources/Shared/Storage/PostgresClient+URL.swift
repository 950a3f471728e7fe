import Foundation
import NIOSSL
import PostgresNIO

/// Why `DATABASE_URL` could not be used.
public struct DatabaseURLError: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public var description: String { "invalid database url: \(self.reason)" }
}

extension PostgresClient.Configuration {
    /// Parses `postgres://user:password@host:port/db[?sslmode=disable|prefer|require]` (TLS is preferred by default).
    public init(url: String) throws(DatabaseURLError) {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? "") else {
            throw DatabaseURLError(reason: "expected postgres://user:password@host:port/db")
        }
        guard let host = components.host, !host.isEmpty else { throw DatabaseURLError(reason: "missing host") }
        guard let user = components.user, !user.isEmpty else { throw DatabaseURLError(reason: "missing user") }
        let database = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        let sslMode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "prefer"
        let tls: PostgresClient.Configuration.TLS
        switch sslMode {
        case "disable": tls = .disable
        case "prefer", "allow": tls = .prefer(.makeClientConfiguration())
        case "require", "verify-ca", "verify-full": tls = .require(.makeClientConfiguration())
        default: throw DatabaseURLError(reason: "unknown sslmode \(sslMode)")
        }
        self.init(
            host: host,
            port: components.port ?? 5432,
            username: user.removingPercentEncoding ?? user,
            password: components.password.map { $0.removingPercentEncoding ?? $0 },
            database: database.isEmpty ? nil : database,
            tls: tls
        )
        self.options.connectTimeout = .seconds(5)
        // No keep-alive pings, and (with `minimumConnections` set by the caller) no idle timer on the connections
        // kept open: PostgresNIO's pool starts a timer task each time a connection goes back to it, and a
        // cancelled timer's sleep stays queued until its deadline, so under load thousands of them pile up, costing
        // CPU and memory (`docs/performance.md`). A dead connection is still noticed: its next query fails and the
        // pool replaces it.
        self.options.keepAliveBehavior = nil
    }
}
