#include "match/normalize.h"

#include <gtest/gtest.h>

namespace pm {
namespace {

TEST(Normalize, FoldsCaseAndWhiteSpace) {
  NormText n = normalize("Add  ME\ton\r\nFaceBook\n\n\nplease");
  EXPECT_EQ(n.text, "add me on\nfacebook\n\nplease");
}

TEST(Normalize, RemovesZeroWidthAndSoftHyphens) {
  // U+200B, U+200C, U+200D, U+2060, U+FEFF and U+00AD inside words and a URL.
  NormText n = normalize("fa\u200Bce\u200Cbo\u200Dok.c\u2060om/ja\uFEFFne ca\u00ADpa\u00ADbility");
  EXPECT_EQ(n.text, "facebook.com/jane capability");
}

TEST(Normalize, AppliesNfkcAndLookalikes) {
  // Fullwidth letters, a ligature, Cyrillic а/е/о, typographic apostrophe and dash.
  NormText n = normalize("\uFF41\uFF44\uFF44 \uFB01ne f\u0430c\u0435b\u043Eok won\u2019t \u2013 x");
  EXPECT_EQ(n.text, "add fine facebook won't - x");
}

TEST(Normalize, MapsEveryByteBackToTheSource) {
  std::string src = "Hi \u200BJ\u00C9SS";  // zero-width space, then É (2 bytes)
  NormText n = normalize(src);
  ASSERT_EQ(n.text, "hi j\u00E9ss");
  // "jéss" starts at the source's 'J', after the zero-width space.
  auto start = n.text.find('j');
  auto [s, e] = n.source_range(start, n.text.size(), src);
  EXPECT_EQ(src.substr(s, e - s), "J\u00C9SS");
  EXPECT_EQ(n.from_source(src.find('J')), start);
}

TEST(Normalize, CompactsDigitGroupsForIdentifiers) {
  NormText n = normalize("NHS 943 476-5919, tel 01632 960 111 and page 3 of 4");
  NormText c = compact_digits(n);
  EXPECT_EQ(c.text, "nhs 9434765919, tel 01632960111 and page 3 of 4");
  // The compact view maps into the normalised text.
  auto at = c.text.find("9434765919");
  EXPECT_EQ(n.text.substr(c.to_orig[at], 3), "943");
  EXPECT_EQ(n.text[c.to_orig[at + 9]], '9');
}

TEST(Normalize, SurvivesInvalidUtf8) {
  NormText n = normalize(std::string("ok \xFF\xFE bad \xC3"));
  EXPECT_EQ(n.to_orig.size(), n.text.size() + 1);
  EXPECT_EQ(n.text.substr(0, 2), "ok");
}

}  // namespace
}  // namespace pm

namespace pm {
namespace {

// Leetspeak inside a word is read as letters (one byte for one byte, so evidence offsets do
// not move); addresses, links, postcodes and identifiers keep their digits and symbols.
TEST(Normalize, ReadsLeetspeakInsideWordsOnly) {
  EXPECT_EQ(normalize("a total sh@mbl3s, SLT are us3l3ss").text,
            "a total shambles, slt are useless");
  EXPECT_EQ(normalize("the f@t kid, ten w0rds").text, "the fat kid, ten words");
  const std::string kept =
      "jo.marsh1988@gmail.com bit.ly/4bX0aZ SW1A 1AA 943 476 5919 A123456789012 QQ123456C 10:30";
  NormText n = normalize(kept);
  EXPECT_EQ(
      n.text,
      "jo.marsh1988@gmail.com bit.ly/4bx0az sw1a 1aa 943 476 5919 a123456789012 qq123456c 10:30");
  EXPECT_EQ(n.to_orig.size(), n.text.size() + 1);
}

}  // namespace
}  // namespace pm
