import Foundation
import JSONBytes
import JobQueue
import RedisClient

/// What the gateway and the workers leave in Redis for the operator's questions (the doctor, an order's trace):
/// each shop's webhook deliveries, the deliveries and OAuth callbacks refused, and each business's job outcomes and
/// inventory pushes. Every list is a ``CappedList`` (trimmed when a tenth past its cap) and expires a week after it
/// was created or last trimmed, so the journal's memory is bounded by the businesses with recent traffic, not by traffic: about
/// 70 KB of deliveries per shop and 200 KB of job outcomes per business. Entries are JSON objects with `at` (ms since
/// the epoch).
///
/// Refusals come from callers nobody verified (a forged delivery names any shop it likes): they go to one list for
/// all shops, not to a list per claimed shop, so that forged names cannot create keys.
public struct OperatorJournal: Sendable {
    /// Deliveries kept per shop (the newest). Older orders' deliveries are found through their ingestions' webhook
    /// references in PostgreSQL.
    public static let deliveriesPerShop = 300
    /// Refused deliveries and refused OAuth callbacks kept, each list for all shops together.
    public static let refusalsKept = 1000
    /// Inventory pushes kept per business.
    public static let inventoryPushesPerBusiness = 50
    /// Job outcomes kept per business (the newest).
    public static let jobsPerBusiness = 1000
    public static let retention: Duration = .seconds(7 * 24 * 3600)

    let redis: RedisClient

    public init(redis: RedisClient) {
        self.redis = redis
    }

    /// An instant as the journal's entries write it: milliseconds since the epoch.
    public static func millis(_ date: Date = Date()) -> Int64 { Int64(date.timeIntervalSince1970 * 1000) }

    /// The instant of an entry's `at`.
    public static func date(millis: Int64) -> Date { Date(timeIntervalSince1970: Double(millis) / 1000) }

    /// A shop's deliveries enqueued on `queue`: named under the queue's hash tag, since the queue's enqueue script
    /// writes them (in a Redis Cluster a script touches one slot). A shop's journal is the lists of every queue.
    static func deliveriesKey(queue: String, shop: String) -> String { QueueKeys.tag(queue) + ":journal:deliveries:\(shop)" }
    static let webhookRefusalsKey = "ecommerce:journal:webhook-refusals"
    static let oauthRefusalsKey = "ecommerce:journal:oauth-refusals"
    static func jobsKey(businessId: UUID) -> String { "ecommerce:journal:jobs:\(businessId.uuidString.lowercased())" }
    static func inventoryPushesKey(businessId: UUID) -> String { "ecommerce:journal:inventory-pushes:\(businessId.uuidString.lowercased())" }

    /// A webhook delivery the gateway accepted: what it was, and whether its job was enqueued or was a duplicate.
    public struct Delivery: Codable, Sendable, Equatable {
        public var at: Int64
        public var topic: String
        public var webhookId: String?
        public var eventId: String?
        /// The order it is about (order topics, refunds, edits).
        public var orderId: Int64?
        public var jobId: String
        /// `enqueued` or `duplicate`.
        public var outcome: String
    }

    /// A webhook delivery or an OAuth callback refused, with the code it was answered with.
    public struct Refusal: Codable, Sendable, Equatable {
        public var at: Int64
        /// As the request named it (unverified for a bad signature).
        public var shop: String
        public var topic: String?
        public var code: String

        public init(at: Date = Date(), shop: String, topic: String? = nil, code: String) {
            self.at = OperatorJournal.millis(at)
            self.shop = shop
            self.topic = topic
            self.code = code
        }
    }

    /// One inventory push of a variant: the delta sent and what Shopify made of it.
    public struct InventoryPush: Codable, Sendable, Equatable {
        public var at: Int64
        public var variantId: UUID
        public var delta: Int
        public var movements: Int
        /// `applied`, or `not_stocked` (the item is not stocked at the location).
        public var outcome: String

        public init(at: Date = Date(), variantId: UUID, delta: Int, movements: Int, outcome: String) {
            self.at = OperatorJournal.millis(at)
            self.variantId = variantId
            self.delta = delta
            self.movements = movements
            self.outcome = outcome
        }
    }

    /// A job's outcome as its worker recorded it in the queue.
    public struct JobOutcome: Codable, Sendable, Equatable {
        public var at: Int64
        public var jobId: String
        public var kind: String
        public var queue: String
        /// The attempt that ended (1 for the first run).
        public var attempt: Int
        /// `succeeded`, `retrying`, `deferred` or `dead`.
        public var outcome: String
        public var error: String?
        /// How long the run held its worker slot, in milliseconds (absent in entries written before it was kept).
        public var ranMs: Int64?
    }

    // MARK: Writing

    /// For ``JobWorkerConfiguration/onSettled``: every outcome of a business's job goes to its journal, without
    /// waiting for Redis (a failure is dropped; the queue has the outcome itself).
    public func recordSettlement(_ settlement: JobSettlement) {
        guard let businessId = settlement.header.businessId else { return }
        let entry = JobOutcome(
            at: Self.millis(),
            jobId: settlement.header.id,
            kind: settlement.header.kind,
            queue: settlement.queue,
            attempt: settlement.header.attempt + 1,
            outcome: settlement.outcome.rawValue,
            error: settlement.error.map { String($0.prefix(500)) },
            ranMs: Int64(settlement.ran.milliseconds)
        )
        self.push(entry, to: Self.jobsKey(businessId: businessId), cap: Self.jobsPerBusiness) { _ in }
    }

    /// The record of an accepted delivery enqueued on `queue`, for the enqueue's own script to write (see
    /// ``EnqueueRecord``).
    public static func deliveryRecord(
        queue: String,
        shop: String,
        topic: String,
        webhookId: String?,
        eventId: String?,
        orderId: Int64?,
        jobId: String,
        at: Date = Date()
    ) -> EnqueueRecord {
        var writer = JSONWriter(capacity: 256)
        writer.object { object in
            object.field("at", Self.millis(at))
            object.field("topic", topic)
            object.field("webhookId", webhookId)
            object.field("eventId", eventId)
            object.field("orderId", orderId)
            object.field("jobId", jobId)
        }
        var open = writer.bytes
        open.removeLast()  // the closing brace: the script appends the outcome and closes the object
        return EnqueueRecord(
            list: Self.deliveriesKey(queue: queue, shop: shop),
            cap: Self.deliveriesPerShop,
            retention: Self.retention,
            openObject: open
        )
    }

    /// Records a refused delivery without waiting for Redis (the gateway's webhook path); a failure is dropped.
    public func recordWebhookRefusal(_ refusal: Refusal) {
        self.push(refusal, to: Self.webhookRefusalsKey, cap: Self.refusalsKept) { _ in }
    }

    public func recordOAuthRefusal(_ refusal: Refusal) async throws(RedisError) {
        try await self.push(refusal, to: Self.oauthRefusalsKey, cap: Self.refusalsKept)
    }

    public func recordInventoryPush(businessId: UUID, _ push: InventoryPush) async throws(RedisError) {
        try await self.push(push, to: Self.inventoryPushesKey(businessId: businessId), cap: Self.inventoryPushesPerBusiness)
    }

    private func push(
        _ entry: some Encodable,
        to key: String,
        cap: Int,
        completion: @escaping @Sendable (Result<RedisValue, RedisError>) -> Void
    ) {
        let bytes = (try? JSONEncoder().encode(entry)).map(Array.init) ?? Array("{}".utf8)
        CappedList.push(bytes, to: key, cap: cap, retention: Self.retention, on: self.redis, completion: completion)
    }

    private func push(_ entry: some Encodable, to key: String, cap: Int) async throws(RedisError) {
        let result = await withCheckedContinuation { continuation in self.push(entry, to: key, cap: cap) { continuation.resume(returning: $0) } }
        _ = try result.get()
    }

    // MARK: Reading

    /// The shop's deliveries, newest first (``deliveriesPerShop`` per queue, and up to a tenth more between trims):
    /// the lists of every queue (one round trip per Redis node), merged.
    public func deliveries(shop: String, limit: Int = OperatorJournal.deliveriesPerShop * 11 / 10) async throws -> [Delivery] {
        let lists = try await self.redis.send(
            commands: EcommerceQueue.all.map { queue in
                ["LRANGE", RedisArgument(Self.deliveriesKey(queue: queue, shop: shop)), "0", RedisArgument(max(0, limit - 1))]
            }
        )
        let deliveries = try lists.flatMap { list in try Self.decoded(list.orThrow().elements, as: Delivery.self) }
        return Array(deliveries.sorted { $0.at > $1.at }.prefix(limit))
    }

    /// The latest delivery of each topic among the shop's journaled deliveries, by topic.
    public func latestDeliveries(shop: String) async throws -> [String: Delivery] {
        var latest: [String: Delivery] = [:]
        for delivery in try await self.deliveries(shop: shop) where latest[delivery.topic] == nil { latest[delivery.topic] = delivery }
        return latest
    }

    /// Refused deliveries of every shop, newest first.
    public func webhookRefusals(limit: Int = OperatorJournal.refusalsKept) async throws -> [Refusal] {
        try await self.entries(Self.webhookRefusalsKey, limit: limit)
    }

    /// Refused OAuth callbacks of every shop, newest first.
    public func oauthRefusals(limit: Int = OperatorJournal.refusalsKept) async throws -> [Refusal] {
        try await self.entries(Self.oauthRefusalsKey, limit: limit)
    }

    /// The business's job outcomes, newest first.
    public func jobOutcomes(businessId: UUID, limit: Int = OperatorJournal.jobsPerBusiness) async throws -> [JobOutcome] {
        try await self.entries(Self.jobsKey(businessId: businessId), limit: limit)
    }

    /// The business's inventory pushes, newest first.
    public func inventoryPushes(businessId: UUID, limit: Int = OperatorJournal.inventoryPushesPerBusiness) async throws -> [InventoryPush] {
        try await self.entries(Self.inventoryPushesKey(businessId: businessId), limit: limit)
    }

    /// A list's entries that decode (a malformed one is skipped, not fatal).
    private func entries<Entry: Decodable>(_ key: String, limit: Int) async throws -> [Entry] {
        let reply = try await self.redis.send(["LRANGE", RedisArgument(key), "0", RedisArgument(max(0, limit - 1))]).orThrow().elements
        return Self.decoded(reply, as: Entry.self)
    }

    private static func decoded<Entry: Decodable>(_ entries: [RedisValue], as: Entry.Type) -> [Entry] {
        entries.compactMap { $0.text.flatMap { try? JSONDecoder().decode(Entry.self, from: Data($0.utf8)) } }
    }
}
