#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer, with AddressSanitizer) of what parses untrusted bytes: the webhook fast path's
# request reader against NIOHTTP1's (FuzzWebhookHead), the webhook-body scanner against JSONDecoder
# (FuzzOrderScanner), and the job-envelope decoder against the claim script's id reading (FuzzJobEnvelope); each
# checks its properties (see Fuzz/*/*.swift), not only that nothing crashes.
#
#   scripts/fuzz.sh [SECONDS]     each target for SECONDS (default 60); the test command runs it for a short smoke
#
# Built in .build-fuzz (-sanitize=fuzzer,address -DFUZZING). Seeds: Fuzz/Corpus/<target> (committed; written by
# Fuzz/make_seeds.py); what libFuzzer adds goes to .local/fuzz/<target>, crashes to .local/fuzz/<target>-crash-*,
# and the run fails. A crash input replays with the normal build: .build/debug/<target> FILE.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
targets=(FuzzWebhookHead FuzzOrderScanner FuzzJobEnvelope)
flags=(--scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING)
mkdir -p .local/fuzz
echo "== fuzz: build (.build-fuzz)"
for target in "${targets[@]}"; do
  swift build "${flags[@]}" --product "$target" > ".local/fuzz/build-$target.log" 2>&1 || { tail -30 ".local/fuzz/build-$target.log"; exit 1; }
done
bin=$(swift build "${flags[@]}" --show-bin-path)
status=0
# A property that fails aborts: the input is saved by libFuzzer; Swift's backtracer would only add noise under ASan.
export SWIFT_BACKTRACE=enable=no
for target in "${targets[@]}"; do
  corpus=".local/fuzz/${target#Fuzz}"
  mkdir -p "$corpus"
  echo "== fuzz: $target for ${seconds}s"
  # -max_len above the 16 KiB head limit, so that heads too large are among the inputs.
  if ! "$bin/$target" -max_total_time="$seconds" -max_len=20000 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix=".local/fuzz/$target-" "$corpus" "Fuzz/Corpus/${target#Fuzz}" > ".local/fuzz/$target.log" 2>&1; then
    status=1
    echo "   FAILED: see .local/fuzz/$target.log and .local/fuzz/$target-*"
    grep -E "property violated|ERROR: AddressSanitizer|SUMMARY" ".local/fuzz/$target.log" | head -5 || true
  fi
  grep -E "^stat::(number_of_executed_units|peak_rss_mb)|cov: [0-9]+" ".local/fuzz/$target.log" | tail -3 | sed 's/^/   /'
done
exit $status
