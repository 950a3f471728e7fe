import EcommerceJobs
import Foundation
import JobQueue
import Logging
import RedisClient
import Shopify
import ShopifyAdmin
import Storage

/// `orders.poll`: the safety net under webhooks. Reads the orders updated since the business's high-water mark
/// (minus an overlap, because Shopify's `updated_at` index and our clock are not exact), page by page, through the
/// same ingestion as webhooks (so an order seen twice changes nothing), moves the mark to each committed page's last
/// change, and to the poll's start once every page is committed.
struct OrderPoll: Sendable {
    let accounts: ShopifyAccounts
    let connections: ConnectionStore
    let ingestor: OrderIngestor
    let syncLogs: SyncLogStore
    let queue: RedisJobQueue
    let overlap: Duration
    /// Orders per page: nested lines multiply the cost, so pages stay small.
    let pageSize: Int

    func poll(_ envelope: JobEnvelope<OrderPollJob.Payload>, context: JobContext) async throws {
        let businessId = try EcommerceHandlers.businessId(of: envelope)
        let logger = context.logger
        let started = Date()
        let account: ShopifyAccount
        let since: Date
        do {
            account = try await self.accounts.account(businessId: businessId, logger: logger)
            since = (account.connection.lastSyncedAt ?? account.connection.connectedAt) - Double(self.overlap.components.seconds)
        } catch let error as PermanentJobError where error.code == "shop_not_connected" {
            logger.info("business not connected; poll skipped")
            try await self.release(envelope)
            return
        }
        // One poll of a business at a time. Without this a poll slower than the interval has the next slots start
        // more polls over the same window (the mark has not moved yet), each slowing the others: they pile up.
        let lease = RedisLease(redis: self.queue.redis, key: "ecommerce:poll-running:\(businessId.uuidString.lowercased())", ttl: Self.leaseTTL)
        guard try await lease.acquire() else {
            if envelope.payload.slot == nil {
                throw JobRetryLater(after: .seconds(5), reason: "a poll of this business is running")
            }
            // The running poll covers this slot's window up to its start; the next slot reads on from there.
            logger.info("a poll of this business is running; slot skipped")
            return
        }
        do {
            try await self.poll(envelope, account: account, since: since, started: started, lease: lease, logger: logger)
            try? await lease.release()
        } catch {
            try? await lease.release()
            throw error
        }
    }

    /// How long a poll's claim on its business lasts without renewal (it is renewed every page).
    static let leaseTTL: Duration = .seconds(60)

    private func poll(
        _ envelope: JobEnvelope<OrderPollJob.Payload>,
        account: ShopifyAccount,
        since: Date,
        started: Date,
        lease: RedisLease,
        logger: Logger
    ) async throws {
        let businessId = account.connection.businessId
        let runId = try await self.syncLogs.startRun(
            businessId: businessId,
            kind: "poll",
            reference: envelope.payload.slot.map { "slot:\($0)" } ?? "requested",
            logger: logger
        )
        var details = SyncDetails(fetched: 0, ingested: 0, updated: 0, duplicates: 0, since: ISO8601DateFormatter().string(from: since))
        var errors: [SyncError] = []
        do {
            var cursor: String? = nil
            repeat {
                let page = try await account.client.orders(
                    updatedSince: since,
                    first: self.pageSize,
                    after: cursor,
                    as: account.credentials,
                    logger: logger
                )
                for order in page.orders {
                    details.fetched! += 1
                    do {
                        let result = try await self.ingestor.ingest(
                            businessId: businessId,
                            order: order,
                            source: "poll",
                            reference: "poll:\(runId)",
                            logger: logger
                        )
                        if result.firstSeen {
                            details.ingested! += 1
                        } else if result.outcome == .applied {
                            details.updated! += 1
                        } else {
                            details.duplicates! += 1
                        }
                    } catch let error as OrderIngestionError {
                        guard case .invalidOrder(let reason) = error else { throw error }
                        errors.append(SyncError(code: "invalid_order", message: reason, subject: "order \(order.id)"))
                    }
                }
                cursor = page.nextCursor
                // Pages come oldest change first: once one is committed, the mark may move to its last change, so a
                // long poll that is interrupted (a crash, the job timeout) resumes from there instead of the start.
                if cursor != nil, let reached = page.orders.last?.updatedAtDate {
                    try await self.connections.advanceLastSynced(businessId: businessId, to: min(reached, started), logger: logger)
                }
                _ = try await lease.extend()
            } while cursor != nil
            try await self.connections.advanceLastSynced(businessId: businessId, to: started, logger: logger)
        } catch let error where JobRetryLater.retry(for: error) != nil {
            // Throttling is not failure: the run ends with what it read, and the job goes on later from the mark
            // (a new run), without spending an attempt.
            let later = JobRetryLater.retry(for: error)!
            try? await self.syncLogs.finishRun(
                runId: runId,
                processed: details.fetched! - errors.count,
                failed: errors.count,
                errors: errors + [.merchantFacing(later)],
                details: details,
                deferred: true,
                logger: logger
            )
            throw later
        } catch {
            logger.error("poll failed", metadata: ["error": "\(error)"])
            _ = try? await self.syncLogs.fail(runId: runId, error: .merchantFacing(error), logger: logger)
            throw error
        }
        try await self.syncLogs.finishRun(
            runId: runId,
            processed: details.fetched! - errors.count,
            failed: errors.count,
            errors: errors,
            details: details,
            logger: logger
        )
        try await self.release(envelope)
        logger.info(
            "orders polled",
            metadata: ["fetched": "\(details.fetched!)", "ingested": "\(details.ingested!)", "duplicates": "\(details.duplicates!)"]
        )
    }

    /// A requested poll frees the business for the next request once it is done.
    private func release(_ envelope: JobEnvelope<OrderPollJob.Payload>) async throws {
        guard envelope.payload.slot == nil, let businessId = envelope.businessId else { return }
        try await self.queue.forgetDedupe(OrderPollJob.requestKey(businessId: businessId), queue: OrderPollJob.queue)
    }
}
