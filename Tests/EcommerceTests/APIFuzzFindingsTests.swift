import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import GatewayApp

/// What schemathesis found on its first runs against the gateway (scripts/openapi/fuzz_gateway.py), each pinned here.
extension GatewayTests {
    @Test(
        "the sync log list refuses a limit that is not a number and a kind it does not know (one with a NUL byte was a 500 from PostgreSQL)",
        arguments: [
            ("limit=null", "invalid_limit"), ("limit=1.5", "invalid_limit"), ("limit=0", "invalid_limit"), ("limit=501", "invalid_limit"),
            ("kind=%00poll", "invalid_kind"), ("kind=pol", "invalid_kind"), ("kind=", "invalid_kind"),
        ]
    )
    func syncLogListRefusesBadQueries(query: String, code: String) async throws {
        try await self.withGateway { client, postgres, _ in
            let business = try await BusinessFixture.create(on: postgres, stock: [("F", 1, nil)])
            let (status, body) = try await self.get(client, "/ecommerce/sync/logs?\(query)", token: TestJWT.merchant(business.id))
            #expect(status == .badRequest && body["error"] as? String == code, "\(body)")
            // Every kind the log holds is one the list takes.
            for kind in ["product_push", "collection_push", "inventory_reconcile", "poll", "order_ingest", "order_change"] {
                #expect(try await self.get(client, "/ecommerce/sync/logs?kind=\(kind)", token: TestJWT.merchant(business.id)).0 == .ok)
            }
        }
    }

    /// 632 bytes the envelope fuzz target found (2026-12-07) that make Foundation's `JSONDecoder` trap (in its error
    /// path past the depth limit): once a JWT's header, it stopped the gateway with one unauthenticated request.
    static let jsonDecoderTrap = Data(
        base64Encoded:
            "eyJuYW1pZCI6InNlY29uZC4taWQiLCJraU5kIjpbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1t7Im5hbWlkIjoic2Vjby5kLi1pZCIsImtpTmQiOltbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW3sibmFtaWQiOiJzZWNvLmQuLWlkIiwia2lOZCI6W1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1t7ImlkTmQiOlt7Im5hbWlkIjoic2Vjby5kLi1pZCIsImtpTmQiOltbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1s="
    )!

    /// A JWT whose header segment is `header` (base64url), with a made-up payload and signature.
    static func token(header: Data) -> String {
        let encoded = header.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        return encoded + ".e30.c2ln"
    }

    @Test("a JWT whose header JSONDecoder would trap on, or any header that is not a flat object of strings, is a 401; the gateway keeps answering")
    func jwtHeaderNeverReachesJSONDecoder() async throws {
        try await self.withGateway(carrier: .router) { client, _, _ in
            let headers = [
                Self.jsonDecoderTrap, Data(String(repeating: "[", count: 600).utf8), Data(#"{"alg":"HS256","x5c":["a"]}"#.utf8),
                Data(#"{"alg":"HS256","typ":"JWT","pad":"\#(String(repeating: "a", count: 1100))"}"#.utf8),
            ]
            for header in headers {
                let (status, body) = try await self.get(client, "/ecommerce/connection", token: Self.token(header: header))
                #expect(status == .unauthorized && body["error"] as? String == "unsupported_token", "\(body)")
            }
            #expect(try await self.get(client, "/ecommerce/connection", token: TestJWT.ops()).0 != .internalServerError)
        }
        #expect(AdminAuthenticator.algorithm(ofHeader: Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8)) == "HS256")
        #expect(AdminAuthenticator.algorithm(ofHeader: Array(#"{"alg":"none","alg":"HS256"}"#.utf8)) == "none", "the first wins")
        #expect(AdminAuthenticator.algorithm(ofHeader: Array(#"{"typ":"JWT"}"#.utf8)) == nil)
        #expect(AdminAuthenticator.algorithm(ofHeader: Array(Self.jsonDecoderTrap)) == nil)
    }

    @Test("a business's doctor runs at most once per DOCTOR_MIN_INTERVAL_SECONDS: sooner is a 429 with Retry-After, whoever asks; a fix counts apart")
    func doctorRunsAtMostOncePerInterval() async throws {
        // The fuzz asked in a loop: every run spent the shop's Shopify budget, answers waited for its throttle (5–10 s).
        // An interval far longer than a doctor run on a loaded machine (one took over 3 s beside the whole suite); that
        // the interval ends is the unit test's below.
        try await self.withDoctor(doctorMinInterval: 120) { client, _, _, _, fixture in
            let path = "/ops/api/businesses/\(fixture.businessId.uuidString.lowercased())/doctor"
            let (first, report) = try await self.get(client, path, token: TestJWT.ops())
            #expect(first == .ok && report["findings"] != nil)
            for token in [TestJWT.ops(), TestJWT.merchant(fixture.businessId)] {
                try await client.execute(uri: path, method: .get, headers: [.authorization: "Bearer \(token)"]) { response in
                    #expect(response.status == .tooManyRequests)
                    let retryAfter = try #require(response.headers[.retryAfter].flatMap { Int($0) })
                    #expect((1...120).contains(retryAfter))
                    #expect(String(buffer: response.body).contains("\"doctor_busy\""))
                }
            }
            // The fix that the run just called for may follow at once; a second fix may not.
            let (fix, _) = try await self.post(client, path + "/fix", token: TestJWT.ops())
            #expect(fix == .ok)
            let (again, refusal) = try await self.post(client, path + "/fix", token: TestJWT.ops())
            #expect(again == .tooManyRequests && refusal["error"] as? String == "doctor_busy")
            // Another business is not held back by this one.
            #expect(try await self.get(client, "/ops/api/businesses/\(UUID())/doctor", token: TestJWT.ops()).0 == .ok)
        }
    }

    @Test("the doctor's admission lets a business's run through again once its interval has passed, runs and fixes apart")
    func doctorAdmissionInterval() {
        let admission = DoctorAdmission(minInterval: .seconds(3))
        let business = UUID()
        let start = ContinuousClock.now
        #expect(admission.admit(business, fix: false, now: start) == nil)
        #expect(admission.admit(business, fix: false, now: start + .seconds(1)) == .seconds(2))
        #expect(admission.admit(business, fix: true, now: start + .seconds(1)) == nil, "a fix counts apart")
        #expect(admission.admit(business, fix: false, now: start + .seconds(3)) == nil, "the interval has passed")
        #expect(DoctorAdmission(minInterval: .zero).admit(business, fix: false) == nil, "0 admits every run")
    }
}
