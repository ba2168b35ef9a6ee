#!/usr/bin/env bash
# The quarantine's put cost (issue 12, "Durability at the right cost"), from the repo root:
#   bench/store/run.sh [BUILD_DIR=build] [ROUNDS=3]
# 1. store_bench: 2,000 held 4 KB messages put from 1 and 8 threads, on disk (/var/tmp,
#    the same file system as /var/lib) and on tmpfs (/dev/shm: no fsync cost), ROUNDS
#    interleaved rounds (this VM's disk is shared: fsync time swings between rounds).
# 2. Through a real Postfix (needs root + postfix): 300 held and 300 delivered messages
#    from ONE SMTP client; the milter's own end-of-message time per action, from its log
#    (elapsed_ms: scan + put + answer), quarantine on disk.
set -uo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$SRC/build}
ROUNDS=${2:-3}
cmake --build "$BUILD" --target store_bench policy-milter policyctl >/dev/null || exit 1
echo "== store_bench (put latency, ms; msg/s)"
for r in $(seq "$ROUNDS"); do
  for where in /var/tmp /dev/shm; do
    for t in 1 8; do "$BUILD/bench/store/store_bench" "$where/pm-store-bench-$$/q" "$t" 2000; done
  done
done
rm -rf /var/tmp/pm-store-bench-$$ /dev/shm/pm-store-bench-$$
[ "$(id -u)" -eq 0 ] && command -v postconf >/dev/null 2>&1 || { echo "(no root/postfix: Postfix pass skipped)"; exit 0; }

echo "== through Postfix, 1 client: the milter's time per message (elapsed_ms in its log)"
MILTER=$BUILD/milter/daemon/policy-milter POLICYCTL=$BUILD/policyctl
export PM_STORE_BENCH=1
source "$SRC/tests/integration/store_lib.sh"
store_setup 20000
make_mail 300 1 "$RUN/held" held
make_mail 300 1000 "$RUN/pass" pass
: > "$RUN/milter.log"
for f in "$RUN"/held/*.eml "$RUN"/pass/*.eml; do echo "$f"; done | shuf --random-source=<(yes) > "$RUN/order"
mapfile -t ORDER < "$RUN/order"
python3 "$SRC/scripts/lib/sendmail.py" --port "$SMTP" --clients 1 --per-connection 1 --quiet \
  --json "$RUN/send.json" "${ORDER[@]}"
python3 - "$RUN/milter.log" "$RUN/send.json" <<'PY'
import json, re, sys
by = {}
for line in open(sys.argv[1]):
    m = re.search(r"action=(\w+).* elapsed_ms=([\d.]+)", line)
    if m and "msg queue=" in line:
        by.setdefault(m.group(1), []).append(float(m.group(2)))
for a, v in sorted(by.items()):
    v.sort()
    p = lambda q: v[min(len(v) - 1, int(q * (len(v) - 1) + 0.5))]
    print("  milter %-10s n=%4d  p50 %.2f ms  p95 %.2f  p99 %.2f  max %.2f" % (a, len(v), p(.5), p(.95), p(.99), v[-1]))
r = json.load(open(sys.argv[2]))["results"]
ok = sum(1 for x in r if x["code"] == 250)
s = sorted(x["ms"] for x in r)
print("  SMTP transaction (client side, incl. Postfix): p50 %.1f ms, %d/%d accepted" % (s[len(s) // 2], ok, len(r)))
PY
