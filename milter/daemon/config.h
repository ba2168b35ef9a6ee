// DaemonConfig: the daemon's own settings, read from the same policy-milter.toml the
// engine reads ([milter], [quarantine], and [school] domains for "is this outgoing?").
//
// Relative paths are taken relative to the configuration file's directory. The file is
// checked against the schema (config/schema.h) first: unknown keys, wrong types and
// out-of-range values are refused before anything is read.
//
// Errors: load_daemon_config() throws ConfigError("file:line: ...") on a missing file, a
// TOML syntax error or a value of the wrong type/range; nothing is half-applied.
// Thread safety: an immutable value once loaded; shared by pointer between threads.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "daemon/networks.h"
#include "policy/recipients.h"

namespace pm {

enum class OnError { tempfail, reject, accept };
const char* to_string(OnError e);

struct DaemonConfig {
  std::filesystem::path config_file;  // absolute
  // Under Postfix's queue directory (smtpd is chrooted there); Postfix reaches it through
  // membership of the daemon's group (`adduser postfix policy-milter`).
  std::string socket = "unix:/var/spool/postfix/policy-milter/milter.sock";
  OnError on_error = OnError::tempfail;
  unsigned scan_timeout_seconds = 30;
  // A connection with no command for this long is closed (libmilter's I/O timeout).
  // Postfix may sit between commands as long as its SMTP client does (smtpd_timeout).
  unsigned idle_timeout_seconds = 300;
  // A new connection that sends nothing (not even the option negotiation Postfix sends at
  // once) is closed after this long; until then it costs a descriptor, not a thread.
  unsigned handshake_timeout_seconds = 10;
  // Connections served at once; more wait (up to handshake_timeout_seconds) for a slot.
  unsigned max_connections = 1000;
  // Scan workers; 0 = one per core. Mail of large_message_bytes or more runs on at most
  // all but one of them, so small mail always has a worker.
  unsigned scan_workers = 0;
  std::size_t large_message_bytes = 2u << 20;
  // Memory for messages being scanned: each reserves scan_memory_factor x its size (plus
  // 1 MiB) before its scan. One that does not fit now is deferred (4xx); one that could
  // never fit is `unscannable`.
  std::size_t memory_budget_bytes = std::size_t(1) << 30;
  unsigned scan_memory_factor = 20;
  std::size_t spill_bytes = 1u << 20;
  std::filesystem::path spill_dir = "/tmp";  // PrivateTmp under systemd
  bool split_recipients = false;
  std::vector<Network> internal_networks;  // loopback is always added
  std::filesystem::path stats_file = "/run/policy-milter/stats.json";
  std::filesystem::path cache_dir = "/var/cache/policy-milter";
  std::filesystem::path quarantine_dir = "/var/lib/policy-milter/quarantine";
  // The put side of the store ([quarantine], issue 11): how long a held message may wait
  // for the index before it is deferred, the start-up integrity check, and who is told
  // (by mail through [review].reinject, from [review].notice_from) when quarantining stops.
  unsigned quarantine_put_timeout_ms = 20000;
  bool quarantine_integrity_check = true;
  std::vector<std::string> quarantine_alert_to;
  // Which store (issue 15): "sqlite" (quarantine_dir) or "postgresql" (quarantine_dsn),
  // with the PostgreSQL pool size and query timeout (quarantine/open_store.h).
  std::string quarantine_backend = "sqlite";
  std::string quarantine_dsn;
  unsigned quarantine_pg_connections = 4;
  unsigned quarantine_pg_query_timeout_ms = 10000;
  std::string alert_smtp = "127.0.0.1:10026";
  std::string alert_from = "mail-policy@stannes.example";
  RecipientDomains domains;  // staff / pupil / lists: who counts as a staff sender
};

DaemonConfig load_daemon_config(const std::filesystem::path& file);

}  // namespace pm
