import Foundation
import GraphQL
import Synchronization

/// Shopify's Admin GraphQL schema (`Resources/admin-schema.graphql`, whose header says how it was built), loaded once
/// per process. The simulator refuses every document this schema refuses, as Shopify does, and the test suite
/// validates the production documents against the same file.
public final class AdminSchema: Sendable {
    /// The schema file shipped with the simulator.
    public static var resourceURL: URL {
        guard let url = Bundle.module.url(forResource: "admin-schema", withExtension: "graphql") else {
            fatalError("admin-schema.graphql is missing from the simulator's resources")
        }
        return url
    }

    /// The schema in ``resourceURL``, parsed on first use (a few hundred milliseconds).
    public static let shopify: AdminSchema = {
        do {
            return try AdminSchema(sdl: String(contentsOf: AdminSchema.resourceURL, encoding: .utf8))
        } catch {
            fatalError("admin-schema.graphql does not parse: \(error)")
        }
    }()

    let schema: GraphQLSchema
    let index: SchemaIndex
    /// Documents already parsed and validated, by their text: the client's documents are static, so each is
    /// checked once. Bounded, so that a stream of distinct documents cannot grow it without limit.
    private let prepared = Mutex<[String: Result<PreparedDocument, GraphQLRefusal>]>([:])
    private static let preparedLimit = 512

    public init(sdl: String) throws {
        let document = try parse(source: sdl)
        self.schema = try buildASTSchema(documentAST: document, assumeValid: true)
        self.index = SchemaIndex(document)
    }

    /// The errors Shopify would refuse `document` with (its shape and static rules; variables not considered);
    /// empty when the document is valid.
    public func validationErrors(of document: String) -> [ShopifyGraphQLError] {
        switch self.prepare(document) {
        case .success: []
        case .failure(let refusal): refusal.errors
        }
    }

    /// Parses and validates a document, once per distinct text.
    func prepare(_ query: String) -> Result<PreparedDocument, GraphQLRefusal> {
        if let known = self.prepared.withLock({ $0[query] }) { return known }
        let result = self.parseAndValidate(query)
        self.prepared.withLock { cache in
            if cache.count < Self.preparedLimit { cache[query] = result }
        }
        return result
    }

    private func parseAndValidate(_ query: String) -> Result<PreparedDocument, GraphQLRefusal> {
        let document: Document
        do {
            document = try parse(source: query)
        } catch let error as GraphQLError {
            return .failure(GraphQLRefusal([ShopifyGraphQLError(error, code: "syntaxError")]))
        } catch {
            return .failure(GraphQLRefusal([ShopifyGraphQLError(message: "syntax error: \(error)", code: "syntaxError")]))
        }
        let errors = validate(schema: self.schema, ast: document)
        if !errors.isEmpty { return .failure(GraphQLRefusal(errors.map(ShopifyGraphQLError.init(validation:)))) }
        let operations = document.definitions.compactMap { $0 as? OperationDefinition }
        guard operations.count == 1, let operation = operations.first else {
            return .failure(
                GraphQLRefusal([ShopifyGraphQLError(message: "The simulator answers documents with exactly one operation", code: "invalidDocument")])
            )
        }
        var fragments: [String: FragmentDefinition] = [:]
        for case let fragment as FragmentDefinition in document.definitions { fragments[fragment.name.value] = fragment }
        let rootType: String
        switch operation.operation {
        case .query: rootType = "QueryRoot"
        case .mutation: rootType = "Mutation"
        case .subscription:
            return .failure(GraphQLRefusal([ShopifyGraphQLError(message: "Subscriptions are not supported", code: "invalidDocument")]))
        }
        return .success(PreparedDocument(operation: operation, fragments: fragments, rootType: rootType))
    }
}

/// A valid document, ready to be priced and answered.
struct PreparedDocument: Sendable {
    var operation: OperationDefinition
    var fragments: [String: FragmentDefinition]
    /// `QueryRoot` or `Mutation`.
    var rootType: String
}

/// Why a request was refused before anything ran: Shopify answers HTTP 200 with `errors` and no `data`.
struct GraphQLRefusal: Error, Sendable {
    var errors: [ShopifyGraphQLError]

    init(_ errors: [ShopifyGraphQLError]) {
        self.errors = errors
    }
}

/// One entry of a GraphQL answer's `errors`, as Shopify writes it: a message, where in the document, and a code.
public struct ShopifyGraphQLError: Sendable, Equatable, CustomStringConvertible {
    public var message: String
    /// `(line, column)` pairs, 1-based.
    public var locations: [Location]
    /// `extensions.code`, e.g. `undefinedField`, `argumentNotAccepted`, `INVALID_VARIABLE`.
    public var code: String
    /// Further `extensions` entries (a variable error's `value` and `problems`).
    var details: [String: JSONLiteral] = [:]

    public struct Location: Sendable, Equatable {
        public var line: Int
        public var column: Int

        /// Where a node of the document starts, as an error's `locations`.
        static func of(_ location: GraphQL.Location?) -> [Location] {
            location.map { [Location(line: $0.startToken.line, column: $0.startToken.column)] } ?? []
        }
    }

    init(message: String, code: String, locations: [Location] = [], details: [String: JSONLiteral] = [:]) {
        self.message = message
        self.code = code
        self.locations = locations
        self.details = details
    }

    init(_ error: GraphQLError, code: String) {
        self.init(message: error.message, code: code, locations: error.locations.map { Location(line: $0.line, column: $0.column) })
    }

    /// A static validation error, with the message and code Shopify (graphql-ruby) gives for the common rules.
    init(validation error: GraphQLError) {
        let locations = error.locations.map { Location(line: $0.line, column: $0.column) }
        let quoted = Self.quotedNames(in: error.message)
        let message = error.message
        func make(_ text: String, _ code: String) -> ShopifyGraphQLError { .init(message: text, code: code, locations: locations) }
        if message.hasPrefix("Cannot query field"), quoted.count >= 2 {
            self = make("Field '\(quoted[0])' doesn't exist on type '\(quoted[1])'", "undefinedField")
        } else if message.hasPrefix("Field \""), message.contains("does not have argument"), quoted.count >= 3 {
            // `Field "locations" on type "QueryRoot" does not have argument "active".`
            self = make("Field '\(quoted[0])' doesn't accept argument '\(quoted[2])'", "argumentNotAccepted")
        } else if message.hasPrefix("Field \""), message.contains("is required, but it was not provided"), quoted.count >= 2 {
            self = make("Field '\(quoted[0])' is missing required arguments: \(quoted[1])", "missingRequiredArguments")
        } else if message.hasPrefix("Directive \""), message.contains("is required, but it was not provided"), quoted.count >= 2 {
            self = make("Directive '\(quoted[0].dropFirst())' is missing required arguments: \(quoted[1])", "missingRequiredArguments")
        } else if message.hasPrefix("Unknown type"), let name = quoted.first {
            self = make("\(name) isn't a defined input type", "undefinedType")
        } else if message.hasPrefix("Unknown directive"), let name = quoted.first {
            self = make("Directive \(name) is not defined", "undefinedDirective")
        } else if message.hasPrefix("Variable \""), message.contains("used in position expecting") {
            self = make(message, "variableMismatch")
        } else if message.contains("is never used") {
            self = make(message, "variableNotUsed")
        } else if message.hasPrefix("Variable \""), message.contains("is not defined") {
            self = make(message, "variableNotDefined")
        } else if message.contains("subselection") || message.contains("subfields") {
            self = make(message, "selectionMismatch")
        } else {
            self = make(message, "validationFailed")
        }
    }

    /// The `"…"` names of a GraphQLSwift message, in order.
    private static func quotedNames(in message: String) -> [String] {
        message.split(separator: "\"", omittingEmptySubsequences: false).enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
    }

    public var description: String { "\(self.message) (\(self.code))" }

    /// The entry as JSON (for `JSONSerialization`).
    var json: [String: Any] {
        var extensions: [String: Any] = ["code": self.code]
        for (key, value) in self.details { extensions[key] = value.any }
        var entry: [String: Any] = ["message": self.message, "extensions": extensions]
        if !self.locations.isEmpty { entry["locations"] = self.locations.map { ["line": $0.line, "column": $0.column] } }
        return entry
    }
}
