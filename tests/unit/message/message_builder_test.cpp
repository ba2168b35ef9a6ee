// MessageBuilder: the bytes it rebuilds from milter phases, in memory and spilled.
#include "message/message_builder.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace pm {
namespace {

TEST(MessageBuilder, RebuildsHeadersAndBodyWithCrlf) {
  MessageBuilder b;
  b.header("From", "Ada Teacher <ada@stannes.example>");
  b.header("Subject", "Trip letter");
  b.end_of_headers();
  b.body("Hello\r\n");
  b.body("Bye\r\n");
  EXPECT_EQ(b.finish(),
            "From: Ada Teacher <ada@stannes.example>\r\nSubject: Trip letter\r\n\r\nHello\r\nBye\r\n");
  EXPECT_FALSE(b.spilled());
}

TEST(MessageBuilder, FoldedValuesKeepTheirFoldAsCrlf) {
  MessageBuilder b;
  b.header("To", "a@stannes.example,\n\tb@stannes.example");
  b.header("Cc", "c@stannes.example,\r\n d@stannes.example");
  EXPECT_EQ(b.finish(),
            "To: a@stannes.example,\r\n\tb@stannes.example\r\n"
            "Cc: c@stannes.example,\r\n d@stannes.example\r\n\r\n");
}

TEST(MessageBuilder, BodyWithoutEohStillSeparatesHeaders) {
  MessageBuilder b;
  b.header("Subject", "x");
  b.body("text");
  EXPECT_EQ(b.finish(), "Subject: x\r\n\r\ntext");
}

TEST(MessageBuilder, SpillsPastTheLimitAndReturnsTheSameBytes) {
  MessageBuilder b({.spill_bytes = 64, .spill_dir = std::filesystem::temp_directory_path()});
  std::string expected = "Subject: big\r\n\r\n";
  b.header("Subject", "big");
  b.end_of_headers();
  for (int i = 0; i < 1000; ++i) {
    std::string line = "line " + std::to_string(i) + " of the body\r\n";
    b.body(line);
    expected += line;
  }
  EXPECT_TRUE(b.spilled());
  EXPECT_EQ(b.size(), expected.size());
  EXPECT_EQ(b.finish(), expected);
  EXPECT_EQ(b.finish(), expected);  // idempotent
}

TEST(MessageBuilder, ResetStartsAFreshMessage) {
  MessageBuilder b({.spill_bytes = 16, .spill_dir = std::filesystem::temp_directory_path()});
  b.header("Subject", "first message, long enough to spill");
  b.body("abc");
  (void)b.finish();
  b.reset();
  EXPECT_FALSE(b.spilled());
  EXPECT_EQ(b.size(), 0u);
  b.header("Subject", "2");
  EXPECT_EQ(b.finish(), "Subject: 2\r\n\r\n");
}

TEST(MessageBuilder, HeaderAfterBodyIsAnError) {
  MessageBuilder b;
  b.end_of_headers();
  EXPECT_THROW(b.header("X", "y"), std::logic_error);
}

TEST(MessageBuilder, UnwritableSpillDirThrows) {
  MessageBuilder b({.spill_bytes = 4, .spill_dir = "/nonexistent/policy-milter-test"});
  EXPECT_THROW(b.header("Subject", "too long for memory"), std::system_error);
}

TEST(MessageBuilder, MovedBuilderKeepsTheMessage) {
  MessageBuilder a({.spill_bytes = 8, .spill_dir = std::filesystem::temp_directory_path()});
  a.header("Subject", "moved and spilled");
  MessageBuilder b = std::move(a);
  EXPECT_EQ(b.finish(), "Subject: moved and spilled\r\n\r\n");
}

}  // namespace
}  // namespace pm
