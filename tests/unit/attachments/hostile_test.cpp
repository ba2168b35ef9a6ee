// Hostile and broken input: each case must end with segments and/or an Unscannable entry,
// never a crash or a hang (the ctest TIMEOUT bounds the time; there is no clock here).
#include <gtest/gtest.h>
#include <unistd.h>
#include <zip.h>

#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

#include "test_support.h"

namespace pm::attachments::testing {
namespace {

// Builds a zip in memory with libzip (through a temporary file: libzip writes archives to
// files). `password` encrypts every member with AES-256.
std::string make_zip(const std::vector<std::pair<std::string, std::string>>& members,
                     const char* password = nullptr) {
  char path[] = "/tmp/attach_test_XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) throw std::runtime_error("mkstemp");
  close(fd);
  int err = 0;
  zip_t* za = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
  if (!za) throw std::runtime_error("zip_open");
  for (const auto& [name, data] : members) {
    zip_source_t* src = zip_source_buffer(za, data.data(), data.size(), 0);
    zip_int64_t idx = zip_file_add(za, name.c_str(), src, ZIP_FL_OVERWRITE);
    if (idx < 0) throw std::runtime_error("zip_file_add");
    zip_set_file_compression(za, idx, ZIP_CM_DEFLATE, 9);
    if (password && zip_file_set_encryption(za, idx, ZIP_EM_AES_256, password) != 0)
      throw std::runtime_error("zip_file_set_encryption");
  }
  if (zip_close(za) != 0) throw std::runtime_error("zip_close");
  std::FILE* f = std::fopen(path, "rb");
  std::string out;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  std::fclose(f);
  std::remove(path);
  return out;
}

TEST(AttachHostile, CorruptDocxMemberIsCorruptDocx) {
  auto m = run("corrupt.docx");
  EXPECT_TRUE(has_reason(m, "corrupt:docx")) << reasons(m);
  EXPECT_EQ(all_text(m).find("This text will not survive"), std::string::npos);
}

TEST(AttachHostile, TruncatedDocxIsCorruptDocx) {
  auto m = run("truncated.docx");
  EXPECT_TRUE(has_reason(m, "corrupt:docx")) << reasons(m);
}

TEST(AttachHostile, TruncatedZipIsCorruptZip) {
  auto m = run("truncated.zip");
  EXPECT_TRUE(has_reason(m, "corrupt:zip")) << reasons(m);
}

TEST(AttachHostile, CentralDirectoryThatLiesAboutSizeIsCaught) {
  // 8 MB of '0' declared as 100 bytes: either libzip rejects the size mismatch (corrupt)
  // or the real inflation trips the ratio check - never 8 MB of text.
  auto m = run("lying_cd.zip");
  EXPECT_TRUE(has_reason(m, "corrupt:zip") || has_reason(m, "limit:max_compression_ratio"))
      << reasons(m);
  EXPECT_LT(m.decoded_bytes, 1u << 20);
}

TEST(AttachHostile, PdfWithBrokenXrefGivesTextOrCorrupt) {
  auto m = run("broken_xref.pdf");
  bool text = all_text(m).find("Broken xref but readable text") != std::string::npos;
  EXPECT_TRUE(text || has_reason(m, "corrupt:pdf") || has_reason(m, "pdf-no-text")) << reasons(m);
}

TEST(AttachHostile, BillionLaughsIsNotExpanded) {
  auto m = run("billion_laughs.docx");
  std::string body = text_of(m, "attachment:billion_laughs.docx");
  EXPECT_NE(body.find("before"), std::string::npos) << reasons(m);
  EXPECT_NE(body.find("after"), std::string::npos);
  EXPECT_EQ(body.find("lollollol"), std::string::npos);
  EXPECT_LT(m.decoded_bytes, 10000u);
}

TEST(AttachHostile, DeeplyNestedXmlDoesNotOverflowTheStack) {
  std::string xml = "<w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>";
  // 140,000 levels (under 1 MB, so the compression-ratio floor does not apply): far past
  // what a recursive walker's 8 MB stack survives.
  for (int i = 0; i < 140000; ++i) xml += "<a>";
  for (int i = 0; i < 140000; ++i) xml += "</a>";
  xml += "<w:p><w:r><w:t>still read</w:t></w:r></w:p></w:body></w:document>";
  auto m = run_bytes(make_zip({{"word/document.xml", xml}}), "deep.docx");
  EXPECT_EQ(text_of(m, "attachment:deep.docx"), "still read") << reasons(m);
}

TEST(AttachHostile, NestedZipBombStopsAtALimit) {
  // 42.zip in small: a leaf of 64 MB of zeros (inflates ~1000x), copied 4 times per level,
  // nested 5 levels - 4^5 x 64 MB = 64 GB if a reader believed it.
  std::string level = make_zip({{"zeros.bin", std::string(64u << 20, '\0')}});
  for (int depth = 0; depth < 5; ++depth)
    level = make_zip({{"a.zip", level}, {"b.zip", level}, {"c.zip", level}, {"d.zip", level}});
  auto m = run_bytes(level, "42.zip");
  EXPECT_TRUE(has_reason_prefix(m, "limit:")) << reasons(m);
  EXPECT_LE(m.unscannable.size(), 3u) << "one entry per reason, not one per member";
}

TEST(AttachHostile, CompressionRatioLimitOnASingleMember) {
  auto m = run_bytes(make_zip({{"big.txt", std::string(16u << 20, 'a')}}), "big.zip");
  EXPECT_TRUE(has_reason(m, "limit:max_compression_ratio")) << reasons(m);
  EXPECT_TRUE(m.segments.empty());
}

TEST(AttachHostile, ArchiveByteBudgetIsShared) {
  Limits lim;
  lim.max_archive_bytes = 1u << 20;
  std::string chunk;
  for (int i = 0; i < 60000; ++i) chunk += std::to_string(i * 7919 % 10007) + " ";  // ~350 KB
  auto m = run_bytes(make_zip({{"1.txt", chunk}, {"2.txt", chunk}, {"3.txt", chunk}, {"4.txt", chunk}}),
                     "budget.zip", "", lim);
  EXPECT_TRUE(has_reason(m, "limit:max_archive_bytes")) << reasons(m);
  EXPECT_FALSE(text_of(m, "attachment:budget.zip/1.txt").empty());
}

TEST(AttachHostile, MemberCountLimit) {
  Limits lim;
  lim.max_archive_members = 5;
  std::vector<std::pair<std::string, std::string>> members;
  for (int i = 0; i < 10; ++i) members.emplace_back("f" + std::to_string(i) + ".txt", "x");
  auto m = run_bytes(make_zip(members), "many.zip", "", lim);
  EXPECT_TRUE(has_reason(m, "limit:max_archive_members")) << reasons(m);
}

TEST(AttachHostile, AttachmentOverTheSizeLimit) {
  Limits lim;
  lim.max_attachment_bytes = 1000;
  auto m = run_bytes(std::string(2000, 'a'), "big.txt", "text/plain", lim);
  EXPECT_TRUE(has_reason(m, "limit:max_attachment_bytes")) << reasons(m);
  EXPECT_TRUE(m.segments.empty());
}

TEST(AttachHostile, AesEncryptedMemberIsEncryptedZipAndOthersStillRead) {
  std::string enc = make_zip({{"sen.csv", "Name,Need\nOscar Pemberton,ASD\n"}}, "owl");
  auto m = run_bytes(make_zip({{"locked.zip", enc}, {"open.txt", "open text"}}), "pack.zip");
  EXPECT_TRUE(has_reason(m, "encrypted-zip")) << reasons(m);
  EXPECT_EQ(text_of(m, "attachment:pack.zip/open.txt"), "open text");
  EXPECT_EQ(all_text(m).find("Oscar"), std::string::npos);
}

TEST(AttachHostile, RandomBytesNamedDocxAreCorruptDocx) {
  auto m = run_bytes(std::string("PK\x03\x04garbage garbage garbage", 27), "plan.docx");
  EXPECT_TRUE(has_reason(m, "corrupt:docx")) << reasons(m);
  // A PDF that cannot be opened is corrupt; text that only claims to be a PDF is text
  // (the bytes decide, issue 11).
  auto p = run_bytes("%PDF-1.4 not a pdf at all", "review.pdf", "application/pdf");
  EXPECT_TRUE(has_reason(p, "corrupt:pdf")) << reasons(p);
  auto t = run_bytes("not a pdf at all", "review.pdf", "application/pdf");
  EXPECT_EQ(text_of(t, "attachment:review.pdf"), "not a pdf at all") << reasons(t);
}

TEST(AttachHostile, ExpiredDeadlineIsALimitNotAHang) {
  DecodedMessage out;
  Limits limits;
  Deadline expired(std::chrono::milliseconds(0));
  Context ctx{limits, expired, 0, nullptr};
  std::string bytes = fixture("nested.zip");
  extract("attachment:nested.zip", "nested.zip", "", bytes, ctx, out);
  EXPECT_TRUE(has_reason(out, "limit:scan_time_budget_ms")) << reasons(out);
}

}  // namespace
}  // namespace pm::attachments::testing
