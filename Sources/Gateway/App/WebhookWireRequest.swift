import HTTPTypes

/// The head of a webhook delivery read straight from the connection's bytes, for ``WebhookChannelHandler``.
///
/// Deliberately narrow: it accepts only what Shopify sends — `POST /ecommerce/webhooks/shopify HTTP/1.1`, one
/// `Content-Length`, well-formed header lines — and answers ``ParseResult/notForUs`` for everything else, which
/// the connection then hands, from that request's first byte on, to the full HTTP parser. So the two parsers can
/// never disagree on where a request ends: a request this one takes is one the full parser reads the same way.
package enum WebhookWireRequest {
    package enum ParseResult: Equatable {
        /// Not all of the head has arrived yet.
        case incomplete
        /// Not a plain webhook delivery: the full HTTP parser must read it.
        case notForUs
        /// A webhook delivery's head: its headers, and how many bytes the head took.
        case head(WebhookHeaders, headLength: Int)
    }

    /// A delivery's head may not be longer: Shopify's are about 1 KiB. A longer one is refused with 431.
    package static let maxHeadLength = 16 * 1024
    package static let maxHeaderCount = 100
    private static let requestLinePrefix = Array("POST \(WebhookIntake.path)".utf8)
    private static let version = Array(" HTTP/1.1\r\n".utf8)

    /// Finds where a request's head ends as its bytes arrive, reading each byte once however the head is split
    /// into reads (rescanning from the start on every read would be quadratic in the head's length).
    ///
    /// It looks only for the request line's prefix and the blank line that ends a head, and stops at
    /// ``WebhookWireRequest/maxHeadLength`` bytes: what the head says is ``WebhookWireRequest/parse(_:)``'s to judge,
    /// once, when it is complete.
    package struct HeadScanner {
        package enum Result: Equatable {
            /// The head has not ended yet, within the limit.
            case incomplete
            /// The request line is not `POST /ecommerce/webhooks/shopify…`: the full HTTP parser must read it.
            case notForUs
            /// Our path, but no end of head within ``WebhookWireRequest/maxHeadLength`` bytes.
            case tooLarge
            /// The head is the first `headLength` bytes (its blank line included).
            case complete(headLength: Int)
        }

        /// Bytes already looked at (of the bytes handed to ``scan(_:)``, which must grow at the end only).
        private var scanned = 0

        package init() {}

        /// Starts over for the next request.
        package mutating func reset() {
            self.scanned = 0
        }

        package mutating func scan(_ bytes: UnsafeRawBufferPointer) -> Result {
            let prefix = WebhookWireRequest.requestLinePrefix
            while self.scanned < prefix.count {
                guard self.scanned < bytes.count else { return .incomplete }
                guard bytes[self.scanned] == prefix[self.scanned] else { return .notForUs }
                self.scanned += 1
            }
            // A blank line may straddle two reads: look again at the last three bytes already scanned.
            var index = max(prefix.count, self.scanned - 3)
            let end = min(bytes.count, WebhookWireRequest.maxHeadLength)
            while index + 3 < end {
                if bytes[index + 3] == UInt8(ascii: "\n"), bytes[index + 2] == UInt8(ascii: "\r"), bytes[index + 1] == UInt8(ascii: "\n"),
                    bytes[index] == UInt8(ascii: "\r")
                {
                    return .complete(headLength: index + 4)
                }
                index += 1
            }
            self.scanned = max(self.scanned, end)
            return bytes.count >= WebhookWireRequest.maxHeadLength ? .tooLarge : .incomplete
        }
    }

    /// Reads a complete head (see ``HeadScanner``); given only part of one it answers ``ParseResult/incomplete``.
    package static func parse(_ bytes: UnsafeRawBufferPointer) -> ParseResult {
        let end = bytes.count
        // The request line: exactly our path (a query string allowed), HTTP/1.1.
        var index = 0
        for byte in Self.requestLinePrefix {
            guard index < end else { return .incomplete }
            guard bytes[index] == byte else { return .notForUs }
            index += 1
        }
        guard index < end else { return .incomplete }
        if bytes[index] == UInt8(ascii: "?") {
            index += 1
            while index < end, bytes[index] > 0x20, bytes[index] < 0x7F { index += 1 }
        }
        for byte in Self.version {
            guard index < end else { return .incomplete }
            guard bytes[index] == byte else { return .notForUs }
            index += 1
        }

        var headers = WebhookHeaders()
        var seen: UInt16 = 0  // a bit per HeaderName

        var count = 0
        while true {
            guard index + 1 < end else { return end > Self.maxHeadLength ? .notForUs : .incomplete }
            if bytes[index] == UInt8(ascii: "\r") {
                guard bytes[index + 1] == UInt8(ascii: "\n") else { return .notForUs }
                index += 2
                break
            }
            count += 1
            guard count <= Self.maxHeaderCount, index < Self.maxHeadLength else { return .notForUs }
            // name ":" OWS value OWS CRLF; no folding, no bare CR or LF.
            let nameStart = index
            while index < end, Self.isTokenCharacter(bytes[index]) { index += 1 }
            guard index < end else { return .incomplete }
            guard index > nameStart, bytes[index] == UInt8(ascii: ":") else { return .notForUs }
            let nameEnd = index
            index += 1
            while index < end, bytes[index] == 0x20 || bytes[index] == 0x09 { index += 1 }
            let valueStart = index
            while index < end, Self.isValueCharacter(bytes[index]) { index += 1 }
            guard index + 1 < end else { return end > Self.maxHeadLength ? .notForUs : .incomplete }
            guard bytes[index] == UInt8(ascii: "\r"), bytes[index + 1] == UInt8(ascii: "\n") else { return .notForUs }
            var valueEnd = index
            while valueEnd > valueStart, bytes[valueEnd - 1] == 0x20 || bytes[valueEnd - 1] == 0x09 { valueEnd -= 1 }
            index += 2

            guard let name = HeaderName(UnsafeRawBufferPointer(rebasing: bytes[nameStart..<nameEnd])) else { continue }
            // A header that matters, given twice, is for the full parser to judge.
            let bit: UInt16 = 1 << name.rawValue
            guard seen & bit == 0 else { return .notForUs }
            seen |= bit
            let value = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[valueStart..<valueEnd]), as: UTF8.self)
            switch name {
            case .transferEncoding, .expect, .upgrade: return .notForUs
            case .contentLength:
                guard !value.isEmpty, value.utf8.count <= 12, value.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return .notForUs }
                headers.contentLength = Int(value)
            case .connection:
                headers.closesConnection = value.lowercased().split(separator: ",").contains { $0.trimmingSpaces == "close" }
            case .hmac: headers.hmac = value
            case .topic: headers.topic = value
            case .shop: headers.shop = value
            case .webhookId: headers.webhookId = value
            case .eventId: headers.eventId = value
            case .triggeredAt: headers.triggeredAt = String(value.prefix(64))
            case .requestId: headers.requestId = String(value.prefix(64))
            }
        }
        // Without a length the body's end is the full parser's business.
        guard headers.contentLength != nil else { return .notForUs }
        return .head(headers, headLength: index)
    }

    /// The headers this parser reads; every other header is checked for syntax and skipped.
    enum HeaderName: UInt16, CaseIterable {
        case contentLength, transferEncoding, expect, upgrade, connection, hmac, topic, shop, webhookId, eventId, triggeredAt, requestId

        /// The same names the router's carrier reads (`WebhookHeaders`), so that both carriers read the same headers.
        var field: HTTPField.Name {
            switch self {
            case .contentLength: .contentLength
            case .transferEncoding: .transferEncoding
            case .expect: .expect
            case .upgrade: .upgrade
            case .connection: .connection
            case .hmac: WebhookHeaders.hmacHeader
            case .topic: WebhookHeaders.topicHeader
            case .shop: WebhookHeaders.shopHeader
            case .webhookId: WebhookHeaders.webhookIdHeader
            case .eventId: WebhookHeaders.eventIdHeader
            case .triggeredAt: WebhookHeaders.triggeredAtHeader
            case .requestId: .requestId
            }
        }

        /// Each name as lower-case bytes (`canonicalName` is lower case).
        private static let all = Self.allCases.map { ($0, Array($0.field.canonicalName.utf8)) }

        /// Case-insensitive: `| 0x20` lower-cases ASCII letters and leaves the other characters of these names
        /// (`-` and digits) as they are; the bytes are known to be token characters.
        init?(_ name: UnsafeRawBufferPointer) {
            for (header, lowercased) in Self.all where lowercased.count == name.count {
                if zip(lowercased, name).allSatisfy({ $0 == $1 | 0x20 }) {
                    self = header
                    return
                }
            }
            return nil
        }
    }

    /// RFC 9110 `tchar`.
    private static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
            UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
            UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            true
        default: false
        }
    }

    /// Visible characters, space, tab and obs-text: what a field value may hold.
    private static func isValueCharacter(_ byte: UInt8) -> Bool {
        byte == 0x09 || (byte >= 0x20 && byte != 0x7F)
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var trimmed = self
        while trimmed.first == " " || trimmed.first == "\t" { trimmed.removeFirst() }
        while trimmed.last == " " || trimmed.last == "\t" { trimmed.removeLast() }
        return trimmed
    }
}
