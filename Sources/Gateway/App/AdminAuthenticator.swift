import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Operations

/// Who is calling an admin route.
public enum AdminPrincipal: Sendable, Equatable {
    /// A FlowPOS user of one business: may act on that business only.
    case merchant(businessId: UUID)
    /// An operator: may act on any business.
    case ops
}

/// Why an admin request was refused; each becomes a 401 or 403 with its own code.
struct AdminAuthError: Error, Sendable {
    var status: HTTPResponse.Status
    var code: String
    var message: String

    static func unauthorized(_ code: String, _ message: String) -> AdminAuthError { .init(status: .unauthorized, code: code, message: message) }
    static let forbidden = AdminAuthError(status: .forbidden, code: "forbidden", message: "the token may not act on this business")

    var response: Response {
        var headers: HTTPFields = [:]
        if self.status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        return .error(self.status, code: self.code, message: self.message, headers: headers)
    }
}

/// Checks `Authorization: Bearer <JWT>` on admin routes: HS256 only (the header's `alg` must say so, so `none`
/// and key-confusion tricks fail), signature compared in constant time, `exp` required and in the future, `nbf`
/// honoured. A token with `role: "ops"` is an operator; otherwise it must carry a `businessId`.
struct AdminAuthenticator: Sendable {
    let key: SymmetricKey
    /// Tolerated clock difference for `exp` and `nbf`.
    var leeway: TimeInterval = 30

    init(secret: String) {
        self.key = SymmetricKey(data: Data(secret.utf8))
    }

    private struct Header: Decodable {
        var alg: String
        var typ: String?
    }

    private struct Claims: Decodable {
        var exp: Double?
        var nbf: Double?
        var businessId: String?
        var role: String?
    }

    func authenticate(_ request: Request, now: Date = Date()) throws(AdminAuthError) -> AdminPrincipal {
        guard let authorization = request.headers[.authorization] else {
            throw .unauthorized("missing_token", "Authorization: Bearer <token> is required")
        }
        guard authorization.lowercased().hasPrefix("bearer ") else {
            throw .unauthorized("malformed_token", "the Authorization header must be a Bearer token")
        }
        let token = authorization.dropFirst("bearer ".count).trimmingCharacters(in: .whitespaces)
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = Self.base64URL(parts[0]), let claimBytes = Self.base64URL(parts[1]),
            let signature = Self.base64URL(parts[2])
        else {
            throw .unauthorized("malformed_token", "the token is not a JWT")
        }
        guard let header = try? JSONDecoder().decode(Header.self, from: headerBytes), header.alg == "HS256" else {
            throw .unauthorized("unsupported_token", "only HS256 tokens are accepted")
        }
        let signed = Data("\(parts[0]).\(parts[1])".utf8)
        guard HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: signed, using: self.key) else {
            throw .unauthorized("invalid_token", "the token's signature does not match")
        }
        guard let claims = try? JSONDecoder().decode(Claims.self, from: claimBytes) else {
            throw .unauthorized("malformed_token", "the token's claims are not a JSON object")
        }
        let timestamp = now.timeIntervalSince1970
        guard let exp = claims.exp else { throw .unauthorized("invalid_token", "the token has no exp") }
        guard exp + self.leeway > timestamp else { throw .unauthorized("expired_token", "the token has expired") }
        if let nbf = claims.nbf, nbf - self.leeway > timestamp { throw .unauthorized("invalid_token", "the token is not valid yet") }
        if claims.role == "ops" { return .ops }
        guard let raw = claims.businessId, let businessId = UUID(uuidString: raw) else {
            throw .unauthorized("invalid_token", "the token names no business")
        }
        return .merchant(businessId: businessId)
    }

    /// The business a request acts on: `?businessId=`, or the merchant's own when absent. 403 for another business.
    func business(for principal: AdminPrincipal, requested: String?) throws(AdminAuthError) -> UUID {
        switch (principal, requested) {
        case (.merchant(let own), nil):
            return own
        case (_, let raw?):
            guard let requested = UUID(uuidString: raw) else {
                throw AdminAuthError(status: .badRequest, code: "invalid_business_id", message: "businessId must be a UUID")
            }
            if case .merchant(let own) = principal, own != requested { throw .forbidden }
            return requested
        case (.ops, nil):
            throw AdminAuthError(status: .badRequest, code: "missing_business_id", message: "businessId is required")
        }
    }

    /// Whether the principal may see data of `businessId`.
    func mayAccess(_ principal: AdminPrincipal, businessId: UUID) -> Bool {
        switch principal {
        case .ops: true
        case .merchant(let own): own == businessId
        }
    }

    static func base64URL(_ part: Substring) -> Data? {
        var text = part.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        text += String(repeating: "=", count: (4 - text.count % 4) % 4)
        return Data(base64Encoded: text)
    }
}
