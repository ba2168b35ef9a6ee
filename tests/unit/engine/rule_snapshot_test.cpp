// The warm-start snapshot of the rule set (match/rule_snapshot.h): the same inputs give the
// same rules - the same verdict on every corpus message -, and any change of an input, a
// truncated or damaged snapshot, or another format falls back to the normal load, whose
// result reflects the change.
#include "match/rule_snapshot.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "engine/engine.h"
#include "engine/verdict_json.h"
#include "match/hs.h"
#include "match/rules.h"
#include "util/error.h"
#include "util/strings.h"

namespace pm {
namespace {

namespace fs = std::filesystem;

const fs::path kSource = PM_SOURCE_DIR;

class RuleSnapshotTest : public ::testing::Test {
 protected:
  // CTest runs every test in a process of its own: the Hyperscan databases of the shipped
  // rules (the tests below never change a pattern) are compiled once into a directory
  // shared by all of them - keyed by the patterns, written by rename, so sharing is safe -
  // and each test's cache starts as links to them, without any snapshot.
  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("pm-rule-snapshot-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
    fs::copy(kSource / "rules", root_ / "rules", fs::copy_options::recursive);
    shared_ = fs::temp_directory_path() / "pm-rule-snapshot-hscache";
    RuleSet::load(root_ / "rules", {}, {}, shared_);  // compiles only the first time
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  // A fresh copy of the rules and a cache holding the compiled databases only.
  void SetUp() override {
    rules_ = root_ / ("rules-" +
                      std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(rules_);
    fs::copy(root_ / "rules", rules_, fs::copy_options::recursive);
    cache_ = root_ / ("cache-" +
                      std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(cache_);
    fs::create_directories(cache_);
    for (const auto& e : fs::directory_iterator(shared_)) {
      const std::string n = e.path().filename().string();
      if (n.rfind("rules-", 0) != 0 || n.find(".tmp") != std::string::npos) continue;
      std::error_code ec;
      fs::create_hard_link(e.path(), cache_ / n, ec);
      if (ec) fs::copy_file(e.path(), cache_ / n);
    }
  }

  std::unique_ptr<RuleSet> load(const std::vector<std::string>& official = {
                                    "www.stannes.example"}) {
    return RuleSet::load(rules_, official, {"ellie"}, cache_);
  }

  // The snapshot file the last load wrote (there is one per test).
  fs::path snapshot() const {
    std::vector<fs::path> found;
    for (const auto& e : fs::directory_iterator(cache_)) {
      const std::string n = e.path().filename().string();
      if (n.rfind("ruleset-", 0) == 0 && e.path().extension() == ".snap") found.push_back(e.path());
    }
    EXPECT_EQ(found.size(), 1u);
    return found.empty() ? fs::path() : found.front();
  }

  static void replace_in(const fs::path& file, const std::string& from, const std::string& to) {
    std::string s = read_file(file.string());
    const auto at = s.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    s.replace(at, from.size(), to);
    std::ofstream(file, std::ios::binary | std::ios::trunc) << s;
  }

  static inline fs::path root_, shared_;
  fs::path rules_, cache_;
};

// Every field the matcher and the judge read, compared.
void expect_same_rules(const RuleSet& a, const RuleSet& b) {
  EXPECT_EQ(a.hash(), b.hash());
  ASSERT_EQ(a.rules().size(), b.rules().size());
  for (std::size_t i = 0; i < a.rules().size(); ++i) {
    const Rule& x = a.rules()[i];
    const Rule& y = b.rules()[i];
    EXPECT_EQ(x.id, y.id);
    EXPECT_EQ(x.pattern, y.pattern) << x.id;
    EXPECT_EQ(x.anchor_ref, y.anchor_ref) << x.id;
    EXPECT_EQ(x.weight, y.weight) << x.id;
    EXPECT_EQ(x.with.size(), y.with.size()) << x.id;
    EXPECT_EQ(x.targets, y.targets) << x.id;
    EXPECT_EQ(x.examples_match, y.examples_match) << x.id;
  }
  ASSERT_EQ(a.refs().size(), b.refs().size());
  for (std::size_t i = 0; i < a.refs().size(); ++i) EXPECT_EQ(a.refs()[i].name, b.refs()[i].name);
  EXPECT_EQ(a.categories().size(), b.categories().size());
  EXPECT_EQ(a.given_names(), b.given_names());
  EXPECT_EQ(a.name_stopwords(), b.name_stopwords());
  EXPECT_EQ(a.urls().official, b.urls().official);
  EXPECT_EQ(a.urls().allow, b.urls().allow);
  EXPECT_EQ(a.urls().index.size(), b.urls().index.size());
  EXPECT_EQ(a.pattern_count(), b.pattern_count());
  EXPECT_EQ(a.databases().size(), b.databases().size());
}

TEST_F(RuleSnapshotTest, SameInputsLoadTheSameRules) {
  auto first = load();
  EXPECT_FALSE(first->from_snapshot());
  auto second = load();
  EXPECT_TRUE(second->from_snapshot());
  expect_same_rules(*first, *second);
}

TEST_F(RuleSnapshotTest, SameVerdictsOnTheCorpus) {
  // The shipped configuration, its rules dir and cache redirected here.
  std::istringstream in(read_file((kSource / "conf/policy-milter.toml").string()));
  std::ostringstream conf;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("dir = \"../rules\"", 0) == 0) line = "dir = \"" + rules_.string() + "\"";
    if (line.rfind("cache_dir", 0) == 0) line = "cache_dir = \"" + cache_.string() + "\"";
    conf << line << '\n';
  }
  const fs::path cfg = root_ / "policy-milter.toml";
  std::ofstream(cfg) << conf.str();
  auto parsed = Engine::load(cfg);
  auto mapped = Engine::load(cfg);
  EXPECT_FALSE(parsed->rules().from_snapshot());
  ASSERT_TRUE(mapped->rules().from_snapshot());
  EXPECT_EQ(parsed->snapshot_id(), mapped->snapshot_id());
  std::size_t scanned = 0, flagged = 0;
  for (const char* set : {"dev", "heldout", "attachments"}) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(kSource / "tests/corpus" / set))
      if (e.path().extension() == ".eml") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      const std::string raw = read_file(f.string());
      Verdict a = parsed->scan(raw, nullptr);
      Verdict b = mapped->scan(raw, nullptr);
      a.elapsed_us = b.elapsed_us = 0;  // the one field that is the clock's
      EXPECT_EQ(verdict_to_json(a, f.filename().string(), {true, true}),
                verdict_to_json(b, f.filename().string(), {true, true}));
      ++scanned;
      flagged += a.categories.empty() ? 0 : 1;
    }
  }
  EXPECT_GT(scanned, 300u);
  EXPECT_GT(flagged, 100u);  // the comparison covers rules that fire, not only clean mail
}

TEST_F(RuleSnapshotTest, EditedRuleFileFallsBack) {
  load();
  ASSERT_TRUE(load()->from_snapshot());
  const std::string id = "confidential.phone-with-name";
  ASSERT_EQ(load()->rule(id)->weight, 0.5);
  replace_in(rules_ / "confidential.toml",
             "without = [\"first-person-own|commercial-ref|school-platform\"]\nweight = 0.5",
             "without = [\"first-person-own|commercial-ref|school-platform\"]\nweight = 0.75");
  auto edited = load();
  EXPECT_FALSE(edited->from_snapshot());
  EXPECT_EQ(edited->rule(id)->weight, 0.75);
  auto again = load();
  EXPECT_TRUE(again->from_snapshot());  // a new snapshot, for the edited files
  EXPECT_EQ(again->rule(id)->weight, 0.75);
}

TEST_F(RuleSnapshotTest, EditedNamesFileAndNewRuleFileFallBack) {
  load();
  std::ofstream(rules_ / "names" / "given-names.txt", std::ios::app) << "\nzebediah\n";
  auto names = load();
  EXPECT_FALSE(names->from_snapshot());
  const auto& g = names->given_names();
  EXPECT_TRUE(std::binary_search(g.begin(), g.end(), std::string("zebediah")));
  // A file added to the directory: its content joins the rule set (here: an invalid one,
  // which the normal load refuses, where a stale snapshot would have passed).
  std::ofstream(rules_ / "zz-new.toml") << "[oops]\n";
  EXPECT_THROW(load(), ConfigError);
}

TEST_F(RuleSnapshotTest, ChangedConfigurationFallsBack) {
  load();
  ASSERT_TRUE(load()->from_snapshot());
  auto other = load({"www.stannes.example", "blog.stannes.example"});
  EXPECT_FALSE(other->from_snapshot());
  const auto& o = other->urls().official;
  EXPECT_NE(std::find(o.begin(), o.end(), "blog.stannes.example"), o.end());
  // Another roster (given names from the configuration) is another key too.
  auto roster = RuleSet::load(rules_, {"www.stannes.example"}, {"ellie", "quilla"}, cache_);
  EXPECT_FALSE(roster->from_snapshot());
  EXPECT_TRUE(std::binary_search(roster->given_names().begin(), roster->given_names().end(),
                                 std::string("quilla")));
}

TEST_F(RuleSnapshotTest, TruncatedSnapshotFallsBack) {
  auto full = load();
  const fs::path snap = snapshot();
  const auto size = fs::file_size(snap);
  for (auto keep : {size - 1, size / 2, std::uintmax_t{20}, std::uintmax_t{0}}) {
    fs::resize_file(snap, keep);
    auto rs = load();
    EXPECT_FALSE(rs->from_snapshot()) << keep;
    expect_same_rules(*full, *rs);
    ASSERT_EQ(fs::file_size(snap), size);  // rewritten whole by the fallback load
  }
}

TEST_F(RuleSnapshotTest, CorruptedSnapshotFallsBack) {
  auto full = load();
  const fs::path snap = snapshot();
  const std::string good = read_file(snap.string());
  // A byte of the header's format, of the key, of the payload (its hash no longer
  // matches), and the last byte.
  for (std::size_t at : {std::size_t{9}, std::size_t{20}, good.size() / 2, good.size() - 1}) {
    std::string bad = good;
    bad[at] = static_cast<char>(bad[at] ^ 0x5a);
    std::ofstream(snap, std::ios::binary | std::ios::trunc) << bad;
    auto rs = load();
    EXPECT_FALSE(rs->from_snapshot()) << at;
    expect_same_rules(*full, *rs);
    EXPECT_EQ(read_file(snap.string()), good);  // the fallback wrote it again, whole
  }
}

TEST_F(RuleSnapshotTest, NoCacheDirNoSnapshot) {
  EXPECT_TRUE(RuleSnapshot::key({rules_, {}, {}, false, {}, {}}).empty());
  EXPECT_FALSE(RuleSnapshot::build_id().empty());  // this binary has one (ld --build-id)
}

}  // namespace
}  // namespace pm
