import Crypto
import EcommerceJobs
import Foundation
import HTTPTypes
import Hummingbird
import JobQueue
import Logging
import Metrics
import NIOCore
import OpsHTTP
import RedisClient
import Shopify
import Storage

/// `POST /ecommerce/webhooks/shopify`: verify, resolve the shop, enqueue, answer fast (DESIGN §5).
///
/// Shopify retries anything but a 2xx, so application errors that can never succeed are answered
/// `200 {"ok": false}`; only an unverifiable request (401), an oversized one (413) and a queue that cannot take
/// the job (503, so that Shopify redelivers and nothing is lost) are refused.
struct WebhookController: Sendable {
    let verifier: WebhookSignatureVerifier
    let shops: ShopDirectory
    let queue: RedisJobQueue
    let maxBodyBytes: Int
    let metrics: WebhookMetrics

    static let hmacHeader = HTTPField.Name("X-Shopify-Hmac-Sha256")!
    static let topicHeader = HTTPField.Name("X-Shopify-Topic")!
    static let shopHeader = HTTPField.Name("X-Shopify-Shop-Domain")!
    static let webhookIdHeader = HTTPField.Name("X-Shopify-Webhook-Id")!

    func addRoutes(to router: Router<some RequestContext>) {
        router.post("/ecommerce/webhooks/shopify") { request, context in
            try await self.receive(request, logger: context.logger)
        }
    }

    func receive(_ request: Request, logger: Logger) async throws -> Response {
        let topicName = request.headers[Self.topicHeader] ?? ""
        let topic = WebhookTopic(rawValue: topicName)
        var result = "accepted"
        defer { self.metrics.count(topic: topic, result: result) }

        if let length = request.headers[.contentLength].flatMap(Int.init), length > self.maxBodyBytes {
            result = "too_large"
            return .error(.contentTooLarge, code: "payload_too_large", message: "the body exceeds \(self.maxBodyBytes) bytes")
        }
        guard let signature = request.headers[Self.hmacHeader] else {
            result = "unauthorized"
            return .error(.unauthorized, code: "missing_signature", message: "X-Shopify-Hmac-Sha256 is required")
        }
        guard let shopHeader = request.headers[Self.shopHeader], !shopHeader.isEmpty else {
            result = "unauthorized"
            return .error(.unauthorized, code: "missing_shop_domain", message: "X-Shopify-Shop-Domain is required")
        }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: self.maxBodyBytes)
        } catch is NIOTooManyBytesError {
            result = "too_large"
            return .error(.contentTooLarge, code: "payload_too_large", message: "the body exceeds \(self.maxBodyBytes) bytes")
        }
        let bytes = body.readableBytesView
        guard self.verifier.isValid(body: bytes, signature: signature) else {
            result = "unauthorized"
            logger.notice("webhook with an invalid signature", metadata: ["shop": "\(shopHeader)", "topic": "\(topicName)"])
            return .error(.unauthorized, code: "invalid_signature", message: "the HMAC does not match the body")
        }

        // Verified: from here on every problem is Shopify's data or our state, answered 200 so that Shopify
        // does not retry what can never succeed.
        func reject(_ code: String) -> Response {
            result = code
            logger.warning("webhook not accepted", metadata: ["shop": "\(shopHeader)", "topic": "\(topicName)", "error": "\(code)"])
            return .json(WebhookAck(ok: false, error: code))
        }
        guard let topic else { return reject(topicName.isEmpty ? "missing_topic" : "unsupported_topic") }
        guard let shop = ShopDomain(shopHeader) else { return reject("invalid_shop_domain") }
        let webhookId = request.headers[Self.webhookIdHeader].flatMap { $0.isEmpty ? nil : $0 }

        let connection: ShopConnection?
        do {
            connection = try await self.shops.connection(forShop: shop.value, logger: logger)
        } catch {
            // Without the database we cannot tell whose order this is; refusing makes Shopify redeliver.
            result = "database_unavailable"
            logger.error("shop lookup failed", metadata: ["shop": "\(shop)", "error": "\(error)"])
            return .error(.serviceUnavailable, code: "database_unavailable", message: "try again later", headers: [.retryAfter: "5"])
        }
        guard let connection else { return reject("unknown_shop") }
        // Lifecycle topics must reach an uninstalled shop too (`shop/redact` comes 48 hours after uninstall).
        if topic.body != .shopLifecycle && connection.status != .active { return reject("shop_not_connected") }

        let job: EncodedJob
        do {
            job = try Self.makeJob(topic: topic, body: bytes, shop: shop, businessId: connection.businessId, webhookId: webhookId)
        } catch {
            return reject("invalid_payload")
        }

        let started = ContinuousClock.now
        do {
            let enqueued = try await self.queue.enqueue(raw: job.bytes, id: job.id, queue: job.queue, dedupeKey: job.dedupeKey)
            self.metrics.enqueueDuration.record(duration: ContinuousClock.now - started)
            if enqueued == .duplicate {
                result = "duplicate"
                logger.debug("duplicate webhook delivery", metadata: ["shop": "\(shop)", "topic": "\(topicName)"])
            }
            return .json(WebhookAck(ok: true))
        } catch {
            result = "queue_unavailable"
            logger.error("enqueue failed", metadata: ["shop": "\(shop)", "topic": "\(topicName)", "error": "\(error)"])
            return .error(.serviceUnavailable, code: "queue_unavailable", message: "try again later", headers: [.retryAfter: "5"])
        }
    }

    struct EncodedJob {
        var id: String
        var queue: String
        var dedupeKey: String
        var bytes: [UInt8]
    }

    /// The job a verified delivery becomes. Parsing into typed payloads both validates the body and drops what
    /// we must not keep (customer data).
    static func makeJob(topic: WebhookTopic, body: some DataProtocol, shop: ShopDomain, businessId: UUID, webhookId: String?) throws -> EncodedJob {
        // Transport dedupe: Shopify's webhook id; without one (never seen from Shopify), the body's digest.
        let deliveryKey = webhookId ?? "sha256-" + SHA256.hash(data: Array(body)).map { String(format: "%02x", $0) }.joined()
        let dedupeKey = "webhook:\(shop.value):\(deliveryKey)"
        let business = businessId.uuidString.lowercased()
        let encoder = JobCoding.encoder()
        let decoder = JSONDecoder()
        switch topic.body {
        case .order:
            let order = try decoder.decode(ShopifyOrder.self, from: Data(body))
            guard order.updatedAtDate != nil else { throw WebhookPayloadError.invalidTimestamp }
            let envelope = OrderIngestJob.envelope(
                .init(source: .webhook, topic: topic.rawValue, webhookId: webhookId, order: order),
                businessId: business,
                shop: shop.value,
                dedupeKey: dedupeKey
            )
            return EncodedJob(id: envelope.id, queue: OrderIngestJob.queue, dedupeKey: dedupeKey, bytes: Array(try encoder.encode(envelope)))
        case .orderChange:
            let change = try ShopifyOrderChange.decode(topic: topic, from: body, decoder: decoder)
            let envelope = OrderChangeNoticeJob.envelope(
                .init(topic: topic.rawValue, webhookId: webhookId, change: change),
                businessId: business,
                shop: shop.value,
                dedupeKey: dedupeKey
            )
            return EncodedJob(id: envelope.id, queue: OrderChangeNoticeJob.queue, dedupeKey: dedupeKey, bytes: Array(try encoder.encode(envelope)))
        case .shopLifecycle:
            // The body must at least be JSON; its content (customer data for the privacy topics) is not kept.
            guard try JSONSerialization.jsonObject(with: Data(body)) is [String: Any] else { throw WebhookPayloadError.notAnObject }
            let envelope = ShopEventJob.envelope(
                .init(topic: topic.rawValue, webhookId: webhookId),
                businessId: business,
                shop: shop.value,
                dedupeKey: dedupeKey
            )
            return EncodedJob(id: envelope.id, queue: ShopEventJob.queue, dedupeKey: dedupeKey, bytes: Array(try encoder.encode(envelope)))
        }
    }
}

enum WebhookPayloadError: Error {
    case invalidTimestamp
    case notAnObject
}

/// Webhook counters by topic and result, made once with bounded labels.
struct WebhookMetrics: Sendable {
    static let results = [
        "accepted", "duplicate", "unauthorized", "too_large", "queue_unavailable", "database_unavailable",
        "missing_topic", "unsupported_topic", "invalid_shop_domain", "unknown_shop", "shop_not_connected", "invalid_payload",
    ]
    private let counters: [String: Counter]
    let enqueueDuration = Timer(label: "webhook_enqueue_duration_seconds")

    init() {
        var counters: [String: Counter] = [:]
        for topic in WebhookTopic.allCases.map(\.rawValue) + ["other"] {
            for result in Self.results {
                counters[topic + "|" + result] = Counter(label: "webhooks_total", dimensions: [("topic", topic), ("result", result)])
            }
        }
        self.counters = counters
    }

    func count(topic: WebhookTopic?, result: String) {
        self.counters[(topic?.rawValue ?? "other") + "|" + result]?.increment()
    }
}
