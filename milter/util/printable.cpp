#include "util/printable.h"

#include <cstdint>
#include <cstdio>

namespace pm {

namespace {

// Length of the valid UTF-8 sequence at s[i] and its code point; 0 when invalid.
std::size_t utf8_at(std::string_view s, std::size_t i, std::uint32_t& cp) {
  auto c = static_cast<unsigned char>(s[i]);
  std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  cp = n == 1 ? c : n == 2 ? c & 0x1F : n == 3 ? c & 0x0F : c & 0x07;
  for (std::size_t k = 1; k < n; ++k) {
    auto d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (d & 0x3F);
  }
  static const std::uint32_t min_of[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min_of[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

bool hidden(std::uint32_t cp) {
  return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069);
}

}  // namespace

namespace {

std::string escape(std::string_view s, std::size_t max_bytes, bool keep_lines) {
  std::string out;
  const std::size_t end = s.size() > max_bytes ? max_bytes : s.size();
  char buf[16];
  for (std::size_t i = 0; i < end;) {
    std::uint32_t cp = 0;
    std::size_t n = utf8_at(s, i, cp);
    if (n == 0) {
      std::snprintf(buf, sizeof buf, "\\x%02X", static_cast<unsigned char>(s[i]));
      out += buf;
      ++i;
      continue;
    }
    if (i + n > end) break;  // do not cut a character in two
    if (!hidden(cp) || (keep_lines && (cp == '\n' || cp == '\t'))) {
      out.append(s.substr(i, n));
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp == 0x1B) {
      out += "\\e";
    } else if (cp < 0x100) {
      std::snprintf(buf, sizeof buf, "\\x%02X", static_cast<unsigned>(cp));
      out += buf;
    } else {
      std::snprintf(buf, sizeof buf, "\\u{%X}", static_cast<unsigned>(cp));
      out += buf;
    }
    i += n;
  }
  if (end < s.size()) out += "...";
  return out;
}

}  // namespace

std::string printable(std::string_view s, std::size_t max_bytes) {
  return escape(s, max_bytes, false);
}

std::string printable_text(std::string_view s) {
  return escape(s, kNoLimit, true);
}

}  // namespace pm
