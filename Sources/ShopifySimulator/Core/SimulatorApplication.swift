import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOFoundationCompat

/// The simulator's HTTP face: the Admin API under `/shops/{shop}` (so that `SHOPIFY_ADMIN_BASE_URL` can be
/// `http://host:port/shops/{shop}`), and a control API under `/_control` for tests, benchmarks and demos.
public func buildSimulatorApplication(
    simulator: ShopifySimulator,
    host: String,
    port: Int,
    logger: Logger,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let router = Router()
    router.post("/shops/:shop/admin/api/:version/graphql.json") { request, context in
        let shop = try context.parameters.require("shop")
        let version = try context.parameters.require("version")
        let body = try await request.body.collect(upTo: 2 << 20)
        let answer = simulator.graphQL(
            shop: shop,
            version: version,
            accessToken: request.headers[HTTPField.Name("X-Shopify-Access-Token")!],
            body: Data(buffer: body)
        )
        return answer.response
    }

    // Staged uploads (the storage service's form POST) and bulk operations' result files: no access token, as on
    // Shopify, where both are signed storage URLs.
    router.post("/_staged-uploads") { request, _ in
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: ShopifySimulator.stagedUploadLimit + (64 << 10))
        } catch {
            return Response(status: .contentTooLarge)
        }
        let status = simulator.receiveStagedUpload(contentType: request.headers[.contentType], body: Data(buffer: body))
        return Response(status: .init(code: status))
    }
    router.get("/_bulk-results/:file") { _, context in
        let file = try context.parameters.require("file")
        guard file.hasSuffix(".jsonl"), let id = Int64(file.dropLast(".jsonl".count)), let data = simulator.bulkResult(id: id) else {
            throw HTTPError(.notFound)
        }
        return ShopifySimulator.Answer(status: 200, headers: ["Content-Type": "application/jsonl"], body: data).response
    }

    router.get("/shops/:shop/admin/oauth/authorize") { request, context in
        var query: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
        switch simulator.authorize(shop: try context.parameters.require("shop"), query: query) {
        case .success(let location): return Response(status: .found, headers: [.location: location])
        case .failure(let refusal): return ShopifySimulator.Answer.json(["errors": refusal.message], status: 400).response
        }
    }
    router.post("/shops/:shop/admin/oauth/access_token") { request, context in
        let body = String(buffer: try await request.body.collect(upTo: 64 << 10))
        var form: [String: String] = [:]
        if let json = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] {
            for (key, value) in json { form[key] = "\(value)" }
        } else {
            for pair in body.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
                if parts.count == 2 { form[parts[0]] = parts[1] }
            }
        }
        switch simulator.exchangeToken(shop: try context.parameters.require("shop"), form: form) {
        case .success(let answer): return ShopifySimulator.Answer.json(answer).response
        case .failure(let refusal):
            return ShopifySimulator.Answer.json(["error": "invalid_request", "error_description": refusal.message], status: 400).response
        }
    }

    struct NewShop: Decodable {
        var shop: String
        var accessToken: String
    }
    router.post("/_control/shops") { request, context in
        let new = try await request.decode(as: NewShop.self, context: context)
        let locationId = simulator.createShop(new.shop, accessToken: new.accessToken)
        return ShopifySimulator.Answer.json(["shop": new.shop, "locationId": locationId]).response
    }
    router.get("/_control/shops/:shop/products") { _, context in
        let products = simulator.products(of: try context.parameters.require("shop"))
        return try ShopifySimulator.Answer(status: 200, headers: ["Content-Type": "application/json"], body: JSONEncoder().encode(products)).response
    }
    router.get("/_control/shops/:shop/stats") { _, context in
        guard let stats = simulator.stats(of: try context.parameters.require("shop")) else { throw HTTPError(.notFound) }
        return try ShopifySimulator.Answer(status: 200, headers: ["Content-Type": "application/json"], body: JSONEncoder().encode(stats)).response
    }
    router.post("/_control/shops/:shop/orders") { request, context in
        struct NewOrder: Decodable {
            var lines: [ShopifySimulator.OrderLine]
        }
        let order = try await request.decode(as: NewOrder.self, context: context)
        guard let payload = simulator.placeOrder(shop: try context.parameters.require("shop"), lines: order.lines) else {
            throw HTTPError(.notFound, message: "unknown shop or variant")
        }
        return ShopifySimulator.Answer(status: 201, headers: ["Content-Type": "application/json"], body: payload).response
    }
    router.get("/_control/shops/:shop/orders") { _, context in
        let orders = simulator.orders(of: try context.parameters.require("shop")).map { String(decoding: $0, as: UTF8.self) }
        return ShopifySimulator.Answer(
            status: 200,
            headers: ["Content-Type": "application/json"],
            body: Data("[\(orders.joined(separator: ","))]".utf8)
        )
        .response
    }
    struct OrderChangeRequest: Decodable {
        var lineItemId: Int64?
        var quantity: Int?
        var restock: Bool?
        /// A refund of several lines at once.
        var lines: [RefundedLine]?
    }
    struct RefundedLine: Decodable {
        var lineItemId: Int64
        var quantity: Int
    }
    router.post("/_control/shops/:shop/orders/:id/:change") { request, context in
        let shop = try context.parameters.require("shop")
        let id = try context.parameters.require("id", as: Int64.self)
        let body = try? await request.decode(as: OrderChangeRequest.self, context: context)
        let change: ShopifySimulator.OrderChange
        switch (try context.parameters.require("change"), body?.lineItemId, body?.quantity) {
        case ("cancel", _, _): change = .cancel
        case ("edit", let line?, let quantity?): change = .lowerQuantity(lineItemId: line, to: quantity)
        case ("refund", let line?, let quantity?): change = .refund(lineItemId: line, quantity: quantity, restock: body?.restock ?? true)
        case ("refund", nil, nil) where body?.lines?.isEmpty == false:
            change = .refundLines(body?.lines?.map { ($0.lineItemId, $0.quantity) } ?? [], restock: body?.restock ?? true)
        default: throw HTTPError(.badRequest, message: "cancel, edit with lineItemId and quantity, or refund with lineItemId and quantity or lines")
        }
        guard let payload = simulator.changeOrder(shop: shop, orderId: id, change) else {
            throw HTTPError(.notFound, message: "unknown order or line")
        }
        return ShopifySimulator.Answer(status: 200, headers: ["Content-Type": "application/json"], body: payload).response
    }
    router.post("/_control/shops/:shop/bulk-failures") { request, context in
        simulator.failNextBulkOperation(
            shop: try context.parameters.require("shop"),
            try await request.decode(as: ShopifySimulator.BulkFailure.self, context: context)
        )
        return Response(status: .noContent)
    }
    router.get("/_control/settings") { _, _ in
        try ShopifySimulator.Answer(status: 200, headers: ["Content-Type": "application/json"], body: JSONEncoder().encode(simulator.settings))
            .response
    }
    router.put("/_control/settings") { request, context in
        simulator.settings = try await request.decode(as: SimulatorSettings.self, context: context)
        return Response(status: .noContent)
    }
    return Application(
        router: router,
        configuration: .init(address: .hostname(host, port: port), serverName: "shopify-simulator"),
        onServerRunning: { channel in
            let bound = channel.localAddress?.port ?? port
            simulator.origin = "http://\(host):\(bound)"
            await onServerRunning(bound)
        },
        logger: logger
    )
}

extension ShopifySimulator.Answer {
    var response: Response {
        var headers = HTTPFields()
        for (name, value) in self.headers {
            if let field = HTTPField.Name(name) { headers[field] = value }
        }
        return Response(status: .init(code: self.status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(data: self.body)))
    }
}
