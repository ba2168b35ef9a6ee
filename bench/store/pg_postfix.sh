#!/usr/bin/env bash
# Held mail through Postfix, PostgreSQL beside SQLite (issue 15), from the repo root (root):
#   bench/store/pg_postfix.sh [BUILD_DIR=build] [COUNT=400]
# The loopback sink, policy-milter behind a private Postfix (tests/integration/store_lib.sh)
# and a private PostgreSQL 15 (scripts/lib/pg-instance.sh), both stores on the same disk
# (/tmp). Per store set-up, fresh unique held messages each pass:
#   latency:     COUNT/2 held messages from 1 SMTP client per relay, one per connection
#   throughput:  COUNT held messages from 8 SMTP clients (4 per relay with two relays)
# set-ups: SQLite + files on one relay; PostgreSQL, one relay; PostgreSQL, two relays
# (two milters, two Postfix instances, one database). Prints per pass the milter's own
# end-of-message time for held mail (elapsed_ms in its log: scan + put + answer), the SMTP
# transaction as the client sees it, held messages accepted per second (wall clock) and
# the load average before and after.
set -uo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$SRC/build}
COUNT=${2:-400}
cmake --build "$BUILD" --target policy-milter policyctl >/dev/null || exit 1
MILTER=$BUILD/milter/daemon/policy-milter POLICYCTL=$BUILD/policyctl
source "$SRC/tests/integration/store_lib.sh"
PG="$SRC/scripts/lib/pg-instance.sh"
bash "$PG" setup "$RUN/pg" >/dev/null || { echo "pg_postfix: PostgreSQL did not start (postgresql-15 installed?)"; exit 1; }
DSN=$(bash "$PG" dsn "$RUN/pg")
trap 'stop_relay2; bash "$PG" stop "$RUN/pg" 2>/dev/null; cleanup' EXIT

SERIAL=100000
# pass NAME CLIENTS_PER_RELAY PER_CONNECTION N PORT...: N new held messages split over the
# relays' SMTP ports, then the figures from the client's answers and the milters' logs.
pass() {
  local name=$1 clients=$2 per=$3 n=$4; shift 4
  local ports=("$@") dir="$RUN/pass-$SERIAL" i=0 pids=() load0 t0 t1
  make_mail "$n" "$SERIAL" "$dir" held
  SERIAL=$((SERIAL + n))
  local files=("$dir"/*.eml) share=$(( (n + ${#ports[@]} - 1) / ${#ports[@]} ))
  local off1 off2
  off1=$(stat -c %s "$RUN/milter.log"); off2=$(stat -c %s "$RUN/milter2.log" 2>/dev/null || echo 0)
  load0=$(cut -d' ' -f1-3 /proc/loadavg)
  t0=$(date +%s.%N)
  for port in "${ports[@]}"; do
    python3 "$SRC/scripts/lib/sendmail.py" --port "$port" --clients "$clients" --per-connection "$per" \
      --quiet --json "$dir.$i.json" "${files[@]:$((i * share)):$share}" 2>/dev/null &
    pids+=($!); i=$((i + 1))
  done
  wait "${pids[@]}"
  t1=$(date +%s.%N)
  python3 - "$name" "$t0" "$t1" "$load0" "$(cut -d' ' -f1-3 /proc/loadavg)" \
      "$RUN/milter.log:$off1" "$RUN/milter2.log:$off2" "$dir".*.json <<'PY'
import json, os, re, sys
name, t0, t1, load0, load1 = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
ms = []
for spec in sys.argv[6:8]:
    path, off = spec.rsplit(":", 1)
    if not os.path.exists(path):
        continue
    with open(path, "rb") as f:
        f.seek(int(off))
        for line in f.read().decode("utf-8", "replace").splitlines():
            m = re.search(r"msg queue=.* action=quarantine .*elapsed_ms=([\d.]+)", line)
            if m:
                ms.append(float(m.group(1)))
res = [r for f in sys.argv[8:] for r in json.load(open(f))["results"]]
ok = [r for r in res if r["code"] == 250]
def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * (len(v) - 1) + 0.5))] if v else float("nan")
smtp = [r["ms"] for r in ok]
print("%-34s n=%4d accepted=%4d  %6.1f held msg/s | milter p50 %6.2f p95 %6.2f p99 %6.2f ms |"
      " SMTP p50 %6.1f p95 %6.1f ms | load %s -> %s"
      % (name, len(res), len(ok), len(ok) / (t1 - t0), pct(ms, .5), pct(ms, .95), pct(ms, .99),
         pct(smtp, .5), pct(smtp, .95), load0, load1))
PY
  wait_queue_empty
}

store_setup 20000
echo "== held mail through Postfix ($COUNT per throughput pass; $(nproc) vCPU)"
pass "SQLite + files, 1 relay, 1 client" 1 1 $((COUNT / 2)) "$SMTP"
pass "SQLite + files, 1 relay, 8 clients" 8 10 "$COUNT" "$SMTP"

stop_milter
use_postgresql "$DSN"
"$POLICYCTL" --config "$CONF" store migrate >/dev/null || { fail "policyctl store migrate"; exit 1; }
start_milter
pass "PostgreSQL, 1 relay, 1 client" 1 1 $((COUNT / 2)) "$SMTP"
pass "PostgreSQL, 1 relay, 8 clients" 8 10 "$COUNT" "$SMTP"

start_relay2 || exit 1
pass "PostgreSQL, 2 relays, 1 client each" 1 1 $((COUNT / 2)) "$SMTP" "$SMTP2"
pass "PostgreSQL, 2 relays, 4 clients each" 4 10 "$COUNT" "$SMTP" "$SMTP2"
[ "$FAILED" -eq 0 ]
