import Foundation
import Logging
import PostgresNIO
import Synchronization

/// How order ingestion shares transactions: `INGEST_BATCH_SIZE` orders at most to a transaction (1: one each, no
/// batching), a batch waiting at most `INGEST_BATCH_LINGER_MS` for company, `INGEST_BATCH_CONCURRENCY` batches in
/// flight per process.
public struct IngestBatching: Sendable, Equatable {
    public var maxOrders: Int
    public var linger: Duration
    public var concurrentBatches: Int

    public init(maxOrders: Int, linger: Duration, concurrentBatches: Int) {
        self.maxOrders = max(1, maxOrders)
        self.linger = linger
        self.concurrentBatches = max(1, concurrentBatches)
    }

    /// One order, one statement, one commit.
    public static let off = IngestBatching(maxOrders: 1, linger: .zero, concurrentBatches: 1)

    var isOn: Bool { self.maxOrders > 1 }
}

/// Ingests the orders that concurrent jobs hand it several to a transaction: one commit for up to
/// ``IngestBatching/maxOrders`` orders, where ingestion's ceiling is otherwise the commit rate.
///
/// A batch's orders are one statement (``BatchIngestStatement``): PostgreSQL plans and runs one statement per batch
/// rather than one per order, which is where batching gains (one commit per batch alone gains little here: the
/// statement, not the commit, is most of an order's cost). An order that the statement does not settle (its row
/// changed since the snapshot, or a concurrent first delivery won its insert) and a second event of an order already
/// in the batch then run one statement each (``IngestStatement``), in the same transaction, after it.
///
/// Every guarantee of one order per transaction holds:
/// - **One order's failure fails only that order**: should the batch's statement fail, the batch runs again order by
///   order, and a statement that fails then rolls its batch back and the batch runs again without that order (no
///   savepoint per order: a failure is rare, a savepoint and its release are two more round trips for every order);
///   the others commit. Its job is retried, and a retry runs alone (`alone`).
/// - **Deliveries of one order still serialise**: each order is the same compare-and-set as alone (see
///   ``IngestStatement``), and a batch holds the order rows it wrote until it commits, so a delivery in another
///   batch waits for that commit and then sees it.
/// - **A crash applies each order once**: nothing of a batch is visible before its commit, and the jobs are acked
///   only after it; a batch cut short is rolled back whole and its jobs run again.
/// - **No deadlocks**: before its statements, a batch locks every stock row they can touch, in variant order; the
///   statements then lock their order rows in (business, order) order. Every batch, a batch of one included, takes
///   its locks in that order, so no two wait on each other. (A worker ingesting without batching locks an order row
///   before its stock rows: run every worker of a deployment with the same setting; PostgreSQL would detect the
///   deadlock of a mixed one, and the losing jobs are retried.)
final class OrderIngestBatcher: Sendable {
    let client: PostgresClient
    let settings: IngestBatching
    let pooling: DatabasePooling
    let maxRounds: Int

    private struct Waiting: Sendable {
        var event: OrderIngestor.Event
        var logger: Logger
        var continuation: CheckedContinuation<OrderIngestionResult, any Error>
    }

    private struct State {
        var waiting: [Waiting] = []
        var running = 0
        var lingering = false
        var committed = Committed()
    }

    /// Batches committed so far and the orders they held (tests and the benchmark read them), and how many of the
    /// batches ran as one statement (``BatchIngestStatement``).
    struct Committed: Sendable, Equatable {
        var batches = 0
        var orders = 0
        var asOne = 0
    }

    var committed: Committed { self.state.withLock { $0.committed } }

    /// What to do once the lock is released.
    private enum Next {
        case nothing
        case run([Waiting])
        case linger
    }

    private let state = Mutex(State())

    init(client: PostgresClient, settings: IngestBatching, pooling: DatabasePooling, maxRounds: Int) {
        self.client = client
        self.settings = settings
        self.pooling = pooling
        self.maxRounds = maxRounds
    }

    /// Ingests `event` in the next batch (or `alone`, in a transaction of its own, for a retry).
    func ingest(_ event: OrderIngestor.Event, logger: Logger, alone: Bool = false) async throws -> OrderIngestionResult {
        try await withCheckedThrowingContinuation { continuation in
            let waiting = Waiting(event: event, logger: logger, continuation: continuation)
            if alone {
                Task { await self.run([waiting]) }
                return
            }
            let next = self.state.withLock { state in
                state.waiting.append(waiting)
                return self.next(&state, force: false)
            }
            self.perform(next)
        }
    }

    /// A full batch goes at once (`force`: whatever waits goes: its linger is over, or it waited through a batch);
    /// otherwise the first order waiting starts the linger.
    private func next(_ state: inout State, force: Bool) -> Next {
        guard !state.waiting.isEmpty, state.running < self.settings.concurrentBatches else { return .nothing }
        if force || state.waiting.count >= self.settings.maxOrders {
            let batch = Array(state.waiting.prefix(self.settings.maxOrders))
            state.waiting.removeFirst(batch.count)
            state.running += 1
            return .run(batch)
        }
        if state.lingering { return .nothing }
        state.lingering = true
        return .linger
    }

    private func perform(_ next: Next) {
        switch next {
        case .nothing:
            return
        case .run(let batch):
            Task {
                await self.run(batch)
                let after = self.state.withLock { state in
                    state.running -= 1
                    return self.next(&state, force: true)
                }
                self.perform(after)
            }
        case .linger:
            Task {
                try? await Task.sleep(for: self.settings.linger)
                let after = self.state.withLock { state in
                    state.lingering = false
                    return self.next(&state, force: true)
                }
                self.perform(after)
            }
        }
    }

    /// One transaction: the batch's stock rows locked in variant order, then each order in (business, order) order;
    /// each waiting job is answered after the commit. An order whose statement fails is set aside with its error and
    /// the transaction, rolled back, runs again without it.
    private func run(_ batch: [Waiting]) async {
        var remaining = batch.sorted {
            ($0.event.businessId.uuidString, $0.event.order.orderId) < ($1.event.businessId.uuidString, $1.event.order.orderId)
        }
        let logger = remaining[0].logger
        var together = true
        while !remaining.isEmpty {
            do {
                let running = remaining
                let asOne = together && running.count > 1
                let results = try await self.client.withTransaction(logger: logger) { connection in
                    try await self.lockStock(of: running.map(\.event), on: connection, logger: logger)
                    if asOne { return try await self.applyTogether(running.map(\.event), on: connection, logger: logger) }
                    var results: [OrderIngestionResult] = []
                    for (index, waiting) in running.enumerated() {
                        do {
                            let (result, _) = try await OrderIngestor.applyUntilWon(
                                waiting.event,
                                pooling: self.pooling,
                                maxRounds: self.maxRounds,
                                logger: waiting.logger,
                                on: .connection(connection)
                            )
                            results.append(result)
                        } catch {
                            throw FailedOrder(index: index, error: error)
                        }
                    }
                    return results
                }
                self.state.withLock { state in
                    state.committed.batches += 1
                    state.committed.orders += running.count
                    if asOne { state.committed.asOne += 1 }
                }
                for (waiting, result) in zip(running, results) { waiting.continuation.resume(returning: result) }
                return
            } catch let error as PostgresTransactionError where error.rollbackError == nil && error.closureError is FailedOrder {
                guard let failed = error.closureError as? FailedOrder else { return }
                remaining.remove(at: failed.index).continuation.resume(throwing: failed.error)
            } catch let error as PostgresTransactionError where error.rollbackError == nil && error.closureError is BatchStatementFailed {
                // Which order made the batch's statement fail is not known: the batch runs again order by order.
                logger.warning("a batch's statement failed; its orders run one by one", metadata: ["error": "\(error.closureError!)"])
                together = false
            } catch {
                // The batch did not commit (the connection, the commit itself): nothing of it applied; every job retries.
                for waiting in remaining { waiting.continuation.resume(throwing: error) }
                return
            }
        }
    }

    /// An order's statement failed inside a batch: which one, and why.
    private struct FailedOrder: Error {
        var index: Int
        var error: any Error
    }

    /// The batch's statement failed (for an order of it, or for all).
    private struct BatchStatementFailed: Error {
        var error: any Error
    }

    /// The batch's orders in one statement, then each order it did not settle and each later event of an order it
    /// held, one statement each in the batch's order (they must see what the batch's statement wrote). The results
    /// in `events`' order.
    private func applyTogether(
        _ events: [OrderIngestor.Event],
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [OrderIngestionResult] {
        struct OrderKey: Hashable {
            var businessId: UUID
            var orderId: Int64
        }
        var seen: Set<OrderKey> = []
        let firsts = events.indices.filter { seen.insert(OrderKey(businessId: events[$0].businessId, orderId: events[$0].order.orderId)).inserted }
        let statement = BatchIngestStatement(events: firsts.map { events[$0] })
        var rows: [BatchIngestStatement.Row] = []
        do {
            switch self.pooling {
            case .session:
                for try await row in try await connection.execute(statement, logger: logger) { rows.append(row) }
            case .transaction:
                let query = PostgresQuery(unsafeSQL: BatchIngestStatement.sql, binds: try statement.makeBindings())
                for try await row in try await connection.query(query, logger: logger) { rows.append(try statement.decodeRow(row)) }
            }
        } catch {
            throw BatchStatementFailed(error: error)
        }
        var results = [OrderIngestionResult?](repeating: nil, count: events.count)
        for row in rows where row.order.won && firsts.indices.contains(row.index - 1) {
            let index = firsts[row.index - 1]
            results[index] = row.order.result(syncLogId: events[index].syncLogId)
        }
        for index in events.indices where results[index] == nil {
            do {
                results[index] = try await OrderIngestor.applyUntilWon(
                    events[index],
                    pooling: self.pooling,
                    maxRounds: self.maxRounds,
                    logger: logger,
                    on: .connection(connection)
                ).0
            } catch {
                throw FailedOrder(index: index, error: error)
            }
        }
        return results.compactMap { $0 }
    }

    /// Locks, in variant order, the stock rows the batch's orders can change: their lines' mapped variants, the
    /// variants of their SKUs, and the variants their earlier states were applied to.
    private func lockStock(of events: [OrderIngestor.Event], on connection: PostgresConnection, logger: Logger) async throws {
        var mappedBusinesses: [UUID] = []
        var mappedIds: [Int64] = []
        var skuBusinesses: [UUID] = []
        var skus: [String] = []
        for event in events {
            for line in event.order.lines {
                if let id = line.shopifyVariantId, id != 0 {
                    mappedBusinesses.append(event.businessId)
                    mappedIds.append(id)
                }
                if let sku = line.sku, !sku.isEmpty {
                    skuBusinesses.append(event.businessId)
                    skus.append(sku)
                }
            }
        }
        let locked = try await connection.query(
            """
            SELECT s.variant_id FROM stock_levels s
            WHERE s.variant_id IN (
                SELECT m.variant_id FROM ecommerce_product_mapping m
                JOIN UNNEST(\(mappedBusinesses)::uuid[], \(mappedIds)::bigint[]) AS k(business_id, shopify_variant_id)
                  ON m.business_id = k.business_id AND m.shopify_variant_id = k.shopify_variant_id
                UNION
                SELECT v.id FROM variants v
                JOIN UNNEST(\(skuBusinesses)::uuid[], \(skus)::text[]) AS k(business_id, sku) ON v.business_id = k.business_id AND v.sku = k.sku
                UNION
                SELECT a.variant_id FROM ecommerce_order_line a
                JOIN UNNEST(\(events.map(\.businessId))::uuid[], \(events.map(\.order.orderId))::bigint[]) AS k(business_id, order_id)
                  ON a.business_id = k.business_id AND a.shopify_order_id = k.order_id)
            ORDER BY s.variant_id
            FOR UPDATE OF s
            """,
            logger: logger
        )
        for try await _ in locked.decode(UUID.self) {}
    }
}
