// Which mail is "outgoing" and so filtered (POLICY.md, "Recipient classes", last paragraph):
// from a SASL-authenticated client, a client on an internal network (loopback included) or
// submitted locally - and with an envelope sender on a staff domain. Everything else passes
// untouched. Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "daemon/config.h"

namespace pm {

struct ClientInfo {
  std::string address;      // textual IP, "" when the MTA gave none (local submission)
  bool local = false;       // non-SMTP submission (sendmail command, pickup)
  std::string auth_authen;  // {auth_authen}: SASL login name, "" when not authenticated
};

bool is_outgoing(const ClientInfo& client, std::string_view envelope_sender,
                 const DaemonConfig& config);

// "<Ada@StAnnes.example>" -> "ada@stannes.example"; "<>" -> "".
std::string bare_address(std::string_view smtp_arg);

}  // namespace pm
