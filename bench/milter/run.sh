#!/usr/bin/env bash
# Milter-protocol benchmark: policy-milter driven by milter_bench (this folder), one
# connection per message like an MTA, on loopback.
#   bench/milter/run.sh [BUILD_DIR=build] [MESSAGES=2000]   (env: ROUNDS=3, PM_BENCH_POSTFIX=1)
# The daemon is pinned to CPU 0 and the generator to CPU 1 (taskset). Rows: 1 and 8
# concurrent connections over the corpus tests/corpus/{dev,heldout,attachments} (336
# real-looking messages, attachments included), per action p50/p95/p99 of the time from
# connect to the final answer, msg/s and the daemon's CPU per message. Held mail is stored
# in a quarantine on disk (the run directory). Then the same corpus through a real Postfix
# with and without the milter (bench/postfix/run.sh, when run as root with postfix
# installed). When Debian's rspamd is installed it runs side by side (content-only
# configuration from rspamd_conf.sh, its proxy in milter mode, pinned to the same CPU 0):
# the same corpus through the same client, 1 and 8 connections, ROUNDS interleaved rounds
# (default 3), and the ratios. Without rspamd the script says so and goes on.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build}
N=${2:-2000}
[ -f "$BUILD/build.ninja" ] || cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" --target policy-milter milter_bench >/dev/null
MILTER=$BUILD/milter/daemon/policy-milter
GEN=$BUILD/bench/milter/milter_bench
RUN=$(mktemp -d /tmp/pm-mbench.XXXXXX)
source "$ROOT/scripts/lib/ports.sh"
PORT=$(free_ports 1) || exit 1
cleanup() {
  [ -n "${MPID:-}" ] && kill "$MPID" 2>/dev/null
  [ -n "${RPID:-}" ] && kill "$RPID" 2>/dev/null
  wait 2>/dev/null || true
  rm -rf "$RUN"
}
trap cleanup EXIT
source "$ROOT/bench/milter/lib.sh"
$PIN_D "$MILTER" --config "$RUN/p.toml" --foreground > "$RUN/milter.log" 2>&1 & MPID=$!
for _ in $(seq 1200); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
FILES=("$ROOT"/tests/corpus/{dev,heldout,attachments}/*.eml)
echo "corpus: ${#FILES[@]} messages; daemon pinned to CPU 0, generator to CPU 1"
$PIN_G "$GEN" --socket "inet:$PORT@127.0.0.1" --messages 300 "${FILES[@]}" > /dev/null  # warm-up
for c in 1 8; do
  echo "--- whole corpus (held mail stored in the quarantine on disk), $c connection(s)"
  $PIN_G "$GEN" --socket "inet:$PORT@127.0.0.1" --connections $c --messages "$N" --pid "$MPID" \
    --json "$RUN/milter-$c.json" --per-message "$RUN/per-$c.txt" "${FILES[@]}"
done
# The messages delivered (accepted or tagged): the daemon's own cost without the store's.
mapfile -t DELIVERED < <(awk -F'\t' '$1 == "accept" || $1 == "tag" {print $3}' "$RUN/per-1.txt" | sort -u)
for c in 1 8; do
  echo "--- delivered mail only (${#DELIVERED[@]} messages of the corpus), $c connection(s)"
  $PIN_G "$GEN" --socket "inet:$PORT@127.0.0.1" --connections $c --messages "$N" --pid "$MPID" \
    --json "$RUN/delivered-$c.json" "${DELIVERED[@]}"
done
echo "daemon: $(grep -c ' msg queue=' "$RUN/milter.log") messages logged, peak RSS $(awk '/VmHWM/ {print $2/1024 " MB"}' /proc/$MPID/status)"
kill "$MPID"; wait "$MPID" 2>/dev/null || true; MPID=

# Warm start (rules cache filled above): from exec to the first verdict answered.
for i in 1 2 3; do
  t0=$(date +%s%N)
  $PIN_D "$MILTER" --config "$RUN/p.toml" --foreground >> "$RUN/milter.log" 2>&1 & MPID=$!
  until $PIN_G "$GEN" --socket "inet:$PORT@127.0.0.1" --messages 1 "${FILES[0]}" > /dev/null 2>&1; do sleep 0.005; done
  echo "warm start to first verdict: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
  kill "$MPID"; wait "$MPID" 2>/dev/null || true; MPID=
done

if command -v rspamd >/dev/null; then
  # Rspamd's compiled Hyperscan cache is kept between runs (a cold start compiles for
  # minutes on this VM); everything else lives in the run directory.
  RSP=$RUN/rspamd RSPDB=$BUILD/bench-rspamd-db
  RPORT=$(free_ports 1) || exit 1
  bash "$ROOT/bench/milter/rspamd_conf.sh" "$RSP" "$RPORT"
  mkdir -p "$RSPDB"
  $PIN_D rspamd -f -i -c "$RSP/rspamd.conf" --var=LOCAL_CONFDIR="$RSP/local" --var=DBDIR="$RSPDB" \
    --var=RUNDIR="$RSP" --var=LOGDIR="$RSP" > "$RSP/out.log" 2>&1 & RPID=$!
  for _ in $(seq 3000); do (exec 3<>/dev/tcp/127.0.0.1/$RPORT) 2>/dev/null && break; sleep 0.1; done
  # Ready when its hs_helper (which compiles or loads the regexp databases, then tells the
  # proxy) has used no CPU for 3 s.
  last=-1
  for _ in $(seq 600); do
    now=0
    for p in $(pgrep -P "$RPID"); do now=$((now + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done
    [ "$now" = "$last" ] && break
    last=$now; sleep 3
  done
  $PIN_D "$MILTER" --config "$RUN/p.toml" --foreground >> "$RUN/milter.log" 2>&1 & MPID=$!
  for _ in $(seq 1200); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
  ROUNDS=${ROUNDS:-3}
  echo "--- side by side with Rspamd $(rspamd --version 2>/dev/null | grep -o '[0-9][0-9.]*' | head -1) (content-only, proxy in milter mode), $ROUNDS interleaved rounds"
  for d in pm rspamd; do  # warm-up
    port=$PORT; [ $d = rspamd ] && port=$RPORT
    $PIN_G "$GEN" --socket "inet:$port@127.0.0.1" --messages 300 "${FILES[@]}" > /dev/null
  done
  for r in $(seq "$ROUNDS"); do
    for c in 1 8; do
      # rspamd-nodelay: the same with TCP_NODELAY on the client, which Postfix does not
      # set - Rspamd leaves its ACKs delayed, so a Postfix-like client waits ~40 ms per
      # message for them; this row is what Rspamd does without that wait.
      for d in pm rspamd rspamd-nodelay; do
        port=$PORT pid=$MPID opt=; [ $d != pm ] && port=$RPORT pid=$RPID
        [ $d = rspamd-nodelay ] && opt=--nodelay
        $PIN_G "$GEN" $opt --socket "inet:$port@127.0.0.1" --connections $c --messages "$N" --pid "$pid" \
          --json "$RUN/side-$d-$c-$r.json" "${FILES[@]}" > "$RUN/side-$d-$c-$r.txt"
        echo "round $r, $c connection(s), $d: $(head -1 "$RUN/side-$d-$c-$r.txt")"
      done
    done
  done
  /usr/bin/python3 - "$RUN" "$ROUNDS" <<'PY'
import json, statistics, sys
run, rounds = sys.argv[1], int(sys.argv[2])
def med(d, c, f):
    return statistics.median(f(json.load(open(f"{run}/side-{d}-{c}-{r}.json"))) for r in range(1, rounds + 1))
print(f"{'medians of the rounds':<24} {'policy-milter':>14} {'rspamd':>10} {'ratio':>7} {'rspamd nodelay':>15} {'ratio':>7}")
for c in (1, 8):
    for label, f, better_high in (("msg/s", lambda j: j["msg_per_s"], True),
                                  ("p50 ms", lambda j: j["actions"]["all"]["p50"], False),
                                  ("p99 ms", lambda j: j["actions"]["all"]["p99"], False),
                                  ("daemon CPU ms/msg", lambda j: j["daemon_cpu_ms_per_msg"], False)):
        a = med("pm", c, f)
        row = f"{str(c) + ' conn ' + label:<24} {a:>14.2f}"
        for d, w in (("rspamd", 10), ("rspamd-nodelay", 15)):
            b = med(d, c, f)
            ratio = (a / b if better_high else b / a) if a and b else float("nan")
            row += f" {b:>{w}.2f} {ratio:>6.2f}x"
        print(row)
print("(ratio: how many times better policy-milter is; > 1 is ahead)")
PY
  kill "$MPID" "$RPID"; wait "$MPID" "$RPID" 2>/dev/null || true; MPID= RPID=
else
  echo "rspamd: not installed, no side-by-side comparison (targets without it: >= 1,000 msg/s at 8 connections)"
fi

# PM_BENCH_POSTFIX=0 leaves the Postfix rows out (e.g. when only Rspamd is compared).
if [ "${PM_BENCH_POSTFIX:-1}" = 1 ] && { [ "$(id -u)" -eq 0 ] && command -v postfix >/dev/null || [ -x /usr/sbin/postfix ]; }; then
  for c in 1 8; do
    echo "--- through a real Postfix, $c SMTP client(s)"
    # (A Postfix instance now and then fails to start on this shared machine: try twice.)
    bash "$ROOT/bench/postfix/run.sh" "$BUILD" "$((N / 2))" "$c" ||
      bash "$ROOT/bench/postfix/run.sh" "$BUILD" "$((N / 2))" "$c" || echo "(postfix bench failed)"
  done
fi
