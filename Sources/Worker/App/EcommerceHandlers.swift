import EcommerceJobs
import Foundation
import JobQueue
import Logging
import Metrics
import PostgresNIO
import Shopify
import ShopifyAdmin
import Storage

/// The handlers of the ecommerce job kinds, registered on one ``JobRegistry``.
public struct EcommerceHandlers: Sendable {
    let ingestor: OrderIngestor
    let connections: ConnectionStore
    let syncLogs: SyncLogStore
    let productPush: ProductPush
    let bulkProductPush: BulkProductPush
    let inventoryPush: InventoryPush
    let inventoryReconciliation: InventoryReconciliation
    let collectionPush: CollectionPush
    let orderPoll: OrderPoll
    let accounts: ShopifyAccounts
    /// The dashboard's per-minute counts (the ingestion lag); none in tests that do not read them.
    let activity: ActivityCounters?

    public init(
        postgres: PostgresClient,
        queue: RedisJobQueue,
        shopify: ShopifyAdminClient,
        tokenCipher: TokenCipher?,
        pollOverlap: Duration = .seconds(300),
        pollPageSize: Int = ShopifyAdminClient.maxOrdersPerPage,
        tokenRefresh: ShopifyOAuthClient? = nil,
        activity: ActivityCounters? = nil,
        bulkPush: BulkPushSettings = BulkPushSettings(),
        databasePooling: DatabasePooling = .session,
        ingestBatching: IngestBatching = .off
    ) {
        self.activity = activity
        self.ingestor = OrderIngestor(client: postgres, pooling: databasePooling, batching: ingestBatching)
        self.connections = ConnectionStore(client: postgres)
        self.syncLogs = SyncLogStore(client: postgres)
        let accounts = ShopifyAccounts(
            connections: self.connections,
            cipher: tokenCipher,
            client: shopify,
            oauth: tokenRefresh,
            redis: queue.redis
        )
        self.accounts = accounts
        let catalog = ProductPushStore(client: postgres)
        self.productPush = ProductPush(catalog: catalog, syncLogs: self.syncLogs, accounts: accounts, queue: queue, bulkThreshold: bulkPush.threshold)
        self.bulkProductPush = BulkProductPush(
            catalog: catalog,
            pushes: BulkPushStore(client: postgres),
            syncLogs: self.syncLogs,
            accounts: accounts,
            settings: bulkPush
        )
        self.collectionPush = CollectionPush(
            catalog: catalog,
            collections: CollectionPushStore(client: postgres),
            syncLogs: self.syncLogs,
            accounts: accounts,
            queue: queue
        )
        self.orderPoll = OrderPoll(
            accounts: accounts,
            connections: self.connections,
            ingestor: self.ingestor,
            syncLogs: self.syncLogs,
            queue: queue,
            overlap: pollOverlap,
            pageSize: pollPageSize
        )
        let inventory = InventoryStore(client: postgres)
        self.inventoryPush = InventoryPush(inventory: inventory, accounts: accounts, queue: queue)
        self.inventoryReconciliation = InventoryReconciliation(inventory: inventory, accounts: accounts, syncLogs: self.syncLogs)
    }

    /// A registry with every ecommerce job kind; Shopify's rate limit hands a job back without spending an attempt.
    public func registry() -> JobRegistry {
        var registry = JobRegistry()
        registry.mapError = { error in JobRetryLater.retry(for: error) ?? error }
        registry.register(OrderIngestJob.self) { envelope, context in
            try await self.ingestOrder(envelope, context: context)
        }
        registry.register(OrderChangeNoticeJob.self) { envelope, context in
            try await self.noteOrderChange(envelope, context: context)
        }
        registry.register(ShopEventJob.self) { envelope, context in
            try await self.handleShopEvent(envelope, context: context)
        }
        registry.register(ProductPushPlanJob.self) { envelope, context in
            try await self.productPush.plan(envelope, context: context)
        }
        registry.register(ProductPushPageJob.self) { envelope, context in
            try await self.productPush.page(envelope, context: context)  // a page handles a 401 itself (PagedPush.runPage)
        }
        registry.register(ProductBulkPushJob.self) { envelope, context in
            try await self.bulkProductPush.run(envelope, context: context)  // handles a 401 itself
        }
        registry.register(BulkOperationFinishJob.self) { envelope, context in
            try await self.bulkProductPush.finished(envelope, context: context)  // handles a 401 itself
        }
        registry.register(CollectionPushPlanJob.self) { envelope, context in
            try await self.collectionPush.plan(envelope, context: context)
        }
        registry.register(CollectionPushPageJob.self) { envelope, context in
            try await self.collectionPush.page(envelope, context: context)  // a page handles a 401 itself (PagedPush.runPage)
        }
        registry.register(OrderPollJob.self) { envelope, context in
            try await self.recoveringToken(envelope, context) { try await self.orderPoll.poll(envelope, context: context) }
        }
        registry.register(InventoryPushJob.self) { envelope, context in
            try await self.recoveringToken(envelope, context) { try await self.inventoryPush.push(envelope, context: context) }
        }
        registry.register(InventoryReconcileJob.self) { envelope, context in
            try await self.recoveringToken(envelope, context) { try await self.inventoryReconciliation.reconcile(envelope, context: context) }
        }
        return registry
    }

    func ingestOrder(_ envelope: JobEnvelope<OrderIngestJob.Payload>, context: JobContext) async throws {
        let businessId = try Self.businessId(of: envelope)
        let payload = envelope.payload
        let result: OrderIngestionResult
        do {
            result = try await self.ingestor.ingest(
                businessId: businessId,
                order: payload.order,
                source: payload.source.rawValue,
                reference: payload.webhookId.map { "webhook:\($0)" },
                alone: context.header.attempt > 0,  // a retry does not share a batch again
                logger: context.logger
            )
        } catch let error as OrderIngestionError {
            guard case .invalidOrder = error else { throw error }  // contention is retried with backoff
            throw PermanentJobError(code: "invalid_order", message: error.description)
        }
        if !result.unmappedLineIds.isEmpty {
            context.logger.warning(
                "order lines without a FlowPOS variant",
                metadata: ["order.id": "\(payload.order.id)", "lines": "\(result.unmappedLineIds)"]
            )
        }
        if payload.source == .webhook && result.outcome == .applied {
            // From the delivery's arrival at the gateway (the envelope's time) to its stock commit.
            let lag = max(0, Date().timeIntervalSince(envelope.enqueuedAt))
            Self.ingestLag.recordSeconds(lag)
            self.activity?.add(.ingestLag(seconds: lag))
        }
        context.logger.debug("order ingested", metadata: ["order.id": "\(payload.order.id)", "outcome": "\(result.outcome.rawValue)"])
    }

    /// `ecommerce_order_ingest_lag_seconds`: how long a webhook's order took from the gateway to FlowPOS's stock.
    static let ingestLag = Timer(label: "ecommerce_order_ingest_lag_seconds", dimensions: [("source", "webhook")])

    func noteOrderChange(_ envelope: JobEnvelope<OrderChangeNoticeJob.Payload>, context: JobContext) async throws {
        struct Details: Encodable {
            var topic: String
            var orderId: Int64
            var changeId: Int64?
            var note = "stock follows the order's next state (orders/updated or the poll)"
        }
        let payload = envelope.payload
        try await self.syncLogs.recordEvent(
            businessId: try Self.businessId(of: envelope),
            kind: "order_change",
            status: "noted",
            details: Details(topic: payload.topic, orderId: payload.change.orderId, changeId: payload.change.changeId),
            reference: payload.webhookId.map { "webhook:\($0)" },
            logger: context.logger
        )
        context.logger.info("order change noted", metadata: ["order.id": "\(payload.change.orderId)", "topic": "\(payload.topic)"])
    }

    func handleShopEvent(_ envelope: JobEnvelope<ShopEventJob.Payload>, context: JobContext) async throws {
        let businessId = try Self.businessId(of: envelope)
        guard let shop = envelope.shop else { throw PermanentJobError(code: "missing_shop", message: "shop event without a shop") }
        switch WebhookTopic(rawValue: envelope.payload.topic) {
        case .appUninstalled:
            let triggeredAt = envelope.payload.triggeredAtDate
            let changed = try await self.connections.markUninstalled(
                businessId: businessId,
                shop: shop,
                triggeredAt: triggeredAt,
                logger: context.logger
            )
            if !changed, let triggeredAt,
                let installed = try await self.connections.account(businessId: businessId, logger: context.logger)?.installedAt,
                installed > triggeredAt
            {
                // A retry delivered after the merchant reinstalled: the uninstall it reports ended an earlier install.
                context.logger.notice(
                    "app/uninstalled triggered before the current install; the connection is left as it is",
                    metadata: ["triggered_at": "\(envelope.payload.triggeredAt ?? "")", "installed_at": "\(installed)"]
                )
                return
            }
            context.logger.info("app uninstalled: connection marked uninstalled", metadata: ["changed": "\(changed)"])
        case .shopRedact:
            let deleted = try await self.connections.redactShop(businessId: businessId, shop: shop, logger: context.logger)
            context.logger.notice("shop/redact handled", metadata: ["deleted": "\(deleted)"])
        case .customersDataRequest, .customersRedact:
            // Nothing to hand over or erase: ingestion keeps no customer data (only ids, SKUs and quantities).
            context.logger.notice("privacy webhook acknowledged; no customer data is stored", metadata: ["topic": "\(envelope.payload.topic)"])
        default:
            throw PermanentJobError(code: "unsupported_topic", message: "\(envelope.payload.topic) is not a shop event")
        }
    }

    /// Runs a job that calls Shopify; a 401 refreshes the business's token once and hands the job back.
    func recoveringToken<Payload>(_ envelope: JobEnvelope<Payload>, _ context: JobContext, _ body: () async throws -> Void) async throws {
        try await self.accounts.recoveringToken(businessId: try Self.businessId(of: envelope), logger: context.logger, body)
    }

    static func businessId<Payload>(of envelope: JobEnvelope<Payload>) throws -> UUID {
        guard let id = envelope.businessId else {
            throw PermanentJobError(code: "missing_business", message: "the envelope has no businessId")
        }
        return id
    }
}
