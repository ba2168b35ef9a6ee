#!/usr/bin/env bash
# Milter-protocol benchmark: policy-milter driven by milter_bench (this folder), one
# connection per message like an MTA, on loopback.
#   bench/milter/run.sh [BUILD_DIR=build] [MESSAGES=2000]
# The daemon is pinned to CPU 0 and the generator to CPU 1 (taskset). Rows: 1 and 8
# concurrent connections over the corpus tests/corpus/{dev,heldout,attachments} (336
# real-looking messages, attachments included), per action p50/p95/p99 of the time from
# connect to the final answer, msg/s and the daemon's CPU per message. Held mail is stored
# in a quarantine on disk (the run directory). Then the same corpus through a real Postfix
# with and without the milter (bench/postfix/run.sh, when run as root with postfix
# installed). Rspamd is compared only when Debian's rspamd is installed (it is not needed).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build}
N=${2:-2000}
export CCACHE_DIR=${CCACHE_DIR:-/work/.ccache}
[ -f "$BUILD/build.ninja" ] || cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" --target policy-milter milter_bench >/dev/null
MILTER=$BUILD/milter/daemon/policy-milter
GEN=$BUILD/bench/milter/milter_bench
RUN=$(mktemp -d /tmp/pm-mbench.XXXXXX)
PORT=$((30000 + RANDOM % 20000))
cleanup() { [ -n "${MPID:-}" ] && kill "$MPID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$RUN"; }
trap cleanup EXIT
sed -e "s|^dir = \"../rules\"|dir = \"$ROOT/rules\"|" \
    -e "s|^socket = .*|socket = \"inet:$PORT@127.0.0.1\"|" \
    -e "s|^stats_file = .*|stats_file = \"$RUN/stats.json\"|" \
    -e "s|^cache_dir = .*|cache_dir = \"$RUN/cache\"|" \
    -e "s|^dir = \"/var/lib/policy-milter/quarantine\"|dir = \"$RUN/quarantine\"|" \
    "$ROOT/conf/policy-milter.toml" > "$RUN/p.toml"
PIN_D="taskset -c 0" PIN_G="taskset -c 1"
[ "$(nproc)" -ge 2 ] || PIN_D="" PIN_G=""
$PIN_D "$MILTER" --config "$RUN/p.toml" --foreground > "$RUN/milter.log" 2>&1 & MPID=$!
for _ in $(seq 1200); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
FILES=("$ROOT"/tests/corpus/{dev,heldout,attachments}/*.eml)
echo "corpus: ${#FILES[@]} messages; daemon pinned to CPU 0, generator to CPU 1"
$PIN_G "$GEN" --socket "inet:$PORT@127.0.0.1" --messages 300 "${FILES[@]}" > /dev/null  # warm-up
for c in 1 8; do
  $PIN_G "$GEN" --socket "inet:$PORT@127.0.0.1" --connections $c --messages "$N" --pid "$MPID" \
    --json "$RUN/milter-$c.json" "${FILES[@]}"
done
echo "daemon: $(grep -c ' msg queue=' "$RUN/milter.log") messages logged, peak RSS $(awk '/VmHWM/ {print $2/1024 " MB"}' /proc/$MPID/status)"
kill "$MPID"; wait "$MPID" 2>/dev/null || true; MPID=

if command -v rspamd >/dev/null; then
  echo "rspamd is installed: side-by-side comparison is not wired yet (see bench/README.md)"
else
  echo "rspamd: not installed, no side-by-side comparison (targets without it: >= 1,000 msg/s at 8 connections)"
fi

if [ "$(id -u)" -eq 0 ] && command -v postfix >/dev/null || [ -x /usr/sbin/postfix ]; then
  for c in 1 8; do
    echo "--- through a real Postfix, $c SMTP client(s)"
    bash "$ROOT/bench/postfix/run.sh" "$BUILD" "$((N / 4))" "$c" || echo "(postfix bench failed)"
  done
fi
