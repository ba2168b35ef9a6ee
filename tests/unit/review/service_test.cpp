// ReviewService over a real store and a real SMTP server: routing, the detail view's
// offsets and recipient reasons, release (bytes unchanged but one header), partial release,
// failed reinjection, refuse, "not a violation", notices and retention.
#include <gtest/gtest.h>

#include "fixture.h"

namespace pm {
namespace {

using test::Fixture;

TEST(Utf16, CountsCodeUnitsLikeJavaScript) {
  const std::string s = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z";  // a é € 😀 z
  EXPECT_EQ(utf16_index(s, 0), 0u);
  EXPECT_EQ(utf16_index(s, 1), 1u);
  EXPECT_EQ(utf16_index(s, 3), 2u);
  EXPECT_EQ(utf16_index(s, 6), 3u);
  EXPECT_EQ(utf16_index(s, 10), 5u);
  EXPECT_EQ(utf16_index(s, 11), 6u);
  EXPECT_EQ(utf16_index(s, 999), 6u);
}

TEST(Redaction, CutsTheEvidenceDigitsAndAddresses) {
  const std::string text =
      "Please call ada.p@gmail.com about ref 943 476 5919 before 3 May, thanks";
  auto at = text.find("943");
  std::string c = redacted_context(text, at, at + 12);
  EXPECT_EQ(c.find("943"), std::string::npos);
  EXPECT_EQ(c.find("gmail"), std::string::npos);
  EXPECT_NE(c.find("[...]"), std::string::npos);
  EXPECT_NE(c.find("[address]"), std::string::npos);
  EXPECT_NE(c.find("before # May"), std::string::npos);
}

TEST(Service, DetailHasOffsetsReasonsAndIsAudited) {
  Fixture f;
  std::string id = f.put_confidential();
  auto d = f.service->detail(f.account("head.teacher"), id);
  ASSERT_EQ(d["findings_detail"].size(), 1u);
  const auto& fd = d["findings_detail"][0];
  const std::string text = d["segments"][fd["segment"].get<std::size_t>()]["text"];
  // The body has one two-byte character (é) before the number: UTF-16 offset is one less.
  EXPECT_EQ(fd["start"].get<std::size_t>(), text.find("943") - 1);
  EXPECT_EQ(fd["end"].get<std::size_t>() - fd["start"].get<std::size_t>(), 12u);
  EXPECT_EQ(fd["clause"], "must not disclose personal data");
  std::map<std::string, std::string> why;
  for (const auto& r : d["recipients_detail"]) why[r["address"]] = r["why"];
  EXPECT_NE(why["parent.one@gmail.com"].find("personal Gmail"), std::string::npos);
  EXPECT_NE(why["office@stannes.exampel"].find("looks like a typo of stannes.example"),
            std::string::npos);
  EXPECT_NE(why["referrals@somerset-la.example"].find("partner organisation"), std::string::npos);
  auto log = f.store->audit_log(id);
  EXPECT_EQ(log[0].action, "viewed");
  EXPECT_EQ(log[0].actor, "head.teacher");
}

TEST(Service, ComplaintAboutTheHeadGoesToTheChairOnly) {
  Fixture f;
  std::string about = f.put_about_head();
  std::string other = f.put_confidential();
  EXPECT_EQ(f.service->route_of(*f.store->get(about)), "complaint about the head teacher");
  EXPECT_FALSE(f.service->may_review(f.account("head.teacher"), *f.store->get(about)));
  EXPECT_TRUE(f.service->may_review(f.account("chair"), *f.store->get(about)));
  EXPECT_THROW(f.service->detail(f.account("head.teacher"), about), NotFound);
  auto list = f.service->list(f.account("head.teacher"), {});
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["id"], other);
  std::vector<std::string> logins;
  for (const auto& a : f.service->reviewers_of(*f.store->get(about))) logins.push_back(a.login);
  EXPECT_EQ(logins, std::vector<std::string>{"chair"});
}

TEST(Service, ReleaseReinjectsTheOriginalBytesWithOneHeader) {
  Fixture f;
  std::string id = f.put_confidential();
  auto r = f.service->release("head.teacher", id, {}, "checked with the family");
  EXPECT_TRUE(r["fully_released"].get<bool>());
  auto got = f.sink->wait_for(2);  // the message, then the sender's notice
  ASSERT_GE(got.size(), 1u);
  const auto& m = got[0];
  EXPECT_EQ(m.from, "ada.teacher@stannes.example");
  EXPECT_EQ(m.rcpts.size(), 3u);
  const std::string prefix = "X-Policy-Released-By: head.teacher (quarantine " + id + "); ";
  ASSERT_EQ(m.data.rfind(prefix, 0), 0u);
  auto eol = m.data.find("\r\n");
  EXPECT_EQ(m.data.substr(eol + 2), Fixture::raw_message());  // everything else unchanged
  EXPECT_EQ(f.store->get(id)->status, QuarantineStatus::released);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].rcpts, std::vector<std::string>{"ada.teacher@stannes.example"});
  EXPECT_NE(got[1].data.find("checked with the family"), std::string::npos);
  EXPECT_EQ(got[1].data.find("943 476 5919"), std::string::npos);
}

TEST(Service, PartialReleaseLeavesTheRestHeld) {
  Fixture f;
  std::string id = f.put_confidential();
  auto r = f.service->release("head.teacher", id,
                              std::vector<std::string>{"referrals@somerset-la.example"}, "");
  EXPECT_FALSE(r["fully_released"].get<bool>());
  auto got = f.sink->wait_for(1);
  EXPECT_EQ(got[0].rcpts, std::vector<std::string>{"referrals@somerset-la.example"});
  auto item = f.store->get(id);
  EXPECT_EQ(item->status, QuarantineStatus::held);
  EXPECT_EQ(item->held_recipients.size(), 2u);
  EXPECT_THROW(f.service->release("head.teacher", id,
                                  std::vector<std::string>{"someone.else@gmail.com"}, ""),
               BadRequest);
}

TEST(Service, FailedReinjectionLeavesTheMessageHeld) {
  Fixture f(/*reinject_works=*/false);
  std::string id = f.put_confidential();
  EXPECT_THROW(f.service->release("head.teacher", id, {}, ""), ReleaseFailed);
  EXPECT_EQ(f.store->get(id)->status, QuarantineStatus::held);
  EXPECT_EQ(f.store->read_message(id), Fixture::raw_message());
  EXPECT_EQ(f.store->audit_log(id)[0].action, "release-failed");
}

TEST(Service, RefuseDeletesAndTellsTheSender) {
  Fixture f;
  std::string id = f.put_confidential();
  f.service->refuse("head.teacher", id, "Please use the secure portal.");
  EXPECT_EQ(f.store->get(id)->status, QuarantineStatus::refused);
  EXPECT_EQ(f.store->read_message(id), "");
  auto got = f.sink->wait_for(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].rcpts, std::vector<std::string>{"ada.teacher@stannes.example"});
  EXPECT_NE(got[0].data.find("secure portal"), std::string::npos);
  EXPECT_THROW(f.service->refuse("head.teacher", id, ""), std::invalid_argument);
}

TEST(Service, NotAViolationRecordsRedactedContext) {
  Fixture f;
  std::string id = f.put_confidential();
  f.service->dismiss("head.teacher", id, "confidential.nhs-number", "a booking reference");
  auto d = f.service->dismissals(10);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0]["rule"], "confidential.nhs-number");
  std::string ctx = d[0]["context"];
  EXPECT_EQ(ctx.find("943"), std::string::npos);
  EXPECT_NE(ctx.find("NHS number is [...] for the trip"), std::string::npos);
  EXPECT_THROW(f.service->dismiss("head.teacher", id, "no.such-rule", ""), std::invalid_argument);
}

// Issue 13: "not a violation" proposes an exception that `policyctl exceptions proposed`
// prints as configuration; the same proposal twice is printed once.
TEST(Service, NotAViolationProposesAnExceptionSnippet) {
  Fixture f;
  std::string id = f.put_confidential();
  f.service->dismiss("head.teacher", id, "confidential.nhs-number", "a booking reference");
  f.service->dismiss("head.teacher", id, "confidential.nhs-number", "again");
  std::string out = f.service->proposed_exceptions(10);
  EXPECT_EQ(out.find("[[exceptions.rule]]"), out.rfind("[[exceptions.rule]]"));
  EXPECT_NE(out.find("senders = [\"ada.teacher@stannes.example\"]"), std::string::npos) << out;
  EXPECT_NE(out.find("recipients = [\"parent.one@gmail.com\", \"office@stannes.exampel\", "
                     "\"referrals@somerset-la.example\"]"),
            std::string::npos);
  EXPECT_NE(out.find("categories = [\"confidential\"]"), std::string::npos);
  EXPECT_NE(out.find("action = \"deliver\""), std::string::npos);
  EXPECT_NE(out.find("expires = 20"), std::string::npos);
  EXPECT_EQ(out.find("943"), std::string::npos);  // no evidence in the snippet
}

// A misaddress held for its lookalike only, when the milter's notice did not go out: the
// review page's held notice names the address and the staff domain it looks like.
TEST(Service, HeldNoticeForAMisaddressNamesTheTypo) {
  Fixture f;
  QuarantineInput in;
  in.sender = "r.varma@stannes.example";
  in.recipients = {"d.sutcliffe@stannes.example", "k.foley@stannes.exampel"};
  in.held_recipients = {"k.foley@stannes.exampel"};
  in.action = "split";
  in.verdict_json =
      R"({"action":"quarantine","categories":[],"notes":["probable-misaddress"],"findings":[],)"
      R"("recipients":[{"address":"k.foley@stannes.exampel","class":"lookalike","action":"quarantine",)"
      R"("lookalike_of":"stannes.example"}]})";
  f.store->put("Subject: tea\r\n\r\nTea at 3?\r\n", in);
  EXPECT_EQ(f.service->send_notices(std::time(nullptr)).sender_notices, 1);
  bool named = false;
  for (const auto& m : f.sink->wait_for(1))
    named |=
        m.rcpts == std::vector<std::string>{"r.varma@stannes.example"} &&
        m.data.find(
            "k.foley@stannes.exampel looks like a typo of the school's domain stannes.example") !=
            std::string::npos;
  EXPECT_TRUE(named);
}

// Monitor mode's list: read-only, from the stored verdict; scoped by category.
TEST(Service, MonitorListsWhatWouldHaveBeenHeld) {
  Fixture f;
  MonitorInput mi;
  mi.sender = "ben.teacher@stannes.example";
  mi.recipients = {"news@gazette.example"};
  mi.categories = {"disrepute"};
  mi.would_action = "quarantine";
  mi.verdict_json =
      R"({"recipients":[{"address":"news@gazette.example","class":"external","action":"accept","would_action":"quarantine"}],)"
      R"("findings":[{"rule":"disrepute.leadership","category":"disrepute","clause":"c","origin":"body/1","evidence":"useless"}]})";
  f.store->record_monitor(mi);
  nlohmann::json m = f.service->monitor(f.account("it.admin"), 10);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0]["state"], "would have been held");
  EXPECT_EQ(m[0]["recipients"][0]["would_action"], "quarantine");
  EXPECT_EQ(m[0]["findings"][0]["evidence"], "useless");
}

TEST(Service, NoticesGoOutOnceAndPartnerMailIsUrgent) {
  Fixture f;
  f.put_confidential();  // has a partner recipient
  auto h = f.service->send_notices(std::time(nullptr));
  EXPECT_EQ(h.sender_notices, 1);
  EXPECT_EQ(h.reviewer_notices, 1);
  auto got = f.sink->wait_for(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].rcpts, std::vector<std::string>{"ada.teacher@stannes.example"});
  EXPECT_NE(got[0].data.find("must not disclose personal data"), std::string::npos);
  EXPECT_EQ(got[0].data.find("943 476 5919"), std::string::npos);
  EXPECT_NE(got[1].data.find("URGENT"), std::string::npos);
  // Both reviewers cover every category (no scope), the admin has no e-mail.
  EXPECT_EQ(got[1].rcpts,
            (std::vector<std::string>{"chair@governors.example", "head@stannes.example"}));
  auto again = f.service->send_notices(std::time(nullptr));
  EXPECT_EQ(again.sender_notices + again.reviewer_notices, 0);
}

TEST(Service, DigestCollectsNonUrgentMail) {
  Fixture f;
  f.cfg.digest = true;
  f.cfg.digest_minutes = 60;
  ReviewService digest(f.cfg, *f.store, *f.users);
  f.put_about_head();
  f.put_about_head();
  auto now = static_cast<std::int64_t>(std::time(nullptr));
  auto h = digest.send_notices(now);
  EXPECT_EQ(h.sender_notices, 2);
  EXPECT_EQ(h.reviewer_notices, 1);  // one digest, to the chair only (routing)
  auto got = f.sink->wait_for(3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2].rcpts, std::vector<std::string>{"chair@governors.example"});
  EXPECT_NE(got[2].data.find("2 messages are waiting"), std::string::npos);
}

TEST(Service, RetentionRefusesUndecidedAndPurgesDecided) {
  Fixture f;
  std::string old = f.put_confidential();
  std::string decided = f.put_confidential();
  f.service->release("head.teacher", decided, {}, "");
  std::size_t before = f.sink->wait_for(2).size();
  auto now = static_cast<std::int64_t>(std::time(nullptr));
  auto early = f.service->retention(now + 13 * 86400);  // within both limits
  EXPECT_EQ(early.expired + early.purged, 0);
  auto h = f.service->retention(now + 15 * 86400);
  EXPECT_EQ(h.expired, 1);
  EXPECT_EQ(h.purged, 0);
  EXPECT_EQ(f.store->get(old)->status, QuarantineStatus::refused);
  EXPECT_EQ(f.store->audit_log(old)[0].actor, "policy-review (retention)");
  auto got = f.sink->wait_for(before + 2);
  ASSERT_EQ(got.size(), before + 2);  // the sender and the reviewers are told
  EXPECT_EQ(got[before].rcpts, std::vector<std::string>{"ada.teacher@stannes.example"});
  EXPECT_NE(got[before + 1].data.find("refused automatically"), std::string::npos);
  auto later = f.service->retention(now + 31 * 86400);
  EXPECT_EQ(later.purged, 2);
  EXPECT_EQ(f.store->get(decided)->status, QuarantineStatus::deleted);
  EXPECT_EQ(f.store->get(old)->status, QuarantineStatus::deleted);
}

}  // namespace
}  // namespace pm
