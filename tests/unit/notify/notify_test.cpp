// The SMTP client against a real SMTP server (smtp_sink.h), and the notices' content:
// what they say, and that they never carry the matched data.
#include <gtest/gtest.h>

#include "notify/notices.h"
#include "notify/smtp.h"
#include "smtp_sink.h"

namespace pm {
namespace {

TEST(Smtp, ParsesEndpoints) {
  auto e = parse_smtp_endpoint("127.0.0.1:10026");
  EXPECT_EQ(e.host, "127.0.0.1");
  EXPECT_EQ(e.port, 10026);
  EXPECT_EQ(parse_smtp_endpoint("[::1]:25").host, "::1");
  EXPECT_THROW(parse_smtp_endpoint("localhost"), std::invalid_argument);
  EXPECT_THROW(parse_smtp_endpoint("localhost:99999"), std::invalid_argument);
  EXPECT_THROW(parse_smtp_endpoint("localhost:2x"), std::invalid_argument);
}

TEST(Smtp, SendsBytesWithDotStuffingAndCrlf) {
  test::SmtpSink sink;
  const std::string msg = "Subject: t\n\n.leading dot\nline two\r\n..two dots\nno newline at end";
  std::string reply = smtp_send({"127.0.0.1", sink.port()}, {"ada@stannes.example", {"a@gmail.com", "b@stannes.example"}}, msg);
  EXPECT_NE(reply.find("250"), std::string::npos);
  auto got = sink.wait_for(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].from, "ada@stannes.example");
  EXPECT_EQ(got[0].rcpts, (std::vector<std::string>{"a@gmail.com", "b@stannes.example"}));
  EXPECT_EQ(got[0].data, "Subject: t\r\n\r\n.leading dot\r\nline two\r\n..two dots\r\nno newline at end\r\n");
  EXPECT_FALSE(got[0].body_8bit);
}

TEST(Smtp, Declares8BitBodies) {
  test::SmtpSink sink;
  smtp_send({"127.0.0.1", sink.port()}, {"", {"a@gmail.com"}}, "Subject: caf\xc3\xa9\r\n\r\nx\r\n");
  auto got = sink.wait_for(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].body_8bit);
  EXPECT_EQ(got[0].from, "");
}

TEST(Smtp, RefusedRecipientOrDeadServerThrows) {
  test::SmtpSink sink;
  EXPECT_THROW(smtp_send({"127.0.0.1", sink.port()}, {"a@stannes.example", {"ok@x.example", "refuse-me@x.example"}}, "x"),
               SmtpError);
  EXPECT_TRUE(sink.messages().empty());
  EXPECT_THROW(smtp_send({"127.0.0.1", test::closed_port()}, {"a@stannes.example", {"b@x.example"}}, "x", 2), SmtpError);
  EXPECT_THROW(smtp_send({"127.0.0.1", sink.port()}, {"a@stannes.example", {"b@x.example\r\nRSET"}}, "x"), SmtpError);
  EXPECT_THROW(smtp_send({"127.0.0.1", sink.port()}, {"a@stannes.example", {}}, "x"), SmtpError);
}

QuarantineItem held_item() {
  QuarantineItem it;
  it.id = "20250130T101500Z-1a2b3c4d5e6f7a8b";
  it.received_at = 1738232100;
  it.sender = "ada.lovelace@stannes.example";
  it.recipients = {"parent.one@gmail.com", "referrals@somerset-la.example"};
  it.held_recipients = it.recipients;
  it.subject = "Notes on B801200005001";
  it.categories = {"confidential"};
  return it;
}

NoticeSettings settings() {
  NoticeSettings s;
  s.school_name = "St Anne's C of E Primary School";
  s.from = "mail-policy@stannes.example";
  s.review_url = "http://127.0.0.1:8025/";
  return s;
}

TEST(Notices, SenderHeldNamesTheClauseNotTheData) {
  auto n = sender_held_notice(settings(), held_item(), {"must not disclose personal data"}, /*quote_subject=*/false);
  EXPECT_EQ(n.to, std::vector<std::string>{"ada.lovelace@stannes.example"});
  EXPECT_NE(n.body.find("must not disclose personal data"), std::string::npos);
  EXPECT_NE(n.body.find("head teacher will review"), std::string::npos);
  EXPECT_EQ(n.body.find("B801200005001"), std::string::npos);  // the finding was in the subject
  std::string text = n.render(settings());
  EXPECT_NE(text.find("Auto-Submitted: auto-generated\r\n"), std::string::npos);
  EXPECT_NE(text.find("From: Mail policy"), std::string::npos);  // ASCII display name: not encoded
  EXPECT_EQ(text.find("B801200005001"), std::string::npos);
  EXPECT_EQ(text.find("\n\n"), std::string::npos);  // CRLF throughout

  auto quoted = sender_held_notice(settings(), held_item(), {"c"}, /*quote_subject=*/true);
  EXPECT_NE(quoted.body.find("\"Notes on B801200005001\""), std::string::npos);
}

TEST(Notices, ReviewerAlertIsUrgentForPartnersAndCarriesNoSubject) {
  HeldSummary h{held_item(), {"referrals@somerset-la.example: partner organisation"}};
  auto n = reviewer_alert(settings(), {"head@stannes.example"}, {h}, /*urgent=*/true, 1738232100 + 7200);
  EXPECT_NE(n.subject.find("URGENT"), std::string::npos);
  EXPECT_NE(n.body.find("http://127.0.0.1:8025/"), std::string::npos);
  EXPECT_NE(n.body.find("2 h ago"), std::string::npos);
  EXPECT_EQ(n.body.find("Notes on"), std::string::npos);
  auto digest = reviewer_alert(settings(), {"head@stannes.example"}, {h, h}, false, 1738232100);
  EXPECT_EQ(digest.subject, "2 messages are waiting for your review");
}

TEST(Notices, OutcomeNoticesAndEncodedSubjects) {
  auto item = held_item();
  auto r = sender_outcome_notice(settings(), item, Outcome::released_partial, {"referrals@somerset-la.example"}, "", false);
  EXPECT_NE(r.body.find("released to referrals@somerset-la.example only"), std::string::npos);
  auto f = sender_outcome_notice(settings(), item, Outcome::refused, {}, "Please send it through the secure portal.", false);
  EXPECT_NE(f.body.find("secure portal"), std::string::npos);
  EXPECT_NE(f.subject.find("not sent"), std::string::npos);
  Notice n;
  n.to = {"x@stannes.example"};
  n.subject = "R\xc3\xa9sum\xc3\xa9\r\nBcc: evil@x.example";
  std::string text = n.render(settings());
  EXPECT_NE(text.find("Subject: =?UTF-8?B?"), std::string::npos);
  EXPECT_EQ(text.find("\r\nBcc:"), std::string::npos);  // no header injection
}

}  // namespace
}  // namespace pm
