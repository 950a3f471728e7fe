import Diagnostics
import EcommerceJobs
import Foundation
import HTTPTypes
import Hummingbird
import JobQueue
import Logging
import Operations
import RedisClient

/// The ops dashboard: `GET /ops` serves a page (no data in it) whose script asks for an ops token and then reads
/// `GET /ops/api/overview` and `GET /ops/api/activity?minutes=` (the charts' per-minute counts) every few seconds;
/// `GET /ops/api/dead-letters/{queue}?cursor=&limit=` pages through a
/// queue's dead letters; `POST /ops/api/dead-letters/{queue}/{id}/retry` puts a dead letter back on its queue. The API
/// takes `Authorization: Bearer <JWT>` with `role: "ops"`; a merchant token gets 403, except for its own business's
/// `GET /ops/api/businesses/{id}/doctor` (the checklist; `POST …/doctor/fix` is ops only) and
/// `GET /ops/api/businesses/{id}/orders/{orderId}/trace` (an order's trace).
///
/// The token travels in a header, never in a cookie, so there is nothing for another site to ride on (no CSRF); the
/// page renders every value as text (no markup from data) and the Content-Security-Policy allows only this origin's
/// script and style.
struct OpsDashboardController: Sendable {
    let authenticator: AdminAuthenticator
    let reports: OpsReports
    let queue: RedisJobQueue
    let doctor: BusinessDoctor
    /// At most one doctor run (and one fix) per business per interval: each spends the shop's Shopify budget.
    let doctorAdmission: DoctorAdmission
    let tracer: OrderTracer
    /// Where the activity charts' counts are.
    let redis: RedisClient
    /// The overview's schedule comparison, read at most every 30 s whatever the number of open dashboards.
    let schedule = SharedScheduleReport(maxAge: .seconds(30))

    static let securityHeaders: HTTPFields = [
        HTTPField.Name("Content-Security-Policy")!:
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        HTTPField.Name("Referrer-Policy")!: "no-referrer",
        .cacheControl: "no-store",
    ]

    func addRoutes(to router: Router<some RequestContext>) {
        router.get("/ops") { _, _ in Self.asset(DashboardAssets.html, type: "text/html; charset=utf-8") }
        router.get("/ops/dashboard.js") { _, _ in Self.asset(DashboardAssets.script, type: "text/javascript; charset=utf-8") }
        router.get("/ops/dashboard.css") { _, _ in Self.asset(DashboardAssets.style, type: "text/css; charset=utf-8") }
        router.get("/ops/api/overview") { request, context in
            try await self.asOperator(request) {
                do {
                    let schedule = try await self.schedule.report(from: self.reports, logger: context.logger)
                    return .json(try await self.reports.overview(schedule: schedule, logger: context.logger), headers: [.cacheControl: "no-store"])
                } catch {
                    return Self.unavailable("ops overview failed", error: error, logger: context.logger)
                }
            }
        }
        router.get("/ops/api/activity") { request, context in
            try await self.asOperator(request) {
                let minutes = request.uri.queryParameters.get("minutes").map { Int($0) } ?? 60
                guard let minutes, (1...120).contains(minutes) else {
                    return .error(.badRequest, code: "invalid_minutes", message: "minutes must be 1…120")
                }
                do {
                    return .json(try await ActivityCounters.report(redis: self.redis, minutes: minutes), headers: [.cacheControl: "no-store"])
                } catch {
                    return Self.unavailable("activity report failed", error: error, logger: context.logger)
                }
            }
        }
        router.get("/ops/api/dead-letters/:queue") { request, context in
            try await self.asOperator(request) {
                guard let queue = context.parameters.get("queue"), EcommerceQueue.all.contains(queue) else {
                    return .error(.notFound, code: "not_found", message: "no such queue")
                }
                let cursor = request.uri.queryParameters.get("cursor") ?? "0"
                let limit = request.uri.queryParameters.get("limit").map { Int($0) } ?? 50
                guard UInt64(cursor) != nil, let limit, (1...500).contains(limit) else {
                    return .error(.badRequest, code: "invalid_page", message: "cursor must be a number a previous page gave, limit 1…500")
                }
                do {
                    return .json(
                        try await self.reports.deadLetterPage(queue: queue, cursor: cursor, limit: limit),
                        headers: [.cacheControl: "no-store"]
                    )
                } catch RedisError.replyError {
                    // A number Redis does not take as a cursor of this hash.
                    return .error(.badRequest, code: "invalid_page", message: "cursor must be a number a previous page gave")
                }
            }
        }
        // The doctor of one business: an operator's, or the merchant's own (`fix` is the operator's only).
        router.get("/ops/api/businesses/:id/doctor") { request, context -> Response in
            let (principal, businessId) = try await self.requestedBusiness(request, context)
            guard self.authenticator.mayAccess(principal, businessId: businessId) else { throw AdminAuthError.forbidden }
            return try await self.examine(businessId, fix: false, logger: context.logger)
        }
        // An order's trace: an operator's, or the merchant's own.
        router.get("/ops/api/businesses/:id/orders/:order/trace") { request, context -> Response in
            let (principal, businessId) = try await self.requestedBusiness(request, context)
            guard let orderId = context.parameters.get("order").flatMap({ Int64($0) }), orderId > 0 else {
                return .error(.badRequest, code: "invalid_order_id", message: "the order id is Shopify's number for it")
            }
            guard self.authenticator.mayAccess(principal, businessId: businessId) else { throw AdminAuthError.forbidden }
            do {
                let trace = try await self.tracer.trace(businessId: businessId, orderId: orderId, logger: context.logger)
                return .json(trace, headers: [.cacheControl: "no-store"])
            } catch {
                return Self.unavailable("order trace failed", error: error, businessId: businessId, logger: context.logger)
            }
        }
        router.post("/ops/api/businesses/:id/doctor/fix") { request, context in
            try await self.asOperator(request) {
                let businessId = try Self.businessId(in: context)
                context.logger.notice("doctor run with fixes from the dashboard", metadata: ["business.id": "\(businessId)"])
                return try await self.examine(businessId, fix: true, logger: context.logger)
            }
        }
        router.post("/ops/api/dead-letters/:queue/:id/retry") { request, context in
            try await self.asOperator(request) {
                guard let queue = context.parameters.get("queue"), EcommerceQueue.all.contains(queue), let id = context.parameters.get("id") else {
                    return .error(.notFound, code: "not_found", message: "no such queue")
                }
                guard try await self.queue.retryDeadLetter(queue: queue, id: id) else {
                    return .error(.notFound, code: "not_found", message: "no such dead letter (already retried or purged?)")
                }
                context.logger.notice("dead letter retried from the dashboard", metadata: ["queue": "\(queue)", "job.id": "\(id)"])
                return .json(["retried": id])
            }
        }
    }

    private func examine(_ businessId: UUID, fix: Bool, logger: Logger) async throws -> Response {
        if let wait = self.doctorAdmission.admit(businessId, fix: fix) {
            let seconds = max(1, Int((Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18).rounded(.up)))
            return .error(
                .tooManyRequests,
                code: "doctor_busy",
                message: "the doctor of this business ran moments ago; run it again in \(seconds) s",
                headers: [.retryAfter: String(seconds)]
            )
        }
        do {
            return .json(try await self.doctor.examine(businessId: businessId, fix: fix, logger: logger), headers: [.cacheControl: "no-store"])
        } catch {
            return Self.unavailable("doctor failed", error: error, businessId: businessId, logger: logger)
        }
    }

    /// Who asks, and the business of the route's `:id` (400 when it is not a UUID); whether the principal may see it
    /// is each route's to check.
    private func requestedBusiness(_ request: Request, _ context: some RequestContext) async throws -> (AdminPrincipal, UUID) {
        let principal = try await self.authenticator.authenticate(request)
        return (principal, try Self.businessId(in: context))
    }

    private static func businessId(in context: some RequestContext) throws(AdminAuthError) -> UUID {
        guard let businessId = context.parameters.get("id").flatMap(UUID.init(uuidString:)) else {
            throw AdminAuthError(status: .badRequest, code: "invalid_business_id", message: "the business id must be a UUID")
        }
        return businessId
    }

    /// The answer when Redis or PostgreSQL did not: 503 with `Retry-After`, the cause in the log.
    private static func unavailable(_ failure: String, error: any Error, businessId: UUID? = nil, logger: Logger) -> Response {
        var metadata: Logger.Metadata = ["error": "\(error)"]
        if let businessId { metadata["business.id"] = "\(businessId)" }
        logger.error("\(failure)", metadata: metadata)
        return .error(.serviceUnavailable, code: "unavailable", message: "Redis or PostgreSQL did not answer", headers: [.retryAfter: "5"])
    }

    private static func asset(_ text: String, type: String) -> Response {
        var headers = Self.securityHeaders
        headers[.contentType] = type
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// Runs `body` for an operator; 401 without a valid token, 403 for a merchant's.
    private func asOperator(_ request: Request, _ body: () async throws -> Response) async throws -> Response {
        guard try await self.authenticator.authenticate(request) == .ops else {
            throw AdminAuthError(status: .forbidden, code: "forbidden", message: "an ops token is required")
        }
        return try await body()
    }
}
