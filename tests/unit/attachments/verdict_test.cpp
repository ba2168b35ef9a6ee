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

// A corpus message with its attachment part turned into what a client may declare.
std::string rewritten(const std::string& file, const std::string& from, const std::string& to) {
  std::string raw = pm::read_file(std::string(PM_SOURCE_DIR) + "/tests/corpus/attachments/" + file);
  auto at = raw.find(from);
  if (at == std::string::npos) throw std::runtime_error("no " + from + " in " + file);
  return raw.replace(at, from.size(), to);
}

// A part declared text/plain whose bytes are a gzip is typed from its bytes and read: the
// declared type does not get a class list out unread.
TEST(TypeFromBytes, AGzipDeclaredTextPlainIsReadAsAnArchive) {
  // The gzip of a25, declared an inline text/plain body part instead of an attachment.
  std::string raw = rewritten("a25-class-list-csv-gz-to-gmail.eml",
                              "Content-Type: application/octet-stream\r\n"
                              "Content-Transfer-Encoding: base64\r\n"
                              "Content-Disposition: attachment; filename=\"class_list.csv.gz\"\r\n",
                              "Content-Type: text/plain; charset=\"us-ascii\"\r\n"
                              "Content-Transfer-Encoding: base64\r\n");
  pm::Verdict v = engine().scan(raw, nullptr);
  EXPECT_TRUE(has(v.categories, "confidential"));
  EXPECT_FALSE(has(v.categories, "unscannable"));
}

// ... while a plain body with one stray NUL (a broken client) is still a body, not a file
// of unknown format.
TEST(TypeFromBytes, AStrayNulInABodyKeepsItText) {
  std::string raw =
      "From: Jo Marsh <j.marsh@stannes.example>\r\nTo: jo.marsh.home@gmail.com\r\n"
      "Subject: rota\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
      "Hello,=00\r\nthe rota for next week is on the staffroom door.\r\n";
  pm::Verdict v = engine().scan(raw, nullptr);
  EXPECT_TRUE(v.categories.empty());
  EXPECT_TRUE(v.attachments.empty());
}

}  // namespace
