import Foundation

extension ShopifySimulator {
    static func date(_ value: Any?) -> Date? {
        guard let text = value as? String else { return nil }
        return ISO8601DateFormatter().date(from: text)
    }

    /// `orders(first:, after:, sortKey: UPDATED_AT, query: "updated_at:>='…'")` with opaque cursors.
    static func orders(_ variables: [String: Any], in shop: SimulatedShop) -> (result: [String: Any], actualCost: Double)? {
        let first = variables["first"] as? Int ?? 0
        guard (1...250).contains(first) else { return nil }
        var since = Date.distantPast
        if let query = variables["query"] as? String,
            let range = query.range(of: #"updated_at:>='?([^' ]+)'?"#, options: .regularExpression)
        {
            let value = query[range].replacingOccurrences(of: "updated_at:>=", with: "").trimmingCharacters(in: CharacterSet(charactersIn: "'"))
            guard let parsed = ISO8601DateFormatter().date(from: value) else { return nil }
            since = parsed
        }
        // Ordered by the kept `updated_at` index; only the page's own payloads are parsed.
        var matching = shop.orderUpdatedAt.filter { $0.value >= since }.map { (updated: $0.value, id: $0.key) }
        matching.sort { ($0.updated, $0.id) < ($1.updated, $1.id) }
        if let cursor = variables["after"] as? String, let decoded = Data(base64Encoded: cursor).map({ String(decoding: $0, as: UTF8.self) }) {
            let parts = decoded.split(separator: "|")
            if parts.count == 2, let seconds = Double(parts[0]), let id = Int64(parts[1]) {
                let after = Date(timeIntervalSince1970: seconds)
                matching = matching.filter { ($0.updated, $0.id) > (after, id) }
            }
        }
        let page: [(updated: Date, id: Int64, json: [String: Any])] = matching.prefix(first).compactMap { entry in
            guard let data = shop.orders[entry.id], let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
            return (entry.updated, entry.id, json)
        }
        var actual = 2.0
        let nodes: [[String: Any]] = page.map { order in
            let json = order.json
            let lines = json["line_items"] as? [[String: Any]] ?? []
            let refunds = json["refunds"] as? [[String: Any]] ?? []
            actual += 1 + Double(lines.count) + Double(refunds.reduce(0) { $0 + (($1["refund_line_items"] as? [Any])?.count ?? 0) })
            return [
                "id": "gid://shopify/Order/\(order.id)",
                "name": json["name"] ?? NSNull(),
                "createdAt": json["created_at"] ?? NSNull(),
                "updatedAt": json["updated_at"] ?? NSNull(),
                "cancelledAt": json["cancelled_at"] ?? NSNull(),
                "test": json["test"] ?? false,
                "lineItems": [
                    "nodes": lines.map { line -> [String: Any] in
                        [
                            "id": "gid://shopify/LineItem/\(line["id"] ?? 0)",
                            "quantity": line["quantity"] ?? 0,
                            "currentQuantity": line["current_quantity"] ?? NSNull(),
                            "sku": line["sku"] ?? NSNull(),
                            "variant": (line["variant_id"] as? NSNumber).map { $0.int64Value }.map {
                                ["id": "gid://shopify/ProductVariant/\($0)"] as Any
                            } ?? NSNull(),
                        ]
                    }
                ],
                "refunds": refunds.map { refund -> [String: Any] in
                    [
                        "id": "gid://shopify/Refund/\(refund["id"] ?? 0)",
                        "refundLineItems": [
                            "nodes": (refund["refund_line_items"] as? [[String: Any]] ?? []).map { line -> [String: Any] in
                                [
                                    "quantity": line["quantity"] ?? 0,
                                    "restockType": ((line["restock_type"] as? String) ?? "no_restock").uppercased(),
                                    "lineItem": ["id": "gid://shopify/LineItem/\(line["line_item_id"] ?? 0)"],
                                ]
                            }
                        ],
                    ]
                },
            ]
        }
        let last = page.last.map { Data("\($0.updated.timeIntervalSince1970)|\($0.id)".utf8).base64EncodedString() }
        return (
            ["nodes": nodes, "pageInfo": ["hasNextPage": matching.count > first, "endCursor": last as Any? ?? NSNull()]],
            actual
        )
    }
}
