import GraphQL

/// The types of a GraphQL schema as plain values, read once from its SDL: what the simulator needs to coerce
/// variables, price a document and shape an answer, without going through GraphQLSwift's execution machinery.
struct SchemaIndex: Sendable {
    /// A field's or an input value's type: `[LineItem!]!` is `.nonNull(.list(.nonNull(.named("LineItem"))))`.
    indirect enum TypeRef: Sendable, CustomStringConvertible {
        case named(String)
        case list(TypeRef)
        case nonNull(TypeRef)

        init(_ ast: any GraphQL.`Type`) {
            switch ast {
            case let named as NamedType: self = .named(named.name.value)
            case let list as ListType: self = .list(TypeRef(list.type))
            case let nonNull as NonNullType: self = .nonNull(TypeRef(nonNull.type))
            default: self = .named("")
            }
        }

        var namedType: String {
            switch self {
            case .named(let name): name
            case .list(let inner), .nonNull(let inner): inner.namedType
            }
        }

        /// Whether the value is a list (under any non-null wrapper).
        var isList: Bool {
            switch self {
            case .named: false
            case .list: true
            case .nonNull(let inner): inner.isList
            }
        }

        var description: String {
            switch self {
            case .named(let name): name
            case .list(let inner): "[\(inner)]"
            case .nonNull(let inner): "\(inner)!"
            }
        }
    }

    struct InputValue: Sendable {
        var name: String
        var type: TypeRef
        var hasDefault: Bool
    }

    struct Field: Sendable {
        var name: String
        var type: TypeRef
        var arguments: [String: InputValue]
    }

    enum Kind: Sendable {
        case object, interface, union, enumeration, scalar, inputObject
    }

    struct TypeInfo: Sendable {
        var name: String
        var kind: Kind
        var fields: [String: Field] = [:]
        /// Input objects' fields, in declaration order (error paths follow it).
        var inputFields: [InputValue] = []
        var enumValues: Set<String> = []
        /// Interfaces an object implements.
        var interfaces: Set<String> = []
        /// A union's members.
        var members: [String] = []
    }

    private(set) var types: [String: TypeInfo] = [:]
    /// The object types implementing each interface.
    private(set) var implementations: [String: [String]] = [:]

    init(_ document: Document) {
        func fields(_ definitions: [FieldDefinition]) -> [String: Field] {
            var fields: [String: Field] = [:]
            for field in definitions {
                var arguments: [String: InputValue] = [:]
                for argument in field.arguments {
                    arguments[argument.name.value] = InputValue(
                        name: argument.name.value,
                        type: TypeRef(argument.type),
                        hasDefault: argument.defaultValue != nil
                    )
                }
                fields[field.name.value] = Field(name: field.name.value, type: TypeRef(field.type), arguments: arguments)
            }
            return fields
        }
        for definition in document.definitions {
            switch definition {
            case let object as ObjectTypeDefinition:
                let name = object.name.value
                self.types[name] = TypeInfo(
                    name: name,
                    kind: .object,
                    fields: fields(object.fields),
                    interfaces: Set(object.interfaces.map(\.name.value))
                )
                for interface in object.interfaces { self.implementations[interface.name.value, default: []].append(name) }
            case let interface as InterfaceTypeDefinition:
                self.types[interface.name.value] = TypeInfo(name: interface.name.value, kind: .interface, fields: fields(interface.fields))
            case let union as UnionTypeDefinition:
                self.types[union.name.value] = TypeInfo(name: union.name.value, kind: .union, members: union.types.map(\.name.value))
            case let enumeration as EnumTypeDefinition:
                self.types[enumeration.name.value] = TypeInfo(
                    name: enumeration.name.value,
                    kind: .enumeration,
                    enumValues: Set(enumeration.values.map(\.name.value))
                )
            case let scalar as ScalarTypeDefinition:
                self.types[scalar.name.value] = TypeInfo(name: scalar.name.value, kind: .scalar)
            case let input as InputObjectTypeDefinition:
                self.types[input.name.value] = TypeInfo(
                    name: input.name.value,
                    kind: .inputObject,
                    inputFields: input.fields.map { InputValue(name: $0.name.value, type: TypeRef($0.type), hasDefault: $0.defaultValue != nil) }
                )
            default:
                continue
            }
        }
        for builtIn in ["Int", "Float", "String", "Boolean", "ID"] where self.types[builtIn] == nil {
            self.types[builtIn] = TypeInfo(name: builtIn, kind: .scalar)
        }
    }

    func kind(of typeName: String) -> Kind? { self.types[typeName]?.kind }

    func field(_ name: String, on typeName: String) -> Field? { self.types[typeName]?.fields[name] }

    /// The object types a value of this type can be: itself, an interface's implementations, a union's members.
    func possibleTypes(of typeName: String) -> [String] {
        switch self.kind(of: typeName) {
        case .interface: self.implementations[typeName] ?? []
        case .union: self.types[typeName]?.members ?? []
        default: [typeName]
        }
    }

    /// Whether a fragment on `condition` applies to an object of type `objectType`.
    func applies(_ condition: String, to objectType: String) -> Bool {
        condition == objectType || self.possibleTypes(of: condition).contains(objectType)
    }

    /// A Relay connection: `…Connection` with `nodes` or `edges`. Its cost is 2 plus what its nodes cost.
    func isConnection(_ typeName: String) -> Bool {
        guard typeName.hasSuffix("Connection"), let fields = self.types[typeName]?.fields else { return false }
        return fields["nodes"] != nil || fields["edges"] != nil
    }

    /// The parts of a connection that Shopify does not charge as objects of their own.
    func isConnectionPart(_ typeName: String) -> Bool {
        typeName == "PageInfo"
            || (typeName.hasSuffix("Edge") && self.types[typeName]?.fields["node"] != nil && self.types[typeName]?.fields["cursor"] != nil)
    }
}
