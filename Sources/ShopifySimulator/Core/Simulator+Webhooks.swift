import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

extension ShopifySimulator {
    /// `webhookSubscriptionCreate(topic:, webhookSubscription: {uri, format: JSON})`.
    static func webhookSubscriptionCreate(_ variables: [String: Any], in shop: inout SimulatedShop, ids: inout IdSequence) -> [String: Any] {
        let input = variables["webhookSubscription"] as? [String: Any] ?? [:]
        let uri = input["uri"] as? String ?? input["callbackUrl"] as? String ?? ""
        guard let topic = variables["topic"] as? String, topic.range(of: #"^[A-Z_]+$"#, options: .regularExpression) != nil else {
            return ["webhookSubscription": NSNull(), "userErrors": [userError(["topic"], "Topic is invalid", "INVALID")]]
        }
        guard let url = URL(string: uri), ["http", "https"].contains(url.scheme ?? "") else {
            return ["webhookSubscription": NSNull(), "userErrors": [userError(["webhookSubscription", "uri"], "Address is invalid", "INVALID")]]
        }
        if shop.subscriptions.values.contains(where: { $0.topic == topic && $0.uri == uri }) {
            return [
                "webhookSubscription": NSNull(),
                "userErrors": [userError(["webhookSubscription", "uri"], "Address for this topic has already been taken", "TAKEN")],
            ]
        }
        let id = ids.take()
        shop.subscriptions[id] = (topic, uri)
        return [
            "webhookSubscription": ["id": "gid://shopify/WebhookSubscription/\(id)", "topic": topic, "uri": uri, "format": "JSON"],
            "userErrors": [] as [Any],
        ]
    }

    /// Removes the shop's subscriptions of a topic (GraphQL form, e.g. `ORDERS_CREATE`), as Shopify does after a
    /// subscription's deliveries kept failing (control API). Returns how many were removed.
    @discardableResult
    public func removeWebhookSubscriptions(shop domain: String, topic: String) -> Int {
        self.state.withLock { state in
            guard let subscriptions = state.shops[domain]?.subscriptions else { return 0 }
            let removed = subscriptions.filter { $0.value.topic == topic }.map(\.key)
            for id in removed { state.shops[domain]?.subscriptions.removeValue(forKey: id) }
            return removed.count
        }
    }

    /// The app's subscriptions, oldest first (a connection, sliced by the selection).
    static func webhookSubscriptions(in shop: SimulatedShop) -> [Any] {
        shop.subscriptions.sorted { $0.key < $1.key }.map {
            ["id": "gid://shopify/WebhookSubscription/\($0.key)", "topic": $0.value.topic, "uri": $0.value.uri, "format": "JSON"]
        }
    }

    /// The HMAC Shopify puts in `X-Shopify-Hmac-Sha256`: base64 of HMAC-SHA256 over the raw body.
    public static func webhookSignature(body: Data, secret: String) -> String {
        Data(HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(secret.utf8)))).base64EncodedString()
    }

    /// Sends `payload` to every subscription of `topic` (REST form, e.g. `orders/create`), signed with the app
    /// secret, through the configured faults. Returns at once; deliveries run in the background. A delivery answered
    /// with anything but a 2xx is retried twice, a second apart. As Shopify does, every subscription's copy has a
    /// webhook id of its own and the event's id and trigger time, which its retries and duplicates keep.
    func deliver(shop domain: String, topic: String, payload: Data, triggeredAt: Date = Date()) {
        let event = WebhookEvent(id: UUID().uuidString.lowercased(), triggeredAt: triggeredAt)
        let graphQLTopic = topic.uppercased().replacingOccurrences(of: "/", with: "_")
        let (targets, settings) = self.state.withLock { state in
            ((state.shops[domain]?.subscriptions.values.filter { $0.topic == graphQLTopic }.map(\.uri)) ?? [], state.settings)
        }
        for uri in targets {
            let webhookId = UUID().uuidString.lowercased()
            if Double.random(in: 0..<1) < settings.webhookDropRate {
                self.state.withLock { $0.shops[domain]?.stats.webhooksDropped += 1 }
                continue
            }
            let copies = Double.random(in: 0..<1) < settings.webhookDuplicateRate ? 2 : 1
            if copies == 2 { self.state.withLock { $0.shops[domain]?.stats.webhooksDuplicated += 1 } }
            let delay: Duration =
                Double.random(in: 0..<1) < settings.webhookDelayRate ? .milliseconds(Int.random(in: 0...max(0, settings.webhookMaxDelayMs))) : .zero
            for _ in 0..<copies {
                Task {
                    try? await Task.sleep(for: delay)
                    await self.send(uri: uri, shop: domain, topic: topic, webhookId: webhookId, event: event, payload: payload)
                }
            }
        }
    }

    /// One event of a shop: what every subscription's delivery of it shares.
    struct WebhookEvent: Sendable {
        var id: String
        var triggeredAt: Date
    }

    private func send(uri: String, shop domain: String, topic: String, webhookId: String, event: WebhookEvent, payload: Data) async {
        var request = HTTPClientRequest(url: uri)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "X-Shopify-Topic", value: topic)
        request.headers.add(name: "X-Shopify-Hmac-Sha256", value: Self.webhookSignature(body: payload, secret: self.apiSecret))
        request.headers.add(name: "X-Shopify-Shop-Domain", value: domain)
        request.headers.add(name: "X-Shopify-Webhook-Id", value: webhookId)
        request.headers.add(name: "X-Shopify-Event-Id", value: event.id)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        request.headers.add(name: "X-Shopify-Triggered-At", value: formatter.string(from: event.triggeredAt))
        request.headers.add(name: "X-Shopify-API-Version", value: "2026-10")
        request.body = .bytes(ByteBuffer(bytes: payload))
        for attempt in 1...3 {
            let status = try? await HTTPClient.shared.execute(request, timeout: .seconds(5)).status.code
            if let status, (200..<300).contains(status) {
                self.state.withLock { $0.shops[domain]?.stats.webhooksDelivered += 1 }
                return
            }
            self.state.withLock { $0.shops[domain]?.stats.webhooksRefused += 1 }
            if attempt < 3 { try? await Task.sleep(for: .seconds(1)) }
        }
    }
}
