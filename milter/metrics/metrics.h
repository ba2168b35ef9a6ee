// Metrics: the daemon's counters in the Prometheus text exposition format (version 0.0.4),
// written by hand - a few maps under one mutex cost less than a client library and its
// registry (bench/README.md, "Metrics": the cost per message).
//
// What is counted, and the only label values there can be (never content, never an
// address - rule ids, category ids, recipient classes and outcome names are the project's
// own fixed vocabulary):
//   policy_milter_messages_total{action}            every message, by what the milter did
//   policy_milter_category_messages_total{category} messages whose verdict carries it
//   policy_milter_rule_messages_total{rule}         messages a rule's finding counted in
//   policy_milter_recipients_total{class}           recipients of scanned mail, by class
//   policy_milter_exceptions_total{exception}       uses of a configured exception (hook)
//   policy_milter_reloads_total{result}             ok | failed
//   policy_milter_scan_duration_seconds             histogram of the milter's time per message
//   policy_milter_<group>_<name>                    gauges (memory, connections, workers,
//                                                   quarantine health): set_gauges()
//
// Thread safety: every method may be called from any thread (one mutex).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace pm {

class Metrics {
 public:
  // Upper bounds (seconds) of the latency histogram's buckets; +Inf is implied.
  static constexpr std::array<double, 14> kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  Metrics();

  // One message: the milter's outcome ("accept", "tag", "quarantine", "split", "pass",
  // "tempfail", ...) and the time it spent on it.
  void record_message(std::string_view outcome, std::uint64_t elapsed_us);
  // What a scanned message's verdict said: its categories, the rule ids that counted
  // (unique) and each recipient's class.
  void record_verdict(const std::vector<std::string>& categories,
                      const std::vector<std::string>& rules,
                      const std::vector<std::string_view>& recipient_classes);
  // Hook for exceptions (issue 13, "Exceptions"): call once per exception a verdict
  // applied, with the exception's configured id.
  void record_exception(std::string_view exception_id);
  void record_reload(bool ok);
  // Gauges shown as policy_milter_<group>_<name> (e.g. "memory", {"in_use_bytes", 123}).
  void set_gauges(const std::string& group, const std::map<std::string, std::uint64_t>& values);
  void set_snapshot(const std::string& snapshot);

  // The whole exposition, as served at /metrics.
  std::string render() const;

 private:
  mutable std::mutex mu_;
  double started_at_;
  std::map<std::string, std::uint64_t, std::less<>> actions_, categories_, rules_, classes_,
      exceptions_;
  std::uint64_t reloads_ok_ = 0, reloads_failed_ = 0;
  std::array<std::uint64_t, kBuckets.size()> buckets_{};  // not cumulative; render() sums
  std::uint64_t count_ = 0;
  double sum_seconds_ = 0;
  std::map<std::string, std::map<std::string, std::uint64_t>> gauges_;
  std::string snapshot_;
};

}  // namespace pm
