// Action and recipient-class ids round-trip exactly as POLICY.md writes them.
#include <gtest/gtest.h>

#include <string>

#include "policy/action.h"
#include "policy/recipient_class.h"

namespace pm {
namespace {

TEST(PolicyAction, RoundTripsEveryId) {
  for (Action a : {Action::accept, Action::tag, Action::quarantine}) {
    auto parsed = parse_action(to_string(a));
    ASSERT_TRUE(parsed.has_value()) << to_string(a);
    EXPECT_EQ(*parsed, a);
  }
  EXPECT_STREQ(to_string(Action::accept), "accept");
  EXPECT_STREQ(to_string(Action::tag), "tag");
  EXPECT_STREQ(to_string(Action::quarantine), "quarantine");
}

TEST(PolicyAction, RefusesUnknownIds) {
  for (const char* s : {"", "Tag", "QUARANTINE", "reject", "defer", "tag ", "accepted"})
    EXPECT_FALSE(parse_action(s).has_value()) << '"' << s << '"';
}

TEST(PolicyAction, MaxIsTheMoreSevere) {
  EXPECT_EQ(max(Action::accept, Action::tag), Action::tag);
  EXPECT_EQ(max(Action::quarantine, Action::tag), Action::quarantine);
  EXPECT_EQ(max(Action::accept, Action::accept), Action::accept);
}

TEST(PolicyRecipientClass, RoundTripsEveryId) {
  const std::pair<RecipientClass, const char*> table[] = {
      {RecipientClass::internal, "internal"},
      {RecipientClass::pupil, "pupil"},
      {RecipientClass::partner, "partner"},
      {RecipientClass::personal_webmail, "personal-webmail"},
      {RecipientClass::lookalike, "lookalike"},
      {RecipientClass::external, "external"},
  };
  for (auto [cls, id] : table) {
    EXPECT_STREQ(to_string(cls), id);
    auto parsed = parse_recipient_class(id);
    ASSERT_TRUE(parsed.has_value()) << id;
    EXPECT_EQ(*parsed, cls);
  }
}

TEST(PolicyRecipientClass, RefusesUnknownIds) {
  for (const char* s : {"", "personal_webmail", "Internal", "staff", "webmail", "external "})
    EXPECT_FALSE(parse_recipient_class(s).has_value()) << '"' << s << '"';
}

TEST(PolicyRecipientClass, OnlyInternalIsInside) {
  EXPECT_FALSE(is_outside(RecipientClass::internal));
  for (auto c : {RecipientClass::pupil, RecipientClass::partner, RecipientClass::personal_webmail,
                 RecipientClass::lookalike, RecipientClass::external})
    EXPECT_TRUE(is_outside(c)) << to_string(c);
}

}  // namespace
}  // namespace pm
