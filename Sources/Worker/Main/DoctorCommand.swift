import ArgumentParser
import AsyncHTTPClient
import Diagnostics
import Foundation
import ProcessEnvironment
import Shopify
import ShopifyAdmin
import WorkerApp

/// `ecommerce-worker doctor --business ID [--json] [--fix]`: the troubleshooting checklist for one business (see
/// ``BusinessDoctor``). Exits 0 when every step is ok, 1 when one warns, 2 when one fails, so that a script can act.
struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Runs the troubleshooting checklist for one business: each step ok, warning or failing, its evidence, what to do.",
        discussion: "Reads PUBLIC_BASE_URL and SHOPIFY_SCOPES as the gateway does, to check the webhook subscriptions and the scopes."
    )
    @Option(help: "The business id.") var business: String
    @Flag(help: "Re-create missing webhook subscriptions.") var fix = false
    @OptionGroup var options: OpsOptions

    func validate() throws {
        guard UUID(uuidString: self.business) != nil else { throw ValidationError("--business must be a business id (a UUID)") }
    }

    func run() async throws {
        let configuration = try loadConfiguration()
        let environment = Environment()
        let businessId = UUID(uuidString: self.business)!
        let fix = self.fix
        let report = try await withServices { redis, postgres, logger in
            let client = ShopifyAdminClient(configuration: configuration.shopify, http: HTTPClient.shared, budget: ShopifyCostBudget(redis: redis))
            let doctor = BusinessDoctor(
                postgres: postgres,
                redis: redis,
                shopify: configuration.tokenCipher.map { BusinessDoctor.ShopifyAccess(client: client, cipher: $0) },
                neededScopes: environment.optional("SHOPIFY_SCOPES").map(ShopifyAccessScopes.parse) ?? ShopifyAccessScopes.needed,
                publicBaseURL: environment.optional("PUBLIC_BASE_URL").map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 },
                pollInterval: configuration.pollInterval
            )
            return try await doctor.examine(businessId: businessId, fix: fix, logger: logger)
        }
        if self.options.json {
            try output(report, json: true, header: [], rows: [])
        } else {
            print(report.text)
        }
        switch report.verdict {
        case .ok: return
        case .warning: throw ExitCode(1)
        case .failing: throw ExitCode(2)
        }
    }
}
