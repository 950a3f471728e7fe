import Foundation
import JSONBytes
import Logging

/// A webhook subscription of the app in a shop.
public struct ShopifyWebhookSubscription: Sendable, Equatable {
    public var id: Int64
    /// GraphQL enum form, e.g. `ORDERS_CREATE`.
    public var topic: String
    public var uri: String
}

extension ShopifyAdminClient {
    static let webhookSubscriptionCreateDocument = """
        mutation WebhookSubscriptionCreate($topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!) {
          webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
            webhookSubscription { id topic uri }
            userErrors { field message }
          }
        }
        """
    static let webhookSubscriptionsDocument = """
        query WebhookSubscriptions($first: Int!) {
          webhookSubscriptions(first: $first) { nodes { id topic uri } }
        }
        """

    struct Subscription: Decodable, Sendable {
        var id: String
        var topic: String
        var uri: String

        func converted(operation: String) throws -> ShopifyWebhookSubscription {
            guard let id = ShopifyGID.number(self.id) else {
                throw ShopifyAdminError.invalidResponse(operation: operation, reason: "subscription id \(self.id)")
            }
            return ShopifyWebhookSubscription(id: id, topic: self.topic, uri: self.uri)
        }
    }

    struct SubscriptionCreateData: Decodable, Sendable {
        var webhookSubscriptionCreate: Payload

        struct Payload: Decodable, Sendable {
            var webhookSubscription: Subscription?
            var userErrors: [ShopifyUserError]
        }
    }

    struct SubscriptionsData: Decodable, Sendable {
        var webhookSubscriptions: Nodes<Subscription>
    }

    /// The GraphQL enum of a REST topic: `orders/create` → `ORDERS_CREATE`.
    public static func subscriptionTopic(_ restTopic: String) -> String {
        restTopic.uppercased().replacingOccurrences(of: "/", with: "_")
    }

    /// Subscribes the app to a topic (JSON deliveries to `uri`); nil when that subscription exists already.
    @discardableResult
    public func createWebhookSubscription(
        topic: String,
        uri: String,
        as credentials: ShopifyCredentials,
        logger: Logger
    ) async throws
        -> ShopifyWebhookSubscription?
    {
        let data = try await self.send(
            GraphQLOperation<SubscriptionCreateData>(
                name: "webhookSubscriptionCreate",
                query: Self.webhookSubscriptionCreateDocument,
                variables: .object([
                    "topic": .string(topic),
                    "webhookSubscription": .object(["uri": .string(uri), "format": .string("JSON")]),
                ]),
                expectedCost: 10
            ),
            as: credentials,
            logger: logger
        )
        let payload = data.webhookSubscriptionCreate
        if !payload.userErrors.isEmpty {
            // The payload's errors are plain `UserError`s, without a code: an existing subscription (another
            // replica connecting the same shop at once) is told apart by Shopify's message.
            if payload.userErrors.allSatisfy({ $0.message.lowercased().contains("already been taken") }) { return nil }
            throw ShopifyAdminError.userErrors(operation: "webhookSubscriptionCreate", payload.userErrors)
        }
        guard let subscription = payload.webhookSubscription else {
            throw ShopifyAdminError.invalidResponse(operation: "webhookSubscriptionCreate", reason: "no subscription and no userErrors")
        }
        return try subscription.converted(operation: "webhookSubscriptionCreate")
    }

    /// The app's subscriptions in the shop (to find ones Shopify deleted after failed deliveries).
    public func webhookSubscriptions(first: Int = 50, as credentials: ShopifyCredentials, logger: Logger) async throws -> [ShopifyWebhookSubscription]
    {
        let data = try await self.send(
            GraphQLOperation<SubscriptionsData>(
                name: "webhookSubscriptions",
                query: Self.webhookSubscriptionsDocument,
                variables: .object(["first": .int(Int64(first))]),
                expectedCost: 2 + first
            ),
            as: credentials,
            logger: logger
        )
        return try data.webhookSubscriptions.nodes.map { try $0.converted(operation: "webhookSubscriptions") }
    }
}
