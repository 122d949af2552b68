#!/usr/bin/env bash
# The test command: installs what is missing, starts a private PostgreSQL and Redis,
# runs every test against them, then the examples' tests, fuzzes the parsers, builds and runs the container image and the
# compose stack (scripts/compose-check.sh), stops the servers again (also on failure or Ctrl-C).
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
log "the examples (Python subscriber and WebSocket relay) against tickd run, PostgreSQL and Redis"
python="$(examples_python)"
TICKD_BIN="$(swift build --show-bin-path)/tickd" "$python" -m pytest -q -s -p no:cacheprovider examples/tests
log "fuzz the parsers (libFuzzer + AddressSanitizer, a fixed number of runs)"
bash scripts/fuzz.sh "${TICKD_FUZZ_RUNS:-200000}"
log "the image and the compose stack, built and run (podman + docker-compose; one SKIP line where containers cannot run)"
bash scripts/compose-check.sh
