// Hostile and broken input: every case must return (no crash, no hang) with a sensible
// outcome. Sizes match what crashes or stalls mimetic unguarded (DEPENDENCIES.md). No
// timing assertions: ctest's TIMEOUT catches a hang.
#include <gtest/gtest.h>

#include <random>

#include "decode/decode.h"
#include "helpers.h"

namespace pm {
namespace {

using test::find_segment;
using test::has_unscannable;
using test::origins;
using test::text_of;

TEST(Hostile, Empty) {
  auto m = decode_message("", Limits());
  EXPECT_TRUE(m.segments.empty());
  EXPECT_TRUE(m.unscannable.empty());
}

TEST(Hostile, BinaryGarbage) {
  std::mt19937 rng(12345);
  for (int round = 0; round < 20; ++round) {
    std::string junk(20000, '\0');
    for (char& c : junk) c = static_cast<char>(rng() & 0xFF);
    auto m = decode_message(junk, Limits());
    for (const Segment& s : m.segments) EXPECT_FALSE(s.origin.empty());
  }
}

TEST(Hostile, TruncatedMime) {
  auto m = decode_message(
      "Subject: cut\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
      "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8gd29y",
      Limits());
  EXPECT_EQ(m.subject, "cut");
  EXPECT_EQ(text_of(m, "body/1 text/plain"), "hello wor") << origins(m);
}

TEST(Hostile, MissingBoundaryKeepsText) {
  auto m = decode_message(
      "Content-Type: multipart/mixed\r\n\r\nfirst line\r\n--x\r\nContent-Type: text/plain\r\n\r\n"
      "the hidden words\r\n--x--\r\n",
      Limits());
  bool found = false;
  for (const Segment& s : m.segments) found |= s.text.find("the hidden words") != std::string::npos;
  EXPECT_TRUE(found) << origins(m);
}

TEST(Hostile, UnparseableBoundaryKeepsText) {
  // A ';' inside the quoted boundary: mimetic splits the parameter there and finds no part.
  auto m = decode_message(
      "Content-Type: multipart/mixed; boundary=\"a;b\"\r\n\r\n--a;b\r\nContent-Type: text/plain\r\n\r\n"
      "the hidden words\r\n--a;b--\r\n",
      Limits());
  bool found = false;
  for (const Segment& s : m.segments) found |= s.text.find("the hidden words") != std::string::npos;
  EXPECT_TRUE(found) << origins(m);
}

TEST(Hostile, FiftyThousandDeepMultipart) {
  const int depth = 50000;
  std::string raw = "Subject: deep\r\n";
  for (int i = 0; i < depth; ++i)
    raw += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\r\n\r\n--b" +
           std::to_string(i) + "\r\n";
  raw += "Content-Type: text/plain\r\n\r\nbottom\r\n";
  auto m = decode_message(raw, Limits());
  EXPECT_TRUE(has_unscannable(m, "limit:max_mime_depth"));
  EXPECT_EQ(m.subject, "deep");
}

TEST(Hostile, HundredThousandDeepRfc822Chain) {
  std::string raw;
  raw.reserve(100000 * 50);
  raw += "Subject: chain\r\n";
  for (int i = 0; i < 100000; ++i) raw += "Subject: level\r\nContent-Type: message/rfc822\r\n\r\n";
  raw += "Subject: bottom\r\n\r\ntext\r\n";
  auto m = decode_message(raw, Limits());
  EXPECT_TRUE(has_unscannable(m, "limit:max_mime_depth"));
  EXPECT_EQ(m.subject, "chain");
  EXPECT_NE(find_segment(m, "forward/1 forward/1 subject"), nullptr) << "outer levels still decoded";
}

TEST(Hostile, Base64Rfc822ChainIsBoundedToo) {
  // Each level wraps the next in base64: the recursion happens in our code, not mimetic's.
  std::string msg = "Subject: bottom\r\n\r\ntext\r\n";
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (int level = 0; level < 42; ++level) {  // grows by 4/3 a level: ~6 MB
    std::string b64;
    for (std::size_t i = 0; i < msg.size(); i += 3) {
      unsigned v = static_cast<unsigned char>(msg[i]) << 16;
      if (i + 1 < msg.size()) v |= static_cast<unsigned char>(msg[i + 1]) << 8;
      if (i + 2 < msg.size()) v |= static_cast<unsigned char>(msg[i + 2]);
      b64 += k[(v >> 18) & 63];
      b64 += k[(v >> 12) & 63];
      b64 += i + 1 < msg.size() ? k[(v >> 6) & 63] : '=';
      b64 += i + 2 < msg.size() ? k[v & 63] : '=';
    }
    msg = "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64 + "\r\n";
  }
  auto m = decode_message(msg, Limits());
  EXPECT_TRUE(has_unscannable(m, "limit:max_mime_depth"));
}

TEST(Hostile, TenMegabyteHeaderLine) {
  std::string raw = "Subject: " + std::string(10u << 20, 'a') + "\r\nFrom: ann@school.example\r\n\r\nbody\r\n";
  auto m = decode_message(raw, Limits());
  EXPECT_TRUE(has_unscannable(m, "limit:max_header_line_bytes"));
  EXPECT_EQ(text_of(m, "body/1 text/plain"), "body");
  ASSERT_EQ(m.from.size(), 1u);
  EXPECT_EQ(m.from[0].address, "ann@school.example");
  EXPECT_LE(m.subject.size(), Limits().max_header_line_bytes);
}

TEST(Hostile, TenMegabyteFoldedHeaderInsidePart) {
  std::string folded;
  for (int i = 0; i < 100000; ++i) folded += " x=" + std::string(97, 'y') + "\r\n";
  std::string raw = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain;\r\n" +
                    folded + "\r\nafter the long header\r\n--b--\r\n";
  auto m = decode_message(raw, Limits());
  EXPECT_TRUE(has_unscannable(m, "limit:max_header_line_bytes"));
  EXPECT_EQ(text_of(m, "body/1 text/plain"), "after the long header") << origins(m);
}

TEST(Hostile, NulInHeaderDoesNotHideTheRest) {
  std::string raw = std::string("Subject: harmless\0 hidden words\r\n\r\nx\r\n", 39);
  auto m = decode_message(raw, Limits());
  EXPECT_NE(m.subject.find("hidden words"), std::string::npos);
}

TEST(Hostile, OversizedMessageOnlyHeaders) {
  Limits limits;
  limits.max_message_bytes = 100;
  auto m = decode_message("Subject: big\r\n\r\n" + std::string(1000, 'z') + "\r\n", limits);
  EXPECT_TRUE(has_unscannable(m, "limit:max_message_bytes"));
  EXPECT_EQ(m.subject, "big");
  EXPECT_EQ(find_segment(m, "body/1 text/plain"), nullptr);
}

TEST(Hostile, ManyFlatPartsStopAtLimit) {
  std::string raw = "Content-Type: multipart/mixed; boundary=b\r\n\r\n";
  for (int i = 0; i < 100000; ++i) raw += "--b\r\n\r\nx\r\n";
  raw += "--b--\r\n";
  auto m = decode_message(raw, Limits());
  EXPECT_TRUE(has_unscannable(m, "limit:max_parts"));
}

}  // namespace
}  // namespace pm
