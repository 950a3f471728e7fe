import ProcessEnvironment

extension RedisConfiguration {
    /// Reads `REDIS_URL`: `redis://[:password@]host:port[/db]` for one server, or
    /// `redis-cluster://[:password@]host:port[,host:port…]` for a Redis Cluster named by some of its nodes.
    public init(environment: Environment) throws(ConfigurationError) {
        self = try environment.required(
            "REDIS_URL",
            expected: "a redis://[:password@]host:port[/db] or redis-cluster://[:password@]host:port[,host:port…] url"
        ) { try RedisConfiguration(url: $0) }
    }
}
