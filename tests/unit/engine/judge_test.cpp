#include "policy/judge.h"

#include <gtest/gtest.h>

namespace pm {
namespace {

using RC = RecipientClass;
const std::vector<RC> kOutside = {RC::pupil, RC::partner, RC::personal_webmail, RC::lookalike, RC::external};
const std::vector<RC> kAll = {RC::internal, RC::pupil, RC::partner, RC::personal_webmail, RC::lookalike, RC::external};

JudgePolicy policy() {
  JudgePolicy p;
  p.categories = {
      {"confidential", kOutside, 1.0, Action::accept, Action::quarantine, true},
      {"personal-link", kAll, 1.0, Action::tag, Action::quarantine, false},
      {"abusive", kAll, 1.0, Action::quarantine, Action::quarantine, false},
      {"disrepute", {RC::partner, RC::personal_webmail, RC::external}, 1.0, Action::accept, Action::quarantine, true},
      {"unscannable", {}, 1.0, Action::tag, Action::quarantine, false},
  };
  return p;
}

JudgeInput input(std::vector<JudgeHit> hits, std::vector<std::pair<std::string, RC>> rcpts) {
  JudgeInput in;
  in.hits = std::move(hits);
  for (auto& [a, c] : rcpts) in.recipients.push_back({a, c, false});
  return in;
}

TEST(Judge, ConfidentialCountsOnlyOutsideTheStaffDomain) {
  auto j = judge(input({{"confidential", "r", 1.0, {}}}, {{"a@stannes.example", RC::internal}}), policy());
  EXPECT_EQ(j.action, Action::accept);
  EXPECT_TRUE(j.categories.empty());
  j = judge(input({{"confidential", "r", 1.0, {}}},
                  {{"a@stannes.example", RC::internal}, {"b@gmail.com", RC::personal_webmail}}),
            policy());
  EXPECT_EQ(j.action, Action::quarantine);
  EXPECT_EQ(j.categories, std::vector<std::string>{"confidential"});
  EXPECT_EQ(j.recipients[0].action, Action::accept);
  EXPECT_EQ(j.recipients[1].action, Action::quarantine);
}

TEST(Judge, MatrixPicksTheColumnFromTheRecipients) {
  auto j = judge(input({{"personal-link", "r", 1.0, {}}}, {{"a@stannes.example", RC::internal}}), policy());
  EXPECT_EQ(j.action, Action::tag);
  j = judge(input({{"personal-link", "r", 1.0, {}}}, {{"p@pupils.stannes.example", RC::pupil}}), policy());
  EXPECT_EQ(j.action, Action::quarantine);
  j = judge(input({{"abusive", "r", 1.0, {}}}, {{"a@stannes.example", RC::internal}}), policy());
  EXPECT_EQ(j.action, Action::quarantine);
}

TEST(Judge, WeakRulesAddUpToTheThreshold) {
  auto rc = std::vector<std::pair<std::string, RC>>{{"b@gmail.com", RC::personal_webmail}};
  EXPECT_EQ(judge(input({{"confidential", "a", 0.5, {}}}, rc), policy()).action, Action::accept);
  EXPECT_EQ(judge(input({{"confidential", "a", 0.5, {}}, {"confidential", "b", 0.5, {}}}, rc), policy()).action,
            Action::quarantine);
}

TEST(Judge, RuleLevelConditionNarrowsTheCategory) {
  JudgePolicy p = policy();
  p.categories.push_back({"social-contact", {RC::pupil, RC::personal_webmail, RC::external}, 1.0, Action::accept,
                          Action::quarantine, false});
  JudgeHit follow{"social-contact", "follow", 1.0, {RC::pupil, RC::personal_webmail}};
  EXPECT_EQ(judge(input({follow}, {{"news@paper.example", RC::external}}), p).action, Action::accept);
  EXPECT_EQ(judge(input({follow}, {{"mum@gmail.com", RC::personal_webmail}}), p).action, Action::quarantine);
}

TEST(Judge, LookalikeAloneIsTaggedWithANote) {
  auto j = judge(input({}, {{"a@stannes.exampel", RC::lookalike}}), policy());
  EXPECT_EQ(j.action, Action::tag);
  EXPECT_EQ(j.notes, std::vector<std::string>{"probable-misaddress"});
}

TEST(Judge, PartnerHeldRaisesAnAlert) {
  auto j = judge(input({{"confidential", "r", 1.0, {}}}, {{"sw@somerset-la.example", RC::partner}}), policy());
  EXPECT_EQ(j.action, Action::quarantine);
  EXPECT_EQ(j.notes, std::vector<std::string>{"partner-alert"});
}

TEST(Judge, WhistleblowingBodyIsExempt) {
  JudgeInput in = input({{"disrepute", "r", 1.0, {}}}, {{"concerns@ofsted.example", RC::external}});
  in.recipients[0].whistleblowing = true;
  EXPECT_EQ(judge(in, policy()).action, Action::accept);
}

TEST(Judge, UnscannableHoldsForEveryRecipient) {
  JudgeInput in = input({}, {{"a@stannes.example", RC::internal}});
  in.unscannable = true;
  EXPECT_EQ(judge(in, policy()).action, Action::tag);
  in.recipients.push_back({"b@gmail.com", RC::personal_webmail, false});
  EXPECT_EQ(judge(in, policy()).action, Action::quarantine);
}

TEST(Judge, NoRecipientsIsJudgedAsOutside) {
  auto j = judge(input({{"confidential", "r", 1.0, {}}}, {}), policy());
  EXPECT_EQ(j.action, Action::quarantine);
  EXPECT_TRUE(j.recipients.empty());
}

}  // namespace
}  // namespace pm
