#!/usr/bin/env bash
# Load benchmark: Postfix + policy-milter on loopback.
#   bench/postfix/run.sh [BUILD_DIR] [MESSAGES=2000] [CLIENTS=20]
# Sends MESSAGES dev-corpus messages with CLIENTS concurrent SMTP clients, first through
# the milter-free reinjection listener (baseline), then through the milter; reports
# messages/s, SMTP transaction latency p50/p99 of both, the milter's added latency
# (difference), the milter's own end-of-message time (stats file), and checks that nothing
# was lost (delivered + quarantined = accepted). Needs root and postfix.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build}
N=${2:-2000} C=${3:-20}
MILTER=$BUILD/milter/daemon/policy-milter
export PATH=$PATH:/usr/sbin
source "$ROOT/scripts/lib/postfix-instance.sh"
BASE=$(free_ports 4) || exit 1
SMTP=$BASE SINK=$((BASE + 1)) REINJECT=$((BASE + 2)) MPORT=$((BASE + 3))
RUN=$(mktemp -d /tmp/pm-bench.XXXXXX); chmod 755 "$RUN"
cleanup() { pf_stop "$RUN/postfix"; kill ${MPID:-} ${SPID:-} 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$RUN"; }
trap cleanup EXIT
sed -e "s|^dir = \"../rules\"|dir = \"$ROOT/rules\"|" \
    -e "s|^socket = .*|socket = \"inet:$MPORT@127.0.0.1\"|" \
    -e "s|^stats_file = .*|stats_file = \"$RUN/stats.json\"|" \
    -e "s|^cache_dir = .*|cache_dir = \"$RUN/cache\"|" \
    -e "s|^dir = \"/var/lib/policy-milter/quarantine\"|dir = \"$RUN/quarantine\"|" \
    "$ROOT/conf/policy-milter.toml" > "$RUN/p.toml"
python3 "$ROOT/scripts/lib/mailsink.py" "$SINK" "$RUN/mailbox" > /dev/null 2>&1 & SPID=$!
"$MILTER" --config "$RUN/p.toml" --foreground > "$RUN/milter.log" 2>&1 & MPID=$!
wait_port "$MPORT" 60
pf_setup "$RUN/postfix" "$SMTP" "inet:127.0.0.1:$MPORT" "$SINK" "$REINJECT"
pf_start "$RUN/postfix"
wait_port "$SMTP" 20; wait_port "$REINJECT" 20
FILES=("$ROOT"/tests/corpus/dev/*.eml)
drain() { for _ in $(seq 600); do [ "$(pf_queue_count "$RUN/postfix")" -eq 0 ] && return; pf_flush "$RUN/postfix"; sleep 0.2; done; }
python3 "$ROOT/scripts/lib/sendmail.py" --port "$REINJECT" --clients "$C" --count "$N" --quiet --json "$RUN/base.json" "${FILES[@]}"
drain
BASE_DELIVERED=$(ls "$RUN/mailbox" | grep -c '\.eml$')
python3 "$ROOT/scripts/lib/sendmail.py" --port "$SMTP" --clients "$C" --count "$N" --quiet --json "$RUN/milter.json" "${FILES[@]}"
drain
sleep 2.5
python3 - "$RUN" "$N" "$C" "$BASE_DELIVERED" <<'PY'
import json, os, sqlite3, sys
run, n, c, base_delivered = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def summary(name):
    d = json.load(open(os.path.join(run, name)))
    ms = sorted(r["ms"] for r in d["results"] if r["code"] == 250)
    ok = len(ms)
    pct = lambda p: ms[min(len(ms) - 1, int(p * (len(ms) - 1) + 0.5))] if ms else 0
    return ok, ok / d["wall_s"], pct(0.5), pct(0.99), d["wall_s"]
b, m = summary("base.json"), summary("milter.json")
delivered = len([f for f in os.listdir(os.path.join(run, "mailbox")) if f.endswith(".eml")]) - base_delivered
held = sqlite3.connect(os.path.join(run, "quarantine", "index.sqlite")).execute("select count(*) from messages").fetchone()[0]
st = json.load(open(os.path.join(run, "stats.json")))
print("policy-milter + Postfix load bench: %d messages, %d concurrent SMTP clients, dev corpus" % (n, c))
print("  without milter: %4d accepted, %6.1f msg/s, SMTP latency p50 %6.1f ms  p99 %6.1f ms" % (b[0], b[1], b[2], b[3]))
print("  with milter:    %4d accepted, %6.1f msg/s, SMTP latency p50 %6.1f ms  p99 %6.1f ms" % (m[0], m[1], m[2], m[3]))
print("  added by the milter: p50 %+.1f ms, p99 %+.1f ms" % (m[2] - b[2], m[3] - b[3]))
print("  milter end-of-message time (scan+store): p50 %.1f ms p99 %.1f ms max %.1f ms" %
      (st["latency_ms"]["p50"], st["latency_ms"]["p99"], st["latency_ms"]["max"]))
print("  outcomes: %s" % json.dumps(st["by_action"], sort_keys=True))
# The store keeps one entry per distinct held message (a resend of the same bytes is matched
# to its entry, as an MTA's retry is), and the corpus repeats when n exceeds it: count the
# quarantine answers (the index holds between one and that many entries).
quarantined = st["by_action"].get("quarantine", 0)
print("  nothing lost: delivered %d + quarantined %d = %d (accepted %d; %d distinct held in the index): %s" %
      (delivered, quarantined, delivered + quarantined, m[0], held,
       "OK" if delivered + quarantined == m[0] == n and 0 < held <= quarantined else "LOST MAIL"))
sys.exit(0 if delivered + held == m[0] == n else 1)
PY
