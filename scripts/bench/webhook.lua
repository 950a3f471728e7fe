-- wrk: POST the signed body with a unique X-Shopify-Webhook-Id per request (the HMAC covers only the body).
-- BODY_FILE, SIGNATURE, SHOP and RUN_ID (unique per run, so that no id repeats an earlier run's) come from the
-- environment; TOPIC optionally overrides orders/create.
local file = io.open(os.getenv("BODY_FILE"), "rb")
local body = file:read("*a")
file:close()
local counter = 0
run_id = os.getenv("RUN_ID") or tostring(os.time())
thread_tag = "main"

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Shopify-Topic"] = os.getenv("TOPIC") or "orders/create"
wrk.headers["X-Shopify-Shop-Domain"] = os.getenv("SHOP")
wrk.headers["X-Shopify-Hmac-Sha256"] = os.getenv("SIGNATURE")

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_tag", tostring(threads))
end

function request()
  counter = counter + 1
  wrk.headers["X-Shopify-Webhook-Id"] = run_id .. "-" .. thread_tag .. "-" .. counter
  return wrk.format()
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests_per_sec=%.1f p50_ms=%.2f p99_ms=%.2f non2xx=%d errors=%d requests=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests))
end
