import EcommerceJobs
import Foundation
import HTTPTypes
import InMemoryTracing
import JobQueue
import PostgresNIO
import RedisClient
import Shopify
import ShopifySimulatorCore
import Testing
import Tracing
import WorkerApp

/// The test process's tracer: bootstrapped by the first test that asks for it (a process has one). Tests that run
/// before then see the no-op tracer, those after record spans here too; each test reads only its own trace.
enum TestTracing {
    static let tracer: InMemoryTracer = {
        let tracer = InMemoryTracer()
        InstrumentationSystem.bootstrap(tracer)
        return tracer
    }()

    /// The finished spans of one trace.
    static func spans(ofTrace traceID: String) -> [FinishedInMemorySpan] {
        Self.tracer.finishedSpans.filter { $0.spanContext.traceID == traceID }
    }
}

extension FinishedInMemorySpan {
    /// An attribute's value as it was recorded.
    subscript(attribute key: String) -> SpanAttribute? { self.attributes[key]?.toSpanAttribute() }
}

extension GatewayTests {
    @Test("one delivery is one trace, from the gateway's span through the job to the stock commit; a poll's trace holds its Shopify calls")
    func deliveryTrace() async throws {
        let tracer = TestTracing.tracer
        try await self.withDoctor { client, postgres, redis, harness, fixture in
            let business = fixture.businessId
            let mapped = try await postgres.query(
                "SELECT variant_id, shopify_variant_id FROM ecommerce_product_mapping WHERE business_id = \(business) ORDER BY variant_id LIMIT 1",
                logger: TestServices.logger
            ).decode((UUID, Int64).self).reduce(into: [(UUID, Int64)]()) { $0.append($1) }
            let (variant, shopifyVariant) = try #require(mapped.first)
            let placed = try #require(harness.simulator.placeOrder(shop: fixture.shop, lines: [.init(variantId: shopifyVariant, quantity: 2)]))
            let order = try JSONDecoder().decode(ShopifyOrder.self, from: placed)
            let body = String(decoding: placed, as: UTF8.self)
            #expect(try await Self.post(client, body: body, headers: Self.headers(body: body, topic: "orders/create", shop: fixture.shop)).0 == .ok)

            // The gateway's span ended with its answer; the job it enqueued carries its context.
            let raw = try await Self.queuedJob(redis, EcommerceQueue.orders)
            let header = try JobHeader(json: raw)
            let carried = try #require(header.traceContext, "the envelope carries the delivery's trace")
            let traceID = try #require(carried[InMemoryTracer.traceIDKey])
            let webhook = try #require(TestTracing.spans(ofTrace: traceID).first { $0.operationName == "webhook orders/create" })
            #expect(webhook.kind == .server && webhook.spanContext.parentSpanID == nil, "the delivery starts its trace")
            #expect(carried[InMemoryTracer.spanIDKey] == webhook.spanContext.spanID, "the job's parent is the delivery's span")
            #expect(webhook[attribute: "shopify.shop"] == .string(fixture.shop))
            #expect(webhook[attribute: "shopify.order_id"] == .int64(order.id))
            #expect(webhook[attribute: "webhook.answer"] == .string("accepted"))
            #expect(webhook[attribute: "http.response.status_code"] == .int64(200))

            try await TestServices.whileRunning(self.orderWorkers(postgres: postgres, redis: redis, harness: harness)) {
                let committed = try await TestServices.eventually(timeout: .seconds(30)) {
                    try await BusinessFixture.stock(of: variant, on: postgres) == 5
                        && TestTracing.spans(ofTrace: traceID).contains { $0.operationName == "job orders.ingest" }
                }
                #expect(committed, "the order ingested, its job's span finished")
                let spans = TestTracing.spans(ofTrace: traceID)
                let job = try #require(spans.first { $0.operationName == "job orders.ingest" })
                let statement = try #require(spans.first { $0.operationName == "postgresql ingest order" }, "\(spans.map(\.operationName))")
                #expect(job.kind == .consumer && job.spanContext.parentSpanID == webhook.spanContext.spanID, "the job continues the delivery")
                #expect(statement.kind == .client && statement.spanContext.parentSpanID == job.spanContext.spanID, "the commit is the job's")
                #expect(job[attribute: "job.kind"] == .string("orders.ingest"))
                #expect(job[attribute: "job.attempt"] == .int64(0))
                #expect(job[attribute: "shopify.shop"] == .string(fixture.shop))
                #expect(statement[attribute: "flowpos.ingest.outcome"] == .string("applied"))
                #expect(statement[attribute: "shopify.order_id"] == .int64(order.id))
                #expect(statement.endInstant.nanosecondsSinceEpoch <= job.endInstant.nanosecondsSinceEpoch)
                #expect(webhook.endInstant.nanosecondsSinceEpoch <= job.startInstant.nanosecondsSinceEpoch, "answered before the job ran")

                // A poll has no delivery: its job starts a trace, and its Shopify calls are in it.
                let poll = OrderPollJob.envelope(
                    .init(slot: nil),
                    businessId: business,
                    shop: fixture.shop,
                    dedupeKey: OrderPollJob.requestKey(businessId: business)
                )
                try await RedisJobQueue(redis: redis).enqueue(OrderPollJob.self, poll)
                let polled = await TestServices.eventually(timeout: .seconds(30)) {
                    tracer.finishedSpans.contains { $0.operationName == "job orders.poll" && $0[attribute: "job.id"] == .string(poll.id) }
                }
                #expect(polled)
                let pollSpan = try #require(
                    tracer.finishedSpans.first { $0.operationName == "job orders.poll" && $0[attribute: "job.id"] == .string(poll.id) }
                )
                #expect(pollSpan.spanContext.parentSpanID == nil && pollSpan.spanContext.traceID != traceID, "a trace of its own")
                let calls = TestTracing.spans(ofTrace: pollSpan.spanContext.traceID).filter { $0.operationName.hasPrefix("shopify graphql ") }
                #expect(!calls.isEmpty, "the poll's Shopify calls in its trace")
                #expect(calls.allSatisfy { $0.kind == .client && $0[attribute: "shopify.shop"] == .string(fixture.shop) })
                #expect(calls.contains { $0[attribute: "shopify.cost.charged"] != nil }, "with the cost Shopify charged")
            }
        }
    }
}
