import Foundation
import JSONBytes

/// The definition of one job kind: its name, its queue and its payload type, written once and used by both
/// the side that enqueues and the side that handles.
public protocol JobDefinition: Sendable {
    associatedtype Payload: Codable & Sendable
    /// Stable name stored in every envelope, e.g. `orders.ingest`.
    static var kind: String { get }
    /// The Redis list the job goes to, e.g. `ecommerce-orders`.
    static var queue: String { get }
    /// Attempts before the job goes to dead letters.
    static var maxAttempts: Int { get }
}

/// The JSON document that travels through Redis for every job.
///
/// `{"id", "kind", "businessId", "shop", "attempt", "maxAttempts", "enqueuedAt", "dedupeKey", "payload"}`.
public struct JobEnvelope<Payload: Codable & Sendable>: Codable, Sendable {
    public var id: String
    public var kind: String
    public var businessId: String?
    public var shop: String?
    /// Failed attempts so far (0 on the first run).
    public var attempt: Int
    public var maxAttempts: Int
    public var enqueuedAt: Date
    public var dedupeKey: String?
    public var payload: Payload

    public init(
        id: String = JobEnvelope.newID(),
        kind: String,
        businessId: String? = nil,
        shop: String? = nil,
        attempt: Int = 0,
        maxAttempts: Int,
        enqueuedAt: Date = Date(),
        dedupeKey: String? = nil,
        payload: Payload
    ) {
        self.id = id
        self.kind = kind
        self.businessId = businessId
        self.shop = shop
        self.attempt = attempt
        self.maxAttempts = maxAttempts
        self.enqueuedAt = enqueuedAt
        self.dedupeKey = dedupeKey
        self.payload = payload
    }
}

extension JobEnvelope {
    /// A random (version 4) UUID in lower case, from the system's generator.
    ///
    /// Why not `UUID()`: on Linux it opens and reads `/dev/urandom` on every call, which showed as 6 % of the
    /// gateway's CPU under load.
    public static func newID() -> String {
        var bits: (UInt64, UInt64) = (0, 0)
        // One call for both halves (`SystemRandomNumberGenerator` makes a system call per 8 bytes).
        withUnsafeMutableBytes(of: &bits) { arc4random_buf($0.baseAddress!, $0.count) }
        bits.0 = bits.0 & 0xFFFF_FFFF_FFFF_0FFF | 0x0000_0000_0000_4000  // version 4
        bits.1 = bits.1 & 0x3FFF_FFFF_FFFF_FFFF | 0x8000_0000_0000_0000  // RFC 4122 variant
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(36)
        for (index, word) in [bits.0, bits.1].enumerated() {
            for nibble in 0..<16 {
                let position = index * 16 + nibble
                if position == 8 || position == 12 || position == 16 || position == 20 { text.append(UInt8(ascii: "-")) }
                text.append(digits[Int(word >> UInt64(60 - nibble * 4) & 0xF)])
            }
        }
        return String(decoding: text, as: UTF8.self)
    }
}

extension JobDefinition {
    /// A new envelope of this kind.
    public static func envelope(
        _ payload: Payload,
        businessId: String? = nil,
        shop: String? = nil,
        dedupeKey: String? = nil
    ) -> JobEnvelope<Payload> {
        JobEnvelope(kind: Self.kind, businessId: businessId, shop: shop, maxAttempts: Self.maxAttempts, dedupeKey: dedupeKey, payload: payload)
    }
}

/// The envelope without its payload: what the worker reads to route a job before knowing its payload type.
public struct JobHeader: Codable, Sendable {
    public var id: String
    public var kind: String
    public var businessId: String?
    public var shop: String?
    public var attempt: Int
    public var maxAttempts: Int
    public var enqueuedAt: Date
    public var dedupeKey: String?
}

/// The one JSON configuration every envelope is written and read with.
public enum JobCoding {
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}

extension JobEnvelope: JSONWritable where Payload: JSONWritable {
    /// The same document `JobCoding.encoder()` writes, written directly: the gateway's hot path (see `JSONWriter`).
    @inlinable
    public func write(to writer: inout JSONWriter) {
        writer.object { writer in
            writer.field("id", self.id)
            writer.field("kind", self.kind)
            writer.field("businessId", self.businessId)
            writer.field("shop", self.shop)
            writer.field("attempt", self.attempt)
            writer.field("maxAttempts", self.maxAttempts)
            writer.field("enqueuedAt", date: self.enqueuedAt)
            writer.field("dedupeKey", self.dedupeKey)
            writer.field("payload", self.payload)
        }
    }
}
