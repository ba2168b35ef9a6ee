// Engine::scan end to end on small messages built here: every evasion of POLICY.md is
// undone before the rules run, recipients are classified, and the verdict points at the
// evidence in the decoded text.
#include "engine/engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>

namespace pm {
namespace {

const Engine& engine() {
  static auto e = Engine::load(std::filesystem::path(PM_SOURCE_DIR) / "conf/policy-milter.toml");
  return *e;
}

std::string mail(const std::string& to, const std::string& headers, const std::string& body) {
  return "From: Jo Marsh <j.marsh@stannes.example>\r\nTo: " + to +
         "\r\nSubject: hello\r\nMIME-Version: 1.0\r\n" + headers + "\r\n" + body;
}

bool has(const Verdict& v, const std::string& cat) {
  return std::find(v.categories.begin(), v.categories.end(), cat) != v.categories.end();
}

TEST(Engine, PersonalLinkInSignatureWithZeroWidthCharacters) {
  Verdict v = engine().scan(mail("parent@gmail.com", "Content-Type: text/plain; charset=utf-8\r\n",
                                 "See you at sports day.\r\n\r\nKind "
                                 "regards,\r\nJo\r\ninstagram.com/jo\u200B.marsh\u200B.teach\r\n"),
                            nullptr);
  EXPECT_TRUE(has(v, "personal-link"));
  EXPECT_EQ(v.action, Action::quarantine);
  ASSERT_FALSE(v.findings.empty());
  const Finding& f = v.findings.front();
  // Evidence is the decoded text as a person reads it, zero-width characters included.
  EXPECT_EQ(v.segments[f.segment].text.substr(f.start, f.end - f.start), f.evidence);
  EXPECT_NE(f.evidence.find("instagram.com/jo"), std::string::npos);
}

TEST(Engine, QuotedPrintableSoftBreakInsideAUrl) {
  Verdict v = engine().scan(mail("parent@gmail.com",
                                 "Content-Type: text/plain; "
                                 "charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n",
                                 "My blog: https://missholt.word=\r\npress.com/po=73ts\r\n"),
                            nullptr);
  EXPECT_TRUE(has(v, "personal-link"));
}

TEST(Engine, HtmlEntitiesInsideHref) {
  Verdict v =
      engine().scan(mail("parent@gmail.com", "Content-Type: text/html; charset=utf-8\r\n",
                         "<p>Our class news</p><a "
                         "href=\"https&#58;&#x2F;&#47;jessbakes.blogspot.com&#x2F;\">here</a>"),
                    nullptr);
  EXPECT_TRUE(has(v, "personal-link"));
}

TEST(Engine, IdentifierSplitByDashesToAPersonalAddress) {
  Verdict v = engine().scan(mail("me@hotmail.co.uk", "Content-Type: text/plain\r\n",
                                 "Riley's NHS number is 943-476-5919 for the form.\r\n"),
                            nullptr);
  EXPECT_TRUE(has(v, "confidential"));
  ASSERT_EQ(v.recipients.size(), 1u);
  EXPECT_EQ(v.recipients[0].cls, RecipientClass::personal_webmail);
}

// Ten digits inside a UK telephone number written with spaces can pass the NHS check
// ("0 7 7 0 0  9 0 0  5 5 8" holds 7700900558); a number is read whole.
TEST(Engine, TelephoneNumberWithSpacedDigitsIsNotAnNhsNumber) {
  for (const char* number : {"0 7 7 0 0  9 0 0  5 5 8", "07700 900558", "+44 7700 900558"}) {
    Verdict v = engine().scan(mail("me@hotmail.co.uk", "Content-Type: text/plain\r\n",
                                   std::string("The club number is ") + number + ".\r\n"),
                              nullptr);
    EXPECT_FALSE(has(v, "confidential")) << number;
  }
  Verdict nhs = engine().scan(mail("me@hotmail.co.uk", "Content-Type: text/plain\r\n",
                                   "Riley's NHS number is 7700900558.\r\n"),
                              nullptr);
  EXPECT_TRUE(has(nhs, "confidential"));
}

// A negation reaches the end of its clause: "best not to go through school - message me"
// is an invitation; "I can't message you on there" is not.
TEST(Engine, NegationReachesOnlyItsClause) {
  auto to_parent = [](const std::string& body) {
    return engine().scan(mail("mum.of.alfie@gmail.com", "Content-Type: text/plain\r\n",
                              "Dear Mrs Cole,\r\n" + body + "\r\n"),
                         nullptr);
  };
  EXPECT_TRUE(has(to_parent("Best not to arrange it through school - message me on WhatsApp."),
                  "social-contact"));
  EXPECT_FALSE(has(to_parent("I'm sorry but I can't message you on WhatsApp."), "social-contact"));
}

// "Fwd: your useless" keeps the Subject of the forwarded mail: the forwarded author's words,
// not the sender's, when the forwarded header block holds the same Subject.
TEST(Engine, ForwardedSubjectIsTheForwardedAuthorsWords) {
  const std::string fwd =
      "From: Kezia Okafor <k.okafor@stannes.example>\r\nTo: head@stannes.example\r\n"
      "Subject: Fwd: you are useless\r\nContent-Type: text/plain\r\n\r\n"
      "Received last night. Can we talk?\r\n\r\n---------- Forwarded message ---------\r\n"
      "From: Lee Sadler <lee.sadler77@gmail.com>\r\nSubject: you are useless\r\n\r\n"
      "you are useless and you have it in for my lad\r\n";
  EXPECT_FALSE(has(engine().scan(fwd, nullptr), "abusive"));
  const std::string own =
      "From: Kezia Okafor <k.okafor@stannes.example>\r\nTo: head@stannes.example\r\n"
      "Subject: Fwd: you are useless\r\nContent-Type: text/plain\r\n\r\n"
      "See below.\r\n\r\n---------- Forwarded message ---------\r\n"
      "From: Lee Sadler <lee.sadler77@gmail.com>\r\nSubject: timetable\r\n\r\nthe new "
      "timetable\r\n";
  EXPECT_TRUE(has(engine().scan(own, nullptr), "abusive"));
}

// A reply that quotes the sender's own earlier mail ("On 20 Nov, Aoife Brennan wrote:")
// carries the sender's words; what the sender quotes from someone else does not count.
TEST(Engine, TheSendersOwnQuotedWordsAreTheirs) {
  auto reply = [](const std::string& author) {
    return "From: Aoife Brennan <a.brennan@stannes.example>\r\nTo: lisa.marsh@yahoo.co.uk\r\n"
           "Subject: Re: tickets\r\nContent-Type: text/plain\r\n\r\nYes, Thursday is fine.\r\n\r\n"
           "> On 20 Nov 2026, " +
           author +
           " wrote:\r\n> Our visionary leadership team have surpassed themselves again.\r\n";
  };
  EXPECT_TRUE(has(engine().scan(reply("Aoife Brennan"), nullptr), "disrepute"));
  EXPECT_FALSE(has(engine().scan(reply("Lisa Marsh"), nullptr), "disrepute"));
}

TEST(Engine, SameDataToStaffOnlyIsNotAViolation) {
  Verdict v = engine().scan(mail("h.ashdown@stannes.example", "Content-Type: text/plain\r\n",
                                 "Riley's NHS number is 943-476-5919 for the form.\r\n"),
                            nullptr);
  EXPECT_TRUE(v.categories.empty());
  EXPECT_EQ(v.action, Action::accept);
  EXPECT_FALSE(v.unapplied.empty());  // it matched, but the recipient condition did not hold
}

TEST(Engine, HmrcExampleAndInvoiceNumbersPass) {
  Verdict v = engine().scan(mail("accounts@supplier.example", "Content-Type: text/plain\r\n",
                                 "NI example QQ 12 34 56 C. Invoice 943 476 5919 is attached.\r\n"),
                            nullptr);
  EXPECT_TRUE(v.categories.empty());
}

TEST(Engine, Rfc2047SubjectIsScanned) {
  std::string raw =
      "From: j.marsh@stannes.example\r\nTo: news@paper.example\r\n"
      "Subject: =?utf-8?B?VGhlIGhlYWQgaXMgaW5jb21wZXRlbnQgYW5kIHRoZSBzY2hvb2w=?=\r\n "
      "=?utf-8?Q?_is_a_shambles?=\r\n\r\nsee above\r\n";
  Verdict v = engine().scan(raw, nullptr);
  EXPECT_EQ(v.subject, "The head is incompetent and the school is a shambles");
  EXPECT_TRUE(has(v, "disrepute"));
}

TEST(Engine, EnvelopeOverridesHeaders) {
  Envelope env{"j.marsh@stannes.example", {"colleague@stannes.example"}};
  Verdict v = engine().scan(mail("parent@gmail.com", "Content-Type: text/plain\r\n",
                                 "Riley's NHS number is 943-476-5919.\r\n"),
                            &env);
  EXPECT_TRUE(v.categories.empty());
  ASSERT_EQ(v.recipients.size(), 1u);
  EXPECT_EQ(v.recipients[0].address, "colleague@stannes.example");
}

TEST(Engine, LookalikeRecipientIsAProbableMisaddress) {
  Verdict v = engine().scan(
      mail("h.ashdown@stannes.exampel", "Content-Type: text/plain\r\n", "Lunch?\r\n"), nullptr);
  // Held for that recipient (misaddress = "hold", issue 13), with the staff domain it mimics.
  EXPECT_EQ(v.action, Action::quarantine);
  EXPECT_EQ(v.recipients.at(0).lookalike_of, "stannes.example");
  EXPECT_EQ(v.notes, std::vector<std::string>{"probable-misaddress"});
  EXPECT_EQ(v.recipients.at(0).cls, RecipientClass::lookalike);
}

TEST(Engine, EncryptedMailIsUnscannableNotAnError) {
  Verdict v = engine().scan(
      mail("parent@gmail.com",
           "Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\r\n"
           "Content-Transfer-Encoding: base64\r\n",
           "MIAGCSqGSIb3DQEHA6CAMIACAQAxggE=\r\n"),
      nullptr);
  EXPECT_TRUE(has(v, "unscannable"));
  EXPECT_EQ(v.action, Action::quarantine);
}

TEST(Engine, IdiomIsNotAbuse) {
  Verdict v = engine().scan(mail("t.pellow@stannes.example", "Content-Type: text/plain\r\n",
                                 "I could kill for a cup of tea. The Year 5s were savage at "
                                 "rounders, you absolute legend!\r\n"),
                            nullptr);
  EXPECT_TRUE(v.categories.empty());
}

TEST(Engine, HostileInputGivesAVerdict) {
  for (std::string raw : {std::string(), std::string("\x00\xff\xfe garbage", 12),
                          std::string("Content-Type: multipart/mixed\r\n\r\n--x\r\nno end")}) {
    Verdict v = engine().scan(raw, nullptr);
    EXPECT_LE(static_cast<int>(v.action), static_cast<int>(Action::quarantine));
  }
}

// A page of one short unit repeated (an insult, a phone number, spaced digits) puts an
// anchor at every word. Each must cost the same whatever the page's length: these took
// minutes at 4 MB when each anchor searched its whole line-less "sentence" or ran its own
// start-of-match scan, past the daemon's 30 s budget (mail deferred at every retry).
TEST(Engine, DenseRepeatedTextStaysWithinTheScanBudget) {
  for (std::string unit : {"you idiot ", "07700 900123 ", "1 ", "1-1 ", "943 476 5919 "}) {
    std::string body;
    while (body.size() < 4u << 20) {
      for (int k = 0; k < 7; ++k) body += unit;
      body += "\r\n";
    }
    const auto start = std::chrono::steady_clock::now();
    Verdict v =
        engine().scan(mail("parent@gmail.com", "Content-Type: text/plain\r\n", body), nullptr);
    const auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start);
    EXPECT_LT(secs.count(), 30.0) << "unit '" << unit << "'";
    EXPECT_LE(static_cast<int>(v.action), static_cast<int>(Action::quarantine));
  }
}

// Many parents' addresses in To/Cc show them to each other: personal data disclosed. In
// Bcc they are not shown.
TEST(Engine, ManyOutsideAddressesInToDiscloseEachOther) {
  const std::string to =
      "a.parent@gmail.com, b.parent@hotmail.co.uk, c.parent@yahoo.co.uk, d.parent@icloud.com, "
      "e@family-e.example";
  Verdict shown = engine().scan(
      mail(to, "Content-Type: text/plain\r\n", "Trip money is due on Friday.\r\n"), nullptr);
  EXPECT_TRUE(has(shown, "confidential"));
  EXPECT_EQ(shown.action, Action::quarantine);
  bool rule = false;
  for (const auto& f : shown.findings) rule |= f.rule == "confidential.addresses-disclosed";
  EXPECT_TRUE(rule);
  Verdict hidden = engine().scan(
      mail("office@stannes.example", "Bcc: " + to + "\r\nContent-Type: text/plain\r\n",
           "Trip money is due on Friday.\r\n"),
      nullptr);
  EXPECT_FALSE(has(hidden, "confidential"));
}

// A personal mobile given to a plumber is no invitation; to a parent's webmail it is.
TEST(Engine, PersonalMobileToAContractorIsNotAnInvitation) {
  const std::string body =
      "Text me on 07700 900123 when you're on your way with the boiler parts, and send the invoice "
      "to the office.\r\n";
  Verdict plumber = engine().scan(
      mail("dave@quickfix-plumbing.example", "Content-Type: text/plain\r\n", body), nullptr);
  EXPECT_FALSE(has(plumber, "social-contact"));
  ASSERT_EQ(plumber.recipients.size(), 1u);
  EXPECT_EQ(plumber.recipients[0].role, "business");
  Verdict parent = engine().scan(mail("kerry.x@gmail.com", "Content-Type: text/plain\r\n",
                                      "Text me on 07700 900123 if your son is upset tonight.\r\n"),
                                 nullptr);
  EXPECT_TRUE(has(parent, "social-contact"));
  EXPECT_EQ(parent.recipients[0].role, "parent");
}

}  // namespace
}  // namespace pm
