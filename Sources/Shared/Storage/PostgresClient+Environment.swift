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
