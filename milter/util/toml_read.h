// Reading the TOML files (configuration and rules) with errors that name file:line.
// Header-only; include it only where toml++ is already used (engine, match, review).
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "util/error.h"

namespace pm {

// The line a node starts on (0 when there is no node).
inline int toml_line(const toml::node* n) {
  return n ? static_cast<int>(n->source().begin.line) : 0;
}

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

// A string, boolean, number (integer or float) or integer value of `t[key]`; absent ->
// `dflt`. A value of another type is a ConfigError naming `what` at the value's line: a
// typo such as `weight = "high"` is refused, never read as the default.
inline std::string toml_string(const std::string& file, const toml::table& t, const char* key,
                               const std::string& what, std::string dflt = {}) {
  const toml::node* n = t.get(key);
  if (!n) return dflt;
  if (!n->is_string()) throw ConfigError(file, toml_line(n), what + " must be a string");
  return *n->value<std::string>();
}
inline bool toml_bool(const std::string& file, const toml::table& t, const char* key,
                      const std::string& what, bool dflt) {
  const toml::node* n = t.get(key);
  if (!n) return dflt;
  if (!n->is_boolean()) throw ConfigError(file, toml_line(n), what + " must be true or false");
  return *n->value<bool>();
}
// A number in [lo, hi].
inline double toml_number(const std::string& file, const toml::table& t, const char* key,
                          const std::string& what, double dflt, double lo, double hi) {
  const toml::node* n = t.get(key);
  if (!n) return dflt;
  if (!n->is_number()) throw ConfigError(file, toml_line(n), what + " must be a number");
  double v = *n->value<double>();
  if (v < lo || v > hi) {
    std::ostringstream m;
    m << what << " must be from " << lo << " to " << hi;
    throw ConfigError(file, toml_line(n), m.str());
  }
  return v;
}
inline std::int64_t toml_integer(const std::string& file, const toml::table& t, const char* key,
                                 const std::string& what, std::int64_t dflt, std::int64_t lo,
                                 std::int64_t hi) {
  const toml::node* n = t.get(key);
  if (!n) return dflt;
  if (!n->is_integer()) throw ConfigError(file, toml_line(n), what + " must be an integer");
  std::int64_t v = *n->value<std::int64_t>();
  if (v < lo || v > hi)
    throw ConfigError(file, toml_line(n),
                      what + " must be from " + std::to_string(lo) + " to " + std::to_string(hi));
  return v;
}

}  // namespace pm
