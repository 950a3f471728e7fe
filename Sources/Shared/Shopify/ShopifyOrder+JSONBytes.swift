import JSONBytes

// The gateway's fast path for webhook bodies (see `JSONScanner` for why). Each reader and writer here has the shape
// of the type's `Codable` conformance: same keys, `null` or absent for an optional, anything else skipped. The tests
// hold the two to that ("webhook bodies read alike").

extension ShopifyOrder: JSONWritable, JSONScannable {
    /// Reads a webhook order body (Shopify's REST order), keeping only what decides its stock effect.
    public init(webhookBody bytes: [UInt8]) throws(JSONScanError) {
        self = try JSONScanner.parse(bytes) { scanner throws(JSONScanError) in try ShopifyOrder(scanning: &scanner) }
    }

    public init(scanning scanner: inout JSONScanner) throws(JSONScanError) {
        var id: Int64?
        var name: String?
        var createdAt: String?
        var updatedAt: String?
        var cancelledAt: String?
        var test: Bool?
        var lineItems: [LineItem]?
        var refunds: [Refund]?
        var seen: UInt32 = 0  // a key given twice: the first wins, as in JSONDecoder
        try scanner.readObject { scanner, key throws(JSONScanError) in
            switch key {
            case "id": try scanner.once(0, &seen) { scanner throws(JSONScanError) in id = try scanner.readInt64() }
            case "name": try scanner.once(1, &seen) { scanner throws(JSONScanError) in name = try scanner.readNull() ? nil : scanner.readString() }
            case "created_at":
                try scanner.once(2, &seen) { scanner throws(JSONScanError) in createdAt = try scanner.readNull() ? nil : scanner.readString() }
            case "updated_at": try scanner.once(3, &seen) { scanner throws(JSONScanError) in updatedAt = try scanner.readString() }
            case "cancelled_at":
                try scanner.once(4, &seen) { scanner throws(JSONScanError) in cancelledAt = try scanner.readNull() ? nil : scanner.readString() }
            case "test": try scanner.once(5, &seen) { scanner throws(JSONScanError) in test = try scanner.readNull() ? nil : scanner.readBool() }
            case "line_items":
                try scanner.once(6, &seen) { scanner throws(JSONScanError) in
                    var items: [LineItem] = []
                    try scanner.readArray { scanner throws(JSONScanError) in items.append(try LineItem(scanning: &scanner)) }
                    lineItems = items
                }
            case "refunds":
                try scanner.once(7, &seen) { scanner throws(JSONScanError) in
                    if try scanner.readNull() { return }
                    var list: [Refund] = []
                    try scanner.readArray { scanner throws(JSONScanError) in list.append(try Refund(scanning: &scanner)) }
                    refunds = list
                }
            default: try scanner.skipValue()
            }
        }
        guard let id else { throw scanner.missing("id") }
        guard let updatedAt else { throw scanner.missing("updated_at") }
        guard let lineItems else { throw scanner.missing("line_items") }
        self.init(id: id, name: name, updatedAt: updatedAt, cancelledAt: cancelledAt, lineItems: lineItems, refunds: refunds)
        self.createdAt = createdAt
        self.test = test
    }

    public func write(to writer: inout JSONWriter) {
        writer.object { writer in
            writer.field("id", self.id)
            writer.field("name", self.name)
            writer.field("created_at", self.createdAt)
            writer.field("updated_at", self.updatedAt)
            writer.field("cancelled_at", self.cancelledAt)
            writer.field("test", self.test)
            writer.field("line_items", array: self.lineItems)
            writer.field("refunds", array: self.refunds)
        }
    }
}

extension ShopifyOrder.LineItem: JSONWritable {
    init(scanning scanner: inout JSONScanner) throws(JSONScanError) {
        var id: Int64?
        var variantId: Int64?
        var sku: String?
        var quantity: Int?
        var currentQuantity: Int?
        var seen: UInt32 = 0  // a key given twice: the first wins, as in JSONDecoder
        try scanner.readObject { scanner, key throws(JSONScanError) in
            switch key {
            case "id": try scanner.once(0, &seen) { scanner throws(JSONScanError) in id = try scanner.readInt64() }
            case "variant_id":
                try scanner.once(1, &seen) { scanner throws(JSONScanError) in variantId = try scanner.readNull() ? nil : scanner.readInt64() }
            case "sku": try scanner.once(2, &seen) { scanner throws(JSONScanError) in sku = try scanner.readNull() ? nil : scanner.readString() }
            case "quantity": try scanner.once(3, &seen) { scanner throws(JSONScanError) in quantity = try scanner.readInt() }
            case "current_quantity":
                try scanner.once(4, &seen) { scanner throws(JSONScanError) in currentQuantity = try scanner.readNull() ? nil : scanner.readInt() }
            default: try scanner.skipValue()
            }
        }
        guard let id else { throw scanner.missing("line_items[].id") }
        guard let quantity else { throw scanner.missing("line_items[].quantity") }
        self.init(id: id, variantId: variantId, sku: sku, quantity: quantity, currentQuantity: currentQuantity)
    }

    public func write(to writer: inout JSONWriter) {
        writer.object { writer in
            writer.field("id", self.id)
            writer.field("variant_id", self.variantId)
            writer.field("sku", self.sku)
            writer.field("quantity", self.quantity)
            writer.field("current_quantity", self.currentQuantity)
        }
    }
}

extension ShopifyOrder.Refund: JSONWritable {
    init(scanning scanner: inout JSONScanner) throws(JSONScanError) {
        var id: Int64?
        var lines: [ShopifyOrder.RefundLineItem]?
        var seen: UInt32 = 0  // a key given twice: the first wins, as in JSONDecoder
        try scanner.readObject { scanner, key throws(JSONScanError) in
            switch key {
            case "id": try scanner.once(0, &seen) { scanner throws(JSONScanError) in id = try scanner.readInt64() }
            case "refund_line_items":
                try scanner.once(1, &seen) { scanner throws(JSONScanError) in
                    var list: [ShopifyOrder.RefundLineItem] = []
                    try scanner.readArray { scanner throws(JSONScanError) in list.append(try ShopifyOrder.RefundLineItem(scanning: &scanner)) }
                    lines = list
                }
            default: try scanner.skipValue()
            }
        }
        guard let id else { throw scanner.missing("refunds[].id") }
        guard let lines else { throw scanner.missing("refunds[].refund_line_items") }
        self.init(id: id, refundLineItems: lines)
    }

    public func write(to writer: inout JSONWriter) {
        writer.object { writer in
            writer.field("id", self.id)
            writer.field("refund_line_items", array: self.refundLineItems)
        }
    }
}

extension ShopifyOrder.RefundLineItem: JSONWritable {
    init(scanning scanner: inout JSONScanner) throws(JSONScanError) {
        var lineItemId: Int64?
        var quantity: Int?
        var restockType: String?
        var seen: UInt32 = 0  // a key given twice: the first wins, as in JSONDecoder
        try scanner.readObject { scanner, key throws(JSONScanError) in
            switch key {
            case "line_item_id": try scanner.once(0, &seen) { scanner throws(JSONScanError) in lineItemId = try scanner.readInt64() }
            case "quantity": try scanner.once(1, &seen) { scanner throws(JSONScanError) in quantity = try scanner.readInt() }
            case "restock_type":
                try scanner.once(2, &seen) { scanner throws(JSONScanError) in restockType = try scanner.readNull() ? nil : scanner.readString() }
            default: try scanner.skipValue()
            }
        }
        guard let lineItemId else { throw scanner.missing("refund_line_items[].line_item_id") }
        guard let quantity else { throw scanner.missing("refund_line_items[].quantity") }
        self.init(lineItemId: lineItemId, quantity: quantity, restockType: restockType)
    }

    public func write(to writer: inout JSONWriter) {
        writer.object { writer in
            writer.field("line_item_id", self.lineItemId)
            writer.field("quantity", self.quantity)
            writer.field("restock_type", self.restockType)
        }
    }
}

extension ShopifyOrderChange: JSONWritable {
    /// Reads the order id from a `refunds/create` body (`order_id`) or an `orders/edited` body (`order_edit.order_id`).
    public init(topic: WebhookTopic, webhookBody bytes: [UInt8]) throws(JSONScanError) {
        self = try JSONScanner.parse(bytes) { scanner throws(JSONScanError) in
            var change: ShopifyOrderChange?
            if topic == .ordersEdited {
                var seen: UInt32 = 0  // a key given twice: the first wins, as in JSONDecoder
                try scanner.readObject { scanner, key throws(JSONScanError) in
                    switch key {
                    case "order_edit":
                        try scanner.once(0, &seen) { scanner throws(JSONScanError) in
                            change = try ShopifyOrderChange(scanningIdAndOrderId: &scanner)
                        }
                    default: try scanner.skipValue()
                    }
                }
                guard let change else { throw scanner.missing("order_edit") }
                return change
            }
            return try ShopifyOrderChange(scanningIdAndOrderId: &scanner)
        }
    }

    /// `{"id": …, "order_id": …}`, the shape of both a refund and an order edit.
    private init(scanningIdAndOrderId scanner: inout JSONScanner) throws(JSONScanError) {
        var id: Int64?
        var orderId: Int64?
        var seen: UInt32 = 0  // a key given twice: the first wins, as in JSONDecoder
        try scanner.readObject { scanner, key throws(JSONScanError) in
            switch key {
            case "id": try scanner.once(0, &seen) { scanner throws(JSONScanError) in id = try scanner.readNull() ? nil : scanner.readInt64() }
            case "order_id": try scanner.once(1, &seen) { scanner throws(JSONScanError) in orderId = try scanner.readInt64() }
            default: try scanner.skipValue()
            }
        }
        guard let orderId else { throw scanner.missing("order_id") }
        self.init(orderId: orderId, changeId: id)
    }

    public func write(to writer: inout JSONWriter) {
        writer.object { writer in
            writer.field("orderId", self.orderId)
            writer.field("changeId", self.changeId)
        }
    }
}
