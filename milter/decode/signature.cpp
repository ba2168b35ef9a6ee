#include "decode/signature.h"

#include <vector>

namespace pm::mime {
namespace {

constexpr std::string_view kSignOffs[] = {
    "kind regards", "best regards", "warm regards", "warmest regards", "kindest regards",
    "many regards", "regards", "with regards", "with kind regards", "with best regards",
    "best wishes", "with best wishes", "all the best", "many thanks", "thanks", "thank you",
    "thanks again", "thanks so much", "with thanks", "cheers", "best", "yours sincerely",
    "yours faithfully", "sincerely", "yours", "take care", "speak soon", "love", "thx"};

constexpr std::string_view kDevicePrefixes[] = {"sent from my ", "get outlook for ",
                                                "sent from outlook", "sent from mail for "};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// 0: not a sign-off, 1: a device line ("Sent from my iPhone"), 2: a sign-off phrase.
int sign_off_kind(std::string_view line) {
  while (!line.empty() && is_space(line.front())) line.remove_prefix(1);
  while (!line.empty() && is_space(line.back())) line.remove_suffix(1);
  if (line.empty() || line.size() > 60) return 0;
  std::string l;
  l.reserve(line.size());
  for (char c : line) l.push_back((c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c);
  for (auto p : kDevicePrefixes)
    if (l.rfind(p, 0) == 0) return 1;
  // "Kind regards," / "Thanks!" / "Cheers, Ann" - the phrase, then punctuation or a name.
  for (auto s : kSignOffs) {
    if (l.rfind(s, 0) != 0) continue;
    std::string_view rest = std::string_view(l).substr(s.size());
    while (!rest.empty() && (rest.front() == ',' || rest.front() == '.' || rest.front() == '!'))
      rest.remove_prefix(1);
    if (rest.empty()) return 2;
    // A name may follow after a comma ("Cheers, Ann"), but not more words of a sentence.
    if (l[s.size()] == ',' && rest.size() <= 30 && rest.find(',') == std::string_view::npos)
      return 2;
  }
  return 0;
}

}  // namespace

std::size_t find_plain_signature(std::string_view text) {
  // Lines as (start, length), last ones first.
  struct Line {
    std::size_t start, len;
  };
  std::vector<Line> lines;
  std::size_t pos = 0;
  std::size_t dashdash = std::string_view::npos;
  while (pos <= text.size()) {
    std::size_t nl = text.find('\n', pos);
    std::size_t end = nl == std::string_view::npos ? text.size() : nl;
    std::string_view line = text.substr(pos, end - pos);
    if (line == "-- " || line == "-- \r") dashdash = pos;
    lines.push_back({pos, end - pos});
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  if (dashdash != std::string_view::npos && dashdash > 0) return dashdash;
  int non_empty = 0;
  // The last sign-off phrase wins ("Thanks!" earlier in a short mail is not the end);
  // a device line only when there is no phrase before it.
  std::size_t found = std::string_view::npos;
  for (std::size_t k = lines.size(); k-- > 0 && non_empty < 12;) {
    std::string_view line = text.substr(lines[k].start, lines[k].len);
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    ++non_empty;
    int kind = sign_off_kind(line);
    if (kind == 2) {
      found = lines[k].start;
      break;
    }
    if (kind == 1) found = lines[k].start;
  }
  if (found == 0) return std::string_view::npos;
  if (found != std::string_view::npos) {
    // Everything before the sign-off must hold some text.
    if (text.substr(0, found).find_first_not_of(" \t\r\n") == std::string_view::npos)
      return std::string_view::npos;
  }
  return found;
}

}  // namespace pm::mime
