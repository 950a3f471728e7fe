import EcommerceJobs
import Foundation
import HTTPTypes
import HummingbirdTesting
import RedisClient
import Shopify
import Testing

@testable import GatewayApp

#if canImport(Glibc)
import Glibc
#endif
#if canImport(SwiftOverlayShims)
// `timeval`'s initializer comes from this module on Linux: a clean build refuses it without the import.
import SwiftOverlayShims
#endif

/// The webhook fast path at the level of bytes on the wire: what it takes, what it hands to the full HTTP
/// pipeline, and that answers keep HTTP/1.1's order whichever carrier gives them.
extension GatewayTests {
    static func rawWebhook(body: String, shop: String, webhookId: String, extraHeaders: [String] = [], chunked: Bool = false) -> String {
        var head =
            [
                "POST /ecommerce/webhooks/shopify HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
                "X-Shopify-Topic: orders/create", "x-shopify-shop-domain: \(shop)", "X-SHOPIFY-WEBHOOK-ID: \(webhookId)",
                "X-Shopify-Hmac-Sha256: \(WebhookSignatureVerifier.sign(body: Array(body.utf8), secret: Self.secret))",
            ] + extraHeaders
        if chunked {
            head.append("Transfer-Encoding: chunked")
            let size = String(body.utf8.count, radix: 16)
            return head.joined(separator: "\r\n") + "\r\n\r\n\(size)\r\n\(body)\r\n0\r\n\r\n"
        }
        head.append("Content-Length: \(body.utf8.count)")
        return head.joined(separator: "\r\n") + "\r\n\r\n" + body
    }

    @Test("pipelined requests are answered in order, fast path first, then the router from the first request it does not take")
    func pipelinedRequestsInOrder() async throws {
        try await self.withGateway(carrier: .fastPath) { client, postgres, redis in
            let business = try await BusinessFixture.create(on: postgres, stock: [("A", 5, 11)])
            let body = OrderFactory.webhookBody(OrderFactory.order(lines: [OrderFactory.line(1, variant: business.variants[0], quantity: 1)]))
            let connection = try RawConnection(port: try #require(client.port))
            defer { connection.close() }
            connection.send(
                Self.rawWebhook(body: body, shop: business.shop, webhookId: "p-1")
                    + "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                    + Self.rawWebhook(body: body, shop: business.shop, webhookId: "p-2")
                    + Self.rawWebhook(body: body, shop: business.shop, webhookId: "p-3", chunked: true)
                    + Self.rawWebhook(body: "{}", shop: business.shop, webhookId: "p-4", extraHeaders: ["X-Shopify-Hmac-Sha256: forged"])
            )
            let responses = await connection.responses(5)
            #expect(responses.map(\.status) == [200, 200, 200, 200, 401], "\(responses)")
            #expect(responses.first?.body == #"{"ok":true}"#)
            #expect(responses.count > 1 && !responses[1].body.contains("ok\":true"), "the health answer comes second")
            #expect(try await Self.queueLength(redis, EcommerceQueue.orders) == 3)
        }
    }

    @Test("a delivery arriving in pieces, and several on one connection, are each answered once")
    func deliveriesInPieces() async throws {
        try await self.withGateway(carrier: .fastPath) { client, postgres, redis in
            let business = try await BusinessFixture.create(on: postgres, stock: [("A", 5, 11)])
            let body = OrderFactory.webhookBody(OrderFactory.order(lines: [OrderFactory.line(1, variant: business.variants[0], quantity: 1)]))
            let connection = try RawConnection(port: try #require(client.port))
            defer { connection.close() }
            let request = Array(Self.rawWebhook(body: body, shop: business.shop, webhookId: "pieces-1").utf8)
            for piece in stride(from: 0, to: request.count, by: 97) {
                connection.send(bytes: Array(request[piece..<min(piece + 97, request.count)]))
                try await Task.sleep(for: .milliseconds(5))
            }
            #expect(await connection.responses(1).map(\.status) == [200])
            for index in 2...20 {
                connection.send(Self.rawWebhook(body: body, shop: business.shop, webhookId: "pieces-\(index % 10)"))
                #expect(await connection.responses(1).map(\.body) == [#"{"ok":true}"#])
            }
            // 20 deliveries, 10 distinct webhook ids: 10 jobs.
            #expect(try await Self.queueLength(redis, EcommerceQueue.orders) == 10)
        }
    }

    @Test("an oversized body is refused with 413 that the client can read, then the connection closes")
    func oversizedOnTheWire() async throws {
        try await self.withGateway(carrier: .fastPath) { client, postgres, redis in
            let business = try await BusinessFixture.create(on: postgres, stock: [("A", 5, 11)])
            let body = String(repeating: "x", count: Self.maxBody + 1)
            let connection = try RawConnection(port: try #require(client.port))
            defer { connection.close() }
            connection.send(Self.rawWebhook(body: body, shop: business.shop, webhookId: "big"))
            let responses = await connection.responses(1)
            #expect(responses.map(\.status) == [413])
            #expect(responses.first?.headers.contains("Connection: close") == true)
            #expect(await connection.closedByPeer())
            #expect(try await Self.queueLength(redis, EcommerceQueue.orders) == 0)
        }
    }

    @Test("Connection: close is honoured after the answer")
    func connectionClose() async throws {
        try await self.withGateway(carrier: .fastPath) { client, postgres, redis in
            let business = try await BusinessFixture.create(on: postgres, stock: [("A", 5, 11)])
            let body = OrderFactory.webhookBody(OrderFactory.order(lines: [OrderFactory.line(1, variant: business.variants[0], quantity: 1)]))
            let connection = try RawConnection(port: try #require(client.port))
            defer { connection.close() }
            connection.send(Self.rawWebhook(body: body, shop: business.shop, webhookId: "bye", extraHeaders: ["Connection: close"]))
            #expect(await connection.responses(1).map(\.status) == [200])
            #expect(await connection.closedByPeer())
            #expect(try await Self.queueLength(redis, EcommerceQueue.orders) == 1)
        }
    }

    @Test("the wire parser takes only plain deliveries and leaves every other shape to the full HTTP parser")
    func wireParser() {
        func parse(_ text: String) -> WebhookWireRequest.ParseResult {
            Array(text.utf8).withUnsafeBytes { WebhookWireRequest.parse($0) }
        }
        let plain =
            "POST /ecommerce/webhooks/shopify HTTP/1.1\r\nContent-Length: 2\r\nx-shopify-topic: orders/create\r\n"
            + "X-Shopify-Hmac-SHA256:  c2ln \r\nConnection: keep-alive, Close\r\nX-Other: \u{e9}\r\n\r\n{}"
        guard case .head(let headers, let length) = parse(plain) else {
            Issue.record("plain delivery not taken")
            return
        }
        #expect(length == plain.utf8.count - 2)
        #expect(headers.contentLength == 2 && headers.topic == "orders/create" && headers.hmac == "c2ln" && headers.closesConnection)
        // Every prefix of the head is incomplete, never a wrong answer.
        for end in 0..<length {
            #expect(parse(String(decoding: Array(plain.utf8)[..<end], as: UTF8.self)) == .incomplete, "prefix \(end)")
        }
        // The scanner, fed a byte at a time, finds the same end once and only once it has arrived.
        var scanner = WebhookWireRequest.HeadScanner()
        let bytes = Array(plain.utf8)
        for end in 1...length {
            let result = bytes[..<end].withUnsafeBytes { scanner.scan($0) }
            #expect(result == (end == length ? .complete(headLength: length) : .incomplete), "prefix \(end)")
        }
        func scan(_ text: String) -> WebhookWireRequest.HeadScanner.Result {
            var scanner = WebhookWireRequest.HeadScanner()
            return Array(text.utf8).withUnsafeBytes { scanner.scan($0) }
        }
        #expect(scan("G") == .notForUs)
        #expect(scan("POST /ecommerce/webhooks/shopify?" + String(repeating: "a", count: WebhookWireRequest.maxHeadLength)) == .tooLarge)
        #expect(scan("POST /ecommerce/webhooks/shopify HTTP/1.1\r\nX: " + String(repeating: "v", count: 20_000) + "\r\n\r\n") == .tooLarge)
        #expect(parse("POST /ecommerce/webhooks/shopify?x=1 HTTP/1.1\r\nContent-Length: 0\r\n\r\n") != .notForUs)
        let notForUs = [
            "GET /ecommerce/webhooks/shopify HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            "POST /ecommerce/webhooks/shopify/x HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            "POST /healthz HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            "POST /ecommerce/webhooks/shopify HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
            "POST /ecommerce/webhooks/shopify HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST /ecommerce/webhooks/shopify HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST /ecommerce/webhooks/shopify HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n",
            "POST /ecommerce/webhooks/shopify HTTP/1.1\r\nContent-Length: +2\r\n\r\n",
            "POST /ecommerce/webhooks/shopify HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n",
            "POST /ecommerce/webhooks/shopify HTTP/1.1\r\nX-A: b\r\n folded\r\nContent-Length: 0\r\n\r\n",
            "POST /ecommerce/webhooks/shopify HTTP/1.1\nContent-Length: 0\n\n",
            "POST /ecommerce/webhooks/shopify HTTP/1.1\r\nContent-Length: 0\r\nBad Name: x\r\n\r\n",
            "POST /ecommerce/webhooks/shopify HTTP/1.1\r\nX-A: b\u{7}c\r\nContent-Length: 0\r\n\r\n",
            "POST /ecommerce/webhooks/shopify HTTP/1.1\r\nX-Shopify-Topic: a\r\nX-Shopify-Topic: b\r\nContent-Length: 0\r\n\r\n",
            "POST /ecommerce/webhooks/shopify HTTP/1.1\r\nHost: x\r\n\r\n",
            "POST /ecommerce/webhooks/shopify HTTP/1.1\r\n" + String(repeating: "X-Pad: 0123456789\r\n", count: 1_000),
        ]
        for text in notForUs {
            #expect(parse(text) == .notForUs, "\(text.prefix(120))")
        }
    }
}

/// A TCP connection to 127.0.0.1 for tests that need exact bytes on the wire; reads time out after 5 s.
///
/// Reads block, so they run on a Dispatch thread: blocking one of Swift's cooperative threads (two on this machine)
/// stalls every other test in the process, and with it their heartbeats, leases and timeouts.
final class RawConnection: @unchecked Sendable {
    struct Response: CustomStringConvertible, Sendable {
        var status: Int
        var headers: String
        var body: String
        var description: String { "\(self.status) \(self.body)" }
    }

    private let socket: Int32
    private var received: [UInt8] = []

    init(port: Int) throws {
        self.socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(self.socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(self.socket, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(self.socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
    }

    func send(_ text: String) {
        self.send(bytes: Array(text.utf8))
    }

    func send(bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(self.socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { return }
            offset += sent
        }
    }

    /// Sends `chunk` again and again until `total` bytes are sent, a send fails (the server closed, or stopped
    /// reading for 5 s) or `limit` has passed; returns how many bytes were sent and whether a send failed.
    func sendUntilRefused(_ chunk: [UInt8], total: Int, limit: Duration = .seconds(30)) async -> (sent: Int, refused: Bool) {
        await self.onThreadOfItsOwn { connection in
            let deadline = ContinuousClock.now + limit
            var sent = 0
            while sent < total, ContinuousClock.now < deadline {
                let count = chunk.withUnsafeBytes { Glibc.send(connection.socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                guard count > 0 else { return (sent, true) }
                sent += count
            }
            return (sent, false)
        }
    }

    /// Reads until `count` complete responses (by `Content-Length`) have arrived, or a read times out.
    func responses(_ count: Int) async -> [Response] {
        await self.onThreadOfItsOwn { $0.readResponses(count) }
    }

    /// True when the server has closed the connection (a read returns end of file).
    func closedByPeer() async -> Bool {
        await self.closedAt() != nil
    }

    /// When the server closed the connection, taken on the reading thread as the read returned end of file (so a
    /// test task that resumes late does not count its own wait); nil if the connection failed otherwise.
    func closedAt() async -> ContinuousClock.Instant? {
        await self.onThreadOfItsOwn { $0.isClosedByPeer() ? ContinuousClock.now : nil }
    }

    /// Runs a blocking socket call on a thread of its own. Not on Dispatch's global queue: on two cores that pool
    /// is a few threads wide, and other suites' blocking reads can hold it for many seconds, which a test timing a
    /// close would count against the server.
    private func onThreadOfItsOwn<Value: Sendable>(_ read: @escaping @Sendable (RawConnection) -> Value) async -> Value {
        await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: read(self)) }
            thread.start()
        }
    }

    private func readResponses(_ count: Int) -> [Response] {
        var responses: [Response] = []
        while responses.count < count {
            if let response = self.takeResponse() {
                responses.append(response)
                continue
            }
            guard self.readMore() else { break }
        }
        return responses
    }

    private func isClosedByPeer() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = recv(self.socket, &buffer, buffer.count, 0)
            if count == 0 { return true }
            if count < 0 { return errno == ECONNRESET }
        }
    }

    func close() {
        Glibc.close(self.socket)
    }

    private func readMore() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let count = recv(self.socket, &buffer, buffer.count, 0)
        guard count > 0 else { return false }
        self.received += buffer[..<count]
        return true
    }

    private func takeResponse() -> Response? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let headEnd = (0..<max(0, self.received.count - 3)).first(where: { Array(self.received[$0..<$0 + 4]) == separator }) else {
            return nil
        }
        let head = String(decoding: self.received[..<headEnd], as: UTF8.self)
        let length =
            head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
        guard self.received.count >= headEnd + 4 + length else { return nil }
        let body = String(decoding: self.received[(headEnd + 4)..<(headEnd + 4 + length)], as: UTF8.self)
        self.received.removeFirst(headEnd + 4 + length)
        let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
        return Response(status: status, headers: head, body: body)
    }
}
