#!/usr/bin/env bash
# The test command under load (not part of it): runs scripts/test.sh RUNS times in a row (default 5) while a clean
# release build of the package runs beside it, over and over, in its own scratch folder (.build-beside), so that the
# tests meet a machine as loaded as a busy CI runner. Prints each run's exit status and duration, and the summary;
# logs in .local/repeat/. Exits 1 if any run failed.   scripts/repeat-tests.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
logs="$PWD/.local/repeat"
mkdir -p "$logs"
(
  while true; do
    rm -rf .build-beside/release .build-beside/x86_64-unknown-linux-gnu/release
    swift build -c release --scratch-path .build-beside >"$logs/beside-build.log" 2>&1 || true
  done
) &
beside=$!
trap 'kill $beside 2>/dev/null || true; pkill -f "scratch-path .build-beside" || true' EXIT
failed=0
summary=""
for run in $(seq 1 "$runs"); do
  started=$(date +%s)
  if scripts/test.sh >"$logs/run-$run.log" 2>&1; then status=0; else status=$?; failed=1; fi
  line="run $run: exit $status in $(( $(date +%s) - started )) s ($(grep -E '^(✔|✘|━) Test run' "$logs/run-$run.log" | tail -1 || echo 'no swift test summary'))"
  echo "$line"
  summary+="$line"$'\n'
done
builds=$(grep -c "Compiling" "$logs/beside-build.log" 2>/dev/null || echo 0)
echo "beside: clean release builds ran throughout (the last one had compiled $builds files when the runs ended)"
exit $failed
