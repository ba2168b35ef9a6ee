#include "daemon/stats.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <nlohmann/json.hpp>

namespace pm {
namespace {
constexpr std::size_t kWindow = 10000;  // percentiles over the last 10,000 messages
std::int64_t now_s() {
  return static_cast<std::int64_t>(std::time(nullptr));
}
}  // namespace

Stats::Stats() : started_at_(now_s()) {
  latencies_us_.reserve(kWindow);
}

void Stats::record_message(const std::string& outcome, std::uint64_t elapsed_us) {
  metrics_.record_message(outcome, elapsed_us);
  std::lock_guard lock(mu_);
  ++by_outcome_[outcome];
  ++total_;
  auto v = static_cast<std::uint32_t>(std::min<std::uint64_t>(elapsed_us, UINT32_MAX));
  if (latencies_us_.size() < kWindow) {
    latencies_us_.push_back(v);
  } else {
    latencies_us_[next_] = v;
    next_ = (next_ + 1) % kWindow;
  }
}

void Stats::set_snapshot(const std::string& snapshot) {
  metrics_.set_snapshot(snapshot);
  std::lock_guard lock(mu_);
  snapshot_ = snapshot;
}

void Stats::record_reload(bool ok, const std::string& error) {
  metrics_.record_reload(ok);
  std::lock_guard lock(mu_);
  (ok ? reloads_ok_ : reloads_failed_)++;
  last_reload_at_ = now_s();
  last_reload_error_ = ok ? "" : error;
}

void Stats::record_verdict(const Verdict& verdict, const std::vector<std::string>& rules) {
  std::vector<std::string_view> classes;
  classes.reserve(verdict.recipients.size());
  for (const auto& r : verdict.recipients) classes.emplace_back(to_string(r.cls));
  metrics_.record_verdict(verdict.categories, rules, classes);
  // Each exception the verdict applied (issue 13): its name, an id from the configuration.
  for (const auto& e : verdict.exceptions) metrics_.record_exception(e.name);
}

void Stats::set_figures(const std::string& group, std::map<std::string, std::uint64_t> figures) {
  metrics_.set_gauges(group, figures);
  std::lock_guard lock(mu_);
  figures_[group] = std::move(figures);
}

void Stats::add_count(const std::string& group, const std::string& key, std::uint64_t n) {
  std::lock_guard lock(mu_);
  figures_[group][key] += n;
}

std::string Stats::to_json() const {
  std::lock_guard lock(mu_);
  nlohmann::json j;
  j["pid"] = static_cast<long>(::getpid());
  j["started_at"] = started_at_;
  j["updated_at"] = now_s();
  j["snapshot"] = snapshot_;
  j["messages"] = total_;
  j["by_action"] = by_outcome_;
  std::vector<std::uint32_t> sorted = latencies_us_;
  std::sort(sorted.begin(), sorted.end());
  auto pct = [&](double p) -> double {
    if (sorted.empty()) return 0.0;
    std::size_t i = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
    return sorted[i] / 1000.0;
  };
  j["latency_ms"] = {{"p50", pct(0.50)},
                     {"p90", pct(0.90)},
                     {"p99", pct(0.99)},
                     {"max", sorted.empty() ? 0.0 : sorted.back() / 1000.0},
                     {"window", sorted.size()}};
  j["reloads"] = {{"ok", reloads_ok_},
                  {"failed", reloads_failed_},
                  {"last_at", last_reload_at_},
                  {"last_error", last_reload_error_}};
  for (const auto& [group, figures] : figures_) j[group] = figures;
  return j.dump(2) + "\n";
}

bool Stats::write(const std::filesystem::path& path) const {
  std::string doc = to_json();
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  bool ok = ::write(fd, doc.data(), doc.size()) == static_cast<ssize_t>(doc.size());
  ok = (::close(fd) == 0) && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return false;
  }
  return true;
}

}  // namespace pm
