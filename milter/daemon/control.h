// What `policyctl status` and `policyctl reload` do, as two functions the CLI calls
// (library pm_control; no libmilter). Both find the running daemon through the stats file
// named in the configuration ([milter].stats_file), which carries its pid.
//
//   policyctl_status  prints whether the daemon is up (pid alive and the stats file
//                     refreshed within 15 s), the rules snapshot, messages by action and
//                     latency percentiles, the memory budget (in use, peak, deferred,
//                     never fits), connections (served, waiting, closed) and scan workers.
//                     Returns 0 up, 1 down or stale, 2 bad config.
//   policyctl_reload  sends SIGHUP and waits (up to `wait_seconds`) for the daemon to
//                     report the reload: 0 reloaded, 1 refused (prints file:line), 2 bad
//                     config, 3 daemon not running, 4 no answer in time.
// Output goes to `out` / `err`; `json` prints the raw stats document instead of text.
#pragma once

#include <filesystem>
#include <iosfwd>

namespace pm {

int policyctl_status(const std::filesystem::path& config_file, std::ostream& out,
                     std::ostream& err, bool json = false);
// The pid of the policy-milter running with this configuration (its stats file names a
// live policy-milter process), or 0. For commands that must not run under it (restore).
long running_daemon_pid(const std::filesystem::path& config_file);
int policyctl_reload(const std::filesystem::path& config_file, std::ostream& out,
                     std::ostream& err, unsigned wait_seconds = 60);

}  // namespace pm
