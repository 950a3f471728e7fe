import JobQueue

/// Every ecommerce job kind: what the worker registers a handler for and what the schema round-trip test covers.
public enum EcommerceJobKinds {
    public static let all: [any JobDefinition.Type] = [
        OrderIngestJob.self, OrderChangeNoticeJob.self, ShopEventJob.self, ProductPushPlanJob.self, ProductPushPageJob.self, ProductBulkPushJob.self,
        InventoryPushJob.self, InventoryReconcileJob.self, CollectionPushPlanJob.self, CollectionPushPageJob.self, OrderPollJob.self,
        BulkOperationFinishJob.self,
    ]
}
