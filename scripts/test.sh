#!/usr/bin/env bash
# The test command: installs what is missing, starts a private PostgreSQL and Redis,
# runs every test against them, stops them again (also on failure or Ctrl-C).
set -euo pipefail
source "$(dirname "$0")/lib/services.sh"
cd "$ROOT"
ensure_packages
trap stop_services EXIT
start_services
log "swift build (tests)"
swift build --build-tests "$@"
log "swift test"
run_tests "$@"
log "fuzz the parsers (libFuzzer + AddressSanitizer, a fixed number of runs)"
bash scripts/fuzz.sh "${TICKD_FUZZ_RUNS:-200000}"
