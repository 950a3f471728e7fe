import Foundation
import Shopify
import Testing

@Suite("Webhook signature (SHOPIFY.md vectors)")
struct WebhookSignatureTests {
    static let vectors: [(secret: String, body: String, signature: String)] = [
        ("test_secret_key", #"{"foo": "bar"}"#, "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g="),
        ("secret", "foo=anything", "yCGX/RrK4fcuNtr3ztk5tQGsOBjcAzHpGLdMUrbV8yI="),
        ("old_secret", "foo=anything", "XqRcjrSv57VACn6apEO9znyu/wkN1VC7QxdSPwK3Hzs="),
    ]

    @Test("each vector verifies, and signing reproduces it", arguments: 0..<3)
    func vectorVerifies(index: Int) {
        let vector = Self.vectors[index]
        let verifier = WebhookSignatureVerifier(secret: vector.secret)
        #expect(verifier.isValid(body: Array(vector.body.utf8), signature: vector.signature))
        #expect(WebhookSignatureVerifier.sign(body: Array(vector.body.utf8), secret: vector.secret) == vector.signature)
    }

    @Test("a one-byte change of the body is rejected", arguments: 0..<3)
    func oneByteChangeRejected(index: Int) {
        let vector = Self.vectors[index]
        let verifier = WebhookSignatureVerifier(secret: vector.secret)
        var body = Array(vector.body.utf8)
        for position in body.indices {
            body[position] ^= 0x01
            #expect(!verifier.isValid(body: body, signature: vector.signature))
            body[position] ^= 0x01
        }
        // Appending a byte too (re-serialised JSON typically differs like this).
        #expect(!verifier.isValid(body: body + [0x20], signature: vector.signature))
    }

    @Test func previousSecretAcceptedDuringRotation() {
        let body = Array("foo=anything".utf8)
        let rotating = WebhookSignatureVerifier(secret: "secret", previousSecret: "old_secret")
        #expect(rotating.isValid(body: body, signature: "yCGX/RrK4fcuNtr3ztk5tQGsOBjcAzHpGLdMUrbV8yI="))
        #expect(rotating.isValid(body: body, signature: "XqRcjrSv57VACn6apEO9znyu/wkN1VC7QxdSPwK3Hzs="))
        let rotated = WebhookSignatureVerifier(secret: "secret")
        #expect(!rotated.isValid(body: body, signature: "XqRcjrSv57VACn6apEO9znyu/wkN1VC7QxdSPwK3Hzs="))
    }

    @Test(
        "malformed signatures are rejected",
        arguments: ["", "not base64!", "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g", "AAAA", "yCGX/RrK4fcuNtr3ztk5tQGsOBjcAzHpGLdMUrbV8yI=="]
    )
    func malformedSignatures(signature: String) {
        let verifier = WebhookSignatureVerifier(secret: "test_secret_key")
        #expect(!verifier.isValid(body: Array(#"{"foo": "bar"}"#.utf8), signature: signature))
    }

    @Test func emptySecretVerifiesNothing() {
        let verifier = WebhookSignatureVerifier(secret: "")
        let signature = WebhookSignatureVerifier.sign(body: Array("x".utf8), secret: "")
        #expect(!verifier.isValid(body: Array("x".utf8), signature: signature))
    }
}

@Suite("Shop domains")
struct ShopDomainTests {
    @Test(arguments: ["shop.myshopify.com", "My-Shop.MyShopify.com", "a1.myshopify.com"])
    func accepted(raw: String) {
        #expect(ShopDomain(raw)?.value == raw.lowercased())
    }

    @Test(arguments: [
        "", "-shop.myshopify.com", "shop.myshopify.com.evil.com", "shop.example.com", "sh op.myshopify.com", ".myshopify.com", "a.b.myshopify.com",
    ])
    func rejected(raw: String) {
        #expect(ShopDomain(raw) == nil)
    }
}

@Suite("Order stock rule")
struct OrderStockRuleTests {
    func order(quantity: Int, current: Int?, cancelled: Bool = false, refunds: [(Int, String)] = []) -> (ShopifyOrder, ShopifyOrder.LineItem) {
        let line = ShopifyOrder.LineItem(id: 1, variantId: 10, sku: "A", quantity: quantity, currentQuantity: current)
        let refundLines = refunds.map { ShopifyOrder.RefundLineItem(lineItemId: 1, quantity: $0.0, restockType: $0.1) }
        let order = ShopifyOrder(
            id: 99,
            updatedAt: "2026-11-27T10:00:00Z",
            cancelledAt: cancelled ? "2026-11-27T10:00:00Z" : nil,
            lineItems: [line],
            refunds: refundLines.isEmpty ? nil : [ShopifyOrder.Refund(id: 5, refundLineItems: refundLines)]
        )
        return (order, line)
    }

    @Test func plainOrderConsumesItsQuantity() {
        let (order, line) = self.order(quantity: 3, current: 3)
        #expect(order.consumedQuantity(of: line) == 3)
    }

    @Test func editRemovingUnitsConsumesTheCurrentQuantity() {
        let (order, line) = self.order(quantity: 3, current: 1)
        #expect(order.consumedQuantity(of: line) == 1)
    }

    @Test func refundWithoutRestockStillConsumes() {
        let (order, line) = self.order(quantity: 3, current: 2, refunds: [(1, "no_restock")])
        #expect(order.consumedQuantity(of: line) == 3)
    }

    @Test func refundWithReturnRestocks() {
        let (order, line) = self.order(quantity: 3, current: 2, refunds: [(1, "return")])
        #expect(order.consumedQuantity(of: line) == 2)
    }

    @Test func cancelledOrderWithRestockConsumesNothing() {
        let (order, line) = self.order(quantity: 3, current: 3, cancelled: true)
        #expect(order.consumedQuantity(of: line) == 0)
    }

    @Test func cancelledOrderWithoutRestockKeepsWhatLeft() {
        let (order, line) = self.order(quantity: 3, current: 0, cancelled: true, refunds: [(3, "no_restock")])
        #expect(order.consumedQuantity(of: line) == 3)
    }

    @Test func oldPayloadWithoutCurrentQuantity() {
        let (order, line) = self.order(quantity: 4, current: nil, refunds: [(1, "cancel")])
        #expect(order.consumedQuantity(of: line) == 3)
    }

    @Test func timestampsWithOffsetsAndFractions() {
        #expect(ShopifyTimestamp.parse("2026-11-27T10:00:00-05:00") == ShopifyTimestamp.parse("2026-11-27T15:00:00Z"))
        #expect(ShopifyTimestamp.parse("2026-11-27T15:00:00.250Z") != nil)
        #expect(ShopifyTimestamp.parse("yesterday") == nil)
    }
}
