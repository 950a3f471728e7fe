import Foundation

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
        id: String = UUID().uuidString.lowercased(),
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
