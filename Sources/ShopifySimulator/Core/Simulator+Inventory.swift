import Foundation
import Synchronization

extension ShopifySimulator {
    /// The reasons Shopify accepts for an inventory change; any other is `INVALID_REASON`.
    static let inventoryReasons: Set<String> = [
        "correction", "cycle_count_available", "damaged", "movement_canceled", "movement_created", "movement_received",
        "movement_updated", "other", "promotion", "quality_control", "received", "reservation_created", "reservation_deleted",
        "reservation_updated", "restock", "safety_stock", "shrinkage",
    ]

    static func knowsItem(_ itemId: Int64, in shop: SimulatedShop) -> Bool {
        shop.products.values.contains { $0.variants.contains { $0.inventoryItemId == itemId } }
    }

    /// `inventorySetQuantities`: every quantity must state `changeFromQuantity` (null skips the compare); a compare
    /// that fails refuses the whole call with `CHANGE_FROM_QUANTITY_STALE`; the item must be stocked at the location.
    static func inventorySetQuantities(_ variables: [String: Any], in shop: inout SimulatedShop) -> [String: Any] {
        func refused(_ errors: [[String: Any]]) -> [String: Any] { ["inventoryAdjustmentGroup": NSNull(), "userErrors": errors] }
        guard let input = variables["input"] as? [String: Any], input["name"] as? String == "available",
            let quantities = input["quantities"] as? [[String: Any]], !quantities.isEmpty
        else {
            return refused([userError(["input"], "The quantity name must be 'available' and quantities must not be empty.", "INVALID_NAME")])
        }
        guard let reason = input["reason"] as? String, inventoryReasons.contains(reason) else {
            return refused([userError(["input", "reason"], "The reason is not valid.", "INVALID_REASON")])
        }
        var changes: [(item: Int64, location: Int64, quantity: Int)] = []
        for (index, entry) in quantities.enumerated() {
            let path = ["input", "quantities", String(index)]
            guard entry.keys.contains("changeFromQuantity") else {
                return refused([
                    userError(path + ["changeFromQuantity"], "changeFromQuantity is required (null skips the compare).", "COMPARE_QUANTITY_REQUIRED")
                ])
            }
            guard let item = number(fromGID: entry["inventoryItemId"]), knowsItem(item, in: shop) else {
                return refused([userError(path + ["inventoryItemId"], "The specified inventory item could not be found.", "INVALID_INVENTORY_ITEM")])
            }
            guard let location = number(fromGID: entry["locationId"]), let current = shop.inventory[item]?[location] else {
                return refused([userError(path + ["locationId"], "The item is not stocked at the location.", "ITEM_NOT_STOCKED_AT_LOCATION")])
            }
            // `quantity: Int!`: the schema has refused a request without it.
            let quantity = entry["quantity"] as? Int ?? 0
            if let expected = entry["changeFromQuantity"] as? Int, expected != current {
                shop.stats.inventoryStale += 1
                return refused([
                    userError(
                        path + ["changeFromQuantity"],
                        "The specified compare quantity does not match the current quantity.",
                        "CHANGE_FROM_QUANTITY_STALE"
                    )
                ])
            }
            changes.append((item, location, quantity))
        }
        for change in changes { shop.inventory[change.item, default: [:]][change.location] = change.quantity }
        shop.stats.inventoryWrites += 1
        return ["inventoryAdjustmentGroup": ["id": "gid://shopify/InventoryAdjustmentGroup/\(Int.random(in: 1...Int(Int32.max)))"], "userErrors": []]
    }

    /// `inventoryAdjustQuantities`: adds each change's `delta` to the `available` quantity; an unknown item or an
    /// item not stocked at the location refuses the whole call. Deltas commute with Shopify's own decrements.
    static func inventoryAdjustQuantities(_ variables: [String: Any], in shop: inout SimulatedShop) -> [String: Any] {
        func refused(_ errors: [[String: Any]]) -> [String: Any] { ["inventoryAdjustmentGroup": NSNull(), "userErrors": errors] }
        guard let input = variables["input"] as? [String: Any], let changes = input["changes"] as? [[String: Any]] else {
            return refused([userError(["input"], "The input must have changes.", "ADJUST_QUANTITIES_FAILED")])
        }
        guard input["name"] as? String == "available" else {
            return refused([userError(["input", "name"], "The quantity name must be 'available'.", "INVALID_QUANTITY_NAME")])
        }
        guard let reason = input["reason"] as? String, inventoryReasons.contains(reason) else {
            return refused([userError(["input", "reason"], "The reason is not valid.", "INVALID_REASON")])
        }
        var adjustments: [(item: Int64, location: Int64, delta: Int)] = []
        for (index, change) in changes.enumerated() {
            let path = ["input", "changes", String(index)]
            guard let item = number(fromGID: change["inventoryItemId"]), knowsItem(item, in: shop) else {
                return refused([userError(path + ["inventoryItemId"], "The specified inventory item could not be found.", "INVALID_INVENTORY_ITEM")])
            }
            guard let location = number(fromGID: change["locationId"]), shop.inventory[item]?[location] != nil else {
                return refused([userError(path + ["locationId"], "The item is not stocked at the location.", "ITEM_NOT_STOCKED_AT_LOCATION")])
            }
            // `delta: Int!`: the schema has refused a request without it.
            adjustments.append((item, location, change["delta"] as? Int ?? 0))
        }
        for adjustment in adjustments { shop.inventory[adjustment.item, default: [:]][adjustment.location, default: 0] += adjustment.delta }
        shop.stats.inventoryAdjustments += 1
        return ["inventoryAdjustmentGroup": ["id": "gid://shopify/InventoryAdjustmentGroup/\(Int.random(in: 1...Int(Int32.max)))"], "userErrors": []]
    }

    /// `inventoryActivate(inventoryItemId:, locationId:)`: stocks the item there with 0 available (idempotent).
    static func inventoryActivate(_ variables: [String: Any], in shop: inout SimulatedShop) -> [String: Any] {
        guard let item = number(fromGID: variables["inventoryItemId"]), knowsItem(item, in: shop) else {
            return ["inventoryLevel": NSNull(), "userErrors": [userError(["inventoryItemId"], "Inventory item not found", "NOT_FOUND")]]
        }
        guard let location = number(fromGID: variables["locationId"]), shop.locations.contains(where: { $0.id == location }) else {
            return ["inventoryLevel": NSNull(), "userErrors": [userError(["locationId"], "Location not found", "NOT_FOUND")]]
        }
        if shop.inventory[item]?[location] == nil { shop.inventory[item, default: [:]][location] = 0 }
        return ["inventoryLevel": ["id": "gid://shopify/InventoryLevel/\(item)?inventory_item_id=\(item)"], "userErrors": [] as [Any]]
    }

    /// `inventoryItem(id:)`, with `inventoryLevel(locationId:)` and its `quantities(names:)`.
    static func inventoryItem(_ arguments: [String: Any], in shop: SimulatedShop) -> Any {
        guard let item = number(fromGID: arguments["id"]), knowsItem(item, in: shop) else { return NSNull() }
        return [
            "id": "gid://shopify/InventoryItem/\(item)",
            "inventoryLevel": ArgumentDependent { arguments in
                guard let location = number(fromGID: arguments["locationId"]), let available = shop.inventory[item]?[location] else {
                    return NSNull()
                }
                return [
                    "id": "gid://shopify/InventoryLevel/\(item)?inventory_item_id=\(item)",
                    "quantities": ArgumentDependent { arguments in
                        let names = arguments["names"] as? [String] ?? []
                        return names.filter { $0 == "available" }.map { ["name": $0, "quantity": available] }
                    },
                ] as [String: Any]
            },
        ] as [String: Any]
    }
}

extension ShopifySimulator {
    /// A line of an order placed in the simulated shop (control API).
    public struct OrderLine: Codable, Sendable {
        public var variantId: Int64
        public var quantity: Int

        public init(variantId: Int64, quantity: Int) {
            self.variantId = variantId
            self.quantity = quantity
        }
    }

    /// Places an order as a customer would: Shopify decrements its own stock at the shop's first location at once.
    /// Returns the order as its `orders/create` webhook payload (REST JSON, without customer data), or nil for an
    /// unknown shop or variant.
    public func placeOrder(shop domain: String, lines: [OrderLine], at date: Date = Date()) -> Data? {
        let payload = self.state.withLock { state -> Data? in
            guard var shop = state.shops[domain], let location = shop.locations.first?.id else { return nil }
            let variants = shop.products.values.flatMap(\.variants)
            var lineItems: [[String: Any]] = []
            for line in lines {
                guard let variant = variants.first(where: { $0.id == line.variantId }) else { return nil }
                shop.inventory[variant.inventoryItemId, default: [:]][location, default: 0] -= line.quantity
                lineItems.append([
                    "id": state.ids.take(), "variant_id": variant.id, "sku": variant.sku as Any? ?? NSNull(),
                    "quantity": line.quantity, "current_quantity": line.quantity,
                ])
            }
            let id = state.ids.take()
            let timestamp = ISO8601DateFormatter().string(from: date)
            let order: [String: Any] = [
                "id": id, "admin_graphql_api_id": "gid://shopify/Order/\(id)", "name": "#\(1000 + shop.orders.count + 1)",
                "created_at": timestamp, "updated_at": timestamp, "cancelled_at": NSNull(), "test": false, "line_items": lineItems,
                "refunds": [] as [Any],
            ]
            guard let payload = try? JSONSerialization.data(withJSONObject: order, options: [.sortedKeys]) else { return nil }
            shop.store(order: id, payload: payload, updatedAt: timestamp)
            state.shops[domain] = shop
            return payload
        }
        if let payload { self.deliver(shop: domain, topic: "orders/create", payload: payload) }
        return payload
    }

    /// What happens to a placed order (control API): each changes it as Shopify would (stock included), bumps its
    /// `updated_at`, and sends the webhooks Shopify sends.
    public enum OrderChange: Sendable {
        /// An edit lowering a line's quantity: the removed units return to stock.
        case lowerQuantity(lineItemId: Int64, to: Int)
        /// A refund of units of a line, restocked or not.
        case refund(lineItemId: Int64, quantity: Int, restock: Bool)
        /// One refund of units of several lines (`lines`: line item id and quantity), restocked or not.
        case refundLines([(lineItemId: Int64, quantity: Int)], restock: Bool)
        /// Cancellation with restock.
        case cancel
    }

    /// Applies a change to an order; returns its new payload, or nil for an unknown shop, order or line.
    public func changeOrder(shop domain: String, orderId: Int64, _ change: OrderChange, at date: Date = Date()) -> Data? {
        let result = self.state.withLock { state -> (Data, [(String, Data)])? in
            guard var shop = state.shops[domain], let location = shop.locations.first?.id, let data = shop.orders[orderId],
                var order = try? JSONSerialization.jsonObject(with: data) as? [String: Any], var lines = order["line_items"] as? [[String: Any]]
            else { return nil }
            let itemOf: (Int64) -> Int64? = { variantId in
                shop.products.values.flatMap(\.variants).first { $0.id == variantId }?.inventoryItemId
            }
            func restock(_ line: [String: Any], _ quantity: Int) {
                if let variant = (line["variant_id"] as? NSNumber)?.int64Value, let item = itemOf(variant) {
                    shop.inventory[item, default: [:]][location, default: 0] += quantity
                }
            }
            /// Records one refund of `refunded` lines on the order; nil for an unknown line.
            func refund(_ refunded: [(lineItemId: Int64, quantity: Int)], _ restocked: Bool) -> [String: Any]? {
                var refundLines: [[String: Any]] = []
                for (lineItemId, quantity) in refunded {
                    guard let index = lines.firstIndex(where: { ($0["id"] as? NSNumber)?.int64Value == lineItemId }) else { return nil }
                    let current = (lines[index]["current_quantity"] as? NSNumber)?.intValue ?? 0
                    if restocked { restock(lines[index], quantity) }
                    lines[index]["current_quantity"] = max(0, current - quantity)
                    refundLines.append(["line_item_id": lineItemId, "quantity": quantity, "restock_type": restocked ? "return" : "no_restock"])
                }
                let refund: [String: Any] = ["id": state.ids.take(), "order_id": orderId, "refund_line_items": refundLines]
                order["refunds"] = (order["refunds"] as? [[String: Any]] ?? []) + [refund]
                return refund
            }
            var notices: [(String, [String: Any])] = []
            switch change {
            case .lowerQuantity(let lineItemId, let newQuantity):
                guard let index = lines.firstIndex(where: { ($0["id"] as? NSNumber)?.int64Value == lineItemId }) else { return nil }
                let current = (lines[index]["current_quantity"] as? NSNumber)?.intValue ?? 0
                restock(lines[index], max(0, current - newQuantity))
                lines[index]["current_quantity"] = min(current, newQuantity)
                notices.append(("orders/edited", ["order_edit": ["id": state.ids.take(), "order_id": orderId]]))
            case .refund(let lineItemId, let quantity, let restocked):
                guard let refund = refund([(lineItemId, quantity)], restocked) else { return nil }
                notices.append(("refunds/create", refund))
            case .refundLines(let refunded, let restocked):
                guard let refund = refund(refunded, restocked) else { return nil }
                notices.append(("refunds/create", refund))
            case .cancel:
                guard order["cancelled_at"] is NSNull || order["cancelled_at"] == nil else { return nil }
                for index in lines.indices {
                    restock(lines[index], (lines[index]["current_quantity"] as? NSNumber)?.intValue ?? 0)
                    lines[index]["current_quantity"] = 0
                }
                order["cancelled_at"] = ISO8601DateFormatter().string(from: date)
            }
            order["line_items"] = lines
            let updatedAt = ISO8601DateFormatter().string(from: date)
            order["updated_at"] = updatedAt
            guard let payload = try? JSONSerialization.data(withJSONObject: order, options: [.sortedKeys]) else { return nil }
            shop.store(order: orderId, payload: payload, updatedAt: updatedAt)
            state.shops[domain] = shop
            // The order's own topics carry the order; refunds/create and orders/edited carry their own objects.
            var deliveries: [(String, Data)] = notices.compactMap { topic, body in
                (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])).map { (topic, $0) }
            }
            if case .cancel = change { deliveries.append(("orders/cancelled", payload)) }
            deliveries.append(("orders/updated", payload))
            return (payload, deliveries)
        }
        guard let (payload, deliveries) = result else { return nil }
        for (topic, body) in deliveries { self.deliver(shop: domain, topic: topic, payload: body) }
        return payload
    }

    /// The orders of a shop as their REST payloads, oldest first (control API).
    public func orders(of domain: String) -> [Data] {
        self.state.withLock { state in (state.shops[domain]?.orders ?? [:]).sorted { $0.key < $1.key }.map(\.value) }
    }

    /// Sets the available quantity of a stocked item, as a merchant editing stock in Shopify's admin would (control
    /// API); false for an unknown shop or an item not stocked there.
    @discardableResult
    public func editAvailable(shop domain: String, inventoryItemId: Int64, locationId: Int64, to quantity: Int) -> Bool {
        self.state.withLock { state in
            guard state.shops[domain]?.inventory[inventoryItemId]?[locationId] != nil else { return false }
            state.shops[domain]?.inventory[inventoryItemId]?[locationId] = quantity
            return true
        }
    }

    /// The available quantity of an item at a location, for assertions.
    public func available(shop domain: String, inventoryItemId: Int64, locationId: Int64) -> Int? {
        self.state.withLock { $0.shops[domain]?.inventory[inventoryItemId]?[locationId] }
    }
}
