# shellcheck shell=bash
# Shared by scripts/main.sh and scripts/test.sh: install what is missing, start a private
# PostgreSQL 15 and Redis 7 on loopback under .tickd-dev/ of the checkout, stop them again.
# Source this file; it defines functions and the DATABASE_URL / REDIS_URL they export.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DEV_DIR="${TICKD_DEV_DIR:-$ROOT/.tickd-dev}"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_PORT="${TICKD_PG_PORT:-55432}"
REDIS_PORT="${TICKD_REDIS_PORT:-56379}"
# Throw-away credentials of the private servers (loopback only, data under .tickd-dev/).
PG_PASSWORD="tickd-dev-secret"
REDIS_PASSWORD="tickd-dev-redis-secret"

# Debian packages tickd needs to build, test and run.
APT_PACKAGES=(pkg-config libpq-dev libhiredis-dev libssl-dev openssl libzstd-dev zlib1g-dev librdkafka-dev kcat tzdata
              postgresql-15 postgresql-client-15 redis-server zstd gzip procps systemd)

log() { printf '[tickd-dev] %s\n' "$*" >&2; }

# True when something listens on 127.0.0.1:$1.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The first port from $1 upward that nothing listens on.
free_port() {
  local port=$1
  while port_in_use "$port"; do port=$((port + 1)); done
  echo "$port"
}

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

ensure_packages() { install_missing "${APT_PACKAGES[@]}"; }

# Installs those of the Debian packages given that are not installed yet (their recommended
# packages too with APT_RECOMMENDS=1).
install_missing() {
  local missing=() p recommends=--no-install-recommends
  [ "${APT_RECOMMENDS:-0}" = 1 ] && recommends=""
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing: ${missing[*]}"
    as_root apt-get update -qq
    # Debian's postgresql-common would create and start a cluster of its own; we only want binaries.
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $recommends "${missing[@]}" >/dev/null
  fi
}

# The examples' test (examples/tests): Debian's chromium for the relay page, a virtualenv with
# examples/requirements.txt from PyPI (made again when the requirements change).
EXAMPLE_PACKAGES=(chromium python3-venv)
examples_python() {
  local venv="$DEV_DIR/examples-venv"
  install_missing "${EXAMPLE_PACKAGES[@]}" >&2
  if ! cmp -s "$ROOT/examples/requirements.txt" "$venv/requirements.txt"; then
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q -r "$ROOT/examples/requirements.txt" >&2
    cp "$ROOT/examples/requirements.txt" "$venv/requirements.txt"
  fi
  echo "$venv/bin/python"
}

# Runs a command as the postgres user when we are root (PostgreSQL refuses to run as root).
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Server options that load TimescaleDB when it is installed on this machine (it is in no Debian
# package: an operator builds it). Empty elsewhere, where the TimescaleDB tests print SKIP.
timescale_options() {
  local libdir; libdir="$("$PG_BIN/pg_config" --pkglibdir 2>/dev/null || echo /usr/lib/postgresql/15/lib)"
  if [ -f "$libdir/timescaledb.so" ] && [ "${TICKD_TIMESCALE:-auto}" != off ]; then
    echo "-c shared_preload_libraries=timescaledb -c timescaledb.telemetry_level=off"
  fi
}

start_postgres() {
  local data="$DEV_DIR/pg/data" sock="$DEV_DIR/pg/sock"
  mkdir -p "$DEV_DIR/pg" "$sock"
  if [ "$(id -u)" -eq 0 ]; then chown -R postgres:postgres "$DEV_DIR/pg"; chmod 755 "$DEV_DIR"; fi
  if [ ! -s "$data/PG_VERSION" ]; then
    log "initdb $data"
    local pw="$DEV_DIR/pg/pwfile"
    printf '%s\n' "$PG_PASSWORD" > "$pw"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$pw"
    as_pg "$PG_BIN/initdb" -D "$data" -U postgres --pwfile="$pw" -A scram-sha-256 \
      --auth-local=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pw"
  fi
  if as_pg "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    PG_PORT="$(sed -n 4p "$data/postmaster.pid")"
    log "postgres already running on 127.0.0.1:$PG_PORT"
  else
    PG_PORT="$(free_port "$PG_PORT")"
    log "starting postgres on 127.0.0.1:$PG_PORT"
    as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$DEV_DIR/pg/postgres.log" -w -t 60 start \
      -o "-c listen_addresses=127.0.0.1 -c port=$PG_PORT -k $sock -c max_connections=400 -c fsync=off -c full_page_writes=off $(timescale_options)" >/dev/null
  fi
  local ts=off   # what the running server has preloaded (it may have been started before)
  as_pg "$PG_BIN/psql" -h "$sock" -p "$PG_PORT" -U postgres -d postgres -qAt -c "SHOW shared_preload_libraries" \
    | grep -q timescaledb && ts=on
  as_pg "$PG_BIN/psql" -h "$sock" -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt >/dev/null <<SQL
SELECT 'CREATE ROLE tickd LOGIN PASSWORD ''$PG_PASSWORD'''
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tickd') \gexec
SELECT 'CREATE DATABASE tickd OWNER tickd'
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'tickd') \gexec
SQL
  if [ "$ts" = on ]; then
    # In public, before any test schema is on a search_path (the tests drop their schemas).
    as_pg "$PG_BIN/psql" -h "$sock" -p "$PG_PORT" -U postgres -d tickd -v ON_ERROR_STOP=1 -qAt \
      -c "CREATE EXTENSION IF NOT EXISTS timescaledb SCHEMA public" >/dev/null
    log "TimescaleDB $(as_pg "$PG_BIN/psql" -h "$sock" -p "$PG_PORT" -U postgres -d tickd -qAt \
      -c "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'") is preloaded"
  else
    log "TimescaleDB is not installed: its tests print SKIP"
  fi
  export DATABASE_URL="postgresql://tickd:$PG_PASSWORD@127.0.0.1:$PG_PORT/tickd?sslmode=disable"
  export TICKD_PG_SOCKET_DIR="$sock"
}

stop_postgres() {
  local data="$DEV_DIR/pg/data"
  [ -s "$data/PG_VERSION" ] || return 0
  as_pg "$PG_BIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 && log "postgres stopped" || true
}

start_redis() {
  mkdir -p "$DEV_DIR/redis"
  if [ -s "$DEV_DIR/redis/redis.pid" ] && kill -0 "$(cat "$DEV_DIR/redis/redis.pid")" 2>/dev/null; then
    REDIS_PORT="$(cat "$DEV_DIR/redis/port")"
    log "redis already running on 127.0.0.1:$REDIS_PORT"
  else
    # Another process can take a free port before Redis binds it: then try the next one.
    local attempt i up=no
    for attempt in 1 2 3 4 5; do
      REDIS_PORT="$(free_port "$REDIS_PORT")"
      echo "$REDIS_PORT" > "$DEV_DIR/redis/port"
      log "starting redis on 127.0.0.1:$REDIS_PORT"
      redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes \
        --dir "$DEV_DIR/redis" --pidfile "$DEV_DIR/redis/redis.pid" --logfile "$DEV_DIR/redis/redis.log" \
        --save "" --appendonly no --requirepass "$REDIS_PASSWORD"
      for i in $(seq 1 50); do
        if redis-cli -p "$REDIS_PORT" -a "$REDIS_PASSWORD" --no-auth-warning ping 2>/dev/null | grep -q PONG; then up=yes; break; fi
        sleep 0.1
      done
      [ "$up" = yes ] && break
      log "redis did not start on port $REDIS_PORT: $(tail -n 1 "$DEV_DIR/redis/redis.log" 2>/dev/null)"
      REDIS_PORT=$((REDIS_PORT + 1))
    done
    [ "$up" = yes ] || { log "redis could not be started (see $DEV_DIR/redis/redis.log)"; return 1; }
  fi
  export REDIS_URL="redis://:$REDIS_PASSWORD@127.0.0.1:$REDIS_PORT/0"
}

stop_redis() {
  local pidfile="$DEV_DIR/redis/redis.pid"
  [ -s "$pidfile" ] || return 0
  local pid; pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    redis-cli -p "$REDIS_PORT" -a "$REDIS_PASSWORD" --no-auth-warning shutdown nosave >/dev/null 2>&1 || kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    log "redis stopped"
  fi
  rm -f "$pidfile"
}

# Runs `swift test --skip-build ARGS`, its output shown as it comes. A run that prints nothing for
# TEST_STALL_SECONDS (default 600; a whole run takes about 2.5 minutes) is stuck: the threads of
# the test process are printed (gdb, when installed) and the run fails, instead of waiting for
# CI's time limit with nothing to show.
run_tests() {
  local out="$DEV_DIR/swift-test.log" limit="${TEST_STALL_SECONDS:-600}"
  # The file exists before tail opens it (else tail may give up and CI's log shows no test).
  : > "$out"
  # At most as many test cases at once as there are cores (TEST_PARALLEL): the integration
  # tests start servers and daemons of their own, and twice that many (Swift Testing's default)
  # beside a CPU hog made replays take minutes.
  SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH="${TEST_PARALLEL:-$(nproc)}" swift test --skip-build "$@" > "$out" 2>&1 &
  local pid=$! last=-1 quiet=0 size
  tail -n +1 -f "$out" --pid="$pid" &
  local shown=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 5
    size=$(stat -c %s "$out")
    if [ "$size" = "$last" ]; then quiet=$((quiet + 5)); else quiet=0; last=$size; fi
    if [ "$quiet" -ge "$limit" ]; then
      log "the tests printed nothing for $quiet s; the threads of the test process:"
      # This run's processes only: swift test and the test binary it started.
      local children; children=$(pgrep -P "$pid" || true)
      if command -v gdb >/dev/null; then
        for p in $children; do gdb -p "$p" -batch -ex "thread apply all bt 15" 2>&1 | tail -n 600; done
      fi
      for p in $children; do kill "$p" 2>/dev/null || true; done
      kill "$pid" 2>/dev/null || true
      wait "$pid" || true
      kill "$shown" 2>/dev/null || true
      log "stopped: no progress for $quiet s"
      return 1
    fi
  done
  local status=0
  wait "$pid" || status=$?
  sleep 0.5
  kill "$shown" 2>/dev/null || true
  return "$status"
}

start_services() { start_postgres; start_redis; }
stop_services() { stop_redis; stop_postgres; }
