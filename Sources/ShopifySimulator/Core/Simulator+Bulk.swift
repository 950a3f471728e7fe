import Foundation
import GraphQL
import Synchronization

/// Bulk mutations as Shopify runs them (SHOPIFY.md): a JSONL file of variables is staged (`stagedUploadsCreate`,
/// then a multipart POST of the file to the target it names), `bulkOperationRunMutation` runs the mutation once per
/// line in the background, outside the shop's cost bucket, at most five operations at once per shop; the operation
/// is read through `node(id:)` or `currentBulkOperation`, its result is a JSONL file at `url`, one line per input
/// line (`__lineNumber`, 0-based), and `bulk_operations/finish` is delivered when it ends.
extension ShopifySimulator {
    /// Shopify's cap on bulk operations running at once per shop (API 2026-01 and later).
    static let bulkOperationsPerShop = 5
    /// Shopify's cap on a staged upload's size (100 MB).
    public static let stagedUploadLimit = 100 << 20

    /// A staged target, waiting for its file or holding it.
    struct StagedFile {
        var shop: String
        var contents: Data?
    }

    /// One bulk operation of a shop.
    struct BulkOperation {
        var id: Int64
        var query: String
        var status: String
        var errorCode: String?
        var createdAt: Date
        var completedAt: Date?
        /// Lines run so far.
        var objectCount: Int
        var fileSize: Int?
        var url: String?
        var partialDataUrl: String?

        var json: [String: Any] {
            [
                "__typename": "BulkOperation",
                "id": "gid://shopify/BulkOperation/\(self.id)",
                "status": self.status,
                "errorCode": self.errorCode as Any? ?? NSNull(),
                "createdAt": ShopifySimulator.timestamp(self.createdAt),
                "completedAt": self.completedAt.map(ShopifySimulator.timestamp) as Any? ?? NSNull(),
                "objectCount": String(self.objectCount),
                "rootObjectCount": String(self.objectCount),
                "fileSize": self.fileSize.map(String.init) as Any? ?? NSNull(),
                "url": self.url as Any? ?? NSNull(),
                "partialDataUrl": self.partialDataUrl as Any? ?? NSNull(),
                "query": self.query,
                "type": "MUTATION",
            ]
        }

        var isRunning: Bool { self.status == "CREATED" || self.status == "RUNNING" }
    }

    /// A failure to inject into a shop's next bulk operation: it stops after `afterLines` lines with `errorCode`.
    public struct BulkFailure: Sendable, Codable {
        public var errorCode: String
        public var afterLines: Int

        public init(errorCode: String = "INTERNAL_SERVER_ERROR", afterLines: Int = 0) {
            self.errorCode = errorCode
            self.afterLines = afterLines
        }
    }

    /// RFC 3339 in UTC, whole seconds, as Shopify writes a bulk operation's times.
    static func timestamp(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }

    /// Makes the shop's next bulk operation fail as Shopify's do (control API).
    public func failNextBulkOperation(shop domain: String, _ failure: BulkFailure) {
        self.state.withLock { $0.shops[domain]?.bulkFailures.append(failure) }
    }

    /// `stagedUploadsCreate(input:)`: one target per input, a POST form on the simulator (`/_staged-uploads`) whose
    /// `key` parameter is the `stagedUploadPath` a bulk mutation names.
    static func stagedUploadsCreate(
        _ arguments: [String: Any],
        shop: SimulatedShop,
        origin: String,
        files: inout [String: StagedFile]
    ) -> [String: Any] {
        let inputs = arguments["input"] as? [[String: Any]] ?? []
        var targets: [Any] = []
        for (index, input) in inputs.enumerated() {
            guard input["resource"] as? String == "BULK_MUTATION_VARIABLES" else {
                return [
                    "stagedTargets": NSNull(),
                    "userErrors": [userError(["input", String(index), "resource"], "The simulator stages BULK_MUTATION_VARIABLES only", "INVALID")],
                ]
            }
            if let size = (input["fileSize"] as? Int) ?? (input["fileSize"] as? String).flatMap({ Int($0) }), size > Self.stagedUploadLimit {
                return [
                    "stagedTargets": NSNull(), "userErrors": [userError(["input", String(index), "fileSize"], "File size is too large", "INVALID")],
                ]
            }
            let key = "tmp/\(shop.locations.first?.id ?? 0)/bulk/\(UUID().uuidString.lowercased())/\(input["filename"] as? String ?? "bulk_op_vars")"
            files[key] = StagedFile(shop: shop.domain, contents: nil)
            targets.append(
                [
                    "url": "\(origin)/_staged-uploads",
                    "resourceUrl": NSNull(),
                    "parameters": [
                        ["name": "key", "value": key],
                        ["name": "Content-Type", "value": input["mimeType"] as? String ?? "text/jsonl"],
                        ["name": "success_action_status", "value": "201"],
                        ["name": "acl", "value": "private"],
                    ],
                ] as [String: Any]
            )
        }
        return ["stagedTargets": targets, "userErrors": [] as [Any]]
    }

    /// The multipart POST of a staged file: the target's parameters, then the file. Answers as the storage service
    /// does: 201 when stored, 400 for a form without a known key or a file, 413 above 100 MB.
    public func receiveStagedUpload(contentType: String?, body: Data) -> Int {
        guard body.count <= Self.stagedUploadLimit else { return 413 }
        guard let contentType, let boundary = MultipartForm.boundary(of: contentType), let form = MultipartForm.parse(body, boundary: boundary),
            let key = form["key"].map({ String(decoding: $0, as: UTF8.self) }), let file = form["file"]
        else { return 400 }
        return self.state.withLock { state in
            guard state.stagedFiles[key] != nil else { return 400 }
            state.stagedFiles[key]?.contents = file
            return 201
        }
    }

    /// `bulkOperationRunMutation(mutation:, stagedUploadPath:, clientIdentifier:)`: checks the mutation against the
    /// schema, the staged file and the shop's concurrency, then starts running it.
    func bulkOperationRunMutation(_ arguments: [String: Any], in shop: inout SimulatedShop, state: inout State, now: Date) -> [String: Any] {
        func refused(_ field: String, _ message: String, _ code: String) -> [String: Any] {
            ["bulkOperation": NSNull(), "userErrors": [Self.userError([field], message, code)]]
        }
        let mutation = arguments["mutation"] as? String ?? ""
        let path = arguments["stagedUploadPath"] as? String ?? ""
        if let identifier = arguments["clientIdentifier"] as? String, !(10...255).contains(identifier.count) {
            return refused("clientIdentifier", "Client identifier must be between 10 and 255 characters", "INVALID")
        }
        guard case .success(let document) = AdminSchema.shopify.prepare(mutation), document.rootType == "Mutation" else {
            return refused("mutation", "Invalid mutation: the mutation must be a valid GraphQL mutation of the Admin API", "INVALID_MUTATION")
        }
        guard let file = state.stagedFiles[path], file.shop == shop.domain else {
            return refused("stagedUploadPath", "The staged upload path does not exist", "NO_SUCH_FILE")
        }
        guard let contents = file.contents else {
            return refused("stagedUploadPath", "The staged upload file has not been uploaded", "NO_SUCH_FILE")
        }
        var lines: [[String: JSONLiteral]] = []
        for line in contents.split(separator: UInt8(ascii: "\n")) where !line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") }) {
            guard let variables = try? JSONDecoder().decode([String: JSONLiteral].self, from: Data(line)) else {
                return refused("stagedUploadPath", "Unexpected file structure - expected JSONL", "INVALID_STAGED_UPLOAD_FILE")
            }
            lines.append(variables)
        }
        if shop.bulkOperations.values.filter(\.isRunning).count >= Self.bulkOperationsPerShop {
            return refused(
                "mutation",
                "A bulk operation for this app and shop is already in progress: at most \(Self.bulkOperationsPerShop) run at once.",
                "OPERATION_IN_PROGRESS"
            )
        }
        let operation = BulkOperation(id: state.ids.take(), query: mutation, status: "CREATED", createdAt: now, objectCount: 0)
        shop.bulkOperations[operation.id] = operation
        shop.stats.bulkOperationsStarted += 1
        state.stagedFiles[path] = nil
        let failure = shop.bulkFailures.isEmpty ? nil : shop.bulkFailures.removeFirst()
        let domain = shop.domain
        Task { await self.runBulkOperation(operation.id, shop: domain, document: document, lines: lines, failure: failure) }
        return ["bulkOperation": operation.json, "userErrors": [] as [Any]]
    }

    /// Runs the lines at `bulkRowsPerSecond`, each under the lock as a request of its own would run (but outside
    /// the cost bucket), then publishes the result file and delivers `bulk_operations/finish`.
    private func runBulkOperation(
        _ id: Int64,
        shop domain: String,
        document: PreparedDocument,
        lines: [[String: JSONLiteral]],
        failure: BulkFailure?
    )
        async
    {
        var results = Data()
        var done = 0
        // Lines earned at the configured rate, counted in fractions so that a slow rate (one line a second) holds.
        var earned = 0.0
        var last = ContinuousClock.now
        self.state.withLock { $0.shops[domain]?.bulkOperations[id]?.status = "RUNNING" }
        while done < lines.count {
            if let failure, done >= failure.afterLines { break }
            try? await Task.sleep(for: .milliseconds(20))
            let now = ContinuousClock.now
            let elapsed = last.duration(to: now)
            last = now
            earned +=
                self.state.withLock { $0.settings.bulkRowsPerSecond }
                * (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
            guard earned >= 1 else { continue }
            let batch = Int(earned)
            earned -= Double(batch)
            let end = min(lines.count, done + batch, failure.map { max(done + 1, $0.afterLines) } ?? Int.max)
            self.state.withLock { state in
                guard var shop = state.shops[domain] else { return }
                for number in done..<end {
                    var answer = self.runBulkLine(document: document, variables: lines[number], in: &shop, state: &state)
                    answer["__lineNumber"] = number
                    results.append((try? JSONSerialization.data(withJSONObject: answer, options: [.sortedKeys])) ?? Data("{}".utf8))
                    results.append(UInt8(ascii: "\n"))
                }
                shop.bulkOperations[id]?.objectCount = end
                state.shops[domain] = shop
            }
            done = end
        }
        let finished = self.state.withLock { state -> BulkOperation? in
            state.bulkResults[id] = results
            let url = "\(state.origin)/_bulk-results/\(id).jsonl"
            guard var operation = state.shops[domain]?.bulkOperations[id] else { return nil }
            operation.completedAt = Date()
            operation.fileSize = results.count
            if let failure {
                operation.status = "FAILED"
                operation.errorCode = failure.errorCode
                operation.partialDataUrl = done > 0 ? url : nil
            } else {
                operation.status = "COMPLETED"
                operation.url = lines.isEmpty ? nil : url
            }
            state.shops[domain]?.bulkOperations[id] = operation
            return operation
        }
        guard let finished else { return }
        let payload: [String: Any] = [
            "admin_graphql_api_id": "gid://shopify/BulkOperation/\(id)",
            "completed_at": finished.completedAt.map(Self.timestamp) as Any? ?? NSNull(),
            "created_at": Self.timestamp(finished.createdAt),
            "error_code": finished.errorCode?.lowercased() as Any? ?? NSNull(),
            "status": finished.status.lowercased(),
            "type": "mutation",
        ]
        self.deliver(shop: domain, topic: "bulk_operations/finish", payload: (try? JSONSerialization.data(withJSONObject: payload)) ?? Data())
    }

    /// One line of a bulk operation: its variables checked against the mutation's, the mutation run, and the answer
    /// shaped to the selection, as `{"data": …}` or `{"errors": […]}`.
    private func runBulkLine(
        document: PreparedDocument,
        variables: [String: JSONLiteral],
        in shop: inout SimulatedShop,
        state: inout State
    )
        -> [String: Any]
    {
        let operation = OperationRequest(schema: .shopify, document: document, variables: variables)
        let variableErrors = operation.variableErrors()
        if !variableErrors.isEmpty { return ["errors": variableErrors.map(\.json)] }
        guard let root = operation.rootFields.first, let rootField = operation.index.field(root.name.value, on: "Mutation") else {
            return ["errors": [ShopifyGraphQLError(message: "The mutation has no root field", code: "invalidDocument").json]]
        }
        let arguments = operation.arguments(of: root).mapValues(\.any)
        if root.name.value == "productSet", let refusal = Self.variantCeilingRefusal(arguments, in: &shop, settings: state.settings, now: Date()) {
            return ["errors": [["message": refusal]]]
        }
        switch Self.resolve(root.name.value, arguments, operation: operation, field: root, in: &shop, ids: &state.ids, now: Date()) {
        case .failure(let refusal):
            return ["errors": refusal.errors.map(\.json)]
        case .success(let resolved):
            var cost = 0.0
            do throws(SimulatorGap) {
                return ["data": try operation.data(resolved, root: root, definition: rootField, cost: &cost)]
            } catch {
                return ["errors": [ShopifyGraphQLError(message: error.message, code: "SIMULATOR_UNSUPPORTED").json]]
            }
        }
    }

    /// `node(id:)` for the objects the simulator can find by id (bulk operations); null for any other id.
    static func node(_ arguments: [String: Any], in shop: SimulatedShop) -> Any {
        guard let id = arguments["id"] as? String, id.hasPrefix("gid://shopify/BulkOperation/"), let number = number(fromGID: id),
            let operation = shop.bulkOperations[number]
        else { return NSNull() }
        return operation.json
    }

    /// `currentBulkOperation(type:)`: the shop's most recent operation of that type (the simulator runs mutations only).
    static func currentBulkOperation(_ arguments: [String: Any], in shop: SimulatedShop) -> Any {
        guard (arguments["type"] as? String ?? "QUERY") == "MUTATION", let latest = shop.bulkOperations.values.max(by: { $0.id < $1.id }) else {
            return NSNull()
        }
        return latest.json
    }

    /// A finished operation's result file (`GET /_bulk-results/{id}.jsonl`).
    public func bulkResult(id: Int64) -> Data? {
        self.state.withLock { $0.bulkResults[id] }
    }
}

/// The parts of a `multipart/form-data` body by name (RFC 7578), enough for a staged upload's form.
enum MultipartForm {
    static func boundary(of contentType: String) -> String? {
        guard contentType.lowercased().hasPrefix("multipart/form-data") else { return nil }
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if pair.count == 2, pair[0].lowercased() == "boundary" { return pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        }
        return nil
    }

    static func parse(_ body: Data, boundary: String) -> [String: Data]? {
        let delimiter = Data("--\(boundary)".utf8)
        let headerEnd = Data("\r\n\r\n".utf8)
        var parts: [String: Data] = [:]
        guard var cursor = body.range(of: delimiter)?.upperBound else { return nil }
        while true {
            // After a delimiter: `--` ends the body, CRLF starts a part.
            if body[cursor...].starts(with: Data("--".utf8)) { return parts }
            guard body[cursor...].starts(with: Data("\r\n".utf8)) else { return nil }
            let partStart = cursor + 2
            guard let headersEnd = body.range(of: headerEnd, in: partStart..<body.endIndex),
                let next = body.range(of: Data("\r\n".utf8) + delimiter, in: headersEnd.upperBound..<body.endIndex)
            else { return nil }
            let headers = String(decoding: body[partStart..<headersEnd.lowerBound], as: UTF8.self)
            guard let name = Self.name(inHeaders: headers) else { return nil }
            parts[name] = Data(body[headersEnd.upperBound..<next.lowerBound])
            cursor = next.upperBound
        }
    }

    /// `name="…"` of a part's `Content-Disposition`.
    private static func name(inHeaders headers: String) -> String? {
        for line in headers.split(separator: "\r\n") where line.lowercased().hasPrefix("content-disposition:") {
            guard let range = line.range(of: "name=\"") else { return nil }
            let rest = line[range.upperBound...]
            return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
        }
        return nil
    }
}
