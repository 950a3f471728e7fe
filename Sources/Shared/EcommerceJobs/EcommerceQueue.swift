/// The Redis lists of the ecommerce module, one per kind of work (DESIGN §3).
public enum EcommerceQueue {
    public static let orders = "ecommerce-orders"
    public static let polling = "ecommerce-polling"
    public static let products = "ecommerce-products"
    public static let collections = "ecommerce-collections"
    public static let inventory = "ecommerce-inventory"
    /// `app/uninstalled` and the mandatory privacy topics.
    public static let shopEvents = "ecommerce-shop-events"

    /// Every queue a worker serves unless told otherwise.
    public static let all = [orders, shopEvents, polling, products, collections, inventory]
}
