#!/usr/bin/env bash
# The main job: installs what is missing, starts a private PostgreSQL and Redis on loopback
# (under .tickd-dev/), builds tickd, replays the sample trading day from Seeds/ and prints
# the report; stops the servers when done.
#
# Today (issue 2) the replay is a dry run: parse + normalise only. The database and Redis
# steps (migrate, seed, replay into PostgreSQL, publish) join as their issues land.
set -euo pipefail
source "$(dirname "$0")/lib/services.sh"
cd "$ROOT"
ensure_packages
trap stop_services EXIT
start_services
log "swift build -c release --product tickd"
swift build -c release --product tickd
TICKD="$(swift build -c release --show-bin-path)/tickd"
mkdir -p "$DEV_DIR"
DEAD_LETTERS="$DEV_DIR/dead-letters.jsonl"
rm -f "$DEAD_LETTERS"
log "tickd replay (dry run) of the sample day"
"$TICKD" replay Seeds/feeds/nse-2026-01-05.trades.csv Seeds/feeds/nse-2026-01-05.bars-1m.ndjson.zst \
  --dry-run --report json --dead-letter "$DEAD_LETTERS"
log "rejected records are in $DEAD_LETTERS ($(wc -l < "$DEAD_LETTERS") lines); expected ones in Seeds/feeds/nse-2026-01-05.expected.json"
