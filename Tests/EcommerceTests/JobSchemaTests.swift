import EcommerceJobs
import Foundation
import JSONBytes
import JobQueue
import Shopify
import Testing

/// One schema per wire type: every job kind's envelope, with random values (unicode, extremes, absent optionals),
/// goes through `Codable`, the byte scanner and the byte writer, and every path must give back the same value field
/// by field. A field added to the `Codable` type and not to the scanner or the writer (or the other way) fails here.
@Suite("Job schemas: Codable, scanner and writer agree for every kind")
struct JobSchemaTests {
    /// Texts that are hard to carry: empty, escapes, control characters, non-ASCII, astral plane, a lone quote.
    static let texts = ["", "plain", "caf\u{e9}", "\u{1F600} emoji", "quote \" and \\ backslash", "tab\tnew\nline", "\u{01}\u{1F}", "\u{2028}", "/"]

    struct Random {
        var generator = SystemRandomNumberGenerator()

        mutating func bool() -> Bool { Bool.random(using: &self.generator) }
        mutating func text() -> String {
            Self.pick(JobSchemaTests.texts, &self.generator) + (self.bool() ? String(Int.random(in: 0...999, using: &self.generator)) : "")
        }
        mutating func optionalText() -> String? { self.bool() ? self.text() : nil }
        mutating func int() -> Int { Self.pick([0, 1, -1, Int.max, Int.min, Int.random(in: -1000...1000, using: &self.generator)], &self.generator) }
        mutating func int64() -> Int64 { Self.pick([0, 1, Int64.max, Int64.random(in: 1...Int64.max, using: &self.generator)], &self.generator) }
        mutating func optionalInt64() -> Int64? { self.bool() ? self.int64() : nil }
        mutating func uuid() -> UUID { UUID() }
        mutating func optionalUUID() -> UUID? { self.bool() ? UUID() : nil }
        /// Whole seconds: `.iso8601` writes no fraction.
        mutating func date() -> Date { Date(timeIntervalSince1970: Double(Int64.random(in: 0...4_102_444_800, using: &self.generator))) }
        mutating func order() throws -> ShopifyOrder {
            try JSONDecoder().decode(ShopifyOrder.self, from: Data(JSONBytesTests.randomWebhookBody(&self.generator).utf8))
        }

        static func pick<T>(_ values: [T], _ generator: inout SystemRandomNumberGenerator) -> T {
            values[Int.random(in: 0..<values.count, using: &generator)]
        }
    }

    /// A random payload of each kind. A kind missing here fails the test below.
    static func payloads(_ random: inout Random) throws -> [String: (inout Random) throws -> Void] {
        [
            OrderIngestJob.kind: { random in
                let source: OrderSource = random.bool() ? .webhook : .poll
                try Self.check(
                    OrderIngestJob.self,
                    .init(source: source, topic: random.optionalText(), webhookId: random.optionalText(), order: random.order()),
                    &random
                )
            },
            OrderChangeNoticeJob.kind: { random in
                let change = ShopifyOrderChange(orderId: random.int64(), changeId: random.optionalInt64())
                try Self.check(OrderChangeNoticeJob.self, .init(topic: random.text(), webhookId: random.optionalText(), change: change), &random)
            },
            ShopEventJob.kind: { random in
                try Self.check(
                    ShopEventJob.self,
                    .init(topic: random.text(), webhookId: random.optionalText(), triggeredAt: random.optionalText()),
                    &random
                )
            },
            ProductPushPlanJob.kind: { random in try Self.check(ProductPushPlanJob.self, .init(runId: random.uuid(), pageSize: random.int()), &random)
            },
            ProductPushPageJob.kind: { random in
                try Self.check(
                    ProductPushPageJob.self,
                    .init(runId: random.uuid(), page: random.int(), after: random.optionalUUID(), through: random.uuid()),
                    &random
                )
            },
            ProductBulkPushJob.kind: { random in try Self.check(ProductBulkPushJob.self, .init(runId: random.uuid(), pageSize: random.int()), &random)
            },
            BulkOperationFinishJob.kind: { random in
                try Self.check(
                    BulkOperationFinishJob.self,
                    .init(operationId: random.text(), status: random.text(), webhookId: random.optionalText()),
                    &random
                )
            },
            InventoryPushJob.kind: { random in try Self.check(InventoryPushJob.self, .init(variantId: random.uuid()), &random) },
            InventoryReconcileJob.kind: { random in
                try Self.check(InventoryReconcileJob.self, .init(runId: random.uuid(), pageSize: random.int()), &random)
            },
            CollectionPushPlanJob.kind: { random in
                try Self.check(CollectionPushPlanJob.self, .init(runId: random.uuid(), pageSize: random.int()), &random)
            },
            CollectionPushPageJob.kind: { random in
                try Self.check(
                    CollectionPushPageJob.self,
                    .init(runId: random.uuid(), page: random.int(), after: random.optionalUUID(), through: random.uuid()),
                    &random
                )
            },
            OrderPollJob.kind: { random in
                try Self.check(OrderPollJob.self, .init(slot: random.optionalInt64(), tickedAt: random.optionalInt64()), &random)
            },
        ]
    }

    /// One envelope of `Job` through every path that reads or writes it.
    static func check<Job: JobDefinition>(_ job: Job.Type, _ payload: Job.Payload, _ random: inout Random) throws where Job.Payload: Equatable {
        let envelope = JobEnvelope(
            id: random.bool() ? JobEnvelope<Job.Payload>.newID() : random.text(),
            kind: Job.kind,
            businessId: random.optionalUUID(),
            shop: random.optionalText(),
            attempt: random.int(),
            maxAttempts: random.int(),
            enqueuedAt: random.date(),
            dedupeKey: random.optionalText(),
            payload: payload
        )
        let header = envelope.header
        var documents = [("JSONEncoder", Array(try JobCoding.encoder().encode(envelope)))]
        if let writable = envelope as? any JSONWritable {
            var writer = JSONWriter()
            writable.write(to: &writer)
            documents.append(("JSONWriter", writer.bytes))
        }
        for (writtenBy, bytes) in documents {
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(
                try JobCoding.decoder().decode(JobEnvelope<Job.Payload>.self, from: Data(bytes)) == envelope,
                "\(writtenBy), JSONDecoder: \(text)"
            )
            #expect(try JobCoding.decoder().decode(JobHeader.self, from: Data(bytes)) == header, "\(writtenBy), JSONDecoder's header: \(text)")
            #expect(try JobHeader(json: bytes) == header, "\(writtenBy), the scanner's header: \(text)")
            if let scannable = JobEnvelope<Job.Payload>.self as? any JSONScannable.Type {
                let scanned = try JSONScanner.parse(bytes) { scanner throws(JSONScanError) in try scannable.init(scanning: &scanner) }
                #expect(scanned as? JobEnvelope<Job.Payload> == envelope, "\(writtenBy), the scanner: \(text)")
            }
            if let businessId = envelope.businessId {
                #expect(text.contains(#""businessId":"\#(businessId.lowercasedString)""#), "\(writtenBy): businessId lower-cased")
            }
        }
    }

    @Test("500 random envelopes of every job kind read back the same through every path that reads or writes them")
    func everyKindRoundTrips() throws {
        var random = Random()
        let payloads = try Self.payloads(&random)
        #expect(Set(payloads.keys) == Set(EcommerceJobKinds.all.map { $0.kind }), "every kind has a generator here, and only kinds that exist")
        #expect(EcommerceJobKinds.all.count == Set(EcommerceJobKinds.all.map { $0.kind }).count, "kinds are unique")
        for kind in EcommerceJobKinds.all.map({ $0.kind }) {
            for _ in 0..<500 { try payloads[kind]?(&random) }
        }
    }

    @Test("the fast paths are where they matter: order jobs are scanned by the worker and written by the gateway")
    func fastPathsExist() {
        #expect(JobEnvelope<OrderIngestJob.Payload>.self is any JSONScannable.Type)
        #expect(JobEnvelope<OrderIngestJob.Payload>.self is any JSONWritable.Type)
        #expect(JobEnvelope<OrderChangeNoticeJob.Payload>.self is any JSONWritable.Type)
    }
}
