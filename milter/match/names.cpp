#include "match/names.h"

#include <array>
#include <cctype>
#include <unordered_set>

namespace pm {

NameLexicon NameLexicon::build(const std::vector<std::string>& given_names,
                               const std::vector<std::string>& not_names,
                               const std::vector<std::string>& roster_full_names) {
  NameLexicon lex;
  for (const auto& g : given_names) {
    if (!g.empty() && g.back() == '?')
      lex.ambiguous.insert(g.substr(0, g.size() - 1));
    else
      lex.given.insert(g);
  }
  lex.not_names.insert(not_names.begin(), not_names.end());
  for (const auto& r : roster_full_names) {
    lex.roster.insert(r);
    auto sp = r.find(' ');
    if (sp != std::string::npos) lex.given.insert(r.substr(0, sp));
  }
  return lex;
}

namespace {

struct Word {
  std::size_t start, end;  // bytes in text; end excludes a possessive "'s"
  std::string lower;
  bool capitalised;  // first letter upper case
  bool all_caps;
  bool sentence_start;
  bool after_dot;  // "Mr." - the word is followed by '.'
};

bool is_letter(unsigned char c) { return std::isalpha(c) || c >= 0x80; }

std::vector<Word> words_of(std::string_view t) {
  std::vector<Word> out;
  bool sentence_start = true;
  std::size_t i = 0;
  while (i < t.size()) {
    unsigned char c = static_cast<unsigned char>(t[i]);
    if (!is_letter(c)) {
      if (c == '.' || c == '!' || c == '?' || c == '\n' || c == ':' || c == '\t' || c == ',' ||
          c == ';' || c == '|' || c == '"' || c == '(')
        sentence_start = c != ',' ? true : sentence_start;
      if (std::isdigit(c)) sentence_start = false;
      ++i;
      continue;
    }
    std::size_t s = i;
    while (i < t.size()) {
      unsigned char d = static_cast<unsigned char>(t[i]);
      if (is_letter(d)) {
        ++i;
      } else if ((d == '\'' || d == '-') && i + 1 < t.size() &&
                 is_letter(static_cast<unsigned char>(t[i + 1]))) {
        ++i;
      } else if (d == 0xE2 && i + 3 < t.size() && static_cast<unsigned char>(t[i + 1]) == 0x80 &&
                 static_cast<unsigned char>(t[i + 2]) == 0x99) {  // ’
        i += 3;
      } else {
        break;
      }
    }
    Word w;
    w.start = s;
    w.end = i;
    std::string_view sv = t.substr(s, i - s);
    // Drop a possessive: "Jack's" -> "Jack".
    for (std::string_view poss : {"'s", "\xE2\x80\x99s"}) {
      if (sv.size() > poss.size() + 1 && sv.substr(sv.size() - poss.size()) == poss) {
        sv.remove_suffix(poss.size());
        w.end = s + sv.size();
      }
    }
    w.lower.reserve(sv.size());
    bool all_caps = true;
    int letters = 0;
    for (char ch : sv) {
      unsigned char u = static_cast<unsigned char>(ch);
      if (std::islower(u)) all_caps = false;
      if (std::isalpha(u)) ++letters;
      w.lower.push_back(static_cast<char>(std::tolower(u)));
    }
    w.capitalised = std::isupper(static_cast<unsigned char>(sv[0])) != 0;
    w.all_caps = all_caps && letters >= 2;
    w.sentence_start = sentence_start;
    w.after_dot = i < t.size() && t[i] == '.';
    sentence_start = false;
    out.push_back(std::move(w));
  }
  return out;
}

constexpr std::array<std::string_view, 10> kTitles = {"mr", "mrs", "ms", "miss", "mx", "dr",
                                                      "master", "prof", "mstr", "mrs."};
constexpr std::array<std::string_view, 22> kRoles = {
    "pupil", "child", "son", "daughter", "student", "learner", "boy", "girl", "brother",
    "sister", "nephew", "niece", "grandson", "granddaughter", "stepson", "stepdaughter",
    "baby", "twin", "twins", "toddler", "youngster", "kid"};

// Verbs that, after two capitalised words, say a person is meant (not a product or a place:
// "Local Offer can help", "Google Classroom is down" stay unnamed).
const std::unordered_set<std::string> kPersonVerbs = {
    "said", "says", "told", "asked", "wants", "needs", "thinks", "feels", "disclosed", "reported", "cried",
    "hit", "kicked", "punched", "refused", "lives", "admitted", "complained", "shouted", "swore", "screamed",
    "confided", "mentioned", "explained", "wet", "soiled", "fainted", "collapsed"};

template <std::size_t N>
bool in(const std::array<std::string_view, N>& a, std::string_view w) {
  for (auto x : a)
    if (x == w) return true;
  return false;
}

}  // namespace

std::vector<TextSpan> find_person_names(std::string_view text, const NameLexicon& lex) {
  std::vector<Word> w = words_of(text);
  std::vector<TextSpan> out;
  auto nameish = [&](const Word& x) {
    return (x.capitalised || x.all_caps) && !lex.not_names.count(x.lower) && x.lower.size() >= 2;
  };
  auto adjacent = [&](std::size_t a, std::size_t b) {
    // Only spaces (and a dot after an initial/title) between two words.
    for (std::size_t k = w[a].end; k < w[b].start; ++k) {
      char c = text[k];
      if (c != ' ' && c != '.' && c != '\'' && !(c == 's' && k == w[a].end + 1)) return false;
    }
    return w[b].start - w[a].end <= 4;
  };
  std::size_t i = 0;
  while (i < w.size()) {
    std::size_t start = i, end = i;  // inclusive word range of a found name
    bool found = false;
    const Word& x = w[i];
    if (in(kTitles, x.lower) && (x.capitalised || x.all_caps) && i + 1 < w.size() &&
        adjacent(i, i + 1) && nameish(w[i + 1])) {
      found = true;
      end = i + 1;
    } else if (in(kRoles, x.lower) && !x.capitalised && i + 1 < w.size() && adjacent(i, i + 1) &&
               nameish(w[i + 1]) && !w[i + 1].all_caps) {
      // "her son Alfie" - but not a Title Case heading ("Child Protection Policy").
      found = true;
      start = end = i + 1;
    } else if ((x.capitalised || x.all_caps) && (lex.given.count(x.lower) || lex.ambiguous.count(x.lower)) &&
               !(i > 0 && (w[i - 1].lower == "st" || w[i - 1].lower == "saint") && adjacent(i - 1, i))) {
      // A saint's name is a church or a school ("St Anne's"), not a person.
      // In an all-caps line every word looks like a surname: take the given name alone.
      bool has_surname = !x.all_caps && i + 1 < w.size() && adjacent(i, i + 1) && nameish(w[i + 1]) &&
                         w[i + 1].capitalised && !w[i + 1].all_caps;
      if (lex.given.count(x.lower) || has_surname) {
        found = true;
        if (has_surname) end = i + 1;
      }
    }
    // An initial and a surname: "T. Pellow", "G. Lloyd-Bryant".
    if (!found && x.lower.size() == 1 && x.capitalised && x.after_dot && i + 1 < w.size() &&
        w[i + 1].start - w[i].end <= 2 && nameish(w[i + 1]) && w[i + 1].capitalised && !w[i + 1].all_caps) {
      found = true;
      end = i + 1;
    }
    // Two capitalised words doing what people do: "Bethan Rowe has been...", "Kofi Mensah
    // said...". Unknown given names are common; the verb after them is what says "person".
    if (!found && i + 2 < w.size() && nameish(x) && x.capitalised && !x.all_caps && nameish(w[i + 1]) &&
        w[i + 1].capitalised && !w[i + 1].all_caps && adjacent(i, i + 1) && w[i + 2].start - w[i + 1].end <= 2 &&
        kPersonVerbs.count(w[i + 2].lower)) {
      found = true;
      end = i + 1;
    }
    if (!found && i + 1 < w.size() && !lex.roster.empty()) {
      if (lex.roster.count(x.lower + " " + w[i + 1].lower)) {
        found = true;
        end = i + 1;
      }
    }
    if (found) {
      // Extend over a following capitalised surname (a title's second word, "Amy Lou Ross").
      while (end + 1 < w.size() && end - start < 3 && !w[end].all_caps && adjacent(end, end + 1) &&
             nameish(w[end + 1]) && w[end + 1].capitalised && !w[end + 1].all_caps &&
             !lex.given.count(w[end + 1].lower))
        ++end;
      out.push_back({w[start].start, w[end].end});
      i = end + 1;
    } else {
      ++i;
    }
  }
  return out;
}

}  // namespace pm
