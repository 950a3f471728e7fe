import EcommerceJobs
import Foundation
import Hummingbird
import Logging
import Operations
import RedisClient
import Storage

/// `GET /ecommerce/connection` (status, shop, scopes, location, last sync, next poll; never tokens) and
/// `DELETE /ecommerce/connection` (disconnect: polling stops, tokens are wiped, history stays). Admin JWT.
struct ConnectionController: Sendable {
    let authenticator: AdminAuthenticator
    let connections: ConnectionStore
    let redis: RedisClient

    func addRoutes(to router: Router<some RequestContext>) {
        router.get("/ecommerce/connection") { request, context -> Response in
            let principal = try await self.authenticator.authenticate(request)
            let businessId = try self.authenticator.business(for: principal, requested: request.uri.queryParameters.get("businessId"))
            guard var summary = try await self.connections.summary(businessId: businessId, logger: context.logger) else {
                return .error(.notFound, code: "not_connected", message: "the business has never been connected")
            }
            let score = try? await self.redis.send(["ZSCORE", RedisArgument(PollSchedule.key), RedisArgument(businessId.uuidString.lowercased())])
            summary.nextPollAt = score?.text.flatMap(Double.init).map { Date(timeIntervalSince1970: $0 / 1000) }
            return .json(summary)
        }
        router.delete("/ecommerce/connection") { request, context -> Response in
            let principal = try await self.authenticator.authenticate(request)
            let businessId = try self.authenticator.business(for: principal, requested: request.uri.queryParameters.get("businessId"))
            guard try await self.connections.disconnect(businessId: businessId, logger: context.logger) else {
                return .error(.notFound, code: "not_connected", message: "the business has no active connection")
            }
            // The schedulers' reconciliation would drop it within a minute; do not wait for them.
            _ = try? await self.redis.send(["ZREM", RedisArgument(PollSchedule.key), RedisArgument(businessId.uuidString.lowercased())])
            context.logger.info("business disconnected", metadata: ["business.id": "\(businessId)"])
            return Response(status: .noContent)
        }
    }
}
