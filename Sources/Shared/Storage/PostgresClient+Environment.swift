import PostgresNIO
import ProcessEnvironment

extension PostgresClient.Configuration {
    /// Reads `DATABASE_URL` (see ``init(url:)``), `DATABASE_MAX_CONNECTIONS` (20) and `DATABASE_MIN_CONNECTIONS`
    /// (4, at most the maximum).
    public init(environment: Environment) throws(ConfigurationError) {
        self = try environment.required("DATABASE_URL", expected: "a postgres://user:password@host:port/db url") {
            try PostgresClient.Configuration(url: $0)
        }
        self.options.maximumConnections = try environment.int("DATABASE_MAX_CONNECTIONS", default: 20, range: 1...500)
        self.options.minimumConnections = try environment.int(
            "DATABASE_MIN_CONNECTIONS",
            default: min(4, self.options.maximumConnections),
            range: 0...self.options.maximumConnections
        )
    }
}

/// How the connections reach PostgreSQL (`DATABASE_POOLING`): directly or through a pooler in session mode
/// (`session`, the default), or through a pooler in transaction mode such as PgBouncer's `pool_mode = transaction`
/// (`transaction`), where a server connection is ours for one transaction only and no session state survives.
///
/// What differs: the ingestion statement is prepared by name once per connection in `session` mode (PostgreSQL
/// plans it once); in `transaction` mode it is sent unnamed with every order (planned each time; PgBouncer 1.18, as
/// Debian ships it, does not carry named statements across server connections). Nothing else relies on a session:
/// locks are transaction-scoped (`pg_advisory_xact_lock`), settings are `set_config(…, true)`, nothing `LISTEN`s.
public enum DatabasePooling: String, Sendable, CaseIterable {
    case session
    case transaction

    /// Reads `DATABASE_POOLING` (`session` when unset).
    public init(environment: Environment) throws(ConfigurationError) {
        let raw = environment.optional("DATABASE_POOLING") ?? "session"
        guard let pooling = DatabasePooling(rawValue: raw.lowercased()) else {
            throw ConfigurationError(variable: "DATABASE_POOLING", reason: "must be session or transaction")
        }
        self = pooling
    }
}
