// Several schools in one configuration (issue 15) through the configuration file and
// Engine::scan: the same message from each school's sender gets that school, its
// recipients' classes and its verdict; the configuration's errors name file:line.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>
#include <algorithm>
#include <fstream>
#include <sstream>

#include "engine/config.h"
#include "engine/engine.h"
#include "engine/verdict_json.h"
#include "util/error.h"

#include "../policyctl_run.h"

namespace pm {
namespace {

namespace fs = std::filesystem;

// The shipped configuration with the rules by absolute path and `extra` appended, in a
// fresh directory; `staff` is written as staff.csv beside it.
fs::path write_config(const std::string& name, const std::string& extra,
                      const std::string& staff = "") {
  std::ifstream in(fs::path(PM_SOURCE_DIR) / "conf/policy-milter.toml");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  const std::string from = "dir = \"../rules\"";
  text.replace(text.find(from), from.size(),
               "dir = \"" + (fs::path(PM_SOURCE_DIR) / "rules").string() + "\"");
  fs::path dir =
      fs::temp_directory_path() / ("pm-schools-" + name + "-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  if (!staff.empty()) {
    std::ofstream(dir / "staff.csv") << staff;
    const std::string sr = "staff_roles = \"\"";
    text.replace(text.find(sr), sr.size(), "staff_roles = \"staff.csv\"");
  }
  std::ofstream(dir / "policy-milter.toml") << text << "\n" << extra;
  return dir / "policy-milter.toml";
}

// The line of the configuration `extra` starts on (write_config puts an empty line before).
int shipped_lines() {
  std::ifstream in(fs::path(PM_SOURCE_DIR) / "conf/policy-milter.toml");
  std::string line;
  int n = 0;
  while (std::getline(in, line)) ++n;
  return n + 2;
}

std::string two_schools(const std::string& colleague) {
  return "[trust]\nname = \"Example Learning Trust\"\nother_school_colleague = \"" + colleague +
         "\"\n"
         "[[schools]]\nid = \"st-annes\"\nstaff_domains = [\"stannes.example\"]\n"
         "[[schools]]\nid = \"st-marys\"\nname = \"St Mary's RC Primary School\"\n"
         "staff_domains = [\"stmarys.example\"]\n"
         "pupil_domains = [\"pupils.stmarys.example\"]\n"
         "partner_domains = [\"devon-la.example\"]\n";
}

std::shared_ptr<const Engine> trust(const std::string& colleague) {
  static std::map<std::string, std::shared_ptr<const Engine>> engines;
  auto& e = engines[colleague];
  if (!e) e = Engine::load(write_config(colleague, two_schools(colleague)));
  return e;
}

const char* kReferral =
    "From: Staff <staff@stannes.example>\r\n"
    "To: Colleague <colleague@stmarys.example>\r\nSubject: Referral\r\n"
    "Content-Type: text/plain\r\n\r\n"
    "I am making a referral regarding Leo Harcourt (DOB 04/07/2015, NHS no. 754 323 1948), "
    "Year 4. He arrived with bruising to his upper arm.\r\n";

const char* kInvite =
    "From: Staff <staff@stannes.example>\r\nTo: Sam <sam@pupils.stmarys.example>\r\n"
    "Subject: Trip\r\nContent-Type: text/plain\r\n\r\n"
    "Add me on Facebook and we can chat over the holidays!\r\n";

const char* kHello =
    "From: Staff <staff@stannes.example>\r\nTo: x <x@devon-la.example>\r\nSubject: Hello\r\n"
    "Content-Type: text/plain\r\n\r\nThe minutes of Tuesday's meeting are below.\r\n";

bool has_note(const Verdict& v, const std::string& n) {
  return std::find(v.notes.begin(), v.notes.end(), n) != v.notes.end();
}

TEST(Schools, EachSendersSchoolJudgesTheSameMessage) {
  auto e = trust("external");
  Envelope annes{"k.foley@stannes.example", {"t.okafor@stmarys.example"}};
  Envelope marys{"t.okafor@stmarys.example", {"k.foley@stannes.example"}};
  Verdict a = e->scan(kReferral, &annes);
  Verdict m = e->scan(kReferral, &marys);
  EXPECT_EQ(a.school, "st-annes");
  EXPECT_EQ(m.school, "st-marys");
  EXPECT_EQ(a.school_reason, "st-annes (sender domain stannes.example)");
  EXPECT_EQ(m.school_reason, "st-marys (sender domain stmarys.example)");
  // A colleague at the other school is outside (the trust chose "external"): a pupil's
  // medical detail to them is held, from either side.
  ASSERT_EQ(a.recipients.size(), 1u);
  EXPECT_EQ(a.recipients[0].cls, RecipientClass::external);
  EXPECT_EQ(m.recipients[0].cls, RecipientClass::external);
  EXPECT_EQ(a.action, Action::quarantine);
  EXPECT_EQ(m.action, Action::quarantine);
  // To a colleague of one's own school it is internal: delivered.
  Envelope own{"k.foley@stannes.example", {"h.ashdown@stannes.example"}};
  Verdict o = e->scan(kReferral, &own);
  EXPECT_EQ(o.recipients[0].cls, RecipientClass::internal);
  EXPECT_EQ(o.action, Action::accept);
}

TEST(Schools, AnInternalTrustDeliversToTheOtherSchoolsColleagues) {
  auto e = trust("internal");
  Envelope annes{"k.foley@stannes.example", {"t.okafor@stmarys.example"}};
  Envelope marys{"t.okafor@stmarys.example", {"k.foley@stannes.example"}};
  for (const Envelope* env : {&annes, &marys}) {
    Verdict v = e->scan(kReferral, env);
    ASSERT_EQ(v.recipients.size(), 1u);
    EXPECT_EQ(v.recipients[0].cls, RecipientClass::internal) << env->sender;
    EXPECT_EQ(v.action, Action::accept) << env->sender;
    // Found, but confidential counts only outside the school: it did not apply.
    EXPECT_TRUE(v.categories.empty());
    ASSERT_FALSE(v.unapplied.empty());
    EXPECT_EQ(v.unapplied[0].category, "confidential");
  }
}

TEST(Schools, PartnersAreEachSchoolsOwnAndPupilsOfEitherArePupils) {
  auto e = trust("internal");
  Envelope annes{"k.foley@stannes.example", {"x@devon-la.example"}};
  Envelope marys{"t.okafor@stmarys.example", {"x@devon-la.example"}};
  Verdict a = e->scan(kHello, &annes);
  Verdict m = e->scan(kHello, &marys);
  EXPECT_EQ(a.recipients[0].cls, RecipientClass::external);
  EXPECT_EQ(m.recipients[0].cls, RecipientClass::partner);
  // The inherited [school] partner (somerset-la) is St Anne's, and St Mary's overrides it.
  Envelope la_a{"k.foley@stannes.example", {"mash@somerset-la.example"}};
  Envelope la_m{"t.okafor@stmarys.example", {"mash@somerset-la.example"}};
  EXPECT_EQ(e->scan(kHello, &la_a).recipients[0].cls, RecipientClass::partner);
  EXPECT_EQ(e->scan(kHello, &la_m).recipients[0].cls, RecipientClass::external);
  // A pupil of the other school is a child all the same: the invitation is held.
  Envelope pupil{"k.foley@stannes.example", {"sam@pupils.stmarys.example"}};
  Verdict p = e->scan(kInvite, &pupil);
  EXPECT_EQ(p.recipients[0].cls, RecipientClass::pupil);
  EXPECT_EQ(p.action, Action::quarantine);
  EXPECT_EQ(p.categories, std::vector<std::string>{"social-contact"});
  EXPECT_FALSE(has_note(p, "probable-misaddress"));
}

TEST(Schools, ATypoOfTheSisterSchoolsDomainIsALookalike) {
  auto e = trust("internal");
  Envelope env{"k.foley@stannes.example", {"t.okafor@stmarys.exampel"}};
  Verdict v = e->scan(kHello, &env);
  EXPECT_EQ(v.recipients[0].cls, RecipientClass::lookalike);
  EXPECT_EQ(v.recipients[0].lookalike_of, "stmarys.example");
  EXPECT_TRUE(has_note(v, "probable-misaddress"));
}

// Each school's own parent-contacts export: Ellie is St Mary's pupil, listed with her
// mother there; St Anne's has no export.
TEST(Schools, EachSchoolsParentContactsExportClearsItsOwnPupils) {
  fs::path cfg = write_config(
      "contacts", two_schools("internal") + "parent_contacts = \"st-marys-contacts.csv\"\n");
  std::ofstream(cfg.parent_path() / "st-marys-contacts.csv")
      << "Ellie Brandt,kate.brandt@gmail.com\n";
  auto e = Engine::load(cfg);
  const std::string letter =
      "From: Sam Reed <s.reed@stmarys.example>\r\nTo: kate.brandt@gmail.com\r\n"
      "Subject: Ellie's inhaler\r\nContent-Type: text/plain\r\n\r\nDear Mrs Brandt,\r\n\r\n"
      "Ellie Brandt has been diagnosed with asthma and her new medication is in the "
      "office.\r\n\r\nSam Reed, SENCo\r\n";
  Envelope marys{"s.reed@stmarys.example", {"kate.brandt@gmail.com"}};
  Envelope annes{"s.reed@stannes.example", {"kate.brandt@gmail.com"}};
  Verdict m = e->scan(letter, &marys);
  EXPECT_EQ(m.action, Action::accept);
  EXPECT_TRUE(m.categories.empty());
  Verdict a = e->scan(letter, &annes);
  EXPECT_EQ(a.action, Action::quarantine);
  EXPECT_EQ(a.categories, std::vector<std::string>{"confidential"});
}

TEST(Schools, ASenderOfNoSchoolIsTheFirstSchoolsAndTheVerdictSaysSo) {
  auto e = trust("external");
  Envelope env{"alerts@monitoring.example", {"t.okafor@stmarys.example"}};
  Verdict v = e->scan(kHello, &env);
  EXPECT_EQ(v.school, "st-annes");
  EXPECT_TRUE(v.school_guessed);
  EXPECT_NE(v.school_reason.find("is no school's"), std::string::npos) << v.school_reason;
  const std::string json = verdict_to_json(v, "");
  EXPECT_NE(json.find("\"school\":\"st-annes\""), std::string::npos) << json;
}

TEST(Schools, OneSchoolIsJudgedAsBeforeWithAnEmptySchool) {
  auto e = Engine::load(write_config("single", ""));
  ASSERT_EQ(e->config().schools.size(), 1u);
  EXPECT_FALSE(e->config().trust);
  Envelope env{"k.foley@stannes.example", {"t.okafor@stmarys.example"}};
  Verdict v = e->scan(kReferral, &env);
  EXPECT_EQ(v.school, "");
  EXPECT_EQ(v.school_reason, "");
  EXPECT_FALSE(v.school_guessed);
  EXPECT_EQ(v.recipients[0].cls, RecipientClass::external);
  EXPECT_NE(verdict_to_json(v, "").find("\"school\":\"\""), std::string::npos);
}

TEST(Schools, InheritedAndOverriddenKeys) {
  Config c = load_config(write_config("keys", two_schools("internal")));
  ASSERT_EQ(c.schools.size(), 2u);
  EXPECT_TRUE(c.trust);
  EXPECT_EQ(c.trust_name, "Example Learning Trust");
  EXPECT_EQ(c.schools[0].id, "st-annes");
  EXPECT_EQ(c.schools[0].name, "St Anne's C of E Primary School");  // [school] name
  EXPECT_EQ(c.schools[0].domains.pupil, std::vector<std::string>{"pupils.stannes.example"});
  EXPECT_EQ(c.schools[1].name, "St Mary's RC Primary School");
  EXPECT_EQ(c.schools[1].domains.pupil, std::vector<std::string>{"pupils.stmarys.example"});
  EXPECT_EQ(c.schools[1].website, c.website);                  // inherited
  EXPECT_EQ(c.schools[1].domains.webmail, c.domains.webmail);  // [recipients]
}

TEST(Schools, ASharedStaffDomainNeedsTheStaffFilesSchoolColumn) {
  const std::string shared =
      "[[schools]]\nid = \"st-annes\"\n"  // staff_domains from [school]: stannes.example
      "[[schools]]\nid = \"st-marys\"\n";
  const int base = shipped_lines();
  try {
    load_config(write_config("shared-bad", shared, "email,roles\na@stannes.example,dsl\n"));
    FAIL() << "a shared staff domain without a school column loaded";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.line(), base + 2) << e.what();
    EXPECT_NE(std::string(e.what()).find("stannes.example is shared by st-annes, st-marys"),
              std::string::npos)
        << e.what();
  }
  auto e = Engine::load(write_config("shared-ok", shared,
                                     "email,roles,school\n"
                                     "t.okafor@stannes.example,teacher,st-marys\n"));
  Envelope marys{"t.okafor@stannes.example", {"parent@gmail.com"}};
  Envelope annes{"k.foley@stannes.example", {"parent@gmail.com"}};
  Verdict m = e->scan(kHello, &marys);
  EXPECT_EQ(m.school, "st-marys");
  EXPECT_FALSE(m.school_guessed);
  EXPECT_EQ(m.school_reason, "st-marys (staff file: stannes.example is shared by several schools)");
  Verdict a = e->scan(kHello, &annes);
  EXPECT_EQ(a.school, "st-annes");  // not in the file: the first school sharing the domain
  EXPECT_TRUE(a.school_guessed);
  try {
    load_config(write_config("shared-unknown", shared,
                             "email,roles,school\nt.okafor@stannes.example,teacher,st-marks\n"));
    FAIL() << "an unknown school in the staff file loaded";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.line(), 2) << e.what();
    EXPECT_NE(std::string(e.what()).find("did you mean 'st-marys'"), std::string::npos) << e.what();
  }
}

// Each error of the new tables, with its line (relative to the appended text).
TEST(Schools, ConfigurationErrorsNameTheLine) {
  const int base = shipped_lines();
  struct Case {
    std::string text;
    int line;
    std::string part;
  };
  const std::vector<Case> cases = {
      {"[[schools]]\nid = \"St Annes\"\nstaff_domains = [\"a.example\"]\n", 2,
       "lower-case letters, digits and '-'"},
      {"[[schools]]\nid = \"-annes\"\n", 2, "lower-case letters"},
      {"[[schools]]\nid = \"a234567890123456789012345678901234\"\n", 2, "at most 32"},
      {"[[schools]]\nstaff_domains = [\"a.example\"]\n", 1, "needs an id"},
      {"[[schools]]\nid = \"a\"\nstaff_domains = [\"a.example\"]\n"
       "[[schools]]\nid = \"a\"\nstaff_domains = [\"b.example\"]\n",
       5, "'a' is defined twice (first at line"},
      {"[[schools]]\nid = \"a\"\nstaff_domain = [\"a.example\"]\n", 3,
       "did you mean 'staff_domains'"},
      {"[trust]\nother_school_colleague = \"colleague\"\n", 2, "valid: internal, external"},
      {"[trust]\nname = 3\n", 2, "trust.name must be a string"},
      {"[[schools]]\nid = \"a\"\nstaff_domains = \"a.example\"\n", 3, "a list of strings"},
  };
  int n = 0;
  for (const auto& c : cases) {
    try {
      load_config(write_config("err" + std::to_string(n++), c.text));
      ADD_FAILURE() << "loaded:\n" << c.text;
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.line(), base + c.line - 1) << c.text << e.what();
      EXPECT_NE(std::string(e.what()).find(c.part), std::string::npos) << e.what();
    }
  }
}

// Through the real policyctl: --explain says whose the message is and why, the JSON
// carries the id; with one school there is no school line and the id is "".
TEST(SchoolsPolicyctl, ExplainNamesTheSendersSchool) {
  const fs::path cfg =
      write_config("cli",
                   "[[schools]]\nid = \"st-annes\"\nstaff_domains = [\"stannes.example\"]\n"
                   "[[schools]]\nid = \"st-marys\"\nstaff_domains = [\"stmarys.example\"]\n");
  const fs::path msg = cfg.parent_path() / "m.eml";
  std::ofstream(msg) << "From: T Okafor <t.okafor@stmarys.example>\r\n"
                        "To: k.foley@stannes.example\r\nSubject: Hello\r\n\r\nThanks.\r\n";
  auto scan = [&](const fs::path& config, const std::string& how) {
    return pm::test::policyctl("--config " + config.string() + " scan " + how + " " + msg.string() +
                               " 2>/dev/null");
  };
  pm::test::Output r = scan(cfg, "--explain");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("  school:     st-marys (sender domain stmarys.example)\n"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(nlohmann::json::parse(scan(cfg, "--json").out)["school"], "st-marys");
  const fs::path single = write_config("cli-single", "");
  EXPECT_EQ(scan(single, "--explain").out.find("school:"), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(scan(single, "--json").out)["school"], "");
}

}  // namespace
}  // namespace pm
