// DaemonConfig: the daemon's own settings, read from the same policy-milter.toml the
// engine reads ([milter], [quarantine], and [school] domains for "is this outgoing?").
//
// Relative paths are taken relative to the configuration file's directory. Unknown keys
// are left to the engine's linter (`policyctl rules check`).
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
  std::string socket = "inet:8894@127.0.0.1";
  OnError on_error = OnError::tempfail;
  unsigned scan_timeout_seconds = 30;
  unsigned milter_timeout_seconds = 120;
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
  std::string alert_smtp = "127.0.0.1:10026";
  std::string alert_from = "mail-policy@stannes.example";
  RecipientDomains domains;  // staff / pupil / lists: who counts as a staff sender
};

DaemonConfig load_daemon_config(const std::filesystem::path& file);

}  // namespace pm
