import EcommerceJobs
import Foundation
import JobQueue
import Logging
import PostgresNIO
import ServiceLifecycle
import Storage
import Tracing

/// Moves stock changes from the outbox to `ecommerce-inventory` jobs, one pending job per variant.
///
/// Sweeps the outbox every `interval`, taking all it holds. Safe in every worker replica at once: each takes rows
/// with `FOR UPDATE SKIP LOCKED`, and rows are deleted only once their jobs are enqueued.
///
/// Why a sweep and not `LISTEN`/`NOTIFY`: a notifying transaction takes a database-wide lock at commit, held
/// through its WAL flush, so every stock-changing commit would wait for the previous one to reach the disk
/// (ingestion would sit in `Lock:object` waits; `docs/performance.md`). A sweep a second costs one short transaction
/// per replica.
public struct InventoryOutboxRelay: Service {
    let inventory: InventoryStore
    let queue: RedisJobQueue
    /// The pause between sweeps: how long a stock change may wait, at most, before it is relayed.
    let interval: Duration
    let batchSize: Int
    let logger: Logger

    public init(postgres: PostgresClient, queue: RedisJobQueue, interval: Duration, batchSize: Int = 500, logger: Logger) {
        self.inventory = InventoryStore(client: postgres)
        self.queue = queue
        self.interval = interval
        self.batchSize = batchSize
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await self.relayAll()
                try? await Task.sleep(for: self.interval)
            }
        }
    }

    /// Relays batches until the outbox is empty.
    func relayAll() async {
        do {
            while try await self.relayBatch() == self.batchSize {}
        } catch {
            // Cancelled by a shutdown mid-batch: the transaction rolled back and the rows wait for the next worker.
            if Task.isCancelled { return }
            self.logger.error("stock-change relay failed; the sweep retries", metadata: ["error": "\(error)"])
        }
    }

    /// Relays one batch; returns how many outbox rows it took (several rows of one variant make one push).
    @discardableResult
    public func relayBatch() async throws -> Int {
        try await self.inventory.relayOutbox(limit: self.batchSize, logger: self.logger) { changes in
            // A span for a batch that relays something (not for every empty sweep); the pushes continue its trace.
            guard !changes.isEmpty else { return }
            try await withSpan("inventory relay", ofKind: .producer) { span in
                span.attributes["flowpos.relay.changes"] = changes.count
                let traceContext = JobTracing.isActive ? JobTracing.carrier(of: span.context) : nil
                for change in changes where change.mapped {
                    let job = InventoryPushJob.envelope(
                        .init(variantId: change.variantId),
                        businessId: change.businessId,
                        dedupeKey: InventoryPushJob.dedupeKey(variantId: change.variantId),
                        traceContext: traceContext
                    )
                    // A pending push of the variant will read the latest quantity: one is enough.
                    try await self.queue.enqueue(InventoryPushJob.self, job, dedupeWindow: .seconds(3600))
                }
                let unmapped = changes.count { !$0.mapped }
                span.attributes["flowpos.relay.unmapped"] = unmapped
                if unmapped > 0 { self.logger.debug("stock changes of variants not in Shopify skipped", metadata: ["count": "\(unmapped)"]) }
            }
        }
    }
}
