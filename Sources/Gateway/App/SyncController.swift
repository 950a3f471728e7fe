import EcommerceJobs
import Foundation
import Hummingbird
import JobQueue
import Logging
import Operations
import Storage

/// `POST /ecommerce/sync/products` and `POST /ecommerce/sync/collections` start a push, `POST
/// /ecommerce/sync/inventory` a stock reconciliation (202 with its sync log id); `GET /ecommerce/sync/logs/{id}`
/// reads a run's counters and progress. Admin routes: JWT required.
struct SyncController: Sendable {
    let authenticator: AdminAuthenticator
    let connections: ConnectionStore
    let syncLogs: SyncLogStore
    let queue: RedisJobQueue
    let productPageSize: Int

    struct Started: Encodable {
        var syncLogId: UUID
        var status: String
    }

    func addRoutes(to router: Router<some RequestContext>) {
        router.post("/ecommerce/sync/products") { request, context in
            try await self.startPush(ProductPushPlanJob.self, kind: "product_push", request, logger: context.logger)
        }
        router.post("/ecommerce/sync/collections") { request, context in
            try await self.startPush(CollectionPushPlanJob.self, kind: "collection_push", request, logger: context.logger)
        }
        router.post("/ecommerce/sync/inventory") { request, context in
            try await self.startPush(InventoryReconcileJob.self, kind: "inventory_reconcile", request, logger: context.logger)
        }
        router.post("/ecommerce/sync/poll") { request, context in
            try await self.requestPoll(request, logger: context.logger)
        }
        router.get("/ecommerce/sync/logs") { request, context -> Response in
            let principal = try await self.authenticator.authenticate(request)
            let query = request.uri.queryParameters
            let businessId = try self.authenticator.business(for: principal, requested: query.get("businessId"))
            // A limit that is not a number is refused like one out of range, not read as the default.
            let limit = query.get("limit").map { Int($0) } ?? 20
            guard let limit, (1...500).contains(limit) else { return .error(.badRequest, code: "invalid_limit", message: "limit must be 1…500") }
            let kind = query.get("kind")
            if let kind, !SyncLogStore.kinds.contains(kind) {
                return .error(
                    .badRequest,
                    code: "invalid_kind",
                    message: "kind must be one of \(SyncLogStore.kinds.sorted().joined(separator: ", "))"
                )
            }
            let runs = try await self.syncLogs.runs(businessId: businessId, kind: kind, limit: limit, logger: context.logger)
            return .json(["logs": runs])
        }
        router.get("/ecommerce/sync/logs/:id") { request, context -> Response in
            let principal = try await self.authenticator.authenticate(request)
            guard let id = context.parameters.get("id").flatMap(UUID.init(uuidString:)),
                let run = try await self.syncLogs.run(id: id, logger: context.logger),
                self.authenticator.mayAccess(principal, businessId: run.businessId)
            else {
                return .error(.notFound, code: "not_found", message: "no such sync log")
            }
            return .json(run)
        }
    }

    /// Enqueues a poll now, one pending at a time per business: 202, or 409 while one is pending.
    private func requestPoll(_ request: Request, logger: Logger) async throws -> Response {
        let principal = try await self.authenticator.authenticate(request)
        let businessId = try self.authenticator.business(for: principal, requested: request.uri.queryParameters.get("businessId"))
        guard let account = try await self.connections.account(businessId: businessId, logger: logger), account.status == .active else {
            return .error(.conflict, code: "not_connected", message: "the business has no active Shopify connection")
        }
        let job = OrderPollJob.envelope(
            .init(slot: nil),
            businessId: businessId,
            shop: account.shop,
            dedupeKey: OrderPollJob.requestKey(businessId: businessId)
        )
        let result: EnqueueResult
        do {
            result = try await self.queue.enqueue(OrderPollJob.self, job, dedupeWindow: .seconds(900))
        } catch {
            logger.error("could not enqueue a poll", metadata: ["error": "\(error)"])
            return .error(.serviceUnavailable, code: "queue_unavailable", message: "try again later", headers: [.retryAfter: "5"])
        }
        guard result == .enqueued else { return .error(.conflict, code: "poll_pending", message: "a poll of this business is already pending") }
        return .json(["status": "queued"], status: .accepted)
    }

    /// Opens a run and enqueues its first job (a push's plan, a reconciliation): 202 with the sync log id.
    private func startPush<Plan: JobDefinition>(_ plan: Plan.Type, kind: String, _ request: Request, logger: Logger) async throws -> Response
    where Plan.Payload == ProductPushPlanJob.Payload {
        let principal = try await self.authenticator.authenticate(request)
        let businessId = try self.authenticator.business(for: principal, requested: request.uri.queryParameters.get("businessId"))
        guard let account = try await self.connections.account(businessId: businessId, logger: logger), account.status == .active else {
            return .error(.conflict, code: "not_connected", message: "the business has no active Shopify connection")
        }
        let runId = try await self.syncLogs.startRun(businessId: businessId, kind: kind, reference: nil, logger: logger)
        let job = Plan.envelope(
            .init(runId: runId, pageSize: self.productPageSize),
            businessId: businessId,
            shop: account.shop
        )
        do {
            try await self.queue.enqueue(Plan.self, job)
        } catch {
            logger.error("could not enqueue a push", metadata: ["kind": "\(kind)", "error": "\(error)"])
            _ = try? await self.syncLogs.fail(
                runId: runId,
                error: SyncError(code: "queue_unavailable", message: "the job queue is unavailable"),
                logger: logger
            )
            return .error(.serviceUnavailable, code: "queue_unavailable", message: "try again later", headers: [.retryAfter: "5"])
        }
        logger.info("push started", metadata: ["kind": "\(kind)", "run.id": "\(runId)", "business.id": "\(businessId)"])
        return .json(Started(syncLogId: runId, status: "running"), status: .accepted)
    }
}
