import EcommerceJobs
import Foundation
import JobQueue
import Logging
import PostgresNIO
import ServiceLifecycle
import Storage

/// Brings every sync run to a final status, whatever became of its jobs. Safe in every replica (each close is a
/// conditional update: a page is counted once, a run fails only while it is still `running`).
///
/// - A page job in dead letters (it failed before it could count itself: its worker was lost on the last attempt,
///   PostgreSQL was away) is counted as failed, with its items; the run closes with its last page.
/// - A run still `running` after `abandonAfter` (its jobs lost, e.g. to a Redis crash; a poll whose worker died;
///   a plan that never ran) is failed as `abandoned`; a later run covers what it did not do.
public struct SyncRunSweeper: Service {
    let syncLogs: SyncLogStore
    let catalog: ProductPushStore
    let bulkPushes: BulkPushStore
    let queue: RedisJobQueue
    /// Runs younger than this are left alone: their jobs may still be running or retrying.
    let grace: Duration
    let abandonAfter: Duration
    let interval: Duration
    let logger: Logger

    public init(
        postgres: PostgresClient,
        queue: RedisJobQueue,
        grace: Duration = .seconds(300),
        abandonAfter: Duration,
        interval: Duration = .seconds(60),
        logger: Logger
    ) {
        self.syncLogs = SyncLogStore(client: postgres)
        self.catalog = ProductPushStore(client: postgres)
        self.bulkPushes = BulkPushStore(client: postgres)
        self.queue = queue
        self.grace = grace
        self.abandonAfter = abandonAfter
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await repeatUntilShutdown(every: self.interval, logger: self.logger, failure: "sync run sweep failed; the next sweep retries") {
            try await self.sweep()
        }
    }

    /// How long Shopify lets a bulk operation run (24 hours), with an hour for the push to record its results.
    static let bulkOperationLifetime: TimeInterval = 25 * 3600

    /// What one sweep closed.
    public struct Outcome: Sendable, Equatable {
        public var deadPagesCounted = 0
        public var abandoned = 0
    }

    /// One sweep, now.
    @discardableResult
    public func sweep(now: Date = Date()) async throws -> Outcome {
        var outcome = Outcome()
        let stale = try await self.syncLogs.runningRuns(startedBefore: now - Double(self.grace.components.seconds), logger: self.logger)
        guard !stale.isEmpty else { return outcome }
        let paged = Dictionary(uniqueKeysWithValues: stale.filter { $0.pagesTotal != nil }.map { ($0.id, $0) })
        if !paged.isEmpty {
            for (queue, table) in [(ProductPushPageJob.queue, CatalogTable.products), (CollectionPushPageJob.queue, .categories)] {
                try await self.queue.forEachDeadLetterPage(queue: queue, count: 200) { letters in
                    for letter in letters where try await self.countIfItsPage(letter, runs: paged, table: table) {
                        outcome.deadPagesCounted += 1
                    }
                }
            }
        }
        let overdue = stale.filter { $0.startedAt < now - Double(self.abandonAfter.components.seconds) }
        // A bulk push whose operation Shopify may still be running is not lost: its job comes back to look until it
        // ends (Shopify gives an operation 24 hours). Past that, it is abandoned like any other run.
        let following = try await self.bulkPushes.following(
            runIds: overdue.map(\.id),
            startedAfter: now - Self.bulkOperationLifetime,
            logger: self.logger
        )
        for run in overdue where !following.contains(run.id) {
            let error = SyncError(code: "abandoned", message: "the run was interrupted before it finished; a later run covers what it did not do")
            if try await self.syncLogs.fail(runId: run.id, error: error, logger: self.logger) { outcome.abandoned += 1 }
        }
        if outcome != Outcome() {
            self.logger.notice(
                "unfinished sync runs closed",
                metadata: ["dead_pages": "\(outcome.deadPagesCounted)", "abandoned": "\(outcome.abandoned)"]
            )
        }
        return outcome
    }

    /// Counts a dead page job as a failed page of its run, if it is a page of one of `runs` (stale, paged runs by
    /// id). True when this call counted it (a page is counted once, whoever sees it first).
    private func countIfItsPage(_ letter: DeadLetter, runs: [UUID: SyncRun], table: CatalogTable) async throws -> Bool {
        guard let envelope = try? JobCoding.decoder().decode(JobEnvelope<ProductPushPageJob.Payload>.self, from: Data(letter.job.utf8)),
            envelope.kind == ProductPushPageJob.kind || envelope.kind == CollectionPushPageJob.kind,
            let run = runs[envelope.payload.runId]
        else { return false }
        let page = PagedPush.page(of: envelope)
        let items = try await self.catalog.count(of: table, businessId: run.businessId, page: page, logger: self.logger)
        return try await self.syncLogs.recordPage(
            runId: run.id,
            page: page.number,
            processed: 0,
            failed: items,
            errors: [
                SyncError(code: "page_failed", message: "this page could not be pushed; push again to retry it", subject: "page \(page.number)")
            ],
            logger: self.logger
        )
    }
}
