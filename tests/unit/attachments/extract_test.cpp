// One behaviour per test: each extractor on a small committed fixture
// (fixtures/make_fixtures.py made them).
#include <gtest/gtest.h>

#include "test_support.h"

namespace pm::attachments::testing {
namespace {

TEST(AttachXlsx, ClassListRowsKeepNameDobAndUpnOnOneLine) {
  auto m = run("class_list.xlsx");
  std::string sheet = text_of(m, "attachment:class_list.xlsx#Year 3 Oak");
  EXPECT_NE(sheet.find("Name\tDOB\tUPN\tParent mobile"), std::string::npos) << sheet;
  EXPECT_NE(sheet.find("Amelia Thornbury\t12/03/2016\tK933214516101\t07700 900120"),
            std::string::npos) << sheet;
  // Built-in format 14 is shown the UK way; a long custom code is rendered as written.
  EXPECT_NE(sheet.find("Oscar Pemberton\t02/11/2015\t"), std::string::npos) << sheet;
  EXPECT_NE(sheet.find("Isla Fairweather\t27 January 2016\t"), std::string::npos) << sheet;
  EXPECT_EQ(sheet.find("42441"), std::string::npos) << "a DOB must not read as its serial";
}

TEST(AttachXlsx, EverySheetPercentLongDatesHyperlinksAndProperties) {
  auto m = run("class_list.xlsx");
  std::string totals = text_of(m, "attachment:class_list.xlsx#Totals");
  EXPECT_NE(totals.find("SEN support\t4\t12.5%"), std::string::npos) << totals;
  EXPECT_NE(totals.find("Friday 14 Jun 2024"), std::string::npos) << totals;
  EXPECT_EQ(text_of(m, "attachment:class_list.xlsx links"), "https://classlists.example/y3");
  std::string props = text_of(m, "attachment:class_list.xlsx#properties");
  EXPECT_NE(props.find("Title: Year 3 class list"), std::string::npos) << props;
  EXPECT_NE(props.find("Author: R. Okafor"), std::string::npos) << props;
  EXPECT_TRUE(m.unscannable.empty()) << reasons(m);
}

TEST(AttachXlsx, InlineStringsBooleansAndThe1904DateSystem) {
  auto m = run("inline_1904.xlsx");
  // 40980 days after 1904-01-01 is 13/03/2016.
  EXPECT_EQ(text_of(m, "attachment:inline_1904.xlsx#Inline"), "Jonah Whitlock\t13/03/2016\tTRUE");
}

TEST(AttachDocx, LinkOnlyInTheRelationshipPartIsFound) {
  auto m = run("link_only.docx");
  EXPECT_EQ(text_of(m, "attachment:link_only.docx links"), "https://jo-reads.blogspot.example/summer");
  std::string body = text_of(m, "attachment:link_only.docx");
  // The target is shown right after the words that present it, so "my reading list" is
  // context for the link.
  EXPECT_NE(body.find("See my reading list <https://jo-reads.blogspot.example/summer>"), std::string::npos) << body;
  for (const auto& s : m.segments)
    if (s.origin == "attachment:link_only.docx links") {
      EXPECT_EQ(s.kind, SegmentKind::links);
    }
}

TEST(AttachDocx, HeadersFootersCommentsFootnotesTextBoxesAndTables) {
  auto m = run("parts.docx");
  EXPECT_EQ(text_of(m, "attachment:parts.docx#header1"), "HEADER: St Anne's curriculum team");
  EXPECT_EQ(text_of(m, "attachment:parts.docx#footer1"), "FOOTER: page one");
  EXPECT_EQ(text_of(m, "attachment:parts.docx#comments"), "COMMENT: check the phonics scores");
  EXPECT_EQ(text_of(m, "attachment:parts.docx#footnotes"), "FOOTNOTE: figures from the spring term");
  std::string body = text_of(m, "attachment:parts.docx");
  EXPECT_NE(body.find("Amelia Thornbury\t31"), std::string::npos) << body;
  // The text box is stored twice (DrawingML and its VML fallback) and must be read once.
  auto first = body.find("TEXTBOX: Year 4 trip");
  ASSERT_NE(first, std::string::npos) << body;
  EXPECT_EQ(body.find("TEXTBOX: Year 4 trip", first + 1), std::string::npos) << body;
  EXPECT_NE(text_of(m, "attachment:parts.docx#properties").find("Author: Jo Marsh"), std::string::npos);
}

TEST(AttachPptx, SlideTextNotesAndLinks) {
  auto m = run("notes.pptx");
  EXPECT_EQ(text_of(m, "attachment:notes.pptx#slide1"), "Welcome to Year 5");
  EXPECT_EQ(text_of(m, "attachment:notes.pptx#slide1 notes"), "NOTES: remind parents about the trip money");
  EXPECT_EQ(text_of(m, "attachment:notes.pptx links"), "https://www.stannes.example/year5");
  EXPECT_NE(text_of(m, "attachment:notes.pptx#properties").find("Title: Year 5 welcome"), std::string::npos);
}

TEST(AttachOdf, OdtBodyFooterLinksAndMeta) {
  auto m = run("letter.odt");
  std::string body = text_of(m, "attachment:letter.odt");
  EXPECT_NE(body.find("Dear parents,\nSports day is on Friday."), std::string::npos) << body;
  EXPECT_NE(body.find("See the school website"), std::string::npos) << body;
  EXPECT_EQ(text_of(m, "attachment:letter.odt#headers"), "ODT FOOTER: St Anne's");
  EXPECT_EQ(text_of(m, "attachment:letter.odt links"), "https://www.stannes.example/sports");
  EXPECT_NE(text_of(m, "attachment:letter.odt#properties").find("Author: K. Lowe"), std::string::npos);
}

TEST(AttachOdf, OdsTablesRowPerLine) {
  auto m = run("marks.ods");
  EXPECT_EQ(text_of(m, "attachment:marks.ods#Group A"),
            "Name\tDOB\tUPN\nAmelia Thornbury\t12/03/2016\tK933214516101");
  EXPECT_EQ(text_of(m, "attachment:marks.ods#Summary"), "Pupils\t28");
}

TEST(AttachPdf, TextPageByPageAndLinkAnnotations) {
  auto m = run("link.pdf", "application/pdf");
  EXPECT_NE(text_of(m, "attachment:link.pdf#page1").find("Pupil: Oscar Pemberton"), std::string::npos)
      << all_text(m);
  EXPECT_NE(text_of(m, "attachment:link.pdf#page2").find("Page two text"), std::string::npos);
  EXPECT_EQ(text_of(m, "attachment:link.pdf links"), "https://portal.example/review?id=42");
  EXPECT_NE(text_of(m, "attachment:link.pdf#properties").find("Title: EHCP review"), std::string::npos);
  EXPECT_TRUE(m.unscannable.empty()) << reasons(m);
}

TEST(AttachPdf, ImageOnlyScanIsUnscannable) {
  auto m = run("scan.pdf");
  EXPECT_TRUE(has_reason(m, "pdf-no-text")) << reasons(m);
}

TEST(AttachPdf, PasswordProtectedIsEncrypted) {
  auto m = run("encrypted.pdf");
  EXPECT_TRUE(has_reason(m, "encrypted-pdf")) << reasons(m);
  EXPECT_EQ(all_text(m).find("Secret review"), std::string::npos);
}

TEST(AttachText, Windows1252CsvBecomesUtf8) {
  auto m = run("register_1252.csv", "text/csv");
  EXPECT_EQ(text_of(m, "attachment:register_1252.csv"),
            "Name,Allergy,Note\nChlo\xC3\xA9 Brennan,nuts,\xC2\xA3" "5 owed");
}

TEST(AttachText, Utf8BomIsRemoved) {
  auto m = run("register_bom.csv");
  EXPECT_EQ(text_of(m, "attachment:register_bom.csv"), "Name,Allergy\nZo\xC3\xAB Hartley,dairy");
}

TEST(AttachText, HtmlAttachmentGivesTextAndLinks) {
  auto m = run("page.html", "text/html");
  EXPECT_NE(text_of(m, "attachment:page.html").find("Fun run & bake sale"), std::string::npos)
      << all_text(m);
  EXPECT_EQ(text_of(m, "attachment:page.html links"), "https://www.stannes.example/funrun");
}

TEST(AttachZip, ZipInsideZipIsReadWithNestedOrigins) {
  auto m = run("nested.zip");
  EXPECT_EQ(text_of(m, "attachment:nested.zip/readme.txt"), "Outer readme");
  EXPECT_EQ(text_of(m, "attachment:nested.zip/inner.zip/list.csv"), "Name,Class\nAmelia Thornbury,3O");
}

TEST(AttachZip, DocxInsideZip) {
  auto m = run("docx_in.zip");
  EXPECT_EQ(text_of(m, "attachment:docx_in.zip/plans/plan.docx"), "Plan for autumn term") << all_text(m);
}

TEST(AttachZip, PasswordZipIsEncryptedZip) {
  auto m = run("encrypted.zip");
  EXPECT_TRUE(has_reason(m, "encrypted-zip")) << reasons(m);
  EXPECT_EQ(all_text(m).find("Oscar"), std::string::npos);
}

TEST(AttachZip, DepthLimitStopsNesting) {
  Limits lim;
  lim.max_archive_depth = 1;  // the outer zip may be opened, the inner one not
  auto m = run("nested.zip", "", lim);
  EXPECT_EQ(text_of(m, "attachment:nested.zip/readme.txt"), "Outer readme");
  EXPECT_TRUE(has_reason(m, "limit:max_archive_depth")) << reasons(m);
  EXPECT_EQ(text_of(m, "attachment:nested.zip/inner.zip/list.csv"), "");
}

TEST(AttachEml, ForwardedMessageGoesToTheEngine) {
  std::string raw = "Subject: fwd\r\n\r\nhello\r\n";
  std::string seen_prefix;
  unsigned seen_depth = 0;
  auto decoder = [&](std::string_view bytes, const std::string& prefix, unsigned depth,
                     DecodedMessage& out) {
    seen_prefix = prefix;
    seen_depth = depth;
    out.segments.push_back(Segment{prefix + "body/1 text/plain", SegmentKind::body, std::string(bytes)});
  };
  auto m = run_bytes(raw, "fwd.eml", "message/rfc822", {}, decoder);
  EXPECT_EQ(seen_prefix, "attachment:fwd.eml/");
  EXPECT_EQ(seen_depth, 1u);
  EXPECT_EQ(text_of(m, "attachment:fwd.eml/body/1 text/plain"), raw);
}

TEST(AttachImage, ImagesAreListedNotRead) {
  std::string png = "\x89PNG\r\n\x1a\n" + std::string(64, 'x');
  auto m = run_bytes(png, "photo.png", "image/png");
  EXPECT_TRUE(m.segments.empty());
  EXPECT_TRUE(m.unscannable.empty());
}

TEST(AttachEncrypted, OfficePasswordOleIsEncryptedOffice) {
  std::string ole = std::string("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8) + std::string(504, '\0');
  for (char c : std::string("EncryptedPackage")) ole += std::string{c, '\0'};
  auto m = run_bytes(ole, "pay.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
  EXPECT_TRUE(has_reason(m, "encrypted-office")) << reasons(m);
}

TEST(AttachEncrypted, SmimeAndPgpAreUnscannable) {
  EXPECT_TRUE(has_reason(run_bytes("0\x82\x01", "smime.p7m", "application/pkcs7-mime"), "encrypted-smime"));
  EXPECT_TRUE(has_reason(run_bytes("-----BEGIN PGP MESSAGE-----\nhQEMA\n", "msg.asc", ""), "encrypted-pgp"));
}

}  // namespace
}  // namespace pm::attachments::testing
