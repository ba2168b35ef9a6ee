// Issue 13 through Engine::scan and the configuration file: exceptions (loaded from
// [exceptions], with a staff roles export), monitor mode (global and per category), the
// misaddress hold and parents' addresses in To or Cc.
#include <gtest/gtest.h>

#include <unistd.h>
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "engine/config.h"
#include "engine/engine.h"
#include "util/error.h"

namespace pm {
namespace {

namespace fs = std::filesystem;

// The shipped configuration with the rules by absolute path, `edit` applied (sed-like:
// `from` -> `to`, each must occur) and `extra` appended, in a fresh directory.
fs::path write_config(const std::string& name,
                      std::vector<std::pair<std::string, std::string>> edit,
                      const std::string& extra) {
  std::ifstream in(fs::path(PM_SOURCE_DIR) / "conf/policy-milter.toml");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  edit.emplace_back("dir = \"../rules\"",
                    "dir = \"" + (fs::path(PM_SOURCE_DIR) / "rules").string() + "\"");
  for (const auto& [from, to] : edit) {
    auto at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) text.replace(at, from.size(), to);
  }
  fs::path dir =
      fs::temp_directory_path() / ("pm-issue13-" + name + "-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "staff-roles.csv")
      << "name,email,roles\nHelen Ashdown,h.ashdown@stannes.example,dsl;head\n"
         "Ruth Kemble,r.kemble@stannes.example,senco\n";
  std::ofstream(dir / "policy-milter.toml") << text << "\n" << extra;
  return dir / "policy-milter.toml";
}

const char* kReferral =
    "From: Helen Ashdown <h.ashdown@stannes.example>\r\n"
    "To: MASH <safeguarding@somerset-la.example>\r\nSubject: Referral\r\n"
    "Content-Type: text/plain\r\n\r\n"
    "I am making a referral regarding Leo Harcourt (DOB 04/07/2015, NHS no. 754 323 1948), "
    "Year 4. He arrived with bruising to his upper arm.\r\n";

const char* kExceptions = R"(
[[exceptions.rule]]
name = "dsl-referrals"
sender_roles = ["dsl"]
recipients = ["safeguarding@somerset-la.example"]
categories = ["confidential"]
action = "deliver"
expires = 2099-08-31

[[exceptions.rule]]
name = "expired-one"
senders = ["r.kemble@stannes.example"]
recipients = ["somerset-la.example"]
categories = ["confidential"]
expires = 2020-01-01
)";

std::shared_ptr<const Engine> with_exceptions() {
  static auto e = Engine::load(write_config(
      "exc", {{"staff_roles = \"\"", "staff_roles = \"staff-roles.csv\""}}, kExceptions));
  return e;
}

TEST(Exceptions, TheDslReferralIsDeliveredAndTheExceptionNamed) {
  Envelope env{"h.ashdown@stannes.example", {"safeguarding@somerset-la.example"}};
  Verdict v = with_exceptions()->scan(kReferral, &env);
  EXPECT_EQ(v.action, Action::accept);
  EXPECT_EQ(v.categories, std::vector<std::string>{"confidential"});
  ASSERT_EQ(v.exceptions.size(), 1u);
  EXPECT_EQ(v.exceptions[0].name, "dsl-referrals");
  EXPECT_EQ(v.exceptions[0].recipient, "safeguarding@somerset-la.example");
  EXPECT_TRUE(std::find(v.notes.begin(), v.notes.end(), "partner-alert") == v.notes.end());
}

TEST(Exceptions, OtherSendersRecipientsAndExpiredOnesAreJudgedAsUsual) {
  Envelope senco{"r.kemble@stannes.example", {"safeguarding@somerset-la.example"}};
  Verdict v = with_exceptions()->scan(kReferral, &senco);  // only the expired one matches
  EXPECT_EQ(v.action, Action::quarantine);
  EXPECT_TRUE(v.exceptions.empty());
  Envelope other{"h.ashdown@stannes.example", {"admissions@somerset-la.example"}};
  EXPECT_EQ(with_exceptions()->scan(kReferral, &other).action, Action::quarantine);
  Envelope also_parent{"h.ashdown@stannes.example",
                       {"safeguarding@somerset-la.example", "leo.dad@gmail.com"}};
  v = with_exceptions()->scan(kReferral, &also_parent);
  EXPECT_EQ(v.action, Action::quarantine);
  EXPECT_EQ(v.recipients[0].action, Action::accept);
  EXPECT_EQ(v.recipients[1].action, Action::quarantine);
}

TEST(Exceptions, TyposAreConfigErrorsWithTheLine) {
  auto bad = [](const std::string& name, const std::string& extra) {
    try {
      Engine::load(write_config(name, {}, extra));
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("loaded");
  };
  EXPECT_NE(bad("k",
                "[[exceptions.rule]]\nname = \"x\"\nsenders = [\"a@stannes.example\"]\n"
                "recipients = [\"b.example\"]\ncategories = [\"confidential\"]\nrecipent = 1\n")
                .find("unknown key 'recipent'"),
            std::string::npos);
  EXPECT_NE(bad("c",
                "[[exceptions.rule]]\nname = \"x\"\nsenders = [\"a@stannes.example\"]\n"
                "recipients = [\"b.example\"]\ncategories = [\"confidentail\"]\n")
                .find("unknown category 'confidentail'"),
            std::string::npos);
  EXPECT_NE(bad("a",
                "[[exceptions.rule]]\nname = \"x\"\nsenders = [\"a@stannes.example\"]\n"
                "recipients = [\"b.example\"]\ncategories = [\"confidential\"]\naction = "
                "\"quarantine\"\n")
                .find(": exceptions.rule.action: unknown value 'quarantine' (valid: deliver, tag)"),
            std::string::npos);
  // file:line, the line being the action's own.
  const std::string msg =
      bad("l",
          "[[exceptions.rule]]\nname = \"x\"\nsenders = [\"a@stannes.example\"]\n"
          "recipients = [\"b.example\"]\ncategories = [\"confidential\"]\naction = 1\n");
  std::ifstream in(fs::temp_directory_path() / ("pm-issue13-l-" + std::to_string(::getpid())) /
                   "policy-milter.toml");
  int lines = 0;
  for (std::string l; std::getline(in, l);) ++lines;
  EXPECT_NE(msg.find("policy-milter.toml:" + std::to_string(lines) + ": "), std::string::npos)
      << msg;
  EXPECT_NE(bad("d",
                "[[exceptions.rule]]\nname = \"x\"\nsenders = [\"a@stannes.example\"]\n"
                "recipients = [\"b.example\"]\ncategories = [\"confidential\"]\nexpires = "
                "\"31/08/2027\"\n")
                .find("expires must be a date"),
            std::string::npos);
}

const char* kAbuse =
    "From: Jo Marsh <j.marsh@stannes.example>\r\nTo: service@county-logistics.example\r\n"
    "Subject: delivery\r\nContent-Type: text/plain\r\n\r\n"
    "Your driver is a complete moron and an idiot.\r\n";

TEST(Monitor, TheWholeFilterOnlyWatches) {
  auto e = Engine::load(
      write_config("mon", {{"mode           = \"enforce\"", "mode = \"monitor\""}}, ""));
  Verdict v = e->scan(kAbuse, nullptr);
  EXPECT_EQ(v.action, Action::accept);
  EXPECT_TRUE(v.monitor_all);
  EXPECT_EQ(v.would_action, Action::quarantine);
  EXPECT_EQ(v.monitored, std::vector<std::string>{"abusive"});
  // Misaddressed mail is delivered too.
  Envelope typo{"j.marsh@stannes.example", {"k.foley@stannes.exampel"}};
  v = e->scan(
      "From: j.marsh@stannes.example\r\nTo: k.foley@stannes.exampel\r\nSubject: tea\r\n\r\nTea at "
      "3?\r\n",
      &typo);
  EXPECT_EQ(v.action, Action::accept);
  EXPECT_EQ(v.would_action, Action::quarantine);
}

TEST(Monitor, OneCategoryOnly) {
  auto e = Engine::load(
      write_config("moncat",
                   {{"abusive        = { internal = \"quarantine\", outside = \"quarantine\" }",
                     "abusive        = { internal = \"quarantine\", outside = \"quarantine\", mode "
                     "= \"monitor\" }"}},
                   ""));
  Verdict v = e->scan(kAbuse, nullptr);
  EXPECT_EQ(v.action, Action::accept);
  EXPECT_FALSE(v.monitor_all);
  EXPECT_EQ(v.would_action, Action::quarantine);
  Verdict conf = e->scan(kReferral, nullptr);  // confidential is still enforced
  EXPECT_EQ(conf.action, Action::quarantine);
  EXPECT_FALSE(conf.monitoring());
}

TEST(Misaddress, DefaultHoldsTheLookalikeOnlyAndNamesTheStaffDomain) {
  auto e = Engine::load(write_config("mis", {}, ""));
  Envelope env{"j.marsh@stannes.example",
               {"d.sutcliffe@stannes.example", "k.foley@stannes.exampel"}};
  Verdict v = e->scan(
      "From: j.marsh@stannes.example\r\nTo: d.sutcliffe@stannes.example\r\n"
      "Cc: k.foley@stannes.exampel\r\nSubject: trip\r\n\r\nCoach at 8.\r\n",
      &env);
  EXPECT_EQ(v.action, Action::quarantine);
  ASSERT_EQ(v.recipients.size(), 2u);
  EXPECT_EQ(v.recipients[0].action, Action::accept);
  EXPECT_EQ(v.recipients[1].action, Action::quarantine);
  EXPECT_EQ(v.recipients[1].lookalike_of, "stannes.example");
  auto tag = Engine::load(
      write_config("mistag", {{"misaddress     = \"hold\"", "misaddress = \"tag\""}}, ""));
  EXPECT_EQ(tag->scan("From: j.marsh@stannes.example\r\nTo: k.foley@stannes.exampel\r\n\r\nhi\r\n",
                      nullptr)
                .action,
            Action::tag);
}

// Twenty parents' webmail addresses in To: held, and the clause the sender reads says Bcc;
// the same twenty in Bcc: delivered. The threshold is configurable.
TEST(DisclosedAddresses, TwentyParentsInToAreHeldInBccNot) {
  std::string list;
  for (int i = 1; i <= 20; ++i)
    list += (list.empty() ? "" : ", ") + std::string("parent") + std::to_string(i) +
            (i % 2 ? "@gmail.com" : "@hotmail.co.uk");
  const std::string body =
      "Subject: Year 5 trip\r\nContent-Type: text/plain\r\n\r\nThe coach leaves at 8.\r\n";
  auto e = Engine::load(write_config("disc", {}, ""));
  Verdict to = e->scan("From: office@stannes.example\r\nTo: " + list + "\r\n" + body, nullptr);
  EXPECT_EQ(to.action, Action::quarantine);
  bool bcc_advice = false;
  for (const auto& f : to.findings)
    bcc_advice |=
        f.rule == "confidential.addresses-disclosed" && f.clause.find("Bcc") != std::string::npos;
  EXPECT_TRUE(bcc_advice);
  Verdict bcc = e->scan(
      "From: office@stannes.example\r\nTo: office@stannes.example\r\nBcc: " + list + "\r\n" + body,
      nullptr);
  EXPECT_EQ(bcc.action, Action::accept);
  auto high = Engine::load(
      write_config("disc30", {{"disclosed_addresses = 4", "disclosed_addresses = 30"}}, ""));
  EXPECT_EQ(
      high->scan("From: office@stannes.example\r\nTo: " + list + "\r\n" + body, nullptr).action,
      Action::accept);
}

}  // namespace
}  // namespace pm
