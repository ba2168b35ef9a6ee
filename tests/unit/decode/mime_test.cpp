// The MIME walk: encodings, origins, forwards, signatures, attachments, encryption.
#include <gtest/gtest.h>

#include "decode/decode.h"
#include "helpers.h"

namespace pm {
namespace {

using test::find_segment;
using test::has_unscannable;
using test::origins;
using test::text_of;

DecodedMessage decode(const std::string& raw) { return decode_message(raw, Limits()); }

TEST(Mime, SinglePartPlain) {
  auto m = decode(
      "From: \"Ann Example\" <Ann@School.Example>\r\nTo: bob@parents.example\r\n"
      "Subject: Trip\r\nMessage-ID: <id1@school.example>\r\n\r\nHello there\r\n");
  EXPECT_EQ(text_of(m, "subject"), "Trip");
  EXPECT_EQ(text_of(m, "body/1 text/plain"), "Hello there");
  EXPECT_EQ(text_of(m, "addresses"), "Ann Example <ann@school.example>\nbob@parents.example");
  EXPECT_EQ(find_segment(m, "addresses")->kind, SegmentKind::header);
  ASSERT_EQ(m.from.size(), 1u);
  EXPECT_EQ(m.from[0].address, "ann@school.example");
  EXPECT_EQ(m.from[0].display, "Ann Example");
  EXPECT_EQ(m.subject, "Trip");
  EXPECT_EQ(m.message_id, "<id1@school.example>");
  std::size_t sum = 0;
  for (const auto& s : m.segments) sum += s.text.size();
  EXPECT_EQ(m.decoded_bytes, sum);
}

TEST(Mime, MissingContentTypeIsTextPlainAndLastHeaderWithoutNewlineKept) {
  auto m = decode("Subject: no body");
  EXPECT_EQ(m.subject, "no body");
  auto m2 = decode("Subject: x\n\nbody text\n");
  EXPECT_EQ(text_of(m2, "body/1 text/plain"), "body text");
}

TEST(Mime, Rfc2047BAndQWithSplitWords) {
  // "Café résumé" split over two encoded words, the "é" of the first split across them in B.
  auto m = decode(
      "Subject: =?UTF-8?B?Q2Fmw6kgcsOp?=\r\n =?utf-8?q?sum=C3=A9_now?= plain\r\n"
      "From: =?iso-8859-1?Q?Zo=EB_Example?= <zoe@school.example>\r\n"
      "Cc: =?utf-8?B?w4k=?= =?utf-8?B?bWlsZQ==?= <emile@school.example>\r\n\r\nx\r\n");
  EXPECT_EQ(m.subject, "Caf\xC3\xA9 r\xC3\xA9sum\xC3\xA9 now plain");
  ASSERT_EQ(m.from.size(), 1u);
  EXPECT_EQ(m.from[0].display, "Zo\xC3\xAB Example");
  ASSERT_EQ(m.cc.size(), 1u);
  EXPECT_EQ(m.cc[0].display, "\xC3\x89mile");
}

TEST(Mime, Rfc2047MultibyteCharacterSplitAcrossWords) {
  // U+20AC (E2 82 AC) split between two B words.
  auto m = decode("Subject: =?utf-8?B?4oI=?= =?utf-8?B?rA==?=\r\n\r\nx\r\n");
  EXPECT_EQ(m.subject, "\xE2\x82\xAC");
}

TEST(Mime, QuotedPrintableSoftBreakInsideUrlAndWord) {
  auto m = decode(
      "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: Quoted-Printable\r\n\r\n"
      "See https://www.blog.exa=\r\nmple/~ann =E2=82=AC con=\r\nfiden=74ial=20\r\n");
  EXPECT_EQ(text_of(m, "body/1 text/plain"), "See https://www.blog.example/~ann \xE2\x82\xAC confidential");
}

TEST(Mime, Base64BodyWithCharset) {
  // "Zoë" in windows-1252, base64: Wm/r
  auto m = decode(
      "Content-Type: text/plain; charset=\"windows-1252\"\r\nContent-Transfer-Encoding: BASE64\r\n\r\n"
      "Wm/r\r\n");
  EXPECT_EQ(text_of(m, "body/1 text/plain"), "Zo\xC3\xAB");
}

TEST(Mime, HtmlPartGivesTextAndLinks) {
  auto m = decode(
      "Content-Type: text/html; charset=utf-8\r\n\r\n"
      "<p>Visit <a href=\"https://blog&#x2E;example/ann\">here</a></p><script>hidden()</script>\r\n");
  EXPECT_EQ(text_of(m, "body/1 text/html"), "Visit here <https://blog.example/ann>");
  EXPECT_EQ(text_of(m, "body/1 text/html links"), "https://blog.example/ann");
  EXPECT_EQ(find_segment(m, "body/1 text/html links")->kind, SegmentKind::links);
}

const char* kNested =
    "Subject: nested\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
    "preamble\r\n--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n"
    "--inner\r\nContent-Type: text/plain\r\n\r\nplain part\r\n"
    "--inner\r\nContent-Type: text/html\r\n\r\n<b>html part</b>\r\n--inner--\r\n"
    "--outer\r\nContent-Type: application/pdf; name=\"plan.pdf\"\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--outer--\r\n";

TEST(Mime, NestedMultipartOrigins) {
  auto m = decode(kNested);
  EXPECT_EQ(text_of(m, "body/1.1 text/plain"), "plain part") << origins(m);
  EXPECT_EQ(text_of(m, "body/1.2 text/html"), "html part");
  ASSERT_EQ(m.attachments.size(), 1u);
  EXPECT_EQ(m.attachments[0].origin, "attachment:plan.pdf");
  EXPECT_EQ(m.attachments[0].content_type, "application/pdf");
  EXPECT_EQ(m.attachments[0].size, 5u);  // "%PDF-"
}

TEST(Mime, AttachmentNamesRfc2231And2047) {
  auto m = decode(
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
      "--b\r\nContent-Type: application/octet-stream\r\n"
      "Content-Disposition: attachment; filename*0*=utf-8''r%C3%A9sum;\r\n filename*1*=%C3%A9.docx\r\n\r\nx\r\n"
      "--b\r\nContent-Type: text/csv; name=\"=?utf-8?Q?cla=C3=9F.csv?=\"\r\n"
      "Content-Disposition: attachment\r\n\r\na,b\r\n--b--\r\n");
  ASSERT_EQ(m.attachments.size(), 2u) << origins(m);
  EXPECT_EQ(m.attachments[0].name, "r\xC3\xA9sum\xC3\xA9.docx");
  EXPECT_EQ(m.attachments[0].origin, "attachment:r\xC3\xA9sum\xC3\xA9.docx");
  EXPECT_EQ(m.attachments[1].name, "cla\xC3\x9F.csv");
  EXPECT_EQ(find_segment(m, "body/3 text/csv"), nullptr);  // an attachment, not body
}

TEST(Mime, ForwardedRfc822Plain) {
  auto m = decode(
      "Subject: Fwd: report\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
      "--b\r\nContent-Type: text/plain\r\n\r\nsee below\r\n"
      "--b\r\nContent-Type: message/rfc822\r\n\r\n"
      "Subject: =?utf-8?Q?Inner_report?=\r\nFrom: Carl <carl@school.example>\r\n\r\ninner body\r\n--b--\r\n");
  EXPECT_EQ(text_of(m, "forward/2 subject"), "Inner report") << origins(m);
  EXPECT_EQ(text_of(m, "forward/2 body/1 text/plain"), "inner body");
  EXPECT_EQ(text_of(m, "forward/2 addresses"), "Carl <carl@school.example>");
  EXPECT_EQ(m.subject, "Fwd: report");
}

TEST(Mime, ForwardedRfc822Base64Encoded) {
  // "Subject: Hidden\r\nContent-Type: multipart/alternative; boundary=q\r\n\r\n--q\r\n
  //  Content-Type: text/html\r\n\r\n<a href='https://me.example'>x</a>\r\n--q--\r\n"
  std::string inner =
      "Subject: Hidden\r\nContent-Type: multipart/alternative; boundary=q\r\n\r\n--q\r\n"
      "Content-Type: text/html\r\n\r\n<a href='https://me.example'>secret words</a>\r\n--q--\r\n";
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string b64;
  for (std::size_t i = 0; i < inner.size(); i += 3) {
    unsigned v = static_cast<unsigned char>(inner[i]) << 16;
    if (i + 1 < inner.size()) v |= static_cast<unsigned char>(inner[i + 1]) << 8;
    if (i + 2 < inner.size()) v |= static_cast<unsigned char>(inner[i + 2]);
    b64 += k[(v >> 18) & 63];
    b64 += k[(v >> 12) & 63];
    b64 += i + 1 < inner.size() ? k[(v >> 6) & 63] : '=';
    b64 += i + 2 < inner.size() ? k[v & 63] : '=';
    if (b64.size() % 77 == 76) b64 += "\r\n";
  }
  auto m = decode(
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nfyi\r\n"
      "--b\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
      b64 + "\r\n--b--\r\n");
  EXPECT_EQ(text_of(m, "forward/2 subject"), "Hidden") << origins(m);
  EXPECT_EQ(text_of(m, "forward/2 body/1 text/html"), "secret words <https://me.example>");
  EXPECT_EQ(text_of(m, "forward/2 body/1 text/html links"), "https://me.example");
}

TEST(Mime, PlainSignatureAfterDashDash) {
  auto m = decode("Subject: s\r\n\r\nThe minutes are attached.\r\n-- \r\nAnn Example\r\nhttps://blog.example/ann\r\n");
  EXPECT_EQ(text_of(m, "body/1 text/plain"), "The minutes are attached.");
  EXPECT_EQ(text_of(m, "signature/1"), "-- \nAnn Example\nhttps://blog.example/ann");
  EXPECT_EQ(find_segment(m, "signature/1")->kind, SegmentKind::signature);
}

TEST(Mime, PlainSignatureFromSignOff) {
  auto m = decode(
      "Subject: s\r\n\r\nThanks for coming today.\r\nPlease reply by Friday.\r\n\r\nKind regards,\r\n"
      "Ann Example\r\nYear 4 teacher\r\n\r\nSent from my iPhone\r\n");
  EXPECT_EQ(text_of(m, "body/1 text/plain"), "Thanks for coming today.\nPlease reply by Friday.");
  EXPECT_EQ(text_of(m, "signature/1"), "Kind regards,\nAnn Example\nYear 4 teacher\n\nSent from my iPhone");
}

TEST(Mime, NoSignatureWhenNoneThere) {
  auto m = decode("Subject: s\r\n\r\nThanks for the list, I will send it on.\r\n");
  EXPECT_EQ(find_segment(m, "signature/1"), nullptr);
}

TEST(Mime, HtmlOutlookSignatureSplit) {
  auto m = decode(
      "Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n"
      "--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<div>Body text</div>"
      "<div id=\"Signature\"><p>Ann</p><a href=\"https://social.example/ann\">profile</a></div>\r\n--b--\r\n");
  EXPECT_EQ(text_of(m, "body/2 text/html"), "Body text") << origins(m);
  EXPECT_EQ(text_of(m, "signature/2"), "Ann\nprofile <https://social.example/ann>");
  EXPECT_EQ(text_of(m, "body/2 text/html links"), "https://social.example/ann");
}

TEST(Mime, EncryptedVariantsAreUnscannable) {
  auto a = decode(
      "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=b\r\n\r\n"
      "--b\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n"
      "--b\r\nContent-Type: application/octet-stream\r\n\r\n-----BEGIN PGP MESSAGE-----\r\nabc\r\n--b--\r\n");
  EXPECT_TRUE(has_unscannable(a, "encrypted"));
  auto b = decode(
      "Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\nMIAGCSqGSIb3DQEHA6CAMIACAQAx\r\n");
  EXPECT_TRUE(has_unscannable(b, "encrypted"));
  auto c = decode("Subject: s\r\n\r\n-----BEGIN PGP MESSAGE-----\r\nhQEMA\r\n-----END PGP MESSAGE-----\r\n");
  EXPECT_TRUE(has_unscannable(c, "encrypted"));
  auto plain = decode("Subject: s\r\n\r\nnothing secret\r\n");
  EXPECT_TRUE(plain.unscannable.empty());
}

TEST(Mime, Rfc822DigestDefaultAndCaseInsensitiveCte) {
  auto m = decode(
      "Content-Type: text/plain\r\nContent-Transfer-Encoding: bAsE64\r\n\r\naGVsbG8=\r\n");
  EXPECT_EQ(text_of(m, "body/1 text/plain"), "hello");
}

TEST(Mime, DecodedBytesLimit) {
  Limits limits;
  limits.max_decoded_bytes = 10;
  auto m = decode_message("Subject: abc\r\n\r\nthis body is longer than ten bytes\r\n", limits);
  EXPECT_TRUE(has_unscannable(m, "limit:max_decoded_bytes"));
  EXPECT_LE(m.decoded_bytes, 10u);
}

TEST(Mime, PartsLimit) {
  Limits limits;
  limits.max_parts = 5;
  std::string raw = "Content-Type: multipart/mixed; boundary=b\r\n\r\n";
  for (int i = 0; i < 20; ++i) raw += "--b\r\nContent-Type: text/plain\r\n\r\npart " + std::to_string(i) + "\r\n";
  raw += "--b--\r\n";
  auto m = decode_message(raw, limits);
  EXPECT_TRUE(has_unscannable(m, "limit:max_parts"));
  EXPECT_NE(find_segment(m, "body/1 text/plain"), nullptr);
  EXPECT_EQ(find_segment(m, "body/20 text/plain"), nullptr);
}

TEST(Mime, ExpiredDeadline) {
  auto m = decode_message("Subject: s\r\n\r\nbody\r\n", Limits(), Deadline(std::chrono::milliseconds(-1)));
  EXPECT_TRUE(has_unscannable(m, "limit:scan_time_budget_ms"));
}

}  // namespace
}  // namespace pm
