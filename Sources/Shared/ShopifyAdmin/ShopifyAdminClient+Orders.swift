import Foundation
import JSONBytes
import Logging
import Shopify

/// One page of orders updated since a time, oldest change first.
public struct OrderPage: Sendable {
    public var orders: [ShopifyOrder]
    /// The cursor to pass as `after` for the next page; nil on the last page.
    public var nextCursor: String?
}

extension ShopifyAdminClient {
    /// Line items read per order in a page of orders; an order with more is completed by following the
    /// connection's cursor (``orderLineItemsDocument``) before it is returned.
    public static let orderLinesPerPage = 10
    /// Refunds read per order in a page; an order with that many is read again with up to ``refundsPerOrder``.
    public static let orderRefundsPerPage = 3
    /// Refund lines read per refund in a page; a refund with more is completed with ``refundLineItemsDocument``.
    public static let refundLinesPerPage = 5
    /// The most refunds one order may have: `refunds(first:)` is a list, not a connection, so it has no cursor.
    public static let refundsPerOrder = 50
    /// Lines read per follow-up call when an order or a refund has more than a page holds.
    static let linesPerFollowUp = 100

    static let ordersDocument = """
        query Orders($first: Int!, $after: String, $query: String!, $lines: Int!, $refunds: Int!, $refundLines: Int!) {
          orders(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {
            nodes {
              id name createdAt updatedAt cancelledAt test
              lineItems(first: $lines) { nodes { id quantity currentQuantity sku variant { id } } pageInfo { hasNextPage endCursor } }
              refunds(first: $refunds) {
                id
                refundLineItems(first: $refundLines) { nodes { quantity restockType lineItem { id } } pageInfo { hasNextPage endCursor } }
              }
            }
            pageInfo { hasNextPage endCursor }
          }
        }
        """

    static let orderLineItemsDocument = """
        query OrderLineItems($id: ID!, $first: Int!, $after: String) {
          order(id: $id) {
            lineItems(first: $first, after: $after) { nodes { id quantity currentQuantity sku variant { id } } pageInfo { hasNextPage endCursor } }
          }
        }
        """

    static let orderRefundsDocument = """
        query OrderRefunds($id: ID!, $refunds: Int!, $refundLines: Int!) {
          order(id: $id) {
            refunds(first: $refunds) {
              id
              refundLineItems(first: $refundLines) { nodes { quantity restockType lineItem { id } } pageInfo { hasNextPage endCursor } }
            }
          }
        }
        """

    static let refundLineItemsDocument = """
        query RefundLineItems($id: ID!, $first: Int!, $after: String) {
          refund(id: $id) {
            refundLineItems(first: $first, after: $after) { nodes { quantity restockType lineItem { id } } pageInfo { hasNextPage endCursor } }
          }
        }
        """

    struct OrdersData: Decodable, Sendable {
        var orders: Connection

        struct Connection: Decodable, Sendable {
            var nodes: [Order]
            var pageInfo: PageInfo
        }

        struct Order: Decodable, Sendable {
            var id: String
            var name: String?
            var createdAt: String?
            var updatedAt: String
            var cancelledAt: String?
            var test: Bool?
            var lineItems: Page<LineItem>
            var refunds: [Refund]
        }
    }

    struct PageInfo: Decodable, Sendable {
        var hasNextPage: Bool
        var endCursor: String?
    }

    /// `{ nodes pageInfo }` of a connection read page by page.
    struct Page<Node: Decodable & Sendable>: Decodable, Sendable {
        var nodes: [Node]
        var pageInfo: PageInfo
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
        var refundLineItems: Page<RefundLine>
    }

    struct RefundLine: Decodable, Sendable {
        var quantity: Int
        var restockType: String?
        var lineItem: Ref
    }

    struct OrderLineItemsData: Decodable, Sendable {
        var order: Order?
        struct Order: Decodable, Sendable { var lineItems: Page<LineItem> }
    }

    struct OrderRefundsData: Decodable, Sendable {
        var order: Order?
        struct Order: Decodable, Sendable { var refunds: [Refund] }
    }

    struct RefundLineItemsData: Decodable, Sendable {
        var refund: Refund?
        struct Refund: Decodable, Sendable { var refundLineItems: Page<RefundLine> }
    }

    /// What one order of a page costs as Shopify prices the document: the order, its line connection (2 plus a
    /// line and its variant each), and its refunds, each with its refund line connection.
    static let orderCost = 1 + (2 + 2 * orderLinesPerPage) + orderRefundsPerPage * (1 + 2 + 2 * refundLinesPerPage)

    /// The requested cost of a page of `first` orders.
    static func ordersCost(first: Int) -> Int { 2 + first * Self.orderCost }

    /// The most orders a page may ask for: Shopify refuses any query whose requested cost is above
    /// ``singleQueryMaxCost`` (`MAX_COST_EXCEEDED`), whatever the bucket holds.
    public static let maxOrdersPerPage = (singleQueryMaxCost - 2) / orderCost

    /// The cost of a follow-up read of lines: the order or refund, its connection, and each line with its reference.
    static let followUpCost = 1 + 2 + 2 * linesPerFollowUp

    /// Orders updated at or after `since`, `first` per page, each read whole: an order with more lines, refunds or
    /// refund lines than a page holds is completed through the connections' cursors before it is returned.
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
                    "lines": .int(Int64(Self.orderLinesPerPage)),
                    "refunds": .int(Int64(Self.orderRefundsPerPage)),
                    "refundLines": .int(Int64(Self.refundLinesPerPage)),
                ]),
                expectedCost: Self.ordersCost(first: first)
            ),
            as: credentials,
            logger: logger
        )
        var orders: [ShopifyOrder] = []
        for order in data.orders.nodes {
            orders.append(try await self.completed(order, as: credentials, logger: logger))
        }
        return OrderPage(orders: orders, nextCursor: data.orders.pageInfo.hasNextPage ? data.orders.pageInfo.endCursor : nil)
    }

    /// An order of a page with the lines, refunds and refund lines the page did not hold read as well.
    private func completed(_ order: OrdersData.Order, as credentials: ShopifyCredentials, logger: Logger) async throws -> ShopifyOrder {
        let lines = try await self.following(order.lineItems, operation: "orderLineItems", id: order.id) { cursor in
            let page = try await self.send(
                GraphQLOperation<OrderLineItemsData>(
                    name: "orderLineItems",
                    query: Self.orderLineItemsDocument,
                    variables: Self.followUpVariables(id: order.id, after: cursor),
                    expectedCost: Self.followUpCost
                ),
                as: credentials,
                logger: logger
            )
            return page.order?.lineItems
        }
        var refunds = order.refunds
        if refunds.count >= Self.orderRefundsPerPage {
            let data = try await self.send(
                GraphQLOperation<OrderRefundsData>(
                    name: "orderRefunds",
                    query: Self.orderRefundsDocument,
                    variables: .object([
                        "id": .string(order.id), "refunds": .int(Int64(Self.refundsPerOrder)), "refundLines": .int(Int64(Self.refundLinesPerPage)),
                    ]),
                    expectedCost: 1 + Self.refundsPerOrder * (1 + 2 + 2 * Self.refundLinesPerPage)
                ),
                as: credentials,
                logger: logger
            )
            guard let all = data.order?.refunds else {
                throw ShopifyAdminError.invalidResponse(operation: "orderRefunds", reason: "order \(order.id) not found")
            }
            guard all.count < Self.refundsPerOrder else {
                throw ShopifyAdminError.invalidResponse(
                    operation: "orderRefunds",
                    reason: "order \(order.id) has \(Self.refundsPerOrder) refunds or more"
                )
            }
            refunds = all
        }
        var refundLines: [(refund: String, lines: [RefundLine])] = []
        for refund in refunds {
            let lines = try await self.following(refund.refundLineItems, operation: "refundLineItems", id: refund.id) { cursor in
                let page = try await self.send(
                    GraphQLOperation<RefundLineItemsData>(
                        name: "refundLineItems",
                        query: Self.refundLineItemsDocument,
                        variables: Self.followUpVariables(id: refund.id, after: cursor),
                        expectedCost: Self.followUpCost
                    ),
                    as: credentials,
                    logger: logger
                )
                return page.refund?.refundLineItems
            }
            refundLines.append((refund.id, lines))
        }
        return try Self.converted(order, lines: lines, refunds: refundLines)
    }

    /// The most follow-up pages read for one connection (10,000 lines): a connection that claims a next page for
    /// ever must not hold a worker for ever.
    static let maxFollowUpPages = 100

    /// A connection's nodes, its first page given: the rest read page by page through `next` (nil when the
    /// object holding the connection is gone).
    private func following<Node>(
        _ first: Page<Node>,
        operation: String,
        id: String,
        next: (String?) async throws -> Page<Node>?
    ) async throws -> [Node] {
        var nodes = first.nodes
        var pageInfo = first.pageInfo
        var pages = 0
        while pageInfo.hasNextPage {
            pages += 1
            guard pages <= Self.maxFollowUpPages else {
                throw ShopifyAdminError.invalidResponse(operation: operation, reason: "\(id) has more than \(Self.maxFollowUpPages) pages")
            }
            guard let page = try await next(pageInfo.endCursor) else {
                throw ShopifyAdminError.invalidResponse(operation: operation, reason: "\(id) not found")
            }
            nodes += page.nodes
            pageInfo = page.pageInfo
        }
        return nodes
    }

    static func followUpVariables(id: String, after cursor: String?) -> JSONValue {
        .object(["id": .string(id), "first": .int(Int64(Self.linesPerFollowUp)), "after": cursor.map(JSONValue.string) ?? .null])
    }

    private static func converted(
        _ order: OrdersData.Order,
        lines: [LineItem],
        refunds: [(refund: String, lines: [RefundLine])]
    ) throws -> ShopifyOrder {
        guard let id = ShopifyGID.number(order.id) else {
            throw ShopifyAdminError.invalidResponse(operation: "orders", reason: "order id \(order.id)")
        }
        var converted = ShopifyOrder(
            id: id,
            name: order.name,
            updatedAt: order.updatedAt,
            cancelledAt: order.cancelledAt,
            lineItems: try lines.map { line in
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
            refunds: try refunds.map { refund in
                ShopifyOrder.Refund(
                    id: ShopifyGID.number(refund.refund) ?? 0,
                    refundLineItems: try refund.lines.map { line in
                        guard let lineId = ShopifyGID.number(line.lineItem.id) else {
                            throw ShopifyAdminError.invalidResponse(operation: "orders", reason: "refund line \(line.lineItem.id)")
                        }
                        // GraphQL's RETURN / NO_RESTOCK are the REST payload's return / no_restock.
                        return ShopifyOrder.RefundLineItem(lineItemId: lineId, quantity: line.quantity, restockType: line.restockType?.lowercased())
                    }
                )
            }
        )
        converted.createdAt = order.createdAt
        converted.test = order.test
        return converted
    }
}
