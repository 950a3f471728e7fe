// swift-tools-version:6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    // A file uses only the modules it imports, not whatever another file of its module imported.
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "flowpos-ecommerce",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ecommerce-gateway", targets: ["Gateway"]),
        .executable(name: "ecommerce-worker", targets: ["Worker"]),
        .executable(name: "shopify-simulator", targets: ["ShopifySimulator"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/GraphQLSwift/GraphQL.git", from: "4.3.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        // OTLP over HTTP only: the gRPC exporter's dependencies would double the build.
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
    ],
    targets: [
        // The layers and what each module may import: docs/architecture.md (checked by scripts/check-layers.py).
        // Sources/Shared holds what both processes use; Sources/Gateway and Sources/Worker each process's own code,
        // an application library beside a thin @main.

        // hiredis 0.14 from Debian's libhiredis-dev; the only Redis client available here.
        .systemLibrary(
            name: "CHiredis",
            path: "Sources/Shared/CHiredis",
            pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        // JSON read and written straight from bytes, RFC 3339 dates, random UUIDs, any JSON value.
        .target(name: "JSONBytes", path: "Sources/Shared/JSONBytes", swiftSettings: swiftSettings),
        // The process's environment: variables read into typed values, logging and concurrency set-up.
        .target(
            name: "ProcessEnvironment",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Sources/Shared/ProcessEnvironment",
            swiftSettings: swiftSettings
        ),
        // Redis over NIO, replies parsed by hiredis.
        .target(
            name: "RedisClient",
            dependencies: [
                "CHiredis", "ProcessEnvironment",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/Shared/RedisClient",
            swiftSettings: swiftSettings
        ),
        // Platform facts: webhook signatures, shop domains, the order payload and its stock rule.
        .target(
            name: "Shopify",
            dependencies: [
                "JSONBytes",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/Shared/Shopify",
            swiftSettings: swiftSettings
        ),
        // PostgreSQL: migrations, connections and tokens, order ingestion, catalog, inventory, sync logs.
        .target(
            name: "Storage",
            dependencies: [
                "JSONBytes", "ProcessEnvironment",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            path: "Sources/Shared/Storage",
            swiftSettings: swiftSettings
        ),
        // The reliable job queue: the driver contract, the Redis driver, the worker.
        .target(
            name: "JobQueue",
            dependencies: [
                "RedisClient", "JSONBytes",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            path: "Sources/Shared/JobQueue",
            swiftSettings: swiftSettings
        ),
        // The GraphQL Admin API client and the per-shop cost budget shared through Redis.
        .target(
            name: "ShopifyAdmin",
            dependencies: [
                .product(name: "CoreMetrics", package: "swift-metrics"),
                "RedisClient", "Shopify", "JSONBytes", "ProcessEnvironment",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            path: "Sources/Shared/ShopifyAdmin",
            swiftSettings: swiftSettings
        ),
        // The job contract: kinds, queues and payloads shared by the gateway and the worker.
        .target(
            name: "EcommerceJobs",
            dependencies: [
                "JobQueue", "JSONBytes", "Shopify", "RedisClient", .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Shared/EcommerceJobs",
            swiftSettings: swiftSettings
        ),
        // What operating a process needs: the common configuration, health/readiness/metrics routes, JSON answers,
        // and the operator's reports (workers, queues, schedule, connections, runs, dead letters).
        .target(
            name: "Operations",
            dependencies: [
                "RedisClient", "JobQueue", "EcommerceJobs", "Storage", "ProcessEnvironment",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "OTel", package: "swift-otel"),
            ],
            path: "Sources/Shared/Operations",
            swiftSettings: swiftSettings
        ),
        // The troubleshooting checklist as code: the doctor of one business (and, next, an order's trace).
        .target(
            name: "Diagnostics",
            dependencies: [
                "EcommerceJobs", "JobQueue", "RedisClient", "Shopify", "ShopifyAdmin", "Storage",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Shared/Diagnostics",
            swiftSettings: swiftSettings
        ),
        // The gateway: webhook intake, OAuth, admin and ops routes.
        .target(
            name: "GatewayApp",
            dependencies: [
                .product(name: "HummingbirdCore", package: "hummingbird"),
                "ProcessEnvironment", "EcommerceJobs", "Storage", "Shopify", "RedisClient", "JobQueue", "Operations", "ShopifyAdmin",
                "JSONBytes", "Diagnostics",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            path: "Sources/Gateway/App",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "Gateway",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                "GatewayApp", "ProcessEnvironment", "RedisClient", "Operations",
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/Gateway/Main",
            swiftSettings: swiftSettings
        ),
        // The worker: job handlers, background services (poll schedule, inventory relay, retention, sweeper).
        .target(
            name: "WorkerApp",
            dependencies: [
                "ProcessEnvironment", "EcommerceJobs", "Storage", "Shopify", "RedisClient", "JobQueue", "Operations", "ShopifyAdmin",
                "JSONBytes",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            path: "Sources/Worker/App",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "Worker",
            dependencies: [
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                "WorkerApp", "ProcessEnvironment", "Storage", "Shopify", "EcommerceJobs", "JobQueue", "RedisClient", "Operations",
                "Diagnostics", "ShopifyAdmin", .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/Worker/Main",
            swiftSettings: swiftSettings
        ),
        // Development and test stand-in for Shopify; production code never imports it.
        .target(
            name: "ShopifySimulatorCore",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GraphQL", package: "GraphQL"),
            ],
            path: "Sources/ShopifySimulator/Core",
            // Shopify's Admin schema: the simulator validates against it, and so do the tests.
            resources: [.copy("Resources/admin-schema.graphql")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "ShopifySimulator",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                "ShopifySimulatorCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/ShopifySimulator/Main",
            swiftSettings: swiftSettings
        ),
        // The job queue's contract in memory, for unit tests of the worker loop and of handlers; never shipped.
        .target(name: "JobQueueTesting", dependencies: ["JobQueue"], path: "Tests/JobQueueTesting", swiftSettings: swiftSettings),
        // Fuzz targets over what parses untrusted bytes. `scripts/fuzz.sh` builds them with libFuzzer
        // (`-sanitize=fuzzer,address -DFUZZING`); a normal build makes each a replayer of a corpus, which the tests run
        // over the committed seeds (`Fuzz/Corpus`).
        .target(name: "FuzzSupport", path: "Fuzz/Support", swiftSettings: swiftSettings),
        .executableTarget(
            name: "FuzzWebhookHead",
            dependencies: [
                "FuzzSupport", "GatewayApp",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Fuzz/WebhookHead",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "FuzzOrderScanner",
            dependencies: ["FuzzSupport", "Shopify", "JSONBytes"],
            path: "Fuzz/OrderScanner",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "FuzzJobEnvelope",
            dependencies: ["FuzzSupport", "JobQueue", "EcommerceJobs"],
            path: "Fuzz/JobEnvelope",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EcommerceTests",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                "GatewayApp", "WorkerApp", "EcommerceJobs", "JobQueue", "JobQueueTesting", "JSONBytes", "RedisClient", "Storage", "Shopify",
                "ProcessEnvironment", "Operations", "Diagnostics", "ShopifyAdmin", "ShopifySimulatorCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
            ],
            path: "Tests/EcommerceTests",
            swiftSettings: swiftSettings
        ),
    ]
)
