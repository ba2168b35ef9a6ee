// With a parent-contacts export configured: a named pupil's medical or SEN detail to that
// pupil's listed parent is delivered; to another pupil's parent it is held, and the verdict
// says which pupil and which address did not match. Without the export it is held.
#include <gtest/gtest.h>

#include "engine/engine.h"

namespace pm {
namespace {

const Engine& with_contacts() {
  static auto e = Engine::load(std::filesystem::path(PM_SOURCE_DIR) /
                               "tests/unit/engine/data/with-parent-contacts.toml");
  return *e;
}
const Engine& without_contacts() {
  static auto e = Engine::load(std::filesystem::path(PM_SOURCE_DIR) / "conf/policy-milter.toml");
  return *e;
}

std::string letter(const std::string& to) {
  return "From: Sam Reed <s.reed@stannes.example>\r\nTo: " + to +
         "\r\nSubject: Ellie's inhaler\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n"
         "Dear Mrs Brandt,\r\n\r\nEllie Brandt has been diagnosed with asthma and her new "
         "medication is in the "
         "office.\r\n\r\nSam Reed, SENCo\r\n";
}

TEST(ParentContacts, PupilsDetailToHerListedParentIsDelivered) {
  Verdict v = with_contacts().scan(letter("kate.brandt@gmail.com"), nullptr);
  EXPECT_EQ(v.action, Action::accept);
  EXPECT_TRUE(v.categories.empty());
  ASSERT_EQ(v.recipients.size(), 1u);
  EXPECT_EQ(v.recipients[0].role, "parent");
  EXPECT_TRUE(v.recipients[0].mismatch.empty());
}

TEST(ParentContacts, PupilsDetailToAnotherPupilsParentIsHeldWithTheMismatch) {
  Verdict v = with_contacts().scan(letter("okafor.family@hotmail.co.uk"), nullptr);
  EXPECT_EQ(v.action, Action::quarantine);
  ASSERT_EQ(v.categories, std::vector<std::string>{"confidential"});
  ASSERT_EQ(v.recipients.size(), 1u);
  EXPECT_NE(v.recipients[0].mismatch.find("pupil Ellie"), std::string::npos)
      << v.recipients[0].mismatch;
  EXPECT_NE(v.recipients[0].mismatch.find("okafor.family@hotmail.co.uk"), std::string::npos);
}

TEST(ParentContacts, MixedRecipientsHoldForTheUnlistedOne) {
  Verdict v =
      with_contacts().scan(letter("kate.brandt@gmail.com, nosy.neighbour@gmail.com"), nullptr);
  EXPECT_EQ(v.action, Action::quarantine);
  ASSERT_EQ(v.recipients.size(), 2u);
  EXPECT_TRUE(v.recipients[0].categories.empty());
  EXPECT_EQ(v.recipients[1].categories, std::vector<std::string>{"confidential"});
}

TEST(ParentContacts, WithoutTheExportItIsHeld) {
  Verdict v = without_contacts().scan(letter("kate.brandt@gmail.com"), nullptr);
  EXPECT_EQ(v.action, Action::quarantine);
  EXPECT_EQ(v.categories, std::vector<std::string>{"confidential"});
}

}  // namespace
}  // namespace pm
