#!/usr/bin/env bash
# The quarantine index under faults, through a real Postfix (issue 11, items 3 and 4):
#   store_faults.sh POLICY_MILTER POLICYCTL [SOURCE_DIR]
#   1. baseline: mixed mail, each message exactly once in the mailbox or the quarantine
#   2. index.sqlite deleted while mail is being held: nothing accepted is lost
#   3. index.sqlite replaced (an older copy moved over it) while mail is held: the same
#   4. start-up: an index restored from an old copy gets the newer held mail re-indexed
#      from the message files; a message file nobody can re-index is reported (log and
#      `policyctl status` non-zero)
#   5. a corrupt index: held mail is deferred (4xx) while other mail flows; the log says
#      "STOPPED", `policyctl status` is non-zero, the admin gets a notice; moving the file
#      away repairs it: the index is rebuilt from the message files, nothing lost
#   6. the index locked by another process longer than the put timeout: every held
#      message deferred quickly (not after Postfix's timeout), then stored once
#   7. the same with Postfix giving up first (content timeout under the put timeout): the
#      milter stores late, the clients' retries find that copy - no duplicate
# Needs root and the postfix package; exits 77 (CTest: skipped) otherwise.
MILTER=$1 POLICYCTL=$2
SRC=${3:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$SRC/tests/integration/store_lib.sh"
PY=$SRC/tests/integration/store_faults.py
store_setup 2000
ALL=()

# --- 1 ----------------------------------------------------------------------------------
make_mail 32 100 "$RUN/m1"
ALL+=("$RUN"/m1/*.eml)
send_until_accepted "$RUN/p1" "$RUN"/m1/*.eml
check_all "${ALL[@]}" || fail "1: baseline"
python3 -c "import sqlite3; s=sqlite3.connect('$Q/index.sqlite'); d=sqlite3.connect('$RUN/old-index.sqlite'); s.backup(d); d.close()"
H1=$(held_rows)
[ "$H1" -gt 0 ] || fail "1: nothing held"

# --- 2: delete --------------------------------------------------------------------------
make_mail 160 1000 "$RUN/m2"
ALL+=("$RUN"/m2/*.eml)
send_until_accepted "$RUN/p2" "$RUN"/m2/*.eml &
SENDER=$!
sleep 1.5
rm -f "$Q/index.sqlite"
wait "$SENDER"
# More mail after the fault, so puts certainly meet the deleted index however fast the
# first batch went through (the fault may have come after its last message).
make_mail 40 1500 "$RUN/m2b"
ALL+=("$RUN"/m2b/*.eml)
send_until_accepted "$RUN/p2b" "$RUN"/m2b/*.eml
check_all "${ALL[@]}" || fail "2: index deleted under the running milter lost or duplicated mail"
grep -q "index deleted while running" "$RUN/milter.log" || fail "2: the deletion was not noticed"

# --- 3: replace -------------------------------------------------------------------------
make_mail 160 2000 "$RUN/m3"
ALL+=("$RUN"/m3/*.eml)
send_until_accepted "$RUN/p3" "$RUN"/m3/*.eml &
SENDER=$!
sleep 1.5
cp "$RUN/old-index.sqlite" "$Q/incoming.sqlite" && mv "$Q/incoming.sqlite" "$Q/index.sqlite"
wait "$SENDER"
make_mail 40 2500 "$RUN/m3b"  # as in 2: puts certainly after the replacement
ALL+=("$RUN"/m3b/*.eml)
send_until_accepted "$RUN/p3b" "$RUN"/m3b/*.eml
check_all "${ALL[@]}" || fail "3: index replaced under the running milter lost or duplicated mail"
grep -q "index replaced while running" "$RUN/milter.log" || fail "3: the replacement was not noticed"
ls "$Q"/index.sqlite.displaced-* >/dev/null 2>&1 || fail "3: the replaced index was not kept"

# --- 4: start-up reconciliation ------------------------------------------------------------
stop_milter
# A stopped daemon is still one JSON object, "down", exit 1.
"$POLICYCTL" --config "$CONF" status --json > "$RUN/status4a.json" 2>/dev/null && fail "4: policyctl status --json exits 0 with the daemon stopped"
python3 -c "import json,sys; o=json.load(open(sys.argv[1])); assert o['state'] == 'down' and 'store' in o, o" "$RUN/status4a.json" ||
  fail "4: policyctl status --json with the daemon stopped: $(cat "$RUN/status4a.json")"
cp "$RUN/old-index.sqlite" "$Q/index.sqlite"
rm -f "$Q/index.sqlite-wal" "$Q/index.sqlite-shm"
ORPHAN=20250101T000000Z-00000000000000ab
cp "$(ls "$Q"/msg/*.eml | head -1)" "$Q/msg/$ORPHAN.eml"   # no .env: cannot be re-indexed
start_milter
grep -Eq "[0-9]+ message files were not in the index and were re-indexed" "$RUN/milter.log" ||
  fail "4: start-up did not re-index the held mail missing from the old index"
grep -q "in no index.*$ORPHAN" "$RUN/milter.log" || fail "4: the orphan was not reported in the log"
"$POLICYCTL" --config "$CONF" status > "$RUN/status4.txt" 2>&1
RC=$?
[ "$RC" -ne 0 ] || fail "4: policyctl status exits 0 with an orphan"
grep -q "$ORPHAN" "$RUN/status4.txt" || fail "4: policyctl status does not name the orphan"
# --json: one object, the store's health in it (a monitoring script reads "store.ok").
"$POLICYCTL" --config "$CONF" status --json > "$RUN/status4.json" 2>/dev/null
RC=$?
[ "$RC" -ne 0 ] || fail "4: policyctl status --json exits 0 with an orphan"
python3 - "$RUN/status4.json" "$ORPHAN" <<'PY' || fail "4: policyctl status --json: no store problem in: $(cat "$RUN/status4.json")"
import json, sys
o = json.load(open(sys.argv[1]))
assert o["state"] == "up", o.get("state")
s = o["store"]
assert s["backend"] == "sqlite" and s["ok"] is False, s
assert any(sys.argv[2] in line for line in s["lines"]), s["lines"]
PY
rm -f "$Q/msg/$ORPHAN.eml"
check_all "${ALL[@]}" || fail "4: held mail lost after restoring an old index"
stop_milter; start_milter
sleep 2.5  # the stats file is refreshed every 2 s
"$POLICYCTL" --config "$CONF" status > "$RUN/status4b.txt" 2>&1 || { cat "$RUN/status4b.txt"; fail "4: policyctl status not 0 on a healthy store"; }
# The store's figures (issue 15: both backends): backend, schema, held mail, outbox.
WANT="quarantine: sqlite $Q, reachable, schema $(python3 -c "import sqlite3; print(sqlite3.connect('$Q/index.sqlite').execute('pragma user_version').fetchone()[0])"), $(held_rows) held, "
grep -qF "$WANT" "$RUN/status4b.txt" || fail "4: policyctl status: no '$WANT' in: $(cat "$RUN/status4b.txt")"
"$POLICYCTL" --config "$CONF" status --json > "$RUN/status4b.json" 2>/dev/null || fail "4: policyctl status --json not 0 on a healthy store"
python3 - "$RUN/status4b.json" "$(held_rows)" <<'PY' || fail "4: policyctl status --json: store figures wrong in: $(cat "$RUN/status4b.json")"
import json, sys
s = json.load(open(sys.argv[1]))["store"]
assert s["ok"] is True and s["held"] == int(sys.argv[2]) and s["schema"] > 0, s
PY

# --- 5: corrupt ----------------------------------------------------------------------------
dd if=/dev/urandom of="$Q/index.sqlite" bs=4096 count=2 conv=notrunc status=none
make_mail 16 4000 "$RUN/m5h" held
make_mail 16 4100 "$RUN/m5p" pass
python3 "$SRC/scripts/lib/sendmail.py" --port "$SMTP" --clients 4 --quiet --json "$RUN/p5h.json" "$RUN"/m5h/*.eml 2>/dev/null
python3 "$SRC/scripts/lib/sendmail.py" --port "$SMTP" --clients 4 --quiet --json "$RUN/p5p.json" "$RUN"/m5p/*.eml 2>/dev/null
python3 - "$RUN/p5h.json" "$RUN/p5p.json" <<'PY' || fail "5: a corrupt index did not defer held mail, or stopped other mail"
import json, sys
h = json.load(open(sys.argv[1]))["results"]; p = json.load(open(sys.argv[2]))["results"]
bad_h = [x for x in h if not 400 <= x["code"] < 500]
bad_p = [x for x in p if x["code"] != 250]
print("5: held mail %d/%d deferred, other mail %d/%d accepted" % (len(h) - len(bad_h), len(h), len(p) - len(bad_p), len(p)))
sys.exit(1 if bad_h or bad_p else 0)
PY
ALL+=("$RUN"/m5p/*.eml)
grep -q "critical: quarantine: STOPPED" "$RUN/milter.log" || fail "5: no critical STOPPED line in the log"
sleep 1
"$POLICYCTL" --config "$CONF" status > "$RUN/status5.txt" 2>&1 && fail "5: policyctl status exits 0 with a corrupt index"
grep -q "STOPPED" "$RUN/status5.txt" || { cat "$RUN/status5.txt"; fail "5: policyctl status does not say quarantining stopped"; }
for _ in $(seq 50); do grep -lq "quarantine stopped" "$RUN"/mailbox/*.eml 2>/dev/null && break; sleep 0.2; done
ALERT=$(grep -l "quarantine stopped" "$RUN"/mailbox/*.eml 2>/dev/null | head -1)
[ -n "$ALERT" ] || fail "5: no notice to the admin"
[ -n "$ALERT" ] && { grep -q "^To: it.admin@stannes.example" "$ALERT" || fail "5: the notice is not to [quarantine].alert_to"; }
# Repair: the admin moves the corrupt file away; held mail is retried by the clients.
mkdir -p "$RUN/corrupt" && mv "$Q"/index.sqlite* "$RUN/corrupt/"
ALL+=("$RUN"/m5h/*.eml)
send_until_accepted "$RUN/p5r" "$RUN"/m5h/*.eml
check_all "${ALL[@]}" || fail "5: mail lost after repairing a corrupt index"
grep -q "corrupt index moved away: new index built from the message files" "$RUN/milter.log" || fail "5: no rebuild logged"

# --- 6: locked, the milter gives up first ---------------------------------------------------
lock_index() {  # lock_index SECONDS: a write lock from another process
  python3 -c "
import sqlite3, time, sys
c = sqlite3.connect('$Q/index.sqlite', isolation_level=None, timeout=30)
c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep($1); c.execute('ROLLBACK')" > "$RUN/locker.out" &
  LOCKER_PID=$!
  for _ in $(seq 50); do grep -q locked "$RUN/locker.out" && return 0; sleep 0.1; done
  fail "could not lock the index"
}
make_mail 16 5000 "$RUN/m6" held
lock_index 8
python3 "$SRC/scripts/lib/sendmail.py" --port "$SMTP" --clients 8 --per-connection 2 --quiet --json "$RUN/p6.json" "$RUN"/m6/*.eml 2>/dev/null
python3 - "$RUN/p6.json" <<'PY' || fail "6: a locked index did not defer every held message within the put timeout"
import json, sys
r = json.load(open(sys.argv[1]))["results"]
deferred = [x for x in r if 400 <= x["code"] < 500]
slow = max(x["ms"] for x in r)
print("6: %d/%d deferred while locked, slowest answer %.0f ms (put timeout 2000 ms, 8 at once)" % (len(deferred), len(r), slow))
sys.exit(0 if len(deferred) == len(r) and slow < 10000 else 1)
PY
wait "$LOCKER_PID"; LOCKER_PID=
ALL+=("$RUN"/m6/*.eml)
send_until_accepted "$RUN/p6r" "$RUN"/m6/*.eml
check_all "${ALL[@]}" || fail "6: held mail lost or stored twice after the lock"

# --- 7: locked, Postfix gives up first --------------------------------------------------------
REIDX=$(grep -c "were re-indexed" "$RUN/milter.log")
stop_milter
write_config 30000
start_milter
[ "$(grep -c "were re-indexed" "$RUN/milter.log")" -eq "$REIDX" ] ||
  fail "7: a clean restart had to re-index: rows committed since the repair were not in the index file"
postconf -c "$RUN/postfix/etc" -e "milter_content_timeout = 4s"
postfix -c "$RUN/postfix/etc" reload >/dev/null 2>&1
sleep 1
make_mail 16 6000 "$RUN/m7" held
lock_index 9
python3 "$SRC/scripts/lib/sendmail.py" --port "$SMTP" --clients 8 --per-connection 2 --quiet --json "$RUN/p7.json" "$RUN"/m7/*.eml 2>/dev/null
python3 -c "
import json; r=json.load(open('$RUN/p7.json'))['results']
print('7: %d/%d deferred by Postfix while locked' % (sum(1 for x in r if 400 <= x['code'] < 500), len(r)))"
wait "$LOCKER_PID"; LOCKER_PID=
sleep 3  # the milter commits what it was still holding
LATE=$(python3 -c "
import sqlite3; print(sqlite3.connect('$Q/index.sqlite').execute(\"select count(*) from messages m where status='held' and exists (select 1 from audit a where a.message_id=m.id and a.action='quarantined' and a.at >= strftime('%s','now') - 6)\").fetchone()[0])")
echo "7: $LATE held messages stored after Postfix had given up"
postconf -c "$RUN/postfix/etc" -e "milter_content_timeout = 120s"
postfix -c "$RUN/postfix/etc" reload >/dev/null 2>&1
sleep 1
ALL+=("$RUN"/m7/*.eml)
send_until_accepted "$RUN/p7r" "$RUN"/m7/*.eml
check_all "${ALL[@]}" || fail "7: the retries of messages stored late were stored twice"

[ "$FAILED" -eq 0 ] && echo "store_faults: PASS"
exit "$FAILED"
