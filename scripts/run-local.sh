#!/usr/bin/env bash
# Runs the system locally: services (data under .local/dev, ports 26379/25432), migrations, a demo business
# connected to demo-shop.myshopify.com with one product in stock, one gateway on :8080 and two workers.
# Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/services.sh start dev >/dev/null
eval "$(scripts/services.sh env dev | sed 's/^/export /')"
export SHOPIFY_API_SECRET=${SHOPIFY_API_SECRET:-dev-secret} HTTP_PORT=${HTTP_PORT:-8080} LOG_LEVEL=${LOG_LEVEL:-info}
swift build
bin=$(swift build --show-bin-path)
"$bin/ecommerce-worker" migrate

# The demo business: product, variant with SKU DEMO-SKU-1 and 100 in stock, and its active connection.
psql "${DATABASE_URL%%\?*}" -q <<'SQL'
INSERT INTO products (id, business_id, name) VALUES ('00000000-0000-0000-0000-0000000000a1', '00000000-0000-0000-0000-000000000001', 'Demo product') ON CONFLICT DO NOTHING;
INSERT INTO variants (id, product_id, business_id, sku) VALUES ('00000000-0000-0000-0000-0000000000b1', '00000000-0000-0000-0000-0000000000a1', '00000000-0000-0000-0000-000000000001', 'DEMO-SKU-1') ON CONFLICT DO NOTHING;
INSERT INTO stock_levels (variant_id, business_id, quantity) VALUES ('00000000-0000-0000-0000-0000000000b1', '00000000-0000-0000-0000-000000000001', 100) ON CONFLICT DO NOTHING;
INSERT INTO ecommerce_connection (business_id, shop_domain, status) VALUES ('00000000-0000-0000-0000-000000000001', 'demo-shop.myshopify.com', 'active') ON CONFLICT DO NOTHING;
SQL

pids=()
trap 'kill -TERM "${pids[@]}" 2>/dev/null; wait; scripts/services.sh stop dev' EXIT INT TERM
"$bin/ecommerce-gateway" & pids+=($!)
METRICS_PORT=9091 "$bin/ecommerce-worker" run & pids+=($!)
METRICS_PORT=9092 "$bin/ecommerce-worker" run & pids+=($!)
sleep 2
cat <<TXT

Gateway on http://127.0.0.1:$HTTP_PORT (readiness: /readyz, metrics: /metrics); workers' metrics on :9091 and :9092.
Send a signed test order for 2 × DEMO-SKU-1, then watch the stock go from 100 to 98:
  SHOPIFY_API_SECRET=$SHOPIFY_API_SECRET scripts/send-test-webhook.sh demo-shop.myshopify.com 1001 DEMO-SKU-1 2
  psql "${DATABASE_URL%%\?*}" -c "SELECT quantity FROM stock_levels WHERE variant_id = '00000000-0000-0000-0000-0000000000b1'"
Ctrl-C stops everything.
TXT
wait
