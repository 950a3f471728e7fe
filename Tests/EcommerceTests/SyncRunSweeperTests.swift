import EcommerceJobs
import Foundation
import JobQueue
import PostgresNIO
import RedisClient
import ShopifyAdmin
import Storage
import Testing

@testable import WorkerApp

@Suite("Sync runs always end")
struct SyncRunSweeperTests {
    let logger = TestServices.logger

    @Test(
        "the sweeper ends every run: a page in dead letters is counted failed and closes its run; a run whose jobs were lost is abandoned, a bulk push once its operation cannot be running"
    )
    func sweeperEndsEveryRun() async throws {
        let redis = TestServices.redis(.sweeper)
        defer { redis.shutdown() }
        _ = try await redis.send(["FLUSHDB"])
        // Its own database: the sweeper closes every stale run it finds, other suites' too.
        try await TestServices.withPrivatePostgres { postgres in
            let business = try await BusinessFixture.create(on: postgres, stock: [("S", 1, nil)])
            for _ in 0..<2 {
                try await postgres.query(
                    "INSERT INTO products (id, business_id, name) VALUES (gen_random_uuid(), \(business.id), 'More')",
                    logger: self.logger
                )
            }
            let syncLogs = SyncLogStore(client: postgres)
            let catalog = ProductPushStore(client: postgres)
            let queue = RedisJobQueue(redis: redis)
            // A push of three one-product pages: two counted, the third's job died before it could count itself.
            let pages = try await catalog.pages(of: .products, businessId: business.id, size: 1, logger: self.logger)
            #expect(pages.count == 3)
            let push = try await syncLogs.startRun(businessId: business.id, kind: "product_push", reference: nil, logger: self.logger)
            try await syncLogs.plan(runId: push, total: 3, pages: 3, logger: self.logger)
            for page in pages.prefix(2) {
                try await syncLogs.recordPage(runId: push, page: page.number, processed: 1, failed: 0, errors: [], logger: self.logger)
            }
            let last = pages[2]
            try await queue.enqueue(
                ProductPushPageJob.self,
                ProductPushPageJob.envelope(
                    .init(runId: push, page: last.number, after: last.after, through: last.through),
                    businessId: business.id
                )
            )
            let claimed = try #require(try await queue.claim(from: [ProductPushPageJob.queue], workerId: "lost", max: 1, lease: .seconds(10)).first)
            #expect(try await queue.bury(claimed, workerId: "lost", envelope: claimed.envelope, attempt: 8, error: "quarantined"))
            // A poll whose worker died: nothing will ever finish it.
            let poll = try await syncLogs.startRun(businessId: business.id, kind: "poll", reference: nil, logger: self.logger)
            // A bulk push whose operation Shopify may still be running: its job comes back to look, so it is not lost.
            let bulk = try await syncLogs.startRun(businessId: business.id, kind: "product_push", reference: nil, logger: self.logger)
            try await syncLogs.plan(runId: bulk, total: 3, pages: 1, logger: self.logger)
            _ = try await BulkPushStore(client: postgres).create(
                BulkPush(runId: bulk, businessId: business.id, shop: business.shop, lines: 3, pageSize: 50, stagedUploadPath: "tmp/1/bulk/x"),
                lines: [],
                logger: self.logger
            )

            let sweeper = SyncRunSweeper(postgres: postgres, queue: queue, grace: .zero, abandonAfter: .seconds(3600), logger: self.logger)
            #expect(try await sweeper.sweep() == SyncRunSweeper.Outcome(deadPagesCounted: 1, abandoned: 0))
            let pushed = try #require(try await syncLogs.run(id: push, logger: self.logger))
            #expect(pushed.status == "partial" && pushed.processed == 2 && pushed.failed == 1 && pushed.pagesDone == 3)
            #expect(pushed.errors.map(\.code) == ["page_failed"])
            #expect(try await syncLogs.run(id: poll, logger: self.logger)?.status == "running", "an hour has not passed")
            // Counted once, however often the sweep runs.
            #expect(try await sweeper.sweep() == SyncRunSweeper.Outcome())

            let later = Date() + 2 * 3600
            #expect(try await sweeper.sweep(now: later) == SyncRunSweeper.Outcome(deadPagesCounted: 0, abandoned: 1))
            let abandoned = try #require(try await syncLogs.run(id: poll, logger: self.logger))
            #expect(abandoned.status == "failed" && abandoned.errors.map(\.code) == ["abandoned"] && abandoned.finishedAt != nil)
            #expect(try await syncLogs.run(id: push, logger: self.logger)?.status == "partial", "an ended run is left alone")
            #expect(try await syncLogs.run(id: bulk, logger: self.logger)?.status == "running", "its operation may still be running")
            // Past the 24 hours Shopify gives an operation, the bulk push is abandoned too.
            #expect(try await sweeper.sweep(now: Date() + 26 * 3600) == SyncRunSweeper.Outcome(deadPagesCounted: 0, abandoned: 1))
            #expect(try await syncLogs.run(id: bulk, logger: self.logger)?.errors.map(\.code) == ["abandoned"])
        }
    }

    @Test("merchants read codes with a readable message, never an internal error's own text")
    func merchantFacingErrors() {
        struct DatabaseDown: Error, CustomStringConvertible {
            var description: String { "connection to 10.0.3.7:5432 refused; SELECT * FROM ecommerce_connection" }
        }
        let internalError = SyncError.merchantFacing(DatabaseDown(), subject: "page 2")
        #expect(internalError.code == "internal_error" && internalError.subject == "page 2")
        #expect(!internalError.message.contains("10.0.3.7") && !internalError.message.contains("SELECT"))
        let http = SyncError.merchantFacing(ShopifyAdminError.http(status: 502, body: "<html>upstream 10.1.1.1 timed out</html>"))
        #expect(http.code == "shopify_unavailable" && !http.message.contains("upstream"))
        let unauthorized = SyncError.merchantFacing(ShopifyAdminError.unauthorized(status: 401, tokenFingerprint: "ab12"))
        #expect(unauthorized.code == "shopify_unauthorized" && !unauthorized.message.contains("ab12"))
        // Shopify's user errors are written for merchants: they are kept.
        let refused = SyncError.merchantFacing(
            ShopifyAdminError.userErrors(
                operation: "productSet",
                [ShopifyUserError(field: ["input", "title"], message: "Title can't be blank", code: "BLANK")]
            )
        )
        #expect(refused.code == "shopify_refused" && refused.message == "Title can't be blank")
        #expect(SyncError.merchantFacing(JobRetryLater(after: .seconds(3), reason: "Shopify rate limit: THROTTLED")).code == "throttled")
    }
}
