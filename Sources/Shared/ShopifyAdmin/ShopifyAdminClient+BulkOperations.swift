import AsyncHTTPClient
import Foundation
import JSONBytes
import Logging
import NIOCore
import NIOHTTP1

/// A bulk operation as Shopify reports it.
public struct BulkOperationState: Sendable, Equatable {
    /// `gid://shopify/BulkOperation/…`.
    public var id: String
    /// `CREATED`, `RUNNING`, `COMPLETED`, `FAILED`, `CANCELING`, `CANCELED`, `EXPIRED`.
    public var status: String
    /// Why it failed (`ACCESS_DENIED`, `INTERNAL_SERVER_ERROR`, `TIMEOUT`), when it did.
    public var errorCode: String?
    /// Lines run so far.
    public var objectCount: Int
    /// The result file, once it completed; what it ran before failing, if it failed partway.
    public var url: String?
    public var partialDataUrl: String?
    /// The mutation it runs (``ShopifyAdminClient/bulkProductSetDocument(marker:)`` names its push).
    public var query: String?

    /// Whether Shopify is still running it.
    public var isRunning: Bool { self.status == "CREATED" || self.status == "RUNNING" || self.status == "CANCELING" }
}

/// One line of a bulk `productSet` result file: the input line it answers (0-based) and what came of it.
public struct BulkProductSetOutcome: Sendable {
    public var line: Int
    public var result: Result<ProductSetResult, ShopifyAdminError>
}

extension ShopifyAdminClient {
    /// Shopify's cap on bulk operations running at once per shop (API 2026-01 and later).
    public static let bulkOperationsPerShop = 5
    /// Shopify's cap on a staged file's size (100 MB).
    public static let maxStagedUploadBytes = 100 << 20

    static let stagedUploadsCreateDocument = """
        mutation StagedUploadsCreate($input: [StagedUploadInput!]!) {
          stagedUploadsCreate(input: $input) {
            stagedTargets { url resourceUrl parameters { name value } }
            userErrors { field message }
          }
        }
        """

    static let bulkOperationRunMutationDocument = """
        mutation BulkOperationRunMutation($mutation: String!, $stagedUploadPath: String!, $clientIdentifier: String) {
          bulkOperationRunMutation(mutation: $mutation, stagedUploadPath: $stagedUploadPath, clientIdentifier: $clientIdentifier) {
            bulkOperation { id status errorCode objectCount url partialDataUrl query }
            userErrors { field message code }
          }
        }
        """

    static let bulkOperationDocument = """
        query BulkOperation($id: ID!) {
          node(id: $id) {
            ... on BulkOperation { id status errorCode objectCount url partialDataUrl query }
          }
        }
        """

    static let currentBulkMutationDocument = """
        query CurrentBulkMutation {
          currentBulkOperation(type: MUTATION) { id status errorCode objectCount url partialDataUrl query }
        }
        """

    /// The mutation a bulk product push runs: ``productSetDocument`` under an operation name that carries
    /// `marker` (the push's run id, hex), so that the push can recognise its own operation in
    /// `currentBulkOperation` after a crash.
    public static func bulkProductSetDocument(marker: String) -> String {
        Self.productSetDocument.replacingOccurrences(of: "mutation ProductSet(", with: "mutation \(Self.bulkOperationName(marker: marker))(")
    }

    /// `FlowPOSPush_<marker>`: a GraphQL name (letters, digits and `_` only).
    public static func bulkOperationName(marker: String) -> String {
        "FlowPOSPush_" + marker.filter { $0.isLetter || $0.isNumber || $0 == "_" }
    }

    struct OperationFields: Decodable, Sendable {
        var id: String
        var status: String
        var errorCode: String?
        var objectCount: FlexibleInt
        var url: String?
        var partialDataUrl: String?
        var query: String?

        var state: BulkOperationState {
            BulkOperationState(
                id: self.id,
                status: self.status,
                errorCode: self.errorCode,
                objectCount: self.objectCount.value,
                url: self.url,
                partialDataUrl: self.partialDataUrl,
                query: self.query
            )
        }
    }

    /// `UnsignedInt64` travels as a string.
    struct FlexibleInt: Decodable, Sendable {
        var value: Int

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let number = try? container.decode(Int.self) {
                self.value = number
            } else {
                self.value = Int(try container.decode(String.self)) ?? 0
            }
        }
    }

    struct StagedUploadsData: Decodable, Sendable {
        var stagedUploadsCreate: Payload

        struct Payload: Decodable, Sendable {
            var stagedTargets: [Target]?
            var userErrors: [ShopifyUserError]
        }

        struct Target: Decodable, Sendable {
            var url: String?
            var resourceUrl: String?
            var parameters: [Parameter]
        }

        struct Parameter: Decodable, Sendable {
            var name: String
            var value: String
        }
    }

    struct RunMutationData: Decodable, Sendable {
        var bulkOperationRunMutation: Payload

        struct Payload: Decodable, Sendable {
            var bulkOperation: OperationFields?
            var userErrors: [ShopifyUserError]
        }
    }

    struct NodeData: Decodable, Sendable {
        var node: OperationFields?
    }

    struct CurrentData: Decodable, Sendable {
        var currentBulkOperation: OperationFields?
    }

    /// Stages `file` (JSONL of mutation variables) for a bulk mutation: asks Shopify for an upload target and
    /// posts the file to it as the form the target describes. Returns the `stagedUploadPath` (the form's `key`).
    public func stageBulkVariables(_ file: [UInt8], filename: String, as credentials: ShopifyCredentials, logger: Logger) async throws -> String {
        let data = try await self.send(
            GraphQLOperation<StagedUploadsData>(
                name: "stagedUploadsCreate",
                query: Self.stagedUploadsCreateDocument,
                variables: .object([
                    "input": .array([
                        .object([
                            "resource": .string("BULK_MUTATION_VARIABLES"), "filename": .string(filename), "mimeType": .string("text/jsonl"),
                            "httpMethod": .string("POST"), "fileSize": .string(String(file.count)),
                        ])
                    ])
                ]),
                expectedCost: 10
            ),
            as: credentials,
            logger: logger
        )
        let payload = data.stagedUploadsCreate
        if !payload.userErrors.isEmpty { throw ShopifyAdminError.userErrors(operation: "stagedUploadsCreate", payload.userErrors) }
        guard let target = payload.stagedTargets?.first, let url = target.url,
            let key = target.parameters.first(where: { $0.name == "key" })?.value
        else {
            throw ShopifyAdminError.invalidResponse(operation: "stagedUploadsCreate", reason: "no target with a url and a key")
        }
        let boundary = "flowpos-\(UUID().uuidString)"
        var body = ByteBuffer()
        for parameter in target.parameters {
            body.writeString("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(parameter.name)\"\r\n\r\n\(parameter.value)\r\n")
        }
        body.writeString("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(filename)\"\r\n")
        body.writeString("Content-Type: text/jsonl\r\n\r\n")
        body.writeBytes(file)
        body.writeString("\r\n--\(boundary)--\r\n")
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "multipart/form-data; boundary=\(boundary)")
        request.body = .bytes(body)
        let response = try await self.http.execute(request, timeout: TimeAmount(self.configuration.requestTimeout * 4))
        let answer = try await response.body.collect(upTo: 64 << 10)
        guard (200..<300).contains(response.status.code) else {
            throw ShopifyAdminError.http(status: Int(response.status.code), body: String(buffer: answer).prefix(300).description)
        }
        return key
    }

    /// Starts a bulk mutation over a staged file. Shopify's refusals (`OPERATION_IN_PROGRESS` when the shop runs as
    /// many as it allows, a missing file, an invalid mutation) come back as ``ShopifyAdminError/userErrors(operation:_:)``.
    public func runBulkMutation(
        _ mutation: String,
        stagedUploadPath: String,
        clientIdentifier: String,
        as credentials: ShopifyCredentials,
        logger: Logger
    ) async throws -> BulkOperationState {
        let data = try await self.send(
            GraphQLOperation<RunMutationData>(
                name: "bulkOperationRunMutation",
                query: Self.bulkOperationRunMutationDocument,
                variables: .object([
                    "mutation": .string(mutation), "stagedUploadPath": .string(stagedUploadPath), "clientIdentifier": .string(clientIdentifier),
                ]),
                expectedCost: 10
            ),
            as: credentials,
            logger: logger
        )
        let payload = data.bulkOperationRunMutation
        if !payload.userErrors.isEmpty { throw ShopifyAdminError.userErrors(operation: "bulkOperationRunMutation", payload.userErrors) }
        guard let operation = payload.bulkOperation else {
            throw ShopifyAdminError.invalidResponse(operation: "bulkOperationRunMutation", reason: "no operation and no userErrors")
        }
        return operation.state
    }

    /// A bulk operation by id (nil when Shopify does not know it).
    public func bulkOperation(id: String, as credentials: ShopifyCredentials, logger: Logger) async throws -> BulkOperationState? {
        let data = try await self.send(
            GraphQLOperation<NodeData>(
                name: "bulkOperation",
                query: Self.bulkOperationDocument,
                variables: .object(["id": .string(id)]),
                expectedCost: 1
            ),
            as: credentials,
            logger: logger
        )
        return data.node?.state
    }

    /// The shop's most recent bulk mutation, whoever started it.
    public func currentBulkMutation(as credentials: ShopifyCredentials, logger: Logger) async throws -> BulkOperationState? {
        let data = try await self.send(
            GraphQLOperation<CurrentData>(
                name: "currentBulkOperation",
                query: Self.currentBulkMutationDocument,
                variables: .object([:]),
                expectedCost: 1
            ),
            as: credentials,
            logger: logger
        )
        return data.currentBulkOperation?.state
    }

    /// Reads a bulk `productSet` result file line by line, streaming: at most `maxBytes` in all and
    /// ``maxResultLine`` per line (a longer line is a broken file, not a buffer to grow).
    public func readBulkProductSetResults(
        url: String,
        maxBytes: Int = 1 << 30,
        logger: Logger,
        _ each: (BulkProductSetOutcome) async throws -> Void
    ) async throws {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        let response = try await self.http.execute(request, timeout: TimeAmount(self.configuration.requestTimeout * 4))
        guard response.status.code == 200 else {
            throw ShopifyAdminError.http(status: Int(response.status.code), body: "the bulk operation's result file")
        }
        var line: [UInt8] = []
        var total = 0
        for try await chunk in response.body {
            total += chunk.readableBytes
            guard total <= maxBytes else {
                throw ShopifyAdminError.invalidResponse(operation: "bulkOperation", reason: "result file larger than \(maxBytes) bytes")
            }
            for byte in chunk.readableBytesView {
                if byte == UInt8(ascii: "\n") {
                    if !line.isEmpty { try await each(try Self.bulkProductSetOutcome(line)) }
                    line.removeAll(keepingCapacity: true)
                } else {
                    guard line.count < Self.maxResultLine else {
                        throw ShopifyAdminError.invalidResponse(
                            operation: "bulkOperation",
                            reason: "a result line longer than \(Self.maxResultLine) bytes"
                        )
                    }
                    line.append(byte)
                }
            }
        }
        if !line.isEmpty { try await each(try Self.bulkProductSetOutcome(line)) }
    }

    /// The longest result line read (a product of 2,048 variants answers in well under this).
    public static let maxResultLine = 4 << 20

    struct ResultLine: Decodable {
        var data: ProductSetData?
        var errors: [Message]?
        var __lineNumber: Int

        struct Message: Decodable {
            var message: String
        }
    }

    /// One result line: its `__lineNumber` and the product it made, or why not.
    static func bulkProductSetOutcome(_ line: [UInt8]) throws -> BulkProductSetOutcome {
        let decoded: ResultLine
        do {
            decoded = try JSONDecoder().decode(ResultLine.self, from: Data(line))
        } catch {
            throw ShopifyAdminError.invalidResponse(operation: "bulkOperation", reason: "a result line that is not a productSet answer")
        }
        if let errors = decoded.errors, !errors.isEmpty {
            let messages = errors.map(\.message)
            if messages.contains(where: Self.isVariantCeiling) {
                return BulkProductSetOutcome(
                    line: decoded.__lineNumber,
                    result: .failure(.variantCeiling(operation: "productSet", message: Self.variantCeilingMessage))
                )
            }
            return BulkProductSetOutcome(line: decoded.__lineNumber, result: .failure(.graphQL(operation: "productSet", messages: messages)))
        }
        guard let data = decoded.data else {
            return BulkProductSetOutcome(line: decoded.__lineNumber, result: .failure(.invalidResponse(operation: "productSet", reason: "no data")))
        }
        do {
            return BulkProductSetOutcome(line: decoded.__lineNumber, result: .success(try Self.productSetResult(data.productSet)))
        } catch let error as ShopifyAdminError {
            return BulkProductSetOutcome(line: decoded.__lineNumber, result: .failure(error))
        }
    }
}
