#!/usr/bin/env bash
# The quarantine on PostgreSQL through a real Postfix (issue 15):
#   store_pg.sh POLICY_MILTER POLICYCTL [SOURCE_DIR]
# A private PostgreSQL server (scripts/lib/pg-instance.sh: initdb + pg_ctl as the postgres
# user, unix socket in the run directory), its schema made by `policyctl store migrate`,
# policy-milter with [quarantine] backend = "postgresql" behind a private Postfix:
#   1. mixed mail: held mail is in the database (bytes included), the rest delivered filtered
#   2. a held message sent again (new queue id) is not stored twice ("retried" audited)
#   3. PostgreSQL stopped in the middle of 400 messages: held mail is deferred (4xx) while it
#      is down and filtered after it restarts (clients retry, as store_lib.sh does); in the
#      end every message is exactly once in the mailbox or the store, none unfiltered
#   4. two relays on the one store: a retry through the other relay is not stored again;
#      1,000 messages over both, one relay's milter killed and restarted, then PostgreSQL
#      stopped, mid-run: nothing lost, stored twice or unfiltered
#   5. a held message released with `policyctl quarantine release` reaches the mailbox
# Needs root, postfix and the PostgreSQL server; exits 77 (CTest: skipped) otherwise.
MILTER=$1 POLICYCTL=$2
SRC=${3:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$SRC/tests/integration/store_lib.sh"
PG="$SRC/scripts/lib/pg-instance.sh"
[ -n "$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null)" ] || { echo "store_pg: PostgreSQL server not installed"; exit 77; }
command -v psql >/dev/null || { echo "store_pg: psql not installed"; exit 77; }

bash "$PG" setup "$RUN/pg" || { fail "PostgreSQL did not start"; exit 1; }
DSN=$(bash "$PG" dsn "$RUN/pg")
QPG="postgresql:$DSN"
trap 'bash "$PG" stop "$RUN/pg" 2>/dev/null; cleanup' EXIT
sql() { psql -X -At "$DSN" -c "$1"; }

# store_lib.sh's configuration, switched to the PostgreSQL store.
eval "$(declare -f write_config | sed '1s/write_config/sqlite_write_config/')"
write_config() {
  sqlite_write_config "$@"
  sed -i -e 's|^backend = .*|backend = "postgresql"|' \
         -e "s|^# dsn = .*|dsn = \"$DSN\"|" "$CONF"
  # users_db of the review side (policyctl quarantine), out of /var/lib.
  sed -i -e "s|^users_db = .*|users_db = \"$RUN/users.sqlite\"|" "$CONF"
}
write_config 20000
out=$("$POLICYCTL" --config "$CONF" store migrate) || fail "policyctl store migrate failed: $out"
echo "store_pg: $out"
[ "$(sql "SELECT max(version) FROM schema_version")" -ge 1 ] || fail "no schema version recorded"
out=$("$POLICYCTL" --config "$CONF" store migrate)
echo "$out" | grep -q "(0 migrations applied)" || fail "a second migrate applied something: $out"

store_setup 20000
grep -q "quarantine: postgresql $RUN/pg/sock/quarantine" "$RUN/milter.log" || fail "milter did not say it uses PostgreSQL"

# 1. mixed mail
make_mail 40 1 "$RUN/m1"
send_until_accepted "$RUN/send1" "$RUN"/m1/*.eml
Q=$QPG check_all "$RUN"/m1/*.eml || fail "phase 1: lost, duplicated or unfiltered mail"
HELD=$(sql "SELECT count(*) FROM messages WHERE status = 'held'")
[ "$HELD" -ge 10 ] || fail "phase 1: only $HELD held messages in PostgreSQL"
[ "$(sql "SELECT count(*) FROM message_bytes")" -eq "$HELD" ] || fail "phase 1: bytes missing for some held rows"
[ -e "$Q/index.sqlite" ] && fail "phase 1: an SQLite index was written with backend = postgresql"

# 2. the same held message again: stored once
ONE=$(python3 - "$RUN/expected.jsonl" <<'PY'
import json, sys
print(next(json.loads(l)["file"] for l in open(sys.argv[1]) if l.strip() and json.loads(l)["action"] == "quarantine"))
PY
)
python3 "$SRC/scripts/lib/sendmail.py" --port "$SMTP" --quiet --json "$RUN/again.json" "$ONE" 2>/dev/null
python3 -c "import json,sys; sys.exit(0 if json.load(open('$RUN/again.json'))['results'][0]['code']==250 else 1)" ||
  fail "phase 2: the resent message was not accepted"
[ "$(sql "SELECT count(*) FROM messages WHERE status = 'held'")" -eq "$HELD" ] || fail "phase 2: the retry was stored twice"
[ "$(sql "SELECT count(*) FROM audit WHERE action = 'retried'")" -ge 1 ] || fail "phase 2: no 'retried' audit entry"

# 3. PostgreSQL stopped mid-run
make_mail 400 1000 "$RUN/m2"
send_until_accepted "$RUN/send2" "$RUN"/m2/*.eml &
SENDER=$!
for _ in $(seq 600); do
  N=$(sql "SELECT count(*) FROM messages" 2>/dev/null || echo 0)
  [ "$N" -ge $((HELD + 40)) ] && break
  sleep 0.05
done
bash "$PG" stop "$RUN/pg" || fail "phase 3: PostgreSQL did not stop"
echo "store_pg: PostgreSQL stopped with $N rows in the store"
sleep 4
bash "$PG" start "$RUN/pg" || fail "phase 3: PostgreSQL did not restart"
wait "$SENDER"
python3 - "$RUN"/send2.*.json <<'PY' || fail "phase 3: nothing was deferred while PostgreSQL was down, or an answer was neither 250 nor 4xx"
import json, sys
rounds = [json.load(open(f))["results"] for f in sorted(sys.argv[1:], key=lambda f: int(f.split(".")[-2]))]
deferred = sum(1 for r in rounds for x in r if 400 <= x["code"] < 500)
other = sum(1 for r in rounds for x in r if x["code"] != 250 and not 400 <= x["code"] < 500)
print("store_pg: %d rounds, %d deferrals, %d answers neither 250 nor 4xx" % (len(rounds), deferred, other))
sys.exit(1 if other or deferred == 0 else 0)
PY
grep -q "STOPPED, held mail is deferred" "$RUN/milter.log" || fail "phase 3: the outage was not logged"
grep -q "PostgreSQL answers again" "$RUN/milter.log" || fail "phase 3: the recovery was not logged"
Q=$QPG check_all "$RUN"/m1/*.eml "$RUN"/m2/*.eml || fail "phase 3: lost, duplicated or unfiltered mail"

# 4. two relays (two daemons behind two Postfix instances) on the one store: the retry of
# a message held through relay 1 arriving through relay 2 is not stored again; then 1,000
# messages split over both, relay 1's milter killed (-9) and restarted, then PostgreSQL
# stopped and restarted, in the middle of it.
SMTP2=$((BASE + 4)) REINJECT2=$((BASE + 5)) MPORT2=$((BASE + 6))
CONF2=$RUN/relay2.toml
sed -e "s|^socket = .*|socket = \"inet:$MPORT2@127.0.0.1\"|" \
    -e "s|^stats_file = .*|stats_file = \"$RUN/stats2.json\"|" \
    -e "s|^cache_dir = .*|cache_dir = \"$RUN/cache2\"|" \
    -e "s|^reinject = .*|reinject = \"127.0.0.1:$REINJECT2\"|" "$CONF" > "$CONF2"
"$MILTER" --config "$CONF2" --foreground >> "$RUN/milter2.log" 2>&1 &
MILTER2_PID=$!
trap 'pf_stop "$RUN/postfix2"; kill "$MILTER2_PID" 2>/dev/null; bash "$PG" stop "$RUN/pg" 2>/dev/null; cleanup' EXIT
wait_port "$MPORT2" 60 || fail "relay 2: milter did not start"
pf_setup "$RUN/postfix2" "$SMTP2" "inet:127.0.0.1:$MPORT2" "$SINK" "$REINJECT2" || fail "relay 2: postfix setup"
pf_start "$RUN/postfix2" || fail "relay 2: postfix start"
wait_port "$SMTP2" 20 || fail "relay 2: postfix not listening"
HELD=$(sql "SELECT count(*) FROM messages WHERE status = 'held'")
RETRIED=$(sql "SELECT count(*) FROM audit WHERE action = 'retried'")
python3 "$SRC/scripts/lib/sendmail.py" --port "$SMTP2" --quiet --json "$RUN/again2.json" "$ONE" 2>/dev/null
[ "$(sql "SELECT count(*) FROM messages WHERE status = 'held'")" -eq "$HELD" ] || fail "phase 4: the retry through relay 2 was stored again"
[ "$(sql "SELECT count(*) FROM audit WHERE action = 'retried'")" -eq $((RETRIED + 1)) ] || fail "phase 4: the retry through relay 2 was not audited"

make_mail 1000 5000 "$RUN/m3"
M3=("$RUN"/m3/*.eml)
send_until_accepted "$RUN/send3a" "${M3[@]:0:500}" &
S1=$!
SMTP=$SMTP2 send_until_accepted "$RUN/send3b" "${M3[@]:500}" &
S2=$!
wait_rows() {
  for _ in $(seq 1200); do
    N=$(sql "SELECT count(*) FROM messages" 2>/dev/null || echo 0)
    [ "$N" -ge "$1" ] && return 0
    sleep 0.05
  done
}
BEFORE=$(sql "SELECT count(*) FROM messages")
wait_rows $((BEFORE + 100))
kill -9 "$MILTER_PID"; wait "$MILTER_PID" 2>/dev/null
echo "store_pg: relay 1's milter killed with $N rows in the store"
sleep 2
start_milter
wait_rows $((BEFORE + 300))
bash "$PG" stop "$RUN/pg" || fail "phase 4: PostgreSQL did not stop"
echo "store_pg: PostgreSQL stopped with $N rows in the store"
sleep 4
bash "$PG" start "$RUN/pg" || fail "phase 4: PostgreSQL did not restart"
wait "$S1"; wait "$S2"
[ "$N" -lt $((BEFORE + 500)) ] || fail "phase 4: all held mail was in before the faults: not mid-run"
wait_queue_empty
for _ in $(seq 300); do [ "$(pf_queue_count "$RUN/postfix2")" -eq 0 ] && break; pf_flush "$RUN/postfix2"; sleep 0.2; done
Q=$QPG check_all "$RUN"/m1/*.eml "$RUN"/m2/*.eml "$RUN"/m3/*.eml || fail "phase 4: lost, duplicated or unfiltered mail"
grep -q " info: msg .*quarantine_id=" "$RUN/milter2.log" || fail "phase 4: relay 2 held nothing"

# 5. release through policyctl: the copy reaches the mailbox, the row says released
ID=$(sql "SELECT id FROM messages WHERE status = 'held' ORDER BY received_at LIMIT 1")
SERIAL=$(sql "SELECT substring(convert_from(bytes, 'SQL_ASCII') from 'X-Test-Serial: ([0-9]+)') FROM message_bytes WHERE id = '$ID'")
"$POLICYCTL" --config "$CONF" quarantine release "$ID" > "$RUN/release.out" 2>&1 || { cat "$RUN/release.out"; fail "phase 5: release failed"; }
[ "$(sql "SELECT status FROM messages WHERE id = '$ID'")" = released ] || fail "phase 5: not released in the store"
[ "$(sql "SELECT count(*) FROM audit WHERE message_id = '$ID' AND action = 'released'")" -eq 1 ] || fail "phase 5: release not audited once"
for _ in $(seq 100); do grep -lq "^X-Test-Serial: $SERIAL" "$RUN"/mailbox/*.eml 2>/dev/null && break; pf_flush "$RUN/postfix"; sleep 0.2; done
grep -lq "^X-Test-Serial: $SERIAL" "$RUN"/mailbox/*.eml 2>/dev/null || fail "phase 5: released message $SERIAL not in the mailbox"

[ "$FAILED" -eq 0 ] && echo "store_pg: PASS"
exit "$FAILED"
