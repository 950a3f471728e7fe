import Foundation
import Logging
import PostgresNIO

/// `ecommerce_sync_log` rows written outside a larger transaction.
public struct SyncLogStore: Sendable {
    let client: PostgresClient

    /// Every kind of row the log holds: the runs (pushes, reconciliations, polls) and the order events.
    public static let kinds: Set<String> = ["product_push", "collection_push", "inventory_reconcile", "poll", "order_ingest", "order_change"]

    public init(client: PostgresClient) {
        self.client = client
    }

    /// Records an event that was seen and needs no work of its own, with its details as a JSON object.
    @discardableResult
    public func recordEvent(
        businessId: UUID,
        kind: String,
        status: String,
        details: some Encodable,
        reference: String?,
        logger: Logger
    ) async throws -> UUID {
        let id = UUID()
        let json = String(decoding: try JSONEncoder().encode(details), as: UTF8.self)
        try await self.client.query(
            """
            INSERT INTO ecommerce_sync_log (id, business_id, kind, status, details, reference, finished_at)
            VALUES (\(id), \(businessId), \(kind), \(status), \(json)::jsonb, \(reference), now())
            """,
            logger: logger
        )
        return id
    }

    /// Opens a run (a push, a poll) in status `running`; pages and counters follow.
    public func startRun(businessId: UUID, kind: String, reference: String?, logger: Logger) async throws -> UUID {
        let id = UUID()
        try await self.client.query(
            """
            INSERT INTO ecommerce_sync_log (id, business_id, kind, status, reference)
            VALUES (\(id), \(businessId), \(kind), 'running', \(reference))
            """,
            logger: logger
        )
        return id
    }

    /// Records how much a run has to do. A run with no pages is complete at once.
    public func plan(runId: UUID, total: Int, pages: Int, logger: Logger) async throws {
        try await self.client.query(
            """
            UPDATE ecommerce_sync_log
            SET total = \(total), pages_total = \(pages),
                status = CASE WHEN \(pages) = 0 THEN 'completed' ELSE status END,
                finished_at = CASE WHEN \(pages) = 0 THEN now() ELSE finished_at END
            WHERE id = \(runId) AND status = 'running'
            """,
            logger: logger
        )
    }

    /// Adds a page's counters to its run, once per page however often the page job runs, and closes the run with
    /// the last page: `completed` (no failure), `failed` (nothing succeeded) or `partial`. The first 20 errors are
    /// kept. One statement, so concurrent pages never lose an update. Returns false if the page was already counted.
    @discardableResult
    public func recordPage(runId: UUID, page: Int, processed: Int, failed: Int, errors: [SyncError], logger: Logger) async throws -> Bool {
        let errorsJSON = String(decoding: try JSONEncoder().encode(errors), as: UTF8.self)
        let rows = try await self.client.query(
            """
            WITH page AS (
                INSERT INTO ecommerce_sync_page (sync_log_id, page, processed, failed)
                VALUES (\(runId), \(page), \(processed), \(failed))
                ON CONFLICT (sync_log_id, page) DO NOTHING
                RETURNING processed, failed
            )
            UPDATE ecommerce_sync_log l
            SET processed = l.processed + p.processed,
                failed = l.failed + p.failed,
                pages_done = l.pages_done + 1,
                errors = jsonb_path_query_array(l.errors || \(errorsJSON)::jsonb, '$[0 to 19]'),
                status = CASE WHEN l.pages_done + 1 < l.pages_total THEN l.status
                              WHEN l.failed + p.failed = 0 THEN 'completed'
                              WHEN l.processed + p.processed = 0 THEN 'failed'
                              ELSE 'partial' END,
                finished_at = CASE WHEN l.pages_done + 1 >= l.pages_total THEN now() ELSE l.finished_at END
            FROM page p
            WHERE l.id = \(runId)
            RETURNING l.id
            """,
            logger: logger
        )
        for try await _ in rows.decode(UUID.self) { return true }
        return false
    }

    /// Ends a run that is not paged: its counters, details and final status (`completed` without failures,
    /// `partial` otherwise, `deferred` when it stopped for a reason that is not a failure, Shopify's rate limit,
    /// and a later run goes on).
    public func finishRun(
        runId: UUID,
        processed: Int,
        failed: Int,
        errors: [SyncError],
        details: SyncDetails,
        deferred: Bool = false,
        logger: Logger
    ) async throws {
        let errorsJSON = String(decoding: try JSONEncoder().encode(Array(errors.prefix(20))), as: UTF8.self)
        let detailsJSON = String(decoding: try JSONEncoder().encode(details), as: UTF8.self)
        try await self.client.query(
            """
            UPDATE ecommerce_sync_log
            SET processed = \(processed), failed = \(failed), total = \(processed + failed), errors = \(errorsJSON)::jsonb,
                details = \(detailsJSON)::jsonb,
                status = CASE WHEN \(deferred) THEN 'deferred' WHEN \(failed) = 0 THEN 'completed' ELSE 'partial' END, finished_at = now()
            WHERE id = \(runId)
            """,
            logger: logger
        )
    }

    /// Deletes runs started more than `age` ago (their pages go with them); returns how many.
    @discardableResult
    public func deleteRuns(olderThan age: Duration, logger: Logger) async throws -> Int {
        let rows = try await self.client.query(
            """
            WITH gone AS (
                DELETE FROM ecommerce_sync_log WHERE started_at < now() - make_interval(secs => \(Double(age.components.seconds))) RETURNING 1
            )
            SELECT count(*)::int FROM gone
            """,
            logger: logger
        )
        for try await count in rows.decode(Int.self) { return count }
        return 0
    }

    /// Ends a run that cannot go on (not connected, nothing to push to), keeping the reason. Returns false if the
    /// run had ended already.
    @discardableResult
    public func fail(runId: UUID, error: SyncError, logger: Logger) async throws -> Bool {
        let errorsJSON = String(decoding: try JSONEncoder().encode([error]), as: UTF8.self)
        let rows = try await self.client.query(
            """
            UPDATE ecommerce_sync_log SET status = 'failed', errors = errors || \(errorsJSON)::jsonb, finished_at = now()
            WHERE id = \(runId) AND status = 'running'
            RETURNING id
            """,
            logger: logger
        )
        for try await _ in rows.decode(UUID.self) { return true }
        return false
    }

    /// Runs still `running` that started before `cutoff`, oldest first (at most `limit`).
    public func runningRuns(startedBefore cutoff: Date, limit: Int = 500, logger: Logger) async throws -> [SyncRun] {
        try await self.runs(where: "status = 'running' AND started_at < $1", [cutoff], limit: limit, logger: logger)
    }

    /// One run with its counters and progress.
    public func run(id: UUID, logger: Logger) async throws -> SyncRun? {
        try await self.runs(where: "id = $1", [id], limit: 1, logger: logger).first
    }

    /// A business's latest runs, newest first, optionally of one kind.
    public func runs(businessId: UUID, kind: String?, limit: Int, logger: Logger) async throws -> [SyncRun] {
        if let kind {
            return try await self.runs(where: "business_id = $1 AND kind = $2", [businessId, kind], limit: limit, logger: logger)
        }
        return try await self.runs(where: "business_id = $1", [businessId], limit: limit, logger: logger)
    }

    /// The runs (pushes and polls, not per-order entries) of every business that are still running or started
    /// within a day, newest first: what an operator looks at.
    public func recentRuns(limit: Int, logger: Logger) async throws -> [SyncRun] {
        try await self.runs(
            where: "kind IN ('product_push', 'collection_push', 'poll') AND (status = 'running' OR started_at > now() - interval '1 day')",
            [],
            limit: limit,
            logger: logger
        )
    }

    private func runs(where condition: String, _ values: [any PostgresEncodable & Sendable], limit: Int, logger: Logger) async throws -> [SyncRun] {
        var query = PostgresQuery(
            unsafeSQL: """
                SELECT id, business_id, kind, status, processed, failed, total, pages_total, pages_done, errors::text, details::text,
                       started_at, finished_at
                FROM ecommerce_sync_log WHERE \(condition) ORDER BY started_at DESC LIMIT \(max(1, min(limit, 500)))
                """
        )
        for value in values { try query.binds.append(value) }
        var runs: [SyncRun] = []
        for try await row in try await self.client.query(query, logger: logger).decode(
            (UUID, UUID, String, String, Int, Int, Int?, Int?, Int, String, String, Date, Date?).self
        ) {
            runs.append(
                SyncRun(
                    id: row.0,
                    businessId: row.1,
                    kind: row.2,
                    status: row.3,
                    processed: row.4,
                    failed: row.5,
                    total: row.6,
                    pagesTotal: row.7,
                    pagesDone: row.8,
                    errors: (try? JSONDecoder().decode([SyncError].self, from: Data(row.9.utf8))) ?? [],
                    details: (try? JSONDecoder().decode(SyncDetails.self, from: Data(row.10.utf8))) ?? SyncDetails(),
                    startedAt: row.11,
                    finishedAt: row.12
                )
            )
        }
        return runs
    }
}

/// One error of a sync run: what failed (a product id, a page) and why.
public struct SyncError: Codable, Sendable, Equatable {
    public var code: String
    public var message: String
    public var subject: String?

    public init(code: String, message: String, subject: String? = nil) {
        self.code = code
        self.message = message
        self.subject = subject
    }
}

/// A sync log row as the API shows it.
public struct SyncRun: Codable, Sendable, Equatable {
    public var id: UUID
    public var businessId: UUID
    public var kind: String
    public var status: String
    public var processed: Int
    public var failed: Int
    public var total: Int?
    public var pagesTotal: Int?
    public var pagesDone: Int
    public var errors: [SyncError]
    public var details: SyncDetails
    public var startedAt: Date
    public var finishedAt: Date?
}

/// The counters of a run beyond processed / failed (those of a poll); absent ones are left out.
public struct SyncDetails: Codable, Sendable, Equatable {
    /// Orders read from Shopify.
    public var fetched: Int?
    /// Orders seen for the first time.
    public var ingested: Int?
    /// Orders already known whose new state changed stock.
    public var updated: Int?
    /// Orders already known, nothing to apply.
    public var duplicates: Int?
    /// Start of the window read (RFC 3339).
    public var since: String?
    /// Variants whose Shopify quantity differed from FlowPOS's (a reconciliation).
    public var drifted: Int?
    /// Drifted variants set to FlowPOS's quantity (a reconciliation).
    public var corrected: Int?

    public init(
        fetched: Int? = nil,
        ingested: Int? = nil,
        updated: Int? = nil,
        duplicates: Int? = nil,
        since: String? = nil,
        drifted: Int? = nil,
        corrected: Int? = nil
    ) {
        self.fetched = fetched
        self.ingested = ingested
        self.updated = updated
        self.duplicates = duplicates
        self.since = since
        self.drifted = drifted
        self.corrected = corrected
    }
}
