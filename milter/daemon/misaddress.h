// A probable misaddress, told to the sender at once (issue 13). When the milter holds a
// message for its lookalike recipients only (actions.h, split), the sender is mailed
// straight away - not at policy-review's next round - which address looked like a typo of
// which staff domain, that the other recipients got it, and that the held copy waits for a
// reviewer (who may release it). They can resend it to the right address.
//
// Sent once per held message: the notice is claimed in the store as "sender-held" (the
// kind policy-review's sender notice uses), so the review page never sends a second,
// generic one; a failed send gives the claim back and policy-review sends its notice later.
// Privacy: addresses and the reference only - no content, no Subject.
// Thread safety: notify_misaddress() returns at once; the send runs on its own thread.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "daemon/config.h"
#include "quarantine/store.h"

namespace pm {

// notify/notices.h (not included here: its Outcome would clash with daemon/actions.h's).
struct Notice;
struct NoticeSettings;

struct Misaddress {
  std::string address;     // the held recipient
  std::string looks_like;  // the staff domain it looks like a typo of
};

// The notice itself (pure).
Notice misaddress_notice(const NoticeSettings& s, const std::string& sender,
                         const std::string& quarantine_id, const std::vector<Misaddress>& held,
                         const std::vector<std::string>& delivered);

// Claims the notice for `quarantine_id` and sends it through [review].reinject.
void notify_misaddress(QuarantineBackend& store, const DaemonConfig& cfg, const std::string& school,
                       const std::string& sender, const std::string& quarantine_id,
                       std::vector<Misaddress> held, std::vector<std::string> delivered);

}  // namespace pm
