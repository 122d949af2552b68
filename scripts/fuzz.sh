#!/usr/bin/env bash
# Fuzzes the feed parsers (framing, CSV, NDJSON, normalisation) with libFuzzer and AddressSanitizer.
# A separate build (.build-fuzz, -sanitize=fuzzer,address) that does not slow the normal one.
# Usage: scripts/fuzz.sh [RUNS]   (default 200000; the test command runs it with its default)
# Seeds: Fuzz/corpus (fixtures and sample feeds) and Fuzz/crashes (every past crash). New
# interesting inputs go to a scratch folder; a crash is written to Fuzz/crashes/ — commit it.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-200000}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
echo "== fuzz: building tickd-fuzz with -sanitize=fuzzer,address (.build-fuzz)"
swift build --scratch-path .build-fuzz --product tickd-fuzz \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -parse-as-library
BIN="$(swift build --scratch-path .build-fuzz --product tickd-fuzz --show-bin-path \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -parse-as-library)/tickd-fuzz"
echo "== fuzz: $RUNS runs from $(ls Fuzz/corpus | wc -l) seeds and $(ls Fuzz/crashes | grep -vc README) past crashes"
set +e
"$BIN" -runs="$RUNS" -seed=1 -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix=Fuzz/crashes/crash- -print_final_stats=1 "$WORK" Fuzz/corpus Fuzz/crashes > "$WORK.log" 2>&1
status=$?
set -e
grep -E "INFO: Seed|Done|stat::number_of_executed_units|stat::peak_rss_mb|ERROR|SUMMARY|panic|Fatal|==[0-9]+==" "$WORK.log" || true
rm -f "$WORK.log"
if [ "$status" -ne 0 ]; then
  echo "== fuzz: FAILED (exit $status); the input is in Fuzz/crashes/" >&2
  exit "$status"
fi
echo "== fuzz: $RUNS runs, no crash"
