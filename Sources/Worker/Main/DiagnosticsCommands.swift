// The diagnostics commands: `doctor` and `trace order` (the Diagnostics module's checklist and order trace).

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
            let client = ShopifyAdminClient(
                configuration: BusinessDoctor.ShopifyAccess.configuration(configuration.shopify),
                http: HTTPClient.shared,
                budget: ShopifyCostBudget(redis: redis)
            )
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

/// `ecommerce-worker trace order --business ID ORDER_ID [--json]`: every step of one Shopify order (see
/// ``OrderTrace``).
struct Trace: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Traces what the system did with something.", subcommands: [Order.self])

    struct Order: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every delivery, job, ingestion and stock movement of one Shopify order, in time order."
        )
        @Option(help: "The business id.") var business: String
        @Argument(help: "The Shopify order id (the number, as in the admin's URL).") var orderId: Int64
        @OptionGroup var options: OpsOptions

        func validate() throws {
            guard UUID(uuidString: self.business) != nil else { throw ValidationError("--business must be a business id (a UUID)") }
            guard self.orderId > 0 else { throw ValidationError("the order id is a positive number") }
        }

        func run() async throws {
            let (businessId, orderId) = (UUID(uuidString: self.business)!, self.orderId)
            let trace = try await withServices { redis, postgres, logger in
                try await OrderTracer(postgres: postgres, redis: redis).trace(businessId: businessId, orderId: orderId, logger: logger)
            }
            if self.options.json { try output(trace, json: true, header: [], rows: []) } else { print(trace.text) }
        }
    }
}
