#include "daemon/outgoing.h"

#include "util/strings.h"

namespace pm {

std::string bare_address(std::string_view arg) {
  std::string_view s = trim(arg);
  if (!s.empty() && s.front() == '<') s.remove_prefix(1);
  if (auto gt = s.find('>'); gt != std::string_view::npos) s = s.substr(0, gt);
  // A source route "@a,@b:user@host" keeps only the mailbox.
  if (!s.empty() && s.front() == '@') {
    if (auto colon = s.find(':'); colon != std::string_view::npos) s.remove_prefix(colon + 1);
  }
  return to_lower_ascii(trim(s));
}

bool is_outgoing(const ClientInfo& client, std::string_view sender, const DaemonConfig& config) {
  bool trusted_client = !client.auth_authen.empty() || client.local || client.address.empty() ||
                        in_networks(client.address, config.internal_networks);
  if (!trusted_client) return false;
  std::string addr = bare_address(sender);
  if (addr.empty() || addr.find('@') == std::string::npos) return false;
  return classify_recipient(addr, config.domains) == RecipientClass::internal;
}

}  // namespace pm
