import Crypto
import Foundation

/// Encrypts Shopify tokens at rest with AES-GCM (256-bit keys).
///
/// Keys carry an id so that they can rotate: the first key encrypts, every key decrypts, and each ciphertext
/// names the key that sealed it. The sealed token is bound to a context (the business id) as authenticated data,
/// so a ciphertext copied to another business's row does not open.
///
/// Layout: `0x01`, key id length (1 byte), key id (UTF-8), then AES-GCM's combined nonce ‖ ciphertext ‖ tag.
public struct TokenCipher: Sendable {
    public struct Key: Sendable {
        public var id: String
        var key: SymmetricKey

        public init(id: String, key: SymmetricKey) {
            self.id = id
            self.key = key
        }
    }

    let keys: [Key]

    public init(keys: [Key]) throws(TokenCipherError) {
        guard !keys.isEmpty else { throw .invalidKeys("no key") }
        for key in keys {
            guard !key.id.isEmpty, key.id.utf8.count < 64 else { throw .invalidKeys("a key id must have 1 to 63 bytes") }
            guard key.key.bitCount == 256 else { throw .invalidKeys("key \(key.id) is not 32 bytes") }
        }
        self.keys = keys
    }

    /// Parses `id:base64key[,id:base64key…]` (`TOKEN_ENCRYPTION_KEYS`).
    public init(specification: String) throws(TokenCipherError) {
        var keys: [Key] = []
        for entry in specification.split(separator: ",") {
            let parts = entry.trimmingCharacters(in: .whitespaces).split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2, let bytes = Data(base64Encoded: parts[1]) else {
                throw .invalidKeys("each entry must be id:base64key")
            }
            keys.append(Key(id: parts[0], key: SymmetricKey(data: bytes)))
        }
        try self.init(keys: keys)
    }

    /// Seals `token` for `context` with the first key.
    public func seal(_ token: String, context: String) throws -> [UInt8] {
        let key = self.keys[0]
        let box = try AES.GCM.seal(Data(token.utf8), using: key.key, authenticating: Data(context.utf8))
        guard let combined = box.combined else { throw TokenCipherError.corrupt }
        let id = Array(key.id.utf8)
        return [1, UInt8(id.count)] + id + Array(combined)
    }

    /// Opens a token sealed by any configured key for the same `context`.
    public func open(_ sealed: [UInt8], context: String) throws(TokenCipherError) -> String {
        guard sealed.count > 2, sealed[0] == 1 else { throw .corrupt }
        let idLength = Int(sealed[1])
        guard sealed.count > 2 + idLength else { throw .corrupt }
        let id = String(decoding: sealed[2..<(2 + idLength)], as: UTF8.self)
        guard let key = self.keys.first(where: { $0.id == id }) else { throw .unknownKey(id) }
        do {
            let box = try AES.GCM.SealedBox(combined: Data(sealed[(2 + idLength)...]))
            return String(decoding: try AES.GCM.open(box, using: key.key, authenticating: Data(context.utf8)), as: UTF8.self)
        } catch {
            throw .corrupt
        }
    }
}

/// Why a token could not be sealed or opened.
public enum TokenCipherError: Error, Sendable, CustomStringConvertible {
    case invalidKeys(String)
    case unknownKey(String)
    /// Not a token sealed by us, altered, or sealed for another context.
    case corrupt

    public var description: String {
        switch self {
        case .invalidKeys(let reason): "invalid token encryption keys: \(reason)"
        case .unknownKey(let id): "the token was sealed with key \(id), which is not configured"
        case .corrupt: "the stored token cannot be opened"
        }
    }
}
