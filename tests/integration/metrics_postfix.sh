#!/usr/bin/env bash
# Metrics through the real daemon and a real Postfix (issue 13):
#   metrics_postfix.sh POLICY_MILTER POLICYCTL [SOURCE_DIR]
#   1. [metrics] listen on a random loopback port: GET /metrics answers the Prometheus
#      text format; other paths 404
#   2. after mixed mail is sent through Postfix, the counters moved by exactly what the
#      engine's verdicts say: per category, per action, per recipient class, per rule;
#      the latency histogram counted every message
#   3. no content in any label: only ids (no '@', no Subject words)
#   4. a reload is counted (result="ok")
#   5. a non-loopback listen address is refused at start (exit 78) unless allowed
# Needs root and the postfix package; exits 77 (CTest: skipped) otherwise.
MILTER=$1 POLICYCTL=$2
SRC=${3:-$(cd "$(dirname "$0")/../.." && pwd)}
source "$SRC/tests/integration/store_lib.sh"
METRICS=$((BASE + 4))
eval "store_write_config() $(declare -f write_config | tail -n +2)"
write_config() {
  store_write_config "$@"
  sed -i "s|^\[metrics\]$|[metrics]\nlisten = \"127.0.0.1:$METRICS\"|" "$CONF"
  grep -q "^listen = \"127.0.0.1:$METRICS\"" "$CONF" || fail "no [metrics] table in the shipped configuration"
}
scrape() { curl -sf --max-time 5 "http://127.0.0.1:$METRICS/metrics"; }
store_setup 20000

# --- 1 ----------------------------------------------------------------------------------
for _ in $(seq 50); do scrape > "$RUN/before.prom" 2>/dev/null && break; sleep 0.1; done
grep -q '^# TYPE policy_milter_messages_total counter' "$RUN/before.prom" || fail "1: no exposition: $(head -5 "$RUN/before.prom")"
curl -s --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$METRICS/" | grep -q 404 || fail "1: / is not 404"
curl -sI --max-time 5 "http://127.0.0.1:$METRICS/metrics" >/dev/null  # HEAD: answered, no hang

# --- 2 ----------------------------------------------------------------------------------
make_mail 48 100 "$RUN/m1"
send_until_accepted "$RUN/p1" "$RUN"/m1/*.eml
wait_queue_empty
sleep 2.5  # gauges are published every 2 s
scrape > "$RUN/after.prom" || fail "2: scrape after sending"
python3 - "$RUN/before.prom" "$RUN/after.prom" "$RUN/expected.jsonl" "$RUN/m1" <<'PY' || fail "2/3: counters"
import collections, json, re, sys
def parse(path):
    out = {}
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$', line.strip())
        assert m, "not the text format: " + line
        out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out
before, after = parse(sys.argv[1]), parse(sys.argv[2])
delta = lambda k: after.get(k, 0) - before.get(k, 0)
verdicts = [json.loads(l) for l in open(sys.argv[3]) if l.strip()]
verdicts = [v for v in verdicts if v["file"].startswith(sys.argv[4] + "/")]
assert len(verdicts) == 48, len(verdicts)
bad = []
cats, actions, classes, rules = (collections.Counter() for _ in range(4))
for v in verdicts:
    cats.update(v["categories"])
    actions[v["action"]] += 1
    classes.update(r["class"] for r in v["recipients"])
    rules.update({f["rule"] for f in v["findings"]})
assert cats, "the mail carries no category"
for c, n in cats.items():
    got = delta(f'policy_milter_category_messages_total{{category="{c}"}}')
    if got != n: bad.append(f"category {c}: +{got}, want +{n}")
for c, n in classes.items():
    got = delta(f'policy_milter_recipients_total{{class="{c}"}}')
    if got != n: bad.append(f"class {c}: +{got}, want +{n}")
for r, n in rules.items():
    got = delta(f'policy_milter_rule_messages_total{{rule="{r}"}}')
    if got != n: bad.append(f"rule {r}: +{got}, want +{n}")
held = delta('policy_milter_messages_total{action="quarantine"}') + delta('policy_milter_messages_total{action="split"}')
if held != actions["quarantine"]: bad.append(f"held +{held}, want +{actions['quarantine']}")
total = sum(delta(k) for k in after if k.startswith("policy_milter_messages_total{"))
if total != 48: bad.append(f"messages_total +{total}, want +48")
if delta("policy_milter_scan_duration_seconds_count") != 48: bad.append("histogram count")
if delta('policy_milter_scan_duration_seconds_bucket{le="+Inf"}') != 48: bad.append("histogram +Inf bucket")
if after.get("policy_milter_quarantine_ok") != 1: bad.append("quarantine_ok gauge")
if "policy_milter_memory_budget_bytes" not in after: bad.append("memory gauges")
# 3: labels carry ids only (rule, category, class and action ids, bucket bounds, the
# snapshot's hash) - never an address or free text.
for k in after:
    for val in re.findall(r'="([^"]*)"', k):
        if "@" in val or not re.fullmatch(r"[a-z0-9.+:_-]*|\+Inf", val):
            bad.append(f"label value {val!r}")
print("\n".join(bad) or "counters moved as the verdicts say")
sys.exit(1 if bad else 0)
PY

# --- 4 ----------------------------------------------------------------------------------
"$POLICYCTL" --config "$CONF" reload > /dev/null 2>&1 || fail "4: reload"
# The counter moves when the new snapshot is in place; give a loaded machine time for it.
# The scrape is read whole before grep: under pipefail, `scrape | grep -q` fails whenever grep
# exits at its match while curl is still writing (curl: SIGPIPE, exit 23).
reload_counted() { local m; m=$(scrape) && grep -q '^policy_milter_reloads_total{result="ok"} 1$' <<<"$m"; }
for _ in $(seq 100); do
  reload_counted && break
  sleep 0.1
done
reload_counted || fail "4: reload not counted: $(scrape | grep reloads)"

# --- 5 ----------------------------------------------------------------------------------
sed -e "s|^listen = \"127.0.0.1:$METRICS\"|listen = \"0.0.0.0:$((BASE + 5))\"|" \
    -e "s|^socket = .*|socket = \"inet:$((BASE + 6))@127.0.0.1\"|" "$CONF" > "$RUN/open.toml"
timeout 60 "$MILTER" --config "$RUN/open.toml" --foreground > "$RUN/open.log" 2>&1
rc=$?
[ $rc -eq 78 ] || fail "5: a non-loopback metrics address: exit $rc, want 78"
grep -q "not a loopback address" "$RUN/open.log" || fail "5: no reason in the log: $(tail -2 "$RUN/open.log")"
[ "$FAILED" -eq 0 ] && echo "metrics_postfix: PASS"
exit $FAILED
