# Shared by the quarantine fault tests (store_faults.sh, store_kill9.sh): a private Postfix
# on loopback (scripts/lib/postfix-instance.sh), policy-milter with its quarantine under
# $RUN, the loopback sink as everybody's mailbox, and test mail made unique per message.
# Source it after setting MILTER, POLICYCTL, SRC; it sets RUN, CONF, ports, and helpers:
#   store_setup [EXTRA_SED]   config + sink + milter + Postfix; picks the base messages
#   start_milter / stop_milter
#   make_mail N FIRST DIR     N unique messages (serials FIRST..), held and delivered mixed
#   send_until_accepted OUT FILE...  sends, then re-sends what was deferred (as clients do)
#   check_all FILE...         exactly once in the mailbox or the quarantine, nothing
#                             unfiltered (store_faults.py check)
set -uo pipefail
[ "$(id -u)" -eq 0 ] || { echo "store tests: need root (Postfix)"; exit 77; }
command -v postfix >/dev/null || [ -x /usr/sbin/postfix ] || { echo "store tests: postfix not installed"; exit 77; }
export PATH=$PATH:/usr/sbin
source "$SRC/scripts/lib/postfix-instance.sh"

# BASE..BASE+3 here, +4 for the metrics test, +4..+6 for the second relay and +7..+8 for
# the two review servers (store_pg).
BASE=$(free_ports 9) || exit 1
SMTP=$BASE SINK=$((BASE + 1)) REINJECT=$((BASE + 2)) MPORT=$((BASE + 3))
RUN=$(mktemp -d /tmp/pm-store.XXXXXX)
chmod 755 "$RUN"
CONF=$RUN/policy-milter.toml
Q=$RUN/quarantine
FAILED=0
fail() { echo "FAIL: $*"; FAILED=1; }
cleanup() {
  pf_stop "$RUN/postfix"
  [ -n "${MILTER_PID:-}" ] && kill "$MILTER_PID" 2>/dev/null
  [ -n "${SINK_PID:-}" ] && kill "$SINK_PID" 2>/dev/null
  [ -n "${LOCKER_PID:-}" ] && kill "$LOCKER_PID" 2>/dev/null
  wait 2>/dev/null
  if [ "$FAILED" -ne 0 ]; then
    echo "--- milter log (tail)"; tail -30 "$RUN/milter.log"
    echo "(run directory kept: $RUN)"
  else
    rm -rf "$RUN"
  fi
}
trap cleanup EXIT

write_config() {  # write_config PUT_TIMEOUT_MS
  sed -e "s|^dir = \"../rules\"|dir = \"$SRC/rules\"|" \
      -e "s|^socket = .*|socket = \"inet:$MPORT@127.0.0.1\"|" \
      -e "s|^stats_file = .*|stats_file = \"$RUN/stats.json\"|" \
      -e "s|^cache_dir = .*|cache_dir = \"$RUN/cache\"|" \
      -e "s|^dir = \"/var/lib/policy-milter/quarantine\"|dir = \"$Q\"|" \
      -e "s|^put_timeout_ms = .*|put_timeout_ms = $1|" \
      -e "s|^reinject = .*|reinject = \"127.0.0.1:$REINJECT\"|" \
      "$SRC/conf/policy-milter.toml" > "$CONF"
}

start_milter() {
  "$MILTER" --config "$CONF" --foreground >> "$RUN/milter.log" 2>&1 &
  MILTER_PID=$!
  # Generous for a cold rule compile on a loaded machine; an exited daemon fails at once.
  wait_port "$MPORT" 300 "$MILTER_PID" || { fail "milter did not start: $(tail -3 "$RUN/milter.log")"; exit 1; }
}
stop_milter() {
  kill "$MILTER_PID" 2>/dev/null; wait "$MILTER_PID" 2>/dev/null; MILTER_PID=
}

wait_queue_empty() {
  for _ in $(seq 300); do
    [ "$(pf_queue_count "$RUN/postfix")" -eq 0 ] && return 0
    pf_flush "$RUN/postfix"; sleep 0.2
  done
  fail "Postfix queue not empty: $(pf_queue_count "$RUN/postfix") messages"
}

store_setup() {
  write_config "${1:-20000}"
  python3 "$SRC/scripts/lib/mailsink.py" "$SINK" "$RUN/mailbox" > "$RUN/sink.log" 2>&1 &
  SINK_PID=$!
  start_milter
  pf_setup "$RUN/postfix" "$SMTP" "inet:127.0.0.1:$MPORT" "$SINK" "$REINJECT" || { fail "postfix setup"; exit 1; }
  pf_start "$RUN/postfix" || { fail "postfix start"; exit 1; }
  wait_port "$SMTP" 20 || { fail "postfix not listening"; exit 1; }
  wait_port "$SINK" 20 || { fail "sink not listening"; exit 1; }
  # Base messages: 8 the engine holds, 8 it delivers (tagged or not), from the dev corpus.
  "$POLICYCTL" --config "$CONF" scan --json "$SRC"/tests/corpus/dev/*.eml > "$RUN/dev.jsonl" 2>/dev/null
  mapfile -t HELD_BASE < <(python3 -c "
import json,sys
r=[json.loads(l) for l in open('$RUN/dev.jsonl') if l.strip()]
print('\n'.join([x['file'] for x in r if x['action']=='quarantine' and x['categories']][:8]))")
  mapfile -t PASS_BASE < <(python3 -c "
import json,sys
r=[json.loads(l) for l in open('$RUN/dev.jsonl') if l.strip()]
print('\n'.join([x['file'] for x in r if x['action']!='quarantine' and 'probable-misaddress' not in x['notes']][:8]))")
  [ "${#HELD_BASE[@]}" -eq 8 ] && [ "${#PASS_BASE[@]}" -eq 8 ] || { fail "corpus has too few held/delivered messages"; exit 1; }
  MIXED_BASE=()
  for i in $(seq 0 7); do MIXED_BASE+=("${HELD_BASE[$i]}" "${PASS_BASE[$i]}"); done
}

make_mail() {  # make_mail N FIRST DIR [held|pass|mixed]
  local kind=${4:-mixed} base
  case $kind in held) base=("${HELD_BASE[@]}") ;; pass) base=("${PASS_BASE[@]}") ;; *) base=("${MIXED_BASE[@]}") ;; esac
  python3 "$SRC/tests/integration/store_faults.py" make "$1" "$2" "$3" "${base[@]}"
  "$POLICYCTL" --config "$CONF" scan --json "$3"/*.eml >> "$RUN/expected.jsonl" 2>/dev/null
}

# Sends FILES with 4 clients to $SMTP; re-sends what was deferred, like a client's retry,
# until all are accepted (max SEND_ROUNDS, default 15, rounds 1 s apart). With SMTP_OTHER
# set, every other round goes there (an MTA trying the next MX: the other relay).
# OUT.N.json hold each round's answers.
send_until_accepted() {
  local out=$1; shift
  local files=("$@") round=0 port=$SMTP other=${SMTP_OTHER:-$SMTP} t
  while [ "${#files[@]}" -gt 0 ] && [ "$round" -lt "${SEND_ROUNDS:-15}" ]; do
    python3 "$SRC/scripts/lib/sendmail.py" --port "$port" --clients 4 --per-connection 10 --quiet \
      --json "$out.$round.json" "${files[@]}" 2>/dev/null
    mapfile -t files < <(python3 "$SRC/tests/integration/store_faults.py" deferred "$out.$round.json")
    round=$((round + 1))
    t=$port port=$other other=$t
    [ "${#files[@]}" -gt 0 ] && sleep 1
  done
  [ "${#files[@]}" -eq 0 ] || fail "$out: ${#files[@]} messages still not accepted after $round rounds"
}

check_all() {
  wait_queue_empty
  python3 "$SRC/tests/integration/store_faults.py" check "$RUN/expected.jsonl" "$RUN/mailbox" "$Q" "$@"
}

# The PostgreSQL store (issue 15; store_pg.sh, bench/store/pg_postfix.sh).
#   use_postgresql DSN   switches $CONF (as write_config wrote it) to the PostgreSQL store
#   start_relay2         a second relay on the same store and sink: its own policy-milter
#                        ($CONF2, log $RUN/milter2.log) behind its own Postfix on $SMTP2
#                        (reinject $REINJECT2); stop_relay2 ends both
use_postgresql() {
  sed -i -e 's|^backend = .*|backend = "postgresql"|' -e "s|^# dsn = .*|dsn = \"$1\"|" \
         -e "s|^users_db = .*|users_db = \"$RUN/users.sqlite\"|" "$CONF"  # (review side)
}
start_relay2() {
  SMTP2=$((BASE + 4)) REINJECT2=$((BASE + 5)) MPORT2=$((BASE + 6))
  CONF2=$RUN/relay2.toml
  sed -e "s|^socket = .*|socket = \"inet:$MPORT2@127.0.0.1\"|" \
      -e "s|^stats_file = .*|stats_file = \"$RUN/stats2.json\"|" \
      -e "s|^cache_dir = .*|cache_dir = \"$RUN/cache2\"|" \
      -e "s|^reinject = .*|reinject = \"127.0.0.1:$REINJECT2\"|" "$CONF" > "$CONF2"
  # Relay 1's compiled rules (the same rules and snapshot): no second cold compile.
  [ -d "$RUN/cache" ] && [ ! -e "$RUN/cache2" ] && cp -a "$RUN/cache" "$RUN/cache2"
  "$MILTER" --config "$CONF2" --foreground >> "$RUN/milter2.log" 2>&1 &
  MILTER2_PID=$!
  wait_port "$MPORT2" 300 "$MILTER2_PID" || { fail "relay 2: milter did not start"; return 1; }
  pf_setup "$RUN/postfix2" "$SMTP2" "inet:127.0.0.1:$MPORT2" "$SINK" "$REINJECT2" || { fail "relay 2: postfix setup"; return 1; }
  pf_start "$RUN/postfix2" || { fail "relay 2: postfix start"; return 1; }
  wait_port "$SMTP2" 20 || { fail "relay 2: postfix not listening"; return 1; }
}
stop_relay2() {
  pf_stop "$RUN/postfix2"
  [ -n "${MILTER2_PID:-}" ] && kill "$MILTER2_PID" 2>/dev/null
  MILTER2_PID=
}

held_rows() { python3 -c "import sqlite3; print(sqlite3.connect('$Q/index.sqlite').execute(\"select count(*) from messages where status='held'\").fetchone()[0])"; }
