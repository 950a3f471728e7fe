import JobQueue
import ShopifyAdmin

extension JobRetryLater {
    /// The retry Shopify's rate limit asks for: the job comes back after the wait, without spending an attempt.
    init(_ throttled: ShopifyThrottled) {
        self.init(after: throttled.retryAfter, reason: "Shopify rate limit: \(throttled.reason)")
    }

    /// `error` as a retry that spends no attempt: itself, or Shopify's throttle as one; nil for any other error.
    static func retry(for error: any Error) -> JobRetryLater? {
        switch error {
        case let later as JobRetryLater: later
        case let throttled as ShopifyThrottled: JobRetryLater(throttled)
        default: nil
        }
    }
}
