#!/bin/sh
# The review page under 200 slow clients and one greedy client, three HTTP servers
# (bench/review/front_bench.cpp). usage: bench/review/run.sh [BUILD_DIR=build] [SLOW=200] [HEADER_MB=100]
set -e
B=${1:-build}
cmake --build "$B" --target front_bench >/dev/null
for m in httplib front mhd; do "$B/bench/review/front_bench" "$m" "${2:-200}" "${3:-100}"; done
