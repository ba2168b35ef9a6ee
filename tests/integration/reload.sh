#!/usr/bin/env bash
# Reloads (issue 11, item 2), on a running policy-milter (no MTA needed):
#   1. `policyctl rules check` refuses an emptied rules file and a category with no rule
#   2. an emptied rules file is refused by a reload: exit 1, file named, old snapshot kept
#   3. a SIGHUP that arrives while a reload runs queues exactly one more: both reloads
#      happen (the second loads the later change) and no third one
#   reload.sh POLICY_MILTER POLICYCTL SOURCE_DIR
set -uo pipefail
MILTER=$1 POLICYCTL=$2 SRC=$3
RUN=$(mktemp -d /tmp/pm-reload.XXXXXX)
source "$SRC/scripts/lib/ports.sh"
PORT=$(free_ports 1) || exit 1
FAILED=0
fail() { echo "FAIL: $*"; FAILED=1; }
trap 'kill $PID 2>/dev/null; wait 2>/dev/null; [ $FAILED -ne 0 ] && tail -20 "$RUN/milter.log"; rm -rf "$RUN"' EXIT
cp -r "$SRC/rules" "$RUN/rules"
sed -e "s|^dir = \"../rules\"|dir = \"$RUN/rules\"|" \
    -e "s|^socket = .*|socket = \"inet:$PORT@127.0.0.1\"|" \
    -e "s|^stats_file = .*|stats_file = \"$RUN/stats.json\"|" \
    -e "s|^cache_dir = .*|cache_dir = \"$RUN/cache\"|" \
    -e "s|^dir = \"/var/lib/policy-milter/quarantine\"|dir = \"$RUN/quarantine\"|" \
    "$SRC/conf/policy-milter.toml" > "$RUN/p.toml"
CONF=$RUN/p.toml
stat_of() { python3 -c "import json,sys; d=json.load(open('$RUN/stats.json')); print(eval(sys.argv[1]))" "$1"; }
RULE=$RUN/rules/abusive.toml
cp "$RULE" "$RUN/abusive.bak"

# --- 1. rules check ----------------------------------------------------------------------
: > "$RULE"
out=$("$POLICYCTL" --config "$CONF" rules check 2>&1) && fail "rules check accepted an empty rules file"
echo "$out" | grep -q "abusive.toml:1: .*defines nothing" || fail "rules check: no file:line for the empty file: $out"
python3 - "$RUN/abusive.bak" "$RULE" <<'PY'
import sys  # keep only the [category] table: a category with no rule
src = open(sys.argv[1]).read()
open(sys.argv[2], "w").write(src.split("[[rule]]")[0])
PY
out=$("$POLICYCTL" --config "$CONF" rules check 2>&1) && fail "rules check accepted a category with no rule"
echo "$out" | grep -q "abusive.toml:[0-9]*: category abusive has no rule" || fail "rules check: $out"
cp "$RUN/abusive.bak" "$RULE"
"$POLICYCTL" --config "$CONF" rules check >/dev/null 2>&1 || fail "rules check refuses the shipped rules"

"$MILTER" --config "$CONF" --foreground > "$RUN/milter.log" 2>&1 &
PID=$!
for _ in $(seq 3000); do (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null && break; sleep 0.1; done
(exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null || { fail "milter did not start"; exit 1; }

# --- 2. an emptied rules file is refused by a reload --------------------------------------
SNAP=$(stat_of "d['snapshot']")
: > "$RULE"
out=$("$POLICYCTL" --config "$CONF" reload 2>&1); rc=$?
[ $rc -eq 1 ] || fail "reload of an empty rules file: exit $rc, want 1 (refused): $out"
echo "$out" | grep -q "abusive.toml:1" || fail "reload refusal does not name the file: $out"
[ "$(stat_of "d['snapshot']")" = "$SNAP" ] || fail "snapshot changed after a refused reload"
grep -q "reload refused, keeping snapshot $SNAP" "$RUN/milter.log" || fail "no refusal in the log"
cp "$RUN/abusive.bak" "$RULE"

# --- 3. SIGHUP during a reload --------------------------------------------------------------
OK0=$(stat_of "d['reloads']['ok']")
echo "# change 1" >> "$RULE"  # a new rules hash: recompiles (seconds), so there is time
kill -HUP $PID
for _ in $(seq 100); do grep -q "reload: SIGHUP, recompiling" "$RUN/milter.log" && break; sleep 0.05; done
echo "# change 2" >> "$RULE"
kill -HUP $PID; kill -HUP $PID; kill -HUP $PID  # several during the reload: one more
for _ in $(seq 3000); do [ "$(stat_of "d['reloads']['ok']")" -ge $((OK0 + 2)) ] && break; sleep 0.1; done  # generous: a loaded machine compiles slowly
grep -q "SIGHUP during a reload, one more queued" "$RUN/milter.log" || fail "the SIGHUPs did not arrive during the reload"
[ "$(stat_of "d['reloads']['ok']")" -eq $((OK0 + 2)) ] || fail "reloads ok $(stat_of "d['reloads']['ok']"), want $((OK0 + 2))"
sleep 3
[ "$(stat_of "d['reloads']['ok']")" -eq $((OK0 + 2)) ] || fail "more than one queued reload ran"
mapfile -t snaps < <(sed -n 's/.*reload: now running snapshot //p' "$RUN/milter.log")
[ "${#snaps[@]}" -eq 2 ] && [ "${snaps[0]}" != "${snaps[1]}" ] || fail "want two reloads with different snapshots: ${snaps[*]}"
[ "$(stat_of "d['snapshot']")" = "${snaps[1]:-}" ] || fail "the second reload is not the one running"
kill -0 $PID || fail "milter died"
# A burst of process-directed SIGHUPs (what `systemctl reload` sends): while one is pending
# in the main thread the kernel hands the next to any thread that waits for SIGHUP - which
# must never be libmilter's signal thread (it takes SIGHUP for "stop").
for _ in $(seq 50); do kill -HUP $PID; done
for _ in $(seq 600); do grep -q "SIGHUP, recompiling" <(tail -5 "$RUN/milter.log") || break; sleep 0.1; done
sleep 1
kill -0 $PID 2>/dev/null || fail "a burst of SIGHUPs stopped the milter"
(exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null || fail "the milter stopped listening after a burst of SIGHUPs"
[ "$FAILED" -eq 0 ] && echo "reload: PASS"
exit "$FAILED"
