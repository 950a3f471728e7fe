import Foundation

/// The parts of Shopify's REST order (the webhook payload) that decide its stock effect.
///
/// Decoding into this type is also what keeps customer data out of the system: names, addresses and e-mails in
/// the payload are never decoded, so they are never stored or enqueued.
public struct ShopifyOrder: Codable, Sendable, Equatable {
    public var id: Int64
    public var name: String?
    public var createdAt: String?
    public var updatedAt: String
    public var cancelledAt: String?
    public var test: Bool?
    public var lineItems: [LineItem]
    public var refunds: [Refund]?

    public struct LineItem: Codable, Sendable, Equatable {
        public var id: Int64
        public var variantId: Int64?
        public var sku: String?
        public var quantity: Int
        /// The quantity after edits removed items and refunds took them back; absent in old payloads.
        public var currentQuantity: Int?

        public init(id: Int64, variantId: Int64?, sku: String?, quantity: Int, currentQuantity: Int?) {
            self.id = id
            self.variantId = variantId
            self.sku = sku
            self.quantity = quantity
            self.currentQuantity = currentQuantity
        }

        enum CodingKeys: String, CodingKey {
            case id, sku, quantity
            case variantId = "variant_id"
            case currentQuantity = "current_quantity"
        }
    }

    public struct Refund: Codable, Sendable, Equatable {
        public var id: Int64
        public var refundLineItems: [RefundLineItem]

        public init(id: Int64, refundLineItems: [RefundLineItem]) {
            self.id = id
            self.refundLineItems = refundLineItems
        }

        enum CodingKeys: String, CodingKey {
            case id
            case refundLineItems = "refund_line_items"
        }
    }

    public struct RefundLineItem: Codable, Sendable, Equatable {
        public var lineItemId: Int64
        public var quantity: Int
        /// `cancel`, `return`, `no_restock` (or the older `legacy_restock`).
        public var restockType: String?

        public init(lineItemId: Int64, quantity: Int, restockType: String?) {
            self.lineItemId = lineItemId
            self.quantity = quantity
            self.restockType = restockType
        }

        enum CodingKeys: String, CodingKey {
            case quantity
            case lineItemId = "line_item_id"
            case restockType = "restock_type"
        }
    }

    public init(
        id: Int64,
        name: String? = nil,
        updatedAt: String,
        cancelledAt: String? = nil,
        lineItems: [LineItem],
        refunds: [Refund]? = nil
    ) {
        self.id = id
        self.name = name
        self.updatedAt = updatedAt
        self.cancelledAt = cancelledAt
        self.lineItems = lineItems
        self.refunds = refunds
    }

    enum CodingKeys: String, CodingKey {
        case id, name, test, refunds
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case cancelledAt = "cancelled_at"
        case lineItems = "line_items"
    }

    /// When the order last changed, parsed from `updated_at`; nil when Shopify sent something unreadable.
    public var updatedAtDate: Date? { ShopifyTimestamp.parse(self.updatedAt) }

    /// How many units of a line have left stock for good: what FlowPOS stock must be decremented by in total.
    ///
    /// Units refunded with `no_restock` left the shelf and did not come back, so they still count; units removed
    /// by an edit, refunded with a restock, or part of a cancelled order returned to stock do not.
    public func consumedQuantity(of line: LineItem) -> Int {
        let notRestocked = self.refundedQuantity(of: line.id) { $0 == "no_restock" }
        let consumed: Int
        if self.cancelledAt != nil {
            consumed = notRestocked
        } else if let current = line.currentQuantity {
            consumed = current + notRestocked
        } else {
            consumed = line.quantity - self.refundedQuantity(of: line.id) { $0 != "no_restock" }
        }
        return min(max(consumed, 0), max(line.quantity, 0))
    }

    private func refundedQuantity(of lineItemId: Int64, where restockType: (String?) -> Bool) -> Int {
        (self.refunds ?? []).reduce(0) { total, refund in
            total + refund.refundLineItems.filter { $0.lineItemId == lineItemId && restockType($0.restockType) }.reduce(0) { $0 + $1.quantity }
        }
    }
}

/// A change to an order that is not the order itself (`orders/edited`, `refunds/create`): only what names it.
public struct ShopifyOrderChange: Codable, Sendable, Equatable {
    public var orderId: Int64
    /// The id of the refund or the order edit.
    public var changeId: Int64?

    public init(orderId: Int64, changeId: Int64?) {
        self.orderId = orderId
        self.changeId = changeId
    }
}

/// Shopify's timestamps: RFC 3339 with an offset, sometimes with fractional seconds
/// (`2026-11-27T10:00:00-05:00`, `2026-11-27T15:00:00.250Z`); the offset is also read without its colon.
public enum ShopifyTimestamp {
    /// The instant, or nil when the text is not such a timestamp.
    ///
    /// Read by hand: Foundation's ISO 8601 parser cost more than a microsecond per webhook on the gateway's hot
    /// path. Tests compare the two on generated timestamps.
    public static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20 else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                let digit = Int(bytes[index]) - 48
                guard digit >= 0 && digit <= 9 else { return nil }
                value = value * 10 + digit
            }
            return value
        }
        guard let year = number(0..<4), bytes[4] == UInt8(ascii: "-"), let month = number(5..<7), bytes[7] == UInt8(ascii: "-"),
            let day = number(8..<10), bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: "t"),
            let hour = number(11..<13), bytes[13] == UInt8(ascii: ":"), let minute = number(14..<16),
            bytes[16] == UInt8(ascii: ":"), let second = number(17..<19)
        else { return nil }
        guard (1...12).contains(month), day >= 1, day <= Self.daysIn(month: month, year: year), hour < 24, minute < 60, second < 60 else {
            return nil
        }
        var index = 19
        var fraction = 0.0
        if bytes[index] == UInt8(ascii: ".") {
            index += 1
            var scale = 0.1
            let start = index
            while index < bytes.count, let digit = number(index..<index + 1) {
                fraction += Double(digit) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        guard index < bytes.count else { return nil }
        var offset = 0
        switch bytes[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            index += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            // `+05:00`, or `+0500` as ISO 8601's basic format writes it.
            let colon = index + 3 < bytes.count && bytes[index + 3] == UInt8(ascii: ":") ? 1 : 0
            guard index + 5 + colon == bytes.count, let hours = number(index + 1..<index + 3),
                let minutes = number(index + 3 + colon..<index + 5 + colon), hours < 24, minutes < 60
            else { return nil }
            offset = (hours * 60 + minutes) * 60 * (bytes[index] == UInt8(ascii: "-") ? -1 : 1)
            index += 5 + colon
        default:
            return nil
        }
        guard index == bytes.count else { return nil }
        let seconds = Self.daysSinceEpoch(year: year, month: month, day: day) * 86_400 + hour * 3_600 + minute * 60 + second - offset
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days from 1970-01-01 to the given day of the proleptic Gregorian calendar (Howard Hinnant's algorithm).
    private static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
