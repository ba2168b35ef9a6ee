#!/usr/bin/env bash
# kill -9 of policy-milter in the middle of 2,000 messages through a real Postfix (issue 12,
# "Durability at the right cost"; issue 11's guarantee kept):
#   store_kill9.sh POLICY_MILTER POLICYCTL [SOURCE_DIR]
# 2,000 unique messages (half of them held by the policy) from 8 SMTP clients; the milter
# is killed with SIGKILL twice while they flow and restarted each time; what Postfix
# deferred meanwhile is sent again, as a client would. Then every message must be exactly
# once in the mailbox or the quarantine (nothing lost, nothing stored twice), every
# delivered one filtered (one X-Policy-Verdict, not a message the policy holds), and the
# restarts must not have needed to re-index anything: every held message answered before
# the kill was in the index file, not only in its sidecar.
# Needs root and the postfix package; exits 77 (CTest: skipped) otherwise.
MILTER=$1 POLICYCTL=$2
SRC=${3:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$SRC/tests/integration/store_lib.sh"
store_setup 20000

make_mail 2000 1 "$RUN/m"
# The clients: everything once, then what was deferred again every second (store_lib.sh).
send_until_accepted "$RUN/send" "$RUN"/m/*.eml &
SENDER=$!
# Kill when a share of the held mail is in (not after a fixed time: how fast mail flows
# depends on the machine), so each kill lands in the middle of the run.
for at in 250 600; do
  for _ in $(seq 600); do
    HELD=$(held_rows 2>/dev/null || echo 0)
    [ "$HELD" -ge "$at" ] && break
    sleep 0.05
  done
  [ "$HELD" -lt 1000 ] || fail "all held mail was through before the kill: not mid-run"
  kill -9 "$MILTER_PID"; wait "$MILTER_PID" 2>/dev/null
  echo "kill9: SIGKILL with $HELD of 1000 held messages in the index"
  start_milter
done
wait "$SENDER"
python3 - "$RUN"/send.*.json <<'PY' || fail "a message was neither accepted nor deferred (4xx)"
import json, sys
rounds = [json.load(open(f))["results"] for f in sorted(sys.argv[1:], key=lambda f: int(f.split(".")[-2]))]
other = sum(1 for r in rounds for x in r if x["code"] != 250 and not 400 <= x["code"] < 500)
print("kill9: %d rounds; first pass %d accepted, %d deferred; %d answers neither 250 nor 4xx"
      % (len(rounds), sum(1 for x in rounds[0] if x["code"] == 250),
         sum(1 for x in rounds[0] if 400 <= x["code"] < 500), other))
sys.exit(1 if other or len(rounds) < 2 else 0)
PY
check_all "$RUN"/m/*.eml || fail "kill -9 lost, duplicated or let through mail"
if grep -q "were re-indexed" "$RUN/milter.log"; then
  grep "were re-indexed" "$RUN/milter.log"
  echo "kill9: (re-indexed files are messages whose commit the kill cut short: never answered 250)"
fi
[ "$FAILED" -eq 0 ] && echo "store_kill9: PASS"
exit "$FAILED"
