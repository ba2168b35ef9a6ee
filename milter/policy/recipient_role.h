// Who a recipient is, beyond the class of their domain: a pupil, a parent or carer (known or
// presumed), a business (a supplier, a contractor, the press), a partner organisation or
// staff. `social-contact` counts only when the one invited is a pupil or a parent/carer
// (POLICY.md): a personal mobile given to a plumber is not an invitation.
//
// infer_role() decides from the recipient's class, the optional parent-contacts export and
// cues the engine found in the message (RoleCues):
//   - listed in the parent-contacts export, or the author of a parent's mail this message
//     replies to ("my son..." in the quoted text): parent;
//   - a cue that the message is written to a parent (a salutation to a parent - "Dear
//     parents", "Hi Sam's mum" - or "your son / daughter / child"): parent;
//   - otherwise a supplier, contractor or press context: business, not a parent - even on
//     personal webmail (tradespeople use Gmail);
//   - otherwise a weaker mention of a child as the recipient's ("at pick-up", "his PE
//     kit"): parent - a supplier context outweighs it ("if the driver's stuck at the gate");
//   - otherwise the sender's own friend or family ("at yours", "sis", "retirement do"):
//     a friend, not a parent;
//   - no cue either way: personal webmail (and a family's own domain) is presumed a parent,
//     a business domain is not.
// Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "policy/recipient_class.h"

namespace pm {

enum class RecipientRole {
  staff,
  pupil,
  parent,
  presumed_parent,
  business,
  partner,
  friend_,
  unknown
};

const char* to_string(RecipientRole r);  // "staff", "pupil", "parent", "presumed-parent", ...

// What the message says about whom it is written to (found by the engine's lexicons in the
// sender's own words and, for parent_authors, in the quoted mail it answers).
struct RoleCues {
  bool parent_salutation = false;  // "Dear parents", "Dear Sam's mum", "Hi Mrs Khan" to a parent
  bool your_child = false;         // "your son", "your daughter", "your child"
  bool child_mention = false;      // weaker: "at pick-up", "his reading book", "if she's poorly"
  bool supplier_context = false;   // invoice, quote, contractor, plumber, delivery, booking...
  bool press_context = false;      // journalist, newspaper, story...
  bool friend_context = false;     // the sender's own friend or family: "at yours", "sis"
  // Addresses whose own mail, quoted in this message, speaks as a parent ("my daughter").
  std::vector<std::string> parent_authors;
};

struct RoleInference {
  RecipientRole role = RecipientRole::unknown;
  std::string reason;  // for --explain: why
};

RoleInference infer_role(std::string_view address, RecipientClass cls, bool listed_parent,
                         const RoleCues& cues);

// A family's own domain rather than a business's: "family", "home" in its first label, or a
// name of the local part in it ("marcus.pike@pikefamily.example"). Treated like webmail.
bool looks_personal_domain(std::string_view address);

// Roles a category may name in rules ([category] roles): "pupil", "parent" (known or
// presumed), "business", "partner", "staff", "friend".
bool role_matches(std::string_view name, RecipientRole r);

}  // namespace pm
