import Foundation
import Logging
import PostgresNIO

/// A push run that runs as a Shopify bulk operation: where it stands.
public struct BulkPush: Sendable, Equatable {
    /// Uploaded (the file is staged at Shopify), starting (Shopify may or may not have started the operation:
    /// in doubt until it is looked up), running (the operation id is known), finished (its results recorded).
    public enum Stage: String, Sendable {
        case uploaded, starting, running, finished
    }

    public var runId: UUID
    public var businessId: UUID
    public var shop: String
    public var stage: Stage
    /// Lines of the file: one product each.
    public var lines: Int
    /// Result lines recorded per sync page (the run's progress counts pages).
    public var pageSize: Int
    public var stagedUploadPath: String
    public var operationId: String?
    /// Shopify's last word on the operation (`COMPLETED`, `FAILED`, …) and its error code.
    public var status: String?
    public var errorCode: String?

    public init(runId: UUID, businessId: UUID, shop: String, lines: Int, pageSize: Int, stagedUploadPath: String) {
        self.runId = runId
        self.businessId = businessId
        self.shop = shop
        self.stage = .uploaded
        self.lines = lines
        self.pageSize = pageSize
        self.stagedUploadPath = stagedUploadPath
    }

    /// The sync pages the results are recorded in.
    public var pages: Int { max(1, (self.lines + self.pageSize - 1) / self.pageSize) }
}

/// What one line of a bulk push's file was: the product, and per variant what its mapping needs once Shopify
/// answers (the option value it is found by, the quantity it was created with, the outbox movements that holds).
public struct BulkPushLine: Codable, Sendable, Equatable {
    public var line: Int
    public var productId: UUID
    public var variants: [Variant]

    public struct Variant: Codable, Sendable, Equatable {
        public var id: UUID
        public var option: String
        public var quantity: Int?
        public var movements: [Int64]

        public init(id: UUID, option: String, quantity: Int?, movements: [Int64]) {
            self.id = id
            self.option = option
            self.quantity = quantity
            self.movements = movements
        }
    }

    public init(line: Int, productId: UUID, variants: [Variant]) {
        self.line = line
        self.productId = productId
        self.variants = variants
    }
}

/// The bulk pushes' rows (`ecommerce_bulk_push`, `ecommerce_bulk_push_line`).
public struct BulkPushStore: Sendable {
    let client: PostgresClient

    public init(client: PostgresClient) {
        self.client = client
    }

    private static let columns = """
        run_id, business_id, shop, stage, lines, page_size, staged_upload_path, operation_id, status, error_code
        """

    private func one(_ query: PostgresQuery, logger: Logger) async throws -> BulkPush? {
        let rows = try await self.client.query(query, logger: logger)
        for try await (runId, businessId, shop, stage, lines, pageSize, path, operationId, status, errorCode) in rows.decode(
            (UUID, UUID, String, String, Int, Int, String, String?, String?, String?).self
        ) {
            var push = BulkPush(runId: runId, businessId: businessId, shop: shop, lines: lines, pageSize: pageSize, stagedUploadPath: path)
            push.stage = BulkPush.Stage(rawValue: stage) ?? .uploaded
            push.operationId = operationId
            push.status = status
            push.errorCode = errorCode
            return push
        }
        return nil
    }

    public func push(runId: UUID, logger: Logger) async throws -> BulkPush? {
        try await self.one("SELECT \(unescaped: Self.columns) FROM ecommerce_bulk_push WHERE run_id = \(runId)", logger: logger)
    }

    /// The push that started a shop's operation.
    public func push(shop: String, operationId: String, logger: Logger) async throws -> BulkPush? {
        try await self.one(
            "SELECT \(unescaped: Self.columns) FROM ecommerce_bulk_push WHERE shop = \(shop) AND operation_id = \(operationId)",
            logger: logger
        )
    }

    /// Records an uploaded push and its lines in one transaction. A push already recorded for the run (a job that
    /// ran twice) is kept as it is; returns the one recorded.
    public func create(_ push: BulkPush, lines: [BulkPushLine], logger: Logger) async throws -> BulkPush {
        try await self.client.withTransaction(logger: logger) { connection in
            let inserted = try await connection.query(
                """
                INSERT INTO ecommerce_bulk_push (run_id, business_id, shop, stage, lines, page_size, staged_upload_path)
                VALUES (\(push.runId), \(push.businessId), \(push.shop), 'uploaded', \(push.lines), \(push.pageSize), \(push.stagedUploadPath))
                ON CONFLICT (run_id) DO NOTHING
                RETURNING run_id
                """,
                logger: logger
            )
            var created = false
            for try await _ in inserted.decode(UUID.self) { created = true }
            guard created else { return }
            let encoder = JSONEncoder()
            for start in stride(from: 0, to: lines.count, by: 1000) {
                let chunk = lines[start..<min(lines.count, start + 1000)]
                let variants = try chunk.map { String(decoding: try encoder.encode($0.variants), as: UTF8.self) }
                try await connection.query(
                    """
                    INSERT INTO ecommerce_bulk_push_line (run_id, line, product_id, variants)
                    SELECT \(push.runId), line, product_id, variants::jsonb
                    FROM UNNEST(\(chunk.map(\.line))::int[], \(chunk.map(\.productId))::uuid[], \(variants)::text[]) AS l(line, product_id, variants)
                    """,
                    logger: logger
                )
            }
        }
        return try await self.push(runId: push.runId, logger: logger) ?? push
    }

    /// Moves the push from `uploaded` to `starting`; false when another push of the shop is starting (only one may
    /// be, see the migration) or this one is not `uploaded`.
    public func beginStart(runId: UUID, logger: Logger) async throws -> Bool {
        do {
            let rows = try await self.client.query(
                "UPDATE ecommerce_bulk_push SET stage = 'starting', updated_at = now() WHERE run_id = \(runId) AND stage = 'uploaded' RETURNING run_id",
                logger: logger
            )
            for try await _ in rows.decode(UUID.self) { return true }
            return false
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            return false
        }
    }

    /// Back from `starting` to `uploaded`: Shopify did not start it (its concurrency was full).
    public func abandonStart(runId: UUID, logger: Logger) async throws {
        try await self.client.query(
            "UPDATE ecommerce_bulk_push SET stage = 'uploaded', updated_at = now() WHERE run_id = \(runId) AND stage = 'starting'",
            logger: logger
        )
    }

    /// Records the operation Shopify started for the push.
    public func started(runId: UUID, operationId: String, status: String, logger: Logger) async throws {
        try await self.client.query(
            """
            UPDATE ecommerce_bulk_push SET stage = 'running', operation_id = \(operationId), status = \(status), updated_at = now()
            WHERE run_id = \(runId) AND stage IN ('uploaded', 'starting')
            """,
            logger: logger
        )
    }

    /// Pushes of the shop other than `runId` whose operation may be running (starting or running).
    public func activeOperations(shop: String, except runId: UUID, logger: Logger) async throws -> Int {
        let rows = try await self.client.query(
            "SELECT count(*)::int FROM ecommerce_bulk_push WHERE shop = \(shop) AND stage IN ('starting', 'running') AND run_id <> \(runId)",
            logger: logger
        )
        for try await count in rows.decode(Int.self) { return count }
        return 0
    }

    /// Shopify's latest word on a running operation.
    public func observed(runId: UUID, status: String, objectCount: Int, logger: Logger) async throws {
        try await self.client.query(
            "UPDATE ecommerce_bulk_push SET status = \(status), object_count = \(objectCount), updated_at = now() WHERE run_id = \(runId)",
            logger: logger
        )
    }

    /// The push's results are recorded: it is over.
    public func finish(runId: UUID, status: String, errorCode: String?, objectCount: Int, logger: Logger) async throws {
        try await self.client.query(
            """
            UPDATE ecommerce_bulk_push SET stage = 'finished', status = \(status), error_code = \(errorCode), object_count = \(objectCount),
                updated_at = now()
            WHERE run_id = \(runId)
            """,
            logger: logger
        )
    }

    /// Of `runIds`, the bulk pushes recorded after `startedAfter` that are not finished: their operation may still
    /// be running at Shopify.
    public func following(runIds: [UUID], startedAfter: Date, logger: Logger) async throws -> Set<UUID> {
        guard !runIds.isEmpty else { return [] }
        let rows = try await self.client.query(
            """
            SELECT run_id FROM ecommerce_bulk_push
            WHERE run_id = ANY(\(runIds)::uuid[]) AND stage <> 'finished' AND created_at > \(startedAfter)
            """,
            logger: logger
        )
        var following = Set<UUID>()
        for try await runId in rows.decode(UUID.self) { following.insert(runId) }
        return following
    }

    /// Lines `range` of the push's file, in order.
    public func lines(runId: UUID, in range: Range<Int>, logger: Logger) async throws -> [BulkPushLine] {
        let rows = try await self.client.query(
            """
            SELECT line, product_id, variants::text FROM ecommerce_bulk_push_line
            WHERE run_id = \(runId) AND line >= \(range.lowerBound) AND line < \(range.upperBound) ORDER BY line
            """,
            logger: logger
        )
        var lines: [BulkPushLine] = []
        let decoder = JSONDecoder()
        for try await (line, productId, variants) in rows.decode((Int, UUID, String).self) {
            lines.append(
                BulkPushLine(line: line, productId: productId, variants: try decoder.decode([BulkPushLine.Variant].self, from: Data(variants.utf8)))
            )
        }
        return lines
    }
}
