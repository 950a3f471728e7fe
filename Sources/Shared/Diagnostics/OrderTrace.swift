import EcommerceJobs
import Foundation
import JobQueue
import Logging
import PostgresNIO
import RedisClient
import Storage

/// "Where is order #1042?": every step of one Shopify order through the system, in time order: the deliveries the
/// gateway saw (topic, webhook and event id, answer), the jobs they became and each outcome, the ingestions (from a
/// webhook or a poll run) and change notices in the sync log, and the stock movements it caused; beside them the
/// ingestion record, the quantity applied per line and where each job is now.
public struct OrderTrace: Codable, Sendable, Equatable {
    /// One thing that happened to the order.
    public struct Step: Codable, Sendable, Equatable {
        public var at: Date
        /// `delivery`, `job`, `ingestion`, `change_notice` or `stock_movement`.
        public var kind: String
        public var summary: String
    }

    /// Where a job of the order is now, as far as the queue knows.
    public struct JobState: Codable, Sendable, Equatable {
        public var jobId: String
        /// `running` (claimed by `worker`), `dead` (with `error`), or `not_held`: waiting in a list, or done (the
        /// queue keeps no record of finished jobs; the job steps and the ingestions tell which).
        public var state: String
        public var worker: String?
        public var error: String?
    }

    public var businessId: UUID
    public var orderId: Int64
    public var shop: String?
    public var generatedAt: Date
    public var record: OrderHistoryStore.Record?
    public var lines: [OrderHistoryStore.Line]
    public var steps: [Step]
    public var jobs: [JobState]
    /// What the trace cannot see (the journal's limits).
    public var notes: [String]

    /// The trace for people.
    public var text: String {
        var out = ["order \(self.orderId) of business \(self.businessId.uuidString.lowercased())\(self.shop.map { " (\($0))" } ?? "")"]
        if let record = self.record {
            out.append(
                "ingested: first \(Self.format(record.firstIngestedAt)) from \(record.source), version \(record.version), "
                    + "Shopify updated_at \(record.shopifyUpdatedAt.map(Self.format) ?? "-")\(record.cancelled ? ", cancelled" : "")"
            )
        } else {
            out.append("not ingested")
        }
        for line in self.lines {
            out.append("  line \(line.lineItemId) (\(line.sku ?? "no SKU")): \(line.appliedQuantity) applied to FlowPOS's stock")
        }
        out.append("")
        out += self.steps.map { "\(Self.format($0.at))  \($0.kind.padding(toLength: 14, withPad: " ", startingAt: 0))  \($0.summary)" }
        if self.steps.isEmpty { out.append("nothing recorded for this order") }
        for job in self.jobs where job.state != "not_held" {
            out.append("now: job \(job.jobId) \(job.state)\(job.worker.map { " by \($0)" } ?? "")\(job.error.map { ": \($0)" } ?? "")")
        }
        out += self.notes.map { "note: \($0)" }
        return out.joined(separator: "\n")
    }

    static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}

/// Builds an ``OrderTrace`` from the operator's journal (Redis), the queue and PostgreSQL. Reads only.
public struct OrderTracer: Sendable {
    let postgres: PostgresClient
    let redis: RedisClient

    public init(postgres: PostgresClient, redis: RedisClient) {
        self.postgres = postgres
        self.redis = redis
    }

    public func trace(businessId: UUID, orderId: Int64, logger: Logger) async throws -> OrderTrace {
        let account = try await ConnectionStore(client: self.postgres).account(businessId: businessId, logger: logger)
        let journal = OperatorJournal(redis: self.redis)
        var steps: [OrderTrace.Step] = []
        var notes: [String] = []

        var jobIds: [String] = []
        if let shop = account?.shop {
            let deliveries = try await journal.deliveries(shop: shop)
            if deliveries.count >= OperatorJournal.deliveriesPerShop, let oldest = deliveries.last {
                notes.append(
                    "the journal holds the shop's last \(deliveries.count) deliveries, since \(OrderTrace.format(OperatorJournal.date(millis: oldest.at)))"
                )
            }
            for delivery in deliveries.reversed() where delivery.orderId == orderId {
                let answer = delivery.outcome == "enqueued" ? "job \(delivery.jobId) enqueued" : "a duplicate: no job"
                let ids = [delivery.webhookId.map { "webhook \($0)" }, delivery.eventId.map { "event \($0)" }].compactMap { $0 }
                steps.append(
                    .init(
                        at: OperatorJournal.date(millis: delivery.at),
                        kind: "delivery",
                        summary: "\(delivery.topic) (\(ids.joined(separator: ", "))): \(answer)"
                    )
                )
                if delivery.outcome == "enqueued" { jobIds.append(delivery.jobId) }
            }
        } else {
            notes.append("the business has no connection: no delivery journal to read")
        }
        let outcomes = try await journal.jobOutcomes(businessId: businessId)
        for outcome in outcomes.reversed() where jobIds.contains(outcome.jobId) {
            let error = outcome.error.map { ": \($0)" } ?? ""
            steps.append(
                .init(
                    at: OperatorJournal.date(millis: outcome.at),
                    kind: "job",
                    summary: "\(outcome.kind) \(outcome.jobId), attempt \(outcome.attempt): \(outcome.outcome)\(error)"
                )
            )
        }

        let history = OrderHistoryStore(client: self.postgres)
        for event in try await history.events(businessId: businessId, orderId: orderId, logger: logger) {
            steps.append(Self.step(of: event))
        }
        let lines = try await history.lines(businessId: businessId, orderId: orderId, logger: logger)
        let movements = try await history.movements(businessId: businessId, orderId: orderId, variants: lines.compactMap(\.variantId), logger: logger)
        for movement in movements {
            let delta = movement.delta > 0 ? "+\(movement.delta)" : "\(movement.delta)"
            steps.append(
                .init(
                    at: movement.at,
                    kind: "stock_movement",
                    summary: "variant \(movement.variantId.uuidString.lowercased()) \(delta) → \(movement.quantityAfter) (\(movement.reason))"
                )
            )
        }
        // Stable: steps at the same instant keep the order they were gathered in (a delivery before its job).
        steps = steps.enumerated().sorted { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }.map(\.element)

        return OrderTrace(
            businessId: businessId,
            orderId: orderId,
            shop: account?.shop,
            generatedAt: Date(),
            record: try await history.record(businessId: businessId, orderId: orderId, logger: logger),
            lines: lines,
            steps: steps,
            jobs: try await self.states(of: jobIds),
            notes: notes
        )
    }

    /// Where each job is: claimed (and by whom) or dead, in any of the queues.
    func states(of jobIds: [String]) async throws -> [OrderTrace.JobState] {
        var states: [OrderTrace.JobState] = []
        let queue = RedisJobQueue(redis: self.redis)
        for id in jobIds {
            var state = OrderTrace.JobState(jobId: id, state: "not_held")
            for name in EcommerceQueue.all {
                if let owner = try await self.redis.send(["HGET", RedisArgument(QueueKeys(queue: name).owners), RedisArgument(id)]).orThrow().text {
                    state = .init(jobId: id, state: "running", worker: owner)
                } else if let letter = try await queue.deadLetter(queue: name, id: id) {
                    state = .init(jobId: id, state: "dead", error: "\(letter.error) (ecommerce-worker dead show --queue \(name) \(id))")
                }
            }
            states.append(state)
        }
        return states
    }

    static func step(of event: OrderHistoryStore.Event) -> OrderTrace.Step {
        let details = (try? JSONSerialization.jsonObject(with: Data(event.details.utf8))) as? [String: Any] ?? [:]
        let reference = event.reference.map { " (\($0))" } ?? ""
        if event.kind == "order_change" {
            let topic = details["topic"] as? String ?? "a change"
            return .init(at: event.at, kind: "change_notice", summary: "\(topic) noted\(reference): stock follows the order's next state")
        }
        let source = details["source"] as? String ?? "?"
        let outcome = details["outcome"] as? String ?? event.status
        let updatedAt = details["updatedAt"] as? String ?? "?"
        return .init(
            at: event.at,
            kind: "ingestion",
            summary: "from \(source)\(reference): \(outcome) (\(event.status)), Shopify updated_at \(updatedAt)"
        )
    }
}
