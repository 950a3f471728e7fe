import Crypto
import Foundation
import Storage
import Testing

@Suite("Token encryption at rest")
struct TokenCipherTests {
    static func key() -> String { Data(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }).base64EncodedString() }

    @Test("seal and open; the ciphertext hides the token and is bound to its business")
    func roundTrip() throws {
        let cipher = try TokenCipher(specification: "k1:\(Self.key())")
        let sealed = try cipher.seal("shpat_secret_token", context: "business-a")
        #expect(!String(decoding: sealed, as: UTF8.self).contains("shpat_secret_token"))
        #expect(try cipher.open(sealed, context: "business-a") == "shpat_secret_token")
        #expect(throws: TokenCipherError.self) { try cipher.open(sealed, context: "business-b") }
        var altered = sealed
        altered[altered.count - 1] ^= 1
        #expect(throws: TokenCipherError.self) { try cipher.open(altered, context: "business-a") }
        // Two seals of one token differ (fresh nonce).
        #expect(try cipher.seal("t", context: "c") != cipher.seal("t", context: "c"))
    }

    @Test("keys rotate: the first encrypts, all decrypt; a removed key is named")
    func rotation() throws {
        let (old, new) = (Self.key(), Self.key())
        let before = try TokenCipher(specification: "old:\(old)")
        let sealed = try before.seal("token", context: "b")
        let rotated = try TokenCipher(specification: "new:\(new), old:\(old)")
        #expect(try rotated.open(sealed, context: "b") == "token")
        let resealed = try rotated.seal("token", context: "b")
        #expect(throws: TokenCipherError.self) { try before.open(resealed, context: "b") }
        let withoutOld = try TokenCipher(specification: "new:\(new)")
        #expect(TokenCipherError.unknownKey("old").description == "the token was sealed with key old, which is not configured")
        do {
            _ = try withoutOld.open(sealed, context: "b")
            Issue.record("a removed key opened a token")
        } catch {
            #expect(error.description.contains("key old"))
        }
    }

    @Test("bad key specifications are refused")
    func badSpecifications() {
        for specification in ["", "nokey", "k:not-base64!", "k:\(Data(count: 16).base64EncodedString())", ":\(Self.key())"] {
            #expect(throws: TokenCipherError.self, "\(specification)") { try TokenCipher(specification: specification) }
        }
    }
}
