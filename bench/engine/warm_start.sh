#!/usr/bin/env bash
# Warm start to first verdict (issue 12): policy-milter started with its cache filled, timed
# from exec until milter_bench has the verdict of one message, the median of N starts.
#   bench/engine/warm_start.sh [BUILD_DIR=build] [N=9]
# Two modes, interleaved start by start so that the machine's load hits both alike:
#   databases - the cached Hyperscan databases only (the rule files parsed and checked
#               again: the warm start before the rule-set snapshot);
#   snapshot  - the rule-set snapshot too (match/rule_snapshot.h).
# The daemon runs on CPU 0 and the client on CPU 1 when there are two cores (at nice -10 as
# root: PM_BENCH_NICE). Then `Engine::load` alone in each mode, in process CPU time.
# (callgrind cannot count it here: under valgrind Hyperscan sees another CPU, so the
# databases cached for the real one do not apply and it compiles for minutes.)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build}
N=${2:-9}
[[ $BUILD = /* ]] || BUILD=$ROOT/$BUILD
[ -f "$BUILD/build.ninja" ] || cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPM_BUILD_BENCH=ON >/dev/null
cmake --build "$BUILD" --target policy-milter milter_bench engine_bench >/dev/null
MILTER=$BUILD/milter/daemon/policy-milter
GEN=$BUILD/bench/milter/milter_bench
RUN=$(mktemp -d /tmp/pm-warm.XXXXXX)
source "$ROOT/scripts/lib/ports.sh"
PORT=$(free_ports 1) || exit 1
cleanup() { [ -n "${MPID:-}" ] && kill "$MPID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$RUN"; }
trap cleanup EXIT
source "$ROOT/bench/milter/lib.sh"
MSG=$ROOT/tests/corpus/dev/$(ls "$ROOT/tests/corpus/dev" | grep '\.eml$' | head -1)

# One start: prints the ms from exec to the first verdict.
start_once() {
  local t0 ms
  t0=$(date +%s%N)
  $PIN_D "$MILTER" --config "$RUN/p.toml" --foreground >> "$RUN/milter.log" 2>&1 & MPID=$!
  until $PIN_G "$GEN" --socket "inet:$PORT@127.0.0.1" --messages 1 "$MSG" > /dev/null 2>&1; do
    kill -0 "$MPID" 2>/dev/null || { echo "policy-milter exited:" >&2; tail -5 "$RUN/milter.log" >&2; exit 1; }
    sleep 0.002
  done
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  kill "$MPID"; wait "$MPID" 2>/dev/null || true; MPID=
  echo "$ms"
}
drop_snapshot() { rm -f "$RUN"/cache/ruleset-*.snap; }
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

echo "filling the cache (a cold start compiles the rules)..."
start_once > /dev/null
declare -a DB SNAP
for i in $(seq "$N"); do
  drop_snapshot
  DB+=("$(start_once)")    # parses the rules, writes the snapshot again
  SNAP+=("$(start_once)")  # maps the snapshot
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "databases only: ${DB[*]} ms -> median $(printf '%s\n' "${DB[@]}" | median) ms"
echo "with snapshot:  ${SNAP[*]} ms -> median $(printf '%s\n' "${SNAP[@]}" | median) ms"

# The load alone, in CPU time of the whole process (less sensitive to the machine's load
# than the wall clock above): engine_bench's LoadParsed (databases cached, snapshot deleted
# before each load, so each also writes it) and LoadCached (both caches); their cache is
# BUILD/bench-fixtures/hscache, kept between runs.
PM_BENCH_FIXTURES=$BUILD/bench-fixtures "$BUILD/bench/engine/engine_bench" --benchmark_filter='Load(Parsed|Cached)' \
  --benchmark_repetitions=3 --benchmark_report_aggregates_only=true 2>/dev/null | grep -E '_median'
