import Foundation

extension ShopifySimulator {
    static func date(_ value: Any?) -> Date? {
        guard let text = value as? String else { return nil }
        return ISO8601DateFormatter().date(from: text)
    }

    /// `orders(first:, after:, sortKey: UPDATED_AT, query: "updated_at:>='…'")`: a page with cursors of its own
    /// (the last `updated_at` and id seen), so that an order updated between two pages is seen again, not skipped.
    /// Returned as a connection already sliced; its orders are supersets, shaped by the selection afterwards.
    static func orders(_ arguments: [String: Any], in shop: SimulatedShop) -> [String: Any]? {
        let first = max(0, arguments["first"] as? Int ?? 0)
        var since = Date.distantPast
        if let query = arguments["query"] as? String,
            let range = query.range(of: #"updated_at:>='?([^' ]+)'?"#, options: .regularExpression)
        {
            let value = query[range].replacingOccurrences(of: "updated_at:>=", with: "").trimmingCharacters(in: CharacterSet(charactersIn: "'"))
            guard let parsed = ISO8601DateFormatter().date(from: value) else { return nil }
            since = parsed
        }
        // Ordered by the kept `updated_at` index; only the page's own payloads are parsed.
        var matching = shop.orderUpdatedAt.filter { $0.value >= since }.map { (updated: $0.value, id: $0.key) }
        matching.sort { ($0.updated, $0.id) < ($1.updated, $1.id) }
        if let cursor = arguments["after"] as? String, let decoded = Data(base64Encoded: cursor).map({ String(decoding: $0, as: UTF8.self) }) {
            let parts = decoded.split(separator: "|")
            if parts.count == 2, let seconds = Double(parts[0]), let id = Int64(parts[1]) {
                let after = Date(timeIntervalSince1970: seconds)
                matching = matching.filter { ($0.updated, $0.id) > (after, id) }
            }
        }
        let page = matching.prefix(first)
        let nodes = page.compactMap { Self.order(id: $0.id, in: shop) }
        let cursors = page.map { Data("\($0.updated.timeIntervalSince1970)|\($0.id)".utf8).base64EncodedString() }
        return [
            "nodes": nodes,
            "edges": zip(nodes, cursors).map { ["node": $0.0, "cursor": $0.1] as [String: Any] },
            "pageInfo": [
                "hasNextPage": matching.count > first, "hasPreviousPage": false,
                "startCursor": cursors.first as Any? ?? NSNull(), "endCursor": cursors.last as Any? ?? NSNull(),
            ] as [String: Any],
        ]
    }

    /// `order(id:)`.
    static func order(_ arguments: [String: Any], in shop: SimulatedShop) -> Any {
        guard let id = number(fromGID: arguments["id"]) else { return NSNull() }
        return Self.order(id: id, in: shop) ?? NSNull()
    }

    /// `refund(id:)`: refunds are found through the order that holds them.
    static func refund(_ arguments: [String: Any], in shop: SimulatedShop) -> Any {
        guard let id = number(fromGID: arguments["id"]) else { return NSNull() }
        for orderId in shop.orders.keys {
            guard let order = Self.order(id: orderId, in: shop), let refunds = order["refunds"] as? [[String: Any]] else { continue }
            if let refund = refunds.first(where: { $0["id"] as? String == "gid://shopify/Refund/\(id)" }) { return refund }
        }
        return NSNull()
    }

    /// An order as GraphQL shapes it, from its REST payload: lines and refund lines as plain lists (connections are
    /// sliced by the selection's `first` and `after`).
    static func order(id: Int64, in shop: SimulatedShop) -> [String: Any]? {
        guard let data = shop.orders[id], let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        let lines = json["line_items"] as? [[String: Any]] ?? []
        let refunds = json["refunds"] as? [[String: Any]] ?? []
        return [
            "id": "gid://shopify/Order/\(id)",
            "name": json["name"] ?? NSNull(),
            "createdAt": json["created_at"] ?? NSNull(),
            "updatedAt": json["updated_at"] ?? NSNull(),
            "cancelledAt": json["cancelled_at"] ?? NSNull(),
            "test": json["test"] ?? false,
            "lineItems": lines.map { line -> [String: Any] in
                [
                    "id": "gid://shopify/LineItem/\(line["id"] ?? 0)",
                    "quantity": line["quantity"] ?? 0,
                    "currentQuantity": line["current_quantity"] ?? NSNull(),
                    "sku": line["sku"] ?? NSNull(),
                    "variant": (line["variant_id"] as? NSNumber).map { $0.int64Value }.map {
                        ["id": "gid://shopify/ProductVariant/\($0)"] as Any
                    } ?? NSNull(),
                ]
            },
            "refunds": refunds.map { refund -> [String: Any] in
                [
                    "id": "gid://shopify/Refund/\(refund["id"] ?? 0)",
                    "refundLineItems": (refund["refund_line_items"] as? [[String: Any]] ?? []).map { line -> [String: Any] in
                        [
                            "quantity": line["quantity"] ?? 0,
                            "restockType": ((line["restock_type"] as? String) ?? "no_restock").uppercased(),
                            "lineItem": ["id": "gid://shopify/LineItem/\(line["line_item_id"] ?? 0)"],
                        ]
                    },
                ]
            },
        ]
    }
}
