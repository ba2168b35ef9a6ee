// plan_actions: verdict -> tag / quarantine / split, headers with ids only.
#include "daemon/actions.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace pm {
namespace {

Verdict verdict(Action a, std::vector<std::string> cats = {}) {
  Verdict v;
  v.action = a;
  v.categories = std::move(cats);
  v.snapshot = "abc123";
  return v;
}

Finding finding(std::string rule, std::string cat) {
  Finding f;
  f.rule = std::move(rule);
  f.category = std::move(cat);
  f.evidence = "B801200005001";  // personal data: must never reach a header
  return f;
}

std::string header(const ActionPlan& p, const std::string& name) {
  for (const auto& [n, v] : p.add_headers)
    if (n == name) return v;
  return "<none>";
}

const std::vector<std::string> kArgs = {"<colleague@stannes.example>", "<parent@gmail.com>"};
const std::vector<std::string> kRcpts = {"colleague@stannes.example", "parent@gmail.com"};

TEST(Actions, AcceptAddsOnlyTheVerdict) {
  ActionPlan p = plan_actions(verdict(Action::accept), kArgs, kRcpts, false);
  EXPECT_EQ(p.outcome, Outcome::accept);
  EXPECT_EQ(header(p, "X-Policy-Verdict"), "accept; snapshot=abc123");
  EXPECT_EQ(header(p, "X-Policy-Categories"), "<none>");
  EXPECT_EQ(p.delivered, kArgs);
  EXPECT_TRUE(p.held.empty());
}

TEST(Actions, TagNamesCategoriesAndUniqueRulesButNoEvidence) {
  Verdict v = verdict(Action::tag, {"personal-link"});
  v.findings = {finding("personal-link.blog-host", "personal-link"),
                finding("personal-link.blog-host", "personal-link"),
                finding("personal-link.own-domain", "personal-link")};
  v.notes = {"probable-misaddress"};
  ActionPlan p = plan_actions(v, kArgs, kRcpts, false);
  EXPECT_EQ(p.outcome, Outcome::tag);
  EXPECT_EQ(header(p, "X-Policy-Categories"), "personal-link");
  EXPECT_EQ(header(p, "X-Policy-Rules"), "personal-link.blog-host, personal-link.own-domain");
  EXPECT_EQ(header(p, "X-Policy-Verdict"), "tag; snapshot=abc123; notes=probable-misaddress");
  for (const auto& [n, val] : p.add_headers) EXPECT_EQ(val.find("B8012"), std::string::npos);
}

TEST(Actions, QuarantineHoldsEveryRecipientAndAddsNoHeaders) {
  Verdict v = verdict(Action::quarantine, {"confidential"});
  v.findings = {finding("confidential.upn", "confidential")};
  ActionPlan p = plan_actions(v, kArgs, kRcpts, false);
  EXPECT_EQ(p.outcome, Outcome::quarantine);
  EXPECT_EQ(p.held, kArgs);
  EXPECT_TRUE(p.delivered.empty());
  EXPECT_TRUE(p.add_headers.empty());
  EXPECT_EQ(p.rules, std::vector<std::string>{"confidential.upn"});
}

TEST(Actions, SplitDeliversInternalCopyAndHoldsTheOutsideOne) {
  Verdict v = verdict(Action::quarantine, {"confidential"});
  v.findings = {finding("confidential.upn", "confidential")};
  RecipientVerdict in{"colleague@stannes.example", RecipientClass::internal, Action::accept, {}};
  RecipientVerdict out{
      "parent@gmail.com", RecipientClass::personal_webmail, Action::quarantine, {"confidential"}};
  v.recipients = {in, out};
  ActionPlan p = plan_actions(v, kArgs, kRcpts, true);
  EXPECT_EQ(p.outcome, Outcome::split);
  EXPECT_EQ(p.held, std::vector<std::string>{"<parent@gmail.com>"});
  EXPECT_EQ(p.delivered, std::vector<std::string>{"<colleague@stannes.example>"});
  EXPECT_EQ(header(p, "X-Policy-Verdict"), "accept; held=1; snapshot=abc123");
}

TEST(Actions, SplitWithEveryRecipientHeldIsAPlainQuarantine) {
  Verdict v = verdict(Action::quarantine, {"abusive"});
  v.recipients = {
      {"colleague@stannes.example", RecipientClass::internal, Action::quarantine, {"abusive"}}};
  // The second recipient is unknown to the verdict: held, to be safe.
  ActionPlan p = plan_actions(v, kArgs, kRcpts, true);
  EXPECT_EQ(p.outcome, Outcome::quarantine);
  EXPECT_EQ(p.held.size(), 2u);
}

TEST(Actions, HeaderValuesKeepIdCharactersOnly) {
  Verdict v = verdict(Action::tag, {"personal-link\r\nBcc: x@evil.example"});
  ActionPlan p = plan_actions(v, kArgs, kRcpts, false);
  EXPECT_EQ(header(p, "X-Policy-Categories").find('\n'), std::string::npos);
  EXPECT_EQ(header(p, "X-Policy-Categories").find(' '), std::string::npos);
}

TEST(ForgedHeaders, DeletesEveryPolicyHeaderHighestIndexFirst) {
  ForgedHeaders f;
  f.seen("Subject");
  f.seen("X-Policy-Verdict");
  f.seen("x-policy-verdict");
  f.seen("X-POLICY-Categories");
  f.seen("X-Policyish");
  EXPECT_TRUE(f.any());
  auto d = f.deletions();
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0], (std::pair<std::string, int>{"X-Policy-Verdict", 2}));
  EXPECT_EQ(d[1], (std::pair<std::string, int>{"X-Policy-Verdict", 1}));
  EXPECT_EQ(d[2], (std::pair<std::string, int>{"X-POLICY-Categories", 1}));
  f.clear();
  EXPECT_FALSE(f.any());
}

// Issue 13: a probable misaddress alone is held for the lookalike only, whatever
// split_recipients says; the others get the message.
TEST(Actions, MisaddressAloneIsHeldForTheLookalikeOnly) {
  Verdict v = verdict(Action::quarantine);
  v.notes = {"probable-misaddress"};
  v.recipients = {{"colleague@stannes.example", RecipientClass::internal, Action::accept},
                  {"colleague@stannes.exampel", RecipientClass::lookalike, Action::quarantine}};
  const std::vector<std::string> args = {"<colleague@stannes.example>",
                                         "<colleague@stannes.exampel>"};
  const std::vector<std::string> rcpts = {"colleague@stannes.example", "colleague@stannes.exampel"};
  ActionPlan p = plan_actions(v, args, rcpts, false);
  EXPECT_EQ(p.outcome, Outcome::split);
  EXPECT_EQ(p.held, std::vector<std::string>{"<colleague@stannes.exampel>"});
  EXPECT_EQ(p.delivered, std::vector<std::string>{"<colleague@stannes.example>"});
  EXPECT_EQ(header(p, "X-Policy-Verdict"),
            "accept; held=1; snapshot=abc123; notes=probable-misaddress");
  // With a category the whole message is held as before (no split unless configured).
  v.categories = {"confidential"};
  EXPECT_EQ(plan_actions(v, args, rcpts, false).outcome, Outcome::quarantine);
}

// Monitor mode for the whole filter: delivered with no header at all.
TEST(Actions, MonitorModeAddsNoHeader) {
  Verdict v = verdict(Action::accept, {"abusive"});
  v.would_action = Action::quarantine;
  v.monitor_all = true;
  v.monitored = {"abusive"};
  v.findings = {finding("abusive.slur", "abusive")};
  ActionPlan p = plan_actions(v, kArgs, kRcpts, false);
  EXPECT_EQ(p.outcome, Outcome::accept);
  EXPECT_TRUE(p.add_headers.empty());
  EXPECT_EQ(p.delivered.size(), 2u);
}

// A category in monitor mode is not named in the headers of mail that is tagged for another.
TEST(Actions, MonitoredCategoryIsNotNamedInHeaders) {
  Verdict v = verdict(Action::tag, {"disrepute", "personal-link"});
  v.would_action = Action::quarantine;
  v.monitored = {"disrepute"};
  v.findings = {finding("disrepute.criticism", "disrepute"),
                finding("personal-link.blog", "personal-link")};
  ActionPlan p = plan_actions(v, kArgs, kRcpts, false);
  EXPECT_EQ(header(p, "X-Policy-Categories"), "personal-link");
  EXPECT_EQ(header(p, "X-Policy-Rules"), "personal-link.blog");
}

}  // namespace
}  // namespace pm
