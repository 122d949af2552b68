#!/usr/bin/env bash
# The benchmark (release builds; figures and ratios against references measured in the same
# run, nothing here is pass/fail). Against the private PostgreSQL and Redis of the test setup:
#   1. parse: CSV and NDJSON parse + normalise on one core vs. a plain line split of the same bytes
#   2. a generated 1,000,000-tick CSV day for the 20 NSE symbols (and an NDJSON copy)
#   3. reference: psql \copy of the very rows tickd stored into a market_ticks of the same schema
#   4. tickd replay --speed max end to end (parse, normalise, COPY, latest_price, Redis publish of
#      every tick) into a fresh schema; and parse-only (--dry-run) of the CSV and the NDJSON
#   5. a TCP stream: 50,000 ticks/s for 30 s into tickd run, tick-to-Redis latency p50/p99/max,
#      tickd's RSS over the run (publisher with TCP_NODELAY); then a third as long with journal.fsync: always
# Usage: scripts/bench.sh [TICKS] [RATE] [SECONDS]   (defaults 1000000 50000 30)
set -euo pipefail
source "$(dirname "$0")/lib/services.sh"
cd "$ROOT"
TICKS="${1:-1000000}"; RATE="${2:-50000}"; SECONDS_="${3:-30}"
ensure_packages
swift build -c release --product tickd-bench
swift build -c release --product tickd
BIN="$(swift build -c release --show-bin-path)"
MEASURE="python3 $ROOT/scripts/lib/measure.py"
echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -m), $(swift --version 2>/dev/null | head -1)"

echo "== 1. parse (sample day, one core)"
taskset -c 0 "$BIN/tickd-bench" parse Seeds/feeds

trap stop_services EXIT
start_services
export PGOPTIONS="-c client_min_messages=warning"
WORK="$DEV_DIR/bench"; mkdir -p "$WORK"; rm -f "$WORK"/*.json
echo "== 2. generate a $TICKS-tick day"
[ -f "$WORK/day-$TICKS.csv" ] || "$BIN/tickd-bench" generate "$WORK" "$TICKS"
CSV="$WORK/day-$TICKS.csv"; NDJSON="$WORK/day-$TICKS.ndjson"

schema() {   # schema NAME → a fresh, migrated and seeded schema; prints its URL
  psql "$DATABASE_URL" -qc "DROP SCHEMA IF EXISTS $1 CASCADE; CREATE SCHEMA $1" >/dev/null
  local url="$DATABASE_URL&options=-csearch_path%3D$1"
  DATABASE_URL="$url" "$BIN/tickd" migrate >/dev/null 2>&1
  DATABASE_URL="$url" "$BIN/tickd" seed Seeds/stocks.csv >/dev/null 2>&1
  echo "$url"
}
export TICKD_CONFIG="$ROOT/config/tickd.yaml" TICKD_DEAD_LETTER_PATH=/dev/null

echo "== 3. tickd replay --speed max, end to end with Redis publishing"
REPLAY_URL="$(schema bench_replay)"
DATABASE_URL="$REPLAY_URL" TICKD_REDIS_PREFIX="bench:ticks:" $MEASURE replay \
  "$BIN/tickd" replay "$CSV" --speed max --report json > "$WORK/replay-report.json" 2> >(grep '^{"label"' > "$WORK/replay.json")
sleep 0.5
ROWS=$(psql "$REPLAY_URL" -Atc "SELECT count(*) FROM market_ticks")

echo "== 4. reference: psql \\copy of the same rows into the same table"
COPY_URL="$(schema bench_copy)"
psql "$REPLAY_URL" -qc "\\copy (SELECT time, symbol, trade_seq, open, high, low, close, volume, seq FROM market_ticks) TO '$WORK/rows.csv' CSV"
$MEASURE copy psql "$COPY_URL" -qc "\\copy market_ticks (time, symbol, trade_seq, open, high, low, close, volume, seq) FROM '$WORK/rows.csv' CSV" \
  2> >(grep '^{"label"' > "$WORK/copy.json")
sleep 0.5

echo "== 5. parse only (--dry-run, whole process)"
$MEASURE dry-csv "$BIN/tickd" replay "$CSV" --dry-run --report json > /dev/null 2> >(grep '^{"label"' > "$WORK/dry-csv.json")
$MEASURE dry-ndjson "$BIN/tickd" replay "$NDJSON" --dry-run --report json > /dev/null 2> >(grep '^{"label"' > "$WORK/dry-ndjson.json")
sleep 0.5

stream_run() {   # stream_run LABEL SECONDS [VAR=VALUE...] → tickd run with that environment, the publisher and subscriber
  local label="$1" seconds="$2"; shift 2
  local url; url="$(schema bench_stream)"
  local port; port="$(free_port 7401)"
  rm -rf "$WORK/journal"
  env "$@" DATABASE_URL="$url" TICKD_REDIS_PREFIX="bench:stream:" TICKD_JOURNAL_DIRECTORY="$WORK/journal" \
    "$BIN/tickd" run --listen "127.0.0.1:$port" > "$WORK/run.log" 2>&1 &
  local daemon=$!
  for _ in $(seq 1 100); do grep -q "listening for feed publishers" "$WORK/run.log" && break; sleep 0.1; done
  local cpu0; cpu0=$(awk '{print $14 + $15}' /proc/$daemon/stat)
  "$BIN/tickd-bench" stream "$port" "$RATE" "$seconds" "$REDIS_URL" "bench:stream:" "$daemon" | tee "$WORK/stream-$label.txt"
  local cpu1; cpu1=$(awk '{print $14 + $15}' /proc/$daemon/stat)
  echo "$cpu0 $cpu1" > "$WORK/stream-$label.cpu"
  kill -TERM "$daemon"; wait "$daemon" || true
}
echo "== 6. TCP stream: $RATE ticks/s for $SECONDS_ s into tickd run, publish after commit"
stream_run default "$SECONDS_"
echo "== 7. the same with journal.fsync: always (every chunk fsynced before it counts as received), $(( (SECONDS_ + 2) / 3 )) s"
stream_run fsync-always "$(( (SECONDS_ + 2) / 3 ))" TICKD_JOURNAL_FSYNC=always
rm -rf "$WORK/journal"
for s in bench_replay bench_copy bench_stream; do psql "$DATABASE_URL" -qc "DROP SCHEMA $s CASCADE" >/dev/null; done

python3 - "$WORK" "$ROWS" "$TICKS" "$RATE" "$SECONDS_" $(cat "$WORK/stream-default.cpu") "$(getconf CLK_TCK)" <<'PY'
import json, sys
work, rows, ticks, rate, seconds, cpu0, cpu1, hz = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8])
m = {name: json.load(open(f"{work}/{name}.json")) for name in ["replay", "copy", "dry-csv", "dry-ndjson"]}
report = json.load(open(f"{work}/replay-report.json"))
replay, copy = m["replay"], m["copy"]
print("== results")
print(f"psql \\copy (reference)        {rows:>9,} rows  {copy['wall']:7.2f} s  {rows / copy['wall']:>11,.0f} rows/s")
print(f"tickd replay --speed max       {rows:>9,} rows  {replay['wall']:7.2f} s  {rows / replay['wall']:>11,.0f} rows/s"
      f"  (inserted {report['inserted']:,}, published {report['published']:,})")
print(f"ratio tickd rate / psql \\copy rate: {copy['wall'] / replay['wall']:.2f}  (target >= 1.0)")
print(f"tickd replay: peak RSS {replay['rss_mib']:.0f} MiB (target <= 200), CPU {replay['cpu'] / (ticks / 1e6):.2f} s per million ticks (tickd's own process)")
for name, label in [("dry-csv", "CSV"), ("dry-ndjson", "NDJSON")]:
    d = m[name]
    print(f"parse only {label:<6} (--dry-run) {ticks:>9,} lines {d['wall']:7.2f} s  {ticks / d['wall']:>11,.0f} lines/s, "
          f"CPU {d['cpu'] / (ticks / 1e6):.2f} s per million, peak RSS {d['rss_mib']:.0f} MiB")
print(f"stream: tickd CPU {(cpu1 - cpu0) / hz / (rate * seconds / 1e6):.2f} s per million ticks")
PY
