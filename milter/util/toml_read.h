// Reading the TOML files (configuration and rules) with errors that name file:line.
// Header-only; include it only where toml++ is already used (engine, match, review).
#pragma once

#include <toml++/toml.h>

#include <string>
#include <vector>

#include "util/error.h"

namespace pm {

// The line a node starts on (0 when there is no node).
inline int toml_line(const toml::node* n) { return n ? static_cast<int>(n->source().begin.line) : 0; }

// A list of strings; absent -> empty. Anything else is a ConfigError naming `what`.
inline std::vector<std::string> toml_strings(const std::string& file, const toml::node* n,
                                             const std::string& what) {
  std::vector<std::string> out;
  if (!n) return out;
  const toml::array* a = n->as_array();
  if (!a) throw ConfigError(file, toml_line(n), what + " must be a list of strings");
  for (const auto& e : *a) {
    auto s = e.value<std::string>();
    if (!s) throw ConfigError(file, toml_line(&e), what + " must be a list of strings");
    out.push_back(*s);
  }
  return out;
}

}  // namespace pm
