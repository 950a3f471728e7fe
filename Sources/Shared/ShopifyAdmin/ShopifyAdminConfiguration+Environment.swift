import Foundation
import ProcessEnvironment

extension ShopifyAdminConfiguration {
    /// Reads `SHOPIFY_API_VERSION` (`2026-10`), `SHOPIFY_ADMIN_BASE_URL` (`https://{shop}`) and
    /// `SHOPIFY_MAX_INLINE_WAIT_SECONDS` (2: a call whose shop's budget cannot cover it sooner hands its job back,
    /// for when the bucket will have refilled, rather than sleep in a worker slot that another shop could use).
    public init(environment: Environment) throws(ConfigurationError) {
        self.init()
        self.maxInlineWait = try environment.seconds("SHOPIFY_MAX_INLINE_WAIT_SECONDS", default: 2, range: 0...300)
        if let version = environment.optional("SHOPIFY_API_VERSION") {
            guard version.range(of: #"^\d{4}-(01|04|07|10)$"#, options: .regularExpression) != nil else {
                throw ConfigurationError(variable: "SHOPIFY_API_VERSION", reason: "must look like 2026-10")
            }
            self.apiVersion = version
        }
        if let base = environment.optional("SHOPIFY_ADMIN_BASE_URL") {
            guard base.contains("{shop}"), base.hasPrefix("http://") || base.hasPrefix("https://") else {
                throw ConfigurationError(variable: "SHOPIFY_ADMIN_BASE_URL", reason: "must be an http(s) URL containing {shop}")
            }
            self.baseURLTemplate = base.hasSuffix("/") ? String(base.dropLast()) : base
        }
    }
}
