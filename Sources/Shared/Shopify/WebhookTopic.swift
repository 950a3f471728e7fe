import JSONBytes

/// The webhook topics the system subscribes to, and what each one's body is.
public enum WebhookTopic: String, Sendable, CaseIterable {
    case ordersCreate = "orders/create"
    case ordersUpdated = "orders/updated"
    case ordersPaid = "orders/paid"
    case ordersCancelled = "orders/cancelled"
    case ordersEdited = "orders/edited"
    case refundsCreate = "refunds/create"
    case appUninstalled = "app/uninstalled"
    case customersDataRequest = "customers/data_request"
    case customersRedact = "customers/redact"
    case shopRedact = "shop/redact"
    case bulkOperationsFinish = "bulk_operations/finish"

    /// What the body of a topic carries.
    public enum Body: Sendable {
        /// The full REST order: its lines tell the stock effect.
        case order
        /// A change to an order (an edit, a refund) that names the order but is not the order. Shopify follows it
        /// with `orders/updated`, and polling re-reads the order, so the stock effect comes from the order's state.
        case orderChange
        /// The app's lifecycle and the mandatory privacy topics.
        case shopLifecycle
        /// A bulk operation the app started has ended (``ShopifyBulkOperationFinish``).
        case bulkOperation
    }

    public var body: Body {
        switch self {
        case .ordersCreate, .ordersUpdated, .ordersPaid, .ordersCancelled: .order
        case .ordersEdited, .refundsCreate: .orderChange
        case .appUninstalled, .customersDataRequest, .customersRedact, .shopRedact: .shopLifecycle
        case .bulkOperationsFinish: .bulkOperation
        }
    }
}

extension WebhookTopic {
    /// The topics every connection subscribes to through the Admin API. The privacy topics (`customers/*`,
    /// `shop/redact`) are configured in the app's settings, not per shop; `orders/paid` is not needed (an order
    /// that is paid is also updated).
    public static let subscribed: [WebhookTopic] = [
        .ordersCreate, .ordersUpdated, .ordersCancelled, .ordersEdited, .refundsCreate, .appUninstalled, .bulkOperationsFinish,
    ]

    /// The address Shopify delivers to, under the gateway's public base URL.
    public static func callbackURL(publicBaseURL: String) -> String { "\(publicBaseURL)/ecommerce/webhooks/shopify" }
}

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
