#include "policy/recipient_role.h"

#include <algorithm>
#include <cctype>

namespace pm {

bool looks_personal_domain(std::string_view address) {
  auto at = address.find('@');
  if (at == std::string_view::npos) return false;
  std::string_view local = address.substr(0, at), domain = address.substr(at + 1);
  std::string_view label = domain.substr(0, domain.find('.'));
  for (std::string_view w : {"family", "home", "house", "personal"})
    if (label.find(w) != std::string_view::npos) return true;
  // A name of the local part ("marcus.pike@pikefamily...", "jo@jo-smith...") in the domain.
  std::size_t i = 0;
  while (i < local.size()) {
    std::size_t j = i;
    while (j < local.size() && std::isalpha(static_cast<unsigned char>(local[j]))) ++j;
    if (j - i >= 3 && label.find(local.substr(i, j - i)) != std::string_view::npos) return true;
    i = j + 1;
  }
  return false;
}

const char* to_string(RecipientRole r) {
  switch (r) {
    case RecipientRole::staff:
      return "staff";
    case RecipientRole::pupil:
      return "pupil";
    case RecipientRole::parent:
      return "parent";
    case RecipientRole::presumed_parent:
      return "presumed-parent";
    case RecipientRole::business:
      return "business";
    case RecipientRole::partner:
      return "partner";
    case RecipientRole::friend_:
      return "friend";
    case RecipientRole::unknown:
      return "unknown";
  }
  return "unknown";
}

RoleInference infer_role(std::string_view address, RecipientClass cls, bool listed_parent,
                         const RoleCues& cues) {
  switch (cls) {
    case RecipientClass::internal:
      return {RecipientRole::staff, "staff domain"};
    case RecipientClass::pupil:
      return {RecipientRole::pupil, "pupil domain"};
    case RecipientClass::partner:
      return {RecipientRole::partner, "partner organisation"};
    case RecipientClass::lookalike:
      return {RecipientRole::unknown, "probable misaddress of a staff domain"};
    default:
      break;
  }
  if (listed_parent) return {RecipientRole::parent, "listed in the parent-contacts export"};
  if (std::find(cues.parent_authors.begin(), cues.parent_authors.end(), address) !=
      cues.parent_authors.end())
    return {RecipientRole::parent, "replying to this parent's own mail"};
  if (cues.your_child)
    return {RecipientRole::parent, "the message speaks of the recipient's child"};
  if (cues.parent_salutation) return {RecipientRole::parent, "the message greets a parent"};
  if (cues.supplier_context) return {RecipientRole::business, "supplier or contractor context"};
  if (cues.press_context) return {RecipientRole::business, "press context"};
  if (cues.child_mention)
    return {RecipientRole::parent, "the message speaks of a child as the recipient's"};
  if (cues.friend_context)
    return {RecipientRole::friend_, "the sender's own friend or family, no parent cue"};
  if (cls == RecipientClass::personal_webmail)
    return {RecipientRole::presumed_parent, "personal webmail, no cue either way: may be a parent"};
  if (looks_personal_domain(address))
    return {RecipientRole::presumed_parent,
            "a family's own domain, no cue either way: may be a parent"};
  return {RecipientRole::business, "business domain, no parent cue"};
}

bool role_matches(std::string_view name, RecipientRole r) {
  if (name == "parent") return r == RecipientRole::parent || r == RecipientRole::presumed_parent;
  return name == to_string(r);
}

}  // namespace pm
