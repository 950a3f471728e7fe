import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// What the token exchange grants: an offline access token, its scopes, and for expiring tokens their lifetime and
/// the (rotating) refresh token.
public struct ShopifyTokenGrant: Sendable {
    public var accessToken: String
    public var scopes: [String]
    public var expiresIn: Int?
    public var refreshToken: String?
}

/// `POST https://{shop}/admin/oauth/access_token`: the OAuth code (or a refresh token) for an access token.
public struct ShopifyOAuthClient: Sendable {
    let configuration: ShopifyAdminConfiguration
    let apiKey: String
    let apiSecret: String
    let http: HTTPClient

    public init(configuration: ShopifyAdminConfiguration, apiKey: String, apiSecret: String, http: HTTPClient) {
        self.configuration = configuration
        self.apiKey = apiKey
        self.apiSecret = apiSecret
        self.http = http
    }

    /// The authorize URL the merchant is sent to (offline access: no `grant_options[]`).
    public func authorizeURL(shop: String, scopes: [String], redirectURI: String, state: String) -> String {
        var components = URLComponents(string: "\(self.configuration.baseURL(forShop: shop))/admin/oauth/authorize")!
        components.queryItems = [
            URLQueryItem(name: "client_id", value: self.apiKey),
            URLQueryItem(name: "scope", value: scopes.joined(separator: ",")),
            URLQueryItem(name: "redirect_uri", value: redirectURI),
            URLQueryItem(name: "state", value: state),
        ]
        return components.string!
    }

    /// Exchanges an OAuth authorization code for the shop's access token (once: a code is spent by its first use).
    ///
    /// - Throws: ``ShopifyAdminError`` (`http`) with Shopify's status and error code, never a secret.
    public func exchange(code: String, shop: String, logger: Logger) async throws -> ShopifyTokenGrant {
        try await self.request(shop: shop, fields: ["client_id": self.apiKey, "client_secret": self.apiSecret, "code": code])
    }

    /// A new access token (and refresh token) for an expiring offline token.
    ///
    /// - Throws: ``ShopifyAdminError``; a refused refresh means the merchant must install again.
    public func refresh(refreshToken: String, shop: String, logger: Logger) async throws -> ShopifyTokenGrant {
        try await self.request(
            shop: shop,
            fields: ["client_id": self.apiKey, "client_secret": self.apiSecret, "grant_type": "refresh_token", "refresh_token": refreshToken]
        )
    }

    /// An OAuth error answer: `{"error": "invalid_request", "error_description": "…"}`.
    private struct Refusal: Decodable {
        var error: String?
    }

    private struct Answer: Decodable {
        var access_token: String
        var scope: String?
        var expires_in: Int?
        var refresh_token: String?
    }

    private func request(shop: String, fields: [String: String]) async throws -> ShopifyTokenGrant {
        var request = HTTPClientRequest(url: "\(self.configuration.baseURL(forShop: shop))/admin/oauth/access_token")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(fields)))
        let response = try await self.http.execute(request, timeout: .seconds(15))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status.code == 200 else {
            // Only Shopify's error code (`invalid_request`, …) is kept: the rest of the body is not ours to log.
            let refusal = try? JSONDecoder().decode(Refusal.self, from: Data(body.readableBytesView))
            throw ShopifyAdminError.http(status: Int(response.status.code), body: refusal?.error.map { String($0.prefix(64)) } ?? "")
        }
        guard let answer = try? JSONDecoder().decode(Answer.self, from: Data(body.readableBytesView)) else {
            throw ShopifyAdminError.invalidResponse(operation: "access_token", reason: "no access_token")
        }
        return ShopifyTokenGrant(
            accessToken: answer.access_token,
            scopes: (answer.scope ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty },
            expiresIn: answer.expires_in,
            refreshToken: answer.refresh_token
        )
    }
}
