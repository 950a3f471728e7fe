import EcommerceJobs
import Foundation
import JobQueue
import Logging
import ShopifyAdmin
import Storage

/// What every paged push (products, collections) shares: planning the pages and running one.
enum PagedPush {
    /// The keyset range a page job covers.
    static func page(of envelope: JobEnvelope<ProductPushPageJob.Payload>) -> ProductPage {
        let payload = envelope.payload
        return ProductPage(number: payload.page, after: payload.after, through: payload.through, count: 0)
    }

    /// Splits the push into pages and enqueues them (deduplicated, so a re-run plan adds nothing). The run's size
    /// is recorded before the first page is enqueued, so that the last page to finish always knows it is the last.
    static func plan<PageJob: JobDefinition>(
        _ envelope: JobEnvelope<ProductPushPlanJob.Payload>,
        table: CatalogTable,
        pageJob: PageJob.Type,
        catalog: ProductPushStore,
        syncLogs: SyncLogStore,
        queue: RedisJobQueue,
        context: JobContext
    ) async throws where PageJob.Payload == ProductPushPageJob.Payload {
        let businessId = try EcommerceHandlers.businessId(of: envelope)
        let payload = envelope.payload
        let pages = try await catalog.pages(of: table, businessId: businessId, size: max(1, payload.pageSize), logger: context.logger)
        try await syncLogs.plan(runId: payload.runId, total: pages.reduce(0) { $0 + $1.count }, pages: pages.count, logger: context.logger)
        for page in pages {
            let job = PageJob.envelope(
                .init(runId: payload.runId, page: page.number, after: page.after, through: page.through),
                businessId: envelope.businessId,
                shop: envelope.shop,
                dedupeKey: "\(PageJob.kind):\(payload.runId):\(page.number)"
            )
            try await queue.enqueue(PageJob.self, job)
        }
        context.logger.info("push planned", metadata: ["run.id": "\(payload.runId)", "table": "\(table.rawValue)", "pages": "\(pages.count)"])
    }

    /// Pushes the items of one page and records the page's counters once. An item Shopify refuses (its
    /// `userErrors`) or that cannot be sent (``PushRefusal``) counts as failed and the page goes on; throttling
    /// hands the whole page back (pushes are idempotent); other failures retry the page, and on its last attempt
    /// the failing items (or the whole page, if it could not start) are recorded as failed, whatever the error, so
    /// that the run always ends. Errors are recorded as merchants may read them (``SyncError/merchantFacing``). Without a usable connection the
    /// whole page fails with the reason; a 401 refreshes the token and runs the page again, or fails it when the
    /// token cannot be refreshed.
    static func runPage<Item: Sendable>(
        _ items: [Item],
        envelope: JobEnvelope<ProductPushPageJob.Payload>,
        context: JobContext,
        accounts: ShopifyAccounts,
        syncLogs: SyncLogStore,
        subject: (Item) -> String,
        prepare: (ShopifyAccount) async throws -> Void = { _ in },
        push: (Item, ShopifyAccount) async throws -> Void
    ) async throws {
        let businessId = try EcommerceHandlers.businessId(of: envelope)
        let payload = envelope.payload
        let logger = context.logger
        let lastAttempt = context.header.attempt + 1 >= context.header.maxAttempts
        func failPage(_ failure: any Error) async throws {
            let error = SyncError.merchantFacing(failure, subject: "page \(payload.page)")
            try await syncLogs.recordPage(
                runId: payload.runId,
                page: payload.page,
                processed: 0,
                failed: items.count,
                errors: [error],
                logger: logger
            )
        }
        /// The token, not an item: refresh it and run the page again (`JobRetryLater`); if it cannot be, fail the page.
        func recover(_ error: ShopifyAdminError) async throws {
            do {
                try await accounts.recover(from: error, businessId: businessId, logger: logger)
            } catch let failure as PermanentJobError {
                try await failPage(failure)
            }
        }
        let account: ShopifyAccount
        do {
            account = try await accounts.account(businessId: businessId, logger: logger)
            try await prepare(account)
        } catch let failure as PermanentJobError {
            try await failPage(failure)
            return
        } catch let error as ShopifyAdminError where error.isUnauthorized {
            try await recover(error)
            return
        } catch  where lastAttempt && JobRetryLater.retry(for: error) == nil {
            // Whatever it is, on the last attempt the page is counted, failed, so that its run ends.
            logger.error("page failed on its last attempt", metadata: ["run.id": "\(payload.runId)", "error": "\(error)"])
            try await failPage(error)
            return
        }
        var processed = 0
        var errors: [SyncError] = []
        for item in items {
            do {
                try await push(item, account)
                processed += 1
            } catch let error as ShopifyAdminError where error.isUnauthorized {
                try await recover(error)
                return
            } catch let refusal as PushRefusal {
                errors.append(SyncError(code: refusal.code, message: refusal.message, subject: subject(item)))
            } catch let error as ShopifyAdminError where !error.isRetryable || lastAttempt {
                errors.append(.merchantFacing(error, subject: subject(item)))
            } catch  where lastAttempt && JobRetryLater.retry(for: error) == nil {
                logger.error("item failed on the page's last attempt", metadata: ["run.id": "\(payload.runId)", "error": "\(error)"])
                errors.append(.merchantFacing(error, subject: subject(item)))
            }
        }
        try await syncLogs.recordPage(
            runId: payload.runId,
            page: payload.page,
            processed: processed,
            failed: items.count - processed,
            errors: errors,
            logger: logger
        )
        if !errors.isEmpty {
            logger.warning("items refused by Shopify", metadata: ["run.id": "\(payload.runId)", "failed": "\(errors.count)"])
        }
    }
}

/// An item a push cannot send as it is: counted as failed, the page goes on.
struct PushRefusal: Error {
    var code: String
    var message: String
}
