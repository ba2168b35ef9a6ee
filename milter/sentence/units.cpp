#include "sentence/units.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace pm {

namespace {

bool is_abbreviation(std::string_view text, std::size_t dot) {
  std::size_t s = dot;
  while (s > 0 && std::isalpha(static_cast<unsigned char>(text[s - 1]))) --s;
  std::string_view w = text.substr(s, dot - s);
  if (w.size() == 1) return true;  // an initial: "J. Smith"
  static const std::array<std::string_view, 16> abbr = {
      "mr",  "mrs", "ms",     "dr",   "st", "mx", "prof", "no",
      "tel", "ext", "approx", "dept", "vs", "eg", "ie",   "etc"};
  for (auto a : abbr)
    if (w == a) return true;
  return false;
}

}  // namespace

Breaks compute_breaks(std::string_view t) {
  Breaks b;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < t.size(); ++i) {
    char c = t[i];
    if (c == '\n') {
      bool para = i + 1 < t.size() && t[i + 1] == '\n';
      std::size_t next = para ? i + 2 : i + 1;
      b.line.push_back(next);
      if (para) {
        b.paragraph.push_back(next);
        b.sentence.push_back(next);
      } else if (i - line_start < 60 || (next < t.size() && (t[next] == '-' || t[next] == '*')) ||
                 (i > line_start &&
                  std::string_view(".!?:;/").find(t[i - 1]) != std::string_view::npos)) {
        // A short line (list, table, address, signature), a bullet, or a line that ends a
        // sentence: the next line starts a new one. Wrapped prose runs on.
        b.sentence.push_back(next);
      }
      if (para) ++i;
      line_start = next;
    } else if ((c == '.' || c == '!' || c == '?' || c == '\t' || c == '|') &&
               (i + 1 >= t.size() || t[i + 1] == ' ' || t[i + 1] == '\n')) {
      if (c == '.' && is_abbreviation(t, i)) continue;
      b.sentence.push_back(i + 1);
    }
  }
  return b;
}

TextRange unit_of(const std::vector<std::size_t>& breaks, TextRange anchor, std::size_t n) {
  auto lo = std::upper_bound(breaks.begin(), breaks.end(), anchor.first);
  std::size_t ws = lo == breaks.begin() ? 0 : *(lo - 1);
  std::size_t last = anchor.second > anchor.first ? anchor.second - 1 : anchor.first;
  auto hi = std::upper_bound(breaks.begin(), breaks.end(), last);
  std::size_t we = hi == breaks.end() ? n : *hi;
  return {ws, we};
}

}  // namespace pm
