// Stats: what `policyctl status` shows - messages by outcome and latency percentiles since
// start, the rules snapshot in use, reload results. The daemon writes them as JSON to the
// configured stats_file (atomically: temporary file + rename) every few seconds and after
// each reload; policyctl reads the file. Counts and ids only, no addresses.
// Every figure is also counted in metrics() (metrics/metrics.h), which the [metrics]
// listener serves in the Prometheus format, with what a verdict said (record_verdict).
//
// Thread safety: record_*() are called from every milter thread; all methods lock.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "engine/verdict.h"
#include "metrics/metrics.h"

namespace pm {

class Stats {
 public:
  Stats();
  // One message: outcome name ("accept", "tag", "quarantine", "split", "pass", "tempfail",
  // "tempfail-memory" (deferred: did not fit the memory budget then), "reject",
  // "error-accept") and the time the milter spent on it at end of message.
  void record_message(const std::string& outcome, std::uint64_t elapsed_us);
  void set_snapshot(const std::string& snapshot);
  void record_reload(bool ok, const std::string& error);
  // A group of named gauges/counters shown as they are (e.g. "memory": budget, in_use, ...).
  void set_figures(const std::string& group, std::map<std::string, std::uint64_t> figures);
  // What a scanned message's verdict said (metrics only): categories, the rule ids that
  // counted (unique), each recipient's class.
  void record_verdict(const Verdict& verdict, const std::vector<std::string>& rules);
  Metrics& metrics() { return metrics_; }

  // Adds `n` to counter `key` of group `group` (e.g. "exceptions", "dsl-referrals"),
  // shown with the figures. Counts and ids only.
  void add_count(const std::string& group, const std::string& key, std::uint64_t n = 1);

  // The JSON document written to the stats file.
  std::string to_json() const;
  // Writes to_json() to `path` via a temporary file and rename; false on failure.
  bool write(const std::filesystem::path& path) const;

 private:
  mutable std::mutex mu_;
  std::int64_t started_at_;
  std::map<std::string, std::uint64_t> by_outcome_;
  std::vector<std::uint32_t> latencies_us_;  // ring buffer of the last kWindow messages
  std::size_t next_ = 0;
  std::uint64_t total_ = 0;
  std::string snapshot_;
  std::uint64_t reloads_ok_ = 0, reloads_failed_ = 0;
  std::int64_t last_reload_at_ = 0;
  std::string last_reload_error_;
  std::map<std::string, std::map<std::string, std::uint64_t>> figures_;
  Metrics metrics_;  // its own lock
};

}  // namespace pm
