import Crypto
import EcommerceJobs
import Foundation
import HTTPTypes
import Hummingbird
import JobQueue
import Logging
import Operations
import ProcessEnvironment
import Shopify
import ShopifyAdmin
import Storage

/// `GET /ecommerce/oauth/install` and `GET /ecommerce/oauth/callback`: the authorization-code grant.
///
/// The callback trusts nothing it is given: the query HMAC (hex over the sorted parameters, compared in constant
/// time), the shop's domain, the timestamp's freshness and the single-use `state` issued for that shop are all
/// checked before the code is exchanged. Each failure has its own code, in the answer and the log, never with a
/// secret or a token.
struct OAuthController: Sendable {
    let configuration: OAuthConfiguration
    let apiSecret: String
    let authenticator: AdminAuthenticator
    let connections: ConnectionStore
    let oauth: ShopifyOAuthClient
    let shopify: ShopifyAdminClient
    let queue: RedisJobQueue
    let schedule: PollSchedule
    /// How old a callback's `timestamp` may be.
    var maxCallbackAge: TimeInterval = 600

    var redirectURI: String { "\(self.configuration.publicBaseURL)/ecommerce/oauth/callback" }

    func addRoutes(to router: Router<some RequestContext>) {
        router.get("/ecommerce/oauth/install") { request, context in
            try await self.install(request, logger: context.logger)
        }
        router.get("/ecommerce/oauth/callback") { request, context in
            do {
                return try await self.callback(request, logger: context.logger)
            } catch let refusal as CallbackRefusal {
                context.logger.warning("OAuth callback refused", metadata: ["error": "\(refusal.code)", "reason": "\(refusal.message)"])
                // For the doctor of the shop's business; the refusal is answered whether or not this is written.
                let shop = request.uri.queryParameters.get("shop").map { String($0.prefix(255)) } ?? ""
                try? await OperatorJournal(redis: self.queue.redis).recordOAuthRefusal(.init(shop: shop, code: refusal.code))
                return .error(refusal.status, code: refusal.code, message: refusal.message)
            }
        }
    }

    struct Install: Encodable {
        var authorizeUrl: String
        var expiresInSeconds: Int
    }

    private func install(_ request: Request, logger: Logger) async throws -> Response {
        let principal = try await self.authenticator.authenticate(request)
        let query = request.uri.queryParameters
        let businessId = try self.authenticator.business(for: principal, requested: query.get("businessId"))
        guard let shop = query.get("shop").flatMap(ShopDomain.init) else {
            return .error(.badRequest, code: "invalid_shop", message: "shop must be a *.myshopify.com domain")
        }
        var generator = SystemRandomNumberGenerator()
        let state = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: .min ... .max, using: &generator)) }.joined()
        try await self.connections.createOAuthState(state, businessId: businessId, shop: shop.value, lifetime: .seconds(600), logger: logger)
        let url = self.oauth.authorizeURL(shop: shop.value, scopes: self.configuration.scopes, redirectURI: self.redirectURI, state: state)
        logger.info("OAuth install started", metadata: ["business.id": "\(businessId)", "shop": "\(shop)"])
        return .json(Install(authorizeUrl: url, expiresInSeconds: 600))
    }

    struct CallbackRefusal: Error {
        var status: HTTPResponse.Status = .badRequest
        var code: String
        var message: String
    }

    static let connectedElsewhere = CallbackRefusal(
        status: .conflict,
        code: "shop_connected_elsewhere",
        message: "the shop is connected to another business; disconnect it there first"
    )

    private func callback(_ request: Request, logger: Logger) async throws -> Response {
        var parameters: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { parameters[String(key)] = String(value) }
        guard let hmac = parameters["hmac"], let code = parameters["code"], let shopValue = parameters["shop"], let state = parameters["state"],
            let timestamp = parameters["timestamp"].flatMap(TimeInterval.init)
        else {
            throw CallbackRefusal(code: "missing_parameters", message: "code, hmac, shop, state and timestamp are required")
        }
        guard Self.isValidQuerySignature(parameters, hmac: hmac, secret: self.apiSecret) else {
            throw CallbackRefusal(code: "invalid_hmac", message: "the query signature does not match")
        }
        guard let shop = ShopDomain(shopValue) else { throw CallbackRefusal(code: "invalid_shop", message: "not a *.myshopify.com domain") }
        guard abs(Date().timeIntervalSince1970 - timestamp) <= self.maxCallbackAge else {
            throw CallbackRefusal(code: "stale_request", message: "the callback's timestamp is too old")
        }
        guard let businessId = try await self.connections.consumeOAuthState(state, shop: shop.value, logger: logger) else {
            throw CallbackRefusal(code: "invalid_state", message: "unknown, expired, used, or issued for another shop")
        }

        // Checked before the code is spent: a shop feeds one business at a time.
        if let current = try await self.connections.connection(forShop: shop.value, logger: logger), current.status == .active,
            current.businessId != businessId
        {
            throw Self.connectedElsewhere
        }
        let grant: ShopifyTokenGrant
        do {
            grant = try await self.oauth.exchange(code: code, shop: shop.value, logger: logger)
        } catch {
            // The cause (Shopify's status and error code, or the transport's), never the code or a secret.
            logger.warning("OAuth token exchange failed", metadata: ["shop": "\(shop)", "cause": "\(error)"])
            throw CallbackRefusal(status: .badGateway, code: "token_exchange_failed", message: "Shopify did not exchange the code")
        }
        let missing = Set(self.configuration.scopes).subtracting(ShopifyAccessScopes.implied(grant.scopes))
        guard missing.isEmpty else {
            throw CallbackRefusal(code: "scopes_not_granted", message: "missing scopes: \(missing.sorted().joined(separator: ","))")
        }

        let context = businessId.uuidString.lowercased()
        do {
            try await self.connections.connect(
                businessId: businessId,
                shop: shop.value,
                sealedAccessToken: try self.configuration.tokenCipher.seal(grant.accessToken, context: context),
                sealedRefreshToken: try grant.refreshToken.map { try self.configuration.tokenCipher.seal($0, context: context) },
                expiresAt: grant.expiresIn.map { Date() + Double($0) },
                scopes: grant.scopes.joined(separator: ","),
                logger: logger
            )
        } catch is ConnectionStore.ShopConnectedElsewhere {
            // Another business connected the shop between the check above and now.
            throw Self.connectedElsewhere
        }
        do {
            try await self.setUp(businessId: businessId, shop: shop.value, token: grant.accessToken, logger: logger)
        } catch {
            logger.error("connection stored but setting it up in Shopify failed", metadata: ["shop": "\(shop)", "error": "\(error)"])
            throw CallbackRefusal(
                status: .badGateway,
                code: "shopify_setup_failed",
                message: "the shop is connected; reconnect to finish setting it up"
            )
        }
        logger.info("shop connected", metadata: ["business.id": "\(businessId)", "shop": "\(shop)"])
        var redirect = URLComponents(string: self.configuration.appRedirectURL)!
        redirect.queryItems =
            (redirect.queryItems ?? []) + [
                URLQueryItem(name: "status", value: "connected"), URLQueryItem(name: "shop", value: shop.value),
                URLQueryItem(name: "businessId", value: context),
            ]
        return Response(status: .found, headers: [.location: redirect.string ?? self.configuration.appRedirectURL])
    }

    /// The location to stock at, the custom-ID metafield definition products are upserted by, the webhook
    /// subscriptions, and polling: scheduled, and a first poll now.
    private func setUp(businessId: UUID, shop: String, token: String, logger: Logger) async throws {
        let credentials = ShopifyCredentials(shop: shop, accessToken: token)
        try await self.shopify.ensureCustomIdDefinition(as: credentials, logger: logger)
        try await self.connections.markCustomIdDefined(businessId: businessId, logger: logger)
        if let location = try await self.shopify.locations(as: credentials, logger: logger).first(where: \.isActive) {
            try await self.connections.saveLocation(businessId: businessId, locationId: location.id, logger: logger)
        }
        let existing = Set(try await self.shopify.webhookSubscriptions(as: credentials, logger: logger).map { "\($0.topic) \($0.uri)" })
        let uri = WebhookTopic.callbackURL(publicBaseURL: self.configuration.publicBaseURL)
        for topic in WebhookTopic.subscribed.map({ ShopifyAdminClient.subscriptionTopic($0.rawValue) }) where !existing.contains("\(topic) \(uri)") {
            try await self.shopify.createWebhookSubscription(topic: topic, uri: uri, as: credentials, logger: logger)
        }
        _ = try await self.schedule.reconcile(adding: [businessId])
        let poll = OrderPollJob.envelope(
            .init(slot: nil),
            businessId: businessId,
            shop: shop,
            dedupeKey: OrderPollJob.requestKey(businessId: businessId)
        )
        try await self.queue.enqueue(OrderPollJob.self, poll, dedupeWindow: self.schedule.interval)
    }

    /// The OAuth query HMAC: hex HMAC-SHA256 over the parameters without `hmac`, sorted, as `key=value` joined by `&`.
    static func isValidQuerySignature(_ parameters: [String: String], hmac: String, secret: String) -> Bool {
        let message = parameters.filter { $0.key != "hmac" }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "&")
        guard let expected = Self.bytes(hex: hmac) else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(expected, authenticating: Data(message.utf8), using: SymmetricKey(data: Data(secret.utf8)))
    }

    static func bytes(hex: String) -> [UInt8]? {
        let characters = Array(hex.lowercased().utf8)
        guard characters.count == 64 else { return nil }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: characters.count, by: 2) {
            guard let byte = UInt8(String(decoding: characters[index...(index + 1)], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }
}
