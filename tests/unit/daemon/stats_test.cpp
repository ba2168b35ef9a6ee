// Stats and the policyctl status/reload functions that read them.
#include "daemon/stats.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "daemon/control.h"
#include "test_util.h"

namespace pm {
namespace {

TEST(Stats, CountsByOutcomeAndPercentiles) {
  Stats s;
  for (int i = 1; i <= 100; ++i) s.record_message(i <= 90 ? "accept" : "quarantine", i * 1000);
  s.set_snapshot("snap-7");
  s.record_reload(false, "rules/abusive.toml:12: bad pattern");
  auto j = nlohmann::json::parse(s.to_json());
  EXPECT_EQ(j["messages"], 100);
  EXPECT_EQ(j["by_action"]["accept"], 90);
  EXPECT_EQ(j["by_action"]["quarantine"], 10);
  EXPECT_EQ(j["snapshot"], "snap-7");
  EXPECT_NEAR(j["latency_ms"]["p50"].get<double>(), 50.0, 1.0);
  EXPECT_NEAR(j["latency_ms"]["p99"].get<double>(), 99.0, 1.0);
  EXPECT_EQ(j["latency_ms"]["max"], 100.0);
  EXPECT_EQ(j["reloads"]["failed"], 1);
  EXPECT_EQ(j["reloads"]["last_error"], "rules/abusive.toml:12: bad pattern");
}

TEST(Stats, WriteIsAtomicAndReadable) {
  test::TempDir d;
  Stats s;
  s.record_message("tag", 1500);
  ASSERT_TRUE(s.write(d.path() / "stats.json"));
  EXPECT_FALSE(std::filesystem::exists(d.path() / "stats.json.tmp"));
  std::ifstream in(d.path() / "stats.json");
  auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["by_action"]["tag"], 1);
  EXPECT_FALSE(s.write(d.path() / "missing-dir" / "stats.json"));
}

std::filesystem::path config_with_stats(const test::TempDir& d) {
  return d.write("p.toml", "[school]\nstaff_domains=[\"stannes.example\"]\n[milter]\nstats_file=\"stats.json\"\n");
}

TEST(Stats, FiguresGroupsAppearInTheDocument) {
  Stats s;
  s.set_figures("memory", {{"in_use_bytes", 5}, {"deferred", 2}});
  s.set_figures("memory", {{"in_use_bytes", 7}});  // a group is replaced whole
  auto j = nlohmann::json::parse(s.to_json());
  EXPECT_EQ(j["memory"]["in_use_bytes"], 7);
  EXPECT_FALSE(j["memory"].contains("deferred"));
}

TEST(Control, StatusWithoutADaemonSaysDown) {
  test::TempDir d;
  std::ostringstream out, err;
  EXPECT_EQ(policyctl_status(config_with_stats(d), out, err), 1);
  EXPECT_NE(out.str().find("down"), std::string::npos);
}

TEST(Control, StatusOfAStatsFileWhosePidIsNotTheDaemonSaysDown) {
  test::TempDir d;
  auto cfg = config_with_stats(d);
  Stats s;  // this test process is not "policy-milter"
  ASSERT_TRUE(s.write(d.path() / "stats.json"));
  std::ostringstream out, err;
  EXPECT_EQ(policyctl_status(cfg, out, err), 1);
  EXPECT_NE(out.str().find("down"), std::string::npos);
}

TEST(Control, ReloadWithoutADaemonFails) {
  test::TempDir d;
  std::ostringstream out, err;
  EXPECT_EQ(policyctl_reload(config_with_stats(d), out, err, 1), 3);
}

TEST(Control, BadConfigurationIsReported) {
  test::TempDir d;
  std::ostringstream out, err;
  EXPECT_EQ(policyctl_status(d.write("bad.toml", "[milter\n"), out, err), 2);
  EXPECT_NE(err.str().find("bad.toml:"), std::string::npos);
}

}  // namespace
}  // namespace pm
