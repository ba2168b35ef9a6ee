// Rule loading, compile errors with file:line, and the declarative context semantics
// (with / without / without_before / windows), on small rule sets written by the test.
#include "match/rules.h"

#include <gtest/gtest.h>

#include <fstream>

#include "engine/config.h"
#include "match/matcher.h"
#include "util/error.h"

namespace pm {
namespace {

class RulesTest : public ::testing::Test {
 protected:
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("pm-rules-" + std::to_string(::getpid()) + "-" +
                               ::testing::UnitTest::GetInstance()->current_test_info()->name());
  void SetUp() override { std::filesystem::create_directories(dir); }
  void TearDown() override { std::filesystem::remove_all(dir); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
  }
  static std::string category() {
    return "[category]\nid = \"abusive\"\nclause = \"c\"\napplies_to = [\"internal\"]\n";
  }
  std::string load_error() {
    try {
      RuleSet::load(dir, {}, {});
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  }
};

TEST_F(RulesTest, TomlSyntaxErrorNamesFileAndLine) {
  write("a.toml", category() + "\n[[rule]]\nweight = = 1\nanchor = \"y\"\n");
  std::string e = load_error();
  EXPECT_NE(e.find("a.toml:7"), std::string::npos) << e;
}

TEST_F(RulesTest, UnknownLexiconIsRefusedAtItsRule) {
  write("a.toml",
        category() +
            "\n[[rule]]\nid = \"abusive.x\"\nanchor = \"nope\"\nmatch=[\"a\"]\nno_match=[\"b\"]\n");
  std::string e = load_error();
  EXPECT_NE(e.find("a.toml:8"), std::string::npos) << e;  // the anchor's line
  EXPECT_NE(e.find("unknown anchor 'nope'"), std::string::npos) << e;
}

TEST_F(RulesTest, PatternHyperscanRefusesNamesItsLine) {
  write("a.toml", category() +
                      "\n[[rule]]\nid = \"abusive.x\"\npattern = "
                      "'(?<=a)b'\nmatch=[\"ab\"]\nno_match=[\"b\"]\n");
  std::string e = load_error();
  EXPECT_NE(e.find("a.toml:6"), std::string::npos) << e;
}

// The allow list never holds a suffix anyone can register under (Public Suffix List);
// a restricted one POLICY.md allows as a whole stays when marked, and is listed as such.
TEST_F(RulesTest, AllowListRefusesAnOpenRegistrationSuffix) {
  const std::string rule =
      "\n[[rule]]\nid = \"abusive.x\"\npattern = 'zzq'\nmatch=[\"zzq\"]\nno_match=[\"b\"]\n";
  for (const char* open : {"org.uk", "co.uk", "me.uk", "sch.uk"}) {
    write("a.toml", category() + rule + "\n[urls]\nallow = [\"bbc.co.uk\", \"" + open + "\"]\n");
    std::string e = load_error();
    EXPECT_NE(e.find("a.toml:"), std::string::npos) << e;
    EXPECT_NE(e.find(std::string("'") + open + "' is a public suffix"), std::string::npos) << e;
  }
  // Restricted, but not marked: refused too.
  write("a.toml", category() + rule + "\n[urls]\nallow = [\"gov.uk\"]\n");
  EXPECT_NE(load_error().find("'gov.uk' is a public suffix"), std::string::npos);
  // Marked restricted: accepted, and listed.
  write("a.toml", category() + rule +
                      "\n[urls]\nrestricted_suffixes = [\"gov.uk\", \"nhs.uk\"]\nallow = "
                      "[\"gov.uk\", \"nhs.uk\", \"bbc.co.uk\"]\n");
  auto rs = RuleSet::load(dir, {}, {});
  EXPECT_EQ(rs->restricted_allowed(), (std::vector<std::string>{"gov.uk", "nhs.uk"}));
  // A name that is no public suffix cannot be marked restricted.
  write("a.toml", category() + rule +
                      "\n[urls]\nrestricted_suffixes = [\"bbc.co.uk\"]\nallow = [\"bbc.co.uk\"]\n");
  EXPECT_NE(load_error().find("is not a public suffix"), std::string::npos);
}

TEST_F(RulesTest, RuleNeedsExamples) {
  write("a.toml",
        category() + "\n[[rule]]\nid = \"abusive.x\"\npattern = 'abc'\nno_match=[\"b\"]\n");
  EXPECT_NE(load_error().find("needs at least one `match` example"), std::string::npos);
}

TEST_F(RulesTest, ContextConditionsAndExamples) {
  write("lex.toml",
        "[lexicons.insult]\nterms = [\"idiot\"]\n"
        "[lexicons.you]\nterms = [\"you\"]\n"
        "[lexicons.neg]\nterms = [\"not\"]\n"
        "[lexicons.quote]\nterms = [\"said\"]\n");
  write("a.toml",
        category() +
            "\n[[rule]]\nid = \"abusive.aimed\"\nanchor = \"insult\"\nwith = [\"you\"]\nwithout "
            "= [\"quote\"]\n"
            "without_before = [\"neg\"]\n"
            "match = [\"you idiot\", \"You are an IDIOT and not welcome\"]\n"
            "no_match = [\"idiot\", \"he said you idiot\", \"you are not an idiot\", "
            "\"you. Idiot.\"]\n");
  auto rs = RuleSet::load(dir, {}, {});
  Matcher m(*rs, NameLexicon::build({}, {}, {}));
  EXPECT_TRUE(m.check_examples().empty());
  // A failing example is reported with the rule's file:line.
  write("a.toml", category() +
                      "\n[[rule]]\nid = \"abusive.aimed\"\nanchor = \"insult\"\nwith = [\"you\"]\n"
                      "match = [\"idiot\"]\nno_match = [\"x\"]\n");
  auto rs2 = RuleSet::load(dir, {}, {});
  Matcher m2(*rs2, NameLexicon::build({}, {}, {}));
  auto errors = m2.check_examples();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("a.toml:6: rule abusive.aimed: example should match"), std::string::npos)
      << errors[0];
}

TEST_F(RulesTest, AcronymsCountOnlyInCapitals) {
  write("lex.toml", "[lexicons.need]\nacronyms = [\"SEND\"]\n");
  write("a.toml",
        category() +
            "\n[[rule]]\nid = \"abusive.n\"\nanchor = \"need\"\nmatch = [\"SEND support\"]\n"
            "no_match = [\"please send it\"]\n");
  auto rs = RuleSet::load(dir, {}, {});
  Matcher m(*rs, NameLexicon::build({}, {}, {}));
  EXPECT_TRUE(m.check_examples().empty());
}

// `masked = true`: a symbol or digit for an inner letter, or the word spelled out letter by
// letter, still matches; letters spaced out across two words do not.
TEST_F(RulesTest, MaskedTermsMatchSymbolsAndSpelledOutLetters) {
  write("lex.toml", "[lexicons.slur]\nmasked = true\nterms = [\"spaz\", \"mong\"]\n");
  write("a.toml", category() +
                      "\n[[rule]]\nid = \"abusive.s\"\nanchor = \"slur\"\n"
                      "match = [\"he's a bit of a sp@z\", \"a right m o n g\", \"s.p.a.z\"]\n"
                      "no_match = [\"the spa zone\", \"mo ng\", \"sp@ce\"]\n");
  auto rs = RuleSet::load(dir, {}, {});
  Matcher m(*rs, NameLexicon::build({}, {}, {}));
  for (const auto& e : m.check_examples()) ADD_FAILURE() << e;
}

// A term ending in an escaped mark (a smiley) is that mark: it matches at the end of a line,
// where no word character follows it.
TEST_F(RulesTest, EscapedClosingMarkNeedsNoWordAfterIt) {
  write("lex.toml", "[lexicons.smiley]\nterms = [\":\\\\)\"]\n");
  write("a.toml", category() +
                      "\n[[rule]]\nid = \"abusive.s\"\nanchor = \"smiley\"\n"
                      "match = [\"I'll share it :)\"]\nno_match = [\"I'll share it\"]\n");
  auto rs = RuleSet::load(dir, {}, {});
  Matcher m(*rs, NameLexicon::build({}, {}, {}));
  for (const auto& e : m.check_examples()) ADD_FAILURE() << e;
}

TEST_F(RulesTest, ValidatorDropsLookalikes) {
  write("a.toml",
        category() +
            "\n[[rule]]\nid = \"abusive.nhs\"\npattern = '\\b\\d{10}\\b'\nview = \"compact\"\n"
            "validator = \"nhs\"\nmatch = [\"943 476 5919\"]\nno_match = [\"943 476 5918\"]\n");
  auto rs = RuleSet::load(dir, {}, {});
  Matcher m(*rs, NameLexicon::build({}, {}, {}));
  EXPECT_TRUE(m.check_examples().empty());
}

TEST(ShippedRules, CompileAndPassTheirExamples) {
  Config c = load_config(std::filesystem::path(PM_SOURCE_DIR) / "conf/policy-milter.toml");
  std::vector<std::string> official = c.website;
  official.insert(official.end(), c.official_social.begin(), c.official_social.end());
  auto rs = RuleSet::load(c.rules_dir, official, {});
  EXPECT_GE(rs->rules().size(), 20u);
  EXPECT_EQ(rs->categories().size(), 5u);
  Matcher m(*rs, NameLexicon::build(rs->given_names(), rs->name_stopwords(), {}));
  for (const auto& e : m.check_examples()) ADD_FAILURE() << e;
}

}  // namespace
}  // namespace pm
