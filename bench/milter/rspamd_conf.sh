#!/usr/bin/env bash
# Writes a content-only Rspamd configuration into DIR (never /etc): Debian's shipped rules
# and modules, one rspamd_proxy worker in milter mode scanning itself (self_scan, no
# normal worker, no controller), and every module that asks the network (DNS lists, SPF,
# DKIM/DMARC/ARC, fuzzy hashes, Redis-backed state) switched off, so both filters judge
# the same bytes with their own CPU only. hfilter and phishing too: both look host names
# up in the DNS (with phishing on, 42 of 200 corpus messages waited for a lookup's timeout).
#   bench/milter/rspamd_conf.sh DIR PORT
# Run: rspamd -f -i -c DIR/rspamd.conf --var=LOCAL_CONFDIR=DIR/local --var=DBDIR=DIR/db \
#        --var=RUNDIR=DIR --var=LOGDIR=DIR
set -euo pipefail
DIR=$1 PORT=$2
mkdir -p "$DIR/local/local.d" "$DIR/local/override.d" "$DIR/db"
cat > "$DIR/rspamd.conf" <<CONF
.include "\$CONFDIR/common.conf"
options {
  pidfile = "\$RUNDIR/rspamd.pid";
  .include "\$CONFDIR/options.inc"
  .include(try=true; priority=1,duplicate=merge) "\$LOCAL_CONFDIR/local.d/options.inc"
}
logging {
  type = "file";
  filename = "\$LOGDIR/rspamd.log";
  level = "error";
}
worker "rspamd_proxy" {
  bind_socket = "127.0.0.1:$PORT";
  milter = yes;
  timeout = 120s;
  upstream "local" { default = yes; self_scan = yes; }
  count = 1;
  max_retries = 5;
  discard_on_reject = false;
  quarantine_on_reject = false;
  spam_header = "X-Spam";
}
CONF
# No resolver to wait for, no maps fetched over HTTP.
cat > "$DIR/local/local.d/options.inc" <<'CONF'
dns { nameserver = ["127.0.0.1:1"]; timeout = 0.1s; retransmits = 0; }
map_watch_interval = 1d;
CONF
for m in antivirus arc asn bimi hfilter phishing clickhouse dcc dkim dkim_signing dmarc elastic emails \
         external_relay external_services fuzzy_check greylist history_redis maillist \
         metadata_exporter metric_exporter mx_check neural p0f ratelimit rbl replies \
         reputation rspamd_update spamtrap spf surbl url_redirector url_reputation \
         url_tags dynamic_conf; do
  echo "enabled = false;" > "$DIR/local/local.d/$m.conf"
done
echo "backend = \"sqlite3\"; enabled = false;" > "$DIR/local/local.d/classifier-bayes.conf"
