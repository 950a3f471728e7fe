import EcommerceJobs
import Foundation
import JobQueue
import Logging
import PostgresNIO
import RedisClient
import Shopify
import ShopifyAdmin
import Storage

/// The operators' troubleshooting checklist (OPERATIONAL-NOTES) run for one business, each step answered with a
/// verdict, its evidence and what to do: the connection and its token, the OAuth callbacks, the webhook
/// subscriptions and deliveries, the catalog's mappings, the stock relay and the inventory pushes, drift, polling.
///
/// Read-only, except `fix`: missing webhook subscriptions are re-created. Costs a few Shopify points (the token
/// probe, the subscription list, one inventory read per drift sample) and a handful of queries.
public struct BusinessDoctor: Sendable {
    /// What the doctor needs to talk to Shopify; without it the Shopify steps say they could not be run.
    public struct ShopifyAccess: Sendable {
        public var client: ShopifyAdminClient
        /// Opens stored tokens (`TOKEN_ENCRYPTION_KEYS`).
        public var cipher: TokenCipher

        public init(client: ShopifyAdminClient, cipher: TokenCipher) {
            self.client = client
            self.cipher = cipher
        }

        /// `configuration` with its inline wait cut to ``BusinessDoctor/maxThrottleWait``: the client for the doctor.
        public static func configuration(_ configuration: ShopifyAdminConfiguration) -> ShopifyAdminConfiguration {
            var configuration = configuration
            configuration.maxInlineWait = min(configuration.maxInlineWait, BusinessDoctor.maxThrottleWait)
            return configuration
        }
    }

    /// The longest one of the doctor's Shopify calls waits for the shop's rate limit. A running push may hold the
    /// shop's whole budget for minutes; the doctor answers a person (or a page), so a step whose call would wait
    /// longer says so as a warning instead (the API fuzz saw 6–10 s answers with the workers' 30 s).
    public static let maxThrottleWait: Duration = .milliseconds(500)

    /// When a step turns from ok to warning (or failing).
    public struct Thresholds: Sendable {
        /// A stock change waiting this long for the relay means no relay runs.
        public var relayDelay: Duration = .seconds(60)
        /// A relayed change waiting this long for its push: warning.
        public var pushDelay: Duration = .seconds(300)
        /// Polls more than this many intervals behind: warning; twice as many: failing.
        public var pollIntervalsBehind = 2
        /// Refusals counted from this far back.
        public var refusalWindow: Duration = .seconds(3600)
        /// OAuth callback refusals shown from this far back.
        public var oauthWindow: Duration = .seconds(24 * 3600)
        /// Variants compared with Shopify.
        public var driftSample = 5

        public init() {}
    }

    let postgres: PostgresClient
    let redis: RedisClient
    let shopify: ShopifyAccess?
    /// The scopes the app asks for (`SHOPIFY_SCOPES`).
    let neededScopes: [String]
    /// `PUBLIC_BASE_URL`: where the subscriptions must point; nil when this process does not know it.
    let publicBaseURL: String?
    let pollInterval: Duration
    public var thresholds = Thresholds()

    public init(
        postgres: PostgresClient,
        redis: RedisClient,
        shopify: ShopifyAccess?,
        neededScopes: [String],
        publicBaseURL: String?,
        pollInterval: Duration
    ) {
        self.postgres = postgres
        self.redis = redis
        self.shopify = shopify
        self.neededScopes = neededScopes
        self.publicBaseURL = publicBaseURL
        self.pollInterval = pollInterval
    }

    /// Runs the checklist. `fix` re-creates missing webhook subscriptions. Throws only when PostgreSQL or Redis
    /// cannot be read; Shopify's problems are findings.
    public func examine(businessId: UUID, fix: Bool = false, logger: Logger) async throws -> DoctorReport {
        let connections = ConnectionStore(client: self.postgres)
        guard let account = try await connections.account(businessId: businessId, logger: logger) else {
            return DoctorReport(
                businessId: businessId,
                shop: nil,
                findings: [
                    DoctorFinding(
                        check: "connection",
                        title: "Shopify connection",
                        verdict: .failing,
                        evidence: ["no connection is stored for the business"],
                        action: "connect the shop: GET /ecommerce/oauth/install?businessId=…&shop=….myshopify.com (merchant or ops token)"
                    )
                ],
                fixed: []
            )
        }
        var findings = [self.connectionFinding(account)]
        guard account.status == .active else { return DoctorReport(businessId: businessId, shop: account.shop, findings: findings, fixed: []) }
        findings.append(self.scopesFinding(account))
        let (tokenFinding, credentials) = await self.tokenFinding(account, logger: logger)
        findings.append(tokenFinding)
        let journal = OperatorJournal(redis: self.redis)
        findings.append(try await self.oauthFinding(account, journal: journal))
        var fixed: [String] = []
        findings.append(await self.subscriptionsFinding(account, credentials: credentials, fix: fix, fixed: &fixed, logger: logger))
        findings.append(try await self.deliveriesFinding(account, journal: journal))
        let inventory = InventoryStore(client: self.postgres)
        findings.append(try await self.mappingsFinding(businessId: businessId, inventory: inventory, logger: logger))
        findings.append(try await self.relayFinding(businessId: businessId, inventory: inventory, logger: logger))
        findings.append(try await self.pushesFinding(businessId: businessId, journal: journal))
        findings.append(try await self.driftFinding(account, credentials: credentials, inventory: inventory, logger: logger))
        findings.append(try await self.pollingFinding(account, logger: logger))
        return DoctorReport(businessId: businessId, shop: account.shop, findings: findings, fixed: fixed)
    }

    // MARK: The connection and its token

    func connectionFinding(_ account: ConnectionStore.Account) -> DoctorFinding {
        let evidence = ["shop \(account.shop), status \(account.status.rawValue), connected \(Self.describe(account.connectedAt))"]
        guard account.status == .active else {
            return DoctorFinding(
                check: "connection",
                title: "Shopify connection",
                verdict: .failing,
                evidence: evidence,
                action: "the app is not installed in the shop: reconnect it (GET /ecommerce/oauth/install)"
            )
        }
        return DoctorFinding(check: "connection", title: "Shopify connection", verdict: .ok, evidence: evidence)
    }

    func scopesFinding(_ account: ConnectionStore.Account) -> DoctorFinding {
        let granted = ShopifyAccessScopes.parse(account.scopes ?? "")
        let missing = Set(self.neededScopes).subtracting(ShopifyAccessScopes.implied(granted)).sorted()
        let evidence = [
            "granted: \(granted.isEmpty ? "none recorded" : granted.joined(separator: ","))", "needed: \(self.neededScopes.joined(separator: ","))",
        ]
        guard missing.isEmpty else {
            return DoctorFinding(
                check: "scopes",
                title: "Access scopes",
                verdict: .failing,
                evidence: evidence + ["missing: \(missing.joined(separator: ","))"],
                action: "reconnect the shop so that the merchant grants the missing scopes (GET /ecommerce/oauth/install)"
            )
        }
        return DoctorFinding(check: "scopes", title: "Access scopes", verdict: .ok, evidence: evidence)
    }

    /// Whether the stored token opens and Shopify accepts it; the credentials when it does.
    func tokenFinding(_ account: ConnectionStore.Account, logger: Logger) async -> (DoctorFinding, ShopifyCredentials?) {
        let title = "Access token"
        func finding(_ verdict: DoctorVerdict, _ evidence: [String], _ action: String? = nil) -> DoctorFinding {
            DoctorFinding(check: "token", title: title, verdict: verdict, evidence: evidence, action: action)
        }
        guard let shopify = self.shopify else {
            return (
                finding(
                    .warning,
                    ["this process has no TOKEN_ENCRYPTION_KEYS or Shopify settings: the token was not tried"],
                    "run the doctor where the workers' configuration is (ecommerce-worker doctor)"
                ), nil
            )
        }
        guard let sealed = account.sealedAccessToken else {
            return (finding(.failing, ["the connection has no access token"], "reconnect the shop (GET /ecommerce/oauth/install)"), nil)
        }
        let token: String
        do {
            token = try shopify.cipher.open(sealed, context: account.businessId.uuidString.lowercased())
        } catch {
            return (
                finding(.failing, ["the stored token does not open: \(error)"], "TOKEN_ENCRYPTION_KEYS must include the key it was sealed with"), nil
            )
        }
        var evidence: [String] = []
        var verdict = DoctorVerdict.ok
        var action: String?
        if let expires = account.tokenExpiresAt {
            let refreshable = account.sealedRefreshToken != nil
            evidence.append("expires \(Self.describe(expires))\(refreshable ? ", refreshed by the workers before it does" : ", no refresh token")")
            if expires < Date() && !refreshable {
                verdict = .failing
                action = "the token has expired and cannot be refreshed: reconnect the shop"
            }
        } else {
            evidence.append("an offline token that does not expire")
        }
        let credentials = ShopifyCredentials(shop: account.shop, accessToken: token)
        do {
            let domain = try await shopify.client.shopDomain(as: credentials, logger: logger)
            evidence.append("Shopify accepts it (shop \(domain))")
            return (finding(verdict, evidence, action), credentials)
        } catch let error as ShopifyAdminError where error.isUnauthorized {
            evidence.append("Shopify refused it: \(error)")
            let refresh = account.sealedRefreshToken != nil
            return (
                finding(
                    .failing,
                    evidence,
                    refresh
                        ? "the next job refreshes it after the 401; if this stays, reconnect the shop"
                        : "the token was revoked (the app uninstalled, or the token rotated): reconnect the shop (GET /ecommerce/oauth/install)"
                ), nil
            )
        } catch let throttled as ShopifyThrottled {
            // Not refused, only not asked: the later steps still try the token (and say so when they are throttled too).
            evidence.append("Shopify could not be asked: \(throttled)")
            return (finding(.warning, evidence, "a push is using the shop's rate limit: run the doctor again in a minute"), credentials)
        } catch {
            evidence.append("Shopify could not be asked: \(error)")
            return (finding(.warning, evidence, "try again; if Shopify stays away, check the network to it"), nil)
        }
    }

    // MARK: OAuth and webhooks

    func oauthFinding(_ account: ConnectionStore.Account, journal: OperatorJournal) async throws -> DoctorFinding {
        let since = OperatorJournal.millis(Date() - self.thresholds.oauthWindow.timeInterval)
        let refusals = try await journal.oauthRefusals().filter { $0.shop == account.shop && $0.at >= since }
        guard !refusals.isEmpty else {
            return DoctorFinding(
                check: "oauth_callbacks",
                title: "OAuth callbacks",
                verdict: .ok,
                evidence: ["no refused callback for the shop in the last \(Self.describe(self.thresholds.oauthWindow))"]
            )
        }
        return DoctorFinding(
            check: "oauth_callbacks",
            title: "OAuth callbacks",
            verdict: .warning,
            evidence: refusals.prefix(5).map { "\(Self.describe(millis: $0.at)): refused with \($0.code)" },
            action: "invalid_hmac: SHOPIFY_API_SECRET is not the app's client secret; invalid_state: the install link expired or was reused; "
                + "the callback URL in the app's settings must be PUBLIC_BASE_URL/ecommerce/oauth/callback. "
                + "The gateway's log has each refusal (\"OAuth callback refused\")"
        )
    }

    func subscriptionsFinding(
        _ account: ConnectionStore.Account,
        credentials: ShopifyCredentials?,
        fix: Bool,
        fixed: inout [String],
        logger: Logger
    ) async -> DoctorFinding {
        let title = "Webhook subscriptions"
        guard let shopify = self.shopify, let credentials else {
            return DoctorFinding(
                check: "webhook_subscriptions",
                title: title,
                verdict: .warning,
                evidence: ["not checked: Shopify does not accept the token (see the token step), or this process cannot open it"]
            )
        }
        guard let publicBaseURL = self.publicBaseURL else {
            return DoctorFinding(
                check: "webhook_subscriptions",
                title: title,
                verdict: .warning,
                evidence: ["not checked: PUBLIC_BASE_URL is not set for this process"],
                action: "set PUBLIC_BASE_URL as the gateway has it"
            )
        }
        let uri = WebhookTopic.callbackURL(publicBaseURL: publicBaseURL)
        let subscriptions: [ShopifyWebhookSubscription]
        do {
            subscriptions = try await shopify.client.webhookSubscriptions(as: credentials, logger: logger)
        } catch {
            return DoctorFinding(check: "webhook_subscriptions", title: title, verdict: .warning, evidence: ["Shopify could not be asked: \(error)"])
        }
        var evidence: [String] = []
        var missing: [String] = []
        for topic in WebhookTopic.subscribed {
            let graphQLTopic = ShopifyAdminClient.subscriptionTopic(topic.rawValue)
            let ofTopic = subscriptions.filter { $0.topic == graphQLTopic }
            if ofTopic.contains(where: { $0.uri == uri }) {
                evidence.append("\(topic.rawValue): subscribed")
            } else if let other = ofTopic.first {
                evidence.append("\(topic.rawValue): delivered to \(other.uri), not to \(uri)")
                missing.append(graphQLTopic)
            } else {
                evidence.append("\(topic.rawValue): not subscribed")
                missing.append(graphQLTopic)
            }
        }
        guard !missing.isEmpty else { return DoctorFinding(check: "webhook_subscriptions", title: title, verdict: .ok, evidence: evidence) }
        guard fix else {
            return DoctorFinding(
                check: "webhook_subscriptions",
                title: title,
                verdict: .failing,
                evidence: evidence,
                action: "re-create them: ecommerce-worker doctor --business \(account.businessId.uuidString.lowercased()) --fix "
                    + "(Shopify deletes a subscription whose deliveries keep failing: check the gateway is reachable at \(uri))"
            )
        }
        var failed: [String] = []
        for topic in missing {
            do {
                try await shopify.client.createWebhookSubscription(topic: topic, uri: uri, as: credentials, logger: logger)
                fixed.append("webhook subscription \(topic) → \(uri) re-created")
            } catch {
                failed.append("\(topic): re-creating failed: \(error)")
            }
        }
        return DoctorFinding(
            check: "webhook_subscriptions",
            title: title,
            verdict: failed.isEmpty ? .ok : .failing,
            evidence: evidence + fixed + failed,
            action: failed.isEmpty ? nil : "try --fix again; if Shopify keeps refusing, reconnect the shop"
        )
    }

    func deliveriesFinding(_ account: ConnectionStore.Account, journal: OperatorJournal) async throws -> DoctorFinding {
        let latest = try await journal.latestDeliveries(shop: account.shop)
        var evidence = latest.sorted { $0.key < $1.key }.map { topic, delivery in
            "\(topic): last delivery \(Self.describe(millis: delivery.at)) (\(delivery.outcome))"
        }
        if evidence.isEmpty { evidence.append("no delivery recorded for the shop in the last \(Self.describe(OperatorJournal.retention))") }
        let since = OperatorJournal.millis(Date() - self.thresholds.refusalWindow.timeInterval)
        let refusals = try await journal.webhookRefusals().filter { $0.shop == account.shop && $0.at >= since }
        let byCode = Dictionary(grouping: refusals, by: \.code).mapValues(\.count)
        for (code, count) in byCode.sorted(by: { $0.key < $1.key }) {
            evidence.append("\(count) refused with \(code) in the last \(Self.describe(self.thresholds.refusalWindow))")
        }
        if byCode["invalid_signature"] != nil {
            return DoctorFinding(
                check: "webhook_deliveries",
                title: "Webhook deliveries",
                verdict: .failing,
                evidence: evidence,
                action: "deliveries for the shop fail the HMAC check: the gateway's SHOPIFY_API_SECRET (or SHOPIFY_API_SECRET_PREVIOUS while "
                    + "rotating) must be the app's client secret; the gateway logs each one (\"webhook with an invalid signature\")"
            )
        }
        if !byCode.isEmpty {
            return DoctorFinding(
                check: "webhook_deliveries",
                title: "Webhook deliveries",
                verdict: .warning,
                evidence: evidence,
                action: "deliveries name the shop but the gateway found no active connection for it: check the shop domain of the "
                    + "connection (ecommerce-worker connections) against X-Shopify-Shop-Domain in the gateway's log"
            )
        }
        return DoctorFinding(check: "webhook_deliveries", title: "Webhook deliveries", verdict: .ok, evidence: evidence)
    }

    // MARK: Inventory

    func mappingsFinding(businessId: UUID, inventory: InventoryStore, logger: Logger) async throws -> DoctorFinding {
        let summary = try await inventory.mappingSummary(businessId: businessId, sampleLimit: 5, logger: logger)
        var evidence = ["\(summary.mapped) of \(summary.variants) variants are in Shopify"]
        guard summary.mapped < summary.variants else {
            return DoctorFinding(check: "mappings", title: "Product mappings", verdict: .ok, evidence: evidence)
        }
        evidence.append(
            "not in Shopify: \(summary.unmappedSample.joined(separator: ", "))\(summary.variants - summary.mapped > summary.unmappedSample.count ? ", …" : "")"
        )
        return DoctorFinding(
            check: "mappings",
            title: "Product mappings",
            verdict: .warning,
            evidence: evidence,
            action: "stock of unmapped variants does not reach Shopify: push the products (POST /ecommerce/sync/products) and read its run "
                + "(GET /ecommerce/sync/logs) for the variants it refused"
        )
    }

    func relayFinding(businessId: UUID, inventory: InventoryStore, logger: Logger) async throws -> DoctorFinding {
        let backlog = try await inventory.outboxBacklog(businessId: businessId, logger: logger)
        var evidence: [String] = []
        var verdict = DoctorVerdict.ok
        var action: String?
        if let oldest = backlog.oldestUnrelayed {
            evidence.append("\(backlog.unrelayed) stock change(s) wait for the relay, the oldest since \(Self.describe(oldest))")
            if -oldest.timeIntervalSinceNow > self.thresholds.relayDelay.timeInterval {
                verdict = .failing
                action = "no relay takes stock changes: are workers running (ecommerce-worker workers), with the relay on (INVENTORY_RELAY)?"
            }
        }
        if let oldest = backlog.oldestAwaitingPush {
            evidence.append("\(backlog.awaitingPush) relayed change(s) wait for their push, the oldest since \(Self.describe(oldest))")
            if -oldest.timeIntervalSinceNow > self.thresholds.pushDelay.timeInterval && verdict == .ok {
                verdict = .warning
                action = "pushes are slow or failing: read ecommerce-inventory's queue and dead letters (ecommerce-worker queues, dead list)"
            }
        }
        if evidence.isEmpty { evidence.append("no stock change waits") }
        return DoctorFinding(check: "stock_relay", title: "Stock-change relay", verdict: verdict, evidence: evidence, action: action)
    }

    func pushesFinding(businessId: UUID, journal: OperatorJournal) async throws -> DoctorFinding {
        let pushes = try await journal.inventoryPushes(businessId: businessId, limit: 5)
        var evidence = pushes.map { push in
            "\(Self.describe(millis: push.at)): variant \(push.variantId.uuidString.lowercased()) \(push.delta > 0 ? "+" : "")\(push.delta) (\(push.outcome))"
        }
        if evidence.isEmpty { evidence.append("no inventory push recorded in the last \(Self.describe(OperatorJournal.retention))") }
        // Dead letters are per queue: the first pages are read for this business's (a bounded look, not a census).
        var dead: [DeadLetter] = []
        let queue = RedisJobQueue(redis: self.redis)
        let page = try await queue.deadLetterPage(queue: EcommerceQueue.inventory, cursor: "0", count: 500)
        for letter in page.letters {
            let header = try? JobCoding.decoder().decode(JobHeader.self, from: Data(letter.job.utf8))
            if header?.businessId == businessId { dead.append(letter) }
        }
        var verdict = pushes.contains { $0.outcome != "applied" } ? DoctorVerdict.warning : .ok
        var action: String? = verdict == .warning ? "an item not stocked at the connection's location: stock it there in Shopify" : nil
        if !dead.isEmpty {
            verdict = .failing
            evidence += dead.prefix(3).map { "dead letter \($0.id): \($0.error.prefix(120))" }
            action = "fix the cause, then retry them: ecommerce-worker dead retry --queue \(EcommerceQueue.inventory) ID"
        }
        return DoctorFinding(check: "inventory_pushes", title: "Inventory pushes", verdict: verdict, evidence: evidence, action: action)
    }

    func driftFinding(
        _ account: ConnectionStore.Account,
        credentials: ShopifyCredentials?,
        inventory: InventoryStore,
        logger: Logger
    ) async throws -> DoctorFinding {
        let title = "Drift (FlowPOS against Shopify)"
        guard let shopify = self.shopify, let credentials, let locationId = account.locationId else {
            return DoctorFinding(
                check: "drift",
                title: title,
                verdict: .warning,
                evidence: ["not checked: \(account.locationId == nil ? "the connection has no location yet" : "Shopify does not accept the token")"]
            )
        }
        // Variants with movements still waiting are left out: Shopify has not been told yet, a difference is expected.
        let sample = try await inventory.reconciliationPage(
            businessId: account.businessId,
            after: nil,
            limit: self.thresholds.driftSample * 4,
            logger: logger
        )
        .filter { $0.waitingMovements == 0 }.prefix(self.thresholds.driftSample)
        guard !sample.isEmpty else {
            return DoctorFinding(check: "drift", title: title, verdict: .ok, evidence: ["no settled variant in Shopify to compare"])
        }
        var evidence: [String] = []
        var drifted = 0
        var unasked = 0
        for item in sample {
            do {
                let shown = try await shopify.client.available(
                    inventoryItemId: item.inventoryItemId,
                    locationId: locationId,
                    as: credentials,
                    logger: logger
                )
                if shown != item.quantity { drifted += 1 }
                evidence.append(
                    "variant \(item.variantId.uuidString.lowercased()): FlowPOS \(item.quantity), Shopify \(shown.map(String.init) ?? "not stocked")"
                )
            } catch let throttled as ShopifyThrottled {
                // The budget will not come back within this run: the remaining samples would each wait and fail alike.
                evidence.append("Shopify could not be asked (\(throttled)); the remaining samples were not compared")
                unasked += 1
                break
            } catch {
                evidence.append("variant \(item.variantId.uuidString.lowercased()): Shopify could not be asked: \(error)")
                unasked += 1
            }
        }
        if drifted == 0 && unasked > 0 {
            return DoctorFinding(
                check: "drift",
                title: title,
                verdict: .warning,
                evidence: evidence,
                action: "not every sample could be compared: run the doctor again in a minute"
            )
        }
        guard drifted > 0 else { return DoctorFinding(check: "drift", title: title, verdict: .ok, evidence: evidence) }
        return DoctorFinding(
            check: "drift",
            title: title,
            verdict: .warning,
            evidence: evidence,
            action: "\(drifted) of \(sample.count) sampled variants differ (a Shopify order not ingested yet explains a lower Shopify number "
                + "for a moment): reconcile with POST /ecommerce/sync/inventory"
        )
    }

    // MARK: Polling

    func pollingFinding(_ account: ConnectionStore.Account, logger: Logger) async throws -> DoctorFinding {
        var evidence: [String] = []
        var verdict = DoctorVerdict.ok
        var actions: [String] = []
        let member = account.businessId.uuidString.lowercased()
        let score = try await self.redis.send(["ZSCORE", RedisArgument(PollSchedule.key), RedisArgument(member)]).orThrow()
        if let due = score.text.flatMap(Double.init) {
            evidence.append("in the poll schedule, next poll \(Self.describe(Date(timeIntervalSince1970: due / 1000)))")
        } else {
            evidence.append("not in the poll schedule")
            verdict = .failing
            actions.append("the scheduler adds active connections on its next reconcile; read ecommerce-worker schedule status")
        }
        let interval = self.pollInterval.timeInterval
        if let synced = account.lastSyncedAt {
            let behind = -synced.timeIntervalSinceNow
            evidence.append("orders read up to \(Self.describe(synced))")
            if behind > interval * Double(2 * self.thresholds.pollIntervalsBehind) {
                verdict = .failing
                actions.append("polls do not advance: read the last poll run below and the ecommerce-polling queue (ecommerce-worker queues)")
            } else if behind > interval * Double(self.thresholds.pollIntervalsBehind) {
                verdict = max(verdict, .warning)
                actions.append("polls are behind: run one now (POST /ecommerce/sync/poll) and read its run")
            }
        } else {
            evidence.append("never polled")
            verdict = max(verdict, .warning)
            actions.append("run a poll now (POST /ecommerce/sync/poll)")
        }
        if let last = try await SyncLogStore(client: self.postgres).runs(businessId: account.businessId, kind: "poll", limit: 1, logger: logger).first
        {
            evidence.append("last poll run \(Self.describe(last.startedAt)): \(last.status), \(last.processed) processed, \(last.failed) failed")
            if last.status == "failed" {
                verdict = max(verdict, .warning)
                evidence += last.errors.prefix(3).map { "  \($0.code): \($0.message)" }
            }
        }
        return DoctorFinding(
            check: "polling",
            title: "Order polling",
            verdict: verdict,
            evidence: evidence,
            action: actions.isEmpty ? nil : actions.joined(separator: "; ")
        )
    }

    // MARK: Formatting

    static func describe(millis: Int64) -> String { Self.describe(OperatorJournal.date(millis: millis)) }

    /// A time as the ISO 8601 instant and how long ago (or ahead) it is.
    static func describe(_ date: Date) -> String {
        let seconds = Int(date.timeIntervalSinceNow.rounded())
        let relative = seconds <= 0 ? "\(Self.describe(Duration.seconds(-seconds))) ago" : "in \(Self.describe(Duration.seconds(seconds)))"
        return "\(ISO8601DateFormatter().string(from: date)) (\(relative))"
    }

    static func describe(_ duration: Duration) -> String {
        let seconds = Int(duration.components.seconds)
        if seconds < 120 { return "\(seconds) s" }
        if seconds < 7200 { return "\(seconds / 60) min" }
        if seconds < 172_800 { return "\(seconds / 3600) h" }
        return "\(seconds / 86400) days"
    }
}

extension Duration {
    /// The duration in seconds, as a `TimeInterval`.
    var timeInterval: TimeInterval { Double(self.components.seconds) + Double(self.components.attoseconds) / 1e18 }
}
