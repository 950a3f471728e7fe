import EcommerceJobs
import Foundation
import JSONBytes
import JobQueue
import Shopify
import Testing

/// The gateway's byte-level JSON (JSONScanner, JSONWriter) held to what `Codable` does with the same documents.
@Suite("JSON read and written from bytes")
struct JSONBytesTests {
    /// A random order as a webhook body, with what Shopify puts around the fields we keep: customer data, nested
    /// objects, numbers of every shape, escapes and non-ASCII text, nulls, keys in any order.
    static func randomWebhookBody(_ random: inout some RandomNumberGenerator) -> String {
        func pick<T>(_ values: [T]) -> T { values[Int.random(in: 0..<values.count, using: &random)] }
        let texts = [
            "Widget", "Caf\u{e9} cr\u{e8}me", "\\\"quoted\\\"", "tab\\there", "\\u00e9t\\u00e9", "emoji \u{1F600}", "\\ud83d\\ude00", "a/b\\/c", "",
        ]
        let noise = [
            #""email":"jane@example.com""#, #""customer":{"first_name":"Jane","last_name":"Doe","tags":["a","b"],"note":null}"#,
            #""total_price":"19.99""#, #""weight":1.5e3"#, #""discounts":[]"#, #""flags":{"a":true,"b":false,"c":[1,-2,3.25,-0.5E-2]}"#,
            #""note":"\#(pick(texts))""#, #""empty":{}"#,
        ]
        var lines: [String] = []
        for index in 0..<Int.random(in: 0...4, using: &random) {
            var fields = [
                #""id":\#(Int64.random(in: 1...Int64.max / 2, using: &random))"#,
                #""quantity":\#(Int.random(in: 0...50, using: &random))"#,
                #""variant_id":\#(Bool.random(using: &random) ? "null" : String(Int64.random(in: 1...99_999_999_999, using: &random)))"#,
                #""sku":\#(Bool.random(using: &random) ? "null" : "\"SKU-\(index)-\(pick(texts))\"")"#,
                #""title":"\#(pick(texts))""#, pick(noise),
            ]
            if Bool.random(using: &random) {
                fields.append(#""current_quantity":\#(Bool.random(using: &random) ? "null" : String(Int.random(in: 0...50, using: &random)))"#)
            }
            fields.shuffle(using: &random)
            lines.append("{" + fields.joined(separator: ",") + "}")
        }
        var refunds = "null"
        if Bool.random(using: &random) {
            let refundLine = #"{"line_item_id":7,"quantity":1,"restock_type":\#(pick(["null", "\"cancel\"", "\"no_restock\""])),"subtotal":1.0}"#
            refunds = #"[{"id":9,"note":"\#(pick(texts))","refund_line_items":[\#(refundLine)]}]"#
        }
        var fields =
            [
                #""id":\#(Int64.random(in: 1...Int64.max, using: &random))"#,
                #""name":\#(Bool.random(using: &random) ? "null" : "\"#\(pick(texts))\"")"#,
                #""updated_at":"2026-11-27T10:00:00-05:00""#,
                #""created_at":"2026-11-27T09:00:00Z""#,
                #""cancelled_at":\#(Bool.random(using: &random) ? "null" : "\"2026-11-27T11:00:00Z\"")"#,
                #""test":\#(pick(["true", "false", "null"]))"#,
                #""line_items":[\#(lines.joined(separator: ",\n  "))]"#,
                #""refunds":\#(refunds)"#,
            ] + noise.shuffled(using: &random).prefix(3)
        fields.shuffle(using: &random)
        return "{ " + fields.joined(separator: pick([",", ", ", ",\n", " ,\t"])) + " }"
    }

    @Test("webhook bodies read alike: JSONScanner and JSONDecoder agree on 2,000 random orders")
    func ordersReadAlike() throws {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let body = Self.randomWebhookBody(&random)
            let codable = try JSONDecoder().decode(ShopifyOrder.self, from: Data(body.utf8))
            let scanned = try ShopifyOrder(webhookBody: Array(body.utf8))
            #expect(scanned == codable, "\(body)")
            #expect(scanned.createdAt == codable.createdAt && scanned.test == codable.test)
        }
    }

    @Test("damaged bodies: what the scanner accepts, JSONDecoder accepts with the same value")
    func damagedBodies() {
        var random = SystemRandomNumberGenerator()
        var refusedByBoth = 0
        let replacements: [UInt8] = Array(#"{}[]",:0-9.eE\ntu"#.utf8) + [0x00, 0x1F, 0x80, 0xC3, 0xFF]
        for _ in 0..<3_000 {
            var bytes = Array(Self.randomWebhookBody(&random).utf8)
            switch Int.random(in: 0..<3, using: &random) {
            case 0: bytes[Int.random(in: 0..<bytes.count, using: &random)] = replacements.randomElement(using: &random)!
            case 1: bytes.removeLast(Int.random(in: 1..<bytes.count, using: &random))
            default: bytes.insert(replacements.randomElement(using: &random)!, at: Int.random(in: 0..<bytes.count, using: &random))
            }
            let codable = try? JSONDecoder().decode(ShopifyOrder.self, from: Data(bytes))
            let scanned = try? ShopifyOrder(webhookBody: bytes)
            if let scanned {
                #expect(scanned == codable, "accepted by the scanner only: \(String(decoding: bytes, as: UTF8.self))")
            }
            if codable == nil && scanned == nil { refusedByBoth += 1 }
        }
        // Most damage breaks the document: the comparison above is not vacuous.
        #expect(refusedByBoth > 1_000)
    }

    @Test("refused: wrong types, missing fields, hostile nesting, invalid UTF-8 where read, trailing bytes; junk in a skipped value as JSONDecoder")
    func refusals() {
        let valid = #"{"id":1,"updated_at":"2026-11-27T10:00:00Z","line_items":[{"id":2,"quantity":1}]}"#
        #expect((try? ShopifyOrder(webhookBody: Array(valid.utf8))) != nil)
        let refused = [
            #"{"id":"1","updated_at":"2026-11-27T10:00:00Z","line_items":[]}"#,
            #"{"id":1.5,"updated_at":"2026-11-27T10:00:00Z","line_items":[]}"#,
            #"{"id":99999999999999999999,"updated_at":"2026-11-27T10:00:00Z","line_items":[]}"#,
            #"{"updated_at":"2026-11-27T10:00:00Z","line_items":[]}"#,
            #"{"id":1,"line_items":[]}"#,
            #"{"id":1,"updated_at":"2026-11-27T10:00:00Z"}"#,
            #"{"id":1,"updated_at":null,"line_items":[]}"#,
            #"{"id":1,"updated_at":"2026-11-27T10:00:00Z","line_items":[{"id":2,"quantity":"1"}]}"#,
            #"{"id":1,"updated_at":"2026-11-27T10:00:00Z","line_items":[{"id":2}]}"#,
            #"{"id":1,"updated_at":"2026-11-27T10:00:00Z","line_items":[],"x":"\u12"}"#,
            #"{"id":1,"updated_at":"2026-11-27T10:00:00Z","line_items":[],"name":"\ud800"}"#,
            #"{"id":01,"updated_at":"2026-11-27T10:00:00Z","line_items":[]}"#,
            valid + "x", "[" + valid + "]", "", "null",
            #"{"id":1,"updated_at":"2026-11-27T10:00:00Z","line_items":[],"deep":"# + String(repeating: "[", count: 100_000),
        ]
        for body in refused {
            // The scanner's own refusal, with a reason: not a crash, not some other error on the way.
            let error = #expect(throws: JSONScanError.self, "\(body.prefix(200))") { try ShopifyOrder(webhookBody: Array(body.utf8)) }
            #expect(error.map { !$0.reason.isEmpty } ?? false)
        }
        // Invalid UTF-8 in a string that is read is refused; in one that is skipped it is not looked at, as
        // JSONDecoder does not look at it.
        var invalidUTF8 = Array(#"{"id":1,"updated_at":"2026-11-27T10:00:00Z","line_items":[],"name":"#.utf8) + [0x22, 0xC3, 0x28, 0x22, 0x7D]
        let notUTF8 = #expect(throws: JSONScanError.self) { try ShopifyOrder(webhookBody: invalidUTF8) }
        #expect(notUTF8?.reason == "invalid UTF-8")
        invalidUTF8[invalidUTF8.count - 3] = 0xA9
        #expect((try? ShopifyOrder(webhookBody: invalidUTF8)) != nil, "é is valid UTF-8")
        let skippedJunk = [
            Array(#"{"id":1,"updated_at":"2026-11-27T10:00:00Z","line_items":[],"x":"#.utf8) + [0x22, 0xC3, 0x28, 0x22, 0x7D],
            Array(#"{"id":1,"updated_at":"2026-11-27T10:00:00Z","line_items":[],"x":"\ud800","y":[01,1.,1e],"z":"a"#.utf8) + [0x01, 0x22, 0x7D],
        ]
        for body in skippedJunk {
            let decoded = try? JSONDecoder().decode(ShopifyOrder.self, from: Data(body))
            #expect(decoded != nil && (try? ShopifyOrder(webhookBody: body)) == decoded, "\(String(decoding: body, as: UTF8.self))")
        }
    }

    @Test(
        "what JSONDecoder accepts beyond strict JSON the scanner reads alike: a byte order mark, trailing commas, integers written with a fraction or an exponent, a repeated key (the first wins), nesting to JSONDecoder's depth"
    )
    func lenientLikeJSONDecoder() throws {
        let time = #""updated_at":"2026-11-27T10:00:00Z""#
        func nested(_ levels: Int) -> String {
            #"{"id":1,\#(time),"line_items":[],"x":"# + String(repeating: "[", count: levels - 1) + String(repeating: "]", count: levels - 1) + "}"
        }
        let accepted = [
            "\u{FEFF}" + #"{"id":1,\#(time),"line_items":[]}"#,
            #"{"id":1,\#(time),"line_items":[{"id":2,"quantity":1,},],}"#,
            #"{"id":4.5e1,\#(time),"line_items":[{"id":2,"quantity":2.0},{"id":3,"quantity":30E-1}]}"#,
            #"{"id":1,\#(time),"line_items":[{"id":2,"quantity":2.50e1}]}"#,
            #"{"id":1,"id":2,\#(time),"updated_at":"2030-01-01T00:00:00Z","line_items":[{"id":2,"quantity":1,"quantity":9}],"line_items":[]}"#,
            nested(511),
        ]
        for body in accepted {
            let decoded = try? JSONDecoder().decode(ShopifyOrder.self, from: Data(body.utf8))
            let scanned = try? ShopifyOrder(webhookBody: Array(body.utf8))
            #expect(decoded != nil && scanned == decoded, "\(body.prefix(200))")
        }
        // Agreement both ways at the limits: the same documents refused.
        for body in [nested(512), nested(513), nested(600), #"{"id":1e19,\#(time),"line_items":[]}"#, #"{"id":1.05e1,\#(time),"line_items":[]}"#] {
            let decoded = try? JSONDecoder().decode(ShopifyOrder.self, from: Data(body.utf8))
            let scanned = try? ShopifyOrder(webhookBody: Array(body.utf8))
            #expect(scanned == decoded, "\(body.prefix(80))")
        }
        // Integers written with a fraction or an exponent, against JSONDecoder (the values it was measured to give).
        for written in [
            "4097997947843424.9", "4097997947843424.6", "63054418464716251.3", "63054418464716251.9", "8665503117664390.8",
            "9007199254740993.0", "9007199254740993.5", "4459623783439565e01", "40979979478434249e-1", "1.9999999999999999",
            "123456789012345678.9", "9223372036854775807.0", "-4.5e1", "0.0e5", "-0.0",
            // Above 2^53 the significant digits must fit in 64 bits (found by FuzzOrderScanner).
            "86655031176643920.4689539", "86655031176643920.000000", "18446744073709551616e-2", "18446744073709551615e-2",
            "90071992547409930000.0e-4",
        ] {
            let body = #"{"id":\#(written),\#(time),"line_items":[]}"#
            let decoded = try? JSONDecoder().decode(ShopifyOrder.self, from: Data(body.utf8))
            #expect((try? ShopifyOrder(webhookBody: Array(body.utf8)))?.id == decoded?.id, "\(written)")
        }
        let first = try ShopifyOrder(webhookBody: Array(accepted[4].utf8))
        #expect(first.id == 1 && first.updatedAt == "2026-11-27T10:00:00Z" && first.lineItems.map(\.quantity) == [1], "the first of a repeated key")
    }

    @Test("order changes: refunds/create and orders/edited bodies")
    func orderChanges() throws {
        let refund = #"{"id":77,"order_id":5551234567890,"note":"x","refund_line_items":[{"line_item_id":1}]}"#
        #expect(
            try ShopifyOrderChange(topic: .refundsCreate, webhookBody: Array(refund.utf8))
                == ShopifyOrderChange(orderId: 5_551_234_567_890, changeId: 77)
        )
        let edit = #"{"order_edit":{"id":12,"order_id":34,"line_items":{"additions":[]}}}"#
        #expect(try ShopifyOrderChange(topic: .ordersEdited, webhookBody: Array(edit.utf8)) == ShopifyOrderChange(orderId: 34, changeId: 12))
        let notAnEdit = #expect(throws: JSONScanError.self) { try ShopifyOrderChange(topic: .ordersEdited, webhookBody: Array(refund.utf8)) }
        #expect(notAnEdit?.reason == #"missing "order_edit""#)
        let noOrder = #expect(throws: JSONScanError.self) { try ShopifyOrderChange(topic: .refundsCreate, webhookBody: Array(#"{"id":1}"#.utf8)) }
        #expect(noOrder?.reason == #"missing "order_id""#)
    }

    @Test("envelopes written from bytes decode with JobCoding as the Codable ones do")
    func envelopesRoundTrip() throws {
        var random = SystemRandomNumberGenerator()
        for index in 0..<500 {
            let order = try ShopifyOrder(webhookBody: Array(Self.randomWebhookBody(&random).utf8))
            let envelope = OrderIngestJob.envelope(
                .init(source: .webhook, topic: "orders/updated", webhookId: index % 2 == 0 ? nil : "wh-\"\(index)\"\n", order: order),
                businessId: UUID(),
                shop: "shop-\(index).myshopify.com",
                dedupeKey: index % 3 == 0 ? nil : "webhook:shop:\(index)"
            )
            var writer = JSONWriter()
            writer.value(envelope)
            let decoded = try JobCoding.decoder().decode(JobEnvelope<OrderIngestJob.Payload>.self, from: Data(writer.bytes))
            #expect(decoded.id == envelope.id && decoded.kind == envelope.kind && decoded.businessId == envelope.businessId)
            #expect(decoded.shop == envelope.shop && decoded.attempt == 0 && decoded.maxAttempts == OrderIngestJob.maxAttempts)
            #expect(decoded.dedupeKey == envelope.dedupeKey)
            #expect(abs(decoded.enqueuedAt.timeIntervalSince(envelope.enqueuedAt)) < 1)
            #expect(decoded.payload.order == order && decoded.payload.webhookId == envelope.payload.webhookId)
            #expect(decoded.payload.source == .webhook && decoded.payload.topic == "orders/updated")
            // The header the worker routes by reads it too.
            #expect(try JobCoding.decoder().decode(JobHeader.self, from: Data(writer.bytes)).kind == OrderIngestJob.kind)
            // The worker reads envelopes with the scanner: the same values from JSONEncoder's bytes and the writer's.
            let encoded = Array(try JobCoding.encoder().encode(envelope))
            for bytes in [encoded, writer.bytes] {
                let scanned = try JobEnvelope<OrderIngestJob.Payload>(json: bytes)
                let header = try JobHeader(json: bytes)
                let codable = try JobCoding.decoder().decode(JobEnvelope<OrderIngestJob.Payload>.self, from: Data(bytes))
                #expect(scanned.id == codable.id && scanned.kind == codable.kind && scanned.businessId == codable.businessId)
                #expect(scanned.shop == codable.shop && scanned.attempt == codable.attempt && scanned.maxAttempts == codable.maxAttempts)
                #expect(scanned.enqueuedAt == codable.enqueuedAt && scanned.dedupeKey == codable.dedupeKey)
                #expect(scanned.payload.order == codable.payload.order && scanned.payload.webhookId == codable.payload.webhookId)
                #expect(scanned.payload.source == codable.payload.source && scanned.payload.topic == codable.payload.topic)
                #expect(header.id == codable.id && header.enqueuedAt == codable.enqueuedAt && header.shop == codable.shop)
            }
        }
        let change = OrderChangeNoticeJob.envelope(.init(topic: "refunds/create", webhookId: "w", change: .init(orderId: 1, changeId: nil)))
        var writer = JSONWriter()
        writer.value(change)
        #expect(
            try JobCoding.decoder().decode(JobEnvelope<OrderChangeNoticeJob.Payload>.self, from: Data(writer.bytes)).payload.change
                == change.payload.change
        )
    }

    @Test("strings with every control character, quotes and non-ASCII survive the writer")
    func writerEscapes() throws {
        let text = String((0..<0x80).map { Character(Unicode.Scalar(UInt8($0))) }) + "é😀\u{2028}"
        var writer = JSONWriter()
        writer.object { $0.field("text", text) }
        #expect(try JSONDecoder().decode([String: String].self, from: Data(writer.bytes)) == ["text": text])
        var numbers = JSONWriter()
        numbers.object { writer in
            writer.field("min", Int64.min)
            writer.field("max", Int64.max)
            writer.field("zero", 0)
        }
        #expect(String(decoding: numbers.bytes, as: UTF8.self) == #"{"min":-9223372036854775808,"max":9223372036854775807,"zero":0}"#)
    }

    @Test("timestamps read by hand agree with Foundation's ISO 8601 parser")
    func timestamps() {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let date = Date(timeIntervalSince1970: Double(Int64.random(in: 0...4_102_444_800, using: &random)))
            let offset = [0, 3_600, -18_000, 19_800, -34_200, 50_400].randomElement(using: &random)!
            let style = Date.ISO8601FormatStyle(includingFractionalSeconds: Bool.random(using: &random), timeZone: TimeZone(secondsFromGMT: offset)!)
            let text = date.formatted(style)
            #expect(ShopifyTimestamp.parse(text) == date, "\(text)")
        }
        #expect(ShopifyTimestamp.parse("2026-11-27T10:00:00.25-05:00") == Date(timeIntervalSince1970: 1_795_791_600.25))
        #expect(ShopifyTimestamp.parse("2026-11-27T10:00:00-0500") == ShopifyTimestamp.parse("2026-11-27T15:00:00Z"))
        for invalid in [
            "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z", "2026-11-27T24:00:00Z", "2026-11-27T10:00:00", "2026-11-27 10:00:00Z",
            "2026-11-27T10:00:00+05", "2026-11-27T10:00:00+05:0", "2026-11-27T10:00:00.Z", "2026-11-27T10:00:00Zjunk", "yesterday", "",
        ] {
            #expect(ShopifyTimestamp.parse(invalid) == nil, "\(invalid)")
        }
        #expect(ShopifyTimestamp.parse("2024-02-29T00:00:00Z") != nil)
    }

    @Test("envelopes the scanner refuses, JobCoding refuses too")
    func envelopeRefusals() throws {
        let valid =
            #"{"id":"a","kind":"orders.ingest","attempt":0,"maxAttempts":10,"enqueuedAt":"2026-11-27T10:00:00Z","payload":{"source":"poll","order":{"id":1,"updated_at":"2026-11-27T10:00:00Z","line_items":[]}}}"#
        #expect(try JobEnvelope<OrderIngestJob.Payload>(json: Array(valid.utf8)).payload.source == .poll)
        let broken: [(json: String, reason: String)] = [
            (valid.replacingOccurrences(of: #""id":"a","#, with: ""), #"missing "id""#),
            (valid.replacingOccurrences(of: #""attempt":0"#, with: #""attempt":"0""#), "expected an integer"),
            (valid.replacingOccurrences(of: #""enqueuedAt":"2026-11-27T10:00:00Z""#, with: #""enqueuedAt":"yesterday""#), "not an RFC 3339 date"),
            // RFC 3339 allows a lower-case `t`; JSONDecoder's `.iso8601` does not, so neither does the scanner.
            (
                valid.replacingOccurrences(of: #""enqueuedAt":"2026-11-27T10:00:00Z""#, with: #""enqueuedAt":"2026-11-27t10:00:00Z""#),
                "not an RFC 3339 date"
            ),
            (valid.replacingOccurrences(of: #""source":"poll""#, with: #""source":"fax""#), "unknown order source fax"),
            (
                valid.replacingOccurrences(
                    of: #","payload":{"source":"poll","order":{"id":1,"updated_at":"2026-11-27T10:00:00Z","line_items":[]}}"#,
                    with: ""
                ),
                #"missing "payload""#
            ),
        ]
        for (json, reason) in broken {
            let error = #expect(throws: JSONScanError.self, "\(json)") { try JobEnvelope<OrderIngestJob.Payload>(json: Array(json.utf8)) }
            #expect(error?.reason == reason, "\(json)")
            #expect(throws: DecodingError.self, "\(json)") {
                try JobCoding.decoder().decode(JobEnvelope<OrderIngestJob.Payload>.self, from: Data(json.utf8))
            }
        }
    }

    @Test("job ids are version 4 UUIDs and do not repeat")
    func jobIds() {
        let ids = (0..<10_000).map { _ in JobEnvelope<Int>.newID() }
        #expect(Set(ids).count == ids.count)
        for id in ids.prefix(100) {
            #expect(UUID(uuidString: id) != nil && id == id.lowercased())
            #expect(Array(id)[14] == "4" && "89ab".contains(Array(id)[19]))
            #expect(UUID(uuidString: id)?.lowercasedString == id)
        }
    }
}
