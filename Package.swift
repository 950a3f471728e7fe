// swift-tools-version:6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
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
    ],
    targets: [
        // hiredis 0.14 from Debian's libhiredis-dev; the only Redis client available here.
        .systemLibrary(
            name: "CHiredis",
            path: "Sources/CHiredis",
            pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        // The hot paths' replacements for slow Foundation parts: JSON read and written straight from bytes, RFC 3339
        // dates, random UUIDs (gateway webhooks, worker jobs).
        .target(name: "JSONBytes", path: "Sources/Shared/JSONBytes", swiftSettings: swiftSettings),
        // Bottom layer: Redis over hiredis, and PostgreSQL storage.
        .target(
            name: "RedisClient",
            dependencies: [
                "CHiredis",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/Shared/RedisClient",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Storage",
            dependencies: [
                "Shopify", "JSONBytes",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Shared/Storage",
            swiftSettings: swiftSettings
        ),
        // Platform facts: webhook signatures, the order payload.
        .target(
            name: "Shopify",
            dependencies: [
                "JSONBytes",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/Shared/Shopify",
            swiftSettings: swiftSettings
        ),
        // The reliable job queue on Redis.
        .target(
            name: "JobQueue",
            dependencies: [
                "RedisClient", "JSONBytes",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Shared/JobQueue",
            swiftSettings: swiftSettings
        ),
        // The GraphQL Admin API client and the per-shop cost budget shared through Redis.
        .target(
            name: "ShopifyAdmin",
            dependencies: [
                "JobQueue", "RedisClient", "Shopify",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            path: "Sources/Shared/ShopifyAdmin",
            swiftSettings: swiftSettings
        ),
        // The job contract: kinds, queues and payloads shared by the gateway and the worker.
        .target(
            name: "EcommerceJobs",
            dependencies: ["JobQueue", "JSONBytes", "Shopify", "RedisClient", .product(name: "Logging", package: "swift-log")],
            path: "Sources/Shared/EcommerceJobs",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "AppConfig",
            dependencies: [
                "RedisClient", "Storage", "JobQueue", "Shopify", "ShopifyAdmin",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Sources/Shared/AppConfig",
            swiftSettings: swiftSettings
        ),
        // Health, readiness and metrics routes, and JSON answers, shared by the gateway and the worker.
        .target(
            name: "OpsHTTP",
            dependencies: [
                "RedisClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "Sources/Shared/OpsHTTP",
            swiftSettings: swiftSettings
        ),
        // The operator's reports (workers, queues, schedule, connections, runs, dead letters): ops commands and dashboard.
        .target(
            name: "OpsReports",
            dependencies: [
                "RedisClient", "JobQueue", "EcommerceJobs", "Storage",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Shared/OpsReports",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "GatewayApp",
            dependencies: [
                "AppConfig", "EcommerceJobs", "Storage", "Shopify", "RedisClient", "JobQueue", "OpsHTTP", "ShopifyAdmin", "OpsReports",
                "JSONBytes",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Shared/GatewayApp",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "WorkerApp",
            dependencies: [
                "AppConfig", "EcommerceJobs", "Storage", "Shopify", "RedisClient", "JobQueue", "OpsHTTP", "ShopifyAdmin",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Shared/WorkerApp",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "Gateway",
            dependencies: [
                "GatewayApp", "AppConfig", "RedisClient",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/Gateway",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "Worker",
            dependencies: [
                "WorkerApp", "AppConfig", "Storage", "Shopify", "EcommerceJobs", "JobQueue", "RedisClient", "OpsReports",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/Worker",
            swiftSettings: swiftSettings
        ),
        // Development and test stand-in for Shopify; production code never imports it.
        .target(
            name: "ShopifySimulatorCore",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GraphQL", package: "GraphQL"),
            ],
            path: "Sources/ShopifySimulatorCore",
            // Shopify's Admin schema: the simulator validates against it, and so do the tests.
            resources: [.copy("Resources/admin-schema.graphql")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "ShopifySimulator",
            dependencies: [
                "ShopifySimulatorCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/ShopifySimulator",
            swiftSettings: swiftSettings
        ),
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
                "GatewayApp", "WorkerApp", "EcommerceJobs", "JobQueue", "JSONBytes", "RedisClient", "Storage", "Shopify", "AppConfig",
                "ShopifyAdmin", "ShopifySimulatorCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            path: "Tests/EcommerceTests",
            swiftSettings: swiftSettings
        ),
    ]
)
