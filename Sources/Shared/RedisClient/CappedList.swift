/// A Redis list kept near a cap, newest first, that expires when unused: the journals an operator reads.
///
/// An entry is pushed on the left; the list is trimmed to `cap` and its expiry set to `retention` only when the push
/// made it (length 1) or took it a tenth past `cap`, not on every push: on a hot path each extra command costs
/// throughput. So the list holds between `cap` and 1.1 × `cap` entries, and expires `retention` after its creation
/// or its last trim.
public enum CappedList {
    /// The Lua that pushes onto a capped list, for a script that does it as part of more work (an enqueue). Each
    /// argument is a Lua expression: the list's key, the entry, the cap (a number) and the retention in seconds.
    public static func luaPush(list: String, entry: String, cap: String, retention: String) -> String {
        """
        do
          local cap = \(cap)
          local length = redis.call('LPUSH', \(list), \(entry))
          if length == 1 or length > cap + math.ceil(cap / 10) then
            redis.call('LTRIM', \(list), 0, cap - 1)
            redis.call('EXPIRE', \(list), \(retention))
          end
        end
        """
    }

    /// KEYS: the list. ARGV: the entry, cap, retention (s).
    static let push = RedisScript(luaPush(list: "KEYS[1]", entry: "ARGV[1]", cap: "tonumber(ARGV[2])", retention: "ARGV[3]") + "\nreturn 1")

    /// Pushes `entry` onto `list` without waiting (see ``RedisClient/run(_:keys:arguments:completion:)``).
    public static func push(
        _ entry: [UInt8],
        to list: String,
        cap: Int,
        retention: Duration,
        on redis: RedisClient,
        completion: @escaping @Sendable (Result<RedisValue, RedisError>) -> Void
    ) {
        redis.run(
            Self.push,
            keys: [list],
            arguments: [RedisArgument(bytes: entry), RedisArgument(max(1, cap)), RedisArgument(max(1, Int(retention.components.seconds)))],
            completion: completion
        )
    }
}
