#include "daemon/networks.h"

#include <arpa/inet.h>

#include <cstring>
#include <string>

namespace pm {

std::optional<Network> parse_network(std::string_view cidr) {
  std::string text(cidr);
  std::string prefix_text;
  if (auto slash = text.find('/'); slash != std::string::npos) {
    prefix_text = text.substr(slash + 1);
    text.resize(slash);
  }
  Network n;
  if (::inet_pton(AF_INET, text.c_str(), n.addr.data()) == 1) {
    n.v6 = false;
    n.prefix = 32;
  } else if (::inet_pton(AF_INET6, text.c_str(), n.addr.data()) == 1) {
    n.v6 = true;
    n.prefix = 128;
  } else {
    return std::nullopt;
  }
  if (!prefix_text.empty()) {
    if (prefix_text.size() > 3 || prefix_text.find_first_not_of("0123456789") != std::string::npos)
      return std::nullopt;
    unsigned p = static_cast<unsigned>(std::stoul(prefix_text));
    if (p > n.prefix) return std::nullopt;
    n.prefix = p;
  }
  return n;
}

namespace {

bool prefix_equal(const std::uint8_t* a, const std::uint8_t* b, unsigned bits) {
  unsigned whole = bits / 8;
  if (std::memcmp(a, b, whole) != 0) return false;
  unsigned rest = bits % 8;
  if (rest == 0) return true;
  std::uint8_t mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

}  // namespace

bool in_networks(std::string_view address, const std::vector<Network>& networks) {
  std::string text(address);
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  if (text.rfind("IPv6:", 0) == 0) text = text.substr(5);
  std::uint8_t v4[4], v6[16];
  bool is4 = ::inet_pton(AF_INET, text.c_str(), v4) == 1;
  bool is6 = !is4 && ::inet_pton(AF_INET6, text.c_str(), v6) == 1;
  if (is6) {
    static const std::uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(v6, mapped, 12) == 0) {
      std::memcpy(v4, v6 + 12, 4);
      is4 = true;
    }
  }
  if (!is4 && !is6) return false;
  for (const Network& n : networks) {
    if (!n.v6 && is4 && prefix_equal(n.addr.data(), v4, n.prefix)) return true;
    if (n.v6 && is6 && prefix_equal(n.addr.data(), v6, n.prefix)) return true;
  }
  return false;
}

}  // namespace pm
