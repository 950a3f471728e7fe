import Foundation
import Synchronization

extension ShopifySimulator {
    public struct CollectionSnapshot: Codable, Sendable, Equatable {
        public var id: Int64
        public var title: String
        public var handle: String
        public var productIds: [Int64]
    }

    public func collections(of domain: String) -> [CollectionSnapshot] {
        self.state.withLock { state in
            (state.shops[domain]?.collections.values.sorted { $0.id < $1.id } ?? []).map {
                CollectionSnapshot(id: $0.id, title: $0.title, handle: $0.handle, productIds: $0.productIds.sorted())
            }
        }
    }

    /// A handle as Shopify makes one: lowercased, runs of other characters than letters and digits become `-`, and
    /// a taken one gets `-1`, `-2`… appended.
    static func uniqueHandle(_ wanted: String, in shop: SimulatedShop) -> String {
        let words = wanted.lowercased().split { !($0.isLetter || $0.isNumber) }
        let base = words.isEmpty ? "collection" : words.joined(separator: "-")
        let taken = Set(shop.collections.values.map(\.handle))
        var handle = base
        var suffix = 0
        while taken.contains(handle) {
            suffix += 1
            handle = "\(base)-\(suffix)"
        }
        return handle
    }

    /// `collectionByHandle(handle:)`: the collection with exactly that handle, or null.
    static func collection(handle: String, in shop: SimulatedShop) -> Any {
        guard let collection = shop.collections.values.first(where: { $0.handle == handle }) else { return NSNull() }
        return ["id": "gid://shopify/Collection/\(collection.id)", "handle": collection.handle, "title": collection.title]
    }

    /// Manual collections: create, rename, add and remove products (at most 250 ids per call; unknown products
    /// are refused).
    static func collectionMutation(_ field: String, _ variables: [String: Any], in shop: inout SimulatedShop, ids: inout IdSequence) -> [String: Any]
    {
        func refused(_ errors: [[String: Any]]) -> [String: Any] {
            field == "collectionRemoveProducts" ? ["job": NSNull(), "userErrors": errors] : ["collection": NSNull(), "userErrors": errors]
        }
        func answer(_ id: Int64) -> [String: Any] {
            field == "collectionRemoveProducts"
                ? ["job": ["id": "gid://shopify/Job/\(ids.take())"], "userErrors": [] as [Any]]
                : ["collection": ["id": "gid://shopify/Collection/\(id)"], "userErrors": [] as [Any]]
        }
        switch field {
        case "collectionCreate", "collectionUpdate":
            let input = variables["input"] as? [String: Any] ?? [:]
            let title = (input["title"] as? String ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            if title.isEmpty { return refused([userError(["input", "title"], "Title can't be blank", "BLANK")]) }
            if field == "collectionCreate" {
                let id = ids.take()
                let handle = uniqueHandle(input["handle"] as? String ?? title, in: shop)
                shop.collections[id] = SimulatedShop.Collection(id: id, title: title, handle: handle, productIds: [])
                shop.stats.collectionsCreated += 1
                return answer(id)
            }
            guard let id = number(fromGID: input["id"]), var collection = shop.collections[id] else {
                return refused([userError(["input", "id"], "Collection does not exist", "NOT_FOUND")])
            }
            if collection.title != title {
                collection.title = title
                shop.collections[id] = collection
                shop.stats.collectionsChanged += 1
            }
            return answer(id)
        default:
            guard let id = number(fromGID: variables["id"]), var collection = shop.collections[id] else {
                return refused([userError(["id"], "Collection does not exist", "NOT_FOUND")])
            }
            let productIds = (variables["productIds"] as? [Any] ?? []).compactMap { number(fromGID: $0) }
            if productIds.count > 250 { return refused([userError(["productIds"], "Too many product ids (maximum is 250)", "TOO_MANY")]) }
            if let unknown = productIds.first(where: { shop.products[$0] == nil }) {
                return refused([userError(["productIds"], "Product \(unknown) does not exist", "NOT_FOUND")])
            }
            let before = collection.productIds
            if field == "collectionAddProducts" {
                collection.productIds.formUnion(productIds)
            } else {
                collection.productIds.subtract(productIds)
            }
            shop.stats.membershipChanges += before.symmetricDifference(collection.productIds).count
            shop.collections[id] = collection
            return answer(id)
        }
    }
}
