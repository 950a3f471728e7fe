import JSONBytes
import Logging

/// A location of the shop, where inventory is stocked.
public struct ShopifyLocation: Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var isActive: Bool
}

extension ShopifyAdminClient {
    static let locationsDocument = """
        query Locations($first: Int!) {
          locations(first: $first) { nodes { id name isActive } }
        }
        """

    struct LocationsData: Decodable, Sendable {
        var locations: Nodes<Location>

        struct Location: Decodable, Sendable {
            var id: String
            var name: String
            var isActive: Bool
        }
    }

    /// The shop's first locations (the connection keeps one to stock at).
    public func locations(first: Int = 10, as credentials: ShopifyCredentials, logger: Logger) async throws -> [ShopifyLocation] {
        let data = try await self.send(
            GraphQLOperation<LocationsData>(
                name: "locations",
                query: Self.locationsDocument,
                variables: .object(["first": .int(Int64(first))]),
                expectedCost: 2 + first
            ),
            as: credentials,
            logger: logger
        )
        return try data.locations.nodes.map { location in
            guard let id = ShopifyGID.number(location.id) else {
                throw ShopifyAdminError.invalidResponse(operation: "locations", reason: "location id \(location.id)")
            }
            return ShopifyLocation(id: id, name: location.name, isActive: location.isActive)
        }
    }
}
