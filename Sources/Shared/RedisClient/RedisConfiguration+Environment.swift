import ProcessEnvironment

extension RedisConfiguration {
    /// Reads `REDIS_URL` (`redis://[:password@]host:port[/db]`).
    public init(environment: Environment) throws(ConfigurationError) {
        let url = try environment.required("REDIS_URL")
        do {
            try self.init(url: url)
        } catch {
            throw ConfigurationError(variable: "REDIS_URL", reason: "is not a redis://[:password@]host:port[/db] url (\(error))")
        }
    }
}
