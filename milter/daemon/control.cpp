#include "daemon/control.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>
#include <thread>

#include "daemon/config.h"
#include "util/error.h"

namespace pm {
namespace {

std::optional<nlohmann::json> read_stats(const std::filesystem::path& p) {
  std::ifstream in(p);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  auto j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

// The pid is a policy-milter process (not a recycled pid of something else).
bool daemon_alive(long pid) {
  if (pid <= 0 || ::kill(static_cast<pid_t>(pid), 0) != 0) return false;
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(comm, name);
  return name.rfind("policy-milter", 0) == 0;
}

// "2026-12-02 09:15:04 GMT" in the machine's time zone, for people reading `status`.
std::string local_time(std::int64_t epoch) {
  std::time_t t = static_cast<std::time_t>(epoch);
  std::tm tm{};
  char buf[64];
  if (epoch <= 0 || !::localtime_r(&t, &tm) ||
      !std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %Z", &tm))
    return "unknown";
  return buf;
}

}  // namespace

long running_daemon_pid(const std::filesystem::path& config_file) {
  try {
    auto stats = read_stats(load_daemon_config(config_file).stats_file);
    long pid = stats ? stats->value("pid", 0L) : 0L;
    return daemon_alive(pid) ? pid : 0;
  } catch (const std::exception&) {
    return 0;
  }
}

int policyctl_status(const std::filesystem::path& config_file, std::ostream& out, std::ostream& err,
                     bool json) {
  DaemonConfig cfg;
  try {
    cfg = load_daemon_config(config_file);
  } catch (const std::exception& e) {
    err << "policyctl: " << e.what() << "\n";
    return 2;
  }
  auto stats = read_stats(cfg.stats_file);
  if (!stats) {
    // --json stays JSON when the daemon is down: a monitoring script parses every answer.
    if (json)
      out << nlohmann::json{{"state", "down"}, {"stats_file", cfg.stats_file.string()}}.dump(2)
          << "\n";
    else
      out << "policy-milter: down (no stats file " << cfg.stats_file.string()
          << "): Postfix defers all outgoing mail\n";
    return 1;
  }
  long pid = stats->value("pid", 0L);
  std::int64_t age =
      static_cast<std::int64_t>(std::time(nullptr)) - stats->value("updated_at", std::int64_t{0});
  bool alive = daemon_alive(pid);
  bool fresh = age <= 15;
  if (json) {
    (*stats)["state"] = !alive ? "down" : fresh ? "up" : "stale";
    out << stats->dump(2) << "\n";
    return alive && fresh ? 0 : 1;
  }
  if (!alive) {
    out << "policy-milter: down (pid " << pid
        << " not running): Postfix defers all outgoing mail\n";
    return 1;
  }
  out << "policy-milter: "
      << (fresh ? "up" : "STALE (stats not refreshed for " + std::to_string(age) + " s)")
      << ", pid " << pid << ", since " << local_time(stats->value("started_at", std::int64_t{0}))
      << "\n";
  out << "rules snapshot: " << stats->value("snapshot", std::string()) << "\n";
  out << "messages: " << stats->value("messages", std::uint64_t{0});
  if (stats->contains("by_action"))
    for (auto& [k, v] : (*stats)["by_action"].items()) out << "  " << k << "=" << v;
  out << "\n";
  if (stats->contains("latency_ms")) {
    auto& l = (*stats)["latency_ms"];
    out << "latency ms: p50=" << l.value("p50", 0.0) << " p90=" << l.value("p90", 0.0)
        << " p99=" << l.value("p99", 0.0) << " max=" << l.value("max", 0.0) << "\n";
  }
  // Figures the daemon publishes (memory budget, connections, scan workers).
  auto mib = [](std::uint64_t b) { return std::to_string((b + (1u << 19)) >> 20) + " MiB"; };
  if (stats->contains("memory")) {
    auto& m = (*stats)["memory"];
    out << "memory for scans: " << mib(m.value("in_use_bytes", std::uint64_t{0})) << " in use of "
        << mib(m.value("budget_bytes", std::uint64_t{0})) << " (peak "
        << mib(m.value("peak_bytes", std::uint64_t{0})) << "); deferred (did not fit then) "
        << m.value("deferred", 0) << ", unscannable (never fits) " << m.value("never_fit", 0)
        << "\n";
  }
  if (stats->contains("connections")) {
    auto& c = (*stats)["connections"];
    out << "connections: " << c.value("active", 0) << " served, " << c.value("waiting", 0)
        << " waiting for their first command; closed silent " << c.value("closed_silent", 0)
        << ", closed over the limit " << c.value("closed_over_limit", 0) << "\n";
  }
  if (stats->contains("workers")) {
    auto& w = (*stats)["workers"];
    out << "scan workers: " << w.value("busy", 0) << " busy of " << w.value("workers", 0)
        << ", queued " << w.value("queued_small", 0) << " small + " << w.value("queued_large", 0)
        << " large\n";
  }
  if (stats->contains("reloads")) {
    auto& r = (*stats)["reloads"];
    out << "reloads: ok=" << r.value("ok", 0) << " failed=" << r.value("failed", 0);
    std::string e = r.value("last_error", std::string());
    if (!e.empty()) out << "  last refused: " << e;
    out << "\n";
  }
  return fresh ? 0 : 1;
}

int policyctl_reload(const std::filesystem::path& config_file, std::ostream& out, std::ostream& err,
                     unsigned wait_seconds) {
  DaemonConfig cfg;
  try {
    cfg = load_daemon_config(config_file);
  } catch (const std::exception& e) {
    err << "policyctl: " << e.what() << "\n";
    return 2;
  }
  auto before = read_stats(cfg.stats_file);
  long pid = before ? before->value("pid", 0L) : 0;
  if (!before || !daemon_alive(pid)) {
    err << "policyctl: policy-milter is not running\n";
    return 3;
  }
  auto count = [](const nlohmann::json& j, const char* key) -> std::uint64_t {
    return j.contains("reloads") ? j["reloads"].value(key, std::uint64_t{0}) : 0;
  };
  std::uint64_t ok0 = count(*before, "ok"), failed0 = count(*before, "failed");
  if (::kill(static_cast<pid_t>(pid), SIGHUP) != 0) {
    err << "policyctl: cannot signal pid " << pid << "\n";
    return 3;
  }
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(wait_seconds);
  while (std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto now = read_stats(cfg.stats_file);
    if (!now) continue;
    if (count(*now, "ok") > ok0) {
      out << "reloaded: snapshot " << now->value("snapshot", std::string()) << "\n";
      return 0;
    }
    if (count(*now, "failed") > failed0) {
      err << "reload refused, old rules keep running: "
          << (*now)["reloads"].value("last_error", std::string()) << "\n";
      return 1;
    }
  }
  err << "policyctl: no answer from policy-milter within " << wait_seconds << " s\n";
  return 4;
}

}  // namespace pm
