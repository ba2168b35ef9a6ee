// Who a recipient is: a parent from the message's cues or the export, a business in a
// supplier or press context, webmail presumed a parent when nothing says otherwise.
#include "policy/recipient_role.h"

#include <gtest/gtest.h>

#include "policy/parent_contacts.h"

namespace pm {
namespace {

TEST(RecipientRole, ClassesDecideStaffPupilAndPartner) {
  RoleCues none;
  EXPECT_EQ(infer_role("a@stannes.example", RecipientClass::internal, false, none).role,
            RecipientRole::staff);
  EXPECT_EQ(infer_role("b@pupils.stannes.example", RecipientClass::pupil, false, none).role,
            RecipientRole::pupil);
  EXPECT_EQ(infer_role("c@somerset-la.example", RecipientClass::partner, false, none).role,
            RecipientRole::partner);
}

TEST(RecipientRole, NoCueWebmailIsPresumedParentBusinessIsNot) {
  RoleCues none;
  EXPECT_EQ(infer_role("x@gmail.com", RecipientClass::personal_webmail, false, none).role,
            RecipientRole::presumed_parent);
  EXPECT_EQ(
      infer_role("sales@quickfix-plumbing.example", RecipientClass::external, false, none).role,
      RecipientRole::business);
  // A family's own domain is not a business.
  EXPECT_EQ(
      infer_role("marcus.pike@pikefamily.example", RecipientClass::external, false, none).role,
      RecipientRole::presumed_parent);
}

// A supplier context outweighs a weaker mention of a child ("if the driver's stuck at the
// gate"); "your son" still says parent.
TEST(RecipientRole, SupplierContextOutweighsAWeakChildMention) {
  RoleCues c;
  c.supplier_context = true;
  c.child_mention = true;
  EXPECT_EQ(infer_role("accounts@westfoods.example", RecipientClass::external, false, c).role,
            RecipientRole::business);
  c.supplier_context = false;
  EXPECT_EQ(infer_role("mandy@gmail.com", RecipientClass::personal_webmail, false, c).role,
            RecipientRole::parent);
}

// The sender's own friend or family on webmail is not presumed a parent; a cue of a parent
// still wins.
TEST(RecipientRole, FriendContextIsNotAPresumedParent) {
  RoleCues c;
  c.friend_context = true;
  RoleInference r = infer_role("mo@gmail.com", RecipientClass::personal_webmail, false, c);
  EXPECT_EQ(r.role, RecipientRole::friend_);
  EXPECT_FALSE(role_matches("parent", r.role));
  c.your_child = true;
  EXPECT_EQ(infer_role("mo@gmail.com", RecipientClass::personal_webmail, false, c).role,
            RecipientRole::parent);
}

TEST(RecipientRole, SupplierContextIsNotAParentEvenOnWebmail) {
  RoleCues c;
  c.supplier_context = true;
  RoleInference r =
      infer_role("dave.plumber@gmail.com", RecipientClass::personal_webmail, false, c);
  EXPECT_EQ(r.role, RecipientRole::business);
  EXPECT_FALSE(role_matches("parent", r.role));
  c.press_context = true;
  c.supplier_context = false;
  EXPECT_EQ(infer_role("news@gazette.example", RecipientClass::external, false, c).role,
            RecipientRole::business);
}

TEST(RecipientRole, ParentCuesWinOverContext) {
  RoleCues c;
  c.supplier_context = true;
  c.your_child = true;  // "the coach booking for your son's trip"
  EXPECT_EQ(infer_role("dad@builders.example", RecipientClass::external, false, c).role,
            RecipientRole::parent);
  RoleCues reply;
  reply.parent_authors = {"mum@work.example"};
  EXPECT_EQ(infer_role("mum@work.example", RecipientClass::external, false, reply).role,
            RecipientRole::parent);
  EXPECT_EQ(infer_role("other@work.example", RecipientClass::external, false, reply).role,
            RecipientRole::business);
  EXPECT_EQ(infer_role("listed@work.example", RecipientClass::external, true, RoleCues{}).role,
            RecipientRole::parent);
}

TEST(ParentContacts, ClearsOnlyThePupilsOwnParents) {
  ParentContacts pc = ParentContacts::parse(
      "pupil,contact\n# exported from the MIS\nEllie "
      "Brandt,k.brandt@gmail.com,dad.brandt@work.example\nTobi Okafor,okafor.home@gmail.com\n");
  EXPECT_EQ(pc.pupils(), 2u);
  EXPECT_TRUE(pc.listed("K.Brandt@gmail.com"));
  // A finding naming Ellie (and her mum, titled: an adult, ignored) to Ellie's parent.
  auto ok = pc.check({{"Ellie", "Mrs Brandt"}}, "k.brandt@gmail.com");
  EXPECT_TRUE(ok.cleared);
  EXPECT_TRUE(ok.mismatch.empty());
  // The same to another pupil's parent: held, and the mismatch says who and where.
  auto wrong = pc.check({{"Ellie Brandt"}}, "okafor.home@gmail.com");
  EXPECT_FALSE(wrong.cleared);
  EXPECT_NE(wrong.mismatch.find("Ellie Brandt"), std::string::npos);
  EXPECT_NE(wrong.mismatch.find("okafor.home@gmail.com"), std::string::npos);
  // An address not in the export at all; a finding with no named pupil.
  EXPECT_FALSE(pc.check({{"Ellie"}}, "stranger@gmail.com").cleared);
  EXPECT_FALSE(pc.check({{}}, "k.brandt@gmail.com").cleared);
  EXPECT_THROW(ParentContacts::parse("Ellie Brandt,k@gmail.com\nNo Address Here\n"),
               std::invalid_argument);
}

}  // namespace
}  // namespace pm
