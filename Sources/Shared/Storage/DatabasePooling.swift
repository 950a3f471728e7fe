import ProcessEnvironment

/// How the connections reach PostgreSQL (`DATABASE_POOLING`): directly or through a pooler in session mode
/// (`session`, the default), or through a pooler in transaction mode such as PgBouncer's `pool_mode = transaction`
/// (`transaction`), where a server connection is ours for one transaction only and no session state survives.
///
/// What differs: the ingestion statements (one order's, a batch's) are prepared by name once per connection in
/// `session` mode (PostgreSQL plans them once); in `transaction` mode they are sent unnamed every time (planned each
/// time; PgBouncer 1.18, as Debian ships it, does not carry named statements across server connections). Nothing else
/// relies on a session:
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
