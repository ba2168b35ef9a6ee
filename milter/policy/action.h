// Actions, ordered by severity so that combining findings is a max().
#pragma once

#include <optional>
#include <string_view>

namespace pm {

enum class Action { accept = 0, tag = 1, quarantine = 2 };

const char* to_string(Action a);
std::optional<Action> parse_action(std::string_view s);
inline Action max(Action a, Action b) { return a < b ? b : a; }

}  // namespace pm
