// Issue 11, "Done when": each archive / legacy-Office attachment of the corpus, sent to a
// Gmail address, through the real engine and configuration. Every readable one is
// confidential *because its content was read* (a confidential finding sits in a segment of
// that attachment, and nothing about it is unscannable); the encrypted 7z and the random
// bytes are unscannable; a photo is neither. No rar: Debian has no free RAR writer.
#include <gtest/gtest.h>

#include <filesystem>

#include "engine/engine.h"
#include "util/strings.h"

namespace {

const pm::Engine& engine() {
  static std::shared_ptr<const pm::Engine> e =
      pm::Engine::load(std::filesystem::path(PM_SOURCE_DIR) / "conf/policy-milter.toml");
  return *e;
}

pm::Verdict scan(const std::string& file) {
  auto path = std::filesystem::path(PM_SOURCE_DIR) / "tests/corpus/attachments" / file;
  return engine().scan(pm::read_file(path.string()), nullptr);
}

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

struct Readable {
  const char* file;
  const char* attachment;  // origin prefix of the attachment's own segments
};

class ReadToGmail : public ::testing::TestWithParam<Readable> {};

TEST_P(ReadToGmail, IsConfidentialFromItsOwnContent) {
  pm::Verdict v = scan(GetParam().file);
  EXPECT_EQ(v.action, pm::Action::quarantine);
  EXPECT_TRUE(has(v.categories, "confidential"));
  EXPECT_FALSE(has(v.categories, "unscannable"));
  const std::string inside = GetParam().attachment;
  bool read = false;
  for (const auto& f : v.findings)
    if (f.category == "confidential" && f.origin.rfind(inside, 0) == 0) read = true;
  EXPECT_TRUE(read) << "no confidential finding inside " << inside;
  for (const auto& r : v.recipients) EXPECT_EQ(r.cls, pm::RecipientClass::personal_webmail);
}

INSTANTIATE_TEST_SUITE_P(
    Issue11, ReadToGmail,
    ::testing::Values(
        Readable{"a24-class-list-tar-gz-to-gmail.eml", "attachment:Oak class.tar.gz/"},
        Readable{"a25-class-list-csv-gz-to-gmail.eml", "attachment:class_list.csv.gz/"},
        Readable{"a26-class-list-7z-to-gmail.eml", "attachment:Oak class.7z/"},
        Readable{"a28-class-list-xls-to-gmail.eml", "attachment:class list.xls#"},
        Readable{"a29-class-list-doc-to-gmail.eml", "attachment:class list.doc"}),
    [](const ::testing::TestParamInfo<Readable>& p) {
      std::string n = std::string(p.param.file).substr(0, 3);  // "a24"
      return n;
    });

TEST(UnreadableToGmail, EncryptedArchiveAndRandomBytesAreUnscannableOnly) {
  for (const char* file :
       {"a27-encrypted-7z-to-gmail.eml", "a30-random-octet-stream-to-gmail.eml"}) {
    pm::Verdict v = scan(file);
    EXPECT_EQ(v.action, pm::Action::quarantine) << file;
    EXPECT_EQ(v.categories, std::vector<std::string>{"unscannable"}) << file;
  }
}

TEST(PhotoToGmail, IsListedNeitherReadNorUnscannable) {
  for (const char* file : {"b24-photo-jpg-to-gmail.eml", "b27-photo-octet-stream-to-gmail.eml"}) {
    pm::Verdict v = scan(file);
    EXPECT_EQ(v.action, pm::Action::accept) << file;
    EXPECT_TRUE(v.categories.empty()) << file;
    ASSERT_EQ(v.attachments.size(), 1u) << file;
  }
}

}  // namespace

namespace {

std::string b64(const std::string& in) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < in.size(); i += 3) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    if (i + 2 < in.size()) v |= static_cast<unsigned char>(in[i + 2]);
    out += k[(v >> 18) & 63];
    out += k[(v >> 12) & 63];
    out += i + 1 < in.size() ? k[(v >> 6) & 63] : '=';
    out += i + 2 < in.size() ? k[v & 63] : '=';
  }
  return out;
}

std::string message_with_text_part(const std::string& body_b64) {
  return "From: Jo Marsh <j.marsh@stannes.example>\r\nTo: jo.marsh.home@gmail.com\r\n"
         "Subject: list\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
         "--b\r\nContent-Type: text/plain\r\n\r\nSee below.\r\n"
         "--b\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: "
         "base64\r\n\r\n" +
         body_b64 + "\r\n--b--\r\n";
}

// A part declared text/plain whose bytes are a gzip is typed from its bytes and read: the
// declared type does not get a class list out unread.
TEST(TypeFromBytes, AGzipDeclaredTextPlainIsReadAsAnArchive) {
  std::string gz = pm::read_file(std::string(PM_SOURCE_DIR) +
                                 "/tests/unit/attachments/fixtures/class_list.csv.gz");
  pm::Verdict v = engine().scan(message_with_text_part(b64(gz)), nullptr);
  EXPECT_TRUE(has(v.categories, "confidential"));
  EXPECT_FALSE(has(v.categories, "unscannable"));
}

// ... while a plain body with one stray NUL (a broken client) is still a body, not a file
// of unknown format.
TEST(TypeFromBytes, AStrayNulInABodyKeepsItText) {
  std::string body = "Hello,\r\nthe rota for next week is attached to the staffroom door.";
  body.insert(10, 1, '\0');
  pm::Verdict v = engine().scan(message_with_text_part(b64(body)), nullptr);
  EXPECT_TRUE(v.categories.empty());
  EXPECT_TRUE(v.attachments.empty());
}

}  // namespace
