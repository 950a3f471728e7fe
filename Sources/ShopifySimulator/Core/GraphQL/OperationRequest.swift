import GraphQL

/// One request against the schema: a validated document and its variables. It checks the variables as Shopify
/// does, resolves arguments (literals or variables), prices the document before it runs and shapes the answer to
/// exactly what was selected.
struct OperationRequest {
    let index: SchemaIndex
    let document: PreparedDocument
    let variables: [String: JSONLiteral]

    init(schema: AdminSchema, document: PreparedDocument, variables: [String: JSONLiteral]) {
        self.index = schema.index
        self.document = document
        self.variables = variables
    }

    // MARK: Variables

    /// Every variable checked against its declared type: a missing required value, an unknown input field, a
    /// value of the wrong scalar or enum. Shopify refuses such a request whole with `INVALID_VARIABLE`.
    func variableErrors() -> [ShopifyGraphQLError] {
        var errors: [ShopifyGraphQLError] = []
        for definition in self.document.operation.variableDefinitions {
            let name = definition.variable.name.value
            let type = SchemaIndex.TypeRef(definition.type)
            let value = self.variables[name]
            if value == nil, definition.defaultValue != nil { continue }
            var problems: [(path: [JSONLiteral], explanation: String)] = []
            self.check(value ?? .null, against: type, path: [], problems: &problems)
            guard !problems.isEmpty else { continue }
            let first = problems[0]
            let at =
                first.path.isEmpty ? "" : " for \(first.path.map { if case .string(let s) = $0 { s } else { $0.rendered } }.joined(separator: "."))"
            errors.append(
                ShopifyGraphQLError(
                    message: "Variable $\(name) of type \(type) was provided invalid value\(at) (\(first.explanation))",
                    code: "INVALID_VARIABLE",
                    locations: ShopifyGraphQLError.Location.of(definition.loc),
                    details: [
                        "value": value ?? .null,
                        "problems": .array(problems.map { .object(["path": .array($0.path), "explanation": .string($0.explanation)]) }),
                    ]
                )
            )
        }
        return errors
    }

    private func check(
        _ value: JSONLiteral,
        against type: SchemaIndex.TypeRef,
        path: [JSONLiteral],
        problems: inout [(path: [JSONLiteral], explanation: String)]
    ) {
        switch type {
        case .nonNull(let inner):
            if value.isNull {
                problems.append((path, "Expected value to not be null"))
                return
            }
            self.check(value, against: inner, path: path, problems: &problems)
        case .list(let inner):
            if value.isNull { return }
            if case .array(let elements) = value {
                for (offset, element) in elements.enumerated() {
                    self.check(element, against: inner, path: path + [.int(Int64(offset))], problems: &problems)
                }
            } else {
                // Input coercion accepts a single value where a list is expected.
                self.check(value, against: inner, path: path, problems: &problems)
            }
        case .named(let name):
            if value.isNull { return }
            guard let info = self.index.types[name] else {
                problems.append((path, "\(name) isn't a defined input type"))
                return
            }
            switch info.kind {
            case .scalar:
                if !Self.accepts(scalar: name, value) { problems.append((path, "Could not coerce value \(value.rendered) to \(name)")) }
            case .enumeration:
                guard case .string(let text) = value, info.enumValues.contains(text) else {
                    problems.append((path, "Expected \(value.rendered) to be one of: \(info.enumValues.sorted().joined(separator: ", "))"))
                    return
                }
            case .inputObject:
                guard case .object(let fields) = value else {
                    problems.append((path, "Expected \(value.rendered) to be a key-value object."))
                    return
                }
                let declared = Set(info.inputFields.map(\.name))
                for key in fields.keys.sorted() where !declared.contains(key) {
                    problems.append((path + [.string(key)], "Field is not defined on \(name)"))
                }
                for field in info.inputFields {
                    if let provided = fields[field.name] {
                        self.check(provided, against: field.type, path: path + [.string(field.name)], problems: &problems)
                    } else if case .nonNull = field.type, !field.hasDefault {
                        problems.append((path + [.string(field.name)], "Expected value to not be null"))
                    }
                }
            case .object, .interface, .union:
                problems.append((path, "\(name) isn't a valid input type"))
            }
        }
    }

    /// Built-in scalars as the spec coerces them; Shopify's own scalars (`DateTime`, `Decimal`, `URL`, …) travel as
    /// strings, a few of them also as numbers, and `JSON` as anything.
    private static func accepts(scalar name: String, _ value: JSONLiteral) -> Bool {
        switch (name, value) {
        case ("Int", .int(let number)): Int64(Int32.min)...Int64(Int32.max) ~= number
        case ("Float", .int), ("Float", .double): true
        case ("String", .string), ("Boolean", .bool), ("ID", .string), ("ID", .int): true
        case ("JSON", _): true
        case ("Decimal", .int), ("Decimal", .double), ("Money", .int), ("Money", .double), ("UnsignedInt64", .int), ("BigInt", .int): true
        case ("Int", _), ("Float", _), ("String", _), ("Boolean", _), ("ID", _): false
        case (_, .string): true
        default: false
        }
    }

    // MARK: Arguments and selections

    /// An argument's value: a literal of the document or a variable's value.
    func literal(_ value: any Value) -> JSONLiteral {
        switch value {
        case let variable as Variable: self.variables[variable.name.value] ?? .null
        case let int as IntValue: Int64(int.value).map(JSONLiteral.int) ?? .null
        case let float as FloatValue: Double(float.value).map(JSONLiteral.double) ?? .null
        case let string as StringValue: .string(string.value)
        case let bool as BooleanValue: .bool(bool.value)
        case let enumeration as EnumValue: .string(enumeration.value)
        case let list as ListValue: .array(list.values.map { self.literal($0) })
        case let object as ObjectValue: .object(Dictionary(object.fields.map { ($0.name.value, self.literal($0.value)) }) { $1 })
        default: .null
        }
    }

    /// A field's arguments by name (only those the document gives).
    func arguments(of field: GraphQL.Field) -> [String: JSONLiteral] {
        Dictionary(field.arguments.map { ($0.name.value, self.literal($0.value)) }) { $1 }
    }

    /// An integer argument (`first`, `last`), if given.
    func intArgument(_ name: String, of field: GraphQL.Field) -> Int? {
        if case .int(let value) = self.arguments(of: field)[name] { return Int(value) }
        return nil
    }

    /// The value of a directive's argument on a field, e.g. `@idempotent(key:)`.
    func directiveArgument(_ directive: String, _ argument: String, on field: GraphQL.Field) -> JSONLiteral? {
        guard let found = field.directives.first(where: { $0.name.value == directive }),
            let value = found.arguments.first(where: { $0.name.value == argument })?.value
        else { return nil }
        return self.literal(value)
    }

    /// The fields a selection set asks of an object of type `objectType`, fragments expanded where they apply.
    func fields(in selectionSet: SelectionSet, on objectType: String) -> [GraphQL.Field] {
        var fields: [GraphQL.Field] = []
        for selection in selectionSet.selections {
            switch selection {
            case let field as GraphQL.Field:
                fields.append(field)
            case let inline as InlineFragment:
                if inline.typeCondition.map({ self.index.applies($0.name.value, to: objectType) }) ?? true {
                    fields += self.fields(in: inline.selectionSet, on: objectType)
                }
            case let spread as FragmentSpread:
                if let fragment = self.document.fragments[spread.name.value], self.index.applies(fragment.typeCondition.name.value, to: objectType) {
                    fields += self.fields(in: fragment.selectionSet, on: objectType)
                }
            default:
                continue
            }
        }
        return fields
    }

    /// The operation's root fields.
    var rootFields: [GraphQL.Field] { self.fields(in: self.document.operation.selectionSet, on: self.document.rootType) }
}
