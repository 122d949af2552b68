#!/usr/bin/env bash
# Benchmarks (release builds). Prints figures and ratios against references measured in the
# same run; nothing here is a pass/fail test.
#   1. parse: CSV and NDJSON parse + normalise on one core vs. a plain line split of the same bytes
#   2. ingest: `tickd replay` of the sample day into an empty market_ticks vs. `psql \copy` of the
#      very same rows into the same table (same indexes), emptied again first
set -euo pipefail
source "$(dirname "$0")/lib/services.sh"
cd "$ROOT"
ensure_packages
swift build -c release --product tickd-bench
swift build -c release --product tickd
BIN="$(swift build -c release --show-bin-path)"

echo "== parse"
taskset -c 0 "$BIN/tickd-bench" Seeds/feeds

echo "== ingest"
trap stop_services EXIT
start_services
SCHEMA=bench_ingest
export PGOPTIONS="-c client_min_messages=warning"
psql "$DATABASE_URL" -qc "DROP SCHEMA IF EXISTS $SCHEMA CASCADE; CREATE SCHEMA $SCHEMA" >/dev/null
URL="$DATABASE_URL&options=-csearch_path%3D$SCHEMA"
export TICKD_CONFIG="$ROOT/config/tickd.yaml"
DATABASE_URL="$URL" "$BIN/tickd" migrate >/dev/null 2>&1
DATABASE_URL="$URL" "$BIN/tickd" seed >/dev/null 2>&1
FEED=Seeds/feeds/nse-2026-01-05.trades.csv
now() { date +%s.%N; }

t0=$(now)
REPORT=$(DATABASE_URL="$URL" "$BIN/tickd" replay "$FEED" --report json --dead-letter /dev/null 2>/dev/null)
t1=$(now)
ROWS=$(psql "$URL" -Atc "SELECT count(*) FROM market_ticks")

DUMP="$DEV_DIR/bench-rows.csv"
psql "$URL" -qc "\\copy (SELECT time, symbol, trade_seq, open, high, low, close, volume, seq FROM market_ticks) TO '$DUMP' CSV"
psql "$URL" -qc "TRUNCATE market_ticks"
t2=$(now)
psql "$URL" -qc "\\copy market_ticks (time, symbol, trade_seq, open, high, low, close, volume, seq) FROM '$DUMP' CSV"
t3=$(now)
psql "$DATABASE_URL" -qc "DROP SCHEMA $SCHEMA CASCADE" >/dev/null
rm -f "$DUMP"

python3 - "$t0" "$t1" "$t2" "$t3" "$ROWS" "$REPORT" <<'PY'
import json, sys
t0, t1, t2, t3, rows = map(float, sys.argv[1:6])
report = json.loads(sys.argv[6])
tickd, copy = t1 - t0, t3 - t2
print(f"tickd replay (parse, normalise, COPY, upsert, latest_price, one transaction per batch): "
      f"{int(rows)} rows in {tickd:.2f} s = {rows / tickd:,.0f} rows/s (report: inserted {report['inserted']})")
print(f"psql \\copy of the same rows into the same table:                                      "
      f"{int(rows)} rows in {copy:.2f} s = {rows / copy:,.0f} rows/s")
print(f"ratio tickd / psql \\copy time: {tickd / copy:.2f}")
PY
