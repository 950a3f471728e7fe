import EcommerceJobs
import Foundation
import JobQueue
import Logging
import PostgresNIO
import ServiceLifecycle
import Storage

/// Moves stock changes from the outbox to `ecommerce-inventory` jobs, one pending job per variant.
///
/// Woken by `NOTIFY ecommerce_inventory` (the trigger sends it) and by a periodic sweep, which also covers missed
/// notifications and a listener that reconnects. Safe in every worker replica at once: each takes rows with
/// `FOR UPDATE SKIP LOCKED`, and rows are deleted only once their jobs are enqueued.
public struct InventoryOutboxRelay: Service {
    let postgres: PostgresClient
    let inventory: InventoryStore
    let queue: RedisJobQueue
    let sweepInterval: Duration
    /// The pause after each relay, bounding relays to a few a second; a stock change waits at most this long more.
    let gatherDelay: Duration
    let batchSize: Int
    let logger: Logger

    public init(
        postgres: PostgresClient,
        queue: RedisJobQueue,
        sweepInterval: Duration,
        gatherDelay: Duration = .milliseconds(200),
        batchSize: Int = 500,
        logger: Logger
    ) {
        self.postgres = postgres
        self.inventory = InventoryStore(client: postgres)
        self.queue = queue
        self.sweepInterval = sweepInterval
        self.gatherDelay = gatherDelay
        self.batchSize = batchSize
        self.logger = logger
    }

    public func run() async throws {
        let (wakeUps, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.listen(wake) }
                group.addTask {
                    while !Task.isCancelled {
                        wake.yield()
                        try? await Task.sleep(for: self.sweepInterval)
                    }
                }
                for await _ in wakeUps {
                    if Task.isCancelled { break }
                    await self.relayAll()
                    // Wait a moment so that the next batch gathers many changes: the listener's wake-ups (on listening
                    // again, and at its first notification) and the sweep's coalesce meanwhile into one pass.
                    try? await Task.sleep(for: self.gatherDelay)
                }
                group.cancelAll()
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
            for change in changes where change.mapped {
                let job = InventoryPushJob.envelope(
                    .init(variantId: change.variantId),
                    businessId: change.businessId.uuidString.lowercased(),
                    dedupeKey: InventoryPushJob.dedupeKey(variantId: change.variantId)
                )
                // A pending push of the variant will read the latest quantity: one is enough.
                try await self.queue.enqueue(InventoryPushJob.self, job, dedupeWindow: .seconds(3600))
            }
            let unmapped = changes.count { !$0.mapped }
            if unmapped > 0 { self.logger.debug("stock changes of variants not in Shopify skipped", metadata: ["count": "\(unmapped)"]) }
        }
    }

    /// Turns stock-change notifications into relay passes, listening only until the first one arrives.
    ///
    /// Under load every order's commit notifies, and each notification wakes every relaying worker and its
    /// PostgreSQL backend, only to be folded into the next batch anyway (it cost more than a tenth of a worker's
    /// CPU per order). So after a notification the listener stops listening for the gather delay; on listening
    /// again it asks for a pass, which relays whatever committed while nobody listened.
    private func listen(_ wake: AsyncStream<Void>.Continuation) async {
        while !Task.isCancelled {
            do {
                try await self.postgres.withConnection { connection in
                    while !Task.isCancelled {
                        try await connection.listen(on: "ecommerce_inventory") { notifications in
                            wake.yield()  // LISTEN is in place: a change this pass does not see will notify
                            for try await _ in notifications { break }
                        }
                        wake.yield()
                        try await Task.sleep(for: self.gatherDelay)
                    }
                }
            } catch {
                if Task.isCancelled { return }
                self.logger.warning("stock-change listener lost its connection; reconnecting", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }
}
