#!/usr/bin/env bash
# Engine benchmark: builds engine_bench, makes the attachment fixtures, runs every benchmark
# on one thread and prints a summary table (about 2-3 minutes on the 2-core machine).
#   bench/engine/run.sh [BUILD_DIR=build] [extra google-benchmark flags...]
# e.g. bench/engine/run.sh build-bench --benchmark_filter=Newsletter
# The full JSON goes to BUILD_DIR/engine_bench.json. Rates (MB/s, msgs/s) are per CPU
# second, so other load on the machine inflates wall time but not the rates much.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$ROOT/build}
[[ $# -gt 0 ]] && shift
[[ $BUILD = /* ]] || BUILD=$ROOT/$BUILD
if [[ ! -f $BUILD/CMakeCache.txt ]]; then
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DPM_BUILD_TESTS=OFF -DPM_BUILD_BENCH=ON >/dev/null
fi
cmake --build "$BUILD" -j2 --target engine_bench
/usr/bin/python3 "$ROOT/bench/engine/make_fixtures.py" "$BUILD/bench-fixtures"
cd "$ROOT"
PM_BENCH_FIXTURES="$BUILD/bench-fixtures" "$BUILD/bench/engine/engine_bench" \
  --benchmark_out="$BUILD/engine_bench.json" --benchmark_out_format=json "$@" >&2
/usr/bin/python3 - "$BUILD/engine_bench.json" <<'EOF'
import json, sys
runs = json.load(open(sys.argv[1]))["benchmarks"]
def f(v, fmt):
    return "" if v is None else fmt % v
print()
print(f"{'benchmark':<26} {'CPU ms/iter':>11} {'msgs/s':>9} {'MB/s':>7} {'peak RSS MB':>11} {'scan RSS MB':>11}  verdict")
for r in runs:
    if r.get("error_occurred"):
        print(f"{r['name']:<26} ERROR {r.get('error_message', '')}")
        continue
    name = r["name"].split("/min_time")[0].split("/iterations")[0]
    label = r.get("label", "")
    if " -> " in label:
        what, verdict = label.split(" -> ", 1)
        name = name.split("/")[0].replace("BM_", "") + ":" + what.replace("attach-", "").replace(".eml", "")
    else:
        verdict = label
        name = name.replace("BM_", "")
    ms = r["cpu_time"] * {"ns": 1e-6, "us": 1e-3, "ms": 1, "s": 1e3}[r["time_unit"]]
    if r.get("idle_RSS_MB") is not None:  # LargeDocument: what the process keeps after it
        verdict += f"  (RSS after {r['after_RSS_MB']:.1f} MB, idle {r['idle_RSS_MB']:.1f} MB)"
    print(f"{name:<26} {ms:>11.3f} {f(r.get('msgs/s'), '%9.1f'):>9} {f(r.get('MB/s'), '%7.2f'):>7} "
          f"{f(r.get('peak_RSS_MB'), '%11.1f'):>11} {f(r.get('scan_RSS_MB'), '%11.1f'):>11}  {verdict}")
EOF
