// The policyctl contract: one JSON object per file per line, a clear error and non-zero
// exit for a file that cannot be read while the others are still scanned, and
// `rules check` passing on the shipped rules and failing with file:line on a broken one.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "../policyctl_run.h"

namespace {

using pm::test::Output;
Output run(const std::string& args) {
  return pm::test::policyctl(args);
}

const std::string kSrc = PM_SOURCE_DIR;

TEST(Policyctl, JsonIsOneObjectPerFileAndBadFilesDoNotStopTheRest) {
  std::string a = kSrc + "/tests/corpus/dev/001-appraisal-targets-internal.eml";
  std::string b = kSrc + "/tests/corpus/dev/002-computing-youtube-vlog-to-la.eml";
  Output r = run("--config " + kSrc + "/conf/policy-milter.toml scan --json " + a +
                 " /nonexistent.eml " + b + " 2>/tmp/policyctl_test.err");
  EXPECT_EQ(r.status, 1);
  std::istringstream lines(r.out);
  std::string line;
  std::vector<nlohmann::json> objs;
  while (std::getline(lines, line)) objs.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(objs.size(), 2u);
  for (const auto& o : objs) {
    for (const char* k :
         {"file", "action", "categories", "recipients", "notes", "findings", "elapsed_us"})
      EXPECT_TRUE(o.contains(k)) << k;
    for (const auto& f : o["findings"])
      for (const char* k : {"rule", "category", "clause", "origin", "start", "end", "evidence"})
        EXPECT_TRUE(f.contains(k)) << k;
  }
  EXPECT_EQ(objs[0]["file"], a);
  EXPECT_EQ(objs[1]["file"], b);
  std::ifstream err("/tmp/policyctl_test.err");
  std::string e((std::istreambuf_iterator<char>(err)), {});
  EXPECT_NE(e.find("/nonexistent.eml"), std::string::npos) << e;
}

TEST(Policyctl, ExplainShowsRuleAndEvidence) {
  Output r = run("--config " + kSrc + "/conf/policy-milter.toml scan --explain " + kSrc +
                 "/tests/corpus/dev/002-computing-youtube-vlog-to-la.eml");
  EXPECT_EQ(r.status, 4);  // the worst verdict is quarantine (issue 13)
  EXPECT_NE(r.out.find("personal-link."), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[["), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("policy:"), std::string::npos) << r.out;
}

TEST(Policyctl, RulesCheckPassesAndFailsWithFileLine) {
  Output ok = run("--config " + kSrc + "/conf/policy-milter.toml rules check");
  EXPECT_EQ(ok.status, 0) << ok.out;
  // A copy of the configuration and rules with one broken rule.
  auto dir = std::filesystem::temp_directory_path() / ("pm-broken-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "conf");
  std::filesystem::copy(kSrc + "/rules", dir / "rules", std::filesystem::copy_options::recursive);
  std::filesystem::copy(kSrc + "/conf/policy-milter.toml", dir / "conf/policy-milter.toml");
  {
    std::ofstream f(dir / "rules/abusive.toml", std::ios::app);
    f << "\n[[rule]]\nid = \"abusive.broken\"\npattern = '(unclosed'\nmatch = [\"x\"]\nno_match = "
         "[\"y\"]\n";
  }
  Output bad = run("--config " + (dir / "conf/policy-milter.toml").string() + " rules check 2>&1");
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.out.find("abusive.toml:"), std::string::npos) << bad.out;
  std::filesystem::remove_all(dir);
}

TEST(Policyctl, HelpHelps) {
  Output r = run("--help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("rules check"), std::string::npos);
  EXPECT_NE(r.out.find("--rcpt"), std::string::npos);
}

// Every subcommand's --help answers on standard output with exit 0, also with no
// configuration anywhere (a fresh install, or policyctl run outside the repository).
TEST(Policyctl, EverySubcommandHelpsWithoutAConfiguration) {
  const std::string none = "--config /nonexistent/policy-milter.toml ";
  for (const char* sub :
       {"scan", "rules", "config", "quarantine", "users", "store", "store migrate", "exceptions"}) {
    Output r = run(none + sub + " --help");
    EXPECT_EQ(r.status, 0) << sub;
    EXPECT_NE(r.out.find("usage: policyctl " + std::string(sub).substr(0, 5)), std::string::npos)
        << sub << ": " << r.out;
  }
  // `store --help` names every store subcommand, the PostgreSQL ones too.
  Output store = run(none + "store --help");
  for (const char* sub : {"backup", "restore", "migrate", "migrate-from-sqlite"})
    EXPECT_NE(store.out.find(sub), std::string::npos) << sub;
}

}  // namespace
