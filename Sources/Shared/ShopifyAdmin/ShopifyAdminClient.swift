import AsyncHTTPClient
import CoreMetrics
import Crypto
import Foundation
import JSONBytes
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import Tracing

/// Where and how the Admin API is reached.
public struct ShopifyAdminConfiguration: Sendable {
    /// The pinned Admin API version (`SHOPIFY_API_VERSION`).
    public var apiVersion: String
    /// `https://{shop}` for Shopify; the simulator's URL, with the same `{shop}` placeholder, in development and
    /// tests (`SHOPIFY_ADMIN_BASE_URL`).
    public var baseURLTemplate: String
    public var requestTimeout: Duration
    /// The longest one call waits in place for throttling to pass; beyond it the call throws ``ShopifyThrottled``
    /// (a worker hands its job back, no attempt spent) instead of holding a worker slot.
    public var maxInlineWait: Duration

    public init(
        apiVersion: String = "2026-10",
        baseURLTemplate: String = "https://{shop}",
        requestTimeout: Duration = .seconds(30),
        maxInlineWait: Duration = .seconds(30)
    ) {
        self.apiVersion = apiVersion
        self.baseURLTemplate = baseURLTemplate
        self.requestTimeout = requestTimeout
        self.maxInlineWait = maxInlineWait
    }

    /// `https://{shop}` with the shop filled in.
    public func baseURL(forShop shop: String) -> String {
        self.baseURLTemplate.replacingOccurrences(of: "{shop}", with: shop)
    }

    /// The Admin API's GraphQL endpoint of `shop` at the pinned version.
    public func graphQLURL(forShop shop: String) -> String {
        "\(self.baseURL(forShop: shop))/admin/api/\(self.apiVersion)/graphql.json"
    }
}

/// A shop and the offline access token the app holds for it. Never logged.
public struct ShopifyCredentials: Sendable {
    public var shop: String
    public var accessToken: String

    public init(shop: String, accessToken: String) {
        self.shop = shop
        self.accessToken = accessToken
    }

    /// Names the access token without revealing it (the start of its SHA-256), so that a refusal can say which
    /// token was refused.
    public var tokenFingerprint: String { Self.fingerprint(of: self.accessToken) }

    /// The first 8 bytes of the token's SHA-256, in hex: enough to tell tokens apart in logs, never the token.
    public static func fingerprint(of token: String) -> String {
        SHA256.hash(data: Array(token.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
    }
}

/// One GraphQL document with its variables and the cost it is expected to be charged, which is what is reserved
/// from the shop's budget before sending it.
public struct GraphQLOperation<Response: Decodable & Sendable>: Sendable {
    public var name: String
    public var query: String
    public var variables: JSONValue
    public var expectedCost: Int

    public init(name: String, query: String, variables: JSONValue, expectedCost: Int) {
        self.name = name
        self.query = query
        self.variables = variables
        self.expectedCost = expectedCost
    }
}

/// `extensions.cost` of every Admin API answer.
public struct QueryCost: Codable, Sendable, Equatable {
    public var requestedQueryCost: Double
    public var actualQueryCost: Double?
    public var throttleStatus: ThrottleStatus

    public struct ThrottleStatus: Codable, Sendable, Equatable {
        public var maximumAvailable: Double
        public var currentlyAvailable: Double
        public var restoreRate: Double

        public init(maximumAvailable: Double, currentlyAvailable: Double, restoreRate: Double) {
            self.maximumAvailable = maximumAvailable
            self.currentlyAvailable = currentlyAvailable
            self.restoreRate = restoreRate
        }
    }

    public init(requestedQueryCost: Double, actualQueryCost: Double?, throttleStatus: ThrottleStatus) {
        self.requestedQueryCost = requestedQueryCost
        self.actualQueryCost = actualQueryCost
        self.throttleStatus = throttleStatus
    }
}

/// A `userErrors` entry of a mutation payload.
public struct ShopifyUserError: Codable, Sendable, Equatable, CustomStringConvertible {
    public var field: [String]?
    public var message: String
    public var code: String?

    public init(field: [String]?, message: String, code: String?) {
        self.field = field
        self.message = message
        self.code = code
    }

    public var description: String {
        let path = self.field.map { $0.joined(separator: ".") + ": " } ?? ""
        return path + self.message + (self.code.map { " (\($0))" } ?? "")
    }
}

extension ShopifyAdminClient {
    /// Shopify's limit on one query's requested cost, on every plan (a larger bucket does not raise it).
    public static let singleQueryMaxCost = 1000
}

/// Shopify's rate limit asks for a wait longer than the client waits inline
/// (``ShopifyAdminConfiguration/maxInlineWait``): the caller should do the work again after `retryAfter` (a worker
/// hands its job back without spending an attempt).
public struct ShopifyThrottled: Error, Sendable, CustomStringConvertible {
    public var retryAfter: Duration
    /// Which limit: the cost budget, or the status Shopify answered.
    public var reason: String

    public var description: String { "Shopify rate limit: \(self.reason); retry after \(self.retryAfter)" }
}

/// What can go wrong talking to the Admin API, other than throttling (which waits, or throws ``ShopifyThrottled``).
public enum ShopifyAdminError: Error, Sendable, CustomStringConvertible {
    /// 401/403: the token is invalid, revoked or lacks a scope; which token (``ShopifyCredentials/tokenFingerprint``).
    case unauthorized(status: Int, tokenFingerprint: String)
    /// Another unexpected HTTP status (5xx included); worth retrying.
    case http(status: Int, body: String)
    /// Top-level GraphQL errors other than `THROTTLED`: the request itself is wrong; retrying cannot help.
    case graphQL(operation: String, messages: [String])
    /// A mutation refused its input.
    case userErrors(operation: String, [ShopifyUserError])
    /// An answer that is not the documented shape.
    case invalidResponse(operation: String, reason: String)
    /// The store is at Shopify's variant ceiling (50,000 variants or more): it may create only so many variants a
    /// day, and this call would create more. Retrying today cannot help.
    case variantCeiling(operation: String, message: String)

    public var description: String {
        switch self {
        case .unauthorized(let status, _): "Shopify refused the access token (HTTP \(status))"
        case .http(let status, let body): "Shopify answered HTTP \(status): \(body)"
        case .graphQL(let operation, let messages): "\(operation): \(messages.joined(separator: "; "))"
        case .userErrors(let operation, let errors): "\(operation): \(errors.map(\.description).joined(separator: "; "))"
        case .invalidResponse(let operation, let reason): "\(operation): unexpected answer (\(reason))"
        case .variantCeiling(let operation, let message): "\(operation): \(message)"
        }
    }

    /// Whether Shopify refused the token itself (a refresh may help).
    public var isUnauthorized: Bool {
        if case .unauthorized = self { return true }
        return false
    }

    /// Whether retrying the same request later may succeed.
    public var isRetryable: Bool {
        switch self {
        case .http: true
        case .unauthorized, .graphQL, .userErrors, .invalidResponse, .variantCeiling: false
        }
    }
}

/// The GraphQL Admin API over AsyncHTTPClient: pinned version, access token header, timeouts, the shop's shared
/// cost budget, and throttling handled as waiting, never as failure.
///
/// Throttling comes three ways and is handled alike: `THROTTLED` in an HTTP 200 body waits
/// `(requested − available) ÷ restoreRate`; 429 and 503 wait `Retry-After`. A wait that would exceed
/// ``ShopifyAdminConfiguration/maxInlineWait`` throws ``ShopifyThrottled``.
public struct ShopifyAdminClient: Sendable {
    public let configuration: ShopifyAdminConfiguration
    let http: HTTPClient
    let budget: ShopifyCostBudget?
    let metrics: ShopifyClientMetrics

    public init(configuration: ShopifyAdminConfiguration, http: HTTPClient, budget: ShopifyCostBudget?) {
        self.configuration = configuration
        self.http = http
        self.budget = budget
        self.metrics = ShopifyClientMetrics()
    }

    private struct RequestBody: Encodable {
        var query: String
        var variables: JSONValue
    }

    private struct ResponseBody<Data: Decodable>: Decodable {
        var data: Data?
        var errors: [GraphQLError]?
        var extensions: Extensions?

        struct Extensions: Decodable {
            var cost: QueryCost?
        }
    }

    private struct GraphQLError: Decodable {
        var message: String
        var extensions: Extensions?

        struct Extensions: Decodable {
            var code: String?
        }
    }

    /// Sends one operation and returns its `data`, waiting for the shop's budget first and through throttling.
    ///
    /// In a span of its own (a child of the job's), with the shop, the operation and the cost charged.
    public func send<Response>(
        _ operation: GraphQLOperation<Response>,
        as credentials: ShopifyCredentials,
        logger: Logger
    ) async throws
        -> Response
    {
        try await withSpan("shopify graphql \(operation.name)", ofKind: .client) { span in
            span.attributes["shopify.shop"] = credentials.shop
            span.attributes["graphql.operation.name"] = operation.name
            span.attributes["shopify.cost.requested"] = operation.expectedCost
            return try await self.send(operation, as: credentials, logger: logger, span: span)
        }
    }

    private func send<Response>(
        _ operation: GraphQLOperation<Response>,
        as credentials: ShopifyCredentials,
        logger: Logger,
        span: any Span
    ) async throws
        -> Response
    {
        let started = ContinuousClock.now
        let body = try JSONEncoder().encode(RequestBody(query: operation.query, variables: operation.variables))
        let cost = Double(operation.expectedCost)
        while true {
            if let budget = self.budget {
                while let wait = try await budget.reserve(shop: credentials.shop, cost: cost) {
                    self.metrics.budgetWaits.increment()
                    self.metrics.budgetWaitTime.record(duration: wait)
                    try await self.pause(wait, since: started, reason: "the shop's cost budget is spent")
                }
            }
            var request = HTTPClientRequest(url: self.configuration.graphQLURL(forShop: credentials.shop))
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "Accept", value: "application/json")
            request.headers.add(name: "X-Shopify-Access-Token", value: credentials.accessToken)
            request.body = .bytes(ByteBuffer(bytes: body))
            let response: HTTPClientResponse
            let bytes: ByteBuffer
            do {
                response = try await self.http.execute(request, timeout: TimeAmount(self.configuration.requestTimeout))
                bytes = try await response.body.collect(upTo: 16 << 20)
            } catch {
                try? await self.budget?.settle(shop: credentials.shop, reserved: cost, charged: 0, status: nil)
                self.metrics.count(operation.name, "transport_error")
                throw error
            }

            switch response.status.code {
            case 200:
                break
            case 429 where Self.isVariantCeiling(String(buffer: bytes)):
                try? await self.budget?.settle(shop: credentials.shop, reserved: cost, charged: 0, status: nil)
                self.metrics.count(operation.name, "variant_ceiling")
                throw ShopifyAdminError.variantCeiling(operation: operation.name, message: Self.variantCeilingMessage)
            case 429, 503:
                // Nothing was charged; give the reservation back and wait as told.
                try? await self.budget?.settle(shop: credentials.shop, reserved: cost, charged: 0, status: nil)
                self.metrics.count(operation.name, "throttled_http")
                let retryAfter = response.headers.first(name: "Retry-After").flatMap(Double.init) ?? 1
                logger.notice("Shopify asked to slow down", metadata: ["status": "\(response.status.code)", "retry_after": "\(retryAfter)"])
                try await self.pause(.milliseconds(Int64(retryAfter * 1000)), since: started, reason: "HTTP \(response.status.code)")
                continue
            case 401, 403:
                try? await self.budget?.settle(shop: credentials.shop, reserved: cost, charged: 0, status: nil)
                self.metrics.count(operation.name, "unauthorized")
                throw ShopifyAdminError.unauthorized(status: Int(response.status.code), tokenFingerprint: credentials.tokenFingerprint)
            default:
                try? await self.budget?.settle(shop: credentials.shop, reserved: cost, charged: 0, status: nil)
                self.metrics.count(operation.name, "http_error")
                throw ShopifyAdminError.http(status: Int(response.status.code), body: String(buffer: bytes).prefix(300).description)
            }

            let decoded: ResponseBody<Response>
            do {
                decoded = try JSONDecoder().decode(ResponseBody<Response>.self, from: Data(bytes.readableBytesView))
            } catch {
                try? await self.budget?.settle(shop: credentials.shop, reserved: cost, charged: 0, status: nil)
                throw ShopifyAdminError.invalidResponse(operation: operation.name, reason: "\(error)")
            }
            let reported = decoded.extensions?.cost
            let errors = decoded.errors ?? []
            if errors.contains(where: { $0.extensions?.code == "THROTTLED" }) {
                try? await self.budget?.settle(shop: credentials.shop, reserved: cost, charged: 0, status: reported?.throttleStatus)
                self.metrics.count(operation.name, "throttled")
                let wait: Double
                if let reported, reported.requestedQueryCost > reported.throttleStatus.maximumAvailable {
                    // Waiting cannot help: the bucket never holds this much. Without this the job would wait forever.
                    throw ShopifyAdminError.graphQL(
                        operation: operation.name,
                        messages: [
                            "query cost \(Int(reported.requestedQueryCost)) exceeds the bucket's maximum \(Int(reported.throttleStatus.maximumAvailable))"
                        ]
                    )
                } else if let reported {
                    let status = reported.throttleStatus
                    wait = max(0.05, (reported.requestedQueryCost - status.currentlyAvailable) / max(status.restoreRate, 1))
                } else {
                    wait = 1
                }
                span.addEvent(SpanEvent(name: "throttled", attributes: ["wait_seconds": .double(wait)]))
                try await self.pause(.milliseconds(Int64(wait * 1000)), since: started, reason: "THROTTLED")
                continue
            }
            let charged = reported?.actualQueryCost ?? reported?.requestedQueryCost ?? cost
            span.attributes["shopify.cost.charged"] = charged
            try? await self.budget?.settle(shop: credentials.shop, reserved: cost, charged: charged, status: reported?.throttleStatus)
            if !errors.isEmpty {
                self.metrics.count(operation.name, "graphql_error")
                throw ShopifyAdminError.graphQL(operation: operation.name, messages: errors.map(\.message))
            }
            guard let data = decoded.data else {
                throw ShopifyAdminError.invalidResponse(operation: operation.name, reason: "no data")
            }
            self.metrics.count(operation.name, "ok")
            return data
        }
    }

    /// Shopify answers a variant-creating call past the daily variant limit with HTTP 429 and this text (its
    /// changelog of 2019-03-14; the REST message). Unlike other 429s, waiting seconds does not help.
    /// (A bulk operation's result line carries the same text in its `errors`.)
    static func isVariantCeiling(_ text: String) -> Bool {
        text.localizedCaseInsensitiveContains("daily variant creation limit")
    }

    /// What the run says at the ceiling.
    public static let variantCeilingMessage =
        "The store has reached Shopify's variant ceiling (stores with 50,000 variants or more may create at most 1,000 variants a day); "
        + "products with new variants were not pushed and can be pushed again tomorrow"

    private func pause(_ wait: Duration, since started: ContinuousClock.Instant, reason: String) async throws {
        if started.duration(to: .now) + wait > self.configuration.maxInlineWait {
            throw ShopifyThrottled(retryAfter: wait, reason: reason)
        }
        try await Task.sleep(for: wait)
    }
}
