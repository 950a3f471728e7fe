import Foundation
import GatewayApp
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Operations
import PostgresNIO
import Prometheus
import RedisClient
import Testing

extension GatewayTests {
    @Test("GET /openapi.json serves the committed document (docs/openapi.json) without a token: OpenAPI 3.1, JSON")
    func openAPIServed() async throws {
        try await self.withGateway { client, _, _ in
            try await client.execute(uri: "/openapi.json", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json")
                let served = String(buffer: response.body)
                let committed = try String(
                    contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/openapi.json"),
                    encoding: .utf8
                )
                // The Swift literal holds the file without its final newline.
                #expect(served + "\n" == committed, "the served document differs from docs/openapi.json: run scripts/openapi/write_document.py")
                let document = try #require(try JSONSerialization.jsonObject(with: Data(served.utf8)) as? [String: Any])
                #expect(document["openapi"] as? String == "3.1.0")
            }
        }
    }

    @Test("the OpenAPI document describes exactly the gateway's routes: none missing, none extra (Shopify's webhook aside)")
    func openAPIRouteCoverage() throws {
        // With OAuth configured, as in production (without it one placeholder route answers every OAuth step with 503).
        let configuration = try Self.configuration(extra: [
            "SHOPIFY_API_KEY": "coverage-app",
            "PUBLIC_BASE_URL": "https://gateway.example",
            "APP_REDIRECT_URL": "https://app.example/shopify/done",
            "TOKEN_ENCRYPTION_KEYS": CatalogFixture.cipherSpecification,
        ])
        let redis = RedisClient(configuration: configuration.common.redis)
        defer { redis.shutdown() }
        let postgres = PostgresClient(configuration: configuration.common.database, backgroundLogger: TestServices.logger)
        let routes = buildGatewayRoutes(
            configuration: configuration,
            redis: redis,
            postgres: postgres,
            metricsRegistry: PrometheusCollectorRegistry(),
            logger: TestServices.logger
        )
        let served = Set(
            routes.router.routes.map { route in
                // `:name` in the router is `{name}` in the document.
                let path = route.path.description.split(separator: "/", omittingEmptySubsequences: false).map { segment in
                    segment.hasPrefix(":") ? "{\(segment.dropFirst())}" : String(segment)
                }.joined(separator: "/")
                return "\(route.method.rawValue) \(path)"
            }
        ).subtracting(["POST /ecommerce/webhooks/shopify"])
        let documented = Set(
            OpenAPIContract.paths.flatMap { path, operations in
                operations.keys.filter { ["get", "post", "put", "delete", "patch"].contains($0) }.map { "\($0.uppercased()) \(path)" }
            }
        )
        #expect(served.subtracting(documented).sorted() == [], "routes the document lacks")
        #expect(documented.subtracting(served).sorted() == [], "documented routes the gateway lacks")
        #expect(served.count > 20)
    }

    @Test("the contract's validator refuses what the document does not allow: a missing field, a wrong type, an unlisted status")
    func openAPIValidatorRefuses() {
        let run = OpenAPIContract.resolve(["$ref": "#/components/schemas/SyncRun"])
        let good: [String: Any] = [
            "id": UUID().uuidString, "businessId": UUID().uuidString, "kind": "poll", "status": "completed", "processed": 1, "failed": 0,
            "pagesDone": 1, "errors": [], "details": [:], "startedAt": "2026-12-04T10:00:00Z",
        ]
        #expect(OpenAPIContract.problems(good, run, at: "$") == [])
        var missing = good
        missing["kind"] = nil
        #expect(OpenAPIContract.problems(missing, run, at: "$") == ["$: kind is required"])
        var wrong = good
        wrong["processed"] = "one"
        wrong["status"] = "sideways"
        wrong["startedAt"] = "yesterday"
        #expect(OpenAPIContract.problems(wrong, run, at: "$").count == 3)
        #expect(OpenAPIContract.template(of: "/ops/api/dead-letters/ecommerce-orders/abc/retry?x=1") == "/ops/api/dead-letters/{queue}/{id}/retry")
        #expect(OpenAPIContract.template(of: "/ops/api/overview") == "/ops/api/overview")
        #expect(OpenAPIContract.template(of: "/ecommerce/webhooks/shopify") == nil)
        withKnownIssue("an answer the document does not list is an issue") {
            OpenAPIContract.check(method: "GET", uri: "/healthz", status: 418, body: "{}")
        }
    }
}
