/// Redis Cluster's key → hash slot mapping: CRC16 (XMODEM) of the key, or of its hash tag, modulo 16,384.
///
/// A key's hash tag is what lies between its first `{` and the first `}` after it, when that is not empty: keys
/// with one tag (`{ecommerce-orders}:ready`, `{ecommerce-orders}:inflight`) share a slot, so one script may touch
/// them all. A key without a tag hashes whole (`ecommerce-orders` itself hashes like the tag `{ecommerce-orders}`).
public enum ClusterSlot {
    public static let count = 16384

    /// The slot of `key`.
    public static func of(_ key: some Collection<UInt8>) -> Int {
        let bytes = Array(key)
        return Int(crc16(self.hashed(bytes)) % UInt16(self.count))
    }

    /// The slot of `key`.
    public static func of(_ key: String) -> Int { self.of(Array(key.utf8)) }

    /// The part of the key that is hashed: its tag when it has a non-empty one, else the whole key.
    static func hashed(_ key: [UInt8]) -> ArraySlice<UInt8> {
        guard let open = key.firstIndex(of: UInt8(ascii: "{")),
            let close = key[(open + 1)...].firstIndex(of: UInt8(ascii: "}")),
            close > open + 1
        else { return key[...] }
        return key[(open + 1)..<close]
    }

    /// CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), as the cluster specification defines it.
    static func crc16(_ bytes: ArraySlice<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc = (crc << 8) ^ self.table[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ byte)]
        }
        return crc
    }

    private static let table: [UInt16] = (0..<256).map { index in
        var crc = UInt16(index) << 8
        for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        return crc
    }

    /// The slot a command is routed by: the first key of `EVAL`/`EVALSHA` (nil without keys), nil for commands
    /// without keys (`PING`, `CLUSTER`, `SCRIPT`, `INFO`, …), else the command's first argument. Commands with
    /// several keys must keep them in one slot (Redis refuses them otherwise, as it refuses such scripts).
    public static func of(command: [RedisArgument]) -> Int? {
        guard let name = command.first?.bytes else { return nil }
        let upper = String(decoding: name, as: UTF8.self).uppercased()
        switch upper {
        case "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO":
            guard command.count > 3, let keys = Int(String(decoding: command[2].bytes, as: UTF8.self)), keys > 0 else { return nil }
            return self.of(command[3].bytes)
        case _ where self.keyless.contains(upper):
            return nil
        default:
            return command.count > 1 ? self.of(command[1].bytes) : nil
        }
    }

    private static let keyless: Set<String> = [
        "PING", "ECHO", "INFO", "TIME", "CLUSTER", "SCRIPT", "FUNCTION", "CONFIG", "CLIENT", "COMMAND", "DBSIZE", "FLUSHDB",
        "FLUSHALL", "HELLO", "AUTH", "SELECT", "READONLY", "READWRITE", "ASKING", "MEMORY", "SLOWLOG", "LATENCY", "DEBUG",
        "SCAN", "RANDOMKEY", "WAIT", "ROLE", "LASTSAVE", "SAVE", "BGSAVE", "BGREWRITEAOF", "SHUTDOWN", "QUIT",
    ]
}
