import Hummingbird
import HummingbirdCore
import Logging
import NIOCore

/// Serves webhook deliveries straight from a connection's bytes, ahead of the HTTP parser and the router.
///
/// Why: webhooks are the gateway's hot path, and Hummingbird's HTTP pipeline (NIO's parser, the conversion to
/// `HTTPTypes`, an async task per request) costs more per request than the delivery's own work. Handled here a
/// delivery costs a few header comparisons plus ``WebhookIntake``'s own work (signature, order, enqueue), all on
/// the connection's event loop (`docs/performance.md` has the figures).
///
/// Only plain deliveries are taken (see ``WebhookWireRequest``). At the first request that is anything else the
/// connection is handed, from that request's first byte on, to Hummingbird's pipeline behind this handler — which
/// also serves the webhook route, through the same intake, for the deliveries not taken here (chunked bodies,
/// say). Requests are answered one at a time and in order, as HTTP/1.1 requires.
final class WebhookChannelHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private enum Mode {
        /// Reading deliveries.
        case reading
        /// A delivery is complete and its answer is being worked out; later bytes wait.
        case answering
        /// Everything goes to the pipeline behind.
        case handedOver
        /// An oversized body was refused: this many more bytes of it are read and dropped, then the connection
        /// closes (closing with unread bytes would reset the connection before the client reads the answer).
        case discarding(remaining: Int)
        /// An answer said `Connection: close`: the rest is dropped.
        case closing
    }

    private let intake: WebhookIntake
    private let timeouts: HTTPTimeouts
    private var mode = Mode.reading
    private var buffer: ByteBuffer?
    private var scanner = WebhookWireRequest.HeadScanner()
    private var readPending = false
    private var quiescing = false
    private var active = true
    /// When the connection is closed unless something happens first: idle since the last answer, or a request
    /// still incomplete. Moving it is a field write; the one timer of the connection (``checkDeadline(context:)``)
    /// compares, so that a request costs no timer of its own.
    private var deadline = NIODeadline.distantFuture
    private var timer: Scheduled<Void>?

    /// What one connection may hold unanswered: a head, the largest body, and one more read.
    private var maxBufferedBytes: Int { WebhookWireRequest.maxHeadLength + self.intake.maxBodyBytes + 64 * 1024 }

    init(intake: WebhookIntake, timeouts: HTTPTimeouts) {
        self.intake = intake
        self.timeouts = timeouts
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.deadline = .now() + self.timeouts.idle
        self.checkDeadline(context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.mode {
        case .handedOver:
            context.fireChannelRead(data)
        case .closing:
            break
        case .discarding(let remaining):
            let left = remaining - self.unwrapInboundIn(data).readableBytes
            if left > 0 {
                self.mode = .discarding(remaining: left)
            } else {
                self.close(context: context)
            }
        case .reading, .answering:
            var bytes = self.unwrapInboundIn(data)
            if self.buffer == nil {
                // The first byte of a request: from now on it has the read timeout to arrive whole.
                if case .reading = self.mode { self.deadline = .now() + self.timeouts.read }
                self.buffer = bytes
            } else {
                guard self.buffer!.readableBytes + bytes.readableBytes <= self.maxBufferedBytes else { return self.close(context: context) }
                self.buffer!.writeBuffer(&bytes)
            }
            if case .reading = self.mode { self.readRequests(context: context) }
        }
    }

    /// Until the connection is handed over nothing was passed on, so the end of a read concerns no handler behind
    /// this one; not passing it on spares it a trip through five of them on every request.
    func channelReadComplete(context: ChannelHandlerContext) {
        if case .handedOver = self.mode { context.fireChannelReadComplete() }
    }

    /// Pauses reading while an answer is worked out and the client has already sent more, so that bytes cannot
    /// pile up. (Not on every answer: pausing and resuming costs two `epoll_ctl` calls per request.)
    func read(context: ChannelHandlerContext) {
        if case .answering = self.mode, self.buffer != nil {
            self.readPending = true
        } else {
            context.read()
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // Graceful shutdown: the pipeline behind closes connections it sees as idle, which ours always look like.
        // A delivery being answered is answered first, then the connection closes.
        if event is ChannelShouldQuiesceEvent, case .answering = self.mode {
            self.quiescing = true
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.active = false
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.active = false
        self.timer?.cancel()
        self.timer = nil
    }

    /// Takes complete deliveries from the buffer, one at a time.
    private func readRequests(context: ChannelHandlerContext) {
        guard var buffer = self.buffer, buffer.readableBytes > 0 else { return }
        let head: (headers: WebhookHeaders, length: Int)
        switch buffer.withUnsafeReadableBytes({ self.scanner.scan($0) }) {
        case .incomplete:
            return
        case .notForUs:
            return self.handOver(context: context)
        case .tooLarge:
            return self.refuse(.headTooLarge, context: context)
        case .complete(let headLength):
            switch buffer.withUnsafeReadableBytes({ WebhookWireRequest.parse(UnsafeRawBufferPointer(rebasing: $0[..<headLength])) }) {
            case .head(let headers, let length): head = (headers, length)
            case .incomplete, .notForUs: return self.handOver(context: context)
            }
        }
        let length = head.headers.contentLength ?? 0
        if length > self.intake.maxBodyBytes {
            return self.refuseOversized(head.headers, unread: head.length + length - buffer.readableBytes, context: context)
        }
        guard buffer.readableBytes >= head.length + length else { return }
        buffer.moveReaderIndex(forwardBy: head.length)
        let body = buffer.readSlice(length: length)!
        self.buffer = buffer.readableBytes > 0 ? buffer : nil
        self.scanner.reset()
        self.mode = .answering
        self.deadline = .distantFuture
        self.intake.receive(head.headers, body: body, on: context.eventLoop).assumeIsolated().whenSuccess { reply in
            self.answer(reply, closing: head.headers.closesConnection, context: context)
        }
    }

    /// The connection's one timer: it fires at least every ``HTTPTimeouts/shortest``, and closes the connection
    /// once its deadline has passed. Every deadline is set at least that far ahead, so none is missed.
    private func checkDeadline(context: ChannelHandlerContext) {
        self.timer = nil
        switch self.mode {
        case .handedOver, .closing: return
        case .reading, .answering, .discarding: break
        }
        let now = NIODeadline.now()
        if now >= self.deadline { return self.close(context: context) }
        self.timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: min(self.deadline, now + self.timeouts.shortest)) {
            self.checkDeadline(context: context)
        }
    }

    private func close(context: ChannelHandlerContext) {
        self.mode = .closing
        self.buffer = nil
        self.timer?.cancel()
        self.timer = nil
        context.close(promise: nil)
    }

    private func answer(_ reply: WebhookReply, closing: Bool, context: ChannelHandlerContext) {
        guard self.active else { return }
        let closing = closing || self.quiescing
        context.writeAndFlush(
            self.wrapOutboundOut(.byteBuffer(Self.encode(reply, closing: closing, allocator: context.channel.allocator))),
            promise: nil
        )
        if closing { return self.close(context: context) }
        self.mode = .reading
        // Idle until the next request's first byte, unless it has already begun.
        self.deadline = .now() + (self.buffer == nil ? self.timeouts.idle : self.timeouts.read)
        self.readRequests(context: context)
        if self.readPending, case .reading = self.mode {
            self.readPending = false
            context.read()
        }
    }

    /// Answers 413 without keeping the body, reads and drops what is still to come of it (unless that is far more
    /// than anyone should send), then closes the connection.
    private func refuseOversized(_ headers: WebhookHeaders, unread: Int, context: ChannelHandlerContext) {
        context.writeAndFlush(
            self.wrapOutboundOut(.byteBuffer(Self.encode(self.intake.tooLarge(headers), closing: true, allocator: context.channel.allocator))),
            promise: nil
        )
        self.buffer = nil
        if unread > 0 && unread <= 16 * self.intake.maxBodyBytes {
            self.mode = .discarding(remaining: unread)
        } else {
            self.close(context: context)
        }
    }

    /// Answers a request that cannot be read (its head too long) and closes the connection: nothing after it
    /// can be found.
    private func refuse(_ reply: WebhookReply, context: ChannelHandlerContext) {
        context.writeAndFlush(
            self.wrapOutboundOut(.byteBuffer(Self.encode(reply, closing: true, allocator: context.channel.allocator))),
            promise: nil
        )
        self.close(context: context)
    }

    /// From here on the connection is the HTTP pipeline's, starting with the bytes not yet taken.
    ///
    /// Its idle timeout becomes Hummingbird's, which counts from here: a head that trickles in for longer is cut
    /// off. (Hummingbird's own timer cannot run before: it sees no request of the fast path and would close a busy
    /// connection as idle.)
    private func handOver(context: ChannelHandlerContext) {
        self.mode = .handedOver
        self.timer?.cancel()
        self.timer = nil
        if let state = try? context.pipeline.syncOperations.context(handlerType: HTTPConnectionStateHandler.self) {
            let idle = HTTPConnectionStateHandler(idleTimeout: .nanoseconds(self.timeouts.idle.nanoseconds), logger: self.intake.logger)
            try? context.pipeline.syncOperations.addHandler(idle, position: .before(state.handler))
        }
        if let rest = self.buffer {
            self.buffer = nil
            context.fireChannelRead(self.wrapInboundOut(rest))
            context.fireChannelReadComplete()
        }
        if self.readPending {
            self.readPending = false
            context.read()
        }
    }

    /// The answer to almost every delivery, encoded once.
    private static let accepted = WebhookChannelHandler.render(.accepted, closing: false, allocator: ByteBufferAllocator())

    /// The answer's bytes: status line, the headers Hummingbird would send for it, the JSON body.
    static func encode(_ reply: WebhookReply, closing: Bool, allocator: ByteBufferAllocator) -> ByteBuffer {
        !closing && reply == .accepted ? Self.accepted : Self.render(reply, closing: closing, allocator: allocator)
    }

    private static func render(_ reply: WebhookReply, closing: Bool, allocator: ByteBufferAllocator) -> ByteBuffer {
        var head = "HTTP/1.1 \(reply.status.code) \(reply.status.reasonPhrase)\r\n"
        head += "Content-Type: application/json\r\nContent-Length: \(reply.body.readableBytes)\r\n"
        if let seconds = reply.retryAfterSeconds { head += "Retry-After: \(seconds)\r\n" }
        if closing { head += "Connection: close\r\n" }
        head += "\r\n"
        var buffer = allocator.buffer(capacity: head.utf8.count + reply.body.readableBytes)
        buffer.writeString(head)
        buffer.writeImmutableBuffer(reply.body)
        return buffer
    }
}

/// How long a connection may keep the gateway waiting (`HTTP_IDLE_TIMEOUT_SECONDS`, `HTTP_READ_TIMEOUT_SECONDS`).
public struct HTTPTimeouts: Sendable {
    /// Between requests (and before the first): nginx's `keepalive_timeout`, 75 s. Longer than the 60 s of the
    /// usual reverse proxy or load balancer in front, so that they, not the gateway, close first.
    public var idle: TimeAmount
    /// From a request's first byte until it is complete, head and body: nginx's `client_header_timeout`, 60 s.
    public var read: TimeAmount

    public init(idle: TimeAmount = .seconds(75), read: TimeAmount = .seconds(60)) {
        self.idle = idle
        self.read = read
    }

    var shortest: TimeAmount { min(self.idle, self.read) }
}

/// Hummingbird's HTTP/1.1 child channel with ``WebhookChannelHandler`` in front of it.
struct WebhookFastPathChannel: ServerChildChannel {
    let http1: HTTP1Channel
    let intake: WebhookIntake
    let timeouts: HTTPTimeouts

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<HTTP1Channel.Value> {
        self.http1.setup(channel: channel, logger: logger).flatMapThrowing { value in
            try channel.pipeline.syncOperations.addHandler(
                WebhookChannelHandler(intake: self.intake, timeouts: self.timeouts),
                position: .first
            )
            return value
        }
    }

    func handle(value: HTTP1Channel.Value, logger: Logger) async {
        await self.http1.handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with webhook deliveries served ahead of the router (see ``WebhookChannelHandler``).
    static func http1(webhooks intake: WebhookIntake, timeouts: HTTPTimeouts) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            // NIO's head limits (80 KiB a field and in all) bound what the router's requests may send.
            WebhookFastPathChannel(http1: HTTP1Channel(responder: responder), intake: intake, timeouts: timeouts)
        }
    }
}
