// Shared helpers for the decode tests: look segments up by origin.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "decode/decode.h"

namespace pm::test {

inline const Segment* find_segment(const DecodedMessage& m, const std::string& origin) {
  for (const Segment& s : m.segments)
    if (s.origin == origin) return &s;
  return nullptr;
}

inline std::string text_of(const DecodedMessage& m, const std::string& origin) {
  const Segment* s = find_segment(m, origin);
  return s ? s->text : "<missing " + origin + ">";
}

inline bool has_unscannable(const DecodedMessage& m, const std::string& reason) {
  for (const Unscannable& u : m.unscannable)
    if (u.reason == reason) return true;
  return false;
}

inline std::string origins(const DecodedMessage& m) {
  std::string all;
  for (const Segment& s : m.segments) all += s.origin + "\n";
  return all;
}

}  // namespace pm::test
