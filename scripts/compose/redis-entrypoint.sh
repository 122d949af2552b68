#!/bin/sh
# As the official image does: a redis-server started without a config file accepts clients of
# other containers (protected mode off).
if [ "${1:-}" = redis-server ]; then
  shift
  exec redis-server --protected-mode no "$@"
fi
exec "$@"
