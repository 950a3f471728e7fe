import Hummingbird
import HummingbirdCore
import Logging
import NIOCore

/// Serves webhook deliveries straight from a connection's bytes, ahead of the HTTP parser and the router.
///
/// Why: webhooks are the gateway's hot path, and the bar is a third of what nginx serves on the same
/// machine. Hummingbird's HTTP pipeline (NIO's parser, the conversion to `HTTPTypes`, an async task per request)
/// alone reached about a third, before any work; handled here a delivery costs a few header comparisons plus
/// ``WebhookIntake``'s own work (signature, order, enqueue), all on the connection's event loop.
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
    private var mode = Mode.reading
    private var buffer: ByteBuffer?
    private var readPending = false
    private var quiescing = false
    private var active = true

    init(intake: WebhookIntake) {
        self.intake = intake
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
                self.mode = .closing
                context.close(promise: nil)
            }
        case .reading, .answering:
            var bytes = self.unwrapInboundIn(data)
            if self.buffer == nil {
                self.buffer = bytes
            } else {
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
    }

    /// Takes complete deliveries from the buffer, one at a time.
    private func readRequests(context: ChannelHandlerContext) {
        guard var buffer = self.buffer, buffer.readableBytes > 0 else { return }
        let parsed = buffer.withUnsafeReadableBytes { WebhookWireRequest.parse($0) }
        switch parsed {
        case .incomplete:
            return
        case .notForUs:
            return self.handOver(context: context)
        case .head(let headers, let headLength):
            let length = headers.contentLength ?? 0
            if length > self.intake.maxBodyBytes {
                return self.refuseOversized(headers, unread: headLength + length - buffer.readableBytes, context: context)
            }
            guard buffer.readableBytes >= headLength + length else { return }
            buffer.moveReaderIndex(forwardBy: headLength)
            let body = buffer.readSlice(length: length)!
            self.buffer = buffer.readableBytes > 0 ? buffer : nil
            self.mode = .answering
            self.intake.receive(headers, body: body, on: context.eventLoop).assumeIsolated().whenSuccess { reply in
                self.answer(reply, closing: headers.closesConnection, context: context)
            }
        }
    }

    private func answer(_ reply: WebhookReply, closing: Bool, context: ChannelHandlerContext) {
        guard self.active else { return }
        let closing = closing || self.quiescing
        context.writeAndFlush(
            self.wrapOutboundOut(.byteBuffer(Self.encode(reply, closing: closing, allocator: context.channel.allocator))),
            promise: nil
        )
        if closing {
            self.mode = .closing
            self.buffer = nil
            context.close(promise: nil)
            return
        }
        self.mode = .reading
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
            self.mode = .closing
            context.close(promise: nil)
        }
    }

    /// From here on the connection is the HTTP pipeline's, starting with the bytes not yet taken.
    private func handOver(context: ChannelHandlerContext) {
        self.mode = .handedOver
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

/// Hummingbird's HTTP/1.1 child channel with ``WebhookChannelHandler`` in front of it.
struct WebhookFastPathChannel: ServerChildChannel {
    let http1: HTTP1Channel
    let intake: WebhookIntake

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<HTTP1Channel.Value> {
        self.http1.setup(channel: channel, logger: logger).flatMapThrowing { value in
            try channel.pipeline.syncOperations.addHandler(WebhookChannelHandler(intake: self.intake), position: .first)
            return value
        }
    }

    func handle(value: HTTP1Channel.Value, logger: Logger) async {
        await self.http1.handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with webhook deliveries served ahead of the router (see ``WebhookChannelHandler``).
    static func http1(webhooks intake: WebhookIntake) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            WebhookFastPathChannel(http1: HTTP1Channel(responder: responder), intake: intake)
        }
    }
}
