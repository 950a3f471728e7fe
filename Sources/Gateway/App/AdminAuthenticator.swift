import Foundation
import HTTPTypes
import Hummingbird
import JSONBytes
import JWTKit
import Operations

/// Who is calling an admin route.
public enum AdminPrincipal: Sendable, Equatable {
    /// A FlowPOS user of one business: may act on that business only.
    case merchant(businessId: UUID)
    /// An operator: may act on any business.
    case ops
}

/// Why an admin request was refused; each becomes a 401 or 403 with its own code. Thrown from a route, it is the
/// answer (`HTTPResponseError`).
struct AdminAuthError: HTTPResponseError, Sendable {
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

    func response(from request: Request, context: some RequestContext) throws -> Response { self.response }
}

/// Checks `Authorization: Bearer <JWT>` on admin routes with jwt-kit: HS256 pinned (a header naming any other
/// algorithm, `none` among them, is refused before anything else), the signature, `exp` required and `nbf`
/// honoured within `leeway`, and `aud` and `iss` when configured. A token with `role: "ops"` is an operator;
/// otherwise it must carry a `businessId`.
struct AdminAuthenticator: Sendable {
    /// The HS256 key, added once (jwt-kit's key collection is an actor).
    private let keys: Task<JWTKeyCollection, Never>
    /// Tolerated clock difference for `exp` and `nbf`.
    var leeway: TimeInterval = 30
    /// When set, a token's `aud` must include it.
    var audience: String?
    /// When set, a token's `iss` must be it.
    var issuer: String?

    init(secret: String, audience: String? = nil, issuer: String? = nil) {
        let key = HMACKey(from: Array(secret.utf8))
        self.keys = Task { await JWTKeyCollection().add(hmac: key, digestAlgorithm: .sha256) }
        self.audience = audience
        self.issuer = issuer
    }

    /// The claims an admin token carries.
    struct Claims: JWTPayload {
        let exp: ExpirationClaim?
        let nbf: NotBeforeClaim?
        let aud: AudienceClaim?
        let iss: IssuerClaim?
        let businessId: String?
        let role: String?

        /// The time claims are checked by ``AdminAuthenticator`` with its leeway and clock.
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    /// Who `request` comes from.
    ///
    /// - Throws: ``AdminAuthError`` (401) with `missing_token`, `malformed_token`, `unsupported_token`,
    ///   `invalid_token` or `expired_token`.
    func authenticate(_ request: Request, now: Date = Date()) async throws(AdminAuthError) -> AdminPrincipal {
        guard let authorization = request.headers[.authorization] else {
            throw .unauthorized("missing_token", "Authorization: Bearer <token> is required")
        }
        guard authorization.lowercased().hasPrefix("bearer ") else {
            throw .unauthorized("malformed_token", "the Authorization header must be a Bearer token")
        }
        let token = authorization.dropFirst("bearer ".count).trimmingCharacters(in: .whitespaces)
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = Self.base64URL(parts[0]) else {
            throw .unauthorized("malformed_token", "the token is not a JWT")
        }
        // Pinned here: jwt-kit verifies with the key it has, whatever algorithm the header names.
        guard Self.algorithm(ofHeader: Array(headerBytes)) == "HS256" else {
            throw .unauthorized("unsupported_token", "only HS256 tokens are accepted")
        }
        let claims: Claims
        do {
            claims = try await self.keys.value.verify(token, as: Claims.self)
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
            throw .unauthorized("invalid_token", "the token's signature does not match")
        } catch {
            throw .unauthorized("malformed_token", "the token's parts or claims cannot be read")
        }
        guard let exp = claims.exp else { throw .unauthorized("invalid_token", "the token has no exp") }
        do {
            try exp.verifyNotExpired(currentDate: now - self.leeway)
        } catch {
            throw .unauthorized("expired_token", "the token has expired")
        }
        do {
            try claims.nbf?.verifyNotBefore(currentDate: now + self.leeway)
        } catch {
            throw .unauthorized("invalid_token", "the token is not valid yet")
        }
        if let audience = self.audience {
            do {
                guard let aud = claims.aud else { throw JWTError.claimVerificationFailure(failedClaim: nil, reason: "no aud") }
                try aud.verifyIntendedAudience(includes: audience)
            } catch {
                throw .unauthorized("invalid_token", "the token is not meant for this service (aud)")
            }
        }
        if let issuer = self.issuer, claims.iss?.value != issuer {
            throw .unauthorized("invalid_token", "the token's issuer is not the expected one (iss)")
        }
        if claims.role == "ops" { return .ops }
        guard let raw = claims.businessId, let businessId = UUID(uuidString: raw) else {
            throw .unauthorized("invalid_token", "the token names no business")
        }
        return .merchant(businessId: businessId)
    }

    /// `alg` of a JWT header, read with the gateway's own scanner: the header must be a flat JSON object of strings
    /// (an HS256 header is `{"alg":"HS256","typ":"JWT"}`) of at most 1 KiB; nil otherwise.
    ///
    /// Why not `JSONDecoder`: it traps on some deeply nested documents of a few hundred bytes (a fuzz finding, in
    /// Foundation's error path past its depth limit), and the header is read before the signature is checked, so one
    /// unauthenticated request would stop the gateway. jwt-kit decodes the header too, but only after this check.
    static func algorithm(ofHeader bytes: [UInt8]) -> String? {
        guard bytes.count <= 1024 else { return nil }
        return try? JSONScanner.parse(bytes) { scanner throws(JSONScanError) in
            var algorithm: String?
            var seen: UInt32 = 0  // a key given twice: the first wins, as in JSONDecoder
            try scanner.readObject { scanner, key throws(JSONScanError) in
                switch key {
                case "alg": try scanner.once(0, &seen) { scanner throws(JSONScanError) in algorithm = try scanner.readString() }
                default: _ = try scanner.readString()
                }
            }
            guard let algorithm else { throw scanner.missing("alg") }
            return algorithm
        }
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
