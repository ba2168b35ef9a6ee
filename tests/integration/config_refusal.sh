#!/usr/bin/env bash
# Configuration typos refuse start and reload (issue 13), no MTA needed:
#   1. policy-milter and policy-review refuse to start on a file that fails the schema -
#      even on a key only the other program reads - naming file:line and the right key
#   2. a running policy-milter refuses a reload of a configuration typo and of a local
#      rule file typo: exit 1, file:line in the answer and the log, the old snapshot runs
#   3. a good local rule file is then loaded by a reload
#   config_refusal.sh POLICY_MILTER POLICY_REVIEW POLICYCTL SOURCE_DIR
set -uo pipefail
MILTER=$1 REVIEW=$2 POLICYCTL=$3 SRC=$4
RUN=$(mktemp -d /tmp/pm-confref.XXXXXX)
source "$SRC/scripts/lib/ports.sh"
PORT=$(free_ports 2) || exit 1
RPORT=$((PORT + 1))
PID=
FAILED=0
fail() { echo "FAIL: $*"; FAILED=1; }
trap '[ -n "$PID" ] && kill $PID 2>/dev/null; wait 2>/dev/null; [ $FAILED -ne 0 ] && tail -20 "$RUN/milter.log"; rm -rf "$RUN"' EXIT
cp -r "$SRC/rules" "$RUN/rules"
mkdir -p "$RUN/local.d"
sed -e "s|^dir = \"../rules\"|dir = \"$RUN/rules\"\nlocal_dir = \"$RUN/local.d\"|" \
    -e "s|^socket = .*|socket = \"inet:$PORT@127.0.0.1\"|" \
    -e "s|^listen = .*|listen = \"127.0.0.1:$RPORT\"|" \
    -e "s|^stats_file = .*|stats_file = \"$RUN/stats.json\"|" \
    -e "s|^cache_dir = .*|cache_dir = \"$RUN/cache\"|" \
    -e "s|^users_db = .*|users_db = \"$RUN/users.sqlite\"|" \
    -e "s|^dir = \"/var/lib/policy-milter/quarantine\"|dir = \"$RUN/quarantine\"|" \
    "$SRC/conf/policy-milter.toml" > "$RUN/good.toml"
CONF=$RUN/p.toml
cp "$RUN/good.toml" "$CONF"
stat_of() { python3 -c "import json,sys; d=json.load(open('$RUN/stats.json')); print(eval(sys.argv[1]))" "$1"; }
line_of() { grep -n "$1" "$CONF" | head -1 | cut -d: -f1; }

# --- 1. refusing to start ---------------------------------------------------------------
sed -i 's/^session_minutes = /sesion_minutes = /' "$CONF"
L=$(line_of sesion_minutes)
timeout 120 "$MILTER" --config "$CONF" --foreground > "$RUN/start.log" 2>&1; rc=$?
[ $rc -eq 78 ] || fail "policy-milter started on a misspelt key: exit $rc, want 78"
grep -q "refusing to start: $CONF:$L: unknown key 'sesion_minutes' in \[review\]: did you mean 'session_minutes'" "$RUN/start.log" ||
  fail "policy-milter: no file:line and suggestion: $(cat "$RUN/start.log")"
timeout 60 "$REVIEW" --config "$CONF" > "$RUN/review.log" 2>&1; rc=$?
[ $rc -eq 2 ] || fail "policy-review started on a misspelt key: exit $rc, want 2"
grep -q "refusing to start: $CONF:$L: unknown key 'sesion_minutes'" "$RUN/review.log" ||
  fail "policy-review: no file:line: $(cat "$RUN/review.log")"
cp "$RUN/good.toml" "$CONF"
sed -i 's/^internal_networks = .*/internal_networks = ["192.168.1.0\/24", "10.0.0.300\/8"]/' "$CONF"
timeout 120 "$MILTER" --config "$CONF" --foreground > "$RUN/start.log" 2>&1; rc=$?
[ $rc -eq 78 ] || fail "policy-milter started with a bad network: exit $rc"
grep -q "$CONF:$(line_of '^internal_networks'): milter.internal_networks: '10.0.0.300/8' is not a network" "$RUN/start.log" ||
  fail "bad network: $(cat "$RUN/start.log")"
cp "$RUN/good.toml" "$CONF"

# --- 2. refusing reloads ----------------------------------------------------------------
"$MILTER" --config "$CONF" --foreground > "$RUN/milter.log" 2>&1 &
PID=$!
for _ in $(seq 3000); do (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null && break; sleep 0.1; done
(exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null || { fail "milter did not start"; exit 1; }
for _ in $(seq 100); do [ -s "$RUN/stats.json" ] && break; sleep 0.1; done
SNAP=$(stat_of "d['snapshot']")
sed -i 's/^scan_timeout_seconds = 30/scan_timeout_seconds = "30"/' "$CONF"
L=$(line_of '^scan_timeout_seconds')
# policyctl reads the file first (to find the daemon) and refuses it itself...
out=$("$POLICYCTL" --config "$CONF" reload 2>&1); rc=$?
[ $rc -eq 2 ] || fail "policyctl reload of a wrong type: exit $rc, want 2 (configuration error): $out"
echo "$out" | grep -q "$CONF:$L: milter.scan_timeout_seconds must be an integer" ||
  fail "policyctl reload refusal does not name file:line: $out"
# ...and the daemon, sent SIGHUP directly (systemctl reload), keeps its snapshot and logs why.
kill -HUP $PID
for _ in $(seq 600); do grep -q "reload refused" "$RUN/milter.log" && break; sleep 0.1; done
grep -q "reload refused, keeping snapshot $SNAP: $CONF:$L: milter.scan_timeout_seconds must be an integer" "$RUN/milter.log" ||
  fail "no refusal with file:line in the log"
[ "$(stat_of "d['snapshot']")" = "$SNAP" ] || fail "snapshot changed after a refused reload"
kill -0 $PID || fail "milter died on a refused reload"
cp "$RUN/good.toml" "$CONF"
printf '[[rule]]\nid = "personal-link.blog-platform"\nweight = "low"\n' > "$RUN/local.d/school.toml"
out=$("$POLICYCTL" --config "$CONF" reload 2>&1); rc=$?
[ $rc -eq 1 ] || fail "reload of a local file typo: exit $rc, want 1: $out"
echo "$out" | grep -q "$RUN/local.d/school.toml:3: rule personal-link.blog-platform: weight must be a number" ||
  fail "local typo: $out"
[ "$(stat_of "d['snapshot']")" = "$SNAP" ] || fail "snapshot changed after a refused local reload"

# --- 3. a good local file is loaded -------------------------------------------------------
printf '[[rule]]\nid = "personal-link.blog-platform"\nenabled = false\n' > "$RUN/local.d/school.toml"
out=$("$POLICYCTL" --config "$CONF" reload 2>&1); rc=$?
[ $rc -eq 0 ] || fail "reload of a good local file: exit $rc: $out"
[ "$(stat_of "d['snapshot']")" != "$SNAP" ] || fail "a local file did not change the snapshot"
kill -0 $PID || fail "milter died"
[ "$FAILED" -eq 0 ] && echo "config_refusal: PASS"
exit "$FAILED"
