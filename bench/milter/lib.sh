# Sourced by the milter benches (bench/milter/run.sh, bench/engine/warm_start.sh), with ROOT,
# RUN (the run's private directory) and PORT set. Writes RUN/p.toml - the shipped
# configuration with the repository's rules, the milter on 127.0.0.1:PORT and its stats,
# cache and quarantine under RUN (never /var) - and sets PIN_D / PIN_G, the prefixes that
# put the daemon on CPU 0 and the load generator on CPU 1.
sed -e "s|^dir = \"../rules\"|dir = \"$ROOT/rules\"|" \
    -e "s|^socket = .*|socket = \"inet:$PORT@127.0.0.1\"|" \
    -e "s|^stats_file = .*|stats_file = \"$RUN/stats.json\"|" \
    -e "s|^cache_dir = .*|cache_dir = \"$RUN/cache\"|" \
    -e "s|^dir = \"/var/lib/policy-milter/quarantine\"|dir = \"$RUN/quarantine\"|" \
    "$ROOT/conf/policy-milter.toml" > "$RUN/p.toml"
# On a shared machine other jobs take the same cores: as root the bench raises its own
# priority (PM_BENCH_NICE, default -10; 0 = leave it), so the tail measures the milter.
NICE=${PM_BENCH_NICE:--10}
[ "$(id -u)" -eq 0 ] || NICE=0
PIN_D="nice -n $NICE taskset -c 0" PIN_G="nice -n $NICE taskset -c 1"
[ "$(nproc)" -ge 2 ] || PIN_D="nice -n $NICE" PIN_G="nice -n $NICE"
