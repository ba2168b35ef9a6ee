# Helpers for a private Postfix instance on loopback, wired to policy-milter, for the
# quick start, the end-to-end test and the benchmark. Source this file; needs root and
# the `postfix` package. Leaves /etc/postfix alone: everything lives under $PF_DIR.
#
#   pf_setup DIR SMTP_PORT MILTER_SPEC SINK_PORT REINJECT_PORT
#       DIR/etc     main.cf + master.cf (MAIL_CONFIG)
#       DIR/spool   queue directory;  DIR/maillog  Postfix's log (no syslog needed)
#       mail to any domain is relayed to the loopback sink on SINK_PORT (the "mailbox");
#       REINJECT_PORT is the listener that skips the milter (released mail).
#   pf_start DIR / pf_stop DIR / pf_flush DIR / pf_queue_count DIR
# No systemd, no chroot (so nothing needs copying into a jail).

source "$(dirname "${BASH_SOURCE[0]}")/ports.sh"  # free_ports

pf_postconf() { postconf -c "$PF_ETC" "$@"; }

pf_setup() {
  local dir=$1 smtp_port=$2 milter=$3 sink_port=$4 reinject_port=$5
  PF_DIR=$dir PF_ETC=$dir/etc
  mkdir -p "$PF_ETC" "$dir/spool" "$dir/data"
  cp /etc/postfix/master.cf "$PF_ETC/master.cf"
  : > "$PF_ETC/main.cf"
  # Postfix wants its queue and data directories owned by its own user.
  chown root:root "$dir/spool"
  chown postfix:postfix "$dir/data"
  pf_postconf -e \
    "compatibility_level = 3.6" \
    "queue_directory = $dir/spool" \
    "data_directory = $dir/data" \
    "mail_owner = postfix" "setgid_group = postdrop" \
    "myhostname = mx.stannes.example" "mydomain = stannes.example" \
    "mydestination =" "local_recipient_maps =" "relay_domains =" \
    "inet_interfaces = 127.0.0.1" "inet_protocols = ipv4" \
    "mynetworks = 127.0.0.0/8" \
    "smtpd_relay_restrictions = permit_mynetworks, reject" \
    "relayhost = [127.0.0.1]:$sink_port" \
    "default_transport = smtp" "relay_transport = smtp" \
    "smtp_tls_security_level = none" "smtpd_tls_security_level = none" \
    "maillog_file_prefixes = $dir" "maillog_file = $dir/maillog" \
    "alias_maps =" "alias_database =" \
    "smtpd_milters = $milter" "non_smtpd_milters = $milter" \
    "milter_default_action = tempfail" "milter_protocol = 6" \
    "milter_connect_timeout = 5s" "milter_command_timeout = 30s" "milter_content_timeout = 120s" \
    "milter_mail_macros = i {auth_type} {auth_authen} {auth_author} {mail_addr}" \
    "milter_end_of_data_macros = i" \
    "smtpd_client_connection_count_limit = 0" "smtpd_client_connection_rate_limit = 0" \
    "default_process_limit = 60" \
    "queue_run_delay = 5s" "minimal_backoff_time = 2s" "maximal_backoff_time = 10s" \
    "smtp_connect_timeout = 5s" "smtpd_error_sleep_time = 0" "in_flow_delay = 0" \
    "message_size_limit = 104857600" \
    "smtpd_banner = \$myhostname ESMTP" \
    "biff = no" "shlib_directory = /usr/lib/postfix" "meta_directory = /etc/postfix"
  # No chroot (nothing to copy into a jail); SMTP on loopback ports only.
  pf_postconf -M -X smtp/inet 2>/dev/null || true
  pf_postconf -M "127.0.0.1:$smtp_port/inet=127.0.0.1:$smtp_port inet n - n - - smtpd"
  pf_postconf -M "127.0.0.1:$reinject_port/inet=127.0.0.1:$reinject_port inet n - n - - smtpd"
  pf_postconf -P "127.0.0.1:$reinject_port/inet/smtpd_milters=" \
                 "127.0.0.1:$reinject_port/inet/non_smtpd_milters=" \
                 "127.0.0.1:$reinject_port/inet/syslog_name=postfix/reinject"
  pf_postconf -F '*/*/chroot = n'
  # Services we do not need here and that want extra setup.
  for s in submission/inet smtps/inet submissions/inet; do pf_postconf -M -X "$s" 2>/dev/null || true; done
}

pf_start() {
  PF_DIR=$1 PF_ETC=$1/etc
  # Postfix prints fatal errors only to a terminal (or syslog): show them via script(1).
  postfix -c "$PF_ETC" check >/dev/null 2>&1 || { script -qc "postfix -c $PF_ETC check" /dev/null >&2; return 1; }
  postfix -c "$PF_ETC" start >/dev/null 2>&1 && return 0
  # The master says why it failed only on a terminal: once more under script(1), so the
  # reason reaches the test's output (and a passing refusal gets a second chance).
  sleep 1
  script -qec "postfix -c $PF_ETC start" /dev/null >&2 && return 0
  tail -20 "$PF_DIR/maillog" >&2
  # Without syslog the master's own reason is lost; the usual one is a listen port taken.
  local port
  for port in $(pf_postconf -M | sed -n 's/^127\.0\.0\.1:\([0-9]*\)[[:space:]]\+inet.*/\1/p'); do
    python3 -c "import socket,sys; socket.socket().bind(('127.0.0.1', int(sys.argv[1])))" "$port" 2>/dev/null ||
      echo "pf_start: port $port on 127.0.0.1 is in use: $(ss -Htan "sport = :$port" 2>/dev/null | head -3 | tr -s ' ')" >&2
  done
  return 1
}

pf_stop() {
  PF_DIR=$1 PF_ETC=$1/etc
  postfix -c "$PF_ETC" stop >/dev/null 2>&1 || true
  # `postfix stop` returns before master exits; wait for its pid file to go.
  for _ in $(seq 50); do [ -e "$PF_DIR/spool/pid/master.pid" ] && kill -0 "$(cat "$PF_DIR/spool/pid/master.pid" 2>/dev/null)" 2>/dev/null || return 0; sleep 0.1; done
}

pf_flush() { postqueue -c "$1/etc" -f >/dev/null 2>&1 || true; }

# Messages still in the queue (deferred or active).
pf_queue_count() {
  local n
  n=$(find "$1/spool/deferred" "$1/spool/active" "$1/spool/incoming" "$1/spool/maildrop" -type f 2>/dev/null | wc -l)
  echo "$n"
}

# Waits until TCP port $1 on loopback accepts connections (max $2 seconds). With a pid as
# $3, gives up as soon as that process has exited (a daemon that refused its configuration
# is reported at once, not after a generous deadline).
wait_port() {
  local port=$1 max=${2:-20} pid=${3:-} i
  for i in $(seq $((max * 10))); do
    (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && return 0
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    sleep 0.1
  done
  return 1
}
