import CHiredis
import NIOCore
import NIOPosix
import Synchronization

/// Redis connections driven by NIO event loops, one per loop and server: what ``RedisClient`` sends over.
///
/// Why not blocking hiredis connections on threads of their own: every request would cross threads twice (a futex
/// to wake the connection's thread, an eventfd to wake the loop again), which costs more than the callers' own
/// work. Here a command is written on the caller's loop, commands
/// written in one turn of the loop leave in one write, and the replies arrive on the same loop. hiredis still reads
/// the replies: its reader parses bytes and never touches a socket here.
///
/// A broken connection fails its requests with ``RedisError/connectionFailed(_:)`` and is re-established by the
/// next request; a request without a reply within the command timeout closes the connection (failing what is
/// pending on it), so Redis hanging is never a caller hanging.
final class EventLoopRedis: Sendable {
    let configuration: RedisConfiguration
    private let state = Mutex<(closed: Bool, connections: [ConnectionKey: NIOLoopBound<LoopConnection>])>((false, [:]))

    /// A connection is one event loop's to one server.
    private struct ConnectionKey: Hashable {
        var loop: ObjectIdentifier
        var node: RedisNode
    }

    init(configuration: RedisConfiguration) {
        self.configuration = configuration
    }

    /// The sender bound to `eventLoop` for `node` (the configured server when nil): call it on that loop; its
    /// completions run there too.
    func on(_ eventLoop: any EventLoop, node: RedisNode? = nil) -> Sender {
        let connection = self.state.withLock { state -> NIOLoopBound<LoopConnection>? in
            if state.closed { return nil }
            let key = ConnectionKey(loop: ObjectIdentifier(eventLoop), node: node ?? self.configuration.node)
            if let existing = state.connections[key] { return existing }
            let configuration = key.node == self.configuration.node ? self.configuration : self.configuration.aimed(at: key.node)
            let created = NIOLoopBound(LoopConnection(configuration: configuration, eventLoop: eventLoop), eventLoop: eventLoop)
            state.connections[key] = created
            return created
        }
        return Sender(connection: connection)
    }

    /// Closes the connections; requests made afterwards fail with ``RedisError/clientClosed``.
    func shutdown() {
        let all = self.state.withLock { state in
            state.closed = true
            defer { state.connections.removeAll() }
            return Array(state.connections.values)
        }
        for connection in all {
            connection.eventLoop.execute { connection.value.close() }
        }
    }

    /// ``EventLoopRedis`` on one event loop (nil once it is shut down).
    struct Sender {
        fileprivate let connection: NIOLoopBound<LoopConnection>?

        func send(commands: [[RedisArgument]], completion: @escaping @Sendable (Result<[RedisValue], RedisError>) -> Void) {
            guard let connection = self.connection else { return completion(.failure(.clientClosed)) }
            connection.value.send(commands, completion: completion)
        }
    }
}

/// One event loop's connection: used only on that loop.
private final class LoopConnection {
    private let configuration: RedisConfiguration
    private let eventLoop: any EventLoop
    private var channel: (any Channel)?
    private var connecting: EventLoopFuture<any Channel>?

    init(configuration: RedisConfiguration, eventLoop: any EventLoop) {
        self.configuration = configuration
        self.eventLoop = eventLoop
    }

    func send(_ commands: [[RedisArgument]], completion: @escaping @Sendable (Result<[RedisValue], RedisError>) -> Void) {
        let request = RedisRequest(commands: commands, completion: completion)
        if let channel = self.channel, channel.isActive {
            channel.write(request, promise: nil)
            return
        }
        let connecting = self.connecting ?? self.connect()
        self.connecting = connecting
        connecting.assumeIsolated().whenComplete { result in
            switch result {
            case .success(let channel): channel.write(request, promise: nil)
            case .failure(let error): completion(.failure(.connectionFailed("\(error)")))
            }
        }
    }

    func close() {
        self.channel?.close(promise: nil)
        self.channel = nil
    }

    private func connect() -> EventLoopFuture<any Channel> {
        let timeout = self.configuration.commandTimeout
        let future = ClientBootstrap(group: self.eventLoop)
            .connectTimeout(TimeAmount(self.configuration.connectTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RedisPipelineHandler(commandTimeout: timeout))
                }
            }
            .connect(host: self.configuration.host, port: self.configuration.port)
        return future.assumeIsolated().flatMap { channel in
            self.connecting = nil
            self.channel = channel
            return self.setUp(channel).map { channel }
        }.flatMapError { error in
            self.connecting = nil
            return self.eventLoop.makeFailedFuture(error)
        }.nonisolated()
    }

    /// `AUTH` and `SELECT` before anything else; a refusal closes the connection.
    private func setUp(_ channel: any Channel) -> EventLoopFuture<Void> {
        var setup: [[RedisArgument]] = []
        if let password = self.configuration.password { setup.append(["AUTH", RedisArgument(password)]) }
        if self.configuration.database != 0 { setup.append(["SELECT", RedisArgument(self.configuration.database)]) }
        guard !setup.isEmpty else { return self.eventLoop.makeSucceededVoidFuture() }
        let done = self.eventLoop.makePromise(of: Void.self)
        channel.write(
            RedisRequest(commands: setup) { result in
                switch result {
                case .success(let replies):
                    if let refusal = replies.first(where: { if case .error = $0 { true } else { false } }) {
                        channel.close(promise: nil)
                        done.fail(RedisError.connectionFailed("setup refused: \(refusal)"))
                    } else {
                        done.succeed()
                    }
                case .failure(let error): done.fail(error)
                }
            },
            promise: nil
        )
        return done.futureResult
    }
}

/// Commands to send together and what to call with their replies.
struct RedisRequest {
    var commands: [[RedisArgument]]
    var completion: @Sendable (Result<[RedisValue], RedisError>) -> Void
}

/// Writes requests in Redis' protocol and hands each its replies, in order (Redis answers in order).
private final class RedisPipelineHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    private struct Pending {
        var remaining: Int
        var replies: [RedisValue]
        var completion: @Sendable (Result<[RedisValue], RedisError>) -> Void
        var sentAt: NIODeadline
    }

    private let commandTimeout: TimeAmount
    private var reader: UnsafeMutablePointer<redisReader>?
    private var pending = CircularBuffer<Pending>()
    private var flushScheduled = false
    private var timeoutCheck: Scheduled<Void>?

    init(commandTimeout: Duration) {
        self.commandTimeout = TimeAmount(commandTimeout)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.reader = redisReaderCreate()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if let reader { redisReaderFree(reader) }
        self.reader = nil
        self.timeoutCheck?.cancel()
        self.failAll(.connectionFailed("connection closed"))
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = self.unwrapOutboundIn(data)
        var buffer = context.channel.allocator.buffer(capacity: 256)
        for command in request.commands {
            Self.writeLength(command.count, prefix: UInt8(ascii: "*"), to: &buffer)
            for argument in command {
                Self.writeLength(argument.bytes.count, prefix: UInt8(ascii: "$"), to: &buffer)
                buffer.writeBytes(argument.bytes)
                buffer.writeStaticString("\r\n")
            }
        }
        self.pending.append(Pending(remaining: request.commands.count, replies: [], completion: request.completion, sentAt: .now()))
        context.write(self.wrapOutboundOut(buffer), promise: promise)
        // Everything written in this turn of the loop leaves in one system call.
        if !self.flushScheduled {
            self.flushScheduled = true
            context.eventLoop.assumeIsolated().execute {
                self.flushScheduled = false
                context.flush()
            }
        }
        self.scheduleTimeoutCheck(context: context)
    }

    /// `*3\r\n` or `$42\r\n`: Redis' protocol, written without building a string for the number.
    private static func writeLength(_ length: Int, prefix: UInt8, to buffer: inout ByteBuffer) {
        buffer.writeInteger(prefix)
        var low = buffer.writerIndex
        var value = length
        repeat {
            buffer.writeInteger(UInt8(ascii: "0") + UInt8(value % 10))
            value /= 10
        } while value > 0
        // The digits went in least significant first.
        var high = buffer.writerIndex - 1
        while low < high {
            let (a, b) = (buffer.getInteger(at: low, as: UInt8.self)!, buffer.getInteger(at: high, as: UInt8.self)!)
            buffer.setInteger(b, at: low)
            buffer.setInteger(a, at: high)
            low += 1
            high -= 1
        }
        buffer.writeStaticString("\r\n")
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = self.unwrapInboundIn(data)
        guard let reader = self.reader else { return }
        let fed = buffer.withUnsafeReadableBytes { bytes in
            redisReaderFeed(reader, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count)
        }
        guard fed == REDIS_OK else { return self.fail(context: context, "unreadable reply") }
        while true {
            var raw: UnsafeMutableRawPointer?
            guard redisReaderGetReply(reader, &raw) == REDIS_OK else { return self.fail(context: context, "unreadable reply") }
            guard let raw else { return }
            let reply = Self.convert(raw.assumingMemoryBound(to: redisReply.self))
            freeReplyObject(raw)
            guard var first = self.pending.first else { return self.fail(context: context, "a reply nobody asked for") }
            first.replies.append(reply)
            first.remaining -= 1
            if first.remaining == 0 {
                self.pending.removeFirst()
                first.completion(.success(first.replies))
            } else {
                self.pending[self.pending.startIndex] = first
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.failAll(.connectionFailed("connection closed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.fail(context: context, "\(error)")
    }

    private func fail(context: ChannelHandlerContext, _ reason: String) {
        self.failAll(.connectionFailed(reason))
        context.close(promise: nil)
    }

    private func failAll(_ error: RedisError) {
        while let request = self.pending.popFirst() { request.completion(.failure(error)) }
    }

    /// Closes the connection when the oldest request has waited longer than the command timeout.
    private func scheduleTimeoutCheck(context: ChannelHandlerContext) {
        guard self.timeoutCheck == nil, let oldest = self.pending.first else { return }
        self.timeoutCheck = context.eventLoop.assumeIsolated().scheduleTask(deadline: oldest.sentAt + self.commandTimeout) {
            self.timeoutCheck = nil
            guard let oldest = self.pending.first else { return }
            if oldest.sentAt + self.commandTimeout <= .now() {
                self.fail(context: context, "no reply within \(self.commandTimeout)")
            } else {
                self.scheduleTimeoutCheck(context: context)
            }
        }
    }
}

extension RedisPipelineHandler {
    /// hiredis' reply tree as a ``RedisValue`` (the tree stays the caller's to free).
    fileprivate static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RedisValue {
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
}
