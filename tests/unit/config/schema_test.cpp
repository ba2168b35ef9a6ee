// The schema is the one list of keys: the shipped configuration and the man page may name
// no key it lacks, the man page documents every key it has, and the checker reports each
// kind of typo with file:line and the valid choices.
#include <gtest/gtest.h>

#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "config/check.h"
#include "config/schema.h"
#include "config/validate.h"
#include "util/error.h"

namespace {

using namespace pm::config;

const std::string kSrc = PM_SOURCE_DIR;

std::string slurp(const std::string& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Every (table, key) of a parsed file, sub-tables and arrays of tables walked.
void walk(const toml::table& t, const std::string& name,
          std::vector<std::pair<std::string, std::string>>& out) {
  for (const auto& [k, v] : t) {
    std::string key(k.str());
    std::string full = name.empty() ? key : name + "." + key;
    if (find_table(full)) {
      if (const toml::table* sub = v.as_table()) walk(*sub, full, out);
      if (const toml::array* arr = v.as_array())
        for (const auto& e : *arr)
          if (e.is_table()) walk(*e.as_table(), full, out);
      continue;
    }
    out.emplace_back(name, key);
  }
}

TEST(ConfigSchema, EveryKeyOfTheShippedConfigurationIsInTheSchema) {
  std::vector<std::pair<std::string, std::string>> found;
  walk(toml::parse_file(kSrc + "/conf/policy-milter.toml"), "", found);
  ASSERT_GT(found.size(), 60u);
  for (const auto& [table, key] : found) {
    const Key* k = find_key(table, key);
    ASSERT_NE(k, nullptr) << "conf/policy-milter.toml: [" << table << "] " << key
                          << " is not in milter/config/schema.cpp";
    EXPECT_EQ(k->status, Status::current) << table << "." << key << " is an old name";
  }
}

// The man page, section by section: keys named after .TP and every name with an
// underscore in a .B/.BR line must be schema keys of that section; every schema key must
// be named in its section.
TEST(ConfigSchema, ManPageAndSchemaNameTheSameKeys) {
  std::istringstream man(slurp(kSrc + "/docs/man/policy-milter.toml.5"));
  std::map<std::string, std::string> text;  // section -> its lines
  std::vector<std::pair<std::string, std::string>> named;
  std::string section, line;
  bool after_tp = false;
  const std::regex word(R"((^|\s)([a-z][a-z0-9_]*)(?=\s|$))");
  while (std::getline(man, line)) {
    if (line.rfind(".SH ", 0) == 0) {
      std::string h = line.substr(4);
      section = (h.size() > 2 && h.front() == '[')
                    ? h.substr(h.find_first_not_of('['), h.find(']') - h.find_first_not_of('['))
                    : "";
      continue;
    }
    if (section.empty()) continue;
    text[section] += " " + line + " ";
    if (line == ".TP") {
      after_tp = true;
      continue;
    }
    if (line.rfind(".B ", 0) == 0 || line.rfind(".BR ", 0) == 0) {
      std::string rest = line.substr(line.find(' ') + 1);
      rest = std::regex_replace(rest, std::regex(R"("[^"]*")"), " ");
      for (std::sregex_iterator it(rest.begin(), rest.end(), word), end; it != end; ++it) {
        std::string w = (*it)[2];
        if (after_tp || w.find('_') != std::string::npos) named.emplace_back(section, w);
      }
    }
    after_tp = false;
  }
  ASSERT_TRUE(text.count("milter")) << "no .SH [milter] in the man page";
  for (const auto& [s, k] : named)
    // A key of the section, or a table nested in it ([exceptions] lists, [review.cover]
    // term_dates), documented where its parent is.
    EXPECT_TRUE((find_key(s, k) && find_key(s, k)->name == k) || find_table(s + "." + k))
        << "policy-milter.toml.5 [" << s << "] names '" << k
        << "', which milter/config/schema.cpp lacks";
  for (const auto& k : keys()) {
    if (k.name == "*") continue;
    // A nested table without a section of its own ([review.cover] term_dates' start and
    // end) is documented in its parent's.
    std::string body = text[k.table];
    if (auto dot = k.table.rfind('.'); dot != std::string::npos && body.empty())
      body = text[k.table.substr(0, dot)];
    EXPECT_TRUE(std::regex_search(body, std::regex("(^|[\\s(])" + k.name + "([\\s,)]|$)")))
        << "schema key [" << k.table << "] " << k.name
        << " is not documented in docs/man/policy-milter.toml.5";
  }
}

std::vector<Problem> check_text(const std::string& toml_text) {
  return check(toml::parse(toml_text, std::string_view("t.toml")), "t.toml");
}

TEST(ConfigCheck, EachKindOfTypoIsAnErrorWithLineAndChoices) {
  auto p = check_text(
      "[school]\nstaff_domains = [\"s.example\"]\n"        // 1-2
      "[limit]\nmax_parts = 3\n"                           // 3-4: unknown table
      "[review]\nsesion_minutes = 30\n"                    // 5-6: misspelt key
      "max_headers = 0\n"                                  // 7: out of range
      "reviewer_notices = \"dygest\"\n"                    // 8: bad choice
      "[milter]\ninternal_networks = [\"10.1.2.0/40\"]\n"  // 9-10: bad CIDR
      "split_recipients = \"yes\"\n"                       // 11: wrong type
      "[actions]\nabusive = { internal = \"hold\", outside = \"quarantine\" }\n");  // 12-13
  ASSERT_EQ(p.size(), 7u);
  auto has = [&](int line, const std::string& part) {
    for (const auto& x : p)
      if (x.line == line && x.message.find(part) != std::string::npos && !x.warning) return true;
    return false;
  };
  EXPECT_TRUE(has(3, "did you mean '[limits]'"));
  EXPECT_TRUE(has(6, "did you mean 'session_minutes'"));
  EXPECT_TRUE(has(7, "from 1 to"));
  EXPECT_TRUE(has(8, "valid: immediate, digest"));
  EXPECT_TRUE(has(10, "'10.1.2.0/40' is not a network"));
  EXPECT_TRUE(has(11, "true or false"));
  EXPECT_TRUE(has(13, "valid: accept, tag, quarantine"));
  EXPECT_EQ(p[0].text().rfind("t.toml:3: ", 0), 0u) << p[0].text();
}

TEST(ConfigCheck, AKeyInTheWrongTableSaysWhereItBelongs) {
  auto p = check_text("[school]\nstaff_domains = [\"s.example\"]\n[milter]\nsession_minutes = 3\n");
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].line, 4);
  EXPECT_NE(p[0].message.find("belongs in [review]"), std::string::npos) << p[0].message;
}

TEST(ConfigCheck, RenamedKeysAreWarningsNotErrors) {
  auto p = check_text(
      "[milter]\nmilter_timeout_seconds = 60\n[review]\nsignin_attempts = "
      "3\nsignin_lockout_minutes = 5\n");
  ASSERT_EQ(p.size(), 3u);
  for (const auto& x : p) EXPECT_TRUE(x.warning) << x.text();
  EXPECT_NE(p[0].message.find("use idle_timeout_seconds"), std::string::npos);
  EXPECT_NE(p[1].message.find("use signin_free_attempts"), std::string::npos);
  // ...but an old name still has to hold a valid value.
  auto bad = check_text("[milter]\nmilter_timeout_seconds = \"60\"\n");
  EXPECT_TRUE(std::any_of(bad.begin(), bad.end(), [](const Problem& x) { return !x.warning; }));
}

TEST(ConfigCheck, ValidateThrowsTheFirstErrorAsConfigError) {
  auto root = toml::parse("[school]\nstaff_domains = []\n[rules]\ndri = \"x\"\n",
                          std::string_view("t.toml"));
  try {
    validate(root, "t.toml");
    FAIL() << "no error";
  } catch (const pm::ConfigError& e) {
    EXPECT_EQ(e.line(), 4);
    EXPECT_NE(std::string(e.what()).find("did you mean 'dir'"), std::string::npos) << e.what();
  }
}

TEST(ConfigCheck, ShippedConfigurationHasNoProblem) {
  for (const auto& p : check_file(kSrc + "/conf/policy-milter.toml")) ADD_FAILURE() << p.text();
}

TEST(ConfigCheck, NearestOnlySuggestsCloseNames) {
  EXPECT_EQ(nearest("sesion_minutes", {"session_minutes", "session_max_hours"}), "session_minutes");
  EXPECT_EQ(nearest("xyz", {"session_minutes"}), "");
  EXPECT_EQ(nearest("ab", {"cd"}), "");
}

}  // namespace
