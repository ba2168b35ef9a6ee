// The outgoing-mail decision (POLICY.md): trusted client AND staff-domain sender.
#include "daemon/outgoing.h"

#include <gtest/gtest.h>

namespace pm {
namespace {

DaemonConfig config() {
  DaemonConfig c;
  c.internal_networks = {*parse_network("127.0.0.0/8"), *parse_network("10.10.0.0/16")};
  c.domains.staff = {"stannes.example"};
  c.domains.pupil = {"pupils.stannes.example"};
  return c;
}

TEST(Outgoing, BareAddress) {
  EXPECT_EQ(bare_address("<Ada.Teacher@StAnnes.Example>"), "ada.teacher@stannes.example");
  EXPECT_EQ(bare_address("<>"), "");
  EXPECT_EQ(bare_address(" ada@stannes.example "), "ada@stannes.example");
  EXPECT_EQ(bare_address("<@relay.example:ada@stannes.example>"), "ada@stannes.example");
}

TEST(Outgoing, AuthenticatedStaffSenderFromAnywhere) {
  ClientInfo c{"203.0.113.9", false, "ada"};
  EXPECT_TRUE(is_outgoing(c, "<ada@stannes.example>", config()));
}

TEST(Outgoing, InternalNetworkOrLocalSubmission) {
  EXPECT_TRUE(is_outgoing({"10.10.4.2", false, ""}, "<ada@stannes.example>", config()));
  EXPECT_TRUE(is_outgoing({"127.0.0.1", false, ""}, "<ada@stannes.example>", config()));
  EXPECT_TRUE(is_outgoing({"", true, ""}, "<ada@stannes.example>", config()));
}

TEST(Outgoing, IncomingMailPassesUntouched) {
  // Unauthenticated, from outside: incoming, even with a forged staff sender.
  EXPECT_FALSE(is_outgoing({"203.0.113.9", false, ""}, "<ada@stannes.example>", config()));
  EXPECT_FALSE(is_outgoing({"10.11.0.1", false, ""}, "<ada@stannes.example>", config()));
}

TEST(Outgoing, SenderMustBeOnAStaffDomain) {
  ClientInfo trusted{"127.0.0.1", false, "ada"};
  EXPECT_FALSE(is_outgoing(trusted, "<parent@gmail.com>", config()));
  EXPECT_FALSE(is_outgoing(trusted, "<pupil1@pupils.stannes.example>", config()));
  EXPECT_FALSE(is_outgoing(trusted, "<>", config()));  // bounces
  EXPECT_FALSE(is_outgoing(trusted, "<ada@stannes.exampel>", config()));  // lookalike
  EXPECT_TRUE(is_outgoing(trusted, "<ADA@STANNES.EXAMPLE>", config()));
}

}  // namespace
}  // namespace pm
