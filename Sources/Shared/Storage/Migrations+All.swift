extension Migrations {
    /// 1: the FlowPOS catalog and stock (created here for standalone use) and the module's own tables.
    static let foundation = Migration(
        version: 1,
        name: "foundation",
        statements: [
            // FlowPOS side.
            """
            CREATE TABLE products (
                id uuid PRIMARY KEY,
                business_id uuid NOT NULL,
                name text NOT NULL,
                description text,
                status text NOT NULL DEFAULT 'active',
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now())
            """,
            "CREATE INDEX products_business ON products (business_id, id)",
            """
            CREATE TABLE variants (
                id uuid PRIMARY KEY,
                product_id uuid NOT NULL REFERENCES products (id) ON DELETE CASCADE,
                business_id uuid NOT NULL,
                title text,
                sku text,
                barcode text,
                price numeric(12, 2) NOT NULL DEFAULT 0,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now())
            """,
            "CREATE INDEX variants_product ON variants (product_id)",
            "CREATE UNIQUE INDEX variants_business_sku ON variants (business_id, sku) WHERE sku IS NOT NULL",
            """
            CREATE TABLE stock_levels (
                variant_id uuid PRIMARY KEY REFERENCES variants (id) ON DELETE CASCADE,
                business_id uuid NOT NULL,
                quantity integer NOT NULL DEFAULT 0,
                updated_at timestamptz NOT NULL DEFAULT now())
            """,
            """
            CREATE TABLE stock_movements (
                id bigserial PRIMARY KEY,
                business_id uuid NOT NULL,
                variant_id uuid NOT NULL REFERENCES variants (id) ON DELETE CASCADE,
                delta integer NOT NULL,
                quantity_after integer NOT NULL,
                reason text NOT NULL,
                reference text,
                created_at timestamptz NOT NULL DEFAULT now())
            """,
            "CREATE INDEX stock_movements_variant ON stock_movements (variant_id, created_at)",
            """
            CREATE TABLE categories (
                id uuid PRIMARY KEY,
                business_id uuid NOT NULL,
                parent_id uuid REFERENCES categories (id) ON DELETE SET NULL,
                name text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now())
            """,
            "CREATE INDEX categories_business ON categories (business_id, id)",
            """
            CREATE TABLE product_categories (
                product_id uuid NOT NULL REFERENCES products (id) ON DELETE CASCADE,
                category_id uuid NOT NULL REFERENCES categories (id) ON DELETE CASCADE,
                PRIMARY KEY (product_id, category_id))
            """,
            "CREATE INDEX product_categories_category ON product_categories (category_id)",
            // The ecommerce module.
            """
            CREATE TABLE ecommerce_connection (
                business_id uuid PRIMARY KEY,
                shop_domain text NOT NULL,
                status text NOT NULL CHECK (status IN ('active', 'disconnected', 'uninstalled')),
                access_token_ciphertext bytea,
                refresh_token_ciphertext bytea,
                token_expires_at timestamptz,
                scopes text,
                location_id text,
                last_synced_at timestamptz,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now(),
                uninstalled_at timestamptz)
            """,
            // A shop feeds one business at a time.
            "CREATE UNIQUE INDEX ecommerce_connection_active_shop ON ecommerce_connection (shop_domain) WHERE status = 'active'",
            "CREATE INDEX ecommerce_connection_shop ON ecommerce_connection (shop_domain)",
            """
            CREATE TABLE ecommerce_product_mapping (
                business_id uuid NOT NULL,
                variant_id uuid NOT NULL REFERENCES variants (id) ON DELETE CASCADE,
                product_id uuid NOT NULL REFERENCES products (id) ON DELETE CASCADE,
                shopify_product_id bigint,
                shopify_variant_id bigint,
                shopify_inventory_item_id bigint,
                updated_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (business_id, variant_id))
            """,
            "CREATE UNIQUE INDEX ecommerce_product_mapping_shopify_variant ON ecommerce_product_mapping (business_id, shopify_variant_id)",
            """
            CREATE TABLE ecommerce_ingested_order (
                business_id uuid NOT NULL,
                shopify_order_id bigint NOT NULL,
                order_name text,
                source text NOT NULL,
                shopify_updated_at timestamptz,
                cancelled boolean NOT NULL DEFAULT false,
                first_ingested_at timestamptz NOT NULL DEFAULT now(),
                last_applied_at timestamptz,
                PRIMARY KEY (business_id, shopify_order_id))
            """,
            """
            CREATE TABLE ecommerce_order_line (
                business_id uuid NOT NULL,
                shopify_order_id bigint NOT NULL,
                shopify_line_item_id bigint NOT NULL,
                variant_id uuid REFERENCES variants (id) ON DELETE SET NULL,
                sku text,
                applied_quantity integer NOT NULL,
                PRIMARY KEY (business_id, shopify_order_id, shopify_line_item_id),
                FOREIGN KEY (business_id, shopify_order_id) REFERENCES ecommerce_ingested_order (business_id, shopify_order_id) ON DELETE CASCADE)
            """,
            """
            CREATE TABLE ecommerce_sync_log (
                id uuid PRIMARY KEY,
                business_id uuid NOT NULL,
                kind text NOT NULL,
                status text NOT NULL,
                processed integer NOT NULL DEFAULT 0,
                failed integer NOT NULL DEFAULT 0,
                total integer,
                errors jsonb NOT NULL DEFAULT '[]',
                details jsonb NOT NULL DEFAULT '{}',
                reference text,
                started_at timestamptz NOT NULL DEFAULT now(),
                finished_at timestamptz)
            """,
            "CREATE INDEX ecommerce_sync_log_business ON ecommerce_sync_log (business_id, started_at DESC)",
        ]
    )
}

/// The schema's migrations, in order. A new migration is appended here; applied ones are never edited.
public enum Migrations {
    public static let all: [Migration] = [
        foundation, orderVersion, productPush, inventoryOutbox, collectionPush, oauthState, recentRuns, quietOutbox, installs,
        stockMovements, orderHistory, bulkPush,
    ]

    /// A version per ingested order, bumped by every write of its state: ingestion compares and sets it instead
    /// of holding the order's row lock across round trips (see ``OrderIngestor``).
    static let orderVersion = Migration(
        version: 2,
        name: "order_version",
        statements: ["ALTER TABLE ecommerce_ingested_order ADD COLUMN version bigint NOT NULL DEFAULT 0"]
    )

    /// Paged pushes: a page is counted once (`ecommerce_sync_page`), and the run knows how many pages it has.
    static let productPush = Migration(
        version: 3,
        name: "product_push",
        statements: [
            "ALTER TABLE ecommerce_sync_log ADD COLUMN pages_total integer, ADD COLUMN pages_done integer NOT NULL DEFAULT 0",
            """
            CREATE TABLE ecommerce_sync_page (
                sync_log_id uuid NOT NULL REFERENCES ecommerce_sync_log (id) ON DELETE CASCADE,
                page integer NOT NULL,
                processed integer NOT NULL,
                failed integer NOT NULL,
                finished_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (sync_log_id, page))
            """,
        ]
    )

    /// Stock changes reach Shopify through an outbox written by a trigger in the same transaction as the change;
    /// the mapping remembers Shopify's last known quantity, which inventory pushes compare and set against.
    static let inventoryOutbox = Migration(
        version: 4,
        name: "inventory_outbox",
        statements: [
            "ALTER TABLE ecommerce_product_mapping ADD COLUMN shopify_quantity integer, ADD COLUMN shopify_quantity_at timestamptz",
            """
            CREATE TABLE ecommerce_inventory_outbox (
                id bigserial PRIMARY KEY,
                business_id uuid NOT NULL,
                variant_id uuid NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now())
            """,
            """
            CREATE FUNCTION ecommerce_stock_changed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'INSERT' OR NEW.quantity IS DISTINCT FROM OLD.quantity THEN
                    INSERT INTO ecommerce_inventory_outbox (business_id, variant_id) VALUES (NEW.business_id, NEW.variant_id);
                    PERFORM pg_notify('ecommerce_inventory', '');
                END IF;
                RETURN NULL;
            END
            $$
            """,
            """
            CREATE TRIGGER stock_levels_ecommerce_outbox AFTER INSERT OR UPDATE OF quantity ON stock_levels
            FOR EACH ROW EXECUTE FUNCTION ecommerce_stock_changed()
            """,
        ]
    )

    /// FlowPOS categories as manual collections: the collection, the title and the products last pushed, so that
    /// membership is synced by difference.
    static let collectionPush = Migration(
        version: 5,
        name: "collection_push",
        statements: [
            """
            CREATE TABLE ecommerce_collection_mapping (
                business_id uuid NOT NULL,
                category_id uuid NOT NULL REFERENCES categories (id) ON DELETE CASCADE,
                shopify_collection_id bigint NOT NULL,
                title text NOT NULL,
                shopify_product_ids bigint[] NOT NULL DEFAULT '{}',
                updated_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (business_id, category_id))
            """
        ]
    )

    /// Single-use OAuth `state` nonces with their business, shop and expiry.
    static let oauthState = Migration(
        version: 6,
        name: "oauth_state",
        statements: [
            """
            CREATE TABLE ecommerce_oauth_state (
                state text PRIMARY KEY,
                business_id uuid NOT NULL,
                shop_domain text NOT NULL,
                expires_at timestamptz NOT NULL,
                used_at timestamptz,
                created_at timestamptz NOT NULL DEFAULT now())
            """,
            "CREATE INDEX ecommerce_oauth_state_expiry ON ecommerce_oauth_state (expires_at)",
        ]
    )

    /// The ops dashboard lists the latest runs of every business: an index for that, without the per-order rows.
    static let recentRuns = Migration(
        version: 7,
        name: "sync_log_recent_runs",
        statements: [
            "CREATE INDEX ecommerce_sync_log_recent_runs ON ecommerce_sync_log (started_at DESC) WHERE kind IN ('product_push', 'collection_push', 'poll')"
        ]
    )

    /// The outbox trigger stops sending `NOTIFY`: a notifying transaction takes a database-wide lock at commit and
    /// holds it through its WAL flush, so every stock-changing commit of the database (the POS's sales too) waited
    /// for the one before it to reach the disk. The relays sweep the outbox instead (see `InventoryOutboxRelay`).
    static let quietOutbox = Migration(
        version: 8,
        name: "inventory_outbox_without_notify",
        statements: [
            """
            CREATE OR REPLACE FUNCTION ecommerce_stock_changed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'INSERT' OR NEW.quantity IS DISTINCT FROM OLD.quantity THEN
                    INSERT INTO ecommerce_inventory_outbox (business_id, variant_id) VALUES (NEW.business_id, NEW.variant_id);
                END IF;
                RETURN NULL;
            END
            $$
            """
        ]
    )

    /// When the current install began (a retried `app/uninstalled` triggered before it must leave it alone), and
    /// whether the shop has the `id` metafield definition that `productSet`'s `customId` needs.
    static let installs = Migration(
        version: 9,
        name: "connection_installs",
        statements: [
            "ALTER TABLE ecommerce_connection ADD COLUMN installed_at timestamptz",
            "UPDATE ecommerce_connection SET installed_at = updated_at",
            "ALTER TABLE ecommerce_connection ADD COLUMN custom_id_defined_at timestamptz",
        ]
    )

    /// The outbox holds FlowPOS's own stock movements as deltas, kept until Shopify has them: each is pushed with
    /// `inventoryAdjustQuantities` (deltas commute with Shopify's own decrements, so no sold unit is re-opened),
    /// in a batch whose key is fixed before the call (`batch`, the batch's first movement id) so that a retry
    /// after a crash repeats the same idempotent call. Movements that came from Shopify (ingested orders, their
    /// restocks) are already in Shopify's number: ingestion marks its transaction with the setting
    /// `ecommerce.stock_origin = 'shopify'`, and the trigger writes no outbox row for them. Rows waiting from
    /// before this migration carry no delta and are dropped; a reconciliation (`POST /ecommerce/sync/inventory`)
    /// corrects what they would have pushed.
    static let stockMovements = Migration(
        version: 10,
        name: "inventory_movement_deltas",
        statements: [
            "DELETE FROM ecommerce_inventory_outbox",
            """
            ALTER TABLE ecommerce_inventory_outbox
                ADD COLUMN delta integer NOT NULL,
                ADD COLUMN relayed boolean NOT NULL DEFAULT false,
                ADD COLUMN batch bigint
            """,
            "CREATE INDEX ecommerce_inventory_outbox_unrelayed ON ecommerce_inventory_outbox (id) WHERE NOT relayed",
            "CREATE INDEX ecommerce_inventory_outbox_variant ON ecommerce_inventory_outbox (variant_id, id)",
            """
            CREATE OR REPLACE FUNCTION ecommerce_stock_changed() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE
                delta integer := NEW.quantity - CASE WHEN TG_OP = 'INSERT' THEN 0 ELSE OLD.quantity END;
            BEGIN
                IF delta <> 0 AND current_setting('ecommerce.stock_origin', true) IS DISTINCT FROM 'shopify' THEN
                    INSERT INTO ecommerce_inventory_outbox (business_id, variant_id, delta) VALUES (NEW.business_id, NEW.variant_id, delta);
                END IF;
                RETURN NULL;
            END
            $$
            """,
        ]
    )

    /// An order's trace finds its ingestions and change notices in the sync log by order id.
    static let orderHistory = Migration(
        version: 11,
        name: "sync_log_by_order",
        statements: [
            """
            CREATE INDEX ecommerce_sync_log_order ON ecommerce_sync_log (business_id, (details->>'orderId'), started_at)
            WHERE kind IN ('order_ingest', 'order_change')
            """
        ]
    )

    /// Bulk product pushes: one row per push run that runs as a Shopify bulk operation, where it stands, and what
    /// each line of its file was (to turn the result file into mappings). At most one push per shop is `starting`
    /// (between asking Shopify to start and recording the operation), so that a push resumed after a crash there
    /// can tell its own operation from another's.
    static let bulkPush = Migration(
        version: 12,
        name: "bulk_push",
        statements: [
            """
            CREATE TABLE ecommerce_bulk_push (
                run_id uuid PRIMARY KEY REFERENCES ecommerce_sync_log (id) ON DELETE CASCADE,
                business_id uuid NOT NULL,
                shop text NOT NULL,
                stage text NOT NULL CHECK (stage IN ('uploaded', 'starting', 'running', 'finished')),
                lines integer NOT NULL,
                page_size integer NOT NULL,
                staged_upload_path text NOT NULL,
                operation_id text,
                status text,
                error_code text,
                object_count integer,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now())
            """,
            "CREATE UNIQUE INDEX ecommerce_bulk_push_operation ON ecommerce_bulk_push (shop, operation_id)",
            "CREATE UNIQUE INDEX ecommerce_bulk_push_one_starting ON ecommerce_bulk_push (shop) WHERE stage = 'starting'",
            "CREATE INDEX ecommerce_bulk_push_running ON ecommerce_bulk_push (shop) WHERE stage IN ('starting', 'running')",
            """
            CREATE TABLE ecommerce_bulk_push_line (
                run_id uuid NOT NULL REFERENCES ecommerce_bulk_push (run_id) ON DELETE CASCADE,
                line integer NOT NULL,
                product_id uuid NOT NULL,
                variants jsonb NOT NULL,
                PRIMARY KEY (run_id, line))
            """,
        ]
    )
}
