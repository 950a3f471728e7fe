import Foundation

/// A JSON value that keeps what `JSONSerialization` blurs (a boolean is not the number 1, 2 is not 2.0), so that
/// variables can be checked against their declared types as Shopify checks them.
indirect enum JSONLiteral: Sendable, Equatable, Decodable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONLiteral])
    case object([String: JSONLiteral])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONLiteral].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONLiteral].self))
        }
    }

    /// The value as `JSONSerialization` would have produced it (what the operation handlers read).
    var any: Any {
        switch self {
        case .null: NSNull()
        case .bool(let value): value
        case .int(let value): Int(value)
        case .double(let value): value
        case .string(let value): value
        case .array(let values): values.map(\.any)
        case .object(let fields): fields.mapValues(\.any)
        }
    }

    var isNull: Bool { self == .null }

    /// A short rendering for error messages: strings quoted, as graphql-ruby prints them.
    var rendered: String {
        switch self {
        case .null: "null"
        case .bool(let value): "\(value)"
        case .int(let value): "\(value)"
        case .double(let value): "\(value)"
        case .string(let value): "\"\(value)\""
        case .array(let values): "[\(values.map(\.rendered).joined(separator: ", "))]"
        case .object(let fields): "{\(fields.keys.sorted().map { "\($0): \(fields[$0]!.rendered)" }.joined(separator: ", "))}"
        }
    }
}
