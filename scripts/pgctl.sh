#!/usr/bin/env bash
# The project-local PostgreSQL that `make run` and `make test` use when DATABASE_URL is not set: initdb into a
# git-ignored data folder, its own port and socket directory, reused on the next run.
#   scripts/pgctl.sh start   start it (initdb on first use); prints nothing else
#   scripts/pgctl.sh stop    stop it (the data stays)
#   scripts/pgctl.sh url     print the DATABASE_URL to use
#   scripts/pgctl.sh status  exit 0 when it is running
# Port: BEHAVIOR_PG_PORT (default 55432). PostgreSQL refuses to run as root, so as root it runs as `postgres`.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
PORT=${BEHAVIOR_PG_PORT:-55432}
BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
DATA=${BEHAVIOR_PG_DATA:-$top/.data/pg}

as_pg() {
  # From / : the postgres user may not be allowed into the caller's working directory.
  if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# The postgres user must be able to reach the data folder. A clone under a private home (/root) is not reachable:
# keep the data under /var/lib then, one folder per checkout.
if [ "$(id -u)" -eq 0 ] && [ -z "${BEHAVIOR_PG_DATA:-}" ] && ! runuser -u postgres -- test -x "$top"; then
  DATA=/var/lib/behaviord/pg-$(printf '%s' "$top" | md5sum | cut -c1-12)
fi
SOCK=$DATA/sock
LOG=$DATA/server.log

url() { echo "postgres://behavior@127.0.0.1:$PORT/behavior?sslmode=disable"; }

running() { [ -f "$DATA/pgdata/postmaster.pid" ] && as_pg "$BIN/pg_ctl" -D "$DATA/pgdata" status >/dev/null 2>&1; }

start() {
  mkdir -p "$DATA"
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$DATA"
  if [ ! -f "$DATA/pgdata/PG_VERSION" ]; then
    as_pg "$BIN/initdb" -D "$DATA/pgdata" -U postgres -A trust -E UTF8 --no-locale >/dev/null
    as_pg mkdir -p "$SOCK"
  fi
  if ! running; then
    # Tuned for a test and development box: durability of a local scratch database matters less than speed.
    as_pg "$BIN/pg_ctl" -D "$DATA/pgdata" -l "$LOG" -w -t 60 \
      -o "-p $PORT -k $SOCK -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=128MB" \
      start >/dev/null
  fi
  local psql=("$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -qAt -v ON_ERROR_STOP=1)
  if [ "$("${psql[@]}" -d postgres -c "select 1 from pg_roles where rolname='behavior'")" != 1 ]; then
    "${psql[@]}" -d postgres -c "create role behavior login superuser" >/dev/null
  fi
  if [ "$("${psql[@]}" -d postgres -c "select 1 from pg_database where datname='behavior'")" != 1 ]; then
    "${psql[@]}" -d postgres -c "create database behavior owner behavior" >/dev/null
  fi
}

stop() {
  if running; then as_pg "$BIN/pg_ctl" -D "$DATA/pgdata" -m fast -w stop >/dev/null; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) url ;;
  status) running ;;
  *) echo "usage: $0 start|stop|url|status" >&2; exit 2 ;;
esac
