import Foundation
import JSONBytes

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

    /// A line item id that appears more than once, if any. Shopify never sends one, and such lines could not be
    /// told apart: what was applied is kept per line item.
    public var repeatedLineItemId: Int64? {
        var seen = Set<Int64>()
        return self.lineItems.first { !seen.insert($0.id).inserted }?.id
    }

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
    public static func parse(_ text: String) -> Date? {
        RFC3339.parse(text)
    }
}
