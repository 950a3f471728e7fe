import Crypto
import Foundation

/// Verifies `X-Shopify-Hmac-Sha256`: base64 HMAC-SHA256 of the raw body, keyed with the app's client secret.
///
/// During a secret rotation Shopify may still sign with the previous secret for up to an hour, so both are
/// accepted while a previous secret is configured.
public struct WebhookSignatureVerifier: Sendable {
    /// One HMAC already keyed per secret: copying it skips hashing the key's pads again on every request (the
    /// hash states are copied on write).
    private let keyed: [HMAC<SHA256>]

    /// - Parameters:
    ///   - secret: the app's current client secret.
    ///   - previousSecret: the secret being rotated out, if any.
    public init(secret: String, previousSecret: String? = nil) {
        self.keyed = [secret, previousSecret].compactMap { $0 }.filter { !$0.isEmpty }.map {
            HMAC<SHA256>(key: SymmetricKey(data: Array($0.utf8)))
        }
    }

    /// True when `signature` is the HMAC of exactly these body bytes under one of the secrets.
    ///
    /// The comparison is constant time (`MessageAuthenticationCode ==`); the body is never parsed before this.
    public func isValid(body: some DataProtocol, signature: String) -> Bool {
        // Trimmed by hand: Foundation's `trimmingCharacters` goes through NSString, measurable per request.
        var trimmed = Substring(signature).utf8
        while let first = trimmed.first, first == 0x20 || first == 0x09 { trimmed.removeFirst() }
        while let last = trimmed.last, last == 0x20 || last == 0x09 { trimmed.removeLast() }
        guard let provided = Data(base64Encoded: Data(trimmed)),
            provided.count == SHA256.byteCount
        else { return false }
        var valid = false
        for prototype in self.keyed {
            // Evaluate every key, so that timing does not tell which secret matched.
            var mac = prototype
            mac.update(data: body)
            valid = (mac.finalize() == provided) || valid
        }
        return valid
    }

    /// The signature Shopify would send for `body` under `secret` (for the simulator and tests).
    public static func sign(body: some DataProtocol, secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.utf8)))
        return Data(mac).base64EncodedString()
    }
}
