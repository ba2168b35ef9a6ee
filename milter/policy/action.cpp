#include "policy/action.h"

namespace pm {

const char* to_string(Action a) {
  switch (a) {
    case Action::accept: return "accept";
    case Action::tag: return "tag";
    case Action::quarantine: return "quarantine";
  }
  return "?";  // unreachable for a valid enum value
}

// Ids are data in configuration files and headers, written exactly as in POLICY.md: no
// case folding, so a typo in the configuration is refused instead of guessed.
std::optional<Action> parse_action(std::string_view s) {
  if (s == "accept") return Action::accept;
  if (s == "tag") return Action::tag;
  if (s == "quarantine") return Action::quarantine;
  return std::nullopt;
}

}  // namespace pm
