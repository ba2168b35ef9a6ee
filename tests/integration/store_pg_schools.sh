# Sourced by store_pg.sh after its phase 6 (needs its relays, PostgreSQL, $CONF/$CONF2,
# sql, wait_port, users and the review ports).
# 7. two schools of one trust in the one store (issue 15): both relays and two policy-review
# servers restarted with [trust] and two [[schools]]; held mail from each school's staff
# through each relay lands in the one store with its school; a reviewer of each school and
# the trust's dpo, over both servers' HTTP APIs: lists, details (another school's is 404),
# audit, counts and the reviewer notices in the mailbox each show one school only; the dpo
# sees both; the dpo deciding one message on both servers at once yields one outcome.
for f in "$CONF" "$CONF2"; do
  cat >> "$f" <<'EOF'

[trust]
name = "Example Learning Trust"
other_school_colleague = "external"

[[schools]]
id = "st-annes"
name = "St Anne's C of E Primary School"
staff_domains = ["stannes.example"]

[[schools]]
id = "st-bedes"
name = "St Bede's Catholic Primary School"
staff_domains = ["stbedes.example"]
notice_from = "mail-policy@stbedes.example"
reviewer_title = "the headteacher of St Bede's"
EOF
done
"$POLICYCTL" --config "$CONF" config check > "$RUN/check7.out" 2>&1 || fail "phase 7: config check refused the schools: $(cat "$RUN/check7.out")"
stop_milter
start_milter
kill "$MILTER2_PID" 2>/dev/null; wait "$MILTER2_PID" 2>/dev/null
"$MILTER" --config "$CONF2" --foreground >> "$RUN/milter2.log" 2>&1 &
MILTER2_PID=$!
wait_port "$MPORT2" 300 "$MILTER2_PID" || fail "phase 7: relay 2 did not restart"

for who in "rev.annes reviewer head@stannes.example --school st-annes" \
           "rev.bedes reviewer head@stbedes.example --school st-bedes" \
           "trust.dpo dpo dpo@trust.example"; do
  set -- $who
  login=$1 role=$2 email=$3; shift 3
  printf '%s\n' "$PASSWORD" | "$POLICYCTL" --config "$CONF" users add "$login" --role "$role" \
    --email "$email" "$@" --password-stdin >/dev/null || fail "phase 7: users add $login"
done

# Held-class mail of each school: St Bede's copies have their staff addresses moved to
# stbedes.example (sender and colleagues), sent through the other relay.
make_mail 6 9000 "$RUN/s7a" held
make_mail 6 9100 "$RUN/s7b" held
sed -i 's/@stannes\.example/@stbedes.example/g' "$RUN"/s7b/*.eml
send_until_accepted "$RUN/send7a" "$RUN"/s7a/*.eml
SMTP=$SMTP2 send_until_accepted "$RUN/send7b" "$RUN"/s7b/*.eml  # through relay 2
NA=$(sql "SELECT count(*) FROM messages WHERE school = 'st-annes'")
NB=$(sql "SELECT count(*) FROM messages WHERE school = 'st-bedes'")
[ "$NA" -ge 3 ] && [ "$NB" -ge 3 ] || fail "phase 7: held mail by school: st-annes $NA, st-bedes $NB (want >= 3 each)"
[ "$(sql "SELECT count(*) FROM messages WHERE school = 'st-bedes' AND sender NOT LIKE '%@stbedes.example'")" -eq 0 ] ||
  fail "phase 7: a message of another sender stored as St Bede's"

start_reviews 7 "$CONF" "$CONF2"
python3 - "$RPORT1" "$RPORT2" "$PASSWORD" "$DSN" "$RUN/mailbox" > "$RUN/schools.out" 2>&1 <<'PY' || fail "phase 7: $(tail -20 "$RUN/schools.out")"
import http.cookiejar, json, os, subprocess, sys, threading, time, urllib.error, urllib.request
p1, p2, password, dsn, box = sys.argv[1:6]
def sql(q):
    return subprocess.run(["psql", "-X", "-At", dsn, "-c", q], capture_output=True, text=True, check=True).stdout.split()
A = set(sql("SELECT id FROM messages WHERE school IN ('st-annes', '')"))  # "" = the first school
B = set(sql("SELECT id FROM messages WHERE school = 'st-bedes'"))
class Client:
    def __init__(self, port, login):
        self.port = port
        self.op = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        code, s = self.call("POST", "/api/login", {"login": login, "password": password})
        assert code == 200, (login, code, s)
        self.csrf = s["csrf"]
    def call(self, method, path, body=None):
        h = {"Content-Type": "application/json"}
        if getattr(self, "csrf", None): h["X-CSRF-Token"] = self.csrf
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request("http://127.0.0.1:%s%s" % (self.port, path), data, h, method=method)
        try:
            with self.op.open(req, timeout=60) as r:
                return r.status, json.load(r)
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")
    def get(self, path):
        code, j = self.call("GET", path)
        assert code == 200, (path, code, j)
        return j
errors = []
def check(ok, what):
    if not ok: errors.append(what)
ra, rb, dpo1, dpo2 = Client(p1, "rev.annes"), Client(p2, "rev.bedes"), Client(p1, "trust.dpo"), Client(p2, "trust.dpo")
lists = {}
for name, c, own, other in (("rev.annes", ra, A, B), ("rev.bedes", rb, B, A)):
    ids = {m["id"] for m in c.get("/api/messages?status=all")}
    lists[name] = ids
    check(ids and ids <= own, "%s lists %d messages, %d not of its school" % (name, len(ids), len(ids - own)))
    probe = sorted(other)[0]
    check(c.call("GET", "/api/messages/" + probe)[0] == 404, "%s: another school's detail is not 404" % name)
    check(c.call("POST", "/api/messages/%s/release" % probe, {"note": "x"})[0] == 404,
          "%s: a decision on another school's message is not 404" % name)
    audit = c.get("/api/audit?limit=1000")["entries"]
    leaked = [e for e in audit if e.get("message_id") and e["message_id"] not in own]
    check(audit and not leaked, "%s: %d audit entries, %d of another school" % (name, len(audit), len(leaked)))
    held = {m["id"] for m in c.get("/api/messages?status=held")}
    n = c.get("/api/counts")["held"]
    check(n == len(held) if len(held) < 500 else n >= 500,  # the list stops at 500
          "%s: counts say %s held, the list %d" % (name, n, len(held)))
dl = {m["id"] for m in dpo2.get("/api/messages?status=all")}
check(dl & A and dl & B, "the dpo does not see both schools")
check(dpo1.get("/api/counts")["held"] >= len(lists["rev.annes"] & set(sql("SELECT id FROM messages WHERE status='held'"))),
      "the dpo's count is below a reviewer's")
# The dpo decides one St Bede's message on both servers at once: exactly one outcome.
target = sorted(lists["rev.bedes"] & set(sql("SELECT id FROM messages WHERE status = 'held'")))[0]
res = {}
def decide(c, act): res[act] = c.call("POST", "/api/messages/%s/%s" % (target, act), {"note": "race"})[0]
ts = [threading.Thread(target=decide, args=(dpo1, "release")), threading.Thread(target=decide, args=(dpo2, "refuse"))]
[t.start() for t in ts]; [t.join() for t in ts]
check(sorted(res.values()) == [200, 409], "one message decided on two servers: %s" % res)
check(sql("SELECT count(*) FROM audit WHERE message_id = '%s' AND action IN ('released', 'refused')" % target) == ["1"],
      "the concurrent decisions left more than one decision in the audit")
# Reviewer notices (the review servers send them through the relays to the sink): each
# school's head gets notices of that school's mail only.
def notices(addr):
    out = []
    for n in os.listdir(box):
        if not n.endswith(".eml"): continue
        raw = open(os.path.join(box, n), "rb").read().decode("utf-8", "replace").replace("\r\n", "\n")
        head = raw.split("\n\n", 1)[0].lower().split("\n")
        if any(l.startswith("to:") and addr in l for l in head):
            out.append(raw)
    return out
deadline = time.time() + 90
while time.time() < deadline and not (notices("head@stbedes.example") and notices("head@stannes.example")):
    time.sleep(1)
na, nb = notices("head@stannes.example"), notices("head@stbedes.example")
check(na and nb, "reviewer notices: %d to St Anne's head, %d to St Bede's head" % (len(na), len(nb)))
check(not any(i in t for t in na for i in B), "St Anne's head got a notice of a St Bede's message")
check(not any(i in t for t in nb for i in A), "St Bede's head got a notice of a St Anne's message")
check(any("mail-policy@stbedes.example" in t for t in nb), "St Bede's notices are not from its notice_from")
print("store_pg: schools: st-annes %d messages, st-bedes %d; rev.annes sees %d, rev.bedes %d, dpo %d; notices %d / %d; %d problems"
      % (len(A), len(B), len(lists["rev.annes"]), len(lists["rev.bedes"]), len(dl), len(na), len(nb), len(errors)))
for e in errors: print("FAIL:", e)
sys.exit(1 if errors else 0)
PY
cat "$RUN/schools.out" | grep "^store_pg: schools" || true
stop_reviews
