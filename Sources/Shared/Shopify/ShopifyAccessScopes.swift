import Foundation

/// The access scopes the system asks a shop for, and how Shopify reports what it granted.
public enum ShopifyAccessScopes {
    /// What the module needs when `SHOPIFY_SCOPES` does not say otherwise.
    public static let needed = ["write_products", "write_inventory", "read_locations", "read_orders"]

    /// `SHOPIFY_SCOPES`'s form: comma-separated, spaces around names ignored.
    public static func parse(_ list: String) -> [String] {
        list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// What a grant allows: Shopify grants `write_x` without listing `read_x`, and a write scope implies its read scope.
    public static func implied(_ granted: [String]) -> Set<String> {
        var scopes = Set(granted)
        for scope in granted where scope.hasPrefix("write_") { scopes.insert("read_" + scope.dropFirst("write_".count)) }
        return scopes
    }
}
