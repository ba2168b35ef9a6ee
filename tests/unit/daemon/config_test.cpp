// load_daemon_config: the shipped file loads; bad values are refused with file:line.
#include "daemon/config.h"

#include <gtest/gtest.h>

#include "daemon/outgoing.h"
#include "test_util.h"
#include "util/error.h"

namespace pm {
namespace {

TEST(DaemonConfig, ShippedConfigurationLoads) {
  DaemonConfig c = load_daemon_config(PM_SOURCE_DIR "/conf/policy-milter.toml");
  EXPECT_EQ(c.socket, "unix:/var/spool/postfix/policy-milter/milter.sock");
  EXPECT_EQ(c.on_error, OnError::tempfail);
  EXPECT_EQ(c.idle_timeout_seconds, 300u);
  EXPECT_EQ(c.max_connections, 1000u);
  EXPECT_EQ(c.scan_workers, 0u);
  EXPECT_EQ(c.memory_budget_bytes, std::size_t(1) << 30);
  EXPECT_EQ(c.scan_timeout_seconds, 30u);
  EXPECT_EQ(c.spill_bytes, 1048576u);
  EXPECT_FALSE(c.split_recipients);
  EXPECT_EQ(c.quarantine_dir, "/var/lib/policy-milter/quarantine");
  EXPECT_EQ(c.stats_file, "/run/policy-milter/stats.json");
  ASSERT_FALSE(c.domains.staff.empty());
  EXPECT_EQ(c.domains.staff[0], "stannes.example");
  EXPECT_TRUE(c.config_file.is_absolute());
}

TEST(DaemonConfig, RelativePathsAreRelativeToTheFile) {
  test::TempDir d;
  auto f = d.write("p.toml",
                   "[school]\nstaff_domains=[\"stannes.example\"]\n"
                   "[milter]\nstats_file=\"run/stats.json\"\nsplit_recipients=true\n"
                   "on_error=\"reject\"\n[quarantine]\ndir=\"q\"\n");
  DaemonConfig c = load_daemon_config(f);
  EXPECT_EQ(c.stats_file, d.path() / "run/stats.json");
  EXPECT_EQ(c.quarantine_dir, d.path() / "q");
  EXPECT_TRUE(c.split_recipients);
  EXPECT_EQ(c.on_error, OnError::reject);
  EXPECT_EQ(c.socket, "unix:/var/spool/postfix/policy-milter/milter.sock");  // default
}

void expect_refused_at(const std::string& text, int line) {
  test::TempDir d;
  auto f = d.write("bad.toml", text);
  try {
    load_daemon_config(f);
    ADD_FAILURE() << "accepted:\n" << text;
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.line(), line) << e.what();
    EXPECT_EQ(e.file(), f.string());
  }
}

TEST(DaemonConfig, RenamedKeyIsStillReadForOneRelease) {
  test::TempDir d;
  auto old_only = d.write("old.toml",
                          "[school]\nstaff_domains=[\"stannes.example\"]\n"
                          "[milter]\nmilter_timeout_seconds=77\n");
  EXPECT_EQ(load_daemon_config(old_only).idle_timeout_seconds, 77u);
  auto both = d.write("both.toml",
                      "[school]\nstaff_domains=[\"stannes.example\"]\n"
                      "[milter]\nmilter_timeout_seconds=77\nidle_timeout_seconds=90\n");
  EXPECT_EQ(load_daemon_config(both).idle_timeout_seconds, 90u);  // the new name wins
}

TEST(DaemonConfig, BadValuesAreRefusedWithFileAndLine) {
  const std::string school = "[school]\nstaff_domains=[\"stannes.example\"]\n";
  expect_refused_at(school + "[milter]\non_error=\"maybe\"\n", 4);
  expect_refused_at(school + "[milter]\nscan_timeout_seconds=0\n", 4);
  expect_refused_at(school + "[milter]\nsocket=\"tcp:1@x\"\n", 4);
  expect_refused_at(school + "[milter]\n\ninternal_networks=[\"10.0.0.0/40\"]\n", 5);
  expect_refused_at(school + "[milter]\nsplit_recipients=\"yes\"\n", 4);
  expect_refused_at(school + "[milter]\nmax_connections=0\n", 4);
  expect_refused_at(school + "[milter]\nmemory_budget_bytes=1024\n", 4);
  expect_refused_at(school + "[milter]\nscan_workers=-1\n", 4);
  expect_refused_at(school + "[milter\n", 3);  // TOML syntax
}

TEST(DaemonConfig, MissingFileIsAConfigError) {
  EXPECT_THROW(load_daemon_config("/nonexistent/policy-milter.toml"), ConfigError);
}

TEST(DaemonConfig, NoStaffDomainIsRefused) {
  test::TempDir d;
  EXPECT_THROW(load_daemon_config(d.write("p.toml", "[milter]\n")), ConfigError);
}

}  // namespace
}  // namespace pm

namespace pm {
namespace {

// [quarantine]: the put side's settings (issue 11).
TEST(DaemonConfig, EverySchoolsSendersAreStaffSenders) {
  test::TempDir d;
  auto f = d.write("trust.toml",
                   "[school]\npupil_domains=[\"pupils.trust.example\"]\n"
                   "[[schools]]\nid=\"st-annes\"\nstaff_domains=[\"stannes.example\"]\n"
                   "[[schools]]\nid=\"st-marys\"\nstaff_domains=[\"stmarys.example\"]\n"
                   "pupil_domains=[\"pupils.stmarys.example\"]\n");
  DaemonConfig c = load_daemon_config(f);
  EXPECT_EQ(c.domains.staff, (std::vector<std::string>{"stannes.example", "stmarys.example"}));
  EXPECT_EQ(c.domains.pupil,
            (std::vector<std::string>{"pupils.trust.example", "pupils.stmarys.example"}));
  ClientInfo local;
  local.local = true;
  EXPECT_TRUE(is_outgoing(local, "t.okafor@stmarys.example", c));
  EXPECT_TRUE(is_outgoing(local, "k.foley@stannes.example", c));
  EXPECT_FALSE(is_outgoing(local, "sam@pupils.stmarys.example", c));
  EXPECT_FALSE(is_outgoing(local, "someone@elsewhere.example", c));
  // [[schools]] with no staff domain anywhere is refused like [school] without one.
  expect_refused_at("[[schools]]\nid=\"a\"\n", 1);
}

TEST(DaemonConfig, QuarantinePutSettings) {
  DaemonConfig shipped = load_daemon_config(PM_SOURCE_DIR "/conf/policy-milter.toml");
  EXPECT_EQ(shipped.quarantine_put_timeout_ms, 20000u);
  EXPECT_TRUE(shipped.quarantine_integrity_check);
  EXPECT_EQ(shipped.quarantine_alert_to, std::vector<std::string>{"it.admin@stannes.example"});
  EXPECT_EQ(shipped.alert_smtp, "127.0.0.1:10026");  // [review].reinject

  test::TempDir d;
  auto f = d.write("p.toml",
                   "[school]\nstaff_domains=[\"stannes.example\"]\n"
                   "[quarantine]\nput_timeout_ms=1500\nintegrity_check=false\nalert_to=[]\n");
  DaemonConfig c = load_daemon_config(f);
  EXPECT_EQ(c.quarantine_put_timeout_ms, 1500u);
  EXPECT_FALSE(c.quarantine_integrity_check);
  EXPECT_TRUE(c.quarantine_alert_to.empty());
  auto bad =
      d.write("bad.toml",
              "[school]\nstaff_domains=[\"stannes.example\"]\n[quarantine]\nput_timeout_ms=5\n");
  try {
    load_daemon_config(bad);
    ADD_FAILURE() << "a 5 ms put timeout was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(":4:"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace pm
