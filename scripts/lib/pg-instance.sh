#!/bin/bash
# A private PostgreSQL server for tests and benchmarks (issue 15): initdb + pg_ctl in a
# directory of its own, listening only on a unix socket there (no TCP port, nothing shared
# with other tests), trust authentication for the local socket. initdb and postgres refuse
# to run as root: as root, the server runs as the `postgres` user (Debian's package).
#
#   pg-instance.sh setup DIR [PORT]   initdb into DIR/data; the socket is DIR/sock/.s.PGSQL.PORT
#   pg-instance.sh start DIR          start (waits until it accepts connections); log DIR/log/
#   pg-instance.sh stop DIR           fast shutdown (waits)
#   pg-instance.sh dsn DIR            the libpq connection string for it (database "quarantine")
# Exit status 77 when PostgreSQL's server binaries are not installed.
set -euo pipefail
cmd=${1:?usage: pg-instance.sh setup|start|stop|dsn DIR [PORT]}
dir=${2:?usage: pg-instance.sh setup|start|stop|dsn DIR [PORT]}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] && [ -x "$bin/initdb" ] || { echo "pg-instance: PostgreSQL server not installed" >&2; exit 77; }

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case $cmd in
  setup)
    port=${3:-$((30000 + RANDOM % 20000))}
    mkdir -p "$dir/data" "$dir/sock" "$dir/log"
    chmod 755 "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir/data" "$dir/sock" "$dir/log"
    as_owner "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
    cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$dir/sock'
port = $port
fsync = on
synchronous_commit = on
max_connections = 50
shared_buffers = 32MB
CONF
    echo "$port" >"$dir/port"
    "$0" start "$dir"
    as_owner "$bin/createdb" -h "$dir/sock" -p "$port" -U postgres quarantine
    ;;
  start)
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/log/server.log" -w -t 60 start >/dev/null
    ;;
  stop)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
    ;;
  dsn)
    echo "host=$dir/sock port=$(cat "$dir/port") dbname=quarantine user=postgres"
    ;;
  *)
    echo "pg-instance: unknown command $cmd" >&2; exit 2 ;;
esac
