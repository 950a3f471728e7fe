/// Why a Redis call failed.
public enum RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The connection could not be made or broke during the call: Redis is unreachable or restarting.
    /// Whether the command ran is unknown.
    case connectionFailed(String)
    /// Redis answered with an error reply.
    case replyError(String)
    /// The reply did not have the shape the caller expected.
    case unexpectedReply(String)
    /// The client was shut down.
    case clientClosed
    /// The `REDIS_URL` could not be understood.
    case invalidURL(String)

    public var description: String {
        switch self {
        case .connectionFailed(let reason): "redis connection failed: \(reason)"
        case .replyError(let message): "redis error reply: \(message)"
        case .unexpectedReply(let what): "unexpected redis reply: \(what)"
        case .clientClosed: "redis client closed"
        case .invalidURL(let reason): "invalid redis url: \(reason)"
        }
    }

    /// True when the failure was the transport, not a refusal by Redis.
    public var isConnectionFailure: Bool {
        switch self {
        case .connectionFailed, .clientClosed: true
        default: false
        }
    }
}
