import EcommerceJobs
import Foundation
import Hummingbird
import JobQueue
import Logging
import OpsHTTP
import Storage

/// `POST /ecommerce/sync/products` starts a push (202 with its sync log id); `GET /ecommerce/sync/logs/{id}`
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
            try await self.guarded { try await self.startProductPush(request, logger: context.logger) }
        }
        router.get("/ecommerce/sync/logs/:id") { request, context in
            try await self.guarded {
                let principal = try self.authenticator.authenticate(request)
                guard let id = context.parameters.get("id").flatMap(UUID.init(uuidString:)),
                    let run = try await self.syncLogs.run(id: id, logger: context.logger),
                    self.authenticator.mayAccess(principal, businessId: run.businessId)
                else {
                    return .error(.notFound, code: "not_found", message: "no such sync log")
                }
                return .json(run)
            }
        }
    }

    /// Turns authentication failures into their answers.
    private func guarded(_ body: () async throws -> Response) async throws -> Response {
        do {
            return try await body()
        } catch let error as AdminAuthError {
            return error.response
        }
    }

    private func startProductPush(_ request: Request, logger: Logger) async throws -> Response {
        let principal = try self.authenticator.authenticate(request)
        let businessId = try self.authenticator.business(for: principal, requested: request.uri.queryParameters.get("businessId"))
        guard let account = try await self.connections.account(businessId: businessId, logger: logger), account.status == .active else {
            return .error(.conflict, code: "not_connected", message: "the business has no active Shopify connection")
        }
        let runId = try await self.syncLogs.startRun(businessId: businessId, kind: "product_push", reference: nil, logger: logger)
        let job = ProductPushPlanJob.envelope(
            .init(runId: runId, pageSize: self.productPageSize),
            businessId: businessId.uuidString.lowercased(),
            shop: account.shop
        )
        do {
            try await self.queue.enqueue(ProductPushPlanJob.self, job)
        } catch {
            logger.error("could not enqueue a product push", metadata: ["error": "\(error)"])
            try? await self.syncLogs.fail(
                runId: runId,
                error: SyncError(code: "queue_unavailable", message: "the job queue is unavailable"),
                logger: logger
            )
            return .error(.serviceUnavailable, code: "queue_unavailable", message: "try again later", headers: [.retryAfter: "5"])
        }
        logger.info("product push started", metadata: ["run.id": "\(runId)", "business.id": "\(businessId)"])
        return .json(Started(syncLogId: runId, status: "running"), status: .accepted)
    }
}
