// Through the real policyctl: every kind of typo in the configuration or the rules gives
// file:line and a non-zero exit (`config check`, `rules check`); a school's local rules
// directory adds, extends, disables and overrides, is reported by `rules check` and
// `--explain`, and survives replacing the shipped rules directory.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "../policyctl_run.h"

namespace {

namespace fs = std::filesystem;
const std::string kSrc = PM_SOURCE_DIR;

using pm::test::Output;
Output run(const std::string& args) {
  return pm::test::policyctl(args + " 2>&1");
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}
void write(const fs::path& p, const std::string& text) {
  std::ofstream(p) << text;
}

// The 1-based line of `marker` in `text`.
int line_of(const std::string& text, const std::string& marker) {
  auto at = text.find(marker);
  if (at == std::string::npos) return -1;
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(at), '\n'));
}

// A private copy of the configuration and the shipped rules: conf/, rules/, conf/local.d/.
class Copy : public ::testing::Test {
 protected:
  fs::path dir, conf, rules, local;
  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("pm-config-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir / "conf/local.d");
    fs::copy(kSrc + "/rules", dir / "rules", fs::copy_options::recursive);
    fs::copy(kSrc + "/conf/policy-milter.toml", dir / "conf/policy-milter.toml");
    conf = dir / "conf/policy-milter.toml";
    rules = dir / "rules";
    local = dir / "conf/local.d";
  }
  void TearDown() override { fs::remove_all(dir); }

  std::string cfg() const { return "--config " + conf.string() + " "; }
  // Replaces `from` by `to` in `file`; returns the line of `marker` afterwards.
  int edit(const fs::path& file, const std::string& from, const std::string& to,
           const std::string& marker) {
    std::string t = slurp(file);
    auto at = t.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    t.replace(at, from.size(), to);
    write(file, t);
    return line_of(t, marker);
  }
  // `command` fails (exit 1) naming file:line, and the output has `part`.
  void fails_at(const std::string& command, const fs::path& file, int line,
                const std::string& part) {
    Output r = run(cfg() + command);
    EXPECT_EQ(r.status, 1) << r.out;
    std::string where = file.string() + ":" + std::to_string(line) + ":";
    EXPECT_NE(r.out.find(where), std::string::npos) << "want " << where << " in:\n" << r.out;
    EXPECT_NE(r.out.find(part), std::string::npos) << "want '" << part << "' in:\n" << r.out;
  }
};

TEST_F(Copy, ShippedConfigurationAndRulesPass) {
  Output r = run(cfg() + "config check");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("0 error(s), 0 warning(s): ok"), std::string::npos) << r.out;
}

// The shipped configuration with its commented [trust]/[[schools]] example switched on.
std::string with_schools_example(std::string t) {
  auto from = t.find("# [trust]\n"), to = t.find("\n[recipients]");
  EXPECT_NE(from, std::string::npos);
  std::string block, line;
  std::istringstream in(t.substr(from, to - from));
  while (std::getline(in, line)) block += (line.rfind("# ", 0) == 0 ? line.substr(2) : "") + "\n";
  return t.replace(from, to - from, block);
}

TEST_F(Copy, TheShippedSchoolsExamplePassesAndItsErrorsNameTheLine) {
  const std::string text = with_schools_example(slurp(conf));
  write(conf, text);
  write(dir / "conf/st-marys-parent-contacts.csv", "Sam Okafor,parent.okafor@gmail.com\n");
  Output r = run(cfg() + "config check");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("0 error(s), 0 warning(s): ok"), std::string::npos) << r.out;
  // The same id twice, an id with capitals, an unknown colleague class, a shared staff
  // domain with no school column in the staff file: each names its line.
  int l = edit(conf, "id = \"st-marys\"", "id = \"st-annes\"", "id = \"st-annes\"\nname = \"St M");
  fails_at("config check", conf, l, "'st-annes' is defined twice");
  write(conf, text);
  l = edit(conf, "id = \"st-marys\"", "id = \"St-Marys\"", "id = \"St-Marys\"");
  fails_at("config check", conf, l, "lower-case letters, digits and '-'");
  write(conf, text);
  l = edit(conf, "other_school_colleague = \"internal\"", "other_school_colleague = \"staff\"",
           "other_school_colleague = ");
  fails_at("config check", conf, l, "valid: internal, external");
  write(conf, text);
  l = edit(conf, "staff_domains = [\"stmarys.example\"]", "staff_domains = [\"stannes.example\"]",
           "staff_domains = [\"stannes.example\"]\npupil_domains = [\"pupils.stm");
  fails_at("config check", conf, l - 3, "stannes.example is shared by st-annes, st-marys");
}

TEST_F(Copy, MisspeltKeyNamesTheRightOne) {
  int l = edit(conf, "session_minutes = 30", "sesion_minutes = 30", "sesion_minutes");
  fails_at("config check", conf, l, "did you mean 'session_minutes'");
  // rules check reads the same file with the same strictness.
  Output r = run(cfg() + "rules check");
  EXPECT_EQ(r.status, 1) << r.out;
}

TEST_F(Copy, UnknownTable) {
  int l = edit(conf, "[limits]", "[limit]", "[limit]");
  fails_at("config check", conf, l, "did you mean '[limits]'");
}

TEST_F(Copy, BadNetwork) {
  int l = edit(conf, "internal_networks = [\"127.0.0.0/8\"", "internal_networks = [\"10.0.0.0/33\"",
               "internal_networks");
  fails_at("config check", conf, l, "'10.0.0.0/33' is not a network");
}

TEST_F(Copy, BadChoice) {
  int l = edit(conf, "on_error = \"tempfail\"", "on_error = \"defer\"", "on_error = ");
  fails_at("config check", conf, l, "valid: tempfail, reject, accept");
  edit(conf, "on_error = \"defer\"", "on_error = \"tempfail\"", "on_error");
  l = edit(conf, "reviewer_notices = \"immediate\"", "reviewer_notices = \"daily\"",
           "reviewer_notices = ");
  fails_at("config check", conf, l, "valid: immediate, digest");
}

TEST_F(Copy, OutOfRangeAndWrongType) {
  int l =
      edit(conf, "scan_timeout_seconds = 30", "scan_timeout_seconds = 0", "scan_timeout_seconds");
  fails_at("config check", conf, l, "from 1 to 3600");
  edit(conf, "scan_timeout_seconds = 0", "scan_timeout_seconds = 30", "scan_timeout_seconds");
  l = edit(conf, "max_parts = 2000", "max_parts = \"2000\"", "max_parts");
  fails_at("config check", conf, l, "must be an integer");
}

TEST_F(Copy, MisspeltActionCategory) {
  int l = edit(conf, "disrepute      = {", "disreptue      = {", "disreptue");
  fails_at("config check", conf, l, "did you mean 'disrepute'");
}

TEST_F(Copy, RenamedKeysWarnButPass) {
  edit(conf, "idle_timeout_seconds = 300", "milter_timeout_seconds = 300", "milter_timeout");
  Output r = run(cfg() + "config check");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("warning: " + conf.string()), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("use idle_timeout_seconds"), std::string::npos) << r.out;
}

TEST_F(Copy, RuleWeightMustBeANonNegativeNumber) {
  fs::path f = rules / "abusive.toml";
  int l = edit(f, "id = \"abusive.slur\"", "id = \"abusive.slur\"\nweight = \"high\"",
               "weight = \"high\"");
  fails_at("rules check", f, l, "weight must be a number");
  edit(f, "weight = \"high\"", "weight = -1", "weight");
  fails_at("config check", f, l, "weight must be from 0 to 100");
}

TEST_F(Copy, UnknownKeyInCategory) {
  fs::path f = rules / "abusive.toml";
  int l = edit(f, "own_words = true", "own_word = true", "own_word");
  fails_at("rules check", f, l, "did you mean 'own_words'");
}

TEST_F(Copy, RuleIdPrefixIsItsCategory) {
  fs::path f = rules / "abusive.toml";
  int l = edit(f, "id = \"abusive.slur\"", "id = \"abusve.slur\"", "abusve.slur");
  fails_at("rules check", f, l - 0, "must be 'abusive.NAME'");
}

TEST_F(Copy, UpperCaseTerm) {
  fs::path f = rules / "lexicons.toml";
  int l = edit(f, "terms = [\"add me\",", "terms = [\"Add me\",", "\"Add me\"");
  fails_at("rules check", f, l, "upper-case");
}

// The scan of one message: "action categories".
std::string verdict(const std::string& cfg, const std::string& eml) {
  Output r = run(cfg + "scan " + eml);
  auto colon = r.out.rfind(": ");
  return colon == std::string::npos ? r.out
                                    : r.out.substr(colon + 2, r.out.find('\n', colon) - colon - 2);
}

TEST_F(Copy, LocalRulesAddExtendDisableOverrideAndSurviveReplacingTheShippedRules) {
  auto eml = [&](const char* name, const std::string& to, const std::string& body) {
    fs::path p = dir / name;
    write(p, "From: Jo Teacher <jo.teacher@stannes.example>\nTo: " + to +
                 "\nSubject: Class news\n\n" + body + "\n");
    return p.string();
  };
  std::string extended =
      eml("m1.eml", "parent.one@gmail.com",
          "Dear Mrs Example,\n\nBeep me on telegram over the holidays if anything comes up.\n\nJo");
  std::string added = eml("m2.eml", "sam.colleague@stannes.example",
                          "Sam, you absolute blorpwit, the rota was due.\n\nJo");
  std::string disabled = eml(
      "m3.eml", "parent.one@gmail.com",
      "Dear Mrs Example,\n\nMy baking blog has the recipe: https://jobakes.wordpress.com/\n\nJo");
  EXPECT_EQ(verdict(cfg(), extended), "accept -");
  EXPECT_EQ(verdict(cfg(), added), "accept -");
  EXPECT_EQ(verdict(cfg(), disabled), "quarantine personal-link");

  fs::path school = local / "school.toml";
  const std::string text =
      "# St Anne's own rules\n"
      "[lexicons.contact-invite]\n"  // 2: extends the shipped lexicon
      "terms = [\"beep me on\"]\n"
      "\n"
      "[lexicons.made-up-insult]\n"  // 5: a new lexicon
      "terms = [\"blorpwit\"]\n"
      "\n"
      "[[rule]]\n"  // 8: a new rule, category from its id
      "id = \"abusive.made-up-insult\"\n"
      "anchor = \"made-up-insult\"\n"
      "match = [\"you absolute blorpwit\"]\n"
      "no_match = [\"the blorp was late\"]\n"
      "\n"
      "[[rule]]\n"  // 14: a shipped rule switched off
      "id = \"personal-link.blog-platform\"\n"
      "enabled = false\n"
      "\n"
      "[[rule]]\n"  // 18: a shipped rule's weight
      "id = \"confidential.phone-with-name\"\n"
      "weight = 0.75\n";
  write(school, text);
  write(local / "README", "not a rules file: ignored\n");

  auto check_all = [&] {
    Output r = run(cfg() + "rules check");
    EXPECT_EQ(r.status, 0) << r.out;
    for (const std::string& want :
         {school.string() + ":2: lexicon contact-invite: 1 term(s) added",
          school.string() + ":5: lexicon made-up-insult added",
          school.string() + ":8: rule abusive.made-up-insult added",
          school.string() + ":14: rule personal-link.blog-platform disabled",
          school.string() + ":18: rule confidential.phone-with-name weight 0.5 -> 0.75"})
      EXPECT_NE(r.out.find("local: " + want), std::string::npos) << "want " << want << " in:\n"
                                                                 << r.out;
    Output list = run(cfg() + "rules list");
    EXPECT_EQ(list.out.find("personal-link.blog-platform"), std::string::npos) << list.out;
    EXPECT_NE(list.out.find("abusive.made-up-insult"), std::string::npos) << list.out;
    EXPECT_NE(list.out.find("0.75"), std::string::npos) << list.out;
    EXPECT_EQ(verdict(cfg(), extended), "quarantine social-contact");
    EXPECT_EQ(verdict(cfg(), added), "quarantine abusive");
    EXPECT_EQ(verdict(cfg(), disabled), "accept -");
    Output ex = run(cfg() + "scan --explain " + added);
    EXPECT_NE(ex.out.find("local: " + school.string() + ":8: added"), std::string::npos) << ex.out;
  };
  check_all();

  // An upgrade replaces the shipped rules: the local directory is not touched.
  fs::remove_all(rules);
  fs::copy(kSrc + "/rules", rules, fs::copy_options::recursive);
  EXPECT_EQ(slurp(school), text);
  check_all();

  // The snapshot changes with a local file, so a reload picks it up.
  Output before = run(cfg() + "scan --json " + added);
  fs::remove(school);
  Output after = run(cfg() + "scan --json " + added);
  EXPECT_NE(before.out.substr(before.out.find("\"snapshot\"")),
            after.out.substr(after.out.find("\"snapshot\"")));
  EXPECT_EQ(verdict(cfg(), added), "accept -");
}

TEST_F(Copy, LocalFileTyposAreRefusedWithFileLine) {
  fs::path school = local / "school.toml";
  auto refused = [&](const std::string& text, int line, const std::string& part) {
    write(school, text);
    fails_at("rules check", school, line, part);
  };
  refused("[[rule]]\nid = \"personal-link.blog-platfrom\"\nenabled = false\n", 2,
          "did you mean 'personal-link.blog-platform'");
  refused("[[rule]]\nid = \"personal-link.blog-platform\"\nenabled = \"no\"\n", 3,
          "must be true or false");
  refused("[[rule]]\nid = \"personal-link.blog-platform\"\nanchor = \"url:blog\"\n", 3,
          "may set only `enabled` and `weight`");
  refused("[[rule]]\nid = \"confidential.phone-with-name\"\nweight = -0.5\n", 3,
          "weight must be from 0 to 100");
  refused("[[rule]]\nid = \"abusve.x\"\nanchor = \"insult\"\nmatch = [\"a\"]\nno_match = [\"b\"]\n",
          2, "did you mean 'abusive'");
  refused("[lexicons.contact-invite]\nterms = [\"Ping Me\"]\n", 2, "upper-case");
  refused("[lexicons.contact-invite]\nterms = [\"ping me\"]\ninflect = true\n", 3,
          "a local file can add `terms`");
  refused("[category]\nid = \"gossip\"\n", 1, "cannot define a category");
  refused("[[rules]]\nid = \"abusive.x\"\n", 1, "did you mean 'rule'");
}

TEST_F(Copy, ANamedLocalDirectoryMustExist) {
  int l = edit(conf, "dir = \"../rules\"",
               "dir = \"../rules\"\nlocal_dir = \"/nonexistent/local.d\"", "local_dir");
  (void)l;
  Output r = run(cfg() + "rules check");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("/nonexistent/local.d: local rules directory not found"), std::string::npos)
      << r.out;
}

}  // namespace
