import Foundation
import FuzzSupport
import GatewayApp
import NIOCore
import NIOEmbedded
import NIOHTTP1

/// The webhook fast path's request reader (``WebhookWireRequest``) against the full HTTP parser Hummingbird runs
/// (NIOHTTP1's, llhttp), with two properties besides "no crash":
/// - the head scanner finds the same end of head whether the bytes arrive at once or in pieces (it never looks at
///   a byte twice, so a split must not change its answer);
/// - a request the fast path takes, NIOHTTP1 reads the same way: the same head, and the request ending at the same
///   byte (what follows it is read as the next request by both).
enum WebhookHeadFuzz {
    /// Bodies longer than this are not built: the property is about where the head says the request ends.
    static let maxBody = 4096

    static func check(_ input: [UInt8]) {
        guard !input.isEmpty else { return }
        // The first byte chooses how the rest arrives: in pieces of 1…16 bytes.
        let piece = Int(input[0] % 16) + 1
        let bytes = Array(input.dropFirst())
        let whole = Self.scan([bytes])
        let pieces = stride(from: 0, to: bytes.count, by: piece).map { Array(bytes[$0..<min(bytes.count, $0 + piece)]) }
        let split = Self.scan(pieces)
        if whole != split { FuzzTarget.fail("the scanner answered \(whole) at once and \(split) in pieces of \(piece)") }
        guard case .complete(let headLength) = whole else { return }
        let parsed = bytes.withUnsafeBytes { WebhookWireRequest.parse(UnsafeRawBufferPointer(rebasing: $0[0..<headLength])) }
        guard case .head(let headers, let parsedLength) = parsed else { return }
        if parsedLength != headLength { FuzzTarget.fail("the scanner ends the head at \(headLength), the parser at \(parsedLength)") }
        guard let length = headers.contentLength, length <= Self.maxBody else { return }
        Self.agreeWithNIO(head: Array(bytes[0..<headLength]), headers: headers, bodyLength: length)
    }

    /// The scanner's answer for bytes that arrive in `pieces` (the buffer grows at its end, as a connection's does).
    static func scan(_ pieces: [[UInt8]]) -> WebhookWireRequest.HeadScanner.Result {
        var scanner = WebhookWireRequest.HeadScanner()
        var buffer: [UInt8] = []
        var result = WebhookWireRequest.HeadScanner.Result.incomplete
        for piece in pieces {
            buffer += piece
            result = buffer.withUnsafeBytes { scanner.scan($0) }
            if result != .incomplete { return result }
        }
        return result
    }

    /// Feeds the head, `bodyLength` bytes of body and a second request to NIOHTTP1's request decoder; it must read
    /// a POST with that length, exactly that much body, and then the second request.
    static func agreeWithNIO(head: [UInt8], headers: WebhookHeaders, bodyLength: Int) {
        // After a request that closes the connection nothing more is read (both close it): no second request then.
        let next = headers.closesConnection ? [] : Array("GET /next HTTP/1.1\r\nHost: fuzz\r\n\r\n".utf8)
        let channel = EmbeddedChannel()
        defer { _ = try? channel.finish() }
        do {
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
            try channel.writeInbound(ByteBuffer(bytes: head + [UInt8](repeating: UInt8(ascii: "x"), count: bodyLength) + next))
        } catch {
            FuzzTarget.fail("NIOHTTP1 refuses a request the fast path takes (\(error)): \(String(decoding: head, as: UTF8.self).debugDescription)")
        }
        var parts: [HTTPServerRequestPart] = []
        while let part = try? channel.readInbound(as: HTTPServerRequestPart.self) { parts.append(part) }
        guard case .head(let first) = parts.first else { FuzzTarget.fail("NIOHTTP1 read no head: \(parts)") }
        // The value as NIOHTTP1 keeps it (trailing blanks included); where the body ends is checked below.
        let contentLength = first.headers["content-length"]
        let length = contentLength.count == 1 ? Int(contentLength[0].trimmingCharacters(in: .whitespaces)) : nil
        guard first.method == .POST, length == bodyLength else {
            FuzzTarget.fail("NIOHTTP1 read \(first.method) with Content-Length \(contentLength), the fast path POST with \(bodyLength)")
        }
        if let shop = headers.shop, first.headers["x-shopify-shop-domain"].first.map({ $0 == shop }) != true {
            FuzzTarget.fail("NIOHTTP1 read shop \(first.headers["x-shopify-shop-domain"]), the fast path \(shop)")
        }
        var body = 0
        var index = 1
        while index < parts.count, case .body(let chunk) = parts[index] {
            body += chunk.readableBytes
            index += 1
        }
        guard body == bodyLength, index < parts.count, case .end = parts[index] else {
            FuzzTarget.fail("NIOHTTP1 read \(body) bytes of body, the fast path \(bodyLength): \(parts)")
        }
        if next.isEmpty {
            if index + 1 != parts.count { FuzzTarget.fail("NIOHTTP1 read more after a closing request: \(parts)") }
            return
        }
        guard index + 1 < parts.count, case .head(let second) = parts[index + 1], second.uri == "/next" else {
            FuzzTarget.fail("NIOHTTP1 did not read the next request where the fast path ends this one: \(parts)")
        }
    }
}

#if FUZZING
/// libFuzzer's entry point, for when its own `main` is the one linked.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    WebhookHeadFuzz.check(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}
#endif

@main
struct Main {
    static func main() { FuzzTarget.run(WebhookHeadFuzz.check) }
}
