/// Shopify's global ids (`gid://shopify/Product/123`) and the numeric ids stored in our tables.
public enum ShopifyGID {
    public static func make(_ type: String, _ id: Int64) -> String { "gid://shopify/\(type)/\(id)" }

    /// The numeric id at the end of a gid (ignoring a `?query`), nil when there is none.
    public static func number(_ gid: String) -> Int64? {
        let path = gid.split(separator: "?", maxSplits: 1).first ?? ""
        return path.split(separator: "/").last.flatMap { Int64($0) }
    }
}
