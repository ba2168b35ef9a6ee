#include "metrics/metrics.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace pm {
namespace {

// Label values are ids from the project's vocabulary, but escape anyway (the format's own
// rules: backslash, quote, newline), so a malformed id can never break the exposition.
void label_value(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

// Metric names allow [a-zA-Z0-9_:]; anything else in a gauge's group or name becomes '_'.
std::string metric_name(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
      c = '_';
  return out;
}

void family(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void sample(std::string& out, const char* name, const char* label, std::string_view value,
            std::uint64_t n) {
  out += name;
  if (label) {
    out += '{';
    out += label;
    out += "=\"";
    label_value(out, value);
    out += "\"}";
  }
  out += ' ';
  out += std::to_string(n);
  out += '\n';
}

void counters(std::string& out, const char* name, const char* label, const char* help,
              const std::map<std::string, std::uint64_t, std::less<>>& m) {
  family(out, name, "counter", help);
  for (const auto& [k, v] : m) sample(out, name, label, k, v);
}

void bump(std::map<std::string, std::uint64_t, std::less<>>& m, std::string_view key) {
  auto it = m.find(key);
  if (it == m.end()) it = m.emplace(std::string(key), 0).first;
  ++it->second;
}

std::string number(double d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", d);
  return buf;
}

}  // namespace

Metrics::Metrics()
    : started_at_(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
                      .count()) {}

void Metrics::record_message(std::string_view outcome, std::uint64_t elapsed_us) {
  const double s = static_cast<double>(elapsed_us) / 1e6;
  const auto b = std::lower_bound(kBuckets.begin(), kBuckets.end(), s) - kBuckets.begin();
  std::lock_guard lock(mu_);
  bump(actions_, outcome);
  if (static_cast<std::size_t>(b) < kBuckets.size()) ++buckets_[static_cast<std::size_t>(b)];
  ++count_;
  sum_seconds_ += s;
}

void Metrics::record_verdict(const std::vector<std::string>& categories,
                             const std::vector<std::string>& rules,
                             const std::vector<std::string_view>& recipient_classes) {
  std::lock_guard lock(mu_);
  for (const auto& c : categories) bump(categories_, c);
  for (const auto& r : rules) bump(rules_, r);
  for (auto c : recipient_classes) bump(classes_, c);
}

void Metrics::record_exception(std::string_view exception_id) {
  std::lock_guard lock(mu_);
  bump(exceptions_, exception_id);
}

void Metrics::record_reload(bool ok) {
  std::lock_guard lock(mu_);
  ++(ok ? reloads_ok_ : reloads_failed_);
}

void Metrics::set_gauges(const std::string& group,
                         const std::map<std::string, std::uint64_t>& values) {
  std::lock_guard lock(mu_);
  gauges_[group] = values;
}

void Metrics::set_snapshot(const std::string& snapshot) {
  std::lock_guard lock(mu_);
  snapshot_ = snapshot;
}

std::string Metrics::render() const {
  std::string out;
  out.reserve(8192);
  std::lock_guard lock(mu_);
  counters(out, "policy_milter_messages_total", "action",
           "Messages by what the milter did (accept, tag, quarantine, split, pass = not "
           "outgoing, tempfail, ...).",
           actions_);
  counters(out, "policy_milter_category_messages_total", "category",
           "Scanned messages whose verdict carries the category.", categories_);
  counters(out, "policy_milter_rule_messages_total", "rule",
           "Scanned messages in which a finding of the rule counted.", rules_);
  counters(out, "policy_milter_recipients_total", "class",
           "Recipients of scanned messages, by recipient class.", classes_);
  counters(out, "policy_milter_exceptions_total", "exception",
           "Messages a configured exception applied to.", exceptions_);
  family(out, "policy_milter_reloads_total", "counter", "Reloads of rules and configuration.");
  sample(out, "policy_milter_reloads_total", "result", "ok", reloads_ok_);
  sample(out, "policy_milter_reloads_total", "result", "failed", reloads_failed_);

  const char* h = "policy_milter_scan_duration_seconds";
  family(out, h, "histogram", "Time the milter spent on a message at end of data.");
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    cumulative += buckets_[i];
    out += h;
    out += "_bucket{le=\"" + number(kBuckets[i]) + "\"} " + std::to_string(cumulative) + "\n";
  }
  out += h;
  out += "_bucket{le=\"+Inf\"} " + std::to_string(count_) + "\n";
  out += h;
  out += "_sum " + number(sum_seconds_) + "\n";
  out += h;
  out += "_count " + std::to_string(count_) + "\n";

  for (const auto& [group, values] : gauges_)
    for (const auto& [name, v] : values) {
      std::string n = "policy_milter_" + metric_name(group) + "_" + metric_name(name);
      family(out, n.c_str(), "gauge", ("policyctl status figure " + group + "." + name).c_str());
      sample(out, n.c_str(), nullptr, {}, v);
    }
  family(out, "policy_milter_start_time_seconds", "gauge", "When the daemon started (unix time).");
  out += "policy_milter_start_time_seconds " + number(started_at_) + "\n";
  family(out, "policy_milter_snapshot_info", "gauge", "The rules snapshot in use (its id).");
  sample(out, "policy_milter_snapshot_info", "snapshot", snapshot_, 1);
  return out;
}

}  // namespace pm
