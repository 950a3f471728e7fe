import CHiredis
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One blocking hiredis connection.
///
/// Not thread-safe: a ``PipelineLane`` owns exactly one and uses it only from its own thread, which is what
/// makes the `@unchecked Sendable` honest.
final class RedisConnection: @unchecked Sendable {
    private var context: UnsafeMutablePointer<redisContext>?
    private let configuration: RedisConfiguration

    init(configuration: RedisConfiguration) {
        self.configuration = configuration
    }

    deinit {
        if let context { redisFree(context) }
    }

    var isConnected: Bool { self.context != nil }

    func disconnect() {
        if let context { redisFree(context) }
        self.context = nil
    }

    private func connect() throws(RedisError) {
        let context = redisConnectWithTimeout(
            self.configuration.host,
            Int32(self.configuration.port),
            timeval(self.configuration.connectTimeout)
        )
        guard let context else { throw .connectionFailed("cannot allocate a redis context") }
        if context.pointee.err != 0 {
            let reason = Self.errorString(context)
            redisFree(context)
            throw .connectionFailed(reason)
        }
        redisSetTimeout(context, timeval(self.configuration.commandTimeout))
        self.context = context
        var setup: [[[UInt8]]] = []
        if let password = self.configuration.password { setup.append([Array("AUTH".utf8), Array(password.utf8)]) }
        if self.configuration.database != 0 { setup.append([Array("SELECT".utf8), Array(String(self.configuration.database).utf8)]) }
        if !setup.isEmpty {
            for reply in try self.sendPipeline(setup) {
                if case .error(let message) = reply {
                    self.disconnect()
                    throw .connectionFailed("setup refused: \(message)")
                }
            }
        }
    }

    /// Sends all commands in one write and reads their replies in order.
    ///
    /// On a transport error the connection is dropped (the next call reconnects) and the error is thrown: the
    /// caller cannot know which of the commands ran.
    func pipeline(_ commands: [[[UInt8]]]) throws(RedisError) -> [RedisValue] {
        if self.context == nil { try self.connect() }
        return try self.sendPipeline(commands)
    }

    private func sendPipeline(_ commands: [[[UInt8]]]) throws(RedisError) -> [RedisValue] {
        guard let context = self.context else { throw .connectionFailed("not connected") }
        for command in commands {
            let status = Self.withArgv(command) { argc, argv, lengths in
                redisAppendCommandArgv(context, argc, argv, lengths)
            }
            if status != REDIS_OK { throw self.fail(context) }
        }
        var replies: [RedisValue] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(context, &raw) == REDIS_OK, let raw else { throw self.fail(context) }
            let reply = raw.assumingMemoryBound(to: redisReply.self)
            replies.append(Self.convert(reply))
            freeReplyObject(raw)
        }
        return replies
    }

    private func fail(_ context: UnsafeMutablePointer<redisContext>) -> RedisError {
        let reason = Self.errorString(context)
        self.disconnect()
        return .connectionFailed(reason)
    }

    private static func errorString(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            let end = bytes.firstIndex(of: 0) ?? bytes.count
            return String(decoding: bytes[..<end], as: UTF8.self)
        }
    }

    /// hiredis' reply tree as a ``RedisValue`` (the tree stays the caller's to free).
    static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RedisValue {
        let value = reply.pointee
        switch value.type {
        case REDIS_REPLY_STRING, REDIS_REPLY_STATUS:
            guard let str = value.str else { return .string([]) }
            return .string(Array(UnsafeRawBufferPointer(start: str, count: value.len)))
        case REDIS_REPLY_ERROR:
            guard let str = value.str else { return .error("") }
            return .error(String(decoding: UnsafeRawBufferPointer(start: str, count: value.len), as: UTF8.self))
        case REDIS_REPLY_INTEGER:
            return .integer(Int(value.integer))
        case REDIS_REPLY_ARRAY:
            guard let elements = value.element else { return .array([]) }
            return .array((0..<value.elements).map { index in elements[index].map(convert) ?? .null })
        default:
            return .null
        }
    }

    /// Lays the arguments out in one buffer that lives for the duration of the hiredis call (binary safe).
    private static func withArgv<Result>(
        _ arguments: [[UInt8]],
        _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> Result
    ) -> Result {
        let total = arguments.reduce(0) { $0 + $1.count }
        let storage = UnsafeMutablePointer<CChar>.allocate(capacity: max(total, 1))
        let pointers = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: max(arguments.count, 1))
        let lengths = UnsafeMutablePointer<Int>.allocate(capacity: max(arguments.count, 1))
        defer {
            storage.deallocate()
            pointers.deallocate()
            lengths.deallocate()
        }
        var offset = 0
        for (index, argument) in arguments.enumerated() {
            argument.withUnsafeBytes { bytes in
                if let base = bytes.baseAddress {
                    UnsafeMutableRawPointer(storage + offset).copyMemory(from: base, byteCount: bytes.count)
                }
            }
            pointers[index] = UnsafePointer(storage + offset)
            lengths[index] = argument.count
            offset += argument.count
        }
        return body(Int32(arguments.count), pointers, lengths)
    }
}

private func timeval(_ duration: Duration) -> Glibc.timeval {
    let (seconds, attoseconds) = duration.components
    return Glibc.timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
}
