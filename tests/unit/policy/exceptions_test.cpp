// Exceptions (policy/exceptions.h) and their effect in the judge: a sender or staff role to
// a recipient address, domain or list, for named categories, until an expiry date.
#include "policy/exceptions.h"

#include <gtest/gtest.h>

#include "policy/judge.h"

namespace pm {
namespace {

using RC = RecipientClass;

ExceptionSet dsl_referrals(int expires = -1) {
  ExceptionSet set;
  set.roles = StaffRoles::parse(
      "name,email,roles\n"
      "Helen Ashdown,h.ashdown@stannes.example,dsl;head\n"
      "Ruth Kemble,r.kemble@stannes.example,senco\n");
  set.lists["la"] = {"early-help@somerset-la.example", "nhs.example"};
  PolicyException e;
  e.name = "dsl-referrals";
  e.sender_roles = {"dsl"};
  e.recipients = {"safeguarding@somerset-la.example"};
  e.recipient_lists = {"la"};
  e.categories = {"confidential"};
  e.action = Action::accept;
  e.expires = expires;
  set.exceptions.push_back(e);
  return set;
}

const int kToday = days_from_civil(2026, 12, 2);

TEST(Exceptions, DatesParseAndRejectImpossibleDays) {
  EXPECT_EQ(parse_date("1970-01-01"), 0);
  EXPECT_EQ(parse_date("2026-12-02"), kToday);
  EXPECT_EQ(parse_date("2024-02-29"), days_from_civil(2024, 2, 29));
  EXPECT_EQ(parse_date("2025-02-29"), -1);
  EXPECT_EQ(parse_date("2025-13-01"), -1);
  EXPECT_EQ(parse_date("31/08/2027"), -1);
}

TEST(Exceptions, StaffRolesReadTheMisExport) {
  StaffRoles r = StaffRoles::parse("# export\nemail,role\nA.Dsl@Stannes.Example , DSL ; Head\n");
  EXPECT_TRUE(r.has("a.dsl@stannes.example", {"dsl"}));
  EXPECT_TRUE(r.has("A.DSL@stannes.example", {"head"}));
  EXPECT_FALSE(r.has("a.dsl@stannes.example", {"senco"}));
  EXPECT_FALSE(r.has("b@stannes.example", {"dsl"}));
  EXPECT_THROW(StaffRoles::parse("x@stannes.example\n"), std::invalid_argument);
}

TEST(Exceptions, CoverSenderByRoleAndRecipientByAddressDomainOrList) {
  ExceptionSet set = dsl_referrals();
  const PolicyException& e = set.exceptions[0];
  EXPECT_TRUE(exception_covers_sender(e, set, "H.Ashdown@stannes.example"));
  EXPECT_FALSE(exception_covers_sender(e, set, "r.kemble@stannes.example"));
  EXPECT_FALSE(exception_covers_sender(e, set, ""));
  EXPECT_TRUE(exception_covers_recipient(e, set, "safeguarding@somerset-la.example"));
  EXPECT_FALSE(exception_covers_recipient(e, set, "admissions@somerset-la.example"));
  EXPECT_TRUE(exception_covers_recipient(e, set, "early-help@somerset-la.example"));  // list
  EXPECT_TRUE(
      exception_covers_recipient(e, set, "school.nursing@trust.nhs.example"));  // list domain
  EXPECT_FALSE(exception_covers_recipient(e, set, "someone@notnhs.example"));
}

TEST(Exceptions, ExpiredOnesAreIgnoredFromTheDayAfter) {
  ExceptionSet set = dsl_referrals(kToday);
  EXPECT_EQ(
      exception_caps(set, kToday, "h.ashdown@stannes.example", "safeguarding@somerset-la.example")
          .count("confidential"),
      1u);
  EXPECT_TRUE(exception_caps(set, kToday + 1, "h.ashdown@stannes.example",
                             "safeguarding@somerset-la.example")
                  .empty());
}

TEST(Exceptions, TheLowestActionWinsAndIsNamed) {
  ExceptionSet set = dsl_referrals();
  PolicyException tag = set.exceptions[0];
  tag.name = "tag-all";
  tag.action = Action::tag;
  tag.categories = {"confidential", "disrepute"};
  set.exceptions.insert(set.exceptions.begin(), tag);
  std::map<std::string, std::string> names;
  auto caps = exception_caps(set, kToday, "h.ashdown@stannes.example",
                             "safeguarding@somerset-la.example", &names);
  EXPECT_EQ(caps["confidential"], Action::accept);
  EXPECT_EQ(names["confidential"], "dsl-referrals");
  EXPECT_EQ(caps["disrepute"], Action::tag);
  EXPECT_EQ(names["disrepute"], "tag-all");
}

JudgePolicy policy() {
  JudgePolicy p;
  const std::vector<RC> outside = {RC::pupil, RC::partner, RC::personal_webmail, RC::lookalike,
                                   RC::external};
  p.categories = {{"confidential", outside, 1.0, Action::accept, Action::quarantine, true},
                  {"abusive",
                   {RC::internal, RC::partner, RC::external},
                   1.0,
                   Action::quarantine,
                   Action::quarantine,
                   false},
                  {"unscannable", {}, 1.0, Action::tag, Action::quarantine, false}};
  p.misaddress = Action::quarantine;
  return p;
}

TEST(JudgeExceptions, CapsOnlyTheNamedCategoryForTheCoveredRecipient) {
  JudgeInput in;
  in.hits = {{"confidential", "confidential.nhs-number", 1.0, {}}};
  JudgeRecipient la{"safeguarding@somerset-la.example", RC::partner};
  la.caps["confidential"] = Action::accept;
  in.recipients = {la};
  Judgement j = judge(in, policy());
  EXPECT_EQ(j.action, Action::accept);
  EXPECT_EQ(j.categories, std::vector<std::string>{"confidential"});  // it still held
  EXPECT_EQ(j.recipients[0].excepted, std::vector<std::string>{"confidential"});
  EXPECT_TRUE(j.notes.empty());  // no partner alert: it is delivered

  // A second, uncovered recipient is held as usual; so is another category.
  in.recipients.push_back({"parent@gmail.example", RC::personal_webmail});
  j = judge(in, policy());
  EXPECT_EQ(j.action, Action::quarantine);
  EXPECT_EQ(j.recipients[0].action, Action::accept);
  EXPECT_EQ(j.recipients[1].action, Action::quarantine);
  in.recipients.pop_back();
  in.hits.push_back({"abusive", "abusive.slur", 1.0, {}});
  j = judge(in, policy());
  EXPECT_EQ(j.action, Action::quarantine);
}

TEST(JudgeExceptions, ATagCapTagsInsteadOfHolding) {
  JudgeInput in;
  in.hits = {{"confidential", "r", 1.0, {}}};
  JudgeRecipient la{"x@somerset-la.example", RC::partner};
  la.caps["confidential"] = Action::tag;
  in.recipients = {la};
  EXPECT_EQ(judge(in, policy()).action, Action::tag);
}

TEST(JudgeMisaddress, HoldIsForTheLookalikeRecipientOnly) {
  JudgeInput in;
  in.recipients = {{"a@stannes.example", RC::internal}, {"b@stannes.exampel", RC::lookalike}};
  Judgement j = judge(in, policy());
  EXPECT_EQ(j.action, Action::quarantine);
  EXPECT_EQ(j.recipients[0].action, Action::accept);
  EXPECT_EQ(j.recipients[1].action, Action::quarantine);
  EXPECT_EQ(j.notes, std::vector<std::string>{"probable-misaddress"});
  JudgePolicy tag = policy();
  tag.misaddress = Action::tag;
  EXPECT_EQ(judge(in, tag).action, Action::tag);
}

}  // namespace
}  // namespace pm
