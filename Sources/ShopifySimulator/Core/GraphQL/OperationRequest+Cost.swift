import GraphQL

extension OperationRequest {
    /// Shopify's `requestedQueryCost`, computed from the document and the schema before anything runs: scalars and
    /// enums 0, an object 1, an interface or union the most of its possible selections, a connection 2 plus
    /// `first` (or `last`) times what one node's selection costs, a list of objects its `first` (or one) times an
    /// element's cost. A mutation's root field costs what `mutationCost` says (10, more for `productSet`); its
    /// payload's selection adds nothing.
    func requestedCost(mutationCost: (GraphQL.Field) -> Double) throws(GraphQLRefusal) -> Double {
        var total = 0.0
        for field in self.rootFields {
            if self.document.rootType == "Mutation" {
                total += field.name.value == "__typename" ? 0 : mutationCost(field)
            } else {
                total += try self.fieldCost(field, on: self.document.rootType)
            }
        }
        return total
    }

    private func fieldCost(_ field: GraphQL.Field, on parentType: String) throws(GraphQLRefusal) -> Double {
        guard field.name.value != "__typename", let definition = self.index.field(field.name.value, on: parentType) else { return 0 }
        let named = definition.type.namedType
        switch self.index.kind(of: named) {
        case .object, .interface, .union: break
        default: return 0
        }
        if self.index.isConnection(named) {
            guard let size = self.intArgument("first", of: field) ?? self.intArgument("last", of: field) else {
                throw GraphQLRefusal([
                    ShopifyGraphQLError(
                        message: "you must provide one of first or last",
                        code: "argumentLiteralsIncompatible",
                        locations: ShopifyGraphQLError.Location.of(field.loc)
                    )
                ])
            }
            // Shopify pages connections by at most 250 nodes.
            guard (0...250).contains(size) else {
                throw GraphQLRefusal([
                    ShopifyGraphQLError(
                        message: "\(field.name.value): the page size must be between 0 and 250, not \(size)",
                        code: "BAD_REQUEST",
                        locations: ShopifyGraphQLError.Location.of(field.loc)
                    )
                ])
            }
            return 2 + Double(size) * (try self.nodeCost(ofConnection: field, named))
        }
        let each = try self.objectCost(field.selectionSet, on: named)
        guard definition.type.isList else { return each }
        return Double(self.intArgument("first", of: field) ?? 1) * each
    }

    /// What one node of a connection costs, through `nodes { … }` or `edges { node { … } }`.
    private func nodeCost(ofConnection field: GraphQL.Field, _ connectionType: String) throws(GraphQLRefusal) -> Double {
        guard let selectionSet = field.selectionSet, let nodeType = self.index.field("nodes", on: connectionType)?.type.namedType else { return 0 }
        let edgeType = self.index.field("edges", on: connectionType)?.type.namedType ?? ""
        var cost = 0.0
        for part in self.fields(in: selectionSet, on: connectionType) {
            switch part.name.value {
            case "nodes":
                cost += try self.objectCost(part.selectionSet, on: nodeType)
            case "edges":
                guard let edgeSelection = part.selectionSet else { continue }
                for edgeField in self.fields(in: edgeSelection, on: edgeType) where edgeField.name.value == "node" {
                    cost += try self.objectCost(edgeField.selectionSet, on: nodeType)
                }
            default:
                continue
            }
        }
        return cost
    }

    /// One object of `typeName` with its selection: 1 (nothing for a connection's edges and page info) plus its
    /// fields; for an interface or union, the most expensive of its possible types.
    private func objectCost(_ selectionSet: SelectionSet?, on typeName: String) throws(GraphQLRefusal) -> Double {
        let own: Double = self.index.isConnectionPart(typeName) ? 0 : 1
        guard let selectionSet else { return own }
        var most = 0.0
        for objectType in self.index.possibleTypes(of: typeName) {
            var cost = 0.0
            for field in self.fields(in: selectionSet, on: objectType) { cost += try self.fieldCost(field, on: objectType) }
            most = max(most, cost)
        }
        return own + most
    }
}
