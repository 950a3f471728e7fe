import Crypto
import Foundation

/// Verifies `X-Shopify-Hmac-Sha256`: base64 HMAC-SHA256 of the raw body, keyed with the app's client secret.
///
/// During a secret rotation Shopify may still sign with the previous secret for up to an hour, so both are
/// accepted while a previous secret is configured.
public struct WebhookSignatureVerifier: Sendable {
    private let keys: [SymmetricKey]

    /// - Parameters:
    ///   - secret: the app's current client secret.
    ///   - previousSecret: the secret being rotated out, if any.
    public init(secret: String, previousSecret: String? = nil) {
        self.keys = [secret, previousSecret].compactMap { $0 }.filter { !$0.isEmpty }.map { SymmetricKey(data: Array($0.utf8)) }
    }

    /// True when `signature` is the HMAC of exactly these body bytes under one of the secrets.
    ///
    /// The comparison is constant time (`isValidAuthenticationCode`); the body is never parsed before this.
    public func isValid(body: some DataProtocol, signature: String) -> Bool {
        guard let provided = Data(base64Encoded: signature.trimmingCharacters(in: .whitespaces)),
            provided.count == SHA256.byteCount
        else { return false }
        var valid = false
        for key in self.keys {
            // Evaluate every key, so that timing does not tell which secret matched.
            valid = HMAC<SHA256>.isValidAuthenticationCode(provided, authenticating: body, using: key) || valid
        }
        return valid
    }

    /// The signature Shopify would send for `body` under `secret` (for the simulator and tests).
    public static func sign(body: some DataProtocol, secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.utf8)))
        return Data(mac).base64EncodedString()
    }
}
