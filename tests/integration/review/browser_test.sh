#!/usr/bin/env bash
# Browser test of the review page, end to end through a real Postfix:
#   mail -> Postfix -> policy-milter (held) -> policy-review in headless Chromium
#   (sign in, highlighted findings, release) -> Postfix's reinjection listener -> mailbox.
#   browser_test.sh POLICY_MILTER POLICYCTL POLICY_REVIEW SOURCE_DIR WORK_DIR
# Needs root + postfix (exit 77 = skipped otherwise) and Debian's chromium; skips (77)
# only when chromium is missing or cannot start. npm dependencies come from the committed
# package-lock.json (npm ci into WORK_DIR); a failing npm ci is a failure, not a skip.
# Artefacts (screenshots): SOURCE_DIR/tests/artifacts/review/.
set -uo pipefail
MILTER=$1 POLICYCTL=$2 REVIEW=$3 SRC=$4 WORK=$5
HERE=$SRC/tests/integration/review
ARTIFACTS=${PM_ARTIFACTS:-$SRC/tests/artifacts}/review
[ "$(id -u)" -eq 0 ] || { echo "browser test: needs root (Postfix)"; exit 77; }
export PATH=$PATH:/usr/sbin
command -v postfix >/dev/null || { echo "browser test: postfix not installed (scripts/deps)"; exit 77; }
CHROMIUM_FLAGS=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
                --disable-component-update --disable-sync)
if [ ! -x /usr/bin/chromium ]; then echo "browser test: SKIP - /usr/bin/chromium missing (apt-get install chromium)"; exit 77; fi
PROBE=$(mktemp -d /tmp/pm-chromium-probe.XXXXXX)
if ! timeout 60 /usr/bin/chromium "${CHROMIUM_FLAGS[@]}" --user-data-dir="$PROBE" --dump-dom about:blank >/dev/null 2>"$PROBE.err"; then
  echo "browser test: SKIP - chromium cannot start here:"; tail -5 "$PROBE.err"; rm -rf "$PROBE" "$PROBE.err"; exit 77
fi
rm -rf "$PROBE" "$PROBE.err"
command -v node >/dev/null && command -v npm >/dev/null || { echo "FAIL: node/npm missing (scripts/deps)"; exit 1; }

# npm dependencies from the lock file, outside the source tree.
mkdir -p "$WORK"
cp "$HERE/package.json" "$HERE/package-lock.json" "$HERE/browser.js" "$WORK/"
if ! cmp -s "$HERE/package-lock.json" "$WORK/node_modules/.installed-lock" 2>/dev/null; then
  (cd "$WORK" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error) || { echo "FAIL: npm ci"; exit 1; }
  cp "$HERE/package-lock.json" "$WORK/node_modules/.installed-lock"
fi

source "$SRC/scripts/lib/postfix-instance.sh"
BASE=${PM_REVIEW_PORT:-$(free_ports 5)} || exit 1
SMTP=$BASE SINK=$((BASE + 1)) REINJECT=$((BASE + 2)) MPORT=$((BASE + 3)) RPORT=$((BASE + 4))
RUN=$(mktemp -d /tmp/pm-review.XXXXXX)
chmod 755 "$RUN"
FAILED=0
fail() { echo "FAIL: $*"; FAILED=1; }
cleanup() {
  pf_stop "$RUN/postfix"
  for p in ${REVIEW_PID:-} ${MILTER_PID:-} ${SINK_PID:-}; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  if [ "$FAILED" -ne 0 ]; then
    echo "--- policy-review log"; tail -20 "$RUN/review.log" 2>/dev/null
    echo "--- milter log"; tail -10 "$RUN/milter.log" 2>/dev/null
    echo "--- maillog"; tail -15 "$RUN/postfix/maillog" 2>/dev/null
    echo "(run directory kept: $RUN)"
  else
    rm -rf "$RUN"
  fi
}
trap cleanup EXIT

sed -e "s|^dir = \"../rules\"|dir = \"$SRC/rules\"|" \
    -e "s|^socket = .*|socket = \"inet:$MPORT@127.0.0.1\"|" \
    -e "s|^stats_file = .*|stats_file = \"$RUN/stats.json\"|" \
    -e "s|^cache_dir = .*|cache_dir = \"$RUN/cache\"|" \
    -e "s|^dir = \"/var/lib/policy-milter/quarantine\"|dir = \"$RUN/quarantine\"|" \
    -e "s|^listen = \"127.0.0.1:8025\"|listen = \"127.0.0.1:$RPORT\"|" \
    -e "s|^users_db = .*|users_db = \"$RUN/users.sqlite\"|" \
    -e "s|^reinject = .*|reinject = \"127.0.0.1:$REINJECT\"|" \
    "$SRC/conf/policy-milter.toml" > "$RUN/policy-milter.toml"
CONF=$RUN/policy-milter.toml

python3 "$SRC/scripts/lib/mailsink.py" "$SINK" "$RUN/mailbox" > "$RUN/sink.log" 2>&1 &
SINK_PID=$!
"$MILTER" --config "$CONF" --foreground >> "$RUN/milter.log" 2>&1 &
MILTER_PID=$!
wait_port "$MPORT" 60 || { fail "milter did not start"; exit 1; }
pf_setup "$RUN/postfix" "$SMTP" "inet:127.0.0.1:$MPORT" "$SINK" "$REINJECT" || { fail "postfix setup"; exit 1; }
pf_start "$RUN/postfix" || { fail "postfix start"; exit 1; }
wait_port "$SMTP" 20 && wait_port "$REINJECT" 20 && wait_port "$SINK" 20 || { fail "postfix/sink not listening"; exit 1; }

# A reviewer account, through the admin's command.
PASSWORD="demo-$(head -c 9 /dev/urandom | base64 | tr -d '/+=')"
printf '%s\n' "$PASSWORD" | "$POLICYCTL" --config "$CONF" users add head.teacher --role reviewer \
  --email head.teacher@stannes.example --password-stdin >/dev/null || { fail "policyctl users add (is it wired in milter/cli/main.cpp?)"; exit 1; }

# Two messages the filter holds.
python3 "$SRC/scripts/lib/sendmail.py" --port "$SMTP" --quiet --json "$RUN/sent.json" "$HERE/fixtures/held.eml" "$HERE/fixtures/markup.eml"
for _ in $(seq 100); do
  [ "$("$POLICYCTL" --config "$CONF" quarantine list --json 2>/dev/null | wc -l)" -ge 2 ] && break; sleep 0.2
done
HELD=$("$POLICYCTL" --config "$CONF" quarantine list --json | wc -l)
[ "$HELD" -eq 2 ] || { fail "expected 2 held messages, found $HELD"; exit 1; }
python3 - "$CONF" "$POLICYCTL" <<'PY' || fail "policyctl quarantine list --json fields"
import json, subprocess, sys
out = subprocess.run([sys.argv[2], "--config", sys.argv[1], "quarantine", "list", "--json"], capture_output=True, text=True).stdout
for line in out.splitlines():
    o = json.loads(line)
    assert set(o) == {"id", "message_id", "received", "sender", "recipients", "subject", "categories", "state", "school"}, o.keys()
    # No [[schools]] here: the message belongs to the one school, named from [school].
    assert isinstance(o["school"], str), o
    assert o["state"] == "held" and o["categories"] == ["confidential"], o
print("ok - policyctl quarantine list --json: one object per held message")
PY

"$REVIEW" --config "$CONF" >> "$RUN/review.log" 2>&1 &
REVIEW_PID=$!
wait_port "$RPORT" 20 || { fail "policy-review did not start"; exit 1; }

REVIEW_URL="http://127.0.0.1:$RPORT/" LOGIN=head.teacher PASSWORD="$PASSWORD" MAILBOX="$RUN/mailbox" \
  ARTIFACTS="$ARTIFACTS" PROFILE="$RUN/chromium-profile" node "$WORK/browser.js" || fail "browser steps"

# The released copy: the bytes the milter stored, plus only X-Policy-Released-By (and
# Postfix's own Received trace header); line ends aside, they are also the fixture as sent.
if [ "$FAILED" -eq 0 ]; then
  python3 - "$ARTIFACTS/released-id.txt" "$RUN/quarantine/msg" "$HERE/fixtures/held.eml" <<'PY' || fail "released bytes differ from the original"
import sys
qid, path = open(sys.argv[1]).read().split()
got = open(path, "rb").read().replace(b"\r\n", b"\n")
orig = open("%s/%s.eml" % (sys.argv[2], qid), "rb").read().replace(b"\r\n", b"\n")
sent = open(sys.argv[3], "rb").read().replace(b"\r\n", b"\n")
assert orig.rstrip(b"\n") == sent.rstrip(b"\n"), "the stored message is not what was sent"
head, _, body = got.partition(b"\n\n")
lines, out = head.split(b"\n"), []
skip = False
for l in lines:
    if l[:1] in (b" ", b"\t") and skip:
        continue
    skip = l.lower().startswith((b"received:", b"x-policy-released-by:"))
    if not skip:
        out.append(l)
assert any(l.startswith(b"X-Policy-Released-By: head.teacher (quarantine " + qid.encode()) for l in lines), "no release header"
assert b"\n".join(out) + b"\n\n" + body == orig, "content changed"
print("ok - the released message is the original, plus X-Policy-Released-By")
PY
  "$POLICYCTL" --config "$CONF" quarantine list --status released --json | grep -q '"state":"released"' || fail "store does not say released"
fi
[ "$FAILED" -eq 0 ] && echo "browser test: PASS"
exit "$FAILED"
