// IP networks in CIDR form ("10.0.0.0/8", "2001:db8::/32") and membership tests, for the
// "client on an internal network" half of the outgoing-mail decision. Pure; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pm {

struct Network {
  bool v6 = false;
  std::array<std::uint8_t, 16> addr{};  // IPv4 uses the first 4 bytes
  unsigned prefix = 0;
};

// Parses "a.b.c.d[/n]" or "v6[/n]"; nullopt when malformed.
std::optional<Network> parse_network(std::string_view cidr);
// `address` is a textual IPv4/IPv6 address; an IPv4-mapped IPv6 address ("::ffff:1.2.3.4")
// matches IPv4 networks. False for anything unparsable.
bool in_networks(std::string_view address, const std::vector<Network>& networks);

}  // namespace pm
