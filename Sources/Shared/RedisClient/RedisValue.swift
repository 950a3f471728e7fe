/// A reply from Redis, converted from hiredis' reply tree into a Swift value at once.
public enum RedisValue: Sendable, Equatable {
    /// A bulk or status string.
    case string([UInt8])
    case integer(Int)
    case array([RedisValue])
    case null
    /// An error reply (`-ERR …`): the command reached Redis and Redis refused it.
    case error(String)

    /// The value as UTF-8 text, for bulk and status strings.
    public var text: String? {
        if case .string(let bytes) = self { return String(decoding: bytes, as: UTF8.self) }
        return nil
    }

    /// The value as an integer, for integer replies and numeric strings.
    public var int: Int? {
        switch self {
        case .integer(let value): value
        case .string: self.text.flatMap { Int($0) }
        default: nil
        }
    }

    /// The elements of an array reply (an empty array for anything else).
    public var elements: [RedisValue] {
        if case .array(let values) = self { return values }
        return []
    }

    /// Throws ``RedisError/replyError(_:)`` when this is an error reply, returns the value otherwise.
    @discardableResult
    public func orThrow() throws(RedisError) -> RedisValue {
        if case .error(let message) = self { throw .replyError(message) }
        return self
    }
}
