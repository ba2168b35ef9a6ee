#!/bin/bash
# Held-mail put latency and throughput, PostgreSQL beside SQLite (issue 15):
#   bench/store/pg_run.sh [BUILD_DIR=build] [COUNT=2000]
# Starts a private PostgreSQL (scripts/lib/pg-instance.sh; data on /var/tmp, the same disk
# as the SQLite store's) and runs store_bench with 1 and 8 threads on both stores, a fresh
# database / directory each run. Needs the postgresql-15 package.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-build}
COUNT=${2:-2000}
BENCH=$BUILD/bench/store/store_bench
[ -x "$BENCH" ] || { echo "build store_bench first (cmake --build $BUILD --target store_bench)"; exit 2; }
RUN=$(mktemp -d /var/tmp/pm-pgbench.XXXXXX)
trap 'bash "$SRC/scripts/lib/pg-instance.sh" stop "$RUN" 2>/dev/null || true; rm -rf "$RUN"' EXIT
bash "$SRC/scripts/lib/pg-instance.sh" setup "$RUN"
DSN=$(bash "$SRC/scripts/lib/pg-instance.sh" dsn "$RUN")
n=0
for threads in 1 8; do
  "$BENCH" "$RUN/sqlite/q" "$threads" "$COUNT"
  n=$((n + 1))
  psql -X -q "$DSN" -c "CREATE DATABASE bench$n"
  "$BENCH" "postgresql:${DSN/dbname=quarantine/dbname=bench$n}" "$threads" "$COUNT"
done
