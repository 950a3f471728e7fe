import Foundation
import JobQueue
import Logging
import Shopify

/// One page of orders updated since a time, oldest change first.
public struct OrderPage: Sendable {
    public var orders: [ShopifyOrder]
    /// The cursor to pass as `after` for the next page; nil on the last page.
    public var nextCursor: String?
}

extension ShopifyAdminClient {
    /// Line items and refund lines read per order; an order with more is read again by id (not needed so far).
    public static let orderLinesPerPage = 50

    static let ordersDocument = """
        query Orders($first: Int!, $after: String, $query: String!) {
          orders(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {
            nodes {
              id name createdAt updatedAt cancelledAt test
              lineItems(first: 50) { nodes { id quantity currentQuantity sku variant { id } } }
              refunds { id refundLineItems(first: 50) { nodes { quantity restockType lineItem { id } } } }
            }
            pageInfo { hasNextPage endCursor }
          }
        }
        """

    struct OrdersData: Decodable, Sendable {
        var orders: Connection

        struct Connection: Decodable, Sendable {
            var nodes: [Order]
            var pageInfo: PageInfo
        }

        struct PageInfo: Decodable, Sendable {
            var hasNextPage: Bool
            var endCursor: String?
        }

        struct Order: Decodable, Sendable {
            var id: String
            var name: String?
            var createdAt: String?
            var updatedAt: String
            var cancelledAt: String?
            var test: Bool?
            var lineItems: Nodes<LineItem>
            var refunds: [Refund]?
        }

        struct LineItem: Decodable, Sendable {
            var id: String
            var quantity: Int
            var currentQuantity: Int?
            var sku: String?
            var variant: Ref?
        }

        struct Refund: Decodable, Sendable {
            var id: String
            var refundLineItems: Nodes<RefundLine>
        }

        struct RefundLine: Decodable, Sendable {
            var quantity: Int
            var restockType: String?
            var lineItem: Ref
        }
    }

    /// The cost Shopify will ask for a page: each order with its nested line and refund connections.
    static func ordersCost(first: Int) -> Int { 2 + first * (1 + 2 * Self.orderLinesPerPage) }

    /// The most orders a page may ask for: Shopify refuses any query whose requested cost is above
    /// ``singleQueryMaxCost`` (`MAX_COST_EXCEEDED`), whatever the bucket holds. Nine, with 50 lines per order.
    public static let maxOrdersPerPage = (singleQueryMaxCost - 2) / (1 + 2 * orderLinesPerPage)

    /// Orders updated at or after `since`, `first` per page (keep `first` small: nested lines multiply the cost).
    public func orders(
        updatedSince since: Date,
        first: Int,
        after cursor: String?,
        as credentials: ShopifyCredentials,
        logger: Logger
    ) async throws
        -> OrderPage
    {
        let formatter = ISO8601DateFormatter()
        let data = try await self.send(
            GraphQLOperation<OrdersData>(
                name: "orders",
                query: Self.ordersDocument,
                variables: .object([
                    "first": .int(Int64(first)),
                    "after": cursor.map(JSONValue.string) ?? .null,
                    "query": .string("updated_at:>='\(formatter.string(from: since))'"),
                ]),
                expectedCost: Self.ordersCost(first: first)
            ),
            as: credentials,
            logger: logger
        )
        let orders = try data.orders.nodes.map { order -> ShopifyOrder in
            guard let id = ShopifyGID.number(order.id) else {
                throw ShopifyAdminError.invalidResponse(operation: "orders", reason: "order id \(order.id)")
            }
            var converted = ShopifyOrder(
                id: id,
                name: order.name,
                updatedAt: order.updatedAt,
                cancelledAt: order.cancelledAt,
                lineItems: try order.lineItems.nodes.map { line in
                    guard let lineId = ShopifyGID.number(line.id) else {
                        throw ShopifyAdminError.invalidResponse(operation: "orders", reason: "line id \(line.id)")
                    }
                    return ShopifyOrder.LineItem(
                        id: lineId,
                        variantId: line.variant.flatMap { ShopifyGID.number($0.id) },
                        sku: line.sku,
                        quantity: line.quantity,
                        currentQuantity: line.currentQuantity
                    )
                },
                refunds: try order.refunds?.map { refund in
                    ShopifyOrder.Refund(
                        id: ShopifyGID.number(refund.id) ?? 0,
                        refundLineItems: try refund.refundLineItems.nodes.map { line in
                            guard let lineId = ShopifyGID.number(line.lineItem.id) else {
                                throw ShopifyAdminError.invalidResponse(operation: "orders", reason: "refund line \(line.lineItem.id)")
                            }
                            // GraphQL's RETURN / NO_RESTOCK are the REST payload's return / no_restock.
                            return ShopifyOrder.RefundLineItem(
                                lineItemId: lineId,
                                quantity: line.quantity,
                                restockType: line.restockType?.lowercased()
                            )
                        }
                    )
                }
            )
            converted.createdAt = order.createdAt
            converted.test = order.test
            return converted
        }
        return OrderPage(orders: orders, nextCursor: data.orders.pageInfo.hasNextPage ? data.orders.pageInfo.endCursor : nil)
    }
}
