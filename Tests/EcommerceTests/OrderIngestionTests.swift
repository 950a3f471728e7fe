import EcommerceJobs
import Foundation
import JobQueue
import PostgresNIO
import RedisClient
import Shopify
import Testing
import WorkerApp

@testable import Storage

@Suite("Order ingestion against PostgreSQL")
struct OrderIngestionTests {
    let logger = TestServices.logger

    @Test("10 concurrent deliveries of one order decrement stock once")
    func concurrentDeliveriesDecrementOnce() async throws {
        try await TestServices.withPostgres { client in
            let business = try await BusinessFixture.create(on: client, stock: [("A", 10, 1001), ("B", 10, 1002), ("C", 10, nil)])
            let order = OrderFactory.order(lines: [
                OrderFactory.line(1, variant: business.variants[0], quantity: 2),
                OrderFactory.line(2, variant: business.variants[1], quantity: 1),
                OrderFactory.line(3, variant: business.variants[2], quantity: 3),  // found by SKU
            ])
            let ingestor = OrderIngestor(client: client)
            let outcomes = try await withThrowingTaskGroup(of: OrderIngestionResult.Outcome.self) { group in
                for _ in 0..<10 {
                    group.addTask {
                        try await ingestor.ingest(businessId: business.id, order: order, source: "webhook", reference: nil, logger: self.logger)
                            .outcome
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == .applied }.count == 1)
            #expect(outcomes.filter { $0 == .unchanged }.count == 9)
            #expect(try await BusinessFixture.stock(of: business.variants[0].id, on: client) == 8)
            #expect(try await BusinessFixture.stock(of: business.variants[1].id, on: client) == 9)
            #expect(try await BusinessFixture.stock(of: business.variants[2].id, on: client) == 7)
            #expect(try await BusinessFixture.movements(of: business.variants[0].id, on: client) == [-2])
        }
    }

    @Test("what was applied per line stays applied when FlowPOS deletes and re-creates the variant: only an edit changes stock")
    func deletedVariantKeepsAppliedQuantity() async throws {
        try await TestServices.withPostgres { client in
            let business = try await BusinessFixture.create(on: client, stock: [("A", 10, nil)])
            let old = business.variants[0]
            let created = OrderFactory.order(updatedAt: "2026-11-27T10:00:00Z", lines: [OrderFactory.line(1, variant: old, quantity: 3)])
            let ingestor = OrderIngestor(client: client)
            _ = try await ingestor.ingest(businessId: business.id, order: created, source: "webhook", reference: nil, logger: self.logger)
            #expect(try await BusinessFixture.stock(of: old.id, on: client) == 7)

            // FlowPOS deletes the variant and creates it again with the same SKU and the stock it counted.
            let productId = try #require(
                try await client.query("SELECT product_id FROM variants WHERE id = \(old.id)", logger: self.logger).decode(UUID.self).first { _ in
                    true
                }
            )
            try await client.query("DELETE FROM variants WHERE id = \(old.id)", logger: self.logger)
            let renewed = UUID()
            try await client.query(
                "INSERT INTO variants (id, product_id, business_id, sku) VALUES (\(renewed), \(productId), \(business.id), \(old.sku))",
                logger: self.logger
            )
            try await client.query(
                "INSERT INTO stock_levels (variant_id, business_id, quantity) VALUES (\(renewed), \(business.id), 7)",
                logger: self.logger
            )

            // The same state again (a poll's overlap, a late retry): nothing is applied twice.
            let again = try await ingestor.ingest(businessId: business.id, order: created, source: "poll", reference: nil, logger: self.logger)
            #expect(again.outcome == .unchanged && again.stockDeltas.isEmpty)
            #expect(try await BusinessFixture.stock(of: renewed, on: client) == 7)
            // An edit down to 1: the 2 units come back, to the variant the SKU now names.
            var edited = created
            edited.updatedAt = "2026-11-27T10:05:00Z"
            edited.lineItems[0].currentQuantity = 1
            let edit = try await ingestor.ingest(businessId: business.id, order: edited, source: "webhook", reference: nil, logger: self.logger)
            #expect(edit.stockDeltas == [renewed: 2])
            #expect(try await BusinessFixture.stock(of: renewed, on: client) == 9)
            #expect(try await BusinessFixture.movements(of: renewed, on: client) == [2])
        }
    }

    @Test("concurrent deliveries of different states of one order settle on the newest, whatever their order")
    func concurrentStatesSettleOnNewest() async throws {
        try await TestServices.withPostgres { client in
            let business = try await BusinessFixture.create(on: client, stock: [("A", 10, 1101), ("B", 10, 1102)])
            let (a, b) = (business.variants[0], business.variants[1])
            let created = OrderFactory.order(
                updatedAt: "2026-11-27T10:00:00Z",
                lines: [OrderFactory.line(1, variant: a, quantity: 5), OrderFactory.line(2, variant: b, quantity: 1)]
            )
            var edited = created
            edited.updatedAt = "2026-11-27T10:05:00Z"
            edited.lineItems[0].currentQuantity = 2
            var cancelled = edited
            cancelled.updatedAt = "2026-11-27T10:09:00Z"
            cancelled.cancelledAt = "2026-11-27T10:09:00Z"
            // Several deliveries of each state, shuffled: each write races the others' compare-and-set.
            let deliveries = (Array(repeating: created, count: 3) + Array(repeating: edited, count: 3) + [edited]).shuffled()
            let ingestor = OrderIngestor(client: client)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for order in deliveries {
                    group.addTask {
                        _ = try await ingestor.ingest(businessId: business.id, order: order, source: "webhook", reference: nil, logger: self.logger)
                    }
                }
                try await group.waitForAll()
            }
            // The newest state (the edit) holds 2 of A and 1 of B, and the movements add up to exactly that.
            #expect(try await BusinessFixture.stock(of: a.id, on: client) == 8)
            #expect(try await BusinessFixture.stock(of: b.id, on: client) == 9)
            #expect(try await BusinessFixture.movements(of: a.id, on: client).reduce(0, +) == -2)

            try await withThrowingTaskGroup(of: Void.self) { group in
                for order in [cancelled, edited, cancelled, created, cancelled].shuffled() {
                    group.addTask {
                        _ = try await ingestor.ingest(businessId: business.id, order: order, source: "webhook", reference: nil, logger: self.logger)
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await BusinessFixture.stock(of: a.id, on: client) == 10)
            #expect(try await BusinessFixture.stock(of: b.id, on: client) == 10)
            #expect(try await BusinessFixture.movements(of: b.id, on: client) == [-1, 1])
        }
    }

    @Test("an edit lowering a line's quantity restocks the difference")
    func editRestocksDifference() async throws {
        try await TestServices.withPostgres { client in
            let business = try await BusinessFixture.create(on: client, stock: [("A", 10, 2001)])
            let variant = business.variants[0]
            let ingestor = OrderIngestor(client: client)
            let created = OrderFactory.order(updatedAt: "2026-11-27T10:00:00Z", lines: [OrderFactory.line(1, variant: variant, quantity: 5)])
            _ = try await ingestor.ingest(businessId: business.id, order: created, source: "webhook", reference: nil, logger: self.logger)
            #expect(try await BusinessFixture.stock(of: variant.id, on: client) == 5)

            var edited = created
            edited.updatedAt = "2026-11-27T10:05:00Z"
            edited.lineItems[0].currentQuantity = 2
            let result = try await ingestor.ingest(businessId: business.id, order: edited, source: "webhook", reference: nil, logger: self.logger)
            #expect(result.outcome == .applied)
            #expect(result.stockDeltas == [variant.id: 3])
            #expect(try await BusinessFixture.stock(of: variant.id, on: client) == 8)
            #expect(try await BusinessFixture.movements(of: variant.id, on: client) == [-5, 3])
        }
    }

    @Test("a cancellation restocks, and its duplicate changes nothing")
    func cancellationRestocks() async throws {
        try await TestServices.withPostgres { client in
            let business = try await BusinessFixture.create(on: client, stock: [("A", 10, 3001), ("B", 4, 3002)])
            let ingestor = OrderIngestor(client: client)
            let created = OrderFactory.order(
                updatedAt: "2026-11-27T10:00:00Z",
                lines: [
                    OrderFactory.line(1, variant: business.variants[0], quantity: 3),
                    OrderFactory.line(2, variant: business.variants[1], quantity: 1),
                ]
            )
            _ = try await ingestor.ingest(businessId: business.id, order: created, source: "webhook", reference: nil, logger: self.logger)
            var cancelled = created
            cancelled.updatedAt = "2026-11-27T11:00:00Z"
            cancelled.cancelledAt = "2026-11-27T11:00:00Z"
            for _ in 0..<2 {
                _ = try await ingestor.ingest(businessId: business.id, order: cancelled, source: "poll", reference: nil, logger: self.logger)
            }
            #expect(try await BusinessFixture.stock(of: business.variants[0].id, on: client) == 10)
            #expect(try await BusinessFixture.stock(of: business.variants[1].id, on: client) == 4)
            #expect(try await BusinessFixture.movements(of: business.variants[0].id, on: client) == [-3, 3])
        }
    }

    @Test("an old event after a newer one changes nothing")
    func staleEventIgnored() async throws {
        try await TestServices.withPostgres { client in
            let business = try await BusinessFixture.create(on: client, stock: [("A", 10, 4001)])
            let variant = business.variants[0]
            let ingestor = OrderIngestor(client: client)
            let created = OrderFactory.order(updatedAt: "2026-11-27T10:00:00Z", lines: [OrderFactory.line(1, variant: variant, quantity: 4)])
            var edited = created
            edited.updatedAt = "2026-11-27T10:30:00Z"
            edited.lineItems[0].currentQuantity = 1
            // The edit arrives first, the creation a day late.
            _ = try await ingestor.ingest(businessId: business.id, order: edited, source: "webhook", reference: nil, logger: self.logger)
            let late = try await ingestor.ingest(businessId: business.id, order: created, source: "webhook", reference: nil, logger: self.logger)
            #expect(late.outcome == .stale)
            #expect(try await BusinessFixture.stock(of: variant.id, on: client) == 9)
        }
    }

    @Test("an order naming a line item twice is refused as invalid: through the handler a dead letter at once, and nothing changes")
    func repeatedLineItemRefused() async throws {
        let redis = TestServices.redis(.orderHandlers)
        defer { redis.shutdown() }
        _ = try await redis.send(["FLUSHDB"])
        try await TestServices.withPostgres { client in
            let business = try await BusinessFixture.create(on: client, stock: [("A", 10, 5101), ("B", 10, 5102)])
            let order = OrderFactory.order(lines: [
                OrderFactory.line(1, variant: business.variants[0], quantity: 2),
                OrderFactory.line(1, variant: business.variants[1], quantity: 1),
            ])
            let error = await #expect(throws: OrderIngestionError.self) {
                try await OrderIngestor(client: client).ingest(
                    businessId: business.id,
                    order: order,
                    source: "webhook",
                    reference: nil,
                    logger: self.logger
                )
            }
            #expect(error?.description == "invalid order: line item 1 appears more than once")

            // Through the handler, as a worker runs it: one attempt of ten, then a dead letter with the reason.
            let queue = RedisJobQueue(redis: redis)
            let job = OrderIngestJob.envelope(
                .init(source: .webhook, topic: "orders/create", webhookId: "repeated-line", order: order),
                businessId: business.id
            )
            try await queue.enqueue(OrderIngestJob.self, job)
            try await SimulatorHarness.run { harness in
                let handlers = EcommerceHandlers(postgres: client, queue: queue, shopify: harness.client(redis: redis), tokenCipher: nil)
                let worker = JobWorker(
                    queue: queue,
                    registry: handlers.registry(),
                    configuration: JobWorkerConfiguration(queues: [EcommerceQueue.orders], concurrency: 1),
                    logger: self.logger
                )
                let buried = try await runWorkers([worker], timeout: .seconds(30)) {
                    try await queue.stats(queue: EcommerceQueue.orders).dead == 1
                }
                #expect(buried)
            }
            let stats = try await queue.stats(queue: EcommerceQueue.orders)
            #expect(stats.ready == 0 && stats.delayed == 0 && stats.inflight == 0, "retried instead of refused: \(stats)")
            let letter = try #require(try await queue.deadLetter(queue: EcommerceQueue.orders, id: job.id))
            #expect(letter.attempt == 1, "a permanent refusal spends one attempt, not \(letter.attempt)")
            #expect(letter.error.contains("invalid_order") && letter.error.contains("line item 1 appears more than once"), "\(letter.error)")
            #expect(try await BusinessFixture.stock(of: business.variants[0].id, on: client) == 10)
            #expect(try await BusinessFixture.stock(of: business.variants[1].id, on: client) == 10)
        }
    }

    @Test("unmapped lines are recorded in the sync log, mapped lines still apply")
    func unmappedLinesRecorded() async throws {
        try await TestServices.withPostgres { client in
            let business = try await BusinessFixture.create(on: client, stock: [("A", 10, 5001)])
            let ingestor = OrderIngestor(client: client)
            let order = OrderFactory.order(lines: [
                OrderFactory.line(1, variant: business.variants[0], quantity: 1),
                ShopifyOrder.LineItem(id: 2, variantId: 987_654, sku: "NOT-IN-FLOWPOS", quantity: 2, currentQuantity: 2),
                ShopifyOrder.LineItem(id: 3, variantId: nil, sku: nil, quantity: 1, currentQuantity: 1),
            ])
            let result = try await ingestor.ingest(
                businessId: business.id,
                order: order,
                source: "webhook",
                reference: "webhook:abc",
                logger: self.logger
            )
            #expect(result.unmappedLineIds == [2, 3])
            #expect(try await BusinessFixture.stock(of: business.variants[0].id, on: client) == 9)
            let rows = try await client.query(
                "SELECT status, processed, failed, errors::text FROM ecommerce_sync_log WHERE id = \(result.syncLogId)"
            )
            var found = false
            for try await (status, processed, failed, errors) in rows.decode((String, Int, Int, String).self) {
                found = true
                #expect(status == "partial")
                #expect(processed == 1)
                #expect(failed == 2)
                #expect(errors.contains("NOT-IN-FLOWPOS"))
                #expect(errors.contains("unmapped_variant"))
            }
            #expect(found)
        }
    }

    @Test("a refund without restock keeps the units out of stock; with return it restocks")
    func refunds() async throws {
        try await TestServices.withPostgres { client in
            let business = try await BusinessFixture.create(on: client, stock: [("A", 10, 6001)])
            let variant = business.variants[0]
            let ingestor = OrderIngestor(client: client)
            let created = OrderFactory.order(updatedAt: "2026-11-27T10:00:00Z", lines: [OrderFactory.line(1, variant: variant, quantity: 4)])
            _ = try await ingestor.ingest(businessId: business.id, order: created, source: "webhook", reference: nil, logger: self.logger)
            var damaged = created
            damaged.updatedAt = "2026-11-27T11:00:00Z"
            damaged.lineItems[0].currentQuantity = 3
            damaged.refunds = [.init(id: 1, refundLineItems: [.init(lineItemId: 1, quantity: 1, restockType: "no_restock")])]
            _ = try await ingestor.ingest(businessId: business.id, order: damaged, source: "webhook", reference: nil, logger: self.logger)
            #expect(try await BusinessFixture.stock(of: variant.id, on: client) == 6)
            var returned = damaged
            returned.updatedAt = "2026-11-27T12:00:00Z"
            returned.lineItems[0].currentQuantity = 1
            returned.refunds?.append(.init(id: 2, refundLineItems: [.init(lineItemId: 1, quantity: 2, restockType: "return")]))
            _ = try await ingestor.ingest(businessId: business.id, order: returned, source: "poll", reference: nil, logger: self.logger)
            #expect(try await BusinessFixture.stock(of: variant.id, on: client) == 8)
        }
    }

    @Test("an order of one business never touches another's stock")
    func tenantsIsolated() async throws {
        try await TestServices.withPostgres { client in
            let first = try await BusinessFixture.create(on: client, stock: [("A", 10, 7001)])
            let second = try await BusinessFixture.create(on: client, stock: [("A", 10, 7001)])
            let order = OrderFactory.order(lines: [OrderFactory.line(1, variant: first.variants[0], quantity: 2)])
            _ = try await OrderIngestor(client: client).ingest(
                businessId: second.id,
                order: order,
                source: "webhook",
                reference: nil,
                logger: self.logger
            )
            #expect(try await BusinessFixture.stock(of: first.variants[0].id, on: client) == 10)
            #expect(try await BusinessFixture.stock(of: second.variants[0].id, on: client) == 8)
        }
    }

    @Test("migrations raced by five replicas on a fresh database apply once")
    func concurrentMigrations() async throws {
        let configuration = try await TestServices.createScratchDatabase("migrations")
        let replicas = (0..<5).map { _ in PostgresClient(configuration: configuration, backgroundLogger: self.logger) }
        let results = try await withThrowingTaskGroup(of: Void.self) { runners in
            for replica in replicas { runners.addTask { await replica.run() } }
            defer { runners.cancelAll() }
            return try await withThrowingTaskGroup(of: [Int].self) { group in
                for replica in replicas { group.addTask { try await Migrator(client: replica).migrate(logger: self.logger) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        #expect(results.filter { $0 == Migrations.all.map(\.version) }.count == 1)
        #expect(results.filter(\.isEmpty).count == 4)
        try await TestServices.dropScratchDatabase(configuration)
    }
}

@Suite("Order ingestion in batches")
struct IngestBatchTests {
    let logger = TestServices.logger

    func batching(_ maxOrders: Int, linger: Duration = .milliseconds(20)) -> IngestBatching {
        IngestBatching(maxOrders: maxOrders, linger: linger, concurrentBatches: 2)
    }

    /// Ingests `orders` from concurrent callers; each result or error in the orders' order.
    func ingestConcurrently(
        _ orders: [ShopifyOrder],
        business: BusinessFixture,
        ingestor: OrderIngestor,
        reference: String? = nil
    ) async -> [Result<OrderIngestionResult, any Error>] {
        await withTaskGroup(of: (Int, Result<OrderIngestionResult, any Error>).self) { group in
            for (index, order) in orders.enumerated() {
                group.addTask {
                    do {
                        return (
                            index,
                            .success(
                                try await ingestor.ingest(
                                    businessId: business.id,
                                    order: order,
                                    source: "webhook",
                                    reference: reference,
                                    logger: self.logger
                                )
                            )
                        )
                    } catch {
                        return (index, .failure(error))
                    }
                }
            }
            var results = [Result<OrderIngestionResult, any Error>?](repeating: nil, count: orders.count)
            for await (index, result) in group { results[index] = result }
            return results.map { $0! }
        }
    }

    @Test("120 orders from concurrent jobs commit in batches, fewer transactions than orders, each order applied once")
    func batchesCommitTogether() async throws {
        try await TestServices.withPostgres { client in
            let business = try await BusinessFixture.create(on: client, stock: [("A", 1000, 1101), ("B", 1000, nil)])
            let ingestor = OrderIngestor(client: client, batching: self.batching(16))
            let orders = (0..<120).map { _ in
                OrderFactory.order(lines: [
                    OrderFactory.line(1, variant: business.variants[0], quantity: 1),
                    OrderFactory.line(2, variant: business.variants[1], quantity: 2),
                ])
            }
            let results = await self.ingestConcurrently(orders, business: business, ingestor: ingestor)
            #expect(results.allSatisfy { (try? $0.get().outcome) == .applied })
            #expect(try await BusinessFixture.stock(of: business.variants[0].id, on: client) == 1000 - 120)
            #expect(try await BusinessFixture.stock(of: business.variants[1].id, on: client) == 1000 - 240)
            let committed = try #require(ingestor.batcher?.committed)
            #expect(committed.orders == 120 && committed.batches < 120 / 2, "\(committed)")
        }
    }

    @Test("a poison order inside a batch fails alone: the others of its batch commit")
    func poisonOrderFailsAlone() async throws {
        try await TestServices.withPostgres { client in
            let business = try await BusinessFixture.create(on: client, stock: [("A", 100, 1201)])
            let ingestor = OrderIngestor(client: client, batching: self.batching(8, linger: .seconds(5)))  // the eighth fills it
            var orders = (0..<7).map { _ in OrderFactory.order(lines: [OrderFactory.line(1, variant: business.variants[0], quantity: 1)]) }
            // A quantity PostgreSQL's int cannot hold: its statement fails inside the batch.
            orders.insert(OrderFactory.order(lines: [OrderFactory.line(1, variant: business.variants[0], quantity: 3_000_000_000)]), at: 3)
            let results = await self.ingestConcurrently(orders, business: business, ingestor: ingestor)
            #expect(results.enumerated().allSatisfy { index, result in (try? result.get()) == nil ? index == 3 : true })
            #expect(try await BusinessFixture.stock(of: business.variants[0].id, on: client) == 93)
            #expect(
                try #require(ingestor.batcher?.committed) == .init(batches: 7, orders: 7, asOne: 0, failedStatements: 1),
                "the batch's statement failed, so each order ran alone: seven committed, the poison one not"
            )
            // Retried alone, it fails alone again; nothing else changes.
            await #expect(throws: (any Error).self) {
                try await ingestor.ingest(
                    businessId: business.id,
                    order: orders[3],
                    source: "webhook",
                    reference: nil,
                    alone: true,
                    logger: self.logger
                )
            }
            #expect(try await BusinessFixture.stock(of: business.variants[0].id, on: client) == 93)
        }
    }

    @Test("ten concurrent deliveries of one order spread over batches of three decrement stock once")
    func concurrentDeliveriesAcrossBatches() async throws {
        try await TestServices.withPostgres { client in
            let business = try await BusinessFixture.create(on: client, stock: [("A", 50, 1301), ("B", 50, 1302)])
            let ingestor = OrderIngestor(client: client, batching: IngestBatching(maxOrders: 3, linger: .milliseconds(5), concurrentBatches: 4))
            let order = OrderFactory.order(lines: [
                OrderFactory.line(1, variant: business.variants[0], quantity: 2), OrderFactory.line(2, variant: business.variants[1], quantity: 1),
            ])
            let others = (0..<8).map { _ in OrderFactory.order(lines: [OrderFactory.line(1, variant: business.variants[1], quantity: 1)]) }
            let results = await self.ingestConcurrently(Array(repeating: order, count: 10) + others, business: business, ingestor: ingestor)
            let outcomes = results.prefix(10).compactMap { try? $0.get().outcome }
            #expect(outcomes.count == 10 && outcomes.filter { $0 == .applied }.count == 1, "\(outcomes)")
            #expect(results.suffix(8).allSatisfy { (try? $0.get().outcome) == .applied })
            #expect(try await BusinessFixture.stock(of: business.variants[0].id, on: client) == 48)
            #expect(try await BusinessFixture.stock(of: business.variants[1].id, on: client) == 50 - 1 - 8)
            #expect(try await BusinessFixture.movements(of: business.variants[0].id, on: client) == [-2])
            #expect(try #require(ingestor.batcher?.committed).batches >= 4, "18 deliveries in batches of three at most")
        }
    }

    @Test(
        "a batch as one statement writes what one statement per order writes: new orders, later states, cancellations, duplicates, stale states, unmapped lines",
        arguments: [DatabasePooling.session, .transaction]
    )
    func oneStatementWritesWhatEachOrderWrites(pooling: DatabasePooling) async throws {
        try await TestServices.withPostgres { client in
            let stock: [(sku: String, quantity: Int, shopifyVariantId: Int64?)] = [("A", 500, 1401), ("B", 500, nil), ("C", 500, 1403)]
            let alone = try await BusinessFixture.create(on: client, stock: stock)
            let batched = try await BusinessFixture.create(on: client, stock: stock)
            let ids = (0..<9).map { _ in OrderFactory.nextId() }.sorted()
            let (t1, t2, t0) = ("2026-11-27T10:00:00Z", "2026-11-27T11:00:00Z", "2026-11-27T09:00:00Z")
            // Each round's events in the order a batch runs them (by order id); the same script for both businesses.
            func rounds(_ business: BusinessFixture) -> [[ShopifyOrder]] {
                let (a, b, c) = (business.variants[0], business.variants[1], business.variants[2])
                let unknown = BusinessFixture.Variant(id: UUID(), sku: "NO-SUCH-SKU", shopifyVariantId: 999_999)
                func line(_ id: Int64, _ variant: BusinessFixture.Variant, _ quantity: Int, current: Int? = nil) -> ShopifyOrder.LineItem {
                    OrderFactory.line(id, variant: variant, quantity: quantity, current: current)
                }
                return [
                    [
                        OrderFactory.order(id: ids[0], updatedAt: t1, lines: [line(1, a, 2), line(2, b, 1)]),
                        OrderFactory.order(id: ids[1], updatedAt: t1, lines: [line(1, b, 1)]),
                        OrderFactory.order(id: ids[2], updatedAt: t1, lines: [line(1, unknown, 1), line(2, a, 1)]),
                        OrderFactory.order(id: ids[3], updatedAt: t1, lines: [line(1, a, 3), line(2, a, 1)]),
                        OrderFactory.order(id: ids[4], updatedAt: t1, lines: [line(1, c, 2)]),
                        OrderFactory.order(id: ids[5], updatedAt: t1, lines: [line(1, b, 1), line(2, c, 1)]),
                    ],
                    [
                        OrderFactory.order(id: ids[0], updatedAt: t2, lines: [line(1, a, 2, current: 1), line(2, b, 1)]),
                        OrderFactory.order(id: ids[0], updatedAt: t2, lines: [line(1, a, 2, current: 1), line(2, b, 1)]),
                        OrderFactory.order(id: ids[1], updatedAt: t2, cancelledAt: t2, lines: [line(1, b, 1, current: 0)]),
                        OrderFactory.order(id: ids[2], updatedAt: t1, lines: [line(1, unknown, 1), line(2, a, 1)]),
                        OrderFactory.order(id: ids[3], updatedAt: t0, lines: [line(1, a, 9), line(2, a, 9)]),
                        OrderFactory.order(id: ids[4], updatedAt: t2, lines: [line(1, c, 3), line(3, b, 2)]),
                        OrderFactory.order(id: ids[6], updatedAt: t2, lines: [line(1, a, 1), line(2, b, 1), line(3, c, 1)]),
                    ],
                    [
                        OrderFactory.order(id: ids[1], updatedAt: t2, cancelledAt: t2, lines: [line(1, b, 1, current: 0)]),
                        OrderFactory.order(id: ids[7], updatedAt: t1, lines: [line(1, c, 4)]),
                        OrderFactory.order(id: ids[8], updatedAt: t1, lines: [line(1, a, 1)]),
                    ],
                ]
            }
            let one = OrderIngestor(client: client, pooling: pooling)
            let together = OrderIngestor(
                client: client,
                pooling: pooling,
                batching: IngestBatching(maxOrders: 16, linger: .milliseconds(300), concurrentBatches: 1)
            )
            var outcomes: [[String]] = [[], []]
            for (aloneRound, batchedRound) in zip(rounds(alone), rounds(batched)) {
                for order in aloneRound {
                    let result = try await one.ingest(businessId: alone.id, order: order, source: "webhook", reference: "w", logger: self.logger)
                    outcomes[0].append(Self.describe(result, order: order, business: alone))
                }
                let results = await self.ingestConcurrently(batchedRound, business: batched, ingestor: together, reference: "w")
                for (order, result) in zip(batchedRound, results) {
                    outcomes[1].append(Self.describe(try result.get(), order: order, business: batched))
                }
            }
            #expect(outcomes[0].sorted() == outcomes[1].sorted())
            #expect(outcomes[0].contains { $0.contains("stale") } && outcomes[0].contains { $0.contains("unchanged") })
            let committed = try #require(together.batcher?.committed)
            #expect(
                committed.asOne == 3 && committed.batches == 4,
                "each round one statement, and the second event of an order in round two alone after it: \(committed)"
            )
            let (aloneRows, batchedRows) = (try await Self.rows(of: alone, on: client), try await Self.rows(of: batched, on: client))
            for (name, left) in aloneRows { #expect(left == batchedRows[name], "\(name)") }
            for business in [alone, batched] {
                #expect(
                    try await Self.brokenMovementChains(of: business, on: client) == 0,
                    "each movement's quantity after it follows the one before"
                )
            }
        }
    }

    @Test(
        "batching and unbatched ingestion at once over shared stock and repeated orders: every delivery succeeds, no batch statement fails, stock exact"
    )
    func noDeadlocks() async throws {
        try await TestServices.withPostgres { client in
            let business = try await BusinessFixture.create(
                on: client,
                stock: [("A", 10_000, 1501), ("B", 10_000, 1502), ("C", 10_000, nil), ("D", 10_000, 1504)]
            )
            let batching = OrderIngestor(client: client, batching: IngestBatching(maxOrders: 8, linger: .milliseconds(2), concurrentBatches: 4))
            let single = OrderIngestor(client: client)
            // 300 orders of two or three lines over four variants, each delivered three to five times, in a shuffled
            // order, half of the deliveries to the batching ingestor and half to the other.
            var orders: [ShopifyOrder] = []
            var expected = [0, 0, 0, 0]
            for _ in 0..<300 {
                let picked = Array((0..<4).shuffled().prefix(Int.random(in: 2...3)))
                let quantities = picked.map { _ in Int.random(in: 1...3) }
                for (variant, quantity) in zip(picked, quantities) { expected[variant] += quantity }
                let order = OrderFactory.order(
                    lines: zip(picked, quantities).enumerated().map { index, pair in
                        OrderFactory.line(Int64(index + 1), variant: business.variants[pair.0], quantity: pair.1)
                    }
                )
                orders += Array(repeating: order, count: Int.random(in: 3...5))
            }
            orders.shuffle()
            let halves = [Array(orders.prefix(orders.count / 2)), Array(orders.suffix(orders.count - orders.count / 2))]
            async let batched = self.ingestConcurrently(halves[0], business: business, ingestor: batching)
            async let alone = self.ingestConcurrently(halves[1], business: business, ingestor: single)
            let results = await batched + alone
            #expect(results.allSatisfy { (try? $0.get()) != nil }, "\(results.compactMap { try? $0.get() == nil ? nil : $0 }.prefix(3))")
            let committed = try #require(batching.batcher?.committed)
            #expect(committed.failedStatements == 0 && committed.asOne > 0, "no batch statement failed (a deadlock would fail one): \(committed)")
            for (variant, taken) in zip(business.variants, expected) {
                #expect(try await BusinessFixture.stock(of: variant.id, on: client) == 10_000 - taken)
            }
        }
    }

    /// A result, with variants as the fixture's letters (the two businesses have their own ids).
    static func describe(_ result: OrderIngestionResult, order: ShopifyOrder, business: BusinessFixture) -> String {
        let deltas = result.stockDeltas.map { variant, delta in "\(business.variants.firstIndex { $0.id == variant } ?? -1):\(delta)" }.sorted()
        return "\(order.id) \(result.outcome) first=\(result.firstSeen) \(deltas) unmapped=\(result.unmappedLineIds)"
    }

    /// What ingestion wrote for a business, with its ids replaced by what the two businesses share, each table
    /// sorted: stock, movements, applied lines, orders, sync log rows.
    static func rows(of business: BusinessFixture, on client: PostgresClient) async throws -> [String: [String]] {
        let id = business.id
        let suffix = "-" + String(business.id.uuidString.prefix(8))
        let queries: [String: PostgresQuery] = [
            "stock": "SELECT v.sku || ' ' || s.quantity FROM stock_levels s JOIN variants v ON v.id = s.variant_id WHERE s.business_id = \(id)",
            "movements": """
            SELECT v.sku || ' ' || m.delta || ' ' || m.reason || ' ' || m.reference
            FROM stock_movements m JOIN variants v ON v.id = m.variant_id WHERE m.business_id = \(id)
            """,
            "lines": """
            SELECT a.shopify_order_id || ' ' || a.shopify_line_item_id || ' ' || COALESCE(v.sku, '-') || ' ' || COALESCE(a.sku, '-') || ' '
                   || a.applied_quantity
            FROM ecommerce_order_line a LEFT JOIN variants v ON v.id = a.variant_id WHERE a.business_id = \(id)
            """,
            "orders": """
            SELECT shopify_order_id || ' ' || version || ' ' || cancelled || ' ' || shopify_updated_at || ' ' || COALESCE(order_name, '-')
                   || ' ' || source
            FROM ecommerce_ingested_order WHERE business_id = \(id)
            """,
            "sync log": """
            SELECT status || ' ' || processed || ' ' || failed || ' ' || total || ' ' || errors::text || ' ' || details::text || ' '
                   || COALESCE(reference, '-')
            FROM ecommerce_sync_log WHERE business_id = \(id) AND kind = 'order_ingest'
            """,
        ]
        var rows: [String: [String]] = [:]
        for (name, query) in queries {
            var texts: [String] = []
            for try await text in try await client.query(query, logger: TestServices.logger).decode(String.self) {
                texts.append(text.replacingOccurrences(of: suffix, with: ""))
            }
            rows[name] = texts.sorted()
        }
        return rows
    }

    /// Movements whose `quantity_after` is not the one before it plus its delta (per variant, in the order written).
    static func brokenMovementChains(of business: BusinessFixture, on client: PostgresClient) async throws -> Int {
        let query: PostgresQuery = """
            SELECT count(*)::int FROM (
                SELECT quantity_after, delta, lag(quantity_after) OVER (PARTITION BY variant_id ORDER BY id) AS before
                FROM stock_movements WHERE business_id = \(business.id)) t
            WHERE before IS NOT NULL AND quantity_after <> before + delta
            """
        for try await count in try await client.query(query, logger: TestServices.logger).decode(Int.self) { return count }
        return -1
    }
}
