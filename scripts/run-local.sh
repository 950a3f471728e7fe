#!/usr/bin/env bash
# Runs the system locally: services (data under .local/dev, ports 26379/25432), migrations, the Shopify simulator
# on :8081 standing in for Shopify, a demo business connected to its demo-shop.myshopify.com with one product in
# stock, one gateway on :8080 and two workers. Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/services.sh start dev >/dev/null
eval "$(scripts/services.sh env dev | sed 's/^/export /')"
export SHOPIFY_API_SECRET=${SHOPIFY_API_SECRET:-dev-secret} HTTP_PORT=${HTTP_PORT:-8080} LOG_LEVEL=${LOG_LEVEL:-info}
export JWT_SECRET=${JWT_SECRET:-dev-jwt-secret-of-at-least-32-bytes}
export SHOPIFY_API_KEY=${SHOPIFY_API_KEY:-simulator-app} PUBLIC_BASE_URL=${PUBLIC_BASE_URL:-http://127.0.0.1:8080}
export APP_REDIRECT_URL=${APP_REDIRECT_URL:-http://127.0.0.1:8080/healthz}
export SHOPIFY_ADMIN_BASE_URL=${SHOPIFY_ADMIN_BASE_URL:-http://127.0.0.1:8081/shops/\{shop\}}
# The token key stays with the dev data, so that tokens stored by an earlier run still open.
[ -f .local/dev/token-key ] || openssl rand -base64 32 > .local/dev/token-key
export TOKEN_ENCRYPTION_KEYS=${TOKEN_ENCRYPTION_KEYS:-dev:$(cat .local/dev/token-key)}
swift build
bin=$(swift build --show-bin-path)
"$bin/ecommerce-worker" migrate

# The demo business: product, variant with SKU DEMO-SKU-1 and 100 in stock, and its active connection.
psql "${DATABASE_URL%%\?*}" -q <<'SQL'
INSERT INTO products (id, business_id, name) VALUES ('00000000-0000-0000-0000-0000000000a1', '00000000-0000-0000-0000-000000000001', 'Demo product') ON CONFLICT DO NOTHING;
INSERT INTO variants (id, product_id, business_id, sku) VALUES ('00000000-0000-0000-0000-0000000000b1', '00000000-0000-0000-0000-0000000000a1', '00000000-0000-0000-0000-000000000001', 'DEMO-SKU-1') ON CONFLICT DO NOTHING;
INSERT INTO stock_levels (variant_id, business_id, quantity) VALUES ('00000000-0000-0000-0000-0000000000b1', '00000000-0000-0000-0000-000000000001', 100) ON CONFLICT DO NOTHING;
SQL
SHOPIFY_ACCESS_TOKEN=shpat_demo "$bin/ecommerce-worker" connect --business-id 00000000-0000-0000-0000-000000000001 --shop demo-shop.myshopify.com

pids=()
# `|| true`: under `set -e` a failing kill (the processes already got Ctrl-C) would end the trap before the stop.
stop_all() {
  trap - EXIT INT TERM
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait || true
  scripts/services.sh stop dev
}
trap stop_all EXIT INT TERM
"$bin/shopify-simulator" --port 8081 --api-key "$SHOPIFY_API_KEY" --api-secret "$SHOPIFY_API_SECRET" --shop demo-shop.myshopify.com:shpat_demo & pids+=($!)
"$bin/ecommerce-gateway" & pids+=($!)
METRICS_PORT=9091 "$bin/ecommerce-worker" run & pids+=($!)
METRICS_PORT=9092 "$bin/ecommerce-worker" run & pids+=($!)
sleep 2
cat <<TXT

Gateway on http://127.0.0.1:$HTTP_PORT (readiness: /readyz, metrics: /metrics); workers' metrics on :9091 and :9092.
Send a signed test order for 2 × DEMO-SKU-1, then watch the stock go from 100 to 98:
  SHOPIFY_API_SECRET=$SHOPIFY_API_SECRET scripts/send-test-webhook.sh demo-shop.myshopify.com 1001 DEMO-SKU-1 2
  psql "${DATABASE_URL%%\?*}" -c "SELECT quantity FROM stock_levels WHERE variant_id = '00000000-0000-0000-0000-0000000000b1'"
Push the demo catalog to the simulated shop and follow the run (an admin token for the demo business):
  jwt=$(python3 scripts/bench/jwt.py "$JWT_SECRET" 00000000-0000-0000-0000-000000000001)
  curl -s -X POST -H "Authorization: Bearer \$jwt" http://127.0.0.1:$HTTP_PORT/ecommerce/sync/products
  curl -s -H "Authorization: Bearer \$jwt" http://127.0.0.1:$HTTP_PORT/ecommerce/sync/logs/<syncLogId>
  curl -s http://127.0.0.1:8081/_control/shops/demo-shop.myshopify.com/products
Ctrl-C stops everything.
TXT
wait
