import Metrics

/// Admin API calls by operation and result, and waits for the shared budget.
struct ShopifyClientMetrics: Sendable {
    let budgetWaits = Counter(label: "shopify_budget_waits_total")
    /// Time spent waiting for the shop's shared cost budget.
    let budgetWaitTime = Timer(label: "shopify_budget_wait_seconds")

    func count(_ operation: String, _ result: String) {
        Counter(label: "shopify_requests_total", dimensions: [("operation", operation), ("result", result)]).increment()
    }
}
