// Recipient classes (POLICY.md, "Recipient classes").
#pragma once

#include <optional>
#include <string_view>

namespace pm {

enum class RecipientClass { internal, pupil, partner, personal_webmail, lookalike, external };

// "internal", "pupil", "partner", "personal-webmail", "lookalike", "external"
const char* to_string(RecipientClass c);
std::optional<RecipientClass> parse_recipient_class(std::string_view s);
inline bool is_outside(RecipientClass c) { return c != RecipientClass::internal; }

}  // namespace pm
