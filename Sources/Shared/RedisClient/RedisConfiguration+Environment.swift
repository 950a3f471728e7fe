import ProcessEnvironment

extension RedisConfiguration {
    /// Reads `REDIS_URL` (`redis://[:password@]host:port[/db]`).
    public init(environment: Environment) throws(ConfigurationError) {
        self = try environment.required("REDIS_URL", expected: "a redis://[:password@]host:port[/db] url") { try RedisConfiguration(url: $0) }
    }
}
