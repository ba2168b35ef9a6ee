#include "daemon/networks.h"

#include <gtest/gtest.h>

namespace pm {
namespace {

std::vector<Network> nets(std::initializer_list<const char*> list) {
  std::vector<Network> out;
  for (const char* s : list) out.push_back(parse_network(s).value());
  return out;
}

TEST(Networks, Ipv4Prefixes) {
  auto n = nets({"10.0.0.0/8", "192.168.1.0/24", "172.16.0.0/12"});
  EXPECT_TRUE(in_networks("10.200.3.4", n));
  EXPECT_TRUE(in_networks("192.168.1.77", n));
  EXPECT_FALSE(in_networks("192.168.2.1", n));
  EXPECT_TRUE(in_networks("172.31.255.255", n));
  EXPECT_FALSE(in_networks("172.32.0.1", n));
  EXPECT_FALSE(in_networks("8.8.8.8", n));
}

TEST(Networks, Ipv6AndMappedIpv4) {
  auto n = nets({"::1/128", "2001:db8::/32", "127.0.0.0/8"});
  EXPECT_TRUE(in_networks("::1", n));
  EXPECT_TRUE(in_networks("2001:db8:1::5", n));
  EXPECT_FALSE(in_networks("2001:db9::1", n));
  EXPECT_TRUE(in_networks("::ffff:127.0.0.1", n));
  EXPECT_TRUE(in_networks("[127.0.0.1]", n));
  EXPECT_TRUE(in_networks("IPv6:::1", n));
}

TEST(Networks, MalformedInputIsRejected) {
  EXPECT_FALSE(parse_network("10.0.0.0/33"));
  EXPECT_FALSE(parse_network("10.0.0/8"));
  EXPECT_FALSE(parse_network("::1/129"));
  EXPECT_FALSE(parse_network("host.example"));
  EXPECT_FALSE(parse_network("10.0.0.0/x"));
  EXPECT_FALSE(in_networks("not-an-address", nets({"0.0.0.0/0"})));
  EXPECT_TRUE(in_networks("1.2.3.4", nets({"0.0.0.0/0"})));
  EXPECT_TRUE(in_networks("10.1.2.3", nets({"10.1.2.3"})));  // no prefix = host
}

}  // namespace
}  // namespace pm
