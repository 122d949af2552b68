#!/usr/bin/env bash
# Parse benchmark: lines/s of CSV and NDJSON parse + normalise on the sample day, one core,
# with a line-split reference measured in the same run. Release build.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product tickd-bench
exec taskset -c 0 "$(swift build -c release --show-bin-path)/tickd-bench" Seeds/feeds
