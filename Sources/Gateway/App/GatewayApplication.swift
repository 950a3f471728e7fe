import AsyncHTTPClient
import Diagnostics
import EcommerceJobs
import Foundation
import HTTPTypes
import Hummingbird
import JSONBytes
import JobQueue
import Logging
import NIOCore
import Operations
import PostgresNIO
import ProcessEnvironment
import Prometheus
import RedisClient
import ServiceLifecycle
import Shopify
import ShopifyAdmin
import Storage

/// Builds the gateway: routes, their dependencies and the services they need (the PostgreSQL client).
///
/// `main` and the tests both call this; the caller owns `redis` and shuts it down after the application stops.
public func buildGatewayApplication(
    configuration: GatewayConfiguration,
    redis: RedisClient,
    postgres: PostgresClient,
    metricsRegistry: PrometheusCollectorRegistry,
    logger: Logger
) -> some ApplicationProtocol {
    let routes = buildGatewayRoutes(configuration: configuration, redis: redis, postgres: postgres, metricsRegistry: metricsRegistry, logger: logger)
    return Application(
        router: routes.router,
        server: .http1(
            webhooks: routes.webhooks,
            timeouts: HTTPTimeouts(idle: TimeAmount(configuration.idleTimeout), read: TimeAmount(configuration.readTimeout))
        ),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "ecommerce-gateway"),
        services: routes.services,
        logger: logger
    )
}

/// The gateway's router (every route but the webhook fast path's, which ``WebhookIntake`` also serves through it),
/// the intake for the fast path, and the services the routes need.
public struct GatewayRoutes {
    public let router: Router<BasicRequestContext>
    let webhooks: WebhookIntake
    let services: [any Service]
}

/// The routes of ``buildGatewayApplication(configuration:redis:postgres:metricsRegistry:logger:)``; the route coverage
/// test compares them with the OpenAPI document.
public func buildGatewayRoutes(
    configuration: GatewayConfiguration,
    redis: RedisClient,
    postgres: PostgresClient,
    metricsRegistry: PrometheusCollectorRegistry,
    logger: Logger
) -> GatewayRoutes {
    let router = Router()
    router.add(middleware: RequestIdMiddleware())
    let authenticator = AdminAuthenticator(secret: configuration.jwtSecret, audience: configuration.jwtAudience, issuer: configuration.jwtIssuer)
    // Webhooks are served ahead of the router, from the connection's bytes (see WebhookChannelHandler).
    // Webhooks by answer per minute, for the dashboard's charts (flushed to Redis every few seconds).
    let activity = ActivityCounters(redis: redis, logger: logger)
    var webhookQueue = RedisJobQueue(redis: redis)
    webhookQueue.dedupeWindow = configuration.webhookDedupeWindow
    let webhooks = WebhookIntake(
        verifier: WebhookSignatureVerifier(secret: configuration.apiSecret, previousSecret: configuration.previousApiSecret),
        shops: ShopDirectory(store: ConnectionStore(client: postgres), ttl: configuration.shopCacheTTL),
        queue: webhookQueue,
        maxBodyBytes: configuration.maxWebhookBodyBytes,
        metrics: WebhookMetrics(activity: activity),
        logger: logger
    )
    webhooks.addRoutes(to: router)
    SyncController(
        authenticator: authenticator,
        connections: ConnectionStore(client: postgres),
        syncLogs: SyncLogStore(client: postgres),
        queue: RedisJobQueue(redis: redis),
        productPageSize: configuration.productPageSize
    ).addRoutes(to: router)
    ConnectionController(
        authenticator: authenticator,
        connections: ConnectionStore(client: postgres),
        redis: redis
    )
    .addRoutes(to: router)
    if let oauth = configuration.oauth {
        OAuthController(
            configuration: oauth,
            apiSecret: configuration.apiSecret,
            authenticator: authenticator,
            connections: ConnectionStore(client: postgres),
            oauth: ShopifyOAuthClient(
                configuration: oauth.shopify,
                apiKey: oauth.apiKey,
                apiSecret: configuration.apiSecret,
                http: HTTPClient.shared
            ),
            shopify: ShopifyAdminClient(configuration: oauth.shopify, http: HTTPClient.shared, budget: ShopifyCostBudget(redis: redis)),
            queue: RedisJobQueue(redis: redis),
            schedule: PollSchedule(redis: redis, interval: configuration.pollInterval)
        ).addRoutes(to: router)
    } else {
        router.get("/ecommerce/oauth/:step") { _, _ in
            Response.error(
                .serviceUnavailable,
                code: "oauth_not_configured",
                message: "set SHOPIFY_API_KEY, PUBLIC_BASE_URL, APP_REDIRECT_URL and TOKEN_ENCRYPTION_KEYS"
            )
        }
    }
    OpsDashboardController(
        authenticator: authenticator,
        reports: OpsReports(redis: redis, postgres: postgres),
        queue: RedisJobQueue(redis: redis),
        doctor: BusinessDoctor(
            postgres: postgres,
            redis: redis,
            shopify: configuration.oauth.map {
                BusinessDoctor.ShopifyAccess(
                    client: ShopifyAdminClient(
                        configuration: BusinessDoctor.ShopifyAccess.configuration($0.shopify),
                        http: HTTPClient.shared,
                        budget: ShopifyCostBudget(redis: redis)
                    ),
                    cipher: $0.tokenCipher
                )
            },
            neededScopes: configuration.oauth?.scopes ?? ShopifyAccessScopes.needed,
            publicBaseURL: configuration.oauth?.publicBaseURL,
            pollInterval: configuration.pollInterval
        ),
        doctorAdmission: DoctorAdmission(minInterval: configuration.doctorMinInterval),
        tracer: OrderTracer(postgres: postgres, redis: redis),
        redis: redis
    ).addRoutes(to: router)
    let queueTruth = QueueTruthMetrics(
        queue: RedisJobQueue(redis: redis),
        postgres: postgres,
        registry: metricsRegistry,
        interval: configuration.metricsRefreshInterval
    )
    let health = HealthController(redis: redis, postgres: postgres, metricsRegistry: metricsRegistry) { logger in
        await queueTruth.refreshIfDue(logger: logger)
    }
    var services: [any Service] = [postgres, activity]
    if let metricsPort = configuration.metricsPort {
        // Metrics on a port of their own (not exposed to the internet); the public port keeps /healthz and /readyz.
        let metricsRouter = Router()
        health.addRoutes(to: metricsRouter)
        health.addProbeRoutes(to: router)
        services.append(
            Application(
                router: metricsRouter,
                configuration: .init(address: .hostname(configuration.metricsHost, port: metricsPort), serverName: "ecommerce-gateway-metrics"),
                logger: logger
            )
        )
    } else {
        health.addRoutes(to: router)
    }
    OpenAPIDocument.addRoute(to: router)
    return GatewayRoutes(router: router, webhooks: webhooks, services: services)
}

/// Puts a `request.id` on the request's logger (from `X-Request-Id` when the caller sent one).
struct RequestIdMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let id = request.headers[.requestId].map { String($0.prefix(64)) } ?? UUID.random().lowercasedString
        context.logger[metadataKey: "request.id"] = "\(id)"
        return try await next(request, context)
    }
}

extension HTTPField.Name {
    /// `X-Request-Id`: the caller's name for a request, carried into our logs (router and webhook fast path alike).
    static let requestId = HTTPField.Name("X-Request-Id")!
}
