import Crypto

/// A Lua script, run with `EVALSHA` and loaded on demand.
///
/// Every state change that touches more than one key is one script, so that Redis applies it atomically.
public struct RedisScript: Sendable {
    public let source: String
    public let sha1: String
    /// `EVALSHA <sha1>`, made once: scripts run by the thousand per second.
    let evalsha: [RedisArgument]

    public init(_ source: String) {
        self.source = source
        self.sha1 = Insecure.SHA1.hash(data: Array(source.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
        self.evalsha = [RedisArgument("EVALSHA"), RedisArgument(self.sha1)]
    }
}
