import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

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
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
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
