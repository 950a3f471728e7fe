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

/// The JSON document that travels through Redis for every job: its header and its payload.
///
/// `{"id", "kind", "businessId", "shop", "attempt", "maxAttempts", "enqueuedAt", "dedupeKey", "traceContext", "payload"}`.
/// The header's fields read as the envelope's own (`envelope.id`, `envelope.attempt`); they are defined once, in
/// ``JobHeader``.
@dynamicMemberLookup
public struct JobEnvelope<Payload: Codable & Sendable>: Sendable {
    public var header: JobHeader
    public var payload: Payload

    public init(
        id: String = JobEnvelope.newID(),
        kind: String,
        businessId: UUID? = nil,
        shop: String? = nil,
        attempt: Int = 0,
        maxAttempts: Int,
        enqueuedAt: Date = Date(),
        dedupeKey: String? = nil,
        traceContext: [String: String]? = nil,
        payload: Payload
    ) {
        let header = JobHeader(
            id: id,
            kind: kind,
            businessId: businessId,
            shop: shop,
            attempt: attempt,
            maxAttempts: maxAttempts,
            enqueuedAt: enqueuedAt,
            dedupeKey: dedupeKey,
            traceContext: traceContext
        )
        self.init(header: header, payload: payload)
    }

    public init(header: JobHeader, payload: Payload) {
        self.header = header
        self.payload = payload
    }

    /// A header field, read and written as the envelope's own.
    public subscript<Value>(dynamicMember field: WritableKeyPath<JobHeader, Value>) -> Value {
        get { self.header[keyPath: field] }
        set { self.header[keyPath: field] = newValue }
    }
}

extension JobEnvelope {
    /// A new job id: a random (version 4) UUID in lower case.
    public static func newID() -> String {
        UUID.random().lowercasedString
    }
}

extension JobDefinition {
    /// A new envelope of this kind.
    public static func envelope(
        _ payload: Payload,
        businessId: UUID? = nil,
        shop: String? = nil,
        dedupeKey: String? = nil,
        traceContext: [String: String]? = nil
    ) -> JobEnvelope<Payload> {
        JobEnvelope(
            kind: Self.kind,
            businessId: businessId,
            shop: shop,
            maxAttempts: Self.maxAttempts,
            dedupeKey: dedupeKey,
            traceContext: traceContext,
            payload: payload
        )
    }
}

/// The envelope without its payload: what the worker reads to route a job before knowing its payload type.
public struct JobHeader: Sendable, Equatable {
    public var id: String
    public var kind: String
    public var businessId: UUID?
    public var shop: String?
    public var attempt: Int
    public var maxAttempts: Int
    public var enqueuedAt: Date
    public var dedupeKey: String?
    /// The trace the job continues, as the tracer that enqueued it propagates one: W3C `traceparent` (and
    /// `tracestate`) with OpenTelemetry. Nil when tracing is off; a worker then starts a trace of its own.
    public var traceContext: [String: String]? = nil
}

extension JobHeader {
    /// The `id` of something that is JSON with a string `id` but perhaps not an envelope: what a malformed job is
    /// buried under.
    public static func id(in raw: [UInt8]) -> String? {
        struct IdOnly: Decodable { var id: String }
        return try? JSONDecoder().decode(IdOnly.self, from: Data(raw)).id
    }
}

/// The envelope's keys, in the order they are written.
enum EnvelopeKey: String, CodingKey {
    case id, kind, businessId, shop, attempt, maxAttempts, enqueuedAt, dedupeKey, traceContext, payload
}

extension KeyedDecodingContainer<EnvelopeKey> {
    /// `businessId`: a UUID in any case, written lower-cased.
    func businessId() throws -> UUID? {
        guard let text = try self.decodeIfPresent(String.self, forKey: .businessId) else { return nil }
        guard let id = UUID(uuidString: text) else {
            throw DecodingError.dataCorruptedError(forKey: .businessId, in: self, debugDescription: "businessId is not a UUID")
        }
        return id
    }
}

extension KeyedDecodingContainer<EnvelopeKey> {
    /// `traceContext`: at most 8 string fields, as ``JobHeader/init(scanning:)`` reads it.
    func traceContext() throws -> [String: String]? {
        guard let fields = try self.decodeIfPresent([String: String].self, forKey: .traceContext) else { return nil }
        guard fields.count <= 8 else {
            throw DecodingError.dataCorruptedError(forKey: .traceContext, in: self, debugDescription: "traceContext has more than 8 fields")
        }
        return fields
    }
}

extension JobEnvelope: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: EnvelopeKey.self)
        self.init(header: try JobHeader(from: decoder), payload: try container.decode(Payload.self, forKey: .payload))
    }

    /// The header's fields, then the payload: `id` comes first, where the claim script reads it.
    public func encode(to encoder: any Encoder) throws {
        try self.header.encode(to: encoder)
        var container = encoder.container(keyedBy: EnvelopeKey.self)
        try container.encode(self.payload, forKey: .payload)
    }
}

extension JobEnvelope: Equatable where Payload: Equatable {}

extension JobHeader: Codable {
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: EnvelopeKey.self)
        try container.encode(self.id, forKey: .id)
        try container.encode(self.kind, forKey: .kind)
        try container.encodeIfPresent(self.businessId?.lowercasedString, forKey: .businessId)
        try container.encodeIfPresent(self.shop, forKey: .shop)
        try container.encode(self.attempt, forKey: .attempt)
        try container.encode(self.maxAttempts, forKey: .maxAttempts)
        try container.encode(self.enqueuedAt, forKey: .enqueuedAt)
        try container.encodeIfPresent(self.dedupeKey, forKey: .dedupeKey)
        try container.encodeIfPresent(self.traceContext, forKey: .traceContext)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: EnvelopeKey.self)
        self.init(
            id: try container.decode(String.self, forKey: .id),
            kind: try container.decode(String.self, forKey: .kind),
            businessId: try container.businessId(),
            shop: try container.decodeIfPresent(String.self, forKey: .shop),
            attempt: try container.decode(Int.self, forKey: .attempt),
            maxAttempts: try container.decode(Int.self, forKey: .maxAttempts),
            enqueuedAt: try container.decode(Date.self, forKey: .enqueuedAt),
            dedupeKey: try container.decodeIfPresent(String.self, forKey: .dedupeKey),
            traceContext: try container.traceContext()
        )
    }
}

/// The one JSON configuration every envelope is written and read with.
public enum JobCoding {
    /// The encoder of every envelope: dates as RFC 3339.
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    /// The decoder of every envelope: dates as RFC 3339.
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
            let header = self.header
            writer.field("id", header.id)
            writer.field("kind", header.kind)
            writer.field("businessId", header.businessId?.lowercasedString)
            writer.field("shop", header.shop)
            writer.field("attempt", header.attempt)
            writer.field("maxAttempts", header.maxAttempts)
            writer.field("enqueuedAt", date: header.enqueuedAt)
            writer.field("dedupeKey", header.dedupeKey)
            writer.field("traceContext", strings: header.traceContext)
            writer.field("payload", self.payload)
        }
    }
}

extension JobHeader: JSONScannable {
    /// The header of an envelope, reading its fields and skipping the payload (the worker's hot path; see
    /// `JSONScanner`). Reads what the `Codable` conformance reads, which tests hold it to.
    public init(json bytes: [UInt8]) throws(JSONScanError) {
        self = try JSONScanner.parse(bytes) { scanner throws(JSONScanError) in try JobHeader(scanning: &scanner) }
    }

    public init(scanning scanner: inout JSONScanner) throws(JSONScanError) {
        var fields = EnvelopeFields()
        try scanner.readObject { scanner, key throws(JSONScanError) in
            if try !fields.read(key, from: &scanner) { try scanner.skipValue() }
        }
        self = try fields.header(scanner)
    }
}

extension JobEnvelope: JSONScannable where Payload: JSONScannable {
    /// A whole envelope read with `JSONScanner` (see ``JobHeader/init(json:)``).
    public init(json bytes: [UInt8]) throws(JSONScanError) {
        self = try JSONScanner.parse(bytes) { scanner throws(JSONScanError) in try JobEnvelope(scanning: &scanner) }
    }

    public init(scanning scanner: inout JSONScanner) throws(JSONScanError) {
        var fields = EnvelopeFields()
        var payload: Payload?
        try scanner.readObject { scanner, key throws(JSONScanError) in
            switch key {
            case "payload": try scanner.once(8, &fields.seen) { scanner throws(JSONScanError) in payload = try Payload(scanning: &scanner) }
            default: if try !fields.read(key, from: &scanner) { try scanner.skipValue() }
            }
        }
        let header = try fields.header(scanner)
        guard let payload else { throw scanner.missing("payload") }
        self.init(header: header, payload: payload)
    }
}

/// The envelope's fields other than the payload, as they are read.
private struct EnvelopeFields {
    var id: String?
    var kind: String?
    var businessId: UUID?
    var shop: String?
    var attempt: Int?
    var maxAttempts: Int?
    var enqueuedAt: Date?
    var dedupeKey: String?
    var traceContext: [String: String]?
    /// A bit per field already read: a key given twice keeps its first value, as in JSONDecoder.
    var seen: UInt32 = 0

    /// Reads `key`'s value if it is an envelope field; false when it is not one.
    mutating func read(_ key: JSONKey, from scanner: inout JSONScanner) throws(JSONScanError) -> Bool {
        var seen = self.seen
        defer { self.seen = seen }
        switch key {
        case "id": try scanner.once(0, &seen) { scanner throws(JSONScanError) in self.id = try scanner.readString() }
        case "kind": try scanner.once(1, &seen) { scanner throws(JSONScanError) in self.kind = try scanner.readString() }
        case "businessId":
            try scanner.once(2, &seen) { scanner throws(JSONScanError) in
                guard !(try scanner.readNull()) else { return }
                let text = try scanner.readString()
                guard let id = UUID(uuidString: text) else { throw scanner.error("businessId is not a UUID") }
                self.businessId = id
            }
        case "shop": try scanner.once(3, &seen) { scanner throws(JSONScanError) in self.shop = try scanner.readNull() ? nil : scanner.readString() }
        case "attempt": try scanner.once(4, &seen) { scanner throws(JSONScanError) in self.attempt = try scanner.readInt() }
        case "maxAttempts": try scanner.once(5, &seen) { scanner throws(JSONScanError) in self.maxAttempts = try scanner.readInt() }
        case "enqueuedAt": try scanner.once(6, &seen) { scanner throws(JSONScanError) in self.enqueuedAt = try scanner.readDate() }
        case "dedupeKey":
            try scanner.once(7, &seen) { scanner throws(JSONScanError) in self.dedupeKey = try scanner.readNull() ? nil : scanner.readString() }
        case "traceContext":
            try scanner.once(9, &seen) { scanner throws(JSONScanError) in
                guard !(try scanner.readNull()) else { return }
                var fields: [String: String] = [:]
                try scanner.readObject { scanner, key throws(JSONScanError) in
                    // Propagation fields are a few short strings (`traceparent` is 55 bytes); more is not a trace.
                    guard fields.count < 8 else { throw scanner.error("traceContext has more than 8 fields") }
                    let name = key.description
                    if fields[name] == nil { fields[name] = try scanner.readString() } else { try scanner.skipValue() }
                }
                self.traceContext = fields
            }
        default: return false
        }
        return true
    }

    func header(_ scanner: JSONScanner) throws(JSONScanError) -> JobHeader {
        guard let id = self.id else { throw scanner.missing("id") }
        guard let kind = self.kind else { throw scanner.missing("kind") }
        guard let attempt = self.attempt else { throw scanner.missing("attempt") }
        guard let maxAttempts = self.maxAttempts else { throw scanner.missing("maxAttempts") }
        guard let enqueuedAt = self.enqueuedAt else { throw scanner.missing("enqueuedAt") }
        return JobHeader(
            id: id,
            kind: kind,
            businessId: self.businessId,
            shop: self.shop,
            attempt: attempt,
            maxAttempts: maxAttempts,
            enqueuedAt: enqueuedAt,
            dedupeKey: self.dedupeKey,
            traceContext: self.traceContext
        )
    }
}
