import ArgumentParser
import Hummingbird
import Logging
import ShopifySimulatorCore

/// `shopify-simulator`: a development and test stand-in for Shopify (never deployed). Point the system at it
/// with `SHOPIFY_ADMIN_BASE_URL=http://HOST:PORT/shops/{shop}`.
@main
struct SimulatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shopify-simulator",
        abstract: "An in-memory Shopify Admin API with cost throttling and fault injection, for development and tests only."
    )

    @Option(help: "Listen address.") var host = "127.0.0.1"
    @Option(help: "Listen port.") var port = 8081
    @Option(help: "The app's client id (OAuth).") var apiKey = "simulator-app"
    @Option(help: "The app's client secret (signs webhooks and OAuth redirects).") var apiSecret = "simulator-secret"
    @Flag(help: "Issue expiring offline tokens with rotating refresh tokens.") var expiringTokens = false
    @Option(help: "Cost bucket size per shop, in points.") var bucketSize: Double = 1000
    @Option(help: "Points restored per second.") var restoreRate: Double = 100
    @Option(help: "Share of Admin API requests answered 5xx (0…1).") var failureRate: Double = 0
    @Option(name: .customLong("shop"), help: "A shop to create at start-up, as DOMAIN:ACCESS_TOKEN (repeatable).") var shops: [String] = []

    func run() async throws {
        let simulator = ShopifySimulator(
            settings: SimulatorSettings(
                bucketSize: self.bucketSize,
                restoreRate: self.restoreRate,
                failureRate: self.failureRate,
                expiringTokens: self.expiringTokens
            ),
            apiKey: self.apiKey,
            apiSecret: self.apiSecret
        )
        for shop in self.shops {
            let parts = shop.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw ValidationError("--shop expects DOMAIN:ACCESS_TOKEN, got \(shop)") }
            simulator.createShop(parts[0], accessToken: parts[1])
        }
        var logger = Logger(label: "shopify-simulator")
        logger.logLevel = .notice
        let app = buildSimulatorApplication(simulator: simulator, host: self.host, port: self.port, logger: logger)
        try await app.runService()
    }
}
