#!/usr/bin/env bash
# The quarantine on PostgreSQL through a real Postfix (issue 15):
#   store_pg.sh POLICY_MILTER POLICYCTL [SOURCE_DIR] [POLICY_REVIEW]
# A private PostgreSQL server (scripts/lib/pg-instance.sh: initdb + pg_ctl as the postgres
# user, unix socket in the run directory), its schema made by `policyctl store migrate`,
# policy-milter with [quarantine] backend = "postgresql" behind a private Postfix:
#   1. mixed mail: held mail is in the database (bytes included), the rest delivered filtered
#   2. a held message sent again (new queue id) is not stored twice ("retried" audited)
#   3. PostgreSQL stopped in the middle of 400 messages: held mail is deferred (4xx) while it
#      is down and filtered after it restarts (clients retry, as store_lib.sh does); in the
#      end every message is exactly once in the mailbox or the store, none unfiltered
#   4. two relays on the one store: a retry through the other relay is not stored again;
#      PM_PG_FAULT_COUNT messages (default 400; bench/store/pg_faults.sh sends 2,000) from
#      8 clients over both, deferred ones retried through the other relay, one relay's
#      milter killed (-9) and restarted, then PostgreSQL stopped, mid-run: nothing lost,
#      stored twice (by serial and by digest) or unfiltered; held-class mail deferred while
#      the database is down (the rest delivered) and held after it is back
#   5. two policy-review servers on the store, the same held message decided on both at once
#      (over HTTP): exactly one outcome, one audit entry, a release delivered once
#   6. a held message released with `policyctl quarantine release` reaches the mailbox
#   7. two schools of one trust on the one store (store_pg_schools.sh): each school's
#      reviewer sees only its school's mail over both review servers' APIs (lists, details,
#      audit, counts) and in the notices; the dpo sees both; one outcome per decision
# Needs root, postfix and the PostgreSQL server; exits 77 (CTest: skipped) otherwise.
# Phases 5 and 6 release mail, so they come after every check_all (a released message is
# in the mailbox and, with its bytes, in the store: it would count twice).
MILTER=$1 POLICYCTL=$2
SRC=${3:-$(cd "$(dirname "$0")/../.." && pwd)}
REVIEW=${4:-$(dirname "$MILTER")/../review/policy-review}
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
  use_postgresql "$DSN"
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

# policyctl status on the relay: the store's backend, reachability, schema, held mail and
# the notices not yet sent, as the database has them (a notice that can never be claimed
# keeps the outbox figure still while the daemon sends the others).
sql "INSERT INTO outbox(message_id, kind, queued_at, claimed_at) VALUES('status-test', 'status-test', 0, 9999999999)" >/dev/null
for _ in 1 2 3 4 5; do
  "$POLICYCTL" --config "$CONF" status > "$RUN/status1.txt" 2>&1; RC=$?
  WANT="quarantine: postgresql quarantine on $RUN/pg/sock, reachable, schema $(sql "SELECT max(version) FROM schema_version"), $(sql "SELECT count(*) FROM messages WHERE status = 'held'") held, $(sql "SELECT count(*) FROM outbox WHERE sent_at = 0") notice"
  grep -qF "$WANT" "$RUN/status1.txt" && break
  sleep 1
done
[ "$RC" -eq 0 ] || fail "policyctl status exits $RC on a healthy PostgreSQL store: $(cat "$RUN/status1.txt")"
grep -qF "$WANT" "$RUN/status1.txt" || fail "policyctl status: no '$WANT' in: $(cat "$RUN/status1.txt")"
sql "DELETE FROM outbox WHERE message_id = 'status-test'" >/dev/null
# ... and on a database nobody migrated: non-zero, says what to run.
sql "CREATE DATABASE unmigrated" >/dev/null
sed "s|dbname=quarantine|dbname=unmigrated|" "$CONF" > "$RUN/unmigrated.toml"
"$POLICYCTL" --config "$RUN/unmigrated.toml" status > "$RUN/status1b.txt" 2>&1 &&
  fail "policyctl status exits 0 on a database without the schema"
grep -q "no schema (run .policyctl store migrate.)" "$RUN/status1b.txt" || fail "policyctl status on an unmigrated database: $(cat "$RUN/status1b.txt")"

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
"$POLICYCTL" --config "$CONF" status > "$RUN/status3.txt" 2>&1 && fail "phase 3: policyctl status exits 0 while PostgreSQL is down"
grep -q "^quarantine: postgresql UNREACHABLE from this relay" "$RUN/status3.txt" || fail "phase 3: policyctl status: $(cat "$RUN/status3.txt")"
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
# a message held through relay 1 arriving through relay 2 is not stored again; then the
# fault run: FAULT_COUNT messages (half of them held) from 8 SMTP clients over both relays,
# relay 1's milter killed (-9) and restarted, then PostgreSQL stopped and restarted, in the
# middle of it. A deferred message is retried through the other relay (as an MTA tries its
# next MX).
stop_reviews() { for p in ${REVIEW_PIDS:-}; do kill "$p" 2>/dev/null; done; }
trap 'stop_reviews; stop_relay2; bash "$PG" stop "$RUN/pg" 2>/dev/null; cleanup' EXIT
start_relay2 || exit 1
HELD=$(sql "SELECT count(*) FROM messages WHERE status = 'held'")
RETRIED=$(sql "SELECT count(*) FROM audit WHERE action = 'retried'")
python3 "$SRC/scripts/lib/sendmail.py" --port "$SMTP2" --quiet --json "$RUN/again2.json" "$ONE" 2>/dev/null
[ "$(sql "SELECT count(*) FROM messages WHERE status = 'held'")" -eq "$HELD" ] || fail "phase 4: the retry through relay 2 was stored again"
[ "$(sql "SELECT count(*) FROM audit WHERE action = 'retried'")" -eq $((RETRIED + 1)) ] || fail "phase 4: the retry through relay 2 was not audited"

# PM_PG_FAULT_COUNT: the Done-when's 2,000 (bench/store/pg_faults.sh); CTest runs 400.
FAULT_COUNT=${PM_PG_FAULT_COUNT:-400}
HALF=$((FAULT_COUNT / 2))
make_mail "$FAULT_COUNT" 5000 "$RUN/m3"
M3=("$RUN"/m3/*.eml)
EXPECT_HELD=$(python3 - "$RUN/expected.jsonl" "$RUN/m3" <<'PY'
import json, sys
print(sum(1 for l in open(sys.argv[1]) if l.strip() and json.loads(l)["file"].startswith(sys.argv[2] + "/")
          and json.loads(l)["action"] == "quarantine"))
PY
)
[ "$EXPECT_HELD" -ge $((FAULT_COUNT / 3)) ] || fail "phase 4: only $EXPECT_HELD of $FAULT_COUNT messages are held-class"
wait_rows() {
  for _ in $(seq 2400); do
    N=$(sql "SELECT count(*) FROM messages" 2>/dev/null || echo 0)
    [ "$N" -ge "$1" ] && return 0
    sleep 0.05
  done
}
BEFORE=$(sql "SELECT count(*) FROM messages")
T0=$(date +%s)
# Deferred mail is retried through the other relay; 30 rounds: relay 1 is down for a while.
SMTP_OTHER=$SMTP2 SEND_ROUNDS=30 send_until_accepted "$RUN/send3a" "${M3[@]:0:$HALF}" &
S1=$!
SMTP=$SMTP2 SMTP_OTHER=$SMTP SEND_ROUNDS=30 send_until_accepted "$RUN/send3b" "${M3[@]:$HALF}" &
S2=$!
# The faults by progress (held rows), not by the clock: relay 1 killed at a tenth, down
# for a second (its Postfix answers 4xx meanwhile), PostgreSQL stopped at four tenths (or
# at once if relay 1's restart took longer than the run to get there).
wait_rows $((BEFORE + EXPECT_HELD / 10))
kill -9 "$MILTER_PID"; wait "$MILTER_PID" 2>/dev/null
echo "store_pg: relay 1's milter killed (-9) with $((N - BEFORE)) of $EXPECT_HELD held in the store"
sleep 1
start_milter
wait_rows $((BEFORE + EXPECT_HELD * 4 / 10))
bash "$PG" stop "$RUN/pg" || fail "phase 4: PostgreSQL did not stop"
T_DOWN=$(date +%s.%N)
STOPPED_AT=$((N - BEFORE))
echo "store_pg: PostgreSQL stopped with $STOPPED_AT of $EXPECT_HELD held in the store"
sleep 5
T_UP=$(date +%s.%N)
bash "$PG" start "$RUN/pg" || fail "phase 4: PostgreSQL did not restart"
wait "$S1"; wait "$S2"
echo "store_pg: fault run of $FAULT_COUNT messages sent in $(($(date +%s) - T0)) s"
[ "$STOPPED_AT" -lt "$EXPECT_HELD" ] || fail "phase 4: all held mail was in before PostgreSQL stopped: not mid-run"
wait_queue_empty
for _ in $(seq 300); do [ "$(pf_queue_count "$RUN/postfix2")" -eq 0 ] && break; pf_flush "$RUN/postfix2"; sleep 0.2; done
# Nothing lost, nothing unfiltered, nothing twice (by serial: mailbox + store) ...
Q=$QPG check_all "$RUN"/m1/*.eml "$RUN"/m2/*.eml "$RUN"/m3/*.eml || fail "phase 4: lost, duplicated or unfiltered mail"
# ... and no digest twice in the store.
[ "$(sql "SELECT count(*) - count(DISTINCT digest) FROM messages WHERE digest IS NOT NULL")" -eq 0 ] ||
  fail "phase 4: a digest is stored twice"
grep -q " info: msg .*quarantine_id=" "$RUN/milter2.log" || fail "phase 4: relay 2 held nothing"
grep -q "STOPPED, held mail is deferred" "$RUN/milter2.log" || fail "phase 4: relay 2 did not log the outage"
# While PostgreSQL was down: held-class mail deferred (and, retried, held after it came
# back), the rest delivered meanwhile.
python3 - "$RUN/expected.jsonl" "$T_DOWN" "$T_UP" "$RUN"/send3[ab].*.json <<'PY' > "$RUN/outage.txt" ||
import json, re, subprocess, sys
expected, down, up, files = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4:]
action = {json.loads(l)["file"]: json.loads(l)["action"] for l in open(expected) if l.strip()}
deferred, flowing = set(), 0
for f in files:
    for r in json.load(open(f))["results"]:
        if not down + 0.2 <= r["at"] <= up:
            continue
        held = action.get(r["file"]) == "quarantine"
        if held and 400 <= r["code"] < 500:
            deferred.add(r["file"])
        elif not held and r["code"] == 250:
            flowing += 1
print("store_pg: while PostgreSQL was down: %d held-class messages deferred, %d others delivered"
      % (len(deferred), flowing))
for f in sorted(deferred):
    print("deferred", re.search(rb"^X-Test-Serial: (\d+)", open(f, "rb").read(), re.M).group(1).decode())
sys.exit(0 if deferred and flowing else 1)
PY
  fail "phase 4: while PostgreSQL was down nothing held-class was deferred, or nothing else delivered: $(head -1 "$RUN/outage.txt")"
head -1 "$RUN/outage.txt"
# Every message deferred during the outage is held now: filtered after, not let through.
sql "SELECT substring(convert_from(b.bytes, 'SQL_ASCII') from 'X-Test-Serial: ([0-9]+)') FROM messages m
     JOIN message_bytes b USING (id) WHERE m.status = 'held'" | sort -u > "$RUN/held_serials"
MISSING=$(sed -n 's/^deferred //p' "$RUN/outage.txt" | sort -u | comm -23 - "$RUN/held_serials" | wc -l)
[ "$MISSING" -eq 0 ] || fail "phase 4: $MISSING messages deferred during the outage are not held after it"
echo "store_pg: $(sql "SELECT count(*) FROM audit WHERE action = 'retried'") retries found their held copy (audited 'retried')"

# 5. two policy-review servers on the one store, each releasing through its own relay: the
# same held message decided on both at once (release + release, release + refuse) has
# exactly one outcome - one 200, one 409, one decision in the audit, a release delivered once.
RPORT1=$((BASE + 7)) RPORT2=$((BASE + 8))
PASSWORD="pg-$(head -c 9 /dev/urandom | base64 | tr -d '/+=')"
printf '%s\n' "$PASSWORD" | "$POLICYCTL" --config "$CONF" users add it.admin --role admin \
  --email it.admin@stannes.example --password-stdin >/dev/null || fail "phase 5: users add"
# start_reviews TAG CONF1 CONF2: a policy-review server on each relay's configuration,
# on $RPORT1 / $RPORT2, releasing through that relay ($RUN/reviewTAG-N.toml and .log).
start_reviews() {
  local tag=$1 i port reinject conf
  REVIEW_PIDS=
  for i in 1 2; do
    port=RPORT$i; reinject=$REINJECT conf=$2; [ "$i" -eq 2 ] && reinject=$REINJECT2 conf=$3
    sed -e "s|^listen = \"127.0.0.1:8025\"|listen = \"127.0.0.1:${!port}\"|" \
        -e "/^\[review\]/,/^\[/s|^reinject = .*|reinject = \"127.0.0.1:$reinject\"|" "$conf" > "$RUN/review$tag-$i.toml"
    "$REVIEW" --config "$RUN/review$tag-$i.toml" >> "$RUN/review$tag-$i.log" 2>&1 &
    REVIEW_PIDS="$REVIEW_PIDS $!"
  done
  wait_port "$RPORT1" 60 && wait_port "$RPORT2" 60 || fail "policy-review ($tag) did not start: $(tail -3 "$RUN"/review"$tag"-*.log)"
}
start_reviews 5 "$CONF" "$CONF"
python3 - "$RPORT1" "$RPORT2" "$PASSWORD" > "$RUN/race.json" <<'PY' || fail "phase 5: the concurrent decisions failed: $(tail -5 "$RUN/race.json")"
import http.cookiejar, json, sys, threading, urllib.error, urllib.request
p1, p2, password = sys.argv[1], sys.argv[2], sys.argv[3]
def client(port):
    jar = http.cookiejar.CookieJar()
    op = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    def post(path, body, csrf=None):
        h = {"Content-Type": "application/json"}
        if csrf:
            h["X-CSRF-Token"] = csrf
        req = urllib.request.Request("http://127.0.0.1:%s%s" % (port, path), json.dumps(body).encode(), h)
        try:
            with op.open(req, timeout=60) as r:
                return r.status, json.load(r)
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")
    code, s = post("/api/login", {"login": "it.admin", "password": password})
    assert code == 200, (port, code, s)
    def get(path):
        with op.open("http://127.0.0.1:%s%s" % (port, path), timeout=60) as r:
            return json.load(r)
    return (lambda path, body: post(path, body, s["csrf"])), get
(a, get_a), (b, _) = client(p1), client(p2)
# The held messages this account reviews (the stored routes decide; e.g. a complaint about
# the head goes to the chair only), newest first.
ids = [m["id"] for m in get_a("/api/messages?status=held")][:24]
out = []
for n, mid in enumerate(ids):
    second = "release" if n % 2 == 0 else "refuse"
    got = {}
    go = threading.Barrier(2)
    def run(name, post, act):
        go.wait()
        got[name] = (act, post("/api/messages/%s/%s" % (mid, act), {"note": "race test"})[0])
    t = [threading.Thread(target=run, args=("a", a, "release")),
         threading.Thread(target=run, args=("b", b, second))]
    for x in t: x.start()
    for x in t: x.join()
    out.append({"id": mid, "a": got["a"], "b": got["b"]})
print(json.dumps(out))
PY
python3 - "$RUN/race.json" "$DSN" "$RUN/mailbox" <<'PY' || fail "phase 5: two review servers deciding one message did not yield exactly one outcome"
import json, os, re, subprocess, sys, time
race, dsn, box = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
def sql(q):
    return subprocess.run(["psql", "-X", "-At", dsn, "-c", q], check=True, capture_output=True, text=True).stdout.strip()
errors, wins = [], {"release": 0, "refuse": 0}
released = {}
for r in race:
    codes = sorted([r["a"][1], r["b"][1]])
    if codes != [200, 409]:
        errors.append("%s: answers %s" % (r["id"], [r["a"], r["b"]]))
        continue
    act = r["a"][0] if r["a"][1] == 200 else r["b"][0]
    wins[act] += 1
    status = sql("SELECT status FROM messages WHERE id = '%s'" % r["id"])
    want = "released" if act == "release" else "refused"
    if status != want:
        errors.append("%s: %s won, the store says %s" % (r["id"], act, status))
    n = sql("SELECT count(*) FROM audit WHERE message_id = '%s' AND action IN"
            " ('released', 'released-partial', 'refused', 'release-failed')" % r["id"])
    if n != "1":
        errors.append("%s: %s decision entries in the audit" % (r["id"], n))
    if act == "release":
        serial = sql("SELECT substring(convert_from(bytes, 'SQL_ASCII') from 'X-Test-Serial: ([0-9]+)')"
                     " FROM message_bytes WHERE id = '%s'" % r["id"])
        released[serial] = r["id"]
# Each released message reaches the sink exactly once (through either relay's reinject).
deadline = time.time() + 60
while True:
    seen = {}
    for name in os.listdir(box):
        if name.endswith(".eml"):
            m = re.search(rb"^X-Test-Serial: (\d+)", open(os.path.join(box, name), "rb").read(), re.M)
            if m and m.group(1).decode() in released:
                seen[m.group(1).decode()] = seen.get(m.group(1).decode(), 0) + 1
    if len(seen) == len(released) or time.time() > deadline:
        break
    time.sleep(0.5)
for s, qid in released.items():
    if seen.get(s, 0) != 1:
        errors.append("%s (serial %s): released, delivered %d times" % (qid, s, seen.get(s, 0)))
print("store_pg: %d messages decided on two review servers at once: %d released, %d refused, %d problems"
      % (len(race), wins["release"], wins["refuse"], len(errors)))
for e in errors[:20]:
    print("FAIL:", e)
sys.exit(1 if errors or len(race) < 10 else 0)
PY
stop_reviews

# 6. release through policyctl: the copy reaches the mailbox, the row says released
ID=$(sql "SELECT id FROM messages WHERE status = 'held' ORDER BY received_at LIMIT 1")
SERIAL=$(sql "SELECT substring(convert_from(bytes, 'SQL_ASCII') from 'X-Test-Serial: ([0-9]+)') FROM message_bytes WHERE id = '$ID'")
"$POLICYCTL" --config "$CONF" quarantine release "$ID" > "$RUN/release.out" 2>&1 || { cat "$RUN/release.out"; fail "phase 6: release failed"; }
[ "$(sql "SELECT status FROM messages WHERE id = '$ID'")" = released ] || fail "phase 6: not released in the store"
[ "$(sql "SELECT count(*) FROM audit WHERE message_id = '$ID' AND action = 'released'")" -eq 1 ] || fail "phase 6: release not audited once"
for _ in $(seq 100); do grep -lq "^X-Test-Serial: $SERIAL" "$RUN"/mailbox/*.eml 2>/dev/null && break; pf_flush "$RUN/postfix"; sleep 0.2; done
grep -lq "^X-Test-Serial: $SERIAL" "$RUN"/mailbox/*.eml 2>/dev/null || fail "phase 6: released message $SERIAL not in the mailbox"

source "$SRC/tests/integration/store_pg_schools.sh"

[ "$FAILED" -eq 0 ] && echo "store_pg: PASS"
exit "$FAILED"
