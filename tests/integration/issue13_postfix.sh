#!/usr/bin/env bash
# Issue 13 through a real Postfix, the real daemon and real HTTP to policy-review:
#   1. exceptions: the DSL's referral to the council's safeguarding inbox is delivered,
#      logged (the exception's name, no content) and counted in the stats file; the same
#      referral from a member of staff without the dsl role is held.
#   2. misaddress: a message to two colleagues and a typo of the staff domain reaches the
#      colleagues, not the typo; the held copy is in the quarantine for that recipient only;
#      the sender gets the notice naming the address and the staff domain within 30 s.
#   3. parents' addresses: 20 parents' webmail addresses in To are held; in Bcc delivered.
#   4. monitor mode (reload with mode = "monitor"): a violating message to an outside
#      recipient is delivered with no X-Policy-* header, and the review page lists it as
#      "would have been held" (sign in, GET /api/monitor).
#   issue13_postfix.sh POLICY_MILTER POLICYCTL POLICY_REVIEW [SOURCE_DIR]
# Needs root and the postfix package; exits 77 (CTest: skipped) otherwise.
set -uo pipefail
MILTER=$1 POLICYCTL=$2 REVIEW=$3
SRC=${4:-$(cd "$(dirname "$0")/../.." && pwd)}
[ "$(id -u)" -eq 0 ] || { echo "issue13: needs root (Postfix)"; exit 77; }
command -v postfix >/dev/null || [ -x /usr/sbin/postfix ] || { echo "issue13: postfix not installed"; exit 77; }
export PATH=$PATH:/usr/sbin
source "$SRC/scripts/lib/postfix-instance.sh"

BASE=$(free_ports 5) || exit 1
SMTP=$BASE SINK=$((BASE + 1)) REINJECT=$((BASE + 2)) MPORT=$((BASE + 3)) RPORT=$((BASE + 4))
RUN=$(mktemp -d /tmp/pm-issue13.XXXXXX)
chmod 755 "$RUN"
CONF=$RUN/policy-milter.toml Q=$RUN/quarantine BOX=$RUN/mailbox
FAILED=0
fail() { echo "FAIL: $*"; FAILED=1; }
ok() { echo "ok - $*"; }
cleanup() {
  pf_stop "$RUN/postfix"
  for p in "${MILTER_PID:-}" "${SINK_PID:-}" "${REVIEW_PID:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  if [ "$FAILED" -ne 0 ]; then
    echo "--- milter log (tail)"; tail -30 "$RUN/milter.log"
    echo "(run directory kept: $RUN)"
  else
    rm -rf "$RUN"
  fi
}
trap cleanup EXIT

printf 'name,email,roles\nHelen Ashdown,h.ashdown@stannes.example,dsl;head\nRuth Kemble,r.kemble@stannes.example,senco\n' > "$RUN/staff-roles.csv"
write_config() {  # write_config MODE
  sed -e "s|^dir = \"../rules\"|dir = \"$SRC/rules\"|" \
      -e "s|^socket = .*|socket = \"inet:$MPORT@127.0.0.1\"|" \
      -e "s|^stats_file = .*|stats_file = \"$RUN/stats.json\"|" \
      -e "s|^cache_dir = .*|cache_dir = \"$RUN/cache\"|" \
      -e "s|^dir = \"/var/lib/policy-milter/quarantine\"|dir = \"$Q\"|" \
      -e "s|^reinject = .*|reinject = \"127.0.0.1:$REINJECT\"|" \
      -e "s|^listen = \"127.0.0.1:8025\"|listen = \"127.0.0.1:$RPORT\"|" \
      -e "s|^users_db = .*|users_db = \"$RUN/users.sqlite\"|" \
      -e "s|^staff_roles = \"\"|staff_roles = \"staff-roles.csv\"|" \
      -e "s|^mode           = \"enforce\"|mode = \"$1\"|" \
      "$SRC/conf/policy-milter.toml" > "$CONF.new"
  cat >> "$CONF.new" <<'TOML'

[[exceptions.rule]]
name = "dsl-referrals"
sender_roles = ["dsl"]
recipients = ["mash@somerset-la.example"]
categories = ["confidential"]
action = "deliver"
expires = 2099-08-31
TOML
  mv "$CONF.new" "$CONF"
}
stats() { python3 -c "import json,sys; d=json.load(open('$RUN/stats.json')); print(eval(sys.argv[1]))" "$1"; }
wait_queue_empty() {
  for _ in $(seq 300); do
    [ "$(pf_queue_count "$RUN/postfix")" -eq 0 ] && return 0
    pf_flush "$RUN/postfix"; sleep 0.2
  done
  fail "Postfix queue not empty"
}
# send FILE FROM RCPT... : one SMTP transaction with this envelope; prints the code.
send() {
  python3 - "$SMTP" "$@" <<'PY'
import smtplib, sys
port, path, frm, rcpts = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
s = smtplib.SMTP("127.0.0.1", port, timeout=60)
try:
    s.sendmail(frm, rcpts, open(path, "rb").read())
    print(250)
except smtplib.SMTPResponseException as e:
    print(e.smtp_code)
except smtplib.SMTPRecipientsRefused as e:
    print(min(c for c, _ in e.recipients.values()))
s.quit()
PY
}
# delivered MESSAGE-ID-PART : the envelope recipients the mailbox got it for (sorted, one line)
delivered() {
  python3 - "$BOX" "$1" <<'PY'
import json, os, sys
box, mid = sys.argv[1], sys.argv[2]
got = []
for line in open(os.path.join(box, "index.jsonl")) if os.path.exists(os.path.join(box, "index.jsonl")) else []:
    e = json.loads(line)
    if mid.encode() in open(os.path.join(box, e["file"]), "rb").read():
        got += e["rcpts"]
print(" ".join(sorted(got)))
PY
}
held() {  # held MESSAGE-ID-PART : "categories|held_recipients" of its quarantine row
  python3 - "$Q" "$1" <<'PY'
import json, os, sqlite3, sys
q, mid = sys.argv[1], sys.argv[2]
for i, cats, held in sqlite3.connect(os.path.join(q, "index.sqlite")).execute(
        "select id, categories, held_recipients from messages"):
    p = os.path.join(q, "msg", i + ".eml")
    if os.path.exists(p) and mid.encode() in open(p, "rb").read():
        print(",".join(json.loads(cats)) + "|" + " ".join(sorted(json.loads(held))))
PY
}
wait_for() {  # wait_for SECONDS COMMAND... : true once COMMAND prints something non-empty
  local end=$((SECONDS + $1)); shift
  while [ $SECONDS -lt $end ]; do [ -n "$("$@")" ] && return 0; pf_flush "$RUN/postfix"; sleep 0.3; done
  return 1
}

write_config enforce
python3 "$SRC/scripts/lib/mailsink.py" "$SINK" "$BOX" > "$RUN/sink.log" 2>&1 &
SINK_PID=$!
"$MILTER" --config "$CONF" --foreground >> "$RUN/milter.log" 2>&1 &
MILTER_PID=$!
wait_port "$MPORT" 300 "$MILTER_PID" || { fail "milter did not start"; exit 1; }  # generous: a cold rules compile on a loaded machine
pf_setup "$RUN/postfix" "$SMTP" "inet:127.0.0.1:$MPORT" "$SINK" "$REINJECT" || { fail "postfix setup"; exit 1; }
pf_start "$RUN/postfix" || { fail "postfix start"; exit 1; }
wait_port "$SMTP" 20 && wait_port "$SINK" 20 || { fail "postfix or sink not listening"; exit 1; }

# Test mail: fictional people, .example domains; each with its own Message-ID.
mk() {  # mk NAME MESSAGE-ID FROM-HEADER TO-HEADER [CC-HEADER] < body
  local f=$RUN/$1.eml
  { echo "From: $3"; echo "To: $4"; [ -n "${5:-}" ] && echo "Cc: $5"
    echo "Subject: $1"; echo "Message-ID: <$2@stannes.example>"; echo "Date: Wed, 02 Dec 2026 09:00:00 +0000"
    echo "MIME-Version: 1.0"; echo "Content-Type: text/plain; charset=utf-8"; echo; cat; } > "$f"
}
REFERRAL_BODY="Dear colleagues,

I am making a referral regarding Leo Harcourt (DOB 04/07/2015, NHS no. 754 323 1948), Year 4.
This morning Leo arrived with bruising to his upper arm. I am the DSL.
"
mk referral-dsl i13-referral-dsl "Helen Ashdown <h.ashdown@stannes.example>" "MASH <mash@somerset-la.example>" <<<"$REFERRAL_BODY"
mk referral-senco i13-referral-senco "Ruth Kemble <r.kemble@stannes.example>" "MASH <mash@somerset-la.example>" <<<"$REFERRAL_BODY"

# --- 1. exceptions ----------------------------------------------------------------------
[ "$(send "$RUN/referral-dsl.eml" h.ashdown@stannes.example mash@somerset-la.example)" = 250 ] || fail "referral not accepted"
[ "$(send "$RUN/referral-senco.eml" r.kemble@stannes.example mash@somerset-la.example)" = 250 ] || fail "control not accepted"
wait_queue_empty
[ "$(delivered i13-referral-dsl)" = "mash@somerset-la.example" ] && ok "the DSL's referral is delivered to the council" \
  || fail "referral delivered to '$(delivered i13-referral-dsl)'; held: '$(held i13-referral-dsl)'"
[ -z "$(held i13-referral-dsl)" ] || fail "the referral is also in the quarantine"
[ "$(held i13-referral-senco)" = "confidential|mash@somerset-la.example" ] && ok "the same referral from a non-DSL is held" \
  || fail "control: held '$(held i13-referral-senco)', delivered '$(delivered i13-referral-senco)'"
grep -q "exception queue=[^ ]* name=dsl-referrals from=h.ashdown@stannes.example rcpt=mash@somerset-la.example categories=confidential action=deliver" "$RUN/milter.log" \
  && ok "the exception's use is logged" || fail "no exception line in the log"
grep -q "Harcourt\|754 323" "$RUN/milter.log" && fail "message content in the log"
sleep 2.5  # the stats file is refreshed every 2 s
[ "$(stats "d.get('exceptions',{}).get('dsl-referrals',0)")" = 1 ] && ok "the exception's use is counted (stats: exceptions.dsl-referrals = 1)" \
  || fail "stats: $(stats "d.get('exceptions')")"
# Read whole before grep: under pipefail, grep -q quitting early would fail the pipeline.
STATUS_JSON=$("$POLICYCTL" --config "$CONF" status --json 2>/dev/null)
grep -q '"dsl-referrals": 1' <<<"$STATUS_JSON" && ok "policyctl status --json shows the count" \
  || fail "policyctl status --json: no exceptions count"

# --- 2. misaddress -----------------------------------------------------------------------
mk misaddress i13-misaddress "Rajesh Varma <r.varma@stannes.example>" "Dan Sutcliffe <d.sutcliffe@stannes.example>" \
  "Kieran Foley <k.foley@stannes.exampel>, Ellie Marchbank <e.marchbank@stannes.example>" <<<"The coach leaves at 8.15 from the front gate."
T0=$SECONDS
[ "$(send "$RUN/misaddress.eml" r.varma@stannes.example d.sutcliffe@stannes.example k.foley@stannes.exampel e.marchbank@stannes.example)" = 250 ] || fail "misaddress not accepted"
wait_queue_empty
[ "$(delivered i13-misaddress)" = "d.sutcliffe@stannes.example e.marchbank@stannes.example" ] && ok "the colleagues get it, the typo does not" \
  || fail "misaddress delivered to '$(delivered i13-misaddress)'"
[ "$(held i13-misaddress)" = "|k.foley@stannes.exampel" ] && ok "the held copy is for the lookalike recipient only" \
  || fail "misaddress held: '$(held i13-misaddress)'"
notice() {  # the sender's misaddress notice, if it has arrived
  python3 - "$BOX" <<'PY'
import email, json, os, sys
box = sys.argv[1]
if os.path.exists(os.path.join(box, "index.jsonl")):
    for line in open(os.path.join(box, "index.jsonl")):
        e = json.loads(line)
        m = email.message_from_binary_file(open(os.path.join(box, e["file"]), "rb"))
        body = m.get_payload(decode=True) or b""
        if e["rcpts"] == ["r.varma@stannes.example"] and b"k.foley@stannes.exampel" in body:
            print(e["file"], "typo-of" if b"typo of the school's domain stannes.example" in body else "")
PY
}
if wait_for 30 notice; then
  ok "the sender got the notice after $((SECONDS - T0)) s (deadline 30 s)"
  notice | grep -q typo-of && ok "the notice names the staff domain" || fail "notice: $(notice)"
else
  fail "no misaddress notice to the sender within 30 s"
fi

# --- 3. parents' addresses in To / in Bcc -------------------------------------------------
PARENTS=() ; for i in $(seq 1 20); do [ $((i % 2)) = 1 ] && PARENTS+=("parent$i.family@gmail.com") || PARENTS+=("parent$i.family@hotmail.co.uk"); done
TO=$(IFS=,; echo "${PARENTS[*]}" | sed 's/,/, /g')
mk parents-to i13-parents-to "School Office <office@stannes.example>" "$TO" <<<"The Year 5 coach leaves at 8.15 on Friday. Packed lunches, please."
mk parents-bcc i13-parents-bcc "School Office <office@stannes.example>" "undisclosed-recipients:;" <<<"The Year 5 coach leaves at 8.15 on Friday. Packed lunches, please."
[ "$(send "$RUN/parents-to.eml" office@stannes.example "${PARENTS[@]}")" = 250 ] || fail "parents-to not accepted"
[ "$(send "$RUN/parents-bcc.eml" office@stannes.example "${PARENTS[@]}")" = 250 ] || fail "parents-bcc not accepted"
wait_queue_empty
[ "$(held i13-parents-to | cut -d'|' -f1)" = confidential ] && [ -z "$(delivered i13-parents-to)" ] \
  && ok "20 parents' addresses in To: held (confidential)" || fail "parents in To: held '$(held i13-parents-to)', delivered '$(delivered i13-parents-to)'"
[ "$(delivered i13-parents-bcc | wc -w)" = 20 ] && [ -z "$(held i13-parents-bcc)" ] \
  && ok "the same 20 in Bcc: delivered" || fail "parents in Bcc: delivered to $(delivered i13-parents-bcc | wc -w)"
python3 - "$Q/index.sqlite" <<'PY' && ok "the held verdict's clause tells the sender to use Bcc" || fail "no Bcc advice in the held verdict"
import json, sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute("select verdict_json from messages").fetchall()
sys.exit(0 if any(f["rule"] == "confidential.addresses-disclosed" and "Bcc" in f["clause"]
                  for (v,) in rows for f in json.loads(v)["findings"]) else 1)
PY

# --- 4. monitor mode ------------------------------------------------------------------------
SNAP=$(stats "d['snapshot']")
write_config monitor
"$POLICYCTL" --config "$CONF" reload >/dev/null 2>&1 || kill -HUP "$MILTER_PID"
for _ in $(seq 150); do [ "$(stats "d['snapshot']")" != "$SNAP" ] && break; sleep 0.2; done
[ "$(stats "d['snapshot']")" != "$SNAP" ] || fail "monitor configuration not loaded"
mk abuse i13-abuse "Stefan Kowalczyk <s.kowalczyk@stannes.example>" "service@county-logistics.example" \
  <<<"Your driver is a complete moron and an idiot, and your depot staff are useless morons."
[ "$(send "$RUN/abuse.eml" s.kowalczyk@stannes.example service@county-logistics.example)" = 250 ] || fail "abuse not accepted"
mk misaddress-mon i13-misaddress-mon "Rajesh Varma <r.varma@stannes.example>" "Kieran Foley <k.foley@stannes.exampel>" <<<"Tea at 3?"
[ "$(send "$RUN/misaddress-mon.eml" r.varma@stannes.example k.foley@stannes.exampel)" = 250 ] || fail "misaddress (monitor) not accepted"
wait_queue_empty
[ "$(delivered i13-abuse)" = "service@county-logistics.example" ] && [ -z "$(held i13-abuse)" ] \
  && ok "monitor mode: the violating message is delivered" || fail "monitor: delivered '$(delivered i13-abuse)', held '$(held i13-abuse)'"
[ "$(delivered i13-misaddress-mon)" = "k.foley@stannes.exampel" ] && ok "monitor mode: the misaddressed message is delivered" \
  || fail "monitor misaddress delivered '$(delivered i13-misaddress-mon)'"
python3 - "$BOX" i13-abuse <<'PY' && ok "no X-Policy-* header at the outside recipient" || fail "an X-Policy-* header reached the outside recipient"
import email, os, sys
box, mid = sys.argv[1], sys.argv[2]
for n in os.listdir(box):
    if n.endswith(".eml"):
        raw = open(os.path.join(box, n), "rb").read()
        if mid.encode() in raw:
            m = email.message_from_bytes(raw)
            sys.exit(1 if any(k.lower().startswith("x-policy-") for k in m.keys()) else 0)
sys.exit(1)
PY
grep -q "msg queue=[^ ]* from=s.kowalczyk@stannes.example rcpts=1 action=accept categories=[^ ]*abusive.*would_action=quarantine" "$RUN/milter.log" \
  && ok "monitor mode: the verdict is logged with what would have happened" || fail "monitor: no would_action in the log"

# The review page lists it, read-only, as "would have been held" (real HTTP).
PASSWORD="i13-$(head -c 9 /dev/urandom | base64 | tr -d '/+=')"
printf '%s\n' "$PASSWORD" | "$POLICYCTL" --config "$CONF" users add head.teacher --role reviewer \
  --email head.teacher@stannes.example --password-stdin >/dev/null || fail "users add"
"$REVIEW" --config "$CONF" > "$RUN/review.log" 2>&1 &
REVIEW_PID=$!
wait_port "$RPORT" 30 || fail "policy-review not listening"
URL=http://127.0.0.1:$RPORT
curl -s --max-time 20 -c "$RUN/cookies" -o "$RUN/login.json" -H 'Content-Type: application/json' \
  -d "{\"login\":\"head.teacher\",\"password\":\"$PASSWORD\"}" "$URL/api/login"
curl -s --max-time 20 -b "$RUN/cookies" -o "$RUN/monitor.json" "$URL/api/monitor"
python3 - "$RUN/monitor.json" <<'PY' && ok "the review page lists it as \"would have been held\"" || fail "review page monitor list: $(head -c 400 "$RUN/monitor.json")"
import json, sys
items = json.load(open(sys.argv[1]))
hit = [m for m in items if m["sender"] == "s.kowalczyk@stannes.example"]
assert hit and hit[0]["state"] == "would have been held" and "abusive" in hit[0]["categories"], items
assert any(f["category"] == "abusive" for f in hit[0]["findings"]), hit
assert any(m["recipients"] == [{"address": "k.foley@stannes.exampel", "class": "lookalike",
                                "label": "probable typo", "would_action": "quarantine"}] for m in items), items
PY
python3 - "$Q" <<'PY' && ok "monitor mode keeps no copy of the message (evidence only)" || fail "monitor mode stored a message"
import os, sqlite3, sys
db = sqlite3.connect(os.path.join(sys.argv[1], "index.sqlite"))
rows = db.execute("select verdict_json from monitor").fetchall()
assert rows and all('"segments"' not in v for (v,) in rows)
held_abuse = [i for (i,) in db.execute("select id from messages")
              if b"i13-abuse" in open(os.path.join(sys.argv[1], "msg", i + ".eml"), "rb").read()]
assert not held_abuse
PY
sleep 2.5
[ "$(stats "d.get('monitor',{}).get('would_quarantine',0)")" -ge 2 ] && ok "monitor verdicts are counted" || fail "monitor stats: $(stats "d.get('monitor')")"

[ "$FAILED" -eq 0 ] && echo "issue13: PASS"
exit "$FAILED"
