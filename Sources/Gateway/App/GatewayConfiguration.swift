import Foundation
import Operations
import ProcessEnvironment
import Shopify
import ShopifyAdmin
import Storage

/// The gateway's configuration (DESIGN §7).
public struct GatewayConfiguration: Sendable {
    public var common: CommonConfiguration
    public var host: String
    public var port: Int
    /// `SHOPIFY_API_SECRET`: the webhook HMAC key.
    public var apiSecret: String
    /// `SHOPIFY_API_SECRET_PREVIOUS`: still accepted during a rotation.
    public var previousApiSecret: String?
    /// Webhook bodies above this get 413.
    public var maxWebhookBodyBytes: Int
    /// How long a shop → business lookup is reused.
    public var shopCacheTTL: Duration
    /// `JWT_SECRET`: the HS256 key of admin tokens.
    public var jwtSecret: String
    /// `JWT_AUDIENCE`, `JWT_ISSUER` (unset): when set, an admin token's `aud` must include it, its `iss` must be it.
    public var jwtAudience: String?
    public var jwtIssuer: String?
    /// `PRODUCT_PUSH_PAGE_SIZE`: products per page job of a push.
    public var productPageSize: Int
    /// `HTTP_IDLE_TIMEOUT_SECONDS` (75, nginx's `keepalive_timeout`): a connection with no request for this long
    /// is closed.
    public var idleTimeout: Duration
    /// `HTTP_READ_TIMEOUT_SECONDS` (60, nginx's `client_header_timeout`): a webhook delivery must arrive whole, head
    /// and body, this long after its first byte, or its connection is closed.
    public var readTimeout: Duration
    /// The OAuth install; nil (routes answer 503) unless `SHOPIFY_API_KEY` is set.
    public var oauth: OAuthConfiguration?
    /// `GATEWAY_METRICS_PORT` (unset): when set, `/metrics` is served only there (on `GATEWAY_METRICS_HOST`,
    /// `0.0.0.0`), not on the public port.
    public var metricsPort: Int?
    public var metricsHost: String
    /// `METRICS_REFRESH_SECONDS` (5): the queue and poll-lag gauges are read from Redis and PostgreSQL at most this
    /// often, however often `/metrics` is scraped.
    public var metricsRefreshInterval: Duration
    /// `DOCTOR_MIN_INTERVAL_SECONDS` (5): a business's doctor runs at most once this often per gateway (its fix
    /// likewise); a request sooner gets 429 with Retry-After. Each run spends the shop's Shopify budget, which its
    /// pushes and polls need.
    public var doctorMinInterval: Duration
    /// `POLL_INTERVAL_SECONDS` (900): a new connection joins the poll schedule with it.
    public var pollInterval: Duration
    /// `WEBHOOK_DEDUPE_HOURS` (48): how long a webhook's event id keeps a second delivery of it out of the queue
    /// (the dedupe keys' retention; ingestion's own dedupe in PostgreSQL catches what arrives later).
    public var webhookDedupeWindow: Duration

    public init(environment: Environment = Environment()) throws(ConfigurationError) {
        self.common = try CommonConfiguration(environment: environment)
        self.host = environment.optional("HTTP_HOST") ?? "0.0.0.0"
        self.port = try environment.int("HTTP_PORT", default: 8080, range: 0...65535)
        self.apiSecret = try environment.required("SHOPIFY_API_SECRET")
        self.previousApiSecret = environment.optional("SHOPIFY_API_SECRET_PREVIOUS")
        self.maxWebhookBodyBytes = try environment.int("WEBHOOK_MAX_BODY_BYTES", default: 1_048_576, range: 1024...(64 << 20))
        self.shopCacheTTL = try environment.seconds("SHOP_CACHE_TTL_SECONDS", default: 30, range: 0...3600)
        self.jwtSecret = try environment.required("JWT_SECRET")
        guard self.jwtSecret.utf8.count >= 32 else { throw ConfigurationError(variable: "JWT_SECRET", reason: "must have at least 32 bytes") }
        self.jwtAudience = environment.optional("JWT_AUDIENCE")
        self.jwtIssuer = environment.optional("JWT_ISSUER")
        self.productPageSize = try environment.int("PRODUCT_PUSH_PAGE_SIZE", default: 50, range: 1...250)
        self.pollInterval = try environment.seconds("POLL_INTERVAL_SECONDS", default: 900, range: 1...86_400)
        self.idleTimeout = try environment.seconds("HTTP_IDLE_TIMEOUT_SECONDS", default: 75, range: 0.1...86_400)
        self.readTimeout = try environment.seconds("HTTP_READ_TIMEOUT_SECONDS", default: 60, range: 0.1...86_400)
        self.metricsPort = try environment.optional("GATEWAY_METRICS_PORT").map { _ throws(ConfigurationError) in
            try environment.int("GATEWAY_METRICS_PORT", default: 9090, range: 0...65535)
        }
        self.metricsHost = environment.optional("GATEWAY_METRICS_HOST") ?? "0.0.0.0"
        self.metricsRefreshInterval = try environment.seconds("METRICS_REFRESH_SECONDS", default: 5, range: 0...300)
        self.doctorMinInterval = try environment.seconds("DOCTOR_MIN_INTERVAL_SECONDS", default: 5, range: 0...3600)
        self.webhookDedupeWindow = .seconds(3600 * (try environment.int("WEBHOOK_DEDUPE_HOURS", default: 48, range: 1...720)))
        self.oauth = try environment.optional("SHOPIFY_API_KEY").map { apiKey throws(ConfigurationError) in
            try OAuthConfiguration(apiKey: apiKey, environment: environment)
        }
    }
}

/// What the OAuth install needs besides the app secret: set `SHOPIFY_API_KEY` and the rest become required.
public struct OAuthConfiguration: Sendable {
    /// `SHOPIFY_API_KEY`: the app's client id.
    public var apiKey: String
    /// `SHOPIFY_SCOPES` (`write_products,write_inventory,read_locations,read_orders`).
    public var scopes: [String]
    /// `PUBLIC_BASE_URL`: the gateway as Shopify reaches it (OAuth `redirect_uri`, webhook subscriptions).
    public var publicBaseURL: String
    /// `APP_REDIRECT_URL`: where the merchant lands after the callback.
    public var appRedirectURL: String
    /// `TOKEN_ENCRYPTION_KEYS`.
    public var tokenCipher: TokenCipher
    /// `SHOPIFY_API_VERSION`, `SHOPIFY_ADMIN_BASE_URL`.
    public var shopify: ShopifyAdminConfiguration

    init(apiKey: String, environment: Environment) throws(ConfigurationError) {
        self.apiKey = apiKey
        self.scopes = environment.optional("SHOPIFY_SCOPES").map(ShopifyAccessScopes.parse) ?? ShopifyAccessScopes.needed
        func url(_ name: String) throws(ConfigurationError) -> String {
            let value = try environment.required(name)
            guard let url = URL(string: value), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                throw ConfigurationError(variable: name, reason: "must be an http(s) URL")
            }
            return value.hasSuffix("/") ? String(value.dropLast()) : value
        }
        self.publicBaseURL = try url("PUBLIC_BASE_URL")
        self.appRedirectURL = try url("APP_REDIRECT_URL")
        guard let tokenCipher = try TokenCipher.fromEnvironment(environment) else {
            throw ConfigurationError(variable: "TOKEN_ENCRYPTION_KEYS", reason: "is required with SHOPIFY_API_KEY")
        }
        self.tokenCipher = tokenCipher
        self.shopify = try ShopifyAdminConfiguration(environment: environment)
    }
}
