// The cost of the daemon's metrics: per message (what Stats forwards from the milter's end
// of message: the outcome with its latency, and the verdict's categories, rules and
// recipient classes), on one thread and with 2 threads counting at once (the scan workers
// of a 2-core machine), and one scrape with 150 rules and 6 categories counted.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "metrics/metrics.h"

namespace {

pm::Metrics& shared() {
  static pm::Metrics m;
  return m;
}

void BM_RecordMessage(benchmark::State& state) {
  pm::Metrics& m = shared();
  const std::vector<std::string> categories = {"confidential"};
  const std::vector<std::string> rules = {"confidential.upn", "confidential.dob-with-name"};
  const std::vector<std::string_view> classes = {"external", "internal"};
  std::uint64_t us = 400;
  for (auto _ : state) {
    m.record_message("quarantine", us);
    m.record_verdict(categories, rules, classes);
    us = (us * 7 + 13) % 50000;  // spread over the buckets
  }
}
BENCHMARK(BM_RecordMessage);
BENCHMARK(BM_RecordMessage)->Threads(2);

void BM_Render(benchmark::State& state) {
  pm::Metrics m;
  std::vector<std::string> rules;
  for (int i = 0; i < 150; ++i)
    rules.push_back("category-" + std::to_string(i % 6) + ".rule-" + std::to_string(i));
  m.record_verdict(
      {"abusive", "confidential", "disrepute", "personal-link", "social-contact", "unscannable"},
      rules, {"internal", "pupil", "partner", "personal-webmail", "lookalike", "external"});
  for (const char* a : {"accept", "tag", "quarantine", "split", "pass", "tempfail"})
    m.record_message(a, 500);
  m.set_gauges("memory", {{"budget_bytes", 1}, {"in_use_bytes", 2}, {"peak_bytes", 3}});
  std::size_t bytes = 0;
  for (auto _ : state) {
    std::string s = m.render();
    bytes = s.size();
    benchmark::DoNotOptimize(s);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_Render);

}  // namespace

BENCHMARK_MAIN();
