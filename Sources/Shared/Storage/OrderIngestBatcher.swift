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

/// Ingests the orders that concurrent jobs hand it several to a transaction: one statement and one commit for up to
/// ``IngestBatching/maxOrders`` orders (``BatchIngestStatement``), where PostgreSQL otherwise plans, runs and commits
/// one statement per order (`docs/performance.md`).
///
/// Every guarantee of one order per transaction holds:
/// - **One order's failure fails only that order**: should the batch's statement fail, every order of the batch runs
///   alone, in a transaction of its own, so that only the failing one fails (no savepoint per order: a failure is
///   rare, a savepoint and its release are two more round trips for every order). Its job is retried, and a retry
///   runs alone (`alone`).
/// - **Deliveries of one order still serialise**: each order is the same compare-and-set as alone (see
///   ``IngestStatement``); one that loses it, and a second event of an order already in the batch, run alone after
///   the batch commits; a batch holds the order rows it wrote until it commits, so a delivery elsewhere waits for that
///   commit and then sees it.
/// - **A crash applies each order once**: nothing of a batch is visible before its commit, and the jobs are acked
///   only after it; a batch cut short is rolled back whole and its jobs run again.
/// - **No deadlocks**: a batch's statement locks its known order rows, then its new orders' rows, then its stock rows,
///   each in key order; a statement of one order locks its order row, then its stock rows in variant order; and
///   nothing else is locked in a batch's transaction. So no two transactions wait on each other in a cycle, whether
///   their workers batch or not.
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

    /// Transactions committed so far and the orders they held (tests and the benchmark read them), how many were a
    /// batch's one statement (``BatchIngestStatement``), and how many batch statements failed (their orders then ran
    /// alone).
    struct Committed: Sendable, Equatable {
        var batches = 0
        var orders = 0
        var asOne = 0
        var failedStatements = 0
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

    /// One transaction, one statement (``BatchIngestStatement``) for the batch's orders, then, each in a transaction
    /// of its own as an unbatched worker runs them, the events the statement did not settle: an order whose
    /// compare-and-set lost to a concurrent delivery, and a second event of an order already in the batch (both must
    /// see what the batch committed). Each waiting job is answered once its order committed. Should the batch's
    /// statement fail, every order of it runs alone, so that only the failing one fails.
    private func run(_ batch: [Waiting]) async {
        let batch = batch.sorted {
            ($0.event.businessId.uuidString, $0.event.order.orderId) < ($1.event.businessId.uuidString, $1.event.order.orderId)
        }
        var leftover = batch
        if batch.count > 1 {
            let logger = batch[0].logger
            do {
                let (settled, rest) = try await self.client.withTransaction(logger: logger) { connection in
                    try await self.applyTogether(batch, on: connection, logger: logger)
                }
                self.state.withLock { state in
                    state.committed.batches += 1
                    state.committed.orders += settled.count
                    state.committed.asOne += 1
                }
                for (waiting, result) in settled { waiting.continuation.resume(returning: result) }
                leftover = rest
            } catch let error as PostgresTransactionError where error.rollbackError == nil && error.closureError != nil {
                // The statement failed, for one order or for all: which one is not known, so each runs alone.
                logger.warning("a batch's statement failed; its orders run one by one", metadata: ["error": "\(error.closureError!)"])
                self.state.withLock { $0.committed.failedStatements += 1 }
            } catch {
                // The batch did not commit (the connection, the commit itself): nothing of it applied; every job retries.
                for waiting in batch { waiting.continuation.resume(throwing: error) }
                return
            }
        }
        for waiting in leftover {
            do {
                let (result, _) = try await OrderIngestor.applyUntilWon(
                    waiting.event,
                    pooling: self.pooling,
                    maxRounds: self.maxRounds,
                    logger: waiting.logger,
                    on: self.client
                )
                self.state.withLock { state in
                    state.committed.batches += 1
                    state.committed.orders += 1
                }
                waiting.continuation.resume(returning: result)
            } catch {
                waiting.continuation.resume(throwing: error)
            }
        }
    }

    /// Runs the batch's statement for the first event of each order; what it settled (with the results), and the
    /// events left for one statement each, in the batch's order.
    private func applyTogether(
        _ batch: [Waiting],
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> (settled: [(Waiting, OrderIngestionResult)], rest: [Waiting]) {
        struct OrderKey: Hashable {
            var businessId: UUID
            var orderId: Int64
        }
        var seen: Set<OrderKey> = []
        let firsts = batch.indices.filter {
            seen.insert(OrderKey(businessId: batch[$0].event.businessId, orderId: batch[$0].event.order.orderId)).inserted
        }
        let statement = BatchIngestStatement(events: firsts.map { batch[$0].event })
        var rows: [BatchIngestStatement.Row] = []
        switch self.pooling {
        case .session:
            for try await row in try await connection.execute(statement, logger: logger) { rows.append(row) }
        case .transaction:
            let query = PostgresQuery(unsafeSQL: BatchIngestStatement.sql, binds: try statement.makeBindings())
            for try await row in try await connection.query(query, logger: logger) { rows.append(try statement.decodeRow(row)) }
        }
        var results = [OrderIngestionResult?](repeating: nil, count: batch.count)
        for row in rows where row.order.won && firsts.indices.contains(row.index - 1) {
            let index = firsts[row.index - 1]
            results[index] = row.order.result(syncLogId: batch[index].event.syncLogId)
        }
        let settled = batch.indices.compactMap { index in results[index].map { (batch[index], $0) } }
        let rest = batch.indices.filter { results[$0] == nil }.map { batch[$0] }
        return (settled, rest)
    }
}
