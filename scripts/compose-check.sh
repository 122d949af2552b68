#!/usr/bin/env bash
# Builds deploy/docker/Dockerfile (both stages) and runs deploy/docker-compose.yml for real, on
# podman with docker-compose v1 talking to `podman system service`. No registry is reachable here,
# so the base images are made from Debian packages (debootstrap, then `podman import`) and passed
# as build arguments, and scripts/compose/override.yml swaps the registry images for local ones:
# PostgreSQL 15 from Debian stands in for TimescaleDB (tickd falls back to plain tables). The
# machine's Swift toolchain (/opt/swift) and package mirror (/opt/swift-packages) are mounted
# into the build stage. Prints one line per check; exits 1 when one fails, and prints one SKIP
# line (exit 0) when containers cannot run on this machine. Cleans up after itself, also on failure.
# Usage: scripts/compose-check.sh
set -euo pipefail
source "$(dirname "$0")/lib/services.sh"
cd "$ROOT"

WORK="$DEV_DIR/compose"
SOCKET_DIR="$WORK/run"
PROJECT=tickd-check
REDIS_PORT="${COMPOSE_CHECK_REDIS_PORT:-16379}"
SAMPLE=Seeds/feeds/nse-2026-01-05.trades.csv
export CONTAINERS_CONF="$WORK/containers.conf" COMPOSE_CHECK_REDIS_PORT="$REDIS_PORT"
failed=0

skip() { echo "SKIP compose-check: $*"; exit 0; }
check() {   # check "what" COMMAND... → one line, ok or FAIL
  local what="$1"; shift
  if "$@"; then echo "ok   $what"; else echo "FAIL $what"; failed=1; fi
}

[ "$(id -u)" -eq 0 ] || skip "needs root (rootful podman)"
[ "${TICKD_COMPOSE_CHECK:-on}" != off ] || skip "TICKD_COMPOSE_CHECK=off"
[ -d /opt/swift/usr/bin ] && [ -d /opt/swift-packages ] || skip "no Swift toolchain at /opt/swift or package mirror at /opt/swift-packages"
# As tested here: podman with what it recommends (catatonit, fuse-overlayfs, uidmap…).
APT_RECOMMENDS=1 install_missing podman docker-compose debootstrap runc || skip "cannot install podman, docker-compose, debootstrap and runc"
mkdir -p "$WORK" "$SOCKET_DIR"
# crun refuses the rlimits and the hybrid cgroups here; no systemd for cgroups or events.
cat > "$CONTAINERS_CONF" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF

# ---- images ----
if ! podman image exists localhost/tickd-local/bookworm:latest; then
  log "debootstrap bookworm (once; kept as an image)"
  rm -rf "$WORK/rootfs"
  debootstrap --variant=minbase bookworm "$WORK/rootfs" http://deb.debian.org/debian > "$WORK/debootstrap.log" 2>&1 \
    || skip "debootstrap failed (see $WORK/debootstrap.log)"
  printf 'deb http://deb.debian.org/debian bookworm main\ndeb http://deb.debian.org/debian bookworm-updates main\ndeb http://deb.debian.org/debian-security bookworm-security main\n' \
    > "$WORK/rootfs/etc/apt/sources.list"
  # As debian:bookworm-slim: no documentation, manual pages, translations or package caches.
  rm -rf "$WORK/rootfs"/usr/share/doc/* "$WORK/rootfs"/usr/share/man/* "$WORK/rootfs"/usr/share/locale/* \
         "$WORK/rootfs"/usr/share/info/* "$WORK/rootfs"/var/cache/apt/*.bin "$WORK/rootfs"/var/cache/apt/archives/*.deb \
         "$WORK/rootfs"/var/lib/apt/lists/*
  tar -C "$WORK/rootfs" -c . | podman import - localhost/tickd-local/bookworm:latest >/dev/null 2>&1
  rm -rf "$WORK/rootfs"
fi
podman run --rm localhost/tickd-local/bookworm:latest true 2>"$WORK/run-probe.log" \
  || skip "podman cannot run a container here: $(head -1 "$WORK/run-probe.log")"

build() {   # build IMAGE CONTAINERFILE → a local image from scripts/compose
  podman build -q -t "localhost/tickd-local/$1:latest" -f "scripts/compose/$2" scripts/compose > "$WORK/build-$1.log" 2>&1 \
    || { echo "FAIL build $1 (see $WORK/build-$1.log)"; exit 1; }
}
build postgres postgres.Containerfile
build redis redis.Containerfile
build swift-builder builder.Containerfile
log "building deploy/docker/Dockerfile (release build of tickd in the build stage)"
if ! podman build -f deploy/docker/Dockerfile \
    --build-arg BUILD_IMAGE=localhost/tickd-local/swift-builder:latest \
    --build-arg RUN_IMAGE=localhost/tickd-local/bookworm:latest \
    -v /opt/swift:/opt/swift:ro -v /opt/swift-packages:/opt/swift-packages:ro \
    --format docker -t localhost/tickd-local/tickd:latest . > "$WORK/build-tickd.log" 2>&1; then
  tail -20 "$WORK/build-tickd.log"
  echo "FAIL build deploy/docker/Dockerfile (see $WORK/build-tickd.log)"
  exit 1
fi
size=$(podman image inspect -f '{{.Size}}' localhost/tickd-local/tickd:latest)
echo "ok   deploy/docker/Dockerfile built, both stages: image $((size / 1048576)) MiB"

# ---- the stack ----
podman system service --time=0 "unix://$SOCKET_DIR/podman.sock" > "$WORK/podman-service.log" 2>&1 &
service=$!
export DOCKER_HOST="unix://$SOCKET_DIR/podman.sock"
compose() { docker-compose -p "$PROJECT" -f deploy/docker-compose.yml -f scripts/compose/override.yml "$@"; }
# Without systemd nothing runs the health checks: run them every 2 s.
( while sleep 2; do for c in $(podman ps -q --filter "label=com.docker.compose.project=$PROJECT"); do podman healthcheck run "$c" >/dev/null 2>&1 || true; done; done ) &
prober=$!
subscriber=""
cleanup() {
  [ -n "$subscriber" ] && kill "$subscriber" 2>/dev/null || true
  compose down -v --remove-orphans > "$WORK/down.log" 2>&1 || true
  kill "$prober" "$service" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 1 50); do [ -S "$SOCKET_DIR/podman.sock" ] && break; sleep 0.1; done
compose down -v --remove-orphans > /dev/null 2>&1 || true

if ! compose up -d --no-build > "$WORK/up.log" 2>&1; then
  tail -20 "$WORK/up.log"; echo "FAIL docker-compose up"; exit 1
fi
id_of() { compose ps -q "$1"; }
healthy() {   # every service healthy through its own health check, within 3 minutes
  local deadline=$((SECONDS + 180)) s state
  while [ $SECONDS -lt $deadline ]; do
    local all=1
    for s in timescaledb redis tickd; do
      state=$(podman inspect -f '{{.State.Health.Status}}' "$(id_of $s)" 2>/dev/null || echo none)
      [ "$state" = healthy ] || all=0
    done
    [ $all -eq 1 ] && return 0
    sleep 2
  done
  for s in timescaledb redis tickd; do echo "     $s: $(podman inspect -f '{{.State.Health.Status}}' "$(id_of $s)" 2>/dev/null)"; done
  compose logs --tail 20 tickd | sed 's/^/     /'
  return 1
}
check "timescaledb, redis and tickd healthy through their own health checks" healthy
sql() { podman exec "$(id_of timescaledb)" psql -U tickd -d tickd -qAtc "$1"; }
check "tickd migrated (schema step $(sql 'SELECT max(version) FROM tickd_schema_migrations')) and seeded ($(sql 'SELECT count(*) FROM stocks') instruments)" \
  test "$(sql 'SELECT count(*) FROM stocks')" = 20
check "tickd runs as a non-root user (uid $(podman exec "$(id_of tickd)" id -u))" test "$(podman exec "$(id_of tickd)" id -u)" != 0
check "the Swift runtime is linked statically (no libswift in ldd)" \
  sh -c "! podman exec $(id_of tickd) ldd /usr/local/bin/tickd | grep -q libswift"

# A subscriber outside the stack, on the published Redis port, before the day is sent.
redis-cli -p "$REDIS_PORT" --csv psubscribe 'ticks:*' > "$WORK/subscriber.csv" 2>&1 &
subscriber=$!
sleep 1
accepted=$(python3 -c "import json; print(json.load(open('Seeds/feeds/nse-2026-01-05.expected.json'))['files']['nse-2026-01-05.trades.csv']['accepted'])")
python3 - "$SAMPLE" <<'PY'
import socket, sys
with socket.create_connection(("127.0.0.1", 7001)) as s, open(sys.argv[1], "rb") as f:
    s.sendall(f.read())
PY
all_in() {   # every accepted trade stored or held by the price checks, within 2 minutes
  local deadline=$((SECONDS + 120)) n
  while [ $SECONDS -lt $deadline ]; do
    n=$(sql "SELECT (SELECT count(*) FROM market_ticks) + (SELECT count(*) FROM tickd_quarantine)")
    [ "$n" = "$accepted" ] && return 0
    sleep 1
  done
  echo "     stored + quarantined: $n of $accepted"; return 1
}
check "the sample day sent to the published port 7001: all $accepted accepted trades in market_ticks or tickd_quarantine" all_in
stored=$(sql "SELECT count(*) FROM market_ticks")
received() {   # every stored tick reached the subscriber outside the stack
  local deadline=$((SECONDS + 60)) n
  while [ $SECONDS -lt $deadline ]; do
    n=$(grep -c '^"pmessage"' "$WORK/subscriber.csv" || true)
    [ "$n" = "$stored" ] && return 0
    sleep 1
  done
  echo "     received $n of $stored"; return 1
}
check "a Redis subscriber outside the stack received all $stored stored ticks" received
readyz() { python3 -c "import urllib.request, sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:9464/readyz', timeout=5).status == 200 else 1)"; }
check "/readyz 200 on the published metrics port" readyz
stop_started=$SECONDS
compose stop tickd > "$WORK/stop.log" 2>&1
took=$((SECONDS - stop_started))
code=$(podman inspect -f '{{.State.ExitCode}}' "$(id_of tickd)")
check "docker-compose stop tickd: drained and exited $code in ${took} s (grace period 45 s)" test "$code" = 0 -a "$took" -lt 45
check "docker-compose down" sh -c "docker-compose -p $PROJECT -f deploy/docker-compose.yml -f scripts/compose/override.yml down -v --remove-orphans > $WORK/down.log 2>&1"
exit $failed
