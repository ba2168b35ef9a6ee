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
  for (const auto& n : not_names) {
    if (!n.empty() && n[0] == '~') lex.place_words.insert(n.substr(1));
    else lex.not_names.insert(n);
  }
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
  bool line_start;  // first word of its line (after a bullet)
  bool after_dot;  // "Mr." - the word is followed by '.'
};

bool is_letter(unsigned char c) { return std::isalpha(c) || c >= 0x80; }

std::vector<Word> words_of(std::string_view t) {
  std::vector<Word> out;
  bool sentence_start = true;
  bool line_start = true;
  std::size_t i = 0;
  while (i < t.size()) {
    unsigned char c = static_cast<unsigned char>(t[i]);
    if (!is_letter(c)) {
      if (c == '\n') line_start = true;
      else if (!(c == ' ' || c == '\t' || c == '-' || c == '*' || c == '.' || std::isdigit(c) || c == 0xE2 ||
                 c == 0x80 || c == 0xA2 || c == ')'))
        line_start = false;  // a bullet or a list number keeps the line's start
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
    w.line_start = line_start;
    w.after_dot = i < t.size() && t[i] == '.';
    sentence_start = false;
    line_start = false;
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
    // A list line that starts with a name: "Juniper Okafor - pupil premium", "Ishbel Kapoor,
    // FSM", "Okafor, Juniper\t...".
    if (!found && x.line_start && i + 1 < w.size() && nameish(x) && x.capitalised && !x.all_caps &&
        nameish(w[i + 1]) && w[i + 1].capitalised && !w[i + 1].all_caps && w[i + 1].start - x.end <= 2 &&
        !lex.place_words.count(w[i + 1].lower)) {
      std::size_t after = w[i + 1].end;
      std::string_view rest = text.substr(after, 4);
      if (!rest.empty() && (rest[0] == ',' || rest[0] == '\t' || rest[0] == ':' || rest[0] == '(' ||
                            rest.substr(0, 2) == " -" || rest.substr(0, 2) == " (" || rest.substr(0, 4) == " \xE2\x80\x93")) {
        found = true;
        end = i + 1;
      }
    }
    // A capitalised word (or two) inside a sentence doing what people do: "but Anselm's
    // now been off", "Kofi has been refusing".
    if (!found && !x.sentence_start && nameish(x) && x.capitalised && !x.all_caps && x.lower.size() >= 3) {
      std::size_t last = i;
      if (i + 1 < w.size() && nameish(w[i + 1]) && w[i + 1].capitalised && !w[i + 1].all_caps && adjacent(i, i + 1))
        last = i + 1;
      std::string_view after = text.substr(w[last].end, 40);
      auto lower_prefix = [&](std::string_view p) {
        if (after.size() < p.size()) return false;
        for (std::size_t k = 0; k < p.size(); ++k)
          if (std::tolower(static_cast<unsigned char>(after[k])) != p[k]) return false;
        return true;
      };
      for (std::string_view p : {"'s been", "'s now", "'s off", "'s not", "'s still", "'s back", "\xE2\x80\x99s been",
                                 "\xE2\x80\x99s now", "\xE2\x80\x99s off", " has been", " had been", " is off",
                                 " was off", " has had", " is on medication", " has a diagnosis", " was diagnosed",
                                 " is still", " has not", " hasn't", " isn't", " wasn't", " told", " said", " disclosed"})
        if (lower_prefix(p)) {
          found = true;
          end = last;
          break;
        }
    }
    // Two capitalised words inside a sentence that are not a place or an organisation.
    if (!found && !x.sentence_start && i + 1 < w.size() && nameish(x) && x.capitalised && !x.all_caps &&
        x.lower.size() >= 3 && nameish(w[i + 1]) && w[i + 1].capitalised && !w[i + 1].all_caps &&
        w[i + 1].lower.size() >= 3 && adjacent(i, i + 1) && !lex.place_words.count(w[i + 1].lower) &&
        !lex.place_words.count(x.lower) && (i + 2 >= w.size() || !w[i + 2].capitalised || !adjacent(i + 1, i + 2))) {
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
