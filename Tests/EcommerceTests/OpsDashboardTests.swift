import EcommerceJobs
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JobQueue
import NIOFoundationCompat
import Operations
import RedisClient
import Testing

extension GatewayTests {
    func get(_ client: some TestClientProtocol, _ uri: String, token: String?) async throws -> (HTTPResponse.Status, [String: Any]) {
        var headers: HTTPFields = [:]
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await client.execute(uri: uri, method: .get, headers: headers) { response in
            (response.status, (try? JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]) ?? [:])
        }
    }

    @Test("the ops dashboard page is served with a strict Content-Security-Policy and holds no data")
    func dashboardPage() async throws {
        try await self.withGateway { client, _, _ in
            for (path, type) in [("/ops", "text/html"), ("/ops/dashboard.js", "text/javascript"), ("/ops/dashboard.css", "text/css")] {
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.contentType]?.hasPrefix(type) == true)
                    let policy = response.headers[HTTPField.Name("Content-Security-Policy")!] ?? ""
                    #expect(policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"))
                    #expect(response.headers[.cacheControl] == "no-store")
                }
            }
            try await client.execute(uri: "/ops", method: .get) { response in
                let page = String(buffer: response.body)
                #expect(page.contains("<script src=\"/ops/dashboard.js\""))
                #expect(!page.contains("ecommerce-orders"))
            }
        }
    }

    @Test("the ops API refuses missing, forged and merchant tokens, and a retry of an unknown queue or letter is a 404")
    func dashboardAPIRefusals() async throws {
        try await self.withGateway { client, _, _ in
            let forged = TestJWT.make(["role": "ops", "exp": Date().timeIntervalSince1970 + 60], secret: "another-secret-of-32-bytes-or-more!")
            let cases: [(String?, HTTPResponse.Status, String)] = [
                (nil, .unauthorized, "missing_token"),
                ("garbage", .unauthorized, "malformed_token"),
                (forged, .unauthorized, "invalid_token"),
                (TestJWT.make(["role": "ops"]), .unauthorized, "invalid_token"),
                (TestJWT.merchant(UUID()), .forbidden, "forbidden"),
            ]
            for (token, status, code) in cases {
                let (overview, body) = try await self.get(client, "/ops/api/overview", token: token)
                #expect(overview == status && body["error"] as? String == code, "\(code)")
                let (retry, _) = try await self.post(client, "/ops/api/dead-letters/ecommerce-orders/x/retry", token: token)
                #expect(retry == status, "\(code)")
            }
            let (unknownQueue, _) = try await self.post(client, "/ops/api/dead-letters/not-a-queue/x/retry", token: TestJWT.ops())
            #expect(unknownQueue == .notFound)
            let (unknownLetter, body) = try await self.post(client, "/ops/api/dead-letters/ecommerce-orders/no-such-job/retry", token: TestJWT.ops())
            #expect(unknownLetter == .notFound && body["error"] as? String == "not_found")
        }
    }

    @Test("the activity charts count the gateway's own answers per minute; only an operator reads them; minutes are 1…120")
    func activityCharts() async throws {
        try await self.withGateway { client, postgres, _ in
            let business = try await BusinessFixture.create(on: postgres, stock: [("A", 5, 11)])
            for (id, times) in [("activity-1", 2), ("activity-2", 1)] {
                let order = OrderFactory.order(lines: [OrderFactory.line(1, variant: business.variants[0], quantity: 1)])
                let body = OrderFactory.webhookBody(order)
                for _ in 0..<times {
                    #expect(try await Self.post(client, body: body, headers: Self.headers(body: body, shop: business.shop, webhookId: id)).0 == .ok)
                }
            }
            let forged = Self.headers(body: "{}", shop: business.shop, secret: "not-the-secret")
            #expect(try await Self.post(client, body: "{}", headers: forged).0 == .unauthorized)

            // The gateway flushes its counts every 5 s; the minute may turn meanwhile, so the hour's sums are compared.
            func totals() async throws -> [String: Int] {
                let (status, body) = try await self.get(client, "/ops/api/activity?minutes=60", token: TestJWT.ops())
                #expect(status == .ok && (body["minutes"] as? [Any])?.count == 60)
                let webhooks = body["webhooks"] as? [[String: Any]] ?? []
                return Dictionary(uniqueKeysWithValues: webhooks.map { ($0["name"] as? String ?? "", ($0["counts"] as? [Int] ?? []).reduce(0, +)) })
            }
            let expected = ["accepted": 2, "duplicate": 1, "unauthorized": 1]
            let counted = try await TestServices.eventually(timeout: .seconds(30), every: .milliseconds(500)) { try await totals() == expected }
            let seen = try await totals()
            #expect(counted, "\(seen)")

            #expect(try await self.get(client, "/ops/api/activity", token: nil).0 == .unauthorized)
            #expect(try await self.get(client, "/ops/api/activity", token: TestJWT.merchant(business.id)).0 == .forbidden)
            for bad in ["0", "121", "abc", "-5"] {
                let (status, body) = try await self.get(client, "/ops/api/activity?minutes=\(bad)", token: TestJWT.ops())
                #expect(status == .badRequest && body["error"] as? String == "invalid_minutes", "\(bad)")
            }
        }
    }

    @Test("the ops overview reads queues, schedule and dead letters from Redis; a retry puts the letter back once")
    func dashboardOverviewAndRetry() async throws {
        try await self.withGateway { client, _, redis in
            let envelope =
                #"{"id":"dash-test-1","kind":"orders.ingest","attempt":5,"maxAttempts":5,"enqueuedAt":"2026-11-27T10:00:00Z","payload":{}}"#
            let letter: [String: Any] = [
                "id": "dash-test-1", "job": envelope, "error": "boom: <script>alert(1)</script>", "attempt": 5, "failedAtMs": 1_700_000_000_000,
            ]
            let record = try JSONSerialization.data(withJSONObject: letter)
            _ = try await redis.send(["HSET", "{ecommerce-orders}:dead", "dash-test-1", RedisArgument(bytes: Array(record))])

            let (status, overview) = try await self.get(client, "/ops/api/overview", token: TestJWT.ops())
            #expect(status == .ok)
            let queues = try #require(overview["queues"] as? [[String: Any]])
            #expect(queues.count == 6)
            #expect(queues.first { $0["queue"] as? String == "ecommerce-orders" }?["dead"] as? Int == 1)
            let letters = try #require(overview["deadLetters"] as? [[String: Any]])
            #expect(letters.count == 1)
            #expect(letters.first?["kind"] as? String == "orders.ingest")
            #expect(letters.first?["error"] as? String == "boom: <script>alert(1)</script>")
            #expect(overview["schedule"] is [String: Any] && overview["workers"] is [Any] && overview["syncRuns"] is [Any])
            // The schedule comparison is shared for a while, not walked again for every refresh of every tab.
            let scheduled = (overview["schedule"] as? [String: Any])?["scheduled"] as? Int
            _ = try await redis.send(["ZADD", RedisArgument(PollSchedule.key), "1", "dash-test-stray"])
            let (_, refreshed) = try await self.get(client, "/ops/api/overview", token: TestJWT.ops())
            #expect((refreshed["schedule"] as? [String: Any])?["scheduled"] as? Int == scheduled)

            let (retried, body) = try await self.post(client, "/ops/api/dead-letters/ecommerce-orders/dash-test-1/retry", token: TestJWT.ops())
            #expect(retried == .ok && body["retried"] as? String == "dash-test-1")
            let (again, _) = try await self.post(client, "/ops/api/dead-letters/ecommerce-orders/dash-test-1/retry", token: TestJWT.ops())
            #expect(again == .notFound)
            let ready = try await redis.send(["ZRANGE", RedisArgument(QueueKeys(queue: EcommerceQueue.orders).ready), "0", "-1"]).orThrow().elements
                .compactMap(\.text)
            #expect(ready.count == 1 && ready[0].contains("\"dash-test-1\"") && ready[0].contains("\"attempt\":0"))
        }
    }

    @Test(
        "dead letters are paged, never read whole: the overview shows a page per queue with the exact total, the API walks them all, a bad cursor is a 400"
    )
    func deadLettersArePaged() async throws {
        try await self.withGateway { client, _, redis in
            let queue = "ecommerce-collections"
            let count = 300  // beyond what Redis keeps as a small hash, so that HSCAN pages for real
            for index in 0..<count {
                let letter: [String: Any] = [
                    "id": "page-\(index)", "job": "{}", "error": "e", "attempt": 1, "failedAtMs": 1_700_000_000_000 + index,
                ]
                let record = try JSONSerialization.data(withJSONObject: letter)
                _ = try await redis.send([
                    "HSET", RedisArgument(QueueKeys(queue: queue).dead), RedisArgument("page-\(index)"), RedisArgument(bytes: Array(record)),
                ])
            }
            let (status, overview) = try await self.get(client, "/ops/api/overview", token: TestJWT.ops())
            #expect(status == .ok)
            let shown = try #require(overview["deadLetters"] as? [[String: Any]])
            #expect(shown.count == 50, "the overview's page per queue")
            let queues = try #require(overview["queues"] as? [[String: Any]])
            #expect(queues.first { $0["queue"] as? String == queue }?["dead"] as? Int == count)

            var seen = Set<String>()
            var cursor: String? = "0"
            var pages = 0
            while let current = cursor {
                let (pageStatus, page) = try await self.get(
                    client,
                    "/ops/api/dead-letters/\(queue)?cursor=\(current)&limit=100",
                    token: TestJWT.ops()
                )
                #expect(pageStatus == .ok)
                let letters = try #require(page["letters"] as? [[String: Any]])
                #expect(letters.count <= 200, "about the limit (Redis may add a few)")
                let times = letters.compactMap { $0["failedAt"] as? String }
                #expect(times == times.sorted(by: >), "newest first within a page")
                seen.formUnion(letters.compactMap { $0["id"] as? String })
                cursor = page["next"] as? String
                pages += 1
                if pages > 50 { break }
            }
            #expect(seen.count == count && pages > 1, "\(seen.count) letters in \(pages) pages")
            for bad in ["cursor=abc", "limit=0", "limit=501", "cursor=-1"] {
                let (badStatus, body) = try await self.get(client, "/ops/api/dead-letters/\(queue)?\(bad)", token: TestJWT.ops())
                #expect(badStatus == .badRequest && body["error"] as? String == "invalid_page", "\(bad)")
            }
            #expect(try await self.get(client, "/ops/api/dead-letters/nope", token: TestJWT.ops()).0 == .notFound)
            #expect(try await self.get(client, "/ops/api/dead-letters/\(queue)", token: nil).0 == .unauthorized)
            #expect(try await self.get(client, "/ops/api/dead-letters/\(queue)", token: TestJWT.merchant(UUID())).0 == .forbidden)
        }
    }
}

@Suite("Ops reports")
struct OpsReportTests {
    @Test("the schedule report compares a chunk at a time: the same counts whatever the chunk, every id counted, at most the limit listed")
    func scheduleReportIsChunked() async throws {
        let redis = TestServices.redis(.schedule)
        defer { redis.shutdown() }
        _ = try await redis.send(["FLUSHDB"])
        // A database of its own: every active connection is one this test made, so every count is exact.
        try await TestServices.withPrivatePostgres { postgres in
            var businesses: [BusinessFixture] = []
            for _ in 0..<5 { businesses.append(try await BusinessFixture.create(on: postgres, stock: [])) }
            for business in businesses.prefix(3) {
                _ = try await redis.send([
                    "ZADD", RedisArgument(PollSchedule.key), "1700000000000", RedisArgument(business.id.uuidString.lowercased()),
                ])
            }
            for stray in ["not-a-business", UUID().uuidString.lowercased()] {
                _ = try await redis.send(["ZADD", RedisArgument(PollSchedule.key), "1800000000000", RedisArgument(stray)])
            }
            let reports = OpsReports(redis: redis, postgres: postgres)
            for chunk in [2, 1000] {
                let report = try await reports.schedule(listLimit: 1, chunk: chunk, logger: TestServices.logger)
                #expect(report.scheduled == 5 && report.extraCount == 2 && report.extra.count == 1, "chunk \(chunk): \(report)")
                #expect(report.activeConnections == 5 && report.missingCount == 2, "chunk \(chunk): \(report)")
                let unscheduled = Set(businesses.suffix(2).map { $0.id.uuidString.lowercased() })
                #expect(report.missing.count == 1 && report.missing.allSatisfy(unscheduled.contains), "chunk \(chunk): \(report)")
                #expect(report.nextDue == Date(timeIntervalSince1970: 1_700_000_000))
            }
        }
    }
}
