// pm_text: charset conversion and HTML rendering.
#include <gtest/gtest.h>

#include "decode/text/charset.h"
#include "decode/text/html.h"

namespace pm::text {
namespace {

TEST(Charset, Utf8StaysUtf8) {
  EXPECT_EQ(to_utf8("caf\xC3\xA9 \xE2\x82\xAC", "UTF-8"), "caf\xC3\xA9 \xE2\x82\xAC");
}

TEST(Charset, BrokenUtf8GetsReplacementCharacter) {
  EXPECT_EQ(to_utf8("a\xFF" "b", "utf-8"), "a\xEF\xBF\xBD" "b");
}

TEST(Charset, Windows1252SmartQuotes) {
  EXPECT_EQ(to_utf8("\x93Hi\x94 \x96 it\x92s", "windows-1252"),
            "\xE2\x80\x9CHi\xE2\x80\x9D \xE2\x80\x93 it\xE2\x80\x99s");
}

TEST(Charset, Iso88591) { EXPECT_EQ(to_utf8("Zo\xEB", "ISO-8859-1"), "Zo\xC3\xAB"); }

TEST(Charset, Iso885915Euro) {
  EXPECT_EQ(to_utf8("\xA4" "5", "iso-8859-15"), "\xE2\x82\xAC" "5");
  // Same byte in latin-1 is the currency sign, proving the converter really differs.
  EXPECT_EQ(to_utf8("\xA4", "iso-8859-1"), "\xC2\xA4");
}

TEST(Charset, UnknownCharsetFallsBack) {
  EXPECT_EQ(to_utf8("caf\xC3\xA9", "x-made-up"), "caf\xC3\xA9");      // valid UTF-8 kept
  EXPECT_EQ(to_utf8("caf\xE9", "x-made-up"), "caf\xC3\xA9");          // else windows-1252
  EXPECT_EQ(to_utf8("caf\xE9", ""), "caf\xC3\xA9");
  EXPECT_EQ(to_utf8("caf\xE9", "../../etc/passwd"), "caf\xC3\xA9");
}

TEST(Charset, MultiByteCharsetViaIcu) {
  EXPECT_EQ(to_utf8("\x82\xA0", "Shift_JIS"), "\xE3\x81\x82");  // HIRAGANA A
}

TEST(Charset, DetectHonoursBom) {
  EXPECT_EQ(detect_to_utf8(std::string_view("\xFF\xFE" "A\0B\0", 6)), "AB");
  EXPECT_EQ(detect_to_utf8(std::string_view("\xFE\xFF\0A", 4)), "A");
  EXPECT_EQ(detect_to_utf8("\xEF\xBB\xBFhi"), "hi");
  EXPECT_EQ(detect_to_utf8("caf\xE9"), "caf\xC3\xA9");
}

TEST(Charset, ValidUtf8Check) {
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("\xF0\x9F\x98\x80"));
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));          // overlong
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("abc\xE2\x82"));       // truncated
}

TEST(Html, EntitiesDecodedInTextAndHref) {
  HtmlText h = html_to_text(
      "<p>Fish &amp; chips &#99;&#x68;ips &eacute;</p>"
      "<a href=\"https://blog&#46;example/&#x7E;ann?a=1&amp;b=2\">my blog</a>");
  // A web link's target follows its anchor text, as text-mode clients show it.
  EXPECT_EQ(h.text, "Fish & chips chips \xC3\xA9\nmy blog <https://blog.example/~ann?a=1&b=2>");
  ASSERT_EQ(h.links.size(), 1u);
  EXPECT_EQ(h.links[0], "https://blog.example/~ann?a=1&b=2");
}

TEST(Html, Html5EntitiesInHrefAndLegacyEntitiesInText) {
  HtmlText h = html_to_text(
      "<a href=\"https&colon;&sol;&sol;blog&period;example&sol;ann?a=1&copy=2\">x</a>"
      "<p>&copy 2024 &NotANamedEntity; &#128; &#0; &#x1F600;</p>");
  ASSERT_EQ(h.links.size(), 1u);
  EXPECT_EQ(h.links[0], "https://blog.example/ann?a=1&copy=2");  // "&copy=" stays in a URL
  EXPECT_EQ(h.text, "x <https://blog.example/ann?a=1&copy=2>\n\xC2\xA9 2024 &NotANamedEntity; \xE2\x82\xAC \xEF\xBF\xBD \xF0\x9F\x98\x80");
}

TEST(Html, CommentsTemplatesAndUnclosedScriptHidden) {
  HtmlText h = html_to_text(
      "before<!-- hidden comment --><template>hidden template</template> after"
      "<script>never shown");
  EXPECT_EQ(h.text, "before after");
}

TEST(Html, AttributesWithQuotesAndOddSpacing) {
  HtmlText h = html_to_text("<A HREF = 'https://a.example/x y' class=foo>A</A><a href=https://b.example/>B</a>");
  ASSERT_EQ(h.links.size(), 2u);
  EXPECT_EQ(h.links[0], "https://a.example/x y");
  EXPECT_EQ(h.links[1], "https://b.example/");
  EXPECT_EQ(h.text, "A <https://a.example/x y>B <https://b.example/>");
}

TEST(Html, ScriptStyleAndHeadDropped) {
  HtmlText h = html_to_text(
      "<html><head><title>T</title><style>p{color:red}</style></head><body>"
      "<script>var secret = 'x';</script>Visible</body></html>");
  EXPECT_EQ(h.text, "Visible");
}

TEST(Html, BlocksBreaksAndTableCells) {
  HtmlText h = html_to_text(
      "<div>one</div><div>two<br>three</div><table><tr><td>a</td><td>b</td></tr>"
      "<tr><td>c</td><td>d</td></tr></table>");
  EXPECT_EQ(h.text, "one\ntwo\nthree\na\tb\nc\td");
}

TEST(Html, LinksFromSrcAndNewlinesInsideUrlRemoved) {
  HtmlText h = html_to_text(
      "<img src=\"https://img.example/a.png\" alt=\"logo\"><a href=\"https://ex\nample.example/x\">x</a>"
      "<a href=\"#top\">top</a><img src=\"data:image/png;base64,AAAA\">");
  ASSERT_EQ(h.links.size(), 2u);
  EXPECT_EQ(h.links[0], "https://img.example/a.png");
  EXPECT_EQ(h.links[1], "https://example.example/x");
  EXPECT_NE(h.text.find("logo"), std::string::npos);
}

TEST(Html, OutlookSignatureDiv) {
  HtmlText h = html_to_text(
      "<div>Please see the plan.</div><div id=\"Signature\"><p>Ann Example</p>"
      "<p><a href=\"https://social.example/ann\">me</a></p></div>");
  ASSERT_NE(h.signature_start, std::string::npos);
  EXPECT_EQ(h.text.substr(0, h.signature_start), "Please see the plan.\n");
  EXPECT_EQ(h.text.substr(h.signature_start), "Ann Example\nme <https://social.example/ann>");
}

TEST(Html, GmailSignatureClass) {
  HtmlText h = html_to_text("Hi<div class=\"x gmail_signature\">Bob</div>");
  ASSERT_NE(h.signature_start, std::string::npos);
  EXPECT_EQ(h.text.substr(h.signature_start), "Bob");
}

TEST(Html, DeepNestingDoesNotCrash) {
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "<div><span>";
  deep += "bottom";
  HtmlText h = html_to_text(deep);
  EXPECT_NE(h.text.find("bottom"), std::string::npos);
}

TEST(Html, LinkTextThatIsTheUrlIsNotRepeated) {
  HtmlText h = html_to_text("<a href=\"https://www.stannes.example/news\">www.stannes.example/news</a> "
                            "<a href=\"mailto:office@stannes.example\">office</a>");
  EXPECT_EQ(h.text, "www.stannes.example/news office");
  EXPECT_EQ(h.links.size(), 2u);
}

}  // namespace
}  // namespace pm::text
