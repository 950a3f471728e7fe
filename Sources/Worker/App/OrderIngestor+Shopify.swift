import Foundation
import Logging
import Shopify
import Storage

extension OrderState {
    /// The state of a Shopify order as ingestion applies it: each line's quantity by Shopify's stock rule
    /// (``ShopifyOrder/consumedQuantity(of:)``).
    ///
    /// - Throws: ``OrderIngestionError/invalidOrder(_:)`` when `updated_at` is not a timestamp or a line appears twice.
    public init(_ order: ShopifyOrder) throws(OrderIngestionError) {
        guard let updatedAt = order.updatedAtDate else {
            throw OrderIngestionError.invalidOrder("updated_at \(order.updatedAt) is not a timestamp")
        }
        if let repeated = order.repeatedLineItemId {
            throw OrderIngestionError.invalidOrder("line item \(repeated) appears more than once")
        }
        self.init(
            orderId: order.id,
            name: order.name,
            updatedAt: updatedAt,
            updatedAtText: order.updatedAt,
            cancelled: order.cancelledAt != nil,
            lines: order.lineItems.map { line in
                Line(id: line.id, shopifyVariantId: line.variantId, sku: line.sku, quantity: order.consumedQuantity(of: line))
            }
        )
    }
}

extension OrderIngestor {
    /// Ingests one state of a Shopify order (see ``OrderState/init(_:)`` and
    /// ``ingest(businessId:order:source:reference:alone:logger:)``).
    public func ingest(
        businessId: UUID,
        order: ShopifyOrder,
        source: String,
        reference: String?,
        alone: Bool = false,
        logger: Logger
    ) async throws -> OrderIngestionResult {
        try await self.ingest(
            businessId: businessId,
            order: try OrderState(order),
            source: source,
            reference: reference,
            alone: alone,
            logger: logger
        )
    }
}
