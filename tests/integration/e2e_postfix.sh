#!/usr/bin/env bash
# End-to-end test: a real Postfix on loopback + policy-milter + a sink mailbox.
#   e2e_postfix.sh POLICY_MILTER POLICYCTL [SOURCE_DIR]
# Phases:
#   1. the dev corpus, each message with a forged X-Policy-* header, 4 SMTP clients:
#      every message delivered tagged as the engine says, or quarantined with its
#      categories; counts add up; no forged header survives.
#   2. kill -9 the milter while mail is being sent: Postfix answers 4xx (nothing accepted
#      unchecked); restart, resend what was deferred: nothing lost.
#   3. SIGHUP with a broken rule file: reload refused (file:line logged), old snapshot
#      keeps filtering; SIGHUP after the fix: new snapshot.
# Needs root and the postfix package; exits 77 (CTest: skipped) otherwise.
set -uo pipefail
MILTER=$1 POLICYCTL=$2
SRC=${3:-$(cd "$(dirname "$0")/../.." && pwd)}
[ "$(id -u)" -eq 0 ] || { echo "e2e: needs root (Postfix)"; exit 77; }
command -v postfix >/dev/null || [ -x /usr/sbin/postfix ] || { echo "e2e: postfix not installed"; exit 77; }
export PATH=$PATH:/usr/sbin
source "$SRC/scripts/lib/postfix-instance.sh"

BASE=${PM_E2E_PORT:-$(free_ports 4)} || exit 1
SMTP=$BASE SINK=$((BASE + 1)) REINJECT=$((BASE + 2)) MPORT=$((BASE + 3))
RUN=$(mktemp -d /tmp/pm-e2e.XXXXXX)
chmod 755 "$RUN"
FAILED=0
fail() { echo "FAIL: $*"; FAILED=1; }
cleanup() {
  pf_stop "$RUN/postfix"
  [ -n "${MILTER_PID:-}" ] && kill "$MILTER_PID" 2>/dev/null
  [ -n "${SINK_PID:-}" ] && kill "$SINK_PID" 2>/dev/null
  wait 2>/dev/null
  if [ "$FAILED" -ne 0 ]; then
    echo "--- milter log (tail)"; tail -20 "$RUN/milter.log"
    echo "--- maillog (tail)"; tail -20 "$RUN/postfix/maillog" 2>/dev/null
    echo "(run directory kept: $RUN)"
  else
    rm -rf "$RUN"
  fi
}
trap cleanup EXIT

# Configuration: the shipped one, with paths under $RUN and a private copy of the rules.
cp -r "$SRC/rules" "$RUN/rules"
sed -e "s|^dir = \"../rules\"|dir = \"$RUN/rules\"|" \
    -e "s|^socket = .*|socket = \"inet:$MPORT@127.0.0.1\"|" \
    -e "s|^stats_file = .*|stats_file = \"$RUN/stats.json\"|" \
    -e "s|^cache_dir = .*|cache_dir = \"$RUN/cache\"|" \
    -e "s|^dir = \"/var/lib/policy-milter/quarantine\"|dir = \"$RUN/quarantine\"|" \
    -e 's|^personal-link  = { internal = "tag"|personal-link  = { internal = "quarantine"|' \
    "$SRC/conf/policy-milter.toml" > "$RUN/policy-milter.toml"
# (personal-link is held internally too here, so the run exercises both tag and quarantine
#  paths; the expectations come from policyctl on this same configuration.)
CONF=$RUN/policy-milter.toml

start_milter() {
  "$MILTER" --config "$CONF" --foreground >> "$RUN/milter.log" 2>&1 &
  MILTER_PID=$!
  # Generous: a cold rule compile took ~90 s on a loaded 2-core machine; a daemon that
  # exits (e.g. refuses its configuration) is reported at once.
  wait_port "$MPORT" 300 "$MILTER_PID" || { fail "milter did not start: $(tail -3 "$RUN/milter.log")"; exit 1; }
}
stats() { python3 -c "import json,sys; d=json.load(open('$RUN/stats.json')); print(eval(sys.argv[1]))" "$1"; }
wait_queue_empty() {
  for _ in $(seq 300); do
    [ "$(pf_queue_count "$RUN/postfix")" -eq 0 ] && return 0
    pf_flush "$RUN/postfix"; sleep 0.2
  done
  fail "Postfix queue not empty: $(pf_queue_count "$RUN/postfix") messages"
}
accepted() { python3 -c "import json; print(sum(1 for r in json.load(open('$1'))['results'] if r['code']==250))"; }

python3 "$SRC/scripts/lib/mailsink.py" "$SINK" "$RUN/mailbox" > "$RUN/sink.log" 2>&1 &
SINK_PID=$!
start_milter
pf_setup "$RUN/postfix" "$SMTP" "inet:127.0.0.1:$MPORT" "$SINK" "$REINJECT" || { fail "postfix setup"; exit 1; }
pf_start "$RUN/postfix" || { fail "postfix start"; exit 1; }
wait_port "$SMTP" 20 || { fail "postfix not listening"; exit 1; }
wait_port "$SINK" 20 || { fail "sink not listening"; exit 1; }

# --- phase 1 ---------------------------------------------------------------------------
FILES=("$SRC"/tests/corpus/dev/*.eml)
"$POLICYCTL" --config "$CONF" scan --json "${FILES[@]}" > "$RUN/expected.jsonl" 2> "$RUN/policyctl.err"
python3 "$SRC/scripts/lib/sendmail.py" --port "$SMTP" --clients 4 --per-connection 10 --quiet \
  --add-header "X-Policy-Verdict: accept; forged-by-sender" --json "$RUN/phase1.json" "${FILES[@]}"
SENT1=$(accepted "$RUN/phase1.json")
[ "$SENT1" -eq "${#FILES[@]}" ] || fail "phase 1: Postfix accepted $SENT1 of ${#FILES[@]}"
wait_queue_empty
python3 "$SRC/tests/integration/e2e_check.py" "$RUN/expected.jsonl" "$RUN/mailbox" \
  "$RUN/quarantine" "$SENT1" --forged forged-by-sender || fail "phase 1 check"
Q1=$(python3 -c "import sqlite3; print(sqlite3.connect('$RUN/quarantine/index.sqlite').execute('select count(*) from messages').fetchone()[0])")
[ "$Q1" -gt 0 ] || fail "phase 1: nothing was quarantined (the engine found no violation in the corpus?)"

# --- phase 2: kill the milter mid-run ----------------------------------------------------
N2=600
python3 "$SRC/scripts/lib/sendmail.py" --port "$SMTP" --clients 2 --per-connection 5 --quiet \
  --count $N2 --json "$RUN/phase2.json" "${FILES[@]}" &
SENDER=$!
# Kill in the middle of the run, whatever the speed: once 100 more messages were filtered.
LOGGED=$(grep -c ' msg queue=' "$RUN/milter.log")
for _ in $(seq 600); do [ "$(grep -c ' msg queue=' "$RUN/milter.log")" -ge $((LOGGED + 100)) ] && break; sleep 0.02; done
kill -9 "$MILTER_PID"; wait "$MILTER_PID" 2>/dev/null
wait "$SENDER"
python3 - "$RUN/phase2.json" "$RUN/phase2-retry.txt" <<'PY' || fail "phase 2: a message was neither accepted nor deferred with 4xx"
import json, sys
r = json.load(open(sys.argv[1]))["results"]
bad = [x for x in r if x["code"] != 250 and not (400 <= x["code"] < 500)]
deferred = [x["file"] for x in r if 400 <= x["code"] < 500]
open(sys.argv[2], "w").write("\n".join(deferred) + ("\n" if deferred else ""))
print("phase 2: %d accepted before the kill, %d deferred (4xx), %d other" % (len(r) - len(deferred) - len(bad), len(deferred), len(bad)))
sys.exit(1 if bad or not deferred else 0)
PY
start_milter
mapfile -t RETRY < "$RUN/phase2-retry.txt"
SENT2=$(accepted "$RUN/phase2.json")
if [ "${#RETRY[@]}" -gt 0 ]; then
  python3 "$SRC/scripts/lib/sendmail.py" --port "$SMTP" --clients 2 --quiet --json "$RUN/phase2b.json" "${RETRY[@]}"
  SENT2=$((SENT2 + $(accepted "$RUN/phase2b.json")))
  [ "$(accepted "$RUN/phase2b.json")" -eq "${#RETRY[@]}" ] || fail "phase 2: retries not all accepted"
fi
wait_queue_empty
[ "$SENT2" -eq $N2 ] || fail "phase 2: $SENT2 of $N2 messages accepted after retry"
python3 "$SRC/tests/integration/e2e_check.py" "$RUN/expected.jsonl" "$RUN/mailbox" \
  "$RUN/quarantine" "$((SENT1 + SENT2))" --maillog "$RUN/postfix/maillog" || fail "phase 2: messages lost or duplicated"

# --- phase 3: SIGHUP with a broken rule ------------------------------------------------
sleep 2.5  # the stats file is refreshed every 2 s
SNAP=$(stats "d['snapshot']")
FAILS0=$(stats "d['reloads']['failed']")
RULEFILE=$(ls "$RUN"/rules/*.toml | head -1)
cp "$RULEFILE" "$RUN/rule.bak"
printf '\n[[broken\nthis is = = not toml\n' >> "$RULEFILE"
kill -HUP "$MILTER_PID"
for _ in $(seq 100); do [ "$(stats "d['reloads']['failed']")" -gt "$FAILS0" ] && break; sleep 0.2; done
[ "$(stats "d['reloads']['failed']")" -gt "$FAILS0" ] || fail "phase 3: broken rules were not refused"
kill -0 "$MILTER_PID" 2>/dev/null || fail "phase 3: milter died on SIGHUP"
[ "$(stats "d['snapshot']")" = "$SNAP" ] || fail "phase 3: snapshot changed despite broken rules"
grep -q "reload refused.*$(basename "$RULEFILE"):[0-9]" "$RUN/milter.log" || fail "phase 3: no file:line in the log"
python3 "$SRC/scripts/lib/sendmail.py" --port "$SMTP" --quiet --json "$RUN/phase3.json" "${FILES[@]:0:20}"
SENT3=$(accepted "$RUN/phase3.json")
[ "$SENT3" -eq 20 ] || fail "phase 3: only $SENT3 of 20 accepted on the old rules"
wait_queue_empty
python3 "$SRC/tests/integration/e2e_check.py" "$RUN/expected.jsonl" "$RUN/mailbox" \
  "$RUN/quarantine" "$((SENT1 + SENT2 + SENT3))" --maillog "$RUN/postfix/maillog" || fail "phase 3: old rules did not keep filtering"
cp "$RUN/rule.bak" "$RULEFILE"
echo "# changed for the reload test" >> "$RULEFILE"
OK0=$(stats "d['reloads']['ok']")
"$POLICYCTL" --config "$CONF" reload >/dev/null 2>&1 || kill -HUP "$MILTER_PID"
for _ in $(seq 100); do [ "$(stats "d['reloads']['ok']")" -gt "$OK0" ] && break; sleep 0.2; done
[ "$(stats "d['reloads']['ok']")" -gt "$OK0" ] || fail "phase 3: fixed rules were not loaded"

echo "e2e: milter stats: $(stats "d['by_action']") latency_ms $(stats "d['latency_ms']")"
[ "$FAILED" -eq 0 ] && echo "e2e: PASS"
exit "$FAILED"
