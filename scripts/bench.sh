#!/usr/bin/env bash
# The benchmark (release builds; figures and ratios against references measured in the same
# run, nothing here is pass/fail). Against the private PostgreSQL and Redis of the test setup:
#   1. parse: CSV and NDJSON parse + normalise on one core vs. a plain line split of the same bytes
#   2. a generated 1,000,000-tick CSV day for the 20 NSE symbols (and an NDJSON copy)
#   3. tickd replay --speed max end to end (parse, normalise, COPY, latest_price, candles, Redis
#      publish of every tick, its stream entry, the live candles) into a fresh schema (a TimescaleDB
#      hypertable where the server has it); then the same with streams and live candles off, and
#      the Redis memory the streams took per 100,000 entries
#   4. references: psql \copy, text and binary, of the very rows tickd stored into a fresh
#      market_ticks of the same schema
#   5. the same replay again over the stored rows (--no-resume): over plain chunks, then, on
#      TimescaleDB, over compressed chunks
#   6. parse-only (--dry-run) of the CSV and the NDJSON
#   7. a TCP stream into tickd run at each of LEVELS for SECONDS (half as long from 90 %): tick-to-Redis
#      latency p50/p99/max and tickd's RSS over the run (publisher with TCP_NODELAY); the highest
#      level whose p99 stays under 1 s is the daemon's sustained rate
#      then the first level with streams and live candles off, and with 100 subscribers (fan-out):
#      each on one instrument's channel (as app screens), then each on every channel
#   8. the first level again, a third as long, with journal.fsync: always
#   9. Kafka: the day in librdkafka's mock cluster (a 6-partition topic keyed by symbol, in a
#      tickd-bench process), read into a fresh schema by one tickd run, then by two in one group:
#      ticks/s from the first commit to the last, and the wall time with the group join
# A level is ticks/s, or a share of this run's replay rate (40%), so that the load means the same
# on a slow and a fast machine; 1000 (ticks/s, a realistic live load for the NSE) is absolute.
# Usage: scripts/bench.sh [TICKS] [LEVELS] [SECONDS]   (defaults 1000000 40%,80%,90%,100%,1000 30)
set -euo pipefail
source "$(dirname "$0")/lib/services.sh"
cd "$ROOT"
TICKS="${1:-1000000}"; LEVELS="${2:-40%,80%,90%,100%,1000}"; SECONDS_="${3:-30}"
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
  local url="$DATABASE_URL&options=-csearch_path%3D$1%2Cpublic"   # public: TimescaleDB's functions
  DATABASE_URL="$url" "$BIN/tickd" migrate >/dev/null 2>&1
  DATABASE_URL="$url" "$BIN/tickd" seed Seeds/stocks.csv >/dev/null 2>&1
  echo "$url"
}
export TICKD_CONFIG="$ROOT/config/tickd.yaml" TICKD_DEAD_LETTER_PATH=/dev/null
OFF=(TICKD_REDIS_STREAM_MAX_LEN=0 TICKD_REDIS_LIVE_CANDLES=false)
REDIS=(redis-cli -p "$REDIS_PORT" -a "$REDIS_PASSWORD" --no-auth-warning)
redis_clear() {   # deletes the benchmark's channels' keys: each replay's fresh schema starts its seqs again
  "${REDIS[@]}" --scan --pattern 'bench:*' | xargs -r "${REDIS[@]}" DEL >/dev/null
}

# Steps 3 and 4 alternate, $REPEAT times (BENCH_REPEAT, default 3; not TICKD_…: tickd refuses unknown TICKD_ variables), and the results are
# medians: one run of the same step varies by about 15 % on the machines this runs on.
REPEAT="${BENCH_REPEAT:-3}"
COLUMNS="time, symbol, trade_seq, open, high, low, close, volume, seq"
for rep in $(seq 1 "$REPEAT"); do
  echo "== 3. tickd replay --speed max, streams and live candles off ($rep of $REPEAT)"
  redis_clear
  env "${OFF[@]}" DATABASE_URL="$(schema bench_replay)" TICKD_REDIS_PREFIX="bench:ticks:" TICKD_REDIS_CANDLE_PREFIX="bench:candles:" $MEASURE replay-off \
    "$BIN/tickd" replay "$CSV" --speed max --report json > /dev/null 2> >(grep '^{"label"' > "$WORK/replay-off-$rep.json")
  sleep 0.5
  echo "== 3. tickd replay --speed max, end to end with Redis publishing, streams and live candles ($rep of $REPEAT)"
  redis_clear
  REPLAY_URL="$(schema bench_replay)"
  STORAGE=$(psql "$REPLAY_URL" -Atc "SELECT storage_mode FROM tickd_schema_migrations WHERE version = 2")
  echo "storage: $STORAGE"
  DATABASE_URL="$REPLAY_URL" TICKD_REDIS_PREFIX="bench:ticks:" TICKD_REDIS_CANDLE_PREFIX="bench:candles:" $MEASURE replay \
    "$BIN/tickd" replay "$CSV" --speed max --report json > "$WORK/replay-report.json" 2> >(grep '^{"label"' > "$WORK/replay-$rep.json")
  sleep 0.5
  # Redis memory of the streams: MEMORY USAGE (every node sampled) and XLEN of each.
  for key in $("${REDIS[@]}" --scan --pattern 'bench:ticks:stream:*'); do
    echo "$("${REDIS[@]}" MEMORY USAGE "$key" SAMPLES 0) $("${REDIS[@]}" XLEN "$key")"
  done > "$WORK/stream-memory.txt"
  ROWS=$(psql "$REPLAY_URL" -Atc "SELECT count(*) FROM market_ticks")

  echo "== 4. references: psql \\copy (text, then binary) of the same rows into the same table ($rep of $REPEAT)"
  psql "$REPLAY_URL" -qc "\\copy (SELECT $COLUMNS FROM market_ticks) TO '$WORK/rows.csv' CSV"
  psql "$REPLAY_URL" -qc "\\copy (SELECT $COLUMNS FROM market_ticks) TO '$WORK/rows.bin' (FORMAT binary)"
  COPY_URL="$(schema bench_copy)"
  $MEASURE copy psql "$COPY_URL" -qc "\\copy market_ticks ($COLUMNS) FROM '$WORK/rows.csv' CSV" \
    2> >(grep '^{"label"' > "$WORK/copy-$rep.json")
  sleep 0.5
  COPY_URL="$(schema bench_copy)"
  $MEASURE copy-binary psql "$COPY_URL" -qc "\\copy market_ticks ($COLUMNS) FROM '$WORK/rows.bin' (FORMAT binary)" \
    2> >(grep '^{"label"' > "$WORK/copy-binary-$rep.json")
  sleep 0.5
done

echo "== 5. the same replay over the stored rows (--no-resume): nothing new to store"
DATABASE_URL="$REPLAY_URL" TICKD_REDIS_PREFIX="bench:ticks:" $MEASURE again \
  "$BIN/tickd" replay "$CSV" --speed max --no-resume --report json > /dev/null 2> >(grep '^{"label"' > "$WORK/again.json")
if [ "$STORAGE" = timescale ]; then
  psql "$REPLAY_URL" -qAtc "SELECT count(compress_chunk(c)) FROM show_chunks('market_ticks') c" >/dev/null
  DATABASE_URL="$REPLAY_URL" TICKD_REDIS_PREFIX="bench:ticks:" $MEASURE again-compressed \
    "$BIN/tickd" replay "$CSV" --speed max --no-resume --report json > /dev/null 2> >(grep '^{"label"' > "$WORK/again-compressed.json")
fi
sleep 0.5

echo "== 6. parse only (--dry-run, whole process)"
$MEASURE dry-csv "$BIN/tickd" replay "$CSV" --dry-run --report json > /dev/null 2> >(grep '^{"label"' > "$WORK/dry-csv.json")
$MEASURE dry-ndjson "$BIN/tickd" replay "$NDJSON" --dry-run --report json > /dev/null 2> >(grep '^{"label"' > "$WORK/dry-ndjson.json")
sleep 0.5

rate_of() {   # rate_of LEVEL → ticks/s: a share of the replay rate just measured, or the number itself
  if [[ "$1" == *% ]]; then
    python3 -c "import json, statistics; print(int(${1%\%} / 100 * $ROWS / statistics.median(json.load(open(f'$WORK/replay-{r}.json'))['wall'] for r in range(1, $REPEAT + 1))))"
  else echo "$1"; fi
}
stream_run() {   # stream_run LABEL RATE SECONDS SUBSCRIBERS [VAR=VALUE...] → tickd run with that environment, the publisher and subscribers
  local label="$1" rate="$2" seconds="$3" subscribers="$4"; shift 4
  redis_clear
  local url; url="$(schema bench_stream)"
  local port; port="$(free_port 7401)"
  rm -rf "$WORK/journal"
  env "$@" DATABASE_URL="$url" TICKD_REDIS_PREFIX="bench:stream:" TICKD_REDIS_CANDLE_PREFIX="bench:candles:" TICKD_JOURNAL_DIRECTORY="$WORK/journal" \
    "$BIN/tickd" run --listen "127.0.0.1:$port" > "$WORK/run.log" 2>&1 &
  local daemon=$!
  for _ in $(seq 1 100); do grep -q "listening for feed publishers" "$WORK/run.log" && break; sleep 0.1; done
  local cpu0; cpu0=$(awk '{print $14 + $15}' /proc/$daemon/stat)
  "$BIN/tickd-bench" stream "$port" "$rate" "$seconds" "$REDIS_URL" "bench:stream:" "$daemon" "$subscribers" | tee "$WORK/stream-$label.txt"
  local cpu1; cpu1=$(awk '{print $14 + $15}' /proc/$daemon/stat)
  echo "$label $rate $seconds $cpu0 $cpu1" >> "$WORK/streams.txt"
  kill -TERM "$daemon"; wait "$daemon" || true
}
rm -f "$WORK/streams.txt"
IFS=, read -ra LEVEL_LIST <<< "$LEVELS"
for level in "${LEVEL_LIST[@]}"; do
  rate="$(rate_of "$level")"; seconds="$SECONDS_"
  if [[ "$level" == *% ]] && [ "${level%\%}" -ge 90 ]; then seconds=$(( (SECONDS_ + 1) / 2 )); fi
  echo "== 7. TCP stream at $level: $rate ticks/s for $seconds s into tickd run, publish after commit"
  stream_run "$level" "$rate" "$seconds" 1
done
echo "== 7. ${LEVEL_LIST[0]} again with streams and live candles off, then with 100 subscribers (fan-out)"
stream_run "${LEVEL_LIST[0]}-off" "$(rate_of "${LEVEL_LIST[0]}")" "$SECONDS_" 1 "${OFF[@]}"
stream_run "${LEVEL_LIST[0]}-x100-symbol" "$(rate_of "${LEVEL_LIST[0]}")" "$SECONDS_" 100/symbol
stream_run "${LEVEL_LIST[0]}-x100" "$(rate_of "${LEVEL_LIST[0]}")" "$SECONDS_" 100
echo "== 8. ${LEVEL_LIST[0]} again with journal.fsync: always (every chunk fsynced before it counts as received), $(( (SECONDS_ + 2) / 3 )) s"
stream_run "fsync-always" "$(rate_of "${LEVEL_LIST[0]}")" "$(( (SECONDS_ + 2) / 3 ))" 1 TICKD_JOURNAL_FSYNC=always
rm -rf "$WORK/journal"

echo "== 9. Kafka: the day from librdkafka's mock cluster into tickd run, one instance, then two in one group"
"$BIN/tickd-bench" kafka-cluster "$CSV" > "$WORK/kafka-cluster.txt" &
CLUSTER=$!
for _ in $(seq 1 300); do grep -q "^brokers=" "$WORK/kafka-cluster.txt" && break; sleep 0.2; done
BROKERS=$(sed -n 's/^brokers=\([^ ]*\) .*/\1/p' "$WORK/kafka-cluster.txt")
MESSAGES=$(sed -n 's/.* messages=\([0-9]*\)$/\1/p' "$WORK/kafka-cluster.txt")
rm -f "$WORK/kafka.txt"
for instances in 1 2; do
  url="$(schema bench_kafka)"
  # Kafka lines have no header: the generated day's columns, and the source, in a config of their own.
  sed -e 's/^\(    columns: \[time, symbol, open, high, low, close, volume\)\]/\1, seq]/' -e 's/^\(    header:\) auto/\1 absent/' \
      -e "s|^  kafka: \[\]|  kafka:\n    - brokers: \"$BROKERS\"\n      topics: [trades]\n      group: bench-$instances-$$|" \
      config/tickd.yaml > "$WORK/kafka.yaml"
  pids=()
  for i in $(seq 1 "$instances"); do
    TICKD_CONFIG="$WORK/kafka.yaml" DATABASE_URL="$url" TICKD_REDIS_PREFIX="bench:kafka:" TICKD_JOURNAL_ENABLED=false \
      "$BIN/tickd" run > "$WORK/kafka-run-$i.log" 2>&1 &
    pids+=($!)
  done
  result=$("$BIN/tickd-bench" kafka-wait "$url" "$MESSAGES" 300)
  cpu=0
  for p in "${pids[@]}"; do cpu=$(( cpu + $(awk '{print $14 + $15}' /proc/$p/stat) )); kill -TERM "$p"; done
  wait "${pids[@]}" || true
  echo "$result"
  echo "$instances $cpu $result" >> "$WORK/kafka.txt"
done
kill "$CLUSTER"; wait "$CLUSTER" 2>/dev/null || true
for s in bench_replay bench_copy bench_stream bench_kafka; do psql "$DATABASE_URL" -qc "DROP SCHEMA $s CASCADE" >/dev/null; done

python3 - "$WORK" "$ROWS" "$TICKS" "$(getconf CLK_TCK)" "$STORAGE" "$REPEAT" <<'PY'
import json, os, re, statistics, sys
work, rows, ticks, hz = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
storage, repeat = sys.argv[5], int(sys.argv[6])
names = ["again", "again-compressed", "dry-csv", "dry-ndjson"]
m = {name: json.load(open(f"{work}/{name}.json")) for name in names if os.path.exists(f"{work}/{name}.json")}
for name in ["replay", "replay-off", "copy", "copy-binary"]:   # the median run of each, and the range of all
    runs = sorted((json.load(open(f"{work}/{name}-{r}.json")) for r in range(1, repeat + 1)), key=lambda run: run["wall"])
    m[name] = dict(runs[len(runs) // 2], wall=statistics.median(run["wall"] for run in runs),
                   spread=f"{runs[0]['wall']:.2f}-{runs[-1]['wall']:.2f} s")
report = json.load(open(f"{work}/replay-report.json"))
replay, copy, binary = m["replay"], m["copy"], m["copy-binary"]
print(f"== results (storage: {'TimescaleDB hypertable' if storage == 'timescale' else 'plain PostgreSQL table'}; medians of {repeat} alternating runs)")
print(f"psql \\copy text (reference)   {rows:>9,} rows  {copy['wall']:7.2f} s  {rows / copy['wall']:>11,.0f} rows/s  (runs {copy['spread']})")
print(f"psql \\copy binary (reference) {rows:>9,} rows  {binary['wall']:7.2f} s  {rows / binary['wall']:>11,.0f} rows/s  (runs {binary['spread']})")
print(f"tickd replay --speed max       {rows:>9,} rows  {replay['wall']:7.2f} s  {rows / replay['wall']:>11,.0f} rows/s  (runs {replay['spread']};"
      f" inserted {report['inserted']:,}, published {report['published']:,})")
print(f"ratio tickd rate / psql \\copy text rate: {copy['wall'] / replay['wall']:.2f}, / binary rate: {binary['wall'] / replay['wall']:.2f}")
off = m["replay-off"]
print(f"  streams and live candles off {rows:>9,} rows  {off['wall']:7.2f} s  {rows / off['wall']:>11,.0f} rows/s  (runs {off['spread']}); "
      f"on costs {replay['wall'] / off['wall'] - 1:+.1%} wall time, tickd CPU {replay['cpu']:.2f} s on vs {off['cpu']:.2f} s off")
streams = [tuple(map(int, line.split())) for line in open(f"{work}/stream-memory.txt") if line.strip()]
if streams:
    used, entries = sum(s[0] for s in streams), sum(s[1] for s in streams)
    print(f"  Redis memory of the streams: {used / 1e6:.1f} MB for {entries:,} entries in {len(streams)} streams = {used / entries * 1e5 / 1e6:.1f} MB per 100,000 entries")
again = m["again"]
print(f"replay again over stored rows  {ticks:>9,} ticks {again['wall']:7.2f} s  {ticks / again['wall']:>11,.0f} ticks/s")
if "again-compressed" in m:
    packed = m["again-compressed"]
    print(f"  over compressed chunks       {ticks:>9,} ticks {packed['wall']:7.2f} s  {ticks / packed['wall']:>11,.0f} ticks/s"
          f"  ({packed['wall'] / again['wall']:.2f} x the time over plain chunks)")
print(f"tickd replay: peak RSS {replay['rss_mib']:.0f} MiB (target <= 200), CPU {replay['cpu'] / (ticks / 1e6):.2f} s per million ticks (tickd's own process)")
for name, label in [("dry-csv", "CSV"), ("dry-ndjson", "NDJSON")]:
    d = m[name]
    print(f"parse only {label:<6} (--dry-run) {ticks:>9,} lines {d['wall']:7.2f} s  {ticks / d['wall']:>11,.0f} lines/s, "
          f"CPU {d['cpu'] / (ticks / 1e6):.2f} s per million, peak RSS {d['rss_mib']:.0f} MiB")
replay_rate = rows / replay["wall"]
print(f"stream into tickd run (levels relative to this run's replay rate, {replay_rate:,.0f} ticks/s):")
sustained = None
for line in open(f"{work}/streams.txt"):
    label, rate, seconds, cpu0, cpu1 = line.split()
    rate, seconds = int(rate), int(seconds)
    text = open(f"{work}/stream-{label}.txt").read()
    sent = re.search(r"sent (\d+) ticks in ([\d.]+) s \((\d+) ticks/s\); received (\d+)", text)
    lat = re.search(r"p50 (-?\d+) ms, p99 (-?\d+) ms, max (-?\d+) ms", text)
    rss = re.search(r"RSS first (\d+) MiB, last (\d+) MiB, peak (\d+) MiB", text)
    achieved = int(sent.group(3))
    print(f"  {label:>12}: asked {rate:>7,} ticks/s, sent {achieved:>7,} ({achieved / replay_rate:.2f} x replay), received {int(sent.group(4)):,}/{int(sent.group(1)):,};"
          f" p50 {lat.group(1)} ms, p99 {lat.group(2)} ms, max {lat.group(3)} ms;"
          f" RSS first/last/peak {rss.group(1)}/{rss.group(2)}/{rss.group(3)} MiB; CPU {(int(cpu1) - int(cpu0)) / hz / (achieved * seconds / 1e6):.2f} s per million ticks")
    fan = re.search(r"(\d+) subscribers( \(one instrument each\))? received (\d+) of (\d+) messages; (\d+) subscribers short", text)
    if fan:
        print(f"  {'':>12}  {fan.group(1)} subscribers{fan.group(2) or ' (every channel)'}: {int(fan.group(3)):,} of {int(fan.group(4)):,} messages delivered, {fan.group(5)} subscribers short")
    if label not in ("fsync-always",) and "-" not in label and int(lat.group(2)) < 1000 and int(sent.group(4)) == int(sent.group(1)):
        sustained = max(sustained or 0, achieved)
if sustained:
    print(f"highest sustained stream rate with p99 < 1 s: {sustained:,} ticks/s = {sustained / replay_rate:.2f} x the replay rate")
print(f"Kafka -> PostgreSQL (librdkafka's mock cluster on this machine; the replay rate of this run is {replay_rate:,.0f} ticks/s):")
for line in open(f"{work}/kafka.txt"):
    got = re.match(r"(\d+) (\d+) kafka: first commit after ([\d.]+) s, all (\d+) messages after ([\d.]+) s; (\d+) ticks/s", line)
    instances, cpu, first, messages, wall, rate = got.groups()
    print(f"  {instances} instance{'s' if instances != '1' else ' '}: {int(rate):>9,} ticks/s from the first commit to the last ({int(rate) / replay_rate:.2f} x replay);"
          f" {wall} s with the group join ({first} s to the first commit); tickd CPU {int(cpu) / hz / (int(messages) / 1e6):.2f} s per million")
PY
