import Crypto
import EcommerceJobs
import Foundation
import HTTPTypes
import Hummingbird
import JSONBytes
import JobQueue
import Logging
import Metrics
import NIOCore
import NIOPosix
import Operations
import RedisClient
import Shopify
import Storage
import Synchronization
import Tracing

/// `POST /ecommerce/webhooks/shopify`: verify, resolve the shop, enqueue, answer fast (DESIGN §5).
///
/// Shopify retries anything but a 2xx, so application errors that can never succeed are answered
/// `200 {"ok": false}`; only an unverifiable request (401), an oversized one (413) and a queue that cannot take
/// the job (503, so that Shopify redelivers and nothing is lost) are refused.
///
/// This is the endpoint's logic, carried by ``WebhookChannelHandler`` on the event loop ahead of the router (plain
/// deliveries) and by the router (every other request shape); see the README's "The webhook path and its
/// performance". Everything here is synchronous or future-based, so that the fast path never leaves its loop.
struct WebhookIntake: Sendable {
    static let path = "/ecommerce/webhooks/shopify"
    let verifier: WebhookSignatureVerifier
    let shops: ShopDirectory
    /// Enqueues on the delivery's own event loop (its Redis connection), so the answer never leaves the loop.
    let queue: RedisJobQueue
    let maxBodyBytes: Int
    let metrics: WebhookMetrics
    let logger: Logger
    /// Refused deliveries written to the operator's journal per second, at most (a flood of forgeries costs Redis
    /// no more than this; the metrics count every one).
    let refusalRecords = RateBudget(perSecond: 50)

    /// Accepted deliveries go in with their enqueue; refused ones on their own (see ``OperatorJournal``).
    var journal: OperatorJournal { OperatorJournal(redis: self.queue.redis) }

    /// Leaves a refused delivery in the operator's journal, within ``refusalRecords``; never waits.
    func journalRefusal(shop: String, topic: String, code: String) {
        guard self.refusalRecords.take() else { return }
        self.journal.recordWebhookRefusal(.init(shop: String(shop.prefix(255)), topic: topic.isEmpty ? nil : String(topic.prefix(100)), code: code))
    }

    /// The router's route for the deliveries ``WebhookChannelHandler`` leaves to the HTTP pipeline (a chunked body,
    /// `Expect: 100-continue`, HTTP/1.0): the same intake, carried by Hummingbird.
    func addRoutes(to router: Router<some RequestContext>) {
        router.post(RouterPath(Self.path)) { request, _ in
            var request = request
            let headers = WebhookHeaders(request.headers)
            let reply: WebhookReply
            if let length = headers.contentLength, length > self.maxBodyBytes {
                reply = self.tooLarge(headers)
            } else {
                do {
                    let body = try await request.collectBody(upTo: self.maxBodyBytes)
                    // The intake runs on an event loop (it is future-based, and answers on the loop it was given).
                    let loop = NIOSingletons.posixEventLoopGroup.any()
                    reply = try await loop.flatSubmit { self.receive(headers, body: body, on: loop) }.get()
                } catch is NIOTooManyBytesError {
                    reply = self.tooLarge(headers)
                }
            }
            var fields: HTTPFields = [.contentType: "application/json"]
            if let seconds = reply.retryAfterSeconds { fields[.retryAfter] = String(seconds) }
            return Response(status: reply.status, headers: fields, body: ResponseBody(byteBuffer: reply.body))
        }
    }

    /// The answer to a delivery whose body is larger than ``maxBodyBytes``, known from its head or its first bytes.
    func tooLarge(_ headers: WebhookHeaders) -> WebhookReply {
        self.metrics.count(topic: headers.topic.flatMap(WebhookTopic.init(rawValue:)), result: "too_large")
        return .error(.contentTooLarge, code: "payload_too_large", message: "the body exceeds \(self.maxBodyBytes) bytes")
    }

    /// Answers one complete delivery. The future succeeds on `eventLoop` with the reply (it never fails).
    ///
    /// With a tracer, the delivery gets a span (the root of its trace) whose context its job carries to the worker.
    /// Its name and attributes come from the headers before anything is verified: bounded in length, and the name
    /// is a topic we take or just `webhook`.
    func receive(_ headers: WebhookHeaders, body: ByteBuffer, on eventLoop: any EventLoop) -> EventLoopFuture<WebhookReply> {
        guard JobTracing.isActive else { return self.receive(headers, body: body, on: eventLoop, span: nil) }
        let topic = headers.topic.flatMap(WebhookTopic.init(rawValue:))
        let span = InstrumentationSystem.tracer.startSpan(topic.map { "webhook \($0.rawValue)" } ?? "webhook", context: .topLevel, ofKind: .server)
        span.attributes["shopify.topic"] = headers.topic.map { String($0.prefix(100)) }
        span.attributes["shopify.shop"] = headers.shop.map { String($0.prefix(255)) }
        span.attributes["shopify.webhook_id"] = headers.webhookId.map { String($0.prefix(100)) }
        span.attributes["shopify.event_id"] = headers.eventId.map { String($0.prefix(100)) }
        return self.receive(headers, body: body, on: eventLoop, span: span).map { reply in
            span.attributes["http.response.status_code"] = Int(reply.status.code)
            if reply.status.code >= 500 { span.setStatus(SpanStatus(code: .error)) }
            span.end()
            return reply
        }
    }

    private func receive(_ headers: WebhookHeaders, body: ByteBuffer, on eventLoop: any EventLoop, span: (any Span)?) -> EventLoopFuture<WebhookReply>
    {
        let topicName = headers.topic ?? ""
        let topic = WebhookTopic(rawValue: topicName)
        let logger = RequestLogger(logger: self.logger, requestId: headers.requestId ?? headers.webhookId)
        /// `reply`, counted under `result`.
        @Sendable func counted(_ reply: WebhookReply, _ result: String) -> WebhookReply {
            self.metrics.count(topic: topic, result: result)
            span?.attributes["webhook.answer"] = result
            return reply
        }
        @Sendable func answer(_ reply: WebhookReply, _ result: String) -> EventLoopFuture<WebhookReply> {
            eventLoop.makeSucceededFuture(counted(reply, result))
        }

        guard let signature = headers.hmac else {
            return answer(.error(.unauthorized, code: "missing_signature", message: "X-Shopify-Hmac-Sha256 is required"), "unauthorized")
        }
        guard let shopHeader = headers.shop, !shopHeader.isEmpty else {
            return answer(.error(.unauthorized, code: "missing_shop_domain", message: "X-Shopify-Shop-Domain is required"), "unauthorized")
        }
        let bytes = Array(body.readableBytesView)
        guard self.verifier.isValid(body: bytes, signature: signature) else {
            logger.notice("webhook with an invalid signature", metadata: ["shop": "\(shopHeader)", "topic": "\(topicName)"])
            self.journalRefusal(shop: shopHeader, topic: topicName, code: "invalid_signature")
            return answer(.error(.unauthorized, code: "invalid_signature", message: "the HMAC does not match the body"), "unauthorized")
        }

        // Verified: from here on every problem is Shopify's data or our state, answered 200 so that Shopify
        // does not retry what can never succeed.
        @Sendable func reject(_ code: String) -> EventLoopFuture<WebhookReply> {
            logger.warning("webhook not accepted", metadata: ["shop": "\(shopHeader)", "topic": "\(topicName)", "error": "\(code)"])
            return answer(.rejected(code), code)
        }
        guard let topic else { return reject(topicName.isEmpty ? "missing_topic" : "unsupported_topic") }
        guard let shop = ShopDomain(shopHeader) else { return reject("invalid_shop_domain") }
        let delivery = WebhookDelivery(
            webhookId: headers.webhookId.flatMap { $0.isEmpty ? nil : $0 },
            eventId: headers.eventId.flatMap { $0.isEmpty ? nil : $0 },
            triggeredAt: headers.triggeredAt.flatMap { $0.isEmpty ? nil : $0 }
        )

        @Sendable func accept(_ connection: ShopConnection?) -> EventLoopFuture<WebhookReply> {
            guard let connection else {
                self.journalRefusal(shop: shop.value, topic: topicName, code: "unknown_shop")
                return reject("unknown_shop")
            }
            // Lifecycle topics must reach an uninstalled shop too (`shop/redact` comes 48 hours after uninstall).
            if topic.body != .shopLifecycle && connection.status != .active {
                self.journalRefusal(shop: shop.value, topic: topicName, code: "shop_not_connected")
                return reject("shop_not_connected")
            }
            let job: EncodedJob
            do {
                job = try Self.makeJob(
                    topic: topic,
                    body: bytes,
                    shop: shop,
                    businessId: connection.businessId,
                    delivery: delivery,
                    traceContext: span.flatMap { JobTracing.carrier(of: $0.context) }
                )
                span?.attributes["shopify.order_id"] = job.orderId
                span?.attributes["flowpos.business_id"] = connection.businessId.lowercasedString
            } catch {
                return reject("invalid_payload")
            }
            let started = ContinuousClock.now
            let answered = eventLoop.makePromise(of: WebhookReply.self)
            let record = OperatorJournal.deliveryRecord(
                queue: job.queue,
                shop: shop.value,
                topic: topic.rawValue,
                webhookId: delivery.webhookId,
                eventId: delivery.eventId,
                orderId: job.orderId,
                jobId: job.id
            )
            self.queue.enqueue(raw: job.bytes, id: job.id, queue: job.queue, dedupeKey: job.dedupeKey, record: record) { result in
                switch result {
                case .success(let enqueued):
                    self.metrics.enqueueDuration.record(duration: ContinuousClock.now - started)
                    if enqueued == .duplicate {
                        logger.debug("duplicate webhook delivery", metadata: ["shop": "\(shop)", "topic": "\(topicName)"])
                    }
                    answered.succeed(counted(.accepted, enqueued == .duplicate ? "duplicate" : "accepted"))
                case .failure(let error):
                    logger.error("enqueue failed", metadata: ["shop": "\(shop)", "topic": "\(topicName)", "error": "\(error)"])
                    answered.succeed(counted(.unavailable(code: "queue_unavailable"), "queue_unavailable"))
                }
            }
            return answered.futureResult
        }

        // Most deliveries come from shops seen within the cache's lifetime: answered without leaving the loop.
        if let cached = self.shops.cachedConnection(forShop: shop.value) { return accept(cached) }
        let lookup = eventLoop.makeFutureWithTask { try await self.shops.connection(forShop: shop.value, logger: logger.logger) }
        return lookup.flatMap(accept).flatMapError { error in
            // Without the database we cannot tell whose order this is; refusing makes Shopify redeliver.
            logger.error("shop lookup failed", metadata: ["shop": "\(shop)", "error": "\(error)"])
            return answer(.unavailable(code: "database_unavailable"), "database_unavailable")
        }
    }

    struct EncodedJob {
        var id: String
        var queue: String
        var dedupeKey: String
        var bytes: [UInt8]
        /// The order the delivery is about, for the journal.
        var orderId: Int64? = nil
    }

    /// The job a verified delivery becomes. Parsing into typed payloads both validates the body and drops what
    /// we must not keep (customer data).
    static func makeJob(
        topic: WebhookTopic,
        body: [UInt8],
        shop: ShopDomain,
        businessId: UUID,
        delivery: WebhookDelivery,
        traceContext: [String: String]? = nil
    ) throws -> EncodedJob {
        let dedupeKey = "webhook:\(shop.value):\(delivery.dedupeKey(body: body))"
        let webhookId = delivery.webhookId
        switch topic.body {
        case .order:
            let order = try ShopifyOrder(webhookBody: body)
            guard order.updatedAtDate != nil else { throw WebhookPayloadError.invalidTimestamp }
            let envelope = OrderIngestJob.envelope(
                .init(source: .webhook, topic: topic.rawValue, webhookId: webhookId, order: order),
                businessId: businessId,
                shop: shop.value,
                dedupeKey: dedupeKey,
                traceContext: traceContext
            )
            return EncodedJob(
                id: envelope.id,
                queue: OrderIngestJob.queue,
                dedupeKey: dedupeKey,
                bytes: Self.encode(envelope, capacity: body.count),
                orderId: order.id
            )
        case .orderChange:
            let change = try ShopifyOrderChange(topic: topic, webhookBody: body)
            let envelope = OrderChangeNoticeJob.envelope(
                .init(topic: topic.rawValue, webhookId: webhookId, change: change),
                businessId: businessId,
                shop: shop.value,
                dedupeKey: dedupeKey,
                traceContext: traceContext
            )
            return EncodedJob(
                id: envelope.id,
                queue: OrderChangeNoticeJob.queue,
                dedupeKey: dedupeKey,
                bytes: Self.encode(envelope, capacity: 512),
                orderId: change.orderId
            )
        case .bulkOperation:
            let finish = try ShopifyBulkOperationFinish(webhookBody: body)
            return try Self.encoded(
                BulkOperationFinishJob.self,
                .init(operationId: finish.operationId, status: finish.status, webhookId: webhookId),
                businessId: businessId,
                shop: shop,
                dedupeKey: dedupeKey,
                traceContext: traceContext
            )
        case .shopLifecycle:
            // The body must at least be a JSON object; its content (customer data for the privacy topics) is not kept.
            try JSONScanner.parse(body) { scanner throws(JSONScanError) in
                try scanner.readObject { scanner, _ throws(JSONScanError) in try scanner.skipValue() }
            }
            return try Self.encoded(
                ShopEventJob.self,
                .init(topic: topic.rawValue, webhookId: webhookId, triggeredAt: delivery.triggeredAt),
                businessId: businessId,
                shop: shop,
                dedupeKey: dedupeKey,
                traceContext: traceContext
            )
        }
    }

    /// A small job (its payload without an order) encoded with `JSONEncoder`.
    private static func encoded<Job: JobDefinition>(
        _ job: Job.Type,
        _ payload: Job.Payload,
        businessId: UUID,
        shop: ShopDomain,
        dedupeKey: String,
        traceContext: [String: String]?
    ) throws -> EncodedJob {
        let envelope = Job.envelope(payload, businessId: businessId, shop: shop.value, dedupeKey: dedupeKey, traceContext: traceContext)
        return EncodedJob(id: envelope.id, queue: Job.queue, dedupeKey: dedupeKey, bytes: Array(try JobCoding.encoder().encode(envelope)))
    }

    private static func encode(_ envelope: some JSONWritable, capacity: Int) -> [UInt8] {
        var writer = JSONWriter(capacity: capacity)
        writer.value(envelope)
        return writer.bytes
    }
}

/// What identifies one delivery: Shopify's webhook id (one per subscription and event, kept by retries), the event
/// id (one per event, the same for every subscription's copy) and when the event happened.
struct WebhookDelivery: Sendable, Equatable {
    var webhookId: String?
    var eventId: String?
    var triggeredAt: String?

    /// Transport dedupe: the event id where Shopify sends one (several subscriptions to a topic deliver one event
    /// with different webhook ids), else the webhook id; without either (never seen from Shopify), the body's digest.
    func dedupeKey(body: [UInt8]) -> String {
        if let eventId { return "event-\(eventId)" }
        return self.webhookId ?? "sha256-" + SHA256.hash(data: body).map { String(format: "%02x", $0) }.joined()
    }
}

/// The headers a delivery is judged by, read in one pass over the fields (each `HTTPFields` lookup by name
/// builds an index first, which showed in the gateway's profile).
package struct WebhookHeaders: Sendable, Equatable {
    package var hmac: String?
    package var topic: String?
    package var shop: String?
    package var webhookId: String?
    /// `X-Shopify-Event-Id`: the same for every subscription's copy of one event.
    package var eventId: String?
    /// `X-Shopify-Triggered-At`: when the event happened (a retry can come hours later).
    package var triggeredAt: String?
    package var requestId: String?
    package var contentLength: Int?
    package var closesConnection = false

    static let hmacHeader = HTTPField.Name("X-Shopify-Hmac-Sha256")!
    static let topicHeader = HTTPField.Name("X-Shopify-Topic")!
    static let shopHeader = HTTPField.Name("X-Shopify-Shop-Domain")!
    static let webhookIdHeader = HTTPField.Name("X-Shopify-Webhook-Id")!
    static let eventIdHeader = HTTPField.Name("X-Shopify-Event-Id")!
    static let triggeredAtHeader = HTTPField.Name("X-Shopify-Triggered-At")!

    init() {}

    init(_ fields: HTTPFields) {
        for field in fields {
            switch field.name {
            case Self.hmacHeader: self.hmac = field.value
            case Self.topicHeader: self.topic = field.value
            case Self.shopHeader: self.shop = field.value
            case Self.webhookIdHeader: self.webhookId = field.value
            case Self.eventIdHeader: self.eventId = field.value
            case Self.triggeredAtHeader: self.triggeredAt = String(field.value.prefix(64))
            case .requestId: self.requestId = String(field.value.prefix(64))
            case .contentLength: self.contentLength = Int(field.value)
            case .connection: self.closesConnection = field.value.lowercased() == "close"
            default: break
            }
        }
    }
}

/// Logs with the request's id (`X-Request-Id`, else Shopify's webhook id, which names the delivery in Shopify's
/// admin too), building the metadata only when the level is enabled: most deliveries log nothing.
struct RequestLogger: Sendable {
    var logger: Logger
    var requestId: String?

    func notice(_ message: @autoclosure () -> Logger.Message, metadata: @autoclosure () -> Logger.Metadata) {
        self.log(.notice, message(), metadata())
    }

    func warning(_ message: @autoclosure () -> Logger.Message, metadata: @autoclosure () -> Logger.Metadata) {
        self.log(.warning, message(), metadata())
    }

    func error(_ message: @autoclosure () -> Logger.Message, metadata: @autoclosure () -> Logger.Metadata) {
        self.log(.error, message(), metadata())
    }

    func debug(_ message: @autoclosure () -> Logger.Message, metadata: @autoclosure () -> Logger.Metadata) {
        self.log(.debug, message(), metadata())
    }

    private func log(_ level: Logger.Level, _ message: @autoclosure () -> Logger.Message, _ metadata: @autoclosure () -> Logger.Metadata) {
        guard self.logger.logLevel <= level else { return }
        var metadata = metadata()
        if let requestId = self.requestId { metadata["request.id"] = "\(requestId)" }
        self.logger.log(level: level, message(), metadata: metadata)
    }
}

/// The answer to one webhook delivery: status, JSON body and whether Shopify should come back later.
struct WebhookReply: Sendable, Equatable {
    var status: HTTPResponse.Status
    var body: ByteBuffer
    var retryAfterSeconds: Int?

    static let accepted = WebhookReply(status: .ok, body: ByteBuffer(string: #"{"ok":true}"#))

    /// `200 {"ok": false, "error": code}`: Shopify must not retry.
    static func rejected(_ code: String) -> WebhookReply {
        WebhookReply(status: .ok, body: Self.json(WebhookAck(ok: false, error: code)))
    }

    /// `431`: a head longer than ``WebhookWireRequest/maxHeadLength``.
    static let headTooLarge = WebhookReply.error(
        .requestHeaderFieldsTooLarge,
        code: "head_too_large",
        message: "the request line and headers exceed \(WebhookWireRequest.maxHeadLength) bytes"
    )

    static func error(_ status: HTTPResponse.Status, code: String, message: String, retryAfterSeconds: Int? = nil) -> WebhookReply {
        WebhookReply(status: status, body: Self.json(ErrorBody(error: code, message: message)), retryAfterSeconds: retryAfterSeconds)
    }

    /// `503` with `Retry-After`: Shopify redelivers, so nothing is lost.
    static func unavailable(code: String) -> WebhookReply {
        .error(.serviceUnavailable, code: code, message: "try again later", retryAfterSeconds: 5)
    }

    private static func json(_ value: some Encodable) -> ByteBuffer {
        ByteBuffer(bytes: (try? JSONEncoder().encode(value)) ?? Data("{}".utf8))
    }
}

enum WebhookPayloadError: Error {
    case invalidTimestamp
}

/// Webhook counters by topic and result, made once with bounded labels.
struct WebhookMetrics: Sendable {
    static let results = [
        "accepted", "duplicate", "unauthorized", "too_large", "queue_unavailable", "database_unavailable",
        "missing_topic", "unsupported_topic", "invalid_shop_domain", "unknown_shop", "shop_not_connected", "invalid_payload",
    ]
    /// By topic (nil: a topic we do not take), then result.
    private let counters: [WebhookTopic?: [String: Counter]]
    let enqueueDuration = Timer(label: "webhook_enqueue_duration_seconds")
    /// The dashboard's per-minute counts, by result (made once: the webhook path builds no strings for them).
    private let activity: ActivityCounters?
    private let activityFields = Dictionary(uniqueKeysWithValues: Self.results.map { ($0, ActivityField.webhook(answer: $0)) })

    init(activity: ActivityCounters? = nil) {
        self.activity = activity
        var counters: [WebhookTopic?: [String: Counter]] = [:]
        for topic in WebhookTopic.allCases.map(Optional.some) + [nil] {
            for result in Self.results {
                let dimensions = [("topic", topic?.rawValue ?? "other"), ("result", result)]
                counters[topic, default: [:]][result] = Counter(label: "webhooks_total", dimensions: dimensions)
            }
        }
        self.counters = counters
    }

    func count(topic: WebhookTopic?, result: String) {
        self.counters[topic]?[result]?.increment()
        if let activity = self.activity, let field = self.activityFields[result] { activity.add(field) }
    }
}

/// A number of events allowed per second, shared by every thread: for work that a flood must not multiply.
final class RateBudget: Sendable {
    private let perSecond: Int
    private let used = Mutex<(second: Int64, count: Int)>((0, 0))

    init(perSecond: Int) {
        self.perSecond = perSecond
    }

    /// Whether one more fits in the current second (and counts it if so).
    func take() -> Bool {
        let second = Int64(Date().timeIntervalSince1970)
        return self.used.withLock { used in
            if used.second != second { used = (second, 0) }
            guard used.count < self.perSecond else { return false }
            used.count += 1
            return true
        }
    }
}
