#!/bin/sh
# `redis-server [options]` without a config file: as the official image does, turn protected
# mode off (it refuses clients from other containers when no password is set), serve from /data
# and log to stdout. Any other command runs as given.
set -eu
if [ "${1:-}" = "redis-server" ]; then
  shift
  exec redis-server --protected-mode no --dir /data --logfile "" "$@"
fi
exec "$@"
