#!/usr/bin/env bash
# Sends one signed `orders/create` webhook to a running gateway, exactly as Shopify would sign it.
#   scripts/send-test-webhook.sh [SHOP] [ORDER_ID] [SKU] [QUANTITY]
# Uses SHOPIFY_API_SECRET and GATEWAY_URL (default http://127.0.0.1:8080) from the environment.
set -euo pipefail
shop=${1:-demo-shop.myshopify.com}
order_id=${2:-$((RANDOM * 100000 + RANDOM))}
sku=${3:-COFFEE-1}
quantity=${4:-1}
secret=${SHOPIFY_API_SECRET:?set SHOPIFY_API_SECRET}
url=${GATEWAY_URL:-http://127.0.0.1:8080}/ecommerce/webhooks/shopify
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
body="{\"id\":$order_id,\"name\":\"#$order_id\",\"created_at\":\"$now\",\"updated_at\":\"$now\",\"cancelled_at\":null,\"line_items\":[{\"id\":${order_id}1,\"variant_id\":null,\"sku\":\"$sku\",\"quantity\":$quantity,\"current_quantity\":$quantity}],\"refunds\":[]}"
hmac=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$secret" -binary | base64)
curl -sS -X POST "$url" \
  -H "Content-Type: application/json" \
  -H "X-Shopify-Topic: orders/create" \
  -H "X-Shopify-Shop-Domain: $shop" \
  -H "X-Shopify-Webhook-Id: $(cat /proc/sys/kernel/random/uuid)" \
  -H "X-Shopify-Hmac-Sha256: $hmac" \
  --data-binary "$body"
echo
