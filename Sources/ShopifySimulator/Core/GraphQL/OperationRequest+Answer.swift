import Foundation
import GraphQL

/// A field the document may select but the simulator does not model: answered as an error, never left out
/// silently (a client must not come to depend on an answer Shopify would shape differently).
struct SimulatorGap: Error, Sendable {
    var message: String
}

/// A field whose value depends on its own arguments (`inventoryLevel(locationId:)`): resolved when the
/// selection reaches it, with the arguments the document gives there.
struct ArgumentDependent {
    var resolve: ([String: Any]) -> Any
}

extension OperationRequest {
    /// Shapes what an operation handler produced (a superset: every field it models, connections as plain arrays)
    /// into exactly what `field` selected, with aliases and `__typename`, connections sliced by `first`/`after`/
    /// `last`/`before`. Adds what the answer holds to `cost`: 1 per object returned, 2 per connection.
    func shape(_ value: Any?, as type: SchemaIndex.TypeRef, field: GraphQL.Field, cost: inout Double) throws(SimulatorGap) -> Any {
        switch type {
        case .nonNull(let inner):
            return try self.shape(value, as: inner, field: field, cost: &cost)
        case .list(let inner):
            guard var elements = value as? [Any] else { return NSNull() }
            if let first = self.intArgument("first", of: field) { elements = Array(elements.prefix(max(0, first))) }
            var shaped: [Any] = []
            for element in elements { shaped.append(try self.shape(element, as: inner, field: field, cost: &cost)) }
            return shaped
        case .named(let name):
            guard let value, !(value is NSNull) else { return NSNull() }
            switch self.index.kind(of: name) {
            case .object, .interface, .union:
                break
            case .enumeration:
                // An enum value the schema does not have would be a simulator bug that a client could come to rely on.
                guard let text = value as? String, self.index.types[name]?.enumValues.contains(text) == true else {
                    throw SimulatorGap(message: "the simulator answered \(value) for the enum \(name), which has no such value")
                }
                return text
            default:
                return value
            }
            var object: [String: Any]
            if self.index.isConnection(name), let all = value as? [Any] {
                object = self.connection(of: all, field: field)
            } else if let dictionary = value as? [String: Any] {
                object = dictionary
            } else {
                throw SimulatorGap(message: "the simulator produced no object for \(name)")
            }
            let concrete = object["__typename"] as? String ?? name
            guard self.index.kind(of: concrete) == .object else {
                throw SimulatorGap(message: "the simulator did not say which \(name) it returned")
            }
            object["__typename"] = nil
            cost += self.index.isConnection(concrete) ? 2 : (self.index.isConnectionPart(concrete) ? 0 : 1)
            return try self.shape(object: object, as: concrete, selectionSet: field.selectionSet, cost: &cost)
        }
    }

    /// A root field's entry of `data`: what its handler produced, shaped to the field's selection, under its alias.
    func data(_ resolved: Any, root: GraphQL.Field, definition: SchemaIndex.Field, cost: inout Double) throws(SimulatorGap) -> [String: Any] {
        [root.alias?.value ?? root.name.value: try self.shape(resolved, as: definition.type, field: root, cost: &cost)]
    }

    /// The fields of one object, keyed by alias or name.
    func shape(object: [String: Any], as typeName: String, selectionSet: SelectionSet?, cost: inout Double) throws(SimulatorGap) -> [String: Any] {
        guard let selectionSet else { return [:] }
        var result: [String: Any] = [:]
        for field in self.fields(in: selectionSet, on: typeName) {
            let key = field.alias?.value ?? field.name.value
            if field.name.value == "__typename" {
                result[key] = typeName
                continue
            }
            guard let definition = self.index.field(field.name.value, on: typeName), var value = object[field.name.value] else {
                throw SimulatorGap(message: "the simulator does not model \(typeName).\(field.name.value)")
            }
            if let dependent = value as? ArgumentDependent { value = dependent.resolve(self.arguments(of: field).mapValues(\.any)) }
            result[key] = try self.shape(value, as: definition.type, field: field, cost: &cost)
        }
        return result
    }

    /// A connection over `all` as `first`/`after`/`last`/`before`/`reverse` select it. Cursors are opaque offsets.
    private func connection(of all: [Any], field: GraphQL.Field) -> [String: Any] {
        let arguments = self.arguments(of: field)
        let ordered = arguments["reverse"] == .bool(true) ? Array(all.reversed()) : all
        var start = 0
        var end = ordered.count
        if case .string(let cursor) = arguments["after"], let offset = Self.offset(of: cursor) { start = min(ordered.count, offset + 1) }
        if case .string(let cursor) = arguments["before"], let offset = Self.offset(of: cursor) { end = max(start, min(end, offset)) }
        if let first = self.intArgument("first", of: field) { end = min(end, start + max(0, first)) }
        if let last = self.intArgument("last", of: field) { start = max(start, end - max(0, last)) }
        let window = Array(start..<end)
        let cursors = window.map(Self.cursor(offset:))
        return [
            "nodes": window.map { ordered[$0] },
            "edges": zip(window, cursors).map { ["node": ordered[$0.0], "cursor": $0.1] as [String: Any] },
            "pageInfo": [
                "hasNextPage": end < ordered.count,
                "hasPreviousPage": start > 0,
                "startCursor": cursors.first as Any? ?? NSNull(),
                "endCursor": cursors.last as Any? ?? NSNull(),
            ] as [String: Any],
        ]
    }

    static func cursor(offset: Int) -> String { Data("offset:\(offset)".utf8).base64EncodedString() }

    static func offset(of cursor: String) -> Int? {
        guard let data = Data(base64Encoded: cursor) else { return nil }
        let text = String(decoding: data, as: UTF8.self)
        guard text.hasPrefix("offset:") else { return nil }
        return Int(text.dropFirst("offset:".count))
    }
}
