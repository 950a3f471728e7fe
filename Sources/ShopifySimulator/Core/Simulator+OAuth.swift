import Crypto
import Foundation
import Synchronization

/// The simulated OAuth authorization-code grant: an authorize step that approves at once and redirects with a
/// correctly signed query, and the token exchange (offline tokens, optionally expiring with a rotating refresh
/// token). It refuses what Shopify refuses: a wrong client id or secret, a reused or expired code, another shop's
/// code, a spent refresh token.
extension ShopifySimulator {
    struct AuthorizationCode {
        var shop: String
        var scope: String
        var expires: Date
    }

    /// The query HMAC of OAuth redirects: hex HMAC-SHA256 of the parameters without `hmac`, sorted by key, joined
    /// as `key=value` with `&`.
    public static func querySignature(_ parameters: [String: String], secret: String) -> String {
        let message = parameters.filter { $0.key != "hmac" }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "&")
        return HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: SymmetricKey(data: Data(secret.utf8)))
            .map { String(format: "%02x", $0) }.joined()
    }

    /// `GET /admin/oauth/authorize`: the merchant approves; returns the redirect URL, or an error message.
    public func authorize(shop domain: String, query: [String: String]) -> Result<String, OAuthRefusal> {
        guard query["client_id"] == self.apiKey else { return .failure(.init("invalid client_id")) }
        guard let redirect = query["redirect_uri"], let url = URLComponents(string: redirect), ["http", "https"].contains(url.scheme ?? "") else {
            return .failure(.init("redirect_uri is not a valid http(s) URL"))
        }
        guard let state = query["state"], !state.isEmpty else { return .failure(.init("state is required")) }
        let scope = query["scope"] ?? ""
        let code = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let known = self.state.withLock { state -> Bool in
            guard state.shops[domain] != nil else { return false }
            state.codes[code] = AuthorizationCode(shop: domain, scope: scope, expires: Date() + 60)
            return true
        }
        guard known else { return .failure(.init("unknown shop")) }
        var parameters = [
            "code": code, "shop": domain, "state": state, "timestamp": String(Int(Date().timeIntervalSince1970)),
            "host": Data("\(domain)/admin".utf8).base64EncodedString(),
        ]
        parameters["hmac"] = Self.querySignature(parameters, secret: self.apiSecret)
        var components = url
        components.queryItems = (url.queryItems ?? []) + parameters.sorted { $0.key < $1.key }.map { URLQueryItem(name: $0.key, value: $0.value) }
        return .success(components.string ?? redirect)
    }

    /// Every access token of the shop stops working at once (as when Shopify revokes an app's tokens); refresh
    /// tokens stay valid, so a client holding one can get a new access token. Returns how many were revoked.
    @discardableResult
    public func revokeAccessTokens(shop domain: String) -> Int {
        self.state.withLock { state in
            guard let revoked = state.shops[domain]?.accessTokens.count else { return 0 }
            state.shops[domain]?.accessTokens.removeAll()
            return revoked
        }
    }

    /// `POST /admin/oauth/access_token`: exchanges a code (or a refresh token) for an access token.
    public func exchangeToken(shop domain: String, form: [String: String]) -> Result<[String: Any], OAuthRefusal> {
        guard form["client_id"] == self.apiKey, form["client_secret"] == self.apiSecret else {
            return .failure(.init("invalid client credentials"))
        }
        return self.state.withLock { state in
            guard var shop = state.shops[domain] else { return .failure(.init("unknown shop")) }
            let scope: String
            if form["grant_type"] == "refresh_token" {
                guard let refresh = form["refresh_token"], let grant = state.refreshTokens.removeValue(forKey: refresh), grant.shop == domain else {
                    return .failure(.init("invalid refresh token"))
                }
                shop.accessTokens.remove(grant.accessToken)
                shop.stats.tokenRefreshes += 1
                scope = grant.scope
            } else {
                guard let code = form["code"], let grant = state.codes.removeValue(forKey: code) else {
                    return .failure(.init("invalid or used code"))
                }
                guard grant.shop == domain, grant.expires > Date() else { return .failure(.init("code expired or issued for another shop")) }
                scope = grant.scope
            }
            let token = "shpat_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
            shop.accessTokens.insert(token)
            state.shops[domain] = shop
            var answer: [String: Any] = ["access_token": token, "scope": scope]
            if state.settings.expiringTokens {
                let refresh = "shprt_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
                state.refreshTokens[refresh] = (domain, scope, token)
                answer["expires_in"] = 3600
                answer["refresh_token"] = refresh
                answer["refresh_token_expires_in"] = 7_776_000
            }
            return .success(answer)
        }
    }
}

/// Why the simulated OAuth refused a step.
public struct OAuthRefusal: Error, Sendable {
    public var message: String

    init(_ message: String) {
        self.message = message
    }
}
