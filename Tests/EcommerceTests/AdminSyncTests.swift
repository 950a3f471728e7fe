import Crypto
import EcommerceJobs
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JobQueue
import NIOFoundationCompat
import PostgresNIO
import RedisClient
import Storage
import Testing

@testable import GatewayApp

/// HS256 tokens for the admin routes, built independently of the gateway's verifier.
enum TestJWT {
    static func make(_ claims: [String: Any], secret: String = GatewayTests.jwtSecret, alg: String = "HS256") -> String {
        func encode(_ data: Data) -> String {
            data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
        }
        let header = encode(try! JSONSerialization.data(withJSONObject: ["alg": alg, "typ": "JWT"]))
        let payload = encode(try! JSONSerialization.data(withJSONObject: claims))
        let signature = HMAC<SHA256>.authenticationCode(for: Data("\(header).\(payload)".utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return "\(header).\(payload).\(encode(Data(signature)))"
    }

    static func merchant(_ businessId: UUID, expiresIn: TimeInterval = 600) -> String {
        make(["businessId": businessId.uuidString.lowercased(), "exp": Date().timeIntervalSince1970 + expiresIn])
    }

    static func ops() -> String { make(["role": "ops", "exp": Date().timeIntervalSince1970 + 600]) }
}

extension GatewayTests {
    func post(_ client: some TestClientProtocol, _ uri: String, token: String?) async throws -> (HTTPResponse.Status, [String: Any]) {
        var headers: HTTPFields = [:]
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await client.execute(uri: uri, method: .post, headers: headers) { response in
            (response.status, (try? JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]) ?? [:])
        }
    }

    @Test("admin routes refuse missing, malformed, forged, expired, alg-none and other-business tokens")
    func adminAuthentication() async throws {
        try await self.withGateway { client, postgres, _ in
            let business = try await BusinessFixture.create(on: postgres, stock: [("A", 1, nil)])
            let uri = "/ecommerce/sync/products?businessId=\(business.id)"
            let cases: [(String?, HTTPResponse.Status, String)] = [
                (nil, .unauthorized, "missing_token"),
                ("not-a-jwt", .unauthorized, "malformed_token"),
                (
                    TestJWT.make(
                        ["businessId": business.id.uuidString, "exp": Date().timeIntervalSince1970 + 60],
                        secret: "another-secret-of-32-bytes-or-more!"
                    ), .unauthorized, "invalid_token"
                ),
                (TestJWT.merchant(business.id, expiresIn: -120), .unauthorized, "expired_token"),
                (
                    TestJWT.make(["businessId": business.id.uuidString, "exp": Date().timeIntervalSince1970 + 60], alg: "none"), .unauthorized,
                    "unsupported_token"
                ),
                (TestJWT.make(["businessId": business.id.uuidString]), .unauthorized, "invalid_token"),
                (TestJWT.merchant(UUID()), .forbidden, "forbidden"),
            ]
            for (token, status, code) in cases {
                let (answer, body) = try await self.post(client, uri, token: token)
                #expect(answer == status, "\(code)")
                #expect(body["error"] as? String == code)
            }
            let (badId, _) = try await self.post(client, "/ecommerce/sync/products?businessId=nope", token: TestJWT.ops())
            #expect(badId == .badRequest)
        }
    }

    @Test("POST /ecommerce/sync/products answers 202 with a sync log id and enqueues the plan; the log is readable by its owner only")
    func productPushStarts() async throws {
        try await self.withGateway { client, postgres, redis in
            let business = try await BusinessFixture.create(on: postgres, stock: [("A", 1, nil)])
            let (status, body) = try await self.post(client, "/ecommerce/sync/products", token: TestJWT.merchant(business.id))
            #expect(status == .accepted)
            let runId = try #require((body["syncLogId"] as? String).flatMap(UUID.init(uuidString:)))
            let queued = try await redis.send(["ZRANGE", RedisArgument(QueueKeys(queue: EcommerceQueue.products).ready), "0", "-1"]).elements
                .compactMap(\.text)
            let envelope = try #require(
                queued.first.map { try JobCoding.decoder().decode(JobEnvelope<ProductPushPlanJob.Payload>.self, from: Data($0.utf8)) }
            )
            #expect(envelope.kind == "products.plan" && envelope.payload.runId == runId && envelope.payload.pageSize == 7)
            #expect(envelope.businessId == business.id && envelope.shop == business.shop)

            try await client.execute(
                uri: "/ecommerce/sync/logs/\(runId)",
                method: .get,
                headers: [.authorization: "Bearer \(TestJWT.merchant(business.id))"]
            ) {
                response in
                #expect(response.status == .ok)
                let run = try JSONDecoder.iso8601.decode(SyncRun.self, from: Data(buffer: response.body))
                #expect(run.status == "running" && run.kind == "product_push" && run.businessId == business.id)
            }
            try await client.execute(
                uri: "/ecommerce/sync/logs/\(runId)",
                method: .get,
                headers: [.authorization: "Bearer \(TestJWT.merchant(UUID()))"]
            ) {
                #expect($0.status == .notFound)
            }
            try await client.execute(uri: "/ecommerce/sync/logs/\(runId)", method: .get, headers: [.authorization: "Bearer \(TestJWT.ops())"]) {
                #expect($0.status == .ok)
            }

            let disconnected = try await BusinessFixture.create(on: postgres, stock: [("A", 1, nil)], connection: .uninstalled)
            let (refused, error) = try await self.post(client, "/ecommerce/sync/products", token: TestJWT.merchant(disconnected.id))
            #expect(refused == .conflict && error["error"] as? String == "not_connected")
        }
    }
}

extension GatewayTests {
    @Test("POST /ecommerce/sync/inventory answers 202 with a sync log and enqueues the reconciliation; without a JWT 401, disconnected 409")
    func inventoryReconciliationStarts() async throws {
        try await self.withGateway { client, postgres, redis in
            let business = try await BusinessFixture.create(on: postgres, stock: [("R", 1, nil)])
            let (status, body) = try await self.post(client, "/ecommerce/sync/inventory", token: TestJWT.merchant(business.id))
            #expect(status == .accepted)
            let runId = try #require((body["syncLogId"] as? String).flatMap(UUID.init(uuidString:)))
            let queued = try await redis.send(["ZRANGE", RedisArgument(QueueKeys(queue: EcommerceQueue.inventory).ready), "0", "-1"]).elements
                .compactMap(\.text).map {
                    try JobCoding.decoder().decode(JobEnvelope<InventoryReconcileJob.Payload>.self, from: Data($0.utf8))
                }
            #expect(
                queued.contains {
                    $0.kind == "inventory.reconcile" && $0.payload.runId == runId && $0.businessId == business.id
                }
            )
            let run = try #require(try await SyncLogStore(client: postgres).run(id: runId, logger: TestServices.logger))
            #expect(run.kind == "inventory_reconcile" && run.status == "running")

            try await client.execute(uri: "/ecommerce/sync/inventory", method: .post) { #expect($0.status == .unauthorized) }
            let disconnected = try await BusinessFixture.create(on: postgres, stock: [("R", 1, nil)], connection: .uninstalled)
            let (refused, error) = try await self.post(client, "/ecommerce/sync/inventory", token: TestJWT.merchant(disconnected.id))
            #expect(refused == .conflict && error["error"] as? String == "not_connected")
        }
    }

    @Test("POST /ecommerce/sync/poll queues one poll at a time per business; GET /ecommerce/sync/logs lists a business's runs")
    func pollRequestAndLogList() async throws {
        try await self.withGateway { client, postgres, redis in
            let business = try await BusinessFixture.create(on: postgres, stock: [("P", 1, nil)])
            let token = TestJWT.merchant(business.id)
            let (first, body) = try await self.post(client, "/ecommerce/sync/poll", token: token)
            #expect(first == .accepted && body["status"] as? String == "queued")
            let (second, error) = try await self.post(client, "/ecommerce/sync/poll", token: token)
            #expect(second == .conflict && error["error"] as? String == "poll_pending")
            let queued = try await redis.send(["ZRANGE", RedisArgument(QueueKeys(queue: EcommerceQueue.polling).ready), "0", "-1"]).elements
                .compactMap(\.text)
            #expect(queued.count == 1)
            #expect(try JobCoding.decoder().decode(JobEnvelope<OrderPollJob.Payload>.self, from: Data(queued[0].utf8)).payload.slot == nil)

            _ = try await self.post(client, "/ecommerce/sync/products", token: token)
            _ = try await self.post(client, "/ecommerce/sync/collections", token: token)
            try await client.execute(uri: "/ecommerce/sync/logs?limit=10", method: .get, headers: [.authorization: "Bearer \(token)"]) { response in
                #expect(response.status == .ok)
                struct List: Decodable { var logs: [SyncRun] }
                let list = try JSONDecoder.iso8601.decode(List.self, from: Data(buffer: response.body))
                #expect(Set(list.logs.map(\.kind)) == ["product_push", "collection_push"])
            }
            try await client.execute(uri: "/ecommerce/sync/logs?kind=collection_push", method: .get, headers: [.authorization: "Bearer \(token)"]) {
                response in
                struct List: Decodable { var logs: [SyncRun] }
                let list = try JSONDecoder.iso8601.decode(List.self, from: Data(buffer: response.body))
                #expect(list.logs.map(\.kind) == ["collection_push"])
            }
            try await client.execute(
                uri: "/ecommerce/sync/logs?businessId=\(UUID())",
                method: .get,
                headers: [.authorization: "Bearer \(token)"]
            ) { #expect($0.status == .forbidden) }
        }
    }
}

extension GatewayTests {
    @Test("GET /ecommerce/connection shows the connection without tokens; DELETE disconnects, stops polling and keeps history")
    func connectionAPI() async throws {
        try await self.withGateway { client, postgres, redis in
            let business = try await BusinessFixture.create(on: postgres, stock: [("C", 1, nil)])
            try await ConnectionStore(client: postgres).saveAccessToken(
                businessId: business.id,
                sealed: [1, 2, 3],
                scopes: "read_orders",
                logger: TestServices.logger
            )
            _ = try await PollSchedule(redis: redis, interval: .seconds(900)).reconcile(adding: [business.id])
            let auth: HTTPFields = [.authorization: "Bearer \(TestJWT.merchant(business.id))"]
            try await client.execute(uri: "/ecommerce/connection", method: .get, headers: auth) { response in
                #expect(response.status == .ok)
                let text = String(buffer: response.body)
                #expect(!text.lowercased().contains("token\":") && !text.contains("ciphertext"))
                let summary = try JSONDecoder.iso8601.decode(ConnectionStore.Summary.self, from: Data(buffer: response.body))
                #expect(summary.status == .active && summary.shop == business.shop && summary.scopes == ["read_orders"] && summary.nextPollAt != nil)
            }
            try await client.execute(uri: "/ecommerce/connection?businessId=\(UUID())", method: .get, headers: auth) {
                #expect($0.status == .forbidden)
            }
            try await client.execute(uri: "/ecommerce/connection", method: .delete, headers: auth) { #expect($0.status == .noContent) }
            try await client.execute(uri: "/ecommerce/connection", method: .delete, headers: auth) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/ecommerce/connection", method: .get, headers: auth) { response in
                let summary = try JSONDecoder.iso8601.decode(ConnectionStore.Summary.self, from: Data(buffer: response.body))
                #expect(summary.status == .disconnected && summary.nextPollAt == nil)
            }
            let account = try #require(try await ConnectionStore(client: postgres).account(businessId: business.id, logger: TestServices.logger))
            #expect(account.sealedAccessToken == nil)
        }
    }
}

extension GatewayTests {
    @Test("a merchant token is refused (403) on every admin route for another business")
    func crossTenant() async throws {
        try await self.withGateway { client, postgres, _ in
            let mine = try await BusinessFixture.create(on: postgres, stock: [("M", 1, nil)])
            let theirs = try await BusinessFixture.create(on: postgres, stock: [("T", 1, nil)])
            let auth: HTTPFields = [.authorization: "Bearer \(TestJWT.merchant(mine.id))"]
            let target = "businessId=\(theirs.id)"
            let routes: [(HTTPRequest.Method, String)] = [
                (.get, "/ecommerce/connection?\(target)"), (.delete, "/ecommerce/connection?\(target)"),
                (.post, "/ecommerce/sync/products?\(target)"), (.post, "/ecommerce/sync/collections?\(target)"),
                (.post, "/ecommerce/sync/poll?\(target)"), (.get, "/ecommerce/sync/logs?\(target)"),
                (.post, "/ecommerce/sync/inventory?\(target)"),
            ]
            for (method, uri) in routes {
                try await client.execute(uri: uri, method: method, headers: auth) { #expect($0.status == .forbidden, "\(method) \(uri)") }
            }
            // And the other business is untouched.
            let account = try await ConnectionStore(client: postgres).account(businessId: theirs.id, logger: TestServices.logger)
            #expect(account?.status == .active)
        }
    }
}

extension JSONDecoder {
    static var iso8601: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}

/// The admin token verifier alone: the claims jwt-kit reads, checked with the leeway, audience and issuer.
@Suite("Admin tokens")
struct AdminTokenTests {
    func code(_ token: String, audience: String? = nil, issuer: String? = nil) async -> String {
        let authenticator = AdminAuthenticator(secret: GatewayTests.jwtSecret, audience: audience, issuer: issuer)
        let request = Request(
            head: HTTPRequest(method: .get, scheme: "http", authority: "gateway", path: "/", headerFields: [.authorization: "Bearer \(token)"]),
            body: RequestBody(buffer: ByteBuffer())
        )
        do {
            return "\(try await authenticator.authenticate(request))"
        } catch {
            return error.code
        }
    }

    @Test("HS256 pinned, exp required, exp and nbf within a 30 s leeway, aud and iss checked when configured")
    func claims() async {
        let now = Date().timeIntervalSince1970
        let business = UUID().uuidString
        func token(_ claims: [String: Any], alg: String = "HS256") -> String {
            TestJWT.make(claims.merging(["businessId": business]) { $1 }, alg: alg)
        }
        #expect(await self.code(token(["exp": now + 60])).hasPrefix("merchant"))
        #expect(await self.code(token(["exp": now - 10])).hasPrefix("merchant"), "expired within the leeway")
        #expect(await self.code(token(["exp": now - 40])) == "expired_token")
        #expect(await self.code(token(["exp": now + 60, "nbf": now + 10])).hasPrefix("merchant"), "not yet valid within the leeway")
        #expect(await self.code(token(["exp": now + 60, "nbf": now + 120])) == "invalid_token")
        #expect(await self.code(token(["exp": now + 60], alg: "HS512")) == "unsupported_token")
        #expect(await self.code(token([:])) == "invalid_token", "no exp")
        #expect(await self.code(token(["exp": "tomorrow"])) == "malformed_token")
        #expect(await self.code(token(["exp": now + 60, "aud": "flowpos-admin"]), audience: "flowpos-admin").hasPrefix("merchant"))
        #expect(await self.code(token(["exp": now + 60, "aud": ["other", "flowpos-admin"]]), audience: "flowpos-admin").hasPrefix("merchant"))
        #expect(await self.code(token(["exp": now + 60, "aud": "other"]), audience: "flowpos-admin") == "invalid_token")
        #expect(await self.code(token(["exp": now + 60]), audience: "flowpos-admin") == "invalid_token", "aud required once configured")
        #expect(await self.code(token(["exp": now + 60, "iss": "flowpos"]), issuer: "flowpos").hasPrefix("merchant"))
        #expect(await self.code(token(["exp": now + 60, "iss": "elsewhere"]), issuer: "flowpos") == "invalid_token")
        #expect(await self.code(token(["exp": now + 60]), issuer: "flowpos") == "invalid_token")
        #expect(await self.code(TestJWT.make(["role": "ops", "exp": now + 60])) == "ops")
    }
}
