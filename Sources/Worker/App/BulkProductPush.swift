import EcommerceJobs
import Foundation
import JSONBytes
import JobQueue
import Logging
import ShopifyAdmin
import Storage

/// How large pushes run as Shopify bulk operations.
public struct BulkPushSettings: Sendable {
    /// `BULK_PUSH_THRESHOLD` (1000; 0: never): a push of more products than this runs as a bulk operation.
    public var threshold: Int
    /// `BULK_PUSH_POLL_SECONDS` (30): how often a push looks at its running operation when no
    /// `bulk_operations/finish` webhook has come.
    public var pollInterval: Duration

    public init(threshold: Int = 1000, pollInterval: Duration = .seconds(30)) {
        self.threshold = threshold
        self.pollInterval = pollInterval
    }
}

/// A large product push as one Shopify bulk operation (`products.bulk`), which runs outside the shop's per-second
/// cost budget. Each stage is recorded before the next begins, so that a job run again after a crash goes on where
/// the last one stopped:
///
/// 1. **Upload**: the catalog becomes a JSONL file of `productSet` variables, staged at Shopify; the push and what
///    each line was are recorded with the staged path (a crash before leaves nothing but an unused staged file).
/// 2. **Start**: the push becomes `starting` (at most one per shop, and at most five operations per shop as
///    Shopify allows), then Shopify starts the operation and its id is recorded (`running`). A crash in between
///    leaves the push `starting`, in doubt: the next run asks Shopify for the shop's latest operation and adopts it
///    if its mutation carries this push's name; no other push of the shop can have started one since.
/// 3. **Follow**: the `bulk_operations/finish` webhook (``BulkOperationFinishJob``) records the results at once;
///    the push job itself comes back every ``BulkPushSettings/pollInterval`` to look, in case the webhook is lost.
/// 4. **Record**: the result file is read (streamed), mappings written and the run's pages recorded (each page
///    once, however often this runs), then the push is `finished`. A failed operation records what its partial
///    file holds, and everything else as failed with Shopify's error code.
struct BulkProductPush: Sendable {
    let catalog: ProductPushStore
    let pushes: BulkPushStore
    let syncLogs: SyncLogStore
    let accounts: ShopifyAccounts
    let settings: BulkPushSettings

    /// Products read from the catalog at a time while the file is written.
    static let catalogPageSize = 500

    /// `products.bulk`: the push, from wherever it stands.
    func run(_ envelope: JobEnvelope<ProductBulkPushJob.Payload>, context: JobContext) async throws {
        let businessId = try EcommerceHandlers.businessId(of: envelope)
        let runId = envelope.payload.runId
        let logger = context.logger
        try await self.failingRun(runId, businessId: businessId, context: context) {
            let account = try await self.accounts.account(businessId: businessId, logger: logger)
            var push = try await self.pushes.push(runId: runId, logger: logger)
            if push == nil {
                try await self.accounts.ensureCustomIdDefinition(account, businessId: businessId, logger: logger)
                push = try await self.upload(
                    runId: runId,
                    businessId: businessId,
                    pageSize: envelope.payload.pageSize,
                    account: account,
                    logger: logger
                )
            }
            guard let push else { return }  // nothing to push: the run is complete
            try await self.advance(push, account: account, waitWhileRunning: true, logger: logger)
        }
    }

    /// `bulk_operations/finish`: records the results of the push that started the operation, if it is one of ours.
    func finished(_ envelope: JobEnvelope<BulkOperationFinishJob.Payload>, context: JobContext) async throws {
        let logger = context.logger
        guard let shop = envelope.shop, let push = try await self.pushes.push(shop: shop, operationId: envelope.payload.operationId, logger: logger)
        else {
            // Not a push's, or a push that has not recorded its operation yet: its own job will find it finished.
            logger.info("bulk operation finished that no push has recorded", metadata: ["operation": "\(envelope.payload.operationId)"])
            return
        }
        try await self.failingRun(push.runId, businessId: push.businessId, context: context) {
            let account = try await self.accounts.account(businessId: push.businessId, logger: logger)
            try await self.advance(push, account: account, waitWhileRunning: false, logger: logger)
        }
    }

    /// Runs `body`; a connection that cannot be used fails the run with the reason, a 401 refreshes the token (and
    /// the job comes back), and on the job's last attempt any other failure fails the run, so that it always ends.
    private func failingRun(_ runId: UUID, businessId: UUID, context: JobContext, _ body: () async throws -> Void) async throws {
        let lastAttempt = context.header.attempt + 1 >= context.header.maxAttempts
        do {
            try await self.accounts.recoveringToken(businessId: businessId, logger: context.logger, body)
        } catch let failure as PermanentJobError {
            _ = try await self.syncLogs.fail(runId: runId, error: .merchantFacing(failure), logger: context.logger)
        } catch  where lastAttempt && JobRetryLater.retry(for: error) == nil {
            context.logger.error("bulk push failed on its last attempt", metadata: ["run.id": "\(runId)", "error": "\(error)"])
            _ = try await self.syncLogs.fail(runId: runId, error: .merchantFacing(error), logger: context.logger)
        }
    }

    /// Stage 1: writes the file, stages it at Shopify and records the push. Nil when the catalog is empty (the run
    /// is then complete).
    func upload(runId: UUID, businessId: UUID, pageSize: Int, account: ShopifyAccount, logger: Logger) async throws -> BulkPush? {
        var file: [UInt8] = []
        var lines: [BulkPushLine] = []
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        for page in try await self.catalog.pages(of: .products, businessId: businessId, size: Self.catalogPageSize, logger: logger) {
            for product in try await self.catalog.products(businessId: businessId, page: page, logger: logger) {
                let (input, planned) = ProductPush.input(for: product)
                file += try encoder.encode(ShopifyAdminClient.productSetVariables(input, locationId: account.locationId))
                file.append(UInt8(ascii: "\n"))
                lines.append(BulkPushLine(line: lines.count, productId: product.id, variants: planned))
            }
        }
        let push = BulkPush(
            runId: runId,
            businessId: businessId,
            shop: account.credentials.shop,
            lines: lines.count,
            pageSize: max(1, pageSize),
            stagedUploadPath: ""
        )
        // The run counts what the file holds (the catalog may have changed since the plan).
        try await self.syncLogs.plan(runId: runId, total: lines.count, pages: lines.isEmpty ? 0 : push.pages, logger: logger)
        guard !lines.isEmpty else { return nil }
        guard file.count <= ShopifyAdminClient.maxStagedUploadBytes else {
            throw PermanentJobError(
                code: "bulk_file_too_large",
                message: "the catalog makes a \(file.count >> 20) MB bulk file, more than Shopify's 100 MB limit for one; it was not pushed"
            )
        }
        var staged = push
        staged.stagedUploadPath = try await account.client.stageBulkVariables(
            file,
            filename: "flowpos-push-\(runId.uuidString.lowercased()).jsonl",
            as: account.credentials,
            logger: logger
        )
        logger.info("bulk push staged", metadata: ["run.id": "\(runId)", "lines": "\(lines.count)", "bytes": "\(file.count)"])
        return try await self.pushes.create(staged, lines: lines, logger: logger)
    }

    /// Stages 2 to 4 from where the push stands.
    private func advance(_ push: BulkPush, account: ShopifyAccount, waitWhileRunning: Bool, logger: Logger) async throws {
        var push = push
        switch push.stage {
        case .finished:
            return
        case .uploaded:
            let others = try await self.pushes.activeOperations(shop: push.shop, except: push.runId, logger: logger)
            if others >= ShopifyAdminClient.bulkOperationsPerShop {
                throw JobRetryLater(after: self.settings.pollInterval, reason: "the shop runs \(others) bulk operations, as many as Shopify allows")
            }
            guard try await self.pushes.beginStart(runId: push.runId, logger: logger) else {
                throw JobRetryLater(after: .seconds(2), reason: "another push of the shop is starting its bulk operation")
            }
            push.operationId = try await self.start(push, account: account, logger: logger)
        case .starting:
            // In doubt: Shopify may have started it before the last run stopped. No other push of the shop has
            // started one since (only one is `starting` at a time), so Shopify's latest is ours if there is one.
            let marker = ShopifyAdminClient.bulkOperationName(marker: Self.marker(push.runId))
            if let current = try await account.client.currentBulkMutation(as: account.credentials, logger: logger),
                current.query?.contains(marker) == true
            {
                logger.notice("bulk push resumed: its operation was started before the crash", metadata: ["operation": "\(current.id)"])
                try await self.pushes.started(runId: push.runId, operationId: current.id, status: current.status, logger: logger)
                push.operationId = current.id
            } else {
                push.operationId = try await self.start(push, account: account, logger: logger)
            }
        case .running:
            break
        }
        guard let operationId = push.operationId else { return }
        guard let operation = try await account.client.bulkOperation(id: operationId, as: account.credentials, logger: logger) else {
            try await self.record(push, operation: nil, account: account, logger: logger)
            return
        }
        if operation.isRunning {
            try await self.pushes.observed(runId: push.runId, status: operation.status, objectCount: operation.objectCount, logger: logger)
            guard waitWhileRunning else { return }
            throw JobRetryLater(
                after: self.settings.pollInterval,
                reason: "bulk operation \(operation.status.lowercased()): \(operation.objectCount) of \(push.lines) products"
            )
        }
        try await self.record(push, operation: operation, account: account, logger: logger)
    }

    /// Asks Shopify to start the operation (the push is `starting`) and records it. Returns its id.
    func start(_ push: BulkPush, account: ShopifyAccount, logger: Logger) async throws -> String {
        let operation: BulkOperationState
        do {
            operation = try await account.client.runBulkMutation(
                ShopifyAdminClient.bulkProductSetDocument(marker: Self.marker(push.runId)),
                stagedUploadPath: push.stagedUploadPath,
                clientIdentifier: "flowpos-push-\(push.runId.uuidString.lowercased())",
                as: account.credentials,
                logger: logger
            )
        } catch ShopifyAdminError.userErrors(let operation, let errors) where errors.contains(where: { $0.code == "OPERATION_IN_PROGRESS" }) {
            try await self.pushes.abandonStart(runId: push.runId, logger: logger)
            throw JobRetryLater(after: self.settings.pollInterval, reason: "\(operation): \(errors.map(\.message).joined(separator: "; "))")
        } catch let error as ShopifyAdminError {
            guard case .userErrors = error else { throw error }  // in doubt: the next run looks before starting again
            // Shopify refused the file or the mutation outright: nothing runs, the run fails with its words.
            try await self.pushes.abandonStart(runId: push.runId, logger: logger)
            throw PermanentJobError(code: "bulk_operation_refused", message: SyncError.merchantFacing(error).message)
        }
        try await self.pushes.started(runId: push.runId, operationId: operation.id, status: operation.status, logger: logger)
        logger.info("bulk operation started", metadata: ["run.id": "\(push.runId)", "operation": "\(operation.id)"])
        return operation.id
    }

    /// Stage 4: the results as mappings and the run's pages. `operation` nil: Shopify no longer knows it.
    private func record(_ push: BulkPush, operation: BulkOperationState?, account: ShopifyAccount, logger: Logger) async throws {
        var outcomes: [Int: Result<ProductSetResult, ShopifyAdminError>] = [:]
        if let url = operation?.url ?? operation?.partialDataUrl {
            try await account.client.readBulkProductSetResults(url: url, logger: logger) { outcome in
                if outcome.line >= 0 && outcome.line < push.lines { outcomes[outcome.line] = outcome.result }
            }
        }
        let status = operation?.status ?? "UNKNOWN"
        let unreached =
            status == "COMPLETED"
            ? SyncError(code: "bulk_result_missing", message: "Shopify's result file has no answer for this product")
            : SyncError(
                code: "bulk_operation_failed",
                message: "Shopify's bulk operation ended \(status.lowercased())"
                    + (operation?.errorCode.map { " (\($0))" } ?? "") + " before it reached this product"
            )
        for page in 1...push.pages {
            let range = (page - 1) * push.pageSize..<min(push.lines, page * push.pageSize)
            var mappings: [ProductMapping] = []
            var errors: [SyncError] = []
            var processed = 0
            let lines = try await self.pushes.lines(runId: push.runId, in: range, logger: logger)
            for line in lines {
                let subject = "product \(line.productId)"
                switch outcomes[line.line] {
                case .success(let result):
                    do {
                        mappings += try ProductPush.mappings(line.variants, productId: line.productId, result: result)
                        processed += 1
                    } catch {
                        errors.append(SyncError(code: error.code, message: error.message, subject: subject))
                    }
                case .failure(let error):
                    errors.append(.merchantFacing(error, subject: subject))
                case nil:
                    errors.append(SyncError(code: unreached.code, message: unreached.message, subject: subject))
                }
            }
            try await self.catalog.saveMappings(businessId: push.businessId, mappings, logger: logger)
            try await self.syncLogs.recordPage(
                runId: push.runId,
                page: page,
                processed: processed,
                failed: lines.count - processed,
                errors: errors,
                logger: logger
            )
        }
        try await self.pushes.finish(
            runId: push.runId,
            status: status,
            errorCode: operation?.errorCode,
            objectCount: operation?.objectCount ?? 0,
            logger: logger
        )
        logger.info(
            "bulk push recorded",
            metadata: ["run.id": "\(push.runId)", "status": "\(status)", "results": "\(outcomes.count)", "lines": "\(push.lines)"]
        )
    }

    /// The run id as the operation's name carries it.
    static func marker(_ runId: UUID) -> String { runId.uuidString.lowercased().replacingOccurrences(of: "-", with: "") }
}
