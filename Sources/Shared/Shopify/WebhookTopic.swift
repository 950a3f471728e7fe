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
