import JSONBytes

/// The body of `bulk_operations/finish`: which operation ended, and how.
public struct ShopifyBulkOperationFinish: Sendable, Equatable {
    /// `admin_graphql_api_id`: `gid://shopify/BulkOperation/…`.
    public var operationId: String
    /// `completed`, `failed`, `canceled`, `expired`.
    public var status: String

    /// Reads `admin_graphql_api_id` (required, a BulkOperation id) and `status` from the body.
    public init(webhookBody bytes: [UInt8]) throws(JSONScanError) {
        (self.operationId, self.status) = try JSONScanner.parse(bytes) { scanner throws(JSONScanError) in
            var id: String?
            var status: String?
            var seen: UInt32 = 0  // a key given twice: the first wins, as in JSONDecoder
            try scanner.readObject { scanner, key throws(JSONScanError) in
                switch key {
                case "admin_graphql_api_id": try scanner.once(0, &seen) { scanner throws(JSONScanError) in id = try scanner.readString() }
                case "status":
                    try scanner.once(1, &seen) { scanner throws(JSONScanError) in status = try scanner.readNull() ? nil : scanner.readString() }
                default: try scanner.skipValue()
                }
            }
            guard let id, id.hasPrefix("gid://shopify/BulkOperation/"), id.utf8.count <= 100 else { throw scanner.missing("admin_graphql_api_id") }
            return (id, String((status ?? "unknown").prefix(40)))
        }
    }
}
