import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

/// The gateway's OpenAPI document (`docs/openapi.json`, which a test holds equal to the served one) as the route
/// tests' oracle: every answer the shared request helpers receive is checked against the operation's documented
/// answers and their schemas. One validator for every route test, reading the document's own schemas (no second copy
/// of the types). It knows the JSON Schema the document uses: `type` (one or several), `required`, `properties`,
/// `items`, `enum`, `const`, `minimum`/`maximum`, `format` `uuid`/`date-time`/`uri`, and `$ref`.
enum OpenAPIContract {
    nonisolated(unsafe) static let document: [String: Any] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../docs/openapi.json")
        guard let data = try? Data(contentsOf: url), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            fatalError("docs/openapi.json is missing or not JSON")
        }
        return object
    }()

    static var paths: [String: [String: Any]] { Self.document["paths"] as? [String: [String: Any]] ?? [:] }

    /// The documented path template `uri`'s path matches (`/ops/api/dead-letters/{queue}` for
    /// `/ops/api/dead-letters/ecommerce-orders`), literal segments before parameters; nil for an undocumented path.
    static func template(of uri: String) -> String? {
        let path = uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? uri
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        let candidates = Self.paths.keys.filter { template in
            let parts = template.split(separator: "/", omittingEmptySubsequences: false)
            return parts.count == segments.count && zip(parts, segments).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
        }
        return candidates.min { $0.filter { $0 == "{" }.count < $1.filter { $0 == "{" }.count }
    }

    /// Records an issue when the answer is not one the document gives for this operation, or its JSON body does
    /// not match the answer's schema. Paths the document does not describe (Shopify's webhook) are not checked.
    static func check(method: String, uri: String, status: Int, body: String, sourceLocation: SourceLocation = #_sourceLocation) {
        guard let template = Self.template(of: uri) else { return }
        guard let operation = Self.paths[template]?[method.lowercased()] as? [String: Any] else {
            Issue.record("\(method) \(template) is not in the OpenAPI document", sourceLocation: sourceLocation)
            return
        }
        let responses = operation["responses"] as? [String: Any] ?? [:]
        guard let documented = (responses[String(status)] ?? responses["default"]).map(Self.resolve) else {
            Issue.record("\(method) \(uri) answered \(status), which the document does not list: \(body.prefix(300))", sourceLocation: sourceLocation)
            return
        }
        guard let content = documented["content"] as? [String: Any], let json = content["application/json"] as? [String: Any],
            let schema = json["schema"] as? [String: Any]
        else { return }
        guard let value = try? JSONSerialization.jsonObject(with: Data(body.utf8), options: [.fragmentsAllowed]) else {
            Issue.record("\(method) \(uri) \(status): the body is not JSON: \(body.prefix(300))", sourceLocation: sourceLocation)
            return
        }
        for problem in Self.problems(value, schema, at: "$") {
            Issue.record("\(method) \(uri) \(status) against the document: \(problem)", sourceLocation: sourceLocation)
        }
    }

    static func resolve(_ node: Any) -> [String: Any] {
        guard let object = node as? [String: Any] else { return [:] }
        guard let reference = object["$ref"] as? String, reference.hasPrefix("#/") else { return object }
        var current: Any = Self.document
        for part in reference.dropFirst(2).split(separator: "/") {
            current = (current as? [String: Any])?[String(part)] ?? [:]
        }
        return Self.resolve(current)
    }

    /// What is wrong with `value` against `schema` (empty when nothing is).
    static func problems(_ value: Any, _ schemaNode: Any, at path: String) -> [String] {
        let schema = Self.resolve(schemaNode)
        var found: [String] = []
        if let constant = schema["const"], !Self.equal(value, constant) { found.append("\(path): \(value) is not \(constant)") }
        if let options = schema["enum"] as? [Any], !options.contains(where: { Self.equal(value, $0) }) {
            found.append("\(path): \(value) is not one of \(options)")
        }
        let types = (schema["type"] as? [String]) ?? (schema["type"] as? String).map { [$0] } ?? []
        if !types.isEmpty && !types.contains(where: { Self.value(value, is: $0) }) {
            return found + ["\(path): \(type(of: value)) \(String(describing: value).prefix(80)) is not \(types.joined(separator: " or "))"]
        }
        if let number = value as? NSNumber, !(value is Bool) {
            if let minimum = schema["minimum"] as? Double, number.doubleValue < minimum { found.append("\(path): \(number) < \(minimum)") }
            if let maximum = schema["maximum"] as? Double, number.doubleValue > maximum { found.append("\(path): \(number) > \(maximum)") }
        }
        if let text = value as? String, let format = schema["format"] as? String {
            let valid: Bool
            switch format {
            case "uuid": valid = UUID(uuidString: text) != nil
            case "date-time": valid = (try? Date(text, strategy: .iso8601)) != nil
            case "uri": valid = URL(string: text)?.scheme != nil
            default: valid = true
            }
            if !valid { found.append("\(path): \(text) is not a \(format)") }
        }
        if let object = value as? [String: Any] {
            for key in schema["required"] as? [String] ?? [] where object[key] == nil {
                found.append("\(path): \(key) is required")
            }
            for (key, property) in schema["properties"] as? [String: Any] ?? [:] {
                if let member = object[key] { found += Self.problems(member, property, at: "\(path).\(key)") }
            }
        }
        if let array = value as? [Any], let items = schema["items"] {
            for (index, element) in array.enumerated() { found += Self.problems(element, items, at: "\(path)[\(index)]") }
        }
        return found
    }

    static func value(_ value: Any, is type: String) -> Bool {
        switch type {
        case "null": return value is NSNull
        case "object": return value is [String: Any]
        case "array": return value is [Any]
        case "string": return value is String
        // JSONSerialization's booleans are NSNumbers of Objective-C type `c` (its numbers are `i`, `q`, `d`).
        case "boolean": return (value as? NSNumber).map { String(cString: $0.objCType) == "c" } ?? false
        case "integer":
            guard let number = value as? NSNumber, !Self.value(value, is: "boolean") else { return false }
            return number.doubleValue.rounded() == number.doubleValue
        case "number": return value is NSNumber && !Self.value(value, is: "boolean")
        default: return true
        }
    }

    static func equal(_ left: Any, _ right: Any) -> Bool {
        if let left = left as? String, let right = right as? String { return left == right }
        if let left = left as? NSNumber, let right = right as? NSNumber { return left == right }
        return false
    }
}

/// A test client whose every answer is held to the OpenAPI document (`OpenAPIContract.check`): the gateway suites
/// get theirs through it, so each answer a route test receives is checked without the test asking.
struct ContractCheckedClient: TestClientProtocol {
    var client: any TestClientProtocol

    func executeRequest(uri: String, method: HTTPRequest.Method, headers: HTTPFields, body: ByteBuffer?) async throws -> TestResponse {
        let response = try await self.client.executeRequest(uri: uri, method: method, headers: headers, body: body)
        OpenAPIContract.check(method: method.rawValue, uri: uri, status: response.status.code, body: String(buffer: response.body))
        return response
    }

    var port: Int? { self.client.port }
}
