#!/usr/bin/env bash
# Limits under a real Postfix, with the documented default: a unix socket under Postfix's
# queue directory, reachable through group membership (issue 11, items 5 and 6).
#   limits_postfix.sh POLICY_MILTER POLICYCTL SOURCE_DIR
#   1. 2,000 idle connections to the very socket Postfix uses: real mail keeps flowing
#      (every message accepted and filtered), the daemon closes the excess.
#   2. ten concurrent 30 MB messages with a memory budget below their unbounded peak: the
#      daemon's peak RSS (VmHWM, reset before) stays under the budget plus its idle size,
#      some are deferred (4xx) while others are scanned, and in the end every one is filtered
#      (held: a class list with dates of birth to a Gmail address), each exactly once.
#   3. a message that could never fit the budget is `unscannable`, not deferred for ever.
# Needs root and the postfix package; exits 77 (CTest: skipped) otherwise.
set -uo pipefail
MILTER=$1 POLICYCTL=$2 SRC=$3
[ "$(id -u)" -eq 0 ] || { echo "limits: needs root (Postfix)"; exit 77; }
command -v postfix >/dev/null || [ -x /usr/sbin/postfix ] || { echo "limits: postfix not installed"; exit 77; }
export PATH=$PATH:/usr/sbin
source "$SRC/scripts/lib/postfix-instance.sh"
BASE=$(free_ports 3) || exit 1
SMTP=$BASE SINK=$((BASE + 1)) REINJECT=$((BASE + 2))
RUN=$(mktemp -d /tmp/pm-limits.XXXXXX)
chmod 755 "$RUN"
FAILED=0
fail() { echo "FAIL: $*"; FAILED=1; }
cleanup() {
  pf_stop "$RUN/postfix"
  for p in ${FLOOD_PID:-} ${MILTER_PID:-} ${SINK_PID:-}; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  if [ "$FAILED" -ne 0 ]; then
    echo "--- milter log (tail)"; tail -20 "$RUN/milter.log"
    echo "--- maillog (tail)"; tail -20 "$RUN/postfix/maillog" 2>/dev/null
  fi
  rm -rf "$RUN"
}
trap cleanup EXIT

SOCKDIR=$RUN/postfix/spool/policy-milter
SOCK=$SOCKDIR/milter.sock
BUDGET=$((1300 << 20))
configure() {  # $1 = memory budget in bytes
  sed -e "s|^dir = \"../rules\"|dir = \"$SRC/rules\"|" \
      -e "s|^socket = .*|socket = \"unix:$SOCK\"|" \
      -e "s|^stats_file = .*|stats_file = \"$RUN/stats.json\"|" \
      -e "s|^cache_dir = .*|cache_dir = \"$RUN/cache\"|" \
      -e "s|^memory_budget_bytes = .*|memory_budget_bytes = $1|" \
      -e "s|^dir = \"/var/lib/policy-milter/quarantine\"|dir = \"$RUN/quarantine\"|" \
      "$SRC/conf/policy-milter.toml" > "$RUN/p.toml"
}
can_connect() { python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])" "$SOCK" 2>/dev/null; }
start_milter() {
  # As under systemd (UMask=0007): the socket is rw for the directory's group only.
  (umask 007; exec "$MILTER" --config "$RUN/p.toml" --foreground >> "$RUN/milter.log" 2>&1) &
  MILTER_PID=$!
  for _ in $(seq 1200); do can_connect && return 0; sleep 0.1; done
  fail "milter socket $SOCK not open"; exit 1
}
stop_milter() { kill "$MILTER_PID"; wait "$MILTER_PID" 2>/dev/null; MILTER_PID=; }
stat_of() { python3 -c "import json,sys; d=json.load(open('$RUN/stats.json')); print(eval(sys.argv[1]))" "$1"; }
held() { python3 -c "import sqlite3; print(sqlite3.connect('$RUN/quarantine/index.sqlite').execute(\"select count(*) from messages where $1\").fetchone()[0])"; }
accepted() { python3 -c "import json; print(sum(1 for r in json.load(open('$1'))['results'] if r['code']==250))"; }
drain() {
  for _ in $(seq 300); do [ "$(pf_queue_count "$RUN/postfix")" -eq 0 ] && return 0; pf_flush "$RUN/postfix"; sleep 0.2; done
  fail "Postfix queue not empty"
}

python3 "$SRC/scripts/lib/mailsink.py" "$SINK" "$RUN/mailbox" > "$RUN/sink.log" 2>&1 &
SINK_PID=$!
# Relative to the queue directory, as in conf/postfix/main.cf.snippet (chrooted or not).
pf_setup "$RUN/postfix" "$SMTP" "unix:policy-milter/milter.sock" "$SINK" "$REINJECT" || { fail "postfix setup"; exit 1; }
# The documented layout: a directory of the daemon's group under the queue directory, setgid
# so the socket gets that group too; Postfix is a member (here: Postfix's own group).
mkdir -p "$SOCKDIR"; chgrp postfix "$SOCKDIR"; chmod 2750 "$SOCKDIR"
configure "$BUDGET"
start_milter
perm=$(stat -c '%A %G' "$SOCK")
case "$perm" in srwxrwx---\ postfix) ;; *) fail "socket is '$perm', want srwxrwx--- postfix";; esac
su -s /bin/sh nobody -c "python3 -c \"import socket; socket.socket(socket.AF_UNIX).connect('$SOCK')\"" 2>/dev/null &&
  fail "a process outside the group could connect"
pf_start "$RUN/postfix" || { fail "postfix start"; exit 1; }
wait_port "$SMTP" 20 || { fail "postfix not listening"; exit 1; }

# --- 1. idle connections -----------------------------------------------------------------
python3 "$SRC/tests/integration/idle_flood.py" "$SOCK" 2000 "$RUN/flood.ready" 300 &
FLOOD_PID=$!
for _ in $(seq 600); do [ -s "$RUN/flood.ready" ] && break; sleep 0.1; done
echo "idle connections held: $(cat "$RUN/flood.ready" 2>/dev/null)"
[ "$(cat "$RUN/flood.ready" 2>/dev/null || echo 0)" -ge 2000 ] || fail "could not open 2,000 connections"
FILES=("$SRC"/tests/corpus/dev/0[0-3]*.eml)
python3 "$SRC/scripts/lib/sendmail.py" --port "$SMTP" --clients 4 --quiet --timeout 60 \
  --json "$RUN/idle.json" "${FILES[@]}"
N1=$(accepted "$RUN/idle.json")
[ "$N1" -eq "${#FILES[@]}" ] || fail "idle flood: $N1 of ${#FILES[@]} accepted"
drain
delivered=$(grep -l '^X-Policy-Verdict:' "$RUN"/mailbox/*.eml 2>/dev/null | wc -l)
# (a split message - a misaddress held for its lookalike recipient only - is both)
echo "idle flood: ${#FILES[@]} sent, $delivered delivered with a verdict, $(held 1) held ($(held "action='split'") of them split)"
[ $((delivered + $(held "action!='split'"))) -eq "${#FILES[@]}" ] || fail "idle flood: not every message filtered"
sleep 2.5
echo "connections: $(stat_of "d['connections']")"
[ "$(stat_of "d['connections']['closed_over_limit']")" -ge 1000 ] || fail "excess idle connections were not closed"
{ "$POLICYCTL" --config "$RUN/p.toml" status || true; } >"$RUN/status.txt"; grep -q '^connections: ' "$RUN/status.txt" || fail "policyctl status shows no connections"
kill "$FLOOD_PID"; wait "$FLOOD_PID" 2>/dev/null; FLOOD_PID=

# --- 2. ten concurrent 30 MB messages under a memory budget ----------------------------
python3 "$SRC/tests/integration/make_big_mail.py" "$RUN/big" 10 30
H0=$(held 1)
sleep 1
IDLE_KB=$(awk '/VmRSS/ {print $2}' /proc/$MILTER_PID/status)
echo 5 > /proc/$MILTER_PID/clear_refs  # resets VmHWM
BIG=("$RUN"/big/*.eml)
todo=("${BIG[@]}")
SMALL=("$SRC"/tests/corpus/dev/1[0-1]*.eml)
for round in $(seq 40); do
  if [ "$round" -eq 1 ]; then  # small mail alongside: it passes while big mail is deferred
    (sleep 3; python3 "$SRC/scripts/lib/sendmail.py" --port "$SMTP" --clients 2 --quiet \
      --timeout 120 --json "$RUN/small.json" "${SMALL[@]}" >/dev/null) &
    SMALL_PID=$!
  fi
  python3 "$SRC/scripts/lib/sendmail.py" --port "$SMTP" --clients 10 --per-connection 1 --quiet \
    --timeout 300 --json "$RUN/big-$round.json" "${todo[@]}"
  [ "$round" -eq 1 ] && wait "$SMALL_PID"
  mapfile -t todo < <(python3 -c "import json,sys; [print(r['file']) for r in json.load(open(sys.argv[1]))['results'] if r['code']!=250]" "$RUN/big-$round.json")
  echo "round $round: $(accepted "$RUN/big-$round.json") accepted, ${#todo[@]} deferred: $(python3 -c "import json,sys; print(sorted(set(r['code'] for r in json.load(open(sys.argv[1]))['results'])))" "$RUN/big-$round.json")"
  [ "${#todo[@]}" -eq 0 ] && break
  sleep 1
done
[ "${#todo[@]}" -eq 0 ] || fail "budget: ${#todo[@]} messages never accepted"
[ "$(accepted "$RUN/small.json")" -eq "${#SMALL[@]}" ] || fail "budget: small mail was deferred alongside"
PEAK_KB=$(awk '/VmHWM/ {print $2}' /proc/$MILTER_PID/status)
LIMIT_KB=$((BUDGET / 1024 + IDLE_KB))
echo "budget: idle RSS $((IDLE_KB / 1024)) MB, peak RSS $((PEAK_KB / 1024)) MB, budget $((BUDGET >> 20)) MB"
[ "$PEAK_KB" -le "$LIMIT_KB" ] || fail "peak RSS $((PEAK_KB / 1024)) MB over budget + idle $((LIMIT_KB / 1024)) MB"
drain
sleep 2.5
echo "memory: $(stat_of "d['memory']")"
[ "$(stat_of "d['memory']['deferred']")" -ge 1 ] || fail "budget: nothing was deferred (budget not below the peak?)"
[ "$(held "subject like 'Class list %'")" -eq 10 ] || fail "budget: $(held "subject like 'Class list %'") of 10 held (each once)"
[ "$(held "subject like 'Class list %' and categories like '%confidential%'")" -eq 10 ] || fail "budget: not every big message read"
grep -l '^Subject: Class list' "$RUN"/mailbox/*.eml >/dev/null 2>&1 && fail "budget: a class list was delivered"
{ "$POLICYCTL" --config "$RUN/p.toml" status || true; } >"$RUN/status.txt"; grep -q '^memory for scans: ' "$RUN/status.txt" || fail "policyctl status shows no memory line"

# --- 3. a message that can never fit --------------------------------------------------------
stop_milter
configure $((64 << 20))  # 64 MiB / 20: nothing over ~3 MB ever fits
start_milter
python3 "$SRC/scripts/lib/sendmail.py" --port "$SMTP" --quiet --timeout 120 --json "$RUN/never.json" "${BIG[0]}"
[ "$(accepted "$RUN/never.json")" -eq 1 ] || fail "never fits: not accepted (deferred?)"
drain
[ "$(held "rules like '%unscannable.limit:memory_budget%'")" -eq 1 ] ||
  fail "never fits: not held as unscannable"

[ "$FAILED" -eq 0 ] && echo "limits: PASS"
exit "$FAILED"
