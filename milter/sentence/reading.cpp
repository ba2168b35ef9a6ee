#include "sentence/reading.h"

#include <algorithm>
#include <array>

namespace pm {

namespace {

constexpr std::array<const char*, 10> kTargets = {"person", "you",    "pupil",   "parent", "group",
                                                  "school", "sender", "anaphor", "named",  "staff"};
constexpr std::array<const char*, 11> kStances = {
    "derogatory", "demeaning", "generalising", "threatening", "discriminatory", "criticism",
    "praise",     "reported",  "negation",     "endorsement", "irony"};

bool evaluative(Stance s) {
  switch (s) {
    case Stance::derogatory:
    case Stance::demeaning:
    case Stance::generalising:
    case Stance::threatening:
    case Stance::discriminatory:
    case Stance::criticism:
    case Stance::praise:
      return true;
    default:
      return false;
  }
}

bool inside(TextRange r, TextRange u) {
  return r.first >= u.first && r.second <= u.second;
}

// Inside double quotation marks in its unit: someone's words quoted ("you're ugly" in an
// incident report, an anti-bullying lesson) - mentioned, not said. A scare quote around
// one word ("the 'leadership'") is the irony lexicon's.
bool quoted(std::string_view text, TextRange unit, TextRange span) {
  if (span.first < unit.first || span.second > unit.second) return false;
  std::string_view before = text.substr(unit.first, span.first - unit.first);
  std::string_view after = text.substr(span.second, unit.second - span.second);
  if (std::count(before.begin(), before.end(), '"') % 2 == 1 &&
      after.find('"') != std::string_view::npos)
    return true;
  // Single quotation marks around a short phrase ('fatty', 'nobody likes you'): an opening
  // mark after a space or bracket, a closing one before a non-letter, a few words between.
  // An apostrophe inside a word ("don't", "Jo's") opens nothing.
  auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  std::size_t open = std::string_view::npos;
  for (std::size_t i = span.first; i > unit.first && span.first - i < 40; --i)
    if (text[i - 1] == '\'' && (i - 1 == unit.first || !letter(text[i - 2]))) {
      open = i - 1;
      break;
    } else if (text[i - 1] == '.' || text[i - 1] == '!' || text[i - 1] == '?') {
      break;
    }
  if (open == std::string_view::npos) return false;
  for (std::size_t j = span.second; j < unit.second && j - span.second < 40; ++j)
    if (text[j] == '\'' && (j + 1 >= text.size() || !letter(text[j + 1]))) return j - open <= 48;
  return false;
}

// "Hi Sam," "Dear Mrs Cole," "Morning all": a greeting names whom the mail is to, not whom
// the next sentence is about.
bool salutation(std::string_view u) {
  while (!u.empty() && (u.front() == ' ' || u.front() == '\n')) u.remove_prefix(1);
  while (!u.empty() && (u.back() == ' ' || u.back() == '\n')) u.remove_suffix(1);
  if (u.size() > 40 || u.find_first_of(".!?") != std::string_view::npos) return false;
  for (std::string_view g : {"hi ", "hello ", "dear ", "hiya ", "hey ", "morning", "afternoon",
                             "evening", "good morning", "good afternoon", "to "})
    if (u.starts_with(g)) return true;
  return !u.empty() && u.back() == ',' && std::count(u.begin(), u.end(), ' ') <= 2;
}

}  // namespace

bool clause_break(std::string_view text, std::size_t from, std::size_t to) {
  if (to <= from) return false;
  std::string_view gap = text.substr(from, to - from);
  if (gap.find_first_of(",;:()") != std::string_view::npos) return true;
  for (std::string_view w : {" but ", " and ", " - ", " because ", " though ", " although "})
    if (gap.find(w) != std::string_view::npos) return true;
  return false;
}

const char* to_string(Target t) {
  return kTargets[static_cast<int>(t)];
}
const char* to_string(Stance s) {
  return kStances[static_cast<int>(s)];
}

std::optional<Target> parse_target(std::string_view s) {
  for (std::size_t i = 0; i < kTargets.size(); ++i)
    if (s == kTargets[i]) return static_cast<Target>(i);
  return std::nullopt;
}

std::optional<Stance> parse_stance(std::string_view s) {
  for (std::size_t i = 0; i < kStances.size(); ++i)
    if (s == kStances[i]) return static_cast<Stance>(i);
  return std::nullopt;
}

bool Reading::has_target(Target t) const {
  return std::any_of(targets.begin(), targets.end(),
                     [&](const Found& f) { return f.kind == static_cast<int>(t); });
}

bool Reading::has_stance(Stance s) const {
  return std::any_of(stances.begin(), stances.end(),
                     [&](const Found& f) { return f.kind == static_cast<int>(s); });
}

Reading read_unit(std::string_view text, TextRange unit, TextRange previous,
                  const std::vector<Cue>& cues) {
  Reading r;
  r.unit = unit;
  std::vector<const Cue*> negations;
  bool reported = false, endorsed = false, irony = false;
  auto first = std::lower_bound(cues.begin(), cues.end(), unit.first + 1,
                                [](const Cue& c, std::size_t end) { return c.span.second < end; });
  for (auto it = first; it != cues.end(); ++it) {
    const Cue& c = *it;
    if (c.span.second > unit.second) break;
    if (!inside(c.span, unit)) continue;
    if (c.is_target) {
      r.targets.push_back({c.span, c.kind, c.detail});
      continue;
    }
    Stance s = static_cast<Stance>(c.kind);
    if (s == Stance::negation) negations.push_back(&c);
    reported |= s == Stance::reported;
    endorsed |= s == Stance::endorsement;
    irony |= s == Stance::irony;
    r.stances.push_back({c.span, c.kind, c.detail});
  }
  // The targets the unit before named that `keep` accepts.
  auto previous_targets = [&](auto keep) {
    std::vector<Found> out;
    auto it = std::lower_bound(cues.begin(), cues.end(), previous.first + 1,
                               [](const Cue& c, std::size_t end) { return c.span.second < end; });
    for (; it != cues.end() && it->span.second <= previous.second; ++it)
      if (it->is_target && inside(it->span, previous) && keep(static_cast<Target>(it->kind)))
        out.push_back({it->span, it->kind, it->detail});
    return out;
  };
  auto add = [&](const std::vector<Found>& v) {
    r.targets.insert(r.targets.end(), v.begin(), v.end());
  };
  // Anaphora: "they" with no group of its own refers to the group the unit before named.
  if (previous.second > previous.first && !r.has_target(Target::group) &&
      r.has_target(Target::anaphor)) {
    add(previous_targets([](Target k) { return k == Target::group; }));
  }
  // "She" or "the woman" with no name of its own, after a sentence about the school's people
  // (a member of staff, the governors): the pronoun is most likely one of them, and they
  // come along, so a rule sees who "she" is ("The governors approved it because the chair
  // has a good feeling. The woman couldn't read a spreadsheet").
  auto carries_person = [&] {
    for (const Found& t : r.targets)
      if (t.kind == static_cast<int>(Target::person) && t.detail != "referent") return true;
    return false;
  };
  if (previous.second > previous.first && carries_person() && !r.has_target(Target::named) &&
      !r.has_target(Target::staff) && !r.has_target(Target::school)) {
    // Only the school's own people: a named child before "he" stays the child's sentence.
    add(previous_targets([](Target k) { return k == Target::staff || k == Target::school; }));
  }
  // A sentence with no target of its own ("Wellbeing, apparently." "Apple doesn't fall far
  // from the tree.") goes on about whom the sentence before spoke of.
  if (r.targets.empty() && previous.second > previous.first &&
      !salutation(text.substr(previous.first, previous.second - previous.first))) {
    add(previous_targets([](Target k) { return k != Target::sender; }));
  }
  for (Found& f : r.stances) {
    Stance s = static_cast<Stance>(f.kind);
    if (!evaluative(s)) continue;
    // Negated: a negation that ends at most a few words before the evaluation, in its
    // clause. A negation inside the evaluation's own words ("doesn't care") is its meaning.
    for (const Cue* n : negations) {
      if (n->span.second > f.span.first || n->span.first >= f.span.first) continue;
      if (f.span.first - n->span.second > 14 || clause_break(text, n->span.second, f.span.first))
        continue;
      f.kind = static_cast<int>(Stance::negation);
      break;
    }
    s = static_cast<Stance>(f.kind);
    if (s == Stance::praise && irony)
      f.kind = static_cast<int>(Stance::criticism);  // mock praise
    else if ((reported || quoted(text, unit, f.span)) && !endorsed && s != Stance::praise &&
             s != Stance::negation)
      f.kind = static_cast<int>(Stance::reported);
  }
  // Irony aimed at the school or one of its people with no evaluation of its own ("the
  // 'leadership' strikes again", "the deputy is very \"supportive\"") is criticism.
  if (irony &&
      (r.has_target(Target::school) || r.has_target(Target::staff) || r.has_target(Target::named) ||
       r.has_target(Target::person)) &&
      !r.has_stance(Stance::criticism))
    for (const Found& f : r.stances)
      if (f.kind == static_cast<int>(Stance::irony)) {
        r.stances.push_back({f.span, static_cast<int>(Stance::criticism), "irony"});
        break;
      }
  return r;
}

std::string describe(std::string_view text, const Found& f, bool target) {
  std::string out =
      target ? to_string(static_cast<Target>(f.kind)) : to_string(static_cast<Stance>(f.kind));
  if (!f.detail.empty() && target) out += "/" + f.detail;
  if (f.span.second <= text.size() && f.span.second > f.span.first)
    out += " \"" + std::string(text.substr(f.span.first, f.span.second - f.span.first)) + "\"";
  return out;
}

}  // namespace pm
