/// The Redis lists of the ecommerce module, one per kind of work (DESIGN §3).
public enum EcommerceQueue {
    public static let orders = "ecommerce-orders"
    public static let polling = "ecommerce-polling"
    public static let products = "ecommerce-products"
    public static let collections = "ecommerce-collections"
    public static let inventory = "ecommerce-inventory"
    /// `app/uninstalled` and the mandatory privacy topics.
    public static let shopEvents = "ecommerce-shop-events"

    /// The queues whose jobs call the Shopify Admin API (and so may wait on the shop's cost budget).
    public static let callingShopify: Set<String> = [polling, products, collections, inventory]

    /// Every queue a worker serves unless told otherwise.
    public static let all = [orders, shopEvents, polling, products, collections, inventory]
}
