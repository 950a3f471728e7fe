import Logging
import PostgresNIO
import ProcessEnvironment
import RedisClient
import Storage

/// What every process reads: where Redis and PostgreSQL are, and how to log.
public struct CommonConfiguration: Sendable {
    public var redis: RedisConfiguration
    public var database: PostgresClient.Configuration
    /// `DATABASE_POOLING`: what the connections may rely on (``DatabasePooling``).
    public var databasePooling: DatabasePooling
    public var logLevel: Logger.Level
    public var logFormat: LogFormat

    public init(environment: Environment) throws(ConfigurationError) {
        self.redis = try RedisConfiguration(environment: environment)
        self.database = try PostgresClient.Configuration(environment: environment)
        self.databasePooling = try DatabasePooling(environment: environment)
        let level = environment.optional("LOG_LEVEL") ?? "info"
        guard let logLevel = Logger.Level(rawValue: level.lowercased()) else {
            throw ConfigurationError(variable: "LOG_LEVEL", reason: "must be one of trace, debug, info, notice, warning, error, critical")
        }
        self.logLevel = logLevel
        let format = environment.optional("LOG_FORMAT") ?? "text"
        guard let logFormat = LogFormat(rawValue: format.lowercased()) else {
            throw ConfigurationError(variable: "LOG_FORMAT", reason: "must be json or text")
        }
        self.logFormat = logFormat
    }
}
