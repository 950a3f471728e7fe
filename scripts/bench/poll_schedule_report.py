"""Reads the poll jobs the schedule enqueued (one JSON envelope per line) and reports, for the slots wholly inside
[window_start, window_start + slots * interval): polls per slot, duplicates, misses and the worst lateness.
Usage: poll_schedule_report.py JOBS_FILE BUSINESSES_FILE WINDOW_START_MS INTERVAL_MS SLOTS"""
import collections, json, sys

jobs_file, businesses_file = sys.argv[1], sys.argv[2]
start, interval, slots = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
end = start + slots * interval
businesses = set(line.strip() for line in open(businesses_file) if line.strip())
pairs = collections.Counter()
per_slot = collections.Counter()
worst = 0
for line in open(jobs_file):
    line = line.strip()
    if not line.startswith("{"):
        continue
    job = json.loads(line)
    slot = int(job["payload"]["slot"])
    if not (start <= slot < end):
        continue
    pairs[(job["businessId"], slot)] += 1
    per_slot[(slot - start) // interval] += 1
    worst = max(worst, int(job["payload"]["tickedAt"]) - slot)
duplicates = sum(count - 1 for count in pairs.values())
expected = len(businesses) * slots
distinct = len(pairs)
print(f"businesses {len(businesses)}, interval {interval / 1000:.0f} s, {slots} slots measured")
print("polls enqueued per slot: " + ", ".join(str(per_slot[index]) for index in range(slots)))
print(f"duplicates {duplicates} (bar 0) | misses {expected - distinct} (bar 0) | worst lateness {worst} ms")
