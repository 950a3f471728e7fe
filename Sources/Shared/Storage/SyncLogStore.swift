import Foundation
import Logging
import PostgresNIO

/// `ecommerce_sync_log` rows written outside a larger transaction.
public struct SyncLogStore: Sendable {
    let client: PostgresClient

    public init(client: PostgresClient) {
        self.client = client
    }

    /// Records an event that was seen and needs no work of its own, with its details as a JSON object.
    @discardableResult
    public func recordEvent(
        businessId: UUID,
        kind: String,
        status: String,
        details: some Encodable,
        reference: String?,
        logger: Logger
    ) async throws -> UUID {
        let id = UUID()
        let json = String(decoding: try JSONEncoder().encode(details), as: UTF8.self)
        try await self.client.query(
            """
            INSERT INTO ecommerce_sync_log (id, business_id, kind, status, details, reference, finished_at)
            VALUES (\(id), \(businessId), \(kind), \(status), \(json)::jsonb, \(reference), now())
            """,
            logger: logger
        )
        return id
    }
}
