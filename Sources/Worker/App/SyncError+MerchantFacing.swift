import JobQueue
import ShopifyAdmin
import Storage

extension SyncError {
    /// What a merchant reads in a sync log for `error`: a stable code and a readable message, never the error's
    /// own text (a Swift error's description can carry SQL, hosts, response bodies). Shopify's user errors are
    /// written for merchants and are kept; anything not known here is `internal_error`, and the caller logs the
    /// error itself for the operators.
    static func merchantFacing(_ error: any Error, subject: String? = nil) -> SyncError {
        let (code, message): (String, String)
        switch error {
        case let error as ShopifyAdminError:
            switch error {
            case .unauthorized:
                (code, message) = ("shopify_unauthorized", "Shopify refused the app's access; reconnect the store")
            case .http(let status, _):
                (code, message) = ("shopify_unavailable", "Shopify answered with an error (HTTP \(status)); it is retried")
            case .graphQL(let operation, _):
                (code, message) = ("shopify_error", "Shopify could not run \(operation)")
            case .userErrors(_, let errors):
                (code, message) = ("shopify_refused", errors.map(\.message).joined(separator: "; "))
            case .invalidResponse(let operation, _):
                (code, message) = ("shopify_unexpected_answer", "Shopify's answer to \(operation) could not be read")
            case .variantCeiling(_, let text):
                (code, message) = ("variant_ceiling", text)
            }
        case let error as PermanentJobError:
            (code, message) = (error.code, error.message)
        case is JobRetryLater, is ShopifyThrottled:
            (code, message) = ("throttled", "Shopify's rate limit was reached; the work goes on later")
        default:
            (code, message) = ("internal_error", "an internal error stopped this; operators can find it in the logs")
        }
        return SyncError(code: code, message: message, subject: subject)
    }
}
