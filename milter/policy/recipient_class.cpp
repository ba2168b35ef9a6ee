#include "policy/recipient_class.h"

namespace pm {

const char* to_string(RecipientClass c) {
  switch (c) {
    case RecipientClass::internal: return "internal";
    case RecipientClass::pupil: return "pupil";
    case RecipientClass::partner: return "partner";
    case RecipientClass::personal_webmail: return "personal-webmail";
    case RecipientClass::lookalike: return "lookalike";
    case RecipientClass::external: return "external";
  }
  return "?";  // unreachable for a valid enum value
}

// Exact ids only (see parse_action): configuration typos are refused, not guessed.
std::optional<RecipientClass> parse_recipient_class(std::string_view s) {
  if (s == "internal") return RecipientClass::internal;
  if (s == "pupil") return RecipientClass::pupil;
  if (s == "partner") return RecipientClass::partner;
  if (s == "personal-webmail") return RecipientClass::personal_webmail;
  if (s == "lookalike") return RecipientClass::lookalike;
  if (s == "external") return RecipientClass::external;
  return std::nullopt;
}

}  // namespace pm
