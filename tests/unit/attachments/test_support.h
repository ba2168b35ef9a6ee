// Helpers shared by the attach_* tests: read a fixture, run extract() on it, look up
// segments and unscannable reasons.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

#include "decode/attachments/attachments.h"

namespace pm::attachments::testing {

inline std::string fixture(const std::string& name) {
  std::ifstream in(std::string(PM_ATTACH_FIXTURES) + "/" + name, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (ss.str().empty()) throw std::runtime_error("missing fixture " + name);
  return ss.str();
}

inline DecodedMessage run_bytes(const std::string& bytes, const std::string& name,
                                const std::string& type = "", Limits limits = {},
                                decltype(Context::decode_embedded) embedded = nullptr) {
  DecodedMessage out;
  Deadline deadline;
  Context ctx{limits, deadline, 0, embedded};
  extract("attachment:" + name, name, type, bytes, ctx, out);
  return out;
}

inline DecodedMessage run(const std::string& name, const std::string& type = "",
                          Limits limits = {}) {
  return run_bytes(fixture(name), name, type, limits);
}

// Text of the segment with exactly this origin ("" if none).
inline std::string text_of(const DecodedMessage& m, const std::string& origin) {
  for (const auto& s : m.segments)
    if (s.origin == origin) return s.text;
  return "";
}

inline std::string all_text(const DecodedMessage& m) {
  std::string t;
  for (const auto& s : m.segments) t += s.origin + "\n" + s.text + "\n";
  return t;
}

inline bool has_reason(const DecodedMessage& m, const std::string& reason) {
  for (const auto& u : m.unscannable)
    if (u.reason == reason) return true;
  return false;
}

inline bool has_reason_prefix(const DecodedMessage& m, const std::string& prefix) {
  for (const auto& u : m.unscannable)
    if (u.reason.rfind(prefix, 0) == 0) return true;
  return false;
}

inline std::string reasons(const DecodedMessage& m) {
  std::string r;
  for (const auto& u : m.unscannable) r += u.origin + " => " + u.reason + "\n";
  return r;
}

}  // namespace pm::attachments::testing
