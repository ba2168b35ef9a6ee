#!/usr/bin/env bash
# Milter protocol test: policy-milter driven by miltertest (no MTA), then checks that every
# discard left exactly one row and file in the quarantine store.
#   protocol.sh POLICY_MILTER MILTERTEST SOURCE_DIR
set -uo pipefail
MILTER=$1 MILTERTEST=$2 SRC=$3
RUN=$(mktemp -d /tmp/pm-proto.XXXXXX)
source "$SRC/scripts/lib/ports.sh"
PORT=$(free_ports 1) || exit 1
sed -e "s|^dir = \"../rules\"|dir = \"$SRC/rules\"|" \
    -e "s|^socket = .*|socket = \"inet:$PORT@127.0.0.1\"|" \
    -e "s|^stats_file = .*|stats_file = \"$RUN/stats.json\"|" \
    -e "s|^cache_dir = .*|cache_dir = \"$RUN/cache\"|" \
    -e "s|^dir = \"/var/lib/policy-milter/quarantine\"|dir = \"$RUN/quarantine\"|" \
    "$SRC/conf/policy-milter.toml" > "$RUN/p.toml"
"$MILTER" --config "$RUN/p.toml" --foreground > "$RUN/milter.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait 2>/dev/null; rm -rf "$RUN"' EXIT
# Wait for the socket (a slow start - a sanitizer build, a cold rule compile on a loaded machine - takes seconds to minutes).
for _ in $(seq 3000); do
  (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null && break
  kill -0 $PID 2>/dev/null || { echo "milter exited at start"; cat "$RUN/milter.log"; exit 1; }
  sleep 0.1
done
(exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null || { echo "milter socket not open after 300 s"; tail -20 "$RUN/milter.log"; exit 1; }
SAMPLE=$(ls "$SRC"/tests/corpus/dev/*abusive*.eml "$SRC"/tests/corpus/dev/004*.eml 2>/dev/null | head -1)
PM_SOCKET="inet:$PORT@127.0.0.1" PM_SAMPLE="$SAMPLE" "$MILTERTEST" -s "$SRC/tests/integration/protocol.lua" | tee "$RUN/out"
rc=${PIPESTATUS[0]}
grep -q '^PASS' "$RUN/out" || { echo "--- milter log"; tail -20 "$RUN/milter.log"; exit 1; }
want=$(sed -n 's/^DISCARDS //p' "$RUN/out")
got=$(python3 -c "import sqlite3; print(sqlite3.connect('$RUN/quarantine/index.sqlite').execute('select count(*) from messages').fetchone()[0])")
files=$(ls "$RUN/quarantine/msg" | grep -c '\.eml$')
echo "discards $want, quarantine rows $got, files $files"
[ "$want" = "$got" ] && [ "$got" = "$files" ] || exit 1
grep -c ' msg queue=' "$RUN/milter.log" | sed 's/^/log lines: /'
exit "$rc"
